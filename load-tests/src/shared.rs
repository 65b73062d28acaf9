//! What every simulated client of a run shares: the scenario, where to connect, the
//! measurements, and the run's control signals.

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::audience::Audience;
use crate::ledger::Ledger;
use crate::net::Dialer;
use crate::scenario::Scenario;
use crate::seats::Rules;
use crate::stats::Stats;

pub struct Shared {
    pub scenario: Scenario,
    pub dialer: Dialer,
    pub stats: Stats,
    pub ledger: Ledger,
    /// Who should get what in chats with several agents (only with `[conference]`).
    pub audience: Option<Audience>,
    /// Which participant seats count against max_chats (the org's settings, read at the start;
    /// the defaults if they could not be read).
    pub seat_rules: OnceLock<Rules>,
    pub starts: StartBook,
    pub agent_ids: Vec<String>,
    /// `[supervisors]`: their ids.
    pub supervisor_ids: Vec<String>,
    /// Chats with an agent right now, as their customers see them (supervisors pick from it).
    pub live: LiveChats,
    pub ws_config: WebSocketConfig,
    /// Set at the customers' deadline: whoever is still running stops.
    pub stop_customers: watch::Sender<bool>,
    /// Set when the run is over: agents sign out.
    pub stop_agents: watch::Sender<bool>,
    /// Set when the reconnect storm starts.
    pub storm: watch::Sender<bool>,
    /// Set when idle customers may hang up.
    pub release_idle: watch::Sender<bool>,
    /// Chats agents still have to wrap up (the drain waits for them).
    pub agent_work: AtomicI64,
    /// `[bot]`: the built-in bot's state.
    pub bot: Option<crate::bot::BotState>,
}

impl Shared {
    pub fn new(
        scenario: Scenario,
        dialer: Dialer,
        agent_ids: Vec<String>,
        supervisor_ids: Vec<String>,
    ) -> Self {
        let ws_config = WebSocketConfig::default()
            .read_buffer_size(scenario.client.read_buffer_bytes)
            .write_buffer_size(0)
            .max_write_buffer_size(scenario.client.max_message_bytes.saturating_mul(4))
            .max_message_size(Some(scenario.client.max_message_bytes))
            .max_frame_size(Some(scenario.client.max_message_bytes));
        let audience = scenario.conference.as_ref().map(|_| Audience::default());
        let bot = scenario
            .bot
            .as_ref()
            .map(|_| crate::bot::BotState::new(scenario.seed));
        Self {
            scenario,
            dialer,
            stats: Stats::default(),
            ledger: Ledger::default(),
            audience,
            seat_rules: OnceLock::new(),
            starts: StartBook::default(),
            agent_ids,
            supervisor_ids,
            live: LiveChats::default(),
            ws_config,
            stop_customers: watch::channel(false).0,
            stop_agents: watch::channel(false).0,
            storm: watch::channel(false).0,
            release_idle: watch::channel(false).0,
            agent_work: AtomicI64::new(0),
            bot,
        }
    }

    pub fn seat_rules(&self) -> Rules {
        self.seat_rules.get().copied().unwrap_or_default()
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.scenario.run.request_timeout_ms)
    }
}

/// When each customer sent `start`, so that the agent receiving the offer can tell how long
/// routing took. Keyed by customer index (the offer names the customer, see `customer.rs`).
#[derive(Default)]
pub struct StartBook {
    starts: Mutex<HashMap<usize, (u64, bool)>>,
}

impl StartBook {
    pub fn started(&self, customer: usize, unix_nanos: u64) {
        self.lock().insert(customer, (unix_nanos, false));
    }

    /// The start time of `customer`'s chat, the first time it is offered; `None` afterwards.
    pub fn first_offer(&self, customer: usize) -> Option<u64> {
        let mut m = self.lock();
        let entry = m.get_mut(&customer)?;
        if entry.1 {
            return None;
        }
        entry.1 = true;
        Some(entry.0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<usize, (u64, bool)>> {
        self.starts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The chats that have an agent now (assigned and not ended), for supervisors to pick from.
#[derive(Default)]
pub struct LiveChats {
    chats: Mutex<Vec<String>>,
}

impl LiveChats {
    pub fn add(&self, conversation: &str) {
        let mut v = self.lock();
        if !v.iter().any(|c| c == conversation) {
            v.push(conversation.to_string());
        }
    }

    pub fn remove(&self, conversation: &str) {
        self.lock().retain(|c| c != conversation);
    }

    /// The chat at `pick % len`, if any.
    pub fn pick(&self, pick: usize) -> Option<String> {
        let v = self.lock();
        (!v.is_empty()).then(|| v[pick % v.len()].clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.chats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Resolves once the flag is set (or its sender is gone), without holding a borrow of the value.
pub async fn flag_set(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

/// Sleeps `d`, or less if `stop` is set meanwhile; true if stopped.
pub async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        () = flag_set(stop) => true,
        () = tokio::time::sleep(d) => false,
    }
}
