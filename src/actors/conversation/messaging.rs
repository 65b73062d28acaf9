//! What the parties say: messages (deduplicated by `client_msg_id`), typing, read receipts
//! and internal notes.

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::{dedup_key, reply, ConversationActor, Reply};
use crate::domain::conversation::Status;
use crate::domain::text;
use crate::engine::NewEvent;
use crate::ids::AttachmentId;
use crate::protocol::{CommandError, EventKind, ParticipantRole, Signal};

use super::event;
use super::Who;

/// A chat message from the customer or the owning agent. Answers `(seq, duplicate)`.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(u64, bool), CommandError>")]
pub struct Post {
    pub who: Who,
    pub client_msg_id: String,
    /// May be empty when `attachments` is not.
    pub text: String,
    /// Files uploaded by the sender to this conversation (checked in `files.rs`).
    #[serde(default)]
    pub attachments: Vec<AttachmentId>,
}

impl Handler<Post> for ConversationActor {
    type Result = Reply<(u64, bool)>;

    fn handle(&mut self, msg: Post, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready().and_then(|_| self.check_party(&msg.who)) {
            return reply(Err(e));
        }
        let author = msg.who.author();
        let key = dedup_key(&author.role, author.id.as_deref(), &msg.client_msg_id);
        // A retry of something already stored is answered from the log, whatever the state now.
        if let Some(seq) = self.dedup.get(&key) {
            crate::metrics::Metrics::inc(&self.rt.metrics.messages_duplicate);
            return reply(Ok((seq, true)));
        }
        if let Err(e) = self.check_open() {
            return reply(Err(e));
        }
        if msg.attachments.is_empty() {
            let fut = self.post(msg.who, msg.client_msg_id, msg.text, Vec::new(), key);
            return AtomicResponse::new(Box::pin(fut));
        }
        // The files are looked up in the engine, then checked and the message appended, all
        // inside this one atomic response.
        let fut = self.attachment_refs(&msg.who, &msg.attachments).then(
            move |refs, act, _| -> fut::LocalBoxActorFuture<Self, _> {
                match refs {
                    Ok(refs) => Box::pin(act.post(msg.who, msg.client_msg_id, msg.text, refs, key)),
                    Err(e) => Box::pin(fut::ready(Err(e))),
                }
            },
        );
        AtomicResponse::new(Box::pin(fut))
    }
}

impl ConversationActor {
    /// Appends a checked message (and wakes a parked chat): `(seq, duplicate)`.
    fn post(
        &mut self,
        who: Who,
        client_msg_id: String,
        text: String,
        attachments: Vec<crate::protocol::AttachmentRef>,
        key: String,
    ) -> impl ActorFuture<Self, Output = Result<(u64, bool), CommandError>> {
        let new = NewEvent {
            author: who.author(),
            kind: EventKind::Message {
                text,
                client_msg_id,
                attachments,
            },
            dedup_key: Some(key),
        };
        let mut events = vec![new];
        // A parked (asynchronous) chat wakes up when its customer writes: it waits in its
        // queue again, offered to the previous agent first.
        let wake = self.wake_parked(&who);
        if let Some((queued, _)) = &wake {
            events.push(queued.clone());
        }
        self.append(events).map(move |res, act, _| {
            if let (Ok(_), Some((_, previous))) = (&res, wake) {
                act.enqueue(previous);
            }
            let a = res?
                .into_iter()
                .next()
                .ok_or_else(|| CommandError::internal("empty append"))?;
            let metric = if a.duplicate {
                &act.rt.metrics.messages_duplicate
            } else {
                &act.rt.metrics.messages
            };
            crate::metrics::Metrics::inc(metric);
            Ok((a.event.seq, a.duplicate))
        })
    }
}

impl ConversationActor {
    /// The `queued` event that wakes a parked chat when its customer writes, and the agent
    /// to prefer (the one who had it).
    fn wake_parked(&self, who: &Who) -> Option<(NewEvent, Option<crate::ids::AgentId>)> {
        if self.state.status != Status::Parked || !matches!(who, Who::Customer(_)) {
            return None;
        }
        let queue = self
            .state
            .queue
            .as_ref()
            .and_then(|q| self.org().and_then(|o| o.queue(q).cloned()))?;
        let queued = event(
            crate::protocol::Author::system(),
            EventKind::Queued {
                queue: queue.id,
                priority: queue.priority,
            },
        );
        Some((queued, self.state.previous_owner.clone()))
    }
}

/// Typing on/off: a live signal to the other side, never logged. A customer's may carry what
/// they have typed so far (the typing preview, where the org has it on).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct Typing {
    pub who: Who,
    pub on: bool,
    #[serde(default)]
    pub preview: Option<String>,
}

impl Handler<Typing> for ConversationActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: Typing, ctx: &mut Self::Context) -> Self::Result {
        self.ready()?;
        self.check_party(&msg.who)?;
        self.check_open()?;
        match &msg.who {
            Who::Customer(_) => self.customer_typing(msg.on, msg.preview, ctx),
            Who::Agent { name, .. } => {
                let signal = Signal::Typing {
                    conversation: self.key.id.clone(),
                    who: name.clone(),
                    on: msg.on,
                    preview: None,
                };
                self.rt
                    .hub
                    .signal_conversation(&self.key, true, false, &signal);
            }
        }
        Ok(())
    }
}

/// Read receipt: the reader has seen everything up to `seq`.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct MarkRead {
    pub who: Who,
    pub seq: u64,
}

impl Handler<MarkRead> for ConversationActor {
    type Result = Reply<()>;

    fn handle(&mut self, msg: MarkRead, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready() {
            return reply(Err(e));
        }
        // Observers, coaches, consultants, and supervisors or agents of the queue who are not
        // in the chat never log read receipts: the customer must not learn that they read.
        if let Who::Agent { id, supervisor, .. } = &msg.who {
            match self.role_of(id) {
                Some(ParticipantRole::Owner | ParticipantRole::Conference) => {}
                Some(_) => return reply(Ok(())),
                None if *supervisor || self.inbox_agent(&msg.who) => return reply(Ok(())),
                None => {}
            }
        }
        if let Err(e) = self.check_party(&msg.who) {
            return reply(Err(e));
        }
        if msg.seq > self.state.last_seq {
            return reply(Err(CommandError::bad_request(
                "seq is beyond the end of the conversation",
            )));
        }
        let customer = matches!(msg.who, Who::Customer(_));
        let last = if customer {
            self.last_read.0
        } else {
            self.last_read.1
        };
        if msg.seq <= last || !self.state.status.is_open() {
            return reply(Ok(()));
        }
        let fut = self
            .append(vec![event(
                msg.who.author(),
                EventKind::Read { up_to: msg.seq },
            )])
            .map(move |res, act, _| {
                res?;
                if customer {
                    act.last_read.0 = msg.seq;
                } else {
                    act.last_read.1 = msg.seq;
                }
                Ok(())
            });
        AtomicResponse::new(Box::pin(fut))
    }
}

/// An internal note: agents only, never delivered to the customer.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct Note {
    pub who: Who,
    pub text: String,
}

impl Handler<Note> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: Note, _: &mut Self::Context) -> Self::Result {
        if matches!(msg.who, Who::Customer(_)) {
            return reply(Err(CommandError::forbidden("notes are for agents")));
        }
        let participant = match &msg.who {
            Who::Agent { id, .. } => self.state.participant(id).is_some(),
            Who::Customer(_) => false,
        };
        if let Err(e) = self.ready().and_then(|_| {
            if participant {
                Ok(())
            } else {
                self.check_participant_agent(&msg.who)
            }
        }) {
            return reply(Err(e));
        }
        let fut = self
            .append(vec![event(
                msg.who.author(),
                EventKind::Note { text: msg.text },
            )])
            .map(|res, _, _| Ok(res?.first().map_or(0, |a| a.event.seq)));
        AtomicResponse::new(Box::pin(fut))
    }
}

/// Validates text once, with the node's limits, for handlers above.
pub fn message_text(text: &str, limits: &crate::config::Limits) -> Result<String, CommandError> {
    text::chat_text(text, limits.max_message_chars, "text").map_err(CommandError::from)
}
