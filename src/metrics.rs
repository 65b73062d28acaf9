//! Prometheus metrics through `prometheus-client`, rendered as text at `/metrics`.
//!
//! Labels are bounded (state names, error codes, outcomes); never an org, conversation or agent
//! id. Fast-moving quantities are paired counters (opened/closed) rather than gauges. Latencies
//! a contact center watches are histograms in seconds, each observed at exactly one place.

use std::time::Duration;

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::domain::conversation::Status;
use crate::protocol::ErrorCode;

/// The `Content-Type` of [`Metrics::render`]: Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

/// Queue wait: seconds to hours.
const QUEUE_WAIT_BUCKETS: [f64; 13] = [
    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];
/// Offer → accept: bounded by the offer expiry (30 s by default).
const OFFER_ACCEPT_BUCKETS: [f64; 11] =
    [0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0];
/// First response: an agent reading and typing, seconds to minutes.
const FIRST_RESPONSE_BUCKETS: [f64; 12] = [
    5.0, 10.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0, 1200.0,
];
/// Send → ack and delivery: the node's own latency, milliseconds to seconds.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Metrics {
    registry: Registry,
    pub connections_opened: Counter,
    pub connections_closed: Counter,
    pub conversations_started: Counter,
    pub messages: Counter,
    pub messages_duplicate: Counter,
    /// Bot-first chats handed over to a person, and handovers that could not complete.
    pub handovers: Counter,
    pub handovers_failed: Counter,
    /// Webhooks to bots acknowledged, and attempts that failed (retried).
    pub bot_webhooks_delivered: Counter,
    pub bot_webhooks_failed: Counter,
    pub offers_sent: Counter,
    pub offers_accepted: Counter,
    pub offers_rejected: Counter,
    pub offers_expired: Counter,
    pub offers_rescinded: Counter,
    pub transfers_requested: Counter,
    pub actor_restarts: Counter,
    /// Finished conversations written to the archive (a re-store after more events counts too).
    pub archive_stored: Counter,
    /// Archive writes that failed (each attempt); the conversation stays in the backlog.
    pub archive_failures: Counter,
    /// Finished conversations waiting to be archived on this node.
    pub archive_backlog: Gauge,
    /// Deadlines the node's timer supervisor holds (idle, auto-complete, wrap-up, offers).
    pub timers_pending: Gauge,
    /// Archived conversations whose content retention removed.
    pub retention_redacted: Counter,
    /// Archived conversations retention deleted entirely.
    pub retention_deleted: Counter,
    /// Customer erasures finished (done).
    pub erasures_done: Counter,
    /// Customer erasure runs that failed (retried on the next sweep).
    pub erasure_failures: Counter,
    /// Transcript emails the SMTP server accepted.
    pub email_sent: Counter,
    /// Attempts to send an email that failed (retried with backoff, or given up).
    pub email_failures: Counter,
    /// Emails in the outbox not yet sent nor failed (every node's view of the shared outbox).
    pub email_backlog: Gauge,
    /// Outgoing webhooks acknowledged, attempts that failed, and webhooks given up (dead).
    pub webhooks_delivered: Counter,
    pub webhooks_failed: Counter,
    pub webhooks_dead: Counter,
    /// Webhooks in the shared outbox not yet delivered nor dead.
    pub webhooks_backlog: Gauge,
    /// Subscriptions whose circuit is open on this node.
    pub webhook_circuits_open: Gauge,
    pub slow_consumers: Counter,
    /// Enqueued → an offer for the conversation accepted (the queue actor).
    pub queue_wait: Histogram,
    /// Offer made → accepted (the agent actor).
    pub offer_accept: Histogram,
    /// The customer's first message → the first agent message after it (the conversation).
    pub first_response: Histogram,
    /// A `send` frame received → its ack written (the websocket session).
    pub send_ack: Histogram,
    /// An event applied by its conversation → handed to a follower's socket (the session).
    pub delivery: Histogram,
    /// Open websockets, set from the opened/closed counters when rendered.
    connections: Gauge,
    /// One gauge per [`Status::ALL`] entry, in that order.
    by_status: Vec<Gauge>,
    /// One counter per [`ErrorCode::ALL`] entry, in that order.
    errors: Vec<Counter>,
}

fn status_index(s: Status) -> usize {
    Status::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

fn histogram(buckets: &[f64]) -> Histogram {
    Histogram::new(buckets.iter().copied())
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let connections_opened = counter("connections_opened", "Websocket connections accepted");
        let connections_closed = counter("connections_closed", "Websocket connections closed");
        let conversations_started = counter("conversations_started", "Conversations created");
        let messages = counter("messages", "Chat messages appended to logs");
        let messages_duplicate =
            counter("messages_duplicate", "Retried sends answered from the log");
        let transfers_requested =
            counter("transfers_requested", "Agent-to-agent transfer requests");
        let handovers = counter("handovers", "Bot-first chats handed over to a person");
        let handovers_failed = counter(
            "handovers_failed",
            "Handovers that could not complete (the chat stayed with the bot)",
        );
        let bot_webhooks_delivered = counter(
            "bot_webhooks_delivered",
            "Webhooks to bots acknowledged with a 2xx",
        );
        let bot_webhooks_failed = counter(
            "bot_webhooks_failed",
            "Webhook attempts to bots that failed (retried with backoff)",
        );
        let actor_restarts = counter("actor_restarts", "Actors reactivated after dying");
        let archive_stored = counter(
            "archive_stored",
            "Finished conversations written to the archive",
        );
        let archive_failures = counter(
            "archive_failures",
            "Archive writes that failed (retried later)",
        );
        let retention_redacted = counter(
            "retention_redacted",
            "Archived conversations whose content retention removed",
        );
        let retention_deleted = counter(
            "retention_deleted",
            "Archived conversations retention deleted entirely",
        );
        let erasures_done = counter("erasures_done", "Customer erasures finished");
        let erasure_failures = counter(
            "erasure_failures",
            "Customer erasure runs that failed (retried on the next sweep)",
        );
        let email_sent = counter("email_sent", "Transcript emails the SMTP server accepted");
        let email_failures = counter(
            "email_failures",
            "Attempts to send an email that failed (retried or given up)",
        );
        let slow_consumers = counter(
            "slow_consumers",
            "Connections closed because their send buffer filled",
        );

        let archive_backlog = Gauge::default();
        registry.register(
            "archive_backlog",
            "Finished conversations waiting to be archived on this node",
            archive_backlog.clone(),
        );

        let timers_pending = Gauge::default();
        registry.register(
            "timers_pending",
            "Deadlines the timer supervisor holds (idle, auto-complete, wrap-up, offer expiry)",
            timers_pending.clone(),
        );
        let email_backlog = Gauge::default();
        registry.register(
            "email_backlog",
            "Emails in the outbox not yet sent nor failed",
            email_backlog.clone(),
        );
        let webhooks_backlog = Gauge::default();
        registry.register(
            "webhooks_backlog",
            "Outgoing webhooks in the outbox not yet delivered nor dead",
            webhooks_backlog.clone(),
        );
        let webhook_circuits_open = Gauge::default();
        registry.register(
            "webhook_circuits_open",
            "Webhook subscriptions whose circuit is open on this node",
            webhook_circuits_open.clone(),
        );
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let webhooks_delivered = counter(
            "webhooks_delivered",
            "Outgoing webhooks acknowledged with a 2xx",
        );
        let webhooks_failed = counter(
            "webhooks_failed",
            "Outgoing webhook attempts that failed (retried with backoff)",
        );
        let webhooks_dead = counter(
            "webhooks_dead",
            "Outgoing webhooks given up after their last attempt (dead-lettered)",
        );

        let offers = Family::<OutcomeLabel, Counter>::default();
        registry.register("offers", "Assignment offers by outcome", offers.clone());
        let offer = |outcome| offers.get_or_create_owned(&OutcomeLabel { outcome });
        let offers_sent = offer("sent");
        let offers_accepted = offer("accepted");
        let offers_rejected = offer("rejected");
        let offers_expired = offer("expired");
        let offers_rescinded = offer("rescinded");

        let states = Family::<StateLabel, Gauge>::default();
        registry.register(
            "conversations",
            "Conversations held by this node, by state",
            states.clone(),
        );
        let by_status = Status::ALL
            .iter()
            .map(|s| states.get_or_create_owned(&StateLabel { state: s.as_str() }))
            .collect();

        let codes = Family::<CodeLabel, Counter>::default();
        registry.register(
            "errors",
            "Errors returned to clients, by code",
            codes.clone(),
        );
        let errors = ErrorCode::ALL
            .iter()
            .map(|c| codes.get_or_create_owned(&CodeLabel { code: c.as_str() }))
            .collect();

        let connections = Gauge::default();
        registry.register(
            "connections",
            "Open websocket connections",
            connections.clone(),
        );

        let mut seconds = |name: &str, help: &str, buckets: &[f64]| {
            let h = histogram(buckets);
            registry.register_with_unit(name, help, Unit::Seconds, h.clone());
            h
        };
        let queue_wait = seconds(
            "queue_wait",
            "Time from joining a queue to an accepted offer",
            &QUEUE_WAIT_BUCKETS,
        );
        let offer_accept = seconds(
            "offer_accept",
            "Time from an offer to its acceptance by the agent",
            &OFFER_ACCEPT_BUCKETS,
        );
        let first_response = seconds(
            "first_response",
            "Time from the customer's first message to the first agent message after it",
            &FIRST_RESPONSE_BUCKETS,
        );
        let send_ack = seconds(
            "send_ack",
            "Time from receiving a send frame to writing its ack",
            &LATENCY_BUCKETS,
        );
        let delivery = seconds(
            "delivery",
            "Time from a conversation applying an event to handing it to a follower's socket",
            &LATENCY_BUCKETS,
        );

        Self {
            registry,
            connections_opened,
            connections_closed,
            conversations_started,
            messages,
            messages_duplicate,
            handovers,
            handovers_failed,
            bot_webhooks_delivered,
            bot_webhooks_failed,
            offers_sent,
            offers_accepted,
            offers_rejected,
            offers_expired,
            offers_rescinded,
            transfers_requested,
            actor_restarts,
            archive_stored,
            archive_failures,
            archive_backlog,
            timers_pending,
            retention_redacted,
            retention_deleted,
            erasures_done,
            erasure_failures,
            email_sent,
            email_failures,
            email_backlog,
            webhooks_delivered,
            webhooks_failed,
            webhooks_dead,
            webhooks_backlog,
            webhook_circuits_open,
            slow_consumers,
            queue_wait,
            offer_accept,
            first_response,
            send_ack,
            delivery,
            connections,
            by_status,
            errors,
        }
    }
}

impl Metrics {
    pub fn inc(counter: &Counter) {
        counter.inc();
    }

    /// Records a duration, in seconds.
    pub fn observe(histogram: &Histogram, elapsed: Duration) {
        histogram.observe(elapsed.as_secs_f64());
    }

    /// Moves one conversation between states (`None` for "did not exist" / "forgotten").
    pub fn transition(&self, from: Option<Status>, to: Option<Status>) {
        if from == to {
            return;
        }
        if let Some(f) = from {
            self.by_status[status_index(f)].dec();
        }
        if let Some(t) = to {
            self.by_status[status_index(t)].inc();
        }
    }

    pub fn error(&self, code: ErrorCode) {
        let i = ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(0);
        self.errors[i].inc();
    }

    /// Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let open = self
            .connections_opened
            .get()
            .saturating_sub(self.connections_closed.get());
        self.connections
            .set(i64::try_from(open).unwrap_or(i64::MAX));
        let mut out = String::with_capacity(8192);
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_with_its_labels() {
        let m = Metrics::default();
        Metrics::inc(&m.connections_opened);
        Metrics::inc(&m.connections_opened);
        Metrics::inc(&m.connections_closed);
        Metrics::inc(&m.offers_accepted);
        m.transition(None, Some(Status::Waiting));
        m.transition(Some(Status::Waiting), Some(Status::Assigned));
        m.error(ErrorCode::BadRequest);
        Metrics::observe(&m.send_ack, Duration::from_millis(3));
        let text = m.render();
        for line in [
            "# TYPE switchboard_connections_opened_total counter",
            "switchboard_connections_opened_total 2",
            "switchboard_connections 1",
            "switchboard_offers_total{outcome=\"accepted\"} 1",
            "switchboard_offers_total{outcome=\"sent\"} 0",
            "switchboard_conversations{state=\"assigned\"} 1",
            "switchboard_conversations{state=\"waiting\"} 0",
            "switchboard_errors_total{code=\"bad_request\"} 1",
            "# TYPE switchboard_send_ack_seconds histogram",
            "switchboard_send_ack_seconds_bucket{le=\"0.005\"} 1",
            "switchboard_send_ack_seconds_bucket{le=\"0.0025\"} 0",
            "switchboard_send_ack_seconds_count 1",
            "switchboard_queue_wait_seconds_count 0",
            "switchboard_offer_accept_seconds_count 0",
            "switchboard_first_response_seconds_count 0",
            "switchboard_delivery_seconds_count 0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(
            !text.contains(".."),
            "help text ends in one period:\n{text}"
        );
    }
}
