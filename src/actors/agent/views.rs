//! What the agent's sessions (on sign-in) and REST (live state) read.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AgentActor, Detail};
use crate::domain::capacity::SeatKind;
use crate::ids::{AgentId, ConversationId, QueueId};
use crate::protocol::client::Presence;
use crate::protocol::{CommandError, ServerFrame, Signal};

/// What an agent's session gets on sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentSnapshot {
    pub presence: Presence,
    pub max_chats: u32,
    pub assigned: Vec<ConversationId>,
    /// Pending offers, transfer requests and invitations, as the signal frames that announced
    /// them.
    pub offers: Vec<String>,
    /// Conversations the agent is in beside their owner.
    pub participating: Vec<ConversationId>,
}

impl AgentActor {
    pub(super) fn snapshot(&self) -> AgentSnapshot {
        let now = Utc::now();
        let left = |at: DateTime<Utc>| (at - now).num_milliseconds().max(0) as u64;
        let offers = self
            .seats
            .of_kind(SeatKind::Offer)
            .chain(self.seats.of_kind(SeatKind::TransferIn))
            .chain(
                self.seats
                    .matching(|k| matches!(k, SeatKind::Invited(_) | SeatKind::Internal))
                    .map(|(c, _, d)| (c, d)),
            )
            .filter_map(|(c, detail)| match detail {
                Detail::Offer(o) => Some(Signal::Offer {
                    conversation: c.clone(),
                    queue: o.queue.clone(),
                    expires_in_ms: left(o.expires_at),
                    customer_name: o.customer_name.clone(),
                }),
                Detail::TransferIn(t) => Some(Signal::TransferOffer {
                    conversation: c.clone(),
                    from: t.from.clone(),
                    expires_in_ms: left(t.expires_at),
                    note: t.note.clone(),
                }),
                Detail::Invite(i) => Some(i.signal(c.clone())),
                Detail::Assigned | Detail::Joined => None,
            })
            .map(|signal| ServerFrame::Signal(&signal).to_json())
            .collect();
        AgentSnapshot {
            presence: self.presence,
            max_chats: self.max_chats(),
            assigned: self
                .seats
                .of_kind(SeatKind::Assigned)
                .map(|(c, _)| c.clone())
                .collect(),
            offers,
            participating: self
                .seats
                .matching(|k| matches!(k, SeatKind::Joined(_) | SeatKind::Internal))
                .filter(|(_, _, d)| !matches!(d, Detail::Invite(_)))
                .map(|(c, _, _)| c.clone())
                .collect(),
        }
    }
}

/// For REST: the agent's live state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentStatus {
    pub id: AgentId,
    pub name: String,
    pub presence: Presence,
    pub sessions: usize,
    pub assigned: usize,
    pub offers: usize,
    pub transfers_in: usize,
    pub max_chats: u32,
    pub queues: Vec<QueueId>,
}

#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<AgentStatus, CommandError>")]
pub struct GetStatus;

impl Handler<GetStatus> for AgentActor {
    type Result = Result<AgentStatus, CommandError>;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> Self::Result {
        Ok(AgentStatus {
            id: self.key.id.clone(),
            name: self.name.clone(),
            presence: self.presence,
            sessions: self.session_count(),
            assigned: self.seats.count(SeatKind::Assigned),
            offers: self.seats.count(SeatKind::Offer),
            transfers_in: self.seats.count(SeatKind::TransferIn),
            max_chats: self.max_chats(),
            queues: self.queues.clone(),
        })
    }
}
