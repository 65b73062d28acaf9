//! Emailing transcripts (issue 14, seed 002): the node's sender over the outbox
//! (`archive/outbox.rs`), through SMTP (`lettre`, plain SMTP with optional AUTH).
//!
//! `queue` writes the email into the outbox (in the archive database, shared by every node)
//! and wakes this node's sender; the sender also looks every `smtp.poll_ms`. It claims due
//! emails with a lease (`smtp.lease_ms`), sends each, and marks it `sent`; a failure makes it
//! due again after a backoff doubling from `smtp.retry_base_ms` to `smtp.retry_max_ms`, until
//! `smtp.max_attempts`, then `failed` with the last error. A node that dies mid-send leaves its
//! claim to expire, and another node sends the email (at least once: SMTP has no idempotency).
//! Sent and failed emails keep only their status row, purged after `smtp.keep_ms`.
//! With no `smtp.host` email is off and nothing runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::archive::outbox::{ClaimedEmail, NewEmail};
use crate::archive::{ArchiveError, SharedArchive};
use crate::config::SmtpSettings;
use crate::ids::OrgId;
use crate::limiter::TokenBucket;
use crate::metrics::Metrics;

/// The longest address accepted (RFC 5321's path limit).
const MAX_ADDRESS: usize = 254;

/// Checks the `[smtp]` settings at start: a configured server needs a valid sender address.
pub fn validate(settings: &SmtpSettings) -> Result<(), String> {
    if settings.host.is_empty() {
        return Ok(());
    }
    settings
        .from
        .parse::<Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("smtp.from {:?} is not an address: {e}", settings.from))
}

/// A recipient address as typed by staff: one bare address (no display name, no list).
pub fn recipient(raw: &str) -> Result<Address, String> {
    let raw = raw.trim();
    if raw.len() > MAX_ADDRESS {
        return Err(format!("an address has at most {MAX_ADDRESS} characters"));
    }
    raw.parse::<Address>()
        .map_err(|e| format!("{raw:?} is not an email address: {e}"))
}

#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    archive: SharedArchive,
    settings: SmtpSettings,
    /// Both set when email is on.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Option<Mailbox>,
    wake: tokio::sync::Notify,
    /// Each org's allowance of new emails on this node (`parking_lot`: never held across an
    /// await).
    allowance: Mutex<HashMap<OrgId, TokenBucket>>,
    /// The last round's error (the outbox unreachable), until a round succeeds.
    last_error: Mutex<Option<String>>,
    sent: Counter,
    failures: Counter,
    backlog: Gauge,
}

impl Mailer {
    pub fn new(archive: SharedArchive, settings: SmtpSettings, metrics: &Metrics) -> Self {
        let from = settings.from.parse::<Mailbox>().ok();
        let transport = (!settings.host.is_empty()).then(|| {
            let mut builder =
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
                    .port(settings.port)
                    .timeout(Some(Duration::from_millis(settings.timeout_ms)));
            if !settings.username.is_empty() && !settings.password.expose().is_empty() {
                builder = builder.credentials(Credentials::new(
                    settings.username.clone(),
                    settings.password.expose().to_string(),
                ));
            }
            builder.build()
        });
        Self {
            inner: Arc::new(Inner {
                archive,
                transport,
                from,
                settings,
                wake: tokio::sync::Notify::new(),
                allowance: Mutex::new(HashMap::new()),
                last_error: Mutex::new(None),
                sent: metrics.email_sent.clone(),
                failures: metrics.email_failures.clone(),
                backlog: metrics.email_backlog.clone(),
            }),
        }
    }

    /// Whether an SMTP server is configured.
    pub fn enabled(&self) -> bool {
        self.inner.transport.is_some() && self.inner.from.is_some()
    }

    /// Starts this node's sender (nothing when email is off).
    pub fn start(&self) {
        if self.enabled() {
            tokio::spawn(self.inner.clone().run());
        }
    }

    /// Takes one of the org's emails on this node; `false` when it has sent its share.
    pub fn allow(&self, org: &OrgId) -> bool {
        let settings = &self.inner.settings;
        let per_sec = settings.per_minute as f64 / 60.0;
        self.inner
            .allowance
            .lock()
            .entry(org.clone())
            .or_insert_with(|| TokenBucket::per_second(per_sec, settings.burst))
            .try_take()
    }

    /// Puts an email in the outbox and wakes the sender.
    pub async fn queue(&self, email: NewEmail) -> Result<(), ArchiveError> {
        self.inner.archive.outbox().enqueue(email).await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// What `/readyz` shows: `off`, `ok`, `backlog N` or `error …`.
    pub async fn health(&self) -> String {
        if !self.enabled() {
            return "off".into();
        }
        if let Some(e) = self.inner.last_error.lock().clone() {
            return format!("error {e}");
        }
        match self.inner.archive.outbox().backlog().await {
            Ok(0) => "ok".into(),
            Ok(n) => format!("backlog {n}"),
            Err(e) => format!("error {e}"),
        }
    }
}

impl Inner {
    async fn run(self: Arc<Self>) {
        let poll = Duration::from_millis(self.settings.poll_ms.max(10));
        loop {
            // A full batch means more may be due: go again at once.
            while self.round().await >= self.settings.batch.max(1) {}
            if let Ok(n) = self.archive.outbox().backlog().await {
                self.backlog.set(n);
            }
            let before = now_us().saturating_sub(millis_us(self.settings.keep_ms));
            if let Err(e) = self.archive.outbox().purge(before).await {
                tracing::warn!(error = %e, "Purging old emails failed; retrying.");
            }
            let _ = tokio::time::timeout(poll, self.wake.notified()).await;
        }
    }

    /// Claims and sends what is due; the number claimed.
    async fn round(&self) -> usize {
        let now = now_us();
        let lease = now.saturating_add(millis_us(self.settings.lease_ms));
        let outbox = self.archive.outbox();
        let claimed = match outbox.claim(now, lease, self.settings.batch.max(1)).await {
            Ok(c) => {
                *self.last_error.lock() = None;
                c
            }
            Err(e) => {
                tracing::warn!(error = %e, "Email outbox unavailable; retrying.");
                *self.last_error.lock() = Some(e.to_string());
                return 0;
            }
        };
        let n = claimed.len();
        for email in claimed {
            let outcome = match self.send(&email).await {
                Ok(()) => {
                    self.sent.inc();
                    outbox
                        .mark_sent(&email.org, &email.id, email.attempt, now_us())
                        .await
                }
                Err(error) => {
                    self.failures.inc();
                    let retry = (email.attempt < i64::from(self.settings.max_attempts))
                        .then(|| now_us().saturating_add(backoff(&self.settings, email.attempt)));
                    tracing::warn!(email = %email.id, attempt = email.attempt, %error,
                        gives_up = retry.is_none(), "Sending an email failed.");
                    outbox
                        .mark_failed(&email.org, &email.id, email.attempt, &error, retry)
                        .await
                }
            };
            if let Err(e) = outcome {
                // The claim's lease runs out and the email is sent again: at least once.
                tracing::warn!(email = %email.id, error = %e, "Recording an email's outcome failed.");
            }
        }
        n
    }

    async fn send(&self, email: &ClaimedEmail) -> Result<(), String> {
        let (Some(transport), Some(from)) = (&self.transport, &self.from) else {
            return Err("email is not configured".into());
        };
        let to = recipient(&email.recipient)?;
        let builder = Message::builder()
            .from(from.clone())
            .to(Mailbox::new(None, to))
            .subject(email.subject.clone());
        let message = match &email.attachment {
            None => builder.singlepart(SinglePart::plain(email.body.clone())),
            Some((name, bytes)) => builder.multipart(
                MultiPart::mixed()
                    .singlepart(SinglePart::plain(email.body.clone()))
                    .singlepart(Attachment::new(name.clone()).body(
                        bytes.clone(),
                        ContentType::parse("application/pdf").map_err(|e| e.to_string())?,
                    )),
            ),
        }
        .map_err(|e| format!("building the message: {e}"))?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The pause after failed attempt `attempt` (1-based), in microseconds: `retry_base_ms`
/// doubled per earlier failure, at most `retry_max_ms`.
fn backoff(settings: &SmtpSettings, attempt: i64) -> i64 {
    doubling_backoff_us(settings.retry_base_ms, settings.retry_max_ms, attempt)
}

/// `base_ms` doubled per failure before attempt `attempt` (1-based), at most `max_ms`, in
/// microseconds: the outboxes' retry pause (emails, webhooks).
pub(crate) fn doubling_backoff_us(base_ms: u64, max_ms: u64, attempt: i64) -> i64 {
    let doublings = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    millis_us(base_ms.saturating_mul(1u64 << doublings).min(max_ms))
}

/// Now, in microseconds since the epoch.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

pub(crate) fn millis_us(ms: u64) -> i64 {
    i64::try_from(ms.saturating_mul(1000)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_one_bare_address() {
        for ok in [
            "ada@example.com",
            " ada@example.com ",
            "a.b+c@sub.example.org",
        ] {
            assert!(recipient(ok).is_ok(), "{ok}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "ada",
            "ada@",
            "Ada <ada@example.com>",
            "a@b.example, c@d.example",
            "ada@example.com\r\nBcc: x@evil.example",
            long.as_str(),
        ] {
            assert!(recipient(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        let settings = SmtpSettings {
            retry_base_ms: 1_000,
            retry_max_ms: 5_000,
            ..SmtpSettings::default()
        };
        let waits: Vec<i64> = (1..=5).map(|n| backoff(&settings, n) / 1_000_000).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(backoff(&settings, 1_000_000), 5_000_000, "no overflow");
        assert_eq!(backoff(&settings, 0), 1_000_000);
    }

    #[test]
    fn a_configured_server_needs_a_sender_address() {
        let mut settings = SmtpSettings {
            from: "not an address".into(),
            ..SmtpSettings::default()
        };
        assert!(validate(&settings).is_ok(), "email off: not checked");
        settings.host = "127.0.0.1".into();
        assert!(validate(&settings).is_err());
        settings.from = "Chat <chat@shop.example>".into();
        assert!(validate(&settings).is_ok());
    }
}
