//! Bot-first chats (DESIGN §13, PROTOCOL §9.12): the org's bot settings, how a handover finds
//! its queue, and the webhook signature both the bot feed and outgoing webhooks use.
//!
//! Pure: the conversation actor does the appends, `bot_feed` the HTTP.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::org::OrgConfig;
use crate::ids::QueueId;

/// How long a bot's typing indicator lasts unless renewed.
pub const BOT_TYPING_MS: u64 = 5_000;
/// The most bytes of a handover's `intake`, serialized.
pub const MAX_INTAKE_BYTES: usize = 4096;
/// The longest handover summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 2000;

/// An org's external bot: new chats (of its channels) start with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BotSettings {
    /// The author id of the bot's messages.
    pub id: String,
    /// Shown to customers as the author of the bot's messages.
    pub name: String,
    /// Where the bot's webhooks go.
    pub url: String,
    /// The HMAC-SHA256 key of the webhook signatures. Never returned by GET; a PUT without it
    /// keeps the stored one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Channels whose new chats start with the bot; empty: every channel.
    pub channels: Vec<String>,
    /// No bot message this long after the chat started or the customer wrote: the chat goes to
    /// a person (when `handover_on_timeout`).
    pub reply_timeout_ms: u64,
    pub handover_on_timeout: bool,
    /// One webhook request's timeout.
    pub request_timeout_ms: u64,
    /// After a handover, the customer's new chats skip the bot until this long without activity
    /// (seed 003: "24 hours of inactivity").
    pub lock_ms: u64,
    /// A handover fails (`no_agents`) when no agent of the target queue is online.
    pub require_agents: bool,
    /// The url may be on a loopback, private or link-local network.
    pub allow_private_network: bool,
}

impl Default for BotSettings {
    fn default() -> Self {
        Self {
            id: "bot".into(),
            name: "Assistant".into(),
            url: String::new(),
            secret: None,
            channels: Vec::new(),
            reply_timeout_ms: 30_000,
            handover_on_timeout: true,
            request_timeout_ms: 10_000,
            lock_ms: 24 * 3_600_000,
            require_agents: false,
            allow_private_network: false,
        }
    }
}

impl BotSettings {
    pub fn validate(&self) -> Result<(), String> {
        check_id(&self.id, "bot.id")?;
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err("bot.name must be 1 to 100 characters".into());
        }
        check_target(&self.url, self.allow_private_network).map_err(|e| format!("bot.url {e}"))?;
        match self.secret.as_deref() {
            Some(s) if (16..=256).contains(&s.len()) => {}
            _ => return Err("bot.secret must be 16 to 256 bytes".into()),
        }
        for (name, v, max) in [
            ("reply_timeout_ms", self.reply_timeout_ms, 24 * 3_600_000),
            ("request_timeout_ms", self.request_timeout_ms, 120_000),
            ("lock_ms", self.lock_ms, 30 * 24 * 3_600_000),
        ] {
            if !(100..=max).contains(&v) {
                return Err(format!("bot.{name} must be between 100 and {max} ms"));
            }
        }
        if self.channels.iter().any(|c| c.is_empty() || c.len() > 32) {
            return Err("bot.channels must be channel names".into());
        }
        Ok(())
    }

    /// Whether a new chat on `channel` starts with the bot.
    pub fn serves(&self, channel: &str) -> bool {
        self.channels.is_empty() || self.channels.iter().any(|c| c == channel)
    }
}

/// An id an admin gives a bot or a webhook subscription: 1 to 64 letters, digits, `-` or `_`.
pub fn check_id(id: &str, what: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} must be 1 to 64 letters, digits, '-' or '_'"
        ))
    }
}

/// Why a webhook target is refused: not `http(s)://host[:port]/…`, or (unless allowed) a host
/// on a loopback, private, link-local or unspecified address. Names are checked as written
/// (`localhost` and `*.localhost` are loopback); a public name that resolves to a private
/// address is caught when connecting (see `bot_feed`).
pub fn check_target(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be http:// or https://".into());
    }
    let Some(host) = parsed.host() else {
        return Err("has no host".into());
    };
    if allow_private {
        return Ok(());
    }
    let private = match host {
        url::Host::Domain(d) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => is_private_ip(std::net::IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => is_private_ip(std::net::IpAddr::V6(ip)),
    };
    if private {
        Err("is on a loopback or private network (allow_private_network to permit it)".into())
    } else {
        Ok(())
    }
}

/// Loopback, private (RFC 1918, unique-local), link-local, CGNAT, unspecified or broadcast.
pub fn is_private_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
        }
        std::net::IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private_ip(std::net::IpAddr::V4(v4)))
        }
    }
}

/// The `webhook-signature` header value (Standard Webhooks): `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under `secret`.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// Why a handover cannot complete: the chat stays with the bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverRefusal {
    /// `outside_hours`, `no_agents`, `queue_full` or `unknown_skill`.
    pub reason: &'static str,
    pub message: String,
}

impl HandoverRefusal {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// The queue a handover goes to: the one named, else the skill's (a queue listing the skill,
/// highest priority first, or the queue whose id is the skill), else the chat's entry queue.
pub fn handover_queue(
    org: &OrgConfig,
    queue: Option<&QueueId>,
    skill: Option<&str>,
    entry: Option<&QueueId>,
) -> Result<QueueId, HandoverRefusal> {
    if let Some(q) = queue {
        return org
            .queue(q)
            .map(|q| q.id.clone())
            .ok_or_else(|| HandoverRefusal::new("unknown_skill", format!("unknown queue {q}")));
    }
    if let Some(skill) = skill {
        return org
            .queues
            .iter()
            .filter(|q| q.skills.iter().any(|s| s.eq_ignore_ascii_case(skill)))
            .max_by_key(|q| q.priority)
            .or_else(|| org.queues.iter().find(|q| q.id.as_str() == skill))
            .map(|q| q.id.clone())
            .ok_or_else(|| {
                HandoverRefusal::new("unknown_skill", format!("no queue has the skill {skill:?}"))
            });
    }
    entry
        .cloned()
        .or_else(|| org.queue_for(None))
        .ok_or_else(|| HandoverRefusal::new("unknown_skill", "no queue is configured"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // Computed independently: printf 'msg_1.1700000000.{"a":1}' | openssl dgst -sha256 -hmac k -binary | base64
        let sig = signature("k", "msg_1", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(sig, "v1,VBsnaZ19KHxZpSPS1tPiG++uWCsM9Fw2ggfPDGLHkrU=");
        assert_ne!(sig, signature("k2", "msg_1", 1_700_000_000, br#"{"a":1}"#));
        assert_ne!(sig, signature("k", "msg_2", 1_700_000_000, br#"{"a":1}"#));
        assert_ne!(sig, signature("k", "msg_1", 1_700_000_001, br#"{"a":1}"#));
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/x",
            "http://localhost/x",
            "http://api.localhost/x",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.5.5/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            assert!(check_target(url, false).is_err(), "{url}");
            assert!(check_target(url, true).is_ok(), "{url}");
        }
        assert!(check_target("https://bot.example.com/hook", false).is_ok());
        assert!(check_target("http://8.8.8.8/", false).is_ok());
        assert!(check_target("ftp://bot.example.com/", true).is_err());
        assert!(check_target("not a url", true).is_err());
    }

    #[test]
    fn settings_validate() {
        let ok = BotSettings {
            url: "http://127.0.0.1:1/".into(),
            secret: Some("0123456789abcdef".into()),
            allow_private_network: true,
            ..BotSettings::default()
        };
        assert!(ok.validate().is_ok());
        assert!(BotSettings {
            allow_private_network: false,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(BotSettings {
            id: "a b".into(),
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(BotSettings {
            reply_timeout_ms: 5,
            ..ok.clone()
        }
        .validate()
        .is_err());
        assert!(ok.serves("chat"));
        let web_only = BotSettings {
            channels: vec!["web".into()],
            ..ok
        };
        assert!(web_only.serves("web") && !web_only.serves("chat"));
    }
}
