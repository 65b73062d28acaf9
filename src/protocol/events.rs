//! Events of a conversation's log. The same JSON shape is the storage format and the `event`
//! frame's payload, so a transcript export is the log as clients saw it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, AttachmentId, CustomerId, QueueId, ReasonId};

/// Who may see an event. Customers only ever receive `public` events (DESIGN invariant 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Agents,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorRole {
    Customer,
    Agent,
    System,
    /// The org's external bot (bot-first chats, PROTOCOL §9.12).
    Bot,
}

/// Who asked for a bot-phase chat to go to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoverBy {
    /// The bot, through `POST /v1/bot/conversations/{id}/handover`.
    Bot,
    /// The customer's "Connect to an agent".
    Customer,
    /// The bot did not answer within its reply timeout.
    Timeout,
}

/// The author of an event: the customer, an agent, or the system (timers, routing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub role: AuthorRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Author {
    pub fn system() -> Self {
        Self {
            role: AuthorRole::System,
            id: None,
            name: None,
        }
    }
}

/// A party's role in a conversation (docs/PROTOCOL.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    Customer,
    Owner,
    /// Chats with the customer beside the owner.
    Conference,
    /// Reads the transcript, writes only to the internal discussion; invisible to the customer.
    Consult,
    /// A supervisor's silent monitor: reads only; invisible to the customer.
    Observer,
    /// A supervisor coaching: writes only to the internal discussion; invisible to the customer.
    Coach,
}

impl ParticipantRole {
    /// Whether the customer sees this role's joins, leaves and messages.
    pub fn public(self) -> bool {
        matches!(
            self,
            ParticipantRole::Customer | ParticipantRole::Owner | ParticipantRole::Conference
        )
    }

    pub fn visibility(self) -> Visibility {
        if self.public() {
            Visibility::Public
        } else {
            Visibility::Agents
        }
    }
}

/// How an invitation to join a conversation ended (each ends exactly once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteOutcome {
    Accepted,
    Rejected,
    Expired,
    /// Withdrawn without the target's answer: the chat ended, the owner left or transferred.
    Cancelled,
}

/// A file carried by a `message` event: what the log records of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub id: AttachmentId,
    pub name: String,
    pub size: u64,
    /// The sniffed MIME type.
    #[serde(rename = "type")]
    pub mime: String,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
}

/// Why a conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    Customer,
    Agent,
    IdleTimeout,
    AutoComplete,
    Blocked,
    DrainFailure,
    /// The bot ended a chat it was handling.
    Bot,
}

/// What happened. Adding a variant is a protocol change (`docs/PROTOCOL.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Created {
        /// Absent in a chat between agents (`channel: "internal"`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer: Option<CustomerId>,
        customer_name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_email: Option<String>,
        verified: bool,
        queue: QueueId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<ReasonId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        case_id: Option<String>,
        channel: String,
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        context: serde_json::Map<String, serde_json::Value>,
    },
    Queued {
        queue: QueueId,
        priority: i32,
    },
    Assigned {
        agent: AgentId,
        agent_name: String,
    },
    ParticipantJoined {
        participant: String,
        name: String,
        role: ParticipantRole,
    },
    ParticipantLeft {
        participant: String,
        role: ParticipantRole,
    },
    Message {
        /// May be empty when the message carries attachments.
        text: String,
        client_msg_id: String,
        /// Files sent with the message (uploaded first: docs/PROTOCOL.md §9.8).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<AttachmentRef>,
    },
    Read {
        up_to: u64,
    },
    Note {
        text: String,
    },
    TransferRequested {
        from: AgentId,
        to: AgentId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    TransferAccepted {
        from: AgentId,
        to: AgentId,
    },
    TransferRejected {
        from: AgentId,
        to: AgentId,
    },
    TransferExpired {
        from: AgentId,
        to: AgentId,
    },
    TransferredToQueue {
        from: AgentId,
        queue: QueueId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// The owner invited an agent to join as `conference` or `consult`.
    Invited {
        to: AgentId,
        role: ParticipantRole,
        by: AgentId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    InviteEnded {
        to: AgentId,
        role: ParticipantRole,
        outcome: InviteOutcome,
    },
    /// A participant's role changed (a barge, a consultation turned conference, coach ⇄ observer).
    RoleChanged {
        participant: AgentId,
        name: String,
        from: ParticipantRole,
        to: ParticipantRole,
    },
    /// Ownership passed to another agent already in the chat (the owner left a conference, or
    /// a consultation became a transfer).
    OwnershipChanged {
        from: AgentId,
        to: AgentId,
        name: String,
    },
    /// Asynchronous chat: the last agent left (or the customer went quiet); the chat stays
    /// open with no agent until the customer writes again or it expires.
    Parked {
        previous: AgentId,
    },
    /// An agent pushed a URL: the customer's page offers to open it (never opens it by itself).
    UrlPushed {
        url: String,
        client_msg_id: String,
    },
    /// A message in the conversation's internal discussion: agents only.
    Internal {
        text: String,
        client_msg_id: String,
    },
    IdleWarning {
        message: String,
    },
    Continued,
    Ended {
        reason: EndReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    WrapUp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disposition: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Survey {
        rating: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// The chat starts with the org's bot: no queue, no agent, until a handover.
    BotEngaged {
        bot: String,
        name: String,
    },
    /// The bot phase is over: the chat goes to a person (a `queued` follows in the same append).
    /// A handed-over chat never returns to the bot.
    HandedOver {
        by: HandoverBy,
    },
    /// What the bot gathered for the agent (seed 003's pre-chat intake): shown as case data.
    Intake {
        #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
        answers: serde_json::Map<String, serde_json::Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        skill: Option<String>,
    },
    /// An agent asked the subscribed integration for a ticket from this chat (seeds 001, 002):
    /// a new one (`ticket` absent) or to append to `ticket`. Its webhook carries the transcript.
    TicketRequested {
        request: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticket: Option<String>,
    },
    /// The integration answered with the ticket the chat is recorded on.
    TicketLinked {
        request: String,
        ticket: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// A handover that could not complete: the customer stays with the bot, which is told why.
    HandoverFailed {
        by: HandoverBy,
        /// `outside_hours`, `no_agents`, `queue_full` or `unknown_skill`.
        reason: String,
        message: String,
    },
}

impl EventKind {
    /// Who may see this kind of event.
    pub fn visibility(&self) -> Visibility {
        match self {
            EventKind::Note { .. }
            | EventKind::TransferRequested { .. }
            | EventKind::TransferAccepted { .. }
            | EventKind::TransferRejected { .. }
            | EventKind::TransferExpired { .. }
            | EventKind::TransferredToQueue { .. }
            | EventKind::Queued { .. }
            | EventKind::WrapUp { .. }
            | EventKind::Invited { .. }
            | EventKind::InviteEnded { .. }
            | EventKind::Internal { .. }
            | EventKind::Intake { .. }
            | EventKind::HandoverFailed { .. }
            | EventKind::TicketRequested { .. }
            | EventKind::TicketLinked { .. } => Visibility::Agents,
            EventKind::ParticipantJoined { role, .. } | EventKind::ParticipantLeft { role, .. } => {
                role.visibility()
            }
            // The customer sees a supervisor barge in, and step back out.
            EventKind::RoleChanged { from, to, .. } if from.public() || to.public() => {
                Visibility::Public
            }
            EventKind::RoleChanged { .. } => Visibility::Agents,
            _ => Visibility::Public,
        }
    }

    /// The wire name of the kind, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Created { .. } => "created",
            EventKind::Queued { .. } => "queued",
            EventKind::Assigned { .. } => "assigned",
            EventKind::ParticipantJoined { .. } => "participant_joined",
            EventKind::ParticipantLeft { .. } => "participant_left",
            EventKind::Message { .. } => "message",
            EventKind::Read { .. } => "read",
            EventKind::Note { .. } => "note",
            EventKind::TransferRequested { .. } => "transfer_requested",
            EventKind::TransferAccepted { .. } => "transfer_accepted",
            EventKind::TransferRejected { .. } => "transfer_rejected",
            EventKind::TransferExpired { .. } => "transfer_expired",
            EventKind::TransferredToQueue { .. } => "transferred_to_queue",
            EventKind::Invited { .. } => "invited",
            EventKind::InviteEnded { .. } => "invite_ended",
            EventKind::RoleChanged { .. } => "role_changed",
            EventKind::OwnershipChanged { .. } => "ownership_changed",
            EventKind::Internal { .. } => "internal",
            EventKind::UrlPushed { .. } => "url_pushed",
            EventKind::Parked { .. } => "parked",
            EventKind::IdleWarning { .. } => "idle_warning",
            EventKind::Continued => "continued",
            EventKind::Ended { .. } => "ended",
            EventKind::WrapUp { .. } => "wrap_up",
            EventKind::Survey { .. } => "survey",
            EventKind::BotEngaged { .. } => "bot_engaged",
            EventKind::HandedOver { .. } => "handed_over",
            EventKind::Intake { .. } => "intake",
            EventKind::HandoverFailed { .. } => "handover_failed",
            EventKind::TicketRequested { .. } => "ticket_requested",
            EventKind::TicketLinked { .. } => "ticket_linked",
        }
    }
}

/// One entry of a conversation's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub author: Author,
    pub visibility: Visibility,
    #[serde(flatten)]
    pub kind: EventKind,
    /// Retention removed its content (texts, files, comments); kind, time and author stay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParticipantRole::*;

    fn agent(s: &str) -> AgentId {
        AgentId::parse(s).expect("id")
    }

    /// DESIGN invariant 7: what only agents may see is decided here, once, per event.
    #[test]
    fn participant_events_are_public_only_where_the_customer_sees_the_role() {
        let joined = |role| EventKind::ParticipantJoined {
            participant: "bo".into(),
            name: "Bo".into(),
            role,
        };
        let changed = |from, to| EventKind::RoleChanged {
            participant: agent("sue"),
            name: "Sue".into(),
            from,
            to,
        };
        let table = [
            (joined(Owner), Visibility::Public),
            (joined(Conference), Visibility::Public),
            (joined(Consult), Visibility::Agents),
            (joined(Observer), Visibility::Agents),
            (joined(Coach), Visibility::Agents),
            (changed(Observer, Coach), Visibility::Agents),
            (changed(Coach, Observer), Visibility::Agents),
            (changed(Consult, Conference), Visibility::Public),
            (changed(Coach, Conference), Visibility::Public),
            (changed(Conference, Observer), Visibility::Public),
            (
                EventKind::Internal {
                    text: "x".into(),
                    client_msg_id: "i".into(),
                },
                Visibility::Agents,
            ),
            (
                EventKind::Invited {
                    to: agent("bo"),
                    role: Consult,
                    by: agent("al"),
                    note: None,
                },
                Visibility::Agents,
            ),
        ];
        for (kind, expected) in table {
            assert_eq!(kind.visibility(), expected, "{kind:?}");
        }
    }
}
