//! What an agent puts on the customer's screen besides text: a pushed URL (seed 004), and the
//! other way round, what agents see of the customer's unsent text (the typing preview).

use std::time::{Duration, Instant};

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::{dedup_key, reply, ConversationActor, Reply, Who};
use crate::engine::NewEvent;
use crate::protocol::{CommandError, EventKind, Signal};

/// An agent in the chat pushes a URL: logged (public) as `url_pushed`; the customer's page
/// shows it and opens it only when the customer clicks. Retried like `send`.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(u64, bool), CommandError>")]
pub struct PushUrl {
    pub who: Who,
    pub client_msg_id: String,
    /// Already parsed and normalised ([`crate::domain::text::pushed_url`]).
    pub url: String,
}

impl Handler<PushUrl> for ConversationActor {
    type Result = Reply<(u64, bool)>;

    fn handle(&mut self, msg: PushUrl, _: &mut Self::Context) -> Self::Result {
        if matches!(msg.who, Who::Customer(_)) {
            return reply(Err(CommandError::forbidden("this command is for agents")));
        }
        if let Err(e) = self.ready().and_then(|_| self.check_party(&msg.who)) {
            return reply(Err(e));
        }
        let author = msg.who.author();
        let key = format!(
            "u{}",
            dedup_key(&author.role, author.id.as_deref(), &msg.client_msg_id)
        );
        if let Some(seq) = self.dedup.get(&key) {
            return reply(Ok((seq, true)));
        }
        if let Err(e) = self.check_open() {
            return reply(Err(e));
        }
        let new = NewEvent {
            author,
            kind: EventKind::UrlPushed {
                url: msg.url,
                client_msg_id: msg.client_msg_id,
            },
            dedup_key: Some(key),
        };
        self.append_keyed(new)
    }
}

/// The customer's typing preview on its way to the agents: at most one signal per interval,
/// the latest text winning (live state of this activation only; never logged).
#[derive(Default)]
pub(crate) struct PreviewThrottle {
    last_sent: Option<Instant>,
    /// Text that arrived within the interval, sent when it is over.
    pending: Option<String>,
    flush: Option<SpawnHandle>,
}

impl ConversationActor {
    /// Whether the customer's typing may carry its text to the agents: the org's setting, read
    /// each time (turning it off stops previews at once).
    pub(super) fn preview_allowed(&self) -> bool {
        self.org().is_some_and(|o| o.settings.typing_preview)
    }

    /// Sends the typing signal to the agents, throttling the customer's previews.
    pub(super) fn customer_typing(
        &mut self,
        on: bool,
        preview: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let preview = preview.filter(|_| on && self.preview_allowed());
        let Some(text) = preview else {
            // Typing without text (or stopped): at once, and nothing pending goes out after it.
            self.drop_pending_preview(ctx);
            self.typing_to_agents(on, None);
            return;
        };
        let interval = Duration::from_millis(self.rt.settings.limits.typing_preview_ms);
        let since = self.preview.last_sent.map(|t| t.elapsed());
        match since {
            Some(since) if since < interval => {
                self.preview.pending = Some(text);
                if self.preview.flush.is_none() {
                    let handle = ctx.run_later(interval - since, |act, _| {
                        act.preview.flush = None;
                        if let Some(text) = act.preview.pending.take() {
                            if act.state.status.is_open() && act.preview_allowed() {
                                act.preview.last_sent = Some(Instant::now());
                                act.typing_to_agents(true, Some(text));
                            }
                        }
                    });
                    self.preview.flush = Some(handle);
                }
            }
            _ => {
                self.preview.pending = None;
                self.preview.last_sent = Some(Instant::now());
                self.typing_to_agents(true, Some(text));
            }
        }
    }

    fn drop_pending_preview(&mut self, ctx: &mut Context<Self>) {
        self.preview.pending = None;
        if let Some(handle) = self.preview.flush.take() {
            ctx.cancel_future(handle);
        }
    }

    fn typing_to_agents(&self, on: bool, preview: Option<String>) {
        let signal = Signal::Typing {
            conversation: self.key.id.clone(),
            who: "customer".to_string(),
            on,
            preview,
        };
        self.rt
            .hub
            .signal_conversation(&self.key, false, true, &signal);
    }
}
