//! Where actors live: id → `Addr`, activating on demand (virtual actors).
//!
//! An actor whose mailbox is gone (it panicked or stopped) is replaced by a fresh activation on
//! the next lookup; the new activation rebuilds its state from the engine. Actors are spread over
//! a fixed set of arbiters (threads) by the hash of their key. In a cluster the directory holds
//! only the activations whose lease this node holds; [`super::route`] decides where an actor
//! lives.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use actix::{Actor, Addr, ArbiterHandle};
use parking_lot::Mutex;

use super::agent::AgentActor;
use super::conversation::ConversationActor;
use super::queue::QueueActor;
use super::route::{LeaseLost, Routed};
use super::{ActorSystem, Rt};
use crate::engine::ActorRef;
use crate::ids::{AgentKey, ConvKey, QueueKey};
use crate::metrics::Metrics;

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

impl ActorSystem {
    /// Forgets a passivated conversation actor, unless a newer activation replaced it.
    pub fn forget_conversation(&self, key: &ConvKey, addr: &Addr<ConversationActor>) {
        let mut map = self.directory.conversations[hash_of(key) % SHARDS].lock();
        if map.get(key) == Some(addr) {
            map.remove(key);
        }
    }

    pub fn forget_agent(&self, key: &AgentKey, addr: &Addr<AgentActor>) {
        let mut map = self.directory.agents.lock();
        if map.get(key) == Some(addr) {
            map.remove(key);
        }
    }

    pub fn forget_queue(&self, key: &QueueKey, addr: &Addr<QueueActor>) {
        let mut map = self.directory.queues.lock();
        if map.get(key) == Some(addr) {
            map.remove(key);
        }
    }

    /// The agent's actor if it is active on this node; does not activate one.
    pub fn agent_if_active(&self, key: &AgentKey) -> Option<Addr<AgentActor>> {
        self.directory
            .agents
            .lock()
            .get(key)
            .filter(|a| a.connected())
            .cloned()
    }

    /// The agent actors active on this node.
    pub fn active_agents(&self) -> Vec<(AgentKey, Addr<AgentActor>)> {
        self.directory
            .agents
            .lock()
            .iter()
            .filter(|(_, a)| a.connected())
            .map(|(k, a)| (k.clone(), a.clone()))
            .collect()
    }

    /// Stops the local activation of an actor whose lease is lost (or handed over on drain).
    pub fn stop_activation(&self, actor: &ActorRef) {
        let d = &self.directory;
        match actor {
            ActorRef::Conversation(k) => {
                if let Some(a) = d.conversations[hash_of(k) % SHARDS].lock().remove(k) {
                    a.do_send(LeaseLost);
                }
            }
            ActorRef::Agent(k) => {
                if let Some(a) = d.agents.lock().remove(k) {
                    a.do_send(LeaseLost);
                }
            }
            ActorRef::Queue(k) => {
                if let Some(a) = d.queues.lock().remove(k) {
                    a.do_send(LeaseLost);
                }
            }
        }
    }

    /// Every actor active on this node.
    pub fn active_actors(&self) -> Vec<ActorRef> {
        let d = &self.directory;
        let mut all: Vec<ActorRef> = Vec::new();
        for shard in &d.conversations {
            all.extend(shard.lock().keys().cloned().map(ActorRef::Conversation));
        }
        all.extend(d.agents.lock().keys().cloned().map(ActorRef::Agent));
        all.extend(d.queues.lock().keys().cloned().map(ActorRef::Queue));
        all
    }
}

fn live<K: Hash + Eq, A: Actor>(map: &HashMap<K, Addr<A>>, key: &K) -> Option<Addr<A>> {
    map.get(key).filter(|a| a.connected()).cloned()
}

impl Routed for ConversationActor {
    type Key = ConvKey;

    fn actor_ref(key: &ConvKey) -> ActorRef {
        ActorRef::Conversation(key.clone())
    }

    fn active(rt: &Rt, key: &ConvKey) -> Option<Addr<Self>> {
        live(
            &rt.directory.conversations[hash_of(key) % SHARDS].lock(),
            key,
        )
    }

    fn activate(rt: &Rt, key: &ConvKey, epoch: u64, here: bool) -> Addr<Self> {
        let d = &rt.directory;
        let placement = if here {
            Placement::Here
        } else {
            Placement::Spread
        };
        let mut map = d.conversations[hash_of(key) % SHARDS].lock();
        get_or_start(&mut map, key, &rt.metrics, || {
            let rt = rt.clone();
            let k = key.clone();
            ConversationActor::start_in_arbiter(&d.place(key, placement), move |_| {
                ConversationActor::new(rt, k, epoch)
            })
        })
    }
}

impl Routed for AgentActor {
    type Key = AgentKey;

    fn actor_ref(key: &AgentKey) -> ActorRef {
        ActorRef::Agent(key.clone())
    }

    fn active(rt: &Rt, key: &AgentKey) -> Option<Addr<Self>> {
        live(&rt.directory.agents.lock(), key)
    }

    fn activate(rt: &Rt, key: &AgentKey, epoch: u64, here: bool) -> Addr<Self> {
        let d = &rt.directory;
        let placement = if here {
            Placement::Here
        } else {
            Placement::Spread
        };
        let mut map = d.agents.lock();
        get_or_start(&mut map, key, &rt.metrics, || {
            let rt = rt.clone();
            let k = key.clone();
            AgentActor::start_in_arbiter(&d.place(key, placement), move |_| {
                AgentActor::new(rt, k, epoch)
            })
        })
    }
}

impl Routed for QueueActor {
    type Key = QueueKey;

    fn actor_ref(key: &QueueKey) -> ActorRef {
        ActorRef::Queue(key.clone())
    }

    fn active(rt: &Rt, key: &QueueKey) -> Option<Addr<Self>> {
        live(&rt.directory.queues.lock(), key)
    }

    fn activate(rt: &Rt, key: &QueueKey, epoch: u64, _here: bool) -> Addr<Self> {
        let d = &rt.directory;
        let mut map = d.queues.lock();
        get_or_start(&mut map, key, &rt.metrics, || {
            let rt = rt.clone();
            let k = key.clone();
            QueueActor::start_in_arbiter(d.arbiter_for(key), move |_| QueueActor::new(rt, k, epoch))
        })
    }
}
