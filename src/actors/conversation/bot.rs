//! Bot-first chats (PROTOCOL §9.12): the bot's writes and the handover to a person.
//!
//! The conversation actor is the single writer, so "no bot after the handover" is a check of its
//! own state (`status == bot`) before every bot write, not a promise of the bot's: the handover
//! and the bot's writes are appends in one actor, in one order.

use actix::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{dedup_key, event, reply, ConversationActor, Reply};
use crate::actors::queue::{Admit, GetStats, QueueActor};
use crate::actors::route::ask;
use crate::domain::bot::{handover_queue, HandoverRefusal, BOT_TYPING_MS};
use crate::domain::conversation::Status;
use crate::engine::NewEvent;
use crate::ids::{CustomerId, QueueId};
use crate::protocol::server::Signal;
use crate::protocol::{Author, AuthorRole, CommandError, EndReason, EventKind, HandoverBy};

/// The bot a new conversation starts with (`Create::bot`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotRef {
    pub id: String,
    pub name: String,
}

/// The bot sends a message (`client_msg_id` deduplicates like any send).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(u64, bool), CommandError>")]
pub struct BotPost {
    pub bot: String,
    pub client_msg_id: String,
    pub text: String,
}

/// The bot is typing (or stopped); it stops by itself after `BOT_TYPING_MS`.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(), CommandError>")]
pub struct BotTyping {
    pub bot: String,
    pub on: bool,
}

/// The bot ends the chat.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct BotEnd {
    pub bot: String,
    pub message: Option<String>,
}

/// The chat goes from the bot to a person: asked by the bot, by the customer ("Connect to an
/// agent") or — neither named — by the reply timeout.
#[derive(Message, Clone, Serialize, Deserialize, Default)]
#[rtype(result = "Result<HandoverOutcome, CommandError>")]
pub struct Handover {
    /// The bot asking (checked against the chat's bot).
    pub bot: Option<String>,
    /// The customer asking (checked against the chat's customer).
    pub customer: Option<CustomerId>,
    pub queue: Option<QueueId>,
    pub skill: Option<String>,
    pub priority: Option<i32>,
    pub intake: Map<String, Value>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum HandoverOutcome {
    /// Queued for a person.
    Done { seq: u64, queue: QueueId },
    /// The chat stays with the bot, which is told why (`handover_failed`).
    Failed { reason: String, message: String },
}

impl ConversationActor {
    /// The bot's author record, as its messages carry it.
    fn bot_author(&self, bot: &str) -> Author {
        let name = self
            .org()
            .and_then(|o| o.settings.bot.as_ref().map(|b| b.name.clone()));
        Author {
            role: AuthorRole::Bot,
            id: Some(bot.to_string()),
            name,
        }
    }

    /// The bot may write: the chat is its own and still with it.
    fn check_bot(&self, bot: &str) -> Result<(), CommandError> {
        self.ready()?;
        if self.state.bot.as_deref() != Some(bot) {
            return Err(CommandError::not_found("conversation"));
        }
        if self.state.status != Status::Bot {
            return Err(CommandError::conflict(
                "the conversation is no longer with the bot",
            ));
        }
        Ok(())
    }

    /// A handover that cannot complete: logged (the bot's feed carries it), and answered.
    fn handover_failed(
        &mut self,
        by: HandoverBy,
        refusal: HandoverRefusal,
    ) -> fut::LocalBoxActorFuture<Self, Result<HandoverOutcome, CommandError>> {
        crate::metrics::Metrics::inc(&self.rt.metrics.handovers_failed);
        let kind = EventKind::HandoverFailed {
            by,
            reason: refusal.reason.to_string(),
            message: refusal.message.clone(),
        };
        Box::pin(
            self.append(vec![event(Author::system(), kind)])
                .map(move |res, _, _| {
                    res?;
                    Ok(HandoverOutcome::Failed {
                        reason: refusal.reason.to_string(),
                        message: refusal.message,
                    })
                }),
        )
    }

    /// Checks what needs no lookup, asks the queue, then appends the handover in one step:
    /// `handed_over`, the `intake` if any, and `queued`.
    pub(super) fn handover(
        &mut self,
        msg: Handover,
    ) -> fut::LocalBoxActorFuture<Self, Result<HandoverOutcome, CommandError>> {
        let by = match (&msg.bot, &msg.customer) {
            (Some(_), _) => HandoverBy::Bot,
            (None, Some(_)) => HandoverBy::Customer,
            (None, None) => HandoverBy::Timeout,
        };
        let Some(org) = self.org() else {
            return Box::pin(fut::ready(Err(CommandError::not_found("org"))));
        };
        let queue = match handover_queue(
            &org,
            msg.queue.as_ref(),
            msg.skill.as_deref(),
            self.state.queue.as_ref(),
        ) {
            Ok(q) => q,
            Err(refusal) => return self.handover_failed(by, refusal),
        };
        if !org.hours.is_open(&self.state.channel, chrono::Utc::now()) {
            let refusal =
                HandoverRefusal::new("outside_hours", org.settings.messages.outside_hours.clone());
            return self.handover_failed(by, refusal);
        }
        let require_agents = org.settings.bot.as_ref().is_some_and(|b| b.require_agents);
        let all_busy = org.settings.messages.all_busy.clone();
        let priority = msg
            .priority
            .unwrap_or_else(|| org.queue(&queue).map_or(0, |q| q.priority));
        let rt = self.rt.clone();
        let qkey = self.queue_key(&queue);
        let admitted = async move {
            if let Err(e) = ask::<QueueActor, _>(&rt, &qkey, Admit).await {
                return Err(HandoverRefusal::new("queue_full", e.message));
            }
            if require_agents {
                let stats = ask::<QueueActor, _>(&rt, &qkey, GetStats)
                    .await
                    .map_err(|e| HandoverRefusal::new("no_agents", e.message))?;
                if stats.agents_available == 0 {
                    return Err(HandoverRefusal::new("no_agents", all_busy));
                }
            }
            Ok(())
        };
        Box::pin(admitted.into_actor(self).then(move |admitted, act, _| {
            if act.state.status != Status::Bot {
                let e = CommandError::conflict("the conversation is no longer with the bot");
                return Box::pin(fut::ready(Err(e))) as fut::LocalBoxActorFuture<Self, _>;
            }
            if let Err(refusal) = admitted {
                return act.handover_failed(by, refusal);
            }
            let mut events = vec![event(Author::system(), EventKind::HandedOver { by })];
            if !msg.intake.is_empty() || msg.summary.is_some() || msg.skill.is_some() {
                events.push(event(
                    Author::system(),
                    EventKind::Intake {
                        answers: msg.intake,
                        summary: msg.summary,
                        skill: msg.skill,
                    },
                ));
            }
            events.push(event(
                Author::system(),
                EventKind::Queued {
                    queue: queue.clone(),
                    priority,
                },
            ));
            Box::pin(act.append(events).map(move |res, act, _| {
                let seq = res?.last().map_or(0, |a| a.event.seq);
                crate::metrics::Metrics::inc(&act.rt.metrics.handovers);
                act.enqueue(None);
                Ok(HandoverOutcome::Done { seq, queue })
            }))
        }))
    }
}

impl Handler<BotPost> for ConversationActor {
    type Result = Reply<(u64, bool)>;

    fn handle(&mut self, msg: BotPost, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready() {
            return reply(Err(e));
        }
        let key = dedup_key(&AuthorRole::Bot, Some(&msg.bot), &msg.client_msg_id);
        // A retry of something already stored is answered from the log, even after a handover.
        if let Some(seq) = self.dedup.get(&key) {
            crate::metrics::Metrics::inc(&self.rt.metrics.messages_duplicate);
            return reply(Ok((seq, true)));
        }
        if let Err(e) = self.check_bot(&msg.bot) {
            return reply(Err(e));
        }
        self.stop_bot_typing();
        let new = NewEvent {
            author: self.bot_author(&msg.bot),
            kind: EventKind::Message {
                text: msg.text,
                client_msg_id: msg.client_msg_id,
                attachments: Vec::new(),
            },
            dedup_key: Some(key),
        };
        self.append_keyed(new)
    }
}

impl ConversationActor {
    /// Turns the bot's typing indicator off now (its message arrived, or it expired).
    fn stop_bot_typing(&mut self) {
        if self.bot_typing.take().is_some() {
            self.bot_typing_signal(false);
        }
    }

    fn bot_typing_signal(&self, on: bool) {
        let who = self
            .bot_author(self.state.bot.as_deref().unwrap_or_default())
            .name
            .unwrap_or_default();
        let signal = Signal::Typing {
            conversation: self.key.id.clone(),
            who,
            on,
            preview: None,
        };
        self.rt
            .hub
            .signal_conversation(&self.key, true, true, &signal);
    }
}

impl Handler<BotTyping> for ConversationActor {
    type Result = Result<(), CommandError>;

    fn handle(&mut self, msg: BotTyping, ctx: &mut Self::Context) -> Self::Result {
        self.check_bot(&msg.bot)?;
        if let Some(h) = self.bot_typing.take() {
            ctx.cancel_future(h);
        }
        self.bot_typing_signal(msg.on);
        if msg.on {
            let expiry = std::time::Duration::from_millis(BOT_TYPING_MS);
            self.bot_typing = Some(ctx.run_later(expiry, |act, _| {
                act.bot_typing = None;
                act.bot_typing_signal(false);
            }));
        }
        Ok(())
    }
}

impl Handler<BotEnd> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: BotEnd, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.check_bot(&msg.bot) {
            return reply(Err(e));
        }
        self.stop_bot_typing();
        let author = self.bot_author(&msg.bot);
        AtomicResponse::new(Box::pin(self.end(author, EndReason::Bot, msg.message)))
    }
}

impl Handler<Handover> for ConversationActor {
    type Result = Reply<HandoverOutcome>;

    fn handle(&mut self, msg: Handover, _: &mut Self::Context) -> Self::Result {
        let allowed = match (&msg.bot, &msg.customer) {
            (Some(bot), _) => self.check_bot(bot),
            (None, Some(customer)) => self
                .ready()
                .and_then(|_| self.check_party(&super::Who::Customer(customer.clone())))
                .and_then(|_| self.check_open())
                .and_then(|_| {
                    if self.state.status == Status::Bot {
                        Ok(())
                    } else {
                        Err(CommandError::conflict(
                            "the conversation is not with the bot",
                        ))
                    }
                }),
            (None, None) => Err(CommandError::bad_request("who asks for the handover?")),
        };
        if let Err(e) = allowed {
            return reply(Err(e));
        }
        self.stop_bot_typing();
        AtomicResponse::new(self.handover(msg))
    }
}
