//! The bot REST API (PROTOCOL §9.12): what an org's external bot does in a bot-first chat —
//! send, type, end, hand over to a person — and its presence check, with a bot token
//! (audience `switchboard-bot`) that works nowhere else. `POST /v1/bot/token` is the admin's
//! way to mint one.

use std::sync::Arc;

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{bearer, rt_of, ApiError, ApiResult, Authed};
use crate::actors::conversation::{
    message_text, BotEnd, BotPost, BotTyping, ConversationActor, Handover, HandoverOutcome,
};
use crate::actors::queue::{GetStats, QueueActor};
use crate::actors::route::ask;
use crate::actors::Rt;
use crate::domain::bot::{handover_queue, MAX_INTAKE_BYTES, MAX_SUMMARY_CHARS};
use crate::domain::org::OrgConfig;
use crate::domain::start::DEFAULT_CHANNEL;
use crate::ids::{ConvKey, ConversationId, QueueId, QueueKey};
use crate::protocol::{CommandError, ErrorCode};

/// How long a minted bot token lasts.
const BOT_TOKEN_TTL_SECS: u64 = 365 * 24 * 3600;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/bot/token", web::post().to(mint_token))
        .route("/v1/bot/presence", web::get().to(presence))
        .route("/v1/bot/conversations/{id}/messages", web::post().to(send))
        .route("/v1/bot/conversations/{id}/typing", web::post().to(typing))
        .route("/v1/bot/conversations/{id}/end", web::post().to(end))
        .route(
            "/v1/bot/conversations/{id}/handover",
            web::post().to(handover),
        );
}

/// The org's bot behind `Authorization: Bearer <bot token>`: the token verified, and minted for
/// the bot the org has now.
pub struct BotAuthed {
    bot: String,
    org: Arc<OrgConfig>,
}

impl FromRequest for BotAuthed {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            (|| {
                let rt = rt_of(req)?;
                let token = bearer(req)?;
                if !crate::auth::tokens::is_bot_token(token) {
                    return Err(CommandError::forbidden("this API takes a bot token"));
                }
                let bot = rt.auth.verify_bot(token)?;
                let org = rt
                    .orgs
                    .get(&bot.org)
                    .ok_or_else(|| CommandError::new(ErrorCode::Unauthorized, "unknown org"))?;
                match &org.settings.bot {
                    Some(configured) if configured.id == bot.id => {
                        Ok(BotAuthed { bot: bot.id, org })
                    }
                    _ => Err(CommandError::new(
                        ErrorCode::Unauthorized,
                        "this token's bot is not the org's bot any more",
                    )),
                }
            })()
            .map_err(ApiError),
        )
    }
}

impl BotAuthed {
    fn key(&self, id: &str) -> Result<ConvKey, ApiError> {
        let id = ConversationId::parse(id)
            .map_err(|_| ApiError(CommandError::not_found("conversation")))?;
        Ok(ConvKey {
            org: self.org.id.clone(),
            id,
        })
    }
}

/// `POST /v1/bot/token` (admin): a bot token for the org's bot.
async fn mint_token(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let org = rt
        .orgs
        .get(&staff.org)
        .ok_or_else(|| CommandError::not_found("org"))?;
    let Some(bot) = &org.settings.bot else {
        return Err(CommandError::conflict("the org has no bot; set settings.bot first").into());
    };
    let (token, expires_at) =
        rt.auth
            .mint_bot(staff.org.clone(), bot.id.clone(), BOT_TOKEN_TTL_SECS)?;
    Ok(HttpResponse::Created().json(json!({
        "token": token,
        "expires_at": expires_at,
        "bot": bot.id,
    })))
}

#[derive(Deserialize)]
struct SendBody {
    client_msg_id: String,
    text: String,
}

/// `POST /v1/bot/conversations/{id}/messages`.
async fn send(
    rt: web::Data<Rt>,
    bot: BotAuthed,
    path: web::Path<String>,
    body: web::Json<SendBody>,
) -> ApiResult<HttpResponse> {
    let key = bot.key(&path)?;
    let body = body.into_inner();
    crate::domain::text::client_msg_id(
        &body.client_msg_id,
        rt.settings.limits.max_client_msg_id_len,
    )?;
    let text = message_text(&body.text, &rt.settings.limits)?;
    let msg = BotPost {
        bot: bot.bot.clone(),
        client_msg_id: body.client_msg_id,
        text,
    };
    let (seq, duplicate) = ask::<ConversationActor, _>(&rt, &key, msg).await?;
    let reply = json!({ "seq": seq, "duplicate": duplicate });
    Ok(if duplicate {
        HttpResponse::Ok().json(reply)
    } else {
        HttpResponse::Created().json(reply)
    })
}

#[derive(Deserialize)]
struct TypingBody {
    on: bool,
}

/// `POST /v1/bot/conversations/{id}/typing`.
async fn typing(
    rt: web::Data<Rt>,
    bot: BotAuthed,
    path: web::Path<String>,
    body: web::Json<TypingBody>,
) -> ApiResult<HttpResponse> {
    let key = bot.key(&path)?;
    let msg = BotTyping {
        bot: bot.bot.clone(),
        on: body.on,
    };
    ask::<ConversationActor, _>(&rt, &key, msg).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, Default)]
struct EndBody {
    #[serde(default)]
    message: Option<String>,
}

/// `POST /v1/bot/conversations/{id}/end`.
async fn end(
    rt: web::Data<Rt>,
    bot: BotAuthed,
    path: web::Path<String>,
    body: Option<web::Json<EndBody>>,
) -> ApiResult<HttpResponse> {
    let key = bot.key(&path)?;
    let message = body
        .and_then(|b| b.into_inner().message)
        .map(|m| message_text(&m, &rt.settings.limits))
        .transpose()?;
    let msg = BotEnd {
        bot: bot.bot.clone(),
        message,
    };
    let seq = ask::<ConversationActor, _>(&rt, &key, msg).await?;
    Ok(HttpResponse::Ok().json(json!({ "seq": seq })))
}

#[derive(Deserialize, Default)]
struct HandoverBody {
    #[serde(default)]
    skill: Option<String>,
    #[serde(default)]
    queue: Option<QueueId>,
    #[serde(default)]
    priority: Option<i32>,
    #[serde(default)]
    intake: Map<String, Value>,
    #[serde(default)]
    summary: Option<String>,
}

/// `POST /v1/bot/conversations/{id}/handover`: `200 {seq, queue}`, or `409` with the reason
/// the chat stays with the bot.
async fn handover(
    rt: web::Data<Rt>,
    bot: BotAuthed,
    path: web::Path<String>,
    body: Option<web::Json<HandoverBody>>,
) -> ApiResult<HttpResponse> {
    let key = bot.key(&path)?;
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    if serde_json::to_string(&body.intake).map_or(usize::MAX, |s| s.len()) > MAX_INTAKE_BYTES {
        return Err(CommandError::new(
            ErrorCode::TooLarge,
            format!("intake is limited to {MAX_INTAKE_BYTES} bytes"),
        )
        .into());
    }
    if body
        .summary
        .as_ref()
        .is_some_and(|s| s.chars().count() > MAX_SUMMARY_CHARS)
    {
        return Err(CommandError::bad_request(format!(
            "summary is limited to {MAX_SUMMARY_CHARS} characters"
        ))
        .into());
    }
    if body.skill.as_ref().is_some_and(|s| s.chars().count() > 64) {
        return Err(CommandError::bad_request("skill is limited to 64 characters").into());
    }
    let msg = Handover {
        bot: Some(bot.bot.clone()),
        customer: None,
        queue: body.queue,
        skill: body.skill,
        priority: body.priority,
        intake: body.intake,
        summary: body.summary,
    };
    match ask::<ConversationActor, _>(&rt, &key, msg).await? {
        HandoverOutcome::Done { seq, queue } => {
            Ok(HttpResponse::Ok().json(json!({ "seq": seq, "queue": queue })))
        }
        HandoverOutcome::Failed { reason, message } => Ok(HttpResponse::Conflict().json(json!({
            "error": { "code": "conflict", "message": message, "reason": reason },
        }))),
    }
}

#[derive(Deserialize)]
struct PresenceQuery {
    #[serde(default)]
    skill: Option<String>,
    #[serde(default)]
    queue: Option<QueueId>,
    #[serde(default)]
    channel: Option<String>,
}

/// `GET /v1/bot/presence`: whether a handover to this skill or queue can be answered now
/// (seed 003's `agentStatus`).
async fn presence(
    rt: web::Data<Rt>,
    bot: BotAuthed,
    query: web::Query<PresenceQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let org = &bot.org;
    let queue = handover_queue(org, q.queue.as_ref(), q.skill.as_deref(), None)
        .map_err(|r| CommandError::new(ErrorCode::NotFound, r.message))?;
    let channel = q.channel.as_deref().unwrap_or(DEFAULT_CHANNEL);
    let within_hours = org.hours.is_open(channel, chrono::Utc::now());
    let qkey = QueueKey {
        org: org.id.clone(),
        id: queue.clone(),
    };
    let stats = ask::<QueueActor, _>(&rt, &qkey, GetStats).await?;
    let online = within_hours && stats.agents_available > 0;
    Ok(HttpResponse::Ok().json(json!({
        "agent_status": if online { "online" } else { "offline" },
        "agents_available": stats.agents_available,
        "waiting": stats.waiting,
        "within_hours": within_hours,
        "queue": queue,
    })))
}
