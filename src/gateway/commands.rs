//! Command dispatch: each client command becomes a typed message to the actor that owns the
//! state it touches. Input is validated before any actor sees it: field formats here, the rules
//! for starting a chat in `domain::start` (which REST and a bot-first flow reuse).

use super::session::{Follow, Session};
use crate::actors::agent::{
    AgentActor, AnswerInvite as AgentAnswerInvite, AnswerOffer,
    AnswerTransfer as AgentAnswerTransfer, Release, ReserveOwner, SetPresence,
};
use crate::actors::conversation::{
    message_text, BotRef, Continue, ConversationActor, ConvertConsult, Create, CreateInternal,
    CreateOutbound, End, Handover, HandoverOutcome, Invite, InviteTarget, Leave, MarkRead, Monitor,
    Note, Post, PostInternal, PushUrl, Remove, RequestTransfer, Survey, TransferToQueue, Typing,
    WrapUp,
};
use crate::actors::queue::{Admit, Pick, QueueActor};
use crate::actors::route::{ask, ask_here, tell, Remote};
use crate::auth::{Customer, Principal, Staff};
use crate::domain::conversation::Status;
use crate::domain::start::{self, Start};
use crate::domain::text;
use crate::engine::ConversationFilter;
use crate::hub::Audience;
use crate::ids::{AgentId, AgentKey, ConversationId, QueueKey};
use crate::protocol::client::Command;
use crate::protocol::server::AckData;
use crate::protocol::{CommandError, ErrorCode};

impl Session {
    fn customer(&self) -> Result<Customer, CommandError> {
        match &self.principal {
            Principal::Customer(c) => Ok(c.clone()),
            Principal::Staff(_) => Err(CommandError::forbidden("this command is for customers")),
        }
    }

    fn staff(&self) -> Result<Staff, CommandError> {
        match &self.principal {
            Principal::Staff(s) => Ok(s.clone()),
            Principal::Customer(_) => Err(CommandError::forbidden("this command is for agents")),
        }
    }

    fn agent_key(&self) -> Result<AgentKey, CommandError> {
        let s = self.staff()?;
        Ok(AgentKey {
            org: s.org,
            id: s.id,
        })
    }

    async fn to_conversation<M>(
        &self,
        id: &ConversationId,
        msg: M,
    ) -> Result<Result<M::Ok, CommandError>, CommandError>
    where
        M: Remote,
        ConversationActor: actix::Handler<M>,
    {
        Ok(ask_here::<ConversationActor, M>(&self.rt, &self.conv_key(id), msg).await)
    }

    /// Runs one command; `Ok(Some(data))` goes into the ack.
    pub(super) async fn command(
        &mut self,
        command: Command,
    ) -> Result<Option<AckData>, CommandError> {
        let limits = self.rt.settings.limits.clone();
        match command {
            Command::Hello { .. } => Err(CommandError::conflict("already signed in")),
            Command::Ping => Ok(None),
            Command::Start {
                reason,
                queue,
                case_id,
                channel,
                context,
            } => {
                let request = start::Request {
                    reason,
                    queue,
                    case_id,
                    channel,
                    context,
                };
                self.start(request).await.map(Some)
            }
            Command::Send {
                conversation,
                client_msg_id,
                text,
                attachments,
            } => {
                text::client_msg_id(&client_msg_id, limits.max_client_msg_id_len)?;
                crate::domain::attachment::check_message_files(&attachments)
                    .map_err(CommandError::bad_request)?;
                // A message that carries files may have no text.
                let text = if attachments.is_empty() || !text.is_empty() {
                    message_text(&text, &limits)?
                } else {
                    text
                };
                let post = Post {
                    who: self.who.clone(),
                    client_msg_id,
                    text,
                    attachments,
                };
                let (seq, duplicate) = self.to_conversation(&conversation, post).await??;
                Ok(Some(AckData::Sent { seq, duplicate }))
            }
            Command::Typing {
                conversation,
                on,
                preview,
            } => {
                let preview = match preview {
                    Some(_) if self.customer().is_err() => {
                        return Err(CommandError::bad_request(
                            "only a customer's typing carries a preview",
                        ))
                    }
                    // Empty text is no preview (the customer cleared the box).
                    Some(p) if p.trim().is_empty() => None,
                    Some(p) => Some(message_text(&p, &limits)?),
                    None => None,
                };
                self.to_conversation(
                    &conversation,
                    Typing {
                        who: self.who.clone(),
                        on,
                        preview,
                    },
                )
                .await??;
                Ok(None)
            }
            Command::Read { conversation, seq } => {
                self.to_conversation(
                    &conversation,
                    MarkRead {
                        who: self.who.clone(),
                        seq,
                    },
                )
                .await??;
                Ok(None)
            }
            Command::Continue { conversation } => {
                let customer = self.customer()?.id;
                self.to_conversation(&conversation, Continue { customer })
                    .await??;
                Ok(None)
            }
            Command::Handover { conversation } => {
                let customer = self.customer()?.id;
                let asked = Handover {
                    customer: Some(customer),
                    ..Default::default()
                };
                match self.to_conversation(&conversation, asked).await?? {
                    HandoverOutcome::Done { seq, .. } => Ok(Some(AckData::Seq { seq })),
                    HandoverOutcome::Failed { reason, message } => {
                        let code = if reason == "outside_hours" {
                            ErrorCode::OutsideHours
                        } else {
                            ErrorCode::Unavailable
                        };
                        Err(CommandError::new(code, message))
                    }
                }
            }
            Command::End { conversation } => {
                let seq = self
                    .to_conversation(
                        &conversation,
                        End {
                            who: self.who.clone(),
                        },
                    )
                    .await??;
                Ok(Some(AckData::Seq { seq }))
            }
            Command::Survey {
                conversation,
                rating,
                comment,
            } => {
                let customer = self.customer()?.id;
                let comment =
                    text::optional_text(comment.as_deref(), limits.max_note_chars, "comment")?;
                self.to_conversation(
                    &conversation,
                    Survey {
                        customer,
                        rating,
                        comment,
                    },
                )
                .await??;
                Ok(None)
            }
            Command::Resume {
                conversation,
                last_seq,
                epoch,
            } => {
                match self
                    .follow_from(&conversation, last_seq, epoch.as_deref())
                    .await
                {
                    Ok(Ok(v)) => Ok(Some(v)),
                    Ok(Err(e)) if e.code == ErrorCode::NotFound => {
                        Err(CommandError::not_found("conversation"))
                    }
                    Ok(Err(_)) | Err(_) => {
                        Err(CommandError::unavailable("could not resume; retry"))
                    }
                }
            }
            Command::PushUrl {
                conversation,
                client_msg_id,
                url,
            } => {
                self.staff()?;
                text::client_msg_id(&client_msg_id, limits.max_client_msg_id_len)?;
                let url = text::pushed_url(&url)?;
                let msg = PushUrl {
                    who: self.who.clone(),
                    client_msg_id,
                    url,
                };
                let (seq, duplicate) = self.to_conversation(&conversation, msg).await??;
                Ok(Some(AckData::Sent { seq, duplicate }))
            }
            Command::Unfollow { conversation } => {
                if self.follows.remove(&conversation).is_some() {
                    let key = self.conv_key(&conversation);
                    self.rt.hub.unfollow(&key, self.handle.id);
                }
                Ok(None)
            }
            Command::Status { presence } => {
                let key = self.agent_key()?;
                ask_here::<AgentActor, _>(&self.rt, &key, SetPresence(presence)).await?;
                Ok(None)
            }
            Command::Accept { conversation } => {
                self.answer(AnswerOffer {
                    conversation,
                    accept: true,
                })
                .await
            }
            Command::Reject { conversation } => {
                self.answer(AnswerOffer {
                    conversation,
                    accept: false,
                })
                .await
            }
            Command::Transfer {
                conversation,
                to_agent,
                to_queue,
                note,
            } => {
                let staff = self.staff()?;
                let note = text::optional_text(note.as_deref(), limits.max_note_chars, "note")?;
                let seq = match (to_agent, to_queue) {
                    (Some(to), None) => {
                        let msg = RequestTransfer {
                            from: staff.id,
                            to,
                            note,
                        };
                        self.to_conversation(&conversation, msg).await??
                    }
                    (None, Some(queue)) => {
                        let msg = TransferToQueue {
                            from: staff.id,
                            queue,
                            note,
                        };
                        self.to_conversation(&conversation, msg).await??
                    }
                    _ => {
                        return Err(CommandError::bad_request(
                            "give exactly one of to_agent and to_queue",
                        ))
                    }
                };
                Ok(Some(AckData::Seq { seq }))
            }
            Command::TransferAccept { conversation } => {
                self.answer(AgentAnswerTransfer {
                    conversation,
                    accept: true,
                })
                .await
            }
            Command::TransferReject { conversation } => {
                self.answer(AgentAnswerTransfer {
                    conversation,
                    accept: false,
                })
                .await
            }
            Command::Note {
                conversation,
                text: body,
            } => {
                self.staff()?;
                let body = text::chat_text(&body, limits.max_note_chars, "note")?;
                let seq = self
                    .to_conversation(
                        &conversation,
                        Note {
                            who: self.who.clone(),
                            text: body,
                        },
                    )
                    .await??;
                Ok(Some(AckData::Seq { seq }))
            }
            Command::Invite {
                conversation,
                role,
                to_agent,
                to_queue,
                note,
            } => {
                let staff = self.staff()?;
                let note = text::optional_text(note.as_deref(), limits.max_note_chars, "note")?;
                let target = match (to_agent, to_queue) {
                    (Some(a), None) => InviteTarget::Agent(a),
                    (None, Some(q)) => InviteTarget::Queue(q),
                    _ => {
                        return Err(CommandError::bad_request(
                            "give exactly one of to_agent and to_queue",
                        ))
                    }
                };
                let msg = Invite {
                    by: staff.id,
                    target,
                    role,
                    note,
                };
                let seq = self.to_conversation(&conversation, msg).await??;
                Ok(Some(AckData::Seq { seq }))
            }
            Command::InviteAccept { conversation } => {
                self.answer(AgentAnswerInvite {
                    conversation,
                    accept: true,
                })
                .await
            }
            Command::InviteReject { conversation } => {
                self.answer(AgentAnswerInvite {
                    conversation,
                    accept: false,
                })
                .await
            }
            Command::Remove {
                conversation,
                agent,
            } => {
                self.staff()?;
                let msg = Remove {
                    who: self.who.clone(),
                    agent,
                };
                let seq = self.to_conversation(&conversation, msg).await??;
                Ok(Some(AckData::Seq { seq }))
            }
            Command::Leave { conversation } => {
                self.staff()?;
                let msg = Leave {
                    who: self.who.clone(),
                };
                let seq = self.to_conversation(&conversation, msg).await??;
                Ok(Some(AckData::Seq { seq }))
            }
            Command::ConsultConvert {
                conversation,
                agent,
                to,
            } => {
                let staff = self.staff()?;
                let msg = ConvertConsult {
                    by: staff.id,
                    agent,
                    to,
                };
                let seq = self.to_conversation(&conversation, msg).await??;
                Ok(Some(AckData::Seq { seq }))
            }
            Command::Internal {
                conversation,
                client_msg_id,
                text: body,
            } => {
                self.staff()?;
                text::client_msg_id(&client_msg_id, limits.max_client_msg_id_len)?;
                let text = message_text(&body, &limits)?;
                let msg = PostInternal {
                    who: self.who.clone(),
                    client_msg_id,
                    text,
                };
                let (seq, duplicate) = self.to_conversation(&conversation, msg).await??;
                Ok(Some(AckData::Sent { seq, duplicate }))
            }
            Command::Monitor { conversation, mode } => {
                self.staff()?;
                let msg = Monitor {
                    who: self.who.clone(),
                    mode,
                };
                let seq = self.to_conversation(&conversation, msg).await??;
                Ok(Some(AckData::Seq { seq }))
            }
            Command::Pick { conversation } => self.pick(conversation).await,
            Command::AgentChat {
                to_agent,
                client_msg_id,
                text: body,
            } => {
                text::client_msg_id(&client_msg_id, limits.max_client_msg_id_len)?;
                let text = message_text(&body, &limits)?;
                self.agent_chat(to_agent, client_msg_id, text)
                    .await
                    .map(Some)
            }
            Command::StartChat {
                customer,
                customer_name,
                queue,
                client_msg_id,
                text: body,
            } => {
                text::client_msg_id(&client_msg_id, limits.max_client_msg_id_len)?;
                let text = message_text(&body, &limits)?;
                let customer_name =
                    text::optional_text(customer_name.as_deref(), 100, "customer_name")?;
                let start = Outbound {
                    customer,
                    customer_name,
                    queue,
                    client_msg_id,
                    text,
                };
                self.start_chat(start).await.map(Some)
            }
            Command::WrapUp {
                conversation,
                disposition,
                note,
            } => {
                self.staff()?;
                let note = text::optional_text(note.as_deref(), limits.max_note_chars, "note")?;
                let msg = WrapUp {
                    who: self.who.clone(),
                    disposition,
                    note,
                };
                let seq = self.to_conversation(&conversation, msg).await??;
                Ok(Some(AckData::Seq { seq }))
            }
        }
    }

    /// Sends the agent's answer (to an offer, a transfer request, an invitation) to its own
    /// agent actor, which holds the seat the answer settles.
    async fn answer<M>(&mut self, answer: M) -> Result<Option<AckData>, CommandError>
    where
        M: Remote<Ok = ()>,
        AgentActor: actix::Handler<M>,
    {
        let key = self.agent_key()?;
        ask_here::<AgentActor, _>(&self.rt, &key, answer).await?;
        Ok(None)
    }

    /// The request list's `pick`: the chat's queue offers it to this agent (capacity checked by
    /// the agent actor, one winner when two agents pick it), and the agent accepts at once.
    async fn pick(
        &mut self,
        conversation: ConversationId,
    ) -> Result<Option<AckData>, CommandError> {
        let staff = self.staff()?;
        let summary = self
            .rt
            .engine
            .summary(&self.conv_key(&conversation))
            .await
            .map_err(CommandError::from)?
            .ok_or_else(|| CommandError::not_found("conversation"))?;
        let queue = summary
            .queue
            .filter(|q| staff.can_see_queue(q))
            .ok_or_else(|| CommandError::not_found("conversation"))?;
        if !matches!(summary.status, Status::Waiting | Status::Assigning) {
            return Err(CommandError::conflict("the chat is no longer waiting"));
        }
        if !staff.queues.contains(&queue) {
            return Err(CommandError::forbidden(
                "only agents of the chat's queue can pick it",
            ));
        }
        let key = QueueKey {
            org: staff.org.clone(),
            id: queue,
        };
        let pick = Pick {
            conversation: conversation.clone(),
            agent: staff.id,
        };
        ask::<QueueActor, _>(&self.rt, &key, pick).await?;
        self.answer(AnswerOffer {
            conversation,
            accept: true,
        })
        .await
    }

    /// `agent_chat`: a chat between two agents. The requester's seat (never counted) is taken
    /// first, then the conversation invites the other agent (`CreateInternal`).
    async fn agent_chat(
        &mut self,
        to: AgentId,
        client_msg_id: String,
        text: String,
    ) -> Result<AckData, CommandError> {
        let staff = self.staff()?;
        if to == staff.id {
            return Err(CommandError::bad_request("cannot chat with yourself"));
        }
        let org = self
            .rt
            .orgs
            .get(&staff.org)
            .ok_or_else(|| CommandError::not_found("org"))?;
        // The log names a queue for every chat: the requester's first, else the org's default.
        let queue = staff
            .queues
            .iter()
            .find(|q| org.queue(q).is_some())
            .cloned()
            .or_else(|| org.settings.default_queue.clone())
            .or_else(|| org.queues.first().map(|q| q.id.clone()))
            .ok_or_else(|| CommandError::not_found("queue"))?;
        let create = CreateInternal {
            agent: staff.id,
            agent_name: self.display_name(&staff.name),
            to,
            queue,
            client_msg_id,
            text,
        };
        self.open_owned(true, create).await
    }

    /// Creates a conversation this agent owns from the start (`start_chat`, `agent_chat`):
    /// the owner's seat is taken first (capacity; `internal` seats never count), then `create`
    /// runs on the new conversation; the seat is given back if that fails.
    async fn open_owned<M>(&mut self, internal: bool, create: M) -> Result<AckData, CommandError>
    where
        M: Remote<Ok = u64>,
        ConversationActor: actix::Handler<M>,
    {
        let id = ConversationId::generate();
        let me = self.agent_key()?;
        let seat = ReserveOwner {
            conversation: id.clone(),
            internal,
        };
        ask_here::<AgentActor, _>(&self.rt, &me, seat).await?;
        if let Err(e) = self.to_conversation(&id, create).await.and_then(|r| r) {
            let release = Release {
                conversation: id.clone(),
            };
            tell::<AgentActor, _>(&self.rt, &me, release);
            return Err(e);
        }
        Ok(AckData::Started {
            conversation: id,
            existing: false,
        })
    }

    /// The name this agent goes by in chats (its nickname, if its profile has one).
    fn display_name(&self, fallback: &str) -> String {
        match &self.who {
            crate::actors::conversation::Who::Agent { name, .. } => name.clone(),
            crate::actors::conversation::Who::Customer(_) => fallback.to_string(),
        }
    }

    /// `start_chat`: an agent starts a chat with a known customer. The agent's seat is taken
    /// first (capacity), then the conversation is created, owned by the agent, with its first
    /// message; the customer's sessions follow it (`CreateOutbound`).
    async fn start_chat(&mut self, start: Outbound) -> Result<AckData, CommandError> {
        let staff = self.staff()?;
        let org = self
            .rt
            .orgs
            .get(&staff.org)
            .ok_or_else(|| CommandError::not_found("org"))?;
        let queue = start
            .queue
            .or_else(|| staff.queues.first().cloned())
            .or_else(|| org.settings.default_queue.clone())
            .filter(|q| org.queue(q).is_some() && staff.can_see_queue(q))
            .ok_or_else(|| CommandError::not_found("queue"))?;
        let filter = ConversationFilter {
            customer: Some(start.customer.clone()),
            limit: 20,
            ..Default::default()
        };
        let open = self
            .rt
            .engine
            .find_conversations(&staff.org, filter)
            .await
            .map_err(CommandError::from)?
            .into_iter()
            .any(|s| s.status.is_open());
        if open {
            return Err(CommandError::conflict(
                "the customer already has an open chat",
            ));
        }
        let create = CreateOutbound {
            agent: staff.id,
            agent_name: self.display_name(&staff.name),
            customer_name: start
                .customer_name
                .unwrap_or_else(|| start.customer.to_string()),
            customer: start.customer,
            queue,
            client_msg_id: start.client_msg_id,
            text: start.text,
        };
        self.open_owned(false, create).await
    }

    /// A second `start` while the customer's chat is open: follows that chat (unless this session
    /// already does) and returns it.
    async fn rejoin(&mut self, open: ConversationId) -> Result<AckData, CommandError> {
        if !self.follows.contains_key(&open) {
            let answer = self.follow_from(&open, 0, None).await;
            // A broken socket ends the session anyway; an unreachable actor is retried.
            if matches!(answer, Ok(Err(ref e)) if e.code == ErrorCode::Unavailable) {
                return Err(CommandError::unavailable(
                    "the conversation cannot be reached right now; retry",
                ));
            }
        }
        Ok(AckData::Started {
            conversation: open,
            existing: true,
        })
    }

    /// The customer's `start`: gathers what the rules need (`domain::start`, which checks them in
    /// the order a customer meets them), then creates the conversation and follows it.
    async fn start(&mut self, request: start::Request) -> Result<AckData, CommandError> {
        let customer = self.customer()?;
        let org = self
            .rt
            .orgs
            .get(&customer.org)
            .ok_or_else(|| CommandError::not_found("org"))?;
        let checked = start::check(
            &org,
            &customer.id,
            customer.email.as_deref(),
            request,
            chrono::Utc::now(),
        )?;
        // One open conversation per customer: a second start returns the first.
        let filter = ConversationFilter {
            customer: Some(customer.id.clone()),
            limit: 20,
            ..Default::default()
        };
        let recent = self
            .rt
            .engine
            .find_conversations(&customer.org, filter)
            .await
            .map_err(CommandError::from)?;
        let open = recent
            .iter()
            .find(|s| s.status.is_open())
            .map(|s| s.id.clone());
        let locked = org.settings.bot.as_ref().is_some_and(|bot| {
            let handed_over = recent.iter().map(|s| {
                let handed = s.bot.as_ref().is_some_and(|b| b.handed_over_at.is_some());
                (handed, s.ended_at)
            });
            start::bot_locked(bot, handed_over, chrono::Utc::now())
        });
        let chat = match checked.decide(open, locked)? {
            Start::Existing(open) => return self.rejoin(open).await,
            Start::New(chat) => chat,
        };
        // A chat with the bot takes no place in the queue until its handover.
        let bot = chat.bot.then(|| org.settings.bot.as_ref()).flatten();
        if bot.is_none() {
            let qkey = QueueKey {
                org: customer.org.clone(),
                id: chat.queue.clone(),
            };
            ask::<QueueActor, _>(&self.rt, &qkey, Admit).await?;
        }

        let id = ConversationId::generate();
        let key = self.conv_key(&id);
        // Follow before creating so that nothing said about the new conversation is missed.
        self.rt.hub.follow(&key, self.handle.clone()).await;
        self.follows
            .insert(id.clone(), Follow::new(Audience::Customer, 0));
        let create = Create {
            customer: customer.clone(),
            queue: chat.queue,
            priority: chat.priority,
            reason: chat.reason,
            case_id: chat.case_id,
            channel: chat.channel,
            context: chat.context,
            bot: bot.map(|b| BotRef {
                id: b.id.clone(),
                name: b.name.clone(),
            }),
        };
        match self.to_conversation(&id, create).await.and_then(|r| r) {
            Ok(_) => Ok(AckData::Started {
                conversation: id,
                existing: false,
            }),
            Err(e) => {
                self.follows.remove(&id);
                self.rt.hub.unfollow(&key, self.handle.id);
                Err(e)
            }
        }
    }
}

/// A validated `start_chat`.
struct Outbound {
    customer: crate::ids::CustomerId,
    customer_name: Option<String>,
    queue: Option<crate::ids::QueueId>,
    client_msg_id: String,
    text: String,
}
