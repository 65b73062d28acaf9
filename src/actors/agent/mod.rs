//! The agent actor: single writer of one agent's presence, capacity and pending offers.
//!
//! **Capacity (DESIGN invariant 4)** is enforced here and only here: every reservation — an
//! assignment offer from any queue, a transfer request from any conversation — asks this actor,
//! which takes a seat in its [`Seats`] or refuses. Queues keep a view of each agent's free
//! slots to choose quickly, but the view is advisory.
//!
//! - `presence.rs` — sessions signing in and out, presence, gone nodes, announcements;
//! - `offers.rs` — assignment offers: reserve, answer, expiry, rescind; each ends once;
//! - `transfers.rs` — transfer requests to this agent, and releasing finished chats;
//! - `participation.rs` — invitations to join a chat beside its owner, and those seats;
//! - `persistence.rs` — rebuilding on activation and persisting for a node that takes over;
//! - `views.rs` — what sessions and REST read.

mod offers;
mod participation;
mod persistence;
mod presence;
mod transfers;
mod views;

pub use offers::{AnswerOffer, OfferTimeout, Rescind, Reserve};
pub use participation::{AnswerInvite, InviteClosed, ReserveInvite, ReserveOwner, Seated};
pub use presence::{Announce, Connect, Disconnect, NodeGone, SetPresence};
pub use transfers::{AnswerTransfer, Release, ReserveTransfer, TransferClosed};
pub use views::{AgentSnapshot, AgentStatus, GetStatus};

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::conversation::ConversationActor;
use super::queue::{AgentUpdate, QueueActor};
use super::route::{ask, tell, LeaseLost, Remote, Wake};
use super::Rt;
use crate::domain::capacity::{Counting, SeatKind, Seats};
use crate::engine::{ActorRef, StateWriter};
use crate::ids::{AgentId, AgentKey, ConvKey, ConversationId, QueueId, QueueKey};
use crate::protocol::client::Presence;
use crate::protocol::{CommandError, ParticipantRole, Signal};

/// A pending assignment offer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Offer {
    queue: QueueId,
    customer_name: String,
    expires_at: DateTime<Utc>,
    /// When the offer was made (for the offer → accept histogram); absent in offers stored
    /// before it was recorded.
    #[serde(default)]
    offered_at: Option<DateTime<Utc>>,
}

/// A pending transfer request to this agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TransferIn {
    from: AgentId,
    note: Option<String>,
    expires_at: DateTime<Utc>,
}

/// A pending invitation to join a chat beside its owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct InviteIn {
    from: AgentId,
    role: ParticipantRole,
    customer_name: String,
    note: Option<String>,
    expires_at: DateTime<Utc>,
    /// To a chat between agents: the seat is `Internal` (never counts).
    #[serde(default)]
    internal: bool,
}

impl InviteIn {
    /// The seat the invitation holds, and the one it becomes when accepted.
    fn seats(&self) -> (SeatKind, SeatKind) {
        if self.internal {
            (SeatKind::Internal, SeatKind::Internal)
        } else {
            (SeatKind::Invited(self.role), SeatKind::Joined(self.role))
        }
    }
}

/// What a seat remembers, by kind.
#[derive(Debug, Clone)]
enum Detail {
    Assigned,
    Offer(Offer),
    TransferIn(TransferIn),
    Invite(InviteIn),
    /// In the chat beside its owner (the role is the seat's kind).
    Joined,
}

pub struct AgentActor {
    rt: Rt,
    key: AgentKey,
    name: String,
    presence: Presence,
    queues: Vec<QueueId>,
    /// Signed-in sessions per instance (node process) that holds them.
    sessions: HashMap<String, usize>,
    /// Assigned chats, offers and transfer requests: the capacity this agent has taken.
    seats: Seats<Detail>,
    ready_since: DateTime<Utc>,
    /// Fencing epoch of this node's lease on the agent (1 on one process).
    epoch: u64,
    /// Cluster mode: persists presence, sessions, offers and transfers so that a node taking
    /// over re-arms them (DESIGN §4).
    writer: Option<StateWriter>,
    /// The version of the last state queued for writing.
    saved_version: u64,
    /// Counts the availability updates sent to the queues; an update still being handed down
    /// the queues by priority gives up when a newer one exists (`tell_queues`).
    publication: Arc<AtomicU64>,
}

impl AgentActor {
    pub fn new(rt: Rt, key: AgentKey, epoch: u64) -> Self {
        Self {
            name: key.id.to_string(),
            rt,
            key,
            presence: Presence::Offline,
            queues: Vec::new(),
            sessions: HashMap::new(),
            seats: Seats::default(),
            ready_since: Utc::now(),
            epoch,
            writer: None,
            saved_version: 0,
            publication: Arc::new(AtomicU64::new(0)),
        }
    }

    fn session_count(&self) -> usize {
        self.sessions.values().sum()
    }

    fn max_chats(&self) -> u32 {
        self.rt.orgs.get(&self.key.org).map_or(3, |o| {
            o.agent(&self.key.id)
                .and_then(|a| a.max_chats)
                .unwrap_or(o.settings.max_chats)
        })
    }

    /// Which participant seats count, as the org says.
    fn counting(&self) -> Counting {
        self.rt
            .orgs
            .get(&self.key.org)
            .map_or_else(Counting::default, |o| Counting {
                conference: o.settings.conference_counts,
                consult: o.settings.consult_counts,
            })
    }

    fn free(&self) -> u32 {
        self.seats.free(self.max_chats())
    }

    fn eligible(&self) -> bool {
        self.presence == Presence::Available && self.session_count() > 0
    }

    fn conv_key(&self, id: &ConversationId) -> ConvKey {
        ConvKey {
            org: self.key.org.clone(),
            id: id.clone(),
        }
    }

    fn queue_key(&self, id: &QueueId) -> QueueKey {
        QueueKey {
            org: self.key.org.clone(),
            id: id.clone(),
        }
    }

    /// Sends a message to a conversation and waits (bounded by the placement's call timeout)
    /// for its answer. The outer error is "the conversation did not answer"; the inner result
    /// is its answer.
    fn ask_conversation<M>(
        &self,
        conversation: &ConversationId,
        msg: M,
    ) -> impl ActorFuture<Self, Output = Result<Result<(), CommandError>, CommandError>>
    where
        M: Remote<Ok = ()>,
        ConversationActor: Handler<M>,
    {
        let rt = self.rt.clone();
        let wait = rt.placement.call_timeout();
        let key = self.conv_key(conversation);
        async move {
            tokio::time::timeout(wait, ask::<ConversationActor, M>(&rt, &key, msg))
                .await
                .map_err(|_| CommandError::unavailable("the conversation did not answer; retry"))
        }
        .into_actor(self)
    }

    /// Tells every queue of the agent its current availability, and the agent its load; stores
    /// the state (every change ends here).
    fn publish(&mut self) {
        self.persist();
        let update = AgentUpdate {
            agent: self.key.id.clone(),
            eligible: self.eligible(),
            free: self.free(),
            ready_since: self.ready_since,
        };
        self.tell_queues(update);
        self.rt.hub.signal_agent(
            &self.key,
            &Signal::Presence {
                presence: self.presence,
                assigned: self.seats.count(SeatKind::Assigned),
                max_chats: self.max_chats(),
            },
        );
    }
}

impl AgentActor {
    /// Tells the agent's queues its availability. Free slots go to the highest-priority queues
    /// first (PROTOCOL §9.3: higher priority is served first — also across the queues of one
    /// agent). Each queue chooses agents on its own and the first reservation to arrive here
    /// wins, so telling every queue at once let whichever queue heard first take the slot.
    ///
    /// Instead, with queues of different priorities and a free slot, the queues are told tier
    /// by tier, highest priority first: the lower tiers are told at once that there is no room
    /// (so they cannot race), then each tier is asked in turn; its answer is the reservations
    /// it has asked of this agent without an answer yet, those not among the offers counted in
    /// `free` take slots, and the next tier is told what is left. The order is decided here, by
    /// the capacity authority, and does not depend on where the queues run: in a cluster a tier
    /// that does not answer within the call timeout counts as taking nothing, so a lost node
    /// delays lower tiers, never starves them. A newer update supersedes one still on its way
    /// down. Less room (busy, offline, full) goes to every queue at once, as does everything
    /// for an agent whose queues share one priority.
    fn tell_queues(&self, update: AgentUpdate) {
        let publication = self.publication.fetch_add(1, Ordering::Relaxed) + 1;
        // The common cases need no ordering: one queue, or no room to hand out.
        if self.queues.len() < 2 || !update.eligible || update.free == 0 {
            for q in &self.queues {
                tell::<QueueActor, _>(&self.rt, &self.queue_key(q), update.clone());
            }
            return;
        }
        let org = self.rt.orgs.get(&self.key.org);
        let priority = |q: &QueueId| {
            org.as_ref()
                .and_then(|o| o.queue(q).map(|c| c.priority))
                .unwrap_or(0)
        };
        let mut tiers: Vec<(i32, Vec<QueueKey>)> = Vec::new();
        for q in &self.queues {
            let p = priority(q);
            match tiers.iter_mut().find(|(tp, _)| *tp == p) {
                Some((_, keys)) => keys.push(self.queue_key(q)),
                None => tiers.push((p, vec![self.queue_key(q)])),
            }
        }
        tiers.sort_by_key(|(p, _)| std::cmp::Reverse(*p));
        let tiers: Vec<Vec<QueueKey>> = tiers.into_iter().map(|(_, keys)| keys).collect();
        if tiers.len() < 2 {
            for key in tiers.iter().flatten() {
                tell::<QueueActor, _>(&self.rt, key, update.clone());
            }
            return;
        }
        let held = AgentUpdate {
            free: 0,
            ..update.clone()
        };
        for key in tiers[1..].iter().flatten() {
            tell::<QueueActor, _>(&self.rt, key, held.clone());
        }
        let rt = self.rt.clone();
        let latest = self.publication.clone();
        let counted: HashSet<ConversationId> = self
            .seats
            .of_kind(SeatKind::Offer)
            .map(|(c, _)| c.clone())
            .collect();
        actix::spawn(async move {
            let wait = rt.placement.call_timeout();
            let mut free = update.free;
            let last = tiers.len() - 1;
            for (i, tier) in tiers.iter().enumerate() {
                if free == 0 || latest.load(Ordering::Relaxed) != publication {
                    return;
                }
                let told = AgentUpdate {
                    free,
                    ..update.clone()
                };
                if i == last {
                    for key in tier {
                        tell::<QueueActor, _>(&rt, key, told.clone());
                    }
                    return;
                }
                let asks = tier.iter().map(|key| {
                    tokio::time::timeout(wait, ask::<QueueActor, _>(&rt, key, told.clone()))
                });
                let taken: HashSet<ConversationId> = futures_util::future::join_all(asks)
                    .await
                    .into_iter()
                    .filter_map(|answer| answer.ok()?.ok())
                    .flatten()
                    .filter(|c| !counted.contains(c))
                    .collect();
                free = free.saturating_sub(u32::try_from(taken.len()).unwrap_or(u32::MAX));
            }
        });
    }
}

impl Actor for AgentActor {
    type Context = Context<Self>;

    /// Rebuilds the assigned seats from the conversations this agent owns, so that a restarted
    /// actor still counts them against capacity; in a cluster, restores presence, sessions,
    /// offers and transfer requests persisted by the previous owner and re-arms the offers.
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        self.rebuild(ctx);
    }

    fn stopped(&mut self, ctx: &mut Self::Context) {
        self.rt.forget_agent(&self.key, &ctx.address());
        self.rt
            .placement
            .release(&ActorRef::Agent(self.key.clone()), self.epoch);
    }
}

impl Handler<LeaseLost> for AgentActor {
    type Result = ();

    fn handle(&mut self, _: LeaseLost, ctx: &mut Self::Context) {
        tracing::info!(agent = %self.key.id, "Lease lost; this activation stops.");
        self.writer = None;
        ctx.stop();
    }
}

impl Handler<Wake> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, _: Wake, _: &mut Self::Context) -> Self::Result {
        Ok(())
    }
}

crate::remote_messages!(AgentActor {
    Connect => AgentSnapshot, "agent.connect";
    Disconnect => (), "agent.disconnect";
    SetPresence => (), "agent.presence";
    Reserve => (), "agent.reserve";
    AnswerOffer => (), "agent.answer_offer";
    OfferTimeout => (), "agent.offer_timeout";
    Rescind => (), "agent.rescind";
    ReserveTransfer => (), "agent.reserve_transfer";
    AnswerTransfer => (), "agent.answer_transfer";
    TransferClosed => (), "agent.transfer_closed";
    Release => (), "agent.release";
    ReserveInvite => (), "agent.reserve_invite";
    AnswerInvite => (), "agent.answer_invite";
    InviteClosed => (), "agent.invite_closed";
    Seated => (), "agent.seated";
    ReserveOwner => (), "agent.reserve_owner";
    Announce => (), "agent.announce";
    GetStatus => AgentStatus, "agent.status";
    NodeGone => (), "agent.node_gone";
});
