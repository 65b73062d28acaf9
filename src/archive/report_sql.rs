//! The report rows of the archive (issue 14, "Reports"; migrations `0002_reports.sql` and
//! `0005_bot_reports.sql`, who handled it: issue 15): each
//! finished customer conversation's metrics (`domain::report`), written in the transaction that
//! stores the conversation and read back for a date range, row by row, into a report's tally
//! (`domain::figures`). The SQL is the same in both dialects; the `Archive` implementation that
//! runs it is `sql.rs`'s `archive_impl!`.

use super::sql::micros;
use crate::domain::figures::Sample;
use crate::domain::report::{ConversationMetrics, Handling};

// A conversation's rows are replaced by a delete and inserts in the transaction that stores it
// (serialized with any other store of it by the conversation row's upsert). The inserts do
// nothing on a conflict so that a backfill racing with a store, or with another node's
// backfill, computing the same rows from the same archived log, cannot fail.

pub(super) const DELETE_CONVERSATION: &str =
    "DELETE FROM report_conversations WHERE org = $1 AND conversation = $2";

pub(super) const DELETE_OWNERS: &str =
    "DELETE FROM report_owners WHERE org = $1 AND conversation = $2";

pub(super) const INSERT_CONVERSATION: &str = "\
INSERT INTO report_conversations
    (org, conversation, queue, ended_us, wait_ms, first_response_ms, handle_ms, transfers,
     abandoned, rating, handling, bot_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (org, conversation) DO NOTHING";

pub(super) const INSERT_OWNER: &str = "\
INSERT INTO report_owners
    (org, conversation, agent, position, wait_ms, first_response_ms, handle_ms, transfers, rating)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (org, conversation, agent) DO NOTHING";

/// The org's conversations that ended in `[$2, $3)`.
pub(super) const SELECT_CONVERSATIONS: &str = "\
SELECT conversation, queue, ended_us, wait_ms, first_response_ms, handle_ms, transfers,
       abandoned, rating, handling, bot_ms
FROM report_conversations
WHERE org = $1 AND ended_us >= $2 AND ended_us < $3";

/// The owners of those conversations.
pub(super) const SELECT_OWNERS: &str = "\
SELECT o.conversation, o.agent, o.position, o.wait_ms, o.first_response_ms, o.handle_ms,
       o.transfers, o.rating
FROM report_owners o
JOIN report_conversations c ON c.org = o.org AND c.conversation = o.conversation
WHERE c.org = $1 AND c.ended_us >= $2 AND c.ended_us < $3";

/// Customer conversations archived without report rows (before the reports existed), after the
/// key (`$1`, `$2`) in key order, at most `$3`.
pub(super) const SELECT_UNREPORTED: &str = "\
SELECT c.org, c.id, c.summary FROM archived_conversations c
WHERE c.customer IS NOT NULL
  AND (c.org > $1 OR (c.org = $1 AND c.id > $2))
  AND NOT EXISTS (SELECT 1 FROM report_conversations r
        WHERE r.org = c.org AND r.conversation = c.id)
ORDER BY c.org, c.id
LIMIT $3";

/// A row of `report_conversations`, as written and as read back.
#[derive(sqlx::FromRow)]
pub(super) struct ConversationRow {
    pub conversation: String,
    pub queue: String,
    pub ended_us: i64,
    pub wait_ms: Option<i64>,
    pub first_response_ms: Option<i64>,
    pub handle_ms: Option<i64>,
    pub transfers: i32,
    pub abandoned: bool,
    pub rating: Option<i32>,
    /// `human`, `bot` or `bot_then_human` ([`Handling`]).
    pub handling: String,
    pub bot_ms: Option<i64>,
}

/// A row of `report_owners`, as written and as read back.
#[derive(sqlx::FromRow)]
pub(super) struct OwnerRow {
    pub conversation: String,
    pub agent: String,
    pub position: i32,
    pub wait_ms: Option<i64>,
    pub first_response_ms: Option<i64>,
    pub handle_ms: i64,
    pub transfers: i32,
    pub rating: Option<i32>,
}

fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// The rows to write for a conversation's metrics.
pub(super) fn rows_of(m: &ConversationMetrics) -> (ConversationRow, Vec<OwnerRow>) {
    let conversation = m.conversation.to_string();
    let owners = m
        .owners
        .iter()
        .enumerate()
        .map(|(position, o)| OwnerRow {
            conversation: conversation.clone(),
            agent: o.agent.to_string(),
            position: int(position),
            wait_ms: o.wait_ms,
            first_response_ms: o.first_response_ms,
            handle_ms: o.handle_ms,
            transfers: int(o.transfers),
            rating: o.rating.map(i32::from),
        })
        .collect();
    let row = ConversationRow {
        conversation,
        queue: m.queue.to_string(),
        ended_us: micros(m.ended_at),
        wait_ms: m.wait_ms,
        first_response_ms: m.first_response_ms,
        handle_ms: m.handle_ms,
        transfers: int(m.transfers),
        abandoned: m.abandoned,
        rating: m.rating.map(i32::from),
        handling: m.handling.as_str().to_string(),
        bot_ms: m.bot_ms,
    };
    (row, owners)
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn rating(r: Option<i32>) -> Option<u8> {
    r.and_then(|r| u8::try_from(r).ok())
}

impl ConversationRow {
    /// What the conversation adds to a report.
    pub(super) fn sample(&self) -> Sample {
        Sample {
            abandoned: self.abandoned,
            wait_ms: self.wait_ms,
            first_response_ms: self.first_response_ms,
            handle_ms: self.handle_ms,
            transfers: count(self.transfers),
            rating: rating(self.rating),
            handling: Handling::parse(&self.handling),
            bot_ms: self.bot_ms,
        }
    }
}

impl OwnerRow {
    /// What the owner's share adds to its row.
    pub(super) fn sample(&self) -> Sample {
        Sample {
            abandoned: false,
            wait_ms: self.wait_ms,
            first_response_ms: self.first_response_ms,
            handle_ms: Some(self.handle_ms),
            transfers: count(self.transfers),
            rating: rating(self.rating),
            handling: Handling::Human,
            bot_ms: None,
        }
    }
}
