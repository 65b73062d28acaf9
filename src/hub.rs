//! Fan-out from actors to the sockets of this node.
//!
//! Conversation actors publish each logged event once; the hub hands a pre-serialized frame to
//! every local session that follows the conversation. It is the node-local half of delivery: in
//! cluster mode a node receives a notification for a conversation and hands it to its hub.
//!
//! Sessions own the ordering logic (drop what they have seen, fill gaps from the log), so the hub
//! can be lossy without losing anything: a session whose buffer overflows is told to close, and
//! its client resumes from its last seq.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytestring::ByteString;
use parking_lot::RwLock;
use tokio::sync::{mpsc, Notify};

use crate::ids::{AgentKey, ConvKey, ConversationId};
use crate::protocol::{LogEvent, ServerFrame, Signal, Visibility};

pub type SessionId = u64;

/// Who a subscriber is, which decides what it may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Customer,
    Agent,
}

/// One logged event, serialized once for each audience.
#[derive(Debug)]
pub struct EventDelivery {
    pub conversation: ConversationId,
    pub seq: u64,
    /// The previous public seq (what a customer saw last, if it saw everything).
    pub prev_public: u64,
    pub visibility: Visibility,
    pub agent_frame: ByteString,
    /// `None` for agent-only events.
    pub customer_frame: Option<ByteString>,
}

impl EventDelivery {
    pub fn new(
        conversation: &ConversationId,
        epoch: &str,
        event: &LogEvent,
        prev_public: u64,
    ) -> Self {
        let agent_frame = ServerFrame::Event {
            conversation,
            seq: event.seq,
            prev: event.seq.saturating_sub(1),
            epoch,
            event,
        }
        .to_json();
        let customer_frame = (event.visibility == Visibility::Public).then(|| {
            ByteString::from(
                ServerFrame::Event {
                    conversation,
                    seq: event.seq,
                    prev: prev_public,
                    epoch,
                    event,
                }
                .to_json(),
            )
        });
        Self {
            conversation: conversation.clone(),
            seq: event.seq,
            prev_public,
            visibility: event.visibility,
            agent_frame: ByteString::from(agent_frame),
            customer_frame,
        }
    }
}

/// Instructions from actors to an agent's sessions.
#[derive(Debug, Clone)]
pub enum Control {
    /// Start following the conversation (an offer or transfer was accepted).
    Follow(ConversationId),
    /// Stop following it (transferred away).
    Unfollow(ConversationId),
}

#[derive(Debug, Clone)]
pub enum Outbound {
    Event(Arc<EventDelivery>),
    Text(ByteString),
    Control(Control),
}

/// A session's mailbox as seen by the hub.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: SessionId,
    pub audience: Audience,
    tx: mpsc::Sender<Outbound>,
    /// Set when the buffer overflowed; the session closes itself and the client resumes.
    overflowed: Arc<AtomicBool>,
    kick: Arc<Notify>,
}

/// The receiving half, owned by the session task.
pub struct SessionInbox {
    pub rx: mpsc::Receiver<Outbound>,
    pub overflowed: Arc<AtomicBool>,
    pub kick: Arc<Notify>,
}

impl SessionHandle {
    pub fn new(id: SessionId, audience: Audience, buffer: usize) -> (Self, SessionInbox) {
        let (tx, rx) = mpsc::channel(buffer.max(1));
        let overflowed = Arc::new(AtomicBool::new(false));
        let kick = Arc::new(Notify::new());
        (
            Self {
                id,
                audience,
                tx,
                overflowed: overflowed.clone(),
                kick: kick.clone(),
            },
            SessionInbox {
                rx,
                overflowed,
                kick,
            },
        )
    }

    /// Queues a frame without waiting. A full buffer marks the session as a slow consumer.
    pub fn push(&self, item: Outbound) {
        match self.tx.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.overflowed.swap(true, Ordering::Relaxed) {
                    self.kick.notify_one();
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

const SHARDS: usize = 32;

/// See the module docs.
pub struct Hub {
    next_session: AtomicU64,
    /// `parking_lot` locks: held only to copy handles out, never across an await.
    conversations: Vec<RwLock<HashMap<ConvKey, Vec<SessionHandle>>>>,
    agents: RwLock<HashMap<AgentKey, Vec<SessionHandle>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

fn shard_of(key: &ConvKey) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() as usize) % SHARDS
}

impl Hub {
    pub fn new() -> Self {
        Self {
            next_session: AtomicU64::new(1),
            conversations: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            agents: RwLock::new(HashMap::new()),
        }
    }

    pub fn next_session_id(&self) -> SessionId {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    pub fn follow(&self, key: &ConvKey, handle: SessionHandle) {
        let mut map = self.conversations[shard_of(key)].write();
        let subs = map.entry(key.clone()).or_default();
        subs.retain(|s| s.id != handle.id && !s.is_closed());
        subs.push(handle);
    }

    pub fn unfollow(&self, key: &ConvKey, session: SessionId) {
        let mut map = self.conversations[shard_of(key)].write();
        if let Some(subs) = map.get_mut(key) {
            subs.retain(|s| s.id != session);
            if subs.is_empty() {
                map.remove(key);
            }
        }
    }

    /// Delivers a logged event to every follower allowed to see it.
    pub fn publish(&self, key: &ConvKey, delivery: Arc<EventDelivery>) {
        let map = self.conversations[shard_of(key)].read();
        let Some(subs) = map.get(key) else { return };
        for s in subs {
            if s.audience == Audience::Agent || delivery.customer_frame.is_some() {
                s.push(Outbound::Event(delivery.clone()));
            }
        }
    }

    /// Delivers a live signal to the followers of a conversation in the given audiences.
    pub fn signal_conversation(
        &self,
        key: &ConvKey,
        to_customer: bool,
        to_agents: bool,
        signal: &Signal,
    ) {
        let map = self.conversations[shard_of(key)].read();
        let Some(subs) = map.get(key) else { return };
        let text = ByteString::from(ServerFrame::Signal(signal).to_json());
        for s in subs {
            let wanted = match s.audience {
                Audience::Customer => to_customer,
                Audience::Agent => to_agents,
            };
            if wanted {
                s.push(Outbound::Text(text.clone()));
            }
        }
    }

    pub fn attach_agent(&self, key: &AgentKey, handle: SessionHandle) {
        let mut map = self.agents.write();
        let subs = map.entry(key.clone()).or_default();
        subs.retain(|s| !s.is_closed());
        subs.push(handle);
    }

    /// Removes a session; returns how many sessions the agent still has.
    pub fn detach_agent(&self, key: &AgentKey, session: SessionId) -> usize {
        let mut map = self.agents.write();
        let Some(subs) = map.get_mut(key) else {
            return 0;
        };
        subs.retain(|s| s.id != session && !s.is_closed());
        let left = subs.len();
        if left == 0 {
            map.remove(key);
        }
        left
    }

    pub fn agent_sessions(&self, key: &AgentKey) -> Vec<SessionHandle> {
        self.agents.read().get(key).cloned().unwrap_or_default()
    }

    pub fn signal_agent(&self, key: &AgentKey, signal: &Signal) {
        let sessions = self.agent_sessions(key);
        if sessions.is_empty() {
            return;
        }
        let text = ByteString::from(ServerFrame::Signal(signal).to_json());
        for s in sessions {
            s.push(Outbound::Text(text.clone()));
        }
    }

    pub fn control_agent(&self, key: &AgentKey, control: Control) {
        for s in self.agent_sessions(key) {
            s.push(Outbound::Control(control.clone()));
        }
    }
}
