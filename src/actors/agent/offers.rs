//! Assignment offers: a queue reserves a seat, the agent accepts or rejects, or the offer
//! expires or is rescinded. Every offer ends exactly once, through [`AgentActor::end_offer`]
//! (DESIGN invariant 5).

use actix::prelude::*;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{AgentActor, Detail, Offer};
use crate::actors::conversation::Assign;
use crate::actors::queue::{OfferResolved, QueueActor};
use crate::actors::route::tell;
use crate::actors::timers::TimerTarget;
use crate::domain::capacity::{SeatError, SeatKind};
use crate::hub::Control;
use crate::ids::{ConversationId, QueueId};
use crate::metrics::Metrics;
use crate::protocol::client::Presence;
use crate::protocol::server::OfferOutcome;
use crate::protocol::{CommandError, ErrorCode, Signal};

impl AgentActor {
    /// Ends a pending offer, once: gives its seat back (or keeps it as the assignment when
    /// accepted), stops its timer, counts the outcome, tells the agent's sessions when the
    /// agent did not decide it, and tells the queue unless the queue itself withdrew it.
    /// Returns the offer if there was one.
    fn end_offer(
        &mut self,
        conversation: &ConversationId,
        outcome: OfferOutcome,
        tell_queue: bool,
    ) -> Option<Offer> {
        let offer = match self.seats.get(conversation).map(|s| &s.detail) {
            Some(Detail::Offer(o)) => o.clone(),
            _ => return None,
        };
        if outcome == OfferOutcome::Accepted {
            self.seats.convert(
                conversation,
                SeatKind::Offer,
                SeatKind::Assigned,
                Detail::Assigned,
            );
        } else {
            self.seats.release(conversation, SeatKind::Offer);
        }
        self.rt
            .timers
            .cancel(TimerTarget::Offer(self.key.clone(), conversation.clone()));
        let m = &self.rt.metrics;
        Metrics::inc(match outcome {
            OfferOutcome::Accepted => &m.offers_accepted,
            OfferOutcome::Rejected => &m.offers_rejected,
            OfferOutcome::Expired => &m.offers_expired,
            OfferOutcome::Rescinded => &m.offers_rescinded,
        });
        if let (OfferOutcome::Accepted, Some(at)) = (outcome, offer.offered_at) {
            Metrics::observe(
                &m.offer_accept,
                (Utc::now() - at).to_std().unwrap_or_default(),
            );
        }
        if matches!(outcome, OfferOutcome::Expired | OfferOutcome::Rescinded) {
            self.rt.hub.signal_agent(
                &self.key,
                &Signal::OfferEnded {
                    conversation: conversation.clone(),
                    outcome,
                },
            );
        }
        if tell_queue {
            tell::<QueueActor, _>(
                &self.rt,
                &self.queue_key(&offer.queue),
                OfferResolved {
                    conversation: conversation.clone(),
                    agent: self.key.id.clone(),
                    outcome,
                },
            );
        }
        Some(offer)
    }

    /// Withdraws every pending offer (the agent went offline): each goes to the next agent.
    pub(super) fn rescind_all(&mut self) {
        let pending: Vec<ConversationId> = self
            .seats
            .of_kind(SeatKind::Offer)
            .map(|(c, _)| c.clone())
            .collect();
        for conversation in pending {
            self.end_offer(&conversation, OfferOutcome::Rescinded, true);
        }
    }

    fn reserve(&mut self, msg: Reserve) -> Result<(), CommandError> {
        // A retried reservation (or a queue that took over and offers again) is the same offer.
        if self.seats.holds(&msg.conversation, SeatKind::Offer) {
            return Ok(());
        }
        // A pick needs only a signed-in agent of the queue: an agent who is away or busy (and
        // so gets no offers) may still take a chat from the request list.
        let able = if msg.picked {
            self.session_count() > 0 && self.presence != Presence::Offline
        } else {
            self.eligible()
        };
        if !able || !self.queues.contains(&msg.queue) {
            self.publish();
            return Err(CommandError::unavailable("agent is not available"));
        }
        let Some(org) = self.rt.orgs.get(&self.key.org) else {
            return Err(CommandError::not_found("org"));
        };
        let expiry_ms = org.settings.offer_expiry_ms;
        let now = Utc::now();
        let expires_at =
            now + chrono::Duration::milliseconds(i64::try_from(expiry_ms).unwrap_or(i64::MAX));
        let offer = Offer {
            queue: msg.queue.clone(),
            customer_name: msg.customer_name.clone(),
            expires_at,
            offered_at: Some(now),
        };
        let max = self.max_chats();
        match self.seats.reserve(
            msg.conversation.clone(),
            SeatKind::Offer,
            Detail::Offer(offer),
            max,
        ) {
            Ok(()) => {}
            Err(SeatError::Full) => {
                self.publish();
                return Err(CommandError::new(
                    ErrorCode::Capacity,
                    "agent is at capacity",
                ));
            }
            Err(SeatError::AlreadyHeld(_)) => {
                return Err(CommandError::conflict(
                    "the agent already has this conversation",
                ));
            }
        }
        self.rt.timers.schedule(
            TimerTarget::Offer(self.key.clone(), msg.conversation.clone()),
            expires_at,
        );
        // The agent is no longer "waiting for work" once offered something.
        self.ready_since = Utc::now();
        self.rt.hub.signal_agent(
            &self.key,
            &Signal::Offer {
                conversation: msg.conversation,
                queue: msg.queue,
                expires_in_ms: expiry_ms,
                customer_name: msg.customer_name,
            },
        );
        Metrics::inc(&self.rt.metrics.offers_sent);
        self.publish();
        Ok(())
    }
}

/// From a queue: reserve a slot for an assignment offer.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Reserve {
    pub conversation: ConversationId,
    pub queue: QueueId,
    pub customer_name: String,
    /// The agent picked the chat from the request list (rather than the queue choosing it).
    #[serde(default)]
    pub picked: bool,
}

impl Handler<Reserve> for AgentActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    /// In a cluster the answer waits until the offer is stored: a node that takes the agent
    /// over then still counts it.
    fn handle(&mut self, msg: Reserve, _: &mut Self::Context) -> Self::Result {
        match self.reserve(msg) {
            Ok(()) => AtomicResponse::new(Box::pin(self.stored().into_actor(self))),
            Err(e) => AtomicResponse::new(Box::pin(fut::ready(Err(e)))),
        }
    }
}

/// From the agent's session: accept or reject an assignment offer.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct AnswerOffer {
    pub conversation: ConversationId,
    pub accept: bool,
}

impl Handler<AnswerOffer> for AgentActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    fn handle(&mut self, msg: AnswerOffer, _: &mut Self::Context) -> Self::Result {
        if !self.seats.holds(&msg.conversation, SeatKind::Offer) {
            let e = CommandError::new(ErrorCode::Expired, "the offer expired or was withdrawn");
            return AtomicResponse::new(Box::pin(fut::ready(Err(e))));
        }
        let conversation = msg.conversation;
        if !msg.accept {
            self.end_offer(&conversation, OfferOutcome::Rejected, true);
            self.publish();
            return AtomicResponse::new(Box::pin(fut::ready(Ok(()))));
        }
        let assign = Assign {
            agent: self.key.id.clone(),
            name: self.name.clone(),
        };
        let fut = self
            .ask_conversation(&conversation, assign)
            .map(move |res, act, _| {
                let result = res?;
                let outcome = match &result {
                    Ok(()) => OfferOutcome::Accepted,
                    Err(_) => OfferOutcome::Rescinded,
                };
                act.end_offer(&conversation, outcome, true);
                if result.is_ok() {
                    act.rt
                        .hub
                        .control_agent(&act.key, Control::Follow(conversation));
                }
                act.publish();
                result
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From the timer supervisor: an offer's time is up.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct OfferTimeout {
    pub conversation: ConversationId,
}

impl Handler<OfferTimeout> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: OfferTimeout, _: &mut Self::Context) -> Self::Result {
        let Some(Detail::Offer(offer)) = self.seats.get(&msg.conversation).map(|s| &s.detail)
        else {
            return Ok(());
        };
        // A stale wake-up (the offer was made again since) is ignored.
        if offer.expires_at > Utc::now() + chrono::Duration::milliseconds(5) {
            return Ok(());
        }
        tracing::debug!(agent = %self.key.id, conversation = %msg.conversation, "Offer expired.");
        self.end_offer(&msg.conversation, OfferOutcome::Expired, true);
        self.publish();
        Ok(())
    }
}

/// From a queue: the offer is withdrawn (the customer left).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Rescind {
    pub conversation: ConversationId,
}

impl Handler<Rescind> for AgentActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Rescind, _: &mut Self::Context) -> Self::Result {
        if self
            .end_offer(&msg.conversation, OfferOutcome::Rescinded, false)
            .is_some()
        {
            self.publish();
        }
        Ok(())
    }
}
