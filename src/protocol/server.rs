//! Server → client frames.

use serde::{Deserialize, Serialize};

use super::client::Presence;
use super::errors::ErrorCode;
use super::events::{InviteOutcome, LogEvent, ParticipantRole};
use crate::ids::{AgentId, ConversationId, CustomerId, OrgId, QueueId};

/// How an assignment offer ended (DESIGN invariant 5: each ends exactly once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferOutcome {
    Accepted,
    Rejected,
    Expired,
    /// Withdrawn without the agent's decision (agent offline, customer gone).
    Rescinded,
}

/// How a transfer request to an agent ended without being accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferOutcome {
    Expired,
    /// The owner's transfer was cancelled (the chat ended, or it was answered elsewhere).
    Cancelled,
}

/// Live signals: delivered, never logged (DESIGN §3).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    Typing {
        conversation: ConversationId,
        who: String,
        on: bool,
        /// The customer's unsent text, to agents only, where the org has `typing_preview` on.
        #[serde(skip_serializing_if = "Option::is_none")]
        preview: Option<String>,
    },
    /// The customer's place in the queue (1 = next) and an estimate of the wait.
    Position {
        conversation: ConversationId,
        position: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        eta_secs: Option<u64>,
    },
    /// To the agents who could pick from a queue: its request list changed (chats came, went
    /// or were offered); `waiting` is how many wait now. At most once per sweep interval.
    Waiting { queue: QueueId, waiting: usize },
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
    /// The offer is gone without the agent's answer: `expired`, `rescinded` (customer left,
    /// agent went offline).
    OfferEnded {
        conversation: ConversationId,
        outcome: OfferOutcome,
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
        outcome: TransferOutcome,
    },
    /// An invitation to join a chat beside its owner (`conference` or `consult`).
    Invitation {
        conversation: ConversationId,
        from: AgentId,
        role: ParticipantRole,
        expires_in_ms: u64,
        customer_name: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// A chat between agents (no customer).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        internal: bool,
    },
    /// An invitation to this agent is gone without its answer (`expired`, `cancelled`).
    InvitationEnded {
        conversation: ConversationId,
        outcome: InviteOutcome,
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

/// What an `ack` carries (docs/PROTOCOL.md §4: each command's "ack data" column).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AckData {
    Hello(HelloAck),
    /// `send`: the message's seq, and whether it was a retry of a stored one.
    Sent {
        seq: u64,
        duplicate: bool,
    },
    /// `end`, `note`, `transfer`, `wrap_up`: the seq of the event the command logged.
    Seq {
        seq: u64,
    },
    /// `start`: the conversation, and whether it is the customer's already open one.
    Started {
        conversation: ConversationId,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        existing: bool,
    },
    /// `resume`: whether the replay continues from the client's seq (`false`: from seq 1).
    Resumed {
        recovered: bool,
    },
}

/// The `hello` ack's data (docs/PROTOCOL.md §4.1).
#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum HelloAck {
    Customer {
        org: OrgId,
        customer: CustomerId,
        name: String,
        verified: bool,
        /// Open conversations the session follows.
        conversations: Vec<ConversationId>,
    },
    /// Also for supervisors and admins.
    Agent {
        org: OrgId,
        agent: AgentId,
        name: String,
        roles: Vec<String>,
        queues: Vec<QueueId>,
        presence: Presence,
        max_chats: u32,
        /// Conversations the agent owns (assigned or transferring).
        assigned: Vec<ConversationId>,
        /// Conversations that ended while the agent was away and still need its wrap-up.
        wrap_up: Vec<ConversationId>,
        /// Conversations the agent is in beside their owner (conference, consult, monitoring).
        participating: Vec<ConversationId>,
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
        data: Option<AckData>,
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

/// The `event` frame of an event that is already JSON (`event_json`, a serialized
/// [`LogEvent`]): byte for byte what [`ServerFrame::Event`] serializes to, without serializing
/// the event again. The hub serializes each event once and splices it into the agents' and the
/// customers' frames; nodes that receive an event from the cluster's log splice the stored text.
pub fn event_frame(
    conversation: &ConversationId,
    seq: u64,
    prev: u64,
    epoch: &str,
    event_json: &str,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(event_json.len() + epoch.len() + 96);
    out.push_str(r#"{"type":"event","conversation":"#);
    push_json_str(&mut out, conversation.as_str());
    let _ = write!(out, r#","seq":{seq},"prev":{prev},"epoch":"#);
    push_json_str(&mut out, epoch);
    out.push_str(r#","event":"#);
    out.push_str(event_json);
    out.push('}');
    out
}

/// Appends `s` as a JSON string (quoted; escaped the way serde_json escapes).
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::Value::from(s).to_string());
    }
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::protocol::{Author, AuthorRole, EventKind, Visibility};

    #[test]
    fn a_spliced_event_frame_is_the_serialized_one() {
        let conversation = ConversationId::parse("c-1").expect("id");
        let event = LogEvent {
            seq: 7,
            at: chrono::Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap(),
            visibility: Visibility::Public,
            author: Author {
                role: AuthorRole::Customer,
                id: Some("v1".into()),
                name: Some("Zoë \"Z\" \\ Ünal\n".into()),
            },
            kind: EventKind::Message {
                text: "où est ma commande ? \u{1F600} </script>".into(),
                client_msg_id: "m1".into(),
                attachments: Vec::new(),
            },
            redacted: false,
        };
        let json = serde_json::to_string(&event).expect("json");
        for epoch in ["r0a1b2c3d4e5f", "odd \"epoch\"\t"] {
            let whole = ServerFrame::Event {
                conversation: &conversation,
                seq: 7,
                prev: 3,
                epoch,
                event: &event,
            }
            .to_json();
            assert_eq!(event_frame(&conversation, 7, 3, epoch, &json), whole);
        }
    }
}
