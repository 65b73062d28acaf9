//! An agent's capacity (DESIGN invariant 4): the seats it holds, one per conversation, each of
//! a kind. Assigned chats, pending assignment offers, incoming transfer requests, pending
//! invitations, conference and consultation seats take a seat that counts (the last two as the
//! org's [`Counting`] says); an observer's seat never counts. A reservation that would take one
//! more counted seat than `max_chats` is refused.
//!
//! Pure data: the agent actor is the only place that reserves, and it keeps whatever a seat
//! needs to remember (an offer's queue and expiry …) as the seat's `detail`.

use std::collections::HashMap;

use crate::ids::ConversationId;
use crate::protocol::ParticipantRole;

/// Why an agent holds a seat in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SeatKind {
    /// The agent owns the chat.
    Assigned,
    /// An assignment offer waits for the agent's answer.
    Offer,
    /// A transfer request to the agent waits for its answer.
    TransferIn,
    /// An invitation to join as this role waits for the agent's answer; it counts as the seat
    /// it would become.
    Invited(ParticipantRole),
    /// The agent is in the chat beside the owner, with this role (conference, consult, observer,
    /// coach).
    Joined(ParticipantRole),
    /// In a chat between agents (no customer), or invited to one: never counts — it is not
    /// customer work.
    Internal,
}

/// Which participant seats count against `max_chats` (org settings; owner, offer and transfer
/// seats always count, observers and coaches never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counting {
    pub conference: bool,
    pub consult: bool,
}

impl Default for Counting {
    fn default() -> Self {
        Self {
            conference: true,
            consult: true,
        }
    }
}

impl SeatKind {
    /// Whether a seat of this kind counts against `max_chats`.
    pub fn counts(self, rules: Counting) -> bool {
        match self {
            SeatKind::Assigned | SeatKind::Offer | SeatKind::TransferIn => true,
            SeatKind::Internal => false,
            SeatKind::Invited(role) | SeatKind::Joined(role) => match role {
                ParticipantRole::Owner => true,
                ParticipantRole::Conference => rules.conference,
                ParticipantRole::Consult => rules.consult,
                ParticipantRole::Observer | ParticipantRole::Coach | ParticipantRole::Customer => {
                    false
                }
            },
        }
    }
}

/// A refused reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SeatError {
    /// The agent already holds a seat in this conversation (of this kind).
    #[error("the agent already holds this conversation ({0:?})")]
    AlreadyHeld(SeatKind),
    /// Taking the seat would exceed `max_chats`.
    #[error("the agent is at capacity")]
    Full,
}

/// One held seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat<D> {
    pub kind: SeatKind,
    pub detail: D,
}

/// The seats of one agent.
#[derive(Debug, Clone)]
pub struct Seats<D> {
    held: HashMap<ConversationId, Seat<D>>,
    /// Which participant seats count (set from the org's settings before each reservation).
    pub counting: Counting,
}

impl<D> Default for Seats<D> {
    fn default() -> Self {
        Self {
            held: HashMap::new(),
            counting: Counting::default(),
        }
    }
}

impl<D> Seats<D> {
    /// Seats that count against `max_chats`.
    pub fn load(&self) -> usize {
        self.held
            .values()
            .filter(|s| s.kind.counts(self.counting))
            .count()
    }

    /// How many more counted seats fit under `max`.
    pub fn free(&self, max: u32) -> u32 {
        u32::try_from((max as usize).saturating_sub(self.load())).unwrap_or(u32::MAX)
    }

    pub fn count(&self, kind: SeatKind) -> usize {
        self.held.values().filter(|s| s.kind == kind).count()
    }

    pub fn get(&self, conversation: &ConversationId) -> Option<&Seat<D>> {
        self.held.get(conversation)
    }

    pub fn holds(&self, conversation: &ConversationId, kind: SeatKind) -> bool {
        self.held.get(conversation).is_some_and(|s| s.kind == kind)
    }

    /// Takes a seat if the agent holds none in this conversation and one more fits under
    /// `max` (kinds that do not count always fit).
    pub fn reserve(
        &mut self,
        conversation: ConversationId,
        kind: SeatKind,
        detail: D,
        max: u32,
    ) -> Result<(), SeatError> {
        if let Some(seat) = self.held.get(&conversation) {
            return Err(SeatError::AlreadyHeld(seat.kind));
        }
        if kind.counts(self.counting) && self.free(max) == 0 {
            return Err(SeatError::Full);
        }
        self.held.insert(conversation, Seat { kind, detail });
        Ok(())
    }

    /// Records a seat the agent is known to hold (rebuilt from the log or restored after a
    /// takeover), whatever the limit: what is held is counted, never dropped.
    pub fn restore(&mut self, conversation: ConversationId, kind: SeatKind, detail: D) {
        self.held.insert(conversation, Seat { kind, detail });
    }

    /// Turns a held seat of kind `from` into one of kind `to` (an accepted offer becomes an
    /// assignment): the seat is kept, so capacity never needs checking again.
    pub fn convert(
        &mut self,
        conversation: &ConversationId,
        from: SeatKind,
        to: SeatKind,
        detail: D,
    ) -> bool {
        match self.held.get_mut(conversation) {
            Some(seat) if seat.kind == from => {
                *seat = Seat { kind: to, detail };
                true
            }
            _ => false,
        }
    }

    /// Gives back the seat if it is held as `kind`; returns its detail.
    pub fn release(&mut self, conversation: &ConversationId, kind: SeatKind) -> Option<D> {
        if self.holds(conversation, kind) {
            self.held.remove(conversation).map(|s| s.detail)
        } else {
            None
        }
    }

    /// The seats of kinds that `pick` accepts.
    pub fn matching(
        &self,
        pick: impl Fn(SeatKind) -> bool,
    ) -> impl Iterator<Item = (&ConversationId, SeatKind, &D)> {
        self.held
            .iter()
            .filter(move |(_, s)| pick(s.kind))
            .map(|(c, s)| (c, s.kind, &s.detail))
    }

    /// The seats of one kind.
    pub fn of_kind(&self, kind: SeatKind) -> impl Iterator<Item = (&ConversationId, &D)> {
        self.held
            .iter()
            .filter(move |(_, s)| s.kind == kind)
            .map(|(c, s)| (c, &s.detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeatKind::{Assigned, Invited, Joined, Offer, TransferIn};

    fn c(n: u32) -> ConversationId {
        ConversationId::parse(&format!("c{n}")).expect("id")
    }

    fn seats(held: &[(u32, SeatKind)]) -> Seats<()> {
        let mut s = Seats::default();
        for (n, kind) in held {
            s.restore(c(*n), *kind, ());
        }
        s
    }

    #[test]
    fn reservations_respect_max_chats_whatever_the_mix_of_kinds() {
        // (held, max, reserve (conversation, kind), expected, load after)
        type Row = (
            &'static [(u32, SeatKind)],
            u32,
            (u32, SeatKind),
            Result<(), SeatError>,
            usize,
        );
        let table: &[Row] = &[
            (&[], 3, (1, Offer), Ok(()), 1),
            (&[(1, Assigned), (2, Assigned)], 3, (3, Offer), Ok(()), 3),
            (
                &[(1, Assigned), (2, Offer), (3, TransferIn)],
                3,
                (4, Offer),
                Err(SeatError::Full),
                3,
            ),
            (
                &[(1, Assigned), (2, Assigned), (3, Assigned)],
                3,
                (4, TransferIn),
                Err(SeatError::Full),
                3,
            ),
            (
                &[(1, Offer)],
                3,
                (1, Offer),
                Err(SeatError::AlreadyHeld(Offer)),
                1,
            ),
            (
                &[(1, Assigned)],
                3,
                (1, TransferIn),
                Err(SeatError::AlreadyHeld(Assigned)),
                1,
            ),
            (
                &[(1, Assigned), (2, Assigned), (3, Assigned)],
                3,
                (1, Offer),
                Err(SeatError::AlreadyHeld(Assigned)),
                3,
            ),
            (&[], 0, (1, Offer), Err(SeatError::Full), 0),
            // Restored seats above the limit (max lowered meanwhile) are kept and counted.
            (
                &[(1, Assigned), (2, Assigned), (3, Assigned)],
                2,
                (4, Offer),
                Err(SeatError::Full),
                3,
            ),
        ];
        for (held, max, (n, kind), expected, load) in table {
            let mut s = seats(held);
            assert_eq!(
                s.reserve(c(*n), *kind, (), *max),
                *expected,
                "{held:?} max {max} + c{n} {kind:?}"
            );
            assert_eq!(s.load(), *load, "{held:?} max {max} + c{n} {kind:?}: load");
            assert!(
                s.load() <= (*max as usize).max(held.len()),
                "never past the limit by a reservation"
            );
        }
    }

    #[test]
    fn participant_seats_count_as_the_org_says_and_observers_never() {
        use ParticipantRole::{Conference, Consult, Observer};
        let mut s = seats(&[(1, Assigned), (2, Joined(Conference))]);
        assert_eq!(s.load(), 2);
        assert_eq!(
            s.reserve(c(3), Invited(Consult), (), 3),
            Ok(()),
            "an invitation takes the last seat"
        );
        assert_eq!(
            s.reserve(c(4), Invited(Conference), (), 3),
            Err(SeatError::Full)
        );
        assert_eq!(
            s.reserve(c(4), Joined(Observer), (), 3),
            Ok(()),
            "an observer fits when the agent is full"
        );
        assert_eq!(s.load(), 3);
        s.counting = Counting {
            conference: false,
            consult: true,
        };
        assert_eq!(s.load(), 2, "conference seats no longer count");
        assert!(s.convert(&c(3), Invited(Consult), Joined(Consult), ()));
        assert_eq!(s.load(), 2);
    }

    #[test]
    fn converting_and_releasing_keep_the_count_exact() {
        let mut s = seats(&[(1, Offer), (2, TransferIn), (3, Assigned)]);
        assert!(
            s.convert(&c(1), Offer, Assigned, ()),
            "an accepted offer keeps its seat"
        );
        assert!(!s.convert(&c(1), Offer, Assigned, ()), "only once");
        assert!(
            !s.convert(&c(3), TransferIn, Assigned, ()),
            "not a transfer seat"
        );
        assert_eq!(
            (s.count(Assigned), s.count(Offer), s.count(TransferIn)),
            (2, 0, 1)
        );
        assert_eq!(
            s.release(&c(2), Offer),
            None,
            "released only as the kind it is held as"
        );
        assert_eq!(s.release(&c(2), TransferIn), Some(()));
        assert_eq!(s.free(3), 1);
        s.restore(c(4), Offer, ());
        s.restore(c(5), Offer, ());
        assert_eq!(s.of_kind(Offer).count(), 2);
        assert_eq!(
            (s.load(), s.free(3)),
            (4, 0),
            "restored seats count, over the limit too"
        );
    }
}
