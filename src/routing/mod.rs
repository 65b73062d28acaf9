//! Routing decisions, as pure functions: which agent gets the next offer, and how long a queued
//! customer should expect to wait.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::ids::AgentId;

/// What the queue knows about one of its agents.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentView {
    /// Available, signed in, and a member of the queue.
    pub eligible: bool,
    /// Free slots: max_chats minus assigned chats, pending offers and pending transfers in.
    pub free: u32,
    /// Since when the agent has been waiting for work (last offer, or becoming available).
    pub ready_since: DateTime<Utc>,
}

/// Longest-idle routing: among eligible agents with a free slot that have not already declined
/// this conversation, the one waiting for work the longest; ties go to the smaller id so the
/// choice is deterministic.
pub fn choose_agent<'a>(
    agents: impl IntoIterator<Item = (&'a AgentId, &'a AgentView)>,
    declined: &HashSet<AgentId>,
) -> Option<&'a AgentId> {
    agents
        .into_iter()
        .filter(|(id, v)| v.eligible && v.free > 0 && !declined.contains(*id))
        .min_by(|(ia, a), (ib, b)| a.ready_since.cmp(&b.ready_since).then_with(|| ia.cmp(ib)))
        .map(|(id, _)| id)
}

/// Estimates waits from the pace at which the queue has been handing out chats (an
/// exponentially weighted moving average of the interval between two assignments).
#[derive(Debug, Clone, Default)]
pub struct WaitEstimator {
    interval_ms: Option<f64>,
    last: Option<DateTime<Utc>>,
}

impl WaitEstimator {
    const WEIGHT: f64 = 0.2;

    pub fn record_assignment(&mut self, at: DateTime<Utc>) {
        if let Some(last) = self.last {
            let sample = (at - last).num_milliseconds().max(0) as f64;
            self.interval_ms = Some(match self.interval_ms {
                None => sample,
                Some(avg) => avg + Self::WEIGHT * (sample - avg),
            });
        }
        self.last = Some(at);
    }

    /// Seconds until the customer at `position` (1 = next) is likely served.
    pub fn eta_secs(&self, position: usize) -> Option<u64> {
        self.interval_ms
            .map(|ms| ((ms * position as f64) / 1000.0).ceil() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + secs, 0).expect("valid")
    }

    fn id(s: &str) -> AgentId {
        AgentId::parse(s).expect("id")
    }

    /// (agents as (id, eligible, free, ready_since), declined, expected choice)
    type Case = (
        &'static str,
        Vec<(&'static str, bool, u32, i64)>,
        Vec<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn choose_agent_table() {
        let cases: Vec<Case> = vec![
            ("nobody", vec![], vec![], None),
            (
                "longest idle wins",
                vec![("a", true, 3, 10), ("b", true, 3, 5)],
                vec![],
                Some("b"),
            ),
            (
                "full agents skipped",
                vec![("a", true, 0, 1), ("b", true, 1, 5)],
                vec![],
                Some("b"),
            ),
            (
                "ineligible skipped",
                vec![("a", false, 3, 1), ("b", true, 1, 5)],
                vec![],
                Some("b"),
            ),
            (
                "declined skipped",
                vec![("a", true, 3, 1), ("b", true, 1, 5)],
                vec!["a"],
                Some("b"),
            ),
            ("all declined", vec![("a", true, 3, 1)], vec!["a"], None),
            (
                "tie by id",
                vec![("b", true, 1, 5), ("a", true, 1, 5)],
                vec![],
                Some("a"),
            ),
            (
                "all full",
                vec![("a", true, 0, 1), ("b", true, 0, 2)],
                vec![],
                None,
            ),
        ];
        for (name, agents, declined, expected) in cases {
            let views: Vec<(AgentId, AgentView)> = agents
                .iter()
                .map(|(a, eligible, free, since)| {
                    (
                        id(a),
                        AgentView {
                            eligible: *eligible,
                            free: *free,
                            ready_since: t(*since),
                        },
                    )
                })
                .collect();
            let declined: HashSet<AgentId> = declined.iter().map(|s| id(s)).collect();
            let got = choose_agent(views.iter().map(|(a, v)| (a, v)), &declined);
            assert_eq!(got.map(|a| a.as_str()), expected, "case {name}");
        }
    }

    #[test]
    fn eta_follows_the_assignment_pace() {
        let mut e = WaitEstimator::default();
        assert_eq!(e.eta_secs(1), None, "no data yet");
        e.record_assignment(t(0));
        assert_eq!(e.eta_secs(1), None, "one assignment gives no interval");
        e.record_assignment(t(10));
        assert_eq!(e.eta_secs(1), Some(10));
        assert_eq!(e.eta_secs(3), Some(30));
        e.record_assignment(t(15));
        // 10 + 0.2 * (5 - 10) = 9 s per assignment.
        assert_eq!(e.eta_secs(2), Some(18));
    }
}
