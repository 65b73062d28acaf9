//! An agent's own view of its seats (DESIGN invariant 4): what the server's `presence` signals
//! say it owns (`assigned`), plus the seats it knows it holds beside those — pending offers,
//! transfer requests and invitations addressed to it, and the conference / consultation seats
//! it sits in. The server must never let that go past `max_chats`.
//!
//! The view is kept a lower bound of the server's count, so that a violation it reports is
//! real: a seat is added only once the server announced it (a signal, an ack) and dropped at
//! the first sign that it may be gone — when the agent sends its answer, leaves, or sees the
//! event that takes it out (the server releases the seat after logging that event). A seat
//! that becomes an owned chat (an offer accepted, ownership passed to a conference participant)
//! is dropped here before the `presence` signal that counts it arrives.

use std::collections::HashMap;

/// A seat held beside the owned chats, one per conversation (as on the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    /// An assignment offer waiting for the answer.
    Offer,
    /// A transfer request to this agent waiting for the answer.
    TransferIn,
    /// An invitation waiting for the answer; counts as the seat it would become.
    Invited(Joined),
    /// In the chat beside its owner.
    Joined(Joined),
}

/// The roles an invitation can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    Conference,
    Consult,
}

impl Joined {
    /// `"conference"` / `"consult"` as on the wire.
    pub fn parse(role: &str) -> Option<Self> {
        match role {
            "conference" => Some(Joined::Conference),
            "consult" => Some(Joined::Consult),
            _ => None,
        }
    }

    pub fn wire(self) -> &'static str {
        match self {
            Joined::Conference => "conference",
            Joined::Consult => "consult",
        }
    }
}

/// Which participant seats count against `max_chats` (the org's `conference_counts` and
/// `consult_counts`; both true by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub conference: bool,
    pub consult: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            conference: true,
            consult: true,
        }
    }
}

impl Rules {
    fn counts(self, seat: Seat) -> bool {
        match seat {
            Seat::Offer | Seat::TransferIn => true,
            Seat::Invited(j) | Seat::Joined(j) => match j {
                Joined::Conference => self.conference,
                Joined::Consult => self.consult,
            },
        }
    }
}

/// The seat count went past `max_chats` (reported once per excursion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub load: u32,
    pub max: u32,
    pub assigned: u32,
    /// The other seats, e.g. `["offer c_1", "conference c_2"]`.
    pub seats: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct SeatView {
    rules: Rules,
    /// From the latest `presence` signal (or the hello ack).
    assigned: u32,
    /// 0 until the server said.
    max: u32,
    held: HashMap<String, Seat>,
    /// Over `max` at the last check: one violation per excursion.
    over: bool,
}

impl SeatView {
    pub fn new(rules: Rules) -> Self {
        Self {
            rules,
            ..Self::default()
        }
    }

    /// Seats that count: owned chats plus the counted seats held beside them.
    pub fn load(&self) -> u32 {
        let beside = self
            .held
            .values()
            .filter(|s| self.rules.counts(**s))
            .count();
        self.assigned + u32::try_from(beside).unwrap_or(u32::MAX)
    }

    pub fn get(&self, conversation: &str) -> Option<Seat> {
        self.held.get(conversation).copied()
    }

    /// A `presence` signal: the owned chats and the limit.
    pub fn presence(&mut self, assigned: u32, max: u32) -> Option<Violation> {
        self.assigned = assigned;
        self.max = max;
        self.check()
    }

    /// The server announced a seat (an offer, transfer request or invitation signal; an
    /// `invite_accept` acked). Replaces whatever this conversation held.
    pub fn hold(&mut self, conversation: &str, seat: Seat) -> Option<Violation> {
        self.held.insert(conversation.to_string(), seat);
        self.check()
    }

    /// The seat may be gone (answered, withdrawn, left, removed, ended, or now an owned chat).
    pub fn release(&mut self, conversation: &str) -> Option<Seat> {
        let seat = self.held.remove(conversation);
        self.check();
        seat
    }

    /// A new session: pending offers, transfer requests and invitations whose end may have
    /// been missed are forgotten (the server sends the pending ones again after `hello`).
    pub fn forget_pending(&mut self) {
        self.held.retain(|_, s| matches!(s, Seat::Joined(_)));
        self.over = false;
        self.check();
    }

    fn check(&mut self) -> Option<Violation> {
        let load = self.load();
        let over = self.max > 0 && load > self.max;
        let newly = over && !self.over;
        self.over = over;
        newly.then(|| {
            let mut seats: Vec<String> = self
                .held
                .iter()
                .map(|(c, s)| {
                    let what = match s {
                        Seat::Offer => "offer",
                        Seat::TransferIn => "transfer",
                        Seat::Invited(Joined::Conference) => "invited to conference",
                        Seat::Invited(Joined::Consult) => "invited to consult",
                        Seat::Joined(j) => j.wire(),
                    };
                    format!("{what} {c}")
                })
                .collect();
            seats.sort();
            Violation {
                load,
                max: self.max,
                assigned: self.assigned,
                seats,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_owned_pending_and_joined_seats_once_per_conversation() {
        let mut v = SeatView::new(Rules::default());
        assert_eq!(v.presence(1, 3), None);
        assert_eq!(v.hold("c1", Seat::Offer), None);
        assert_eq!(v.hold("c2", Seat::Invited(Joined::Consult)), None);
        assert_eq!(v.load(), 3);
        // The invitation accepted: the same seat, now joined.
        assert_eq!(v.release("c2"), Some(Seat::Invited(Joined::Consult)));
        assert_eq!(v.hold("c2", Seat::Joined(Joined::Consult)), None);
        assert_eq!(v.load(), 3);
        // Re-announcing a seat does not count it twice.
        assert_eq!(v.hold("c1", Seat::Offer), None);
        assert_eq!(v.load(), 3);
        // A fourth seat is a violation, reported once per excursion.
        let bad = v.hold("c3", Seat::TransferIn).expect("violation");
        assert_eq!((bad.load, bad.max, bad.assigned), (4, 3, 1));
        assert_eq!(bad.seats, vec!["consult c2", "offer c1", "transfer c3"]);
        assert_eq!(v.hold("c4", Seat::Offer), None, "still the same excursion");
        v.release("c4");
        v.release("c3");
        assert_eq!(v.load(), 3);
        assert!(v.hold("c5", Seat::Offer).is_some(), "a new excursion");
    }

    #[test]
    fn offer_accepted_moves_into_presence_without_a_false_violation() {
        let mut v = SeatView::new(Rules::default());
        v.presence(2, 3);
        assert_eq!(v.hold("c1", Seat::Offer), None);
        // The agent drops the offer when it sends `accept`; presence then counts the chat.
        v.release("c1");
        assert_eq!(v.presence(3, 3), None);
        assert_eq!(v.load(), 3);
        // Ownership passing to a conference participant: dropped on the event, then counted.
        let mut w = SeatView::new(Rules::default());
        w.presence(2, 3);
        w.hold("c9", Seat::Joined(Joined::Conference));
        w.release("c9");
        assert_eq!(w.presence(3, 3), None);
    }

    #[test]
    fn org_rules_and_unknown_limit() {
        let mut v = SeatView::new(Rules {
            conference: true,
            consult: false,
        });
        // No limit known yet: nothing to check.
        assert_eq!(v.hold("c1", Seat::Offer), None);
        assert_eq!(v.hold("c2", Seat::Offer), None);
        v.hold("c3", Seat::Joined(Joined::Consult));
        assert_eq!(v.load(), 2, "consult seats do not count under these rules");
        assert!(v.presence(2, 3).is_some(), "2 owned + 2 offers > 3");
        v.hold("c7", Seat::Joined(Joined::Conference));
        v.forget_pending();
        assert_eq!(v.load(), 3, "2 owned + the conference seat");
        assert_eq!(v.get("c7"), Some(Seat::Joined(Joined::Conference)));
        assert_eq!(v.get("c1"), None);
        assert_eq!(Joined::parse("consult"), Some(Joined::Consult));
        assert_eq!(Joined::parse("observer"), None);
    }
}
