//! The scenario file: who connects, how they behave, for how long, and what counts as a pass.
//! Every field has a default, so a scenario only states what it is about. The field reference
//! is `load-tests/README.md`.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::rng::Rng;

/// A duration in milliseconds: either fixed (`150`) or uniform in a range (`[50, 250]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(from = "SpanRepr")]
pub struct Span {
    pub lo: u64,
    pub hi: u64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SpanRepr {
    Fixed(u64),
    Range([u64; 2]),
}

impl From<SpanRepr> for Span {
    fn from(r: SpanRepr) -> Self {
        match r {
            SpanRepr::Fixed(ms) => Span { lo: ms, hi: ms },
            SpanRepr::Range([a, b]) => Span {
                lo: a.min(b),
                hi: a.max(b),
            },
        }
    }
}

impl Span {
    pub const fn ms(lo: u64, hi: u64) -> Self {
        Span { lo, hi }
    }

    pub fn pick(&self, rng: &mut Rng) -> Duration {
        Duration::from_millis(rng.between(self.lo, self.hi))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Defaults to the file name without extension.
    pub name: String,
    /// Seeds every random choice (think times, ratios, picks).
    pub seed: u64,
    pub target: Target,
    pub run: Run,
    pub agents: Agents,
    pub customers: Customers,
    /// Customer arrival stages, one after the other.
    pub arrival: Vec<Stage>,
    pub reconnect: Option<Reconnect>,
    /// Conferences and consultations (agents inviting agents); none without the section.
    pub conference: Option<Conference>,
    /// Supervisors monitoring live chats (needs `[conference]`); none without the section.
    pub supervisors: Option<Supervisors>,
    /// Bot-first chats: the generator runs a bot and makes it the org's for the run; none
    /// without the section.
    pub bot: Option<Bot>,
    pub client: Client,
    pub thresholds: Thresholds,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            name: String::new(),
            seed: 1,
            target: Target::default(),
            run: Run::default(),
            agents: Agents::default(),
            customers: Customers::default(),
            arrival: Vec::new(),
            reconnect: None,
            conference: None,
            supervisors: None,
            bot: None,
            client: Client::default(),
            thresholds: Thresholds::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Target {
    /// Websocket URLs of the nodes; connections go round-robin. `--url` replaces the list.
    pub urls: Vec<String>,
    pub org: String,
    /// Local addresses to bind client sockets to, round-robin (e.g. 127.0.0.1 … 127.0.0.8 to get
    /// past the ~28k ephemeral ports one source address has toward one server port).
    pub source_ips: Vec<IpAddr>,
    /// HS256 secret the server verifies agent tokens with (`auth.jwt_secret`).
    pub jwt_secret: String,
    pub issuer: String,
    pub audience: String,
}

impl Default for Target {
    fn default() -> Self {
        Self {
            urls: vec!["ws://127.0.0.1:8080/v1/ws".to_string()],
            org: "demo".to_string(),
            source_ips: Vec::new(),
            jwt_secret: "dev-secret-change-me-dev-secret-change-me".to_string(),
            issuer: "switchboard".to_string(),
            audience: "switchboard".to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Run {
    /// Hard limit for the whole run, drain included; what is still running then is stopped.
    pub timeout_secs: u64,
    /// After the last customer finished: how long to wait for deliveries still in flight.
    pub drain_secs: u64,
    /// TCP connect + websocket handshake.
    pub connect_timeout_ms: u64,
    /// Any request (hello, start, send …) without an answer by then counts as timed out.
    pub request_timeout_ms: u64,
    /// How long agents have to sign in and go available before customers arrive.
    pub login_timeout_secs: u64,
}

impl Default for Run {
    fn default() -> Self {
        Self {
            timeout_secs: 120,
            drain_secs: 5,
            connect_timeout_ms: 5000,
            request_timeout_ms: 10_000,
            login_timeout_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTo {
    /// Back to a queue (`transfer_queue`): routing offers it again.
    Queue,
    /// To another load agent, who accepts after `transfer_accept_ms`.
    Agent,
    /// Half and half.
    Mixed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Agents {
    pub count: usize,
    /// Agent ids are `<prefix><n>`; default `lg<run tag>-a` so that runs never share agents.
    pub id_prefix: Option<String>,
    pub queues: Vec<String>,
    /// Sign-ins per second while agents log in.
    pub login_rate_per_sec: f64,
    /// Think time between an offer and the answer.
    pub accept_think_ms: Span,
    /// Share of offers rejected (routing then offers the chat to someone else).
    pub reject_ratio: f64,
    /// Answer every customer message with one message.
    pub reply: bool,
    pub reply_think_ms: Span,
    /// Delay between the end of a chat and the wrap-up.
    pub wrap_up_ms: Span,
    pub disposition: Option<String>,
    /// Share of chats the owner transfers (after `transfer_after_messages` customer messages).
    pub transfer_ratio: f64,
    pub transfer_to: TransferTo,
    pub transfer_queue: String,
    pub transfer_after_messages: u32,
    pub max_transfers_per_chat: u32,
    /// Think time before accepting a transfer addressed to this agent.
    pub transfer_accept_ms: Span,
}

impl Default for Agents {
    fn default() -> Self {
        Self {
            count: 0,
            id_prefix: None,
            queues: vec!["general".to_string(), "billing".to_string()],
            login_rate_per_sec: 200.0,
            accept_think_ms: Span::ms(50, 150),
            reject_ratio: 0.0,
            reply: true,
            reply_think_ms: Span::ms(50, 150),
            wrap_up_ms: Span::ms(0, 100),
            disposition: Some("resolved".to_string()),
            transfer_ratio: 0.0,
            transfer_to: TransferTo::Queue,
            transfer_queue: "billing".to_string(),
            transfer_after_messages: 1,
            max_transfers_per_chat: 1,
            transfer_accept_ms: Span::ms(50, 150),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Pre-chat form, hello, start, messages, end, survey.
    Chat,
    /// Pre-chat form and hello, then hold the connection open doing nothing.
    Idle,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Customers {
    /// Most customers to start (0: as many as the arrival stages produce).
    pub count: usize,
    pub mode: Mode,
    /// Chosen at random per customer (a reason is mandatory when the org has reasons).
    pub reasons: Vec<String>,
    /// Messages each customer sends once an agent owns the chat.
    pub messages: u32,
    /// Pause before each message.
    pub message_interval_ms: Span,
    /// Size of each message text (customers and agents).
    pub message_bytes: usize,
    /// Give up (end the chat) if no agent accepted it by then.
    pub assign_timeout_ms: u64,
    /// After the last message: end anyway if replies are still missing by then.
    pub reply_timeout_ms: u64,
    /// Safety net: end the chat after this long whatever happens.
    pub max_chat_secs: u64,
    pub survey: bool,
    /// Idle mode: keep connections open this long after the last arrival.
    pub idle_hold_secs: u64,
}

impl Default for Customers {
    fn default() -> Self {
        Self {
            count: 0,
            mode: Mode::Chat,
            reasons: vec!["order-status".to_string()],
            messages: 3,
            message_interval_ms: Span::ms(500, 1000),
            message_bytes: 64,
            assign_timeout_ms: 30_000,
            reply_timeout_ms: 10_000,
            max_chat_secs: 300,
            survey: true,
            idle_hold_secs: 10,
        }
    }
}

/// One arrival stage: `rate` customers per second for `secs`; with `ramp_from`, the rate moves
/// linearly from `ramp_from` to `rate` over the stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub secs: f64,
    pub rate: f64,
    #[serde(default)]
    pub ramp_from: Option<f64>,
}

/// A reconnect storm: at `at_secs` after the first arrival, the chosen share of clients drop
/// their sockets (no close frame) and reconnect with `resume`, spread over `spread_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Reconnect {
    pub at_secs: f64,
    pub customers: f64,
    pub agents: f64,
    pub spread_ms: u64,
}

impl Default for Reconnect {
    fn default() -> Self {
        Self {
            at_secs: 10.0,
            customers: 1.0,
            agents: 0.0,
            spread_ms: 0,
        }
    }
}

/// Agents inviting agents (`participants-spec.md`): an owner invites another load agent, by id,
/// as `conference` (writes to the customer) or `consult` (internal discussion only); the
/// invitee accepts, rejects or lets it expire; participants write, then leave or are removed;
/// owners sometimes leave a chat with a conference participant in it (ownership passes).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conference {
    /// At each customer message the owner answers: chance it also invites someone.
    pub invite_ratio: f64,
    pub max_invites_per_chat: u32,
    /// Share of invitations as `consult` (the rest as `conference`).
    pub consult_share: f64,
    /// Pause between that reply and the invitation.
    pub invite_think_ms: Span,
    /// Invitee: pause before answering.
    pub answer_think_ms: Span,
    /// Share of invitations the invitee rejects …
    pub reject_ratio: f64,
    /// … and leaves unanswered (they expire, or are cancelled when the chat ends first).
    pub ignore_ratio: f64,
    /// Messages each participant writes once in: `send` (conference) or `internal` (consult).
    pub participant_messages: u32,
    pub participant_message_interval_ms: Span,
    /// Chance the owner answers another agent's internal message with one of its own.
    pub internal_reply_ratio: f64,
    /// After its messages: chance a participant leaves by itself.
    pub leave_ratio: f64,
    /// Chance the owner removes a participant, `remove_after_ms` after it joined.
    pub remove_ratio: f64,
    pub remove_after_ms: Span,
    /// At each customer message the owner answers, with a conference participant in the chat:
    /// chance the owner leaves (ownership passes to the longest-joined conference participant).
    pub owner_leave_ratio: f64,
    /// Sets the org's `invite_expiry_ms` for the run (restored afterwards), through
    /// `PUT /v1/settings` with an admin token signed with `target.jwt_secret`.
    pub invite_expiry_ms: Option<u64>,
    /// Share of invitations sent `to_queue` (an available agent of the queue is offered it)
    /// instead of to an agent by id.
    pub queue_invite_share: f64,
    /// The queues those go to (default: `agents.queues`).
    pub invite_queues: Vec<String>,
    /// When a consultant joins: chance the owner turns the consultation into a transfer or a
    /// conference (`consult_convert`), `convert_after_ms` later (instead of removing it).
    pub convert_ratio: f64,
    /// Of those, the share turned into a transfer (the rest: a conference).
    pub convert_transfer_share: f64,
    pub convert_after_ms: Span,
    /// When an agent joins a chat as a participant, or becomes its owner with someone beside
    /// it: chance it drops its socket `drop_after_ms` later and reconnects (`hello` + `resume`).
    pub agent_drop_ratio: f64,
    /// When a conference participant joins: chance the customer drops and reconnects likewise.
    pub customer_drop_ratio: f64,
    pub drop_after_ms: Span,
}

impl Default for Conference {
    fn default() -> Self {
        Self {
            invite_ratio: 0.3,
            max_invites_per_chat: 2,
            consult_share: 0.5,
            invite_think_ms: Span::ms(50, 200),
            answer_think_ms: Span::ms(50, 300),
            reject_ratio: 0.1,
            ignore_ratio: 0.0,
            participant_messages: 2,
            participant_message_interval_ms: Span::ms(200, 500),
            internal_reply_ratio: 0.5,
            leave_ratio: 0.5,
            remove_ratio: 0.3,
            remove_after_ms: Span::ms(1000, 3000),
            owner_leave_ratio: 0.0,
            invite_expiry_ms: None,
            queue_invite_share: 0.0,
            invite_queues: Vec::new(),
            convert_ratio: 0.0,
            convert_transfer_share: 0.5,
            convert_after_ms: Span::ms(300, 1200),
            agent_drop_ratio: 0.0,
            customer_drop_ratio: 0.0,
            drop_after_ms: Span::ms(100, 1500),
        }
    }
}

/// Supervisors (`monitor`): each picks live chats at random, observes, maybe coaches (writes
/// `internal`), maybe barges in (writes to the customer), and leaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Supervisors {
    pub count: usize,
    /// Default: unique per run, like the agents'.
    pub id_prefix: Option<String>,
    /// Pause between two chats picked (while under `max_monitors`).
    pub pick_every_ms: Span,
    /// Chats one supervisor monitors at once.
    pub max_monitors: usize,
    /// Time in each mode before the next step.
    pub dwell_ms: Span,
    /// After observing: chance of coaching, then (from either) chance of barging in.
    pub coach_ratio: f64,
    pub barge_ratio: f64,
    /// Messages written in each writing mode (`internal` as coach, `send` after barging).
    pub messages: u32,
    pub message_interval_ms: Span,
    /// Chance a supervisor drops its socket while monitoring and reconnects (`hello` +
    /// `resume`), `drop_after_ms` after a `monitor`.
    pub drop_ratio: f64,
    pub drop_after_ms: Span,
}

impl Default for Supervisors {
    fn default() -> Self {
        Self {
            count: 0,
            id_prefix: None,
            pick_every_ms: Span::ms(300, 1000),
            max_monitors: 2,
            dwell_ms: Span::ms(500, 1500),
            coach_ratio: 0.5,
            barge_ratio: 0.3,
            messages: 2,
            message_interval_ms: Span::ms(150, 400),
            drop_ratio: 0.0,
            drop_after_ms: Span::ms(100, 1500),
        }
    }
}

/// The built-in bot (PROTOCOL §9.12): an HTTP server in the generator receives the org's
/// signed webhooks, greets each new chat, answers each customer message and hands the chat over
/// after `handover_after_messages` of them. Customers talk to it before they wait for an agent.
/// The org's `settings.bot` points at it for the run (put back afterwards).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bot {
    /// Greet on `conversation.started`; customers wait for the greeting before writing.
    pub greeting: bool,
    /// Customer messages the bot answers before it hands over (at the last one's webhook).
    pub handover_after_messages: u32,
    /// The handover's `skill` (a queue's skill or id); none: the chat's entry queue.
    pub skill: Option<String>,
    /// The bot's pause before each answer (and before the handover).
    pub think_ms: Span,
    /// The bot's id and name in the org's settings.
    pub id: String,
    pub name: String,
    /// The org's `bot.reply_timeout_ms`: a bot silent this long is handed over by the server
    /// (counted as a handover not by the bot).
    pub reply_timeout_ms: u64,
    /// Where the webhook server listens; port 0 picks one.
    pub listen: String,
    /// The url the org's settings get (default `http://<listen address>/webhook`), for a server
    /// on another machine.
    pub url: Option<String>,
}

impl Default for Bot {
    fn default() -> Self {
        Self {
            greeting: true,
            handover_after_messages: 1,
            skill: None,
            think_ms: Span::ms(0, 0),
            id: "loadbot".to_string(),
            name: "Load Bot".to_string(),
            reply_timeout_ms: 30_000,
            listen: "127.0.0.1:0".to_string(),
            url: None,
        }
    }
}

/// Client socket settings: small buffers so that one box can hold many connections.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Client {
    pub read_buffer_bytes: usize,
    pub max_message_bytes: usize,
}

impl Default for Client {
    fn default() -> Self {
        Self {
            read_buffer_bytes: 4096,
            max_message_bytes: 256 * 1024,
        }
    }
}

/// Pass/fail limits; a run exits non-zero when one is broken. Absent: not checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub max_failed_connections: Option<u64>,
    pub max_lost: Option<u64>,
    pub max_duplicates: Option<u64>,
    pub max_out_of_order: Option<u64>,
    pub max_gaps: Option<u64>,
    /// Error replies of any code.
    pub max_errors: Option<u64>,
    pub min_assigned_ratio: Option<f64>,
    pub min_ended_ratio: Option<f64>,
    pub max_p99_connect_ms: Option<f64>,
    pub max_p99_offer_ms: Option<f64>,
    /// Both directions.
    pub max_p99_delivery_ms: Option<f64>,
    pub max_p99_ack_ms: Option<f64>,
    pub min_peak_offers_per_sec: Option<f64>,
    pub min_delivered_per_sec: Option<f64>,
    /// Needs `--server-pid`; skipped (and said so) without it.
    pub max_kib_per_connection: Option<f64>,
    pub min_peak_connections: Option<u64>,
    pub max_all_resumed_secs: Option<f64>,
    pub min_resumed_ratio: Option<f64>,
    /// `[conference]`: (message, party) pairs acked and never delivered to a party that
    /// should get it (the customer for public messages; every agent in the chat).
    pub max_missed_deliveries: Option<u64>,
    /// `[conference]`: events customers received that only agents may see.
    pub max_customer_agents_only: Option<u64>,
    /// `[conference]`: times an agent's own seat count went past max_chats.
    pub max_capacity_violations: Option<u64>,
    /// `[conference]`: invitations not ended exactly once (or acked and never logged).
    pub max_invitation_anomalies: Option<u64>,
    /// `[conference]`: at least this many invitations accepted (the run exercised them).
    pub min_invitations_accepted: Option<u64>,
    /// `[conference]`: at least this many consultations turned into a transfer or conference.
    pub min_conversions: Option<u64>,
    /// `[supervisors]`: at least this many chats monitored.
    pub min_monitors: Option<u64>,
    /// `[conference]`: at least this many mid-chat reconnects resumed (agents, supervisors,
    /// customers dropped on purpose).
    pub min_mid_chat_resumes: Option<u64>,
    /// Reconnected agents that did not get back a chat they were in (see the README).
    pub max_roles_lost: Option<u64>,
    /// `[bot]`: at least this share of the customers that arrived saw their chat handed over.
    pub min_handed_over_ratio: Option<f64>,
    /// `[bot]`: handovers the bot asked for and the server refused (or that failed).
    pub max_handovers_failed: Option<u64>,
    /// `[bot]`: webhooks whose signature (or timestamp) did not verify.
    pub max_bot_signature_failures: Option<u64>,
    /// `[bot]`: webhooks received twice (same `webhook-id`).
    pub max_bot_duplicate_webhooks: Option<u64>,
    /// `[bot]`: webhooks whose seq did not increase for their conversation.
    pub max_bot_out_of_order: Option<u64>,
    /// `[bot]`: p99 of the customer's triggering message → `handed_over`.
    pub max_p99_handover_ms: Option<f64>,
}

impl Scenario {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading scenario {}", path.display()))?;
        let mut s: Scenario = toml::from_str(&text)
            .with_context(|| format!("parsing scenario {}", path.display()))?;
        if s.name.is_empty() {
            s.name = path.file_stem().map_or_else(
                || "scenario".to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
        }
        Ok(s)
    }

    /// Multiplies the population and arrival rates (agents, customers, stage rates).
    pub fn scale(&mut self, factor: f64) {
        let scale = |n: usize| ((n as f64) * factor).round().max(1.0) as usize;
        if self.agents.count > 0 {
            self.agents.count = scale(self.agents.count);
        }
        if self.customers.count > 0 {
            self.customers.count = scale(self.customers.count);
        }
        for stage in &mut self.arrival {
            stage.rate *= factor;
            stage.ramp_from = stage.ramp_from.map(|r| r * factor);
        }
        self.agents.login_rate_per_sec *= factor;
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.target.urls.is_empty() {
            bail!("target.urls is empty (give --url)");
        }
        for (what, r) in [
            ("agents.reject_ratio", self.agents.reject_ratio),
            ("agents.transfer_ratio", self.agents.transfer_ratio),
        ] {
            if !(0.0..=1.0).contains(&r) {
                bail!("{what} must be between 0 and 1, not {r}");
            }
        }
        if let Some(c) = &self.conference {
            for (what, r) in [
                ("conference.invite_ratio", c.invite_ratio),
                ("conference.consult_share", c.consult_share),
                ("conference.reject_ratio", c.reject_ratio),
                ("conference.ignore_ratio", c.ignore_ratio),
                ("conference.internal_reply_ratio", c.internal_reply_ratio),
                ("conference.leave_ratio", c.leave_ratio),
                ("conference.remove_ratio", c.remove_ratio),
                ("conference.owner_leave_ratio", c.owner_leave_ratio),
                ("conference.queue_invite_share", c.queue_invite_share),
                ("conference.convert_ratio", c.convert_ratio),
                (
                    "conference.convert_transfer_share",
                    c.convert_transfer_share,
                ),
                ("conference.agent_drop_ratio", c.agent_drop_ratio),
                ("conference.customer_drop_ratio", c.customer_drop_ratio),
            ] {
                if !(0.0..=1.0).contains(&r) {
                    bail!("{what} must be between 0 and 1, not {r}");
                }
            }
            if c.reject_ratio + c.ignore_ratio > 1.0 {
                bail!("conference.reject_ratio + conference.ignore_ratio must not exceed 1");
            }
            if self.agents.count < 2 {
                bail!("[conference] needs at least 2 agents");
            }
        }
        if let Some(v) = &self.supervisors {
            if self.conference.is_none() {
                bail!("[supervisors] needs [conference] (the audience checks)");
            }
            for (what, r) in [
                ("supervisors.coach_ratio", v.coach_ratio),
                ("supervisors.barge_ratio", v.barge_ratio),
                ("supervisors.drop_ratio", v.drop_ratio),
            ] {
                if !(0.0..=1.0).contains(&r) {
                    bail!("{what} must be between 0 and 1, not {r}");
                }
            }
        }
        if let Some(r) = &self.reconnect {
            if !(0.0..=1.0).contains(&r.customers) || !(0.0..=1.0).contains(&r.agents) {
                bail!("reconnect.customers and reconnect.agents are shares between 0 and 1");
            }
        }
        if let Some(b) = &self.bot {
            if self.customers.mode != Mode::Chat {
                bail!("[bot] needs customers.mode = \"chat\"");
            }
            if !(1..=50).contains(&b.handover_after_messages) {
                bail!("bot.handover_after_messages must be 1 to 50");
            }
            if !(100..=86_400_000).contains(&b.reply_timeout_ms) {
                bail!("bot.reply_timeout_ms must be 100 to 86400000 (the server's bounds)");
            }
            b.listen
                .parse::<std::net::SocketAddr>()
                .with_context(|| format!("bot.listen {:?} is not an address:port", b.listen))?;
        }
        if self.customers.count == 0 && self.arrival.is_empty() {
            bail!("give customers.count, [[arrival]] stages, or both");
        }
        for (i, s) in self.arrival.iter().enumerate() {
            if s.secs < 0.0 || s.rate < 0.0 || s.ramp_from.is_some_and(|r| r < 0.0) {
                bail!(
                    "arrival stage {}: secs and rates must not be negative",
                    i + 1
                );
            }
        }
        if self.customers.mode == Mode::Chat && self.customers.reasons.is_empty() {
            bail!("customers.reasons is empty; the demo org requires a reason");
        }
        if self.customers.message_bytes < 24 || self.customers.message_bytes > 4000 {
            bail!("customers.message_bytes must be 24 to 4000 (the server's max_message_chars)");
        }
        if self.agents.login_rate_per_sec <= 0.0 {
            bail!("agents.login_rate_per_sec must be positive");
        }
        if self.run.timeout_secs == 0 {
            bail!("run.timeout_secs must be positive");
        }
        Ok(())
    }

    /// Customers the arrival stages produce by time `t` (seconds since the first arrival),
    /// capped by `customers.count`; with no stages, everyone arrives at once.
    pub fn arrivals_by(&self, t: f64) -> usize {
        let cap = if self.customers.count == 0 {
            usize::MAX
        } else {
            self.customers.count
        };
        if self.arrival.is_empty() {
            return cap;
        }
        let mut total = 0.0;
        let mut start = 0.0;
        for s in &self.arrival {
            let from = s.ramp_from.unwrap_or(s.rate);
            let dt = (t - start).clamp(0.0, s.secs);
            if s.secs > 0.0 {
                total += from * dt + (s.rate - from) * dt * dt / (2.0 * s.secs);
            }
            start += s.secs;
        }
        ((total + 1e-6).floor() as usize).min(cap)
    }

    /// When the last arrival stage ends.
    pub fn arrival_secs(&self) -> f64 {
        self.arrival.iter().map(|s| s.secs).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_follow_stages() {
        let s: Scenario = toml::from_str(
            r#"
            [customers]
            count = 100
            [[arrival]]
            secs = 10
            rate = 10
            ramp_from = 0
            [[arrival]]
            secs = 2
            rate = 5
            "#,
        )
        .expect("parses");
        assert_eq!(s.arrivals_by(0.0), 0);
        assert_eq!(s.arrivals_by(10.0), 50, "ramp 0→10/s over 10 s");
        assert_eq!(s.arrivals_by(12.0), 60);
        assert_eq!(s.arrivals_by(100.0), 60);
        assert_eq!(s.arrival_secs(), 12.0);
        let burst: Scenario = toml::from_str("[customers]\ncount = 7").expect("parses");
        assert_eq!(burst.arrivals_by(0.0), 7);
    }

    #[test]
    fn spans_and_defaults() {
        let a: Agents =
            toml::from_str("accept_think_ms = 20\nreply_think_ms = [30, 10]").expect("parses");
        assert_eq!(a.accept_think_ms, Span::ms(20, 20));
        assert_eq!(a.reply_think_ms, Span::ms(10, 30));
        assert!(toml::from_str::<Agents>("bogus = 1").is_err());
    }

    #[test]
    fn conference_section_parses_and_validates() {
        let mut s: Scenario = toml::from_str(
            "[agents]\ncount = 4\n[customers]\ncount = 2\n[conference]\nreject_ratio = 0.6\nignore_ratio = 0.3\ninvite_expiry_ms = 2000",
        )
        .expect("parses");
        s.validate().expect("valid");
        let c = s.conference.as_mut().expect("section");
        assert_eq!(c.invite_expiry_ms, Some(2000));
        assert_eq!(c.participant_messages, 2, "the default");
        c.ignore_ratio = 0.5;
        assert!(s.validate().is_err(), "reject + ignore > 1");
        let alone: Scenario =
            toml::from_str("[agents]\ncount = 1\n[customers]\ncount = 2\n[conference]")
                .expect("parses");
        assert!(alone.validate().is_err(), "nobody to invite");
        assert!(toml::from_str::<Conference>("bogus = 1").is_err());
        let none: Scenario = toml::from_str("[customers]\ncount = 2").expect("parses");
        assert!(none.conference.is_none());
    }

    #[test]
    fn supervisors_need_the_conference_section_and_shares() {
        let mut s: Scenario =
            toml::from_str("[agents]\ncount = 4\n[customers]\ncount = 2\n[supervisors]\ncount = 2")
                .expect("parse");
        s.target.urls = vec!["ws://127.0.0.1:1/v1/ws".to_string()];
        assert!(s.validate().is_err(), "[supervisors] without [conference]");
        s.conference = Some(Conference::default());
        s.validate().expect("valid");
        let v = s.supervisors.as_mut().expect("section");
        assert_eq!((v.count, v.max_monitors), (2, 2));
        v.barge_ratio = 1.5;
        assert!(s.validate().is_err());
        let c: Conference =
            toml::from_str("queue_invite_share = 0.3\nconvert_ratio = 0.5").expect("conference");
        assert_eq!(c.convert_transfer_share, 0.5);
        assert!(toml::from_str::<Supervisors>("bogus = 1").is_err());
    }

    #[test]
    fn bot_section_parses_and_validates() {
        let mut s: Scenario = toml::from_str(
            "[customers]\ncount = 2\n[bot]\nhandover_after_messages = 2\nskill = \"billing\"",
        )
        .expect("parses");
        s.validate().expect("valid");
        let b = s.bot.as_mut().expect("section");
        assert!(b.greeting, "greets by default");
        assert_eq!(
            (b.handover_after_messages, b.skill.as_deref()),
            (2, Some("billing"))
        );
        assert_eq!(b.listen, "127.0.0.1:0");
        b.handover_after_messages = 0;
        assert!(
            s.validate().is_err(),
            "at least one message before the handover"
        );
        let mut idle: Scenario =
            toml::from_str("[customers]\ncount = 2\nmode = \"idle\"\n[bot]").expect("parses");
        assert!(
            idle.validate().is_err(),
            "idle customers never meet the bot"
        );
        idle.customers.mode = Mode::Chat;
        idle.bot.as_mut().expect("section").listen = "nowhere".to_string();
        assert!(idle.validate().is_err(), "listen is an address");
        assert!(toml::from_str::<Bot>("bogus = 1").is_err());
        let none: Scenario = toml::from_str("[customers]\ncount = 2").expect("parses");
        assert!(none.bot.is_none());
    }

    #[test]
    fn shipped_scenarios_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let s =
                    Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                s.validate()
                    .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                let text = std::fs::read_to_string(&path).expect("read");
                assert!(
                    text.starts_with('#'),
                    "{} must start with its question",
                    path.display()
                );
                n += 1;
            }
        }
        assert!(n >= 8, "expected the shipped scenarios, found {n}");
    }
}
