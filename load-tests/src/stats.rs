//! Everything the run measures, shared by all simulated clients: counters, latency histograms,
//! per-second throughput, error replies by command and code, and the first few problems in words.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// How many problem descriptions the report keeps.
const MAX_NOTES: usize = 20;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        #[derive(Default)]
        pub struct Counters { $($(#[doc = $doc])* pub $name: AtomicU64,)* }

        /// A snapshot of [`Counters`] (see the field docs there and in the README).
        #[derive(Debug, Clone, Default, Serialize)]
        pub struct CounterValues { $(pub $name: u64,)* }

        impl Counters {
            pub fn values(&self) -> CounterValues {
                CounterValues { $($name: self.$name.load(Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Websocket connections established (TCP + handshake), reconnections included.
    connections_opened,
    /// TCP connect or websocket handshake failed or timed out.
    connections_failed,
    /// The server refused or never answered `hello`.
    hello_failed,
    /// The server closed a connection the client still wanted (or it broke).
    closed_by_server,
    /// `goodbye` frames received (restart, slow consumer).
    goodbyes,
    /// Reconnections (storm, or after a close by the server).
    reconnects,
    /// Reconnected clients whose conversations were all replayed (`resumed`).
    resumed,
    /// Reconnections that failed for good.
    resume_failed,
    /// `resumed` signals with `recovered: false` (log reset; transcript reloaded).
    resume_not_recovered,
    /// Agents signed in and available.
    agents_ready,
    /// Customers spawned by the arrival schedule.
    customers_arrived,
    /// Pre-chat form (POST /v1/orgs/{org}/visitors) failed.
    prechat_failed,
    /// Customers that went through their whole flow.
    customers_finished,
    /// Customers that did not (failed, timed out, or stopped by the run deadline).
    customers_unfinished,
    /// `start` acked: a conversation exists.
    chats_started,
    /// Customers that saw an agent assigned to their chat.
    chats_assigned,
    /// Chats assigned again after a transfer to a queue.
    chats_reassigned,
    /// Customers that gave up waiting for an agent (`assign_timeout_ms`).
    assign_timeouts,
    /// Customers that ended without all replies (`reply_timeout_ms`).
    reply_timeouts,
    /// Chats that hit `max_chat_secs`.
    chat_timeouts,
    /// Customers that saw their chat end.
    chats_ended,
    /// Surveys acked.
    surveys,
    /// Offers received by agents.
    offers,
    offers_accepted,
    offers_rejected,
    /// `offer_ended` signals (expired or rescinded).
    offers_withdrawn,
    /// Transfers the server accepted (to a queue or requested to an agent).
    transfers,
    /// Transfer requests refused (target at capacity, offline, …).
    transfers_failed,
    /// Transfers to an agent that the target accepted.
    transfer_accepts,
    /// Wrap-ups acked.
    wrap_ups,
    /// Messages sent (first attempt; each has a ledger number).
    messages_sent,
    /// The same message sent again (after a reconnect or rate limit).
    messages_resent,
    /// Send acks (first per message).
    messages_acked,
    /// Send acks that said `duplicate: true` (a retry the server recognised).
    ack_duplicates,
    /// Messages delivered to the other side (first delivery of each).
    messages_delivered,
    /// Later deliveries of a message to a new owner (replay after a transfer).
    messages_replayed,
    /// The same message delivered twice to the same receiver.
    duplicates,
    /// Events whose seq did not increase for their receiver and conversation.
    out_of_order,
    /// Events whose `prev` was not the receiver's last seq.
    gaps,
    /// Requests without an answer within `request_timeout_ms`.
    request_timeouts,
    /// Error replies (any code; see `errors` for the breakdown).
    errors,
    /// Frames the client could not parse.
    bad_frames,
    /// Events for a conversation the receiver does not follow.
    stray_events,
    /// `invite` acked: the server logged the invitation (conference / consult).
    invites_sent,
    invites_conference,
    invites_consult,
    /// `invite` refused (any code; `invites_refused_capacity`: the target was full).
    invites_refused,
    invites_refused_capacity,
    /// `invitation` signals received by invitees.
    invitations_received,
    /// Invitees' answers acked: accepted / rejected; and invitations left unanswered.
    invite_accepts,
    invite_rejects,
    invites_ignored,
    /// Answers refused (`expired`: the invitation was gone meanwhile).
    invite_answers_refused,
    /// `invitation_ended` signals by outcome.
    invitation_ended_expired,
    invitation_ended_cancelled,
    /// Conference participants' messages to the customer (`send`).
    conference_messages,
    /// Internal messages sent (consultants, conference participants, owners).
    internal_messages,
    /// Participants that left by themselves (`leave` acked).
    participants_left,
    /// Participants the owner removed (`remove` acked).
    participants_removed,
    /// Owners that left a chat with a conference participant in it (`leave` acked).
    owner_leaves,
    /// `ownership_changed` events naming this agent as the new owner, seen live.
    ownership_passed,
    /// Events a customer received that only agents may see.
    customer_agents_only,
    /// Times an agent's own seat count went past max_chats (once per excursion).
    capacity_violations,
    /// Most seats one agent counted at once.
    seats_peak,
    /// `invite` … `to_queue` acked (also counted in `invites_sent`).
    invites_to_queue,
    /// `consult_convert` acked: to a transfer / to a conference; refused.
    conversions_transfer,
    conversions_conference,
    conversions_refused,
    /// `ownership_changed` naming this agent after its consultation was turned into a transfer.
    converted_owners,
    /// Supervisors: `monitor` acked by mode; refused; `leave` acked; messages as coach
    /// (`internal`) and after barging in (`send`); became owner (then left).
    monitors_observe,
    monitors_coach,
    monitors_barge,
    monitors_refused,
    monitors_left,
    supervisor_internal,
    supervisor_messages,
    supervisor_owned,
    /// Events authored by a supervisor that reached a customer while it was not barged in.
    customer_saw_silent_supervisor,
    /// Sockets dropped on purpose mid-chat (agents, supervisors, customers) and the
    /// reconnects that got every conversation's `resumed` back.
    mid_chat_drops,
    mid_chat_resumed,
    /// After a reconnect: chats the agent was in (owner or participant) that the hello ack
    /// did not list, found still open with it inside by a `resume` (see the README).
    roles_lost,
    /// … and those it had been taken out of meanwhile (`resume` → not_found, or the replay
    /// says so): fine.
    out_while_away,
    /// `[bot]`: webhooks the bot received (every attempt, verified or not), and of the
    /// verified first deliveries, by type.
    bot_webhooks,
    bot_webhooks_started,
    bot_webhooks_message,
    bot_webhooks_handed_over,
    bot_webhooks_ended,
    bot_webhooks_other,
    /// `[bot]`: webhooks whose `webhook-id` the bot had already had.
    bot_duplicate_webhooks,
    /// `[bot]`: webhooks whose signature or timestamp did not verify (answered 401).
    bot_signature_failures,
    /// `[bot]`: webhooks whose seq was not above the last one of their conversation.
    bot_out_of_order,
    /// `[bot]`: requests the bot's server could not read (bad HTTP, bad JSON).
    bot_bad_requests,
    /// `[bot]`: the bot's greetings and answers acked (201), and its REST calls that failed.
    bot_greetings,
    bot_replies,
    bot_requests_failed,
    /// `[bot]`: the bot's handovers acked (200), and those refused (409) or failed.
    handovers,
    handovers_failed,
    /// `[bot]`: customers that saw the bot's greeting; saw `handed_over`; of those, by
    /// someone other than the bot (the server's reply timeout, the customer).
    chats_greeted,
    chats_handed_over,
    handovers_not_by_bot,
    /// `[bot]`: customers that gave up waiting for the greeting, an answer or the handover.
    bot_timeouts,
}

macro_rules! latencies {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        pub struct Latencies { $($(#[doc = $doc])* pub $name: Mutex<Histogram<u64>>,)* }

        impl Default for Latencies {
            fn default() -> Self {
                Self { $($name: Mutex::new(new_histogram()),)* }
            }
        }

        impl Latencies {
            /// (name, histogram) pairs in report order.
            pub fn all(&self) -> Vec<(&'static str, Histogram<u64>)> {
                vec![$((stringify!($name), lock(&self.$name).clone()),)*]
            }
        }
    };
}

latencies! {
    /// Pre-chat form: POST → 201.
    prechat,
    /// TCP connect + websocket handshake + `hello` → ack.
    connect_hello,
    /// Customer sends `start` → an agent receives the offer (first offer of each chat).
    start_to_offer,
    /// Customer sends `start` → the customer sees the `assigned` event.
    start_to_assigned,
    /// Customer message sent → delivered to the agent.
    delivery_customer_to_agent,
    /// Agent message sent → delivered to the customer.
    delivery_agent_to_customer,
    /// Internal message sent → delivered to another agent (first delivery).
    delivery_internal,
    /// `send` → its ack.
    send_to_ack,
    /// Socket dropped → every conversation replayed after reconnecting.
    resume,
    /// `[bot]`: customer sends `start` → the bot's greeting arrives.
    start_to_greeting,
    /// `[bot]`: customer message sent → the bot's answer to it arrives.
    bot_reply,
    /// `[bot]`: the customer message that triggers the handover sent → `handed_over` arrives.
    handover,
    /// `[bot]`: `handed_over` arrives → the `assigned` event arrives.
    handover_to_assigned,
}

/// Microsecond resolution from 1 µs to one hour, 3 significant digits.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

pub fn record(h: &Mutex<Histogram<u64>>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    lock(h).saturating_record(us);
}

/// Per-second counts, to find peaks.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Second {
    pub offers: u32,
    pub delivered: u32,
    pub acked: u32,
}

#[derive(Debug, Clone, Copy)]
pub enum Tick {
    Offer,
    Delivered,
    Acked,
}

pub struct Stats {
    pub started: Instant,
    pub c: Counters,
    pub lat: Latencies,
    seconds: Mutex<Vec<Second>>,
    /// The worst delivery latency (µs) of each 100-ms slice since the run started, by the
    /// slice in which the message was delivered: stalls show up as slices far above the rest.
    slices: Mutex<Vec<u32>>,
    errors: Mutex<BTreeMap<String, u64>>,
    notes: Mutex<Vec<String>>,
    /// Connections open right now, and the most at once.
    open: AtomicI64,
    peak_open: AtomicI64,
    /// Reconnect storm: when it started, and the last `resumed` of a storm client (µs after start).
    storm_at: Mutex<Option<Instant>>,
    storm_clients: AtomicU64,
    storm_resumed: AtomicU64,
    storm_last_resumed_us: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            c: Counters::default(),
            lat: Latencies::default(),
            seconds: Mutex::new(Vec::new()),
            slices: Mutex::new(Vec::new()),
            errors: Mutex::new(BTreeMap::new()),
            notes: Mutex::new(Vec::new()),
            open: AtomicI64::new(0),
            peak_open: AtomicI64::new(0),
            storm_at: Mutex::new(None),
            storm_clients: AtomicU64::new(0),
            storm_resumed: AtomicU64::new(0),
            storm_last_resumed_us: AtomicU64::new(0),
        }
    }
}

/// The reconnect storm's outcome.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StormSummary {
    pub clients: u64,
    pub resumed: u64,
    /// From the storm until the last storm client had every conversation replayed.
    pub all_resumed_secs: Option<f64>,
}

impl Stats {
    pub fn tick(&self, what: Tick) {
        let second = self.started.elapsed().as_secs() as usize;
        let mut s = lock(&self.seconds);
        if s.len() <= second {
            s.resize(second + 1, Second::default());
        }
        let b = &mut s[second];
        match what {
            Tick::Offer => b.offers += 1,
            Tick::Delivered => b.delivered += 1,
            Tick::Acked => b.acked += 1,
        }
    }

    /// A message delivered now, `latency` after it was sent.
    pub fn delivered_slice(&self, latency: Duration) {
        let slice = (self.started.elapsed().as_millis() / 100) as usize;
        let us = u32::try_from(latency.as_micros()).unwrap_or(u32::MAX);
        let mut s = lock(&self.slices);
        if s.len() <= slice {
            s.resize(slice + 1, 0);
        }
        s[slice] = s[slice].max(us);
    }

    pub fn slices(&self) -> Vec<u32> {
        lock(&self.slices).clone()
    }

    pub fn seconds(&self) -> Vec<Second> {
        lock(&self.seconds).clone()
    }

    /// An error reply to `command` with `code`.
    pub fn error(&self, command: &str, code: &str, message: &str) {
        inc(&self.c.errors);
        *lock(&self.errors)
            .entry(format!("{command}:{code}"))
            .or_default() += 1;
        self.note(format!("{command} → {code}: {message}"));
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        lock(&self.errors).clone()
    }

    /// Keeps the first few distinct problem descriptions for the report.
    pub fn note(&self, text: String) {
        let mut notes = lock(&self.notes);
        if notes.len() < MAX_NOTES && !notes.contains(&text) {
            notes.push(text);
        }
    }

    pub fn notes(&self) -> Vec<String> {
        lock(&self.notes).clone()
    }

    pub fn opened(&self) {
        inc(&self.c.connections_opened);
        let now = self.open.fetch_add(1, Relaxed) + 1;
        self.peak_open.fetch_max(now, Relaxed);
    }

    pub fn closed(&self) {
        self.open.fetch_sub(1, Relaxed);
    }

    pub fn open_connections(&self) -> u64 {
        self.open.load(Relaxed).max(0) as u64
    }

    pub fn peak_connections(&self) -> u64 {
        self.peak_open.load(Relaxed).max(0) as u64
    }

    pub fn storm_started(&self) {
        *lock(&self.storm_at) = Some(Instant::now());
    }

    pub fn storm_client(&self) {
        inc(&self.storm_clients);
    }

    pub fn storm_client_resumed(&self) {
        inc(&self.storm_resumed);
        if let Some(at) = *lock(&self.storm_at) {
            let us = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.storm_last_resumed_us.fetch_max(us, Relaxed);
        }
    }

    pub fn storm(&self) -> Option<StormSummary> {
        lock(&self.storm_at).as_ref()?;
        let clients = self.storm_clients.load(Relaxed);
        let resumed = self.storm_resumed.load(Relaxed);
        let last = self.storm_last_resumed_us.load(Relaxed);
        Some(StormSummary {
            clients,
            resumed,
            all_resumed_secs: (clients > 0 && resumed == clients).then_some(last as f64 / 1e6),
        })
    }
}
