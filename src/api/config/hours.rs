//! `/v1/hours`: the org's hours of operation in seed 000's format, whether chat is open now,
//! and the seed's two writes (import a whole profile, save one day).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::super::{ApiError, ApiResult, Authed};
use super::org;
use crate::actors::Rt;
use crate::domain::hours::{DayHours, HoursProfile};
use crate::protocol::CommandError;

pub(super) async fn get_hours(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    Ok(HttpResponse::Ok().json(json!({
        "hours": o.hours,
        "open_now": { "chat": o.hours.is_open("chat", chrono::Utc::now()) },
    })))
}

/// Seed 000's `hoursOfOperation/import`: replaces the whole profile.
pub(super) async fn import_hours(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<HoursProfile>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let profile = body.into_inner();
    profile
        .validate()
        .map_err(|e| ApiError(CommandError::bad_request(e.to_string())))?;
    let stored = profile.clone();
    rt.orgs
        .update(&staff.org, |o| {
            o.hours = profile;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

/// Seed 000's `hoursOfOperation/save`: upserts one (channel, weekday) entry.
pub(super) async fn save_hours(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<DayHours>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let day = body.into_inner();
    let stored = rt
        .orgs
        .update(&staff.org, |o| {
            o.hours
                .save_day(day)
                .map_err(|e| CommandError::bad_request(e.to_string()))?;
            Ok(o.hours.clone())
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}
