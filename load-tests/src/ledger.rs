//! Every message the run sends, one byte each: acked by the server? delivered to the other side?
//! A message acked but never delivered by the end of the run (plus the drain grace) is lost.

use std::sync::Mutex;

const ACKED: u8 = 1;
const DELIVERED: u8 = 2;
const FROM_AGENT: u8 = 4;
/// An internal (agents-only) message: delivered means "to another agent".
const INTERNAL: u8 = 8;

#[derive(Default)]
struct Inner {
    states: Vec<u8>,
    /// Acked and not (yet) delivered.
    outstanding: u64,
}

#[derive(Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

/// The ledger's verdict at the end of a run.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct LedgerSummary {
    /// Messages given a number (sent at least once).
    pub messages: u64,
    pub lost_customer_to_agent: u64,
    pub lost_agent_to_customer: u64,
    /// Internal messages acked that no other agent received: not counted as lost (nobody else
    /// may have been in the chat then); `[conference]`'s per-party check says whether someone
    /// should have.
    pub internal_unread: u64,
    /// Delivered although this client never saw the ack (connection dropped meanwhile).
    pub delivered_unacked: u64,
    /// Never acked and never delivered: the send failed (error, timeout, run stopped).
    pub failed_sends: u64,
}

impl LedgerSummary {
    pub fn lost(&self) -> u64 {
        self.lost_customer_to_agent + self.lost_agent_to_customer
    }
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new message number.
    pub fn allocate(&self, from_agent: bool) -> u64 {
        self.allocate_as(if from_agent { FROM_AGENT } else { 0 })
    }

    /// A new number for an internal message (delivered once another agent has it).
    pub fn allocate_internal(&self) -> u64 {
        self.allocate_as(FROM_AGENT | INTERNAL)
    }

    fn allocate_as(&self, flags: u8) -> u64 {
        let mut inner = self.lock();
        inner.states.push(flags);
        inner.states.len() as u64 - 1
    }

    /// The server acked message `num`. True the first time.
    pub fn acked(&self, num: u64) -> bool {
        let mut inner = self.lock();
        let Some(state) = inner.states.get_mut(num as usize) else {
            return false;
        };
        if *state & ACKED != 0 {
            return false;
        }
        *state |= ACKED;
        if *state & (DELIVERED | INTERNAL) == 0 {
            inner.outstanding += 1;
        }
        true
    }

    /// Message `num` reached the other side. `Some(true)` the first time it reaches anyone there,
    /// `Some(false)` for later deliveries (replays to a new owner), `None` if not ours.
    pub fn delivered(&self, num: u64) -> Option<bool> {
        let mut inner = self.lock();
        let state = inner.states.get_mut(num as usize)?;
        if *state & DELIVERED != 0 {
            return Some(false);
        }
        *state |= DELIVERED;
        if *state & (ACKED | INTERNAL) == ACKED {
            inner.outstanding -= 1;
        }
        Some(true)
    }

    /// Messages acked and not yet delivered (internal ones aside: see `internal_unread`).
    pub fn outstanding(&self) -> u64 {
        self.lock().outstanding
    }

    pub fn summary(&self) -> LedgerSummary {
        let inner = self.lock();
        let mut s = LedgerSummary {
            messages: inner.states.len() as u64,
            ..Default::default()
        };
        for &state in &inner.states {
            match (state & ACKED != 0, state & DELIVERED != 0) {
                (true, false) if state & INTERNAL != 0 => s.internal_unread += 1,
                (true, false) if state & FROM_AGENT != 0 => s.lost_agent_to_customer += 1,
                (true, false) => s.lost_customer_to_agent += 1,
                (false, true) => s.delivered_unacked += 1,
                (false, false) => s.failed_sends += 1,
                (true, true) => {}
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_is_acked_but_undelivered() {
        let l = Ledger::default();
        let a = l.allocate(false);
        let b = l.allocate(true);
        let c = l.allocate(false);
        let d = l.allocate(false);
        assert_eq!(
            l.delivered(a),
            Some(true),
            "delivery may come before the ack"
        );
        assert!(l.acked(a));
        assert!(!l.acked(a));
        assert!(l.acked(b));
        assert_eq!(l.outstanding(), 1);
        assert_eq!(l.delivered(a), Some(false));
        assert_eq!(l.delivered(99), None);
        assert_eq!(l.delivered(c), Some(true));
        let s = l.summary();
        assert_eq!(s.messages, 4);
        assert_eq!(s.lost_agent_to_customer, 1);
        assert_eq!(s.lost_customer_to_agent, 0);
        assert_eq!(s.delivered_unacked, 1);
        assert_eq!(s.failed_sends, 1);
        let _ = d;
        let i = l.allocate_internal();
        assert!(l.acked(i));
        assert_eq!(l.outstanding(), 1, "b only");
        let s = l.summary();
        assert_eq!((s.internal_unread, s.lost_agent_to_customer), (1, 1));
        assert_eq!(s.lost(), 1);
    }
}
