//! The runtime: everything the actors, the gateway and the REST API share on one node.

use std::sync::{Arc, OnceLock};

use actix::Addr;

use crate::actors::directory::Directory;
use crate::actors::timers::TimerWheel;
use crate::auth::Authenticator;
use crate::config::Settings;
use crate::engine::SharedEngine;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::orgs::Orgs;

pub struct Runtime {
    pub settings: Settings,
    pub node_id: String,
    pub engine: SharedEngine,
    pub orgs: Orgs,
    pub auth: Authenticator,
    pub hub: Hub,
    pub metrics: Metrics,
    pub directory: Directory,
    /// Cluster mode: placement, forwarding, leases, membership. `None` with the memory engine.
    pub cluster: Option<crate::cluster::ClusterNode>,
    /// The node's timer supervisor; set once at start-up, before any actor runs.
    timers: OnceLock<Addr<TimerWheel>>,
    /// One shared rate limiter per org (DESIGN invariant 8). `parking_lot` locks: held only for
    /// a lookup or one token take, never across an await.
    org_limiters: parking_lot::Mutex<std::collections::HashMap<crate::ids::OrgId, OrgLimiter>>,
    /// Flips to `true` when the node drains; every session watches it.
    draining: tokio::sync::watch::Sender<bool>,
}

impl Runtime {
    pub fn new(settings: Settings, engine: SharedEngine, directory: Directory) -> Self {
        let node_id = node_id(&settings);
        let cluster = engine
            .cluster()
            .map(|bus| crate::cluster::ClusterNode::new(bus, settings.engine.redis.clone()));
        Self {
            cluster,
            auth: Authenticator::new(&settings.auth),
            orgs: Orgs::new(engine.clone()),
            settings,
            node_id,
            engine,
            hub: Hub::new(),
            metrics: Metrics::default(),
            directory,
            timers: OnceLock::new(),
            draining: tokio::sync::watch::Sender::new(false),
            org_limiters: parking_lot::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The org's shared rate limiter (created on first use).
    pub fn org_limiter(&self, org: &crate::ids::OrgId) -> OrgLimiter {
        let limits = &self.settings.limits;
        self.org_limiters
            .lock()
            .entry(org.clone())
            .or_insert_with(|| {
                std::sync::Arc::new(parking_lot::Mutex::new(crate::gateway::TokenBucket::new(
                    limits.org_rate_per_sec,
                    limits.org_rate_burst,
                )))
            })
            .clone()
    }

    /// Tells every session to send its client away with a reconnect hint.
    pub fn begin_drain(&self) {
        self.draining.send_replace(true);
    }

    pub fn drain_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.draining.subscribe()
    }

    pub fn set_timers(&self, addr: Addr<TimerWheel>) {
        let _ = self.timers.set(addr);
    }

    /// The timer supervisor. Start-up sets it before serving, so it is always there afterwards.
    pub fn timers(&self) -> Option<&Addr<TimerWheel>> {
        self.timers.get()
    }
}

pub type Rt = Arc<Runtime>;

/// The configured node id, or a random one.
pub fn node_id(settings: &Settings) -> String {
    if settings.server.node_id.is_empty() {
        format!("n{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
    } else {
        settings.server.node_id.clone()
    }
}

impl Runtime {
    /// An instance is gone: agents active here forget the sessions they had there.
    pub fn node_gone(&self, instance: &str) {
        for (_, addr) in self.active_agents() {
            addr.do_send(crate::actors::agent::NodeGone {
                instance: instance.to_string(),
            });
        }
    }

    /// A queue (re)started: agents active here that are members tell it their availability.
    pub fn announce_agents_to(&self, queue: &crate::ids::QueueKey) {
        for (key, addr) in self.active_agents() {
            if key.org == queue.org {
                addr.do_send(crate::actors::agent::Announce);
            }
        }
    }

    /// This instance's id on the bus (the node id with the memory engine).
    pub fn instance(&self) -> &str {
        self.cluster
            .as_ref()
            .map_or(self.node_id.as_str(), |c| c.instance())
    }
}

/// A token bucket shared by every connection of one org on this node.
pub type OrgLimiter = Arc<parking_lot::Mutex<crate::gateway::TokenBucket>>;
