//! Who may do what on a conversation: the parties, the owner, agents who held it, and
//! which audience a follower belongs to (DESIGN invariant 7).

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::ConversationActor;
use crate::domain::conversation::Status;
use crate::hub::Audience;
use crate::ids::{AgentId, CustomerId, QueueId};
use crate::protocol::{Author, AuthorRole, CommandError, ParticipantRole};

/// Who is acting on the conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Who {
    Customer(CustomerId),
    Agent {
        id: AgentId,
        name: String,
        /// Supervisors and admins may act on any conversation of their org.
        supervisor: bool,
        /// The agent's queues (its inbox, seed 001): it may read a conversation of these queues
        /// and write in its internal discussion without taking part in it.
        #[serde(default)]
        queues: Vec<QueueId>,
    },
}

impl Who {
    /// The actor of a verified token: a customer, or staff with the name it goes by in `org`.
    pub fn of(
        principal: &crate::auth::Principal,
        org: Option<&crate::domain::org::OrgConfig>,
    ) -> Self {
        match principal {
            crate::auth::Principal::Staff(s) => Who::Agent {
                id: s.id.clone(),
                name: org.map_or_else(|| s.name.clone(), |o| o.display_name(&s.id, &s.name)),
                supervisor: s.sees_all_queues(),
                queues: s.queues.clone(),
            },
            crate::auth::Principal::Customer(c) => Who::Customer(c.id.clone()),
        }
    }

    pub fn author(&self) -> Author {
        match self {
            Who::Customer(id) => Author {
                role: AuthorRole::Customer,
                id: Some(id.to_string()),
                name: None,
            },
            Who::Agent { id, name, .. } => Author {
                role: AuthorRole::Agent,
                id: Some(id.to_string()),
                name: Some(name.clone()),
            },
        }
    }
}

impl ConversationActor {
    /// The customer of this conversation, or an agent who owns it (or a supervisor), or a
    /// conference participant.
    pub(super) fn check_party(&self, who: &Who) -> Result<(), CommandError> {
        match who {
            Who::Customer(id) if self.state.customer.as_ref() == Some(id) => Ok(()),
            Who::Customer(_) => Err(CommandError::not_found("conversation")),
            Who::Agent { id, supervisor, .. } => {
                let role = self.role_of(id);
                if matches!(
                    role,
                    Some(ParticipantRole::Owner | ParticipantRole::Conference)
                ) || (*supervisor && role.is_none())
                {
                    Ok(())
                } else if let Some(role) = role {
                    Err(CommandError::forbidden(match role {
                        ParticipantRole::Observer => {
                            "an observer only reads; switch to coach or barge to write"
                        }
                        ParticipantRole::Coach => {
                            "a coach writes to the internal discussion only; barge in to write to the customer"
                        }
                        _ => "a consultant writes to the internal discussion only",
                    }))
                } else if self.state.agents.contains(id) {
                    Err(CommandError::forbidden(
                        "you no longer own this conversation",
                    ))
                } else if self.inbox_agent(who) {
                    Err(CommandError::forbidden(INBOX_ONLY))
                } else {
                    Err(CommandError::not_found("conversation"))
                }
            }
        }
    }

    /// An agent of the conversation's queue (its inbox): it may read the conversation and write
    /// in its internal discussion without taking part in it.
    pub(super) fn inbox_agent(&self, who: &Who) -> bool {
        match (who, &self.state.queue) {
            (Who::Agent { queues, .. }, Some(queue)) => queues.contains(queue),
            _ => false,
        }
    }

    pub(super) fn check_open(&self) -> Result<(), CommandError> {
        if self.state.status.is_open() {
            Ok(())
        } else {
            Err(CommandError::ended())
        }
    }

    pub(super) fn check_owner(&self, agent: &AgentId) -> Result<(), CommandError> {
        if self.state.owner.as_ref() == Some(agent) {
            Ok(())
        } else if !self.state.agents.contains(agent) && self.state.participant(agent).is_none() {
            Err(CommandError::not_found("conversation"))
        } else {
            Err(CommandError::forbidden(
                "only the owner of the conversation can do this",
            ))
        }
    }

    /// Preconditions shared by both kinds of transfer: the owner, of an open conversation, with
    /// no other transfer pending.
    pub(super) fn check_can_transfer(&self, from: &AgentId) -> Result<(), CommandError> {
        self.ready()?;
        self.check_open()?;
        self.check_owner(from)?;
        if self.state.status == Status::Transferring {
            return Err(CommandError::conflict("a transfer is already pending"));
        }
        Ok(())
    }
}

impl ConversationActor {
    /// Any agent who has held the conversation (notes and wrap-up are allowed after a transfer
    /// or the end), or a supervisor.
    pub(super) fn check_participant_agent(&self, who: &Who) -> Result<(), CommandError> {
        match who {
            Who::Agent {
                supervisor: true, ..
            } => Ok(()),
            Who::Agent { id, .. } if self.state.agents.contains(id) => Ok(()),
            who if self.inbox_agent(who) => Err(CommandError::forbidden(INBOX_ONLY)),
            _ => Err(CommandError::not_found("conversation")),
        }
    }
}

/// What an agent of the conversation's queue who is not in it (the inbox) is told when it tries
/// anything but reading and the internal discussion.
const INBOX_ONLY: &str =
    "you are not in this chat: agents of its queue write in its internal discussion only";

/// May this viewer follow the conversation, and as which audience?
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<Audience, CommandError>")]
pub struct Access {
    pub who: Who,
}

impl Handler<Access> for ConversationActor {
    type Result = Result<Audience, CommandError>;

    fn handle(&mut self, msg: Access, ctx: &mut Self::Context) -> Self::Result {
        self.schedule_passivation(ctx);
        self.ready()?;
        match &msg.who {
            Who::Customer(id) if self.state.customer.as_ref() == Some(id) => Ok(Audience::Customer),
            Who::Agent {
                supervisor: true, ..
            } => Ok(Audience::Agent),
            Who::Agent { id, .. }
                if self.state.agents.contains(id)
                    || self.state.participant(id).is_some()
                    || self.state.transfer.as_ref().is_some_and(|t| &t.to == id) =>
            {
                Ok(Audience::Agent)
            }
            // The inbox (seed 001): an agent of the conversation's queue reads it, agents-only
            // events included, without a role or a seat.
            who if self.inbox_agent(who) => Ok(Audience::Agent),
            _ => Err(CommandError::not_found("conversation")),
        }
    }
}

impl ConversationActor {
    /// A transfer request ended without being accepted (rejected, expired, cancelled by the
    /// end): the access it gave its target (PROTOCOL §4.9: it may `resume` meanwhile) is gone,
    /// so the target's sessions stop following the conversation (§4.15) and get `left` if
    /// they did follow it. A target that holds access otherwise (it owned the conversation
    /// before) keeps following.
    pub(super) fn transfer_target_loses_access(&self, target: &AgentId) {
        if !self.state.agents.contains(target) {
            self.rt.hub.control_agent(
                &self.agent_key(target),
                crate::hub::Control::Unfollow(self.key.id.clone()),
            );
        }
    }
}
