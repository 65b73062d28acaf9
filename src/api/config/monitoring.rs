//! Per-chat monitoring levels (seed 002): each agent's three-way switch per chat — no
//! notifications, the customer's activity, every action — kept by the server so that it follows
//! the agent to any browser. The console raises the notifications; the server only keeps the
//! choice (an engine per-agent document, the most recently set [`KEEP`] chats).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::super::{ApiResult, Authed};
use super::parse;
use crate::actors::Rt;
use crate::ids::ConversationId;

/// The engine document kind.
const KIND: &str = "monitoring";
/// Chats remembered per agent; setting one more forgets the one set longest ago.
const KEEP: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Level {
    None,
    Customer,
    All,
}

#[derive(Deserialize)]
pub(super) struct LevelBody {
    level: Level,
}

/// Stored oldest set first.
type Levels = Vec<(ConversationId, Level)>;

/// `GET /v1/me/monitoring` → `{"levels":{"c_…":"all",…}}`: the chats whose level the caller set.
pub(super) async fn list(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let levels = super::store::read_own::<Levels>(&rt, &who.0, KIND).await?;
    let map: serde_json::Map<String, serde_json::Value> = levels
        .into_iter()
        .map(|(c, l)| (c.to_string(), json!(l)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "levels": map })))
}

/// `PUT /v1/me/monitoring/{conversation}` body `{"level"}`: sets the caller's level for a chat.
pub(super) async fn put(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<LevelBody>,
) -> ApiResult<HttpResponse> {
    let conv = parse(ConversationId::parse(&path), "conversation")?;
    let level = body.into_inner().level;
    let mut levels = super::store::read_own::<Levels>(&rt, &who.0, KIND).await?;
    levels.retain(|(c, _)| c != &conv);
    levels.push((conv.clone(), level));
    let over = levels.len().saturating_sub(KEEP);
    levels.drain(..over);
    super::store::write_own(&rt, &who.0, KIND, &levels).await?;
    Ok(HttpResponse::Ok().json(json!({ "conversation": conv, "level": level })))
}

/// `DELETE /v1/me/monitoring/{conversation}`: back to the console's default for that chat.
pub(super) async fn delete(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let conv = parse(ConversationId::parse(&path), "conversation")?;
    let mut levels = super::store::read_own::<Levels>(&rt, &who.0, KIND).await?;
    let before = levels.len();
    levels.retain(|(c, _)| c != &conv);
    if levels.len() != before {
        super::store::write_own(&rt, &who.0, KIND, &levels).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
