//! Unauthenticated routes: health, metrics, and what a website widget needs before a customer
//! has a token (widget settings, reasons, the pre-chat form).

use actix_cors::Cors;
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiResult};
use crate::actors::Rt;
use crate::domain::reasons;
use crate::domain::start;
use crate::domain::text;
use crate::ids::{CustomerId, OrgId};
use crate::protocol::CommandError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .service(cors("/v1/orgs/{org}/widget").route(web::get().to(widget)))
        .service(cors("/v1/orgs/{org}/reasons").route(web::get().to(reason_page)))
        .service(cors("/v1/orgs/{org}/visitors").route(web::post().to(visitor)));
}

/// The widget runs on the retailer's pages, so these routes answer cross-origin requests
/// (with a preflight for the JSON POST). They carry no credentials and need none: the pre-chat
/// form and the websocket check the org's `allowed_origins` against the `Origin` header.
fn cors(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path).wrap(widget_cors())
}

/// Any origin (`*`, so one cached answer fits every shop), `GET`/`POST`, a JSON body, and a
/// preflight browsers may cache for ten minutes.
fn widget_cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allowed_header(header::CONTENT_TYPE)
        .max_age(600)
        .disable_vary_header()
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// How long `/readyz` waits for the archive to answer.
const ARCHIVE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

async fn readyz(rt: web::Data<Rt>) -> HttpResponse {
    let ready = match rt.engine.check_ready().await {
        Ok(()) if !rt.placement.healthy() => Err(crate::engine::EngineError::Unavailable(
            "cluster heartbeat failing".into(),
        )),
        other => other,
    };
    // The archive is reported, never a reason to be unready: finished conversations wait in
    // the engine until it is back.
    let archive = match tokio::time::timeout(ARCHIVE_CHECK, rt.archive().check()).await {
        Ok(Ok(())) => rt.archiver.health().to_string(),
        Ok(Err(e)) => crate::archiver::ArchiveHealth::Error(e.to_string()).to_string(),
        Err(_) => "error archive check timed out".to_string(),
    };
    // The email outbox likewise: `off`, `ok`, `backlog N` or `error …`.
    let email = tokio::time::timeout(ARCHIVE_CHECK, rt.mailer.health())
        .await
        .unwrap_or_else(|_| "error outbox check timed out".to_string());
    // And the webhook outbox: `ok`, `backlog N` or `error …`.
    let webhooks = tokio::time::timeout(ARCHIVE_CHECK, rt.webhooks.health())
        .await
        .unwrap_or_else(|_| "error outbox check timed out".to_string());
    match ready {
        Ok(()) => HttpResponse::Ok().json(json!({
            "ready": true, "engine": rt.engine.kind(), "node": rt.node_id, "archive": archive,
            "email": email, "webhooks": webhooks
        })),
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({
            "ready": false, "engine": rt.engine.kind(), "node": rt.node_id, "archive": archive,
            "email": email, "webhooks": webhooks, "error": e.to_string()
        })),
    }
}

async fn metrics(rt: web::Data<Rt>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(rt.metrics.render())
}

fn org_id(raw: &str) -> Result<OrgId, ApiError> {
    OrgId::parse(raw).map_err(|e| ApiError(CommandError::bad_request(format!("org: {e}"))))
}

fn org_config(
    rt: &Rt,
    raw: &str,
) -> Result<std::sync::Arc<crate::domain::org::OrgConfig>, ApiError> {
    rt.orgs
        .get(&org_id(raw)?)
        .filter(|o| o.settings.enabled)
        .ok_or_else(|| ApiError(CommandError::not_found("org")))
}

/// What the widget shows before the chat starts: whether the org is open now, its messages,
/// the first page of reasons and whether choosing one is mandatory.
async fn widget(rt: web::Data<Rt>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let org = org_config(&rt, &path)?;
    let page = reasons::page(&org.reasons, 1);
    Ok(HttpResponse::Ok().json(json!({
        "org": org.id,
        "name": org.settings.name,
        "open_now": org.hours.is_open("chat", chrono::Utc::now()),
        "messages": {
            "outside_hours": org.settings.messages.outside_hours,
            "all_busy": org.settings.messages.all_busy,
        },
        "prechat_fields": ["first_name", "last_name", "email"],
        "reason_required": !org.reasons.is_empty(),
        "reasons": page,
        "survey_enabled": org.settings.survey_enabled,
        "typing_preview": org.settings.typing_preview,
        // A bot-first org: chats start with the bot, and "Connect to an agent" works while
        // `open_now` (the widget shows it disabled, with `outside_hours`, otherwise).
        "bot": org.settings.bot.as_ref().filter(|b| b.serves("chat")).map(|b| json!({ "name": b.name })),
        // What the widget may offer to send (the server checks every upload again).
        "attachments": {
            "enabled": org.settings.attachments.enabled,
            "allowed_extensions": org.settings.attachments.allowed_extensions,
            "max_bytes": org.settings.attachments.max_bytes,
        },
    })))
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default = "first_page")]
    page: usize,
}

fn first_page() -> usize {
    1
}

async fn reason_page(
    rt: web::Data<Rt>,
    path: web::Path<String>,
    q: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let org = org_config(&rt, &path)?;
    Ok(HttpResponse::Ok().json(reasons::page(&org.reasons, q.page)))
}

#[derive(Deserialize)]
struct PreChat {
    first_name: String,
    last_name: String,
    email: String,
}

/// The pre-chat form: validates it and returns a signed, expiring visitor token.
async fn visitor(
    rt: web::Data<Rt>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Json<PreChat>,
) -> ApiResult<HttpResponse> {
    let org = org_config(&rt, &path)?;
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    start::check_origin(&org.settings, origin).map_err(CommandError::from)?;
    let first = text::person_name(&form.first_name, "first_name")?;
    let last = text::person_name(&form.last_name, "last_name")?;
    let email = text::email(&form.email)?;
    // The visitor has no customer id yet: the blocklist matches the email alone.
    start::check_blocklist(&org, None, Some(&email)).map_err(CommandError::from)?;
    let customer = CustomerId::generate();
    let (token, exp) = rt.auth.mint_visitor(
        org.id.clone(),
        customer.clone(),
        format!("{first} {last}"),
        Some(email),
    )?;
    Ok(HttpResponse::Created().json(json!({
        "token": token,
        "customer": customer,
        "expires_at": exp,
    })))
}
