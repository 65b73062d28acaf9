//! Getting the conversation to an agent: the queue's offers and the agent's acceptance.

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::{reply, ConversationActor, Reply};
use crate::actors::queue::{Enqueue, QueueActor};
use crate::actors::route::tell;
use crate::domain::conversation::Status;
use crate::ids::AgentId;
use crate::protocol::{Author, CommandError, EventKind, ParticipantRole};

use super::event;

impl ConversationActor {
    /// Tells the queue the conversation waits; `prefer`: only this agent is offered it during
    /// the org's return window (a parked chat's previous agent).
    pub(super) fn enqueue(&self, prefer: Option<AgentId>) {
        let (Some(queue), Some(created)) = (&self.state.queue, self.state.waiting_since) else {
            return;
        };
        tell::<QueueActor, _>(
            &self.rt,
            &self.queue_key(queue),
            Enqueue {
                conversation: self.key.id.clone(),
                priority: self.state.priority,
                enqueued_at: created,
                customer_name: self.state.customer_name.clone(),
                prefer,
            },
        );
    }

    /// After a restart, re-announces a waiting conversation to its queue (idempotent there).
    pub(crate) fn after_rebuild(&self) {
        if self.state.status == Status::Waiting {
            self.enqueue(None);
        }
    }
}

/// From the agent actor: the agent accepted the assignment offer.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Assign {
    pub agent: AgentId,
    pub name: String,
}

impl Handler<Assign> for ConversationActor {
    type Result = Reply<()>;

    fn handle(&mut self, msg: Assign, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready().and_then(|_| self.check_open()) {
            return reply(Err(e));
        }
        if self.state.status != Status::Waiting {
            return reply(Err(CommandError::conflict(
                "the conversation is not waiting for an agent",
            )));
        }
        let author = Author::system();
        let events = vec![
            event(
                author.clone(),
                EventKind::Assigned {
                    agent: msg.agent.clone(),
                    agent_name: msg.name.clone(),
                },
            ),
            event(
                author,
                EventKind::ParticipantJoined {
                    participant: msg.agent.to_string(),
                    name: msg.name,
                    role: ParticipantRole::Owner,
                },
            ),
        ];
        self.offered = false;
        let fut = self.append(events).map(|res, _, _| res.map(|_| ()));
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From the queue: an assignment offer went out (`true`) or ended without acceptance.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct OfferChanged {
    pub offered: bool,
}

impl Handler<OfferChanged> for ConversationActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: OfferChanged, ctx: &mut Self::Context) -> Self::Result {
        self.on_offer_changed(msg, ctx);
        Ok(())
    }
}

impl ConversationActor {
    fn on_offer_changed(&mut self, msg: OfferChanged, _: &mut Context<Self>) {
        let before = self.status();
        self.offered = msg.offered && self.state.status == Status::Waiting;
        if self.status() != before {
            self.recount();
            self.write_summary_now();
        }
    }
}
