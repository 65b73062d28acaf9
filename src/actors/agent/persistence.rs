//! Rebuilding the agent on activation, and persisting what a node taking over needs.

use std::collections::HashMap;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AgentActor, Detail, InviteIn, Offer, TransferIn};
use crate::actors::route::LeaseLost;
use crate::actors::timers::TimerTarget;
use crate::domain::capacity::SeatKind;
use crate::domain::conversation::Status;
use crate::engine::{ActorRef, ConversationFilter, StateWriter};
use crate::ids::{ConversationId, QueueId};
use crate::protocol::client::Presence;
use crate::protocol::CommandError;

/// What survives a takeover. Assigned chats are rebuilt from the conversation summaries.
#[derive(Debug, Serialize, Deserialize)]
struct Persisted {
    name: String,
    presence: Presence,
    queues: Vec<QueueId>,
    sessions: HashMap<String, usize>,
    offers: Vec<(ConversationId, Offer)>,
    transfers_in: Vec<(ConversationId, TransferIn)>,
    #[serde(default)]
    invitations: Vec<(ConversationId, InviteIn)>,
    /// Seats beside an owner (conference, consult, observer, coach).
    #[serde(default)]
    joined: Vec<(ConversationId, SeatKind)>,
    ready_since: DateTime<Utc>,
}

impl AgentActor {
    /// Reads the agent's assigned chats (and, in a cluster, its persisted state) before it
    /// handles anything else.
    pub(super) fn rebuild(&mut self, ctx: &mut Context<Self>) {
        let filter = ConversationFilter {
            agent: Some(self.key.id.clone()),
            limit: 10_000,
            ..Default::default()
        };
        let chats = self.rt.engine.find_conversations(&self.key.org, filter);
        let actor = ActorRef::Agent(self.key.clone());
        let state = self.rt.placement.state_store().map(|store| {
            let addr = ctx.address();
            self.writer = Some(StateWriter::for_actor(
                store.clone(),
                actor.clone(),
                self.epoch,
                move || addr.do_send(LeaseLost),
            ));
            store.get_state(&actor)
        });
        let fut = async move {
            let state = match state {
                Some(f) => f.await,
                None => Ok(None),
            };
            (chats.await, state)
        };
        ctx.wait(fut.into_actor(self).map(|(chats, state), act, _| {
            match chats {
                Ok(found) => {
                    for s in found {
                        if s.owner.as_ref() == Some(&act.key.id)
                            && matches!(s.status, Status::Assigned | Status::Transferring)
                        {
                            // A chat between agents (no customer) never counts.
                            let kind = if s.customer.is_none() {
                                SeatKind::Internal
                            } else {
                                SeatKind::Assigned
                            };
                            act.seats.restore(s.id, kind, Detail::Assigned);
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(agent = %act.key.id, %err, "Could not rebuild the agent's chats.")
                }
            }
            match state.map(|s| s.map(|json| serde_json::from_str::<Persisted>(&json))) {
                Ok(Some(Ok(p))) => {
                    act.restore(p);
                    act.publish();
                }
                Ok(Some(Err(err))) => {
                    tracing::warn!(agent = %act.key.id, %err, "Unreadable persisted agent state.")
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(agent = %act.key.id, %err, "Could not read the agent's state.")
                }
            }
        }));
    }

    fn persisted(&self) -> Persisted {
        let offers = self
            .seats
            .of_kind(SeatKind::Offer)
            .filter_map(|(c, d)| match d {
                Detail::Offer(o) => Some((c.clone(), o.clone())),
                _ => None,
            })
            .collect();
        let transfers_in = self
            .seats
            .of_kind(SeatKind::TransferIn)
            .filter_map(|(c, d)| match d {
                Detail::TransferIn(t) => Some((c.clone(), t.clone())),
                _ => None,
            })
            .collect();
        let invitations = self
            .seats
            .matching(|k| matches!(k, SeatKind::Invited(_) | SeatKind::Internal))
            .filter_map(|(c, _, d)| match d {
                Detail::Invite(i) => Some((c.clone(), i.clone())),
                _ => None,
            })
            .collect();
        let joined = self
            .seats
            .matching(|k| matches!(k, SeatKind::Joined(_) | SeatKind::Internal))
            .filter(|(_, _, d)| !matches!(d, Detail::Invite(_)))
            .map(|(c, k, _)| (c.clone(), k))
            .collect();
        Persisted {
            name: self.name.clone(),
            invitations,
            joined,
            presence: self.presence,
            queues: self.queues.clone(),
            sessions: self.sessions.clone(),
            offers,
            transfers_in,
            ready_since: self.ready_since,
        }
    }

    /// Queues the current state for writing (cluster mode).
    pub(super) fn persist(&mut self) {
        if self.writer.is_none() {
            return;
        }
        let json = match serde_json::to_string(&self.persisted()) {
            Ok(json) => json,
            Err(err) => {
                tracing::error!(%err, "Could not serialize the agent's state; not stored.");
                return;
            }
        };
        if let Some(w) = &mut self.writer {
            self.saved_version = w.save(json);
        }
    }

    /// Resolves once everything so far is stored (at once when nothing is persisted).
    pub(super) fn stored(
        &self,
    ) -> impl std::future::Future<Output = Result<(), CommandError>> + 'static {
        let wait = self.writer.as_ref().map(|w| {
            w.saved(
                self.saved_version,
                std::time::Duration::from_millis(
                    self.rt.settings.engine.redis.command_timeout_ms * 2,
                ),
            )
        });
        async move {
            match wait {
                Some(w) => w.await,
                None => Ok(()),
            }
        }
    }

    fn restore(&mut self, p: Persisted) {
        let placement = &self.rt.placement;
        self.sessions = p
            .sessions
            .into_iter()
            .filter(|(i, _)| !placement.is_gone(i.as_str()))
            .collect();
        self.name = p.name;
        self.presence = if self.session_count() == 0 {
            Presence::Offline
        } else {
            p.presence
        };
        self.queues = p.queues;
        self.ready_since = p.ready_since;
        for (conversation, i) in p.invitations {
            let kind = i.seats().0;
            self.seats.restore(conversation, kind, Detail::Invite(i));
        }
        for (conversation, kind) in p.joined {
            self.seats.restore(conversation, kind, Detail::Joined);
        }
        for (conversation, t) in p.transfers_in {
            self.seats
                .restore(conversation, SeatKind::TransferIn, Detail::TransferIn(t));
        }
        for (conversation, offer) in p.offers {
            // Offers made by the previous owner expire here now.
            self.rt.timers.schedule(
                TimerTarget::Offer(self.key.clone(), conversation.clone()),
                offer.expires_at,
            );
            self.seats
                .restore(conversation, SeatKind::Offer, Detail::Offer(offer));
        }
    }
}
