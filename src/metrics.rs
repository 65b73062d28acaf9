//! Prometheus metrics, hand-rolled: a few atomics rendered as text at `/metrics`.
//!
//! Labels are bounded (state names, error codes, outcomes); never an org, conversation or agent
//! id. Fast-moving quantities are paired counters (opened/closed) rather than gauges.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::domain::conversation::Status;
use crate::protocol::ErrorCode;

#[derive(Default)]
pub struct Metrics {
    pub connections_opened: AtomicU64,
    pub connections_closed: AtomicU64,
    pub conversations_started: AtomicU64,
    pub messages: AtomicU64,
    pub messages_duplicate: AtomicU64,
    pub offers_sent: AtomicU64,
    pub offers_accepted: AtomicU64,
    pub offers_rejected: AtomicU64,
    pub offers_expired: AtomicU64,
    pub offers_rescinded: AtomicU64,
    pub transfers_requested: AtomicU64,
    pub actor_restarts: AtomicU64,
    pub slow_consumers: AtomicU64,
    by_status: [AtomicI64; 7],
    errors: [AtomicU64; 15],
}

fn status_index(s: Status) -> usize {
    Status::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Moves one conversation between states (`None` for "did not exist" / "forgotten").
    pub fn transition(&self, from: Option<Status>, to: Option<Status>) {
        if from == to {
            return;
        }
        if let Some(f) = from {
            self.by_status[status_index(f)].fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(t) = to {
            self.by_status[status_index(t)].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn error(&self, code: ErrorCode) {
        let i = ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.errors[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let counters = [
            (
                "switchboard_connections_opened_total",
                "Websocket connections accepted.",
                get(&self.connections_opened),
            ),
            (
                "switchboard_connections_closed_total",
                "Websocket connections closed.",
                get(&self.connections_closed),
            ),
            (
                "switchboard_conversations_started_total",
                "Conversations created.",
                get(&self.conversations_started),
            ),
            (
                "switchboard_messages_total",
                "Chat messages appended to logs.",
                get(&self.messages),
            ),
            (
                "switchboard_messages_duplicate_total",
                "Retried sends answered from the log.",
                get(&self.messages_duplicate),
            ),
            (
                "switchboard_transfers_requested_total",
                "Agent-to-agent transfer requests.",
                get(&self.transfers_requested),
            ),
            (
                "switchboard_actor_restarts_total",
                "Actors reactivated after dying.",
                get(&self.actor_restarts),
            ),
            (
                "switchboard_slow_consumers_total",
                "Connections closed because their send buffer filled.",
                get(&self.slow_consumers),
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        }
        let _ = writeln!(out, "# HELP switchboard_offers_total Assignment offers by outcome.\n# TYPE switchboard_offers_total counter");
        for (outcome, v) in [
            ("sent", get(&self.offers_sent)),
            ("accepted", get(&self.offers_accepted)),
            ("rejected", get(&self.offers_rejected)),
            ("expired", get(&self.offers_expired)),
            ("rescinded", get(&self.offers_rescinded)),
        ] {
            let _ = writeln!(out, "switchboard_offers_total{{outcome=\"{outcome}\"}} {v}");
        }
        let _ = writeln!(out, "# HELP switchboard_conversations Conversations held by this node, by state.\n# TYPE switchboard_conversations gauge");
        for s in Status::ALL {
            let v = self.by_status[status_index(s)].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "switchboard_conversations{{state=\"{}\"}} {v}",
                s.as_str()
            );
        }
        let _ = writeln!(out, "# HELP switchboard_errors_total Errors returned to clients, by code.\n# TYPE switchboard_errors_total counter");
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            let v = self.errors[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "switchboard_errors_total{{code=\"{}\"}} {v}",
                code.as_str()
            );
        }
        let open = get(&self.connections_opened).saturating_sub(get(&self.connections_closed));
        let _ = writeln!(out, "# HELP switchboard_connections Open websocket connections.\n# TYPE switchboard_connections gauge\nswitchboard_connections {open}");
        out
    }
}
