//! The closed set of error codes (DESIGN §5) and the error every command handler returns.

use serde::{Deserialize, Serialize};

/// Every error the server reports carries exactly one of these codes. The set is closed: adding a
/// code is a protocol change and needs a `docs/PROTOCOL.md` update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    TooLarge,
    OutsideHours,
    Blocked,
    ReasonRequired,
    Capacity,
    Expired,
    Ended,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::TooLarge,
        ErrorCode::OutsideHours,
        ErrorCode::Blocked,
        ErrorCode::ReasonRequired,
        ErrorCode::Capacity,
        ErrorCode::Expired,
        ErrorCode::Ended,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::OutsideHours => "outside_hours",
            ErrorCode::Blocked => "blocked",
            ErrorCode::ReasonRequired => "reason_required",
            ErrorCode::Capacity => "capacity",
            ErrorCode::Expired => "expired",
            ErrorCode::Ended => "ended",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status the REST API uses for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::ReasonRequired => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden | ErrorCode::Blocked | ErrorCode::OutsideHours => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict | ErrorCode::Capacity | ErrorCode::Ended | ErrorCode::Expired => {
                409
            }
            ErrorCode::TooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// A refused command: a code from the closed set and a human-readable message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
    /// Internal: the actor that answered lost its lease (another node owns it now); the caller
    /// locates the actor again and retries. Clients see `unavailable`.
    pub moved: bool,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            moved: false,
        }
    }

    /// The activation lost its lease: locate the actor again (see [`Self::moved`]).
    pub fn moved() -> Self {
        Self {
            moved: true,
            ..Self::new(
                ErrorCode::Unavailable,
                "this conversation moved to another node; retry",
            )
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    pub fn ended() -> Self {
        Self::new(ErrorCode::Ended, "the conversation has ended")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }

    /// The message a client may see. An internal error's cause (a serializer's or a store's
    /// message) is logged here and replaced by a generic text: it is ours to fix, not theirs.
    pub fn client_message(&self) -> &str {
        if self.code == ErrorCode::Internal {
            tracing::error!(cause = %self.message, "Internal error answered to a client.");
            "internal error; the cause is in the server's log"
        } else {
            &self.message
        }
    }
}
