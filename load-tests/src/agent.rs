//! A simulated agent: signs in with a minted token, goes available, answers offers after a think
//! time (accepting or, by ratio, rejecting), replies to every customer message, transfers a
//! share of its chats, and wraps chats up when they end.
//!
//! After a transfer the new owner gets the whole log replayed; it answers the customer messages
//! that have no reply yet (a reply names the message it answers, see `payload.rs`), so that no
//! customer waits forever because its chat changed hands.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use serde_json::Value;

use crate::client::{ids_in, Conn};
use crate::clock;
use crate::customer;
use crate::participant::{self, Participant, Request, Role, Side};
use crate::payload;
use crate::protocol::{self, Event, Signal};
use crate::requests::Pending;
use crate::scenario::TransferTo;
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
    Send {
        num: u64,
    },
    Transfer {
        conversation: String,
    },
    TransferAccept,
    WrapUp,
}

impl Request for Req {
    fn name(&self) -> &'static str {
        match self {
            Req::Status { .. } => "status",
            Req::Accept => "accept",
            Req::Reject => "reject",
            Req::Send { .. } => "send",
            Req::Transfer { .. } => "transfer",
            Req::TransferAccept => "transfer_accept",
            Req::WrapUp => "wrap_up",
        }
    }

    fn is_message(&self) -> bool {
        matches!(self, Req::Send { .. })
    }
}

enum Action {
    Answer { conversation: String, accept: bool },
    Reply { conversation: String, to: u64 },
    WrapUp { conversation: String },
    TransferAccept { conversation: String },
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
        }
    }
}

struct Agent {
    p: Participant<Req, Action>,
    id: String,
    ready: bool,
    /// Gave up reconnecting.
    gone: bool,
    chats: HashMap<String, Chat>,
}

impl Agent {
    fn new(shared: Arc<Shared>, idx: usize, id: String, token: String, conn: Conn) -> Self {
        Self {
            p: Participant::new(shared, Side::Agent, idx, token, conn),
            id,
            ready: false,
            gone: false,
            chats: HashMap::new(),
        }
    }

    async fn go_available(&mut self, initial: bool) {
        self.p
            .request(Req::Status { initial }, protocol::status_available())
            .await;
    }

    /// Answers customer message `to` unless it was answered meanwhile (by us or, seen in a
    /// replay, by a previous owner); then transfers the chat if it is one of those to transfer.
    async fn reply(&mut self, conversation: String, to: u64) {
        let shared = self.p.shared.clone();
        let a = &shared.scenario.agents;
        let Some(chat) = self.chats.get_mut(&conversation) else {
            return;
        };
        if chat.ended || !chat.unanswered.remove(&to) {
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
        self.p.request(Req::Send { num }, command).await;
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
                self.p
                    .request(
                        Req::TransferAccept,
                        protocol::on_conversation("transfer_accept", &conversation),
                    )
                    .await;
            }
        }
    }

    async fn on_ack(&mut self, p: Pending<Req>, data: Value) {
        let stats = &self.p.shared.stats;
        match p.req {
            Req::Status { initial } => {
                if initial && !self.ready {
                    self.ready = true;
                    inc(&stats.c.agents_ready);
                }
            }
            Req::Accept => inc(&stats.c.offers_accepted),
            Req::Reject => inc(&stats.c.offers_rejected),
            Req::Send { num } => self.p.send_acked(num, p.first_sent, &data),
            Req::Transfer { .. } => inc(&stats.c.transfers),
            Req::TransferAccept => inc(&stats.c.transfer_accepts),
            Req::WrapUp => {
                inc(&stats.c.wrap_ups);
                self.p.shared.agent_work.fetch_sub(1, Relaxed);
            }
        }
    }

    async fn on_refused(&mut self, p: Pending<Req>, _code: &str) {
        match p.req {
            Req::Transfer { conversation } => {
                inc(&self.p.shared.stats.c.transfers_failed);
                if let Some(chat) = self.chats.get_mut(&conversation) {
                    chat.will_transfer = false;
                }
            }
            Req::WrapUp => {
                self.p.shared.agent_work.fetch_sub(1, Relaxed);
            }
            _ => {}
        }
    }

    async fn on_timeout(&mut self, p: Pending<Req>) {
        if matches!(p.req, Req::WrapUp) {
            self.p.shared.agent_work.fetch_sub(1, Relaxed);
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
        let Some(chat) = self.chats.get_mut(&conversation) else {
            inc(&stats.c.stray_events);
            stats.note(format!(
                "agent {} got event {seq} of {conversation}, which it does not follow",
                self.id
            ));
            return;
        };
        self.p
            .check_event(&mut chat.track, &conversation, seq, prev, epoch);
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
            "message" => {
                if let Some(to) = event
                    .text
                    .as_deref()
                    .and_then(payload::parse)
                    .and_then(|s| s.reply_to)
                {
                    chat.unanswered.remove(&to);
                }
            }
            "transferred_to_queue" | "transfer_accepted" => chat.transfers += 1,
            "ended" if !chat.ended => {
                chat.ended = true;
                chat.unanswered.clear();
                shared.agent_work.fetch_add(1, Relaxed);
                let delay = shared.scenario.agents.wrap_up_ms.pick(&mut self.p.rng);
                self.p.after(delay, Action::WrapUp { conversation });
            }
            _ => {}
        }
    }

    fn on_signal(&mut self, s: Signal) {
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
            }
            "joined" => self.follow(conversation),
            "left" => {
                self.chats.remove(&conversation);
            }
            "transfer_offer" => {
                let a = &self.p.shared.scenario.agents;
                let think = a.transfer_accept_ms.pick(&mut self.p.rng);
                self.p.after(think, Action::TransferAccept { conversation });
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

    fn to_resume(&self, hello: &Value) -> HashSet<String> {
        ids_in(hello, "assigned")
    }

    /// A new session starts `away`.
    async fn reconnected(&mut self) {
        self.go_available(false).await;
    }
}
