//! Canned responses over REST (seeds 001, 004): the org's and its queues' (admins write them, in
//! the org document), each agent's own (kept per agent in the engine), and the list that applies
//! to one chat, rendered for it (`GET /v1/conversations/{id}/canned`).

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::super::conversations::find;
use super::super::{ApiError, ApiResult, Authed};
use super::org;
use crate::actors::Rt;
use crate::auth::Staff;
use crate::domain::canned::{self, CannedResponse, Values};
use crate::ids::QueueId;
use crate::protocol::CommandError;

/// The engine document kind of an agent's personal responses.
const PERSONAL: &str = "canned";

#[derive(Deserialize)]
pub(super) struct CannedBody {
    shortcut: String,
    title: String,
    text: String,
    #[serde(default)]
    queue: Option<QueueId>,
}

/// An agent's personal responses as stored (none when never written).
async fn personal(rt: &Rt, staff: &Staff) -> Result<Vec<CannedResponse>, ApiError> {
    super::store::read_own(rt, staff, PERSONAL).await
}

/// `GET /v1/canned` (any staff): the org-wide responses and those of the queues the caller sees.
pub(super) async fn list_org(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    let visible: Vec<&CannedResponse> = o
        .canned
        .iter()
        .filter(|r| r.queue.as_ref().is_none_or(|q| who.0.can_see_queue(q)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "responses": visible })))
}

/// `PUT /v1/canned/{id}` (admin): adds or replaces an org-wide (or, with `queue`, a queue's)
/// response.
pub(super) async fn put_org(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<CannedBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let b = body.into_inner();
    let r = CannedResponse::parse(&path, &b.shortcut, &b.title, &b.text, b.queue)?;
    let stored = r.clone();
    rt.orgs
        .update(&staff.org, |o| {
            canned::upsert(&mut o.canned, r, canned::List::Org)
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

/// `DELETE /v1/canned/{id}` (admin).
pub(super) async fn delete_org(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = path.into_inner();
    super::store::remove_from(
        &rt,
        &staff.org,
        |o| &mut o.canned,
        |r| r.id == id,
        "canned response",
    )
    .await
}

/// `GET /v1/me/canned`: the caller's own responses.
pub(super) async fn list_mine(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let list = personal(&rt, &who.0).await?;
    Ok(HttpResponse::Ok().json(json!({ "responses": list })))
}

/// `PUT /v1/me/canned/{id}`: adds or replaces one of the caller's own responses. Two writes of
/// the same agent at the same moment: the last one wins.
pub(super) async fn put_mine(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<CannedBody>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    if b.queue.is_some() {
        return Err(ApiError(CommandError::bad_request(
            "a personal response has no queue",
        )));
    }
    let r = CannedResponse::parse(&path, &b.shortcut, &b.title, &b.text, None)?;
    let mut list = personal(&rt, &who.0).await?;
    canned::upsert(&mut list, r.clone(), canned::List::Personal)?;
    super::store::write_own(&rt, &who.0, PERSONAL, &list).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// `DELETE /v1/me/canned/{id}`.
pub(super) async fn delete_mine(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let mut list = personal(&rt, &who.0).await?;
    let before = list.len();
    list.retain(|r| r.id != *path);
    if list.len() == before {
        return Err(ApiError(CommandError::not_found("canned response")));
    }
    super::store::write_own(&rt, &who.0, PERSONAL, &list).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /v1/conversations/{id}/canned` (staff who see the conversation): the responses that
/// apply to it — the caller's own, its queue's, the org's; one per shortcut — each with its text
/// rendered for this chat.
pub(super) async fn for_conversation(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (_, summary) = find(&rt, &who.0, &path).await?;
    let o = org(&rt, &who.0.org)?;
    let mine = personal(&rt, &who.0).await?;
    let values = Values {
        customer_name: summary
            .customer
            .as_ref()
            .map(|_| summary.customer_name.clone()),
        customer_email: summary.customer_email.clone(),
        agent_name: Some(o.display_name(&who.0.id, &who.0.name)),
        org_name: Some(o.settings.name.clone()),
        queue_name: summary
            .queue
            .as_ref()
            .and_then(|q| o.queue(q))
            .map(|q| q.name.clone()),
        case_id: summary.case_id.clone(),
    };
    let rows: Vec<_> = canned::applicable(&o.canned, &mine, summary.queue.as_ref())
        .into_iter()
        .map(|(scope, r)| {
            let mut row = json!({
                "id": r.id,
                "shortcut": r.shortcut,
                "title": r.title,
                "text": r.text,
                "scope": scope,
                "rendered": canned::render(&r.text, &values),
            });
            if let Some(q) = &r.queue {
                row["queue"] = json!(q);
            }
            row
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "responses": rows })))
}
