//! The report rows of the archive (issue 14, "Reports"; migration `0002_reports.sql`): each
//! finished customer conversation's metrics (`domain::report`), written in the transaction that
//! stores the conversation and read back for a date range. The SQL is the same in both
//! dialects; the `Archive` implementation that runs it is `sql.rs`'s `archive_impl!`.

use chrono::{DateTime, Utc};

use super::sql::micros;
use super::ArchiveError;
use crate::domain::report::{ConversationMetrics, OwnerMetrics};
use crate::ids::{AgentId, ConversationId, QueueId};

pub(super) const DELETE_CONVERSATION: &str =
    "DELETE FROM report_conversations WHERE org = $1 AND conversation = $2";

pub(super) const DELETE_OWNERS: &str =
    "DELETE FROM report_owners WHERE org = $1 AND conversation = $2";

pub(super) const INSERT_CONVERSATION: &str = "\
INSERT INTO report_conversations
    (org, conversation, queue, ended_us, wait_ms, first_response_ms, handle_ms, transfers,
     abandoned, rating)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(super) const INSERT_OWNER: &str = "\
INSERT INTO report_owners
    (org, conversation, agent, position, wait_ms, first_response_ms, handle_ms, transfers, rating)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The org's conversations that ended in `[$2, $3)`, oldest first.
pub(super) const SELECT_CONVERSATIONS: &str = "\
SELECT conversation, queue, ended_us, wait_ms, first_response_ms, handle_ms, transfers,
       abandoned, rating
FROM report_conversations
WHERE org = $1 AND ended_us >= $2 AND ended_us < $3
ORDER BY ended_us, conversation";

/// The owners of those conversations.
pub(super) const SELECT_OWNERS: &str = "\
SELECT o.conversation, o.agent, o.wait_ms, o.first_response_ms, o.handle_ms, o.transfers,
       o.rating
FROM report_owners o
JOIN report_conversations c ON c.org = o.org AND c.conversation = o.conversation
WHERE c.org = $1 AND c.ended_us >= $2 AND c.ended_us < $3
ORDER BY o.conversation, o.position";

/// A row of [`SELECT_CONVERSATIONS`].
pub(super) type ConversationRow = (
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i32,
    bool,
    Option<i32>,
);

/// A row of [`SELECT_OWNERS`].
pub(super) type OwnerRow = (
    String,
    String,
    Option<i64>,
    Option<i64>,
    i64,
    i32,
    Option<i32>,
);

/// The bind values of [`INSERT_CONVERSATION`] after `org` and `conversation`.
pub(super) type ConversationValues<'a> = (
    &'a str,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i32,
    bool,
    Option<i32>,
);

/// The bind values of [`INSERT_OWNER`] after `org` and `conversation`.
pub(super) type OwnerValues<'a> = (
    &'a str,
    i32,
    Option<i64>,
    Option<i64>,
    i64,
    i32,
    Option<i32>,
);

pub(super) fn conversation_values(m: &ConversationMetrics) -> ConversationValues<'_> {
    (
        m.queue.as_str(),
        micros(m.ended_at),
        m.wait_ms,
        m.first_response_ms,
        m.handle_ms,
        i32::try_from(m.transfers).unwrap_or(i32::MAX),
        m.abandoned,
        m.rating.map(i32::from),
    )
}

pub(super) fn owner_values(position: usize, o: &OwnerMetrics) -> OwnerValues<'_> {
    (
        o.agent.as_str(),
        i32::try_from(position).unwrap_or(i32::MAX),
        o.wait_ms,
        o.first_response_ms,
        o.handle_ms,
        i32::try_from(o.transfers).unwrap_or(i32::MAX),
        o.rating.map(i32::from),
    )
}

fn bad(what: &str, e: impl std::fmt::Display) -> ArchiveError {
    ArchiveError::Other(format!("report row: {what}: {e}"))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn rating(r: Option<i32>) -> Option<u8> {
    r.and_then(|r| u8::try_from(r).ok())
}

/// The metrics of the rows read back, each conversation with its owners.
pub(super) fn assemble(
    conversations: Vec<ConversationRow>,
    owners: Vec<OwnerRow>,
) -> Result<Vec<ConversationMetrics>, ArchiveError> {
    let mut by_conversation: std::collections::HashMap<String, Vec<OwnerMetrics>> =
        std::collections::HashMap::new();
    for (conversation, agent, wait, first, handle, transfers, r) in owners {
        by_conversation
            .entry(conversation)
            .or_default()
            .push(OwnerMetrics {
                agent: AgentId::parse(&agent).map_err(|e| bad("agent", e))?,
                wait_ms: wait,
                first_response_ms: first,
                handle_ms: handle,
                transfers: count(transfers),
                rating: rating(r),
            });
    }
    conversations
        .into_iter()
        .map(
            |(id, queue, ended, wait, first, handle, transfers, abandoned, r)| {
                Ok(ConversationMetrics {
                    conversation: ConversationId::parse(&id).map_err(|e| bad("id", e))?,
                    queue: QueueId::parse(&queue).map_err(|e| bad("queue", e))?,
                    ended_at: DateTime::<Utc>::from_timestamp_micros(ended)
                        .ok_or_else(|| bad("ended_us", ended))?,
                    wait_ms: wait,
                    first_response_ms: first,
                    handle_ms: handle,
                    transfers: count(transfers),
                    abandoned,
                    rating: rating(r),
                    owners: by_conversation.remove(&id).unwrap_or_default(),
                })
            },
        )
        .collect()
}
