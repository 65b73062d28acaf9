//! Cluster mode, the node's side (DESIGN §4): where each actor lives, forwarding commands to the
//! node that owns an actor, keeping leases alive, noticing dead nodes and taking over their
//! actors, and handing everything over on drain.
//!
//! This module knows the [`Cluster`] trait, not Redis. The memory engine has no cluster: then
//! [`crate::runtime::Runtime::cluster`] is `None` and every actor is local.
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
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::config::RedisSettings;
use crate::engine::{ActorRef, BusEvent, Claim, EngineError, SharedCluster, Topic};
use crate::ids::{OrgId, QueueKey};
use crate::protocol::CommandError;
use crate::runtime::Rt;

/// How long a remembered owner of a remote actor is trusted before asking Redis again.
const OWNER_CACHE: Duration = Duration::from_secs(5);

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
    Failed {
        code: crate::protocol::ErrorCode,
        message: String,
    },
}

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
}

fn unavailable(e: EngineError) -> CommandError {
    crate::actors::conversation::engine_error(e)
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
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && !self.leaving.load(Ordering::Relaxed)
    }

    /// Whether the instance was seen gone.
    pub fn is_gone(&self, instance: &str) -> bool {
        self.gone.lock().contains(instance)
    }

    pub fn lease_count(&self) -> usize {
        self.leases.lock().len()
    }

    pub fn epoch_of(&self, actor: &ActorRef) -> Option<u64> {
        self.leases.lock().get(actor).copied()
    }

    /// Finds where the actor is active, claiming its lease when nobody live holds it.
    /// `active_here` says whether a live local activation exists (then its lease is ours).
    pub async fn locate(
        &self,
        actor: &ActorRef,
        active_here: bool,
    ) -> Result<Location, CommandError> {
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
                self.leases.lock().insert(actor.clone(), epoch);
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

    /// Forgets a remembered remote owner (it did not answer, or said it is not the owner).
    pub fn forget_owner(&self, actor: &ActorRef) {
        self.owners.lock().remove(actor);
    }

    /// An activation stopped: give its lease up so that any node can claim it at once.
    pub fn release(&self, actor: &ActorRef, epoch: u64) {
        let removed = {
            let mut leases = self.leases.lock();
            if leases.get(actor) == Some(&epoch) {
                leases.remove(actor);
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

    /// Forwards a call to the instance that owns the actor and waits for its answer.
    pub async fn call_remote(
        &self,
        instance: &str,
        actor: &ActorRef,
        name: &str,
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
        let payload = serde_json::to_string(&envelope).unwrap_or_default();
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
        let payload = serde_json::to_string(notice).unwrap_or_default();
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
                lost
            }
            Err(err) => {
                tracing::warn!(%err, "Could not renew leases; retrying.");
                Vec::new()
            }
        }
    }
}

/// Starts the node's cluster tasks: the pub/sub reader, heartbeat, lease renewal and the
/// reaper. Runs inside the actix system.
pub fn start(rt: &Rt) {
    let Some(node) = rt.cluster.as_ref() else {
        return;
    };
    if let Some(mut incoming) = node.bus.take_incoming() {
        let rt = rt.clone();
        actix::spawn(async move {
            while let Some(event) = incoming.recv().await {
                on_bus_event(&rt, event);
            }
            tracing::warn!("The cluster's pub/sub reader stopped.");
        });
    }
    let heartbeat = Duration::from_millis(node.settings.heartbeat_ms.max(50));
    let renew = Duration::from_millis(node.settings.renew_ms.max(50));
    {
        let rt = rt.clone();
        actix::spawn(async move {
            let mut tick = tokio::time::interval(heartbeat);
            loop {
                tick.tick().await;
                let Some(node) = rt.cluster.as_ref() else {
                    return;
                };
                if node.leaving.load(Ordering::Relaxed) {
                    return;
                }
                let ok = node.bus.heartbeat().await.is_ok();
                if ok != node.healthy.swap(ok, Ordering::Relaxed) {
                    *node.healthy_since.lock() = Instant::now();
                    if ok {
                        tracing::info!("Redis is reachable again.");
                    } else {
                        tracing::warn!("Redis is unreachable: refusing writes until it is back.");
                    }
                }
                reap(&rt).await;
            }
        });
    }
    {
        let rt = rt.clone();
        actix::spawn(async move {
            let mut tick = tokio::time::interval(renew);
            loop {
                tick.tick().await;
                let Some(node) = rt.cluster.as_ref() else {
                    return;
                };
                for (actor, _) in node.renew().await {
                    tracing::warn!(?actor, "Lost a lease; stopping the activation.");
                    rt.stop_activation(&actor);
                }
            }
        });
    }
}

fn on_bus_event(rt: &Rt, event: BusEvent) {
    let Some(node) = rt.cluster.as_ref() else {
        return;
    };
    match event {
        BusEvent::Reconnected => {
            tracing::info!("Pub/sub reconnected: followers re-read what they missed.");
            rt.hub.resync_all();
        }
        BusEvent::Message {
            topic: Topic::Instance(_),
            payload,
        } => match serde_json::from_str::<Envelope>(&payload) {
            Ok(Envelope::Reply { corr, result }) => node.complete(corr, result),
            Ok(Envelope::Call {
                from,
                corr,
                actor,
                name,
                body,
            }) => {
                let rt = rt.clone();
                actix::spawn(async move {
                    let result = crate::actors::route::dispatch(&rt, actor, &name, body).await;
                    let Some(node) = rt.cluster.as_ref() else {
                        return;
                    };
                    let reply = Envelope::Reply { corr, result };
                    let payload = serde_json::to_string(&reply).unwrap_or_default();
                    if let Err(err) = node.bus.publish(&Topic::Instance(from), payload).await {
                        tracing::warn!(%err, "Could not send a forwarded call's answer.");
                    }
                });
            }
            Err(err) => tracing::warn!(%err, "Unreadable envelope."),
        },
        BusEvent::Message {
            topic: Topic::Broadcast,
            payload,
        } => match serde_json::from_str::<Notice>(&payload) {
            Ok(Notice::OrgChanged { org, from }) if from != node.instance => {
                let rt = rt.clone();
                actix::spawn(async move {
                    if let Err(err) = rt.orgs.reload(&org).await {
                        tracing::warn!(%org, ?err, "Could not reload a changed org.");
                    }
                    crate::api::config::org_changed_locally(&rt, &org);
                });
            }
            Ok(Notice::OrgChanged { .. }) => {}
            Ok(Notice::QueueStarted { queue }) => rt.announce_agents_to(&queue),
            Ok(Notice::Left { instance, actors }) => {
                // A node that is leaving itself takes nothing over.
                if instance != node.instance && !node.leaving.load(Ordering::Relaxed) {
                    node.gone.lock().insert(instance.clone());
                    rt.node_gone(&instance);
                    let rt = rt.clone();
                    actix::spawn(async move { reap_instance(&rt, &instance, actors).await });
                }
            }
            Err(err) => tracing::warn!(%err, "Unreadable notice."),
        },
        BusEvent::Message { topic, payload } => rt.hub.deliver_remote(&topic, &payload),
    }
}

/// Looks for instances that went silent; takes over what they owned.
async fn reap(rt: &Rt) {
    let Some(node) = rt.cluster.as_ref() else {
        return;
    };
    if !node.healthy() {
        return;
    }
    // Right after start-up or an outage every other node looks silent: judge silence only once
    // heartbeats had time to resume.
    let settled = Duration::from_millis(node.settings.node_ttl_ms + node.settings.heartbeat_ms);
    let settled = node.healthy_since.lock().elapsed() >= settled;
    let Ok(members) = node.bus.members().await else {
        return;
    };
    let prefix = format!("{}-", node.bus.node_id());
    for m in members {
        if m.instance == node.instance {
            continue;
        }
        // A previous incarnation of this very node is gone by definition, at once: a node
        // restarted after a crash takes its actors back without waiting for their leases.
        let lapsed = (settled && m.silent_ms > node.settings.node_ttl_ms)
            || m.instance.starts_with(prefix.as_str());
        if !lapsed {
            // Back (or never gone): its leases are its own again.
            node.gone.lock().remove(&m.instance);
            continue;
        }
        let first_time = node.gone.lock().insert(m.instance.clone());
        if first_time {
            tracing::warn!(instance = %m.instance, silent_ms = m.silent_ms, "A node is gone; taking over its actors.");
            rt.node_gone(&m.instance);
        }
        reap_instance(rt, &m.instance, Vec::new()).await;
    }
}

/// Wakes what a gone instance owned (its owned set, plus `also`: what it said it held when it
/// left), once cluster-wide.
async fn reap_instance(rt: &Rt, instance: &str, also: Vec<ActorRef>) {
    let Some(node) = rt.cluster.as_ref() else {
        return;
    };
    match node.bus.lock_reap(instance).await {
        Ok(true) => {}
        _ => return,
    }
    let owned = match node.bus.owned(instance).await {
        Ok(mut owned) => {
            let extra: Vec<ActorRef> = also.into_iter().filter(|a| !owned.contains(a)).collect();
            owned.extend(extra);
            owned
        }
        Err(err) => {
            tracing::warn!(%instance, %err, "Could not read a gone node's actors.");
            return;
        }
    };
    tracing::info!(%instance, actors = owned.len(), "Waking the actors of a gone node.");
    // Queues and agents first: conversations that wake up re-announce themselves to queues.
    let mut owned = owned;
    owned.sort_by_key(|a| match a {
        ActorRef::Queue(_) => 0,
        ActorRef::Agent(_) => 1,
        ActorRef::Conversation(_) => 2,
    });
    for actor in owned {
        if let Err(err) = crate::actors::route::wake(rt, actor.clone()).await {
            tracing::warn!(?actor, %err, "Could not wake an actor of a gone node.");
        }
    }
    if let Err(err) = node.bus.forget(instance).await {
        tracing::warn!(%instance, %err, "Could not forget a gone node.");
    }
}

/// Drain, cluster part: stop heartbeating, stop every local actor (each releases its lease),
/// then tell the other nodes to take over at once.
pub async fn leave(rt: &Rt) {
    let Some(node) = rt.cluster.as_ref() else {
        return;
    };
    node.leaving.store(true, Ordering::Relaxed);
    let held: Vec<(ActorRef, u64)> = node
        .leases
        .lock()
        .iter()
        .map(|(a, e)| (a.clone(), *e))
        .collect();
    for (actor, _) in &held {
        rt.stop_activation(actor);
    }
    // Give the stopping actors a moment to flush; then release whatever is left in one batch.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let left: Vec<(ActorRef, u64)> = node.leases.lock().drain().collect();
    if !left.is_empty() {
        if let Err(err) = node.bus.release(left).await {
            tracing::warn!(%err, "Could not release leases on drain; they will lapse.");
        }
    }
    node.notify(&Notice::Left {
        instance: node.instance.clone(),
        actors: held.iter().map(|(a, _)| a.clone()).collect(),
    })
    .await;
    tracing::info!(released = held.len(), "Leases handed over.");
}

/// Writes snapshots of one writer's data in order, one write at a time, always the latest
/// (snapshots overtaken while a write was in flight are skipped). Used for actor state (fenced)
/// and conversation summaries, so that an older snapshot can never land after a newer one.
/// A write refused by the fencing epoch calls `on_fenced` and stops the writer; other failures
/// are retried until a newer snapshot replaces the one that failed.
pub struct SnapshotWriter<T> {
    latest: tokio::sync::watch::Sender<Option<(u64, T)>>,
    written: tokio::sync::watch::Receiver<u64>,
    version: u64,
}

/// An actor's persisted state, written with its fencing epoch.
pub type StateWriter = SnapshotWriter<String>;

impl StateWriter {
    pub fn for_actor(
        bus: SharedCluster,
        actor: ActorRef,
        epoch: u64,
        on_fenced: impl FnOnce() + Send + 'static,
    ) -> Self {
        let what = format!("{actor:?}");
        SnapshotWriter::spawn(
            what,
            move |state: String| bus.put_state(&actor, epoch, state),
            on_fenced,
        )
    }
}

impl<T: Clone + Send + Sync + 'static> SnapshotWriter<T> {
    pub fn spawn(
        what: String,
        write: impl Fn(T) -> crate::engine::EngineFuture<()> + 'static,
        on_fenced: impl FnOnce() + 'static,
    ) -> Self {
        let (latest, mut rx) = tokio::sync::watch::channel::<Option<(u64, T)>>(None);
        let (done, written) = tokio::sync::watch::channel(0u64);
        actix::spawn(async move {
            while rx.changed().await.is_ok() {
                let Some((version, snapshot)) = rx.borrow_and_update().clone() else {
                    continue;
                };
                loop {
                    match write(snapshot.clone()).await {
                        Ok(()) => {
                            done.send_replace(version);
                            break;
                        }
                        Err(EngineError::Fenced { .. }) => {
                            tracing::warn!(%what, "Write fenced: another node owns this actor.");
                            on_fenced();
                            return;
                        }
                        Err(err) => {
                            tracing::warn!(%what, %err, "Could not write a snapshot; retrying.");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            if rx.has_changed().unwrap_or(false) {
                                break;
                            }
                        }
                    }
                }
            }
        });
        Self {
            latest,
            written,
            version: 0,
        }
    }

    /// Queues a snapshot; returns its version.
    pub fn save(&mut self, snapshot: T) -> u64 {
        self.version += 1;
        self.latest.send_replace(Some((self.version, snapshot)));
        self.version
    }

    /// Resolves once `version` (or a later snapshot) is stored, or fails after `within`.
    pub fn saved(
        &self,
        version: u64,
        within: Duration,
    ) -> impl std::future::Future<Output = Result<(), CommandError>> + 'static {
        let mut rx = self.written.clone();
        async move {
            match tokio::time::timeout(within, rx.wait_for(|w| *w >= version)).await {
                Ok(Ok(_)) => Ok(()),
                _ => Err(CommandError::unavailable(
                    "could not store the change; retry",
                )),
            }
        }
    }
}
