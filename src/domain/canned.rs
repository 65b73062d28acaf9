//! Canned responses (seeds 001, 004): texts an agent inserts with `/shortcut`, org-wide, per
//! queue or personal, with placeholders the server fills for the chat at hand.
//!
//! Which response a shortcut means in a chat is decided here, once: the agent's personal one,
//! else the chat's queue's, else the org's ([`applicable`]). Placeholders are checked when a
//! response is saved ([`CannedResponse::parse`]) and filled when it is offered ([`render`]); a
//! value the chat does not have shows as `[name]`, so the agent sees the gap before sending.

use serde::{Deserialize, Serialize};

use crate::ids::QueueId;
use crate::protocol::CommandError;

/// Most responses per scope list: an org's (org-wide and per-queue together), an agent's own.
pub const MAX_PER_LIST: usize = 500;
const MAX_SHORTCUT: usize = 32;
const MAX_TITLE: usize = 100;
const MAX_TEXT: usize = 4000;
const MAX_ID: usize = 64;

/// The placeholders a text may use, as written between `{{` and `}}`.
pub const PLACEHOLDERS: &[&str] = &[
    "customer.first_name",
    "customer.last_name",
    "customer.name",
    "customer.email",
    "agent.name",
    "org.name",
    "queue.name",
    "case_id",
];

/// One canned response. `queue` is set for a queue's response (org lists only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedResponse {
    pub id: String,
    pub shortcut: String,
    pub title: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueId>,
}

/// Where a response comes from; also its precedence (personal first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Personal,
    Queue,
    Org,
}

fn bad(m: impl Into<String>) -> CommandError {
    CommandError::bad_request(m.into())
}

impl CannedResponse {
    /// Checks a response as a client sent it: id, shortcut, title and text within their limits,
    /// placeholders known. The shortcut is stored lower-case.
    pub fn parse(
        id: &str,
        shortcut: &str,
        title: &str,
        text: &str,
        queue: Option<QueueId>,
    ) -> Result<Self, CommandError> {
        if id.is_empty()
            || id.len() > MAX_ID
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "id must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
            ));
        }
        let shortcut = shortcut.trim().trim_start_matches('/').to_ascii_lowercase();
        if shortcut.is_empty()
            || shortcut.len() > MAX_SHORTCUT
            || !shortcut
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "shortcut must be 1 to 32 characters of a-z, 0-9, _ and -",
            ));
        }
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(bad("title must be 1 to 100 characters"));
        }
        if title.chars().any(char::is_control) {
            return Err(bad("title contains control characters"));
        }
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
            return Err(bad("text must be 1 to 4000 characters"));
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(bad("text contains control characters"));
        }
        for part in placeholders(text) {
            let Placeholder::Field { name, .. } = part else {
                continue;
            };
            if !PLACEHOLDERS.contains(&name) {
                return Err(bad(format!(
                    "unknown placeholder {{{{{name}}}}}; known: {}",
                    PLACEHOLDERS.join(", ")
                )));
            }
        }
        Ok(Self {
            id: id.to_string(),
            shortcut,
            title: title.to_string(),
            text: text.to_string(),
            queue,
        })
    }
}

/// Which list [`upsert`] writes: it names the scope in a conflict's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// The org's: org-wide and per-queue responses.
    Org,
    /// One agent's own.
    Personal,
}

/// Adds or replaces `r` (by id) in `list`, refusing a shortcut another response of the same
/// scope (the same queue, org-wide, or the agent's own) already uses, and a list over
/// [`MAX_PER_LIST`].
pub fn upsert(
    list: &mut Vec<CannedResponse>,
    r: CannedResponse,
    which: List,
) -> Result<(), CommandError> {
    if list
        .iter()
        .any(|o| o.id != r.id && o.shortcut == r.shortcut && o.queue == r.queue)
    {
        let scope = match (which, &r.queue) {
            (List::Personal, _) => " in your responses".to_string(),
            (List::Org, Some(q)) => format!(" in queue {q}"),
            (List::Org, None) => " org-wide".to_string(),
        };
        return Err(CommandError::conflict(format!(
            "the shortcut /{} is already used{scope}",
            r.shortcut
        )));
    }
    if let Some(o) = list.iter_mut().find(|o| o.id == r.id) {
        *o = r;
    } else if list.len() >= MAX_PER_LIST {
        return Err(bad("at most 500 canned responses per list"));
    } else {
        list.push(r);
    }
    Ok(())
}

/// The responses that apply to a chat of `queue`: one per shortcut, the personal one first,
/// then the queue's, then the org's; sorted by shortcut.
pub fn applicable<'a>(
    org: &'a [CannedResponse],
    personal: &'a [CannedResponse],
    queue: Option<&QueueId>,
) -> Vec<(Scope, &'a CannedResponse)> {
    let mut all: Vec<(Scope, &CannedResponse)> = personal
        .iter()
        .map(|r| (Scope::Personal, r))
        .chain(org.iter().filter_map(|r| match &r.queue {
            None => Some((Scope::Org, r)),
            Some(q) if Some(q) == queue => Some((Scope::Queue, r)),
            Some(_) => None,
        }))
        .collect();
    all.sort_by(|a, b| a.1.shortcut.cmp(&b.1.shortcut).then(a.0.cmp(&b.0)));
    all.dedup_by(|later, first| later.1.shortcut == first.1.shortcut);
    all
}

/// The values a chat fills placeholders with; `None` where the chat has none.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub agent_name: Option<String>,
    pub org_name: Option<String>,
    pub queue_name: Option<String>,
    pub case_id: Option<String>,
}

impl Values {
    fn get(&self, name: &str) -> Option<String> {
        let name_part = |first: bool| {
            self.customer_name.as_deref().and_then(|n| {
                let n = n.trim();
                let (f, rest) = n.split_once(char::is_whitespace).unwrap_or((n, ""));
                let part = if first { f } else { rest.trim() };
                (!part.is_empty()).then(|| part.to_string())
            })
        };
        let v = match name {
            "customer.first_name" => name_part(true),
            "customer.last_name" => name_part(false),
            "customer.name" => self.customer_name.clone(),
            "customer.email" => self.customer_email.clone(),
            "agent.name" => self.agent_name.clone(),
            "org.name" => self.org_name.clone(),
            "queue.name" => self.queue_name.clone(),
            "case_id" => self.case_id.clone(),
            _ => None,
        };
        v.filter(|s| !s.trim().is_empty())
    }
}

/// `text` with its placeholders filled: the value, else the placeholder's own fallback
/// (`{{customer.first_name|there}}`), else `[customer.first_name]`.
pub fn render(text: &str, values: &Values) -> String {
    let mut out = String::with_capacity(text.len());
    for part in placeholders(text) {
        match part {
            Placeholder::Text(t) => out.push_str(t),
            Placeholder::Field { name, fallback } => match values.get(name) {
                Some(v) => out.push_str(&v),
                None => match fallback {
                    Some(f) => out.push_str(f),
                    None => {
                        out.push('[');
                        out.push_str(name);
                        out.push(']');
                    }
                },
            },
        }
    }
    out
}

enum Placeholder<'a> {
    Text(&'a str),
    Field {
        name: &'a str,
        fallback: Option<&'a str>,
    },
}

/// Splits a text into literal runs and `{{name}}` / `{{name|fallback}}` fields. An unclosed
/// `{{` is literal text.
fn placeholders(text: &str) -> Vec<Placeholder<'_>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        if start > 0 {
            parts.push(Placeholder::Text(&rest[..start]));
        }
        let inner = &rest[start + 2..start + 2 + len];
        let (name, fallback) = match inner.split_once('|') {
            Some((n, f)) => (n.trim(), Some(f)),
            None => (inner.trim(), None),
        };
        parts.push(Placeholder::Field { name, fallback });
        rest = &rest[start + 2 + len + 2..];
    }
    if !rest.is_empty() {
        parts.push(Placeholder::Text(rest));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: &str) -> QueueId {
        QueueId::parse(id).expect("queue id")
    }

    fn r(id: &str, shortcut: &str, queue: Option<&str>) -> CannedResponse {
        CannedResponse::parse(id, shortcut, "T", &format!("text {id}"), queue.map(q))
            .expect("valid")
    }

    #[test]
    fn bad_responses_are_refused_with_the_reason() {
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            ("", "hi", "T", "x", "id must be"),
            ("a b", "hi", "T", "x", "id must be"),
            ("a", "", "T", "x", "shortcut must be"),
            ("a", "hi there", "T", "x", "shortcut must be"),
            ("a", &"x".repeat(33), "T", "x", "shortcut must be"),
            ("a", "hi", " ", "x", "title must be"),
            ("a", "hi", "T", "  ", "text must be"),
            ("a", "hi", "T", "a\u{0}b", "control characters"),
            (
                "a",
                "hi",
                "T",
                "Hi {{customer.nickname}}",
                "unknown placeholder",
            ),
        ];
        for (id, shortcut, title, text, why) in cases {
            let e = CannedResponse::parse(id, shortcut, title, text, None).expect_err(text);
            assert!(e.message.contains(why), "{text}: {}", e.message);
        }
        let ok =
            CannedResponse::parse("a", "/Greet", "T", "Hi {{ customer.first_name |you}}", None)
                .expect("valid");
        assert_eq!(ok.shortcut, "greet");
    }

    #[test]
    fn personal_wins_over_queue_over_org_and_other_queues_do_not_apply() {
        let org = vec![
            r("o1", "greet", None),
            r("q1", "greet", Some("general")),
            r("q2", "refund", Some("billing")),
            r("o2", "bye", None),
        ];
        let personal = vec![r("p1", "bye", None)];
        let got: Vec<(Scope, &str)> = applicable(&org, &personal, Some(&q("general")))
            .into_iter()
            .map(|(s, r)| (s, r.id.as_str()))
            .collect();
        assert_eq!(got, vec![(Scope::Personal, "p1"), (Scope::Queue, "q1")]);
        let got: Vec<&str> = applicable(&org, &[], Some(&q("billing")))
            .into_iter()
            .map(|(_, r)| r.id.as_str())
            .collect();
        assert_eq!(got, vec!["o2", "o1", "q2"]);
    }

    #[test]
    fn placeholders_are_filled_or_show_their_fallback_or_name() {
        let values = Values {
            customer_name: Some("Grace Brewster Hopper".into()),
            agent_name: Some("Al".into()),
            ..Values::default()
        };
        let text = "Hi {{customer.first_name}} {{customer.last_name}}, I'm {{agent.name}}. \
                    Case {{case_id|(none)}} in {{queue.name}}. {{ unclosed";
        assert_eq!(
            render(text, &values),
            "Hi Grace Brewster Hopper, I'm Al. Case (none) in [queue.name]. {{ unclosed"
        );
        let nobody = Values::default();
        assert_eq!(
            render("Hello {{customer.first_name|there}}!", &nobody),
            "Hello there!"
        );
    }

    #[test]
    fn a_shortcut_is_unique_per_scope() {
        let mut list = vec![r("o1", "greet", None)];
        upsert(&mut list, r("q1", "greet", Some("general")), List::Org).expect("another scope");
        let e = upsert(&mut list, r("o2", "greet", None), List::Org).expect_err("same scope");
        assert_eq!(e.message, "the shortcut /greet is already used org-wide");
        let e = upsert(&mut list, r("q2", "greet", Some("general")), List::Org).expect_err("queue");
        assert_eq!(
            e.message,
            "the shortcut /greet is already used in queue general"
        );
        // Replacing a response keeps its own shortcut.
        upsert(&mut list, r("o1", "greet", None), List::Org).expect("same id");
        assert_eq!(list.len(), 2);
        let mut mine = vec![r("p1", "thanks", None)];
        let e = upsert(&mut mine, r("p2", "thanks", None), List::Personal).expect_err("mine");
        assert_eq!(
            e.message,
            "the shortcut /thanks is already used in your responses"
        );
    }
}
