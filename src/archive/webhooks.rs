//! The outgoing-webhook outbox (issue 15, DESIGN §13): a table in the archive database, shared by
//! every node, so an undelivered webhook outlives the node that logged its event.
//!
//! Rows are written idempotently (`ON CONFLICT DO NOTHING` on `(org, subscription, id)`), so the
//! same event may be offered again — when its conversation is rebuilt or archived — without a
//! second delivery being queued. A node's dispatcher (`crate::webhook::dispatcher`) **claims**
//! due rows as the email outbox does (a conditional update that one node wins, fenced by the
//! attempt number), and only the oldest unfinished row of each (subscription, conversation):
//! a conversation's events reach one target one at a time, in `seq` order.

use super::ArchiveFuture;
use crate::ids::OrgId;

/// One event for one subscription.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub org: OrgId,
    pub subscription: String,
    /// The `webhook-id`.
    pub id: String,
    pub conversation: String,
    pub seq: i64,
    pub event_type: String,
    pub body: String,
    /// A pull subscription's row: read through the pull API, never sent.
    pub pull: bool,
    pub created_us: i64,
}

/// A row a dispatcher claimed.
#[derive(Debug, Clone)]
pub struct ClaimedWebhook {
    /// The row's number (its key in the outcome updates).
    pub n: i64,
    pub org: String,
    pub subscription: String,
    pub id: String,
    pub body: String,
    pub attempt: i64,
}

/// A row as the dead-letter list and the pull API show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WebhookRow {
    /// The pull API's cursor.
    pub n: i64,
    pub id: String,
    pub conversation: String,
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// The JSON that is (or was to be) sent.
    pub body: serde_json::Value,
}

pub trait WebhookOutbox: Send + Sync + 'static {
    /// Writes the rows, ignoring those already there.
    fn enqueue_webhooks(&self, rows: Vec<NewWebhook>) -> ArchiveFuture<()>;

    /// Claims up to `limit` due rows (pending and due, or sending with an expired lease) that
    /// are the oldest unfinished of their (subscription, conversation), leaving out the
    /// subscriptions in `skip` (`org/subscription`: their circuit is open on this node).
    fn claim_webhooks(
        &self,
        now_us: i64,
        lease_until_us: i64,
        limit: usize,
        skip: Vec<String>,
    ) -> ArchiveFuture<Vec<ClaimedWebhook>>;

    /// The claimed attempts were acknowledged (one statement for all of them).
    fn webhooks_delivered(&self, claimed: Vec<ClaimedWebhook>, now_us: i64) -> ArchiveFuture<()>;

    /// The claimed attempt failed: due again at `retry_us`, or dead when `None`.
    fn webhook_failed(
        &self,
        c: &ClaimedWebhook,
        error: &str,
        retry_us: Option<i64>,
    ) -> ArchiveFuture<()>;

    /// The subscription's dead rows, oldest first.
    fn dead_webhooks(
        &self,
        org: &OrgId,
        subscription: &str,
        limit: usize,
    ) -> ArchiveFuture<Vec<WebhookRow>>;

    /// Makes a dead row due again now, its attempts reset; whether there was one.
    fn redeliver_webhook(
        &self,
        org: &OrgId,
        subscription: &str,
        id: &str,
        now_us: i64,
    ) -> ArchiveFuture<bool>;

    /// A pull subscription's rows after cursor `after`, created before `settled_us` (rows
    /// still being written by other transactions are left for the next read), oldest first.
    fn pull_webhooks(
        &self,
        org: &OrgId,
        subscription: &str,
        after: i64,
        settled_us: i64,
        limit: usize,
    ) -> ArchiveFuture<Vec<WebhookRow>>;

    /// Rows pending or being sent (every org).
    fn webhook_backlog(&self) -> ArchiveFuture<i64>;

    /// Forgets delivered rows, and dead and pull rows, created before `before_us`; how many.
    fn purge_webhooks(&self, before_us: i64) -> ArchiveFuture<u64>;
}

pub(super) const INSERT: &str = "\
INSERT INTO webhook_outbox (org, subscription, id, conversation, seq, event_type, body, status,
    attempts, created_us, due_us)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $9)
ON CONFLICT (org, subscription, id) DO NOTHING";

/// Candidates; they are then taken with one [`take`] statement, whose condition only one node's
/// update meets for each row.
pub(super) const DUE: &str = "\
SELECT o.n, o.org, o.subscription FROM webhook_outbox o
WHERE ((o.status = 'pending' AND o.due_us <= $1) OR (o.status = 'sending' AND o.claimed_until_us < $1))
  AND NOT EXISTS (
    SELECT 1 FROM webhook_outbox p
    WHERE p.org = o.org AND p.subscription = o.subscription AND p.conversation = o.conversation
      AND p.status IN ('pending', 'sending') AND p.seq < o.seq)
ORDER BY o.due_us LIMIT $2";

/// Takes the rows numbered `ns` that are still due: `$1` the lease, `$2` now. The numbers are
/// integers written into the statement (never text from outside).
pub(super) fn take(ns: &[i64]) -> String {
    let list: Vec<String> = ns.iter().map(i64::to_string).collect();
    format!(
        "UPDATE webhook_outbox SET status = 'sending', claimed_until_us = $1, attempts = attempts + 1 \
         WHERE n IN ({}) \
           AND ((status = 'pending' AND due_us <= $2) OR (status = 'sending' AND claimed_until_us < $2)) \
         RETURNING n, org, subscription, id, body, attempts",
        list.join(", ")
    )
}

/// Marks the given attempts delivered (`$1`: now); an attempt whose lease was taken over in
/// the meantime is left alone (the row's attempt count moved on).
pub(super) fn delivered(claimed: &[ClaimedWebhook]) -> String {
    let rows: Vec<String> = claimed
        .iter()
        .map(|c| format!("(n = {} AND attempts = {})", c.n, c.attempt))
        .collect();
    format!(
        "UPDATE webhook_outbox SET status = 'delivered', delivered_us = $1, claimed_until_us = NULL, \
             last_error = NULL \
         WHERE status = 'sending' AND ({})",
        rows.join(" OR ")
    )
}

pub(super) const FAILED: &str = "\
UPDATE webhook_outbox SET status = CASE WHEN $6 IS NULL THEN 'dead' ELSE 'pending' END,
    due_us = COALESCE($6, due_us), last_error = $5, claimed_until_us = NULL
WHERE org = $1 AND subscription = $2 AND id = $3 AND status = 'sending' AND attempts = $4";

pub(super) const DEAD: &str = "\
SELECT n, id, conversation, seq, event_type, status, attempts, last_error, created_us, body
FROM webhook_outbox WHERE org = $1 AND subscription = $2 AND status = 'dead'
ORDER BY n LIMIT $3";

pub(super) const REDELIVER: &str = "\
UPDATE webhook_outbox SET status = 'pending', attempts = 0, due_us = $4, last_error = NULL
WHERE org = $1 AND subscription = $2 AND id = $3 AND status = 'dead'";

pub(super) const PULL: &str = "\
SELECT n, id, conversation, seq, event_type, status, attempts, last_error, created_us, body
FROM webhook_outbox WHERE org = $1 AND subscription = $2 AND status = 'pull' AND n > $3
  AND created_us < $4
ORDER BY n LIMIT $5";

pub(super) const BACKLOG: &str =
    "SELECT COUNT(*) FROM webhook_outbox WHERE status IN ('pending', 'sending')";

pub(super) const PURGE: &str =
    "DELETE FROM webhook_outbox WHERE status IN ('delivered', 'dead', 'pull') AND created_us < $1";

/// A row of [`DEAD`] or [`PULL`].
pub(super) type Row = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    i64,
    Option<String>,
    i64,
    String,
);

pub(super) fn row(
    (n, id, conversation, seq, event_type, status, attempts, last_error, created, body): Row,
) -> WebhookRow {
    WebhookRow {
        n,
        id,
        conversation,
        seq,
        event_type,
        status,
        attempts,
        last_error,
        created_at: super::outbox::time(created),
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    }
}

/// Implements [`WebhookOutbox`] for `$ty { pool, rt: DbRuntime }`.
macro_rules! webhooks_impl {
    ($ty:ident) => {
        impl $crate::archive::webhooks::WebhookOutbox for $ty {
            fn enqueue_webhooks(
                &self,
                rows: Vec<$crate::archive::webhooks::NewWebhook>,
            ) -> $crate::archive::ArchiveFuture<()> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    let mut tx = pool.begin().await?;
                    for r in rows {
                        sqlx::query($crate::archive::webhooks::INSERT)
                            .bind(r.org.as_str())
                            .bind(r.subscription)
                            .bind(r.id)
                            .bind(r.conversation)
                            .bind(r.seq)
                            .bind(r.event_type)
                            .bind(r.body)
                            .bind(if r.pull { "pull" } else { "pending" })
                            .bind(r.created_us)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }))
            }

            fn claim_webhooks(
                &self,
                now_us: i64,
                lease_until_us: i64,
                limit: usize,
                skip: Vec<String>,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::archive::webhooks::ClaimedWebhook>>
            {
                use $crate::archive::webhooks::*;
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    // Open circuits are skipped: fetch a little more.
                    let fetch = limit.saturating_add(skip.len().saturating_mul(4));
                    let due: Vec<(i64, String, String)> = sqlx::query_as(DUE)
                        .bind(now_us)
                        .bind(i64::try_from(fetch).unwrap_or(i64::MAX))
                        .fetch_all(&pool)
                        .await?;
                    let ns: Vec<i64> = due
                        .into_iter()
                        .filter(|(_, org, sub)| !skip.iter().any(|s| *s == format!("{org}/{sub}")))
                        .map(|(n, _, _)| n)
                        .take(limit)
                        .collect();
                    if ns.is_empty() {
                        return Ok(Vec::new());
                    }
                    // One statement: a row another node took meanwhile no longer matches.
                    let rows: Vec<(i64, String, String, String, String, i64)> =
                        sqlx::query_as(&take(&ns))
                            .bind(lease_until_us)
                            .bind(now_us)
                            .fetch_all(&pool)
                            .await?;
                    let claimed = rows
                        .into_iter()
                        .map(|(n, org, subscription, id, body, attempt)| ClaimedWebhook {
                            n,
                            org,
                            subscription,
                            id,
                            body,
                            attempt,
                        })
                        .collect::<Vec<_>>();
                    Ok(claimed)
                }))
            }

            fn webhooks_delivered(
                &self,
                claimed: Vec<$crate::archive::webhooks::ClaimedWebhook>,
                now_us: i64,
            ) -> $crate::archive::ArchiveFuture<()> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    if claimed.is_empty() {
                        return Ok(());
                    }
                    sqlx::query(&$crate::archive::webhooks::delivered(&claimed))
                        .bind(now_us)
                        .execute(&pool)
                        .await?;
                    Ok(())
                }))
            }

            fn webhook_failed(
                &self,
                c: &$crate::archive::webhooks::ClaimedWebhook,
                error: &str,
                retry_us: Option<i64>,
            ) -> $crate::archive::ArchiveFuture<()> {
                let pool = self.pool.clone();
                let (c, error) = (c.clone(), error.to_string());
                Box::pin(self.rt.run(async move {
                    sqlx::query($crate::archive::webhooks::FAILED)
                        .bind(c.org)
                        .bind(c.subscription)
                        .bind(c.id)
                        .bind(c.attempt)
                        .bind(error)
                        .bind(retry_us)
                        .execute(&pool)
                        .await?;
                    Ok(())
                }))
            }

            fn dead_webhooks(
                &self,
                org: &$crate::ids::OrgId,
                subscription: &str,
                limit: usize,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::archive::webhooks::WebhookRow>> {
                use $crate::archive::webhooks::*;
                let pool = self.pool.clone();
                let (org, subscription) = (org.clone(), subscription.to_string());
                Box::pin(self.rt.run(async move {
                    let rows: Vec<Row> = sqlx::query_as(DEAD)
                        .bind(org.as_str())
                        .bind(subscription)
                        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                        .fetch_all(&pool)
                        .await?;
                    Ok(rows.into_iter().map(row).collect())
                }))
            }

            fn redeliver_webhook(
                &self,
                org: &$crate::ids::OrgId,
                subscription: &str,
                id: &str,
                now_us: i64,
            ) -> $crate::archive::ArchiveFuture<bool> {
                let pool = self.pool.clone();
                let (org, subscription, id) =
                    (org.clone(), subscription.to_string(), id.to_string());
                Box::pin(self.rt.run(async move {
                    let n = sqlx::query($crate::archive::webhooks::REDELIVER)
                        .bind(org.as_str())
                        .bind(subscription)
                        .bind(id)
                        .bind(now_us)
                        .execute(&pool)
                        .await?
                        .rows_affected();
                    Ok(n > 0)
                }))
            }

            fn pull_webhooks(
                &self,
                org: &$crate::ids::OrgId,
                subscription: &str,
                after: i64,
                settled_us: i64,
                limit: usize,
            ) -> $crate::archive::ArchiveFuture<Vec<$crate::archive::webhooks::WebhookRow>> {
                use $crate::archive::webhooks::*;
                let pool = self.pool.clone();
                let (org, subscription) = (org.clone(), subscription.to_string());
                Box::pin(self.rt.run(async move {
                    let rows: Vec<Row> = sqlx::query_as(PULL)
                        .bind(org.as_str())
                        .bind(subscription)
                        .bind(after)
                        .bind(settled_us)
                        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                        .fetch_all(&pool)
                        .await?;
                    Ok(rows.into_iter().map(row).collect())
                }))
            }

            fn webhook_backlog(&self) -> $crate::archive::ArchiveFuture<i64> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    let (n,): (i64,) = sqlx::query_as($crate::archive::webhooks::BACKLOG)
                        .fetch_one(&pool)
                        .await?;
                    Ok(n)
                }))
            }

            fn purge_webhooks(&self, before_us: i64) -> $crate::archive::ArchiveFuture<u64> {
                let pool = self.pool.clone();
                Box::pin(self.rt.run(async move {
                    Ok(sqlx::query($crate::archive::webhooks::PURGE)
                        .bind(before_us)
                        .execute(&pool)
                        .await?
                        .rows_affected())
                }))
            }
        }
    };
}
pub(super) use webhooks_impl;
