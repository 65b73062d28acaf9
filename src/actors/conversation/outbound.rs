//! Agent-initiated chats (seed 002, "agent to customer"): an agent starts a chat with a known
//! customer. The agent owns it from the start (its seat is reserved before, by the agent
//! actor), its first message is in the log, and the customer's sessions — on any node — follow
//! it at once; a customer who is not on the site finds it, open, at their next `hello`.

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::{dedup_key, event, reply, ConversationActor, Reply};
use crate::engine::NewEvent;
use crate::hub::Control;
use crate::ids::{AgentId, CustomerId, CustomerKey, QueueId};
use crate::protocol::{Author, AuthorRole, CommandError, EventKind, ParticipantRole};

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
        let key = dedup_key(&agent.role, agent.id.as_deref(), &msg.client_msg_id);
        let events = vec![
            event(
                agent.clone(),
                EventKind::Created {
                    customer: msg.customer.clone(),
                    customer_name: msg.customer_name,
                    customer_email: None,
                    verified: true,
                    queue: msg.queue,
                    reason: None,
                    case_id: None,
                    channel: "outbound".into(),
                    context,
                },
            ),
            event(
                agent.clone(),
                EventKind::Assigned {
                    agent: msg.agent.clone(),
                    agent_name: msg.agent_name.clone(),
                },
            ),
            event(
                agent.clone(),
                EventKind::ParticipantJoined {
                    participant: msg.agent.to_string(),
                    name: msg.agent_name,
                    role: ParticipantRole::Owner,
                },
            ),
            NewEvent {
                author: agent,
                kind: EventKind::Message {
                    text: msg.text,
                    client_msg_id: msg.client_msg_id,
                },
                dedup_key: Some(key),
            },
        ];
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
