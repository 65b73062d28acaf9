//! A conversation's life: created, continued after the idle prompt, ended, surveyed and
//! wrapped up.

use actix::prelude::*;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{reply, ConversationActor, Reply};
use crate::actors::agent::{AgentActor, Release, TransferClosed};
use crate::actors::queue::{Dequeue, QueueActor};
use crate::actors::route::tell;
use crate::auth::Customer;
use crate::domain::conversation::Status;
use crate::engine::NewEvent;
use crate::engine::SurveyRecord;
use crate::ids::{AgentId, CustomerId, QueueId, ReasonId};
use crate::protocol::server::TransferOutcome;
use crate::protocol::{Author, AuthorRole, CommandError, EndReason, EventKind, ParticipantRole};

use super::event;
use super::Who;

impl ConversationActor {
    /// Ends the conversation and releases whatever it held (queue place, agent capacity,
    /// a pending transfer's reservation).
    pub(super) fn end(
        &mut self,
        author: Author,
        reason: EndReason,
        message: Option<String>,
    ) -> impl ActorFuture<Self, Output = Result<u64, CommandError>> {
        self.end_after(Vec::new(), author, reason, message)
    }

    /// Logs `first` (invitations it answers are not cancelled again), then ends the
    /// conversation as `end` does.
    pub(super) fn end_after(
        &mut self,
        first: Vec<NewEvent>,
        author: Author,
        reason: EndReason,
        message: Option<String>,
    ) -> impl ActorFuture<Self, Output = Result<u64, CommandError>> {
        let before = self.state.clone();
        let answered: Vec<AgentId> = first
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::InviteEnded { to, .. } => Some(to.clone()),
                _ => None,
            })
            .collect();
        // Pending invitations end with the chat, and every participant's seat goes.
        let mut events = first;
        events.extend(self.cancel_invitations().into_iter().filter(
            |e| !matches!(&e.kind, EventKind::InviteEnded { to, .. } if answered.contains(to)),
        ));
        events.push(event(author, EventKind::Ended { reason, message }));
        self.append(events).map(move |res, act, _| {
            let seq = res?.last().map_or(0, |a| a.event.seq);
            let invited: Vec<_> = before
                .invitations
                .iter()
                .map(|i| i.to.clone())
                .filter(|to| !answered.contains(to))
                .collect();
            act.invitations_cancelled(&invited);
            for p in &before.participants {
                tell::<AgentActor, _>(
                    &act.rt,
                    &act.agent_key(&p.agent),
                    Release {
                        conversation: act.key.id.clone(),
                    },
                );
            }
            match before.status {
                Status::Waiting | Status::Assigning => {
                    if let Some(q) = &before.queue {
                        tell::<QueueActor, _>(
                            &act.rt,
                            &act.queue_key(q),
                            Dequeue {
                                conversation: act.key.id.clone(),
                            },
                        );
                    }
                }
                _ => {
                    if let Some(owner) = &before.owner {
                        tell::<AgentActor, _>(
                            &act.rt,
                            &act.agent_key(owner),
                            Release {
                                conversation: act.key.id.clone(),
                            },
                        );
                    }
                    if let Some(t) = &before.transfer {
                        tell::<AgentActor, _>(
                            &act.rt,
                            &act.agent_key(&t.to),
                            TransferClosed {
                                conversation: act.key.id.clone(),
                                outcome: TransferOutcome::Cancelled,
                            },
                        );
                        act.transfer_target_loses_access(&t.to);
                    }
                }
            }
            Ok(seq)
        })
    }
}

/// Creates the conversation (the customer's `start`).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct Create {
    pub customer: Customer,
    pub queue: QueueId,
    pub priority: i32,
    pub reason: Option<ReasonId>,
    pub case_id: Option<String>,
    pub channel: String,
    pub context: serde_json::Map<String, serde_json::Value>,
    /// A bot-first chat: it starts with this bot instead of the queue (`queue` is then the
    /// queue a handover without a skill goes to).
    #[serde(default)]
    pub bot: Option<super::BotRef>,
}

impl Handler<Create> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: Create, _: &mut Self::Context) -> Self::Result {
        if self.exists() {
            return reply(Err(CommandError::conflict("conversation already exists")));
        }
        let customer = Author {
            role: AuthorRole::Customer,
            id: Some(msg.customer.id.to_string()),
            name: Some(msg.customer.name.clone()),
        };
        let mut events = vec![
            event(
                customer.clone(),
                EventKind::Created {
                    customer: Some(msg.customer.id.clone()),
                    customer_name: msg.customer.name.clone(),
                    customer_email: msg.customer.email.clone(),
                    verified: msg.customer.verified,
                    queue: msg.queue.clone(),
                    reason: msg.reason,
                    case_id: msg.case_id,
                    channel: msg.channel,
                    context: msg.context,
                },
            ),
            event(
                customer,
                EventKind::ParticipantJoined {
                    participant: msg.customer.id.to_string(),
                    name: msg.customer.name.clone(),
                    role: ParticipantRole::Customer,
                },
            ),
        ];
        events.push(match msg.bot {
            Some(bot) => event(
                Author::system(),
                EventKind::BotEngaged {
                    bot: bot.id,
                    name: bot.name,
                },
            ),
            None => event(
                Author::system(),
                EventKind::Queued {
                    queue: msg.queue,
                    priority: msg.priority,
                },
            ),
        });
        self.mark_created();
        let fut = self.append(events).map(|res, act, _| {
            let appended = res?;
            crate::metrics::Metrics::inc(&act.rt.metrics.conversations_started);
            act.enqueue(None);
            Ok(appended.last().map_or(0, |a| a.event.seq))
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// The customer answers the idle prompt.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Continue {
    pub customer: CustomerId,
}

impl Handler<Continue> for ConversationActor {
    type Result = Reply<()>;

    fn handle(&mut self, msg: Continue, _: &mut Self::Context) -> Self::Result {
        let who = Who::Customer(msg.customer);
        if let Err(e) = self
            .ready()
            .and_then(|_| self.check_party(&who))
            .and_then(|_| self.check_open())
        {
            return reply(Err(e));
        }
        if self.state.idle_warned_at.is_none() {
            return reply(Ok(()));
        }
        let fut = self
            .append(vec![event(who.author(), EventKind::Continued)])
            .map(|res, _, _| res.map(|_| ()));
        AtomicResponse::new(Box::pin(fut))
    }
}

/// The customer or the owning agent ends the chat.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct End {
    pub who: Who,
}

impl Handler<End> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: End, _: &mut Self::Context) -> Self::Result {
        // A parked chat has no owner: an agent who held it marks it done.
        let held_parked = self.state.status == Status::Parked
            && matches!(&msg.who, Who::Agent { id, .. } if self.state.agents.contains(id));
        if let Err(e) = self
            .ready()
            .and_then(|_| {
                if held_parked {
                    Ok(())
                } else {
                    self.check_party(&msg.who)
                }
            })
            .and_then(|_| self.check_open())
        {
            return reply(Err(e));
        }
        let reason = match msg.who {
            Who::Customer(_) => EndReason::Customer,
            Who::Agent { .. } => EndReason::Agent,
        };
        AtomicResponse::new(Box::pin(self.end(msg.who.author(), reason, None)))
    }
}

/// The customer's NPS answer, after the chat ended.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Survey {
    pub customer: CustomerId,
    pub rating: u8,
    pub comment: Option<String>,
}

impl Handler<Survey> for ConversationActor {
    type Result = Reply<()>;

    fn handle(&mut self, msg: Survey, _: &mut Self::Context) -> Self::Result {
        let who = Who::Customer(msg.customer.clone());
        if let Err(e) = self.ready().and_then(|_| self.check_party(&who)) {
            return reply(Err(e));
        }
        if self.org().is_some_and(|o| !o.settings.survey_enabled) {
            return reply(Err(CommandError::forbidden(
                "surveys are disabled for this org",
            )));
        }
        if self.state.status.is_open() {
            return reply(Err(CommandError::conflict(
                "the survey opens when the chat has ended",
            )));
        }
        if self.state.survey.is_some() {
            return reply(Err(CommandError::conflict(
                "the survey was already answered",
            )));
        }
        if msg.rating > 10 {
            return reply(Err(CommandError::bad_request("rating must be 0 to 10")));
        }
        let kind = EventKind::Survey {
            rating: msg.rating,
            comment: msg.comment.clone(),
        };
        let fut = self
            .append(vec![event(who.author(), kind)])
            .then(move |res, act, _| {
                let done = res.map(|a| a.first().map(|x| x.event.at));
                let record = done.as_ref().ok().map(|at| SurveyRecord {
                    id: crate::archiver::survey_id(&act.key.id),
                    org: act.key.org.clone(),
                    conversation: act.key.id.clone(),
                    customer: msg.customer.clone(),
                    agent: act.state.owner.clone(),
                    survey_type: "NPS",
                    rating: msg.rating,
                    comment: msg.comment.clone(),
                    created_at: at.unwrap_or_else(Utc::now),
                });
                let engine = act.rt.engine.clone();
                async move {
                    done?;
                    if let Some(r) = record {
                        engine.put_survey(r).await.map_err(CommandError::from)?;
                    }
                    Ok(())
                }
                .into_actor(act)
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// Wrap-up: a disposition code and optional note on an ended conversation; marks it done.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct WrapUp {
    pub who: Who,
    pub disposition: Option<String>,
    pub note: Option<String>,
}

impl Handler<WrapUp> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: WrapUp, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self
            .ready()
            .and_then(|_| self.check_participant_agent(&msg.who))
        {
            return reply(Err(e));
        }
        match self.state.status {
            Status::Ended => {}
            Status::Done => return reply(Err(CommandError::conflict("already wrapped up"))),
            _ => {
                return reply(Err(CommandError::conflict(
                    "end the conversation before wrapping up",
                )))
            }
        }
        let Some(org) = self.org() else {
            return reply(Err(CommandError::not_found("org")));
        };
        match &msg.disposition {
            Some(code) if !org.dispositions.iter().any(|d| &d.code == code) => {
                return reply(Err(CommandError::bad_request(format!(
                    "unknown disposition code {code:?}"
                ))));
            }
            None if org.settings.disposition_required && !org.dispositions.is_empty() => {
                return reply(Err(CommandError::bad_request(
                    "a disposition code is required",
                )));
            }
            _ => {}
        }
        let kind = EventKind::WrapUp {
            disposition: msg.disposition,
            note: msg.note,
        };
        let fut = self
            .append(vec![event(msg.who.author(), kind)])
            .map(|res, _, _| Ok(res?.first().map_or(0, |a| a.event.seq)));
        AtomicResponse::new(Box::pin(fut))
    }
}

/// Test hook (`testing.fault_injection`): makes the actor panic, to prove it comes back.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Crash;

impl Handler<Crash> for ConversationActor {
    type Result = Result<(), CommandError>;

    #[allow(clippy::panic)]
    fn handle(&mut self, _: Crash, _: &mut Self::Context) -> Self::Result {
        panic!(
            "fault injection: conversation {} crashed on request",
            self.key.id
        );
    }
}
