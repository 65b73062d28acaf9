//! The conversation actor's messages, one handler each.

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{dedup_key, reply, ConversationActor, Reply};
use crate::actors::agent::{AgentActor, Release, ReserveTransfer, TransferClosed};
use crate::actors::queue::{Dequeue, Enqueue, QueueActor};
use crate::actors::route::{ask, tell};
use crate::auth::Customer;
use crate::domain::conversation::{Status, TimerKind};
use crate::domain::text;
use crate::engine::{NewEvent, SurveyRecord};
use crate::hub::{Audience, Control};
use crate::ids::{AgentId, AgentKey, CustomerId, QueueId, QueueKey, ReasonId};
use crate::protocol::{
    Author, AuthorRole, CommandError, EndReason, ErrorCode, EventKind, ParticipantRole, Signal,
};

/// How long an actor waits for another actor before giving up (and answering `unavailable`),
/// so that no two actors can wait on each other forever. In a cluster it also outlasts the
/// retries of a call to an actor whose node just died (they end once it has moved).
pub fn call_timeout(rt: &crate::runtime::Rt) -> Duration {
    const FLOOR: Duration = Duration::from_secs(5);
    match &rt.cluster {
        None => FLOOR,
        Some(node) => {
            let s = &node.settings;
            let retries = u64::from(s.call_attempts.max(1)) * (s.call_timeout_ms + 250);
            FLOOR.max(Duration::from_millis(retries + 1_000))
        }
    }
}

/// Who is acting on the conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Who {
    Customer(CustomerId),
    Agent {
        id: AgentId,
        name: String,
        /// Supervisors and admins may act on any conversation of their org.
        supervisor: bool,
    },
}

impl Who {
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

fn event(author: Author, kind: EventKind) -> NewEvent {
    NewEvent {
        author,
        kind,
        dedup_key: None,
    }
}

impl ConversationActor {
    /// The customer of this conversation, or an agent who owns it (or a supervisor).
    fn check_party(&self, who: &Who) -> Result<(), CommandError> {
        match who {
            Who::Customer(id) if self.state.customer.as_ref() == Some(id) => Ok(()),
            Who::Customer(_) => Err(CommandError::not_found("conversation")),
            Who::Agent { id, supervisor, .. } => {
                if self.state.owner.as_ref() == Some(id) || *supervisor {
                    Ok(())
                } else if self.state.agents.contains(id) {
                    Err(CommandError::forbidden(
                        "you no longer own this conversation",
                    ))
                } else {
                    Err(CommandError::not_found("conversation"))
                }
            }
        }
    }

    fn check_open(&self) -> Result<(), CommandError> {
        if self.state.status.is_open() {
            Ok(())
        } else {
            Err(CommandError::ended())
        }
    }

    fn check_owner(&self, agent: &AgentId) -> Result<(), CommandError> {
        if self.state.owner.as_ref() == Some(agent) {
            Ok(())
        } else if !self.state.agents.contains(agent) {
            Err(CommandError::not_found("conversation"))
        } else {
            Err(CommandError::forbidden(
                "only the owner of the conversation can do this",
            ))
        }
    }

    /// Preconditions shared by both kinds of transfer: the owner, of an open conversation, with
    /// no other transfer pending.
    fn check_can_transfer(&self, from: &AgentId) -> Result<(), CommandError> {
        self.ready()?;
        self.check_open()?;
        self.check_owner(from)?;
        if self.state.status == Status::Transferring {
            return Err(CommandError::conflict("a transfer is already pending"));
        }
        Ok(())
    }

    fn agent_key(&self, id: &AgentId) -> AgentKey {
        AgentKey {
            org: self.key.org.clone(),
            id: id.clone(),
        }
    }

    fn queue_key(&self, id: &QueueId) -> QueueKey {
        QueueKey {
            org: self.key.org.clone(),
            id: id.clone(),
        }
    }

    fn enqueue(&self) {
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
            },
        );
    }

    /// After a restart, re-announces a waiting conversation to its queue (idempotent there).
    pub(crate) fn after_rebuild(&self) {
        if self.state.status == Status::Waiting {
            self.enqueue();
        }
    }

    /// Ends the conversation and releases whatever it held (queue place, agent capacity,
    /// a pending transfer's reservation).
    fn end(
        &mut self,
        author: Author,
        reason: EndReason,
        message: Option<String>,
    ) -> impl ActorFuture<Self, Output = Result<u64, CommandError>> {
        let before = self.state.clone();
        self.append(vec![event(author, EventKind::Ended { reason, message })])
            .map(move |res, act, _| {
                let seq = res?.first().map_or(0, |a| a.event.seq);
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
                                    outcome: "cancelled".into(),
                                },
                            );
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
        let events = vec![
            event(
                customer.clone(),
                EventKind::Created {
                    customer: msg.customer.id.clone(),
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
            event(
                Author::system(),
                EventKind::Queued {
                    queue: msg.queue,
                    priority: msg.priority,
                },
            ),
        ];
        self.mark_created();
        let fut = self.append(events).map(|res, act, _| {
            let appended = res?;
            crate::metrics::Metrics::inc(&act.rt.metrics.conversations_started);
            act.enqueue();
            Ok(appended.last().map_or(0, |a| a.event.seq))
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// A chat message from the customer or the owning agent. Answers `(seq, duplicate)`.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(u64, bool), CommandError>")]
pub struct Post {
    pub who: Who,
    pub client_msg_id: String,
    pub text: String,
}

impl Handler<Post> for ConversationActor {
    type Result = Reply<(u64, bool)>;

    fn handle(&mut self, msg: Post, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready().and_then(|_| self.check_party(&msg.who)) {
            return reply(Err(e));
        }
        let author = msg.who.author();
        let key = dedup_key(&author.role, author.id.as_deref(), &msg.client_msg_id);
        // A retry of something already stored is answered from the log, whatever the state now.
        if let Some(&seq) = self.dedup.get(&key) {
            crate::metrics::Metrics::inc(&self.rt.metrics.messages_duplicate);
            return reply(Ok((seq, true)));
        }
        if let Err(e) = self.check_open() {
            return reply(Err(e));
        }
        if let Who::Agent {
            id,
            supervisor: false,
            ..
        } = &msg.who
        {
            if let Err(e) = self.check_owner(id) {
                return reply(Err(e));
            }
        }
        let new = NewEvent {
            author,
            kind: EventKind::Message {
                text: msg.text,
                client_msg_id: msg.client_msg_id,
            },
            dedup_key: Some(key),
        };
        let fut = self.append(vec![new]).map(|res, act, _| {
            let a = res?
                .into_iter()
                .next()
                .ok_or_else(|| CommandError::internal("empty append"))?;
            let metric = if a.duplicate {
                &act.rt.metrics.messages_duplicate
            } else {
                &act.rt.metrics.messages
            };
            crate::metrics::Metrics::inc(metric);
            Ok((a.event.seq, a.duplicate))
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// Typing on/off: a live signal to the other side, never logged.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Typing {
    pub who: Who,
    pub on: bool,
}

impl Handler<Typing> for ConversationActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Typing, _: &mut Self::Context) -> Self::Result {
        self.ready()?;
        self.check_party(&msg.who)?;
        self.check_open()?;
        let (who, to_customer, to_agents) = match &msg.who {
            Who::Customer(_) => ("customer".to_string(), false, true),
            Who::Agent { name, .. } => (name.clone(), true, false),
        };
        let signal = Signal::Typing {
            conversation: self.key.id.clone(),
            who,
            on: msg.on,
        };
        self.rt
            .hub
            .signal_conversation(&self.key, to_customer, to_agents, &signal);
        Ok(())
    }
}

/// Read receipt: the reader has seen everything up to `seq`.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct MarkRead {
    pub who: Who,
    pub seq: u64,
}

impl Handler<MarkRead> for ConversationActor {
    type Result = Reply<()>;

    fn handle(&mut self, msg: MarkRead, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready().and_then(|_| self.check_party(&msg.who)) {
            return reply(Err(e));
        }
        if msg.seq > self.state.last_seq {
            return reply(Err(CommandError::bad_request(
                "seq is beyond the end of the conversation",
            )));
        }
        let customer = matches!(msg.who, Who::Customer(_));
        let last = if customer {
            self.last_read.0
        } else {
            self.last_read.1
        };
        if msg.seq <= last || !self.state.status.is_open() {
            return reply(Ok(()));
        }
        let fut = self
            .append(vec![event(
                msg.who.author(),
                EventKind::Read { up_to: msg.seq },
            )])
            .map(move |res, act, _| {
                res?;
                if customer {
                    act.last_read.0 = msg.seq;
                } else {
                    act.last_read.1 = msg.seq;
                }
                Ok(())
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
        if let Err(e) = self
            .ready()
            .and_then(|_| self.check_party(&msg.who))
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
                    id: uuid::Uuid::new_v4().to_string(),
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
                        engine.put_survey(r).await.map_err(super::engine_error)?;
                    }
                    Ok(())
                }
                .into_actor(act)
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// An internal note: agents only, never delivered to the customer.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct Note {
    pub who: Who,
    pub text: String,
}

impl Handler<Note> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: Note, _: &mut Self::Context) -> Self::Result {
        if matches!(msg.who, Who::Customer(_)) {
            return reply(Err(CommandError::forbidden("notes are for agents")));
        }
        if let Err(e) = self
            .ready()
            .and_then(|_| self.check_participant_agent(&msg.who))
        {
            return reply(Err(e));
        }
        let fut = self
            .append(vec![event(
                msg.who.author(),
                EventKind::Note { text: msg.text },
            )])
            .map(|res, _, _| Ok(res?.first().map_or(0, |a| a.event.seq)));
        AtomicResponse::new(Box::pin(fut))
    }
}

impl ConversationActor {
    /// Any agent who has held the conversation (notes and wrap-up are allowed after a transfer
    /// or the end), or a supervisor.
    fn check_participant_agent(&self, who: &Who) -> Result<(), CommandError> {
        match who {
            Who::Agent {
                supervisor: true, ..
            } => Ok(()),
            Who::Agent { id, .. } if self.state.agents.contains(id) => Ok(()),
            _ => Err(CommandError::not_found("conversation")),
        }
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
        let wait = call_timeout(&rt);
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
                                    outcome: "cancelled".into(),
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
                        to: t.to,
                    },
                )])
                .map(|res, _, _| res.map(|_| ()));
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
        let events = vec![
            event(
                author.clone(),
                EventKind::TransferredToQueue {
                    from: msg.from.clone(),
                    queue: queue.id.clone(),
                    note: msg.note,
                },
            ),
            event(
                author,
                EventKind::ParticipantLeft {
                    participant: msg.from.to_string(),
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
        let fut = self.append(events).map(move |res, act, _| {
            let seq = res?.last().map_or(0, |a| a.event.seq);
            let from = act.agent_key(&msg.from);
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
            act.enqueue();
            Ok(seq)
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

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
                    || self.state.transfer.as_ref().is_some_and(|t| &t.to == id) =>
            {
                Ok(Audience::Agent)
            }
            _ => Err(CommandError::not_found("conversation")),
        }
    }
}

/// From the timer supervisor.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct TimerFired {
    pub kind: TimerKind,
}

impl Handler<TimerFired> for ConversationActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    fn handle(&mut self, msg: TimerFired, _: &mut Self::Context) -> Self::Result {
        let nothing = || AtomicResponse::new(Box::pin(fut::ready(Ok(()))));
        if self.ready().is_err() || !self.timer_due(msg.kind) {
            return nothing();
        }
        let Some(org) = self.org() else {
            return nothing();
        };
        let messages = org.settings.messages.clone();
        tracing::debug!(conversation = %self.key.id, kind = ?msg.kind, "Timer fired.");
        let done = |res: Result<u64, CommandError>, act: &mut Self, _: &mut Context<Self>| {
            if let Err(err) = &res {
                tracing::warn!(conversation = %act.key.id, %err, "A timer's action failed; it will be retried.");
                act.arm_timers();
            }
            res.map(|_| ())
        };
        let fut = match msg.kind {
            TimerKind::IdlePrompt => self
                .append(vec![event(
                    Author::system(),
                    EventKind::IdleWarning {
                        message: messages.idle_prompt,
                    },
                )])
                .map(|r, _, _| r.map(|_| 0))
                .map(done)
                .boxed_local(),
            TimerKind::IdleEnd => self
                .end(
                    Author::system(),
                    EndReason::IdleTimeout,
                    Some(messages.idle_ended),
                )
                .map(done)
                .boxed_local(),
            TimerKind::AssignedAutoComplete | TimerKind::WaitingAutoComplete => self
                .end(Author::system(), EndReason::AutoComplete, None)
                .map(done)
                .boxed_local(),
            TimerKind::TransferExpiry => {
                let Some(t) = self.state.transfer.clone() else {
                    return nothing();
                };
                self.append(vec![event(
                    Author::system(),
                    EventKind::TransferExpired {
                        from: t.from,
                        to: t.to.clone(),
                    },
                )])
                .map(move |res, act, ctx| {
                    if res.is_ok() {
                        tell::<AgentActor, _>(
                            &act.rt,
                            &act.agent_key(&t.to),
                            TransferClosed {
                                conversation: act.key.id.clone(),
                                outcome: "expired".into(),
                            },
                        );
                    }
                    done(res.map(|_| 0), act, ctx)
                })
                .boxed_local()
            }
            TimerKind::WrapUp => self
                .append(vec![event(
                    Author::system(),
                    EventKind::WrapUp {
                        disposition: None,
                        note: None,
                    },
                )])
                .map(|r, _, _| r.map(|_| 0))
                .map(done)
                .boxed_local(),
        };
        AtomicResponse::new(fut)
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

/// Validates text once, with the node's limits, for handlers above.
pub fn message_text(text: &str, limits: &crate::config::Limits) -> Result<String, CommandError> {
    text::chat_text(text, limits.max_message_chars, "text")
}

crate::remote! {
    Create => u64, "conv.create";
    Post => (u64, bool), "conv.post";
    Typing => (), "conv.typing";
    MarkRead => (), "conv.read";
    Continue => (), "conv.continue";
    End => u64, "conv.end";
    Survey => (), "conv.survey";
    Note => u64, "conv.note";
    WrapUp => u64, "conv.wrap_up";
    Assign => (), "conv.assign";
    OfferChanged => (), "conv.offer_changed";
    RequestTransfer => u64, "conv.request_transfer";
    AnswerTransfer => (), "conv.answer_transfer";
    TransferToQueue => u64, "conv.transfer_to_queue";
    Access => Audience, "conv.access";
    TimerFired => (), "conv.timer";
    Crash => (), "conv.crash";
}
