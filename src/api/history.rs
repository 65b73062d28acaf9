//! A customer's history and journey, for the agent talking to them.
//!
//! - `GET /v1/customers/{id}/history`: the customer's earlier chats with their transcripts,
//!   newest first, grouped by day in the reader's time zone, a page at a time (seed 004: shown
//!   above the current chat, loaded as the agent scrolls up, and "older chats available since
//!   …" once all are loaded).
//! - `GET /v1/customers/{id}/journey`: every interaction with its status in seed 001's words,
//!   its agent, and the time of each routing step ("all transactions by customer").
//!
//! Both read through the conversation list (`conversations::find_visible`), so they merge live
//! and archived conversations and keep the inbox's access: agents see their queues' chats and
//! their own, supervisors and admins the org's. A consulted agent is not one of a chat's
//! agents, so a consultation is not in its history (seed 004).

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::conversations::{find_visible, page_limit, parse_cursor, Page};
use super::transcripts::load as whole_log;
use super::{ApiError, ApiResult, Authed};
use crate::actors::Rt;
use crate::domain::journey;
use crate::engine::{ConversationFilter, ConversationSummary};
use crate::ids::{ConvKey, ConversationId, CustomerId};
use crate::protocol::{CommandError, LogEvent};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/customers/{id}/history", web::get().to(history))
        .route("/v1/customers/{id}/journey", web::get().to(journey));
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    /// History: the IANA time zone its days are in (default UTC).
    #[serde(default)]
    tz: Option<String>,
    /// History: a conversation to leave out (the one the agent is in).
    #[serde(default)]
    exclude: Option<ConversationId>,
}

/// A page of the customer's conversations, newest first, that the caller may see.
async fn customer_page(
    rt: &Rt,
    who: &Authed,
    raw_customer: &str,
    q: &PageQuery,
    default_limit: usize,
) -> Result<Page, ApiError> {
    let customer = CustomerId::parse(raw_customer)
        .map_err(|e| ApiError(CommandError::bad_request(format!("customer: {e}"))))?;
    let filter = ConversationFilter {
        customer: Some(customer),
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: page_limit(q.limit, default_limit)?,
        ..Default::default()
    };
    find_visible(rt, &who.0, filter).await
}

/// The logs of a page's conversations, read concurrently, in the page's order.
async fn logs(rt: &Rt, rows: &[ConversationSummary]) -> Result<Vec<Vec<LogEvent>>, ApiError> {
    let reads = rows.iter().map(|s| async move {
        let key = ConvKey {
            org: s.org.clone(),
            id: s.id.clone(),
        };
        let (_, events) = whole_log(rt, &key).await?;
        Ok::<_, ApiError>(events.iter().map(|e| e.as_ref().clone()).collect())
    });
    futures_util::future::try_join_all(reads).await
}

#[derive(Serialize)]
struct Earlier {
    conversation: ConversationSummary,
    events: Vec<LogEvent>,
}

#[derive(Serialize)]
struct Day {
    /// `2026-12-01`, in the asked time zone.
    date: String,
    /// Newest first.
    conversations: Vec<Earlier>,
}

async fn history(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let tz: Tz = match q.tz.as_deref() {
        None => Tz::UTC,
        Some(raw) => raw.parse().map_err(|_| {
            ApiError(CommandError::bad_request(format!(
                "tz: {raw:?} is not an IANA time zone"
            )))
        })?,
    };
    let page = customer_page(&rt, &who, &path, &q, 5).await?;
    // Where the history stops: the oldest conversation seen, once there is no older page.
    let since = match &page.next {
        Some(_) => None,
        None => page.rows.last().map(|s| s.created_at).or_else(|| {
            q.cursor
                .as_deref()
                .and_then(crate::engine::ListPosition::parse_cursor)
                .and_then(|p| DateTime::<Utc>::from_timestamp_micros(p.created_us))
        }),
    };
    let rows: Vec<ConversationSummary> = page
        .rows
        .into_iter()
        .filter(|s| Some(&s.id) != q.exclude.as_ref())
        .collect();
    let events = logs(&rt, &rows).await?;
    let mut days: Vec<Day> = Vec::new();
    for (conversation, events) in rows.into_iter().zip(events) {
        let date = conversation
            .created_at
            .with_timezone(&tz)
            .date_naive()
            .to_string();
        let earlier = Earlier {
            conversation,
            events,
        };
        match days.last_mut() {
            Some(day) if day.date == date => day.conversations.push(earlier),
            _ => days.push(Day {
                date,
                conversations: vec![earlier],
            }),
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "customer": path.as_str(),
        "days": days,
        "next_cursor": page.next.map(|p| p.cursor()),
        "available_since": since,
    })))
}

#[derive(Serialize)]
struct Interaction {
    conversation: ConversationId,
    /// Seed 001's status (`domain::journey`).
    status: &'static str,
    channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue: Option<String>,
    /// The agent who had it last.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    assigned_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<DateTime<Utc>>,
    steps: Vec<journey::Step>,
}

async fn journey(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = customer_page(&rt, &who, &path, &q, 20).await?;
    let logs = logs(&rt, &page.rows).await?;
    let interactions: Vec<Interaction> = page
        .rows
        .into_iter()
        .zip(logs)
        .map(|(s, events)| {
            let refs: Vec<&LogEvent> = events.iter().collect();
            let steps = journey::steps(&refs);
            let (last_agent, assigned_at) = journey::agents(&steps);
            Interaction {
                status: journey::status(s.status, &steps),
                agent: s.owner.as_ref().map(ToString::to_string).or(last_agent),
                conversation: s.id,
                channel: s.channel,
                queue: s.queue.as_ref().map(ToString::to_string),
                created_at: s.created_at,
                assigned_at,
                ended_at: s.ended_at,
                steps,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "customer": path.as_str(),
        "interactions": interactions,
        "next_cursor": page.next.map(|p| p.cursor()),
    })))
}
