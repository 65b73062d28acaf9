//! Client → server frames: `{"type": "...", "id": "<request id>", ...}`.

use serde::Deserialize;

use crate::ids::{AgentId, AttachmentId, ConversationId, CustomerId, QueueId, ReasonId};

use super::events::ParticipantRole;

/// A conversation the client has seen up to `last_seq` (0: nothing yet).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ResumePoint {
    pub conversation: ConversationId,
    #[serde(default)]
    pub last_seq: u64,
    /// The log epoch the client saw; a different epoch means the log was reset and the client
    /// must reload the transcript.
    #[serde(default)]
    pub epoch: Option<String>,
}

/// A frame as sent by the client: the request id and the command.
#[derive(Debug, Deserialize)]
pub struct ClientFrame {
    /// Echoed in the `ack`/`error` reply (as a string; numbers are accepted). Optional for
    /// fire-and-forget commands (typing).
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub command: Command,
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Option::<Id>::deserialize(d)? {
        None => None,
        Some(Id::Text(s)) => Some(s),
        Some(Id::Number(n)) => Some(n.to_string()),
    })
}

/// Agent presence as set by the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Available,
    Away,
    Busy,
    Offline,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// First frame on every connection.
    Hello {
        token: String,
        #[serde(default)]
        resume: Vec<ResumePoint>,
    },
    /// Customer: start a conversation.
    Start {
        #[serde(default)]
        reason: Option<ReasonId>,
        #[serde(default)]
        queue: Option<QueueId>,
        #[serde(default)]
        case_id: Option<String>,
        #[serde(default)]
        channel: Option<String>,
        #[serde(default)]
        context: serde_json::Map<String, serde_json::Value>,
    },
    /// Customer or agent: a chat message. Retried with the same `client_msg_id` until acked.
    Send {
        conversation: ConversationId,
        client_msg_id: String,
        /// May be empty (or absent) when `attachments` is not.
        #[serde(default)]
        text: String,
        /// Ids of files uploaded to this conversation by the sender (at most 10).
        #[serde(default)]
        attachments: Vec<AttachmentId>,
    },
    Typing {
        conversation: ConversationId,
        on: bool,
        /// Customer, where the org has `typing_preview` on: what they have typed so far.
        #[serde(default)]
        preview: Option<String>,
    },
    Read {
        conversation: ConversationId,
        seq: u64,
    },
    /// Customer: answer the idle prompt.
    Continue {
        conversation: ConversationId,
    },
    /// Customer: "Connect to an agent" — a bot-first chat goes to a person.
    Handover {
        conversation: ConversationId,
    },
    End {
        conversation: ConversationId,
    },
    Survey {
        conversation: ConversationId,
        rating: u8,
        #[serde(default)]
        comment: Option<String>,
    },
    /// Replay what was missed since `last_seq` and follow the conversation live.
    Resume {
        conversation: ConversationId,
        #[serde(default)]
        last_seq: u64,
        #[serde(default)]
        epoch: Option<String>,
    },
    /// Agent in the chat: push a URL the customer's page offers to open (seed 004).
    PushUrl {
        conversation: ConversationId,
        client_msg_id: String,
        url: String,
    },
    /// Stop receiving a conversation's events on this socket (the inverse of `resume`; the
    /// conversation itself is unchanged).
    Unfollow {
        conversation: ConversationId,
    },
    /// Agent: set presence.
    Status {
        presence: Presence,
    },
    /// Agent: accept an assignment offer.
    Accept {
        conversation: ConversationId,
    },
    /// Agent: reject an assignment offer.
    Reject {
        conversation: ConversationId,
    },
    /// Agent (owner): transfer to another agent (who must accept) or to a queue.
    Transfer {
        conversation: ConversationId,
        #[serde(default)]
        to_agent: Option<AgentId>,
        #[serde(default)]
        to_queue: Option<QueueId>,
        #[serde(default)]
        note: Option<String>,
    },
    /// Agent: answer a transfer request addressed to them.
    TransferAccept {
        conversation: ConversationId,
    },
    TransferReject {
        conversation: ConversationId,
    },
    /// Agent: an internal note, never delivered to the customer.
    Note {
        conversation: ConversationId,
        text: String,
    },
    /// Agent: close an ended conversation with a disposition code (mark done).
    WrapUp {
        conversation: ConversationId,
        #[serde(default)]
        disposition: Option<String>,
        #[serde(default)]
        note: Option<String>,
    },
    /// Agent (owner): invite an agent, or an available agent of a queue, to join as
    /// `conference` or `consult`.
    Invite {
        conversation: ConversationId,
        role: ParticipantRole,
        #[serde(default)]
        to_agent: Option<AgentId>,
        #[serde(default)]
        to_queue: Option<QueueId>,
        #[serde(default)]
        note: Option<String>,
    },
    /// Agent: answer an invitation addressed to them.
    InviteAccept {
        conversation: ConversationId,
    },
    InviteReject {
        conversation: ConversationId,
    },
    /// Agent (owner) or supervisor: take a participant out of the chat.
    Remove {
        conversation: ConversationId,
        agent: AgentId,
    },
    /// Agent: leave the chat (a participant), or hand it to the longest-joined conference
    /// participant (the owner).
    Leave {
        conversation: ConversationId,
    },
    /// Agent (owner): turn a consultation into a transfer or a conference.
    ConsultConvert {
        conversation: ConversationId,
        agent: AgentId,
        to: ConsultInto,
    },
    /// Agent: a message in the internal discussion (agents only). Retried like `send`.
    Internal {
        conversation: ConversationId,
        client_msg_id: String,
        text: String,
    },
    /// Supervisor: monitor a chat (`observe`, `coach`, `barge`), or switch mode.
    Monitor {
        conversation: ConversationId,
        mode: MonitorAs,
    },
    /// Agent: start a chat with a known customer (seed 002); the agent owns it at once and its
    /// first message is logged.
    StartChat {
        customer: CustomerId,
        #[serde(default)]
        customer_name: Option<String>,
        #[serde(default)]
        queue: Option<QueueId>,
        client_msg_id: String,
        text: String,
    },
    /// Agent: start a chat with another agent (seed 002), who is invited to it.
    AgentChat {
        to_agent: AgentId,
        client_msg_id: String,
        text: String,
    },
    /// Agent: take a waiting chat from a queue's request list (`GET /v1/queues/{id}/waiting`).
    Pick {
        conversation: ConversationId,
    },
    Ping,
}

/// What a consultation becomes (`consult_convert`): the consultant owns the chat and the
/// owner leaves it (no second offer: they already accepted the consultation), or the
/// consultant joins the customer's chat as a conference participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsultInto {
    Transfer,
    Conference,
}

/// How a supervisor monitors (`monitor`, seed 002): silently (`observe`: reads only; agents
/// in the chat see it), writing to the agents through the internal discussion (`coach`), or
/// joining the customer's chat as a conference participant (`barge`: a public join).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorAs {
    Observe,
    Coach,
    Barge,
}

impl Command {
    /// The wire name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Hello { .. } => "hello",
            Command::Start { .. } => "start",
            Command::Send { .. } => "send",
            Command::Typing { .. } => "typing",
            Command::Read { .. } => "read",
            Command::Continue { .. } => "continue",
            Command::Handover { .. } => "handover",
            Command::End { .. } => "end",
            Command::Survey { .. } => "survey",
            Command::Resume { .. } => "resume",
            Command::Unfollow { .. } => "unfollow",
            Command::PushUrl { .. } => "push_url",
            Command::Status { .. } => "status",
            Command::Accept { .. } => "accept",
            Command::Reject { .. } => "reject",
            Command::Transfer { .. } => "transfer",
            Command::TransferAccept { .. } => "transfer_accept",
            Command::TransferReject { .. } => "transfer_reject",
            Command::Note { .. } => "note",
            Command::WrapUp { .. } => "wrap_up",
            Command::Invite { .. } => "invite",
            Command::InviteAccept { .. } => "invite_accept",
            Command::InviteReject { .. } => "invite_reject",
            Command::Remove { .. } => "remove",
            Command::Leave { .. } => "leave",
            Command::ConsultConvert { .. } => "consult_convert",
            Command::Internal { .. } => "internal",
            Command::Monitor { .. } => "monitor",
            Command::Pick { .. } => "pick",
            Command::StartChat { .. } => "start_chat",
            Command::AgentChat { .. } => "agent_chat",
            Command::Ping => "ping",
        }
    }
}

/// What we can still read from a frame that failed to parse, to address the error reply.
#[derive(Debug, Deserialize, Default)]
pub struct FrameHead {
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

impl FrameHead {
    /// The request id as a string, whatever JSON type the client used.
    pub fn id_string(&self) -> Option<String> {
        match &self.id {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Parses one text frame.
///
/// On failure, returns what could be recovered of the frame (its id) and a message that names the
/// problem precisely enough for a client developer to fix it.
pub fn parse_frame(text: &str) -> Result<ClientFrame, (Option<String>, String)> {
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => Ok(frame),
        Err(err) => {
            let head: FrameHead = serde_json::from_str(text).unwrap_or_default();
            let message = match (&head.kind, err.classify()) {
                (_, serde_json::error::Category::Syntax | serde_json::error::Category::Eof) => {
                    format!("malformed JSON: {err}")
                }
                (None, _) => "missing field `type`".to_string(),
                (Some(kind), _) => format!("invalid `{kind}` frame: {err}"),
            };
            Err((head.id_string(), message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_are_echoed_as_strings() {
        let f = parse_frame(r#"{"type":"ping","id":6}"#).expect("valid frame");
        assert_eq!(f.id.as_deref(), Some("6"));
    }

    #[test]
    fn parses_send() {
        let f = parse_frame(
            r#"{"type":"send","id":"7","conversation":"c_1","client_msg_id":"m1","text":"hi"}"#,
        )
        .expect("valid frame");
        assert_eq!(f.id.as_deref(), Some("7"));
        assert!(matches!(f.command, Command::Send { ref text, .. } if text == "hi"));
    }

    #[test]
    fn reports_bad_frames_with_their_id() {
        let cases = [
            (r#"{"type":"send","id":"1"#, None, "malformed JSON"),
            (r#"{"id":"2"}"#, Some("2"), "missing field `type`"),
            (
                r#"{"type":"fly","id":"3"}"#,
                Some("3"),
                "invalid `fly` frame",
            ),
            (
                r#"{"type":"send","id":4,"conversation":"c_1"}"#,
                Some("4"),
                "invalid `send` frame",
            ),
            (
                r#"{"type":"send","id":"5","conversation":"a:b","client_msg_id":"m","text":""}"#,
                Some("5"),
                "invalid `send` frame",
            ),
        ];
        for (input, id, needle) in cases {
            let (got_id, message) = parse_frame(input).expect_err(input);
            assert_eq!(got_id.as_deref(), id, "{input}");
            assert!(message.contains(needle), "{input}: {message}");
        }
    }
}
