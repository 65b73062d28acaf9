//! A simulated customer: pre-chat form, hello, `start` with a reason, then (once an agent owns
//! the chat) messages at the configured pace, waiting for the agent's replies; then `end` and
//! the survey. In idle mode: pre-chat form and hello, then the connection just stays open.
//!
//! With `[bot]` the chat starts with the generator's bot: the customer waits for its greeting,
//! writes `handover_after_messages` messages (each after the bot answered the one before), and
//! waits for `handed_over`; then it waits for an agent as above. Timed on the way: start →
//! greeting, each message → the bot's answer, the last one → `handed_over`, and
//! `handed_over` → `assigned`.
//!
//! Everything the customer observes is checked on the way: each event's seq and prev (gaps,
//! disorder), each agent message (duplicates, delivery latency, the ledger).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::audience::{self, Party};
use crate::bot;
use crate::client::{ids_in, Conn, Recv};
use crate::clock;
use crate::http;
use crate::participant::{self, Participant, Request, Role, Side};
use crate::payload;
use crate::protocol::{self, Event, Incoming, Signal};
use crate::requests::Pending;
use crate::scenario::Mode;
use crate::shared::{flag_set, Shared};
use crate::stats::{inc, record};
use crate::tracker::ConvTracker;

/// Every customer's first name; the last name is `C<index>`, so an offer's `customer_name`
/// ("Load C17") tells the agent which customer's start time to measure from.
const FIRST_NAME: &str = "Load";
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
    /// `[bot]`: with the bot (greeting, messages to it, until `handed_over`).
    WithBot,
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
    Send {
        num: u64,
    },
    /// `[bot]`: message `k` to the bot.
    BotSend,
    End,
    Survey,
    /// Its chat, after a reconnect whose hello ack did not list it (it ended meanwhile).
    Resume,
}

impl Request for Req {
    fn name(&self) -> &'static str {
        match self {
            Req::Start => "start",
            Req::Send { .. } | Req::BotSend => "send",
            Req::End => "end",
            Req::Survey => "survey",
            Req::Resume => "resume",
        }
    }

    fn is_message(&self) -> bool {
        matches!(self, Req::Send { .. } | Req::BotSend)
    }
}

enum Action {
    SendNext,
    /// `[bot]`: the next message to the bot.
    BotNext,
    /// `[bot]`: still with the bot after `assign_timeout_ms`.
    BotTimeout,
    AssignTimeout,
    ReplyTimeout,
    ChatTimeout,
}

struct Customer {
    p: Participant<Req, Action>,
    idx: usize,
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
    /// Supervisors barged into the chat (`conference`), as the customer sees it.
    barged: HashSet<String>,
    /// The hello ack after a reconnect did not list its chat: read the rest with `resume`.
    unlisted: bool,
    /// `[bot]`: the greeting arrived; when each message to the bot was sent (index k-1);
    /// the messages it answered; when `handed_over` arrived.
    greeted: bool,
    bot_sent_at: Vec<Instant>,
    bot_answered: HashSet<u32>,
    handed_over_at: Option<Instant>,
}

impl Customer {
    fn new(shared: Arc<Shared>, idx: usize, token: String, conn: Conn) -> Self {
        Self {
            p: Participant::new(shared, Side::Customer, idx, token, conn),
            idx,
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
            barged: HashSet::new(),
            unlisted: false,
            greeted: false,
            bot_sent_at: Vec::new(),
            bot_answered: HashSet::new(),
            handed_over_at: None,
        }
    }

    async fn chat(mut self) {
        let s = &self.p.shared.scenario.customers;
        let reason = s.reasons[self.p.rng.index(s.reasons.len())].clone();
        let max_chat = Duration::from_secs(s.max_chat_secs);
        self.p.after(max_chat, Action::ChatTimeout);
        self.start_sent_nanos = clock::unix_nanos();
        let starts = &self.p.shared.starts;
        starts.started(self.idx, self.start_sent_nanos);
        self.p.request(Req::Start, protocol::start(&reason)).await;
        participant::run(&mut self).await;
        let stats = &self.p.shared.stats;
        inc(if self.completed {
            &stats.c.customers_finished
        } else {
            &stats.c.customers_unfinished
        });
    }

    async fn send_next(&mut self) {
        let s = &self.p.shared.scenario.customers;
        if self.phase != Phase::Chatting || self.sent >= s.messages {
            return;
        }
        let interval = s.message_interval_ms.pick(&mut self.p.rng);
        if !self.owned {
            // Transferred to a queue: wait for the next agent.
            self.p.after(interval, Action::SendNext);
            return;
        }
        let Some(conversation) = self.conversation.clone() else {
            return;
        };
        let num = self.p.shared.ledger.allocate(false);
        let text = payload::compose(None, s.message_bytes);
        let command = protocol::send(&conversation, &payload::client_msg_id(false, num), &text);
        let (messages, reply_timeout) = (s.messages, s.reply_timeout_ms);
        inc(&self.p.shared.stats.c.messages_sent);
        self.sent += 1;
        self.p.request(Req::Send { num }, command).await;
        if self.sent < messages {
            self.p.after(interval, Action::SendNext);
        } else {
            self.p
                .after(Duration::from_millis(reply_timeout), Action::ReplyTimeout);
        }
    }

    /// Ends the chat once every message is acked and (if agents reply) answered.
    async fn maybe_end(&mut self) {
        let scenario = &self.p.shared.scenario;
        if self.phase != Phase::Chatting || self.sent < scenario.customers.messages {
            return;
        }
        let settled = self.acked.len() as u32 + self.failed_sends >= self.sent;
        let answered =
            !scenario.agents.reply || self.acked.iter().all(|n| self.replies.contains(n));
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
        self.p.request(Req::End, protocol::end(&conversation)).await;
    }

    /// The chat is over (our `end`, or ended by the agent or a timer): survey, or done.
    async fn after_end(&mut self) {
        if !matches!(
            self.phase,
            Phase::WithBot | Phase::Waiting | Phase::Chatting | Phase::Ending
        ) {
            return;
        }
        match self.conversation.clone() {
            Some(c) if self.assigned && self.p.shared.scenario.customers.survey => {
                self.phase = Phase::Surveying;
                let rating = self.p.rng.between(6, 10) as u8;
                self.p
                    .request(Req::Survey, protocol::survey(&c, rating))
                    .await;
            }
            _ => {
                self.completed = self.assigned;
                self.phase = Phase::Done;
            }
        }
    }

    /// `[bot]`: messages to the bot, one at a time.
    async fn bot_next(&mut self) {
        let Some(cfg) = &self.p.shared.scenario.bot else {
            return;
        };
        let k = self.bot_sent_at.len() as u32 + 1;
        if self.phase != Phase::WithBot || k > cfg.handover_after_messages {
            return;
        }
        let Some(conversation) = self.conversation.clone() else {
            return;
        };
        let size = self.p.shared.scenario.customers.message_bytes;
        let text = payload::compose_tagged("b", size);
        let command = protocol::send(&conversation, &bot::customer_msg_id(k), &text);
        self.bot_sent_at.push(Instant::now());
        self.p.request(Req::BotSend, command).await;
    }

    /// `[bot]`: the next message to the bot, after the usual pause.
    fn schedule_bot_next(&mut self) {
        let s = &self.p.shared.scenario.customers;
        let interval = s.message_interval_ms.pick(&mut self.p.rng);
        self.p.after(interval, Action::BotNext);
    }

    /// `[bot]`: a message of the bot's: its greeting, or its answer to message `k`.
    fn on_bot_message(&mut self, event: &Event) {
        let Some(cfg) = self.p.shared.scenario.bot.clone() else {
            return;
        };
        let stats = &self.p.shared.stats;
        let id = event.client_msg_id.as_deref().unwrap_or_default();
        if id == bot::GREETING_ID {
            if std::mem::replace(&mut self.greeted, true) {
                return;
            }
            inc(&stats.c.chats_greeted);
            record(
                &stats.lat.start_to_greeting,
                clock::since(self.start_sent_nanos),
            );
            if self.phase == Phase::WithBot && self.bot_sent_at.is_empty() {
                self.schedule_bot_next();
            }
            return;
        }
        let Some(k) = bot::answered(id) else {
            return;
        };
        let sent = (k as usize)
            .checked_sub(1)
            .and_then(|i| self.bot_sent_at.get(i).copied());
        let Some(sent) = sent else {
            return;
        };
        if !self.bot_answered.insert(k) {
            return;
        }
        record(&stats.lat.bot_reply, sent.elapsed());
        let last = self.bot_sent_at.len() as u32;
        if self.phase == Phase::WithBot && k == last && last < cfg.handover_after_messages {
            self.schedule_bot_next();
        }
    }

    /// `[bot]`: the chat went to a person: now wait for the agent.
    fn on_handed_over(&mut self, event: &Event) {
        if self.handed_over_at.is_some() {
            return;
        }
        let shared = self.p.shared.clone();
        let stats = &shared.stats;
        self.handed_over_at = Some(Instant::now());
        inc(&stats.c.chats_handed_over);
        let trigger = shared
            .scenario
            .bot
            .as_ref()
            .map_or(0, |b| b.handover_after_messages as usize);
        if event.by.as_deref() == Some("bot") {
            if let Some(sent) = self.bot_sent_at.get(trigger.wrapping_sub(1)) {
                record(&stats.lat.handover, sent.elapsed());
            }
        } else {
            inc(&stats.c.handovers_not_by_bot);
            stats.note(format!(
                "customer {}'s chat was handed over by {}",
                self.idx,
                event.by.as_deref().unwrap_or("?")
            ));
        }
        if self.phase == Phase::WithBot {
            self.phase = Phase::Waiting;
            let timeout = Duration::from_millis(shared.scenario.customers.assign_timeout_ms);
            self.p.after(timeout, Action::AssignTimeout);
        }
    }

    fn schedule_first_message(&mut self) {
        let s = &self.p.shared.scenario.customers;
        let interval = s.message_interval_ms.pick(&mut self.p.rng);
        self.p.after(interval, Action::SendNext);
    }

    async fn on_agent_message(&mut self, event: &Event) {
        let idx = self.idx;
        let Some(got) = self.p.received(&mut self.track, event, |num| {
            format!("customer {idx} got agent message a{num} twice")
        }) else {
            return;
        };
        if let Some(to) = got.stamp.and_then(|s| s.reply_to) {
            self.replies.insert(to);
            self.maybe_end().await;
        }
    }
}

impl Customer {
    /// A supervisor may reach the customer only once barged in (`conference`): its join or
    /// role change to `conference`, its messages while barged in, and its step out.
    fn supervisor_check(&mut self, conversation: &str, seq: u64, event: &Event) {
        let shared = self.p.shared.clone();
        let who = event.participant.as_deref().or(event.author.id.as_deref());
        let Some(who) = who.filter(|w| shared.supervisor_ids.iter().any(|s| s == w)) else {
            return;
        };
        let to_conference = match event.kind.as_str() {
            "participant_joined" => event.role.as_deref() == Some("conference"),
            "role_changed" => event.to.as_deref() == Some("conference"),
            _ => false,
        };
        if to_conference {
            self.barged.insert(who.to_string());
            return;
        }
        let stepping_out = match event.kind.as_str() {
            "participant_left" => event.role.as_deref() == Some("conference"),
            "role_changed" => event.from.as_deref() == Some("conference"),
            _ => false,
        };
        if self.barged.contains(who) {
            if stepping_out {
                self.barged.remove(who);
            }
            return;
        }
        inc(&shared.stats.c.customer_saw_silent_supervisor);
        shared.stats.note(format!(
            "customer {} got event {seq} ({}) of {conversation} from supervisor {who}, not barged in",
            self.idx, event.kind
        ));
    }
}

impl Role for Customer {
    type Req = Req;
    type Action = Action;

    fn participant(&mut self) -> &mut Participant<Req, Action> {
        &mut self.p
    }

    fn finished(&self) -> bool {
        self.phase == Phase::Done
    }

    fn stopped(&mut self) {
        let note = "customers stopped by the run deadline";
        self.p.shared.stats.note(note.to_string());
    }

    fn gave_up(&mut self) {
        self.phase = Phase::Done;
    }

    async fn act(&mut self, action: Action) {
        let stats = &self.p.shared.stats;
        match action {
            Action::SendNext => self.send_next().await,
            Action::BotNext => self.bot_next().await,
            Action::BotTimeout if self.phase == Phase::WithBot => {
                inc(&stats.c.bot_timeouts);
                stats.note(format!(
                    "customer {} gave up waiting for the bot (greeted {}, answers {} of {}, handed over {})",
                    self.idx,
                    self.greeted,
                    self.bot_answered.len(),
                    self.bot_sent_at.len(),
                    self.handed_over_at.is_some()
                ));
                self.end().await;
            }
            Action::AssignTimeout if self.phase == Phase::Waiting => {
                inc(&stats.c.assign_timeouts);
                stats.note("a customer gave up waiting for an agent".to_string());
                self.end().await;
            }
            Action::ReplyTimeout if self.phase == Phase::Chatting => {
                inc(&stats.c.reply_timeouts);
                stats.note("a customer ended without all replies".to_string());
                self.end().await;
            }
            Action::ChatTimeout => match self.phase {
                Phase::Starting | Phase::Done => self.phase = Phase::Done,
                Phase::WithBot | Phase::Waiting | Phase::Chatting => {
                    inc(&stats.c.chat_timeouts);
                    self.end().await;
                }
                Phase::Ending | Phase::Surveying => self.phase = Phase::Done,
            },
            Action::AssignTimeout | Action::ReplyTimeout | Action::BotTimeout => {}
        }
    }

    async fn on_ack(&mut self, p: Pending<Req>, data: Value) {
        let stats = &self.p.shared.stats;
        match p.req {
            Req::Start => {
                let Some(c) = data.get("conversation").and_then(Value::as_str) else {
                    stats.note(format!("start ack without a conversation: {data}"));
                    self.phase = Phase::Done;
                    return;
                };
                self.conversation = Some(c.to_string());
                inc(&stats.c.chats_started);
                let scenario = &self.p.shared.scenario;
                let timeout = Duration::from_millis(scenario.customers.assign_timeout_ms);
                if self.phase == Phase::Starting
                    && scenario.bot.is_some()
                    && !self.assigned
                    && self.handed_over_at.is_none()
                {
                    // With the bot until `handed_over`; then the assign timeout starts.
                    let greeting = scenario.bot.as_ref().is_some_and(|b| b.greeting);
                    self.phase = Phase::WithBot;
                    self.p.after(timeout, Action::BotTimeout);
                    if self.greeted || !greeting {
                        self.schedule_bot_next();
                    }
                } else if self.phase == Phase::Starting {
                    self.phase = if self.assigned {
                        Phase::Chatting
                    } else {
                        Phase::Waiting
                    };
                    self.p.after(timeout, Action::AssignTimeout);
                    if self.phase == Phase::Chatting {
                        self.schedule_first_message();
                    }
                }
            }
            Req::Send { num } => {
                self.p.send_acked(num, p.first_sent, &data);
                if let (Some(book), Some(c), Some(seq)) = (
                    &self.p.shared.audience,
                    &self.conversation,
                    data.get("seq").and_then(Value::as_u64),
                ) {
                    let id = payload::client_msg_id(false, num);
                    book.message(c, seq, Party::Customer, true, &id);
                }
                self.acked.insert(num);
                self.maybe_end().await;
            }
            Req::End => {
                if let Some(c) = &self.conversation {
                    self.p.shared.live.remove(c);
                }
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
            Req::BotSend | Req::Resume => {}
        }
    }

    async fn on_refused(&mut self, p: Pending<Req>, code: &str) {
        match p.req {
            Req::Start => self.phase = Phase::Done,
            Req::Send { .. } => {
                self.failed_sends += 1;
                self.maybe_end().await;
            }
            // Already ended (by the agent or a timer, or by this very `end` sent again after a
            // reconnect): the server says so; go on to the survey.
            Req::End if code == "ended" => {
                if !self.ended_seen {
                    self.ended_seen = true;
                    inc(&self.p.shared.stats.c.chats_ended);
                }
                self.after_end().await
            }
            Req::End | Req::Survey => self.phase = Phase::Done,
            // Not answered: the bot phase's timeout ends the chat.
            Req::BotSend | Req::Resume => {}
        }
    }

    async fn on_timeout(&mut self, p: Pending<Req>) {
        match p.req {
            Req::Send { .. } => {
                self.failed_sends += 1;
                self.maybe_end().await;
            }
            Req::Start | Req::End | Req::Survey => self.phase = Phase::Done,
            Req::BotSend | Req::Resume => {}
        }
    }

    async fn on_event(
        &mut self,
        conversation: String,
        seq: u64,
        prev: u64,
        epoch: &str,
        event: Event,
    ) {
        let shared = self.p.shared.clone();
        let stats = &shared.stats;
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
        self.p
            .check_event(&mut self.track, &conversation, seq, prev, epoch);
        if let Some(book) = &self.p.shared.audience {
            if matches!(event.kind.as_str(), "message" | "internal") {
                book.received(&conversation, seq, Party::Customer);
            }
        }
        if audience::agents_only(&event) {
            inc(&stats.c.customer_agents_only);
            stats.note(format!(
                "customer {} got agents-only event {seq} ({}) of {conversation}",
                self.idx, event.kind
            ));
            return;
        }
        let owner_role = event.role.as_deref() == Some("owner");
        self.supervisor_check(&conversation, seq, &event);
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
                    if let Some(at) = self.handed_over_at {
                        record(&stats.lat.handover_to_assigned, at.elapsed());
                    }
                }
                self.owned = true;
                self.p.shared.live.add(&conversation);
                if self.phase == Phase::Waiting {
                    self.phase = Phase::Chatting;
                    self.schedule_first_message();
                }
            }
            "participant_joined" if owner_role => self.owned = true,
            "participant_joined" if event.role.as_deref() == Some("conference") => {
                let drop = self.p.shared.scenario.conference.as_ref().and_then(|c| {
                    self.p
                        .rng
                        .chance(c.customer_drop_ratio)
                        .then(|| c.drop_after_ms.pick(&mut self.p.rng))
                });
                if let Some(after) = drop {
                    self.p.drop_after(after);
                }
            }
            "participant_left" if owner_role => self.owned = false,
            // The owner left a conference: a conference participant owns the chat now.
            "ownership_changed" => self.owned = true,
            "message" if event.author.role == "agent" => self.on_agent_message(&event).await,
            "message" if event.author.role == "bot" => self.on_bot_message(&event),
            "handed_over" => self.on_handed_over(&event),
            "ended" => {
                self.p.shared.live.remove(&conversation);
                if !self.ended_seen {
                    self.ended_seen = true;
                    inc(&stats.c.chats_ended);
                }
                if matches!(
                    self.phase,
                    Phase::WithBot | Phase::Waiting | Phase::Chatting
                ) {
                    self.after_end().await;
                }
            }
            _ => {}
        }
    }

    fn on_signal(&mut self, s: Signal) {
        if s.signal != "resumed" {
            return;
        }
        let recovered = s.recovered != Some(false);
        if !recovered {
            self.track = ConvTracker::default();
        }
        self.p.resumed(s.conversation.as_deref(), recovered);
    }

    fn resume_points(&self) -> Vec<Value> {
        self.conversation
            .iter()
            .map(|c| protocol::resume_point(c, self.track.last_seq(), self.track.epoch()))
            .collect()
    }

    fn to_resume(&mut self, hello: &Value) -> HashSet<String> {
        let mut open = ids_in(hello, "conversations");
        open.retain(|c| self.conversation.as_deref() == Some(c.as_str()));
        // Only open chats are listed: one that ended while it was away is read with `resume`
        // (its last messages and the `ended` event are the customer's too).
        self.unlisted = open.is_empty() && self.conversation.is_some() && !self.ended_seen;
        open
    }

    async fn reconnected(&mut self) {
        if !std::mem::take(&mut self.unlisted) {
            return;
        }
        let Some(c) = self.conversation.clone() else {
            return;
        };
        let mut command = protocol::resume_point(&c, self.track.last_seq(), self.track.epoch());
        command["type"] = Value::from("resume");
        self.p.request(Req::Resume, command).await;
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
