//! A simulated agent: signs in with a minted token, goes available, answers offers after a think
//! time (accepting or, by ratio, rejecting), replies to every customer message, transfers a
//! share of its chats, and wraps chats up when they end.
//!
//! After a transfer the new owner gets the whole log replayed; it answers the customer messages
//! that have no reply yet (a reply names the message it answers, see `payload.rs`), so that no
//! customer waits forever because its chat changed hands.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::client::{ids_in, reconnect, Conn, Reconnected, Recv};
use crate::clock;
use crate::customer;
use crate::payload;
use crate::protocol::{self, Event, Incoming, Signal};
use crate::requests::{Pending, Requests};
use crate::rng::Rng;
use crate::scenario::TransferTo;
use crate::shared::{flag_set, Shared};
use crate::stats::{inc, record, Tick};
use crate::timers::Timers;
use crate::token;
use crate::tracker::ConvTracker;

const SWEEP: Duration = Duration::from_secs(1);
const STREAM: u64 = 0xA6E0_0000_0000;
const MAX_TRIES: u32 = 10;

/// Agent ids for a run: `<prefix><n>`, n from 1.
pub fn ids(prefix: &str, count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("{prefix}{n}")).collect()
}

/// Runs agent `idx` until the run tells agents to stop.
pub async fn run(shared: Arc<Shared>, idx: usize) {
    let id = shared.agent_ids[idx].clone();
    let name = format!("Load Agent {}", idx + 1);
    let s = &shared.scenario;
    let ttl = s.run.timeout_secs + 3600;
    let token = match token::agent(&s.target, &id, &name, &s.agents.queues, ttl) {
        Ok(t) => t,
        Err(e) => {
            shared.stats.note(format!("agent sign-in: {e:#}"));
            return;
        }
    };
    let conn = match Conn::establish_first(&shared, idx, &token).await {
        Ok((conn, _)) => conn,
        Err(e) => {
            shared.stats.note(format!("agent sign-in: {e:#}"));
            return;
        }
    };
    let mut agent = Agent::new(shared, idx, id, token, conn);
    agent.go_available(true).await;
    agent.serve().await;
}

enum Req {
    /// `initial`: the first time (counts the agent as ready).
    Status {
        initial: bool,
    },
    Accept,
    Reject,
    Send {
        num: u64,
    },
    Transfer {
        conversation: String,
    },
    TransferAccept,
    WrapUp,
}

impl Req {
    fn name(&self) -> &'static str {
        match self {
            Req::Status { .. } => "status",
            Req::Accept => "accept",
            Req::Reject => "reject",
            Req::Send { .. } => "send",
            Req::Transfer { .. } => "transfer",
            Req::TransferAccept => "transfer_accept",
            Req::WrapUp => "wrap_up",
        }
    }
}

enum Action {
    Answer { conversation: String, accept: bool },
    Reply { conversation: String, to: u64 },
    WrapUp { conversation: String },
    TransferAccept { conversation: String },
    Sweep,
    Retry(Pending<Req>),
}

/// What the agent knows of one chat it follows.
struct Chat {
    track: ConvTracker,
    /// Customer messages without a reply yet (by ledger number).
    unanswered: BTreeSet<u64>,
    customer_messages: u32,
    /// Transfers in the log (the replay after a transfer includes earlier ones).
    transfers: u32,
    will_transfer: bool,
    transfer_sent: bool,
    ended: bool,
}

impl Chat {
    fn new(will_transfer: bool) -> Self {
        Self {
            track: ConvTracker::default(),
            unanswered: BTreeSet::new(),
            customer_messages: 0,
            transfers: 0,
            will_transfer,
            transfer_sent: false,
            ended: false,
        }
    }
}

struct Resuming {
    since: Instant,
    waiting: HashSet<String>,
    storm: bool,
}

struct Agent {
    shared: Arc<Shared>,
    id: String,
    token: String,
    rng: Rng,
    conn: Conn,
    slot: usize,
    ready: bool,
    /// Gave up reconnecting.
    gone: bool,
    chats: HashMap<String, Chat>,
    requests: Requests<Req>,
    timers: Timers<Action>,
    stop: watch::Receiver<bool>,
    storm: watch::Receiver<bool>,
    in_storm: bool,
    resuming: Option<Resuming>,
    retry_after: Option<Duration>,
}

impl Agent {
    fn new(shared: Arc<Shared>, idx: usize, id: String, token: String, conn: Conn) -> Self {
        let mut rng = Rng::new(shared.scenario.seed, STREAM + idx as u64);
        // Only clients already connected when the storm strikes take part in it.
        let storm_struck = *shared.storm.borrow();
        let in_storm = !storm_struck
            && shared
                .scenario
                .reconnect
                .as_ref()
                .is_some_and(|r| rng.chance(r.agents));
        Self {
            stop: shared.stop_agents.subscribe(),
            storm: shared.storm.subscribe(),
            shared,
            id,
            token,
            rng,
            conn,
            slot: idx,
            ready: false,
            gone: false,
            chats: HashMap::new(),
            requests: Requests::default(),
            timers: Timers::default(),
            in_storm,
            resuming: None,
            retry_after: None,
        }
    }

    async fn go_available(&mut self, initial: bool) {
        self.request(Req::Status { initial }, protocol::status_available())
            .await;
    }

    async fn serve(&mut self) {
        self.timers.after(SWEEP, Action::Sweep);
        while !self.gone {
            let wake = self.timers.next_wake();
            tokio::select! {
                biased;
                () = flag_set(&mut self.stop) => break,
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
    }

    async fn request(&mut self, req: Req, command: Value) {
        let frame = self.requests.issue(req, command);
        self.conn.send(frame).await;
    }

    async fn fire_due(&mut self) {
        while let Some(action) = self.timers.pop_due(Instant::now()) {
            self.act(action).await;
        }
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::Answer {
                conversation,
                accept,
            } => {
                let (req, kind) = if accept {
                    (Req::Accept, "accept")
                } else {
                    (Req::Reject, "reject")
                };
                self.request(req, protocol::on_conversation(kind, &conversation))
                    .await;
            }
            Action::Reply { conversation, to } => self.reply(conversation, to).await,
            Action::WrapUp { conversation } => {
                let disposition = self.shared.scenario.agents.disposition.clone();
                self.request(
                    Req::WrapUp,
                    protocol::wrap_up(&conversation, disposition.as_deref()),
                )
                .await;
            }
            Action::TransferAccept { conversation } => {
                self.request(
                    Req::TransferAccept,
                    protocol::on_conversation("transfer_accept", &conversation),
                )
                .await;
            }
            Action::Sweep => {
                for p in self.requests.expired(self.shared.request_timeout()) {
                    inc(&self.shared.stats.c.request_timeouts);
                    self.shared
                        .stats
                        .note(format!("agent: no answer to {}", p.req.name()));
                    if matches!(p.req, Req::WrapUp) {
                        self.shared.agent_work.fetch_sub(1, Relaxed);
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
        }
    }

    /// Answers customer message `to` unless it was answered meanwhile (by us or, seen in a
    /// replay, by a previous owner); then transfers the chat if it is one of those to transfer.
    async fn reply(&mut self, conversation: String, to: u64) {
        let shared = self.shared.clone();
        let a = &shared.scenario.agents;
        let Some(chat) = self.chats.get_mut(&conversation) else {
            return;
        };
        if chat.ended || !chat.unanswered.remove(&to) {
            return;
        }
        let transfer = chat.will_transfer
            && !chat.transfer_sent
            && chat.transfers < a.max_transfers_per_chat
            && chat.customer_messages >= a.transfer_after_messages;
        if transfer {
            chat.transfer_sent = true;
        }
        let num = shared.ledger.allocate(true);
        let text = payload::compose(Some(to), shared.scenario.customers.message_bytes);
        let command = protocol::send(&conversation, &payload::client_msg_id(true, num), &text);
        inc(&shared.stats.c.messages_sent);
        self.request(Req::Send { num }, command).await;
        if transfer {
            let command = match a.transfer_to {
                TransferTo::Queue => None,
                TransferTo::Agent => self.transfer_target(),
                TransferTo::Mixed if self.rng.chance(0.5) => self.transfer_target(),
                TransferTo::Mixed => None,
            }
            .map_or_else(
                || protocol::transfer_to_queue(&conversation, &a.transfer_queue),
                |to| protocol::transfer_to_agent(&conversation, &to),
            );
            self.request(Req::Transfer { conversation }, command).await;
        }
    }

    /// Another load agent, at random.
    fn transfer_target(&mut self) -> Option<String> {
        let ids = &self.shared.agent_ids;
        if ids.len() < 2 {
            return None;
        }
        loop {
            let pick = &ids[self.rng.index(ids.len())];
            if *pick != self.id {
                return Some(pick.clone());
            }
        }
    }

    async fn on_frame(&mut self, frame: Incoming) {
        match frame {
            Incoming::Ack { id, data } => {
                if let Some(p) = self.requests.take(id.as_deref()) {
                    self.on_ack(p, data.unwrap_or(Value::Null));
                }
            }
            Incoming::Error { id, code, message } => match self.requests.take(id.as_deref()) {
                Some(p) => self.on_error(p, &code, &message),
                None => self.shared.stats.error("(no request)", &code, &message),
            },
            Incoming::Event {
                conversation,
                seq,
                prev,
                epoch,
                event,
            } => {
                self.on_event(conversation, seq, prev, &epoch, event);
            }
            Incoming::Signal(s) => self.on_signal(s),
            Incoming::Goodbye {
                reason,
                retry_after_ms,
            } => {
                inc(&self.shared.stats.c.goodbyes);
                self.shared
                    .stats
                    .note(format!("goodbye to an agent: {reason}"));
                self.retry_after = retry_after_ms.map(Duration::from_millis);
            }
        }
    }

    fn on_ack(&mut self, p: Pending<Req>, data: Value) {
        let stats = &self.shared.stats;
        match p.req {
            Req::Status { initial } => {
                if initial && !self.ready {
                    self.ready = true;
                    inc(&stats.c.agents_ready);
                }
            }
            Req::Accept => inc(&stats.c.offers_accepted),
            Req::Reject => inc(&stats.c.offers_rejected),
            Req::Send { num } => {
                if self.shared.ledger.acked(num) {
                    inc(&stats.c.messages_acked);
                    stats.tick(Tick::Acked);
                    record(&stats.lat.send_to_ack, p.first_sent.elapsed());
                }
                if data.get("duplicate").and_then(Value::as_bool) == Some(true) {
                    inc(&stats.c.ack_duplicates);
                }
            }
            Req::Transfer { .. } => inc(&stats.c.transfers),
            Req::TransferAccept => inc(&stats.c.transfer_accepts),
            Req::WrapUp => {
                inc(&stats.c.wrap_ups);
                self.shared.agent_work.fetch_sub(1, Relaxed);
            }
        }
    }

    fn on_error(&mut self, p: Pending<Req>, code: &str, message: &str) {
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
            Req::Transfer { conversation } => {
                inc(&self.shared.stats.c.transfers_failed);
                if let Some(chat) = self.chats.get_mut(&conversation) {
                    chat.will_transfer = false;
                }
            }
            Req::WrapUp => {
                self.shared.agent_work.fetch_sub(1, Relaxed);
            }
            _ => {}
        }
    }

    fn on_signal(&mut self, s: Signal) {
        let stats = &self.shared.stats;
        let Some(conversation) = s.conversation else {
            return;
        };
        match s.signal.as_str() {
            "offer" => {
                inc(&stats.c.offers);
                stats.tick(Tick::Offer);
                let started = s
                    .customer_name
                    .as_deref()
                    .and_then(customer::index_from_name)
                    .and_then(|c| self.shared.starts.first_offer(c));
                if let Some(at) = started {
                    record(&stats.lat.start_to_offer, clock::since(at));
                }
                let a = &self.shared.scenario.agents;
                let accept = !self.rng.chance(a.reject_ratio);
                let think = a.accept_think_ms.pick(&mut self.rng);
                self.timers.after(
                    think,
                    Action::Answer {
                        conversation,
                        accept,
                    },
                );
            }
            "offer_ended" => {
                inc(&stats.c.offers_withdrawn);
                stats.note(format!(
                    "offer ended: {}",
                    s.outcome.as_deref().unwrap_or("?")
                ));
            }
            "joined" => {
                let will_transfer = self.rng.chance(self.shared.scenario.agents.transfer_ratio);
                self.chats.insert(conversation, Chat::new(will_transfer));
            }
            "left" => {
                self.chats.remove(&conversation);
            }
            "transfer_offer" => {
                let think = self
                    .shared
                    .scenario
                    .agents
                    .transfer_accept_ms
                    .pick(&mut self.rng);
                self.timers
                    .after(think, Action::TransferAccept { conversation });
            }
            "resumed" => {
                let recovered = s.recovered != Some(false);
                if !recovered {
                    inc(&stats.c.resume_not_recovered);
                }
                match self.chats.get_mut(&conversation) {
                    Some(chat) if !recovered => chat.track = ConvTracker::default(),
                    Some(_) => {}
                    // Assigned while our accept's ack was lost: the server replays it all.
                    None => {
                        let will_transfer =
                            self.rng.chance(self.shared.scenario.agents.transfer_ratio);
                        self.chats
                            .insert(conversation.clone(), Chat::new(will_transfer));
                    }
                }
                if let Some(r) = self.resuming.as_mut() {
                    r.waiting.remove(&conversation);
                }
                self.check_resumed();
            }
            _ => {}
        }
    }

    fn on_event(&mut self, conversation: String, seq: u64, prev: u64, epoch: &str, event: Event) {
        let shared = self.shared.clone();
        let stats = &shared.stats;
        let Some(chat) = self.chats.get_mut(&conversation) else {
            inc(&stats.c.stray_events);
            stats.note(format!(
                "agent {} got event {seq} of {conversation}, which it does not follow",
                self.id
            ));
            return;
        };
        let check = chat.track.event(seq, prev, epoch);
        if check.out_of_order {
            inc(&stats.c.out_of_order);
            stats.note(format!(
                "agent: {conversation} seq {seq} after {} (out of order)",
                chat.track.last_seq()
            ));
        }
        if check.gap {
            inc(&stats.c.gaps);
            stats.note(format!(
                "agent: {conversation} event {seq} has prev {prev}; a gap"
            ));
        }
        match event.kind.as_str() {
            "message" if event.author.role == "customer" => {
                let Some(num) = event.client_msg_id.as_deref().and_then(payload::ledger_num) else {
                    return;
                };
                if !chat.track.message(num) {
                    inc(&stats.c.duplicates);
                    stats.note(format!(
                        "agent {} got customer message c{num} of {conversation} twice",
                        self.id
                    ));
                    return;
                }
                match shared.ledger.delivered(num) {
                    Some(true) => {
                        inc(&stats.c.messages_delivered);
                        stats.tick(Tick::Delivered);
                        if let Some(s) = event.text.as_deref().and_then(payload::parse) {
                            record(
                                &stats.lat.delivery_customer_to_agent,
                                clock::since(s.sent_nanos),
                            );
                        }
                    }
                    Some(false) => inc(&stats.c.messages_replayed),
                    None => {}
                }
                chat.customer_messages += 1;
                if shared.scenario.agents.reply && !chat.ended {
                    chat.unanswered.insert(num);
                    let think = shared.scenario.agents.reply_think_ms.pick(&mut self.rng);
                    self.timers.after(
                        think,
                        Action::Reply {
                            conversation,
                            to: num,
                        },
                    );
                }
            }
            "message" => {
                if let Some(to) = event
                    .text
                    .as_deref()
                    .and_then(payload::parse)
                    .and_then(|s| s.reply_to)
                {
                    chat.unanswered.remove(&to);
                }
            }
            "transferred_to_queue" | "transfer_accepted" => chat.transfers += 1,
            "ended" if !chat.ended => {
                chat.ended = true;
                chat.unanswered.clear();
                shared.agent_work.fetch_add(1, Relaxed);
                let delay = shared.scenario.agents.wrap_up_ms.pick(&mut self.rng);
                self.timers.after(delay, Action::WrapUp { conversation });
            }
            _ => {}
        }
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
        inc(&self.shared.stats.c.closed_by_server);
        self.shared
            .stats
            .note("the server closed an agent's connection".to_string());
        let delay = self
            .retry_after
            .take()
            .unwrap_or(Duration::from_millis(100));
        self.reconnect(delay, false).await;
    }

    /// Drops the socket, waits `delay`, signs in again with `resume` for the chats it has,
    /// goes available again, and sends again whatever was not answered.
    async fn reconnect(&mut self, delay: Duration, storm: bool) {
        let since = Instant::now();
        inc(&self.shared.stats.c.reconnects);
        self.conn.drop_socket();
        // Every chat it knows, ended ones too: a chat that ended but is not wrapped up yet is
        // followed again by the server, which replays from here instead of from the start.
        let resume: Vec<Value> = self
            .chats
            .iter()
            .map(|(c, chat)| protocol::resume_point(c, chat.track.last_seq(), chat.track.epoch()))
            .collect();
        match reconnect(
            &self.shared,
            &mut self.slot,
            &self.token,
            &resume,
            delay,
            &mut self.stop,
            "agent",
        )
        .await
        {
            Reconnected::Up(conn, data) => {
                self.conn = *conn;
                self.resuming = Some(Resuming {
                    since,
                    waiting: ids_in(&data, "assigned"),
                    storm,
                });
                self.check_resumed();
                let pending = self.requests.resend_all();
                self.conn
                    .resend(pending, |r| matches!(r, Req::Send { .. }))
                    .await;
                // A new session starts `away`.
                self.go_available(false).await;
            }
            Reconnected::Stopped | Reconnected::GaveUp => self.gone = true,
        }
    }
}
