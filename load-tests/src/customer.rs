//! A simulated customer: pre-chat form, hello, `start` with a reason, then (once an agent owns
//! the chat) messages at the configured pace, waiting for the agent's replies; then `end` and
//! the survey. In idle mode: pre-chat form and hello, then the connection just stays open.
//!
//! Everything the customer observes is checked on the way: each event's seq and prev (gaps,
//! disorder), each agent message (duplicates, delivery latency, the ledger).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::client::{ids_in, reconnect, Conn, Reconnected, Recv};
use crate::clock;
use crate::http;
use crate::payload;
use crate::protocol::{self, Event, Incoming, Signal};
use crate::requests::{Pending, Requests};
use crate::rng::Rng;
use crate::scenario::Mode;
use crate::shared::{flag_set, Shared};
use crate::stats::{inc, record, Tick};
use crate::timers::Timers;
use crate::tracker::ConvTracker;

/// Every customer's first name; the last name is `C<index>`, so an offer's `customer_name`
/// ("Load C17") tells the agent which customer's start time to measure from.
const FIRST_NAME: &str = "Load";
/// How often pending requests are checked for timeouts.
const SWEEP: Duration = Duration::from_secs(1);
/// Random-stream salt so that customers and agents with the same index differ.
const STREAM: u64 = 0xC057_0000_0000;
/// Most tries of a request answered `rate_limited`.
const MAX_TRIES: u32 = 10;
/// The customer index in an offer's `customer_name`.
pub fn index_from_name(name: &str) -> Option<usize> {
    name.strip_prefix(FIRST_NAME)?
        .trim_start()
        .strip_prefix('C')?
        .parse()
        .ok()
}

/// Runs customer `idx` from arrival to hang-up.
pub async fn run(shared: Arc<Shared>, idx: usize) {
    inc(&shared.stats.c.customers_arrived);
    let token = match prechat(&shared, idx).await {
        Ok(t) => t,
        Err(e) => {
            inc(&shared.stats.c.prechat_failed);
            inc(&shared.stats.c.customers_unfinished);
            shared.stats.note(format!("customer: {e:#}"));
            return;
        }
    };
    let conn = match Conn::establish_first(&shared, idx, &token).await {
        Ok((conn, _)) => conn,
        Err(e) => {
            inc(&shared.stats.c.customers_unfinished);
            shared.stats.note(format!("customer: {e:#}"));
            return;
        }
    };
    match shared.scenario.customers.mode {
        Mode::Idle => idle(shared, conn).await,
        Mode::Chat => Customer::new(shared, idx, token, conn).chat().await,
    }
}

/// The pre-chat form: POST first name, last name, email; 201 with a visitor token.
async fn prechat(shared: &Shared, idx: usize) -> anyhow::Result<String> {
    // A node that cannot be reached at all is skipped, as a load balancer would.
    let nodes = shared.dialer.endpoints.len().max(1);
    for tried in 0..nodes - 1 {
        match prechat_at(shared, idx, idx + tried).await {
            Err(e) if e.to_string() == "connecting" => {
                shared.stats.note(format!("pre-chat form rerouted: {e:#}"));
            }
            other => return other,
        }
    }
    prechat_at(shared, idx, idx + nodes - 1).await
}

async fn prechat_at(shared: &Shared, idx: usize, slot: usize) -> anyhow::Result<String> {
    let node = shared.dialer.endpoint(slot);
    let body = json!({
        "first_name": FIRST_NAME,
        "last_name": format!("C{idx}"),
        "email": format!("c{idx}@load.example.com"),
    })
    .to_string();
    let path = format!("/v1/orgs/{}/visitors", shared.scenario.target.org);
    let began = Instant::now();
    let r = http::request(
        &shared.dialer,
        node,
        "POST",
        &path,
        Some(&body),
        shared.request_timeout(),
    )
    .await?;
    if r.status != 201 {
        bail!("pre-chat form: HTTP {}: {}", r.status, r.body.trim());
    }
    record(&shared.stats.lat.prechat, began.elapsed());
    let v: Value = serde_json::from_str(&r.body).context("pre-chat form: body is not JSON")?;
    v.get("token")
        .and_then(Value::as_str)
        .map(str::to_string)
        .context("pre-chat form: no token in the response")
}

/// Idle mode: hold the connection (the websocket layer answers the server's pings) until told.
async fn idle(shared: Arc<Shared>, mut conn: Conn) {
    let mut release = shared.release_idle.subscribe();
    let mut stop = shared.stop_customers.subscribe();
    let finished = loop {
        tokio::select! {
            () = flag_set(&mut release) => break true,
            () = flag_set(&mut stop) => break false,
            r = conn.recv() => match r {
                Recv::Closed => {
                    inc(&shared.stats.c.closed_by_server);
                    shared.stats.note("idle connection closed by the server".to_string());
                    break false;
                }
                Recv::Frame(Incoming::Goodbye { reason, .. }) => {
                    inc(&shared.stats.c.goodbyes);
                    shared.stats.note(format!("goodbye to an idle customer: {reason}"));
                }
                Recv::Frame(_) => {}
            },
        }
    };
    conn.close().await;
    inc(if finished {
        &shared.stats.c.customers_finished
    } else {
        &shared.stats.c.customers_unfinished
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `start` sent.
    Starting,
    /// Conversation created; no agent yet.
    Waiting,
    /// An agent accepted: messages flow.
    Chatting,
    /// `end` sent.
    Ending,
    /// `survey` sent.
    Surveying,
    Done,
}

enum Req {
    Start,
    Send { num: u64 },
    End,
    Survey,
}

impl Req {
    fn name(&self) -> &'static str {
        match self {
            Req::Start => "start",
            Req::Send { .. } => "send",
            Req::End => "end",
            Req::Survey => "survey",
        }
    }
}

enum Action {
    SendNext,
    AssignTimeout,
    ReplyTimeout,
    ChatTimeout,
    Sweep,
    Retry(Pending<Req>),
}

/// A reconnection waiting for its `resumed` signals.
struct Resuming {
    since: Instant,
    waiting: HashSet<String>,
    storm: bool,
}

struct Customer {
    shared: Arc<Shared>,
    idx: usize,
    rng: Rng,
    token: String,
    conn: Conn,
    /// Which node the next (re)connection goes to.
    slot: usize,
    phase: Phase,
    /// The whole flow went through (assigned, ended, surveyed if enabled).
    completed: bool,
    conversation: Option<String>,
    track: ConvTracker,
    start_sent_nanos: u64,
    /// An agent owns the chat right now (not while it waits in a queue after a transfer).
    owned: bool,
    assigned: bool,
    ended_seen: bool,
    sent: u32,
    failed_sends: u32,
    acked: HashSet<u64>,
    /// Customer messages the agent has answered.
    replies: HashSet<u64>,
    requests: Requests<Req>,
    timers: Timers<Action>,
    stop: watch::Receiver<bool>,
    storm: watch::Receiver<bool>,
    /// Chosen for the reconnect storm and not yet reconnected.
    in_storm: bool,
    resuming: Option<Resuming>,
    retry_after: Option<Duration>,
}

impl Customer {
    fn new(shared: Arc<Shared>, idx: usize, token: String, conn: Conn) -> Self {
        let mut rng = Rng::new(shared.scenario.seed, STREAM + idx as u64);
        // Only clients already connected when the storm strikes take part in it.
        let storm_struck = *shared.storm.borrow();
        let in_storm = !storm_struck
            && shared
                .scenario
                .reconnect
                .as_ref()
                .is_some_and(|r| rng.chance(r.customers));
        Self {
            stop: shared.stop_customers.subscribe(),
            storm: shared.storm.subscribe(),
            shared,
            idx,
            rng,
            token,
            conn,
            slot: idx,
            phase: Phase::Starting,
            completed: false,
            conversation: None,
            track: ConvTracker::default(),
            start_sent_nanos: 0,
            owned: false,
            assigned: false,
            ended_seen: false,
            sent: 0,
            failed_sends: 0,
            acked: HashSet::new(),
            replies: HashSet::new(),
            requests: Requests::default(),
            timers: Timers::default(),
            in_storm,
            resuming: None,
            retry_after: None,
        }
    }

    async fn chat(mut self) {
        let s = &self.shared.scenario.customers;
        let reason = s.reasons[self.rng.index(s.reasons.len())].clone();
        self.timers.after(SWEEP, Action::Sweep);
        self.timers
            .after(Duration::from_secs(s.max_chat_secs), Action::ChatTimeout);
        self.start_sent_nanos = clock::unix_nanos();
        self.shared.starts.started(self.idx, self.start_sent_nanos);
        self.request(Req::Start, protocol::start(&reason)).await;

        while self.phase != Phase::Done {
            let wake = self.timers.next_wake();
            tokio::select! {
                biased;
                () = flag_set(&mut self.stop) => {
                    self.shared.stats.note("customers stopped by the run deadline".to_string());
                    break;
                }
                () = flag_set(&mut self.storm), if self.in_storm => {
                    self.in_storm = false;
                    self.shared.stats.storm_client();
                    let spread = self.shared.scenario.reconnect.as_ref().map_or(0, |r| r.spread_ms);
                    let delay = Duration::from_millis(self.rng.between(0, spread));
                    self.reconnect(delay, true).await;
                }
                r = self.conn.recv() => match r {
                    Recv::Frame(f) => self.on_frame(f).await,
                    Recv::Closed => self.connection_lost().await,
                },
                () = tokio::time::sleep_until(wake.into()) => self.fire_due().await,
            }
        }
        self.conn.close().await;
        let stats = &self.shared.stats;
        inc(if self.completed {
            &stats.c.customers_finished
        } else {
            &stats.c.customers_unfinished
        });
    }

    async fn request(&mut self, req: Req, command: Value) {
        let frame = self.requests.issue(req, command);
        // A failed write shows up as a closed connection on the next read.
        self.conn.send(frame).await;
    }

    async fn fire_due(&mut self) {
        while let Some(action) = self.timers.pop_due(Instant::now()) {
            self.act(action).await;
        }
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::SendNext => self.send_next().await,
            Action::AssignTimeout if self.phase == Phase::Waiting => {
                inc(&self.shared.stats.c.assign_timeouts);
                self.shared
                    .stats
                    .note("a customer gave up waiting for an agent".to_string());
                self.end().await;
            }
            Action::ReplyTimeout if self.phase == Phase::Chatting => {
                inc(&self.shared.stats.c.reply_timeouts);
                self.shared
                    .stats
                    .note("a customer ended without all replies".to_string());
                self.end().await;
            }
            Action::ChatTimeout => match self.phase {
                Phase::Starting | Phase::Done => self.phase = Phase::Done,
                Phase::Waiting | Phase::Chatting => {
                    inc(&self.shared.stats.c.chat_timeouts);
                    self.end().await;
                }
                Phase::Ending | Phase::Surveying => self.phase = Phase::Done,
            },
            Action::Sweep => {
                for p in self.requests.expired(self.shared.request_timeout()) {
                    inc(&self.shared.stats.c.request_timeouts);
                    self.shared
                        .stats
                        .note(format!("customer: no answer to {}", p.req.name()));
                    match p.req {
                        Req::Send { .. } => {
                            self.failed_sends += 1;
                            self.maybe_end().await;
                        }
                        Req::Start | Req::End | Req::Survey => self.phase = Phase::Done,
                    }
                }
                self.timers.after(SWEEP, Action::Sweep);
            }
            Action::Retry(p) => {
                if matches!(p.req, Req::Send { .. }) {
                    inc(&self.shared.stats.c.messages_resent);
                }
                let frame = self.requests.retry(p);
                self.conn.send(frame).await;
            }
            Action::AssignTimeout | Action::ReplyTimeout => {}
        }
    }

    async fn send_next(&mut self) {
        let s = &self.shared.scenario.customers;
        if self.phase != Phase::Chatting || self.sent >= s.messages {
            return;
        }
        let interval = s.message_interval_ms.pick(&mut self.rng);
        if !self.owned {
            // Transferred to a queue: wait for the next agent.
            self.timers.after(interval, Action::SendNext);
            return;
        }
        let Some(conversation) = self.conversation.clone() else {
            return;
        };
        let num = self.shared.ledger.allocate(false);
        let text = payload::compose(None, s.message_bytes);
        let command = protocol::send(&conversation, &payload::client_msg_id(false, num), &text);
        let (messages, reply_timeout) = (s.messages, s.reply_timeout_ms);
        inc(&self.shared.stats.c.messages_sent);
        self.sent += 1;
        self.request(Req::Send { num }, command).await;
        if self.sent < messages {
            self.timers.after(interval, Action::SendNext);
        } else {
            self.timers
                .after(Duration::from_millis(reply_timeout), Action::ReplyTimeout);
        }
    }

    /// Ends the chat once every message is acked and (if agents reply) answered.
    async fn maybe_end(&mut self) {
        if self.phase != Phase::Chatting || self.sent < self.shared.scenario.customers.messages {
            return;
        }
        let settled = self.acked.len() as u32 + self.failed_sends >= self.sent;
        let answered = !self.shared.scenario.agents.reply
            || self.acked.iter().all(|n| self.replies.contains(n));
        if settled && answered {
            self.end().await;
        }
    }

    async fn end(&mut self) {
        let Some(conversation) = self.conversation.clone() else {
            self.phase = Phase::Done;
            return;
        };
        self.phase = Phase::Ending;
        self.request(Req::End, protocol::end(&conversation)).await;
    }

    /// The chat is over (our `end`, or ended by the agent or a timer): survey, or done.
    async fn after_end(&mut self) {
        if !matches!(self.phase, Phase::Waiting | Phase::Chatting | Phase::Ending) {
            return;
        }
        match self.conversation.clone() {
            Some(c) if self.assigned && self.shared.scenario.customers.survey => {
                self.phase = Phase::Surveying;
                let rating = self.rng.between(6, 10) as u8;
                self.request(Req::Survey, protocol::survey(&c, rating))
                    .await;
            }
            _ => {
                self.completed = self.assigned;
                self.phase = Phase::Done;
            }
        }
    }

    async fn on_frame(&mut self, frame: Incoming) {
        match frame {
            Incoming::Ack { id, data } => {
                if let Some(p) = self.requests.take(id.as_deref()) {
                    self.on_ack(p, data.unwrap_or(Value::Null)).await;
                }
            }
            Incoming::Error { id, code, message } => match self.requests.take(id.as_deref()) {
                Some(p) => self.on_error(p, &code, &message).await,
                None => self.shared.stats.error("(no request)", &code, &message),
            },
            Incoming::Event {
                conversation,
                seq,
                prev,
                epoch,
                event,
            } => {
                self.on_event(conversation, seq, prev, &epoch, event).await;
            }
            Incoming::Signal(s) => self.on_signal(s),
            Incoming::Goodbye {
                reason,
                retry_after_ms,
            } => {
                inc(&self.shared.stats.c.goodbyes);
                self.shared
                    .stats
                    .note(format!("goodbye to a customer: {reason}"));
                self.retry_after = retry_after_ms.map(Duration::from_millis);
            }
        }
    }

    async fn on_ack(&mut self, p: Pending<Req>, data: Value) {
        let stats = &self.shared.stats;
        match p.req {
            Req::Start => {
                let Some(c) = data.get("conversation").and_then(Value::as_str) else {
                    stats.note(format!("start ack without a conversation: {data}"));
                    self.phase = Phase::Done;
                    return;
                };
                self.conversation = Some(c.to_string());
                inc(&stats.c.chats_started);
                if self.phase == Phase::Starting {
                    self.phase = if self.assigned {
                        Phase::Chatting
                    } else {
                        Phase::Waiting
                    };
                    let timeout =
                        Duration::from_millis(self.shared.scenario.customers.assign_timeout_ms);
                    self.timers.after(timeout, Action::AssignTimeout);
                    if self.phase == Phase::Chatting {
                        self.schedule_first_message();
                    }
                }
            }
            Req::Send { num } => {
                if self.shared.ledger.acked(num) {
                    inc(&stats.c.messages_acked);
                    stats.tick(Tick::Acked);
                    record(&stats.lat.send_to_ack, p.first_sent.elapsed());
                }
                if data.get("duplicate").and_then(Value::as_bool) == Some(true) {
                    inc(&stats.c.ack_duplicates);
                }
                self.acked.insert(num);
                self.maybe_end().await;
            }
            Req::End => {
                // Acked: the chat is ended in the log, whether or not its `ended` event (which
                // may travel another way in a cluster) arrives before the customer leaves.
                if !self.ended_seen {
                    self.ended_seen = true;
                    inc(&stats.c.chats_ended);
                }
                self.after_end().await
            }
            Req::Survey => {
                inc(&stats.c.surveys);
                self.completed = true;
                self.phase = Phase::Done;
            }
        }
    }

    async fn on_error(&mut self, p: Pending<Req>, code: &str, message: &str) {
        self.shared.stats.error(p.req.name(), code, message);
        // Both mean "not now, try again" (PROTOCOL.md, error codes); requests are idempotent, so a retry
        // (same id, same client_msg_id) never doubles an effect. `unavailable` is what a
        // cluster answers while an actor moves off a node that died.
        if matches!(code, "rate_limited" | "unavailable") && p.tries < MAX_TRIES {
            let backoff = Duration::from_millis(100 * u64::from(p.tries));
            self.timers.after(backoff, Action::Retry(p));
            return;
        }
        match p.req {
            Req::Start => self.phase = Phase::Done,
            Req::Send { .. } => {
                self.failed_sends += 1;
                self.maybe_end().await;
            }
            // Already ended (by the agent or a timer): go on to the survey.
            Req::End if code == "ended" => self.after_end().await,
            Req::End | Req::Survey => self.phase = Phase::Done,
        }
    }

    fn schedule_first_message(&mut self) {
        let interval = self
            .shared
            .scenario
            .customers
            .message_interval_ms
            .pick(&mut self.rng);
        self.timers.after(interval, Action::SendNext);
    }

    async fn on_event(
        &mut self,
        conversation: String,
        seq: u64,
        prev: u64,
        epoch: &str,
        event: Event,
    ) {
        let stats = &self.shared.stats;
        match &self.conversation {
            // Events of the new conversation may come before the start ack.
            None => self.conversation = Some(conversation.clone()),
            Some(c) if *c != conversation => {
                inc(&stats.c.stray_events);
                stats.note(format!(
                    "customer {} got an event of {conversation}, not its {c}",
                    self.idx
                ));
                return;
            }
            Some(_) => {}
        }
        let check = self.track.event(seq, prev, epoch);
        if check.out_of_order {
            inc(&stats.c.out_of_order);
            stats.note(format!(
                "customer: {conversation} seq {seq} after {} (out of order)",
                self.track.last_seq()
            ));
        }
        if check.gap {
            inc(&stats.c.gaps);
            stats.note(format!(
                "customer: {conversation} event {seq} has prev {prev}; a gap"
            ));
        }
        let owner_role = event.role.as_deref() == Some("owner");
        match event.kind.as_str() {
            "assigned" => {
                if self.assigned {
                    inc(&stats.c.chats_reassigned);
                } else {
                    self.assigned = true;
                    inc(&stats.c.chats_assigned);
                    record(
                        &stats.lat.start_to_assigned,
                        clock::since(self.start_sent_nanos),
                    );
                }
                self.owned = true;
                if self.phase == Phase::Waiting {
                    self.phase = Phase::Chatting;
                    self.schedule_first_message();
                }
            }
            "participant_joined" if owner_role => self.owned = true,
            "participant_left" if owner_role => self.owned = false,
            "message" if event.author.role == "agent" => self.on_agent_message(&event).await,
            "ended" => {
                if !self.ended_seen {
                    self.ended_seen = true;
                    inc(&stats.c.chats_ended);
                }
                if matches!(self.phase, Phase::Waiting | Phase::Chatting) {
                    self.after_end().await;
                }
            }
            _ => {}
        }
    }

    async fn on_agent_message(&mut self, event: &Event) {
        let stats = &self.shared.stats;
        let Some(num) = event.client_msg_id.as_deref().and_then(payload::ledger_num) else {
            return;
        };
        if !self.track.message(num) {
            inc(&stats.c.duplicates);
            stats.note(format!(
                "customer {} got agent message a{num} twice",
                self.idx
            ));
            return;
        }
        let stamp = event.text.as_deref().and_then(payload::parse);
        match self.shared.ledger.delivered(num) {
            Some(true) => {
                inc(&stats.c.messages_delivered);
                stats.tick(Tick::Delivered);
                if let Some(s) = stamp {
                    record(
                        &stats.lat.delivery_agent_to_customer,
                        clock::since(s.sent_nanos),
                    );
                }
            }
            Some(false) => inc(&stats.c.messages_replayed),
            None => {}
        }
        if let Some(to) = stamp.and_then(|s| s.reply_to) {
            self.replies.insert(to);
            self.maybe_end().await;
        }
    }

    fn on_signal(&mut self, s: Signal) {
        if s.signal != "resumed" {
            return;
        }
        if s.recovered == Some(false) {
            inc(&self.shared.stats.c.resume_not_recovered);
            self.track = ConvTracker::default();
        }
        if let (Some(r), Some(c)) = (self.resuming.as_mut(), s.conversation.as_deref()) {
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
            }
        }
    }

    async fn connection_lost(&mut self) {
        if self.phase == Phase::Done {
            return;
        }
        inc(&self.shared.stats.c.closed_by_server);
        self.shared
            .stats
            .note("the server closed a customer's connection".to_string());
        let delay = self
            .retry_after
            .take()
            .unwrap_or(Duration::from_millis(100));
        self.reconnect(delay, false).await;
    }

    /// Drops the socket, waits `delay`, connects again with `resume`, and sends again whatever
    /// was not answered.
    async fn reconnect(&mut self, delay: Duration, storm: bool) {
        let since = Instant::now();
        inc(&self.shared.stats.c.reconnects);
        self.conn.drop_socket();
        let resume: Vec<Value> = self
            .conversation
            .iter()
            .map(|c| protocol::resume_point(c, self.track.last_seq(), self.track.epoch()))
            .collect();
        match reconnect(
            &self.shared,
            &mut self.slot,
            &self.token,
            &resume,
            delay,
            &mut self.stop,
            "customer",
        )
        .await
        {
            Reconnected::Up(conn, data) => {
                self.conn = *conn;
                let mut open = ids_in(&data, "conversations");
                open.retain(|c| self.conversation.as_deref() == Some(c.as_str()));
                self.resuming = Some(Resuming {
                    since,
                    waiting: open,
                    storm,
                });
                self.check_resumed();
                let pending = self.requests.resend_all();
                self.conn
                    .resend(pending, |r| matches!(r, Req::Send { .. }))
                    .await;
            }
            Reconnected::Stopped | Reconnected::GaveUp => self.phase = Phase::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_from_offer_name() {
        assert_eq!(index_from_name("Load C17"), Some(17));
        assert_eq!(index_from_name("Ada L"), None);
    }
}
