//! The timer supervisor: one deadline set per node (DESIGN §1), instead of one timer per
//! conversation.
//!
//! Actors ask it to wake them at a deadline; it keeps the deadlines ordered, sleeps until the
//! earliest and then delivers a message through the directory — so a wake-up reaches the current
//! activation even if the actor was restarted since it asked. Each target has at most one
//! deadline: scheduling again replaces it. Handlers re-check their condition when woken, so a
//! stale wake-up is harmless.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use actix::prelude::*;
use chrono::{DateTime, Utc};

use super::agent::{AgentActor, OfferTimeout};
use super::conversation::{ConversationActor, TimerFired};
use super::route::tell;
use crate::domain::conversation::TimerKind;
use crate::ids::{AgentKey, ConvKey, ConversationId};
use crate::runtime::Rt;

/// What to wake.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimerTarget {
    Conversation(ConvKey, TimerKind),
    /// An assignment offer held by an agent.
    Offer(AgentKey, ConversationId),
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Schedule {
    pub target: TimerTarget,
    pub at: DateTime<Utc>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Cancel(pub TimerTarget);

/// How many deadlines are pending (for tests and metrics).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Pending;

pub struct TimerWheel {
    rt: Rt,
    /// Deadlines in firing order; the `u64` breaks ties and makes keys unique.
    by_time: BTreeMap<(Instant, u64), TimerTarget>,
    by_target: HashMap<TimerTarget, (Instant, u64)>,
    next_id: u64,
    /// The single pending wake-up, for the earliest deadline.
    wake: Option<(Instant, SpawnHandle)>,
}

impl TimerWheel {
    pub fn new(rt: Rt) -> Self {
        Self {
            rt,
            by_time: BTreeMap::new(),
            by_target: HashMap::new(),
            next_id: 0,
            wake: None,
        }
    }

    fn to_instant(at: DateTime<Utc>) -> Instant {
        let now = Instant::now();
        let delta = at - Utc::now();
        match delta.to_std() {
            Ok(d) => now + d,
            Err(_) => now, // In the past: due now.
        }
    }

    fn rearm(&mut self, ctx: &mut Context<Self>) {
        let Some((&(earliest, _), _)) = self.by_time.iter().next() else {
            if let Some((_, h)) = self.wake.take() {
                ctx.cancel_future(h);
            }
            return;
        };
        if let Some((at, _)) = self.wake {
            if at <= earliest {
                return;
            }
        }
        if let Some((_, h)) = self.wake.take() {
            ctx.cancel_future(h);
        }
        let delay = earliest.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, |act, ctx| {
            act.wake = None;
            act.fire_due(ctx);
        });
        self.wake = Some((earliest, handle));
    }

    fn fire_due(&mut self, ctx: &mut Context<Self>) {
        // Deadlines within a millisecond fire together.
        let now = Instant::now() + Duration::from_millis(1);
        while let Some((&key, _)) = self.by_time.iter().next() {
            if key.0 > now {
                break;
            }
            let Some(target) = self.by_time.remove(&key) else {
                break;
            };
            self.by_target.remove(&target);
            self.deliver(target);
        }
        self.rearm(ctx);
    }

    fn deliver(&self, target: TimerTarget) {
        match target {
            TimerTarget::Conversation(key, kind) => {
                tell::<ConversationActor, _>(&self.rt, &key, TimerFired { kind });
            }
            TimerTarget::Offer(agent, conversation) => {
                tell::<AgentActor, _>(&self.rt, &agent, OfferTimeout { conversation });
            }
        }
    }

    fn remove(&mut self, target: &TimerTarget) {
        if let Some(key) = self.by_target.remove(target) {
            self.by_time.remove(&key);
        }
    }
}

impl Actor for TimerWheel {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Deadlines pile up faster than the default mailbox of 16 drains under load.
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<Schedule> for TimerWheel {
    type Result = ();

    fn handle(&mut self, msg: Schedule, ctx: &mut Self::Context) {
        self.remove(&msg.target);
        self.next_id += 1;
        let key = (Self::to_instant(msg.at), self.next_id);
        self.by_target.insert(msg.target.clone(), key);
        self.by_time.insert(key, msg.target);
        self.rearm(ctx);
    }
}

impl Handler<Cancel> for TimerWheel {
    type Result = ();

    fn handle(&mut self, msg: Cancel, ctx: &mut Self::Context) {
        self.remove(&msg.0);
        self.rearm(ctx);
    }
}

impl Handler<Pending> for TimerWheel {
    type Result = usize;

    fn handle(&mut self, _: Pending, _: &mut Self::Context) -> usize {
        self.by_time.len()
    }
}
