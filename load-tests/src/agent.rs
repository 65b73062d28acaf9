//! A simulated agent: signs in with a minted token, goes available, answers offers after a think
//! time (accepting or, by ratio, rejecting), replies to every customer message, transfers a
//! share of its chats, and wraps chats up when they end.
//!
//! After a transfer the new owner gets the whole log replayed; it answers the customer messages
//! that have no reply yet (a reply names the message it answers, see `payload.rs`), so that no
//! customer waits forever because its chat changed hands.
//!
//! With `[conference]` (`participants-spec.md`): the owner invites other load agents (by id) as
//! `conference` or `consult`, answers consultants in the internal discussion, removes
//! participants, and sometimes leaves a chat with a conference participant in it; an invited
//! agent accepts, rejects or lets the invitation expire, and once in writes its messages
//! (`send` in a conference, `internal` in a consultation) and maybe leaves. Only the owner
//! replies to the customer and wraps up; who the agent is in each chat comes from the log
//! (`participant_joined` / `participant_left` / `ownership_changed` about itself). Each agent
//! keeps its own view of its seats (`seats.rs`) and reports any moment it exceeds max_chats;
//! what it receives goes to the run's audience book (`audience.rs`).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use serde_json::Value;

use crate::audience::Party;
use crate::client::{ids_in, Conn};
use crate::clock;
use crate::customer;
use crate::participant::{self, Participant, Request, Role, Side};
use crate::payload;
use crate::protocol::{self, Event, Signal};
use crate::requests::Pending;
use crate::scenario::TransferTo;
use crate::seats::{Joined, Seat, SeatView, Violation};
use crate::shared::Shared;
use crate::stats::{inc, record, Tick};
use crate::token;
use crate::tracker::ConvTracker;

/// Agent ids for a run: `<prefix><n>`, n from 1.
pub fn ids(prefix: &str, count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("{prefix}{n}")).collect()
}

/// Runs agent `idx` until the run tells agents to stop.
pub async fn run(shared: Arc<Shared>, idx: usize) {
    let id = shared.agent_ids[idx].clone();
    let name = format!("Load Agent {}", idx + 1);
    let s = &shared.scenario;
    let ttl = s.run.timeout_secs + 3600;
    let token = match token::agent(&s.target, &id, &name, &s.agents.queues, ttl) {
        Ok(t) => t,
        Err(e) => {
            shared.stats.note(format!("agent sign-in: {e:#}"));
            return;
        }
    };
    let conn = match Conn::establish_first(&shared, idx, &token).await {
        Ok((conn, _)) => conn,
        Err(e) => {
            shared.stats.note(format!("agent sign-in: {e:#}"));
            return;
        }
    };
    let mut agent = Agent::new(shared, idx, id, token, conn);
    agent.go_available(true).await;
    participant::run(&mut agent).await;
}

enum Req {
    /// `initial`: the first time (counts the agent as ready).
    Status {
        initial: bool,
    },
    Accept,
    Reject,
    /// A reply to the customer, or a conference participant's message.
    Send {
        num: u64,
        conversation: String,
    },
    /// A message to the internal discussion.
    Internal {
        num: u64,
        conversation: String,
    },
    Transfer {
        conversation: String,
    },
    TransferAccept,
    WrapUp,
    Invite {
        conversation: String,
        role: Joined,
        queue: bool,
    },
    InviteAnswer {
        conversation: String,
        accept: bool,
        role: Joined,
    },
    Remove,
    Leave {
        conversation: String,
        owner: bool,
    },
    Convert {
        conversation: String,
        transfer: bool,
    },
    /// A chat it was in that the hello ack after a reconnect did not list.
    Resume {
        conversation: String,
    },
}

impl Request for Req {
    fn name(&self) -> &'static str {
        match self {
            Req::Status { .. } => "status",
            Req::Accept => "accept",
            Req::Reject => "reject",
            Req::Send { .. } => "send",
            Req::Internal { .. } => "internal",
            Req::Transfer { .. } => "transfer",
            Req::TransferAccept => "transfer_accept",
            Req::WrapUp => "wrap_up",
            Req::Invite { .. } => "invite",
            Req::InviteAnswer { accept: true, .. } => "invite_accept",
            Req::InviteAnswer { accept: false, .. } => "invite_reject",
            Req::Remove => "remove",
            Req::Leave { .. } => "leave",
            Req::Convert { .. } => "consult_convert",
            Req::Resume { .. } => "resume",
        }
    }

    fn is_message(&self) -> bool {
        matches!(self, Req::Send { .. } | Req::Internal { .. })
    }
}

enum Action {
    Answer {
        conversation: String,
        accept: bool,
    },
    Reply {
        conversation: String,
        to: u64,
    },
    WrapUp {
        conversation: String,
    },
    TransferAccept {
        conversation: String,
    },
    /// The owner invites someone.
    Invite {
        conversation: String,
    },
    AnswerInvite {
        conversation: String,
        accept: bool,
    },
    /// A participant's next message (`left` of them to write, this one included), for the
    /// stint in the chat it was scheduled in.
    Speak {
        conversation: String,
        stint: u32,
        left: u32,
    },
    /// The owner answers another agent in the internal discussion.
    InternalReply {
        conversation: String,
    },
    Remove {
        conversation: String,
        agent: String,
    },
    LeaveAsOwner {
        conversation: String,
    },
    LeaveAsParticipant {
        conversation: String,
        stint: u32,
    },
    /// The owner turns a consultation into a transfer or a conference.
    Convert {
        conversation: String,
        agent: String,
        transfer: bool,
    },
}

/// Who this agent is in a chat, as the log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mine {
    /// Following, and no event about itself seen yet.
    Unknown,
    Owner,
    In(Joined),
    /// Left or removed (the `left` signal follows).
    Out,
}

/// What the agent knows of one chat it follows.
struct Chat {
    track: ConvTracker,
    /// Customer messages without a reply yet (by ledger number).
    unanswered: BTreeSet<u64>,
    customer_messages: u32,
    /// Transfers in the log (the replay after a transfer includes earlier ones).
    transfers: u32,
    will_transfer: bool,
    transfer_sent: bool,
    ended: bool,
    me: Mine,
    /// Times it joined as a participant in what it followed (a replay repeats earlier stints;
    /// actions scheduled for another stint are dropped).
    stint: u32,
    /// Agents beside the owner and their roles, and agents with an invitation open (the log).
    members: HashMap<String, Joined>,
    /// Supervisors in the chat (any role), and those of them barged in (`conference`): an
    /// owner does not leave while one is barged in (ownership would pass to it).
    supervisors: HashSet<String>,
    barged: HashSet<String>,
    invited: BTreeSet<String>,
    /// Invitations this agent asked for here, and whether one is on its way.
    invites: u32,
    inviting: bool,
    /// The owner's `leave` is on its way.
    leaving: bool,
}

impl Chat {
    fn new(will_transfer: bool) -> Self {
        Self {
            track: ConvTracker::default(),
            unanswered: BTreeSet::new(),
            customer_messages: 0,
            transfers: 0,
            will_transfer,
            transfer_sent: false,
            ended: false,
            me: Mine::Unknown,
            stint: 0,
            members: HashMap::new(),
            supervisors: HashSet::new(),
            barged: HashSet::new(),
            invited: BTreeSet::new(),
            invites: 0,
            inviting: false,
            leaving: false,
        }
    }

    /// Owner, chat open, not on its way out.
    fn owning(&self) -> bool {
        self.me == Mine::Owner && !self.ended && !self.leaving
    }

    fn conference_member(&self) -> bool {
        self.members.values().any(|j| *j == Joined::Conference)
    }
}

struct Agent {
    p: Participant<Req, Action>,
    id: String,
    ready: bool,
    /// Gave up reconnecting.
    gone: bool,
    chats: HashMap<String, Chat>,
    /// Its own count of its seats, against max_chats.
    seats: SeatView,
    /// Invitations waiting for its answer, by conversation.
    invitations: HashMap<String, Joined>,
    /// After a reconnect: chats it was in that the hello ack did not list (checked by `resume`).
    unlisted: Vec<String>,
}

impl Agent {
    fn new(shared: Arc<Shared>, idx: usize, id: String, token: String, conn: Conn) -> Self {
        let seats = SeatView::new(shared.seat_rules());
        Self {
            p: Participant::new(shared, Side::Agent, idx, token, conn),
            id,
            ready: false,
            gone: false,
            chats: HashMap::new(),
            seats,
            invitations: HashMap::new(),
            unlisted: Vec::new(),
        }
    }

    async fn go_available(&mut self, initial: bool) {
        self.p
            .request(Req::Status { initial }, protocol::status_available())
            .await;
    }

    /// Answers customer message `to` unless it was answered meanwhile (by us or, seen in a
    /// replay, by a previous owner) or the agent no longer owns the chat; then transfers the
    /// chat if it is one of those to transfer, or (`[conference]`) maybe invites someone or
    /// leaves it to a conference participant.
    async fn reply(&mut self, conversation: String, to: u64) {
        let shared = self.p.shared.clone();
        let a = &shared.scenario.agents;
        let Some(chat) = self.chats.get_mut(&conversation) else {
            return;
        };
        if !chat.owning() || !chat.unanswered.remove(&to) {
            return;
        }
        let transfer = chat.will_transfer
            && !chat.transfer_sent
            && chat.transfers < a.max_transfers_per_chat
            && chat.customer_messages >= a.transfer_after_messages;
        if transfer {
            chat.transfer_sent = true;
        }
        let num = shared.ledger.allocate(true);
        let text = payload::compose(Some(to), shared.scenario.customers.message_bytes);
        let command = protocol::send(&conversation, &payload::client_msg_id(true, num), &text);
        inc(&shared.stats.c.messages_sent);
        let req = Req::Send {
            num,
            conversation: conversation.clone(),
        };
        self.p.request(req, command).await;
        if transfer {
            let command = match a.transfer_to {
                TransferTo::Queue => None,
                TransferTo::Agent => self.transfer_target(),
                TransferTo::Mixed if self.p.rng.chance(0.5) => self.transfer_target(),
                TransferTo::Mixed => None,
            }
            .map_or_else(
                || protocol::transfer_to_queue(&conversation, &a.transfer_queue),
                |to| protocol::transfer_to_agent(&conversation, &to),
            );
            self.p
                .request(Req::Transfer { conversation }, command)
                .await;
            return;
        }
        self.owner_next(conversation);
    }

    /// `[conference]`, after a reply: maybe invite someone, or leave the chat to a conference
    /// participant.
    fn owner_next(&mut self, conversation: String) {
        let Some(conf) = self.p.shared.scenario.conference.clone() else {
            return;
        };
        let Some(chat) = self.chats.get_mut(&conversation) else {
            return;
        };
        if chat.inviting || !chat.owning() {
            return;
        }
        let think = conf.invite_think_ms.pick(&mut self.p.rng);
        if chat.invites < conf.max_invites_per_chat && self.p.rng.chance(conf.invite_ratio) {
            chat.inviting = true;
            self.p.after(think, Action::Invite { conversation });
        } else if chat.conference_member()
            && chat.barged.is_empty()
            && self.p.rng.chance(conf.owner_leave_ratio)
        {
            chat.leaving = true;
            self.p.after(think, Action::LeaveAsOwner { conversation });
        }
    }

    /// Sends an invitation to a random other load agent not in the chat nor invited to it.
    async fn invite(&mut self, conversation: String) {
        let Some(conf) = self.p.shared.scenario.conference.clone() else {
            return;
        };
        let ids = self.p.shared.agent_ids.clone();
        let Some(chat) = self.chats.get_mut(&conversation) else {
            return;
        };
        if !chat.owning() {
            chat.inviting = false;
            return;
        }
        if self.p.rng.chance(conf.queue_invite_share) {
            let queues = if conf.invite_queues.is_empty() {
                &self.p.shared.scenario.agents.queues
            } else {
                &conf.invite_queues
            };
            let Some(queue) = queues.get(self.p.rng.index(queues.len().max(1))).cloned() else {
                chat.inviting = false;
                return;
            };
            chat.invites += 1;
            let role = if self.p.rng.chance(conf.consult_share) {
                Joined::Consult
            } else {
                Joined::Conference
            };
            let command = protocol::invite_to_queue(&conversation, role.wire(), &queue);
            let req = Req::Invite {
                conversation,
                role,
                queue: true,
            };
            self.p.request(req, command).await;
            return;
        }
        let mut target = None;
        for _ in 0..8 {
            let pick = &ids[self.p.rng.index(ids.len())];
            if *pick != self.id && !chat.members.contains_key(pick) && !chat.invited.contains(pick)
            {
                target = Some(pick.clone());
                break;
            }
        }
        let Some(to) = target else {
            chat.inviting = false;
            return;
        };
        chat.invites += 1;
        let role = if self.p.rng.chance(conf.consult_share) {
            Joined::Consult
        } else {
            Joined::Conference
        };
        let command = protocol::invite(&conversation, role.wire(), &to);
        let req = Req::Invite {
            conversation,
            role,
            queue: false,
        };
        self.p.request(req, command).await;
    }

    /// A participant's message: `send` in a conference, `internal` in a consultation; then the
    /// next one, or (by ratio) leaving after the last.
    async fn speak(&mut self, conversation: String, stint: u32, left: u32) {
        let Some(conf) = self.p.shared.scenario.conference.clone() else {
            return;
        };
        let Some(chat) = self.chats.get(&conversation) else {
            return;
        };
        let Mine::In(role) = chat.me else { return };
        if chat.ended || chat.stint != stint || left == 0 {
            return;
        }
        match role {
            Joined::Conference => self.say_public(&conversation).await,
            Joined::Consult => self.say_internal(&conversation).await,
        }
        let pause = conf.participant_message_interval_ms.pick(&mut self.p.rng);
        if left > 1 {
            let left = left - 1;
            self.p.after(
                pause,
                Action::Speak {
                    conversation,
                    stint,
                    left,
                },
            );
        } else if self.p.rng.chance(conf.leave_ratio) {
            self.p.after(
                pause,
                Action::LeaveAsParticipant {
                    conversation,
                    stint,
                },
            );
        }
    }

    /// A conference participant's message to the customer.
    async fn say_public(&mut self, conversation: &str) {
        let shared = self.p.shared.clone();
        let num = shared.ledger.allocate(true);
        let text = payload::compose_tagged("p", shared.scenario.customers.message_bytes);
        let command = protocol::send(conversation, &payload::client_msg_id(true, num), &text);
        inc(&shared.stats.c.messages_sent);
        inc(&shared.stats.c.conference_messages);
        let req = Req::Send {
            num,
            conversation: conversation.to_string(),
        };
        self.p.request(req, command).await;
    }

    /// A message to the internal discussion (agents only).
    async fn say_internal(&mut self, conversation: &str) {
        let shared = self.p.shared.clone();
        let num = shared.ledger.allocate_internal();
        let text = payload::compose_tagged("i", shared.scenario.customers.message_bytes);
        let command = protocol::internal(conversation, &payload::internal_msg_id(num), &text);
        inc(&shared.stats.c.messages_sent);
        inc(&shared.stats.c.internal_messages);
        let req = Req::Internal {
            num,
            conversation: conversation.to_string(),
        };
        self.p.request(req, command).await;
    }

    /// Counts a seat excursion past max_chats, and the peak.
    fn seat_check(&self, violation: Option<Violation>) {
        let stats = &self.p.shared.stats;
        stats
            .c
            .seats_peak
            .fetch_max(u64::from(self.seats.load()), Relaxed);
        if let Some(v) = violation {
            inc(&stats.c.capacity_violations);
            stats.note(format!(
                "agent {} holds {} seats, max_chats {}: {} owned (presence) + {}",
                self.id,
                v.load,
                v.max,
                v.assigned,
                v.seats.join(", ")
            ));
        }
    }

    /// This agent owns the chat now (assigned, transferred in, or the owner left it a
    /// conference): it answers what the customer is still waiting for.
    fn now_owner(&mut self, conversation: &str) {
        let Some(chat) = self.chats.get_mut(conversation) else {
            return;
        };
        chat.me = Mine::Owner;
        chat.members.remove(&self.id);
        if chat.ended || !self.p.shared.scenario.agents.reply {
            return;
        }
        let waiting: Vec<u64> = chat.unanswered.iter().copied().collect();
        for to in waiting {
            let think = self
                .p
                .shared
                .scenario
                .agents
                .reply_think_ms
                .pick(&mut self.p.rng);
            self.p.after(
                think,
                Action::Reply {
                    conversation: conversation.to_string(),
                    to,
                },
            );
        }
    }

    /// An event about who is in the chat (`participant_joined` / `participant_left` /
    /// `ownership_changed` / `role_changed`, invitations).
    fn membership(&mut self, conversation: &str, event: &Event) {
        let conf = self.p.shared.scenario.conference.clone();
        let Some(chat) = self.chats.get_mut(conversation) else {
            return;
        };
        let me = self.id.as_str();
        let role = event.role.as_deref().unwrap_or("");
        match event.kind.as_str() {
            "participant_joined" if event.participant.as_deref() == Some(me) => {
                if role == "owner" {
                    self.now_owner(conversation);
                    return;
                }
                let Some(j) = Joined::parse(role) else { return };
                chat.me = Mine::In(j);
                chat.stint += 1;
                let stint = chat.stint;
                if let Some(c) = &conf {
                    if self.p.rng.chance(c.agent_drop_ratio) {
                        let after = c.drop_after_ms.pick(&mut self.p.rng);
                        self.p.drop_after(after);
                    }
                }
                if let Some(conf) = conf.filter(|c| c.participant_messages > 0) {
                    let pause = conf.participant_message_interval_ms.pick(&mut self.p.rng);
                    self.p.after(
                        pause,
                        Action::Speak {
                            conversation: conversation.to_string(),
                            stint,
                            left: conf.participant_messages,
                        },
                    );
                }
            }
            "participant_joined" => {
                let Some(who) = event.participant.clone() else {
                    return;
                };
                if self.p.shared.supervisor_ids.contains(&who) {
                    if role == "conference" {
                        chat.barged.insert(who.clone());
                    }
                    chat.supervisors.insert(who);
                    return;
                }
                let Some(j) = Joined::parse(role) else {
                    // A new owner (a transfer): not beside the owner.
                    chat.members.remove(&who);
                    return;
                };
                chat.members.insert(who.clone(), j);
                if chat.owning() {
                    if let Some(c) = &conf {
                        if self.p.rng.chance(c.agent_drop_ratio) {
                            let after = c.drop_after_ms.pick(&mut self.p.rng);
                            self.p.drop_after(after);
                        }
                    }
                    let convert = conf
                        .as_ref()
                        .filter(|c| j == Joined::Consult && self.p.rng.chance(c.convert_ratio));
                    if let Some(c) = convert {
                        let transfer = self.p.rng.chance(c.convert_transfer_share);
                        let after = c.convert_after_ms.pick(&mut self.p.rng);
                        self.p.after(
                            after,
                            Action::Convert {
                                conversation: conversation.to_string(),
                                agent: who,
                                transfer,
                            },
                        );
                    } else if let Some(conf) = conf.filter(|c| self.p.rng.chance(c.remove_ratio)) {
                        let after = conf.remove_after_ms.pick(&mut self.p.rng);
                        self.p.after(
                            after,
                            Action::Remove {
                                conversation: conversation.to_string(),
                                agent: who,
                            },
                        );
                    }
                }
            }
            "participant_left" if event.participant.as_deref() == Some(me) => {
                chat.me = Mine::Out;
                let held = self.seats.release(conversation);
                self.seat_check(None);
                let _ = held;
            }
            "participant_left" => {
                if let Some(who) = &event.participant {
                    chat.members.remove(who);
                    chat.supervisors.remove(who);
                    chat.barged.remove(who);
                }
            }
            "ownership_changed" if event.to.as_deref() == Some(me) => {
                let stats = &self.p.shared.stats;
                inc(if chat.me == Mine::In(Joined::Consult) {
                    &stats.c.converted_owners
                } else {
                    &stats.c.ownership_passed
                });
                let drop = conf.as_ref().and_then(|c| {
                    self.p
                        .rng
                        .chance(c.agent_drop_ratio)
                        .then(|| c.drop_after_ms.pick(&mut self.p.rng))
                });
                if let Some(after) = drop {
                    self.p.drop_after(after);
                }
                // The participant's seat is an owned chat now: `presence` counts it next.
                self.seats.release(conversation);
                self.now_owner(conversation);
            }
            "role_changed" if event.participant.as_deref() == Some(me) => {
                if let Some(j) = event.to.as_deref().and_then(Joined::parse) {
                    chat.me = Mine::In(j);
                    if matches!(self.seats.get(conversation), Some(Seat::Joined(_))) {
                        let v = self.seats.hold(conversation, Seat::Joined(j));
                        self.seat_check(v);
                    }
                }
            }
            "role_changed"
                if event
                    .participant
                    .as_ref()
                    .is_some_and(|w| self.p.shared.supervisor_ids.contains(w)) =>
            {
                if let Some(who) = &event.participant {
                    if event.to.as_deref() == Some("conference") {
                        chat.barged.insert(who.clone());
                    } else {
                        chat.barged.remove(who);
                    }
                }
            }
            "role_changed" => {
                if let (Some(who), Some(j)) = (
                    &event.participant,
                    event.to.as_deref().and_then(Joined::parse),
                ) {
                    chat.members.insert(who.clone(), j);
                }
            }
            "invited" => {
                if let Some(to) = &event.to {
                    chat.invited.insert(to.clone());
                }
            }
            "invite_ended" => {
                if let Some(to) = &event.to {
                    chat.invited.remove(to);
                }
            }
            _ => {}
        }
    }

    /// Another load agent, at random.
    fn transfer_target(&mut self) -> Option<String> {
        let ids = &self.p.shared.agent_ids;
        if ids.len() < 2 {
            return None;
        }
        loop {
            let pick = &ids[self.p.rng.index(ids.len())];
            if *pick != self.id {
                return Some(pick.clone());
            }
        }
    }

    /// An invitation to this agent: its seat is counted; the agent accepts, rejects, or (by
    /// ratio) lets it expire.
    fn invited(&mut self, conversation: String, role: Option<&str>) {
        let stats = &self.p.shared.stats;
        inc(&stats.c.invitations_received);
        let Some(role) = role.and_then(Joined::parse) else {
            stats.note(format!("invitation to {conversation} with role {role:?}"));
            return;
        };
        let v = self.seats.hold(&conversation, Seat::Invited(role));
        self.seat_check(v);
        self.invitations.insert(conversation.clone(), role);
        let Some(conf) = self.p.shared.scenario.conference.clone() else {
            return;
        };
        let roll = self.p.rng.unit();
        if roll < conf.ignore_ratio {
            inc(&self.p.shared.stats.c.invites_ignored);
            return;
        }
        let accept = roll >= conf.ignore_ratio + conf.reject_ratio;
        let think = conf.answer_think_ms.pick(&mut self.p.rng);
        self.p.after(
            think,
            Action::AnswerInvite {
                conversation,
                accept,
            },
        );
    }

    /// A new chat to follow: one of those to transfer, by the scenario's ratio.
    fn follow(&mut self, conversation: String) {
        let ratio = self.p.shared.scenario.agents.transfer_ratio;
        let will_transfer = self.p.rng.chance(ratio);
        self.chats.insert(conversation, Chat::new(will_transfer));
    }
}

impl Role for Agent {
    type Req = Req;
    type Action = Action;

    fn participant(&mut self) -> &mut Participant<Req, Action> {
        &mut self.p
    }

    fn finished(&self) -> bool {
        self.gone
    }

    fn gave_up(&mut self) {
        self.gone = true;
    }

    async fn act(&mut self, action: Action) {
        match action {
            Action::Answer {
                conversation,
                accept,
            } => {
                let (req, kind) = if accept {
                    (Req::Accept, "accept")
                } else {
                    (Req::Reject, "reject")
                };
                // The offer's seat is an owned chat or gone from now on.
                self.seats.release(&conversation);
                self.p
                    .request(req, protocol::on_conversation(kind, &conversation))
                    .await;
            }
            Action::Reply { conversation, to } => self.reply(conversation, to).await,
            Action::WrapUp { conversation } => {
                let disposition = self.p.shared.scenario.agents.disposition.clone();
                self.p
                    .request(
                        Req::WrapUp,
                        protocol::wrap_up(&conversation, disposition.as_deref()),
                    )
                    .await;
            }
            Action::TransferAccept { conversation } => {
                self.seats.release(&conversation);
                self.p
                    .request(
                        Req::TransferAccept,
                        protocol::on_conversation("transfer_accept", &conversation),
                    )
                    .await;
            }
            Action::Invite { conversation } => self.invite(conversation).await,
            Action::AnswerInvite {
                conversation,
                accept,
            } => {
                // Answered: the seat is a participant's seat (counted again on the ack) or gone.
                self.seats.release(&conversation);
                let Some(role) = self.invitations.remove(&conversation) else {
                    return;
                };
                let kind = if accept {
                    "invite_accept"
                } else {
                    "invite_reject"
                };
                let req = Req::InviteAnswer {
                    conversation: conversation.clone(),
                    accept,
                    role,
                };
                self.p
                    .request(req, protocol::on_conversation(kind, &conversation))
                    .await;
            }
            Action::Speak {
                conversation,
                stint,
                left,
            } => self.speak(conversation, stint, left).await,
            Action::InternalReply { conversation } => {
                let someone = self
                    .chats
                    .get(&conversation)
                    .is_some_and(|c| c.owning() && !c.members.is_empty());
                if someone {
                    self.say_internal(&conversation).await;
                }
            }
            Action::Remove {
                conversation,
                agent,
            } => {
                let still_in = self
                    .chats
                    .get(&conversation)
                    .is_some_and(|c| c.owning() && c.members.contains_key(&agent));
                if still_in {
                    self.p
                        .request(Req::Remove, protocol::remove(&conversation, &agent))
                        .await;
                }
            }
            Action::LeaveAsOwner { conversation } => {
                let Some(chat) = self.chats.get_mut(&conversation) else {
                    return;
                };
                let go = chat.me == Mine::Owner
                    && !chat.ended
                    && !chat.inviting
                    && chat.conference_member();
                if !go {
                    chat.leaving = false;
                    return;
                }
                let req = Req::Leave {
                    conversation: conversation.clone(),
                    owner: true,
                };
                self.p
                    .request(req, protocol::on_conversation("leave", &conversation))
                    .await;
            }
            Action::Convert {
                conversation,
                agent,
                transfer,
            } => {
                let Some(chat) = self.chats.get_mut(&conversation) else {
                    return;
                };
                let go = chat.owning() && chat.members.get(&agent) == Some(&Joined::Consult);
                if !go {
                    return;
                }
                if transfer {
                    // On its way out: no more replies, invitations or leaving from here.
                    chat.leaving = true;
                }
                let to = if transfer { "transfer" } else { "conference" };
                let req = Req::Convert {
                    conversation: conversation.clone(),
                    transfer,
                };
                self.p
                    .request(req, protocol::consult_convert(&conversation, &agent, to))
                    .await;
            }
            Action::LeaveAsParticipant {
                conversation,
                stint,
            } => {
                let go = self
                    .chats
                    .get(&conversation)
                    .is_some_and(|c| matches!(c.me, Mine::In(_)) && !c.ended && c.stint == stint);
                if go {
                    self.seats.release(&conversation);
                    let req = Req::Leave {
                        conversation: conversation.clone(),
                        owner: false,
                    };
                    self.p
                        .request(req, protocol::on_conversation("leave", &conversation))
                        .await;
                }
            }
        }
    }

    async fn on_ack(&mut self, p: Pending<Req>, data: Value) {
        let shared = self.p.shared.clone();
        let stats = &shared.stats;
        let seq = data.get("seq").and_then(Value::as_u64);
        match p.req {
            Req::Status { initial } => {
                if initial && !self.ready {
                    self.ready = true;
                    inc(&stats.c.agents_ready);
                }
            }
            Req::Accept => inc(&stats.c.offers_accepted),
            Req::Reject => inc(&stats.c.offers_rejected),
            Req::Send { num, conversation } => {
                self.p.send_acked(num, p.first_sent, &data);
                if let (Some(book), Some(seq)) = (&shared.audience, seq) {
                    let id = payload::client_msg_id(true, num);
                    book.message(&conversation, seq, Party::Agent(self.id.clone()), true, &id);
                }
            }
            Req::Internal { num, conversation } => {
                self.p.send_acked(num, p.first_sent, &data);
                if let (Some(book), Some(seq)) = (&shared.audience, seq) {
                    let id = payload::internal_msg_id(num);
                    book.message(
                        &conversation,
                        seq,
                        Party::Agent(self.id.clone()),
                        false,
                        &id,
                    );
                }
            }
            Req::Transfer { .. } => inc(&stats.c.transfers),
            Req::TransferAccept => inc(&stats.c.transfer_accepts),
            Req::WrapUp => {
                inc(&stats.c.wrap_ups);
                shared.agent_work.fetch_sub(1, Relaxed);
            }
            Req::Invite {
                conversation,
                role,
                queue,
            } => {
                inc(&stats.c.invites_sent);
                if queue {
                    inc(&stats.c.invites_to_queue);
                }
                inc(match role {
                    Joined::Conference => &stats.c.invites_conference,
                    Joined::Consult => &stats.c.invites_consult,
                });
                if let (Some(book), Some(seq)) = (&shared.audience, seq) {
                    book.invite_acked(&conversation, seq);
                }
                if let Some(chat) = self.chats.get_mut(&conversation) {
                    chat.inviting = false;
                }
            }
            Req::InviteAnswer {
                conversation,
                accept,
                role,
            } => {
                if !accept {
                    inc(&stats.c.invite_rejects);
                    return;
                }
                inc(&stats.c.invite_accepts);
                // In the chat now, unless its end (or a removal) already came.
                let out = self
                    .chats
                    .get(&conversation)
                    .is_some_and(|c| c.ended || c.me == Mine::Out);
                if !out {
                    let v = self.seats.hold(&conversation, Seat::Joined(role));
                    self.seat_check(v);
                }
            }
            Req::Remove => inc(&stats.c.participants_removed),
            Req::Leave { owner, .. } => inc(if owner {
                &stats.c.owner_leaves
            } else {
                &stats.c.participants_left
            }),
            Req::Convert { transfer, .. } => inc(if transfer {
                &stats.c.conversions_transfer
            } else {
                &stats.c.conversions_conference
            }),
            Req::Resume { conversation } => {
                // The replay is in: is it still in the chat the hello ack left out?
                let inside = self
                    .chats
                    .get(&conversation)
                    .is_some_and(|c| !c.ended && matches!(c.me, Mine::Owner | Mine::In(_)));
                if inside {
                    inc(&stats.c.roles_lost);
                    stats.note(format!(
                        "agent {} reconnected: hello did not list {conversation}, where it still is",
                        self.id
                    ));
                } else {
                    inc(&stats.c.out_while_away);
                }
            }
        }
    }

    async fn on_refused(&mut self, p: Pending<Req>, code: &str) {
        let stats = &self.p.shared.stats;
        match p.req {
            Req::Transfer { conversation } => {
                inc(&stats.c.transfers_failed);
                if let Some(chat) = self.chats.get_mut(&conversation) {
                    chat.will_transfer = false;
                }
            }
            Req::WrapUp => {
                self.p.shared.agent_work.fetch_sub(1, Relaxed);
            }
            Req::Invite { conversation, .. } => {
                inc(&stats.c.invites_refused);
                if code == "capacity" {
                    inc(&stats.c.invites_refused_capacity);
                }
                if let Some(chat) = self.chats.get_mut(&conversation) {
                    chat.inviting = false;
                }
            }
            Req::InviteAnswer { .. } => inc(&stats.c.invite_answers_refused),
            Req::Convert {
                conversation,
                transfer,
            } => {
                inc(&stats.c.conversions_refused);
                // Still the owner (a retry after a reconnect may be refused because the first
                // try went through: the log says so then): replies skipped meanwhile are owed.
                let still = self
                    .chats
                    .get_mut(&conversation)
                    .filter(|c| c.me == Mine::Owner && !c.ended)
                    .map(|c| c.leaving = false)
                    .is_some();
                if transfer && still {
                    self.now_owner(&conversation);
                }
            }
            Req::Resume { conversation } => {
                // Taken out meanwhile: the chat is not its to read any more.
                inc(&stats.c.out_while_away);
                self.chats.remove(&conversation);
                if matches!(self.seats.get(&conversation), Some(Seat::Joined(_))) {
                    self.seats.release(&conversation);
                }
            }
            Req::Leave {
                conversation,
                owner: true,
            } => {
                if let Some(chat) = self.chats.get_mut(&conversation) {
                    chat.leaving = false;
                }
            }
            _ => {}
        }
    }

    async fn on_timeout(&mut self, p: Pending<Req>) {
        match p.req {
            Req::WrapUp => {
                self.p.shared.agent_work.fetch_sub(1, Relaxed);
            }
            Req::Invite { conversation, .. } => {
                if let Some(chat) = self.chats.get_mut(&conversation) {
                    chat.inviting = false;
                }
            }
            _ => {}
        }
    }

    async fn on_event(
        &mut self,
        conversation: String,
        seq: u64,
        prev: u64,
        epoch: &str,
        event: Event,
    ) {
        let shared = self.p.shared.clone();
        let stats = &shared.stats;
        let track = self.chats.get_mut(&conversation).map(|c| &mut c.track);
        if !self
            .p
            .agent_event(&self.id, track, &conversation, (seq, prev, epoch), &event)
        {
            return;
        }
        let Some(chat) = self.chats.get_mut(&conversation) else {
            return;
        };
        let from_me = event.author.id.as_deref() == Some(self.id.as_str());
        match event.kind.as_str() {
            "message" if event.author.role == "customer" => {
                let id = &self.id;
                let Some(got) = self.p.received(&mut chat.track, &event, |num| {
                    format!("agent {id} got customer message c{num} of {conversation} twice")
                }) else {
                    return;
                };
                chat.customer_messages += 1;
                if shared.scenario.agents.reply && !chat.ended {
                    chat.unanswered.insert(got.num);
                    // Only the owner answers; a participant keeps count in case it takes over.
                    if chat.me == Mine::Owner {
                        let think = shared.scenario.agents.reply_think_ms.pick(&mut self.p.rng);
                        self.p.after(
                            think,
                            Action::Reply {
                                conversation,
                                to: got.num,
                            },
                        );
                    }
                }
            }
            "message" => {
                if let Some(to) = event
                    .text
                    .as_deref()
                    .and_then(payload::parse)
                    .and_then(|s| s.reply_to)
                {
                    chat.unanswered.remove(&to);
                }
                if !from_me && shared.audience.is_some() {
                    let id = &self.id;
                    let _ = self.p.received_as(&mut chat.track, &event, None, |num| {
                        format!("agent {id} got agent message a{num} of {conversation} twice")
                    });
                }
            }
            "internal" if !from_me => {
                let id = &self.id;
                let got = self.p.received_as(
                    &mut chat.track,
                    &event,
                    Some(&stats.lat.delivery_internal),
                    |num| format!("agent {id} got internal message i{num} of {conversation} twice"),
                );
                let answer = shared
                    .scenario
                    .conference
                    .as_ref()
                    .map_or(0.0, |c| c.internal_reply_ratio);
                if got.is_some()
                    && event.author.role == "agent"
                    && chat.owning()
                    && self.p.rng.chance(answer)
                {
                    let think = shared.scenario.agents.reply_think_ms.pick(&mut self.p.rng);
                    self.p.after(think, Action::InternalReply { conversation });
                }
            }
            "transferred_to_queue" | "transfer_accepted" => chat.transfers += 1,
            "ended" if !chat.ended => {
                chat.ended = true;
                chat.unanswered.clear();
                let owner = matches!(chat.me, Mine::Owner | Mine::Unknown);
                if matches!(self.seats.get(&conversation), Some(Seat::Joined(_))) {
                    self.seats.release(&conversation);
                }
                // The owner at the end wraps up; participants have nothing to wrap.
                if owner {
                    shared.agent_work.fetch_add(1, Relaxed);
                    let delay = shared.scenario.agents.wrap_up_ms.pick(&mut self.p.rng);
                    self.p.after(delay, Action::WrapUp { conversation });
                }
            }
            "participant_joined" | "participant_left" | "ownership_changed" | "role_changed"
            | "invited" | "invite_ended" => self.membership(&conversation, &event),
            _ => {}
        }
    }

    fn on_signal(&mut self, s: Signal) {
        if s.signal == "presence" {
            if let (Some(assigned), Some(max)) = (s.assigned, s.max_chats) {
                let v = self.seats.presence(assigned, max);
                self.seat_check(v);
            }
            return;
        }
        let Some(conversation) = s.conversation else {
            return;
        };
        let stats = &self.p.shared.stats;
        match s.signal.as_str() {
            "offer" => {
                inc(&stats.c.offers);
                stats.tick(Tick::Offer);
                let started = s
                    .customer_name
                    .as_deref()
                    .and_then(customer::index_from_name)
                    .and_then(|c| self.p.shared.starts.first_offer(c));
                if let Some(at) = started {
                    record(&stats.lat.start_to_offer, clock::since(at));
                }
                let a = &self.p.shared.scenario.agents;
                let accept = !self.p.rng.chance(a.reject_ratio);
                let think = a.accept_think_ms.pick(&mut self.p.rng);
                let v = self.seats.hold(&conversation, Seat::Offer);
                self.seat_check(v);
                self.p.after(
                    think,
                    Action::Answer {
                        conversation,
                        accept,
                    },
                );
            }
            "offer_ended" => {
                inc(&stats.c.offers_withdrawn);
                stats.note(format!(
                    "offer ended: {}",
                    s.outcome.as_deref().unwrap_or("?")
                ));
                self.seats.release(&conversation);
            }
            "joined" => self.follow(conversation),
            "left" => {
                self.chats.remove(&conversation);
                if matches!(self.seats.get(&conversation), Some(Seat::Joined(_))) {
                    self.seats.release(&conversation);
                }
            }
            "transfer_offer" => {
                let a = &self.p.shared.scenario.agents;
                let think = a.transfer_accept_ms.pick(&mut self.p.rng);
                let v = self.seats.hold(&conversation, Seat::TransferIn);
                self.seat_check(v);
                self.p.after(think, Action::TransferAccept { conversation });
            }
            "transfer_ended" => {
                self.seats.release(&conversation);
            }
            "invitation" => self.invited(conversation, s.role.as_deref()),
            "invitation_ended" => {
                self.seats.release(&conversation);
                self.invitations.remove(&conversation);
                match s.outcome.as_deref() {
                    Some("expired") => inc(&stats.c.invitation_ended_expired),
                    Some("cancelled") => inc(&stats.c.invitation_ended_cancelled),
                    other => stats.note(format!("invitation_ended with outcome {other:?}")),
                }
            }
            "resumed" => {
                let recovered = s.recovered != Some(false);
                match self.chats.get_mut(&conversation) {
                    Some(chat) if !recovered => chat.track = ConvTracker::default(),
                    Some(_) => {}
                    // Assigned while our accept's ack was lost: the server replays it all.
                    None => self.follow(conversation.clone()),
                }
                self.p.resumed(Some(&conversation), recovered);
            }
            _ => {}
        }
    }

    /// Every chat it knows, ended ones too: a chat that ended but is not wrapped up yet is
    /// followed again by the server, which replays from here instead of from the start.
    fn resume_points(&self) -> Vec<Value> {
        self.chats
            .iter()
            .map(|(c, chat)| protocol::resume_point(c, chat.track.last_seq(), chat.track.epoch()))
            .collect()
    }

    /// Owned chats, chats it is in beside their owner, and ended ones still to wrap up. A
    /// chat it was in (open, as far as it knows) that the ack does not list is checked with a
    /// `resume` once reconnected.
    fn to_resume(&mut self, hello: &Value) -> HashSet<String> {
        // Listed in either list is enough: its role may have changed while it was away (a
        // conference participant made owner); the replay says so.
        let listed: HashSet<String> = ids_in(hello, "assigned")
            .into_iter()
            .chain(ids_in(hello, "participating"))
            .chain(ids_in(hello, "wrap_up"))
            .collect();
        self.unlisted = self
            .chats
            .iter()
            .filter(|(c, chat)| {
                !chat.ended && matches!(chat.me, Mine::Owner | Mine::In(_)) && !listed.contains(*c)
            })
            .map(|(c, _)| c.clone())
            .collect();
        listed
    }

    /// A new session starts `away`. Pending offers and invitations whose end may have been
    /// missed are forgotten (the server sends the pending ones again).
    async fn reconnected(&mut self) {
        self.seats.forget_pending();
        self.invitations.clear();
        self.go_available(false).await;
        for conversation in std::mem::take(&mut self.unlisted) {
            let Some(chat) = self.chats.get(&conversation) else {
                continue;
            };
            let point =
                protocol::resume_point(&conversation, chat.track.last_seq(), chat.track.epoch());
            let mut command = point;
            command["type"] = Value::from("resume");
            self.p.request(Req::Resume { conversation }, command).await;
        }
    }
}
