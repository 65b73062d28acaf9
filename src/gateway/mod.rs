//! The websocket gateway (`/v1/ws`): translates frames to typed actor messages and back.
//!
//! **Architecture Invariant:** a session holds no business state. It knows who is connected,
//! which conversations it follows and the last seq it delivered for each — nothing an actor
//! would need after the socket closes.

mod commands;
mod session;
pub mod ws;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::actors::Rt;
use crate::metrics::Metrics;

/// Close codes the server uses (RFC 6455 §7.4 and the registered range).
pub mod close_codes {
    /// Policy violation: auth failure, no hello in time, repeated abuse.
    pub const POLICY: u16 = 1008;
    /// The server is restarting or draining: reconnect (to another node) and resume.
    pub const RESTART: u16 = 1012;
    /// Slow consumer: reconnect and resume from your last seq.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// `GET /v1/ws`: the websocket upgrade.
pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    rt: web::Data<Rt>,
) -> Result<HttpResponse, actix_web::Error> {
    let rt = rt.get_ref().clone();
    if *rt.drain_signal().borrow() {
        return Ok(crate::http_error::error_response(
            &crate::protocol::CommandError::unavailable(
                "this node is draining; connect to another",
            ),
        ));
    }
    // The permit travels with the session and is given back when it ends, however it ends.
    let Some(permit) = rt.connection_permit() else {
        return Ok(crate::http_error::error_response(
            &crate::protocol::CommandError::unavailable(
                "this node holds as many connections as it may; try another",
            ),
        ));
    };
    let origin = req
        .headers()
        .get(actix_web::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Frames up to 4x our limit are read so that a too-large one gets a polite `too_large`
    // error instead of a protocol failure; beyond that the socket is closed.
    let hard_limit = rt
        .settings
        .limits
        .max_frame_bytes
        .saturating_mul(4)
        .max(4096);
    let (response, ws, stream) = match ws::handle(&req, body.into_inner(), hard_limit) {
        Ok(upgraded) => upgraded,
        Err(refused) => return Ok(crate::http_error::error_response(&refused)),
    };
    let open = OpenConnection::new(rt.clone(), permit);
    actix_web::rt::spawn(async move {
        let _open = open;
        session::run(rt.clone(), ws, stream, origin).await;
    });
    Ok(response)
}

/// One open websocket: holds its connection permit and counts it open until it is dropped —
/// when the session ends, however it ends (a panicking session unwinds through it too), so
/// neither the limit nor the `connections` gauge can drift.
struct OpenConnection {
    rt: Rt,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(rt: Rt, permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        Metrics::inc(&rt.metrics.connections_opened);
        Self {
            rt,
            _permit: permit,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        Metrics::inc(&self.rt.metrics.connections_closed);
    }
}
