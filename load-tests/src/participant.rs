//! What customers and agents do alike: one connection to the run's nodes, requests waiting for
//! their answers (timeouts, `rate_limited` retries), a timer heap, the reconnect storm, and —
//! on a lost connection or the storm — reconnecting with `hello` + `resume` and waiting for
//! every conversation's `resumed` signal. Each event's seq/prev and each message's id are
//! checked the same way for both.
//!
//! A role (`customer.rs`, `agent.rs`) keeps a `Participant` and implements `Role`: what its
//! requests mean, what it does on events, signals and its own timers. `run` drives it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::client::{self, Conn, Reconnected, Recv};
use crate::clock;
use crate::payload::{self, Stamp};
use crate::protocol::{Event, Incoming, Signal};
use crate::requests::{Pending, Requests};
use crate::rng::Rng;
use crate::shared::{flag_set, Shared};
use crate::stats::{inc, record, Tick};
use crate::timers::Timers;
use crate::tracker::ConvTracker;

/// How often pending requests are checked for timeouts.
const SWEEP: Duration = Duration::from_secs(1);
/// Most tries of a request answered `rate_limited` or `unavailable`.
const MAX_TRIES: u32 = 10;

/// Which side of the chat a participant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Customer,
    Agent,
    Supervisor,
}

impl Side {
    /// In notes: "customer: …".
    fn name(self) -> &'static str {
        match self {
            Side::Customer => "customer",
            Side::Agent => "agent",
            Side::Supervisor => "supervisor",
        }
    }

    /// In notes: "goodbye to a customer".
    fn a_name(self) -> &'static str {
        match self {
            Side::Customer => "a customer",
            Side::Agent => "an agent",
            Side::Supervisor => "a supervisor",
        }
    }

    /// Random-stream salt, so that customers and agents with the same index differ.
    fn stream(self) -> u64 {
        match self {
            Side::Customer => 0xC057_0000_0000,
            Side::Agent => 0xA6E0_0000_0000,
            Side::Supervisor => 0x5E50_0000_0000,
        }
    }
}

/// A request a role sends.
pub trait Request {
    /// The command, for error counts and notes.
    fn name(&self) -> &'static str;
    /// A chat message (`send`): counted as resent when sent again.
    fn is_message(&self) -> bool;
}

/// What the timer heap holds: the participant's own timers and the role's actions.
enum Timed<R, A> {
    Sweep,
    Retry(Pending<R>),
    Role(A),
    /// Drop the socket and reconnect (a mid-chat reconnect the role asked for).
    Drop,
}

/// A reconnection waiting for its `resumed` signals.
struct Resuming {
    since: Instant,
    waiting: HashSet<String>,
    storm: bool,
    /// A drop the role asked for (`drop_after`).
    planned: bool,
}

/// A customer message received by an agent, or an agent message by a customer, seen for the
/// first time by this receiver.
pub struct Received {
    pub num: u64,
    pub stamp: Option<Stamp>,
}

/// One simulated client's connection, pending requests and timers; `shared` and `rng` (the
/// client's random stream) serve its role too.
pub struct Participant<R, A> {
    pub shared: Arc<Shared>,
    pub rng: Rng,
    side: Side,
    token: String,
    conn: Conn,
    /// Which node the next (re)connection goes to.
    slot: usize,
    requests: Requests<R>,
    timers: Timers<Timed<R, A>>,
    stop: watch::Receiver<bool>,
    storm: watch::Receiver<bool>,
    /// Chosen for the reconnect storm and not yet reconnected.
    in_storm: bool,
    resuming: Option<Resuming>,
    retry_after: Option<Duration>,
    /// `SWITCHBOARD_LOAD_TRACE` names this side (or `all`): every frame in and out goes to
    /// stderr (debugging a broken threshold).
    trace: Option<String>,
}

/// What woke the participant.
enum Wake {
    Stopped,
    /// The storm struck: reconnect after this delay.
    Storm(Duration),
    Frame(Incoming),
    Closed,
    Due,
}

impl<R: Request, A> Participant<R, A> {
    /// Participant `idx` of `side`, connected by `conn`.
    pub fn new(shared: Arc<Shared>, side: Side, idx: usize, token: String, conn: Conn) -> Self {
        let mut rng = Rng::new(shared.scenario.seed, side.stream() + idx as u64);
        // Only clients already connected when the storm strikes take part in it.
        let storm_struck = *shared.storm.borrow();
        let in_storm = !storm_struck
            && shared.scenario.reconnect.as_ref().is_some_and(|r| {
                rng.chance(match side {
                    Side::Customer => r.customers,
                    Side::Agent | Side::Supervisor => r.agents,
                })
            });
        let stop = match side {
            Side::Customer => shared.stop_customers.subscribe(),
            Side::Agent | Side::Supervisor => shared.stop_agents.subscribe(),
        };
        let mut timers = Timers::default();
        timers.after(SWEEP, Timed::Sweep);
        let trace = std::env::var("SWITCHBOARD_LOAD_TRACE")
            .ok()
            .filter(|t| t.split(',').any(|t| t == "all" || t == side.name()))
            .map(|_| format!("{}{idx}", side.name()));
        Self {
            storm: shared.storm.subscribe(),
            stop,
            shared,
            rng,
            side,
            token,
            conn,
            slot: idx,
            requests: Requests::default(),
            timers,
            in_storm,
            resuming: None,
            retry_after: None,
            trace,
        }
    }

    /// Sends a request; its answer goes to the role's `on_ack` / `on_refused`.
    pub async fn request(&mut self, req: R, command: Value) {
        let frame = self.requests.issue(req, command);
        self.trace(|| format!("out {frame}"));
        // A failed write shows up as a closed connection on the next read.
        self.conn.send(frame).await;
    }

    fn trace(&self, what: impl FnOnce() -> String) {
        if let Some(who) = &self.trace {
            eprintln!(
                "TRACE {} {who} {}",
                crate::clock::unix_nanos() / 1_000_000,
                what()
            );
        }
    }

    /// Schedules one of the role's actions.
    pub fn after(&mut self, delay: Duration, action: A) {
        self.timers.after(delay, Timed::Role(action));
    }

    /// Drops the socket after `delay` and reconnects with `hello` + `resume` (counted as a
    /// mid-chat reconnect).
    pub fn drop_after(&mut self, delay: Duration) {
        self.timers.after(delay, Timed::Drop);
    }

    /// Waits for the run's stop, the storm, a frame, a lost connection or a due timer.
    async fn next(&mut self) -> Wake {
        let wake = self.timers.next_wake();
        tokio::select! {
            biased;
            () = flag_set(&mut self.stop) => Wake::Stopped,
            () = flag_set(&mut self.storm), if self.in_storm => {
                self.in_storm = false;
                self.shared.stats.storm_client();
                let spread = self.shared.scenario.reconnect.as_ref().map_or(0, |r| r.spread_ms);
                Wake::Storm(Duration::from_millis(self.rng.between(0, spread)))
            }
            r = self.conn.recv() => match r {
                Recv::Frame(f) => Wake::Frame(f),
                Recv::Closed => Wake::Closed,
            },
            () = tokio::time::sleep_until(wake.into()) => Wake::Due,
        }
    }

    /// Requests without an answer in time, counted and noted; the sweep is scheduled again.
    fn sweep(&mut self) -> Vec<Pending<R>> {
        let expired = self.requests.expired(self.shared.request_timeout());
        for p in &expired {
            inc(&self.shared.stats.c.request_timeouts);
            self.shared.stats.note(format!(
                "{}: no answer to {}",
                self.side.name(),
                p.req.name()
            ));
        }
        self.timers.after(SWEEP, Timed::Sweep);
        expired
    }

    async fn retry(&mut self, p: Pending<R>) {
        if p.req.is_message() {
            inc(&self.shared.stats.c.messages_resent);
        }
        let frame = self.requests.retry(p);
        self.conn.send(frame).await;
    }

    /// An error reply: counted; a request told "not now" is tried again later, any other is
    /// handed back.
    fn retry_later(&mut self, p: Pending<R>, code: &str, message: &str) -> Option<Pending<R>> {
        self.shared.stats.error(p.req.name(), code, message);
        // Both mean "not now, try again" (PROTOCOL.md, error codes); requests are idempotent,
        // so a retry (same id, same client_msg_id) never doubles an effect. `unavailable` is
        // what a cluster answers while an actor moves off a node that died.
        if matches!(code, "rate_limited" | "unavailable") && p.tries < MAX_TRIES {
            let backoff = Duration::from_millis(100 * u64::from(p.tries));
            self.timers.after(backoff, Timed::Retry(p));
            return None;
        }
        Some(p)
    }

    fn goodbye(&mut self, reason: &str, retry_after_ms: Option<u64>) {
        inc(&self.shared.stats.c.goodbyes);
        self.shared
            .stats
            .note(format!("goodbye to {}: {reason}", self.side.a_name()));
        self.retry_after = retry_after_ms.map(Duration::from_millis);
    }

    /// A `resumed` signal for `conversation`: an unrecovered one is counted (the role starts
    /// that conversation's tracker afresh); the reconnect is whole once every one came.
    pub fn resumed(&mut self, conversation: Option<&str>, recovered: bool) {
        if !recovered {
            inc(&self.shared.stats.c.resume_not_recovered);
        }
        if let (Some(r), Some(c)) = (self.resuming.as_mut(), conversation) {
            r.waiting.remove(c);
        }
        self.check_resumed();
    }

    fn check_resumed(&mut self) {
        if self.resuming.as_ref().is_some_and(|r| r.waiting.is_empty()) {
            if let Some(r) = self.resuming.take() {
                let stats = &self.shared.stats;
                inc(&stats.c.resumed);
                record(&stats.lat.resume, r.since.elapsed());
                if r.storm {
                    stats.storm_client_resumed();
                }
                if r.planned {
                    inc(&stats.c.mid_chat_resumed);
                }
            }
        }
    }

    /// The common start of an agent's or a supervisor's handling of an event: one for a chat it
    /// does not follow (`track` is `None`) is counted as stray and dropped (`false`); else its
    /// order is checked and the audience book learns what this agent (`me`) received.
    pub fn agent_event(
        &self,
        me: &str,
        track: Option<&mut ConvTracker>,
        conversation: &str,
        (seq, prev, epoch): (u64, u64, &str),
        event: &Event,
    ) -> bool {
        let stats = &self.shared.stats;
        let Some(track) = track else {
            inc(&stats.c.stray_events);
            stats.note(format!(
                "{} {me} got event {seq} of {conversation}, which it does not follow",
                self.side.name()
            ));
            return false;
        };
        self.check_event(track, conversation, seq, prev, epoch);
        if let Some(book) = &self.shared.audience {
            book.event(conversation, seq, event);
            if matches!(event.kind.as_str(), "message" | "internal") {
                book.received(
                    conversation,
                    seq,
                    crate::audience::Party::Agent(me.to_string()),
                );
            }
        }
        true
    }

    /// Checks an event's seq and prev against what this receiver saw of `conversation`.
    pub fn check_event(
        &self,
        track: &mut ConvTracker,
        conversation: &str,
        seq: u64,
        prev: u64,
        epoch: &str,
    ) {
        let stats = &self.shared.stats;
        let who = self.side.name();
        let check = track.event(seq, prev, epoch);
        if check.out_of_order {
            inc(&stats.c.out_of_order);
            stats.note(format!(
                "{who}: {conversation} seq {seq} after {} (out of order)",
                track.last_seq()
            ));
        }
        if check.gap {
            inc(&stats.c.gaps);
            stats.note(format!(
                "{who}: {conversation} event {seq} has prev {prev}; a gap"
            ));
        }
    }

    /// A message from the other side: `None` if it is not a load message or this receiver
    /// already had it (a duplicate, noted as `duplicate(num)` says); else counted as delivered
    /// (the first delivery to anyone, with its latency) or replayed.
    pub fn received(
        &self,
        track: &mut ConvTracker,
        event: &Event,
        duplicate: impl FnOnce(u64) -> String,
    ) -> Option<Received> {
        let stats = &self.shared.stats;
        let latency = match self.side {
            Side::Customer => &stats.lat.delivery_agent_to_customer,
            Side::Agent | Side::Supervisor => &stats.lat.delivery_customer_to_agent,
        };
        self.received_as(track, event, Some(latency), duplicate)
    }

    /// `received`, for any message: with `delivery`, this receiver is the message's intended
    /// side (the ledger's delivery, timed into that histogram); without, only the duplicate
    /// check (an agent reading another agent's public message, whose intended side is the
    /// customer).
    pub fn received_as(
        &self,
        track: &mut ConvTracker,
        event: &Event,
        delivery: Option<&std::sync::Mutex<hdrhistogram::Histogram<u64>>>,
        duplicate: impl FnOnce(u64) -> String,
    ) -> Option<Received> {
        let stats = &self.shared.stats;
        let num = event
            .client_msg_id
            .as_deref()
            .and_then(payload::ledger_num)?;
        if !track.message(num) {
            inc(&stats.c.duplicates);
            stats.note(duplicate(num));
            return None;
        }
        let stamp = event.text.as_deref().and_then(payload::parse);
        let Some(latency) = delivery else {
            return Some(Received { num, stamp });
        };
        match self.shared.ledger.delivered(num) {
            Some(true) => {
                inc(&stats.c.messages_delivered);
                stats.tick(Tick::Delivered);
                if let Some(s) = stamp {
                    let took = clock::since(s.sent_nanos);
                    record(latency, took);
                    stats.delivered_slice(took);
                }
            }
            Some(false) => inc(&stats.c.messages_replayed),
            None => {}
        }
        Some(Received { num, stamp })
    }

    /// The ack of a `send` of ledger message `num`.
    pub fn send_acked(&self, num: u64, first_sent: Instant, data: &Value) {
        let stats = &self.shared.stats;
        if self.shared.ledger.acked(num) {
            inc(&stats.c.messages_acked);
            stats.tick(Tick::Acked);
            record(&stats.lat.send_to_ack, first_sent.elapsed());
        }
        if data.get("duplicate").and_then(Value::as_bool) == Some(true) {
            inc(&stats.c.ack_duplicates);
        }
    }
}

/// What a customer or an agent does with what its participant sees.
pub trait Role {
    type Req: Request;
    type Action;

    fn participant(&mut self) -> &mut Participant<Self::Req, Self::Action>;
    /// The role is over: `run` returns.
    fn finished(&self) -> bool;
    /// The run's deadline stopped it.
    fn stopped(&mut self) {}
    /// Every reconnect attempt failed, or the run stopped meanwhile.
    fn gave_up(&mut self);

    /// A timer of the role's came due.
    async fn act(&mut self, action: Self::Action);
    async fn on_ack(&mut self, p: Pending<Self::Req>, data: Value);
    /// An error reply not retried (any code but "not now", or too many tries).
    async fn on_refused(&mut self, p: Pending<Self::Req>, code: &str);
    /// No answer within the request timeout.
    async fn on_timeout(&mut self, p: Pending<Self::Req>);
    async fn on_event(
        &mut self,
        conversation: String,
        seq: u64,
        prev: u64,
        epoch: &str,
        event: Event,
    );
    fn on_signal(&mut self, s: Signal);

    /// The `resume` points of a new connection's `hello`.
    fn resume_points(&self) -> Vec<Value>;
    /// The conversations whose `resumed` signal a new connection waits for, from its hello ack.
    fn to_resume(&mut self, hello: &Value) -> HashSet<String>;
    /// A new connection is up and every pending request sent again.
    async fn reconnected(&mut self) {}
}

/// Runs `role` until it is finished or stopped, then closes its connection.
pub async fn run<T: Role>(role: &mut T) {
    while !role.finished() {
        match role.participant().next().await {
            Wake::Stopped => {
                role.stopped();
                break;
            }
            Wake::Storm(delay) => reconnect(role, delay, true, false).await,
            Wake::Frame(f) => on_frame(role, f).await,
            Wake::Closed => connection_lost(role).await,
            Wake::Due => fire_due(role).await,
        }
    }
    role.participant().conn.close().await;
}

async fn fire_due<T: Role>(role: &mut T) {
    while let Some(timed) = role.participant().timers.pop_due(Instant::now()) {
        match timed {
            Timed::Sweep => {
                for p in role.participant().sweep() {
                    role.on_timeout(p).await;
                }
            }
            Timed::Retry(p) => role.participant().retry(p).await,
            Timed::Role(action) => role.act(action).await,
            Timed::Drop => {
                // One drop at a time: a reconnect already under way carries on.
                if role.participant().resuming.is_none() {
                    inc(&role.participant().shared.stats.c.mid_chat_drops);
                    reconnect(role, Duration::from_millis(50), false, true).await;
                }
            }
        }
    }
}

async fn on_frame<T: Role>(role: &mut T, frame: Incoming) {
    role.participant().trace(|| format!("in {frame:?}"));
    match frame {
        Incoming::Ack { id, data } => {
            if let Some(p) = role.participant().requests.take(id.as_deref()) {
                role.on_ack(p, data.unwrap_or(Value::Null)).await;
            }
        }
        Incoming::Error { id, code, message } => {
            let p = role.participant();
            match p.requests.take(id.as_deref()) {
                Some(pending) => {
                    if let Some(pending) = p.retry_later(pending, &code, &message) {
                        role.on_refused(pending, &code).await;
                    }
                }
                None => p.shared.stats.error("(no request)", &code, &message),
            }
        }
        Incoming::Event {
            conversation,
            seq,
            prev,
            epoch,
            event,
        } => role.on_event(conversation, seq, prev, &epoch, *event).await,
        Incoming::Signal(s) => role.on_signal(s),
        Incoming::Goodbye {
            reason,
            retry_after_ms,
        } => role.participant().goodbye(&reason, retry_after_ms),
    }
}

async fn connection_lost<T: Role>(role: &mut T) {
    if role.finished() {
        return;
    }
    let p = role.participant();
    inc(&p.shared.stats.c.closed_by_server);
    p.shared.stats.note(format!(
        "the server closed {}'s connection",
        p.side.a_name()
    ));
    let delay = p.retry_after.take().unwrap_or(Duration::from_millis(100));
    reconnect(role, delay, false, false).await;
}

/// Drops the socket, waits `delay`, connects again (to the next node) with `resume` points for
/// what the role follows, and sends again whatever was not answered.
async fn reconnect<T: Role>(role: &mut T, delay: Duration, storm: bool, planned: bool) {
    let since = Instant::now();
    let p = role.participant();
    p.trace(|| format!("reconnect (storm {storm}, planned {planned})"));
    inc(&p.shared.stats.c.reconnects);
    p.conn.drop_socket();
    let resume = role.resume_points();
    let p = role.participant();
    let outcome = client::reconnect(
        &p.shared,
        &mut p.slot,
        &p.token,
        &resume,
        delay,
        &mut p.stop,
        p.side.name(),
    )
    .await;
    match outcome {
        Reconnected::Up(conn, data) => {
            role.participant().trace(|| format!("hello ack {data}"));
            let waiting = role.to_resume(&data);
            let p = role.participant();
            p.conn = *conn;
            p.resuming = Some(Resuming {
                since,
                waiting,
                storm,
                planned,
            });
            p.check_resumed();
            let pending = p.requests.resend_all();
            p.conn.resend(pending, |r| r.is_message()).await;
            role.reconnected().await;
        }
        Reconnected::Stopped | Reconnected::GaveUp => role.gave_up(),
    }
}
