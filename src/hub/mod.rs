//! Fan-out from actors to the sockets of this node.
//!
//! Conversation actors publish each logged event once; the hub hands a pre-serialized frame to
//! every local session that follows the conversation. It is the node-local half of delivery: in
//! cluster mode a node receives a notification for a conversation and hands it to its hub.
//!
//! Sessions own the ordering logic (drop what they have seen, fill gaps from the log), so the hub
//! can be lossy without losing anything: a session whose buffer overflows is told to close, and
//! its client resumes from its last seq.
//!
//! This file is the local fan-out (sessions, who follows what); `relay.rs` is the cross-node
//! half (cluster mode).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::engine::Topic;

mod relay;

use crate::ids::{AgentKey, ConvKey, ConversationId, CustomerKey, OrgId};
use crate::protocol::server::event_frame;
use crate::protocol::{LogEvent, ServerFrame, Signal, Visibility};
use relay::{Bus, Relay};

pub type SessionId = u64;

/// Who a subscriber is, which decides what it may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// When the conversation applied the event, for the delivery histogram; `None` for events
    /// relayed from another node (its clock is not this one's).
    pub applied_at: Option<Instant>,
}

impl EventDelivery {
    /// The delivery of an event logged on this node: the event is serialized once and spliced
    /// into each audience's frame.
    pub fn new(
        conversation: &ConversationId,
        epoch: &str,
        event: &LogEvent,
        prev_public: u64,
    ) -> Self {
        let json = serde_json::to_string(event).unwrap_or_else(|err| {
            tracing::error!(%err, seq = event.seq, "Failed to serialize an event.");
            "null".to_string()
        });
        let mut d = Self::from_json(
            conversation,
            epoch,
            event.seq,
            prev_public,
            event.visibility,
            &json,
        );
        d.applied_at = Some(Instant::now());
        d
    }

    /// The delivery of an event given as its log JSON (an event another node logged).
    pub fn from_json(
        conversation: &ConversationId,
        epoch: &str,
        seq: u64,
        prev_public: u64,
        visibility: Visibility,
        event_json: &str,
    ) -> Self {
        let agent_frame = event_frame(conversation, seq, seq.saturating_sub(1), epoch, event_json);
        let customer_frame = (visibility == Visibility::Public).then(|| {
            ByteString::from(event_frame(
                conversation,
                seq,
                prev_public,
                epoch,
                event_json,
            ))
        });
        Self {
            conversation: conversation.clone(),
            seq,
            prev_public,
            visibility,
            agent_frame: ByteString::from(agent_frame),
            customer_frame,
            applied_at: None,
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
    /// Live notifications may have been lost (the cluster's pub/sub reconnected): re-read
    /// every followed conversation's log from the last seq delivered.
    Resync,
    /// The conversation's log may hold events whose notification never came (its owner
    /// changed: the previous one may have died between an append and its publish): re-read
    /// it from the last seq delivered.
    ResyncOne(ConversationId),
}

/// A session's mailbox: a bounded queue that holds no allocation while empty (an idle socket
/// is most sockets; a channel would keep a 32-slot block for each), with the overflow flag.
struct Mailbox {
    queue: Mutex<VecDeque<Outbound>>,
    capacity: usize,
    /// Wakes the session when an item arrives (a permit is kept if it is not waiting).
    ready: Notify,
    /// Set when the buffer overflowed; the session closes itself and the client resumes.
    overflowed: AtomicBool,
    /// Wakes the session (and a write it is stuck in) when the buffer overflowed.
    kick: Notify,
    /// The session's end dropped its inbox: the hub prunes this handle.
    closed: AtomicBool,
}

/// A queue that grew past this during a burst gives the memory back once drained.
const MAILBOX_KEEP: usize = 16;

/// A session's mailbox as seen by the hub.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: SessionId,
    pub audience: Audience,
    mailbox: Arc<Mailbox>,
}

/// The receiving half, owned by the session task.
pub struct SessionInbox {
    mailbox: Arc<Mailbox>,
}

impl SessionHandle {
    pub fn new(id: SessionId, audience: Audience, buffer: usize) -> (Self, SessionInbox) {
        let mailbox = Arc::new(Mailbox {
            queue: Mutex::new(VecDeque::new()),
            capacity: buffer.max(1),
            ready: Notify::new(),
            overflowed: AtomicBool::new(false),
            kick: Notify::new(),
            closed: AtomicBool::new(false),
        });
        (
            Self {
                id,
                audience,
                mailbox: mailbox.clone(),
            },
            SessionInbox { mailbox },
        )
    }

    /// Queues a frame without waiting. A full buffer marks the session as a slow consumer.
    pub fn push(&self, item: Outbound) {
        let m = &self.mailbox;
        if m.closed.load(Ordering::Relaxed) {
            return;
        }
        {
            let mut queue = m.queue.lock();
            if queue.len() >= m.capacity {
                drop(queue);
                if !m.overflowed.swap(true, Ordering::Relaxed) {
                    m.kick.notify_one();
                }
                return;
            }
            queue.push_back(item);
        }
        m.ready.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.mailbox.closed.load(Ordering::Relaxed)
    }

    /// Resolves once the buffer has overflowed (for a session stuck writing to its socket).
    pub async fn overflow(&self) {
        while !self.mailbox.overflowed.load(Ordering::Relaxed) {
            self.mailbox.kick.notified().await;
        }
    }
}

impl SessionInbox {
    /// The next queued item, in order. Cancel-safe: an item is taken only when it is returned.
    pub async fn recv(&self) -> Outbound {
        loop {
            if let Some(item) = self.try_recv() {
                return item;
            }
            self.mailbox.ready.notified().await;
        }
    }

    /// The next queued item, if there is one.
    pub fn try_recv(&self) -> Option<Outbound> {
        let mut queue = self.mailbox.queue.lock();
        let item = queue.pop_front();
        if queue.is_empty() && queue.capacity() > MAILBOX_KEEP {
            *queue = VecDeque::new();
        }
        item
    }

    /// Resolves when the hub marks the mailbox as overflowed (or may have: check
    /// [`SessionInbox::overflowed`]).
    pub async fn kicked(&self) {
        self.mailbox.kick.notified().await;
    }

    pub fn overflowed(&self) -> bool {
        self.mailbox.overflowed.load(Ordering::Relaxed)
    }
}

impl Drop for SessionInbox {
    fn drop(&mut self) {
        self.mailbox.closed.store(true, Ordering::Relaxed);
        self.mailbox.queue.lock().clear();
    }
}

const SHARDS: usize = 32;

/// Signed-in customers' sessions, and how many each org has on this node.
#[derive(Default)]
struct Customers {
    sessions: HashMap<CustomerKey, Vec<SessionHandle>>,
    per_org: HashMap<OrgId, usize>,
}

/// See the module docs.
pub struct Hub {
    next_session: AtomicU64,
    /// `parking_lot` locks: held only to copy handles out, never across an await.
    conversations: Vec<RwLock<HashMap<ConvKey, Vec<SessionHandle>>>>,
    agents: RwLock<HashMap<AgentKey, Vec<SessionHandle>>>,
    /// Signed-in customers' sessions, for the rare control addressed to a customer (an agent
    /// started a chat with them); and how many each org has here (its topic is subscribed
    /// while it has any).
    customers: RwLock<Customers>,
    bus: std::sync::OnceLock<Bus>,
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
            customers: RwLock::new(Customers::default()),
            bus: std::sync::OnceLock::new(),
        }
    }

    /// A conversation was activated by a new owner (cluster mode): every follower, on every
    /// node, re-reads its log from the last seq it delivered. Pub/sub only notifies, so an
    /// event appended by a node that died before publishing it would otherwise reach followers
    /// only with the next event — or never, if it was the last.
    pub fn resync(&self, key: &ConvKey) {
        self.resync_local(key);
        self.relay(Topic::Conversation(key.clone()), |o| Relay::Resync {
            o,
            c: key.id.clone(),
        });
    }

    fn resync_local(&self, key: &ConvKey) {
        if let Some(subs) = self.conversations[shard_of(key)].read().get(key) {
            for s in subs {
                s.push(Outbound::ResyncOne(key.id.clone()));
            }
        }
    }

    /// Tells every session of this node to re-read what it follows from the logs.
    pub fn resync_all(&self) {
        for shard in &self.conversations {
            for subs in shard.read().values() {
                for s in subs {
                    s.push(Outbound::Resync);
                }
            }
        }
    }

    pub fn next_session_id(&self) -> SessionId {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a follower. In a cluster the node subscribes to the conversation's topic; the
    /// returned future resolves once events published elsewhere reach this node.
    pub fn follow(
        &self,
        key: &ConvKey,
        handle: SessionHandle,
    ) -> impl std::future::Future<Output = ()> + 'static {
        {
            let mut map = self.conversations[shard_of(key)].write();
            let subs = map.entry(key.clone()).or_default();
            subs.retain(|s| s.id != handle.id && !s.is_closed());
            subs.push(handle);
        }
        self.subscribe(Topic::Conversation(key.clone()))
    }

    pub fn unfollow(&self, key: &ConvKey, session: SessionId) {
        let mut map = self.conversations[shard_of(key)].write();
        if let Some(subs) = map.get_mut(key) {
            subs.retain(|s| s.id != session);
            if subs.is_empty() {
                map.remove(key);
                self.unsubscribe(Topic::Conversation(key.clone()));
            }
        }
    }

    /// Delivers a logged event to every follower on this node allowed to see it. The other
    /// nodes hear of it from the engine: the cluster engine's append publishes each new event
    /// on the conversation's topic in the same script (one round trip, DESIGN §4), and
    /// [`Hub::deliver_remote`] hands it to their followers.
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
        let text = ByteString::from(ServerFrame::Signal(signal).to_json());
        self.relay(Topic::Conversation(key.clone()), |o| Relay::Signal {
            o,
            customer: to_customer,
            agents: to_agents,
            frame: text.to_string(),
        });
        self.signal_conversation_local(key, to_customer, to_agents, text);
    }

    fn signal_conversation_local(
        &self,
        key: &ConvKey,
        to_customer: bool,
        to_agents: bool,
        text: ByteString,
    ) {
        let map = self.conversations[shard_of(key)].read();
        let Some(subs) = map.get(key) else { return };
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

    /// Registers an agent's session; in a cluster, resolves once the agent's signals from
    /// other nodes reach this one.
    pub fn attach_agent(
        &self,
        key: &AgentKey,
        handle: SessionHandle,
    ) -> impl std::future::Future<Output = ()> + 'static {
        {
            let mut map = self.agents.write();
            let subs = map.entry(key.clone()).or_default();
            subs.retain(|s| !s.is_closed());
            subs.push(handle);
        }
        self.subscribe(Topic::Agent(key.clone()))
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
            self.unsubscribe(Topic::Agent(key.clone()));
        }
        left
    }

    pub fn agent_sessions(&self, key: &AgentKey) -> Vec<SessionHandle> {
        self.agents.read().get(key).cloned().unwrap_or_default()
    }

    pub fn signal_agent(&self, key: &AgentKey, signal: &Signal) {
        let text = ByteString::from(ServerFrame::Signal(signal).to_json());
        self.relay(Topic::Agent(key.clone()), |o| Relay::AgentSignal {
            o,
            frame: text.to_string(),
        });
        for s in self.agent_sessions(key) {
            s.push(Outbound::Text(text.clone()));
        }
    }

    /// Registers a customer's session (not awaited: controls for customers are rare, and a
    /// customer who misses one finds the chat in its next `hello`).
    pub fn attach_customer(&self, key: &CustomerKey, handle: SessionHandle) {
        let first = {
            let mut guard = self.customers.write();
            let Customers { sessions, per_org } = &mut *guard;
            let subs = sessions.entry(key.clone()).or_default();
            subs.retain(|s| !s.is_closed());
            subs.push(handle);
            let n = per_org.entry(key.org.clone()).or_default();
            *n += 1;
            *n == 1
        };
        if first {
            actix::spawn(self.subscribe(Topic::Customers(key.org.clone())));
        }
    }

    pub fn detach_customer(&self, key: &CustomerKey, session: SessionId) {
        let last = {
            let mut guard = self.customers.write();
            let Customers { sessions, per_org } = &mut *guard;
            let Some(subs) = sessions.get_mut(key) else {
                return;
            };
            let before = subs.len();
            subs.retain(|s| s.id != session);
            if subs.len() == before {
                return;
            }
            if subs.is_empty() {
                sessions.remove(key);
            }
            match per_org.get_mut(&key.org) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    false
                }
                _ => {
                    per_org.remove(&key.org);
                    true
                }
            }
        };
        if last {
            self.unsubscribe(Topic::Customers(key.org.clone()));
        }
    }

    pub fn customer_sessions(&self, key: &CustomerKey) -> Vec<SessionHandle> {
        self.customers
            .read()
            .sessions
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    /// Makes the customer's sessions, on every node, follow a conversation (an agent started
    /// it with them).
    pub fn follow_customer(&self, key: &CustomerKey, conversation: ConversationId) {
        self.relay(Topic::Customers(key.org.clone()), |o| {
            Relay::CustomerControl {
                o,
                u: key.id.clone(),
                follow: true,
                c: conversation.clone(),
            }
        });
        for s in self.customer_sessions(key) {
            s.push(Outbound::Control(Control::Follow(conversation.clone())));
        }
    }

    pub fn control_agent(&self, key: &AgentKey, control: Control) {
        self.relay(Topic::Agent(key.clone()), |o| match &control {
            Control::Follow(c) => Relay::Control {
                o,
                follow: true,
                c: c.clone(),
            },
            Control::Unfollow(c) => Relay::Control {
                o,
                follow: false,
                c: c.clone(),
            },
        });
        for s in self.agent_sessions(key) {
            s.push(Outbound::Control(control.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn text(i: usize) -> Outbound {
        Outbound::Text(ByteString::from(format!("{i}")))
    }

    fn number(item: Outbound) -> usize {
        item.into_number()
    }

    impl Outbound {
        fn into_number(self) -> usize {
            match self {
                Outbound::Text(t) => t.parse().expect("a number"),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_mailbox_delivers_in_order_and_overflows_past_its_capacity() {
        let (handle, inbox) = SessionHandle::new(1, Audience::Customer, 3);
        for i in 0..3 {
            handle.push(text(i));
        }
        assert!(!inbox.overflowed());
        handle.push(text(3));
        assert!(
            inbox.overflowed(),
            "the fourth item overflows a 3-item mailbox"
        );
        tokio::time::timeout(Duration::from_secs(5), inbox.kicked())
            .await
            .expect("the session is kicked");
        tokio::time::timeout(Duration::from_secs(5), handle.overflow())
            .await
            .expect("a stuck write sees the overflow");
        let got: Vec<usize> = std::iter::from_fn(|| inbox.try_recv().map(number)).collect();
        assert_eq!(
            got,
            [0, 1, 2],
            "in order; the overflowing item is not queued"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_waiting_session_wakes_for_each_item_and_a_drained_mailbox_gives_memory_back() {
        let (handle, inbox) = SessionHandle::new(1, Audience::Agent, 1024);
        for i in 0..100 {
            handle.push(text(i));
        }
        assert!(inbox.mailbox.queue.lock().capacity() >= 100);
        assert_eq!(inbox.recv().await.into_number(), 0);
        while inbox.try_recv().is_some() {}
        assert_eq!(
            inbox.mailbox.queue.lock().capacity(),
            0,
            "a drained burst is given back"
        );
        let waiter = tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..200 {
                got.push(number(inbox.recv().await));
            }
            let capacity = inbox.mailbox.queue.lock().capacity();
            (got, capacity, inbox)
        });
        for i in 0..200 {
            handle.push(text(i));
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        let (got, capacity, inbox) = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("every item within 5 s")
            .expect("task");
        assert_eq!(got, (0..200).collect::<Vec<_>>());
        assert!(capacity <= MAILBOX_KEEP, "capacity {capacity}");
        assert!(!handle.is_closed());
        drop(inbox);
        assert!(
            handle.is_closed(),
            "the hub prunes a handle whose session ended"
        );
        handle.push(text(0));
        assert_eq!(
            handle.mailbox.queue.lock().len(),
            0,
            "nothing queued for nobody"
        );
    }
}
