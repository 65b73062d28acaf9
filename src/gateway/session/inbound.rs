//! Every client frame after `hello`: frame and rate limits, parsing, running the command
//! (`gateway/commands.rs`) and answering it.

use std::time::Instant;

use super::close_codes;
use crate::metrics::Metrics;
use crate::protocol::client::{parse_frame, Command};
use crate::protocol::{CommandError, ErrorCode, ServerFrame};

use super::{Session, Stop};

impl Session {
    pub(in crate::gateway) async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        let received = Instant::now();
        let limits = &self.rt.settings.limits;
        if text.len() > limits.max_frame_bytes {
            let e = CommandError::new(
                ErrorCode::TooLarge,
                format!(
                    "frame is {} bytes; the limit is {}",
                    text.len(),
                    limits.max_frame_bytes
                ),
            );
            let id = serde_json::from_str::<crate::protocol::client::FrameHead>(text)
                .ok()
                .and_then(|h| h.id_string());
            return self.reply_error(id.as_deref(), &e).await;
        }
        let limited = if !self.limiter.try_take() {
            Some("slow down")
        } else if !self.org_limiter.lock().try_take() {
            Some("your organisation is over its message rate on this node; slow down")
        } else {
            None
        };
        if let Some(message) = limited {
            self.violations += 1;
            let max = self.rt.settings.limits.max_rate_violations;
            let id = serde_json::from_str::<crate::protocol::client::FrameHead>(text)
                .ok()
                .and_then(|h| h.id_string());
            self.reply_error(
                id.as_deref(),
                &CommandError::new(ErrorCode::RateLimited, message),
            )
            .await?;
            if self.violations >= max {
                return Err(Stop::Close(
                    close_codes::POLICY,
                    "rate limit exceeded repeatedly",
                ));
            }
            return Ok(());
        }
        self.violations = 0;
        let frame = match parse_frame(text) {
            Ok(f) => f,
            Err((id, message)) => {
                return self
                    .reply_error(id.as_deref(), &CommandError::bad_request(message))
                    .await
            }
        };
        let id = frame.id;
        let is_send = matches!(frame.command, Command::Send { .. });
        match self.command(frame.command).await {
            Ok(data) => {
                if id.is_some() || data.is_some() {
                    let ack = ServerFrame::Ack {
                        id: id.as_deref(),
                        data,
                    };
                    self.send(ack.to_json()).await?;
                    if is_send {
                        Metrics::observe(&self.rt.metrics.send_ack, received.elapsed());
                    }
                }
                Ok(())
            }
            Err(e) => self.reply_error(id.as_deref(), &e).await,
        }
    }

    pub(in crate::gateway) async fn reply_error(
        &mut self,
        id: Option<&str>,
        e: &CommandError,
    ) -> Result<(), Stop> {
        self.rt.metrics.error(e.code);
        let frame = ServerFrame::Error {
            id,
            code: e.code,
            message: e.client_message(),
        };
        self.send(frame.to_json()).await
    }
}
