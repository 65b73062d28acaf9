//! Retention and privacy rules (issue 14): how long an org keeps what, and what of an event is
//! its *content* — the part that retention removes first while the event itself stays.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::protocol::{EventKind, LogEvent};

/// The longest retention period, in days (100 years).
pub const MAX_DAYS: u32 = 36_500;

/// An org's retention periods, counted from a conversation's end. `None`: keep forever.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Retention {
    /// After this many days a finished conversation's content goes: message, note and internal
    /// texts, notes of transfers and invitations, pushed URLs, survey comments, attachment files.
    pub content_days: Option<u32>,
    /// After this many days a finished conversation goes entirely.
    pub metadata_days: Option<u32>,
}

impl Retention {
    pub fn validate(&self) -> Result<(), String> {
        for (name, days) in [
            ("content_days", self.content_days),
            ("metadata_days", self.metadata_days),
        ] {
            if days.is_some_and(|d| !(1..=MAX_DAYS).contains(&d)) {
                return Err(format!(
                    "retention.{name} must be between 1 and {MAX_DAYS} days, or null"
                ));
            }
        }
        if let (Some(c), Some(m)) = (self.content_days, self.metadata_days) {
            if c > m {
                return Err("retention.content_days must not exceed metadata_days".into());
            }
        }
        Ok(())
    }

    /// Conversations that ended before this lose their content (`None`: never).
    pub fn content_cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.content_days
            .map(|d| now - Duration::days(i64::from(d)))
    }

    /// Conversations that ended before this are deleted (`None`: never).
    pub fn metadata_cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.metadata_days
            .map(|d| now - Duration::days(i64::from(d)))
    }
}

/// Whether a blocklist entry names the customer: its id, or one of the emails it gave.
pub fn blocks_customer(
    entry: &crate::domain::org::BlockEntry,
    customer: &crate::ids::CustomerId,
    emails: &std::collections::BTreeSet<String>,
) -> bool {
    entry.customer.as_ref() == Some(customer)
        || entry
            .email
            .as_ref()
            .is_some_and(|e| emails.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The event without its content, marked `redacted`; `None` when the event carries no content
/// (it is kept as it is). Kind, seq, time, author and visibility stay.
pub fn redact(event: &LogEvent) -> Option<LogEvent> {
    let mut kind = event.kind.clone();
    match &mut kind {
        EventKind::Message {
            text, attachments, ..
        } => {
            text.clear();
            attachments.clear();
        }
        EventKind::Note { text } | EventKind::Internal { text, .. } => text.clear(),
        EventKind::UrlPushed { url, .. } => url.clear(),
        EventKind::TransferRequested { note, .. }
        | EventKind::TransferredToQueue { note, .. }
        | EventKind::Invited { note, .. }
        | EventKind::WrapUp { note, .. } => *note = None,
        EventKind::Survey { comment, .. } => *comment = None,
        _ => return None,
    }
    if kind == event.kind {
        return None;
    }
    Some(LogEvent {
        kind,
        redacted: true,
        ..event.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Author, AuthorRole, Visibility};

    fn ev(kind: EventKind) -> LogEvent {
        LogEvent {
            seq: 7,
            at: Utc::now(),
            author: Author {
                role: AuthorRole::Customer,
                id: Some("ann".into()),
                name: None,
            },
            visibility: Visibility::Public,
            kind,
            redacted: false,
        }
    }

    #[test]
    fn content_goes_and_the_event_stays() {
        let message = ev(EventKind::Message {
            text: "my card is 4111".into(),
            client_msg_id: "m1".into(),
            attachments: Vec::new(),
        });
        let r = redact(&message).expect("a message has content");
        assert!(r.redacted);
        assert_eq!((r.seq, r.at, &r.author), (7, message.at, &message.author));
        assert!(
            matches!(&r.kind, EventKind::Message { text, client_msg_id, .. }
            if text.is_empty() && client_msg_id == "m1")
        );
        let survey = ev(EventKind::Survey {
            rating: 9,
            comment: Some("Ann from Leeds".into()),
        });
        let r = redact(&survey).expect("a survey comment is content");
        assert_eq!(
            r.kind,
            EventKind::Survey {
                rating: 9,
                comment: None
            }
        );
        assert_eq!(redact(&ev(EventKind::Read { up_to: 3 })), None);
        let wrap_up = EventKind::WrapUp {
            disposition: Some("resolved".into()),
            note: None,
        };
        assert_eq!(redact(&ev(wrap_up)), None, "nothing to remove: unchanged");
        assert_eq!(redact(&ev(EventKind::Continued)), None);
    }

    #[test]
    fn periods_are_checked() {
        let r = |c, m| Retention {
            content_days: c,
            metadata_days: m,
        };
        assert!(r(None, None).validate().is_ok());
        assert!(r(Some(30), Some(365)).validate().is_ok());
        assert!(r(Some(30), Some(30)).validate().is_ok());
        assert!(r(None, Some(30)).validate().is_ok());
        assert!(r(Some(31), Some(30)).validate().is_err());
        assert!(r(Some(0), None).validate().is_err());
        assert!(r(None, Some(MAX_DAYS + 1)).validate().is_err());
        let now = Utc::now();
        assert_eq!(
            r(Some(2), None).content_cutoff(now),
            Some(now - Duration::days(2))
        );
        assert_eq!(r(Some(2), None).metadata_cutoff(now), None);
    }
}
