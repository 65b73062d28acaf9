//! Cluster mode, the node's side (DESIGN §4): where each actor lives, forwarding commands to the
//! node that owns an actor, keeping leases alive, noticing dead nodes and taking over their
//! actors, and handing everything over on drain.
//!
//! This module knows the [`Cluster`] trait, not Redis, and no actor: what needs doing to actors
//! it asks of its [`Host`]. The memory engine has no cluster: its placement is [`super::Local`].
//!
//! - **Placement.** An actor is active on the instance that holds its lease. A caller that has
//!   no local activation claims the lease: if it gets it, the actor starts here with the lease's
//!   fencing epoch; if another live instance holds it, the command is forwarded there.
//! - **Forwarding.** A command travels as an [`Envelope::Call`] on the owner's instance topic
//!   with a correlation id; the owner answers with [`Envelope::Reply`] on the caller's topic. The
//!   caller waits `call_timeout_ms`, then re-locates the actor and retries (commands carry
//!   idempotency keys, so a retry never doubles an effect).
//! - **Leases** are renewed in one batch every `renew_ms`; an activation whose lease was lost is
//!   stopped (and any write it attempts is refused by the fencing epoch anyway).
//! - **Membership.** Every instance heartbeats; an instance silent for `node_ttl_ms` is gone.
//!   One live instance wins the right to reap it and wakes each actor it owned: the wake claims
//!   the lease (stealing it from the gone instance), and the new activation re-arms its timers,
//!   offers and queue from persisted state.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::oneshot;

mod membership;

use super::{BoxFuture, Host, Location, Notice, Placement, WireError};
use crate::config::RedisSettings;
use crate::engine::{ActorRef, Claim, EngineError, SharedCluster, Topic};
use crate::protocol::CommandError;

/// How long a remembered owner of a remote actor is trusted before asking Redis again.
const OWNER_CACHE: Duration = Duration::from_secs(5);

/// What travels on instance topics.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Envelope {
    Call {
        from: String,
        corr: u64,
        actor: ActorRef,
        name: String,
        body: Value,
    },
    Reply {
        corr: u64,
        result: Result<Value, WireError>,
    },
}

pub struct ClusterNode {
    pub bus: SharedCluster,
    pub settings: RedisSettings,
    instance: String,
    /// Leases this instance holds → their epoch.
    leases: Mutex<HashMap<ActorRef, u64>>,
    /// Remembered owners of actors active elsewhere.
    owners: Mutex<HashMap<ActorRef, (String, Instant)>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Result<Value, WireError>>>>,
    next_corr: AtomicU64,
    /// Instances seen gone (silent past `node_ttl_ms`, or left).
    gone: Mutex<HashSet<String>>,
    /// Set when Redis answered the last heartbeat.
    healthy: AtomicBool,
    /// Since when heartbeats have been answered: right after an outage every node looks
    /// silent, so nobody is declared gone until heartbeats had time to resume.
    healthy_since: Mutex<Instant>,
    /// Set once the node drains: no more heartbeats, no more claims.
    leaving: AtomicBool,
    /// How many leases this instance holds, for drain to wait until every activation stopped
    /// and gave its lease back.
    held: tokio::sync::watch::Sender<usize>,
}

fn unavailable(e: EngineError) -> CommandError {
    CommandError::from(e)
}

impl ClusterNode {
    pub fn new(bus: SharedCluster, settings: RedisSettings) -> Self {
        Self {
            instance: bus.instance().to_string(),
            bus,
            settings,
            leases: Mutex::new(HashMap::new()),
            owners: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            next_corr: AtomicU64::new(1),
            gone: Mutex::new(HashSet::new()),
            healthy: AtomicBool::new(true),
            healthy_since: Mutex::new(Instant::now()),
            leaving: AtomicBool::new(false),
            held: tokio::sync::watch::Sender::new(0),
        }
    }

    fn count_leases(&self, leases: &HashMap<ActorRef, u64>) {
        self.held.send_replace(leases.len());
    }

    pub fn epoch_of(&self, actor: &ActorRef) -> Option<u64> {
        self.leases.lock().get(actor).copied()
    }

    /// Finds where the actor is active, claiming its lease when nobody live holds it.
    /// `active_here` says whether a live local activation exists (then its lease is ours).
    async fn find(&self, actor: &ActorRef, active_here: bool) -> Result<Location, CommandError> {
        if active_here {
            if let Some(epoch) = self.epoch_of(actor) {
                return Ok(Location::Here(epoch));
            }
        }
        if let Some((owner, at)) = self.owners.lock().get(actor).cloned() {
            if at.elapsed() < OWNER_CACHE && !self.gone.lock().contains(&owner) {
                return Ok(Location::There(owner));
            }
        }
        if self.leaving.load(Ordering::Relaxed) {
            // Whoever asked locates the actor again: another node claims it.
            return Err(CommandError::moved());
        }
        let claim = self.bus.claim(actor, None).await.map_err(unavailable)?;
        let claim = match claim {
            Claim::Held { by } if self.gone.lock().contains(&by) => self
                .bus
                .claim(actor, Some(&by))
                .await
                .map_err(unavailable)?,
            other => other,
        };
        Ok(match claim {
            Claim::Mine { epoch } => {
                {
                    let mut leases = self.leases.lock();
                    leases.insert(actor.clone(), epoch);
                    self.count_leases(&leases);
                }
                self.owners.lock().remove(actor);
                Location::Here(epoch)
            }
            Claim::Held { by } => {
                self.owners
                    .lock()
                    .insert(actor.clone(), (by.clone(), Instant::now()));
                Location::There(by)
            }
        })
    }

    /// Forwards a call to the instance that owns the actor and waits for its answer.
    async fn forward(
        &self,
        instance: &str,
        actor: &ActorRef,
        name: &'static str,
        body: Value,
    ) -> Result<Value, WireError> {
        let corr = self.next_corr.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(corr, tx);
        let envelope = Envelope::Call {
            from: self.instance.clone(),
            corr,
            actor: actor.clone(),
            name: name.to_string(),
            body,
        };
        let payload = match serde_json::to_string(&envelope) {
            Ok(payload) => payload,
            Err(err) => {
                self.pending.lock().remove(&corr);
                return Err(WireError::Failed {
                    code: crate::protocol::ErrorCode::Internal,
                    message: format!("could not serialize a forwarded call: {err}"),
                });
            }
        };
        let topic = Topic::Instance(instance.to_string());
        if let Err(err) = self.bus.publish(&topic, payload).await {
            self.pending.lock().remove(&corr);
            return Err(WireError::Failed {
                code: crate::protocol::ErrorCode::Unavailable,
                message: err.to_string(),
            });
        }
        let wait = Duration::from_millis(self.settings.call_timeout_ms);
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(result)) => result,
            _ => {
                self.pending.lock().remove(&corr);
                tracing::debug!(%instance, name, "A forwarded call timed out.");
                Err(WireError::NotOwner)
            }
        }
    }

    fn complete(&self, corr: u64, result: Result<Value, WireError>) {
        if let Some(tx) = self.pending.lock().remove(&corr) {
            let _ = tx.send(result);
        }
    }

    pub async fn notify(&self, notice: &Notice) {
        let payload = match serde_json::to_string(notice) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(%err, "Could not serialize a notice; not sent.");
                return;
            }
        };
        if let Err(err) = self.bus.publish(&Topic::Broadcast, payload).await {
            tracing::warn!(%err, "Could not broadcast a notice.");
        }
    }

    /// Renews every lease; returns the ones that are lost.
    async fn renew(&self) -> Vec<(ActorRef, u64)> {
        let leases: Vec<(ActorRef, u64)> = self
            .leases
            .lock()
            .iter()
            .map(|(a, e)| (a.clone(), *e))
            .collect();
        if leases.is_empty() {
            return Vec::new();
        }
        match self.bus.renew(leases.clone()).await {
            Ok(still) => {
                let lost: Vec<_> = leases
                    .into_iter()
                    .zip(still)
                    .filter(|(_, ok)| !ok)
                    .map(|(l, _)| l)
                    .collect();
                let mut held = self.leases.lock();
                for (actor, epoch) in &lost {
                    if held.get(actor) == Some(epoch) {
                        held.remove(actor);
                    }
                }
                self.count_leases(&held);
                lost
            }
            Err(err) => {
                tracing::warn!(%err, "Could not renew leases; retrying.");
                Vec::new()
            }
        }
    }
}

impl Placement for ClusterNode {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn clustered(&self) -> bool {
        true
    }

    fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.leaving.load(Ordering::Relaxed)
    }

    fn here_now(&self, actor: &ActorRef, active_here: bool) -> Option<u64> {
        if active_here {
            self.epoch_of(actor)
        } else {
            None
        }
    }

    fn locate<'a>(
        &'a self,
        actor: &'a ActorRef,
        active_here: bool,
    ) -> BoxFuture<'a, Result<Location, CommandError>> {
        Box::pin(self.find(actor, active_here))
    }

    fn forget_owner(&self, actor: &ActorRef) {
        self.owners.lock().remove(actor);
    }

    fn call_remote<'a>(
        &'a self,
        instance: &'a str,
        actor: &'a ActorRef,
        name: &'static str,
        body: Value,
    ) -> BoxFuture<'a, Result<Value, WireError>> {
        Box::pin(self.forward(instance, actor, name, body))
    }

    fn attempts(&self) -> u32 {
        self.settings.call_attempts.max(1)
    }

    /// Outlasts the retries of a call to an actor whose node just died (they end once it has
    /// moved), with a floor of five seconds.
    fn call_timeout(&self) -> Duration {
        const FLOOR: Duration = Duration::from_secs(5);
        let s = &self.settings;
        let retries = u64::from(s.call_attempts.max(1)) * (s.call_timeout_ms + 250);
        FLOOR.max(Duration::from_millis(retries + 1_000))
    }

    /// An activation stopped: give its lease up so that any node can claim it at once.
    fn release(&self, actor: &ActorRef, epoch: u64) {
        let removed = {
            let mut leases = self.leases.lock();
            if leases.get(actor) == Some(&epoch) {
                leases.remove(actor);
                self.count_leases(&leases);
                true
            } else {
                false
            }
        };
        if removed {
            let fut = self.bus.release(vec![(actor.clone(), epoch)]);
            actix::spawn(async move {
                if let Err(err) = fut.await {
                    tracing::debug!(%err, "Could not release a lease; it will lapse.");
                }
            });
        }
    }

    fn is_gone(&self, instance: &str) -> bool {
        self.gone.lock().contains(instance)
    }

    fn broadcast(&self, notice: Notice) {
        let bus = self.bus.clone();
        let payload = match serde_json::to_string(&notice) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(%err, "Could not serialize a notice; not sent.");
                return;
            }
        };
        actix::spawn(async move {
            if let Err(err) = bus.publish(&Topic::Broadcast, payload).await {
                tracing::warn!(%err, "Could not broadcast a notice.");
            }
        });
    }

    fn state_store(&self) -> Option<SharedCluster> {
        Some(self.bus.clone())
    }

    fn start(self: Arc<Self>, host: Arc<dyn Host>) {
        membership::start(&self, host);
    }

    fn leave<'a>(&'a self, host: &'a dyn Host, within: Duration) -> BoxFuture<'a, ()> {
        Box::pin(membership::leave(self, host, within))
    }
}
