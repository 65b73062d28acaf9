//! The archive: the system of record for finished conversations (DESIGN §12).
//!
//! The engine holds live conversations; once a conversation is `done`, the node's archiver
//! (`crate::archiver`) writes it here — summary, whole log (agents-only events included and
//! marked by their visibility), survey answer and participants — in one idempotent transaction.
//! One trait, [`Archive`], with two implementations over `sqlx`: SQLite, the embedded default
//! (a file in the data directory, created with its folder on first start), and PostgreSQL for
//! clusters. The SQL both dialects agree on is shared (`sql.rs`); each dialect has its own
//! migrations (`migrations/{sqlite,postgres}/`, embedded in the binary and applied at start).
//!
//! **Architecture Invariant:** every query is scoped by org (DESIGN invariant 6): an id of
//! another org finds nothing.

pub mod outbox;
mod postgres;
pub mod privacy;
mod report_sql;
mod runtime;
mod sql;
mod sqlite;
pub mod webhooks;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::figures::{Report, ReportBy};
use crate::engine::{AttachmentRecord, ConversationFilter, ConversationSummary, SurveyRecord};
use crate::ids::{ConvKey, OrgId};
use crate::protocol::{CommandError, LogEvent};

pub type ArchiveFuture<T> = Pin<Box<dyn Future<Output = Result<T, ArchiveError>> + Send>>;
pub type SharedArchive = Arc<dyn Archive>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    /// The database cannot be reached (or answered an error); nothing was written.
    #[error("archive unavailable: {0}")]
    Unavailable(String),
    /// A stored row does not parse, or the URL is not one the archive knows.
    #[error("archive error: {0}")]
    Other(String),
}

impl From<sqlx::Error> for ArchiveError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::TypeNotFound { .. } => ArchiveError::Other(e.to_string()),
            other => ArchiveError::Unavailable(other.to_string()),
        }
    }
}

impl From<ArchiveError> for CommandError {
    /// An unreachable archive is `unavailable` (retry); anything else is internal.
    fn from(e: ArchiveError) -> Self {
        match e {
            ArchiveError::Unavailable(m) => CommandError::unavailable(m),
            ArchiveError::Other(m) => CommandError::internal(m),
        }
    }
}

/// Everything the archive keeps of one finished conversation.
#[derive(Debug, Clone)]
pub struct ArchivedConversation {
    /// Its status, customer, queue, owner, participants (`agents`), disposition …
    pub summary: ConversationSummary,
    /// The log's generation (what the engine's log answers as `epoch`).
    pub epoch: String,
    /// The whole log, in seq order.
    pub events: Vec<Arc<LogEvent>>,
    /// The customer's survey answer, if any.
    pub survey: Option<SurveyRecord>,
    /// Files uploaded to it (their metadata and blob keys: retention and erasure delete them).
    pub attachments: Vec<AttachmentRecord>,
}

/// Retention and erasure ([`privacy::PrivacyArchive`]) are part of every archive.
pub trait Archive: privacy::PrivacyArchive + Send + Sync + 'static {
    /// "sqlite" or "postgres", for logs and `/readyz`.
    fn kind(&self) -> &'static str;

    /// Writes the conversation in one transaction. Idempotent: rows are keyed by org and
    /// conversation (events also by seq), so storing the same conversation again changes
    /// nothing, and storing it with more events (a survey answered after the wrap-up) adds them.
    fn store(&self, conversation: ArchivedConversation) -> ArchiveFuture<()>;

    fn summary(&self, key: &ConvKey) -> ArchiveFuture<Option<ConversationSummary>>;

    /// The archived log's generation.
    fn epoch(&self, key: &ConvKey) -> ArchiveFuture<Option<String>>;

    /// Events with `seq > after_seq`, in order, at most `limit`.
    fn events(
        &self,
        key: &ConvKey,
        after_seq: u64,
        limit: usize,
    ) -> ArchiveFuture<Vec<Arc<LogEvent>>>;

    /// Archived conversations matching `filter` (the engine's filter), newest first, at most
    /// `filter.limit`.
    fn find(
        &self,
        org: &OrgId,
        filter: ConversationFilter,
    ) -> ArchiveFuture<Vec<ConversationSummary>>;

    /// The org's archived survey answers, oldest first.
    fn surveys(&self, org: &OrgId) -> ArchiveFuture<Vec<SurveyRecord>>;

    /// The report (`domain::figures`) of the org's customer conversations that ended in
    /// `[from, until)`, per queue or per agent, tallied as the rows are read (they are never
    /// all in memory at once).
    fn report(
        &self,
        org: &OrgId,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        by: ReportBy,
    ) -> ArchiveFuture<Report>;

    /// Writes the report rows of the customer conversations archived without them (before the
    /// reports existed), reading `batch` conversations at a time; returns how many it wrote.
    /// Idempotent, and safe beside `store`: a conversation that gains its rows meanwhile is
    /// simply not found again.
    fn backfill_reports(&self, batch: usize) -> ArchiveFuture<usize>;

    /// Ok when the database answers.
    fn check(&self) -> ArchiveFuture<()>;

    /// The email outbox in the same database.
    fn outbox(&self) -> &dyn outbox::Outbox;

    /// The outgoing-webhook outbox in the same database.
    fn webhooks(&self) -> &dyn webhooks::WebhookOutbox;
}

/// Opens the archive named by `url` (`sqlite://path` or `postgres://…`), creating a SQLite
/// file and its folder when missing, and applies the migrations.
pub async fn open(url: &str) -> Result<SharedArchive, ArchiveError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteArchive::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PostgresArchive::open(url).await?))
    } else {
        Err(ArchiveError::Other(format!(
            "archive.url must start with sqlite: or postgres:, not {:?}",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

/// Reads a conversation's whole archived log, `page` events per read.
pub async fn read_all(
    archive: &dyn Archive,
    key: &ConvKey,
    page: usize,
) -> Result<Vec<Arc<LogEvent>>, ArchiveError> {
    let mut all: Vec<Arc<LogEvent>> = Vec::new();
    loop {
        let after = all.last().map_or(0, |e| e.seq);
        let next = archive.events(key, after, page).await?;
        let more = next.len() == page;
        all.extend(next);
        if !more {
            return Ok(all);
        }
    }
}
