//! Transfer requests to this agent (a seat held until answered, expired or cancelled), and
//! releasing chats that no longer count against the agent.

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AgentActor, Detail, TransferIn};
use crate::actors::conversation::AnswerTransfer as ConvAnswerTransfer;
use crate::domain::capacity::{SeatError, SeatKind};
use crate::hub::Control;
use crate::ids::{AgentId, ConversationId};
use crate::protocol::client::Presence;
use crate::protocol::server::TransferOutcome;
use crate::protocol::{CommandError, ErrorCode, Signal};

/// From a conversation: reserve a slot for a transfer request to this agent.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct ReserveTransfer {
    pub conversation: ConversationId,
    pub from: AgentId,
    pub note: Option<String>,
    pub expires_at: DateTime<Utc>,
}

impl Handler<ReserveTransfer> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: ReserveTransfer, _: &mut Self::Context) -> Self::Result {
        if self.session_count() == 0 || self.presence == Presence::Offline {
            return Err(CommandError::unavailable("the agent is offline"));
        }
        let request = TransferIn {
            from: msg.from.clone(),
            note: msg.note.clone(),
            expires_at: msg.expires_at,
        };
        let max = self.max_chats();
        match self.seats.reserve(
            msg.conversation.clone(),
            SeatKind::TransferIn,
            Detail::TransferIn(request),
            max,
        ) {
            Ok(()) => {}
            Err(SeatError::AlreadyHeld(_)) => {
                return Err(CommandError::conflict(
                    "the agent already has this conversation",
                ))
            }
            Err(SeatError::Full) => {
                return Err(CommandError::new(
                    ErrorCode::Capacity,
                    "the agent is at capacity",
                ))
            }
        }
        let expires_in_ms = (msg.expires_at - Utc::now()).num_milliseconds().max(0) as u64;
        self.rt.hub.signal_agent(
            &self.key,
            &Signal::TransferOffer {
                conversation: msg.conversation,
                from: msg.from,
                expires_in_ms,
                note: msg.note,
            },
        );
        self.publish();
        Ok(())
    }
}

/// From the agent's session: answer a transfer request.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct AnswerTransfer {
    pub conversation: ConversationId,
    pub accept: bool,
}

impl Handler<AnswerTransfer> for AgentActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    fn handle(&mut self, msg: AnswerTransfer, _: &mut Self::Context) -> Self::Result {
        if !self.seats.holds(&msg.conversation, SeatKind::TransferIn) {
            let e = CommandError::new(
                ErrorCode::Expired,
                "the transfer request expired or was cancelled",
            );
            return AtomicResponse::new(Box::pin(fut::ready(Err(e))));
        }
        let conversation = msg.conversation.clone();
        let accept = msg.accept;
        let answer = ConvAnswerTransfer {
            agent: self.key.id.clone(),
            name: self.name.clone(),
            accept,
        };
        let fut = self
            .ask_conversation(&conversation, answer)
            .map(move |res, act, _| {
                let result = res?;
                if result.is_ok() && accept {
                    act.seats.convert(
                        &conversation,
                        SeatKind::TransferIn,
                        SeatKind::Assigned,
                        Detail::Assigned,
                    );
                    act.rt
                        .hub
                        .control_agent(&act.key, Control::Follow(conversation));
                } else {
                    act.seats.release(&conversation, SeatKind::TransferIn);
                }
                act.publish();
                result
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From a conversation: a transfer request to this agent ended without an answer.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct TransferClosed {
    pub conversation: ConversationId,
    pub outcome: TransferOutcome,
}

impl Handler<TransferClosed> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: TransferClosed, _: &mut Self::Context) -> Self::Result {
        if self
            .seats
            .release(&msg.conversation, SeatKind::TransferIn)
            .is_some()
        {
            self.rt.hub.signal_agent(
                &self.key,
                &Signal::TransferEnded {
                    conversation: msg.conversation,
                    outcome: msg.outcome,
                },
            );
            self.publish();
        }
        Ok(())
    }
}

/// From a conversation: the agent is no longer in it (ended, transferred away, left or removed).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Release {
    pub conversation: ConversationId,
}

impl Handler<Release> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Release, _: &mut Self::Context) -> Self::Result {
        let settled = match self.seats.get(&msg.conversation).map(|s| s.kind) {
            Some(kind @ (SeatKind::Assigned | SeatKind::Joined(_) | SeatKind::Internal)) => kind,
            _ => return Ok(()),
        };
        self.seats.release(&msg.conversation, settled);
        self.publish();
        Ok(())
    }
}
