//! The agent actor: single writer of one agent's presence, capacity and pending offers.
//!
//! **Capacity (DESIGN invariant 4)** is enforced here and only here: every reservation — an
//! assignment offer from any queue, a transfer request from any conversation — asks this actor,
//! which refuses when `assigned + offers + transfers in` would exceed `max_chats`. Queues keep a
//! view of each agent's free slots to choose quickly, but the view is advisory.

use std::collections::{HashMap, HashSet};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::conversation::{AnswerTransfer as ConvAnswerTransfer, Assign, ConversationActor};
use super::queue::{AgentUpdate, OfferOutcome, OfferResolved, QueueActor};
use super::route::{ask, tell, LeaseLost, Remote, Wake};
use super::timers::{Cancel, Schedule, TimerTarget};
use crate::auth::Staff;
use crate::cluster::StateWriter;
use crate::domain::conversation::Status;
use crate::engine::ActorRef;
use crate::engine::ConversationFilter;
use crate::hub::Control;
use crate::ids::{AgentId, AgentKey, ConvKey, ConversationId, QueueId, QueueKey};
use crate::metrics::Metrics;
use crate::protocol::client::Presence;
use crate::protocol::{CommandError, ErrorCode, ServerFrame, Signal};
use crate::runtime::Rt;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Offer {
    queue: QueueId,
    customer_name: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Signed-in sessions per instance (node process) that holds them.
    sessions: HashMap<String, usize>,
    assigned: HashSet<ConversationId>,
    offers: HashMap<ConversationId, Offer>,
    transfers_in: HashMap<ConversationId, TransferIn>,
    ready_since: DateTime<Utc>,
    /// Fencing epoch of this node's lease on the agent (1 without a cluster).
    epoch: u64,
    /// Cluster mode: persists presence, sessions, offers and transfers so that a node taking
    /// over re-arms them (DESIGN §4).
    writer: Option<StateWriter>,
    /// The version of the last state queued for writing.
    saved_version: u64,
}

/// What survives a takeover. Assigned chats are rebuilt from the conversation summaries.
#[derive(Debug, Serialize, Deserialize)]
struct Persisted {
    name: String,
    presence: Presence,
    queues: Vec<QueueId>,
    sessions: HashMap<String, usize>,
    offers: Vec<(ConversationId, Offer)>,
    transfers_in: Vec<(ConversationId, TransferIn)>,
    ready_since: DateTime<Utc>,
}

impl AgentActor {
    pub fn new(rt: Rt, key: AgentKey, epoch: u64) -> Self {
        Self {
            name: key.id.to_string(),
            rt,
            key,
            presence: Presence::Offline,
            queues: Vec::new(),
            sessions: HashMap::new(),
            assigned: HashSet::new(),
            offers: HashMap::new(),
            transfers_in: HashMap::new(),
            ready_since: Utc::now(),
            epoch,
            writer: None,
            saved_version: 0,
        }
    }

    fn session_count(&self) -> usize {
        self.sessions.values().sum()
    }

    fn persisted(&self) -> Persisted {
        Persisted {
            name: self.name.clone(),
            presence: self.presence,
            queues: self.queues.clone(),
            sessions: self.sessions.clone(),
            offers: self
                .offers
                .iter()
                .map(|(c, o)| (c.clone(), o.clone()))
                .collect(),
            transfers_in: self
                .transfers_in
                .iter()
                .map(|(c, t)| (c.clone(), t.clone()))
                .collect(),
            ready_since: self.ready_since,
        }
    }

    /// Queues the current state for writing (cluster mode).
    fn persist(&mut self) {
        if self.writer.is_none() {
            return;
        }
        let json = match serde_json::to_string(&self.persisted()) {
            Ok(json) => json,
            Err(err) => {
                tracing::error!(%err, "Could not serialize the agent's state.");
                return;
            }
        };
        if let Some(w) = &mut self.writer {
            self.saved_version = w.save(json);
        }
    }

    /// Resolves once everything so far is stored (at once without a cluster).
    fn stored(&self) -> impl std::future::Future<Output = Result<(), CommandError>> + 'static {
        let wait = self.writer.as_ref().map(|w| {
            w.saved(
                self.saved_version,
                std::time::Duration::from_millis(
                    self.rt.settings.engine.redis.command_timeout_ms * 2,
                ),
            )
        });
        async move {
            match wait {
                Some(w) => w.await,
                None => Ok(()),
            }
        }
    }

    fn restore(&mut self, p: Persisted) {
        let gone = |i: &String| {
            self.rt
                .cluster
                .as_ref()
                .is_some_and(|c| c.is_gone(i.as_str()))
        };
        self.sessions = p.sessions.into_iter().filter(|(i, _)| !gone(i)).collect();
        self.name = p.name;
        self.presence = if self.session_count() == 0 {
            Presence::Offline
        } else {
            p.presence
        };
        self.queues = p.queues;
        self.ready_since = p.ready_since;
        self.transfers_in = p.transfers_in.into_iter().collect();
        self.offers = p.offers.into_iter().collect();
        // Offers made by the previous owner expire here now.
        if let Some(t) = self.rt.timers() {
            for (conversation, offer) in &self.offers {
                t.do_send(Schedule {
                    target: TimerTarget::Offer(self.key.clone(), conversation.clone()),
                    at: offer.expires_at,
                });
            }
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
        self.presence == Presence::Available && self.session_count() > 0
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

    /// Sends a message to a conversation and waits (bounded by `call_timeout`) for its answer.
    /// The outer error is "the conversation did not answer"; the inner result is its answer.
    fn ask_conversation<M>(
        &self,
        conversation: &ConversationId,
        msg: M,
    ) -> impl ActorFuture<Self, Output = Result<Result<(), CommandError>, CommandError>>
    where
        M: Remote<Ok = ()>,
        ConversationActor: Handler<M>,
    {
        let rt = self.rt.clone();
        let wait = crate::actors::conversation::call_timeout(&rt);
        let key = self.conv_key(conversation);
        async move {
            tokio::time::timeout(wait, ask::<ConversationActor, M>(&rt, &key, msg))
                .await
                .map_err(|_| CommandError::unavailable("the conversation did not answer; retry"))
        }
        .into_actor(self)
    }

    /// Tells every queue of the agent its current availability, and the agent its load; stores
    /// the state (every change ends here).
    fn publish(&mut self) {
        self.persist();
        let update = AgentUpdate {
            agent: self.key.id.clone(),
            eligible: self.eligible(),
            free: self.free(),
            ready_since: self.ready_since,
        };
        for q in &self.queues {
            tell::<QueueActor, _>(&self.rt, &self.queue_key(q), update.clone());
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
            tell::<QueueActor, _>(
                &self.rt,
                &self.queue_key(&offer.queue),
                OfferResolved {
                    conversation,
                    agent: self.key.id.clone(),
                    outcome: OfferOutcome::Rescinded,
                },
            );
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
                .map(|signal| ServerFrame::Signal(&signal).to_json())
                .collect(),
        }
    }
}

impl Actor for AgentActor {
    type Context = Context<Self>;

    /// Rebuilds the assigned set from the conversations this agent owns, so that a restarted
    /// actor still counts them against capacity; in a cluster, restores presence, sessions,
    /// offers and transfer requests persisted by the previous owner and re-arms the offers.
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        let filter = ConversationFilter {
            agent: Some(self.key.id.clone()),
            limit: 10_000,
            ..Default::default()
        };
        let chats = self.rt.engine.find_conversations(&self.key.org, filter);
        let actor = ActorRef::Agent(self.key.clone());
        let state = self.rt.cluster.as_ref().map(|node| {
            let addr = ctx.address();
            self.writer = Some(StateWriter::for_actor(
                node.bus.clone(),
                actor.clone(),
                self.epoch,
                move || addr.do_send(LeaseLost),
            ));
            node.bus.get_state(&actor)
        });
        let fut = async move {
            let state = match state {
                Some(f) => f.await,
                None => Ok(None),
            };
            (chats.await, state)
        };
        ctx.wait(fut.into_actor(self).map(|(chats, state), act, _| {
            match chats {
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
            }
            match state.map(|s| s.map(|json| serde_json::from_str::<Persisted>(&json))) {
                Ok(Some(Ok(p))) => {
                    act.restore(p);
                    act.publish();
                }
                Ok(Some(Err(err))) => {
                    tracing::warn!(agent = %act.key.id, %err, "Unreadable persisted agent state.")
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(agent = %act.key.id, %err, "Could not read the agent's state.")
                }
            }
        }));
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.rt.forget_agent(&self.key, &ctx.address());
        if let Some(node) = &self.rt.cluster {
            node.release(&ActorRef::Agent(self.key.clone()), self.epoch);
        }
    }
}

impl Handler<LeaseLost> for AgentActor {
    type Result = ();

    fn handle(&mut self, _: LeaseLost, ctx: &mut Self::Context) {
        tracing::info!(agent = %self.key.id, "Lease lost; this activation stops.");
        self.writer = None;
        ctx.stop();
    }
}

impl Handler<Wake> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, _: Wake, _: &mut Self::Context) -> Self::Result {
        Ok(())
    }
}

/// An instance is gone: its sessions of this agent are gone with it.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct NodeGone {
    pub instance: String,
}

impl Handler<NodeGone> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: NodeGone, _: &mut Self::Context) -> Self::Result {
        if self.sessions.remove(&msg.instance).is_some() && self.session_count() == 0 {
            self.presence = Presence::Offline;
            self.rescind_all();
            self.publish();
        }
        Ok(())
    }
}

/// What an agent's session gets on sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentSnapshot {
    pub presence: Presence,
    pub max_chats: u32,
    pub assigned: Vec<ConversationId>,
    /// Pending offers and transfer requests, as the signal frames that announced them.
    pub offers: Vec<String>,
}

/// A session of this agent signed in (hub registration is done by the session).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<AgentSnapshot, CommandError>")]
pub struct Connect {
    pub staff: Staff,
    /// The instance holding the session, and how many sessions of this agent it holds now.
    pub instance: String,
    pub sessions: usize,
}

impl Handler<Connect> for AgentActor {
    type Result = Result<AgentSnapshot, CommandError>;

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
        self.sessions.insert(msg.instance, msg.sessions);
        if self.presence == Presence::Offline {
            self.presence = Presence::Away;
        }
        // Queues this agent is no longer a member of stop offering to it.
        for q in old.iter().filter(|q| !self.queues.contains(q)) {
            tell::<QueueActor, _>(
                &self.rt,
                &self.queue_key(q),
                AgentUpdate {
                    agent: self.key.id.clone(),
                    eligible: false,
                    free: 0,
                    ready_since: self.ready_since,
                },
            );
        }
        self.publish();
        Ok(self.snapshot())
    }
}

/// A session closed; `sessions` is how many the agent still has on this node.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Disconnect {
    pub instance: String,
    pub sessions: usize,
}

impl Handler<Disconnect> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Disconnect, ctx: &mut Self::Context) -> Self::Result {
        self.on_disconnect(msg, ctx);
        Ok(())
    }
}

impl AgentActor {
    fn on_disconnect(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        if msg.sessions == 0 {
            self.sessions.remove(&msg.instance);
        } else {
            self.sessions.insert(msg.instance, msg.sessions);
        }
        if self.session_count() == 0 {
            self.presence = Presence::Offline;
            self.rescind_all();
            self.publish();
        }
    }
}

#[derive(Message, Clone, Serialize, Deserialize)]
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
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Reserve {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub customer_name: String,
}

impl Handler<Reserve> for AgentActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    /// In a cluster the answer waits until the offer is stored: a node that takes the agent
    /// over then still counts it.
    fn handle(&mut self, msg: Reserve, _: &mut Self::Context) -> Self::Result {
        match self.reserve(msg) {
            Ok(()) => AtomicResponse::new(Box::pin(self.stored().into_actor(self))),
            Err(e) => AtomicResponse::new(Box::pin(fut::ready(Err(e)))),
        }
    }
}

impl AgentActor {
    fn reserve(&mut self, msg: Reserve) -> Result<(), CommandError> {
        // A retried reservation (or a queue that took over and offers again) is the same offer.
        if self.offers.contains_key(&msg.conversation) {
            return Ok(());
        }
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
        if self.assigned.contains(&msg.conversation) {
            return Err(CommandError::conflict(
                "the agent already has this conversation",
            ));
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
#[derive(Message, Clone, Serialize, Deserialize)]
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
            tell::<QueueActor, _>(
                &self.rt,
                &self.queue_key(&offer.queue),
                OfferResolved {
                    conversation,
                    agent: self.key.id.clone(),
                    outcome: OfferOutcome::Rejected,
                },
            );
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
                tell::<QueueActor, _>(
                    &act.rt,
                    &act.queue_key(&offer.queue),
                    OfferResolved {
                        conversation,
                        agent: act.key.id.clone(),
                        outcome,
                    },
                );
                act.publish();
                result
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From the timer supervisor: an offer's time is up.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct OfferTimeout {
    pub conversation: ConversationId,
}

impl Handler<OfferTimeout> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: OfferTimeout, ctx: &mut Self::Context) -> Self::Result {
        self.on_offer_timeout(msg, ctx);
        Ok(())
    }
}

impl AgentActor {
    fn on_offer_timeout(&mut self, msg: OfferTimeout, _: &mut Context<Self>) {
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
        tell::<QueueActor, _>(
            &self.rt,
            &self.queue_key(&queue),
            OfferResolved {
                conversation: msg.conversation,
                agent: self.key.id.clone(),
                outcome: OfferOutcome::Expired,
            },
        );
        self.publish();
    }
}

/// From a queue: the offer is withdrawn (the customer left).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Rescind {
    pub conversation: ConversationId,
}

impl Handler<Rescind> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Rescind, ctx: &mut Self::Context) -> Self::Result {
        self.on_rescind(msg, ctx);
        Ok(())
    }
}

impl AgentActor {
    fn on_rescind(&mut self, msg: Rescind, _: &mut Context<Self>) {
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
#[derive(Message, Clone, Serialize, Deserialize)]
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
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct TransferClosed {
    pub conversation: ConversationId,
    /// "cancelled" or "expired".
    pub outcome: String,
}

impl Handler<TransferClosed> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: TransferClosed, ctx: &mut Self::Context) -> Self::Result {
        self.on_transfer_closed(msg, ctx);
        Ok(())
    }
}

impl AgentActor {
    fn on_transfer_closed(&mut self, msg: TransferClosed, _: &mut Context<Self>) {
        if self.transfers_in.remove(&msg.conversation).is_some() {
            self.rt.hub.signal_agent(
                &self.key,
                &Signal::TransferEnded {
                    conversation: msg.conversation,
                    outcome: if msg.outcome == "expired" {
                        "expired"
                    } else {
                        "cancelled"
                    },
                },
            );
            self.publish();
        }
    }
}

/// From a conversation: it no longer counts against this agent (ended, transferred away).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Release {
    pub conversation: ConversationId,
}

impl Handler<Release> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Release, ctx: &mut Self::Context) -> Self::Result {
        self.on_release(msg, ctx);
        Ok(())
    }
}

impl AgentActor {
    fn on_release(&mut self, msg: Release, _: &mut Context<Self>) {
        if self.assigned.remove(&msg.conversation) {
            self.publish();
        }
    }
}

/// Sent by a (re)started queue: announce yourself if you are a member.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Announce;

impl Handler<Announce> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Announce, ctx: &mut Self::Context) -> Self::Result {
        self.on_announce(msg, ctx);
        Ok(())
    }
}

impl AgentActor {
    fn on_announce(&mut self, _: Announce, _: &mut Context<Self>) {
        self.publish();
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
            assigned: self.assigned.len(),
            offers: self.offers.len(),
            transfers_in: self.transfers_in.len(),
            max_chats: self.max_chats(),
            queues: self.queues.clone(),
        })
    }
}

crate::remote! {
    Connect => AgentSnapshot, "agent.connect";
    Disconnect => (), "agent.disconnect";
    SetPresence => (), "agent.presence";
    Reserve => (), "agent.reserve";
    AnswerOffer => (), "agent.answer_offer";
    OfferTimeout => (), "agent.offer_timeout";
    Rescind => (), "agent.rescind";
    ReserveTransfer => (), "agent.reserve_transfer";
    AnswerTransfer => (), "agent.answer_transfer";
    TransferClosed => (), "agent.transfer_closed";
    Release => (), "agent.release";
    Announce => (), "agent.announce";
    GetStatus => AgentStatus, "agent.status";
    NodeGone => (), "agent.node_gone";
}
