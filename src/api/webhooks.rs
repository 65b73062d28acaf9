//! Outgoing webhooks and tickets (PROTOCOL §9.13): admins manage the org's subscriptions, read
//! and redeliver dead webhooks and pull a pull subscription's events; agents ask the
//! integration for a ticket from a chat, and the integration (an admin token) answers with it.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::conversations::find;
use super::{ApiError, ApiResult, Authed};
use crate::actors::conversation::{ConversationActor, LinkTicket, RequestTicket, Who};
use crate::actors::route::ask;
use crate::actors::Rt;
use crate::archive::webhooks::NewWebhook;
use crate::domain::webhooks::{self as rules, Mode, Subscription};
use crate::ids::{ConvKey, ConversationId};
use crate::protocol::CommandError;

/// Most rows one read of the dead letters or of the pull API returns.
const MAX_PAGE: usize = 500;
/// Pull reads leave out rows younger than this: a row whose transaction has not committed yet
/// may take a lower cursor than one already read (PostgreSQL sequences are not commit-ordered).
const PULL_SETTLE_MS: i64 = 1_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/webhooks", web::get().to(list))
        .route("/v1/webhooks/{id}", web::put().to(put))
        .route("/v1/webhooks/{id}", web::delete().to(delete))
        .route("/v1/webhooks/{id}/dead", web::get().to(dead))
        .route(
            "/v1/webhooks/{id}/dead/{webhook}/redeliver",
            web::post().to(redeliver),
        )
        .route("/v1/webhooks/{id}/events", web::get().to(pull))
        .route(
            "/v1/conversations/{id}/tickets",
            web::post().to(request_ticket),
        )
        .route(
            "/v1/conversations/{id}/tickets/{request}",
            web::post().to(link_ticket),
        );
}

/// A subscription as GET shows it: no secret, whether one is set, and this node's circuit.
fn shown(rt: &Rt, org: &crate::ids::OrgId, s: &Subscription) -> serde_json::Value {
    let mut v = json!(s);
    if let Some(o) = v.as_object_mut() {
        o.remove("secret");
        o.insert("secret_set".into(), json!(s.secret.is_some()));
        let open = rt.webhooks.circuit_open(org, &s.id);
        o.insert(
            "circuit".into(),
            json!(if open { "open" } else { "closed" }),
        );
    }
    v
}

async fn list(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let org = super::config::org(&rt, &staff.org)?;
    let subs: Vec<_> = org
        .webhooks
        .iter()
        .map(|s| shown(&rt, &staff.org, s))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "webhooks": subs, "event_types": rules::EVENT_TYPES })))
}

async fn put(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<Subscription>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let mut next = body.into_inner();
    next.id = path.into_inner();
    let id = next.id.clone();
    rt.orgs
        .update(&staff.org, move |o| {
            match o.webhooks.iter_mut().find(|s| s.id == next.id) {
                Some(old) => {
                    if next.secret.is_none() {
                        next.secret = old.secret.clone();
                    }
                    *old = next;
                }
                None => o.webhooks.push(next),
            }
            Ok(())
        })
        .await?;
    let org = super::config::org(&rt, &staff.org)?;
    let s = org
        .webhooks
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| CommandError::internal("the subscription was not stored"))?;
    Ok(HttpResponse::Ok().json(shown(&rt, &staff.org, s)))
}

async fn delete(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = path.into_inner();
    rt.orgs
        .update(&staff.org, |o| {
            let before = o.webhooks.len();
            o.webhooks.retain(|s| s.id != id);
            if o.webhooks.len() == before {
                return Err(CommandError::not_found("webhook subscription"));
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The subscription, which must exist.
fn subscription(rt: &Rt, staff: &crate::auth::Staff, id: &str) -> Result<Subscription, ApiError> {
    super::config::org(rt, &staff.org)?
        .webhooks
        .iter()
        .find(|s| s.id == id)
        .cloned()
        .ok_or_else(|| CommandError::not_found("webhook subscription").into())
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn dead(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    q: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let sub = subscription(&rt, staff, &path)?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let rows = rt
        .archive()
        .webhooks()
        .dead_webhooks(&staff.org, &sub.id, limit)
        .await
        .map_err(CommandError::from)?;
    Ok(HttpResponse::Ok().json(json!({ "dead": rows })))
}

async fn redeliver(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let (sub, webhook) = path.into_inner();
    let sub = subscription(&rt, staff, &sub)?;
    let now = chrono::Utc::now().timestamp_micros();
    let found = rt
        .archive()
        .webhooks()
        .redeliver_webhook(&staff.org, &sub.id, &webhook, now)
        .await
        .map_err(CommandError::from)?;
    if !found {
        return Err(CommandError::not_found("dead webhook").into());
    }
    Ok(HttpResponse::Accepted().json(json!({ "id": webhook, "status": "pending" })))
}

/// `GET /v1/webhooks/{id}/events?after=N`: a pull subscription's events after cursor `N`.
async fn pull(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    q: web::Query<Page>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let sub = subscription(&rt, staff, &path)?;
    if sub.mode != Mode::Pull {
        return Err(
            CommandError::conflict("this subscription pushes; make it \"mode\": \"pull\"").into(),
        );
    }
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let settled = chrono::Utc::now().timestamp_micros() - PULL_SETTLE_MS * 1000;
    let rows = rt
        .archive()
        .webhooks()
        .pull_webhooks(&staff.org, &sub.id, q.after.max(0), settled, limit)
        .await
        .map_err(CommandError::from)?;
    let next = rows.last().map_or(q.after.max(0), |r| r.n);
    let events: Vec<_> = rows
        .into_iter()
        .map(|r| json!({ "cursor": r.n, "webhook": r.body }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "events": events, "next_cursor": next })))
}

#[derive(Deserialize, Default)]
struct TicketBody {
    /// Append to this ticket; absent: create one.
    #[serde(default)]
    ticket: Option<String>,
}

/// `POST /v1/conversations/{id}/tickets`: logs the request and queues the `ticket.requested`
/// webhook (with the transcript) for the subscriptions that take it; `202` once it is durable.
async fn request_ticket(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: Option<web::Json<TicketBody>>,
) -> ApiResult<HttpResponse> {
    let staff = &who.0;
    let ticket = body.and_then(|b| b.into_inner().ticket);
    if ticket
        .as_ref()
        .is_some_and(|t| t.trim().is_empty() || t.chars().count() > 100)
    {
        return Err(CommandError::bad_request("ticket must be 1 to 100 characters").into());
    }
    let (key, _) = find(&rt, staff, &path).await?;
    let org = super::config::org(&rt, &staff.org)?;
    let subs: Vec<&Subscription> = org
        .webhooks
        .iter()
        .filter(|s| s.wants("ticket.requested"))
        .collect();
    if subs.is_empty() {
        return Err(CommandError::conflict(
            "no integration takes ticket requests (subscribe one to ticket.requested)",
        )
        .into());
    }
    let request = format!("t_{}", uuid::Uuid::new_v4().simple());
    let who_acts = Who::of(&crate::auth::Principal::Staff(staff.clone()), Some(&org));
    let msg = RequestTicket {
        who: who_acts,
        request: request.clone(),
        ticket,
    };
    let seq = ask::<ConversationActor, _>(&rt, &key, msg).await?;
    let (_, log) = super::transcripts::load(&rt, &key).await?;
    let Some(event) = log.iter().find(|e| e.seq == seq).cloned() else {
        return Err(CommandError::internal("the ticket request is not in the log").into());
    };
    let upto = log.partition_point(|e| e.seq <= seq);
    let now = chrono::Utc::now().timestamp_micros();
    let rows = subs
        .iter()
        .map(|s| NewWebhook {
            org: org.id.clone(),
            subscription: s.id.clone(),
            id: rules::event_id(key.id.as_str(), seq),
            conversation: key.id.to_string(),
            seq: i64::try_from(seq).unwrap_or(i64::MAX),
            event_type: "ticket.requested".into(),
            body: rules::body(
                org.id.as_str(),
                key.id.as_str(),
                "ticket.requested",
                &event,
                Some(&log[..upto]),
            )
            .to_string(),
            pull: s.mode == Mode::Pull,
            created_us: now,
        })
        .collect();
    rt.webhooks
        .enqueue(rows)
        .await
        .map_err(CommandError::from)?;
    Ok(HttpResponse::Accepted().json(json!({ "request": request, "seq": seq })))
}

#[derive(Deserialize)]
struct LinkBody {
    ticket: String,
    #[serde(default)]
    url: Option<String>,
}

/// `POST /v1/conversations/{id}/tickets/{request}` (the integration, admin token): the ticket.
async fn link_ticket(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<(String, String)>,
    body: web::Json<LinkBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let (conv, request) = path.into_inner();
    let body = body.into_inner();
    if body.ticket.trim().is_empty() || body.ticket.chars().count() > 100 {
        return Err(CommandError::bad_request("ticket must be 1 to 100 characters").into());
    }
    let url = body
        .url
        .map(|u| crate::domain::text::pushed_url(&u))
        .transpose()?;
    let id = ConversationId::parse(&conv).map_err(|_| CommandError::not_found("conversation"))?;
    let key = ConvKey {
        org: staff.org.clone(),
        id,
    };
    let msg = LinkTicket {
        request,
        ticket: body.ticket.trim().to_string(),
        url,
    };
    let (seq, duplicate) = ask::<ConversationActor, _>(&rt, &key, msg).await?;
    Ok(HttpResponse::Ok().json(json!({ "seq": seq, "duplicate": duplicate })))
}
