//! What a report counts of one finished conversation (issue 14, "Reports"): computed once, from
//! the archived log and summary, when the conversation is archived. The figures of a report
//! (`domain/figures.rs`) are aggregates of these. Definitions: docs/PROTOCOL.md §9.10.
//!
//! - **wait**: the first `queued` → the first `assigned`.
//! - **first response**: the first `assigned` → the first public `message` by an agent.
//! - **handle time**: the first `assigned` → `ended`.
//! - **transfers**: accepted transfers to an agent, transfers to a queue, and consultations
//!   turned into a transfer (ownership passing to a consultant).
//! - **abandoned**: the chat ended before any agent was assigned — except a chat the bot handled
//!   alone (issue 15): it was handled, by the bot.
//! - **handling**: `bot` (started with the bot, ended without a handover), `bot_then_human`
//!   (handed over), `human` (no bot); **bot time**: `bot_engaged` → `handed_over` or `ended`.
//!
//! Every agent who owned the chat — by assignment, an accepted transfer or ownership passing to
//! it — handled it, with its own figures over its own time as owner ([`OwnerMetrics`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::ids::{AgentId, ConversationId, QueueId};
use crate::protocol::{AuthorRole, EventKind, LogEvent, ParticipantRole, Visibility};

/// Who handled a conversation: the bot alone, the bot and then people, or people only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Handling {
    #[default]
    Human,
    Bot,
    BotThenHuman,
}

impl Handling {
    pub fn as_str(self) -> &'static str {
        match self {
            Handling::Human => "human",
            Handling::Bot => "bot",
            Handling::BotThenHuman => "bot_then_human",
        }
    }

    /// The stored name back; anything else (rows written before the bot existed) is `human`.
    pub fn parse(s: &str) -> Self {
        match s {
            "bot" => Handling::Bot,
            "bot_then_human" => Handling::BotThenHuman,
            _ => Handling::Human,
        }
    }
}

/// One conversation's contribution to the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationMetrics {
    pub conversation: ConversationId,
    /// The queue its row is in: the one the customer entered (its `created` event's; a chat
    /// the bot handled alone too), or for a chat the bot handed over, the handover's queue —
    /// where it waited for a person.
    pub queue: QueueId,
    pub ended_at: DateTime<Utc>,
    pub wait_ms: Option<i64>,
    pub first_response_ms: Option<i64>,
    pub handle_ms: Option<i64>,
    pub transfers: u32,
    /// Ended before any agent was assigned (and not handled by the bot alone).
    pub abandoned: bool,
    /// The customer's survey answer (0–10).
    pub rating: Option<u8>,
    pub handling: Handling,
    /// Its time with the bot: `bot_engaged` → `handed_over`, or → `ended` without a handover.
    pub bot_ms: Option<i64>,
    /// Each agent who owned it, in the order they first did.
    pub owners: Vec<OwnerMetrics>,
}

/// One owner's share of a conversation: its own times as owner (an agent who owned the chat
/// twice has the sum of both stints as handle time, and the first of them for the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerMetrics {
    pub agent: AgentId,
    /// Queued → assigned, where this agent took the chat from a queue (not by a transfer).
    pub wait_ms: Option<i64>,
    /// Start of its ownership → its first public message after it.
    pub first_response_ms: Option<i64>,
    /// Its time as owner: from each start of its ownership to the next owner, a transfer to a
    /// queue, parking or the end.
    pub handle_ms: i64,
    /// Transfers out of its hands (to an agent, a queue, or a consultant).
    pub transfers: u32,
    /// The survey answer, given to the last owner only (the one the customer rated at the end).
    pub rating: Option<u8>,
}

fn ms(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds().max(0)
}

/// The current owner's time as owner so far.
struct Stint {
    agent: AgentId,
    since: DateTime<Utc>,
}

/// What the archive knows of a conversation besides its log (from its summary): the end time
/// and survey answer, used where the log has none.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    pub conversation: &'a ConversationId,
    pub ended_at: Option<DateTime<Utc>>,
    pub survey_rating: Option<u8>,
}

/// One pass over a log: what it has seen so far.
#[derive(Default)]
struct Walk {
    owners: Vec<OwnerMetrics>,
    stint: Option<Stint>,
    /// Each participant's current role: a new owner who was a consultant means a transfer.
    roles: HashMap<String, ParticipantRole>,
    /// The last `queued` not yet followed by an assignment.
    queued_at: Option<DateTime<Utc>>,
    first_queued: Option<DateTime<Utc>>,
    /// The queue of the first `queued` after the bot's handover.
    handover_queue: Option<QueueId>,
    /// When the bot took the chat (`bot_engaged`), and when it handed it over.
    bot_engaged: Option<DateTime<Utc>>,
    handed_over: Option<DateTime<Utc>>,
    first_assigned: Option<DateTime<Utc>>,
    first_reply: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    transfers: u32,
    rating: Option<u8>,
    /// The agent whose ownership began last: the one the customer rates at the end.
    last_owner: Option<AgentId>,
}

impl Walk {
    fn owner(&mut self, agent: &AgentId) -> Option<&mut OwnerMetrics> {
        self.owners.iter_mut().find(|o| &o.agent == agent)
    }

    /// Ends the current stint at `at`, adding its time to its owner.
    fn close(&mut self, at: DateTime<Utc>) {
        if let Some(s) = self.stint.take() {
            if let Some(o) = self.owner(&s.agent) {
                o.handle_ms += ms(s.since, at);
            }
        }
    }

    /// `agent` becomes the owner at `at`, after `wait_ms` in a queue where it took it from one.
    fn open(&mut self, agent: &AgentId, at: DateTime<Utc>, wait_ms: Option<i64>) {
        self.close(at);
        if self.owner(agent).is_none() {
            self.owners.push(OwnerMetrics {
                agent: agent.clone(),
                wait_ms,
                first_response_ms: None,
                handle_ms: 0,
                transfers: 0,
                rating: None,
            });
        }
        self.stint = Some(Stint {
            agent: agent.clone(),
            since: at,
        });
        self.last_owner = Some(agent.clone());
    }

    /// A transfer out of `from`'s hands.
    fn transfer(&mut self, from: &AgentId) {
        self.transfers += 1;
        if let Some(o) = self.owner(from) {
            o.transfers += 1;
        }
    }

    /// A public message by the agent `author`.
    fn agent_message(&mut self, author: Option<&str>, at: DateTime<Utc>) {
        if self.first_assigned.is_some() {
            self.first_reply.get_or_insert(at);
        }
        let Some((agent, since)) = self
            .stint
            .as_ref()
            .filter(|s| Some(s.agent.as_str()) == author)
            .map(|s| (s.agent.clone(), s.since))
        else {
            return;
        };
        if let Some(o) = self.owner(&agent) {
            o.first_response_ms.get_or_insert(ms(since, at));
        }
    }

    fn event(&mut self, e: &LogEvent) {
        match &e.kind {
            EventKind::Queued { queue, .. } => {
                self.first_queued.get_or_insert(e.at);
                if self.handed_over.is_some() {
                    self.handover_queue.get_or_insert_with(|| queue.clone());
                }
                self.queued_at = Some(e.at);
            }
            EventKind::Assigned { agent, .. } => {
                self.first_assigned.get_or_insert(e.at);
                let wait = self.queued_at.take().map(|q| ms(q, e.at));
                self.open(agent, e.at, wait);
            }
            EventKind::TransferAccepted { from, to } => {
                self.transfer(from);
                self.open(to, e.at, None);
            }
            EventKind::OwnershipChanged { from, to, .. } => {
                if self.roles.get(to.as_str()) == Some(&ParticipantRole::Consult) {
                    self.transfer(from);
                }
                self.open(to, e.at, None);
            }
            EventKind::TransferredToQueue { from, .. } => {
                self.transfer(from);
                self.close(e.at);
            }
            EventKind::Parked { .. } => self.close(e.at),
            EventKind::ParticipantJoined {
                participant, role, ..
            } => {
                self.roles.insert(participant.clone(), *role);
            }
            EventKind::RoleChanged {
                participant, to, ..
            } => {
                self.roles.insert(participant.to_string(), *to);
            }
            EventKind::Message { .. }
                if e.author.role == AuthorRole::Agent && e.visibility == Visibility::Public =>
            {
                self.agent_message(e.author.id.as_deref(), e.at);
            }
            EventKind::Ended { .. } => {
                self.ended.get_or_insert(e.at);
                self.close(e.at);
            }
            EventKind::Survey { rating, .. } => self.rating = Some(*rating),
            EventKind::BotEngaged { .. } => {
                self.bot_engaged.get_or_insert(e.at);
            }
            EventKind::HandedOver { .. } => {
                self.handed_over.get_or_insert(e.at);
            }
            _ => {}
        }
    }
}

/// The figures of one finished conversation, or `None` for a chat between agents (no customer:
/// not in the reports) and a log without its `created` event.
pub fn conversation_metrics(known: Known, events: &[&LogEvent]) -> Option<ConversationMetrics> {
    let entry_queue = events.iter().find_map(|e| match &e.kind {
        EventKind::Created {
            customer: Some(_),
            queue,
            ..
        } => Some(queue.clone()),
        _ => None,
    })?;
    let mut walk = Walk::default();
    for e in events {
        walk.event(e);
    }
    let ended_at = walk
        .ended
        .or(known.ended_at)
        .or_else(|| events.last().map(|e| e.at))?;
    walk.close(ended_at);
    let rating = walk.rating.or(known.survey_rating);
    if let Some(last) = walk.last_owner.clone() {
        if let Some(o) = walk.owner(&last) {
            o.rating = rating;
        }
    }
    let first_assigned = walk.first_assigned;
    let handling = match (walk.bot_engaged, walk.handed_over) {
        (None, _) => Handling::Human,
        (Some(_), None) => Handling::Bot,
        (Some(_), Some(_)) => Handling::BotThenHuman,
    };
    let bot_ms = walk
        .bot_engaged
        .map(|b| ms(b, walk.handed_over.unwrap_or(ended_at)));
    Some(ConversationMetrics {
        conversation: known.conversation.clone(),
        queue: walk.handover_queue.unwrap_or(entry_queue),
        ended_at,
        wait_ms: walk.first_queued.zip(first_assigned).map(|(q, a)| ms(q, a)),
        first_response_ms: first_assigned.zip(walk.first_reply).map(|(a, r)| ms(a, r)),
        handle_ms: first_assigned.map(|a| ms(a, ended_at)),
        transfers: walk.transfers,
        abandoned: first_assigned.is_none() && handling != Handling::Bot,
        rating,
        handling,
        bot_ms,
        owners: walk.owners,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::{json, Value};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
            .single()
            .expect("time")
    }

    /// A log from `(second, author role, author id, kind and fields)`, seqs from 1.
    fn log(entries: &[(i64, &str, &str, Value)]) -> Vec<LogEvent> {
        entries
            .iter()
            .enumerate()
            .map(|(i, (sec, role, id, body))| {
                let mut v = json!({
                    "seq": i + 1,
                    "at": (t0() + chrono::Duration::seconds(*sec)).to_rfc3339(),
                    "author": { "role": role, "id": id },
                    "visibility": "public",
                });
                if let (Some(v), Some(body)) = (v.as_object_mut(), body.as_object()) {
                    v.extend(body.clone());
                }
                let mut e: LogEvent = serde_json::from_value(v).expect("event");
                e.visibility = e.kind.visibility();
                e
            })
            .collect()
    }

    fn id() -> ConversationId {
        ConversationId::parse("c1").expect("id")
    }

    fn known(id: &ConversationId, survey_rating: Option<u8>) -> Known<'_> {
        Known {
            conversation: id,
            ended_at: None,
            survey_rating,
        }
    }

    fn metrics(entries: &[(i64, &str, &str, Value)]) -> Option<ConversationMetrics> {
        let events = log(entries);
        let refs: Vec<&LogEvent> = events.iter().collect();
        conversation_metrics(known(&id(), None), &refs)
    }

    fn created(queue: &str) -> (i64, &'static str, &'static str, Value) {
        (
            0,
            "customer",
            "cu",
            json!({"kind": "created", "customer": "cu", "customer_name": "Ada",
                   "verified": false, "queue": queue, "channel": "web"}),
        )
    }

    fn queued(sec: i64, queue: &str) -> (i64, &'static str, &'static str, Value) {
        (
            sec,
            "system",
            "",
            json!({"kind": "queued", "queue": queue, "priority": 0}),
        )
    }

    fn assigned(sec: i64, agent: &str) -> (i64, &'static str, &'static str, Value) {
        (
            sec,
            "system",
            "",
            json!({"kind": "assigned", "agent": agent, "agent_name": agent}),
        )
    }

    fn say<'a>(sec: i64, role: &'a str, id: &'a str) -> (i64, &'a str, &'a str, Value) {
        (
            sec,
            role,
            id,
            json!({"kind": "message", "text": "hi", "client_msg_id": format!("m{sec}")}),
        )
    }

    fn ended(sec: i64) -> (i64, &'static str, &'static str, Value) {
        (
            sec,
            "customer",
            "cu",
            json!({"kind": "ended", "reason": "customer"}),
        )
    }

    fn agent(id: &str) -> AgentId {
        AgentId::parse(id).expect("agent")
    }

    #[test]
    fn a_plain_chat_has_its_wait_first_response_handle_time_and_survey() {
        let m = metrics(&[
            created("general"),
            queued(0, "general"),
            say(2, "customer", "cu"),
            assigned(10, "al"),
            (
                12,
                "agent",
                "al",
                json!({"kind": "note", "text": "private"}),
            ),
            say(15, "agent", "al"),
            ended(70),
            (75, "customer", "cu", json!({"kind": "survey", "rating": 9})),
        ])
        .expect("a customer chat");
        assert_eq!(m.queue.as_str(), "general");
        assert_eq!(m.ended_at, t0() + chrono::Duration::seconds(70));
        assert_eq!(
            (m.wait_ms, m.first_response_ms, m.handle_ms),
            (Some(10_000), Some(5_000), Some(60_000))
        );
        assert_eq!((m.transfers, m.abandoned, m.rating), (0, false, Some(9)));
        assert_eq!(
            m.owners,
            vec![OwnerMetrics {
                agent: agent("al"),
                wait_ms: Some(10_000),
                first_response_ms: Some(5_000),
                handle_ms: 60_000,
                transfers: 0,
                rating: Some(9),
            }]
        );
    }

    #[test]
    fn a_transferred_chat_counts_for_each_owner_over_its_own_time() {
        let m = metrics(&[
            created("general"),
            queued(0, "general"),
            assigned(4, "al"),
            say(6, "agent", "al"),
            (
                20,
                "agent",
                "al",
                json!({"kind": "transfer_requested", "from": "al", "to": "bo"}),
            ),
            (
                30,
                "agent",
                "bo",
                json!({"kind": "transfer_accepted", "from": "al", "to": "bo"}),
            ),
            say(31, "agent", "al"), // no longer the owner: not bo's reply
            say(38, "agent", "bo"),
            (
                50,
                "agent",
                "bo",
                json!({"kind": "transferred_to_queue", "from": "bo", "queue": "billing"}),
            ),
            queued(50, "billing"),
            assigned(80, "cy"),
            ended(100),
            (
                101,
                "customer",
                "cu",
                json!({"kind": "survey", "rating": 3}),
            ),
        ])
        .expect("a customer chat");
        assert_eq!(m.queue.as_str(), "general", "the queue it entered");
        assert_eq!((m.transfers, m.abandoned), (2, false));
        assert_eq!(
            (m.wait_ms, m.first_response_ms, m.handle_ms),
            (Some(4_000), Some(2_000), Some(96_000))
        );
        let owner = |id: &str| m.owners.iter().find(|o| o.agent.as_str() == id).cloned();
        let al = owner("al").expect("al");
        assert_eq!(
            (
                al.wait_ms,
                al.first_response_ms,
                al.handle_ms,
                al.transfers,
                al.rating
            ),
            (Some(4_000), Some(2_000), 26_000, 1, None)
        );
        let bo = owner("bo").expect("bo");
        assert_eq!(
            (
                bo.wait_ms,
                bo.first_response_ms,
                bo.handle_ms,
                bo.transfers,
                bo.rating
            ),
            (None, Some(8_000), 20_000, 1, None)
        );
        let cy = owner("cy").expect("cy");
        assert_eq!(
            (
                cy.wait_ms,
                cy.first_response_ms,
                cy.handle_ms,
                cy.transfers,
                cy.rating
            ),
            (Some(30_000), None, 20_000, 0, Some(3)),
            "waited 30 s in billing; never wrote; rated last"
        );
        assert_eq!(
            m.owners
                .iter()
                .map(|o| o.agent.as_str())
                .collect::<Vec<_>>(),
            ["al", "bo", "cy"]
        );
    }

    #[test]
    fn a_consultation_turned_transfer_is_a_transfer_and_a_conference_hand_over_is_not() {
        let joined = |sec, who: &'static str, role: &str| {
            (
                sec,
                "agent",
                who,
                json!({"kind": "participant_joined", "participant": who, "name": who, "role": role}),
            )
        };
        let passed = |sec, from: &str, to: &str| {
            (
                sec,
                "agent",
                "",
                json!({"kind": "ownership_changed", "from": from, "to": to, "name": to}),
            )
        };
        let m = metrics(&[
            created("general"),
            queued(0, "general"),
            assigned(1, "al"),
            joined(2, "bo", "consult"),
            passed(5, "al", "bo"),
            joined(6, "cy", "conference"),
            passed(9, "bo", "cy"),
            ended(10),
        ])
        .expect("a customer chat");
        assert_eq!(m.transfers, 1);
        let handles: Vec<(&str, i64, u32)> = m
            .owners
            .iter()
            .map(|o| (o.agent.as_str(), o.handle_ms, o.transfers))
            .collect();
        assert_eq!(
            handles,
            [("al", 4_000, 1), ("bo", 4_000, 0), ("cy", 1_000, 0)]
        );
    }

    #[test]
    fn a_chat_ended_before_any_agent_is_abandoned() {
        let m = metrics(&[
            created("general"),
            queued(0, "general"),
            say(3, "customer", "cu"),
            ended(40),
        ])
        .expect("a customer chat");
        assert!(m.abandoned);
        assert_eq!(
            (m.wait_ms, m.first_response_ms, m.handle_ms),
            (None, None, None)
        );
        assert!(m.owners.is_empty());
    }

    #[test]
    fn no_agent_message_means_no_first_response_and_agents_only_messages_do_not_count() {
        let m = metrics(&[
            created("general"),
            queued(0, "general"),
            assigned(2, "al"),
            (
                3,
                "agent",
                "al",
                json!({"kind": "internal", "text": "x", "client_msg_id": "i"}),
            ),
            ended(9),
        ])
        .expect("a customer chat");
        assert_eq!((m.first_response_ms, m.handle_ms), (None, Some(7_000)));
        assert_eq!(m.owners[0].first_response_ms, None);
        assert_eq!(m.rating, None);
    }

    #[test]
    fn the_summarys_survey_counts_when_the_log_has_none_and_parking_ends_a_stint() {
        let events = log(&[
            created("general"),
            queued(0, "general"),
            assigned(1, "al"),
            (5, "system", "", json!({"kind": "parked", "previous": "al"})),
            queued(20, "general"),
            assigned(22, "al"),
            ended(30),
        ]);
        let refs: Vec<&LogEvent> = events.iter().collect();
        let m = conversation_metrics(known(&id(), Some(10)), &refs).expect("a customer chat");
        assert_eq!(m.rating, Some(10));
        assert_eq!(m.owners.len(), 1);
        assert_eq!(
            (
                m.owners[0].handle_ms,
                m.owners[0].wait_ms,
                m.owners[0].rating
            ),
            (12_000, Some(1_000), Some(10)),
            "4 s + 8 s as owner; the wait of its first assignment"
        );
    }

    fn bot_engaged() -> (i64, &'static str, &'static str, Value) {
        (
            0,
            "system",
            "",
            json!({"kind": "bot_engaged", "bot": "ava", "name": "Ava (bot)"}),
        )
    }

    /// A handover at `sec` (by the bot) to `queue`: `handed_over`, `intake`, `queued` in one
    /// append.
    fn handover(sec: i64, queue: &str) -> Vec<(i64, &'static str, &'static str, Value)> {
        vec![
            (
                sec,
                "bot",
                "ava",
                json!({"kind": "handed_over", "by": "bot"}),
            ),
            (
                sec,
                "bot",
                "ava",
                json!({"kind": "intake", "summary": "wants a refund", "skill": "refund"}),
            ),
            queued(sec, queue),
        ]
    }

    #[test]
    fn a_chat_the_bot_handled_alone_is_bot_handled_not_abandoned() {
        let m = metrics(&[
            created("general"),
            bot_engaged(),
            say(1, "bot", "ava"),
            say(5, "customer", "cu"),
            say(6, "bot", "ava"),
            (
                8,
                "customer",
                "cu",
                json!({"kind": "handover_failed", "by": "customer", "reason": "outside_hours",
                       "message": "closed"}),
            ),
            (30, "bot", "ava", json!({"kind": "ended", "reason": "bot"})),
        ])
        .expect("a customer chat");
        assert_eq!(m.handling, Handling::Bot);
        assert!(!m.abandoned, "the bot handled it");
        assert_eq!(m.bot_ms, Some(30_000), "bot_engaged → ended");
        assert_eq!(m.queue.as_str(), "general", "its entry queue");
        assert_eq!(
            (m.wait_ms, m.first_response_ms, m.handle_ms, m.transfers),
            (None, None, None, 0),
            "the bot's messages are no agent's first response"
        );
        assert!(m.owners.is_empty());
    }

    #[test]
    fn a_bot_chat_ended_by_the_idle_timer_or_the_customer_is_still_the_bots() {
        for reason in ["idle_timeout", "customer"] {
            let m = metrics(&[
                created("general"),
                bot_engaged(),
                say(2, "bot", "ava"),
                (90, "system", "", json!({"kind": "ended", "reason": reason})),
            ])
            .expect("a customer chat");
            assert_eq!(
                (m.handling, m.abandoned, m.bot_ms),
                (Handling::Bot, false, Some(90_000)),
                "{reason}"
            );
        }
    }

    #[test]
    fn a_handed_over_chat_waits_from_its_queued_and_counts_in_the_handovers_queue() {
        let mut entries = vec![
            created("general"),
            bot_engaged(),
            say(1, "bot", "ava"),
            say(4, "customer", "cu"),
        ];
        entries.extend(handover(20, "returns"));
        entries.extend([
            assigned(35, "al"),
            say(37, "bot", "ava"), // refused in practice; never an agent's reply
            say(40, "agent", "al"),
            ended(100),
            (
                101,
                "customer",
                "cu",
                json!({"kind": "survey", "rating": 10}),
            ),
        ]);
        let m = metrics(&entries).expect("a customer chat");
        assert_eq!(m.handling, Handling::BotThenHuman);
        assert_eq!(m.bot_ms, Some(20_000), "bot_engaged → handed_over");
        assert_eq!(m.queue.as_str(), "returns", "where it waited for a person");
        assert_eq!(
            (m.wait_ms, m.first_response_ms, m.handle_ms),
            (Some(15_000), Some(5_000), Some(65_000)),
            "the wait counts from the handover's queued, not from the start"
        );
        assert!(!m.abandoned);
        assert_eq!(
            m.owners
                .iter()
                .map(|o| (o.agent.as_str(), o.wait_ms, o.handle_ms, o.rating))
                .collect::<Vec<_>>(),
            [("al", Some(15_000), 65_000, Some(10))]
        );
    }

    #[test]
    fn a_handed_over_chat_that_ends_before_an_agent_is_abandoned() {
        let mut entries = vec![created("general"), bot_engaged()];
        entries.extend(handover(10, "general"));
        entries.push(ended(70));
        let m = metrics(&entries).expect("a customer chat");
        assert_eq!(
            (m.handling, m.abandoned, m.bot_ms, m.wait_ms),
            (Handling::BotThenHuman, true, Some(10_000), None)
        );
    }

    #[test]
    fn a_chat_without_the_bot_is_human_handled_and_has_no_bot_time() {
        let m = metrics(&[
            created("general"),
            queued(0, "general"),
            assigned(3, "al"),
            ended(9),
        ])
        .expect("a customer chat");
        assert_eq!((m.handling, m.bot_ms), (Handling::Human, None));
        for h in [Handling::Human, Handling::Bot, Handling::BotThenHuman] {
            assert_eq!(Handling::parse(h.as_str()), h);
        }
        assert_eq!(Handling::parse(""), Handling::Human);
    }

    #[test]
    fn a_chat_between_agents_is_not_in_the_reports() {
        let m = metrics(&[
            (
                0,
                "agent",
                "al",
                json!({"kind": "created", "customer_name": "", "verified": false,
                                     "queue": "general", "channel": "internal"}),
            ),
            assigned(0, "al"),
            ended(5),
        ]);
        assert_eq!(m, None);
    }
}
