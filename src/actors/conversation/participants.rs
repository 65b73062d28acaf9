//! Agents in the chat beside its owner (DESIGN §10): invitations (conference, consultation),
//! removing and leaving, ownership passing to the longest-joined conference participant, a
//! consultation turned into a transfer or a conference, supervisors monitoring (observe, coach,
//! barge), and the internal discussion every agent in the chat writes to.
//!
//! Capacity stays with the agent actor: an invitation reserves a seat there before it is
//! logged, exactly like a transfer request, and every invitation ends once (accepted,
//! rejected, expired or cancelled).

use actix::prelude::*;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{dedup_key, event, reply, ConversationActor, Reply, Who};
use crate::actors::agent::{AgentActor, InviteClosed, Release, ReserveInvite, Seated};
use crate::actors::queue::{Candidates, QueueActor};
use crate::actors::route::{ask, tell};
use crate::domain::capacity::SeatKind;
use crate::domain::conversation::Status;
use crate::domain::org::OwnerLeaves;
use crate::engine::NewEvent;
use crate::hub::Control;
use crate::ids::{AgentId, QueueId};
use crate::protocol::client::{ConsultInto, MonitorAs};
use crate::protocol::{
    Author, AuthorRole, CommandError, EndReason, ErrorCode, EventKind, InviteOutcome,
    ParticipantRole,
};

/// Who an invitation goes to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum InviteTarget {
    Agent(AgentId),
    /// An available agent of the queue with a free slot (longest ready first).
    Queue(QueueId),
}

/// The owner invites an agent (or a queue's available agent) to join as `conference` or
/// `consult`. Answers the seq of the `invited` event.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct Invite {
    pub by: AgentId,
    pub target: InviteTarget,
    pub role: ParticipantRole,
    pub note: Option<String>,
}

fn agent_author(id: &AgentId, name: Option<String>) -> Author {
    Author {
        role: AuthorRole::Agent,
        id: Some(id.to_string()),
        name,
    }
}

impl ConversationActor {
    /// The role this agent has in the chat now: owner or participant.
    pub(super) fn role_of(&self, agent: &AgentId) -> Option<ParticipantRole> {
        if self.state.owner.as_ref() == Some(agent) {
            Some(ParticipantRole::Owner)
        } else {
            self.state.participant(agent).map(|p| p.role)
        }
    }

    /// Preconditions of inviting: the owner of an assigned chat with no transfer pending.
    fn check_can_invite(&self, by: &AgentId) -> Result<(), CommandError> {
        self.ready()?;
        self.check_open()?;
        self.check_owner(by)?;
        if self.state.status != Status::Assigned {
            return Err(CommandError::conflict(
                "invitations wait until the pending transfer is answered",
            ));
        }
        Ok(())
    }

    /// Tells an invited agent that its invitation is gone, and why.
    pub(super) fn close_invitation(&self, to: &AgentId, outcome: InviteOutcome) {
        tell::<AgentActor, _>(
            &self.rt,
            &self.agent_key(to),
            InviteClosed {
                conversation: self.key.id.clone(),
                outcome,
            },
        );
    }

    /// An agent is no longer in the chat: its seat goes and its sessions stop following (an
    /// agent who owned the chat earlier keeps read access, like after a transfer).
    pub(super) fn participant_gone(&self, agent: &AgentId) {
        let key = self.agent_key(agent);
        tell::<AgentActor, _>(
            &self.rt,
            &key,
            Release {
                conversation: self.key.id.clone(),
            },
        );
        self.rt
            .hub
            .control_agent(&key, Control::Unfollow(self.key.id.clone()));
    }

    /// The seat an owner holds: a chat between agents is not customer work and never counts.
    pub(super) fn owner_seat(&self) -> SeatKind {
        if self.state.customer.is_none() {
            SeatKind::Internal
        } else {
            SeatKind::Assigned
        }
    }

    fn seat(&self, agent: &AgentId, kind: SeatKind) {
        tell::<AgentActor, _>(
            &self.rt,
            &self.agent_key(agent),
            Seated {
                conversation: self.key.id.clone(),
                kind,
            },
        );
    }

    /// A chat between agents with nobody but its owner once these invitations are gone: it has
    /// no reason to stay open (the invited agent said no, or never answered).
    pub(super) fn deserted_without(&self, gone: &[AgentId]) -> bool {
        self.state.customer.is_none()
            && self.state.participants.is_empty()
            && self.state.invitations.iter().all(|i| gone.contains(&i.to))
    }

    /// Events that close every pending invitation (the chat ends, the owner changes).
    pub(super) fn cancel_invitations(&self) -> Vec<NewEvent> {
        self.state
            .invitations
            .iter()
            .map(|i| {
                event(
                    Author::system(),
                    EventKind::InviteEnded {
                        to: i.to.clone(),
                        role: i.role,
                        outcome: InviteOutcome::Cancelled,
                    },
                )
            })
            .collect()
    }

    /// After the events of `cancel_invitations` are logged: tells the invited agents.
    pub(super) fn invitations_cancelled(&self, invited: &[AgentId]) {
        for to in invited {
            self.close_invitation(to, InviteOutcome::Cancelled);
        }
    }
}

impl Handler<Invite> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: Invite, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.check_can_invite(&msg.by) {
            return reply(Err(e));
        }
        if !matches!(
            msg.role,
            ParticipantRole::Conference | ParticipantRole::Consult
        ) {
            return reply(Err(CommandError::bad_request(
                "role must be conference or consult",
            )));
        }
        let Some(org) = self.org() else {
            return reply(Err(CommandError::not_found("org")));
        };
        let candidates: Vec<AgentId> = match &msg.target {
            InviteTarget::Agent(to) => {
                if to == &msg.by {
                    return reply(Err(CommandError::bad_request("cannot invite yourself")));
                }
                if self.role_of(to).is_some() || self.state.invitation(to).is_some() {
                    return reply(Err(CommandError::conflict(
                        "the agent is already in this conversation or invited to it",
                    )));
                }
                vec![to.clone()]
            }
            InviteTarget::Queue(q) => {
                if org.queue(q).is_none() {
                    return reply(Err(CommandError::not_found("queue")));
                }
                Vec::new()
            }
        };
        let queue = match &msg.target {
            InviteTarget::Queue(q) => Some(self.queue_key(q)),
            InviteTarget::Agent(_) => None,
        };
        let expires_at = Utc::now()
            + chrono::Duration::milliseconds(
                i64::try_from(org.settings.invite_expiry_ms).unwrap_or(i64::MAX),
            );
        // Agents already in the chat or invited are skipped when picking from a queue.
        let mut skip: Vec<AgentId> = self
            .state
            .participants
            .iter()
            .map(|p| p.agent.clone())
            .collect();
        skip.extend(self.state.invitations.iter().map(|i| i.to.clone()));
        skip.extend(self.state.owner.clone());
        let reserve = ReserveInvite {
            conversation: self.key.id.clone(),
            from: msg.by.clone(),
            role: msg.role,
            customer_name: self.state.customer_name.clone(),
            note: msg.note.clone(),
            expires_at,
            available_only: queue.is_some(),
            internal: self.state.customer.is_none(),
        };
        let rt = self.rt.clone();
        let org_id = self.key.org.clone();
        let wait = rt.placement.call_timeout();
        // Reserve a seat with the target (or the first of the queue's candidates that has one)
        // before anything is logged, as a transfer request does.
        let fut = async move {
            let candidates = match queue {
                Some(q) => tokio::time::timeout(wait, ask::<QueueActor, _>(&rt, &q, Candidates))
                    .await
                    .unwrap_or_else(|_| Err(CommandError::unavailable("the queue did not answer")))?
                    .into_iter()
                    .filter(|a| !skip.contains(a))
                    .collect(),
                None => candidates,
            };
            let mut last = CommandError::unavailable("nobody in the queue is available");
            for to in candidates {
                let key = crate::ids::AgentKey {
                    org: org_id.clone(),
                    id: to.clone(),
                };
                let asked =
                    tokio::time::timeout(wait, ask::<AgentActor, _>(&rt, &key, reserve.clone()))
                        .await
                        .unwrap_or_else(|_| {
                            Err(CommandError::unavailable("the agent did not answer"))
                        });
                match asked {
                    Ok(()) => return Ok(to),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        .into_actor(self)
        .then(move |reserved, act, _| {
            let to = match reserved {
                Ok(to) => to,
                Err(e) => return fut::ready(Err(e)).boxed_local(),
            };
            // The chat may have changed while the seat was reserved.
            if let Err(e) = act.check_can_invite(&msg.by) {
                act.close_invitation(&to, InviteOutcome::Cancelled);
                return fut::ready(Err(e)).boxed_local();
            }
            act.append(vec![event(
                agent_author(&msg.by, None),
                EventKind::Invited {
                    to: to.clone(),
                    role: msg.role,
                    by: msg.by,
                    note: msg.note,
                },
            )])
            .map(move |res, act, _| match res {
                Ok(a) => Ok(a.first().map_or(0, |x| x.event.seq)),
                Err(e) => {
                    act.close_invitation(&to, InviteOutcome::Cancelled);
                    Err(e)
                }
            })
            .boxed_local()
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// From the invited agent's actor: the answer to an invitation.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct AnswerInvite {
    pub agent: AgentId,
    pub name: String,
    pub accept: bool,
}

impl Handler<AnswerInvite> for ConversationActor {
    type Result = Reply<()>;

    fn handle(&mut self, msg: AnswerInvite, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready().and_then(|_| self.check_open()) {
            return reply(Err(e));
        }
        let Some(invitation) = self.state.invitation(&msg.agent).cloned() else {
            return reply(Err(CommandError::new(
                ErrorCode::Expired,
                "no pending invitation to you",
            )));
        };
        let me = agent_author(&msg.agent, Some(msg.name.clone()));
        let outcome = if msg.accept {
            InviteOutcome::Accepted
        } else {
            InviteOutcome::Rejected
        };
        let mut events = vec![event(
            me.clone(),
            EventKind::InviteEnded {
                to: msg.agent.clone(),
                role: invitation.role,
                outcome,
            },
        )];
        if msg.accept {
            events.push(event(
                me,
                EventKind::ParticipantJoined {
                    participant: msg.agent.to_string(),
                    name: msg.name,
                    role: invitation.role,
                },
            ));
        } else if self.deserted_without(std::slice::from_ref(&msg.agent)) {
            let fut = self
                .end_after(events, me, EndReason::Agent, None)
                .map(|res, _, _| res.map(|_| ()));
            return AtomicResponse::new(Box::pin(fut));
        }
        let fut = self.append(events).map(|res, _, _| res.map(|_| ()));
        AtomicResponse::new(Box::pin(fut))
    }
}

/// The owner (or a supervisor) takes a participant out of the chat; for a consultation, this
/// is the owner ending it.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct Remove {
    pub who: Who,
    pub agent: AgentId,
}

impl Handler<Remove> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: Remove, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready().and_then(|_| self.check_open()) {
            return reply(Err(e));
        }
        let Who::Agent { id, supervisor, .. } = &msg.who else {
            return reply(Err(CommandError::forbidden("this command is for agents")));
        };
        if !supervisor {
            if let Err(e) = self.check_owner(id) {
                return reply(Err(e));
            }
        }
        let Some(p) = self.state.participant(&msg.agent).cloned() else {
            return reply(Err(CommandError::not_found("participant")));
        };
        let fut = self
            .append(vec![event(
                msg.who.author(),
                EventKind::ParticipantLeft {
                    participant: p.agent.to_string(),
                    role: p.role,
                },
            )])
            .map(move |res, act, _| {
                let seq = res?.first().map_or(0, |a| a.event.seq);
                act.participant_gone(&p.agent);
                Ok(seq)
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// A participant leaves (a consultant ends the consultation, a supervisor stops monitoring),
/// or the owner leaves: ownership passes to the longest-joined conference participant, and
/// with nobody to take over the org's `owner_leaves` rule applies.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct Leave {
    pub who: Who,
}

impl Handler<Leave> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: Leave, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready().and_then(|_| self.check_open()) {
            return reply(Err(e));
        }
        let Who::Agent { id, supervisor, .. } = &msg.who else {
            return reply(Err(CommandError::forbidden(
                "customers end the chat with `end`",
            )));
        };
        let id = id.clone();
        let author = msg.who.author();
        match self.role_of(&id) {
            // A supervisor observing silently (nothing logged): stops following.
            None if *supervisor => {
                self.participant_gone(&id);
                reply(Ok(self.state.last_seq))
            }
            None => reply(Err(self
                .check_owner(&id)
                .err()
                .unwrap_or_else(|| CommandError::not_found("conversation")))),
            Some(ParticipantRole::Owner) => self.owner_leaves(id, author),
            Some(role) => {
                let fut = self
                    .append(vec![event(
                        author,
                        EventKind::ParticipantLeft {
                            participant: id.to_string(),
                            role,
                        },
                    )])
                    .map(move |res, act, _| {
                        let seq = res?.first().map_or(0, |a| a.event.seq);
                        act.participant_gone(&id);
                        Ok(seq)
                    });
                AtomicResponse::new(Box::pin(fut))
            }
        }
    }
}

impl ConversationActor {
    fn owner_leaves(&mut self, owner: AgentId, author: Author) -> Reply<u64> {
        if self.state.status == Status::Transferring {
            return reply(Err(CommandError::conflict(
                "a transfer is pending; wait for its answer",
            )));
        }
        let left = event(
            author.clone(),
            EventKind::ParticipantLeft {
                participant: owner.to_string(),
                role: ParticipantRole::Owner,
            },
        );
        if let Some(next) = self.state.successor().cloned() {
            // The leaving owner's pending invitations end with its ownership.
            let invited: Vec<AgentId> = self
                .state
                .invitations
                .iter()
                .map(|i| i.to.clone())
                .collect();
            let mut events = self.cancel_invitations();
            events.extend([
                left,
                event(
                    author,
                    EventKind::OwnershipChanged {
                        from: owner.clone(),
                        to: next.agent.clone(),
                        name: next.name.clone(),
                    },
                ),
            ]);
            let fut = self.append(events).map(move |res, act, _| {
                let seq = res?.last().map_or(0, |a| a.event.seq);
                act.invitations_cancelled(&invited);
                act.participant_gone(&owner);
                act.seat(&next.agent, act.owner_seat());
                Ok(seq)
            });
            return AtomicResponse::new(Box::pin(fut));
        }
        // A chat between agents has no customer to park or queue it for: it ends.
        let rule = self
            .org()
            .filter(|_| self.state.customer.is_some())
            .map_or(OwnerLeaves::End, |o| {
                o.owner_leaves(self.state.queue.as_ref())
            });
        let queue = self
            .state
            .queue
            .as_ref()
            .and_then(|q| self.org().and_then(|o| o.queue(q).cloned()));
        match (rule, queue) {
            (OwnerLeaves::Async, _) => AtomicResponse::new(Box::pin(self.park(owner, author))),
            (OwnerLeaves::Queue, Some(queue)) => {
                AtomicResponse::new(Box::pin(self.back_to_queue(owner, author, queue, None)))
            }
            _ => AtomicResponse::new(Box::pin(self.end(author, EndReason::Agent, None))),
        }
    }
}

/// The owner turns an active consultation into a transfer or a conference.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct ConvertConsult {
    pub by: AgentId,
    pub agent: AgentId,
    pub to: ConsultInto,
}

impl Handler<ConvertConsult> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: ConvertConsult, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.check_can_invite(&msg.by) {
            return reply(Err(e));
        }
        let Some(p) = self
            .state
            .participant(&msg.agent)
            .filter(|p| p.role == ParticipantRole::Consult)
            .cloned()
        else {
            return reply(Err(CommandError::not_found("consultation with this agent")));
        };
        let owner = agent_author(&msg.by, None);
        match msg.to {
            ConsultInto::Conference => {
                let fut = self
                    .append(vec![event(
                        owner,
                        EventKind::RoleChanged {
                            participant: p.agent.clone(),
                            name: p.name.clone(),
                            from: ParticipantRole::Consult,
                            to: ParticipantRole::Conference,
                        },
                    )])
                    .map(move |res, act, _| {
                        let seq = res?.first().map_or(0, |a| a.event.seq);
                        act.seat(&p.agent, SeatKind::Joined(ParticipantRole::Conference));
                        Ok(seq)
                    });
                AtomicResponse::new(Box::pin(fut))
            }
            ConsultInto::Transfer => {
                let from = msg.by.clone();
                let mut events = self.cancel_invitations();
                let invited: Vec<AgentId> = self
                    .state
                    .invitations
                    .iter()
                    .map(|i| i.to.clone())
                    .collect();
                events.push(event(
                    owner.clone(),
                    EventKind::ParticipantLeft {
                        participant: from.to_string(),
                        role: ParticipantRole::Owner,
                    },
                ));
                events.push(event(
                    owner,
                    EventKind::OwnershipChanged {
                        from: from.clone(),
                        to: p.agent.clone(),
                        name: p.name.clone(),
                    },
                ));
                let fut = self.append(events).map(move |res, act, _| {
                    let seq = res?.last().map_or(0, |a| a.event.seq);
                    act.invitations_cancelled(&invited);
                    act.participant_gone(&from);
                    act.seat(&p.agent, act.owner_seat());
                    crate::metrics::Metrics::inc(&act.rt.metrics.transfers_requested);
                    Ok(seq)
                });
                AtomicResponse::new(Box::pin(fut))
            }
        }
    }
}

fn monitor_role(mode: MonitorAs) -> ParticipantRole {
    match mode {
        MonitorAs::Observe => ParticipantRole::Observer,
        MonitorAs::Coach => ParticipantRole::Coach,
        MonitorAs::Barge => ParticipantRole::Conference,
    }
}

/// A supervisor starts monitoring a chat, or switches mode.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct Monitor {
    pub who: Who,
    pub mode: MonitorAs,
}

impl Handler<Monitor> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: Monitor, _: &mut Self::Context) -> Self::Result {
        let Who::Agent {
            id,
            name,
            supervisor: true,
            ..
        } = &msg.who
        else {
            return reply(Err(CommandError::forbidden(
                "monitoring is for supervisors and admins",
            )));
        };
        if let Err(e) = self.ready().and_then(|_| self.check_open()) {
            return reply(Err(e));
        }
        if !matches!(self.state.status, Status::Assigned | Status::Transferring) {
            return reply(Err(CommandError::conflict(
                "only a chat with an agent can be monitored",
            )));
        }
        let (id, name) = (id.clone(), name.clone());
        let role = monitor_role(msg.mode);
        let announce = self.org().is_none_or(|o| o.settings.announce_observers);
        if role == ParticipantRole::Observer && !announce {
            return self.observe_silently(id, msg.who.author());
        }
        let kind = match self.role_of(&id) {
            Some(ParticipantRole::Owner) => {
                return reply(Err(CommandError::conflict("you own this conversation")))
            }
            Some(ParticipantRole::Consult) => {
                return reply(Err(CommandError::conflict(
                    "you are in this conversation as a consultant",
                )))
            }
            Some(current) if current == role => {
                return reply(Ok(self.state.last_seq));
            }
            Some(current) => EventKind::RoleChanged {
                participant: id.clone(),
                name: name.clone(),
                from: current,
                to: role,
            },
            None => EventKind::ParticipantJoined {
                participant: id.to_string(),
                name: name.clone(),
                role,
            },
        };
        let joins = matches!(kind, EventKind::ParticipantJoined { .. });
        let fut = self
            .append(vec![event(msg.who.author(), kind)])
            .map(move |res, act, _| {
                let seq = res?.first().map_or(0, |a| a.event.seq);
                act.seat(&id, SeatKind::Joined(role));
                if joins {
                    act.rt
                        .hub
                        .control_agent(&act.agent_key(&id), Control::Follow(act.key.id.clone()));
                }
                Ok(seq)
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

impl ConversationActor {
    /// `monitor observe` with the org's `announce_observers` off: the supervisor follows the
    /// chat without a log entry (stepping out of a visible role first, with that role's leave).
    fn observe_silently(&mut self, id: AgentId, author: Author) -> Reply<u64> {
        let current = match self.role_of(&id) {
            Some(ParticipantRole::Owner | ParticipantRole::Consult) => {
                return reply(Err(CommandError::conflict(
                    "you are in this conversation in another role",
                )))
            }
            current => current,
        };
        let events = current
            .map(|role| {
                event(
                    author,
                    EventKind::ParticipantLeft {
                        participant: id.to_string(),
                        role,
                    },
                )
            })
            .into_iter()
            .collect::<Vec<_>>();
        let logged = !events.is_empty();
        let fut = self.append(events).map(move |res, act, _| {
            let appended = res?;
            // No seat: the chat does not know a silent observer, so it could not free one.
            // (A reconnecting supervisor monitors again.)
            if logged {
                tell::<AgentActor, _>(
                    &act.rt,
                    &act.agent_key(&id),
                    Release {
                        conversation: act.key.id.clone(),
                    },
                );
            } else {
                act.rt
                    .hub
                    .control_agent(&act.agent_key(&id), Control::Follow(act.key.id.clone()));
            }
            Ok(appended.last().map_or(act.state.last_seq, |a| a.event.seq))
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// A message in the internal discussion (agents only). Answers `(seq, duplicate)`.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(u64, bool), CommandError>")]
pub struct PostInternal {
    pub who: Who,
    pub client_msg_id: String,
    pub text: String,
}

impl Handler<PostInternal> for ConversationActor {
    type Result = Reply<(u64, bool)>;

    fn handle(&mut self, msg: PostInternal, _: &mut Self::Context) -> Self::Result {
        let Who::Agent { id, supervisor, .. } = &msg.who else {
            return reply(Err(CommandError::forbidden(
                "the internal discussion is for agents",
            )));
        };
        if let Err(e) = self.ready() {
            return reply(Err(e));
        }
        let author = msg.who.author();
        let key = format!(
            "i{}",
            dedup_key(&author.role, author.id.as_deref(), &msg.client_msg_id)
        );
        if let Some(seq) = self.dedup.get(&key) {
            return reply(Ok((seq, true)));
        }
        match self.role_of(id) {
            Some(ParticipantRole::Observer) => {
                return reply(Err(CommandError::forbidden(
                    "observers only read; switch to coach to write",
                )))
            }
            Some(_) => {}
            // Supervisors, and agents of the conversation's queue (the inbox, seed 001).
            None if *supervisor || self.inbox_agent(&msg.who) => {}
            None => {
                return reply(Err(self
                    .check_owner(id)
                    .err()
                    .unwrap_or_else(|| CommandError::not_found("conversation"))))
            }
        }
        if !self.state.status.is_open() {
            return reply(Err(CommandError::new(
                ErrorCode::Ended,
                "the chat has ended; its internal discussion is view-only",
            )));
        }
        let new = NewEvent {
            author,
            kind: EventKind::Internal {
                text: msg.text,
                client_msg_id: msg.client_msg_id,
            },
            dedup_key: Some(key),
        };
        self.append_keyed(new)
    }
}
