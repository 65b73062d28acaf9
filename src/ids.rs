//! Identifier newtypes.
//!
//! Every id that crosses the wire is parsed once, here, so that the rest of the code can rely on it
//! being short, printable and free of separators used in storage keys (`:` and `{}`).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest id we accept, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why a string is not a valid id.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is longer than {MAX_ID_LEN} bytes")]
    TooLong,
    #[error("id may only contain letters, digits, '-', '_', '.' and '@'")]
    BadCharacter,
}

fn check_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
    {
        return Err(IdError::BadCharacter);
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Parses an id received from outside (wire, REST path, token claim).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check_id(s)?;
                Ok(Self(Arc::from(s)))
            }

            /// A new random id with a short readable prefix.
            pub fn generate() -> Self {
                let raw = uuid::Uuid::new_v4().simple().to_string();
                Self(Arc::from(format!("{}{}", $prefix, &raw[..20])))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A tenant. Every other id is scoped by one.
    OrgId, "org_");
id_type!(
    /// A conversation (a "chat" / "interaction" in the seeds).
    ConversationId, "c_");
id_type!(
    /// A human agent (or supervisor/admin acting as one).
    AgentId, "a_");
id_type!(
    /// A queue (an "inbox" in seed 001).
    QueueId, "q_");
id_type!(
    /// A customer: a verified customer's id from the org's backend, or a visitor id we issue.
    CustomerId, "v_");
id_type!(
    /// A chat reason.
    ReasonId, "r_");
id_type!(
    /// An uploaded file (an attachment), scoped by its org.
    AttachmentId, "a_");

/// A conversation together with its org: the key every store and directory uses.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ConvKey {
    pub org: OrgId,
    pub id: ConversationId,
}

/// An agent together with its org.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct AgentKey {
    pub org: OrgId,
    pub id: AgentId,
}

/// A customer together with its org.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct CustomerKey {
    pub org: OrgId,
    pub id: CustomerId,
}

/// A queue together with its org.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct QueueKey {
    pub org: OrgId,
    pub id: QueueId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        let cases: &[(&str, Result<(), IdError>)] = &[
            ("demo", Ok(())),
            ("alice@example.com", Ok(())),
            ("", Err(IdError::Empty)),
            ("a:b", Err(IdError::BadCharacter)),
            ("a{b}", Err(IdError::BadCharacter)),
            ("ü", Err(IdError::BadCharacter)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                OrgId::parse(input).map(|_| ()),
                *expected,
                "input {input:?}"
            );
        }
        assert_eq!(
            OrgId::parse(&"x".repeat(65)).map(|_| ()),
            Err(IdError::TooLong)
        );
    }

    #[test]
    fn generated_ids_parse() {
        let id = ConversationId::generate();
        assert!(ConversationId::parse(id.as_str()).is_ok());
        assert!(id.as_str().starts_with("c_"));
    }
}
