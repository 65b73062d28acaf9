//! The hub's cross-node half (cluster mode): live notifications published on conversation and
//! agent topics for the other nodes, and the ones they publish handed to the local fan-out.
//! Logged events are not published here: the engine's append script publishes each one in the
//! same round trip as the append ([`EventRelay`]); this node's publisher carries the rest
//! (signals, controls, resyncs).
//! Notifications are at most once (DESIGN §4): a lost one is a gap that the receiving sessions
//! fill from the log, so the outgoing queue is bounded and drops rather than grows.

use std::sync::Arc;

use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{Control, EventDelivery, Hub, Outbound};
use crate::engine::{SharedCluster, Topic};
use crate::ids::{ConversationId, CustomerId, CustomerKey};
use crate::protocol::Visibility;

/// What crosses nodes on conversation and agent topics besides logged events (see
/// [`EventRelay`]): frames already serialized by the node that produced them, so that receivers
/// only hand them on. `o` is the sending instance (which delivered to its own sockets already).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(super) enum Relay {
    Signal {
        o: String,
        customer: bool,
        agents: bool,
        frame: String,
    },
    AgentSignal {
        o: String,
        frame: String,
    },
    Control {
        o: String,
        follow: bool,
        c: ConversationId,
    },
    /// To one customer's sessions (on the org's customers topic).
    CustomerControl {
        o: String,
        u: CustomerId,
        follow: bool,
        c: ConversationId,
    },
    /// A new owner activated the conversation: followers re-read its log.
    Resync {
        o: String,
        c: ConversationId,
    },
}

/// A logged event as the cluster engine's append script publishes it on the conversation's
/// topic (`append.lua`): a head `{"t":"event","o":…,"c":…,"g":…,"seq":…,"pp":…,"vis":…}`, a
/// newline, and the event as the log's own JSON. Receivers parse the short head and splice the
/// event into their followers' frames without parsing it.
#[derive(Debug, Deserialize)]
struct EventRelay<'a> {
    /// The instance that logged it (and delivered it to its own sockets).
    #[serde(borrow)]
    o: &'a str,
    c: ConversationId,
    /// The log's generation: the frames' `epoch`.
    #[serde(borrow)]
    g: &'a str,
    seq: u64,
    /// The previous public seq.
    pp: u64,
    vis: Visibility,
}

/// How every event notification starts (no other relay message does: their tags differ).
const EVENT_RELAY_PREFIX: &str = r#"{"t":"event","#;

/// An event notification's head and the event's JSON. JSON text written by serde or by the
/// script never holds a raw newline, so the first one ends the head.
fn parse_event_relay(payload: &str) -> Result<(EventRelay<'_>, &str), String> {
    let (head, event) = payload
        .split_once('\n')
        .ok_or_else(|| "no event after the head".to_string())?;
    let head = serde_json::from_str(head).map_err(|e| e.to_string())?;
    Ok((head, event))
}

/// Most notifications sent in one pipeline.
const PUBLISH_BATCH: usize = 256;
/// Most notifications waiting for the publisher (DESIGN invariant 8). Past this, while Redis is
/// slow or away, new notifications are dropped: followers on other nodes see a gap at the next
/// one that arrives (or when pub/sub reconnects) and read the log.
const PUBLISH_QUEUE: usize = 65_536;

/// The hub's link to the other nodes (cluster mode).
pub(super) struct Bus {
    pub(super) cluster: SharedCluster,
    pub(super) instance: String,
    /// Publishes go out in order, one task per node; bounded, see [`PUBLISH_QUEUE`].
    out: mpsc::Sender<(Topic, String)>,
}

impl Hub {
    /// Links the hub to the other nodes; starts the node's publisher task. Must run inside
    /// the actix system.
    pub fn connect_bus(&self, cluster: SharedCluster) {
        let (out, mut rx) = mpsc::channel::<(Topic, String)>(PUBLISH_QUEUE);
        let publisher = cluster.clone();
        actix::spawn(async move {
            // Everything queued while the previous round trip was out goes in one pipeline, in
            // order: under load one publish round trip carries many notifications.
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, PUBLISH_BATCH).await > 0 {
                let sent = std::mem::take(&mut batch);
                if let Err(err) = publisher.publish_many(sent).await {
                    tracing::debug!(%err, "Live notifications were not published; followers fill gaps from the log.");
                }
            }
        });
        let _ = self.bus.set(Bus {
            instance: cluster.instance().to_string(),
            cluster,
            out,
        });
    }

    pub(super) fn relay(&self, topic: Topic, make: impl FnOnce(String) -> Relay) {
        if let Some(bus) = self.bus.get() {
            let relay = make(bus.instance.clone());
            match serde_json::to_string(&relay) {
                Ok(payload) => {
                    if let Err(mpsc::error::TrySendError::Full(_)) =
                        bus.out.try_send((topic, payload))
                    {
                        tracing::debug!("The publish queue is full; a live notification is dropped (followers read the log).");
                    }
                }
                Err(err) => {
                    tracing::error!(%err, "Could not serialize a live notification; not sent.")
                }
            }
        }
    }

    /// Subscribes this node to a topic (cluster mode); resolves when the subscription is live.
    pub(super) fn subscribe(
        &self,
        topic: Topic,
    ) -> impl std::future::Future<Output = ()> + 'static {
        let fut = self.bus.get().map(|b| b.cluster.subscribe(&topic));
        async move {
            if let Some(fut) = fut {
                if let Err(err) = fut.await {
                    tracing::warn!(?topic, %err, "Could not subscribe; live events will be filled from the log.");
                }
            }
        }
    }

    pub(super) fn unsubscribe(&self, topic: Topic) {
        if let Some(bus) = self.bus.get() {
            let fut = bus.cluster.unsubscribe(&topic);
            actix::spawn(async move {
                let _ = fut.await;
            });
        }
    }

    /// Handles a message another node published on a conversation or agent topic.
    pub fn deliver_remote(&self, topic: &Topic, payload: &str) {
        let Some(bus) = self.bus.get() else { return };
        if payload.starts_with(EVENT_RELAY_PREFIX) {
            let Topic::Conversation(key) = topic else {
                return;
            };
            match parse_event_relay(payload) {
                Ok((ev, event)) if ev.o != bus.instance => {
                    let delivery =
                        EventDelivery::from_json(&ev.c, ev.g, ev.seq, ev.pp, ev.vis, event);
                    self.publish(key, Arc::new(delivery));
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "Unreadable event notification."),
            }
            return;
        }
        let relay = match serde_json::from_str::<Relay>(payload) {
            Ok(r) => r,
            Err(err) => {
                tracing::warn!(%err, "Unreadable relay message.");
                return;
            }
        };
        match (topic, relay) {
            (
                Topic::Conversation(key),
                Relay::Signal {
                    o,
                    customer,
                    agents,
                    frame,
                },
            ) if o != bus.instance => {
                self.signal_conversation_local(key, customer, agents, ByteString::from(frame));
            }
            (Topic::Agent(key), Relay::AgentSignal { o, frame }) if o != bus.instance => {
                let text = ByteString::from(frame);
                for s in self.agent_sessions(key) {
                    s.push(Outbound::Text(text.clone()));
                }
            }
            (Topic::Conversation(key), Relay::Resync { o, .. }) if o != bus.instance => {
                self.resync_local(key);
            }
            (
                Topic::Customers(org),
                Relay::CustomerControl {
                    o,
                    u,
                    follow: true,
                    c,
                },
            ) if o != bus.instance => {
                let key = CustomerKey {
                    org: org.clone(),
                    id: u,
                };
                for s in self.customer_sessions(&key) {
                    s.push(Outbound::Control(Control::Follow(c.clone())));
                }
            }
            (Topic::Agent(key), Relay::Control { o, follow, c }) if o != bus.instance => {
                let control = if follow {
                    Control::Follow(c)
                } else {
                    Control::Unfollow(c)
                };
                for s in self.agent_sessions(key) {
                    s.push(Outbound::Control(control.clone()));
                }
            }
            _ => {}
        }
    }
}
