//! Outgoing webhooks (issue 15, DESIGN §13, PROTOCOL §9.13): an org's subscriptions, which
//! logged events become which webhook types, and what a webhook carries. Pure; the outbox is
//! `archive/webhooks.rs`, the sending `webhook/dispatcher.rs`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::bot::check_target;

use crate::protocol::{EventKind, LogEvent, Visibility};

/// Every event type a subscription may ask for.
pub const EVENT_TYPES: [&str; 11] = [
    "conversation.created",
    "conversation.queued",
    "conversation.assigned",
    "conversation.transferred",
    "conversation.handed_over",
    "conversation.ended",
    "conversation.done",
    "message.created",
    "survey.submitted",
    "customer.erased",
    "ticket.requested",
];

/// Most subscriptions per org.
pub const MAX_SUBSCRIPTIONS: usize = 20;

/// How a subscription receives its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Signed POSTs to `url`.
    #[default]
    Push,
    /// Kept for `GET /v1/webhooks/{id}/events?after=…` (integrations that cannot receive).
    Pull,
}

/// An admin's subscription to the org's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Subscription {
    pub id: String,
    pub mode: Mode,
    /// Where pushes go (unused by pull subscriptions).
    pub url: String,
    /// The HMAC-SHA256 key of the signatures. Never returned; a PUT without it keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The types wanted; empty: every type.
    pub events: Vec<String>,
    /// `message.created` for agents-only messages too (the internal discussion and notes).
    pub include_agents_only: bool,
    pub enabled: bool,
    /// The url may be on a loopback, private or link-local network.
    pub allow_private_network: bool,
}

impl Default for Subscription {
    fn default() -> Self {
        Self {
            id: String::new(),
            mode: Mode::Push,
            url: String::new(),
            secret: None,
            events: Vec::new(),
            include_agents_only: false,
            enabled: true,
            allow_private_network: false,
        }
    }
}

impl Subscription {
    pub fn validate(&self) -> Result<(), String> {
        super::bot::check_id(&self.id, "a subscription id")?;
        if let Some(t) = self
            .events
            .iter()
            .find(|t| !EVENT_TYPES.contains(&t.as_str()))
        {
            return Err(format!(
                "unknown event type {t:?} (one of {})",
                EVENT_TYPES.join(", ")
            ));
        }
        if self.mode == Mode::Push {
            check_target(&self.url, self.allow_private_network).map_err(|e| format!("url {e}"))?;
            match self.secret.as_deref() {
                Some(s) if (16..=256).contains(&s.len()) => {}
                _ => return Err("secret must be 16 to 256 bytes".into()),
            }
        }
        Ok(())
    }

    /// Whether this subscription wants `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled && (self.events.is_empty() || self.events.iter().any(|t| t == event_type))
    }
}

/// The webhook type of a logged event, for a subscription that does (or not) take agents-only
/// messages; `None`: not a webhook.
pub fn event_type(event: &LogEvent, agents_only_messages: bool) -> Option<&'static str> {
    Some(match &event.kind {
        EventKind::Created { .. } => "conversation.created",
        EventKind::Queued { .. } => "conversation.queued",
        EventKind::Assigned { .. } => "conversation.assigned",
        EventKind::TransferAccepted { .. }
        | EventKind::TransferredToQueue { .. }
        | EventKind::OwnershipChanged { .. } => "conversation.transferred",
        EventKind::HandedOver { .. } => "conversation.handed_over",
        EventKind::Ended { .. } => "conversation.ended",
        EventKind::WrapUp { .. } => "conversation.done",
        EventKind::Message { .. } if event.visibility == Visibility::Public => "message.created",
        EventKind::Internal { .. } | EventKind::Note { .. } if agents_only_messages => {
            "message.created"
        }
        EventKind::Survey { .. } => "survey.submitted",
        EventKind::TicketRequested { .. } => "ticket.requested",
        _ => return None,
    })
}

/// The `webhook-id` of a conversation's event: the same for every subscription and attempt.
pub fn event_id(conversation: &str, seq: u64) -> String {
    format!("{conversation}.{seq}")
}

/// What a conversation event's webhook carries. `transcript` (a ticket request's) is the
/// conversation's log as agents see it.
pub fn body(
    org: &str,
    conversation: &str,
    event_type: &str,
    event: &LogEvent,
    transcript: Option<&[std::sync::Arc<LogEvent>]>,
) -> Value {
    let mut body = json!({
        "id": event_id(conversation, event.seq),
        "type": event_type,
        "org": org,
        "conversation": conversation,
        "seq": event.seq,
        "at": event.at,
        "event": event,
    });
    if let Some(t) = transcript {
        body["transcript"] = json!(t.iter().map(|e| e.as_ref()).collect::<Vec<_>>());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Author, AuthorRole};

    fn ev(kind: EventKind) -> LogEvent {
        LogEvent {
            seq: 4,
            at: chrono::Utc::now(),
            author: Author {
                role: AuthorRole::Agent,
                id: Some("al".into()),
                name: None,
            },
            visibility: kind.visibility(),
            kind,
            redacted: false,
        }
    }

    #[test]
    fn public_messages_always_agents_only_ones_when_asked() {
        let public = ev(EventKind::Message {
            text: "hi".into(),
            client_msg_id: "m".into(),
            attachments: vec![],
        });
        let internal = ev(EventKind::Internal {
            text: "psst".into(),
            client_msg_id: "i".into(),
        });
        assert_eq!(event_type(&public, false), Some("message.created"));
        assert_eq!(event_type(&internal, false), None);
        assert_eq!(event_type(&internal, true), Some("message.created"));
        assert_eq!(event_type(&ev(EventKind::Read { up_to: 3 }), true), None);
        assert_eq!(
            event_type(
                &ev(EventKind::WrapUp {
                    disposition: None,
                    note: None
                }),
                false
            ),
            Some("conversation.done")
        );
    }

    #[test]
    fn subscriptions_validate() {
        let ok = Subscription {
            id: "crm".into(),
            url: "https://crm.example.com/hooks".into(),
            secret: Some("0123456789abcdef".into()),
            events: vec!["message.created".into()],
            ..Subscription::default()
        };
        assert!(ok.validate().is_ok());
        assert!(ok.wants("message.created") && !ok.wants("conversation.created"));
        let bad = |f: fn(&mut Subscription)| {
            let mut s = ok.clone();
            f(&mut s);
            s.validate().is_err()
        };
        assert!(bad(|s| s.url = "http://10.0.0.8/hook".into()), "private");
        assert!(bad(|s| s.url = "http://localhost:9/".into()), "loopback");
        assert!(bad(|s| s.events = vec!["message.deleted".into()]));
        assert!(bad(|s| s.secret = None));
        assert!(bad(|s| s.id = "a/b".into()));
        let pull = Subscription {
            mode: Mode::Pull,
            url: String::new(),
            secret: None,
            ..ok
        };
        assert!(pull.validate().is_ok(), "a pull subscription needs no url");
    }
}
