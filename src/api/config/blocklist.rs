//! `/v1/blocklist` (supervisors): seed 001's visitor blocklist. An entry blocks future chats
//! from a customer id or an email (any case), org-wide.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::super::{ApiResult, Authed};
use super::org;
use super::store::remove_from;
use crate::actors::Rt;
use crate::domain::org::BlockEntry;
use crate::ids::CustomerId;

pub(super) async fn list_blocklist(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let o = org(&rt, &staff.org)?;
    Ok(HttpResponse::Ok().json(json!({ "blocklist": o.blocklist })))
}

/// The body of `POST /v1/blocklist`: a customer id, an email or both, and why.
#[derive(Deserialize)]
pub(super) struct BlockBody {
    #[serde(default)]
    customer: Option<CustomerId>,
    #[serde(default)]
    email: Option<String>,
    reason: String,
}

/// Adds an entry; entries have no key, so the same visitor may be listed twice.
pub(super) async fn add_block(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<BlockBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let b = body.into_inner();
    let email = b
        .email
        .map(|e| crate::domain::text::email(&e))
        .transpose()?;
    let entry = BlockEntry {
        customer: b.customer,
        email,
        reason: b.reason,
        at: chrono::Utc::now(),
    };
    let stored = entry.clone();
    rt.orgs
        .update(&staff.org, |o| {
            o.blocklist.push(entry);
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(stored))
}

/// The query of `DELETE /v1/blocklist`: every entry for this customer or this email goes.
#[derive(Deserialize)]
pub(super) struct Unblock {
    #[serde(default)]
    customer: Option<CustomerId>,
    #[serde(default)]
    email: Option<String>,
}

impl Unblock {
    fn matches(&self, b: &BlockEntry) -> bool {
        self.customer.is_some() && b.customer == self.customer
            || self
                .email
                .as_ref()
                .is_some_and(|e| b.email.as_ref().is_some_and(|x| x.eq_ignore_ascii_case(e)))
    }
}

pub(super) async fn remove_block(
    rt: web::Data<Rt>,
    who: Authed,
    q: web::Query<Unblock>,
) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let q = q.into_inner();
    remove_from(
        &rt,
        &staff.org,
        |o| &mut o.blocklist,
        |b| q.matches(b),
        "blocklist entry",
    )
    .await
}
