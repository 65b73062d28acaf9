//! Who should get what in chats with several agents, checked at the end of the run.
//!
//! Every conversation's log is rebuilt from what the clients saw (events are keyed by `seq`,
//! so the same event seen by several agents counts once):
//! - **deliveries**: each acked message (`send`: public; `internal`: agents only, its seq from
//!   the ack) must reach every party that should get it — the customer for public ones, and
//!   every agent in the chat when it was logged (an agent is in from its `participant_joined`
//!   up to its `participant_left` or a transfer away), the author excepted;
//! - **invitations**: each `invited` event must be followed by exactly one `invite_ended` for
//!   the same agent (accepted, rejected, expired or cancelled), and each invitation the server
//!   acked must be in the log.
//!
//! Also here: which events a customer must never see (`agents_only`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use serde::Serialize;

use crate::protocol::Event;

/// Problems described in words, at most this many.
const MAX_EXAMPLES: usize = 5;

/// A receiver in one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Party {
    Customer,
    Agent(String),
}

impl Party {
    fn describe(&self) -> String {
        match self {
            Party::Customer => "the customer".to_string(),
            Party::Agent(id) => format!("agent {id}"),
        }
    }
}

#[derive(Debug, Clone)]
struct Message {
    author: Party,
    public: bool,
    client_msg_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Membership {
    Joined(String),
    Left(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum InviteEvent {
    Invited(String),
    Ended(String, String),
    /// The owner left (`participant_left` with role `owner`).
    OwnerLeft,
}

#[derive(Debug, Default)]
struct Conv {
    messages: BTreeMap<u64, Message>,
    members: BTreeMap<u64, Membership>,
    invites: BTreeMap<u64, InviteEvent>,
    /// Invitations the server acked (the seq of their `invited` event).
    invites_acked: HashSet<u64>,
    received: HashSet<(u64, Party)>,
}

impl Conv {
    /// Each agent's stints in the chat: (joined at seq, left at seq or `u64::MAX`).
    fn stints(&self) -> HashMap<&str, Vec<(u64, u64)>> {
        let mut out: HashMap<&str, Vec<(u64, u64)>> = HashMap::new();
        for (&seq, m) in &self.members {
            match m {
                Membership::Joined(a) => out.entry(a).or_default().push((seq, u64::MAX)),
                Membership::Left(a) => {
                    if let Some(last) = out.get_mut(a.as_str()).and_then(|v| v.last_mut()) {
                        if last.1 == u64::MAX {
                            last.1 = seq;
                        }
                    }
                }
            }
        }
        out
    }

    /// (message seq, party) pairs expected and not received.
    fn missing(&self) -> Vec<(u64, Party)> {
        let stints = self.stints();
        let mut out = Vec::new();
        for (&seq, m) in &self.messages {
            if m.public && m.author != Party::Customer {
                let p = Party::Customer;
                if !self.received.contains(&(seq, p.clone())) {
                    out.push((seq, p));
                }
            }
            for (agent, spans) in &stints {
                let p = Party::Agent((*agent).to_string());
                if p == m.author || !spans.iter().any(|&(j, l)| j < seq && seq < l) {
                    continue;
                }
                if !self.received.contains(&(seq, p.clone())) {
                    out.push((seq, p));
                }
            }
        }
        out
    }

    fn expected(&self) -> u64 {
        let stints = self.stints();
        let mut n = 0;
        for (&seq, m) in &self.messages {
            if m.public && m.author != Party::Customer {
                n += 1;
            }
            for (agent, spans) in &stints {
                let p = Party::Agent((*agent).to_string());
                if p != m.author && spans.iter().any(|&(j, l)| j < seq && seq < l) {
                    n += 1;
                }
            }
        }
        n
    }
}

/// Invitations as the log tells them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InviteSummary {
    /// `invited` events.
    pub invited: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub expired: u64,
    pub cancelled: u64,
    /// Invitations that ended exactly once.
    pub ended_once: u64,
    /// `invited` with no `invite_ended` by the end of the run.
    pub never_ended: u64,
    /// `invite_ended` with no invitation open for that agent (a second end).
    pub ended_twice: u64,
    /// `invited` for an agent whose earlier invitation had not ended.
    pub invited_while_open: u64,
    /// Acked by the server (`invite` → ack) but not in the log as seen by anyone.
    pub acked_not_logged: u64,
    /// Still open when the owner who sent them left the chat (ownership passed), ended later
    /// (`participants-spec.md` lists "the owner left" among the causes of `cancelled`).
    /// Not an anomaly: each still ends once.
    pub open_when_owner_left: u64,
    /// How those ended, by outcome.
    pub owner_left_outcomes: BTreeMap<String, u64>,
}

impl InviteSummary {
    /// Invitations not ended exactly once.
    pub fn anomalies(&self) -> u64 {
        self.never_ended + self.ended_twice + self.invited_while_open + self.acked_not_logged
    }
}

/// The book's verdict at the end of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AudienceSummary {
    pub conversations: u64,
    /// Acked messages in the book (`send` and `internal`).
    pub messages: u64,
    /// (message, party) pairs that should have been delivered.
    pub expected_deliveries: u64,
    /// Of those, never delivered.
    pub missed_deliveries: u64,
    /// Messages that missed at least one party.
    pub messages_missed: u64,
    pub invitations: InviteSummary,
    /// The first problems, in words.
    pub examples: Vec<String>,
}

#[derive(Default)]
pub struct Audience {
    convs: Mutex<HashMap<String, Conv>>,
}

impl Audience {
    fn with<T>(&self, conversation: &str, f: impl FnOnce(&mut Conv) -> T) -> T {
        let mut convs = self
            .convs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(convs.entry(conversation.to_string()).or_default())
    }

    /// The server acked a message at `seq` (`public`: `send`; else `internal`).
    pub fn message(
        &self,
        conversation: &str,
        seq: u64,
        author: Party,
        public: bool,
        client_msg_id: &str,
    ) {
        self.with(conversation, |c| {
            c.messages.insert(
                seq,
                Message {
                    author,
                    public,
                    client_msg_id: client_msg_id.to_string(),
                },
            );
        });
    }

    /// `party` received the message event at `seq` (live or replayed).
    pub fn received(&self, conversation: &str, seq: u64, party: Party) {
        self.with(conversation, |c| {
            c.received.insert((seq, party));
        });
    }

    /// A log event seen by an agent: membership (`participant_joined` / `participant_left`, a
    /// transfer away) and invitations (`invited` / `invite_ended`) are recorded.
    pub fn event(&self, conversation: &str, seq: u64, e: &Event) {
        let agent = e.role.as_deref() != Some("customer");
        let member = match e.kind.as_str() {
            "participant_joined" if agent => e.participant.clone().map(Membership::Joined),
            "participant_left" if agent => e.participant.clone().map(Membership::Left),
            // The old owner's seat goes with the transfer (no `participant_left` for it).
            "transfer_accepted" => e.from.clone().map(Membership::Left),
            _ => None,
        };
        let invite = match e.kind.as_str() {
            "participant_left" if e.role.as_deref() == Some("owner") => {
                Some(InviteEvent::OwnerLeft)
            }
            "invited" => e.to.clone().map(InviteEvent::Invited),
            "invite_ended" => {
                e.to.clone()
                    .map(|to| InviteEvent::Ended(to, e.outcome.clone().unwrap_or_default()))
            }
            _ => None,
        };
        if member.is_none() && invite.is_none() {
            return;
        }
        self.with(conversation, |c| {
            if let Some(m) = member {
                c.members.insert(seq, m);
            }
            if let Some(i) = invite {
                c.invites.insert(seq, i);
            }
        });
    }

    /// The server acked an `invite`; its `invited` event is at `seq`.
    pub fn invite_acked(&self, conversation: &str, seq: u64) {
        self.with(conversation, |c| {
            c.invites_acked.insert(seq);
        });
    }

    /// Deliveries still expected (the drain waits for them).
    pub fn outstanding(&self) -> u64 {
        let convs = self
            .convs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        convs.values().map(|c| c.missing().len() as u64).sum()
    }

    pub fn summary(&self) -> AudienceSummary {
        let convs = self
            .convs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut s = AudienceSummary {
            conversations: convs.len() as u64,
            ..Default::default()
        };
        let mut names: Vec<&String> = convs.keys().collect();
        names.sort();
        for name in names {
            let c = &convs[name];
            s.messages += c.messages.len() as u64;
            s.expected_deliveries += c.expected();
            let missing = c.missing();
            s.missed_deliveries += missing.len() as u64;
            let msgs: HashSet<u64> = missing.iter().map(|(seq, _)| *seq).collect();
            s.messages_missed += msgs.len() as u64;
            for (seq, party) in missing {
                if s.examples.len() < MAX_EXAMPLES {
                    let id = c
                        .messages
                        .get(&seq)
                        .map_or("?", |m| m.client_msg_id.as_str());
                    s.examples.push(format!(
                        "message {id} (seq {seq} of {name}) never reached {}",
                        party.describe()
                    ));
                }
            }
            invitations(name, c, &mut s);
        }
        s
    }
}

fn invitations(name: &str, c: &Conv, s: &mut AudienceSummary) {
    let inv = &mut s.invitations;
    let mut open: HashMap<&str, u64> = HashMap::new();
    let mut orphans: HashSet<&str> = HashSet::new();
    let mut problems = Vec::new();
    for (&seq, e) in &c.invites {
        match e {
            InviteEvent::Invited(to) => {
                inv.invited += 1;
                if let Some(earlier) = open.insert(to, seq) {
                    inv.invited_while_open += 1;
                    problems.push(format!(
                        "{name}: {to} invited at seq {seq} while invited at seq {earlier}"
                    ));
                }
            }
            InviteEvent::OwnerLeft => {
                inv.open_when_owner_left += open.len() as u64;
                orphans.extend(open.keys());
            }
            InviteEvent::Ended(to, outcome) => {
                match outcome.as_str() {
                    "accepted" => inv.accepted += 1,
                    "rejected" => inv.rejected += 1,
                    "expired" => inv.expired += 1,
                    "cancelled" => inv.cancelled += 1,
                    _ => {}
                }
                if orphans.remove(to.as_str()) {
                    *inv.owner_left_outcomes.entry(outcome.clone()).or_default() += 1;
                }
                if open.remove(to.as_str()).is_some() {
                    inv.ended_once += 1;
                } else {
                    inv.ended_twice += 1;
                    problems.push(format!(
                        "{name}: invitation of {to} ended ({outcome}) at seq {seq} with none open"
                    ));
                }
            }
        }
    }
    inv.never_ended += open.len() as u64;
    let mut left: Vec<(&str, u64)> = open.into_iter().collect();
    left.sort();
    for (to, seq) in left {
        problems.push(format!(
            "{name}: invitation of {to} (seq {seq}) never ended"
        ));
    }
    for seq in &c.invites_acked {
        if !matches!(c.invites.get(seq), Some(InviteEvent::Invited(_))) {
            inv.acked_not_logged += 1;
            problems.push(format!(
                "{name}: invitation acked with seq {seq}, no `invited` event there"
            ));
        }
    }
    for p in problems {
        if s.examples.len() < MAX_EXAMPLES {
            s.examples.push(p);
        }
    }
}

/// Whether a customer must never see this event (the agents' view only): the server's
/// `visibility` says so, or its kind and roles do (`participants-spec.md`, "Log events").
pub fn agents_only(e: &Event) -> bool {
    if e.visibility.as_deref().is_some_and(|v| v != "public") {
        return true;
    }
    let public_role = |r: Option<&str>| matches!(r, Some("customer" | "owner" | "conference"));
    match e.kind.as_str() {
        "internal"
        | "invited"
        | "invite_ended"
        | "note"
        | "transfer_requested"
        | "transfer_accepted"
        | "transfer_rejected"
        | "transfer_expired"
        | "transferred_to_queue"
        | "queued"
        | "wrap_up" => true,
        "participant_joined" | "participant_left" => !public_role(e.role.as_deref()),
        "role_changed" => {
            e.from.as_deref() != Some("conference") && e.to.as_deref() != Some("conference")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str) -> Event {
        serde_json::from_str(json).expect("event")
    }

    fn joined(who: &str, role: &str) -> Event {
        ev(&format!(
            r#"{{"kind":"participant_joined","author":{{"role":"system"}},"participant":"{who}","role":"{role}"}}"#
        ))
    }

    fn left(who: &str, role: &str) -> Event {
        ev(&format!(
            r#"{{"kind":"participant_left","author":{{"role":"agent"}},"participant":"{who}","role":"{role}"}}"#
        ))
    }

    fn invite(kind: &str, to: &str, outcome: Option<&str>) -> Event {
        let o = outcome.map_or_else(String::new, |o| format!(r#","outcome":"{o}""#));
        ev(&format!(
            r#"{{"kind":"{kind}","author":{{"role":"agent"}},"to":"{to}","role":"consult"{o}}}"#
        ))
    }

    fn agent(id: &str) -> Party {
        Party::Agent(id.to_string())
    }

    #[test]
    fn every_party_in_the_chat_when_a_message_is_logged_must_get_it() {
        let a = Audience::default();
        a.event("c", 2, &joined("v_1", "customer"));
        a.event("c", 3, &joined("al", "owner"));
        a.message("c", 4, Party::Customer, true, "c1");
        a.event("c", 6, &joined("bo", "consult"));
        // Logged while bo was in: internal (agents only) and a public reply.
        a.message("c", 7, agent("bo"), false, "i1");
        a.message("c", 8, agent("al"), true, "a2");
        a.event("c", 9, &left("bo", "consult"));
        a.message("c", 10, agent("al"), true, "a3");
        // The same event seen twice (replay) counts once.
        a.event("c", 9, &left("bo", "consult"));

        // c1 → al; i1 → al; a2 → customer, bo; a3 → customer.
        let s = a.summary();
        assert_eq!(s.expected_deliveries, 5);
        assert_eq!(s.missed_deliveries, 5);
        assert_eq!(a.outstanding(), 5);
        for (seq, p) in [
            (4, agent("al")),
            (7, agent("al")),
            (8, Party::Customer),
            (8, agent("bo")),
        ] {
            a.received("c", seq, p);
        }
        // Extra deliveries (bo saw c1 in its replay, the author sees its own) are fine.
        a.received("c", 4, agent("bo"));
        a.received("c", 10, agent("al"));
        let s = a.summary();
        assert_eq!((s.missed_deliveries, s.messages_missed), (1, 1));
        assert_eq!(
            s.examples,
            vec!["message a3 (seq 10 of c) never reached the customer"]
        );
        a.received("c", 10, Party::Customer);
        assert_eq!(a.outstanding(), 0);
        assert_eq!(a.summary().messages, 4);
    }

    #[test]
    fn ownership_passing_and_rejoining_keep_the_stints_right() {
        let a = Audience::default();
        a.event("c", 2, &joined("al", "owner"));
        a.event("c", 3, &joined("bo", "conference"));
        a.event("c", 5, &left("al", "owner"));
        a.message("c", 7, agent("bo"), true, "a1");
        a.event("c", 8, &joined("al", "consult"));
        a.message("c", 9, agent("bo"), false, "i1");
        a.received("c", 7, Party::Customer);
        // al was out at seq 7; in again at 9.
        let s = a.summary();
        assert_eq!((s.expected_deliveries, s.missed_deliveries), (2, 1));
        a.received("c", 9, agent("al"));
        assert_eq!(a.summary().missed_deliveries, 0);
    }

    #[test]
    fn each_invitation_ends_exactly_once() {
        let a = Audience::default();
        a.event("c", 5, &invite("invited", "bo", None));
        a.invite_acked("c", 5);
        a.event("c", 6, &invite("invite_ended", "bo", Some("accepted")));
        a.event("c", 8, &invite("invited", "cy", None));
        a.event("c", 9, &invite("invited", "dee", None));
        a.event("c", 10, &invite("invite_ended", "cy", Some("expired")));
        a.event("c", 11, &invite("invite_ended", "cy", Some("cancelled")));
        a.event("c", 12, &left("al", "owner"));
        a.invite_acked("c", 12);
        a.event("c", 14, &invite("invite_ended", "dee", Some("accepted")));
        a.event("c", 15, &invite("invited", "eve", None));
        let s = a.summary().invitations;
        assert_eq!(s.open_when_owner_left, 1, "dee");
        assert_eq!(s.owner_left_outcomes.get("accepted"), Some(&1));
        assert_eq!(s.invited, 4);
        assert_eq!((s.accepted, s.expired, s.cancelled), (2, 1, 1));
        assert_eq!(s.ended_once, 3);
        assert_eq!(s.ended_twice, 1);
        assert_eq!(s.never_ended, 1, "eve");
        assert_eq!(s.acked_not_logged, 1, "seq 12 is no invitation");
        assert_eq!(s.anomalies(), 3);
    }

    #[test]
    fn what_customers_must_never_see() {
        let internal =
            ev(r#"{"kind":"internal","author":{"role":"agent"},"text":"x","client_msg_id":"i1"}"#);
        assert!(agents_only(&internal));
        assert!(agents_only(&joined("bo", "consult")));
        assert!(!agents_only(&joined("bo", "conference")));
        assert!(!agents_only(&left("al", "owner")));
        assert!(!agents_only(&joined("v_1", "customer")));
        assert!(agents_only(&invite("invite_ended", "bo", Some("rejected"))));
        let barge = ev(
            r#"{"kind":"role_changed","author":{"role":"agent"},"participant":"s","from":"observer","to":"conference"}"#,
        );
        assert!(!agents_only(&barge));
        let coach = ev(
            r#"{"kind":"role_changed","author":{"role":"agent"},"participant":"s","from":"observer","to":"coach"}"#,
        );
        assert!(agents_only(&coach));
        let msg =
            ev(r#"{"kind":"message","author":{"role":"agent"},"visibility":"public","text":"x"}"#);
        assert!(!agents_only(&msg));
        let labelled = ev(r#"{"kind":"message","author":{"role":"agent"},"visibility":"agents"}"#);
        assert!(agents_only(&labelled), "the server's own label counts too");
    }
}
