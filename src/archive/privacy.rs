//! What retention and customer erasure need of the archive (issue 14): a conversation's
//! attachments, the conversations past a retention cutoff, redacting one's content, deleting
//! one entirely, and the audit trail of erasure requests. Implemented for both dialects by
//! [`privacy_impl!`]; every query is scoped by org, and every write is idempotent, so two nodes
//! sweeping one PostgreSQL at once only repeat each other.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ArchiveFuture;
use crate::engine::AttachmentRecord;
use crate::ids::{ConvKey, ConversationId, CustomerId, OrgId};

/// Where an erasure request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureStatus {
    Pending,
    Done,
    Failed,
}

impl ErasureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureStatus::Pending => "pending",
            ErasureStatus::Done => "done",
            ErasureStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Done, Self::Failed]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// What an erasure (or a retention deletion) removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Removed {
    pub conversations: u64,
    pub events: u64,
    pub attachments: u64,
    pub surveys: u64,
    pub blocklist_entries: u64,
}

impl Removed {
    pub fn add(&mut self, other: Removed) {
        self.conversations += other.conversations;
        self.events += other.events;
        self.attachments += other.attachments;
        self.surveys += other.surveys;
        self.blocklist_entries += other.blocklist_entries;
    }
}

/// One customer erasure request: the audit record. `customer` is kept only while the request
/// is pending; afterwards `customer_sha256` (hex SHA-256 of `org:customer`) alone remains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureRecord {
    pub id: String,
    #[serde(skip)]
    pub org: OrgId,
    #[serde(skip)]
    pub customer: Option<CustomerId>,
    pub customer_sha256: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub status: ErasureStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub removed: Removed,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub trait PrivacyArchive {
    /// The archived conversation's attachments (metadata with the blob store's key).
    fn attachments(&self, key: &ConvKey) -> ArchiveFuture<Vec<AttachmentRecord>>;

    /// The org's archived conversations that ended before `before`, oldest first, at most
    /// `limit`; with `unredacted`, only those whose content is still there.
    fn ended_before(
        &self,
        org: &OrgId,
        before: DateTime<Utc>,
        unredacted: bool,
        limit: usize,
    ) -> ArchiveFuture<Vec<ConversationId>>;

    /// Removes the conversation's content in one transaction (events redacted with
    /// [`crate::domain::privacy::redact`], survey comment, attachment rows) and marks it
    /// redacted. Returns how many events were redacted (0 when already done).
    fn redact(&self, key: &ConvKey) -> ArchiveFuture<u64>;

    /// Deletes every row of the conversation in one transaction; what went.
    fn delete(&self, key: &ConvKey) -> ArchiveFuture<Removed>;

    /// Stores an erasure record (a new request, or its outcome: replaces the stored one, and
    /// releases its claim). A finished record is never changed again.
    fn put_erasure(&self, record: ErasureRecord) -> ArchiveFuture<()>;

    fn erasure(&self, org: &OrgId, id: &str) -> ArchiveFuture<Option<ErasureRecord>>;

    /// Claims a pending request for node `by` until `until` (one node carries a request out at
    /// a time). True when it is ours: unclaimed, ours already, or its claim lapsed.
    fn claim_erasure(
        &self,
        org: &OrgId,
        id: &str,
        by: &str,
        until: DateTime<Utc>,
    ) -> ArchiveFuture<bool>;

    /// Pending requests of every org, oldest first, at most `limit`.
    fn pending_erasures(&self, limit: usize) -> ArchiveFuture<Vec<ErasureRecord>>;
}

pub(super) const INSERT_ATTACHMENT: &str = "\
INSERT INTO archived_attachments (org, conversation, id, blob_key, body)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (org, id) DO NOTHING";

pub(super) const SELECT_ATTACHMENTS: &str = "\
SELECT body FROM archived_attachments WHERE org = $1 AND conversation = $2 ORDER BY id";

pub(super) const ENDED_BEFORE: &str = "\
SELECT id FROM archived_conversations
WHERE org = $1 AND ended_us IS NOT NULL AND ended_us < $2
ORDER BY ended_us, id LIMIT $3";

pub(super) const ENDED_BEFORE_UNREDACTED: &str = "\
SELECT id FROM archived_conversations
WHERE org = $1 AND ended_us IS NOT NULL AND ended_us < $2 AND content_redacted_us IS NULL
ORDER BY ended_us, id LIMIT $3";

pub(super) const SELECT_EVENT_BODIES: &str = "\
SELECT body FROM archived_events WHERE org = $1 AND conversation = $2 ORDER BY seq";

pub(super) const UPDATE_EVENT: &str = "\
UPDATE archived_events SET body = $4 WHERE org = $1 AND conversation = $2 AND seq = $3";

pub(super) const SELECT_SURVEY_BODY: &str =
    "SELECT body FROM archived_surveys WHERE org = $1 AND conversation = $2";

pub(super) const UPDATE_SURVEY: &str =
    "UPDATE archived_surveys SET body = $3 WHERE org = $1 AND conversation = $2";

pub(super) const MARK_REDACTED: &str = "\
UPDATE archived_conversations SET content_redacted_us = $3
WHERE org = $1 AND id = $2 AND content_redacted_us IS NULL";

/// Every table holding rows of one conversation, and its conversation column.
pub(super) const TABLES: [(&str, &str); 5] = [
    ("archived_events", "conversation"),
    ("archived_attachments", "conversation"),
    ("archived_surveys", "conversation"),
    ("archived_participants", "conversation"),
    ("archived_conversations", "id"),
];

pub(super) const UPSERT_ERASURE: &str = "\
INSERT INTO erasures (org, id, customer, customer_sha256, requested_by, requested_us, status,
    finished_us, counts, error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (org, id) DO UPDATE SET
    customer = excluded.customer, status = excluded.status, finished_us = excluded.finished_us,
    counts = excluded.counts, error = excluded.error, claimed_by = NULL, claimed_until_us = NULL
WHERE erasures.status = 'pending'";

pub(super) const CLAIM_ERASURE: &str = "\
UPDATE erasures SET claimed_by = $3, claimed_until_us = $4
WHERE org = $1 AND id = $2 AND status = 'pending'
  AND (claimed_by IS NULL OR claimed_by = $3 OR claimed_until_us < $5)";

pub(super) const ERASURE_COLUMNS: &str =
    "org, id, customer, customer_sha256, requested_by, requested_us, \
    status, finished_us, counts, error";

/// An `erasures` row as selected with [`ERASURE_COLUMNS`].
pub(super) type ErasureRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    Option<i64>,
    String,
    Option<String>,
);

pub(super) fn erasure_from_row(r: ErasureRow) -> Option<ErasureRecord> {
    let time = |us: i64| DateTime::<Utc>::from_timestamp_micros(us);
    Some(ErasureRecord {
        org: OrgId::parse(&r.0).ok()?,
        id: r.1,
        customer: r.2.and_then(|c| CustomerId::parse(&c).ok()),
        customer_sha256: r.3,
        requested_by: r.4,
        requested_at: time(r.5)?,
        status: ErasureStatus::parse(&r.6)?,
        finished_at: r.7.and_then(time),
        removed: serde_json::from_str(&r.8).unwrap_or_default(),
        error: r.9,
    })
}

pub(super) fn select_erasure() -> String {
    format!("SELECT {ERASURE_COLUMNS} FROM erasures WHERE org = $1 AND id = $2")
}

pub(super) fn select_pending() -> String {
    format!(
        "SELECT {ERASURE_COLUMNS} FROM erasures WHERE status = 'pending' \
         ORDER BY requested_us, id LIMIT $1"
    )
}

pub(super) fn delete_sql() -> Vec<String> {
    TABLES
        .iter()
        .map(|(table, column)| format!("DELETE FROM {table} WHERE org = $1 AND {column} = $2"))
        .collect()
}

/// Implements [`PrivacyArchive`] for `$ty { pool, rt, .. }`.
macro_rules! privacy_impl {
    ($ty:ident) => {
        impl $crate::archive::privacy::PrivacyArchive for $ty {
            fn attachments(
                &self,
                key: &$crate::ids::ConvKey,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::engine::AttachmentRecord>> {
                use sqlx::types::Json;
                let pool = self.pool.clone();
                let key = key.clone();
                Box::pin(self.rt.run(async move {
                    let rows: Vec<(Json<$crate::engine::AttachmentRecord>,)> =
                        sqlx::query_as(SELECT_ATTACHMENTS)
                            .bind(key.org.as_str())
                            .bind(key.id.as_str())
                            .fetch_all(&pool)
                            .await?;
                    Ok(rows.into_iter().map(|(Json(r),)| r).collect())
                }))
            }

            fn ended_before(
                &self,
                org: &$crate::ids::OrgId,
                before: chrono::DateTime<chrono::Utc>,
                unredacted: bool,
                limit: usize,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::ids::ConversationId>> {
                let pool = self.pool.clone();
                let org = org.clone();
                let sql = if unredacted {
                    ENDED_BEFORE_UNREDACTED
                } else {
                    ENDED_BEFORE
                };
                Box::pin(self.rt.run(async move {
                    let rows: Vec<(String,)> = sqlx::query_as(sql)
                        .bind(org.as_str())
                        .bind(before.timestamp_micros())
                        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                        .fetch_all(&pool)
                        .await?;
                    Ok(rows
                        .into_iter()
                        .filter_map(|(id,)| $crate::ids::ConversationId::parse(&id).ok())
                        .collect())
                }))
            }

            fn redact(&self, key: &$crate::ids::ConvKey) -> $crate::archive::ArchiveFuture<u64> {
                use sqlx::types::Json;
                let pool = self.pool.clone();
                let key = key.clone();
                Box::pin(self.rt.run(async move {
                    let (org, id) = (key.org.as_str(), key.id.as_str());
                    let mut tx = pool.begin().await?;
                    let events: Vec<(Json<$crate::protocol::LogEvent>,)> =
                        sqlx::query_as(SELECT_EVENT_BODIES)
                            .bind(org)
                            .bind(id)
                            .fetch_all(&mut *tx)
                            .await?;
                    let mut redacted = 0;
                    for (Json(event),) in events {
                        if event.redacted {
                            continue;
                        }
                        let Some(r) = $crate::domain::privacy::redact(&event) else {
                            continue;
                        };
                        let body = serde_json::to_value(&r)
                            .map_err(|e| $crate::archive::ArchiveError::Other(e.to_string()))?;
                        sqlx::query(UPDATE_EVENT)
                            .bind(org)
                            .bind(id)
                            .bind($crate::archive::sql::seq(r.seq))
                            .bind(Json(body))
                            .execute(&mut *tx)
                            .await?;
                        redacted += 1;
                    }
                    let survey: Option<(Json<serde_json::Value>,)> =
                        sqlx::query_as(SELECT_SURVEY_BODY)
                            .bind(org)
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some((Json(mut body),)) = survey {
                        if let Some(fields) = body.as_object_mut() {
                            if fields.remove("comment").is_some() {
                                sqlx::query(UPDATE_SURVEY)
                                    .bind(org)
                                    .bind(id)
                                    .bind(Json(body))
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }
                    sqlx::query(
                        "DELETE FROM archived_attachments WHERE org = $1 AND conversation = $2",
                    )
                    .bind(org)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(MARK_REDACTED)
                        .bind(org)
                        .bind(id)
                        .bind(chrono::Utc::now().timestamp_micros())
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(redacted)
                }))
            }

            fn delete(
                &self,
                key: &$crate::ids::ConvKey,
            ) -> $crate::archive::ArchiveFuture<$crate::archive::privacy::Removed> {
                let pool = self.pool.clone();
                let key = key.clone();
                Box::pin(self.rt.run(async move {
                    let mut tx = pool.begin().await?;
                    let mut counts = [0u64; 5];
                    for (n, sql) in delete_sql().iter().enumerate() {
                        counts[n] = sqlx::query(sql)
                            .bind(key.org.as_str())
                            .bind(key.id.as_str())
                            .execute(&mut *tx)
                            .await?
                            .rows_affected();
                    }
                    // Its report figures (a survey rating among them) go with it, and so do
                    // its emailed transcripts not yet sent (the customer's words and address),
                    // and its webhooks, sent or not.
                    for sql in [
                        $crate::archive::report_sql::DELETE_OWNERS,
                        $crate::archive::report_sql::DELETE_CONVERSATION,
                        "DELETE FROM email_outbox WHERE org = $1 AND conversation = $2",
                        "DELETE FROM webhook_outbox WHERE org = $1 AND conversation = $2",
                    ] {
                        sqlx::query(sql)
                            .bind(key.org.as_str())
                            .bind(key.id.as_str())
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok($crate::archive::privacy::Removed {
                        events: counts[0],
                        attachments: counts[1],
                        surveys: counts[2],
                        conversations: counts[4],
                        blocklist_entries: 0,
                    })
                }))
            }

            fn put_erasure(
                &self,
                r: $crate::archive::privacy::ErasureRecord,
            ) -> $crate::archive::ArchiveFuture<()> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    let counts = serde_json::to_string(&r.removed)
                        .map_err(|e| $crate::archive::ArchiveError::Other(e.to_string()))?;
                    sqlx::query(UPSERT_ERASURE)
                        .bind(r.org.as_str())
                        .bind(r.id.as_str())
                        .bind(r.customer.as_ref().map(|c| c.as_str().to_string()))
                        .bind(r.customer_sha256.as_str())
                        .bind(r.requested_by.as_str())
                        .bind(r.requested_at.timestamp_micros())
                        .bind(r.status.as_str())
                        .bind(r.finished_at.map(|t| t.timestamp_micros()))
                        .bind(counts)
                        .bind(r.error.clone())
                        .execute(&pool)
                        .await?;
                    Ok(())
                }))
            }

            fn erasure(
                &self,
                org: &$crate::ids::OrgId,
                id: &str,
            ) -> $crate::archive::ArchiveFuture<Option<$crate::archive::privacy::ErasureRecord>>
            {
                let pool = self.pool.clone();
                let (org, id) = (org.clone(), id.to_string());
                Box::pin(self.rt.run(async move {
                    let row: Option<ErasureRow> = sqlx::query_as(&select_erasure())
                        .bind(org.as_str())
                        .bind(id)
                        .fetch_optional(&pool)
                        .await?;
                    Ok(row.and_then(erasure_from_row))
                }))
            }

            fn claim_erasure(
                &self,
                org: &$crate::ids::OrgId,
                id: &str,
                by: &str,
                until: chrono::DateTime<chrono::Utc>,
            ) -> $crate::archive::ArchiveFuture<bool> {
                let pool = self.pool.clone();
                let (org, id, by) = (org.clone(), id.to_string(), by.to_string());
                Box::pin(self.rt.run(async move {
                    let done = sqlx::query(CLAIM_ERASURE)
                        .bind(org.as_str())
                        .bind(id)
                        .bind(by)
                        .bind(until.timestamp_micros())
                        .bind(chrono::Utc::now().timestamp_micros())
                        .execute(&pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }))
            }

            fn pending_erasures(
                &self,
                limit: usize,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::archive::privacy::ErasureRecord>> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    let rows: Vec<ErasureRow> = sqlx::query_as(&select_pending())
                        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                        .fetch_all(&pool)
                        .await?;
                    Ok(rows.into_iter().filter_map(erasure_from_row).collect())
                }))
            }
        }
    };
}
pub(super) use privacy_impl;
