//! Server → client frames.

use serde::Serialize;

use super::client::Presence;
use super::errors::ErrorCode;
use super::events::LogEvent;
use crate::ids::{AgentId, ConversationId, QueueId};

/// Live signals: delivered, never logged (DESIGN §3).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    Typing {
        conversation: ConversationId,
        who: String,
        on: bool,
    },
    /// The customer's place in the queue (1 = next) and an estimate of the wait.
    Position {
        conversation: ConversationId,
        position: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        eta_secs: Option<u64>,
    },
    /// Nobody is available right now; the customer stays queued.
    AllBusy {
        conversation: ConversationId,
        message: String,
    },
    /// An assignment offer for the agent.
    Offer {
        conversation: ConversationId,
        queue: QueueId,
        expires_in_ms: u64,
        customer_name: String,
    },
    /// The offer is gone: `expired`, `rescinded` (customer left, agent went offline).
    OfferEnded {
        conversation: ConversationId,
        outcome: &'static str,
    },
    /// A transfer request addressed to this agent.
    TransferOffer {
        conversation: ConversationId,
        from: AgentId,
        expires_in_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A transfer request to this agent is gone without being accepted (`expired`, `cancelled`).
    TransferEnded {
        conversation: ConversationId,
        outcome: &'static str,
    },
    /// This agent's presence and load changed.
    Presence {
        presence: Presence,
        assigned: usize,
        max_chats: u32,
    },
    /// The session now follows this conversation (assignment, transfer in).
    Joined { conversation: ConversationId },
    /// The session no longer follows this conversation (transferred away).
    Left { conversation: ConversationId },
    /// The answer to a resume: `recovered: false` means reload the transcript.
    Resumed {
        conversation: ConversationId,
        recovered: bool,
        epoch: String,
        last_seq: u64,
    },
}

/// A frame the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Ack {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<serde_json::Value>,
    },
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<&'a str>,
        code: ErrorCode,
        message: &'a str,
    },
    Event {
        conversation: &'a ConversationId,
        seq: u64,
        /// The `seq` of the previous event this client is allowed to see: a client whose last
        /// seen seq differs has a gap and should `resume`.
        prev: u64,
        epoch: &'a str,
        event: &'a LogEvent,
    },
    Signal(&'a Signal),
    /// Sent before the server closes the socket for a reason the client can act on.
    Goodbye {
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

impl ServerFrame<'_> {
    /// Serializes to JSON text. Serializing these types cannot fail: they hold no maps with
    /// non-string keys and no user-defined `Serialize` impls that error.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| {
            tracing::error!(%err, "Failed to serialize a server frame.");
            r#"{"type":"error","code":"internal","message":"serialization failed"}"#.to_string()
        })
    }
}
