//! What the cluster asks of the actor layer ([`crate::placement::Host`]): running calls
//! forwarded by other nodes, taking over a gone node's actors, stopping activations whose lease
//! is lost, and passing broadcast notices on to the actors here.

use std::sync::Arc;

use serde_json::Value;

use super::route;
use super::Rt;
use crate::engine::{ActorRef, Topic};
use crate::ids::{OrgId, QueueKey};
use crate::placement::{BoxFuture, Host, WireError};
use crate::protocol::CommandError;

/// The actor layer as the cluster's host.
pub struct ClusterHost(pub Rt);

impl ClusterHost {
    pub fn shared(rt: &Rt) -> Arc<dyn Host> {
        Arc::new(Self(rt.clone()))
    }
}

impl Host for ClusterHost {
    fn dispatch(
        &self,
        actor: ActorRef,
        name: String,
        body: Value,
    ) -> BoxFuture<'static, Result<Value, WireError>> {
        let rt = self.0.clone();
        Box::pin(async move { route::dispatch(&rt, actor, &name, body).await })
    }

    fn wake(&self, actor: ActorRef) -> BoxFuture<'static, Result<(), CommandError>> {
        let rt = self.0.clone();
        Box::pin(async move { route::wake(&rt, actor).await })
    }

    fn stop_activation(&self, actor: &ActorRef) {
        self.0.stop_activation(actor);
    }

    fn instance_gone(&self, instance: &str) {
        self.0.node_gone(instance);
    }

    fn queue_started(&self, queue: &QueueKey) {
        self.0.announce_agents(&queue.org);
    }

    fn org_changed(&self, org: OrgId) -> BoxFuture<'static, ()> {
        let rt = self.0.clone();
        Box::pin(async move {
            if let Err(err) = rt.orgs.reload(&org).await {
                tracing::warn!(%org, ?err, "Could not reload a changed org.");
            }
            rt.announce_agents(&org);
        })
    }

    fn deliver_remote(&self, topic: &Topic, payload: &str) {
        self.0.hub.deliver_remote(topic, payload);
    }

    fn resync_followers(&self) {
        self.0.hub.resync_all();
    }
}
