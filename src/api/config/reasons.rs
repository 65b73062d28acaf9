//! `/v1/reasons`: the contact reasons a customer picks from, with the order they are shown in.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::super::{ApiResult, Authed};
use super::store::{remove_from, upsert_in};
use super::{org, parse};
use crate::actors::Rt;
use crate::domain::reasons::{self, Reason};
use crate::ids::{QueueId, ReasonId};

pub(super) async fn list_reasons(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    Ok(HttpResponse::Ok().json(json!({
        "reasons": o.reasons,
        "display_order": reasons::display_order(&o.reasons).iter().map(|r| &r.id).collect::<Vec<_>>(),
    })))
}

/// The body of `PUT /v1/reasons/{id}`: the id comes from the path.
#[derive(Deserialize)]
pub(super) struct ReasonBody {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sequence: Option<u32>,
    #[serde(default)]
    queue: Option<QueueId>,
}

pub(super) async fn put_reason(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<ReasonBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(ReasonId::parse(&path), "reason")?;
    let b = body.into_inner();
    let reason = Reason {
        id,
        name: b.name,
        description: b.description,
        sequence: b.sequence,
        queue: b.queue,
    };
    upsert_in(&rt, &staff.org, |o| &mut o.reasons, reason, |r| &r.id).await
}

pub(super) async fn delete_reason(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(ReasonId::parse(&path), "reason")?;
    remove_from(
        &rt,
        &staff.org,
        |o| &mut o.reasons,
        |r| r.id == id,
        "reason",
    )
    .await
}
