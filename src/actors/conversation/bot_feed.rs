//! What a bot-phase conversation tells its bot (PROTOCOL §9.12): the chat started, each
//! customer message, a failed handover, the end. One signed webhook in flight per conversation,
//! strictly in `seq` order; a failed attempt is retried with backoff until it is acknowledged.
//!
//! Delivery is at least once: nothing about it is logged, so an activation rebuilt from the log
//! (a restart, a failover) sends the whole bot phase again, under the same `webhook-id`s.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde_json::json;

use super::ConversationActor;
use crate::domain::conversation::Status;
use crate::protocol::{AuthorRole, EventKind, HandoverBy, LogEvent};

/// The first retry's delay; it doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Attempts at an event once the chat has left the bot (its `conversation.ended`): then it is
/// given up, since nothing waits on it.
const ATTEMPTS_AFTER_THE_BOT: u32 = 5;

/// The conversation's undelivered bot events.
#[derive(Default)]
pub(crate) struct Feed {
    pending: VecDeque<(&'static str, Arc<LogEvent>)>,
    in_flight: bool,
    attempts: u32,
}

/// The webhook type of an event in the bot's feed, given the status before and after it.
fn feed_type(before: Status, after: Status, event: &LogEvent) -> Option<&'static str> {
    match &event.kind {
        EventKind::BotEngaged { .. } => Some("conversation.started"),
        EventKind::Message { .. }
            if event.author.role == AuthorRole::Customer && after == Status::Bot =>
        {
            Some("message.created")
        }
        // The bot hears of its own failed handover in the answer to its request.
        EventKind::HandoverFailed { by, .. } if after == Status::Bot && *by != HandoverBy::Bot => {
            Some("handover.failed")
        }
        EventKind::HandedOver { .. } => Some("conversation.handed_over"),
        EventKind::Ended { .. } if before == Status::Bot => Some("conversation.ended"),
        _ => None,
    }
}

impl ConversationActor {
    /// Called for every applied event: queues what the bot must hear. At a handover the bot is
    /// told so, and hears nothing more of this chat (what it had not yet been sent is dropped).
    pub(super) fn feed_bot(
        &mut self,
        before: Status,
        event: &Arc<LogEvent>,
        ctx: &mut Context<Self>,
    ) {
        if before != Status::Bot && !matches!(event.kind, EventKind::BotEngaged { .. }) {
            return;
        }
        if matches!(event.kind, EventKind::HandedOver { .. }) {
            let on_its_way = usize::from(self.bot_feed.in_flight);
            self.bot_feed.pending.truncate(on_its_way);
        }
        if let Some(kind) = feed_type(before, self.state.status, event) {
            self.bot_feed.pending.push_back((kind, event.clone()));
            self.pump_bot(ctx);
        }
    }

    /// After a rebuild: a chat still with its bot sends its bot phase again (at least once).
    pub(super) fn refeed_bot(&mut self, events: &[Arc<LogEvent>], ctx: &mut Context<Self>) {
        if self.state.status != Status::Bot {
            return;
        }
        let mut status = Status::Waiting;
        for e in events {
            let before = status;
            if matches!(e.kind, EventKind::BotEngaged { .. }) {
                status = Status::Bot;
            }
            if let Some(kind) = feed_type(before, status, e) {
                self.bot_feed.pending.push_back((kind, e.clone()));
            }
        }
        self.pump_bot(ctx);
    }

    /// Sends the oldest undelivered event, unless one is on its way.
    pub(super) fn pump_bot(&mut self, ctx: &mut Context<Self>) {
        if self.bot_feed.in_flight || self.fenced {
            return;
        }
        let Some((kind, event)) = self.bot_feed.pending.front().cloned() else {
            return;
        };
        let bot = self.org().and_then(|o| o.settings.bot.clone());
        let Some((bot, secret)) = bot.and_then(|b| b.secret.clone().map(|s| (b, s))) else {
            // The org no longer has a bot: nobody to tell.
            self.bot_feed.pending.clear();
            return;
        };
        let id = format!("{}.{}", self.key.id, event.seq);
        let body = json!({
            "id": id,
            "type": kind,
            "org": self.key.org,
            "conversation": self.key.id,
            "seq": event.seq,
            "at": event.at,
            "bot": bot.id,
            "customer": {
                "id": self.state.customer,
                "name": self.state.customer_name,
                "email": self.state.customer_email,
            },
            "channel": self.state.channel,
            "reason": self.state.reason,
            "case_id": self.state.case_id,
            "event": event.as_ref(),
        });
        let delivery = crate::webhook::Delivery {
            url: bot.url.clone(),
            secret,
            id,
            body: body.to_string().into_bytes(),
            timeout: Duration::from_millis(bot.request_timeout_ms),
            allow_private: bot.allow_private_network,
        };
        self.bot_feed.in_flight = true;
        let seq = event.seq;
        let sent = crate::webhook::send(delivery);
        ctx.spawn(sent.into_actor(self).map(move |res, act, ctx| {
            act.bot_feed.in_flight = false;
            let front = act.bot_feed.pending.front().map(|(_, e)| e.seq);
            match res {
                Ok(()) => {
                    crate::metrics::Metrics::inc(&act.rt.metrics.bot_webhooks_delivered);
                    if front == Some(seq) {
                        act.bot_feed.pending.pop_front();
                    }
                    act.bot_feed.attempts = 0;
                    act.pump_bot(ctx);
                }
                Err(err) => {
                    crate::metrics::Metrics::inc(&act.rt.metrics.bot_webhooks_failed);
                    act.bot_feed.attempts += 1;
                    let attempts = act.bot_feed.attempts;
                    tracing::warn!(conversation = %act.key.id, seq, attempts, %err, "The bot's webhook failed; retrying.");
                    if act.state.status != Status::Bot && attempts >= ATTEMPTS_AFTER_THE_BOT {
                        act.bot_feed.pending.pop_front();
                        act.bot_feed.attempts = 0;
                        act.pump_bot(ctx);
                        return;
                    }
                    let backoff = FIRST_BACKOFF
                        .saturating_mul(1 << attempts.min(8).saturating_sub(1))
                        .min(MAX_BACKOFF);
                    ctx.run_later(backoff, |act, ctx| act.pump_bot(ctx));
                }
            }
        }));
    }
}
