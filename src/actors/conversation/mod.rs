//! The conversation actor: single writer of one conversation's log and state.
//!
//! Every change is an append to the engine's log followed by [`ConversationActor::apply`], which
//! folds the event into the state, publishes it to the hub, updates the summary and (re)arms the
//! conversation's timers. Handlers that append use `AtomicResponse`, so the actor handles nothing
//! else until the append has returned: events are applied in log order, and the state a handler
//! validated against is the state its append applies to.

//!
//! The handlers, by concern: `access.rs` (who may do what, and which audience a follower is),
//! `lifecycle.rs` (create, continue, end, survey, wrap-up), `messaging.rs` (messages, typing,
//! read receipts, notes), `assignment.rs` (the queue's offers and the agent's acceptance),
//! `transfer.rs` (to an agent or a queue), `participants.rs` (conference, consultation,
//! monitoring, the internal discussion), `outbound.rs` (chats an agent starts), `push.rs`
//! (pushed URLs, the customer's typing preview), `timers.rs` (what each deadline does), `bot.rs`
//! (a bot-first chat's bot writes and handover) and `bot_feed.rs` (its webhooks to the bot).

mod access;
mod assignment;
mod bot;
mod bot_feed;
mod files;
mod lifecycle;
mod messaging;
mod outbound;
mod participants;
mod push;
mod summary;
mod tickets;
mod timers;
mod transfer;

pub use access::{Access, Who};
pub use assignment::{Assign, OfferChanged};
pub use bot::{BotEnd, BotPost, BotRef, BotTyping, Handover, HandoverOutcome};
pub use files::MayUpload;
pub use lifecycle::{Continue, Crash, Create, End, Survey, WrapUp};
pub use messaging::{message_text, MarkRead, Note, Post, Typing};
pub use outbound::{CreateInternal, CreateOutbound};
pub use participants::{
    AnswerInvite, ConvertConsult, Invite, InviteTarget, Leave, Monitor, PostInternal, Remove,
};
pub use push::PushUrl;
pub use tickets::{LinkTicket, RequestTicket};
pub use timers::TimerFired;
pub use transfer::{AnswerTransfer, RequestTransfer, TransferToQueue};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::timers::TimerTarget;
use crate::actors::route::{LeaseLost, Wake};
use crate::actors::Rt;
use crate::domain::conversation::{ConversationState, Status, TimerKind};
use crate::domain::org::OrgConfig;
use crate::engine::{ActorRef, Appended, ConversationSummary, EngineError, Fence, NewEvent};
use crate::engine::{DedupMap, SnapshotWriter};
use crate::hub::Audience;
use crate::hub::EventDelivery;
use crate::ids::{AgentId, AgentKey, ConvKey, QueueId, QueueKey};
use crate::protocol::{Author, AuthorRole, CommandError, EventKind, LogEvent};

/// How long a finished (or unknown) conversation's actor stays in memory without traffic.
const PASSIVATE_AFTER: Duration = Duration::from_secs(30);
/// Summaries of busy conversations are written at most this often (status changes: at once).
const SUMMARY_FLUSH: Duration = Duration::from_secs(1);
/// Log pages read while rebuilding.
const LOAD_PAGE: usize = 1000;

/// An event to append, without a dedup key.
fn event(author: Author, kind: EventKind) -> NewEvent {
    NewEvent {
        author,
        kind,
        dedup_key: None,
    }
}

impl ConversationActor {
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
}

crate::remote_messages!(ConversationActor {
    Create => u64, "conv.create";
    CreateOutbound => u64, "conv.create_outbound";
    CreateInternal => u64, "conv.create_internal";
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
    Invite => u64, "conv.invite";
    AnswerInvite => (), "conv.answer_invite";
    Remove => u64, "conv.remove";
    Leave => u64, "conv.leave";
    ConvertConsult => u64, "conv.convert_consult";
    Monitor => u64, "conv.monitor";
    PostInternal => (u64, bool), "conv.internal";
    PushUrl => (u64, bool), "conv.push_url";
    BotPost => (u64, bool), "conv.bot_post";
    BotTyping => (), "conv.bot_typing";
    BotEnd => u64, "conv.bot_end";
    Handover => HandoverOutcome, "conv.handover";
    RequestTicket => u64, "conv.request_ticket";
    LinkTicket => (u64, bool), "conv.link_ticket";
    Access => Audience, "conv.access";
    MayUpload => (), "conv.may_upload";
    TimerFired => (), "conv.timer";
    Crash => (), "conv.crash";
});

pub type Reply<T> = AtomicResponse<ConversationActor, Result<T, CommandError>>;

pub(crate) fn reply<T: 'static>(result: Result<T, CommandError>) -> Reply<T> {
    AtomicResponse::new(Box::pin(fut::ready(result)))
}

enum Load {
    Loading,
    /// The log has events (or the conversation was just created here).
    Exists,
    /// No log: the id is unknown (or not yet created).
    Missing,
    Failed(String),
}

pub struct ConversationActor {
    pub(crate) rt: Rt,
    pub(crate) key: ConvKey,
    pub(crate) state: ConversationState,
    load: Load,
    pub(crate) epoch: Arc<str>,
    pub(crate) fence: Fence,
    /// Client message dedup keys → seq, so a retry is answered even after the chat ended.
    pub(crate) dedup: DedupMap,
    /// Earliest wake-up asked of the timer supervisor, per kind.
    armed: HashMap<TimerKind, DateTime<Utc>>,
    /// An assignment offer is out (status `assigning`); live state, not logged.
    pub(crate) offered: bool,
    /// Highest read receipt logged for (the customer, the agents).
    pub(crate) last_read: (u64, u64),
    summary_dirty: bool,
    /// Whether a summary was ever written by this activation (the first one goes out at once).
    summary_written: bool,
    summary_flush: Option<SpawnHandle>,
    /// Writes summaries one at a time, newest last (started on the first write).
    summaries: Option<SnapshotWriter<ConversationSummary>>,
    /// The version of the last summary handed to `summaries`.
    summary_version: u64,
    passivation: Option<SpawnHandle>,
    /// The status last counted in the metrics gauge.
    counted: Option<Status>,
    /// This activation lost its lease: it writes nothing more.
    fenced: bool,
    /// The customer's typing preview on its way to the agents (live only).
    preview: push::PreviewThrottle,
    /// The bot's typing indicator, turned off by itself when it runs out (live only).
    bot_typing: Option<SpawnHandle>,
    /// Bot-phase events not yet acknowledged by the bot.
    bot_feed: bot_feed::Feed,
}

impl ConversationActor {
    /// `epoch`: the fencing epoch of this node's lease on the conversation (1 without a cluster).
    pub fn new(rt: Rt, key: ConvKey, epoch: u64) -> Self {
        Self {
            rt,
            key,
            state: ConversationState::default(),
            load: Load::Loading,
            epoch: Arc::from(""),
            fence: Fence { epoch },
            dedup: DedupMap::new(),
            armed: HashMap::new(),
            offered: false,
            last_read: (0, 0),
            summary_dirty: false,
            summary_written: false,
            summary_flush: None,
            summaries: None,
            summary_version: 0,
            passivation: None,
            counted: None,
            fenced: false,
            preview: push::PreviewThrottle::default(),
            bot_typing: None,
            bot_feed: bot_feed::Feed::default(),
        }
    }

    pub(crate) fn org(&self) -> Option<Arc<OrgConfig>> {
        self.rt.orgs.get(&self.key.org)
    }

    /// The status as clients see it: `waiting` with an offer out is `assigning`.
    pub(crate) fn status(&self) -> Status {
        if self.state.status == Status::Waiting && self.offered {
            Status::Assigning
        } else {
            self.state.status
        }
    }

    /// Refuses commands until the log is loaded, and for conversations that do not exist.
    pub(crate) fn ready(&self) -> Result<(), CommandError> {
        match &self.load {
            Load::Exists => Ok(()),
            Load::Missing => Err(CommandError::not_found("conversation")),
            Load::Loading => Err(CommandError::unavailable("conversation is loading; retry")),
            Load::Failed(m) => Err(CommandError::unavailable(m.clone())),
        }
    }

    pub(crate) fn exists(&self) -> bool {
        matches!(self.load, Load::Exists)
    }

    pub(crate) fn mark_created(&mut self) {
        self.load = Load::Exists;
    }

    /// Appends one client event that carries a dedup key (a `client_msg_id`): answers its seq and
    /// whether the log already had it.
    pub(crate) fn append_keyed(&mut self, new: NewEvent) -> Reply<(u64, bool)> {
        let fut = self.append(vec![new]).map(|res, _, _| {
            let a = res?
                .into_iter()
                .next()
                .ok_or_else(|| CommandError::internal("empty append"))?;
            Ok((a.event.seq, a.duplicate))
        });
        AtomicResponse::new(Box::pin(fut))
    }

    /// Appends events; on success applies each new one. Duplicates are returned, not applied.
    pub(crate) fn append(
        &mut self,
        events: Vec<NewEvent>,
    ) -> impl ActorFuture<Self, Output = Result<Vec<Appended>, CommandError>> {
        // The handlers that append are atomic (see the module's notes), so no other append
        // lands between this one and its apply: the batch follows this public seq.
        let prev_public = self.state.last_public_seq;
        self.rt
            .engine
            .append(&self.key, self.fence, prev_public, events)
            .into_actor(self)
            .then(move |res, act, ctx| {
                let summary_before = act.summary_version;
                let result = match res {
                    Ok(appended) => {
                        if act.state.last_public_seq != prev_public {
                            tracing::warn!(conversation = %act.key.id, "An append overlapped another; other nodes' customers may resume to fill a gap.");
                        }
                        if let Some(first) = appended.first() {
                            act.epoch = first.epoch.clone();
                        }
                        for a in &appended {
                            if !a.duplicate {
                                act.apply(&a.event, ctx);
                            }
                        }
                        Ok(appended)
                    }
                    Err(EngineError::Fenced { ours }) => {
                        tracing::warn!(conversation = %act.key.id, ours, "Fenced; stopping this activation.");
                        act.fenced = true;
                        ctx.stop();
                        Err(CommandError::from(EngineError::Fenced { ours }))
                    }
                    Err(e) => Err(e.into()),
                };
                // A change of status is readable through REST (by id, customer, case id …)
                // once its command is acknowledged. The event itself is already durable, so a
                // summary write that does not finish in time does not fail the command.
                let stored = (act.summary_version != summary_before)
                    .then(|| act.summary_stored())
                    .flatten();
                fut::wrap_future(async move {
                    if let Some(stored) = stored {
                        let _ = stored.await;
                    }
                    result
                })
            })
    }

    /// Folds one event into the state and tells everyone who needs to know.
    fn apply(&mut self, event: &Arc<LogEvent>, ctx: &mut Context<Self>) {
        let before = self.status();
        let owner_before = self.state.owner.clone();
        let prev_public = self.state.last_public_seq;
        let responded = self.state.first_response_at;
        self.state.apply(event);
        // Applied live (not rebuilt from the log), so each conversation is counted once.
        if let (None, Some(response), Some(first)) = (
            responded,
            self.state.first_response_at,
            self.state.first_customer_message_at,
        ) {
            let waited = (response - first).to_std().unwrap_or_default();
            crate::metrics::Metrics::observe(&self.rt.metrics.first_response, waited);
        }
        if let Some(key) = event_dedup_key(event) {
            self.dedup.insert(key, event.seq);
        }
        let delivery = EventDelivery::new(&self.key.id, &self.epoch, event, prev_public);
        self.rt.hub.publish(&self.key, Arc::new(delivery));
        if self.state.bot.is_some() {
            self.feed_bot(before, event, ctx);
        }
        // The org's document, read once for the webhooks and the timers.
        let org = self.org();
        if let (false, Some(org)) = (self.fenced, &org) {
            self.rt
                .webhooks
                .offer(org, &self.key.id, std::slice::from_ref(event));
        }
        // A new status, owner or ticket is readable through REST once its command is
        // acknowledged.
        let linked = matches!(event.kind, EventKind::TicketLinked { .. });
        if self.status() != before
            || self.state.owner != owner_before
            || !self.summary_written
            || linked
        {
            self.write_summary_now();
        } else {
            self.summary_dirty = true;
            self.schedule_summary_flush(ctx);
        }
        // A finished conversation goes to the archive, and so does every later event of it
        // (a survey answered after the wrap-up). This only hands it over: it never waits.
        if self.state.status == Status::Done && !self.fenced {
            if let Some(summary) = self.summary() {
                self.rt.archiver.submit(summary);
            }
        }
        self.recount();
        if let Some(org) = &org {
            self.arm_timers_for(org);
        }
        self.schedule_passivation(ctx);
    }

    /// Keeps the node's conversations-by-state gauge in step.
    pub(crate) fn recount(&mut self) {
        let now = self.exists().then(|| self.status());
        self.rt.metrics.transition(self.counted, now);
        self.counted = now;
    }

    /// Asks the timer supervisor for the earliest deadline of each kind, if it is earlier than
    /// what is already asked for. A later deadline needs no message: the early wake-up re-checks.
    pub(crate) fn arm_timers(&mut self) {
        if let Some(org) = self.org() {
            self.arm_timers_for(&org);
        }
    }

    fn arm_timers_for(&mut self, org: &OrgConfig) {
        for kind in TimerKind::ALL {
            let Some(at) = self.state.deadline(kind, &org.settings) else {
                // No deadline any more (the chat moved on, or is done): an armed wake-up would
                // only find nothing due, hours later for the auto-complete timers, and keep its
                // entry in the supervisor meanwhile; it is cancelled instead.
                if self.armed.remove(&kind).is_some() {
                    self.rt
                        .timers
                        .cancel(TimerTarget::Conversation(self.key.clone(), kind));
                }
                continue;
            };
            if self.armed.get(&kind).is_some_and(|armed| *armed <= at) {
                continue;
            }
            self.armed.insert(kind, at);
            self.rt
                .timers
                .schedule(TimerTarget::Conversation(self.key.clone(), kind), at);
        }
    }

    /// A wake-up arrived: is the timer really due? Re-arms it when it moved later.
    pub(crate) fn timer_due(&mut self, kind: TimerKind) -> bool {
        self.armed.remove(&kind);
        let Some(org) = self.org() else { return false };
        match self.state.deadline(kind, &org.settings) {
            Some(at) if at <= Utc::now() + chrono::Duration::milliseconds(5) => true,
            Some(_) => {
                self.arm_timers();
                false
            }
            None => false,
        }
    }

    /// Finished and unknown conversations leave memory after a quiet period.
    pub(crate) fn schedule_passivation(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.passivation.take() {
            ctx.cancel_future(h);
        }
        let idle = match self.load {
            Load::Missing | Load::Failed(_) => true,
            Load::Exists => self.state.status == Status::Done,
            Load::Loading => false,
        };
        if idle {
            self.passivation = Some(ctx.run_later(PASSIVATE_AFTER, |act, ctx| {
                act.passivation = None;
                ctx.stop();
            }));
        }
    }
}

impl ConversationActor {
    /// After a rebuild: the events of the last `webhooks.replay_window_ms` are offered to the
    /// org's webhooks again — the previous activation's node may have died between an append
    /// and its webhook rows (the outbox ignores what it already has).
    fn replay_webhooks(&self, events: &[Arc<LogEvent>]) {
        let Some(org) = self.org() else { return };
        let window = chrono::Duration::milliseconds(
            i64::try_from(self.rt.webhooks.settings().replay_window_ms).unwrap_or(i64::MAX),
        );
        let since = Utc::now() - window;
        let start = events.partition_point(|e| e.at < since);
        self.rt.webhooks.offer(&org, &self.key.id, &events[start..]);
    }
}

pub(crate) fn dedup_key(role: &AuthorRole, author: Option<&str>, client_msg_id: &str) -> String {
    let r = match role {
        AuthorRole::Customer => "c",
        AuthorRole::Agent => "a",
        AuthorRole::System => "s",
        AuthorRole::Bot => "b",
    };
    format!("{r}:{}:{client_msg_id}", author.unwrap_or(""))
}

/// The dedup key a logged message answers retries under (internal-discussion messages have
/// their own namespace, so a `client_msg_id` reused across the two threads is not a retry).
pub(crate) fn event_dedup_key(event: &LogEvent) -> Option<String> {
    let author = (&event.author.role, event.author.id.as_deref());
    match &event.kind {
        EventKind::Message { client_msg_id, .. } => {
            Some(dedup_key(author.0, author.1, client_msg_id))
        }
        EventKind::Internal { client_msg_id, .. } => {
            Some(format!("i{}", dedup_key(author.0, author.1, client_msg_id)))
        }
        _ => None,
    }
}

/// Reads the whole log, page by page.
async fn load_log(
    rt: Rt,
    key: ConvKey,
) -> Result<Option<(Arc<str>, Vec<Arc<LogEvent>>)>, EngineError> {
    let whole = crate::engine::read_all(rt.engine.as_ref(), &key, LOAD_PAGE).await?;
    Ok(whole.map(|w| (w.epoch, w.events)))
}

impl Actor for ConversationActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        let fut = load_log(self.rt.clone(), self.key.clone());
        ctx.wait(fut.into_actor(self).map(|res, act, ctx| {
            match res {
                Ok(Some((epoch, events))) if !events.is_empty() => {
                    act.epoch = epoch;
                    act.state = ConversationState::from_log(events.iter().map(|e| e.as_ref()));
                    for e in &events {
                        match &e.kind {
                            EventKind::Message { .. } | EventKind::Internal { .. } => {
                                if let Some(key) = event_dedup_key(e) {
                                    act.dedup.insert(key, e.seq);
                                }
                            }
                            EventKind::Read { up_to } if e.author.role == AuthorRole::Customer => {
                                act.last_read.0 = act.last_read.0.max(*up_to);
                            }
                            EventKind::Read { up_to } => act.last_read.1 = act.last_read.1.max(*up_to),
                            _ => {}
                        }
                    }
                    act.load = Load::Exists;
                    act.recount();
                    act.arm_timers();
                    act.after_rebuild();
                    act.refeed_bot(&events, ctx);
                    act.replay_webhooks(&events);
                    if act.rt.placement.clustered() {
                        act.rt.hub.resync(&act.key);
                    }
                    tracing::debug!(conversation = %act.key.id, seq = act.state.last_seq, "Conversation rebuilt from its log.");
                }
                Ok(_) => act.load = Load::Missing,
                Err(e) => {
                    tracing::warn!(conversation = %act.key.id, %e, "Could not load the conversation log.");
                    act.load = Load::Failed(e.to_string());
                }
            }
            act.schedule_passivation(ctx);
        }));
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        if std::thread::panicking() {
            // Unwinding from a handler's panic: the next lookup starts a fresh activation,
            // which rebuilds from the log.
            crate::metrics::Metrics::inc(&self.rt.metrics.actor_restarts);
            tracing::error!(conversation = %self.key.id, "Conversation actor panicked; it will be rebuilt from its log.");
        }
        self.rt.forget_conversation(&self.key, &ctx.address());
        if self.summary_dirty && !self.fenced {
            self.write_summary_now();
        }
        self.rt
            .placement
            .release(&ActorRef::Conversation(self.key.clone()), self.fence.epoch);
        self.rt.metrics.transition(self.counted, None);
        self.counted = None;
    }
}

impl Handler<LeaseLost> for ConversationActor {
    type Result = ();

    fn handle(&mut self, _: LeaseLost, ctx: &mut Self::Context) {
        tracing::info!(conversation = %self.key.id, "Lease lost; this activation stops.");
        self.fenced = true;
        ctx.stop();
    }
}

impl Handler<Wake> for ConversationActor {
    type Result = Result<(), CommandError>;

    /// Activation did the work: the log is loaded and the timers are armed.
    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) -> Self::Result {
        self.schedule_passivation(ctx);
        Ok(())
    }
}
