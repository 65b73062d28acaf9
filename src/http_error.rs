//! HTTP error bodies, shared by the REST API and the websocket upgrade: a protocol error code
//! with its HTTP status and `{"error": {"code": "...", "message": "..."}}` (docs/PROTOCOL.md §9).
//! An internal error's cause goes to the log, never to the client.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::protocol::CommandError;

/// The response for a refused request.
pub fn error_response(e: &CommandError) -> HttpResponse {
    let status =
        StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).json(serde_json::json!({
        "error": { "code": e.code, "message": e.client_message() }
    }))
}
