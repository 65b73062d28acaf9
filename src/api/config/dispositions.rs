//! `/v1/dispositions`: the wrap-up codes agents pick from, and whether one is required.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::super::{ApiResult, Authed};
use super::org;
use super::store::{remove_from, upsert_in};
use crate::actors::Rt;
use crate::domain::org::Disposition;

pub(super) async fn list_dispositions(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    Ok(HttpResponse::Ok().json(
        json!({ "dispositions": o.dispositions, "required": o.settings.disposition_required }),
    ))
}

/// The body of `PUT /v1/dispositions/{code}`: the code comes from the path.
#[derive(Deserialize)]
pub(super) struct DispositionBody {
    label: String,
}

pub(super) async fn put_disposition(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<DispositionBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let d = Disposition {
        code: path.into_inner(),
        label: body.into_inner().label,
    };
    upsert_in(&rt, &staff.org, |o| &mut o.dispositions, d, |d| &d.code).await
}

pub(super) async fn delete_disposition(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let code = path.into_inner();
    remove_from(
        &rt,
        &staff.org,
        |o| &mut o.dispositions,
        |d| d.code == code,
        "disposition",
    )
    .await
}
