//! `GET` and `PUT /v1/settings`: the org's settings. The customer token secret and the bot's
//! webhook secret are never returned, only whether one is set, and a `PUT` without one keeps
//! the stored one.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::super::{ApiResult, Authed};
use super::org;
use crate::actors::Rt;
use crate::domain::org::OrgSettings;

pub(super) async fn get_settings(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    let mut s = o.settings.clone();
    let has_secret = s.customer_token_secret.take().is_some();
    let bot_secret = s.bot.as_mut().is_some_and(|b| b.secret.take().is_some());
    Ok(HttpResponse::Ok().json(json!({
        "settings": s,
        "customer_token_secret_set": has_secret,
        "bot_secret_set": bot_secret,
    })))
}

pub(super) async fn put_settings(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<OrgSettings>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let mut next = body.into_inner();
    rt.orgs
        .update(&staff.org, |o| {
            if next.customer_token_secret.is_none() {
                next.customer_token_secret = o.settings.customer_token_secret.clone();
            }
            if let (Some(bot), Some(old)) = (next.bot.as_mut(), o.settings.bot.as_ref()) {
                if bot.secret.is_none() {
                    bot.secret = old.secret.clone();
                }
            }
            o.settings = next;
            Ok(())
        })
        .await?;
    get_settings(rt, who).await
}
