//! A per-client timer wheel in its simplest form: a heap of (deadline, action). Each simulated
//! client runs one task that `select!`s between its socket and the earliest deadline here, so
//! think times cost no extra tasks.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

struct Entry<A> {
    at: Instant,
    seq: u64,
    action: A,
}

impl<A> PartialEq for Entry<A> {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}

impl<A> Eq for Entry<A> {}

impl<A> PartialOrd for Entry<A> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<A> Ord for Entry<A> {
    /// Reversed: the heap's top is the earliest deadline (FIFO among equal deadlines).
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

pub struct Timers<A> {
    heap: BinaryHeap<Entry<A>>,
    seq: u64,
}

impl<A> Default for Timers<A> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<A> Timers<A> {
    pub fn at(&mut self, at: Instant, action: A) {
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            action,
        });
    }

    pub fn after(&mut self, delay: Duration, action: A) {
        self.at(Instant::now() + delay, action);
    }

    /// The earliest deadline, or an hour from now when nothing is scheduled.
    pub fn next_wake(&self) -> Instant {
        self.heap
            .peek()
            .map_or_else(|| Instant::now() + Duration::from_secs(3600), |e| e.at)
    }

    /// The next action whose deadline has passed.
    pub fn pop_due(&mut self, now: Instant) -> Option<A> {
        if self.heap.peek().is_some_and(|e| e.at <= now) {
            self.heap.pop().map(|e| e.action)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_deadline_order() {
        let now = Instant::now();
        let mut t = Timers::default();
        t.at(now + Duration::from_millis(30), "c");
        t.at(now + Duration::from_millis(10), "a");
        t.at(now + Duration::from_millis(10), "b");
        assert_eq!(t.next_wake(), now + Duration::from_millis(10));
        assert_eq!(t.pop_due(now), None);
        let later = now + Duration::from_millis(50);
        assert_eq!(t.pop_due(later), Some("a"));
        assert_eq!(t.pop_due(later), Some("b"));
        assert_eq!(t.pop_due(later), Some("c"));
        assert_eq!(t.pop_due(later), None);
    }
}
