//! The queue actor: single writer of one queue's waiting list and routing.
//!
//! Waiting conversations are ordered by priority, then original enqueue time; an offer that is
//! rejected or expires puts the conversation back in its place (DESIGN invariant 5). The queue
//! keeps an advisory view of its agents, chooses with [`crate::routing::choose_agent`], and asks
//! the chosen agent's actor to reserve a slot; the agent actor has the last word on capacity.
//!
//! (Close to 600 lines, one concern: the waiting line and the routing that empties it — entries,
//! offers out, positions and ETA, rebuilding — held together because every message changes the
//! line and the offers in one step.)

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::agent::{AgentActor, Rescind, Reserve};
use super::conversation::{ConversationActor, OfferChanged};
use super::route::{ask, tell, LeaseLost, Wake};
use crate::actors::Rt;
use crate::domain::conversation::Status;
use crate::engine::ActorRef;
use crate::engine::ConversationFilter;
use crate::ids::{AgentId, AgentKey, ConvKey, ConversationId, QueueKey};
use crate::metrics::Metrics;
use crate::protocol::server::OfferOutcome;
use crate::protocol::{CommandError, Signal};
use crate::routing::{choose_agent, AgentView, WaitEstimator};

/// Place in line: higher priority first, then earlier enqueue time, then id (total order).
type Place = (Reverse<i32>, DateTime<Utc>, ConversationId);

struct Entry {
    place: Place,
    customer_name: String,
    offered_to: Option<AgentId>,
    /// When the current offer was made.
    offered_at: Option<Instant>,
    /// Agents who rejected or let this conversation's offer expire, and when. They are not
    /// offered it again for one offer-expiry period, so it goes to the next agent first.
    declined: HashMap<AgentId, Instant>,
    /// Only this agent is offered the conversation until then (a parked chat's previous agent).
    prefer: Option<(AgentId, Instant)>,
}

/// How many waiting chats the request list shows (`GET /v1/queues/{id}/waiting`).
pub const WAITING_PAGE: usize = 100;

pub struct QueueActor {
    rt: Rt,
    key: QueueKey,
    line: BTreeSet<Place>,
    entries: HashMap<ConversationId, Entry>,
    agents: HashMap<AgentId, AgentView>,
    estimator: WaitEstimator,
    /// Last position told to each customer, to send only changes.
    told: HashMap<ConversationId, usize>,
    positions_pending: Option<SpawnHandle>,
    /// Reservations asked of each agent and not answered yet: slots of that agent this queue
    /// is about to take (see `AgentUpdate`'s answer).
    reserving: HashMap<AgentId, HashSet<ConversationId>>,
    /// Fencing epoch of this node's lease on the queue (1 without a cluster).
    epoch: u64,
    /// The request list's fingerprint last told to the agents ([`QueueActor::tell_waiting`]).
    waiting_told: u64,
}

impl QueueActor {
    pub fn new(rt: Rt, key: QueueKey, epoch: u64) -> Self {
        Self {
            epoch,
            rt,
            key,
            line: BTreeSet::new(),
            entries: HashMap::new(),
            agents: HashMap::new(),
            estimator: WaitEstimator::default(),
            told: HashMap::new(),
            positions_pending: None,
            reserving: HashMap::new(),
            waiting_told: 0,
        }
    }

    fn conv_key(&self, id: &ConversationId) -> ConvKey {
        ConvKey {
            org: self.key.org.clone(),
            id: id.clone(),
        }
    }

    fn agent_key(&self, id: &AgentId) -> AgentKey {
        AgentKey {
            org: self.key.org.clone(),
            id: id.clone(),
        }
    }

    /// How long a decliner is skipped for a conversation: one offer-expiry period.
    fn cooldown(&self) -> Duration {
        let ms = self
            .rt
            .orgs
            .get(&self.key.org)
            .map_or(30_000, |o| o.settings.offer_expiry_ms);
        Duration::from_millis(ms)
    }

    fn anyone_available(&self) -> bool {
        self.agents.values().any(|a| a.eligible && a.free > 0)
    }

    fn insert(
        &mut self,
        conversation: ConversationId,
        priority: i32,
        at: DateTime<Utc>,
        customer_name: String,
    ) {
        if self.entries.contains_key(&conversation) {
            return;
        }
        let place = (Reverse(priority), at, conversation.clone());
        self.line.insert(place.clone());
        self.entries.insert(
            conversation,
            Entry {
                place,
                customer_name,
                offered_to: None,
                offered_at: None,
                declined: HashMap::new(),
                prefer: None,
            },
        );
    }

    fn remove(&mut self, conversation: &ConversationId) -> Option<Entry> {
        let entry = self.entries.remove(conversation)?;
        self.line.remove(&entry.place);
        self.told.remove(conversation);
        Some(entry)
    }

    /// Offers waiting conversations, in order, to the best agents with room.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        if !self.anyone_available() {
            return;
        }
        let cooldown = self.cooldown();
        let mut offers = Vec::new();
        for place in &self.line {
            let Some(entry) = self.entries.get(&place.2) else {
                continue;
            };
            if entry.offered_to.is_some() {
                continue;
            }
            let recent: HashSet<AgentId> = entry
                .declined
                .iter()
                .filter(|(_, at)| at.elapsed() < cooldown)
                .map(|(a, _)| a.clone())
                .collect();
            let chosen = match &entry.prefer {
                // The return window: the previous agent, when it can take the chat, or nobody.
                Some((preferred, until)) if Instant::now() < *until => self
                    .agents
                    .get(preferred)
                    .filter(|v| v.eligible && v.free > 0 && !recent.contains(preferred))
                    .map(|_| preferred.clone()),
                _ => choose_agent(self.agents.iter(), &recent).cloned(),
            };
            let Some(agent) = chosen else {
                continue;
            };
            if let Some(view) = self.agents.get_mut(&agent) {
                // Optimistic: the agent's own update will correct this either way.
                view.free = view.free.saturating_sub(1);
                view.ready_since = Utc::now();
            }
            offers.push((place.2.clone(), agent));
            if !self.anyone_available() {
                break;
            }
        }
        for (conversation, agent) in offers {
            let Some(entry) = self.entries.get_mut(&conversation) else {
                continue;
            };
            entry.offered_to = Some(agent.clone());
            entry.offered_at = Some(Instant::now());
            let reserve = Reserve {
                conversation: conversation.clone(),
                queue: self.key.id.clone(),
                customer_name: entry.customer_name.clone(),
                picked: false,
            };
            let rt = self.rt.clone();
            let agent_key = self.agent_key(&agent);
            self.reserving
                .entry(agent.clone())
                .or_default()
                .insert(conversation.clone());
            ctx.spawn(
                async move { ask::<AgentActor, _>(&rt, &agent_key, reserve).await }
                    .into_actor(self)
                    .map(move |res, act, ctx| {
                        if let Some(asked) = act.reserving.get_mut(&agent) {
                            asked.remove(&conversation);
                            if asked.is_empty() {
                                act.reserving.remove(&agent);
                            }
                        }
                        let ok = res.is_ok();
                        match act.entries.get_mut(&conversation) {
                            Some(entry) if entry.offered_to.as_ref() == Some(&agent) => {
                                if ok {
                                    tell::<ConversationActor, _>(
                                        &act.rt,
                                        &act.conv_key(&conversation),
                                        OfferChanged { offered: true },
                                    );
                                } else {
                                    entry.offered_to = None;
                                    if let Some(v) = act.agents.get_mut(&agent) {
                                        v.free = 0;
                                    }
                                    act.dispatch(ctx);
                                }
                            }
                            _ if ok => {
                                // The conversation left the queue while the offer was being made.
                                tell::<AgentActor, _>(
                                    &act.rt,
                                    &act.agent_key(&agent),
                                    Rescind { conversation },
                                );
                            }
                            _ => {}
                        }
                    }),
            );
        }
    }

    /// Runs once per sweep interval (one timer per queue — actix polls every timer an actor has
    /// on each message, so per-offer timers would make the queue slower as it grows):
    /// - Safety net: the agent actor reports every offer's end, but if it died holding one, no
    ///   report comes. Well after the offer's expiry, an offer still marked out is taken back.
    /// - Decliners' cooldowns run out: their conversations may be offered to them again.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let cooldown = self.cooldown();
        let grace = cooldown + Duration::from_secs(5);
        let mut retry = false;
        for (conversation, e) in self.entries.iter_mut() {
            if e.offered_at.is_some_and(|t| t.elapsed() >= grace) {
                tracing::warn!(%conversation, agent = ?e.offered_to, "No word on an offer long after its expiry; offering again.");
                e.offered_to = None;
                e.offered_at = None;
                retry = true;
            }
            if e.prefer
                .as_ref()
                .is_some_and(|(_, until)| Instant::now() >= *until)
            {
                // The return window is over: anyone in the queue may take it now.
                e.prefer = None;
                retry = true;
            }
            if e.offered_to.is_none() {
                let before = e.declined.len();
                e.declined.retain(|_, at| at.elapsed() < cooldown);
                retry |= e.declined.len() != before;
            }
        }
        self.tell_waiting();
        if retry {
            self.dispatch(ctx);
        }
    }

    /// Tells the agents who could pick (available, or with a free seat) that the request list's
    /// first page changed — what waits, in which order, which is offered — so that they read it
    /// again instead of polling. Checked once per sweep: a burst of changes is one signal.
    fn tell_waiting(&mut self) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.line.len().hash(&mut h);
        for place in self.line.iter().take(WAITING_PAGE) {
            place.2.hash(&mut h);
            self.entries
                .get(&place.2)
                .is_some_and(|e| e.offered_to.is_some())
                .hash(&mut h);
        }
        let now = h.finish();
        if now == self.waiting_told {
            return;
        }
        self.waiting_told = now;
        let signal = Signal::Waiting {
            queue: self.key.id.clone(),
            waiting: self.line.len(),
        };
        for agent in self.agents.keys() {
            self.rt.hub.signal_agent(&self.agent_key(agent), &signal);
        }
    }

    /// Sends changed queue positions to waiting customers, at most once per interval.
    fn positions_changed(&mut self, ctx: &mut Context<Self>) {
        if self.positions_pending.is_some() {
            return;
        }
        let every = Duration::from_millis(self.rt.settings.limits.position_update_ms);
        self.positions_pending = Some(ctx.run_later(every, |act, _| {
            act.positions_pending = None;
            for (i, place) in act.line.iter().enumerate() {
                let position = i + 1;
                if act.told.get(&place.2) == Some(&position) {
                    continue;
                }
                act.told.insert(place.2.clone(), position);
                let signal = Signal::Position {
                    conversation: place.2.clone(),
                    position,
                    eta_secs: act.estimator.eta_secs(position),
                };
                act.rt
                    .hub
                    .signal_conversation(&act.conv_key(&place.2), true, true, &signal);
            }
        }));
    }
}

impl Actor for QueueActor {
    type Context = Context<Self>;

    /// Rebuilds the line from the conversations waiting in this queue and asks active agents to
    /// announce themselves, so that a restarted queue routes again.
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        let every = Duration::from_millis(self.rt.settings.limits.queue_sweep_ms);
        ctx.run_interval(every, |act, ctx| act.sweep(ctx));
        let filter = ConversationFilter {
            status: Some(Status::Waiting),
            queues: Some(vec![self.key.id.clone()]),
            limit: self.rt.settings.limits.max_queue_len,
            ..Default::default()
        };
        let fut = self.rt.engine.find_conversations(&self.key.org, filter);
        ctx.wait(fut.into_actor(self).map(|res, act, ctx| {
            if let Ok(found) = res {
                for s in found {
                    // The place in line it had: priority, then original enqueue time.
                    let since = s.waiting_since.unwrap_or(s.created_at);
                    act.insert(s.id, s.priority, since, s.customer_name);
                }
            }
            act.rt.announce_agents(&act.key.org);
            // Agents active on other nodes announce themselves too.
            act.rt
                .placement
                .broadcast(crate::placement::Notice::QueueStarted {
                    queue: act.key.clone(),
                });
            act.positions_changed(ctx);
        }));
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.rt.forget_queue(&self.key, &ctx.address());
        self.rt
            .placement
            .release(&ActorRef::Queue(self.key.clone()), self.epoch);
    }
}

impl Handler<LeaseLost> for QueueActor {
    type Result = ();

    fn handle(&mut self, _: LeaseLost, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl Handler<Wake> for QueueActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, _: Wake, _: &mut Self::Context) -> Self::Result {
        Ok(())
    }
}

/// Room left in the queue before a new chat is created.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Admit;

impl Handler<Admit> for QueueActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, _: Admit, _: &mut Self::Context) -> Self::Result {
        if self.entries.len() >= self.rt.settings.limits.max_queue_len {
            return Err(CommandError::unavailable(
                "the queue is full; try again later",
            ));
        }
        Ok(())
    }
}

/// A conversation joins the line (idempotent).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Enqueue {
    pub conversation: ConversationId,
    pub priority: i32,
    pub enqueued_at: DateTime<Utc>,
    pub customer_name: String,
    /// Only this agent is offered it during the org's return window (a parked chat's previous
    /// agent, when its customer writes again).
    #[serde(default)]
    pub prefer: Option<AgentId>,
}

impl Handler<Enqueue> for QueueActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Enqueue, ctx: &mut Self::Context) -> Self::Result {
        self.on_enqueue(msg, ctx);
        Ok(())
    }
}

impl QueueActor {
    fn on_enqueue(&mut self, msg: Enqueue, ctx: &mut Context<Self>) {
        let conversation = msg.conversation.clone();
        self.insert(
            msg.conversation,
            msg.priority,
            msg.enqueued_at,
            msg.customer_name,
        );
        if let (Some(agent), Some(entry)) = (msg.prefer, self.entries.get_mut(&conversation)) {
            let window = self
                .rt
                .orgs
                .get(&self.key.org)
                .map_or(60_000, |o| o.settings.return_window_ms);
            entry.prefer = Some((agent, Instant::now() + Duration::from_millis(window)));
        }
        if !self.anyone_available() {
            if let Some(org) = self.rt.orgs.get(&self.key.org) {
                let signal = Signal::AllBusy {
                    conversation: conversation.clone(),
                    message: org.settings.messages.all_busy.clone(),
                };
                self.rt.hub.signal_conversation(
                    &self.conv_key(&conversation),
                    true,
                    false,
                    &signal,
                );
            }
        }
        self.dispatch(ctx);
        self.positions_changed(ctx);
    }
}

/// A customer (re)joined a waiting conversation (page reload, reconnect): tell its followers
/// the current position again, since positions are otherwise sent only when they change.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Retell {
    pub conversation: ConversationId,
}

impl Handler<Retell> for QueueActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Retell, ctx: &mut Self::Context) -> Self::Result {
        self.on_retell(msg, ctx);
        Ok(())
    }
}

impl QueueActor {
    fn on_retell(&mut self, msg: Retell, ctx: &mut Context<Self>) {
        if self.entries.contains_key(&msg.conversation) {
            self.told.remove(&msg.conversation);
            self.positions_changed(ctx);
        }
    }
}

/// A conversation leaves the line without being assigned (ended, auto-completed).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Dequeue {
    pub conversation: ConversationId,
}

impl Handler<Dequeue> for QueueActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Dequeue, ctx: &mut Self::Context) -> Self::Result {
        self.on_dequeue(msg, ctx);
        Ok(())
    }
}

impl QueueActor {
    fn on_dequeue(&mut self, msg: Dequeue, ctx: &mut Context<Self>) {
        if let Some(entry) = self.remove(&msg.conversation) {
            if let Some(agent) = entry.offered_to {
                tell::<AgentActor, _>(
                    &self.rt,
                    &self.agent_key(&agent),
                    Rescind {
                        conversation: msg.conversation,
                    },
                );
            }
            self.positions_changed(ctx);
        }
    }
}

/// An agent's availability for this queue. Answers the conversations this queue has asked
/// the agent to reserve and not heard back about: slots it is taking (the agent actor offers
/// what is left to its lower-priority queues).
#[derive(Message, Clone, Debug, Serialize, Deserialize)]
#[rtype(result = "Result<Vec<ConversationId>, CommandError>")]
pub struct AgentUpdate {
    pub agent: AgentId,
    pub eligible: bool,
    pub free: u32,
    pub ready_since: DateTime<Utc>,
}

impl Handler<AgentUpdate> for QueueActor {
    type Result = Result<Vec<ConversationId>, CommandError>;

    fn handle(&mut self, msg: AgentUpdate, ctx: &mut Self::Context) -> Self::Result {
        let agent = msg.agent.clone();
        self.on_agent_update(msg, ctx);
        Ok(self
            .reserving
            .get(&agent)
            .map(|asked| asked.iter().cloned().collect())
            .unwrap_or_default())
    }
}

impl QueueActor {
    fn on_agent_update(&mut self, msg: AgentUpdate, ctx: &mut Context<Self>) {
        let view = AgentView {
            eligible: msg.eligible,
            free: msg.free,
            ready_since: msg.ready_since,
        };
        if msg.eligible || msg.free > 0 {
            self.agents.insert(msg.agent, view);
        } else {
            self.agents.remove(&msg.agent);
        }
        self.dispatch(ctx);
    }
}

/// From the agent actor: how an offer ended.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct OfferResolved {
    pub conversation: ConversationId,
    pub agent: AgentId,
    pub outcome: OfferOutcome,
}

impl Handler<OfferResolved> for QueueActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: OfferResolved, ctx: &mut Self::Context) -> Self::Result {
        self.on_offer_resolved(msg, ctx);
        Ok(())
    }
}

impl QueueActor {
    fn on_offer_resolved(&mut self, msg: OfferResolved, ctx: &mut Context<Self>) {
        if msg.outcome == OfferOutcome::Accepted {
            if let Some(entry) = self.remove(&msg.conversation) {
                let now = Utc::now();
                // The place's time is when the conversation joined the line (kept across
                // takeovers: it is the conversation's `waiting_since`).
                let waited = (now - entry.place.1).to_std().unwrap_or_default();
                Metrics::observe(&self.rt.metrics.queue_wait, waited);
                self.estimator.record_assignment(now);
                self.positions_changed(ctx);
            }
            return;
        }
        let Some(entry) = self.entries.get_mut(&msg.conversation) else {
            return;
        };
        if entry.offered_to.as_ref() != Some(&msg.agent) {
            return;
        }
        entry.offered_to = None;
        if matches!(msg.outcome, OfferOutcome::Rejected | OfferOutcome::Expired) {
            // The sweep makes the decliner eligible again when the cooldown is over.
            entry.declined.insert(msg.agent, Instant::now());
        }
        tell::<ConversationActor, _>(
            &self.rt,
            &self.conv_key(&msg.conversation),
            OfferChanged { offered: false },
        );
        self.dispatch(ctx);
    }
}

/// For REST: the queue's live state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueStats {
    pub waiting: usize,
    pub offered: usize,
    pub agents_available: usize,
    pub free_slots: u32,
    pub eta_next_secs: Option<u64>,
}

#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<QueueStats, CommandError>")]
pub struct GetStats;

impl Handler<GetStats> for QueueActor {
    type Result = Result<QueueStats, CommandError>;

    fn handle(&mut self, _: GetStats, _: &mut Self::Context) -> Self::Result {
        Ok(QueueStats {
            waiting: self.entries.len(),
            offered: self
                .entries
                .values()
                .filter(|e| e.offered_to.is_some())
                .count(),
            agents_available: self.agents.values().filter(|a| a.eligible).count(),
            free_slots: self
                .agents
                .values()
                .filter(|a| a.eligible)
                .map(|a| a.free)
                .sum(),
            eta_next_secs: self.estimator.eta_secs(1),
        })
    }
}

/// One waiting chat of the request list (seed 002).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaitingChat {
    pub conversation: ConversationId,
    pub customer_name: String,
    /// Its place: 1 = next.
    pub position: usize,
    pub priority: i32,
    pub waiting_since: DateTime<Utc>,
    /// An offer for it is out to an agent right now.
    pub offered: bool,
}

/// The queue's request list: its waiting chats in line order (at most `limit`).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<Vec<WaitingChat>, CommandError>")]
pub struct Waiting {
    pub limit: usize,
}

impl Handler<Waiting> for QueueActor {
    type Result = Result<Vec<WaitingChat>, CommandError>;

    fn handle(&mut self, msg: Waiting, _: &mut Self::Context) -> Self::Result {
        Ok(self
            .line
            .iter()
            .filter_map(|place| self.entries.get(&place.2).map(|e| (place, e)))
            .take(msg.limit)
            .enumerate()
            .map(|(i, (place, e))| WaitingChat {
                conversation: place.2.clone(),
                customer_name: e.customer_name.clone(),
                position: i + 1,
                priority: place.0 .0,
                waiting_since: place.1,
                offered: e.offered_to.is_some(),
            })
            .collect())
    }
}

/// An agent picks a waiting chat from the request list: the queue offers it to that agent at
/// once, through the agent actor (which checks capacity, as for any offer); the agent's session
/// then accepts it. A chat already offered to someone is not taken from them, so of two agents
/// picking the same chat exactly one gets it.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Pick {
    pub conversation: ConversationId,
    pub agent: AgentId,
}

impl Handler<Pick> for QueueActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    fn handle(&mut self, msg: Pick, _: &mut Self::Context) -> Self::Result {
        let refuse = |e| AtomicResponse::new(Box::pin(fut::ready(Err(e))));
        let Some(entry) = self.entries.get_mut(&msg.conversation) else {
            return refuse(CommandError::conflict(
                "the chat is no longer waiting in this queue",
            ));
        };
        match &entry.offered_to {
            Some(a) if a == &msg.agent => {}
            Some(_) => {
                return refuse(CommandError::conflict(
                    "the chat is being offered to another agent",
                ))
            }
            None => {}
        }
        entry.offered_to = Some(msg.agent.clone());
        entry.offered_at = Some(Instant::now());
        let reserve = Reserve {
            conversation: msg.conversation.clone(),
            queue: self.key.id.clone(),
            customer_name: entry.customer_name.clone(),
            picked: true,
        };
        let rt = self.rt.clone();
        let agent_key = self.agent_key(&msg.agent);
        let fut = async move { ask::<AgentActor, _>(&rt, &agent_key, reserve).await }
            .into_actor(self)
            .map(move |res, act, ctx| {
                let offered = match act.entries.get_mut(&msg.conversation) {
                    Some(entry) if entry.offered_to.as_ref() == Some(&msg.agent) => {
                        if res.is_err() {
                            entry.offered_to = None;
                            entry.offered_at = None;
                        }
                        true
                    }
                    _ => false,
                };
                match (&res, offered) {
                    (Ok(()), true) => tell::<ConversationActor, _>(
                        &act.rt,
                        &act.conv_key(&msg.conversation),
                        OfferChanged { offered: true },
                    ),
                    (Ok(()), false) => {
                        // The conversation left the queue while the offer was being made.
                        tell::<AgentActor, _>(
                            &act.rt,
                            &act.agent_key(&msg.agent),
                            Rescind {
                                conversation: msg.conversation.clone(),
                            },
                        );
                        return Err(CommandError::conflict(
                            "the chat is no longer waiting in this queue",
                        ));
                    }
                    (Err(_), _) => act.dispatch(ctx),
                }
                res
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// For an invitation to the queue (conference, consultation): its available agents with a
/// free slot, the longest ready first. Advisory, like the view it comes from: the agent actor
/// decides.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<Vec<AgentId>, CommandError>")]
pub struct Candidates;

impl Handler<Candidates> for QueueActor {
    type Result = Result<Vec<AgentId>, CommandError>;

    fn handle(&mut self, _: Candidates, _: &mut Self::Context) -> Self::Result {
        let mut free: Vec<(&AgentId, &AgentView)> = self
            .agents
            .iter()
            .filter(|(_, a)| a.eligible && a.free > 0)
            .collect();
        free.sort_by_key(|(id, a)| (a.ready_since, (*id).clone()));
        Ok(free.into_iter().map(|(id, _)| id.clone()).collect())
    }
}

crate::remote_messages!(QueueActor {
    Waiting => Vec<WaitingChat>, "queue.waiting";
    Pick => (), "queue.pick";
    Candidates => Vec<AgentId>, "queue.candidates";
    Admit => (), "queue.admit";
    Enqueue => (), "queue.enqueue";
    Retell => (), "queue.retell";
    Dequeue => (), "queue.dequeue";
    AgentUpdate => Vec<ConversationId>, "queue.agent_update";
    OfferResolved => (), "queue.offer_resolved";
    GetStats => QueueStats, "queue.stats";
});
