//! Being in a chat beside its owner: invitations to this agent (a seat held until answered,
//! expired or cancelled, like a transfer request) and the seats of the roles it then holds
//! (conference, consult, observer, coach; DESIGN §10).

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AgentActor, Detail, InviteIn};
use crate::actors::conversation::AnswerInvite as ConvAnswerInvite;
use crate::domain::capacity::{SeatError, SeatKind};
use crate::hub::Control;
use crate::ids::{AgentId, ConversationId};
use crate::protocol::client::Presence;
use crate::protocol::{CommandError, ErrorCode, InviteOutcome, ParticipantRole, Signal};

/// From a conversation: reserve a seat for an invitation to this agent.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct ReserveInvite {
    pub conversation: ConversationId,
    pub from: AgentId,
    pub role: ParticipantRole,
    pub customer_name: String,
    pub note: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// Invitations to a queue go to agents who are available (not away or busy).
    pub available_only: bool,
    /// To a chat between agents (no customer): the seat never counts.
    #[serde(default)]
    pub internal: bool,
}

impl Handler<ReserveInvite> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: ReserveInvite, _: &mut Self::Context) -> Self::Result {
        if self.session_count() == 0 || self.presence == Presence::Offline {
            return Err(CommandError::unavailable("the agent is offline"));
        }
        if msg.available_only && !self.eligible() {
            return Err(CommandError::unavailable("the agent is not available"));
        }
        let invite = InviteIn {
            from: msg.from.clone(),
            role: msg.role,
            customer_name: msg.customer_name.clone(),
            note: msg.note.clone(),
            expires_at: msg.expires_at,
            internal: msg.internal,
        };
        let max = self.max_chats();
        self.seats.counting = self.counting();
        match self.seats.reserve(
            msg.conversation.clone(),
            invite.seats().0,
            Detail::Invite(invite.clone()),
            max,
        ) {
            Ok(()) => {}
            Err(SeatError::AlreadyHeld(_)) => {
                return Err(CommandError::conflict(
                    "the agent is already in this conversation or invited to it",
                ))
            }
            Err(SeatError::Full) => {
                return Err(CommandError::new(
                    ErrorCode::Capacity,
                    "the agent is at capacity",
                ))
            }
        }
        self.rt
            .hub
            .signal_agent(&self.key, &invite.signal(msg.conversation));
        self.publish();
        Ok(())
    }
}

impl InviteIn {
    /// The signal that announces the invitation (again after a `hello`).
    pub(super) fn signal(&self, conversation: ConversationId) -> Signal {
        Signal::Invitation {
            conversation,
            from: self.from.clone(),
            role: self.role,
            expires_in_ms: (self.expires_at - Utc::now()).num_milliseconds().max(0) as u64,
            customer_name: self.customer_name.clone(),
            note: self.note.clone(),
            internal: self.internal,
        }
    }
}

impl AgentActor {
    /// The pending invitation this agent holds for a conversation, if any.
    fn invitation(&self, conversation: &ConversationId) -> Option<InviteIn> {
        match self.seats.get(conversation).map(|s| &s.detail) {
            Some(Detail::Invite(i)) => Some(i.clone()),
            _ => None,
        }
    }
}

/// From the agent's session: answer an invitation.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct AnswerInvite {
    pub conversation: ConversationId,
    pub accept: bool,
}

impl Handler<AnswerInvite> for AgentActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    fn handle(&mut self, msg: AnswerInvite, _: &mut Self::Context) -> Self::Result {
        let Some((held, joined)) = self.invitation(&msg.conversation).map(|i| i.seats()) else {
            let e = CommandError::new(
                ErrorCode::Expired,
                "the invitation expired or was cancelled",
            );
            return AtomicResponse::new(Box::pin(fut::ready(Err(e))));
        };
        let conversation = msg.conversation.clone();
        let accept = msg.accept;
        let answer = ConvAnswerInvite {
            agent: self.key.id.clone(),
            name: self.name.clone(),
            accept,
        };
        let fut = self
            .ask_conversation(&conversation, answer)
            .map(move |res, act, _| {
                let result = res?;
                if result.is_ok() && accept {
                    act.seats
                        .convert(&conversation, held, joined, Detail::Joined);
                    act.rt
                        .hub
                        .control_agent(&act.key, Control::Follow(conversation));
                } else if matches!(&result, Err(e) if e.code != ErrorCode::Unavailable) || !accept {
                    // Answered, or refused for good (expired, ended): the seat goes. A
                    // conversation that could not be reached keeps it until the expiry.
                    act.seats.release(&conversation, held);
                }
                act.publish();
                result
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From a conversation: an invitation to this agent ended without the agent's answer.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct InviteClosed {
    pub conversation: ConversationId,
    pub outcome: InviteOutcome,
}

impl Handler<InviteClosed> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: InviteClosed, _: &mut Self::Context) -> Self::Result {
        let Some((held, _)) = self.invitation(&msg.conversation).map(|i| i.seats()) else {
            return Ok(());
        };
        self.seats.release(&msg.conversation, held);
        self.rt.hub.signal_agent(
            &self.key,
            &Signal::InvitationEnded {
                conversation: msg.conversation,
                outcome: msg.outcome,
            },
        );
        self.publish();
        Ok(())
    }
}

/// From the agent's session: take the owner's seat of a chat the agent is starting with a
/// customer (capacity checked, like any reservation).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct ReserveOwner {
    pub conversation: ConversationId,
    /// A chat between agents: the seat never counts.
    #[serde(default)]
    pub internal: bool,
}

impl Handler<ReserveOwner> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: ReserveOwner, _: &mut Self::Context) -> Self::Result {
        let max = self.max_chats();
        self.seats.counting = self.counting();
        let kind = if msg.internal {
            SeatKind::Internal
        } else {
            SeatKind::Assigned
        };
        match self
            .seats
            .reserve(msg.conversation, kind, Detail::Assigned, max)
        {
            Ok(()) => {
                self.publish();
                Ok(())
            }
            Err(SeatError::Full) => Err(CommandError::new(
                ErrorCode::Capacity,
                "the agent is at capacity",
            )),
            Err(SeatError::AlreadyHeld(_)) => Err(CommandError::conflict(
                "the agent already has this conversation",
            )),
        }
    }
}

/// From a conversation: this agent now sits in it as `kind` (a supervisor started monitoring,
/// a participant's role changed, ownership passed to it). The seat was already taken or never
/// counts, so capacity is not checked again (a supervisor stepping in is never refused).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Seated {
    pub conversation: ConversationId,
    pub kind: SeatKind,
}

impl Handler<Seated> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Seated, _: &mut Self::Context) -> Self::Result {
        let detail = match msg.kind {
            SeatKind::Assigned => Detail::Assigned,
            SeatKind::Joined(_) | SeatKind::Internal => Detail::Joined,
            _ => return Err(CommandError::bad_request("not a settled seat")),
        };
        self.seats.restore(msg.conversation, msg.kind, detail);
        self.publish();
        Ok(())
    }
}
