//! An org's (tenant's) configuration: settings, queues, agents, reasons, hours, dispositions and
//! blocklist. Stored as one document per org; every change replaces the document atomically.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::attachment::AttachmentSettings;
use super::hours::HoursProfile;
use super::reasons::Reason;
use crate::ids::{AgentId, CustomerId, OrgId, QueueId};
use crate::protocol::CommandError;

/// Localizable customer-facing texts (seed 000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Messages {
    pub outside_hours: String,
    pub all_busy: String,
    pub idle_prompt: String,
    pub idle_ended: String,
}

impl Default for Messages {
    fn default() -> Self {
        Self {
            outside_hours: "Our team is currently unavailable as we're outside of working hours. Please try again later.".into(),
            all_busy: "All of our agents are currently busy. Please wait and we'll connect you when someone becomes available.".into(),
            idle_prompt: "Are you still there? Do you want to continue this chat?".into(),
            idle_ended: "This chat has ended because there was no activity.".into(),
        }
    }
}

/// The org's rule for a chat whose owner leaves with nobody to take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerLeaves {
    /// The chat ends (reason `agent`).
    End,
    /// The chat goes back to its queue.
    Queue,
    /// Asynchronous chat (seed 004): the chat stays open with no agent ("parked"), holding no
    /// capacity; when the customer writes again it is offered to the previous agent first.
    /// The idle timeout parks it too instead of ending it.
    Async,
}

/// Per-org behaviour. Durations are in milliseconds so that tests can configure short timers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgSettings {
    pub name: String,
    /// Chat is enabled for this org (seed 000's interaction config).
    pub enabled: bool,
    /// Websocket `Origin`s allowed for customers (seed 000's `hostURL`). Empty: any origin.
    pub allowed_origins: Vec<String>,
    /// Most assigned chats plus pending offers per agent (seed 001: 3).
    pub max_chats: u32,
    /// Queue for chats whose reason names none.
    pub default_queue: Option<QueueId>,
    pub offer_expiry_ms: u64,
    pub transfer_expiry_ms: u64,
    pub idle_prompt_ms: u64,
    pub idle_end_ms: u64,
    pub assigned_autocomplete_ms: u64,
    pub waiting_autocomplete_ms: u64,
    /// An ended chat not wrapped up within this time is marked done without a disposition.
    pub wrapup_timeout_ms: u64,
    pub survey_enabled: bool,
    /// Wrap-up must name a disposition code when dispositions are configured.
    pub disposition_required: bool,
    /// Agent console: a customer message unanswered this long turns the chat's pending-response
    /// indicator from green to yellow.
    pub pending_yellow_ms: u64,
    /// ... and from yellow to red. Must be greater than `pending_yellow_ms`.
    pub pending_red_ms: u64,
    pub messages: Messages,
    /// An invitation to join a chat (conference, consultation) unanswered this long expires.
    pub invite_expiry_ms: u64,
    /// Whether a conference seat counts against the agent's `max_chats` (DESIGN invariant 4).
    pub conference_counts: bool,
    /// Whether a consultation seat counts against the agent's `max_chats`.
    pub consult_counts: bool,
    /// Whether the agents in a chat see a supervisor start observing it (seed 002). When off,
    /// `monitor observe` follows the chat silently: nothing is logged.
    pub announce_observers: bool,
    /// What happens when the owner leaves and no conference participant can take over.
    pub owner_leaves: OwnerLeaves,
    /// Typing preview (seed 004): agents see what the customer is typing before they send it
    /// (live only, never logged); the widget tells the customer so. Off by default.
    pub typing_preview: bool,
    /// A parked (asynchronous) chat without activity this long ends (auto-complete).
    pub parked_expiry_ms: u64,
    /// When the customer of a parked chat writes again, only the previous agent is offered it
    /// for this long; then anyone in the queue.
    pub return_window_ms: u64,
    /// Files in chats: allowed extensions and the size limit (seed 001).
    pub attachments: AttachmentSettings,
    /// How long finished conversations are kept (content, then everything); null: forever.
    pub retention: super::privacy::Retention,
    /// HS256 secret the org's backend signs verified-customer tokens with. Never returned by GET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_token_secret: Option<String>,
    /// The org's bot: new chats start with it (PROTOCOL §9.12). None: chats go to a queue.
    pub bot: Option<super::bot::BotSettings>,
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            enabled: true,
            allowed_origins: Vec::new(),
            max_chats: 3,
            default_queue: None,
            offer_expiry_ms: 30_000,
            transfer_expiry_ms: 60_000,
            idle_prompt_ms: 180_000,
            idle_end_ms: 300_000,
            assigned_autocomplete_ms: 3_600_000,
            waiting_autocomplete_ms: 21_600_000,
            wrapup_timeout_ms: 600_000,
            survey_enabled: true,
            disposition_required: false,
            pending_yellow_ms: 30_000,
            pending_red_ms: 60_000,
            messages: Messages::default(),
            invite_expiry_ms: 60_000,
            conference_counts: true,
            consult_counts: true,
            announce_observers: true,
            owner_leaves: OwnerLeaves::End,
            typing_preview: false,
            parked_expiry_ms: 7 * 24 * 3_600_000,
            return_window_ms: 60_000,
            attachments: AttachmentSettings::default(),
            retention: super::privacy::Retention::default(),
            customer_token_secret: None,
            bot: None,
        }
    }
}

impl OrgSettings {
    pub fn validate(&self) -> Result<(), CommandError> {
        let bad = |m: &str| Err(CommandError::bad_request(m.to_string()));
        if !(1..=50).contains(&self.max_chats) {
            return bad("max_chats must be between 1 and 50");
        }
        for (name, v) in [
            ("offer_expiry_ms", self.offer_expiry_ms),
            ("transfer_expiry_ms", self.transfer_expiry_ms),
            ("idle_prompt_ms", self.idle_prompt_ms),
            ("idle_end_ms", self.idle_end_ms),
            ("assigned_autocomplete_ms", self.assigned_autocomplete_ms),
            ("waiting_autocomplete_ms", self.waiting_autocomplete_ms),
            ("wrapup_timeout_ms", self.wrapup_timeout_ms),
            ("invite_expiry_ms", self.invite_expiry_ms),
            ("parked_expiry_ms", self.parked_expiry_ms),
            ("return_window_ms", self.return_window_ms),
            ("pending_yellow_ms", self.pending_yellow_ms),
            ("pending_red_ms", self.pending_red_ms),
        ] {
            if !(100..=7 * 24 * 3_600_000).contains(&v) {
                return Err(CommandError::bad_request(format!(
                    "{name} must be between 100 ms and 7 days"
                )));
            }
        }
        if self.pending_red_ms <= self.pending_yellow_ms {
            return bad("pending_red_ms must be greater than pending_yellow_ms");
        }
        for origin in &self.allowed_origins {
            if !(origin.starts_with("https://") || origin.starts_with("http://"))
                || origin.len() > 255
            {
                return Err(CommandError::bad_request(format!(
                    "allowed origin {origin:?} must start with http:// or https://"
                )));
            }
        }
        let m = &self.messages;
        for text in [&m.outside_hours, &m.all_busy, &m.idle_prompt, &m.idle_ended] {
            if text.chars().count() > 1000 {
                return bad("messages must be at most 1000 characters");
            }
        }
        if self.name.chars().count() > 200 {
            return bad("name must be at most 200 characters");
        }
        self.attachments
            .validate()
            .map_err(CommandError::bad_request)?;
        self.retention
            .validate()
            .map_err(CommandError::bad_request)?;
        if let Some(bot) = &self.bot {
            bot.validate().map_err(CommandError::bad_request)?;
        }
        Ok(())
    }

    /// Whether a websocket `Origin` header is acceptable for a customer of this org. Browsers
    /// always send one; clients that send none (servers, tests) are not browsers and are allowed.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(_) if self.allowed_origins.is_empty() => true,
            Some(o) => {
                let o = o.trim_end_matches('/');
                self.allowed_origins
                    .iter()
                    .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(o))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub id: QueueId,
    pub name: String,
    /// Higher is served first when an agent is eligible for several queues.
    #[serde(default)]
    pub priority: i32,
    /// This queue's own rule for a chat whose owner leaves with nobody to take over (and for an
    /// idle customer: `async` parks instead of ending); absent, the org's `owner_leaves` applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_leaves: Option<OwnerLeaves>,
    /// Routing keywords a bot's handover may name (seed 003's skill-based routing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
}

/// An agent's profile. Queue membership and roles come from the agent's token; the profile adds
/// a display name and an optional capacity override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentProfile {
    pub id: AgentId,
    pub name: String,
    /// Shown to customers — and in the transcript — instead of the name (seed 004).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chats: Option<u32>,
    #[serde(default)]
    pub queues: Vec<QueueId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disposition {
    pub code: String,
    pub label: String,
}

/// A blocked visitor (seed 001): no new chats from this customer id or email, org-wide (matched by
/// [`super::start::check_blocklist`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CustomerId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub reason: String,
    #[serde(default = "Utc::now")]
    pub at: DateTime<Utc>,
}

/// Everything configured for one org.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgConfig {
    pub id: OrgId,
    #[serde(default)]
    pub settings: OrgSettings,
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    #[serde(default)]
    pub agents: Vec<AgentProfile>,
    #[serde(default)]
    pub reasons: Vec<Reason>,
    #[serde(default = "default_hours")]
    pub hours: HoursProfile,
    #[serde(default)]
    pub dispositions: Vec<Disposition>,
    #[serde(default)]
    pub blocklist: Vec<BlockEntry>,
    /// Org-wide and per-queue canned responses (personal ones live with each agent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canned: Vec<super::canned::CannedResponse>,
    /// Outgoing webhook subscriptions (PROTOCOL §9.13).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<super::webhooks::Subscription>,
}

fn default_hours() -> HoursProfile {
    HoursProfile::always_open("UTC")
}

impl OrgConfig {
    pub fn new(id: OrgId) -> Self {
        Self {
            id,
            settings: OrgSettings::default(),
            queues: Vec::new(),
            agents: Vec::new(),
            reasons: Vec::new(),
            hours: default_hours(),
            dispositions: Vec::new(),
            blocklist: Vec::new(),
            canned: Vec::new(),
            webhooks: Vec::new(),
        }
    }

    pub fn queue(&self, id: &QueueId) -> Option<&QueueConfig> {
        self.queues.iter().find(|q| &q.id == id)
    }

    /// The rule for a chat of `queue` whose owner leaves with nobody to take over: the queue's
    /// own when it has one, else the org's.
    pub fn owner_leaves(&self, queue: Option<&QueueId>) -> OwnerLeaves {
        queue
            .and_then(|q| self.queue(q))
            .and_then(|q| q.owner_leaves)
            .unwrap_or(self.settings.owner_leaves)
    }

    pub fn agent(&self, id: &AgentId) -> Option<&AgentProfile> {
        self.agents.iter().find(|a| &a.id == id)
    }

    /// The name an agent goes by in chats: the profile's nickname when it has one (seed 004:
    /// customers see the nickname, and so does the transcript), else the token's name, else the
    /// profile's name (a token without a name carries the id).
    pub fn display_name(&self, id: &AgentId, token_name: &str) -> String {
        let profile = self.agent(id);
        if let Some(nick) = profile.and_then(|p| p.nickname.as_deref()) {
            return nick.to_string();
        }
        match profile {
            Some(p) if token_name == id.as_str() => p.name.clone(),
            _ => token_name.to_string(),
        }
    }

    /// The queue a new chat goes to: the reason's queue, else the org default, else the first.
    pub fn queue_for(&self, reason: Option<&Reason>) -> Option<QueueId> {
        reason
            .and_then(|r| r.queue.clone())
            .or_else(|| self.settings.default_queue.clone())
            .or_else(|| self.queues.first().map(|q| q.id.clone()))
            .filter(|q| self.queue(q).is_some())
    }

    /// Checks the whole document; every REST write goes through this before it is stored.
    pub fn validate(&self) -> Result<(), CommandError> {
        self.settings.validate()?;
        if self.webhooks.len() > super::webhooks::MAX_SUBSCRIPTIONS {
            return Err(CommandError::bad_request(format!(
                "at most {} webhook subscriptions",
                super::webhooks::MAX_SUBSCRIPTIONS
            )));
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            w.validate()
                .map_err(|e| CommandError::bad_request(format!("webhook {}: {e}", w.id)))?;
            if self.webhooks[..i].iter().any(|o| o.id == w.id) {
                return Err(CommandError::bad_request(format!(
                    "two webhook subscriptions are called {}",
                    w.id
                )));
            }
        }
        self.hours
            .validate()
            .map_err(|e| CommandError::bad_request(format!("hours: {e}")))?;
        for r in &self.reasons {
            r.validate()
                .map_err(|e| CommandError::bad_request(format!("reason {}: {e}", r.id)))?;
            if let Some(q) = &r.queue {
                if self.queue(q).is_none() {
                    return Err(CommandError::bad_request(format!(
                        "reason {} names unknown queue {q}",
                        r.id
                    )));
                }
            }
        }
        if let Some(q) = &self.settings.default_queue {
            if self.queue(q).is_none() {
                return Err(CommandError::bad_request(format!(
                    "default_queue names unknown queue {q}"
                )));
            }
        }
        for r in &self.canned {
            if let Some(q) = r.queue.as_ref().filter(|q| self.queue(q).is_none()) {
                return Err(CommandError::bad_request(format!(
                    "canned response {} names unknown queue {q}",
                    r.id
                )));
            }
        }
        for q in &self.queues {
            if q.name.trim().is_empty() || q.name.chars().count() > 100 {
                return Err(CommandError::bad_request(
                    "queue name must be 1 to 100 characters",
                ));
            }
        }
        for a in &self.agents {
            if a.nickname
                .as_ref()
                .is_some_and(|n| n.trim().is_empty() || n.chars().count() > 100)
            {
                return Err(CommandError::bad_request(
                    "agent nickname must be 1 to 100 characters",
                ));
            }
            if let Some(m) = a.max_chats {
                if !(1..=50).contains(&m) {
                    return Err(CommandError::bad_request("agent max_chats must be 1 to 50"));
                }
            }
        }
        for d in &self.dispositions {
            if d.code.is_empty() || d.code.len() > 64 || d.label.chars().count() > 200 {
                return Err(CommandError::bad_request(
                    "disposition code must be 1 to 64 characters and label at most 200",
                ));
            }
        }
        for b in &self.blocklist {
            if b.reason.chars().count() > 250 {
                return Err(CommandError::bad_request(
                    "blocklist reason must be at most 250 characters",
                ));
            }
            if b.customer.is_none() && b.email.is_none() {
                return Err(CommandError::bad_request(
                    "a blocklist entry needs a customer or an email",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_matched_exactly_ignoring_case_and_trailing_slash() {
        let mut s = OrgSettings::default();
        assert!(
            s.origin_allowed(Some("https://evil.example")),
            "empty list allows all"
        );
        s.allowed_origins = vec!["https://shop.example/".into()];
        let cases = [
            (Some("https://shop.example"), true),
            (Some("HTTPS://SHOP.EXAMPLE"), true),
            (Some("https://shop.example.evil"), false),
            (Some("http://shop.example"), false),
            (None, true),
        ];
        for (origin, ok) in cases {
            assert_eq!(s.origin_allowed(origin), ok, "{origin:?}");
        }
    }

    #[test]
    fn settings_validation() {
        let mut s = OrgSettings::default();
        assert!(s.validate().is_ok());
        s.max_chats = 0;
        assert!(s.validate().is_err());
        s.max_chats = 3;
        s.offer_expiry_ms = 5;
        assert!(s.validate().is_err());
        s.offer_expiry_ms = 30_000;
        s.pending_red_ms = s.pending_yellow_ms;
        assert!(s.validate().is_err(), "red must come after yellow");
        s.pending_red_ms = 60_000;
        s.allowed_origins = vec!["shop.example".into()];
        assert!(s.validate().is_err());
        s.allowed_origins = Vec::new();
        s.attachments.max_bytes = 0;
        assert!(
            s.validate().is_err(),
            "attachments are validated with the rest"
        );
    }
}
