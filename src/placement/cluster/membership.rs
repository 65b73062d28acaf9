//! The cluster's background work: reading the bus (forwarded calls, answers, notices, live
//! notifications), heartbeats, lease renewal, noticing gone instances and waking what they
//! owned (once cluster-wide), and handing everything over on drain.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ClusterNode, Envelope};
use crate::engine::{ActorRef, BusEvent, Topic};
use crate::placement::{Host, Notice, Placement};

/// Starts the node's cluster tasks: the pub/sub reader, heartbeat, lease renewal and the
/// reaper. Runs inside the actix system.
pub(super) fn start(node: &Arc<ClusterNode>, host: Arc<dyn Host>) {
    if let Some(mut incoming) = node.bus.take_incoming() {
        let node = node.clone();
        let host = host.clone();
        actix::spawn(async move {
            while let Some(event) = incoming.recv().await {
                on_bus_event(&node, &host, event);
            }
            tracing::warn!("The cluster's pub/sub reader stopped.");
        });
    }
    let heartbeat = Duration::from_millis(node.settings.heartbeat_ms.max(50));
    let renew = Duration::from_millis(node.settings.renew_ms.max(50));
    {
        let node = node.clone();
        let host = host.clone();
        actix::spawn(async move {
            let mut tick = tokio::time::interval(heartbeat);
            loop {
                tick.tick().await;
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
                reap(&node, &host).await;
            }
        });
    }
    {
        let node = node.clone();
        actix::spawn(async move {
            let mut tick = tokio::time::interval(renew);
            loop {
                tick.tick().await;
                for (actor, _) in node.renew().await {
                    tracing::warn!(?actor, "Lost a lease; stopping the activation.");
                    host.stop_activation(&actor);
                }
            }
        });
    }
}

fn on_bus_event(node: &Arc<ClusterNode>, host: &Arc<dyn Host>, event: BusEvent) {
    match event {
        BusEvent::Reconnected => {
            tracing::info!("Pub/sub reconnected: followers re-read what they missed.");
            host.resync_followers();
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
                let node = node.clone();
                let call = host.dispatch(actor, name, body);
                actix::spawn(async move {
                    let result = call.await;
                    let reply = Envelope::Reply { corr, result };
                    let payload = match serde_json::to_string(&reply) {
                        Ok(payload) => payload,
                        Err(err) => {
                            tracing::error!(%err, "Could not serialize a forwarded call's answer.");
                            return;
                        }
                    };
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
                actix::spawn(host.org_changed(org));
            }
            Ok(Notice::OrgChanged { .. }) => {}
            Ok(Notice::QueueStarted { queue }) => host.queue_started(&queue),
            Ok(Notice::Left { instance, actors }) => {
                // A node that is leaving itself takes nothing over.
                if instance != node.instance && !node.leaving.load(Ordering::Relaxed) {
                    node.gone.lock().insert(instance.clone());
                    host.instance_gone(&instance);
                    let node = node.clone();
                    let host = host.clone();
                    actix::spawn(
                        async move { reap_instance(&node, &host, &instance, actors).await },
                    );
                }
            }
            Err(err) => tracing::warn!(%err, "Unreadable notice."),
        },
        BusEvent::Message { topic, payload } => host.deliver_remote(&topic, &payload),
    }
}

/// Looks for instances that went silent; takes over what they owned.
async fn reap(node: &Arc<ClusterNode>, host: &Arc<dyn Host>) {
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
            host.instance_gone(&m.instance);
        }
        reap_instance(node, host, &m.instance, Vec::new()).await;
    }
}

/// Wakes what a gone instance owned (its owned set, plus `also`: what it said it held when it
/// left), once cluster-wide.
async fn reap_instance(
    node: &Arc<ClusterNode>,
    host: &Arc<dyn Host>,
    instance: &str,
    also: Vec<ActorRef>,
) {
    match node.bus.lock_reap(instance).await {
        Ok(true) => {}
        _ => return,
    }
    let mut owned = match node.bus.owned(instance).await {
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
    owned.sort_by_key(|a| match a {
        ActorRef::Queue(_) => 0,
        ActorRef::Agent(_) => 1,
        ActorRef::Conversation(_) => 2,
    });
    for actor in owned {
        if let Err(err) = host.wake(actor.clone()).await {
            tracing::warn!(?actor, %err, "Could not wake an actor of a gone node.");
        }
    }
    if let Err(err) = node.bus.forget(instance).await {
        tracing::warn!(%instance, %err, "Could not forget a gone node.");
    }
}

/// Drain, cluster part: stop heartbeating, stop every local activation and wait (bounded by
/// `within`) until each has stopped and released its lease, release whatever is left in one
/// batch, then tell the other nodes to take over at once.
pub(super) async fn leave(node: &ClusterNode, host: &dyn Host, within: Duration) {
    node.leaving.store(true, Ordering::Relaxed);
    let held: Vec<(ActorRef, u64)> = node
        .leases
        .lock()
        .iter()
        .map(|(a, e)| (a.clone(), *e))
        .collect();
    for (actor, _) in &held {
        host.stop_activation(actor);
    }
    // Each stopping activation writes what it still has to write, then releases its lease.
    let mut count = node.held.subscribe();
    if tokio::time::timeout(within, count.wait_for(|n| *n == 0))
        .await
        .is_err()
    {
        tracing::warn!("Some actors did not stop in time; releasing their leases anyway.");
    }
    let left: Vec<(ActorRef, u64)> = {
        let mut leases = node.leases.lock();
        let left = leases.drain().collect();
        node.count_leases(&leases);
        left
    };
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
