//! The engine: the seam between the runtime and the outside world (DESIGN §1).
//!
//! **Architecture Invariant:** nothing outside `engine/` knows how logs, summaries or org
//! documents are stored. Actors and handlers call [`Engine`]; the `memory` engine serves one
//! process, and a Redis engine (cluster mode) implements the same trait.
//!
//! Every method returns a boxed `Send` future so that a networked implementation fits; the memory
//! engine returns ready futures.

pub mod memory;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::conversation::Status;
use crate::domain::org::OrgConfig;
use crate::ids::{AgentId, ConvKey, ConversationId, CustomerId, OrgId, QueueId, ReasonId};
use crate::protocol::{Author, EventKind, LogEvent};

pub type EngineFuture<T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + Send>>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    /// The writer's fencing epoch is stale: another activation owns the conversation now.
    #[error("fenced: epoch {ours} is older than the current owner's")]
    Fenced { ours: u64 },
    /// The backing store cannot be reached; nothing was written.
    #[error("engine unavailable: {0}")]
    Unavailable(String),
    #[error("engine error: {0}")]
    Other(String),
}

/// The writer's fencing token. The memory engine has one writer per process and ignores it; a
/// clustered engine refuses appends whose epoch is older than the lease's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    pub epoch: u64,
}

/// An event to append. `dedup_key` makes the append idempotent: appending a key already in the log
/// returns the original event instead of writing a new one.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub author: Author,
    pub kind: EventKind,
    pub dedup_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Appended {
    pub event: Arc<LogEvent>,
    /// The log's generation (see [`LogSlice::epoch`]).
    pub epoch: Arc<str>,
    /// The event was already in the log (a retried send); nothing new was written.
    pub duplicate: bool,
}

/// A read of a conversation's log.
#[derive(Debug, Clone)]
pub struct LogSlice {
    /// The log's generation. A client that saw another epoch cannot resume from its seq.
    pub epoch: Arc<str>,
    pub events: Vec<Arc<LogEvent>>,
    /// The last seq in the log (not only in this slice).
    pub last_seq: u64,
}

/// What REST queries list: one row per conversation, kept up to date by its actor.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationSummary {
    pub id: ConversationId,
    #[serde(skip)]
    pub org: OrgId,
    pub status: Status,
    pub customer: CustomerId,
    pub customer_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    pub queue: Option<QueueId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<AgentId>,
    pub agents: Vec<AgentId>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    pub last_seq: u64,
    pub messages: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey_rating: Option<u8>,
}

/// Filters for [`Engine::find_conversations`]; all given filters must match.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub customer: Option<CustomerId>,
    pub case_id: Option<String>,
    pub status: Option<Status>,
    pub agent: Option<AgentId>,
    pub queues: Option<Vec<QueueId>>,
    pub limit: usize,
}

impl ConversationFilter {
    pub fn matches(&self, s: &ConversationSummary) -> bool {
        self.customer.as_ref().is_none_or(|c| &s.customer == c)
            && self
                .case_id
                .as_ref()
                .is_none_or(|c| s.case_id.as_ref() == Some(c))
            && self.status.is_none_or(|st| s.status == st)
            && self.agent.as_ref().is_none_or(|a| s.agents.contains(a))
            && self
                .queues
                .as_ref()
                .is_none_or(|qs| s.queue.as_ref().is_some_and(|q| qs.contains(q)))
    }
}

/// A stored NPS survey answer (seed 000's survey API).
#[derive(Debug, Clone, Serialize)]
pub struct SurveyRecord {
    pub id: String,
    #[serde(skip)]
    pub org: OrgId,
    pub conversation: ConversationId,
    pub customer: CustomerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    pub survey_type: &'static str,
    pub rating: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub trait Engine: Send + Sync + 'static {
    /// "memory" or "redis", for logs and `/readyz`.
    fn kind(&self) -> &'static str;

    /// Appends events in order, assigning consecutive seqs. Deduplicated events return the
    /// original. The whole batch is written or nothing is.
    fn append(
        &self,
        conv: &ConvKey,
        fence: Fence,
        events: Vec<NewEvent>,
    ) -> EngineFuture<Vec<Appended>>;

    /// Events with `seq > after_seq`, at most `limit`. `None` when the conversation has no log.
    fn read_log(
        &self,
        conv: &ConvKey,
        after_seq: u64,
        limit: usize,
    ) -> EngineFuture<Option<LogSlice>>;

    fn put_summary(&self, summary: ConversationSummary) -> EngineFuture<()>;
    fn summary(&self, conv: &ConvKey) -> EngineFuture<Option<ConversationSummary>>;
    /// Newest first.
    fn find_conversations(
        &self,
        org: &OrgId,
        filter: ConversationFilter,
    ) -> EngineFuture<Vec<ConversationSummary>>;

    fn put_survey(&self, survey: SurveyRecord) -> EngineFuture<()>;
    /// Oldest first.
    fn surveys(&self, org: &OrgId) -> EngineFuture<Vec<SurveyRecord>>;

    fn put_org(&self, org: Arc<OrgConfig>) -> EngineFuture<()>;
    fn load_orgs(&self) -> EngineFuture<Vec<Arc<OrgConfig>>>;

    /// Ok when the engine can serve writes (`/readyz`).
    fn check_ready(&self) -> EngineFuture<()>;
}

pub type SharedEngine = Arc<dyn Engine>;
