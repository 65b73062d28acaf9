//! Conversation queries (by id, by customer, by case id), transcripts, and surveys.
//!
//! Every answer merges the engine (live conversations, and finished ones until they leave hot
//! storage) with the archive (finished ones): a conversation answers the same whether it is
//! live, done and in both, or only in the archive. The engine's copy wins while it has one.
//!
//! Agents see the conversations of their own queues; supervisors and admins see their whole org
//! (seed 001's inbox access control). Another org's conversation is simply not found.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiResult, Authed};
use crate::actors::Rt;
use crate::auth::Staff;
use crate::domain::conversation::Status;
use crate::domain::export;
use crate::engine::{ConversationFilter, ConversationSummary, ListPosition};
use crate::ids::{AgentId, ConvKey, ConversationId, CustomerId, OrgId};
use crate::protocol::CommandError;

pub fn routes(cfg: &mut web::ServiceConfig, fault_injection: bool) {
    cfg.route("/v1/conversations", web::get().to(list))
        .route("/v1/conversations/{id}", web::get().to(get_one))
        .route(
            "/v1/conversations/{id}/transcript",
            web::get().to(super::transcripts::transcript),
        )
        .route("/v1/surveys", web::get().to(surveys));
    if fault_injection {
        cfg.route(
            "/v1/debug/conversations/{id}/panic",
            web::post().to(panic_actor),
        );
    }
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    customer: Option<CustomerId>,
    #[serde(default)]
    case_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    agent: Option<AgentId>,
    #[serde(default)]
    limit: Option<usize>,
    /// Created on or after: a date (`2026-12-01`, UTC) or an RFC 3339 time.
    #[serde(default)]
    from: Option<String>,
    /// Created before an RFC 3339 time, or on or before a date (the whole day, UTC).
    #[serde(default)]
    to: Option<String>,
    /// The previous page's `next_cursor`.
    #[serde(default)]
    cursor: Option<String>,
    /// `json` (default) or `csv` (one row per conversation).
    #[serde(default)]
    format: Option<String>,
}

/// The file formats of a download (seed 001's "view & export", seed 002's PDF).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Json,
    Csv,
    Text,
    Pdf,
}

impl Format {
    /// `allowed`: the formats this route offers; anything else is a `400`.
    pub(super) fn parse(raw: Option<&str>, allowed: &[Format]) -> Result<Self, ApiError> {
        let f = match raw.unwrap_or("json") {
            "json" => Format::Json,
            "csv" => Format::Csv,
            "txt" | "text" => Format::Text,
            "pdf" => Format::Pdf,
            other => {
                return Err(ApiError(CommandError::bad_request(format!(
                    "unknown format {other:?}"
                ))))
            }
        };
        if allowed.contains(&f) {
            Ok(f)
        } else {
            Err(ApiError(CommandError::bad_request(
                "this route has no such format",
            )))
        }
    }
}

/// A download: its type, saved under `name` (never shown inline, never sniffed).
pub(super) fn file(
    body: impl actix_web::body::MessageBody + 'static,
    content_type: &str,
    name: &str,
) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", content_type))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(body)
}

/// The columns of the conversations CSV (one row per conversation).
const CONVERSATION_COLUMNS: [&str; 14] = [
    "id",
    "status",
    "queue",
    "channel",
    "customer",
    "customer_name",
    "customer_email",
    "case_id",
    "owner",
    "agents",
    "created_at",
    "ended_at",
    "messages",
    "disposition",
];

fn conversations_csv(rows: &[ConversationSummary]) -> String {
    let mut out = export::csv_row(&CONVERSATION_COLUMNS);
    for s in rows {
        let opt = |o: Option<String>| o.unwrap_or_default();
        out.push_str(&export::csv_row(&[
            s.id.to_string(),
            s.status.as_str().to_string(),
            opt(s.queue.as_ref().map(ToString::to_string)),
            s.channel.clone(),
            opt(s.customer.as_ref().map(ToString::to_string)),
            s.customer_name.clone(),
            opt(s.customer_email.clone()),
            opt(s.case_id.clone()),
            opt(s.owner.as_ref().map(ToString::to_string)),
            s.agents
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            s.created_at.to_rfc3339(),
            opt(s.ended_at.map(|t| t.to_rfc3339())),
            s.messages.to_string(),
            opt(s.disposition.clone()),
        ]));
    }
    out
}

fn visible(staff: &Staff, s: &ConversationSummary) -> bool {
    staff.sees_all_queues()
        || s.agents.contains(&staff.id)
        || s.queue.as_ref().is_some_and(|q| staff.queues.contains(q))
}

async fn list(rt: web::Data<Rt>, who: Authed, q: web::Query<ListQuery>) -> ApiResult<HttpResponse> {
    let q = q.into_inner();
    let status =
        match q.status.as_deref() {
            None => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                ApiError(CommandError::bad_request(format!("unknown status {s:?}")))
            })?),
        };
    let filter = ConversationFilter {
        customer: q.customer,
        case_id: q.case_id,
        status,
        agent: q.agent,
        queues: None,
        created_from: q
            .from
            .as_deref()
            .map(|f| time_bound("from", f, false))
            .transpose()?,
        created_to: q
            .to
            .as_deref()
            .map(|t| time_bound("to", t, true))
            .transpose()?,
        after: q.cursor.as_deref().map(parse_cursor).transpose()?,
        limit: page_limit(q.limit, 100)?,
    };
    let format = Format::parse(q.format.as_deref(), &[Format::Json, Format::Csv])?;
    let page = find_visible(&rt, &who.0, filter).await?;
    if format == Format::Csv {
        return Ok(file(
            conversations_csv(&page.rows),
            "text/csv; charset=utf-8",
            "conversations.csv",
        ));
    }
    Ok(HttpResponse::Ok().json(json!({
        "conversations": page.rows,
        "next_cursor": page.next.map(|p| p.cursor()),
    })))
}

/// A page size: `default` when absent, 1 to 1000.
pub(super) fn page_limit(raw: Option<usize>, default: usize) -> Result<usize, ApiError> {
    match raw.unwrap_or(default) {
        limit @ 1..=1000 => Ok(limit),
        _ => Err(ApiError(CommandError::bad_request(
            "limit must be 1 to 1000",
        ))),
    }
}

pub(super) fn parse_cursor(raw: &str) -> Result<ListPosition, ApiError> {
    ListPosition::parse_cursor(raw)
        .ok_or_else(|| ApiError(CommandError::bad_request("cursor is not one this API gave")))
}

/// A range bound as a client gives it: a UTC date (`2026-12-01`) stands for its day's first
/// instant, or with `end` for the next day's (so the day is included); an RFC 3339 time stands
/// for itself. `name` is the parameter, for the error.
pub(super) fn time_bound(name: &str, raw: &str, end: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = if end { date.succ_opt() } else { Some(date) };
        return day
            .map(|d| d.and_time(NaiveTime::MIN).and_utc())
            .ok_or_else(|| {
                ApiError(CommandError::bad_request(format!(
                    "{name}: {raw:?} is out of range"
                )))
            });
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError(CommandError::bad_request(format!(
                "{name} must be a date (2026-12-01) or an RFC 3339 time, not {raw:?}"
            )))
        })
}

/// Whether a bound was given as a date (the whole day) rather than a time.
pub(super) fn is_date(raw: &str) -> bool {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok()
}

/// A page of conversations, and where the next one starts (none after the last page).
pub(super) struct Page {
    pub rows: Vec<ConversationSummary>,
    pub next: Option<ListPosition>,
}

/// The newest `filter.limit` conversations matching `filter`, of which those `staff` may see.
/// An agent who does not see the whole org, with no narrower filter, is answered from two index
/// walks — its queues', and the conversations it took part in — merged newest first, so that
/// the limit counts only what it may see (not a page of the org cut down afterwards). The next
/// page starts after the last conversation read, seen or not.
pub(super) async fn find_visible(
    rt: &Rt,
    staff: &Staff,
    filter: ConversationFilter,
) -> Result<Page, ApiError> {
    let limit = filter.limit;
    let narrow = filter.customer.is_some() || filter.case_id.is_some() || filter.agent.is_some();
    let rows = if staff.sees_all_queues() || narrow {
        find_merged(rt, &staff.org, filter).await?
    } else {
        let queues = ConversationFilter {
            queues: Some(staff.queues.clone()),
            ..filter.clone()
        };
        let mine = ConversationFilter {
            agent: Some(staff.id.clone()),
            ..filter
        };
        let (a, b) = futures_util::future::join(
            find_merged(rt, &staff.org, queues),
            find_merged(rt, &staff.org, mine),
        )
        .await;
        let mut rows = a?;
        rows.extend(b?);
        newest_first(&mut rows, limit);
        rows
    };
    let next = (rows.len() == limit)
        .then(|| rows.last().map(ListPosition::of))
        .flatten();
    Ok(Page {
        rows: rows.into_iter().filter(|s| visible(staff, s)).collect(),
        next,
    })
}

/// Newest first, one row per conversation (the first one given wins), at most `limit`.
fn newest_first(rows: &mut Vec<ConversationSummary>, limit: usize) {
    // A stable sort: of two rows of one conversation, the earlier given stays first.
    rows.sort_by(|x, y| {
        y.created_at
            .cmp(&x.created_at)
            .then_with(|| x.id.as_str().cmp(y.id.as_str()))
    });
    rows.dedup_by(|later, first| later.id == first.id);
    rows.truncate(limit);
}

/// The engine's matches and the archive's, merged newest first (the engine's row wins for a
/// conversation in both). An archive that cannot be reached leaves the engine's answer (a
/// warning is logged): live work never waits for the archive.
pub(super) async fn find_merged(
    rt: &Rt,
    org: &OrgId,
    filter: ConversationFilter,
) -> Result<Vec<ConversationSummary>, ApiError> {
    let limit = filter.limit;
    let (hot, cold) = futures_util::future::join(
        rt.engine.find_conversations(org, filter.clone()),
        rt.archive().find(org, filter),
    )
    .await;
    let mut rows = hot.map_err(|e| ApiError(CommandError::from(e)))?;
    match cold {
        Ok(cold) => rows.extend(cold),
        Err(e) => {
            tracing::warn!(%org, error = %e, "Archive unavailable; listing live conversations only.")
        }
    }
    newest_first(&mut rows, limit);
    Ok(rows)
}

pub(super) async fn find(
    rt: &Rt,
    staff: &Staff,
    raw: &str,
) -> Result<(ConvKey, ConversationSummary), ApiError> {
    let id = ConversationId::parse(raw)
        .map_err(|e| ApiError(CommandError::bad_request(format!("conversation: {e}"))))?;
    let key = ConvKey {
        org: staff.org.clone(),
        id,
    };
    let hot = rt
        .engine
        .summary(&key)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?;
    let summary = match hot {
        Some(s) => Some(s),
        None => rt
            .archive()
            .summary(&key)
            .await
            .map_err(|e| ApiError(CommandError::from(e)))?,
    }
    .filter(|s| visible(staff, s))
    .ok_or_else(|| ApiError(CommandError::not_found("conversation")))?;
    Ok((key, summary))
}

async fn get_one(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (_, summary) = find(&rt, &who.0, &path).await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// Seed 000's survey API: every stored NPS answer of the org.
async fn surveys(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let data = surveys_merged(&rt, &staff.org).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": data })))
}

/// The org's survey answers, engine and archive merged: oldest first, one answer per
/// conversation (the engine's while it has it).
pub(super) async fn surveys_merged(
    rt: &Rt,
    org: &OrgId,
) -> Result<Vec<crate::engine::SurveyRecord>, ApiError> {
    let (hot, cold) =
        futures_util::future::join(rt.engine.surveys(org), rt.archive().surveys(org)).await;
    let mut data = hot.map_err(|e| ApiError(CommandError::from(e)))?;
    data.extend(cold.map_err(|e| ApiError(CommandError::from(e)))?);
    data.sort_by_key(|x| x.created_at);
    let mut seen = std::collections::HashSet::new();
    data.retain(|s| seen.insert(s.conversation.clone()));
    Ok(data)
}

async fn panic_actor(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = ConversationId::parse(&path)
        .map_err(|e| ApiError(CommandError::bad_request(e.to_string())))?;
    let key = ConvKey {
        org: staff.org.clone(),
        id,
    };
    crate::actors::route::tell::<crate::actors::conversation::ConversationActor, _>(
        &rt,
        &key,
        crate::actors::conversation::Crash,
    );
    Ok(HttpResponse::Accepted().json(json!({ "crashing": key.id })))
}
