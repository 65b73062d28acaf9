//! Parse-don't-validate constructors for text that comes from clients.

use crate::protocol::{CommandError, ErrorCode};

/// Why client text was refused. `what` names the field, as clients sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is required")]
    Required { what: &'static str },
    /// Over the node's limit for chat text (`too_large`).
    #[error("{what} has {chars} characters; the limit is {max}")]
    TooLong {
        what: &'static str,
        chars: usize,
        max: usize,
    },
    /// A form field out of its documented range (`bad_request`, PROTOCOL §9.2).
    #[error("{what} has {chars} characters; the limit is {max}")]
    FieldTooLong {
        what: &'static str,
        chars: usize,
        max: usize,
    },
    #[error("{what} contains control characters")]
    ControlCharacters { what: &'static str },
    #[error("client_msg_id must be 1 to {max} printable ASCII characters")]
    ClientMsgId { max: usize },
    #[error("email is not a valid address")]
    Email,
    /// A pushed URL that is not an absolute http(s) address (PROTOCOL §4.30).
    #[error("url: {0}")]
    Url(&'static str),
}

impl TextError {
    pub fn code(&self) -> ErrorCode {
        match self {
            TextError::TooLong { .. } => ErrorCode::TooLarge,
            _ => ErrorCode::BadRequest,
        }
    }
}

impl From<TextError> for CommandError {
    fn from(e: TextError) -> Self {
        CommandError::new(e.code(), e.to_string())
    }
}

/// Rejects text that is empty, too long, or holds control characters other than tab and newlines.
/// Text is otherwise stored exactly as sent (never trimmed, never rendered as HTML).
pub fn chat_text(text: &str, max_chars: usize, what: &'static str) -> Result<String, TextError> {
    if text.trim().is_empty() {
        return Err(TextError::Empty { what });
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(TextError::TooLong {
            what,
            chars,
            max: max_chars,
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(TextError::ControlCharacters { what });
    }
    Ok(text.to_string())
}

/// An optional note: absent or empty means none.
pub fn optional_text(
    text: Option<&str>,
    max_chars: usize,
    what: &'static str,
) -> Result<Option<String>, TextError> {
    match text {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => chat_text(t, max_chars, what).map(Some),
    }
}

/// A client message id: 1..=max printable ASCII characters.
pub fn client_msg_id(id: &str, max_len: usize) -> Result<(), TextError> {
    if id.is_empty() || id.len() > max_len || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TextError::ClientMsgId { max: max_len });
    }
    Ok(())
}

/// Longest URL an agent may push (browsers and proxies handle far longer, people do not).
pub const MAX_URL_LEN: usize = 2048;

/// A URL an agent pushes to the customer (seed 004): an absolute `http` or `https` address with
/// a host, at most [`MAX_URL_LEN`] bytes, no whitespace or control characters. Returned in its
/// normalised form (the address the customer's page shows and opens is exactly this one).
pub fn pushed_url(raw: &str) -> Result<String, TextError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(TextError::Url("is empty"));
    }
    if raw.len() > MAX_URL_LEN {
        return Err(TextError::Url("is longer than 2048 characters"));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TextError::Url("contains spaces or control characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| TextError::Url("is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TextError::Url(
            "only http and https addresses can be pushed",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(TextError::Url("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TextError::Url("must not carry a user name or password"));
    }
    let out = url.to_string();
    if out.len() > MAX_URL_LEN {
        return Err(TextError::Url("is longer than 2048 characters"));
    }
    Ok(out)
}

/// A person's name from the pre-chat form.
pub fn person_name(name: &str, what: &'static str) -> Result<String, TextError> {
    const MAX_CHARS: usize = 100;
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(TextError::Required { what });
    }
    // A form field out of range is a bad request (400, PROTOCOL §9.2), not `too_large`.
    let chars = trimmed.chars().count();
    if chars > MAX_CHARS {
        return Err(TextError::FieldTooLong {
            what,
            chars,
            max: MAX_CHARS,
        });
    }
    chat_text(trimmed, MAX_CHARS, what)
}

/// A plausible email address: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Deliverability is not our business; catching typos like a missing `@` is.
pub fn email(email: &str) -> Result<String, TextError> {
    let e = email.trim();
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TextError::Email);
    }
    let (local, domain) = e.split_once('@').ok_or(TextError::Email)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(TextError::Email);
    }
    Ok(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T>(result: Result<T, TextError>, ok: bool, input: &str) {
        assert_eq!(result.is_ok(), ok, "input {input:?}");
    }

    #[test]
    fn chat_text_rules() {
        let cases = [
            ("hello", true),
            ("  spaced  ", true),
            ("<script>alert(1)</script>", true),
            ("line\nbreak\ttab", true),
            ("", false),
            ("   ", false),
            ("nul\u{0}", false),
            ("bell\u{7}", false),
            ("😀 emoji", true),
        ];
        for (input, ok) in cases {
            check(chat_text(input, 40, "text"), ok, input);
        }
        let err = chat_text(&"x".repeat(21), 20, "text").expect_err("too long");
        assert_eq!(err.code(), ErrorCode::TooLarge);
        let err = CommandError::from(err);
        assert_eq!(err.code, ErrorCode::TooLarge);
        assert_eq!(err.message, "text has 21 characters; the limit is 20");
        let name = person_name(&"x".repeat(101), "first_name").expect_err("too long");
        assert_eq!(name.code(), ErrorCode::BadRequest, "a form field: 400");
    }

    #[test]
    fn email_rules() {
        let cases = [
            ("ada@example.com", true),
            (" ada@example.com ", true),
            ("ada.example.com", false),
            ("@example.com", false),
            ("ada@example", false),
            ("ada@@example.com", false),
            ("a da@example.com", false),
            ("ada@.com", false),
        ];
        for (input, ok) in cases {
            check(email(input), ok, input);
        }
    }

    #[test]
    fn client_msg_id_rules() {
        let cases = [
            ("m-1", true),
            ("", false),
            ("has space", false),
            ("ü", false),
        ];
        for (input, ok) in cases {
            check(client_msg_id(input, 64), ok, input);
        }
        check(client_msg_id(&"x".repeat(65), 64), false, "65 x");
    }
}
