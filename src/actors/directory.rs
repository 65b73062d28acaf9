//! Where actors live: id → `Addr`, activating on demand (virtual actors).
//!
//! An actor whose mailbox is gone (it panicked or stopped) is replaced by a fresh activation on
//! the next lookup; the new activation rebuilds its state from the engine. Actors are spread over
//! a fixed set of arbiters (threads) by the hash of their key.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use actix::{Actor, Addr, ArbiterHandle};
use parking_lot::Mutex;

use super::agent::AgentActor;
use super::conversation::ConversationActor;
use super::queue::QueueActor;
use crate::ids::{AgentKey, ConvKey, QueueKey};
use crate::metrics::Metrics;
use crate::runtime::{Rt, Runtime};

const SHARDS: usize = 32;

/// Where to start an actor that is not active yet.
#[derive(Debug, Clone, Copy)]
enum Placement {
    /// On the caller's own arbiter (thread), for locality with the socket that uses it.
    Here,
    /// On one of the node's actor arbiters, by hash of the key.
    Spread,
}

pub struct Directory {
    arbiters: Vec<ArbiterHandle>,
    /// `parking_lot` locks: held only for a map lookup/insert, never across an await.
    conversations: Vec<Mutex<HashMap<ConvKey, Addr<ConversationActor>>>>,
    agents: Mutex<HashMap<AgentKey, Addr<AgentActor>>>,
    queues: Mutex<HashMap<QueueKey, Addr<QueueActor>>>,
}

fn hash_of<K: Hash>(k: &K) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    k.hash(&mut h);
    h.finish() as usize
}

impl Directory {
    /// `arbiters` must not be empty.
    pub fn new(arbiters: Vec<ArbiterHandle>) -> Self {
        assert!(
            !arbiters.is_empty(),
            "the directory needs at least one arbiter"
        );
        Self {
            arbiters,
            conversations: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            agents: Mutex::new(HashMap::new()),
            queues: Mutex::new(HashMap::new()),
        }
    }

    fn arbiter_for<K: Hash>(&self, key: &K) -> &ArbiterHandle {
        &self.arbiters[hash_of(key) % self.arbiters.len()]
    }

    /// Where a new activation runs: the caller's arbiter when asked and there is one, else the
    /// actor threads by hash.
    fn place<K: Hash>(&self, key: &K, placement: Placement) -> ArbiterHandle {
        match placement {
            Placement::Here => {
                actix::Arbiter::try_current().unwrap_or_else(|| self.arbiter_for(key).clone())
            }
            Placement::Spread => self.arbiter_for(key).clone(),
        }
    }
}

fn get_or_start<K, A>(
    map: &mut HashMap<K, Addr<A>>,
    key: &K,
    metrics: &Metrics,
    start: impl FnOnce() -> Addr<A>,
) -> Addr<A>
where
    K: Hash + Eq + Clone + std::fmt::Debug,
    A: Actor,
{
    if let Some(addr) = map.get(key) {
        if addr.connected() {
            return addr.clone();
        }
        Metrics::inc(&metrics.actor_restarts);
        tracing::warn!(?key, "Actor was dead; reactivating it from the log.");
    }
    let addr = start();
    map.insert(key.clone(), addr.clone());
    addr
}

impl Runtime {
    /// The conversation's actor, activating it on a spread-out arbiter if needed.
    pub fn conversation(self: &Rt, key: &ConvKey) -> Addr<ConversationActor> {
        self.conversation_on(key, Placement::Spread)
    }

    /// The conversation's actor, activating it on the caller's own arbiter if needed. The
    /// gateway uses this: a conversation then lives on the thread of the socket that started it,
    /// and its messages need no cross-thread hop (the largest cost per message on a busy node).
    pub fn conversation_here(self: &Rt, key: &ConvKey) -> Addr<ConversationActor> {
        self.conversation_on(key, Placement::Here)
    }

    fn conversation_on(self: &Rt, key: &ConvKey, placement: Placement) -> Addr<ConversationActor> {
        let d = &self.directory;
        let mut map = d.conversations[hash_of(key) % SHARDS].lock();
        get_or_start(&mut map, key, &self.metrics, || {
            let rt = self.clone();
            let k = key.clone();
            ConversationActor::start_in_arbiter(&d.place(key, placement), move |_| {
                ConversationActor::new(rt, k)
            })
        })
    }

    /// Forgets a passivated conversation actor, unless a newer activation replaced it.
    pub fn forget_conversation(&self, key: &ConvKey, addr: &Addr<ConversationActor>) {
        let mut map = self.directory.conversations[hash_of(key) % SHARDS].lock();
        if map.get(key) == Some(addr) {
            map.remove(key);
        }
    }

    pub fn agent(self: &Rt, key: &AgentKey) -> Addr<AgentActor> {
        self.agent_on(key, Placement::Spread)
    }

    /// The agent's actor, activating it on the caller's arbiter (the agent's socket's thread).
    pub fn agent_here(self: &Rt, key: &AgentKey) -> Addr<AgentActor> {
        self.agent_on(key, Placement::Here)
    }

    fn agent_on(self: &Rt, key: &AgentKey, placement: Placement) -> Addr<AgentActor> {
        let d = &self.directory;
        let mut map = d.agents.lock();
        get_or_start(&mut map, key, &self.metrics, || {
            let rt = self.clone();
            let k = key.clone();
            AgentActor::start_in_arbiter(&d.place(key, placement), move |_| AgentActor::new(rt, k))
        })
    }

    /// The agent's actor if it is active; does not activate one.
    pub fn agent_if_active(&self, key: &AgentKey) -> Option<Addr<AgentActor>> {
        self.directory
            .agents
            .lock()
            .get(key)
            .filter(|a| a.connected())
            .cloned()
    }

    pub fn queue(self: &Rt, key: &QueueKey) -> Addr<QueueActor> {
        let d = &self.directory;
        let mut map = d.queues.lock();
        get_or_start(&mut map, key, &self.metrics, || {
            let rt = self.clone();
            let k = key.clone();
            QueueActor::start_in_arbiter(d.arbiter_for(key), move |_| QueueActor::new(rt, k))
        })
    }

    pub fn active_agents(&self) -> Vec<(AgentKey, Addr<AgentActor>)> {
        self.directory
            .agents
            .lock()
            .iter()
            .filter(|(_, a)| a.connected())
            .map(|(k, a)| (k.clone(), a.clone()))
            .collect()
    }
}
