//! What a load message carries: its send time and, for agent replies, which customer message
//! it answers. Text: `lt:<unix_nanos>:<tag>:xxxx…` padded to the configured size, where `tag`
//! is `q` for a customer's message, `r<n>` for an agent's reply to customer message `n`, `p` for
//! a conference participant's message and `i` for an internal (agents-only) message.
//! The `client_msg_id` is `c<n>` (customer), `a<n>` (agent) or `i<n>` (internal): `n` indexes
//! the run's ledger.

use crate::clock;

/// Builds a message text of (at least) `size` bytes, stamped now.
pub fn compose(reply_to: Option<u64>, size: usize) -> String {
    let tag = reply_to.map_or_else(|| "q".to_string(), |n| format!("r{n}"));
    compose_tagged(&tag, size)
}

/// `compose` with any tag (`p`, `i` …; one that is not `r<n>` answers nothing).
pub fn compose_tagged(tag: &str, size: usize) -> String {
    let mut text = format!("lt:{}:{tag}:", clock::unix_nanos());
    if text.len() < size {
        text.extend(std::iter::repeat_n('x', size - text.len()));
    } else {
        text.push('x');
    }
    text
}

/// What the receiver learns from a load message's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub sent_nanos: u64,
    pub reply_to: Option<u64>,
}

pub fn parse(text: &str) -> Option<Stamp> {
    let mut parts = text.strip_prefix("lt:")?.splitn(3, ':');
    let sent_nanos = parts.next()?.parse().ok()?;
    let tag = parts.next()?;
    let reply_to = match tag.strip_prefix('r') {
        Some(n) => Some(n.parse().ok()?),
        None => None,
    };
    Some(Stamp {
        sent_nanos,
        reply_to,
    })
}

/// The `client_msg_id` of ledger entry `num` sent by a customer (`c`) or an agent (`a`).
pub fn client_msg_id(from_agent: bool, num: u64) -> String {
    format!("{}{num}", if from_agent { 'a' } else { 'c' })
}

/// The `client_msg_id` of ledger entry `num` sent to the internal discussion.
pub fn internal_msg_id(num: u64) -> String {
    format!("i{num}")
}

/// The ledger entry of a `client_msg_id` this generator made.
pub fn ledger_num(client_msg_id: &str) -> Option<u64> {
    client_msg_id
        .strip_prefix('c')
        .or_else(|| client_msg_id.strip_prefix('a'))
        .or_else(|| client_msg_id.strip_prefix('i'))?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = compose(None, 64);
        assert_eq!(t.len(), 64);
        let s = parse(&t).expect("parses");
        assert_eq!(s.reply_to, None);
        assert!(s.sent_nanos > 0);
        let r = compose(Some(42), 10);
        assert_eq!(parse(&r).and_then(|s| s.reply_to), Some(42));
        assert_eq!(parse("hello"), None);
        assert_eq!(ledger_num(&client_msg_id(true, 7)), Some(7));
        assert_eq!(ledger_num(&client_msg_id(false, 8)), Some(8));
        assert_eq!(ledger_num(&internal_msg_id(9)), Some(9));
        assert_eq!(ledger_num("m1"), None);
        let p = compose_tagged("p", 40);
        assert_eq!(p.len(), 40);
        assert_eq!(parse(&p).map(|s| s.reply_to), Some(None));
    }
}
