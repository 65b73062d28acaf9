//! Events of a conversation's log. The same JSON shape is the storage format and the `event`
//! frame's payload, so a transcript export is the log as clients saw it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, CustomerId, QueueId, ReasonId};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
    Customer,
    Owner,
    Conference,
    Consult,
    Observer,
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
}

/// What happened. Adding a variant is a protocol change (`docs/PROTOCOL.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Created {
        customer: CustomerId,
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
        text: String,
        client_msg_id: String,
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
            | EventKind::WrapUp { .. } => Visibility::Agents,
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
            EventKind::IdleWarning { .. } => "idle_warning",
            EventKind::Continued => "continued",
            EventKind::Ended { .. } => "ended",
            EventKind::WrapUp { .. } => "wrap_up",
            EventKind::Survey { .. } => "survey",
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
}
