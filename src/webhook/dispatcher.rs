//! Outgoing webhooks (issue 15, PROTOCOL §9.13): the node's side of the outbox
//! (`archive/webhooks.rs`).
//!
//! **Offering.** Every logged event an org's subscriptions want becomes one outbox row per
//! subscription. The conversation offers each event as it applies it, again its recent events
//! when it is rebuilt (a node died between the append and the row: `replay_window_ms`), and its
//! whole log when it is archived; the outbox keeps the first row of each id, so offering twice
//! queues nothing twice. Writing rows never holds up the conversation: one writer task per node
//! takes the offers **in order** and writes them a batch per transaction, so a conversation's
//! earlier rows are always in the outbox before its later ones (the claim, which only takes the
//! oldest unfinished row of a line, then cannot overtake one not yet written).
//!
//! **Sending.** Each node's dispatcher claims due rows with a lease — only the oldest unfinished
//! of each (subscription, conversation) — sends them concurrently, one per line, and records the
//! outcome fenced by the attempt. A failure is retried after a backoff doubling from
//! `retry_base_ms` to `retry_max_ms`, up to `max_attempts`; then the row is dead (listed and
//! redeliverable through the API) and the conversation's later events flow again. A subscription
//! failing `breaker_failures` times in a row is skipped by this node for `breaker_open_ms` (its
//! circuit is open), so a dead target costs one attempt per period, not one per event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::archive::webhooks::{ClaimedWebhook, NewWebhook};
use crate::archive::SharedArchive;
use crate::config::WebhookSettings;
use crate::domain::org::OrgConfig;
use crate::domain::webhooks::{self as rules, Mode};
use crate::ids::{ConversationId, OrgId};
use crate::mailer::{doubling_backoff_us, millis_us, now_us};
use crate::metrics::Metrics;
use crate::orgs::Orgs;
use crate::protocol::{EventKind, LogEvent};

/// Offers waiting for the writer (DESIGN invariant 8).
const WRITE_QUEUE: usize = 65_536;
/// Most offers the writer puts in one transaction.
const WRITE_BATCH: usize = 256;

/// Rows to write, and who waits for them to be written.
type Write = (
    Vec<NewWebhook>,
    Option<tokio::sync::oneshot::Sender<Result<(), crate::archive::ArchiveError>>>,
);

#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    archive: SharedArchive,
    orgs: Arc<Orgs>,
    settings: WebhookSettings,
    wake: tokio::sync::Notify,
    /// Offers on their way to the outbox, written one batch at a time in order.
    writes: tokio::sync::mpsc::Sender<Write>,
    /// The writer's end, until `start` takes it.
    pending_writes: Mutex<Option<tokio::sync::mpsc::Receiver<Write>>>,
    /// `org/subscription` → its circuit on this node.
    breakers: Mutex<HashMap<String, Breaker>>,
    last_error: Mutex<Option<String>>,
    delivered: Counter,
    failures: Counter,
    dead: Counter,
    backlog: Gauge,
    open_circuits: Gauge,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

impl Webhooks {
    pub fn new(
        archive: SharedArchive,
        orgs: Arc<Orgs>,
        settings: WebhookSettings,
        metrics: &Metrics,
    ) -> Self {
        let (writes, pending) = tokio::sync::mpsc::channel(WRITE_QUEUE);
        Self {
            inner: Arc::new(Inner {
                archive,
                orgs,
                settings,
                wake: tokio::sync::Notify::new(),
                writes,
                pending_writes: Mutex::new(Some(pending)),
                breakers: Mutex::new(HashMap::new()),
                last_error: Mutex::new(None),
                delivered: metrics.webhooks_delivered.clone(),
                failures: metrics.webhooks_failed.clone(),
                dead: metrics.webhooks_dead.clone(),
                backlog: metrics.webhooks_backlog.clone(),
                open_circuits: metrics.webhook_circuits_open.clone(),
            }),
        }
    }

    /// Starts this node's dispatcher (on the current actix system: the HTTP client is not
    /// `Send`).
    pub fn start(&self) {
        if let Some(writes) = self.inner.pending_writes.lock().take() {
            tokio::spawn(self.inner.clone().write(writes));
        }
        actix_rt::spawn(self.inner.clone().run());
    }

    pub fn settings(&self) -> &WebhookSettings {
        &self.inner.settings
    }

    /// Offers a conversation's logged events to the org's subscriptions (see the module
    /// documentation); ticket requests are queued by their route, with the transcript.
    pub fn offer(&self, org: &OrgConfig, conversation: &ConversationId, events: &[Arc<LogEvent>]) {
        if org.webhooks.is_empty() {
            return;
        }
        let now = now_us();
        let mut rows = Vec::new();
        for event in events {
            if matches!(event.kind, EventKind::TicketRequested { .. }) {
                continue;
            }
            for sub in &org.webhooks {
                let Some(kind) = rules::event_type(event, sub.include_agents_only) else {
                    continue;
                };
                if !sub.wants(kind) {
                    continue;
                }
                let body = rules::body(org.id.as_str(), conversation.as_str(), kind, event, None);
                rows.push(NewWebhook {
                    org: org.id.clone(),
                    subscription: sub.id.clone(),
                    id: rules::event_id(conversation.as_str(), event.seq),
                    conversation: conversation.to_string(),
                    seq: i64::try_from(event.seq).unwrap_or(i64::MAX),
                    event_type: kind.to_string(),
                    body: body.to_string(),
                    pull: sub.mode == Mode::Pull,
                    created_us: now,
                });
            }
        }
        self.enqueue_in_background(rows);
    }

    /// Offers the events of a conversation of org `org` (by id).
    pub fn offer_all(&self, org: &OrgId, conversation: &ConversationId, events: &[Arc<LogEvent>]) {
        if let Some(config) = self.inner.orgs.get(org) {
            self.offer(&config, conversation, events);
        }
    }

    /// One event outside any conversation (`customer.erased`), to every subscription wanting it.
    pub fn offer_org_event(&self, org: &OrgId, kind: &str, id: &str, data: serde_json::Value) {
        let Some(org) = self.inner.orgs.get(org) else {
            return;
        };
        let body = serde_json::json!({
            "id": id,
            "type": kind,
            "org": org.id,
            "at": chrono::Utc::now(),
            "data": data,
        });
        let rows = org
            .webhooks
            .iter()
            .filter(|s| s.wants(kind))
            .map(|s| NewWebhook {
                org: org.id.clone(),
                subscription: s.id.clone(),
                id: id.to_string(),
                conversation: String::new(),
                seq: 0,
                event_type: kind.to_string(),
                body: body.to_string(),
                pull: s.mode == Mode::Pull,
                created_us: now_us(),
            })
            .collect();
        self.enqueue_in_background(rows);
    }

    /// Queues rows and waits until they are in the outbox (a ticket request is answered once
    /// its webhook is durable). Through the same ordered writer as every offer.
    pub async fn enqueue(&self, rows: Vec<NewWebhook>) -> Result<(), crate::archive::ArchiveError> {
        if rows.is_empty() {
            return Ok(());
        }
        let (done, written) = tokio::sync::oneshot::channel();
        self.inner
            .writes
            .try_send((rows, Some(done)))
            .map_err(|_| {
                crate::archive::ArchiveError::Other("the webhook writer is full".into())
            })?;
        written
            .await
            .map_err(|_| crate::archive::ArchiveError::Other("the webhook writer stopped".into()))?
    }

    /// Hands rows to this node's writer, which writes them in the order offered: a line's
    /// earlier rows are in the outbox before its later ones, so a claim never overtakes them.
    fn enqueue_in_background(&self, rows: Vec<NewWebhook>) {
        if rows.is_empty() {
            return;
        }
        if let Err(e) = self.inner.writes.try_send((rows, None)) {
            // Bounded (DESIGN invariant 8): the conversation offers them again when it is
            // rebuilt or archived.
            tracing::error!(error = %e, "The webhook writer is full; these webhooks are offered again when their conversation is archived.");
        }
    }

    /// Whether this node has the subscription's circuit open now.
    pub fn circuit_open(&self, org: &OrgId, subscription: &str) -> bool {
        let key = format!("{org}/{subscription}");
        self.inner
            .breakers
            .lock()
            .get(&key)
            .and_then(|b| b.open_until)
            .is_some_and(|t| t > Instant::now())
    }

    /// What `/readyz` shows: `ok`, `backlog N` or `error …`.
    pub async fn health(&self) -> String {
        if let Some(e) = self.inner.last_error.lock().clone() {
            return format!("error {e}");
        }
        match self.inner.archive.webhooks().webhook_backlog().await {
            Ok(0) => "ok".into(),
            Ok(n) => format!("backlog {n}"),
            Err(e) => format!("error {e}"),
        }
    }
}

impl Inner {
    /// The writer: takes offers in order, a batch at a time, and writes each batch in one
    /// transaction, retrying (later offers wait: order first) until the database takes it.
    async fn write(self: Arc<Self>, mut writes: tokio::sync::mpsc::Receiver<Write>) {
        let mut batch = Vec::new();
        while writes.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            let rows: Vec<NewWebhook> = batch.iter().flat_map(|(r, _)| r.clone()).collect();
            let mut pause = Duration::from_millis(50);
            let outcome = loop {
                match self.archive.webhooks().enqueue_webhooks(rows.clone()).await {
                    Ok(()) => break Ok(()),
                    Err(e) if pause > Duration::from_secs(5) => break Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, rows = rows.len(), "Writing webhooks failed; retrying.");
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                }
            };
            if let Err(e) = &outcome {
                // They are offered again when their conversation is archived.
                tracing::error!(error = %e, rows = rows.len(), "Could not write webhooks; they are offered again when their conversation is archived.");
            }
            for (_, done) in batch.drain(..) {
                if let Some(done) = done {
                    let _ = done.send(match &outcome {
                        Ok(()) => Ok(()),
                        Err(e) => Err(crate::archive::ArchiveError::Other(e.to_string())),
                    });
                }
            }
            self.wake.notify_one();
        }
    }

    async fn run(self: Arc<Self>) {
        let poll = Duration::from_millis(self.settings.poll_ms.max(10));
        let mut last_purge = Instant::now();
        loop {
            // Go again at once while anything was claimed: each delivery lets its line's next
            // webhook go, and a full batch means more may be due.
            while self.round().await > 0 {}
            if let Ok(n) = self.archive.webhooks().webhook_backlog().await {
                self.backlog.set(n);
            }
            if last_purge.elapsed() > Duration::from_secs(60) {
                last_purge = Instant::now();
                let before = now_us().saturating_sub(millis_us(self.settings.keep_ms));
                if let Err(e) = self.archive.webhooks().purge_webhooks(before).await {
                    tracing::warn!(error = %e, "Purging old webhooks failed; retrying.");
                }
            }
            let _ = tokio::time::timeout(poll, self.wake.notified()).await;
        }
    }

    /// The subscriptions whose circuit is open on this node (`org/subscription`).
    fn open(&self) -> Vec<String> {
        let now = Instant::now();
        let open: Vec<String> = self
            .breakers
            .lock()
            .iter()
            .filter(|(_, b)| b.open_until.is_some_and(|t| t > now))
            .map(|(k, _)| k.clone())
            .collect();
        self.open_circuits
            .set(i64::try_from(open.len()).unwrap_or(i64::MAX));
        open
    }

    /// Claims and sends what is due; the number claimed.
    async fn round(self: &Arc<Self>) -> usize {
        let now = now_us();
        let lease = now.saturating_add(millis_us(self.settings.lease_ms));
        let outbox = self.archive.webhooks();
        let claimed = match outbox
            .claim_webhooks(now, lease, self.settings.batch.max(1), self.open())
            .await
        {
            Ok(c) => {
                *self.last_error.lock() = None;
                c
            }
            Err(e) => {
                tracing::warn!(error = %e, "Webhook outbox unavailable; retrying.");
                *self.last_error.lock() = Some(e.to_string());
                return 0;
            }
        };
        let n = claimed.len();
        let sends = claimed.into_iter().map(|c| {
            let this = self.clone();
            async move { this.deliver(c).await }
        });
        // The acknowledged ones are recorded together, in one statement.
        let delivered: Vec<ClaimedWebhook> = futures_util::future::join_all(sends)
            .await
            .into_iter()
            .flatten()
            .collect();
        if let Err(e) = outbox.webhooks_delivered(delivered, now_us()).await {
            // Their leases run out and they are sent again: at least once.
            tracing::warn!(error = %e, "Recording delivered webhooks failed.");
        }
        n
    }

    /// One attempt; the claim back when it was acknowledged (recorded by the round), else its
    /// failure is recorded here.
    async fn deliver(&self, c: ClaimedWebhook) -> Option<ClaimedWebhook> {
        let key = format!("{}/{}", c.org, c.subscription);
        let sub = OrgId::parse(&c.org)
            .ok()
            .and_then(|org| self.orgs.get(&org))
            .and_then(|o| o.webhooks.iter().find(|s| s.id == c.subscription).cloned());
        let outcome = match &sub {
            None => Err("the subscription was removed".to_string()),
            Some(s) if !s.enabled => Err("the subscription is disabled".to_string()),
            Some(s) => {
                let delivery = super::Delivery {
                    url: s.url.clone(),
                    secret: s.secret.clone().unwrap_or_default(),
                    id: c.id.clone(),
                    body: c.body.clone().into_bytes(),
                    timeout: Duration::from_millis(self.settings.timeout_ms),
                    allow_private: s.allow_private_network,
                };
                super::send(delivery).await
            }
        };
        let outbox = self.archive.webhooks();
        let recorded = match outcome {
            Ok(()) => {
                self.delivered.inc();
                self.breakers.lock().remove(&key);
                return Some(c);
            }
            Err(error) => {
                self.failures.inc();
                self.trip(&key);
                // A removed subscription has nowhere to go: dead at once.
                let retry = (sub.is_some() && c.attempt < i64::from(self.settings.max_attempts))
                    .then(|| now_us().saturating_add(backoff(&self.settings, c.attempt)));
                if retry.is_none() {
                    self.dead.inc();
                }
                tracing::warn!(webhook = %c.id, subscription = %key, attempt = c.attempt, %error,
                    dead = retry.is_none(), "A webhook attempt failed.");
                outbox.webhook_failed(&c, &error, retry).await
            }
        };
        if let Err(e) = recorded {
            // The claim's lease runs out and the webhook is sent again: at least once.
            tracing::warn!(webhook = %c.id, error = %e, "Recording a webhook's outcome failed.");
        }
        None
    }

    /// Counts a failure of the subscription; opens its circuit at the threshold.
    fn trip(&self, key: &str) {
        let mut breakers = self.breakers.lock();
        let b = breakers.entry(key.to_string()).or_default();
        b.failures += 1;
        if b.failures >= self.settings.breaker_failures.max(1) {
            b.open_until =
                Some(Instant::now() + Duration::from_millis(self.settings.breaker_open_ms));
        }
    }
}

/// The pause after failed attempt `attempt` (1-based), in microseconds.
fn backoff(settings: &WebhookSettings, attempt: i64) -> i64 {
    doubling_backoff_us(settings.retry_base_ms, settings.retry_max_ms, attempt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_backoff_spends_hours_before_a_webhook_is_dead() {
        let s = WebhookSettings::default();
        let total: i64 = (1..i64::from(s.max_attempts)).map(|a| backoff(&s, a)).sum();
        let hours = total as f64 / 3.6e9;
        assert!((4.0..12.0).contains(&hours), "{hours} h");
        assert_eq!(backoff(&s, 1), 1_000_000);
        assert_eq!(backoff(&s, 40), 3_600_000_000, "capped, no overflow");
    }
}
