//! The actor layer's handle: the node's services, the directory of activations and the timer
//! supervisor. Actors, the gateway and the REST API hold it as [`Rt`]; it dereferences to the
//! [`Node`], so `rt.hub`, `rt.settings` … read the node's services directly.

use std::ops::Deref;
use std::sync::Arc;

use actix::Arbiter;

use super::directory::Directory;
use super::timers::Timers;
use crate::node::Node;

pub struct ActorSystem {
    pub node: Node,
    pub directory: Directory,
    /// The node's timer supervisor (always running: started with the handle).
    pub timers: Arc<Timers>,
}

/// What every actor and request handler holds.
pub type Rt = Arc<ActorSystem>;

impl Deref for ActorSystem {
    type Target = Node;

    fn deref(&self) -> &Node {
        &self.node
    }
}

impl ActorSystem {
    /// Builds the handle and starts its timer supervisor on a thread of its own. Must run inside
    /// an actix `System`.
    pub fn start(node: Node, directory: Directory) -> Rt {
        let timers = Timers::new();
        let rt = Arc::new(Self {
            node,
            directory,
            timers: timers.clone(),
        });
        let supervisor = rt.clone();
        Arbiter::new().spawn(super::timers::run(supervisor, timers));
        rt
    }

    /// An instance is gone: agents active here forget the sessions they had there.
    pub fn node_gone(&self, instance: &str) {
        for (_, addr) in self.active_agents() {
            addr.do_send(super::agent::NodeGone {
                instance: instance.to_string(),
            });
        }
    }

    /// Agents active here that belong to `org` tell their queues their availability again (a
    /// queue restarted, or the org's configuration changed).
    pub fn announce_agents(&self, org: &crate::ids::OrgId) {
        for (key, addr) in self.active_agents() {
            if &key.org == org {
                addr.do_send(super::agent::Announce);
            }
        }
    }
}
