//! The REST API: configuration, integration and operations (DESIGN §5).
//!
//! Authenticated routes take the org from the caller's token, never from the path or body
//! (DESIGN invariant 6). Errors are JSON: `{"error": {"code": "...", "message": "..."}}` with
//! the HTTP status of the code.

mod assets;
mod attachments;
mod bot;
pub mod config;
mod conversations;
mod emails;
mod history;
mod privacy;
mod public;
mod reports;
mod transcripts;
mod webhooks;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use std::future::{ready, Ready};

use crate::actors::Rt;
use crate::auth::{Principal, Role, Staff};
use crate::protocol::{CommandError, ErrorCode};

/// A REST error: a protocol error code with its HTTP status.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(#[from] pub CommandError);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&self.0)
    }
}

use crate::http_error::error_response;

impl From<crate::domain::text::TextError> for ApiError {
    fn from(e: crate::domain::text::TextError) -> Self {
        ApiError(e.into())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn rt_of(req: &HttpRequest) -> Result<Rt, CommandError> {
    req.app_data::<web::Data<Rt>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(|| CommandError::internal("runtime missing from app data"))
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(req: &HttpRequest) -> Result<&str, CommandError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| {
            CommandError::new(
                ErrorCode::Unauthorized,
                "missing Authorization: Bearer token",
            )
        })?;
    header.strip_prefix("Bearer ").ok_or_else(|| {
        CommandError::new(
            ErrorCode::Unauthorized,
            "Authorization must be a Bearer token",
        )
    })
}

/// The signed-in staff member behind `Authorization: Bearer <jwt>`.
pub struct Authed(pub Staff);

impl Authed {
    /// Refuses callers who hold none of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Staff, ApiError> {
        if roles.iter().any(|r| self.0.has(*r)) {
            Ok(&self.0)
        } else {
            Err(CommandError::forbidden(format!("this needs one of the roles {roles:?}")).into())
        }
    }

    pub fn admin(&self) -> Result<&Staff, ApiError> {
        self.require(&[Role::Admin])
    }

    pub fn supervisor(&self) -> Result<&Staff, ApiError> {
        self.require(&[Role::Admin, Role::Supervisor])
    }
}

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            (|| {
                let rt = rt_of(req)?;
                let token = bearer(req)?;
                if crate::auth::tokens::is_customer_token(token) {
                    return Err(CommandError::forbidden(
                        "customer tokens cannot use this API",
                    ));
                }
                match rt.auth.verify(token, |_| None)? {
                    Principal::Staff(s) if rt.orgs.get(&s.org).is_some() => Ok(Authed(s)),
                    Principal::Staff(_) => {
                        Err(CommandError::new(ErrorCode::Unauthorized, "unknown org"))
                    }
                    Principal::Customer(_) => Err(CommandError::forbidden(
                        "customer tokens cannot use this API",
                    )),
                }
            })()
            .map_err(ApiError),
        )
    }
}

/// JSON body errors become `bad_request` with the parser's message.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _| {
            let code = match &err {
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    ErrorCode::TooLarge
                }
                _ => ErrorCode::BadRequest,
            };
            ApiError(CommandError::new(code, err.to_string())).into()
        })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _| {
        ApiError(CommandError::bad_request(format!("bad path: {err}"))).into()
    })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        ApiError(CommandError::bad_request(format!("bad query: {err}"))).into()
    })
}

/// Registers every REST route.
pub fn routes(cfg: &mut web::ServiceConfig, fault_injection: bool) {
    public::routes(cfg);
    assets::routes(cfg);
    config::routes(cfg);
    conversations::routes(cfg, fault_injection);
    history::routes(cfg);
    emails::routes(cfg);
    attachments::routes(cfg);
    privacy::routes(cfg);
    reports::routes(cfg);
    bot::routes(cfg);
    webhooks::routes(cfg);
}
