//! A simulated supervisor (`[supervisors]`): signs in with a supervisor token (no queues, never
//! available, so never offered chats), picks live chats at random (those whose customer sees an
//! agent now, `Shared::live`) and `monitor`s them: `observe`, then maybe `coach` (writes
//! `internal`), then maybe `barge` (writes `send`: the customer sees it), then `leave`. While in
//! it must receive everything agents get (the audience book counts it like any agent in the
//! chat, from its `participant_joined` to its `participant_left`); customers check that nothing
//! of an observer's or coach's reaches them (`customer.rs`). A share of supervisors drop their
//! socket while monitoring and resume.
//!
//! Owners do not leave a chat while a supervisor is barged in (ownership would pass to it); if it
//! passes anyway (a race), the supervisor leaves at once (counted).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use crate::audience::Party;
use crate::client::{ids_in, Conn};
use crate::participant::{self, Participant, Request, Role, Side};
use crate::payload;
use crate::protocol::{self, Event, Signal};
use crate::requests::Pending;
use crate::scenario::Supervisors;
use crate::shared::Shared;
use crate::stats::inc;
use crate::token;
use crate::tracker::ConvTracker;

/// Runs supervisor `idx` until the run tells agents to stop.
pub async fn run(shared: Arc<Shared>, idx: usize) {
    let Some(conf) = shared.scenario.supervisors.clone() else {
        return;
    };
    let id = shared.supervisor_ids[idx].clone();
    let name = format!("Load Supervisor {}", idx + 1);
    let ttl = shared.scenario.run.timeout_secs + 3600;
    let token = match token::supervisor(&shared.scenario.target, &id, &name, ttl) {
        Ok(t) => t,
        Err(e) => {
            shared.stats.note(format!("supervisor sign-in: {e:#}"));
            return;
        }
    };
    // Slots after the agents', so that supervisors spread over the nodes too.
    let slot = shared.agent_ids.len() + idx;
    let conn = match Conn::establish_first(&shared, slot, &token).await {
        Ok((conn, _)) => conn,
        Err(e) => {
            shared.stats.note(format!("supervisor sign-in: {e:#}"));
            return;
        }
    };
    let mut sup = Supervisor {
        p: Participant::new(shared, Side::Supervisor, idx, token, conn),
        conf,
        id,
        gone: false,
        chats: HashMap::new(),
        step: 0,
        unlisted: Vec::new(),
    };
    let first = sup.conf.pick_every_ms.pick(&mut sup.p.rng);
    sup.p.after(first, Action::Pick);
    participant::run(&mut sup).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Observe,
    Coach,
    Barge,
}

impl Mode {
    fn wire(self) -> &'static str {
        match self {
            Mode::Observe => "observe",
            Mode::Coach => "coach",
            Mode::Barge => "barge",
        }
    }
}

enum Req {
    Monitor { conversation: String, mode: Mode },
    Internal { num: u64, conversation: String },
    Send { num: u64, conversation: String },
    Leave { conversation: String },
    Resume,
}

impl Request for Req {
    fn name(&self) -> &'static str {
        match self {
            Req::Monitor { .. } => "monitor",
            Req::Internal { .. } => "internal",
            Req::Send { .. } => "send",
            Req::Leave { .. } => "leave",
            Req::Resume => "resume",
        }
    }

    fn is_message(&self) -> bool {
        matches!(self, Req::Internal { .. } | Req::Send { .. })
    }
}

enum Action {
    /// Monitor another live chat, if under `max_monitors`.
    Pick,
    /// The next mode (or leaving) for the step it was scheduled in.
    Next { conversation: String, step: u64 },
    Speak {
        conversation: String,
        step: u64,
        left: u32,
    },
}

/// One chat it monitors.
struct Mon {
    track: ConvTracker,
    /// The mode the server acked (`None` until the first ack).
    mode: Option<Mode>,
    /// Each mode change gets a new step; actions of older steps are dropped.
    step: u64,
    ended: bool,
    /// Left (its `leave` sent, or taken out).
    out: bool,
}

struct Supervisor {
    p: Participant<Req, Action>,
    conf: Supervisors,
    id: String,
    gone: bool,
    chats: HashMap<String, Mon>,
    step: u64,
    /// After a reconnect: chats it followed, not ended as far as it knows, that the hello ack
    /// did not list (the chat ended meanwhile, or it was taken out): read to the end with
    /// `resume` (supervisors may resume any chat of the org).
    unlisted: Vec<String>,
}

impl Supervisor {
    fn active(&self) -> usize {
        self.chats.values().filter(|m| !m.ended && !m.out).count()
    }

    async fn pick(&mut self) {
        let again = self.conf.pick_every_ms.pick(&mut self.p.rng);
        self.p.after(again, Action::Pick);
        if self.active() >= self.conf.max_monitors {
            return;
        }
        let roll = self.p.rng.next_u64() as usize;
        let Some(conversation) = self.p.shared.live.pick(roll) else {
            return;
        };
        if self.chats.contains_key(&conversation) {
            return;
        }
        self.chats.insert(
            conversation.clone(),
            Mon {
                track: ConvTracker::default(),
                mode: None,
                step: 0,
                ended: false,
                out: false,
            },
        );
        self.monitor(conversation, Mode::Observe).await;
    }

    async fn monitor(&mut self, conversation: String, mode: Mode) {
        let command = protocol::monitor(&conversation, mode.wire());
        self.p
            .request(Req::Monitor { conversation, mode }, command)
            .await;
    }

    async fn leave(&mut self, conversation: String) {
        if let Some(m) = self.chats.get_mut(&conversation) {
            if m.out {
                return;
            }
            m.out = true;
        }
        let command = protocol::on_conversation("leave", &conversation);
        self.p.request(Req::Leave { conversation }, command).await;
    }

    /// After a dwell in `mode`: coach, barge in, or leave.
    async fn next(&mut self, conversation: String, step: u64) {
        let Some(m) = self.chats.get(&conversation) else {
            return;
        };
        if m.step != step || m.ended || m.out {
            return;
        }
        let next = match m.mode {
            Some(Mode::Observe) if self.p.rng.chance(self.conf.coach_ratio) => Some(Mode::Coach),
            Some(Mode::Observe | Mode::Coach) if self.p.rng.chance(self.conf.barge_ratio) => {
                Some(Mode::Barge)
            }
            _ => None,
        };
        match next {
            Some(mode) => self.monitor(conversation, mode).await,
            None => self.leave(conversation).await,
        }
    }

    async fn speak(&mut self, conversation: String, step: u64, left: u32) {
        let Some(m) = self.chats.get(&conversation) else {
            return;
        };
        if m.step != step || m.ended || m.out || left == 0 {
            return;
        }
        let shared = self.p.shared.clone();
        let size = shared.scenario.customers.message_bytes;
        match m.mode {
            Some(Mode::Coach) => {
                let num = shared.ledger.allocate_internal();
                let text = payload::compose_tagged("s", size);
                let command =
                    protocol::internal(&conversation, &payload::internal_msg_id(num), &text);
                inc(&shared.stats.c.messages_sent);
                inc(&shared.stats.c.supervisor_internal);
                let req = Req::Internal {
                    num,
                    conversation: conversation.clone(),
                };
                self.p.request(req, command).await;
            }
            Some(Mode::Barge) => {
                let num = shared.ledger.allocate(true);
                let text = payload::compose_tagged("b", size);
                let command =
                    protocol::send(&conversation, &payload::client_msg_id(true, num), &text);
                inc(&shared.stats.c.messages_sent);
                inc(&shared.stats.c.supervisor_messages);
                let req = Req::Send {
                    num,
                    conversation: conversation.clone(),
                };
                self.p.request(req, command).await;
            }
            _ => return,
        }
        if left > 1 {
            let pause = self.conf.message_interval_ms.pick(&mut self.p.rng);
            self.p.after(
                pause,
                Action::Speak {
                    conversation,
                    step,
                    left: left - 1,
                },
            );
        }
    }

    /// An event about itself: taken out, or (a race with an owner's `leave`) made owner.
    async fn about_me(&mut self, conversation: &str, event: &Event) {
        let me = self.id.as_str();
        match event.kind.as_str() {
            "participant_left" if event.participant.as_deref() == Some(me) => {
                if let Some(m) = self.chats.get_mut(conversation) {
                    m.out = true;
                }
            }
            "ownership_changed" if event.to.as_deref() == Some(me) => {
                inc(&self.p.shared.stats.c.supervisor_owned);
                self.p.shared.stats.note(format!(
                    "supervisor {me} became the owner of {conversation}; it leaves"
                ));
                if let Some(m) = self.chats.get_mut(conversation) {
                    m.out = false;
                }
                self.leave(conversation.to_string()).await;
            }
            _ => {}
        }
    }
}

impl Role for Supervisor {
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
            Action::Pick => self.pick().await,
            Action::Next { conversation, step } => self.next(conversation, step).await,
            Action::Speak {
                conversation,
                step,
                left,
            } => self.speak(conversation, step, left).await,
        }
    }

    async fn on_ack(&mut self, p: Pending<Req>, data: Value) {
        let shared = self.p.shared.clone();
        let stats = &shared.stats;
        let seq = data.get("seq").and_then(Value::as_u64);
        match p.req {
            Req::Monitor { conversation, mode } => {
                inc(match mode {
                    Mode::Observe => &stats.c.monitors_observe,
                    Mode::Coach => &stats.c.monitors_coach,
                    Mode::Barge => &stats.c.monitors_barge,
                });
                self.step += 1;
                let step = self.step;
                let Some(m) = self.chats.get_mut(&conversation) else {
                    return;
                };
                if m.ended || m.out {
                    return;
                }
                m.mode = Some(mode);
                m.step = step;
                let dwell = self.conf.dwell_ms.pick(&mut self.p.rng);
                self.p.after(
                    dwell,
                    Action::Next {
                        conversation: conversation.clone(),
                        step,
                    },
                );
                if mode != Mode::Observe && self.conf.messages > 0 {
                    let pause = self.conf.message_interval_ms.pick(&mut self.p.rng);
                    self.p.after(
                        pause,
                        Action::Speak {
                            conversation,
                            step,
                            left: self.conf.messages,
                        },
                    );
                } else if mode == Mode::Observe && self.p.rng.chance(self.conf.drop_ratio) {
                    let after = self.conf.drop_after_ms.pick(&mut self.p.rng);
                    self.p.drop_after(after);
                }
            }
            Req::Internal {
                num,
                ref conversation,
            } => {
                self.p.send_acked(num, p.first_sent, &data);
                if let (Some(book), Some(seq)) = (&shared.audience, seq) {
                    let id = payload::internal_msg_id(num);
                    book.message(conversation, seq, Party::Agent(self.id.clone()), false, &id);
                }
            }
            Req::Send {
                num,
                ref conversation,
            } => {
                self.p.send_acked(num, p.first_sent, &data);
                if let (Some(book), Some(seq)) = (&shared.audience, seq) {
                    let id = payload::client_msg_id(true, num);
                    book.message(conversation, seq, Party::Agent(self.id.clone()), true, &id);
                }
            }
            Req::Leave { .. } => inc(&stats.c.monitors_left),
            Req::Resume => {}
        }
    }

    async fn on_refused(&mut self, p: Pending<Req>, code: &str) {
        match p.req {
            Req::Monitor { conversation, mode } => {
                inc(&self.p.shared.stats.c.monitors_refused);
                // Never in: forget it. Already in (a mode switch refused): leave.
                let first = self
                    .chats
                    .get(&conversation)
                    .is_some_and(|m| m.mode.is_none());
                if first || code == "ended" {
                    if let Some(m) = self.chats.get_mut(&conversation) {
                        m.out = true;
                    }
                    if first && mode == Mode::Observe {
                        self.chats.remove(&conversation);
                    }
                } else {
                    self.leave(conversation).await;
                }
            }
            Req::Leave { conversation } if code != "ended" => {
                self.p.shared.stats.note(format!(
                    "supervisor {} could not leave {conversation}: {code}",
                    self.id
                ));
            }
            Req::Leave { .. } | Req::Internal { .. } | Req::Send { .. } | Req::Resume => {}
        }
    }

    async fn on_timeout(&mut self, _p: Pending<Req>) {}

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
        let track = self.chats.get_mut(&conversation).map(|m| &mut m.track);
        if !self
            .p
            .agent_event(&self.id, track, &conversation, (seq, prev, epoch), &event)
        {
            return;
        }
        let Some(m) = self.chats.get_mut(&conversation) else {
            return;
        };
        let from_me = event.author.id.as_deref() == Some(self.id.as_str());
        let id = &self.id;
        match event.kind.as_str() {
            "message" if event.author.role == "customer" => {
                let _ = self.p.received(&mut m.track, &event, |num| {
                    format!("supervisor {id} got customer message c{num} of {conversation} twice")
                });
            }
            "message" if !from_me => {
                let _ = self.p.received_as(&mut m.track, &event, None, |num| {
                    format!("supervisor {id} got agent message a{num} of {conversation} twice")
                });
            }
            "internal" if !from_me => {
                let _ = self.p.received_as(
                    &mut m.track,
                    &event,
                    Some(&stats.lat.delivery_internal),
                    |num| {
                        format!(
                            "supervisor {id} got internal message i{num} of {conversation} twice"
                        )
                    },
                );
            }
            "ended" => m.ended = true,
            "participant_left" | "ownership_changed" => {
                self.about_me(&conversation, &event).await;
            }
            _ => {}
        }
    }

    fn on_signal(&mut self, s: Signal) {
        let Some(conversation) = s.conversation else {
            return;
        };
        match s.signal.as_str() {
            "joined" => {
                self.chats.entry(conversation).or_insert_with(|| Mon {
                    track: ConvTracker::default(),
                    mode: None,
                    step: 0,
                    ended: false,
                    out: false,
                });
            }
            "left" => {
                self.chats.remove(&conversation);
            }
            "resumed" => {
                let recovered = s.recovered != Some(false);
                if let Some(m) = self.chats.get_mut(&conversation) {
                    if !recovered {
                        m.track = ConvTracker::default();
                    }
                }
                self.p.resumed(Some(&conversation), recovered);
            }
            _ => {}
        }
    }

    fn resume_points(&self) -> Vec<Value> {
        self.chats
            .iter()
            .map(|(c, m)| protocol::resume_point(c, m.track.last_seq(), m.track.epoch()))
            .collect()
    }

    fn to_resume(&mut self, hello: &Value) -> HashSet<String> {
        let mut listed = ids_in(hello, "participating");
        listed.extend(ids_in(hello, "assigned"));
        self.unlisted = self
            .chats
            .iter()
            // Only chats it was in (a `monitor` acked): one whose first `monitor` is still on
            // its way is followed when the retry goes through.
            .filter(|(c, m)| m.mode.is_some() && !m.ended && !listed.contains(*c))
            .map(|(c, _)| c.clone())
            .collect();
        listed
    }

    async fn reconnected(&mut self) {
        for conversation in std::mem::take(&mut self.unlisted) {
            let Some(m) = self.chats.get(&conversation) else {
                continue;
            };
            let mut command =
                protocol::resume_point(&conversation, m.track.last_seq(), m.track.epoch());
            command["type"] = Value::from("resume");
            self.p.request(Req::Resume, command).await;
        }
    }
}
