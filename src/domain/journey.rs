//! The customer journey (seed 001): each interaction's way through routing — waiting,
//! assigned, transferring, ended or failed — with its agent and the time of each step, read
//! from the conversation's log.
//!
//! Seed 001 names the statuses "Waiting", "Assigning", "Assigned", "Transferring", "Ended" and
//! "Failed". An interaction that ended without ever reaching an agent (the customer left the
//! queue, the idle or waiting timer ended it, a blocked visitor) is `failed`; an interaction
//! that reached one and is over is `ended` (wrap-up included). `assigning` (an offer out) is a
//! live state only: the log does not record offers, so it shows in an open interaction's
//! status, never as a past step. Consultations are not steps: a consulted agent never owns the
//! interaction (seed 004). A bot-first chat starts with a `bot` step (its `agent` is the bot's
//! id); one the bot handled alone and that is over is `ended` — it was served, by the bot.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::conversation::Status;
use crate::protocol::{EventKind, LogEvent};

/// One step of an interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub at: DateTime<Utc>,
    /// `bot`, `waiting`, `assigned`, `transferring`, `parked`, `ended`, `failed`.
    pub status: &'static str,
    /// The agent it is with (assigned) or going to (transferring).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The queue it waits in (waiting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Why it ended (`customer`, `agent`, `idle_timeout` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn step(at: DateTime<Utc>, status: &'static str) -> Step {
    Step {
        at,
        status,
        agent: None,
        queue: None,
        reason: None,
    }
}

/// The routing steps of a log, in order.
pub fn steps(events: &[&LogEvent]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut reached_agent = false;
    for e in events {
        let s = match &e.kind {
            EventKind::Queued { .. } if out.last().is_some_and(|s| s.status == "waiting") => {
                continue
            }
            EventKind::Queued { queue, .. } => Step {
                queue: Some(queue.to_string()),
                ..step(e.at, "waiting")
            },
            EventKind::TransferredToQueue { queue, .. } => Step {
                queue: Some(queue.to_string()),
                ..step(e.at, "waiting")
            },
            EventKind::BotEngaged { bot, .. } => {
                reached_agent = true;
                Step {
                    agent: Some(bot.clone()),
                    ..step(e.at, "bot")
                }
            }
            EventKind::Assigned { agent, .. } => {
                reached_agent = true;
                Step {
                    agent: Some(agent.to_string()),
                    ..step(e.at, "assigned")
                }
            }
            EventKind::TransferRequested { to, .. } => Step {
                agent: Some(to.to_string()),
                ..step(e.at, "transferring")
            },
            EventKind::TransferAccepted { to, .. } | EventKind::OwnershipChanged { to, .. } => {
                Step {
                    agent: Some(to.to_string()),
                    ..step(e.at, "assigned")
                }
            }
            EventKind::TransferRejected { from, .. } | EventKind::TransferExpired { from, .. } => {
                Step {
                    agent: Some(from.to_string()),
                    ..step(e.at, "assigned")
                }
            }
            EventKind::Parked { previous } => Step {
                agent: Some(previous.to_string()),
                ..step(e.at, "parked")
            },
            EventKind::Ended { reason, .. } => Step {
                reason: serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                ..step(e.at, if reached_agent { "ended" } else { "failed" })
            },
            _ => continue,
        };
        out.push(s);
    }
    out
}

/// An interaction's status in seed 001's words (see the module docs), from its conversation's
/// status and its steps.
pub fn status(conversation: Status, steps: &[Step]) -> &'static str {
    let reached_agent = steps
        .iter()
        .any(|s| s.status == "assigned" || s.status == "bot");
    match conversation {
        Status::Ended | Status::Done | Status::Failed if !reached_agent => "failed",
        Status::Ended | Status::Done | Status::Failed => "ended",
        other => other.as_str(),
    }
}

/// The agent it was with last, and when an agent first had it.
pub fn agents(steps: &[Step]) -> (Option<String>, Option<DateTime<Utc>>) {
    let assigned = || steps.iter().filter(|s| s.status == "assigned");
    (
        assigned().next_back().and_then(|s| s.agent.clone()),
        assigned().next().map(|s| s.at),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AgentId, QueueId};
    use crate::protocol::{Author, EndReason, Visibility};

    fn ev(seq: u64, kind: EventKind) -> LogEvent {
        LogEvent {
            seq,
            at: DateTime::from_timestamp(1_700_000_000 + seq as i64, 0).expect("time"),
            author: Author::system(),
            visibility: Visibility::Public,
            kind,
            redacted: false,
        }
    }

    fn agent(s: &str) -> AgentId {
        AgentId::parse(s).expect("agent")
    }

    #[test]
    fn a_transferred_chat_walks_waiting_assigned_transferring_assigned_ended() {
        let q = QueueId::parse("sales").expect("queue");
        let log = [
            ev(
                1,
                EventKind::Queued {
                    queue: q.clone(),
                    priority: 0,
                },
            ),
            ev(
                2,
                EventKind::Assigned {
                    agent: agent("al"),
                    agent_name: "Al".into(),
                },
            ),
            ev(
                3,
                EventKind::TransferRequested {
                    from: agent("al"),
                    to: agent("bo"),
                    note: None,
                },
            ),
            ev(
                4,
                EventKind::TransferAccepted {
                    from: agent("al"),
                    to: agent("bo"),
                },
            ),
            ev(
                5,
                EventKind::Ended {
                    reason: EndReason::Customer,
                    message: None,
                },
            ),
        ];
        let refs: Vec<&LogEvent> = log.iter().collect();
        let got: Vec<(&str, Option<String>)> = steps(&refs)
            .into_iter()
            .map(|s| (s.status, s.agent.or(s.queue)))
            .collect();
        assert_eq!(
            got,
            vec![
                ("waiting", Some("sales".into())),
                ("assigned", Some("al".into())),
                ("transferring", Some("bo".into())),
                ("assigned", Some("bo".into())),
                ("ended", None),
            ]
        );
    }

    #[test]
    fn a_bot_first_chat_starts_with_the_bot_and_one_it_handled_alone_ended() {
        let bot = || EventKind::BotEngaged {
            bot: "ava".into(),
            name: "Ava".into(),
        };
        let ended = || EventKind::Ended {
            reason: EndReason::Bot,
            message: None,
        };
        let alone = [ev(1, bot()), ev(2, ended())];
        let refs: Vec<&LogEvent> = alone.iter().collect();
        let s = steps(&refs);
        let got: Vec<(&str, Option<&str>)> =
            s.iter().map(|s| (s.status, s.agent.as_deref())).collect();
        assert_eq!(got, [("bot", Some("ava")), ("ended", None)]);
        assert_eq!(status(Status::Done, &s), "ended");
        assert_eq!(status(Status::Bot, &s[..1]), "bot");
        let handed = [
            ev(1, bot()),
            ev(
                2,
                EventKind::Queued {
                    queue: QueueId::parse("returns").expect("queue"),
                    priority: 0,
                },
            ),
        ];
        let refs: Vec<&LogEvent> = handed.iter().collect();
        let got: Vec<&str> = steps(&refs).iter().map(|s| s.status).collect();
        assert_eq!(got, ["bot", "waiting"]);
    }

    #[test]
    fn a_chat_that_never_reached_an_agent_failed() {
        let q = QueueId::parse("sales").expect("queue");
        let log = [
            ev(
                1,
                EventKind::Queued {
                    queue: q.clone(),
                    priority: 0,
                },
            ),
            ev(
                2,
                EventKind::Queued {
                    queue: q,
                    priority: 0,
                },
            ),
            ev(
                3,
                EventKind::Ended {
                    reason: EndReason::IdleTimeout,
                    message: None,
                },
            ),
        ];
        let refs: Vec<&LogEvent> = log.iter().collect();
        let s = steps(&refs);
        assert_eq!(
            s.len(),
            2,
            "a re-queue in the same queue is one wait: {s:?}"
        );
        assert_eq!(s[1].status, "failed");
        assert_eq!(s[1].reason.as_deref(), Some("idle_timeout"));
    }
}
