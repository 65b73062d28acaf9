//! Chats an agent starts (seed 002): with a known customer ("agent to customer"), or with
//! another agent ("agent to agent", `CreateInternal`). With a customer: The agent owns it from the start (its seat is reserved before, by the agent
//! actor), its first message is in the log, and the customer's sessions — on any node — follow
//! it at once; a customer who is not on the site finds it, open, at their next `hello`.

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::{dedup_key, event, reply, ConversationActor, Reply};
use crate::actors::agent::{AgentActor, ReserveInvite};
use crate::actors::route::ask;
use crate::engine::NewEvent;
use crate::hub::Control;
use crate::ids::{AgentId, CustomerId, CustomerKey, QueueId};
use crate::protocol::{
    Author, AuthorRole, CommandError, EventKind, InviteOutcome, ParticipantRole,
};

/// The events that open a chat an agent starts: `created`, the agent's assignment and join as
/// owner, and its first message (deduplicated by its `client_msg_id`).
fn opening(
    author: Author,
    created: EventKind,
    agent: &AgentId,
    name: String,
    client_msg_id: String,
    text: String,
) -> Vec<NewEvent> {
    let key = dedup_key(&author.role, author.id.as_deref(), &client_msg_id);
    vec![
        event(author.clone(), created),
        event(
            author.clone(),
            EventKind::Assigned {
                agent: agent.clone(),
                agent_name: name.clone(),
            },
        ),
        event(
            author.clone(),
            EventKind::ParticipantJoined {
                participant: agent.to_string(),
                name,
                role: ParticipantRole::Owner,
            },
        ),
        NewEvent {
            author,
            kind: EventKind::Message {
                text,
                client_msg_id,
                attachments: Vec::new(),
            },
            dedup_key: Some(key),
        },
    ]
}

/// Creates a conversation an agent starts with a customer. Answers the first message's seq.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct CreateOutbound {
    pub agent: AgentId,
    pub agent_name: String,
    pub customer: CustomerId,
    pub customer_name: String,
    pub queue: QueueId,
    pub client_msg_id: String,
    pub text: String,
}

impl Handler<CreateOutbound> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: CreateOutbound, _: &mut Self::Context) -> Self::Result {
        if self.exists() {
            return reply(Err(CommandError::conflict("conversation already exists")));
        }
        let agent = Author {
            role: AuthorRole::Agent,
            id: Some(msg.agent.to_string()),
            name: Some(msg.agent_name.clone()),
        };
        let mut context = serde_json::Map::new();
        context.insert("initiated_by".into(), msg.agent.to_string().into());
        let created = EventKind::Created {
            customer: Some(msg.customer.clone()),
            customer_name: msg.customer_name,
            customer_email: None,
            verified: true,
            queue: msg.queue,
            reason: None,
            case_id: None,
            channel: "outbound".into(),
            context,
        };
        let events = opening(
            agent,
            created,
            &msg.agent,
            msg.agent_name,
            msg.client_msg_id,
            msg.text,
        );
        self.mark_created();
        let fut = self.append(events).map(move |res, act, _| {
            let seq = res?.last().map_or(0, |a| a.event.seq);
            crate::metrics::Metrics::inc(&act.rt.metrics.conversations_started);
            act.rt.hub.control_agent(
                &act.agent_key(&msg.agent),
                Control::Follow(act.key.id.clone()),
            );
            let customer = CustomerKey {
                org: act.key.org.clone(),
                id: msg.customer,
            };
            act.rt.hub.follow_customer(&customer, act.key.id.clone());
            Ok(seq)
        });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// Creates a chat between two agents (seed 002, "agent to agent"): no customer, the requester
/// owns it with its first message, and the other agent is invited to it (accept, reject or let
/// it expire; a chat nobody joined ends). Neither seat counts against `max_chats`. Answers the
/// `invited` event's seq.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct CreateInternal {
    pub agent: AgentId,
    pub agent_name: String,
    pub to: AgentId,
    pub queue: QueueId,
    pub client_msg_id: String,
    pub text: String,
}

impl Handler<CreateInternal> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: CreateInternal, _: &mut Self::Context) -> Self::Result {
        if self.exists() {
            return reply(Err(CommandError::conflict("conversation already exists")));
        }
        let Some(org) = self.org() else {
            return reply(Err(CommandError::not_found("org")));
        };
        let expires_at = chrono::Utc::now()
            + chrono::Duration::milliseconds(
                i64::try_from(org.settings.invite_expiry_ms).unwrap_or(i64::MAX),
            );
        let reserve = ReserveInvite {
            conversation: self.key.id.clone(),
            from: msg.agent.clone(),
            role: ParticipantRole::Conference,
            customer_name: String::new(),
            note: None,
            expires_at,
            available_only: false,
            internal: true,
        };
        let rt = self.rt.clone();
        let target = self.agent_key(&msg.to);
        let wait = rt.placement.call_timeout();
        let fut = async move {
            tokio::time::timeout(wait, ask::<AgentActor, _>(&rt, &target, reserve))
                .await
                .unwrap_or_else(|_| Err(CommandError::unavailable("the agent did not answer")))
        }
        .into_actor(self)
        .then(move |reserved, act, _| {
            if let Err(e) = reserved {
                return fut::ready(Err(e)).boxed_local();
            }
            let agent = Author {
                role: AuthorRole::Agent,
                id: Some(msg.agent.to_string()),
                name: Some(msg.agent_name.clone()),
            };
            let mut context = serde_json::Map::new();
            context.insert("initiated_by".into(), msg.agent.to_string().into());
            let created = EventKind::Created {
                customer: None,
                customer_name: String::new(),
                customer_email: None,
                verified: false,
                queue: msg.queue,
                reason: None,
                case_id: None,
                channel: "internal".into(),
                context,
            };
            let mut events = opening(
                agent.clone(),
                created,
                &msg.agent,
                msg.agent_name,
                msg.client_msg_id,
                msg.text,
            );
            events.push(event(
                agent,
                EventKind::Invited {
                    to: msg.to.clone(),
                    role: ParticipantRole::Conference,
                    by: msg.agent.clone(),
                    note: None,
                },
            ));
            act.mark_created();
            act.append(events)
                .map(move |res, act, _| match res {
                    Ok(appended) => {
                        act.rt.hub.control_agent(
                            &act.agent_key(&msg.agent),
                            Control::Follow(act.key.id.clone()),
                        );
                        Ok(appended.last().map_or(0, |a| a.event.seq))
                    }
                    Err(e) => {
                        act.close_invitation(&msg.to, InviteOutcome::Cancelled);
                        Err(e)
                    }
                })
                .boxed_local()
        });
        AtomicResponse::new(Box::pin(fut))
    }
}
