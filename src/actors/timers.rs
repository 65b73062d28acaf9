//! The timer supervisor: one deadline set per node (DESIGN §1), instead of one timer per
//! conversation.
//!
//! Actors ask it to wake them at a deadline through [`Timers`], a handle that exists before
//! anything else of the actor layer; the supervisor task keeps the deadlines ordered, sleeps
//! until the earliest and then delivers a message through the directory — so a wake-up reaches
//! the current activation even if the actor was restarted since it asked. Each target has at
//! most one deadline: scheduling again replaces it. Handlers re-check their condition when
//! woken, so a stale wake-up is harmless.
//!
//! **Bounded** (DESIGN invariant 8): requests do not queue up as messages. They land in one map
//! keyed by target (a newer request for a target replaces the older one), so what waits for the
//! supervisor is at most one entry per live conversation and offer, however fast actors ask.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::agent::{AgentActor, OfferTimeout};
use super::conversation::{ConversationActor, TimerFired};
use super::route::tell;
use super::Rt;
use crate::domain::conversation::TimerKind;
use crate::ids::{AgentKey, ConvKey, ConversationId};

/// What to wake.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimerTarget {
    Conversation(ConvKey, TimerKind),
    /// An assignment offer held by an agent.
    Offer(AgentKey, ConversationId),
}

/// The handle actors use: schedule or cancel a wake-up. Cheap, never blocks on the supervisor.
#[derive(Default)]
pub struct Timers {
    /// Requests not yet taken by the supervisor: `Some(at)` schedules, `None` cancels.
    /// `parking_lot` lock: held only to insert or to swap the map out, never across an await.
    requests: Mutex<HashMap<TimerTarget, Option<DateTime<Utc>>>>,
    /// Wakes the supervisor when a request lands (a permit is stored if it is busy).
    changed: Notify,
}

impl Timers {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Wakes `target` at `at` (replacing any earlier request for it).
    pub fn schedule(&self, target: TimerTarget, at: DateTime<Utc>) {
        self.requests.lock().insert(target, Some(at));
        self.changed.notify_one();
    }

    pub fn cancel(&self, target: TimerTarget) {
        self.requests.lock().insert(target, None);
        self.changed.notify_one();
    }
}

/// The supervisor's deadline set.
#[derive(Default)]
struct Deadlines {
    /// Deadlines in firing order; the `u64` breaks ties and makes keys unique.
    by_time: BTreeMap<(Instant, u64), TimerTarget>,
    by_target: HashMap<TimerTarget, (Instant, u64)>,
    next_id: u64,
}

impl Deadlines {
    fn set(&mut self, target: TimerTarget, at: Option<DateTime<Utc>>) {
        if let Some(key) = self.by_target.remove(&target) {
            self.by_time.remove(&key);
        }
        if let Some(at) = at {
            self.next_id += 1;
            let key = (to_instant(at), self.next_id);
            self.by_target.insert(target.clone(), key);
            self.by_time.insert(key, target);
        }
    }

    fn earliest(&self) -> Option<Instant> {
        self.by_time.keys().next().map(|(at, _)| *at)
    }

    /// Removes and returns every deadline due by `now`.
    fn due(&mut self, now: Instant) -> Vec<TimerTarget> {
        let mut due = Vec::new();
        while let Some((&key, _)) = self.by_time.iter().next() {
            if key.0 > now {
                break;
            }
            if let Some(target) = self.by_time.remove(&key) {
                self.by_target.remove(&target);
                due.push(target);
            }
        }
        due
    }
}

fn to_instant(at: DateTime<Utc>) -> Instant {
    let now = Instant::now();
    match (at - Utc::now()).to_std() {
        Ok(d) => now + d,
        Err(_) => now, // In the past: due now.
    }
}

/// Runs the supervisor for `rt` until the system stops. Call it on its own arbiter.
pub async fn run(rt: Rt, timers: Arc<Timers>) {
    let mut deadlines = Deadlines::default();
    loop {
        let requests = std::mem::take(&mut *timers.requests.lock());
        for (target, at) in requests {
            deadlines.set(target, at);
        }
        // Deadlines within a millisecond fire together.
        for target in deadlines.due(Instant::now() + Duration::from_millis(1)) {
            deliver(&rt, target);
        }
        rt.metrics
            .timers_pending
            .set(i64::try_from(deadlines.by_target.len()).unwrap_or(i64::MAX));
        match deadlines.earliest() {
            Some(at) => {
                tokio::select! {
                    () = timers.changed.notified() => {}
                    () = tokio::time::sleep_until(at.into()) => {}
                }
            }
            None => timers.changed.notified().await,
        }
    }
}

fn deliver(rt: &Rt, target: TimerTarget) {
    match target {
        TimerTarget::Conversation(key, kind) => {
            tell::<ConversationActor, _>(rt, &key, TimerFired { kind });
        }
        TimerTarget::Offer(agent, conversation) => {
            tell::<AgentActor, _>(rt, &agent, OfferTimeout { conversation });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(n: u32) -> TimerTarget {
        TimerTarget::Offer(
            AgentKey {
                org: crate::ids::OrgId::parse("o").expect("org"),
                id: crate::ids::AgentId::parse("a").expect("agent"),
            },
            ConversationId::parse(&format!("c{n}")).expect("id"),
        )
    }

    #[test]
    fn requests_for_one_target_coalesce() {
        let timers = Timers::new();
        let at = Utc::now();
        for _ in 0..10_000 {
            timers.schedule(offer(1), at);
        }
        timers.cancel(offer(2));
        assert_eq!(timers.requests.lock().len(), 2, "one entry per target");
    }

    #[test]
    fn deadlines_fire_in_order_and_rescheduling_replaces() {
        let mut d = Deadlines::default();
        let now = Utc::now();
        d.set(offer(1), Some(now + chrono::Duration::seconds(30)));
        d.set(offer(2), Some(now - chrono::Duration::seconds(1)));
        d.set(offer(3), Some(now));
        d.set(offer(1), Some(now - chrono::Duration::seconds(2)));
        d.set(offer(3), None);
        // Deadlines in the past are due at once, in the order they were set.
        assert_eq!(d.due(Instant::now()), vec![offer(2), offer(1)]);
        assert!(d.earliest().is_none(), "offer 3 was cancelled");
        d.set(offer(4), Some(now + chrono::Duration::seconds(60)));
        d.set(offer(5), Some(now + chrono::Duration::seconds(30)));
        assert!(d.due(Instant::now()).is_empty(), "nothing due yet");
        let later = Instant::now() + Duration::from_secs(45);
        assert_eq!(d.due(later), vec![offer(5)], "the earliest fires first");
    }
}
