//! What the conversation does when one of its deadlines arrives (the deadlines themselves are
//! derived from its state: `domain::conversation::ConversationState::deadline`).

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::ConversationActor;
use crate::actors::agent::{AgentActor, TransferClosed};
use crate::actors::route::tell;
use crate::domain::conversation::TimerKind;
use crate::domain::org::OwnerLeaves;
use crate::protocol::server::TransferOutcome;
use crate::protocol::{Author, CommandError, EndReason, EventKind, InviteOutcome};

use super::event;

/// From the timer supervisor.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct TimerFired {
    pub kind: TimerKind,
}

impl Handler<TimerFired> for ConversationActor {
    type Result = AtomicResponse<Self, Result<(), CommandError>>;

    fn handle(&mut self, msg: TimerFired, _: &mut Self::Context) -> Self::Result {
        let nothing = || AtomicResponse::new(Box::pin(fut::ready(Ok(()))));
        if self.ready().is_err() || !self.timer_due(msg.kind) {
            return nothing();
        }
        let Some(org) = self.org() else {
            return nothing();
        };
        let messages = org.settings.messages.clone();
        tracing::debug!(conversation = %self.key.id, kind = ?msg.kind, "Timer fired.");
        let done = |res: Result<u64, CommandError>, act: &mut Self, _: &mut Context<Self>| {
            if let Err(err) = &res {
                tracing::warn!(conversation = %act.key.id, %err, "A timer's action failed; it will be retried.");
                act.arm_timers();
            }
            res.map(|_| ())
        };
        let fut = match msg.kind {
            TimerKind::IdlePrompt => self
                .append(vec![event(
                    Author::system(),
                    EventKind::IdleWarning {
                        message: messages.idle_prompt,
                    },
                )])
                .map(|r, _, _| r.map(|_| 0))
                .map(done)
                .boxed_local(),
            // Asynchronous chat: a customer who went quiet parks the chat instead of ending it.
            TimerKind::IdleEnd => match (
                org.owner_leaves(self.state.queue.as_ref()),
                self.state.owner.clone(),
            ) {
                (OwnerLeaves::Async, Some(owner)) if self.state.transfer.is_none() => {
                    self.park(owner, Author::system()).map(done).boxed_local()
                }
                _ => self
                    .end(
                        Author::system(),
                        EndReason::IdleTimeout,
                        Some(messages.idle_ended),
                    )
                    .map(done)
                    .boxed_local(),
            },
            TimerKind::AssignedAutoComplete
            | TimerKind::WaitingAutoComplete
            | TimerKind::ParkedExpiry => self
                .end(Author::system(), EndReason::AutoComplete, None)
                .map(done)
                .boxed_local(),
            TimerKind::BotReply => self
                .handover(super::Handover::default())
                .map(|r, _, _| r.map(|_| 0))
                .map(done)
                .boxed_local(),
            TimerKind::TransferExpiry => {
                let Some(t) = self.state.transfer.clone() else {
                    return nothing();
                };
                self.append(vec![event(
                    Author::system(),
                    EventKind::TransferExpired {
                        from: t.from,
                        to: t.to.clone(),
                    },
                )])
                .map(move |res, act, ctx| {
                    if res.is_ok() {
                        tell::<AgentActor, _>(
                            &act.rt,
                            &act.agent_key(&t.to),
                            TransferClosed {
                                conversation: act.key.id.clone(),
                                outcome: TransferOutcome::Expired,
                            },
                        );
                        act.transfer_target_loses_access(&t.to);
                    }
                    done(res.map(|_| 0), act, ctx)
                })
                .boxed_local()
            }
            TimerKind::InviteExpiry => {
                let expiry = chrono::Duration::milliseconds(
                    i64::try_from(org.settings.invite_expiry_ms).unwrap_or(i64::MAX),
                );
                let now = chrono::Utc::now() + chrono::Duration::milliseconds(5);
                let due: Vec<_> = self
                    .state
                    .invitations
                    .iter()
                    .filter(|i| i.at + expiry <= now)
                    .cloned()
                    .collect();
                if due.is_empty() {
                    return nothing();
                }
                let events = due
                    .iter()
                    .map(|i| {
                        event(
                            Author::system(),
                            EventKind::InviteEnded {
                                to: i.to.clone(),
                                role: i.role,
                                outcome: InviteOutcome::Expired,
                            },
                        )
                    })
                    .collect();
                let gone: Vec<_> = due.iter().map(|i| i.to.clone()).collect();
                // A chat between agents that nobody joined ends with its last invitation.
                let logged = if self.deserted_without(&gone) {
                    self.end_after(events, Author::system(), EndReason::AutoComplete, None)
                        .boxed_local()
                } else {
                    self.append(events)
                        .map(|res, _, _| res.map(|a| a.last().map_or(0, |x| x.event.seq)))
                        .boxed_local()
                };
                logged
                    .map(move |res, act, ctx| {
                        if res.is_ok() {
                            for i in &due {
                                act.close_invitation(&i.to, InviteOutcome::Expired);
                            }
                        }
                        done(res, act, ctx)
                    })
                    .boxed_local()
            }
            TimerKind::WrapUp => self
                .append(vec![event(
                    Author::system(),
                    EventKind::WrapUp {
                        disposition: None,
                        note: None,
                    },
                )])
                .map(|r, _, _| r.map(|_| 0))
                .map(done)
                .boxed_local(),
        };
        AtomicResponse::new(fut)
    }
}
