//! What goes out to the client: live events in order and without gaps (a gap is filled from
//! the log), following and unfollowing conversations, and resuming from a seq. The ordering
//! rules themselves are the pure [`super::cursor::Cursor`].

use std::sync::Arc;

use super::close_codes;
use crate::actors::conversation::{Access, ConversationActor};
use crate::actors::route::{ask_here, tell};
use crate::domain::conversation::Status;
use crate::hub::{Audience, Control, EventDelivery, Outbound};
use crate::ids::{ConvKey, ConversationId};
use crate::metrics::Metrics;
use crate::protocol::server::AckData;
use crate::protocol::{CommandError, LogEvent, ServerFrame, Signal};

use super::cursor::Live;
use super::{Follow, Session, Stop, REPLAY_PAGE};

impl Session {
    pub(in crate::gateway) async fn outbound(&mut self, item: Outbound) -> Result<(), Stop> {
        match item {
            Outbound::Text(t) => self.send(t).await,
            Outbound::Event(d) => self.deliver(d).await,
            Outbound::Control(Control::Follow(c)) => {
                // A session may follow it already (a transfer target that resumed it while
                // the request was pending): it still gets `joined` (PROTOCOL §4.14), and the
                // fill below sends only what it has not seen.
                if !self.follows.contains_key(&c) {
                    self.rt
                        .hub
                        .follow(&self.conv_key(&c), self.handle.clone())
                        .await;
                    self.follows
                        .insert(c.clone(), Follow::new(self.handle.audience, 0));
                }
                let signal = Signal::Joined {
                    conversation: c.clone(),
                };
                self.send(ServerFrame::Signal(&signal).to_json()).await?;
                self.fill(&c).await
            }
            Outbound::ResyncOne(c) => self.fill(&c).await,
            Outbound::Resync => {
                let followed: Vec<ConversationId> = self.follows.keys().cloned().collect();
                for c in followed {
                    self.fill(&c).await?;
                }
                Ok(())
            }
            Outbound::Control(Control::Unfollow(c)) => {
                if self.follows.remove(&c).is_some() {
                    self.rt.hub.unfollow(&self.conv_key(&c), self.handle.id);
                    let signal = Signal::Left { conversation: c };
                    self.send(ServerFrame::Signal(&signal).to_json()).await?;
                }
                Ok(())
            }
        }
    }

    /// Delivers a live event if it is the next one for this client; fills a gap from the log
    /// first if there is one; drops what the client already has or may not see.
    pub(in crate::gateway) async fn deliver(&mut self, d: Arc<EventDelivery>) -> Result<(), Stop> {
        let Some(cursor) = self.follows.get(&d.conversation).copied() else {
            return Ok(());
        };
        match cursor.on_live(d.seq, d.prev_public, d.visibility) {
            Live::Skip => Ok(()),
            Live::Gap => self.fill(&d.conversation).await,
            Live::Send => {
                let frame = match cursor.audience {
                    Audience::Agent => Some(&d.agent_frame),
                    Audience::Customer => d.customer_frame.as_ref(),
                };
                if let Some(frame) = frame {
                    self.send(frame.clone()).await?;
                    if let Some(applied) = d.applied_at {
                        Metrics::observe(&self.rt.metrics.delivery, applied.elapsed());
                    }
                }
                if let Some(c) = self.follows.get_mut(&d.conversation) {
                    c.delivered(d.seq);
                }
                Ok(())
            }
        }
    }

    /// Sends everything after the client's last seq from the log. For customers, `last` stays
    /// on the last public event while the read position moves past agent-only ones.
    pub(in crate::gateway) async fn fill(
        &mut self,
        conversation: &ConversationId,
    ) -> Result<(), Stop> {
        let Some(mut cursor) = self.follows.get(conversation).copied() else {
            return Ok(());
        };
        let key = self.conv_key(conversation);
        let mut read_pos = cursor.last;
        loop {
            let slice = match self.rt.engine.read_log(&key, read_pos, REPLAY_PAGE).await {
                Ok(Some(slice)) => slice,
                Ok(None) => return Ok(()),
                Err(err) => {
                    tracing::warn!(%conversation, %err, "Could not read the log to fill a gap; the client will resume.");
                    return Err(Stop::Close(
                        close_codes::TRY_AGAIN_LATER,
                        "log unavailable; resume",
                    ));
                }
            };
            for event in &slice.events {
                if let Some(prev) = cursor.replay_prev(event.seq, event.visibility) {
                    self.send(event_frame(conversation, &slice.epoch, event, prev))
                        .await?;
                    cursor.delivered(event.seq);
                }
                read_pos = event.seq;
            }
            if let Some(c) = self.follows.get_mut(conversation) {
                c.delivered(cursor.last);
            }
            if slice.events.is_empty() || read_pos >= slice.last_seq {
                return Ok(());
            }
        }
    }

    /// Follows a conversation from `last_seq`: checks access, registers with the hub, then
    /// replays from the log (live events that arrive meanwhile wait in the inbox and are
    /// de-duplicated by seq). The inner error is the conversation's refusal (or that it could
    /// not be reached); the outer one ends the session.
    pub(in crate::gateway) async fn follow_from(
        &mut self,
        conversation: &ConversationId,
        last_seq: u64,
        epoch: Option<&str>,
    ) -> Result<Result<AckData, CommandError>, Stop> {
        let key = self.conv_key(conversation);
        let access = Access {
            who: self.who.clone(),
        };
        let audience = match ask_here::<ConversationActor, _>(&self.rt, &key, access).await {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        self.rt.hub.follow(&key, self.handle.clone()).await;
        let current = self.rt.engine.read_log(&key, 0, 0).await.ok().flatten();
        let (log_epoch, log_last) =
            current.map_or((String::new(), 0), |s| (s.epoch.to_string(), s.last_seq));
        let recovered = epoch.is_none_or(|e| e == log_epoch) && last_seq <= log_last;
        let start = if recovered { last_seq } else { 0 };
        self.follows.insert(
            conversation.clone(),
            Follow {
                audience,
                last: start,
            },
        );
        let signal = Signal::Resumed {
            conversation: conversation.clone(),
            recovered,
            epoch: log_epoch,
            last_seq: log_last,
        };
        self.send(ServerFrame::Signal(&signal).to_json()).await?;
        self.fill(conversation).await?;
        if audience == Audience::Customer {
            self.retell_position(&key).await;
        }
        Ok(Ok(AckData::Resumed { recovered }))
    }

    /// A customer back on a waiting conversation gets its queue position again.
    pub(in crate::gateway) async fn retell_position(&self, key: &ConvKey) {
        if let Ok(Some(s)) = self.rt.engine.summary(key).await {
            if let (Status::Waiting | Status::Assigning, Some(queue)) = (s.status, s.queue) {
                let qkey = crate::ids::QueueKey {
                    org: key.org.clone(),
                    id: queue,
                };
                let retell = crate::actors::queue::Retell {
                    conversation: key.id.clone(),
                };
                tell::<crate::actors::queue::QueueActor, _>(&self.rt, &qkey, retell);
            }
        }
    }
}

/// An event frame carrying `prev`, the seq of the previous event this client may see.
fn event_frame(conversation: &ConversationId, epoch: &str, event: &LogEvent, prev: u64) -> String {
    ServerFrame::Event {
        conversation,
        seq: event.seq,
        prev,
        epoch,
        event,
    }
    .to_json()
}
