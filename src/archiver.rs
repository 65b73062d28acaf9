//! The archiver: moves finished conversations from the engine into the archive (DESIGN §12).
//!
//! A conversation actor hands its summary over when the conversation is `done` (wrapped up by
//! an agent, by the wrap-up timeout, or a chat between agents that ended) and again for each
//! later event (a survey answered after the wrap-up). One task per node writes them with
//! bounded retries and backoff; what still fails stays in the backlog. The engine keeps the
//! conversation meanwhile and marks what was archived (`Engine::mark_archived`), so a sweep —
//! at start and every `archive.sweep_ms` — finds finished conversations not yet archived (after
//! a database outage, a full backlog or a restart) and archives them. Once archived, the engine
//! drops the conversation after `archive.hot_grace_ms`, so hot storage stays bounded. Archiving never blocks a
//! chat: `submit` only records the conversation and wakes the task.
//!
//! **Architecture Invariant:** a finished conversation is archived exactly once in effect — a
//! re-store of what is already there changes nothing (the archive's rows are keyed by org,
//! conversation and seq) — and never lost: it leaves the backlog only once the archive holds
//! it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::archive::{ArchivedConversation, SharedArchive};
use crate::config::ArchiveSettings;
use crate::domain::conversation::Status;
use crate::engine::{ConversationFilter, ConversationSummary, SharedEngine, SurveyRecord};
use crate::ids::{ConvKey, ConversationId};
use crate::metrics::Metrics;
use crate::protocol::{EventKind, LogEvent};

/// Log pages read per archived conversation.
const LOG_PAGE: usize = 1000;
/// Conversations read per page when backfilling report rows.
const REPORT_BACKFILL_BATCH: usize = 200;

/// The id of a conversation's survey answer (one per conversation), the same in the engine and
/// in the archive.
pub fn survey_id(conversation: &ConversationId) -> String {
    format!("{conversation}-nps")
}

/// What `/readyz` shows of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveHealth {
    Ok,
    Backlog(usize),
    Error(String),
}

impl std::fmt::Display for ArchiveHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveHealth::Ok => f.write_str("ok"),
            ArchiveHealth::Backlog(n) => write!(f, "backlog {n}"),
            ArchiveHealth::Error(e) => write!(f, "error {e}"),
        }
    }
}

#[derive(Clone)]
pub struct Archiver {
    inner: Arc<Inner>,
}

struct Inner {
    engine: SharedEngine,
    archive: SharedArchive,
    settings: ArchiveSettings,
    /// Conversations waiting to be archived, with the latest summary handed over. A
    /// `parking_lot` mutex: held only to copy in or out, never across an await.
    backlog: Mutex<HashMap<ConvKey, ConversationSummary>>,
    /// Wakes the task when something was submitted.
    wake: tokio::sync::Notify,
    /// The last write's error, until a write succeeds.
    last_error: Mutex<Option<String>>,
    stored: Counter,
    failures: Counter,
    backlog_gauge: Gauge,
    /// Offered the whole log of each archived conversation: the webhooks its node may not
    /// have queued (the outbox ignores the rest).
    webhooks: crate::webhook::Webhooks,
}

impl Archiver {
    pub fn new(
        engine: SharedEngine,
        archive: SharedArchive,
        settings: ArchiveSettings,
        metrics: &Metrics,
        webhooks: crate::webhook::Webhooks,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                engine,
                archive,
                settings,
                webhooks,
                backlog: Mutex::new(HashMap::new()),
                wake: tokio::sync::Notify::new(),
                last_error: Mutex::new(None),
                stored: metrics.archive_stored.clone(),
                failures: metrics.archive_failures.clone(),
                backlog_gauge: metrics.archive_backlog.clone(),
            }),
        }
    }

    pub fn archive(&self) -> &SharedArchive {
        &self.inner.archive
    }

    /// Starts the task (on the current runtime): a sweep at once, then writes and sweeps.
    pub fn start(&self) {
        tokio::spawn(self.inner.clone().run());
        // Conversations archived before the reports existed get their report rows, once; so do
        // bot chats archived before the reports knew the bot (migration 0005 removed theirs).
        let archive = self.inner.archive.clone();
        tokio::spawn(async move {
            match archive.backfill_reports(REPORT_BACKFILL_BATCH).await {
                Ok(0) => {}
                Ok(conversations) => tracing::info!(
                    conversations,
                    "Report rows written for conversations archived before the reports."
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "Backfilling report rows failed; the next start retries.")
                }
            }
        });
    }

    /// A finished conversation (or one more event of it) to archive. Never blocks; when the
    /// backlog is full the conversation waits for a sweep instead.
    pub fn submit(&self, summary: ConversationSummary) {
        let key = ConvKey {
            org: summary.org.clone(),
            id: summary.id.clone(),
        };
        let mut backlog = self.inner.backlog.lock();
        if backlog.len() >= self.inner.settings.max_backlog && !backlog.contains_key(&key) {
            tracing::warn!(conversation = %key.id, "Archive backlog full; the next sweep takes this conversation.");
            return;
        }
        backlog.insert(key, summary);
        self.inner.backlog_gauge.set(gauge(backlog.len()));
        drop(backlog);
        self.inner.wake.notify_one();
    }

    pub fn health(&self) -> ArchiveHealth {
        if let Some(e) = self.inner.last_error.lock().clone() {
            return ArchiveHealth::Error(e);
        }
        match self.inner.backlog.lock().len() {
            0 => ArchiveHealth::Ok,
            n => ArchiveHealth::Backlog(n),
        }
    }
}

fn gauge(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Inner {
    async fn run(self: Arc<Self>) {
        let mut sweep = tokio::time::interval(Duration::from_millis(self.settings.sweep_ms.max(1)));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                _ = sweep.tick() => self.sweep().await,
            }
            self.drain().await;
        }
    }

    /// Archives everything in the backlog; stops at the first conversation that still fails
    /// after its retries (the database is down: the next sweep or submission tries again).
    async fn drain(&self) {
        let mut failed: Vec<ConvKey> = Vec::new();
        loop {
            let next = self
                .backlog
                .lock()
                .iter()
                .find(|(k, _)| !failed.contains(k))
                .map(|(k, s)| (k.clone(), s.clone()));
            let Some((key, summary)) = next else { return };
            match self.with_retries(&key, summary).await {
                Ok(archived_seq) => {
                    let mut backlog = self.backlog.lock();
                    if backlog
                        .get(&key)
                        .is_some_and(|s| s.last_seq <= archived_seq)
                    {
                        backlog.remove(&key);
                    }
                    self.backlog_gauge.set(gauge(backlog.len()));
                }
                Err(()) => {
                    failed.push(key);
                    // One conversation that keeps failing (a row the database refuses) must
                    // not hold the others up; a database that is down fails them all quickly.
                    if failed.len() >= 3 {
                        return;
                    }
                }
            }
        }
    }

    async fn with_retries(&self, key: &ConvKey, summary: ConversationSummary) -> Result<u64, ()> {
        let mut delay = Duration::from_millis(self.settings.retry_base_ms);
        let max = Duration::from_millis(self.settings.retry_max_ms);
        for attempt in 1..=self.settings.retry_attempts.max(1) {
            match self.archive_one(key, summary.clone()).await {
                Ok(seq) => {
                    *self.last_error.lock() = None;
                    self.stored.inc();
                    tracing::debug!(conversation = %key.id, seq, "Conversation archived.");
                    return Ok(seq);
                }
                Err(e) => {
                    self.failures.inc();
                    tracing::warn!(conversation = %key.id, attempt, error = %e, "Archiving failed; retrying.");
                    *self.last_error.lock() = Some(e);
                    if attempt < self.settings.retry_attempts {
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(max);
                    }
                }
            }
        }
        Err(())
    }

    /// Reads the conversation's log, writes everything to the archive, then marks it in the
    /// engine. Returns the last seq archived.
    async fn archive_one(
        &self,
        key: &ConvKey,
        mut summary: ConversationSummary,
    ) -> Result<u64, String> {
        let whole = crate::engine::read_all(self.engine.as_ref(), key, LOG_PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(whole) = whole else {
            // The engine forgot it (the customer was erased): nothing to archive, and
            // nothing that may come back.
            return Ok(summary.last_seq);
        };
        let (epoch, events) = (whole.epoch.to_string(), whole.events);
        self.webhooks.offer_all(&key.org, &key.id, &events);
        let last_seq = events.last().map_or(0, |e| e.seq);
        summary.last_seq = summary.last_seq.max(last_seq);
        let survey = survey_of(&summary, &events);
        let attachments = self
            .engine
            .conversation_attachments(key)
            .await
            .map_err(|e| e.to_string())?;
        self.archive
            .store(ArchivedConversation {
                summary,
                epoch,
                events,
                survey,
                attachments,
            })
            .await
            .map_err(|e| e.to_string())?;
        self.engine
            .mark_archived(key, last_seq)
            .await
            .map_err(|e| e.to_string())?;
        // Hot storage stays bounded: the engine forgets it after the grace period (late
        // clients still resume meanwhile). Part of the write, so a failure retries it all.
        self.engine
            .expire_conversation(key, Duration::from_millis(self.settings.hot_grace_ms))
            .await
            .map_err(|e| e.to_string())?;
        Ok(last_seq)
    }

    /// Finds every org's finished conversations that the archive lacks (or lacks events of).
    async fn sweep(&self) {
        let orgs = match self.engine.load_orgs().await {
            Ok(orgs) => orgs,
            Err(e) => {
                tracing::warn!(error = %e, "Archive sweep could not list the orgs.");
                return;
            }
        };
        for org in orgs {
            let filter = ConversationFilter {
                status: Some(Status::Done),
                limit: self.settings.sweep_batch,
                ..ConversationFilter::default()
            };
            let done = match self.engine.find_conversations(&org.id, filter).await {
                Ok(done) => done,
                Err(e) => {
                    tracing::warn!(org = %org.id, error = %e, "Archive sweep could not list finished conversations.");
                    continue;
                }
            };
            let ids = done.iter().map(|s| s.id.clone()).collect();
            let marks = match self.engine.archived_marks(&org.id, ids).await {
                Ok(marks) => marks,
                Err(e) => {
                    tracing::warn!(org = %org.id, error = %e, "Archive sweep could not read the markers.");
                    continue;
                }
            };
            let mut backlog = self.backlog.lock();
            for (summary, mark) in done.into_iter().zip(marks) {
                if mark >= summary.last_seq || backlog.len() >= self.settings.max_backlog {
                    continue;
                }
                let key = ConvKey {
                    org: summary.org.clone(),
                    id: summary.id.clone(),
                };
                backlog.entry(key).or_insert(summary);
            }
            self.backlog_gauge.set(gauge(backlog.len()));
        }
    }
}

/// The customer's survey answer, from the log.
fn survey_of(summary: &ConversationSummary, events: &[Arc<LogEvent>]) -> Option<SurveyRecord> {
    let customer = summary.customer.clone()?;
    events.iter().find_map(|e| match &e.kind {
        EventKind::Survey { rating, comment } => Some(SurveyRecord {
            id: survey_id(&summary.id),
            org: summary.org.clone(),
            conversation: summary.id.clone(),
            customer: customer.clone(),
            agent: summary.owner.clone(),
            survey_type: "NPS",
            rating: *rating,
            comment: comment.clone(),
            created_at: e.at,
        }),
        _ => None,
    })
}
