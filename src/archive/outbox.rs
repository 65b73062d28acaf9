//! The email outbox (issue 14, seed 002's "email transcript"): a table in the archive database,
//! so every node of a cluster shares it and a queued email outlives a restart.
//!
//! A node's sender (`crate::mailer`) **claims** due rows: a conditional update from `queued`
//! (due) — or `sending` whose lease ran out — to `sending` with a new lease, which only one
//! node's update can win (SQLite serialises writers; PostgreSQL re-checks the condition on the
//! row it waited for). The attempt number fences the outcome: a node whose lease was taken over
//! cannot mark the row any more. Every query is scoped by org except the sender's claim, which
//! serves every org.

use super::ArchiveFuture;
use crate::ids::OrgId;

/// What `POST …/transcript/email` queues.
#[derive(Debug, Clone)]
pub struct NewEmail {
    pub org: OrgId,
    pub id: String,
    pub conversation: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// File name and bytes (the PDF transcript).
    pub attachment: Option<(String, Vec<u8>)>,
    pub created_us: i64,
}

/// A row a sender claimed: everything needed to send it, and the attempt it is.
#[derive(Debug, Clone)]
pub struct ClaimedEmail {
    pub org: String,
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attachment: Option<(String, Vec<u8>)>,
    pub attempt: i64,
}

/// What `GET /v1/emails/{id}` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EmailStatus {
    pub id: String,
    pub conversation: String,
    pub to: String,
    /// `queued`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub trait Outbox: Send + Sync + 'static {
    fn enqueue(&self, email: NewEmail) -> ArchiveFuture<()>;

    /// Claims up to `limit` rows due at `now_us` (queued and due, or sending with an expired
    /// lease) until `lease_until_us`, counting an attempt on each.
    fn claim(
        &self,
        now_us: i64,
        lease_until_us: i64,
        limit: usize,
    ) -> ArchiveFuture<Vec<ClaimedEmail>>;

    /// The claimed attempt was delivered.
    fn mark_sent(&self, org: &str, id: &str, attempt: i64, now_us: i64) -> ArchiveFuture<()>;

    /// The claimed attempt failed with `error`: due again at `retry_us`, or `failed` for good
    /// when `retry_us` is `None`.
    fn mark_failed(
        &self,
        org: &str,
        id: &str,
        attempt: i64,
        error: &str,
        retry_us: Option<i64>,
    ) -> ArchiveFuture<()>;

    fn status(&self, org: &OrgId, id: &str) -> ArchiveFuture<Option<EmailStatus>>;

    /// Rows not yet sent nor failed (every org).
    fn backlog(&self) -> ArchiveFuture<i64>;

    /// Forgets sent and failed rows created before `before_us` (every org); how many.
    fn purge(&self, before_us: i64) -> ArchiveFuture<u64>;
}

pub(super) const INSERT: &str = "\
INSERT INTO email_outbox (org, id, conversation, recipient, subject, body, attachment,
    attachment_name, status, attempts, created_us, due_us)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9, $9)";

/// Candidates; each is then taken with [`TAKE`], which only one node wins.
pub(super) const DUE: &str = "\
SELECT org, id FROM email_outbox
WHERE (status = 'queued' AND due_us <= $1) OR (status = 'sending' AND claimed_until_us < $1)
ORDER BY due_us LIMIT $2";

pub(super) const TAKE: &str = "\
UPDATE email_outbox SET status = 'sending', claimed_until_us = $3, attempts = attempts + 1
WHERE org = $1 AND id = $2
  AND ((status = 'queued' AND due_us <= $4) OR (status = 'sending' AND claimed_until_us < $4))";

pub(super) const CLAIMED: &str = "\
SELECT org, id, recipient, subject, body, attachment_name, attachment, attempts
FROM email_outbox WHERE org = $1 AND id = $2";

/// Once sent, or failed for good, the transcript leaves the outbox (only its status stays).
pub(super) const SENT: &str = "\
UPDATE email_outbox SET status = 'sent', sent_us = $4, claimed_until_us = NULL, last_error = NULL,
    body = '', attachment = NULL
WHERE org = $1 AND id = $2 AND status = 'sending' AND attempts = $3";

pub(super) const FAILED: &str = "\
UPDATE email_outbox SET status = CASE WHEN $5 IS NULL THEN 'failed' ELSE 'queued' END,
    due_us = COALESCE($5, due_us), last_error = $4, claimed_until_us = NULL,
    body = CASE WHEN $5 IS NULL THEN '' ELSE body END,
    attachment = CASE WHEN $5 IS NULL THEN NULL ELSE attachment END
WHERE org = $1 AND id = $2 AND status = 'sending' AND attempts = $3";

pub(super) const STATUS: &str = "\
SELECT id, conversation, recipient, status, attempts, last_error, created_us, sent_us
FROM email_outbox WHERE org = $1 AND id = $2";

pub(super) const PURGE: &str =
    "DELETE FROM email_outbox WHERE status IN ('sent', 'failed') AND created_us < $1";

pub(super) const BACKLOG: &str =
    "SELECT COUNT(*) FROM email_outbox WHERE status IN ('queued', 'sending')";

/// A time from microseconds since the epoch.
pub(super) fn time(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Implements [`Outbox`] for `$ty { pool, rt: DbRuntime }`.
macro_rules! outbox_impl {
    ($ty:ident) => {
        impl $crate::archive::outbox::Outbox for $ty {
            fn enqueue(
                &self,
                e: $crate::archive::outbox::NewEmail,
            ) -> $crate::archive::ArchiveFuture<()> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    let (name, bytes) = match e.attachment {
                        Some((n, b)) => (Some(n), Some(b)),
                        None => (None, None),
                    };
                    sqlx::query($crate::archive::outbox::INSERT)
                        .bind(e.org.as_str())
                        .bind(e.id)
                        .bind(e.conversation)
                        .bind(e.recipient)
                        .bind(e.subject)
                        .bind(e.body)
                        .bind(bytes)
                        .bind(name)
                        .bind(e.created_us)
                        .execute(&pool)
                        .await?;
                    Ok(())
                }))
            }

            fn claim(
                &self,
                now_us: i64,
                lease_until_us: i64,
                limit: usize,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::archive::outbox::ClaimedEmail>> {
                use $crate::archive::outbox::*;
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    let due: Vec<(String, String)> = sqlx::query_as(DUE)
                        .bind(now_us)
                        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                        .fetch_all(&pool)
                        .await?;
                    let mut claimed = Vec::new();
                    for (org, id) in due {
                        let taken = sqlx::query(TAKE)
                            .bind(&org)
                            .bind(&id)
                            .bind(lease_until_us)
                            .bind(now_us)
                            .execute(&pool)
                            .await?
                            .rows_affected();
                        if taken == 0 {
                            continue; // another node's
                        }
                        type Row = (
                            String,
                            String,
                            String,
                            String,
                            String,
                            Option<String>,
                            Option<Vec<u8>>,
                            i64,
                        );
                        let row: Option<Row> = sqlx::query_as(CLAIMED)
                            .bind(&org)
                            .bind(&id)
                            .fetch_optional(&pool)
                            .await?;
                        if let Some((org, id, recipient, subject, body, name, bytes, attempt)) = row
                        {
                            claimed.push(ClaimedEmail {
                                org,
                                id,
                                recipient,
                                subject,
                                body,
                                attachment: name.zip(bytes),
                                attempt,
                            });
                        }
                    }
                    Ok(claimed)
                }))
            }

            fn mark_sent(
                &self,
                org: &str,
                id: &str,
                attempt: i64,
                now_us: i64,
            ) -> $crate::archive::ArchiveFuture<()> {
                let pool = self.pool.clone();
                let (org, id) = (org.to_string(), id.to_string());
                Box::pin(self.rt.run(async move {
                    sqlx::query($crate::archive::outbox::SENT)
                        .bind(org)
                        .bind(id)
                        .bind(attempt)
                        .bind(now_us)
                        .execute(&pool)
                        .await?;
                    Ok(())
                }))
            }

            fn mark_failed(
                &self,
                org: &str,
                id: &str,
                attempt: i64,
                error: &str,
                retry_us: Option<i64>,
            ) -> $crate::archive::ArchiveFuture<()> {
                let pool = self.pool.clone();
                let (org, id, error) = (org.to_string(), id.to_string(), error.to_string());
                Box::pin(self.rt.run(async move {
                    sqlx::query($crate::archive::outbox::FAILED)
                        .bind(org)
                        .bind(id)
                        .bind(attempt)
                        .bind(error)
                        .bind(retry_us)
                        .execute(&pool)
                        .await?;
                    Ok(())
                }))
            }

            fn status(
                &self,
                org: &$crate::ids::OrgId,
                id: &str,
            ) -> $crate::archive::ArchiveFuture<Option<$crate::archive::outbox::EmailStatus>> {
                use $crate::archive::outbox::*;
                let pool = self.pool.clone();
                let (org, id) = (org.clone(), id.to_string());
                Box::pin(self.rt.run(async move {
                    type Row = (
                        String,
                        String,
                        String,
                        String,
                        i64,
                        Option<String>,
                        i64,
                        Option<i64>,
                    );
                    let row: Option<Row> = sqlx::query_as(STATUS)
                        .bind(org.as_str())
                        .bind(id)
                        .fetch_optional(&pool)
                        .await?;
                    Ok(row.map(
                        |(id, conversation, to, status, attempts, last_error, created, sent)| {
                            EmailStatus {
                                id,
                                conversation,
                                to,
                                status,
                                attempts,
                                last_error,
                                created_at: time(created),
                                sent_at: sent.map(time),
                            }
                        },
                    ))
                }))
            }

            fn purge(&self, before_us: i64) -> $crate::archive::ArchiveFuture<u64> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    Ok(sqlx::query($crate::archive::outbox::PURGE)
                        .bind(before_us)
                        .execute(&pool)
                        .await?
                        .rows_affected())
                }))
            }

            fn backlog(&self) -> $crate::archive::ArchiveFuture<i64> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    let (n,): (i64,) = sqlx::query_as($crate::archive::outbox::BACKLOG)
                        .fetch_one(&pool)
                        .await?;
                    Ok(n)
                }))
            }
        }
    };
}
pub(super) use outbox_impl;
