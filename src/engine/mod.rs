//! The engine: the seam between the runtime and the outside world (DESIGN §1).
//!
//! **Architecture Invariant:** nothing outside `engine/` knows how logs, summaries or org
//! documents are stored. Actors and handlers call [`Engine`]; the `memory` engine serves one
//! process, and a Redis engine (cluster mode) implements the same trait.
//!
//! Every method returns a boxed `Send` future so that a networked implementation fits; the memory
//! engine returns ready futures.

mod dedup;
pub mod memory;
pub mod redis;
mod snapshot;
pub(crate) mod stored;

pub use dedup::DedupMap;
pub use snapshot::{SnapshotWriter, StateWriter};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::attachment::ScanState;
use crate::domain::conversation::Status;
use crate::domain::org::OrgConfig;
use crate::ids::{
    AgentId, AgentKey, AttachmentId, ConvKey, ConversationId, CustomerId, OrgId, QueueId, QueueKey,
    ReasonId,
};
use crate::protocol::{Author, CommandError, EventKind, LogEvent};

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

/// Reads a conversation's whole log, `page` events per read: the one loop that every reader of
/// a whole transcript uses (an actor rebuilding itself, the transcript API). `None` when the
/// conversation has no log.
pub async fn read_all(
    engine: &dyn Engine,
    key: &ConvKey,
    page: usize,
) -> Result<Option<LogSlice>, EngineError> {
    let mut whole: Option<LogSlice> = None;
    loop {
        let after = whole
            .as_ref()
            .and_then(|w| w.events.last())
            .map_or(0, |e| e.seq);
        let Some(slice) = engine.read_log(key, after, page).await? else {
            return Ok(whole);
        };
        let done =
            slice.events.is_empty() || slice.events.last().is_some_and(|l| l.seq >= slice.last_seq);
        match &mut whole {
            Some(w) => {
                w.epoch = slice.epoch;
                w.last_seq = slice.last_seq;
                w.events.extend(slice.events);
            }
            None => whole = Some(slice),
        }
        if done {
            return Ok(whole);
        }
    }
}

impl From<EngineError> for CommandError {
    /// A stale writer is told to locate the actor again; an unreachable store is `unavailable`
    /// (retry); anything else is internal (its cause is logged, not shown to clients).
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Fenced { .. } => CommandError::moved(),
            EngineError::Unavailable(m) => CommandError::unavailable(m),
            EngineError::Other(m) => CommandError::internal(m),
        }
    }
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
    /// Absent in a chat between agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerId>,
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
    /// Since when it waits in its queue (its place in line: the original enqueue time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<DateTime<Utc>>,
    /// Its priority in the queue (higher first).
    #[serde(skip)]
    pub priority: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    pub last_seq: u64,
    pub messages: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub survey_rating: Option<u8>,
    /// A bot-first chat: its bot, and when it went to a person (PROTOCOL §9.12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot: Option<BotPhase>,
    /// The tickets the chat is recorded on (PROTOCOL §9.13).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<String>,
}

/// The bot part of a bot-first chat, as its summary shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BotPhase {
    pub bot: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_over_at: Option<DateTime<Utc>>,
}

/// Filters for [`Engine::find_conversations`]; all given filters must match.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub customer: Option<CustomerId>,
    pub case_id: Option<String>,
    pub status: Option<Status>,
    pub agent: Option<AgentId>,
    pub queues: Option<Vec<QueueId>>,
    /// Created at or after (inclusive).
    pub created_from: Option<DateTime<Utc>>,
    /// Created before (exclusive).
    pub created_to: Option<DateTime<Utc>>,
    /// A page after this position: only conversations that come after it newest first (created
    /// earlier, or at the same microsecond with a greater id).
    pub after: Option<ListPosition>,
    pub limit: usize,
}

/// A place in the newest-first order of conversations (created time, then id ascending): what
/// a page's cursor stands for. Times compare at microseconds, the archive's resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub created_us: i64,
    pub id: ConversationId,
}

impl ListPosition {
    pub fn of(s: &ConversationSummary) -> Self {
        Self {
            created_us: s.created_at.timestamp_micros(),
            id: s.id.clone(),
        }
    }

    /// Whether `s` comes after this position, newest first.
    pub fn precedes(&self, s: &ConversationSummary) -> bool {
        let at = s.created_at.timestamp_micros();
        at < self.created_us || (at == self.created_us && s.id.as_str() > self.id.as_str())
    }

    /// The opaque cursor a client passes back (`<micros>.<id>`).
    pub fn cursor(&self) -> String {
        format!("{}.{}", self.created_us, self.id)
    }

    pub fn parse_cursor(raw: &str) -> Option<Self> {
        let (at, id) = raw.split_once('.')?;
        Some(Self {
            created_us: at.parse().ok()?,
            id: ConversationId::parse(id).ok()?,
        })
    }
}

impl ConversationFilter {
    pub fn matches(&self, s: &ConversationSummary) -> bool {
        self.customer
            .as_ref()
            .is_none_or(|c| s.customer.as_ref() == Some(c))
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
            && self.created_from.is_none_or(|f| s.created_at >= f)
            && self.created_to.is_none_or(|t| s.created_at < t)
            && self.after.as_ref().is_none_or(|p| p.precedes(s))
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

/// An uploaded file's metadata (its bytes are in the blob store under `key`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct AttachmentRecord {
    pub id: AttachmentId,
    pub org: OrgId,
    pub conversation: ConversationId,
    /// Who uploaded it: the customer or an agent (role and id).
    pub uploader: Author,
    /// The name as given (checked by `domain::attachment::check_name`).
    pub name: String,
    pub size: u64,
    /// The sniffed MIME type, never the client's.
    pub mime: String,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
    pub state: ScanState,
    pub created_at: DateTime<Utc>,
    /// The blob store's key (random).
    pub key: String,
}

pub trait Engine: Send + Sync + 'static {
    /// "memory" or "redis", for logs and `/readyz`.
    fn kind(&self) -> &'static str;

    /// Appends events in order, assigning consecutive seqs. Deduplicated events return the
    /// original. The whole batch is written or nothing is. `prev_public` is the conversation's
    /// last public seq before the batch: a cluster engine tells the other nodes of each new
    /// event in the same step (the customers' frames carry the previous public seq).
    fn append(
        &self,
        conv: &ConvKey,
        fence: Fence,
        prev_public: u64,
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

    /// Records that the conversation is in the archive up to `seq` (the archiver's marker).
    fn mark_archived(&self, conv: &ConvKey, seq: u64) -> EngineFuture<()>;
    /// An archived conversation's hot data — log, dedup keys, summary and its index entries —
    /// goes after `after` (the grace period during which late clients still resume from the
    /// engine); reads then find nothing, and REST answers from the archive. Idempotent.
    fn expire_conversation(&self, conv: &ConvKey, after: std::time::Duration) -> EngineFuture<()>;
    /// Forgets the conversation at once (customer erasure, retention): everything
    /// [`Engine::expire_conversation`] drops, and its survey answers and attachment records.
    /// Idempotent.
    fn forget_conversation(&self, conv: &ConvKey) -> EngineFuture<()>;
    /// For each id, the last seq recorded by [`Engine::mark_archived`] (0: never archived).
    fn archived_marks(&self, org: &OrgId, ids: Vec<ConversationId>) -> EngineFuture<Vec<u64>>;

    /// A small JSON document kept for one agent (`kind`: e.g. `canned`, its personal canned
    /// responses); `None` when never written. Written whole, last writer wins.
    fn agent_doc(
        &self,
        org: &OrgId,
        agent: &AgentId,
        kind: &'static str,
    ) -> EngineFuture<Option<String>>;
    fn put_agent_doc(
        &self,
        org: &OrgId,
        agent: &AgentId,
        kind: &'static str,
        json: String,
    ) -> EngineFuture<()>;
    /// Stores (or replaces) an attachment's metadata.
    fn put_attachment(&self, record: AttachmentRecord) -> EngineFuture<()>;
    /// The org's attachment `id`, if any.
    fn attachment(&self, org: &OrgId, id: &AttachmentId) -> EngineFuture<Option<AttachmentRecord>>;

    /// Every attachment record of the conversation (uploaded, sent or not).
    fn conversation_attachments(&self, conv: &ConvKey) -> EngineFuture<Vec<AttachmentRecord>>;
    /// Forgets an attachment's metadata (its file is the blob store's business). Idempotent.
    fn delete_attachment(&self, org: &OrgId, id: &AttachmentId) -> EngineFuture<()>;

    fn put_org(&self, org: Arc<OrgConfig>) -> EngineFuture<()>;
    fn load_orgs(&self) -> EngineFuture<Vec<Arc<OrgConfig>>>;

    /// Ok when the engine can serve writes (`/readyz`).
    fn check_ready(&self) -> EngineFuture<()>;

    /// Cluster coordination, for engines shared by several nodes; `None` for one process.
    fn cluster(&self) -> Option<SharedCluster> {
        None
    }
}

pub type SharedEngine = Arc<dyn Engine>;

/// A customer's message for the engines' tests; `dedup` is its `client_msg_id` and dedup key.
#[cfg(test)]
pub(crate) fn test_message(text: &str, dedup: Option<&str>) -> NewEvent {
    NewEvent {
        author: Author {
            role: crate::protocol::AuthorRole::Customer,
            id: Some("v".into()),
            name: None,
        },
        kind: EventKind::Message {
            text: text.into(),
            client_msg_id: dedup.unwrap_or("x").into(),
            attachments: Vec::new(),
        },
        dedup_key: dedup.map(str::to_string),
    }
}
pub type SharedCluster = Arc<dyn Cluster>;

/// One actor that can hold a lease: the unit of placement in a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum ActorRef {
    Conversation(ConvKey),
    Agent(AgentKey),
    Queue(QueueKey),
}

impl ActorRef {
    pub fn org(&self) -> &OrgId {
        match self {
            ActorRef::Conversation(k) => &k.org,
            ActorRef::Agent(k) => &k.org,
            ActorRef::Queue(k) => &k.org,
        }
    }
}

/// The outcome of [`Cluster::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This instance holds the lease; writes carry this fencing epoch.
    Mine { epoch: u64 },
    /// Another live instance holds it.
    Held { by: String },
}

/// A pub/sub topic. Conversation and agent topics carry events and signals to the nodes that
/// hold the participants' sockets (a node subscribes while it has one); instance topics carry
/// forwarded commands and their replies; the broadcast topic carries cluster-wide notices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Instance(String),
    Broadcast,
    Conversation(ConvKey),
    Agent(AgentKey),
    /// The org's signed-in customers (rare controls: an agent started a chat with one of them).
    Customers(OrgId),
}

/// What the pub/sub connection hands the node.
#[derive(Debug, Clone)]
pub enum BusEvent {
    Message {
        topic: Topic,
        payload: String,
    },
    /// The pub/sub connection was re-established (every topic is subscribed again). Messages may
    /// have been lost meanwhile: followers must re-read what they missed from the logs.
    Reconnected,
}

/// A node seen in the membership table.
#[derive(Debug, Clone)]
pub struct Member {
    pub instance: String,
    /// Milliseconds since its last heartbeat.
    pub silent_ms: u64,
}

/// Cluster coordination (DESIGN §4): membership, leases with fencing epochs, fenced actor state
/// and pub/sub. Implemented by the Redis engine; the runtime uses only this trait.
///
/// An *instance* is one process: `{node_id}-{random}`, so a restarted node is a new instance and
/// can clean up what its previous incarnation left.
pub trait Cluster: Send + Sync + 'static {
    /// This process's instance id.
    fn instance(&self) -> &str;
    /// The configured node id this instance runs as (the prefix of its instance id).
    fn node_id(&self) -> &str;

    /// Records this instance as alive now (membership + heartbeat). Called at start and then
    /// every `heartbeat_ms`.
    fn heartbeat(&self) -> EngineFuture<()>;
    /// Every instance in the membership table with how long it has been silent.
    fn members(&self) -> EngineFuture<Vec<Member>>;
    /// Removes an instance from membership and deletes its owned set (after reaping it, or when
    /// it drains and leaves).
    fn forget(&self, instance: &str) -> EngineFuture<()>;
    /// Exactly one caller wins the right to reap a gone instance (a short-lived lock).
    fn lock_reap(&self, instance: &str) -> EngineFuture<bool>;
    /// Actors the instance claimed and has not released: a superset of the leases it holds.
    fn owned(&self, instance: &str) -> EngineFuture<Vec<ActorRef>>;

    /// Takes the actor's lease when it is free, already ours, or held by `steal_from` (an
    /// instance known to be gone). Taking it bumps the actor's fencing epoch (which only grows);
    /// re-claiming a lease we hold returns its current epoch. The actor is added to this
    /// instance's owned set before the lease is taken.
    fn claim(&self, actor: &ActorRef, steal_from: Option<&str>) -> EngineFuture<Claim>;
    /// The instance holding the actor's lease, if any.
    fn holder(&self, actor: &ActorRef) -> EngineFuture<Option<String>>;
    /// Extends our leases in one round trip. For each: still ours at that epoch (a lease that
    /// lapsed but whose epoch is unchanged is taken again).
    fn renew(&self, leases: Vec<(ActorRef, u64)>) -> EngineFuture<Vec<bool>>;
    /// Gives leases up (each only if still ours at that epoch) and drops them from the owned set.
    fn release(&self, leases: Vec<(ActorRef, u64)>) -> EngineFuture<()>;

    /// Writes an actor's persisted state, refusing with `Fenced` unless `epoch` is the actor's
    /// current fencing epoch.
    fn put_state(&self, actor: &ActorRef, epoch: u64, state: String) -> EngineFuture<()>;
    fn get_state(&self, actor: &ActorRef) -> EngineFuture<Option<String>>;

    fn publish(&self, topic: &Topic, payload: String) -> EngineFuture<()>;
    /// Publishes several messages in order, in one round trip where the engine can.
    fn publish_many(&self, batch: Vec<(Topic, String)>) -> EngineFuture<()>;
    /// Resolves once the subscription is active (messages published afterwards arrive).
    fn subscribe(&self, topic: &Topic) -> EngineFuture<()>;
    fn unsubscribe(&self, topic: &Topic) -> EngineFuture<()>;
    /// Everything that arrives on subscribed topics (and this instance's own topic and the
    /// broadcast topic, subscribed from the start). Taken once, by the node, at start-up.
    fn take_incoming(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<BusEvent>>;
}
