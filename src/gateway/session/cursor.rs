//! Ordered, gap-free delivery for one followed conversation (DESIGN invariant 3), as a pure
//! state machine: what the client has seen, and what to do with each event that reaches the
//! session — live from the hub or replayed from the log.
//!
//! An agent sees every event (`prev` = seq − 1). A customer sees only public ones, each carrying
//! the seq of the previous public event, so a hidden event never looks like a gap to them.

use crate::hub::Audience;
use crate::protocol::Visibility;

/// What a session knows about a conversation it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub audience: Audience,
    /// The last seq delivered to this client (for customers: the last public seq).
    pub last: u64,
}

/// What to do with a live event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// The client has it already, or may not see it.
    Skip,
    /// It is the next one for this client: send it, then [`Cursor::delivered`].
    Send,
    /// Something is missing before it: read the log from [`Cursor::last`] instead.
    Gap,
}

impl Cursor {
    pub fn new(audience: Audience, last: u64) -> Self {
        Self { audience, last }
    }

    /// A live event `seq` whose previous public event was `prev_public`.
    pub fn on_live(&self, seq: u64, prev_public: u64, visibility: Visibility) -> Live {
        if seq <= self.last {
            return Live::Skip;
        }
        let in_order = match self.audience {
            Audience::Agent => seq == self.last + 1,
            Audience::Customer if visibility == Visibility::Public => prev_public == self.last,
            Audience::Customer => return Live::Skip,
        };
        if in_order {
            Live::Send
        } else {
            Live::Gap
        }
    }

    /// The event `seq` went out.
    pub fn delivered(&mut self, seq: u64) {
        self.last = self.last.max(seq);
    }

    /// Replaying from the log: the `prev` to send with event `seq`, or `None` when this client
    /// may not see it. Events at or before [`Cursor::last`] are never asked about.
    pub fn replay_prev(&self, seq: u64, visibility: Visibility) -> Option<u64> {
        match self.audience {
            Audience::Agent => Some(seq.saturating_sub(1)),
            Audience::Customer if visibility == Visibility::Public => Some(self.last),
            Audience::Customer => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake log: seq i+1 has visibility `log[i]`; `prev_public` as the hub computes it.
    fn fake_log(public: &[bool]) -> Vec<(u64, u64, Visibility)> {
        let mut prev_public = 0;
        public
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let seq = i as u64 + 1;
                let vis = if *p {
                    Visibility::Public
                } else {
                    Visibility::Agents
                };
                let row = (seq, prev_public, vis);
                if *p {
                    prev_public = seq;
                }
                row
            })
            .collect()
    }

    /// Plays live deliveries (`order`, indexes into the log, possibly missing or repeated)
    /// through a cursor, filling gaps from the log; returns the seqs the client received,
    /// each with the `prev` it carried.
    fn play(
        audience: Audience,
        log: &[(u64, u64, Visibility)],
        order: &[usize],
    ) -> Vec<(u64, u64)> {
        let mut cursor = Cursor::new(audience, 0);
        let mut got = Vec::new();
        let fill = |cursor: &mut Cursor, got: &mut Vec<(u64, u64)>, upto: u64| {
            let from = cursor.last;
            for &(seq, _, vis) in log.iter().filter(|(s, _, _)| *s > from && *s <= upto) {
                if let Some(prev) = cursor.replay_prev(seq, vis) {
                    got.push((seq, prev));
                    cursor.delivered(seq);
                }
            }
            // Hidden events move the customer's read position, not `last`.
        };
        for &i in order {
            let (seq, prev_public, vis) = log[i];
            match cursor.on_live(seq, prev_public, vis) {
                Live::Skip => {}
                Live::Send => {
                    let prev = match audience {
                        Audience::Agent => seq - 1,
                        Audience::Customer => prev_public,
                    };
                    got.push((seq, prev));
                    cursor.delivered(seq);
                }
                Live::Gap => fill(&mut cursor, &mut got, seq),
            }
        }
        // The session's last act on any notification: read the log tail.
        fill(&mut cursor, &mut got, u64::MAX);
        got
    }

    fn assert_exactly_once_in_order(got: &[(u64, u64)], expected: &[u64]) {
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, expected, "every visible event once, in order");
        let mut last = 0;
        for (seq, prev) in got {
            assert_eq!(*prev, last, "event {seq} chains to the one before it");
            last = *seq;
        }
    }

    #[test]
    fn delivery_is_gap_free_and_exactly_once_whatever_the_live_order() {
        let visibility = [true, false, true, true, false, false, true, false, true];
        let log = fake_log(&visibility);
        let public: Vec<u64> = log
            .iter()
            .filter(|(_, _, v)| *v == Visibility::Public)
            .map(|(s, _, _)| *s)
            .collect();
        let all: Vec<u64> = log.iter().map(|(s, _, _)| *s).collect();
        let cases: &[(&str, Vec<usize>)] = &[
            ("in order", (0..9).collect()),
            ("nothing live", vec![]),
            ("every other one lost", vec![0, 2, 4, 6, 8]),
            ("reordered", vec![1, 0, 3, 2, 5, 4, 8, 7, 6]),
            ("duplicated", vec![0, 0, 1, 1, 2, 2, 3, 8, 8]),
            ("only the last", vec![8]),
        ];
        for (name, order) in cases {
            let agent = play(Audience::Agent, &log, order);
            assert_exactly_once_in_order(&agent, &all);
            let customer = play(Audience::Customer, &log, order);
            assert!(
                customer.iter().all(|(s, _)| public.contains(s)),
                "{name}: a customer never gets an agents-only event"
            );
            assert_exactly_once_in_order(&customer, &public);
        }
    }

    #[test]
    fn live_decisions() {
        use Visibility::{Agents, Public};
        let agent = Cursor::new(Audience::Agent, 4);
        let customer = Cursor::new(Audience::Customer, 4);
        let table: &[(Cursor, u64, u64, Visibility, Live)] = &[
            (agent, 4, 3, Public, Live::Skip),
            (agent, 5, 4, Agents, Live::Send),
            (agent, 6, 4, Public, Live::Gap),
            (customer, 6, 4, Public, Live::Send),
            (customer, 6, 5, Public, Live::Gap),
            (customer, 7, 4, Agents, Live::Skip),
            (customer, 3, 2, Public, Live::Skip),
        ];
        for (cursor, seq, prev_public, vis, expected) in table {
            assert_eq!(
                cursor.on_live(*seq, *prev_public, *vis),
                *expected,
                "{cursor:?} seq {seq} prev_public {prev_public} {vis:?}"
            );
        }
    }
}
