//! Sessions signing in and out, presence, gone nodes, and re-announcing to queues.

use std::collections::HashSet;

use actix::prelude::*;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{AgentActor, AgentSnapshot};
use crate::actors::queue::{AgentUpdate, QueueActor};
use crate::actors::route::tell;
use crate::auth::Staff;
use crate::ids::QueueId;
use crate::protocol::client::Presence;
use crate::protocol::CommandError;

impl AgentActor {
    /// The agent has no session left anywhere: offline, and its offers go to the next agent.
    fn signed_out(&mut self) {
        self.presence = Presence::Offline;
        self.rescind_all();
        self.publish();
    }
}

/// An instance is gone: its sessions of this agent are gone with it.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct NodeGone {
    pub instance: String,
}

impl Handler<NodeGone> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: NodeGone, _: &mut Self::Context) -> Self::Result {
        if self.sessions.remove(&msg.instance).is_some() && self.session_count() == 0 {
            self.signed_out();
        }
        Ok(())
    }
}

/// A session of this agent signed in (hub registration is done by the session).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<AgentSnapshot, CommandError>")]
pub struct Connect {
    pub staff: Staff,
    /// The instance holding the session, and how many sessions of this agent it holds now.
    pub instance: String,
    pub sessions: usize,
}

impl Handler<Connect> for AgentActor {
    type Result = Result<AgentSnapshot, CommandError>;

    fn handle(&mut self, msg: Connect, _: &mut Self::Context) -> Self::Result {
        let old: HashSet<QueueId> = self.queues.iter().cloned().collect();
        self.name = match self.rt.orgs.get(&self.key.org) {
            Some(org) => org.display_name(&self.key.id, &msg.staff.name),
            None => msg.staff.name.clone(),
        };
        self.queues = msg.staff.queues.clone();
        self.sessions.insert(msg.instance, msg.sessions);
        if self.presence == Presence::Offline {
            self.presence = Presence::Away;
        }
        // Queues this agent is no longer a member of stop offering to it.
        for q in old.iter().filter(|q| !self.queues.contains(q)) {
            tell::<QueueActor, _>(
                &self.rt,
                &self.queue_key(q),
                AgentUpdate {
                    agent: self.key.id.clone(),
                    eligible: false,
                    free: 0,
                    ready_since: self.ready_since,
                },
            );
        }
        self.publish();
        Ok(self.snapshot())
    }
}

/// A session closed; `sessions` is how many the agent still has on this node.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Disconnect {
    pub instance: String,
    pub sessions: usize,
}

impl Handler<Disconnect> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Disconnect, _: &mut Self::Context) -> Self::Result {
        if msg.sessions == 0 {
            self.sessions.remove(&msg.instance);
        } else {
            self.sessions.insert(msg.instance, msg.sessions);
        }
        if self.session_count() == 0 {
            self.signed_out();
        }
        Ok(())
    }
}

#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct SetPresence(pub Presence);

impl Handler<SetPresence> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: SetPresence, _: &mut Self::Context) -> Self::Result {
        if msg.0 == Presence::Available && self.presence != Presence::Available {
            self.ready_since = Utc::now();
        }
        self.presence = msg.0;
        if self.presence == Presence::Offline {
            self.rescind_all();
        }
        self.publish();
        Ok(())
    }
}

/// Sent by a (re)started queue, or when the org's configuration changed: tell your queues
/// your availability again.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Announce;

impl Handler<Announce> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, _: Announce, _: &mut Self::Context) -> Self::Result {
        self.publish();
        Ok(())
    }
}
