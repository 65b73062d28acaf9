//! Where each conversation, agent and queue actor lives (DESIGN §1, §4): one trait, two
//! implementations.
//!
//! - [`local::Local`]: one process (memory engine). Every actor is here, with fencing epoch 1;
//!   nothing is forwarded, nothing is persisted apart from the engine's own data.
//! - [`cluster::ClusterNode`]: several nodes sharing a [`crate::engine::Cluster`] (Redis). An
//!   actor is active on the instance holding its lease; commands for actors elsewhere are
//!   forwarded; leases are renewed, gone nodes noticed and their actors taken over.
//!
//! This layer names no actor and no REST module. What the cluster needs done to actors
//! (dispatching a forwarded call, waking a gone node's actor, stopping an activation whose
//! lease is lost) it asks of a [`Host`], which the actor layer implements
//! (`actors::takeover`).

pub mod cluster;
pub mod local;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{ActorRef, SharedCluster};
use crate::ids::{OrgId, QueueKey};
use crate::protocol::{CommandError, ErrorCode};

pub use cluster::ClusterNode;
pub use local::Local;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where an actor is active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Here, with this fencing epoch.
    Here(u64),
    /// On another instance.
    There(String),
}

/// Why a forwarded call did not produce an answer from the actor.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
pub enum WireError {
    /// The receiving instance does not own the actor (any more): locate it again.
    NotOwner,
    /// The actor answered with an error, or the message could not be handled.
    Failed { code: ErrorCode, message: String },
}

/// What travels on the broadcast topic.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Notice {
    /// An org document changed: reload it.
    OrgChanged { org: OrgId, from: String },
    /// A queue (re)started on some node: agents that are members announce themselves to it.
    QueueStarted { queue: QueueKey },
    /// An instance drained and released its leases: take over its actors now.
    Left {
        instance: String,
        actors: Vec<ActorRef>,
    },
}

/// Where actors live, as the actor layer sees it.
pub trait Placement: Send + Sync + 'static {
    /// This instance's id on the bus (the node id on one process).
    fn instance(&self) -> &str;

    /// Whether other nodes share the actors (some REST answers gather from every node).
    fn clustered(&self) -> bool;

    /// Whether this node may serve: the cluster's heartbeat is answered and it is not leaving.
    fn healthy(&self) -> bool;

    /// The actor's epoch when it is known to be here without asking anyone: always on one
    /// process; in a cluster when a live local activation holds its lease.
    fn here_now(&self, actor: &ActorRef, active_here: bool) -> Option<u64>;

    /// Finds where the actor is active, claiming its lease when nobody live holds it.
    fn locate<'a>(
        &'a self,
        actor: &'a ActorRef,
        active_here: bool,
    ) -> BoxFuture<'a, Result<Location, CommandError>>;

    /// Forgets a remembered remote owner (it did not answer, or said it is not the owner).
    fn forget_owner(&self, actor: &ActorRef);

    /// Forwards a call to the instance that owns the actor and waits for its answer.
    fn call_remote<'a>(
        &'a self,
        instance: &'a str,
        actor: &'a ActorRef,
        name: &'static str,
        body: Value,
    ) -> BoxFuture<'a, Result<Value, WireError>>;

    /// How many times a caller locates an actor and tries again before giving up.
    fn attempts(&self) -> u32;

    /// How long one actor waits for another's answer: long enough to outlast a failover in a
    /// cluster, bounded so that two actors can never wait on each other forever.
    fn call_timeout(&self) -> Duration;

    /// An activation stopped: give its lease up so that any node can claim it at once.
    fn release(&self, actor: &ActorRef, epoch: u64);

    /// Whether the instance was seen gone (its sessions are gone with it).
    fn is_gone(&self, instance: &str) -> bool;

    /// Tells every other node (fire and forget).
    fn broadcast(&self, notice: Notice);

    /// Where actors persist their state for a node that takes them over (`None`: nobody will).
    fn state_store(&self) -> Option<SharedCluster>;

    /// Starts what keeps placement true over time (heartbeats, lease renewal, noticing gone
    /// nodes). Runs inside the actix system.
    fn start(self: std::sync::Arc<Self>, host: std::sync::Arc<dyn Host>);

    /// Drain, placement part: stop the local activations (waiting up to `within` for them)
    /// and hand their leases over.
    fn leave<'a>(&'a self, host: &'a dyn Host, within: Duration) -> BoxFuture<'a, ()>;
}

/// What the cluster asks of the actor layer.
pub trait Host: Send + Sync + 'static {
    /// Runs a call forwarded by another node on the local activation (never forwarding it on).
    fn dispatch(
        &self,
        actor: ActorRef,
        name: String,
        body: Value,
    ) -> BoxFuture<'static, Result<Value, WireError>>;

    /// Activates an actor wherever placement puts it (taking over a gone node's actor).
    fn wake(&self, actor: ActorRef) -> BoxFuture<'static, Result<(), CommandError>>;

    /// Stops the local activation of an actor whose lease is lost or handed over.
    fn stop_activation(&self, actor: &ActorRef);

    /// An instance is gone: forget the sessions it held.
    fn instance_gone(&self, instance: &str);

    /// A queue (re)started somewhere: its member agents announce themselves to it.
    fn queue_started(&self, queue: &QueueKey);

    /// Another node changed an org's document: reload it and tell the actors here.
    fn org_changed(&self, org: OrgId) -> BoxFuture<'static, ()>;

    /// A conversation's live notification arrived from the bus.
    fn deliver_remote(&self, topic: &crate::engine::Topic, payload: &str);

    /// The bus reconnected: live notifications may have been lost; followers re-read.
    fn resync_followers(&self);
}
