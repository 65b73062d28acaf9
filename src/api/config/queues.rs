//! `/v1/queues`: the org's queues. Staff see only the queues their token names (admins see
//! all); one queue's view adds its live statistics from the queue actor.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::super::{ApiError, ApiResult, Authed};
use super::store::{remove_from, upsert_in};
use super::{org, parse};
use crate::actors::queue::{GetStats, QueueActor, Waiting, WAITING_PAGE};
use crate::actors::route::ask;
use crate::actors::Rt;
use crate::domain::org::{OwnerLeaves, QueueConfig};
use crate::ids::{QueueId, QueueKey};
use crate::protocol::CommandError;

pub(super) async fn list_queues(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    let visible: Vec<&QueueConfig> = o
        .queues
        .iter()
        .filter(|q| who.0.can_see_queue(&q.id))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "queues": visible })))
}

/// `POST /v1/queues`: adds a queue; unlike `PUT`, an existing id is a `409`.
pub(super) async fn create_queue(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<QueueConfig>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let q = body.into_inner();
    let created = q.clone();
    rt.orgs
        .update(&staff.org, |o| {
            if o.queue(&q.id).is_some() {
                return Err(CommandError::conflict("a queue with this id exists"));
            }
            o.queues.push(q);
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

pub(super) async fn get_queue(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse(QueueId::parse(&path), "queue")?;
    let o = org(&rt, &who.0.org)?;
    let q = o
        .queue(&id)
        .filter(|q| who.0.can_see_queue(&q.id))
        .ok_or_else(|| ApiError(CommandError::not_found("queue")))?;
    let key = QueueKey {
        org: who.0.org.clone(),
        id,
    };
    let stats = ask::<QueueActor, _>(&rt, &key, GetStats).await?;
    Ok(HttpResponse::Ok().json(json!({ "queue": q, "stats": stats })))
}

/// `GET /v1/queues/{id}/waiting` (agents of the queue, supervisors): the request list — the
/// queue's waiting chats in line order, at most 100 — from which an agent can `pick` one.
pub(super) async fn waiting(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse(QueueId::parse(&path), "queue")?;
    let o = org(&rt, &who.0.org)?;
    if o.queue(&id)
        .filter(|q| who.0.can_see_queue(&q.id))
        .is_none()
    {
        return Err(ApiError(CommandError::not_found("queue")));
    }
    let key = QueueKey {
        org: who.0.org.clone(),
        id,
    };
    let chats = ask::<QueueActor, _>(
        &rt,
        &key,
        Waiting {
            limit: WAITING_PAGE,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "waiting": chats })))
}

/// The body of `PUT /v1/queues/{id}`: the id comes from the path.
#[derive(Deserialize)]
pub(super) struct QueueBody {
    name: String,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    owner_leaves: Option<OwnerLeaves>,
    /// Routing keywords a bot's handover may name.
    #[serde(default)]
    skills: Vec<String>,
}

pub(super) async fn put_queue(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<QueueBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(QueueId::parse(&path), "queue")?;
    let b = body.into_inner();
    if b.skills.len() > 50
        || b.skills
            .iter()
            .any(|s| s.trim().is_empty() || s.chars().count() > 64)
    {
        return Err(
            CommandError::bad_request("skills: at most 50, each 1 to 64 characters").into(),
        );
    }
    let q = QueueConfig {
        id,
        name: b.name,
        priority: b.priority,
        owner_leaves: b.owner_leaves,
        skills: b.skills,
    };
    upsert_in(&rt, &staff.org, |o| &mut o.queues, q, |q| &q.id).await
}

pub(super) async fn delete_queue(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(QueueId::parse(&path), "queue")?;
    remove_from(&rt, &staff.org, |o| &mut o.queues, |q| q.id == id, "queue").await
}
