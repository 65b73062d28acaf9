//! The agent actor: single writer of one agent's presence, capacity and pending offers.
//!
//! **Capacity (DESIGN invariant 4)** is enforced here and only here: every reservation — an
//! assignment offer from any queue, a transfer request from any conversation — asks this actor,
//! which refuses when `assigned + offers + transfers in` would exceed `max_chats`. Queues keep a
//! view of each agent's free slots to choose quickly, but the view is advisory.

use std::collections::{HashMap, HashSet};

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::conversation::{AnswerTransfer as ConvAnswerTransfer, Assign, CALL_TIMEOUT};
use super::queue::{AgentUpdate, OfferOutcome, OfferResolved};
use super::timers::{Cancel, Schedule, TimerTarget};
use crate::auth::Staff;
use crate::domain::conversation::Status;
use crate::engine::ConversationFilter;
use crate::hub::Control;
use crate::ids::{AgentId, AgentKey, ConvKey, ConversationId, QueueId, QueueKey};
use crate::metrics::Metrics;
use crate::protocol::client::Presence;
use crate::protocol::{CommandError, ErrorCode, Signal};
use crate::runtime::Rt;

#[derive(Debug, Clone)]
struct Offer {
    queue: QueueId,
    customer_name: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct TransferIn {
    from: AgentId,
    note: Option<String>,
    expires_at: DateTime<Utc>,
}

pub struct AgentActor {
    rt: Rt,
    key: AgentKey,
    name: String,
    presence: Presence,
    queues: Vec<QueueId>,
    sessions: usize,
    assigned: HashSet<ConversationId>,
    offers: HashMap<ConversationId, Offer>,
    transfers_in: HashMap<ConversationId, TransferIn>,
    ready_since: DateTime<Utc>,
}

impl AgentActor {
    pub fn new(rt: Rt, key: AgentKey) -> Self {
        Self {
            name: key.id.to_string(),
            rt,
            key,
            presence: Presence::Offline,
            queues: Vec::new(),
            sessions: 0,
            assigned: HashSet::new(),
            offers: HashMap::new(),
            transfers_in: HashMap::new(),
            ready_since: Utc::now(),
        }
    }

    fn max_chats(&self) -> u32 {
        self.rt.orgs.get(&self.key.org).map_or(3, |o| {
            o.agent(&self.key.id)
                .and_then(|a| a.max_chats)
                .unwrap_or(o.settings.max_chats)
        })
    }

    fn load(&self) -> usize {
        self.assigned.len() + self.offers.len() + self.transfers_in.len()
    }

    fn free(&self) -> u32 {
        let max = self.max_chats() as usize;
        max.saturating_sub(self.load()) as u32
    }

    fn eligible(&self) -> bool {
        self.presence == Presence::Available && self.sessions > 0
    }

    fn conv_key(&self, id: &ConversationId) -> ConvKey {
        ConvKey {
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

    /// Sends a message to a conversation and waits (bounded by `CALL_TIMEOUT`) for its answer.
    /// The outer error is "the conversation did not answer"; the inner result is its answer.
    fn ask_conversation<M>(
        &self,
        conversation: &ConversationId,
        msg: M,
    ) -> impl ActorFuture<Self, Output = Result<Result<(), CommandError>, CommandError>>
    where
        M: Message<Result = Result<(), CommandError>> + Send + 'static,
        super::conversation::ConversationActor: Handler<M>,
    {
        self.rt
            .conversation(&self.conv_key(conversation))
            .send(msg)
            .timeout(CALL_TIMEOUT)
            .into_actor(self)
            .map(|res, _, _| {
                res.map_err(|_| CommandError::unavailable("the conversation did not answer; retry"))
            })
    }

    /// Tells every queue of the agent its current availability, and the agent its load.
    fn publish(&self) {
        let update = AgentUpdate {
            agent: self.key.id.clone(),
            eligible: self.eligible(),
            free: self.free(),
            ready_since: self.ready_since,
        };
        for q in &self.queues {
            self.rt.queue(&self.queue_key(q)).do_send(update.clone());
        }
        self.rt.hub.signal_agent(
            &self.key,
            &Signal::Presence {
                presence: self.presence,
                assigned: self.assigned.len(),
                max_chats: self.max_chats(),
            },
        );
    }

    fn cancel_offer_timer(&self, conversation: &ConversationId) {
        if let Some(t) = self.rt.timers() {
            t.do_send(Cancel(TimerTarget::Offer(
                self.key.clone(),
                conversation.clone(),
            )));
        }
    }

    /// Withdraws every pending offer (the agent went offline): each goes to the next agent.
    fn rescind_all(&mut self) {
        for (conversation, offer) in self.offers.drain().collect::<Vec<_>>() {
            self.cancel_offer_timer(&conversation);
            Metrics::inc(&self.rt.metrics.offers_rescinded);
            self.rt.hub.signal_agent(
                &self.key,
                &Signal::OfferEnded {
                    conversation: conversation.clone(),
                    outcome: "rescinded",
                },
            );
            self.rt
                .queue(&self.queue_key(&offer.queue))
                .do_send(OfferResolved {
                    conversation,
                    agent: self.key.id.clone(),
                    outcome: OfferOutcome::Rescinded,
                });
        }
    }

    fn snapshot(&self) -> AgentSnapshot {
        let now = Utc::now();
        let left = |at: DateTime<Utc>| (at - now).num_milliseconds().max(0) as u64;
        AgentSnapshot {
            presence: self.presence,
            max_chats: self.max_chats(),
            assigned: self.assigned.iter().cloned().collect(),
            offers: self
                .offers
                .iter()
                .map(|(c, o)| Signal::Offer {
                    conversation: c.clone(),
                    queue: o.queue.clone(),
                    expires_in_ms: left(o.expires_at),
                    customer_name: o.customer_name.clone(),
                })
                .chain(
                    self.transfers_in
                        .iter()
                        .map(|(c, t)| Signal::TransferOffer {
                            conversation: c.clone(),
                            from: t.from.clone(),
                            expires_in_ms: left(t.expires_at),
                            note: t.note.clone(),
                        }),
                )
                .collect(),
        }
    }
}

impl Actor for AgentActor {
    type Context = Context<Self>;

    /// Rebuilds the assigned set from the conversations this agent owns, so that a restarted
    /// actor still counts them against capacity.
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        let filter = ConversationFilter {
            agent: Some(self.key.id.clone()),
            limit: 10_000,
            ..Default::default()
        };
        let fut = self.rt.engine.find_conversations(&self.key.org, filter);
        ctx.wait(fut.into_actor(self).map(|res, act, _| match res {
            Ok(found) => {
                act.assigned = found
                    .into_iter()
                    .filter(|s| {
                        s.owner.as_ref() == Some(&act.key.id)
                            && matches!(s.status, Status::Assigned | Status::Transferring)
                    })
                    .map(|s| s.id)
                    .collect();
            }
            Err(err) => {
                tracing::warn!(agent = %act.key.id, %err, "Could not rebuild the agent's chats.")
            }
        }));
    }
}

/// What an agent's session gets on sign-in.
#[derive(Debug, Clone)]
pub struct AgentSnapshot {
    pub presence: Presence,
    pub max_chats: u32,
    pub assigned: Vec<ConversationId>,
    /// Pending offers and transfer requests, as the signals that announced them.
    pub offers: Vec<Signal>,
}

/// A session of this agent signed in (hub registration is done by the session).
#[derive(Message)]
#[rtype(result = "AgentSnapshot")]
pub struct Connect {
    pub staff: Staff,
    pub sessions: usize,
}

impl Handler<Connect> for AgentActor {
    type Result = MessageResult<Connect>;

    fn handle(&mut self, msg: Connect, _: &mut Self::Context) -> Self::Result {
        let old: HashSet<QueueId> = self.queues.iter().cloned().collect();
        // The token's name wins; a token without one (name == id) falls back to the profile.
        self.name = match self
            .rt
            .orgs
            .get(&self.key.org)
            .and_then(|o| o.agent(&self.key.id).map(|a| a.name.clone()))
        {
            Some(profile) if msg.staff.name == self.key.id.as_str() => profile,
            _ => msg.staff.name.clone(),
        };
        self.queues = msg.staff.queues.clone();
        self.sessions = msg.sessions;
        if self.presence == Presence::Offline {
            self.presence = Presence::Away;
        }
        // Queues this agent is no longer a member of stop offering to it.
        for q in old.iter().filter(|q| !self.queues.contains(q)) {
            self.rt.queue(&self.queue_key(q)).do_send(AgentUpdate {
                agent: self.key.id.clone(),
                eligible: false,
                free: 0,
                ready_since: self.ready_since,
            });
        }
        self.publish();
        MessageResult(self.snapshot())
    }
}

/// A session closed; `sessions` is how many the agent still has on this node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub sessions: usize,
}

impl Handler<Disconnect> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: Disconnect, _: &mut Self::Context) {
        self.sessions = msg.sessions;
        if self.sessions == 0 {
            self.presence = Presence::Offline;
            self.rescind_all();
            self.publish();
        }
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), CommandError>")]
pub struct SetPresence(pub Presence);

impl Handler<SetPresence> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: SetPresence, _: &mut Self::Context) -> Self::Result {
        if msg.0 == Presence::Available && self.presence != Presence::Available {
            self.ready_since = Utc::now();
        }
        self.presence = msg.0;
        if self.presence == Presence::Offline {
            self.rescind_all();
        }
        self.publish();
        Ok(())
    }
}

/// From a queue: reserve a slot for an assignment offer.
#[derive(Message)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Reserve {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub customer_name: String,
}

impl Handler<Reserve> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Reserve, _: &mut Self::Context) -> Self::Result {
        if !self.eligible() || !self.queues.contains(&msg.queue) {
            self.publish();
            return Err(CommandError::unavailable("agent is not available"));
        }
        if self.free() == 0 {
            self.publish();
            return Err(CommandError::new(
                ErrorCode::Capacity,
                "agent is at capacity",
            ));
        }
        if self.offers.contains_key(&msg.conversation) || self.assigned.contains(&msg.conversation)
        {
            return Err(CommandError::conflict("already offered to this agent"));
        }
        let Some(org) = self.rt.orgs.get(&self.key.org) else {
            return Err(CommandError::not_found("org"));
        };
        let expiry_ms = org.settings.offer_expiry_ms;
        let expires_at = Utc::now()
            + chrono::Duration::milliseconds(i64::try_from(expiry_ms).unwrap_or(i64::MAX));
        if let Some(t) = self.rt.timers() {
            t.do_send(Schedule {
                target: TimerTarget::Offer(self.key.clone(), msg.conversation.clone()),
                at: expires_at,
            });
        }
        // The agent is no longer "waiting for work" once offered something.
        self.ready_since = Utc::now();
        self.rt.hub.signal_agent(
            &self.key,
            &Signal::Offer {
                conversation: msg.conversation.clone(),
                queue: msg.queue.clone(),
                expires_in_ms: expiry_ms,
                customer_name: msg.customer_name.clone(),
            },
        );
        self.offers.insert(
            msg.conversation,
            Offer {
                queue: msg.queue,
                customer_name: msg.customer_name,
                expires_at,
            },
        );
        Metrics::inc(&self.rt.metrics.offers_sent);
        self.publish();
        Ok(())
    }
}

/// From the agent's session: accept or reject an assignment offer.
#[derive(Message)]
#[rtype(result = "Result<(), CommandError>")]
pub struct AnswerOffer {
    pub conversation: ConversationId,
    pub accept: bool,
}

impl Handler<AnswerOffer> for AgentActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    fn handle(&mut self, msg: AnswerOffer, _: &mut Self::Context) -> Self::Result {
        let Some(offer) = self.offers.get(&msg.conversation).cloned() else {
            let e = CommandError::new(ErrorCode::Expired, "the offer expired or was withdrawn");
            return AtomicResponse::new(Box::pin(fut::ready(Err(e))));
        };
        let conversation = msg.conversation.clone();
        if !msg.accept {
            self.offers.remove(&conversation);
            self.cancel_offer_timer(&conversation);
            Metrics::inc(&self.rt.metrics.offers_rejected);
            self.rt
                .queue(&self.queue_key(&offer.queue))
                .do_send(OfferResolved {
                    conversation,
                    agent: self.key.id.clone(),
                    outcome: OfferOutcome::Rejected,
                });
            self.publish();
            return AtomicResponse::new(Box::pin(fut::ready(Ok(()))));
        }
        let assign = Assign {
            agent: self.key.id.clone(),
            name: self.name.clone(),
        };
        let fut = self
            .ask_conversation(&conversation, assign)
            .map(move |res, act, _| {
                let result = res?;
                act.offers.remove(&conversation);
                act.cancel_offer_timer(&conversation);
                let outcome = match &result {
                    Ok(()) => {
                        act.assigned.insert(conversation.clone());
                        Metrics::inc(&act.rt.metrics.offers_accepted);
                        act.rt
                            .hub
                            .control_agent(&act.key, Control::Follow(conversation.clone()));
                        OfferOutcome::Accepted
                    }
                    Err(_) => OfferOutcome::Rescinded,
                };
                act.rt
                    .queue(&act.queue_key(&offer.queue))
                    .do_send(OfferResolved {
                        conversation,
                        agent: act.key.id.clone(),
                        outcome,
                    });
                act.publish();
                result
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From the timer supervisor: an offer's time is up.
#[derive(Message)]
#[rtype(result = "()")]
pub struct OfferTimeout {
    pub conversation: ConversationId,
}

impl Handler<OfferTimeout> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: OfferTimeout, _: &mut Self::Context) {
        let Some(offer) = self.offers.get(&msg.conversation) else {
            return;
        };
        if offer.expires_at > Utc::now() + chrono::Duration::milliseconds(5) {
            return;
        }
        let queue = offer.queue.clone();
        self.offers.remove(&msg.conversation);
        Metrics::inc(&self.rt.metrics.offers_expired);
        tracing::debug!(agent = %self.key.id, conversation = %msg.conversation, "Offer expired.");
        self.rt.hub.signal_agent(
            &self.key,
            &Signal::OfferEnded {
                conversation: msg.conversation.clone(),
                outcome: "expired",
            },
        );
        self.rt
            .queue(&self.queue_key(&queue))
            .do_send(OfferResolved {
                conversation: msg.conversation,
                agent: self.key.id.clone(),
                outcome: OfferOutcome::Expired,
            });
        self.publish();
    }
}

/// From a queue: the offer is withdrawn (the customer left).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Rescind {
    pub conversation: ConversationId,
}

impl Handler<Rescind> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: Rescind, _: &mut Self::Context) {
        if self.offers.remove(&msg.conversation).is_some() {
            self.cancel_offer_timer(&msg.conversation);
            Metrics::inc(&self.rt.metrics.offers_rescinded);
            self.rt.hub.signal_agent(
                &self.key,
                &Signal::OfferEnded {
                    conversation: msg.conversation,
                    outcome: "rescinded",
                },
            );
            self.publish();
        }
    }
}

/// From a conversation: reserve a slot for a transfer request to this agent.
#[derive(Message)]
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
        if self.sessions == 0 || self.presence == Presence::Offline {
            return Err(CommandError::unavailable("the agent is offline"));
        }
        if self.transfers_in.contains_key(&msg.conversation)
            || self.assigned.contains(&msg.conversation)
        {
            return Err(CommandError::conflict(
                "the agent already has this conversation",
            ));
        }
        if self.free() == 0 {
            return Err(CommandError::new(
                ErrorCode::Capacity,
                "the agent is at capacity",
            ));
        }
        let expires_in_ms = (msg.expires_at - Utc::now()).num_milliseconds().max(0) as u64;
        self.rt.hub.signal_agent(
            &self.key,
            &Signal::TransferOffer {
                conversation: msg.conversation.clone(),
                from: msg.from.clone(),
                expires_in_ms,
                note: msg.note.clone(),
            },
        );
        self.transfers_in.insert(
            msg.conversation,
            TransferIn {
                from: msg.from,
                note: msg.note,
                expires_at: msg.expires_at,
            },
        );
        self.publish();
        Ok(())
    }
}

/// From the agent's session: answer a transfer request.
#[derive(Message)]
#[rtype(result = "Result<(), CommandError>")]
pub struct AnswerTransfer {
    pub conversation: ConversationId,
    pub accept: bool,
}

impl Handler<AnswerTransfer> for AgentActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    fn handle(&mut self, msg: AnswerTransfer, _: &mut Self::Context) -> Self::Result {
        if !self.transfers_in.contains_key(&msg.conversation) {
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
                act.transfers_in.remove(&conversation);
                if result.is_ok() && accept {
                    act.assigned.insert(conversation.clone());
                    act.rt
                        .hub
                        .control_agent(&act.key, Control::Follow(conversation));
                }
                act.publish();
                result
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From a conversation: a transfer request to this agent ended without an answer.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TransferClosed {
    pub conversation: ConversationId,
    pub outcome: &'static str,
}

impl Handler<TransferClosed> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: TransferClosed, _: &mut Self::Context) {
        if self.transfers_in.remove(&msg.conversation).is_some() {
            self.rt.hub.signal_agent(
                &self.key,
                &Signal::TransferEnded {
                    conversation: msg.conversation,
                    outcome: msg.outcome,
                },
            );
            self.publish();
        }
    }
}

/// From a conversation: it no longer counts against this agent (ended, transferred away).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Release {
    pub conversation: ConversationId,
}

impl Handler<Release> for AgentActor {
    type Result = ();

    fn handle(&mut self, msg: Release, _: &mut Self::Context) {
        if self.assigned.remove(&msg.conversation) {
            self.publish();
        }
    }
}

/// Sent by a (re)started queue: announce yourself if you are a member.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Announce;

impl Handler<Announce> for AgentActor {
    type Result = ();

    fn handle(&mut self, _: Announce, _: &mut Self::Context) {
        self.publish();
    }
}

/// For REST: the agent's live state.
#[derive(Debug, Clone, serde::Serialize)]
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

#[derive(Message)]
#[rtype(result = "AgentStatus")]
pub struct GetStatus;

impl Handler<GetStatus> for AgentActor {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Self::Context) -> Self::Result {
        MessageResult(AgentStatus {
            id: self.key.id.clone(),
            name: self.name.clone(),
            presence: self.presence,
            sessions: self.sessions,
            assigned: self.assigned.len(),
            offers: self.offers.len(),
            transfers_in: self.transfers_in.len(),
            max_chats: self.max_chats(),
            queues: self.queues.clone(),
        })
    }
}
