//! Transfers: to an agent (who accepts, rejects or lets it expire) or to another queue.

use actix::prelude::*;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{reply, ConversationActor, Reply};
use crate::actors::agent::{AgentActor, Release, ReserveTransfer, TransferClosed};
use crate::actors::route::{ask, tell};
use crate::domain::org::QueueConfig;
use crate::engine::NewEvent;
use crate::hub::Control;
use crate::ids::{AgentId, QueueId};
use crate::protocol::server::TransferOutcome;
use crate::protocol::{Author, AuthorRole, CommandError, ErrorCode, EventKind, ParticipantRole};

use super::event;

/// The owner asks another agent to take the conversation.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct RequestTransfer {
    pub from: AgentId,
    pub to: AgentId,
    pub note: Option<String>,
}

impl Handler<RequestTransfer> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: RequestTransfer, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.check_can_transfer(&msg.from) {
            return reply(Err(e));
        }
        if msg.to == msg.from {
            return reply(Err(CommandError::bad_request(
                "cannot transfer to yourself",
            )));
        }
        let Some(org) = self.org() else {
            return reply(Err(CommandError::not_found("org")));
        };
        let expires_at = Utc::now()
            + chrono::Duration::milliseconds(
                i64::try_from(org.settings.transfer_expiry_ms).unwrap_or(i64::MAX),
            );
        let reserve = ReserveTransfer {
            conversation: self.key.id.clone(),
            from: msg.from.clone(),
            note: msg.note.clone(),
            expires_at,
        };
        let rt = self.rt.clone();
        let wait = rt.placement.call_timeout();
        let target = self.agent_key(&msg.to);
        let fut = async move {
            tokio::time::timeout(wait, ask::<AgentActor, _>(&rt, &target, reserve))
                .await
                .unwrap_or_else(|_| {
                    Err(CommandError::unavailable("the target agent did not answer"))
                })
        }
        .into_actor(self)
        .then(move |reserved, act, _| {
            let to = msg.to.clone();
            match reserved {
                Err(e) => fut::ready(Err(e)).boxed_local(),
                Ok(()) => {
                    crate::metrics::Metrics::inc(&act.rt.metrics.transfers_requested);
                    let author = Author {
                        role: AuthorRole::Agent,
                        id: Some(msg.from.to_string()),
                        name: None,
                    };
                    act.append(vec![event(
                        author,
                        EventKind::TransferRequested {
                            from: msg.from,
                            to: msg.to,
                            note: msg.note,
                        },
                    )])
                    .map(move |res, act, _| match res {
                        Ok(a) => Ok(a.first().map_or(0, |x| x.event.seq)),
                        Err(e) => {
                            tell::<AgentActor, _>(
                                &act.rt,
                                &act.agent_key(&to),
                                TransferClosed {
                                    conversation: act.key.id.clone(),
                                    outcome: TransferOutcome::Cancelled,
                                },
                            );
                            Err(e)
                        }
                    })
                    .boxed_local()
                }
            }
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From the target agent's actor: the answer to a transfer request.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct AnswerTransfer {
    pub agent: AgentId,
    pub name: String,
    pub accept: bool,
}

impl Handler<AnswerTransfer> for ConversationActor {
    type Result = Reply<()>;

    fn handle(&mut self, msg: AnswerTransfer, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready().and_then(|_| self.check_open()) {
            return reply(Err(e));
        }
        let Some(t) = self.state.transfer.clone().filter(|t| t.to == msg.agent) else {
            return reply(Err(CommandError::new(
                ErrorCode::Expired,
                "no pending transfer to you",
            )));
        };
        let me = Author {
            role: AuthorRole::Agent,
            id: Some(msg.agent.to_string()),
            name: Some(msg.name.clone()),
        };
        if !msg.accept {
            let fut = self
                .append(vec![event(
                    me,
                    EventKind::TransferRejected {
                        from: t.from,
                        to: t.to.clone(),
                    },
                )])
                .map(move |res, act, _| {
                    res?;
                    act.transfer_target_loses_access(&t.to);
                    Ok(())
                });
            return AtomicResponse::new(Box::pin(fut));
        }
        let events = vec![
            event(
                me.clone(),
                EventKind::TransferAccepted {
                    from: t.from.clone(),
                    to: t.to.clone(),
                },
            ),
            event(
                Author::system(),
                EventKind::ParticipantLeft {
                    participant: t.from.to_string(),
                    role: ParticipantRole::Owner,
                },
            ),
            event(
                me,
                EventKind::ParticipantJoined {
                    participant: t.to.to_string(),
                    name: msg.name,
                    role: ParticipantRole::Owner,
                },
            ),
        ];
        let fut = self.append(events).map(move |res, act, _| {
            res?;
            let from = act.agent_key(&t.from);
            tell::<AgentActor, _>(
                &act.rt,
                &from,
                Release {
                    conversation: act.key.id.clone(),
                },
            );
            act.rt
                .hub
                .control_agent(&from, Control::Unfollow(act.key.id.clone()));
            Ok(())
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// The owner moves the conversation to another queue.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct TransferToQueue {
    pub from: AgentId,
    pub queue: QueueId,
    pub note: Option<String>,
}

impl Handler<TransferToQueue> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: TransferToQueue, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.check_can_transfer(&msg.from) {
            return reply(Err(e));
        }
        let Some(queue) = self.org().and_then(|o| o.queue(&msg.queue).cloned()) else {
            return reply(Err(CommandError::not_found("queue")));
        };
        let author = Author {
            role: AuthorRole::Agent,
            id: Some(msg.from.to_string()),
            name: None,
        };
        let fut = self.back_to_queue(msg.from, author, queue, msg.note);
        AtomicResponse::new(Box::pin(fut))
    }
}

impl ConversationActor {
    /// The owner hands the chat back to a queue (a transfer to a queue, or the owner leaving
    /// under the org's `queue` rule): the chat waits in the queue again, with nobody in it.
    pub(super) fn back_to_queue(
        &mut self,
        from: AgentId,
        author: Author,
        queue: QueueConfig,
        note: Option<String>,
    ) -> impl ActorFuture<Self, Output = Result<u64, CommandError>> {
        let tail = vec![
            event(
                author.clone(),
                EventKind::TransferredToQueue {
                    from: from.clone(),
                    queue: queue.id.clone(),
                    note,
                },
            ),
            event(
                author,
                EventKind::ParticipantLeft {
                    participant: from.to_string(),
                    role: ParticipantRole::Owner,
                },
            ),
            event(
                Author::system(),
                EventKind::Queued {
                    queue: queue.id,
                    priority: queue.priority,
                },
            ),
        ];
        self.vacate(from, tail).map(|res, act, _| {
            act.enqueue(None);
            res
        })
    }

    /// Everyone leaves the chat but the customer: pending invitations end, every participant
    /// leaves, then `tail` (the owner's own leaving and what follows) is logged; the seats of
    /// all of them are freed. Answers the seq of the last event.
    pub(super) fn vacate(
        &mut self,
        owner: AgentId,
        tail: Vec<NewEvent>,
    ) -> impl ActorFuture<Self, Output = Result<u64, CommandError>> {
        let invited: Vec<AgentId> = self
            .state
            .invitations
            .iter()
            .map(|i| i.to.clone())
            .collect();
        let mut events = self.cancel_invitations();
        let mut present = Vec::new();
        for p in &self.state.participants {
            events.push(event(
                Author::system(),
                EventKind::ParticipantLeft {
                    participant: p.agent.to_string(),
                    role: p.role,
                },
            ));
            present.push(p.agent.clone());
        }
        events.extend(tail);
        self.append(events).map(move |res, act, _| {
            let seq = res?.last().map_or(0, |a| a.event.seq);
            act.invitations_cancelled(&invited);
            for agent in present.iter().chain([&owner]) {
                act.participant_gone(agent);
            }
            Ok(seq)
        })
    }

    /// Asynchronous chat (seed 004): the owner leaves (or the customer went quiet) and the chat
    /// stays open with nobody in it, holding no capacity, until the customer writes again.
    pub(super) fn park(
        &mut self,
        owner: AgentId,
        author: Author,
    ) -> impl ActorFuture<Self, Output = Result<u64, CommandError>> {
        // `parked` first, so that a client reading the owner's leave already knows the chat
        // stays open (and says "left" rather than "being transferred").
        let tail = vec![
            event(
                Author::system(),
                EventKind::Parked {
                    previous: owner.clone(),
                },
            ),
            event(
                author,
                EventKind::ParticipantLeft {
                    participant: owner.to_string(),
                    role: ParticipantRole::Owner,
                },
            ),
        ];
        self.vacate(owner, tail)
    }
}
