//! The conversation state machine, folded from the log.
//!
//! A conversation's state is a pure function of its events: an actor that restarts (or a node that
//! takes a conversation over) rebuilds it by replaying the log through [`ConversationState::apply`].
//! Deadlines are derived from that state by [`ConversationState::deadline`], so timers survive a
//! restart without being stored separately.
//!
//! (Over 500 lines because of its tests, which start at `mod tests`; the state machine is the
//! first 340 lines.)

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::org::OrgSettings;
use crate::ids::{AgentId, CustomerId, QueueId, ReasonId};
use crate::protocol::{EndReason, EventKind, LogEvent, ParticipantRole, Visibility};

/// The customer-journey status (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// With the org's bot (bot-first chats): no queue place, no agent, until a handover.
    Bot,
    /// Queued, no offer out.
    Waiting,
    /// Queued with an offer out to an agent (live state, not logged).
    Assigning,
    Assigned,
    /// A transfer request to another agent is pending.
    Transferring,
    /// Asynchronous chat (seed 004): open with no agent, holding no capacity, until the
    /// customer writes again (then it is offered to the previous agent first) or it expires.
    Parked,
    /// Ended, waiting for wrap-up.
    Ended,
    /// Wrapped up.
    Done,
    Failed,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Bot,
        Status::Waiting,
        Status::Assigning,
        Status::Assigned,
        Status::Transferring,
        Status::Parked,
        Status::Ended,
        Status::Done,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Bot => "bot",
            Status::Waiting => "waiting",
            Status::Assigning => "assigning",
            Status::Assigned => "assigned",
            Status::Transferring => "transferring",
            Status::Parked => "parked",
            Status::Ended => "ended",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }

    pub fn is_open(self) -> bool {
        !matches!(self, Status::Ended | Status::Done | Status::Failed)
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The timers a conversation can have running.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum TimerKind {
    IdlePrompt,
    IdleEnd,
    AssignedAutoComplete,
    WaitingAutoComplete,
    TransferExpiry,
    WrapUp,
    /// The oldest pending invitation expires.
    InviteExpiry,
    /// A parked (asynchronous) chat with no activity for this long ends.
    ParkedExpiry,
    /// A bot-phase chat whose bot has not answered in time goes to a person.
    BotReply,
}

impl TimerKind {
    pub const ALL: [TimerKind; 9] = [
        TimerKind::IdlePrompt,
        TimerKind::IdleEnd,
        TimerKind::AssignedAutoComplete,
        TimerKind::WaitingAutoComplete,
        TimerKind::TransferExpiry,
        TimerKind::WrapUp,
        TimerKind::InviteExpiry,
        TimerKind::ParkedExpiry,
        TimerKind::BotReply,
    ];
}

/// An agent in the chat beside the owner (DESIGN §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    pub agent: AgentId,
    pub name: String,
    pub role: ParticipantRole,
    pub joined_at: DateTime<Utc>,
}

/// An invitation waiting for its target's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub to: AgentId,
    pub role: ParticipantRole,
    pub by: AgentId,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTransfer {
    pub from: AgentId,
    pub to: AgentId,
    pub requested_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationState {
    pub status: Status,
    pub customer: Option<CustomerId>,
    pub customer_name: String,
    pub customer_email: Option<String>,
    pub queue: Option<QueueId>,
    pub priority: i32,
    pub reason: Option<ReasonId>,
    pub case_id: Option<String>,
    pub channel: String,
    pub owner: Option<AgentId>,
    pub owner_name: Option<String>,
    /// Every agent who has owned the conversation, for "all transactions" queries.
    pub agents: Vec<AgentId>,
    pub transfer: Option<PendingTransfer>,
    /// Agents in the chat beside the owner, in the order they joined.
    pub participants: Vec<Participant>,
    /// Invitations waiting for an answer, oldest first.
    pub invitations: Vec<Invitation>,
    /// The agent who owned the chat when it was parked: offered it first when the customer
    /// writes again.
    pub previous_owner: Option<AgentId>,
    pub created_at: Option<DateTime<Utc>>,
    pub waiting_since: Option<DateTime<Utc>>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<EndReason>,
    pub last_seq: u64,
    /// The seq of the latest event customers may see.
    pub last_public_seq: u64,
    pub last_activity: Option<DateTime<Utc>>,
    pub last_customer_activity: Option<DateTime<Utc>>,
    /// When the idle prompt was shown and not yet answered.
    pub idle_warned_at: Option<DateTime<Utc>>,
    pub survey: Option<u8>,
    pub disposition: Option<String>,
    pub messages: u64,
    /// When the customer first wrote.
    pub first_customer_message_at: Option<DateTime<Utc>>,
    /// When an agent first wrote after that: the first response.
    pub first_response_at: Option<DateTime<Utc>>,
    /// The bot the chat started with (bot-first chats), by id.
    pub bot: Option<String>,
    /// Since when the bot owes an answer: the chat started, or the customer wrote, and the bot
    /// has not written since. Drives the automatic handover.
    pub bot_awaited_since: Option<DateTime<Utc>>,
    /// When the chat left the bot for a person.
    pub handed_over_at: Option<DateTime<Utc>>,
    /// The tickets the chat is recorded on (seeds 001, 002).
    pub tickets: Vec<String>,
    /// Ticket requests made, and the seq of each one's answer.
    pub ticket_requests: Vec<String>,
    pub ticket_links: std::collections::HashMap<String, u64>,
}

impl Default for ConversationState {
    fn default() -> Self {
        Self {
            status: Status::Waiting,
            customer: None,
            customer_name: String::new(),
            customer_email: None,
            queue: None,
            priority: 0,
            reason: None,
            case_id: None,
            channel: "chat".into(),
            owner: None,
            owner_name: None,
            agents: Vec::new(),
            transfer: None,
            participants: Vec::new(),
            invitations: Vec::new(),
            previous_owner: None,
            created_at: None,
            waiting_since: None,
            assigned_at: None,
            ended_at: None,
            end_reason: None,
            last_seq: 0,
            last_public_seq: 0,
            last_activity: None,
            last_customer_activity: None,
            idle_warned_at: None,
            survey: None,
            disposition: None,
            messages: 0,
            first_customer_message_at: None,
            first_response_at: None,
            bot: None,
            bot_awaited_since: None,
            handed_over_at: None,
            tickets: Vec::new(),
            ticket_requests: Vec::new(),
            ticket_links: std::collections::HashMap::new(),
        }
    }
}

impl ConversationState {
    pub fn from_log<'a>(events: impl IntoIterator<Item = &'a LogEvent>) -> Self {
        let mut state = Self::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    /// Folds one event into the state. Events arrive in `seq` order.
    pub fn apply(&mut self, event: &LogEvent) {
        self.last_seq = event.seq;
        if event.visibility == Visibility::Public {
            self.last_public_seq = event.seq;
        }
        let at = event.at;
        match &event.kind {
            EventKind::Created {
                customer,
                customer_name,
                customer_email,
                queue,
                reason,
                case_id,
                channel,
                ..
            } => {
                self.customer = customer.clone();
                self.customer_name = customer_name.clone();
                self.customer_email = customer_email.clone();
                self.queue = Some(queue.clone());
                self.reason = reason.clone();
                self.case_id = case_id.clone();
                self.channel = channel.clone();
                self.created_at = Some(at);
                self.last_activity = Some(at);
                self.last_customer_activity = Some(at);
            }
            EventKind::Queued { queue, priority } => {
                self.queue = Some(queue.clone());
                self.priority = *priority;
                self.status = Status::Waiting;
                self.waiting_since = Some(at);
            }
            EventKind::Assigned { agent, agent_name } => {
                self.set_owner(agent, agent_name, at);
            }
            EventKind::Message { .. } => {
                self.messages += 1;
                self.last_activity = Some(at);
                match event.author.role {
                    crate::protocol::AuthorRole::Customer => {
                        self.customer_activity(at);
                        self.first_customer_message_at.get_or_insert(at);
                        if self.status == Status::Bot {
                            self.bot_awaited_since.get_or_insert(at);
                        }
                    }
                    crate::protocol::AuthorRole::Bot => self.bot_awaited_since = None,
                    crate::protocol::AuthorRole::Agent => {
                        if self.first_customer_message_at.is_some() {
                            self.first_response_at.get_or_insert(at);
                        }
                    }
                    crate::protocol::AuthorRole::System => {}
                }
            }
            EventKind::Continued => self.customer_activity(at),
            EventKind::TransferRequested { from, to, .. } => {
                self.status = Status::Transferring;
                self.transfer = Some(PendingTransfer {
                    from: from.clone(),
                    to: to.clone(),
                    requested_at: at,
                });
            }
            EventKind::TransferAccepted { to, .. } => {
                self.transfer = None;
                // The new owner's name arrives with the participant_joined event that follows.
                self.set_owner(to, "", at);
            }
            EventKind::TransferRejected { .. } | EventKind::TransferExpired { .. } => {
                self.transfer = None;
                if self.status == Status::Transferring {
                    self.status = Status::Assigned;
                }
            }
            EventKind::TransferredToQueue { queue, .. } => {
                self.queue = Some(queue.clone());
                self.owner = None;
                self.owner_name = None;
                self.transfer = None;
                self.status = Status::Waiting;
                self.waiting_since = Some(at);
            }
            EventKind::ParticipantJoined {
                participant,
                name,
                role,
            } => match role {
                ParticipantRole::Owner => {
                    if self.owner.as_ref().map(|o| o.as_str()) == Some(participant.as_str()) {
                        self.owner_name = Some(name.clone());
                    }
                }
                ParticipantRole::Customer => {}
                _ => {
                    if let Ok(agent) = AgentId::parse(participant) {
                        self.participants.retain(|p| p.agent != agent);
                        self.participants.push(Participant {
                            agent,
                            name: name.clone(),
                            role: *role,
                            joined_at: at,
                        });
                    }
                }
            },
            EventKind::ParticipantLeft { participant, role } => {
                if !matches!(role, ParticipantRole::Owner | ParticipantRole::Customer) {
                    self.participants
                        .retain(|p| p.agent.as_str() != participant.as_str());
                }
            }
            EventKind::Invited { to, role, by, .. } => {
                self.invitations.retain(|i| &i.to != to);
                self.invitations.push(Invitation {
                    to: to.clone(),
                    role: *role,
                    by: by.clone(),
                    at,
                });
            }
            EventKind::InviteEnded { to, .. } => self.invitations.retain(|i| &i.to != to),
            EventKind::RoleChanged {
                participant, to, ..
            } => {
                if let Some(p) = self
                    .participants
                    .iter_mut()
                    .find(|p| &p.agent == participant)
                {
                    p.role = *to;
                }
            }
            EventKind::OwnershipChanged { to, name, .. } => {
                self.participants.retain(|p| &p.agent != to);
                self.owner = Some(to.clone());
                self.owner_name = (!name.is_empty()).then(|| name.clone());
                if !self.agents.contains(to) {
                    self.agents.push(to.clone());
                }
                self.last_activity = Some(at);
            }
            EventKind::Parked { previous } => {
                self.previous_owner = Some(previous.clone());
                self.owner = None;
                self.owner_name = None;
                self.transfer = None;
                self.status = Status::Parked;
                self.idle_warned_at = None;
                self.last_activity = Some(at);
            }
            EventKind::IdleWarning { .. } => self.idle_warned_at = Some(at),
            EventKind::Ended { reason, .. } => {
                self.status = Status::Ended;
                self.ended_at = Some(at);
                self.end_reason = Some(*reason);
                self.transfer = None;
                self.invitations.clear();
            }
            EventKind::WrapUp { disposition, .. } => {
                self.status = Status::Done;
                self.disposition = disposition.clone();
            }
            EventKind::Survey { rating, .. } => self.survey = Some(*rating),
            // An agent's action in the chat: it keeps a parked or idle chat's clock going.
            EventKind::UrlPushed { .. } => self.last_activity = Some(at),
            EventKind::BotEngaged { bot, .. } => {
                self.bot = Some(bot.clone());
                self.status = Status::Bot;
                self.waiting_since = None;
                self.bot_awaited_since = Some(at);
            }
            EventKind::HandedOver { .. } => {
                self.handed_over_at = Some(at);
                self.bot_awaited_since = None;
            }
            // A failed handover leaves the chat with the bot, and its answer is no longer owed
            // (an unreachable bot is not handed over again and again).
            EventKind::HandoverFailed { .. } => self.bot_awaited_since = None,
            EventKind::Read { .. }
            | EventKind::Note { .. }
            | EventKind::Internal { .. }
            | EventKind::Intake { .. } => {}
            EventKind::TicketRequested { request, .. } => {
                self.ticket_requests.push(request.clone());
            }
            EventKind::TicketLinked {
                request, ticket, ..
            } => {
                self.ticket_links.insert(request.clone(), event.seq);
                if !self.tickets.contains(ticket) {
                    self.tickets.push(ticket.clone());
                }
            }
        }
    }

    /// The participant (beside the owner) this agent is, if any.
    pub fn participant(&self, agent: &AgentId) -> Option<&Participant> {
        self.participants.iter().find(|p| &p.agent == agent)
    }

    pub fn invitation(&self, agent: &AgentId) -> Option<&Invitation> {
        self.invitations.iter().find(|i| &i.to == agent)
    }

    /// The longest-joined conference participant: who owns the chat when the owner leaves.
    pub fn successor(&self) -> Option<&Participant> {
        self.participants
            .iter()
            .filter(|p| p.role == ParticipantRole::Conference)
            .min_by_key(|p| p.joined_at)
    }

    fn set_owner(&mut self, agent: &AgentId, name: &str, at: DateTime<Utc>) {
        self.participants.retain(|p| &p.agent != agent);
        self.owner = Some(agent.clone());
        self.owner_name = (!name.is_empty()).then(|| name.to_string());
        if !self.agents.contains(agent) {
            self.agents.push(agent.clone());
        }
        self.status = Status::Assigned;
        self.assigned_at = Some(at);
        self.waiting_since = None;
        // The idle clock starts when an agent is there to answer.
        self.customer_activity(at);
        self.last_activity = Some(at);
    }

    fn customer_activity(&mut self, at: DateTime<Utc>) {
        self.last_customer_activity = Some(at);
        self.idle_warned_at = None;
    }

    /// When the timer of this kind should fire, given the org's settings; `None` when it does not
    /// apply in the current state.
    pub fn deadline(&self, kind: TimerKind, s: &OrgSettings) -> Option<DateTime<Utc>> {
        let ms = |v: u64| Duration::milliseconds(i64::try_from(v).unwrap_or(i64::MAX));
        let engaged = matches!(self.status, Status::Assigned | Status::Transferring);
        // The idle clock is the customer's: a chat between agents has none. A chat with the bot
        // keeps it too.
        let customer_engaged = (engaged || self.status == Status::Bot) && self.customer.is_some();
        match kind {
            TimerKind::IdlePrompt if customer_engaged && self.idle_warned_at.is_none() => self
                .last_customer_activity
                .map(|t| t + ms(s.idle_prompt_ms)),
            TimerKind::IdleEnd if customer_engaged => {
                self.idle_warned_at.map(|t| t + ms(s.idle_end_ms))
            }
            TimerKind::AssignedAutoComplete if engaged => self
                .last_activity
                .map(|t| t + ms(s.assigned_autocomplete_ms)),
            TimerKind::WaitingAutoComplete
                if matches!(self.status, Status::Waiting | Status::Assigning) =>
            {
                self.waiting_since
                    .map(|t| t + ms(s.waiting_autocomplete_ms))
            }
            TimerKind::TransferExpiry if self.status == Status::Transferring => self
                .transfer
                .as_ref()
                .map(|t| t.requested_at + ms(s.transfer_expiry_ms)),
            // A chat between agents needs no wrap-up, nor one the bot alone handled: it is done
            // when it ends.
            TimerKind::WrapUp
                if self.status == Status::Ended
                    && (self.customer.is_none()
                        || (self.bot.is_some() && self.handed_over_at.is_none())) =>
            {
                self.ended_at
            }
            TimerKind::WrapUp if self.status == Status::Ended => {
                self.ended_at.map(|t| t + ms(s.wrapup_timeout_ms))
            }
            TimerKind::ParkedExpiry if self.status == Status::Parked => {
                self.last_activity.map(|t| t + ms(s.parked_expiry_ms))
            }
            TimerKind::BotReply if self.status == Status::Bot => {
                let bot = s.bot.as_ref().filter(|b| b.handover_on_timeout)?;
                self.bot_awaited_since.map(|t| t + ms(bot.reply_timeout_ms))
            }
            TimerKind::InviteExpiry => self
                .invitations
                .iter()
                .map(|i| i.at + ms(s.invite_expiry_ms))
                .min(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Author, AuthorRole};

    fn ev(seq: u64, secs: i64, role: AuthorRole, kind: EventKind) -> LogEvent {
        LogEvent {
            seq,
            at: DateTime::<Utc>::from_timestamp(1_800_000_000 + secs, 0).expect("valid"),
            author: Author {
                role,
                id: None,
                name: None,
            },
            visibility: kind.visibility(),
            kind,
            redacted: false,
        }
    }

    fn created() -> EventKind {
        EventKind::Created {
            customer: Some(CustomerId::parse("v1").expect("id")),
            customer_name: "Ada L".into(),
            customer_email: None,
            verified: false,
            queue: QueueId::parse("q1").expect("id"),
            reason: None,
            case_id: None,
            channel: "chat".into(),
            context: Default::default(),
        }
    }

    fn agent(s: &str) -> AgentId {
        AgentId::parse(s).expect("id")
    }

    #[test]
    fn first_response_is_the_first_agent_message_after_the_customers_first() {
        use AuthorRole::*;
        let msg = |id: &str| EventKind::Message {
            text: "hi".into(),
            client_msg_id: id.into(),
            attachments: Vec::new(),
        };
        let mut s = ConversationState::from_log(&[ev(1, 0, Customer, created())]);
        // An agent's greeting before the customer wrote is no response.
        s.apply(&ev(2, 5, Agent, msg("a0")));
        assert_eq!(s.first_response_at, None);
        s.apply(&ev(3, 10, Customer, msg("c1")));
        s.apply(&ev(4, 20, Customer, msg("c2")));
        s.apply(&ev(5, 40, Agent, msg("a1")));
        s.apply(&ev(6, 60, Agent, msg("a2")));
        assert_eq!(
            s.first_customer_message_at,
            Some(ev(0, 10, System, msg("")).at)
        );
        assert_eq!(s.first_response_at, Some(ev(0, 40, System, msg("")).at));
    }

    #[test]
    fn journey_through_transfer_and_end() {
        use AuthorRole::*;
        let q = QueueId::parse("q1").expect("id");
        let log = [
            ev(1, 0, Customer, created()),
            ev(
                2,
                0,
                System,
                EventKind::Queued {
                    queue: q,
                    priority: 0,
                },
            ),
            ev(
                3,
                10,
                System,
                EventKind::Assigned {
                    agent: agent("a1"),
                    agent_name: "Al".into(),
                },
            ),
            ev(
                4,
                20,
                Customer,
                EventKind::Message {
                    text: "hi".into(),
                    client_msg_id: "m1".into(),
                    attachments: Vec::new(),
                },
            ),
            ev(
                5,
                30,
                Agent,
                EventKind::TransferRequested {
                    from: agent("a1"),
                    to: agent("a2"),
                    note: None,
                },
            ),
        ];
        let s = ConversationState::from_log(&log);
        assert_eq!(s.status, Status::Transferring);
        assert_eq!(s.last_seq, 5);
        assert_eq!(s.last_public_seq, 4, "transfer_requested is agent-only");
        let settings = OrgSettings::default();
        let expiry = s
            .deadline(TimerKind::TransferExpiry, &settings)
            .expect("armed");
        assert_eq!((expiry - log[4].at).num_milliseconds(), 60_000);

        let mut s = s;
        s.apply(&ev(
            6,
            40,
            Agent,
            EventKind::TransferRejected {
                from: agent("a1"),
                to: agent("a2"),
            },
        ));
        assert_eq!(s.status, Status::Assigned);
        assert_eq!(s.owner, Some(agent("a1")));
        assert!(s.deadline(TimerKind::TransferExpiry, &settings).is_none());
        s.apply(&ev(
            7,
            50,
            Customer,
            EventKind::Ended {
                reason: EndReason::Customer,
                message: None,
            },
        ));
        assert_eq!(s.status, Status::Ended);
        assert!(s.deadline(TimerKind::IdlePrompt, &settings).is_none());
        assert!(s.deadline(TimerKind::WrapUp, &settings).is_some());
    }

    #[test]
    fn idle_prompt_then_end_and_continue_resets() {
        use AuthorRole::*;
        let settings = OrgSettings::default();
        let mut s = ConversationState::from_log(&[
            ev(1, 0, Customer, created()),
            ev(
                2,
                100,
                System,
                EventKind::Assigned {
                    agent: agent("a1"),
                    agent_name: "Al".into(),
                },
            ),
        ]);
        let prompt = s.deadline(TimerKind::IdlePrompt, &settings).expect("armed");
        assert_eq!(prompt.timestamp(), 1_800_000_000 + 100 + 180);
        assert!(s.deadline(TimerKind::IdleEnd, &settings).is_none());
        s.apply(&ev(
            3,
            280,
            System,
            EventKind::IdleWarning {
                message: "?".into(),
            },
        ));
        assert!(s.deadline(TimerKind::IdlePrompt, &settings).is_none());
        let end = s.deadline(TimerKind::IdleEnd, &settings).expect("armed");
        assert_eq!(end.timestamp(), 1_800_000_000 + 280 + 300);
        s.apply(&ev(4, 290, Customer, EventKind::Continued));
        assert!(s.deadline(TimerKind::IdleEnd, &settings).is_none());
        assert_eq!(
            s.deadline(TimerKind::IdlePrompt, &settings)
                .expect("re-armed")
                .timestamp(),
            1_800_000_000 + 290 + 180
        );
        // An agent message is activity for auto-complete but not for the customer idle clock.
        s.apply(&ev(
            5,
            300,
            Agent,
            EventKind::Message {
                text: "x".into(),
                client_msg_id: "a".into(),
                attachments: Vec::new(),
            },
        ));
        assert_eq!(
            s.deadline(TimerKind::IdlePrompt, &settings)
                .expect("armed")
                .timestamp(),
            1_800_000_000 + 290 + 180
        );
        assert_eq!(
            s.deadline(TimerKind::AssignedAutoComplete, &settings)
                .expect("armed")
                .timestamp(),
            1_800_000_000 + 300 + 3600
        );
    }

    #[test]
    fn waiting_autocomplete_applies_only_while_queued() {
        use AuthorRole::*;
        let settings = OrgSettings::default();
        let q = QueueId::parse("q1").expect("id");
        let s = ConversationState::from_log(&[
            ev(1, 0, Customer, created()),
            ev(
                2,
                0,
                System,
                EventKind::Queued {
                    queue: q,
                    priority: 0,
                },
            ),
        ]);
        assert_eq!(
            s.deadline(TimerKind::WaitingAutoComplete, &settings)
                .expect("armed")
                .timestamp(),
            1_800_000_000 + 6 * 3600
        );
        assert!(s
            .deadline(TimerKind::AssignedAutoComplete, &settings)
            .is_none());
    }
}
