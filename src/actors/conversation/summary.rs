//! The conversation's summary (what REST lists and queries: status, owner, counts …): built
//! from the state, written in order through one snapshot writer, at once on a change of status
//! and at most every `SUMMARY_FLUSH` otherwise.

use actix::prelude::*;

use super::*;

impl ConversationActor {
    /// Resolves once the latest summary handed to the writer is stored (or after a bound).
    pub(super) fn summary_stored(
        &self,
    ) -> Option<impl std::future::Future<Output = Result<(), CommandError>> + 'static> {
        let within = Duration::from_millis(self.rt.settings.engine.redis.command_timeout_ms * 2);
        self.summaries
            .as_ref()
            .map(|w| w.saved(self.summary_version, within))
    }

    pub(crate) fn summary(&self) -> Option<ConversationSummary> {
        let s = &self.state;
        Some(ConversationSummary {
            id: self.key.id.clone(),
            org: self.key.org.clone(),
            status: self.status(),
            customer: s.customer.clone(),
            customer_name: s.customer_name.clone(),
            customer_email: s.customer_email.clone(),
            queue: s.queue.clone(),
            reason: s.reason.clone(),
            case_id: s.case_id.clone(),
            channel: s.channel.clone(),
            owner: s.owner.clone(),
            agents: s.agents.clone(),
            created_at: s.created_at?,
            waiting_since: s.waiting_since,
            priority: s.priority,
            ended_at: s.ended_at,
            last_seq: s.last_seq,
            messages: s.messages,
            disposition: s.disposition.clone(),
            survey_rating: s.survey,
            bot: s.bot.as_ref().map(|bot| crate::engine::BotPhase {
                bot: bot.clone(),
                handed_over_at: s.handed_over_at,
            }),
            tickets: s.tickets.clone(),
        })
    }

    pub(crate) fn write_summary_now(&mut self) {
        if self.fenced {
            return;
        }
        self.summary_dirty = false;
        self.summary_written = true;
        if let Some(summary) = self.summary() {
            let engine = self.rt.engine.clone();
            let writer = self.summaries.get_or_insert_with(|| {
                SnapshotWriter::spawn(
                    format!("summary of {}", summary.id),
                    move |s| engine.put_summary(s),
                    || {},
                )
            });
            self.summary_version = writer.save(summary);
        }
    }

    pub(super) fn schedule_summary_flush(&mut self, ctx: &mut Context<Self>) {
        if self.summary_flush.is_some() {
            return;
        }
        self.summary_flush = Some(ctx.run_later(SUMMARY_FLUSH, |act, _| {
            act.summary_flush = None;
            if act.summary_dirty {
                act.write_summary_now();
            }
        }));
    }
}
