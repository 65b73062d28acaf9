//! The rules for starting a chat (PROTOCOL §2.4 and §4.2), in the order a customer meets them.
//!
//! Pure: the caller gathers the data — the org's configuration, who is starting, the clock and
//! whether the customer already has an open conversation — and does the work the decision asks
//! for. The websocket `hello` and `start` and the REST pre-chat form share these rules, and so can
//! any other way in (a bot that hands over to a person, a REST start).
//!
//! A start is decided in two steps, because finding the customer's open conversation is a lookup
//! that a refused start should never pay for, and that a refusal must come before:
//!
//! 1. [`check`]: chat enabled, blocklist, channel, hours of operation for the channel, reason,
//!    case id, context;
//! 2. [`Checked::decide`], given the open conversation if there is one: that conversation (one
//!    open chat per customer), else the queue — the one asked for, else the reason's, else the
//!    org's default, else its first.
//!
//! (The file is long because of its tests: the rules are the first 250 lines, the rest is the
//! table of cases that pins each rule, its boundaries and the order between rules.)

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::org::{OrgConfig, OrgSettings};
use super::reasons::{self, Reason, ReasonError};
use crate::ids::{ConversationId, CustomerId, QueueId, ReasonId};
use crate::protocol::{CommandError, ErrorCode};

/// The channel of a start that names none.
pub const DEFAULT_CHANNEL: &str = "chat";
/// The longest channel name, in bytes (letters, digits and `_` only).
pub const MAX_CHANNEL_LEN: usize = 32;
/// The longest case id, in bytes.
pub const MAX_CASE_ID_LEN: usize = 64;
/// The most bytes of `context`, serialized, a customer may attach to a conversation.
pub const MAX_CONTEXT_BYTES: usize = 4096;

/// Why a customer may not start a chat (or, for the first two, connect at all). Each maps to the
/// error code and message a client sees (see `From<Refusal> for CommandError`).
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("chat is not enabled for this org")]
    Disabled,
    #[error("this origin may not open chats for the org")]
    Origin,
    #[error("you cannot start a chat")]
    Blocked,
    #[error("channel must be 1 to {MAX_CHANNEL_LEN} letters, digits or '_'")]
    Channel,
    /// Carries the org's own `outside_hours` message.
    #[error("{0}")]
    OutsideHours(String),
    #[error("choose a reason for your chat")]
    ReasonRequired,
    /// A reason that is not offered, or one given when the org has none.
    #[error(transparent)]
    Reason(ReasonError),
    #[error("case_id must be 1 to {MAX_CASE_ID_LEN} characters")]
    CaseId,
    #[error("context is limited to {MAX_CONTEXT_BYTES} bytes")]
    ContextTooLarge,
    #[error("queue not found")]
    UnknownQueue,
    #[error("no queue is configured")]
    NoQueue,
}

impl Refusal {
    /// The error code a client sees.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Disabled | Self::Origin => ErrorCode::Forbidden,
            Self::Blocked => ErrorCode::Blocked,
            Self::Channel | Self::Reason(_) | Self::CaseId => ErrorCode::BadRequest,
            Self::OutsideHours(_) => ErrorCode::OutsideHours,
            Self::ReasonRequired => ErrorCode::ReasonRequired,
            Self::ContextTooLarge => ErrorCode::TooLarge,
            Self::UnknownQueue => ErrorCode::NotFound,
            Self::NoQueue => ErrorCode::Unavailable,
        }
    }
}

impl From<Refusal> for CommandError {
    fn from(refusal: Refusal) -> Self {
        CommandError::new(refusal.code(), refusal.to_string())
    }
}

/// Chat is enabled for the org. Checked when a customer connects and again at each start, since
/// an org may be disabled while its customers are connected.
pub fn check_enabled(settings: &OrgSettings) -> Result<(), Refusal> {
    if settings.enabled {
        Ok(())
    } else {
        Err(Refusal::Disabled)
    }
}

/// The browser `Origin` a customer connects or fills in the pre-chat form from is one of the
/// org's (see [`OrgSettings::origin_allowed`]).
pub fn check_origin(settings: &OrgSettings, origin: Option<&str>) -> Result<(), Refusal> {
    if settings.origin_allowed(origin) {
        Ok(())
    } else {
        Err(Refusal::Origin)
    }
}

/// What a customer's `hello` must pass: chat enabled, then the origin.
pub fn admit_customer(settings: &OrgSettings, origin: Option<&str>) -> Result<(), Refusal> {
    check_enabled(settings)?;
    check_origin(settings, origin)
}

/// The org's blocklist: an entry blocks the customer it names and, ignoring ASCII case, the email
/// it names. A visitor who has no id yet (the pre-chat form) passes `None` and is matched on the
/// email alone.
pub fn check_blocklist(
    org: &OrgConfig,
    customer: Option<&CustomerId>,
    email: Option<&str>,
) -> Result<(), Refusal> {
    let blocked = org.blocklist.iter().any(|entry| {
        matches!((&entry.customer, customer), (Some(a), Some(b)) if a == b)
            || matches!((&entry.email, email), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b))
    });
    if blocked {
        Err(Refusal::Blocked)
    } else {
        Ok(())
    }
}

/// What the customer asked for: the `start` command's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    pub reason: Option<ReasonId>,
    pub queue: Option<QueueId>,
    pub case_id: Option<String>,
    pub channel: Option<String>,
    pub context: Map<String, Value>,
}

/// A start that passed every rule up to the open-conversation lookup; [`Checked::decide`] finishes
/// it.
#[derive(Debug)]
pub struct Checked<'a> {
    org: &'a OrgConfig,
    reason: Option<&'a Reason>,
    queue: Option<QueueId>,
    case_id: Option<String>,
    channel: String,
    context: Map<String, Value>,
    /// The org's bot serves this channel: the chat may start with it, even outside hours.
    bot: bool,
    /// The channel is within its hours now.
    open_now: bool,
}

/// What a start comes to.
#[derive(Debug, PartialEq)]
pub enum Start {
    /// The customer's open conversation: a second start returns the first.
    Existing(ConversationId),
    /// A new conversation, to be admitted to the queue and created.
    New(NewChat),
}

/// A new conversation's fields, checked and with defaults filled in.
#[derive(Debug, PartialEq)]
pub struct NewChat {
    pub queue: QueueId,
    /// The queue's priority.
    pub priority: i32,
    pub reason: Option<ReasonId>,
    pub case_id: Option<String>,
    pub channel: String,
    pub context: Map<String, Value>,
    /// It starts with the org's bot (PROTOCOL §9.12), not in `queue`.
    pub bot: bool,
}

/// The first step of a start (see the module documentation): every rule that needs no lookup, in
/// order. `customer` and `email` are who is starting, as the blocklist sees them; `now` is the
/// instant hours of operation are checked at.
pub fn check<'a>(
    org: &'a OrgConfig,
    customer: &CustomerId,
    email: Option<&str>,
    request: Request,
    now: DateTime<Utc>,
) -> Result<Checked<'a>, Refusal> {
    check_enabled(&org.settings)?;
    check_blocklist(org, Some(customer), email)?;
    let channel = request
        .channel
        .unwrap_or_else(|| DEFAULT_CHANNEL.to_string());
    if channel.is_empty()
        || channel.len() > MAX_CHANNEL_LEN
        || !channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(Refusal::Channel);
    }
    // A bot answers outside hours too; whether a person can is decided with the lock (below).
    let bot = org
        .settings
        .bot
        .as_ref()
        .is_some_and(|b| b.serves(&channel));
    let open_now = org.hours.is_open(&channel, now);
    if !open_now && !bot {
        return Err(Refusal::OutsideHours(
            org.settings.messages.outside_hours.clone(),
        ));
    }
    let reason =
        reasons::check_selection(&org.reasons, request.reason.as_ref()).map_err(|e| match e {
            ReasonError::SelectionRequired => Refusal::ReasonRequired,
            other => Refusal::Reason(other),
        })?;
    if let Some(c) = &request.case_id {
        if c.is_empty() || c.len() > MAX_CASE_ID_LEN || c.chars().any(char::is_control) {
            return Err(Refusal::CaseId);
        }
    }
    if serde_json::to_string(&request.context).map_or(usize::MAX, |s| s.len()) > MAX_CONTEXT_BYTES {
        return Err(Refusal::ContextTooLarge);
    }
    Ok(Checked {
        org,
        reason,
        queue: request.queue,
        case_id: request.case_id,
        channel,
        context: request.context,
        bot,
        open_now,
    })
}

impl Checked<'_> {
    /// The second step of a start: `open` is the customer's open conversation, if they have one;
    /// `bot_locked`, whether the customer was handed over from the bot recently (their new chats
    /// skip the bot for the bot's `lock_ms` of inactivity, seed 003).
    pub fn decide(self, open: Option<ConversationId>, bot_locked: bool) -> Result<Start, Refusal> {
        if let Some(open) = open {
            return Ok(Start::Existing(open));
        }
        let bot = self.bot && !bot_locked;
        if !bot && !self.open_now {
            return Err(Refusal::OutsideHours(
                self.org.settings.messages.outside_hours.clone(),
            ));
        }
        let org = self.org;
        let queue = match self.queue {
            Some(q) if org.queue(&q).is_some() => q,
            Some(_) => return Err(Refusal::UnknownQueue),
            None => org.queue_for(self.reason).ok_or(Refusal::NoQueue)?,
        };
        let priority = org.queue(&queue).map_or(0, |q| q.priority);
        Ok(Start::New(NewChat {
            queue,
            priority,
            reason: self.reason.map(|r| r.id.clone()),
            case_id: self.case_id,
            channel: self.channel,
            context: self.context,
            bot,
        }))
    }
}

/// Whether a customer's new chat skips the bot: one of their recent chats was handed over to a
/// person and has been active within the bot's `lock_ms` (seed 003: no bot for the rest of the
/// session, 24 hours of inactivity). `recent` gives, per chat, whether it was handed over and
/// when it ended; a chat's last activity is taken as its end, or now while it is open.
pub fn bot_locked(
    bot: &super::bot::BotSettings,
    recent: impl IntoIterator<Item = (bool, Option<DateTime<Utc>>)>,
    now: DateTime<Utc>,
) -> bool {
    let lock = chrono::Duration::milliseconds(i64::try_from(bot.lock_ms).unwrap_or(i64::MAX));
    recent
        .into_iter()
        .any(|(handed_over, ended_at)| handed_over && ended_at.unwrap_or(now) + lock > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hours::{DayHours, HoursProfile, OperationPeriod};
    use crate::domain::org::{BlockEntry, QueueConfig};
    use crate::ids::OrgId;

    /// Monday 2024-01-01: the base org's chat channel is open 09:00–17:00 UTC on Mondays only.
    const OPEN: &str = "2024-01-01T10:00:00Z";
    const CLOSED: &str = "2024-01-01T20:00:00Z";
    const CLOSED_MESSAGE: &str = "We are closed.";

    fn queue(id: &str) -> QueueId {
        QueueId::parse(id).unwrap()
    }

    fn reason_id(id: &str) -> ReasonId {
        ReasonId::parse(id).unwrap()
    }

    fn customer(id: &str) -> CustomerId {
        CustomerId::parse(id).unwrap()
    }

    fn block(customer_id: Option<&str>, email: Option<&str>) -> BlockEntry {
        BlockEntry {
            customer: customer_id.map(customer),
            email: email.map(str::to_owned),
            reason: "abuse".to_owned(),
            at: DateTime::default(),
        }
    }

    /// Queues general (priority 0), billing (5) and vip (9); reasons "order" (no queue of its
    /// own) and "invoice" (billing); chat open on Mondays 09:00–17:00 UTC; customer v_blocked and
    /// email blocked@example.com blocked.
    fn base_org() -> OrgConfig {
        let mut org = OrgConfig::new(OrgId::parse("t1").unwrap());
        org.queues = [("general", 0), ("billing", 5), ("vip", 9)]
            .into_iter()
            .map(|(id, priority)| QueueConfig {
                id: queue(id),
                name: id.to_owned(),
                priority,
                owner_leaves: None,
                skills: Vec::new(),
            })
            .collect();
        org.reasons = [("order", None), ("invoice", Some("billing"))]
            .into_iter()
            .map(|(id, q)| Reason {
                id: reason_id(id),
                name: id.to_owned(),
                description: String::new(),
                sequence: None,
                queue: q.map(queue),
            })
            .collect();
        let nine_to_five = vec![OperationPeriod::new("09:00", "17:00", false)];
        org.hours = HoursProfile {
            profile_id: "p".to_owned(),
            data: vec![DayHours::new("Chat", "MONDAY", "UTC", nine_to_five)],
        };
        org.settings.messages.outside_hours = CLOSED_MESSAGE.to_owned();
        org.blocklist = vec![
            block(Some("v_blocked"), None),
            block(None, Some("Blocked@Example.com")),
        ];
        org
    }

    /// What a case expects a start to come to.
    #[derive(Debug)]
    enum Expect {
        Existing(&'static str),
        New(Chat),
    }

    /// A new chat's queue, priority, reason and channel; its case id and context are expected
    /// to be the request's.
    #[derive(Debug)]
    struct Chat {
        queue: &'static str,
        priority: i32,
        reason: Option<&'static str>,
        channel: &'static str,
    }

    /// The default: a new chat in the first queue, for reason "order", on "chat".
    const GENERAL: Chat = Chat {
        queue: "general",
        priority: 0,
        reason: Some("order"),
        channel: "chat",
    };

    struct Case {
        name: &'static str,
        org: fn(&mut OrgConfig),
        customer: &'static str,
        email: Option<&'static str>,
        request: fn(&mut Request),
        at: &'static str,
        /// The customer's open conversation, as the gateway's lookup would find it.
        open: Option<&'static str>,
        expected: Result<Expect, Refusal>,
    }

    /// A start that passes every rule: customer v_ada in the base org while open, reason "order".
    fn ok(name: &'static str) -> Case {
        Case {
            name,
            org: |_| {},
            customer: "v_ada",
            email: Some("ada@example.com"),
            request: |_| {},
            at: OPEN,
            open: None,
            expected: Ok(Expect::New(GENERAL)),
        }
    }

    /// Runs each case through both steps; a new chat must also carry the case id and context over
    /// unchanged.
    fn run(cases: Vec<Case>) {
        for case in cases {
            let mut org = base_org();
            (case.org)(&mut org);
            let mut request = Request {
                reason: Some(reason_id("order")),
                ..Request::default()
            };
            (case.request)(&mut request);
            let now = DateTime::parse_from_rfc3339(case.at)
                .unwrap()
                .with_timezone(&Utc);
            let expected = case.expected.map(|e| match e {
                Expect::Existing(id) => Start::Existing(ConversationId::parse(id).unwrap()),
                Expect::New(chat) => Start::New(NewChat {
                    queue: queue(chat.queue),
                    priority: chat.priority,
                    reason: chat.reason.map(reason_id),
                    case_id: request.case_id.clone(),
                    channel: chat.channel.to_owned(),
                    context: request.context.clone(),
                    bot: false,
                }),
            });
            let open = case.open.map(|c| ConversationId::parse(c).unwrap());
            let started = check(&org, &customer(case.customer), case.email, request, now)
                .and_then(|checked| checked.decide(open, false));
            assert_eq!(started, expected, "{}", case.name);
        }
    }

    fn context_of(bytes: usize) -> Map<String, Value> {
        // `{"k":"…"}` is 8 bytes around the value.
        let mut context = Map::new();
        context.insert("k".to_owned(), Value::String("x".repeat(bytes - 8)));
        assert_eq!(serde_json::to_string(&context).unwrap().len(), bytes);
        context
    }

    #[test]
    fn each_rule() {
        let unknown = |id: &str| Err(Refusal::Reason(ReasonError::UnknownReason(reason_id(id))));
        run(vec![
            ok("everything in order"),
            Case {
                org: |o| o.settings.enabled = false,
                expected: Err(Refusal::Disabled),
                ..ok("chat disabled")
            },
            Case {
                customer: "v_blocked",
                expected: Err(Refusal::Blocked),
                ..ok("blocked customer id")
            },
            Case {
                email: Some("BLOCKED@example.COM"),
                expected: Err(Refusal::Blocked),
                ..ok("blocked email, in another case")
            },
            Case {
                email: None,
                ..ok("no email: only the id is matched")
            },
            Case {
                request: |r| r.channel = Some(String::new()),
                expected: Err(Refusal::Channel),
                ..ok("empty channel")
            },
            Case {
                request: |r| r.channel = Some("x".repeat(33)),
                expected: Err(Refusal::Channel),
                ..ok("channel of 33 bytes")
            },
            Case {
                request: |r| r.channel = Some("web-chat".to_owned()),
                expected: Err(Refusal::Channel),
                ..ok("channel with a dash")
            },
            Case {
                request: |r| r.channel = Some("canal_é".to_owned()),
                expected: Err(Refusal::Channel),
                ..ok("channel with a non-ASCII letter")
            },
            Case {
                request: |r| r.channel = Some("x".repeat(32)),
                expected: Ok(Expect::New(Chat {
                    channel: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    ..GENERAL
                })),
                ..ok("channel of 32 bytes, no hours configured for it")
            },
            Case {
                at: CLOSED,
                expected: Err(Refusal::OutsideHours(CLOSED_MESSAGE.to_owned())),
                ..ok("outside hours, with the org's message")
            },
            Case {
                at: CLOSED,
                request: |r| {
                    r.reason = Some(reason_id("order"));
                    r.channel = Some("CHAT".to_owned());
                },
                expected: Err(Refusal::OutsideHours(CLOSED_MESSAGE.to_owned())),
                ..ok("hours match the channel ignoring case")
            },
            Case {
                at: CLOSED,
                request: |r| r.channel = Some("sms".to_owned()),
                expected: Ok(Expect::New(Chat {
                    channel: "sms",
                    ..GENERAL
                })),
                ..ok("a channel without hours is always open")
            },
            Case {
                request: |r| r.reason = None,
                expected: Err(Refusal::ReasonRequired),
                ..ok("no reason when reasons are configured")
            },
            Case {
                request: |r| r.reason = Some(reason_id("nope")),
                expected: unknown("nope"),
                ..ok("a reason that is not offered")
            },
            Case {
                org: |o| o.reasons.clear(),
                expected: unknown("order"),
                ..ok("a reason when none are configured")
            },
            Case {
                org: |o| o.reasons.clear(),
                request: |r| r.reason = None,
                expected: Ok(Expect::New(Chat {
                    reason: None,
                    ..GENERAL
                })),
                ..ok("no reason when none are configured")
            },
            Case {
                request: |r| r.case_id = Some(String::new()),
                expected: Err(Refusal::CaseId),
                ..ok("empty case id")
            },
            Case {
                request: |r| r.case_id = Some("x".repeat(65)),
                expected: Err(Refusal::CaseId),
                ..ok("case id of 65 bytes")
            },
            Case {
                request: |r| r.case_id = Some("é".repeat(33)),
                expected: Err(Refusal::CaseId),
                ..ok("case id of 33 characters but 66 bytes")
            },
            Case {
                request: |r| r.case_id = Some("ORD\n1".to_owned()),
                expected: Err(Refusal::CaseId),
                ..ok("case id with a control character")
            },
            Case {
                request: |r| r.case_id = Some("é".repeat(32)),
                ..ok("case id of 64 bytes, kept as given")
            },
            Case {
                request: |r| r.context = context_of(MAX_CONTEXT_BYTES + 1),
                expected: Err(Refusal::ContextTooLarge),
                ..ok("context one byte too large")
            },
            Case {
                request: |r| r.context = context_of(MAX_CONTEXT_BYTES),
                ..ok("context at the limit, kept as given")
            },
            Case {
                open: Some("c_open"),
                expected: Ok(Expect::Existing("c_open")),
                ..ok("one open chat per customer")
            },
            Case {
                request: |r| r.queue = Some(queue("vip")),
                expected: Ok(Expect::New(Chat {
                    queue: "vip",
                    priority: 9,
                    ..GENERAL
                })),
                ..ok("the queue asked for, with its priority")
            },
            Case {
                request: |r| r.queue = Some(queue("nope")),
                expected: Err(Refusal::UnknownQueue),
                ..ok("an unknown queue")
            },
            Case {
                request: |r| r.reason = Some(reason_id("invoice")),
                expected: Ok(Expect::New(Chat {
                    queue: "billing",
                    priority: 5,
                    reason: Some("invoice"),
                    ..GENERAL
                })),
                ..ok("the reason's queue")
            },
            Case {
                request: |r| {
                    r.reason = Some(reason_id("invoice"));
                    r.queue = Some(queue("vip"));
                },
                expected: Ok(Expect::New(Chat {
                    queue: "vip",
                    priority: 9,
                    reason: Some("invoice"),
                    ..GENERAL
                })),
                ..ok("the queue asked for beats the reason's")
            },
            Case {
                org: |o| o.settings.default_queue = Some(queue("vip")),
                expected: Ok(Expect::New(Chat {
                    queue: "vip",
                    priority: 9,
                    ..GENERAL
                })),
                ..ok("the org's default queue when the reason has none")
            },
            Case {
                org: |o| {
                    o.queues.clear();
                    o.reasons.clear();
                },
                request: |r| r.reason = None,
                expected: Err(Refusal::NoQueue),
                ..ok("no queue configured")
            },
        ]);
    }

    /// Each case breaks two rules; the one a customer meets first is the refusal.
    /// A bot serves its channels outside hours too; a customer handed over recently skips it
    /// and meets the hours like any start.
    #[test]
    fn a_bot_first_start_and_the_handover_lock() {
        use crate::domain::bot::BotSettings;
        let mut org = base_org();
        org.settings.bot = Some(BotSettings {
            channels: vec!["chat".into()],
            ..BotSettings::default()
        });
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        let request = || Request {
            reason: Some(reason_id("order")),
            ..Request::default()
        };
        let start = |now: &str, locked: bool, channel: Option<&str>| {
            let mut r = request();
            r.channel = channel.map(str::to_owned);
            check(&org, &customer("c1"), None, r, at(now)).and_then(|c| c.decide(None, locked))
        };
        let bot_of = |s: Result<Start, Refusal>| match s {
            Ok(Start::New(chat)) => Ok(chat.bot),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(bot_of(start(OPEN, false, None)), Ok(true));
        assert_eq!(
            bot_of(start(CLOSED, false, None)),
            Ok(true),
            "the bot answers after hours"
        );
        assert_eq!(
            bot_of(start(OPEN, true, None)),
            Ok(false),
            "locked: straight to a person"
        );
        assert_eq!(
            bot_of(start(CLOSED, true, None)),
            Err(Refusal::OutsideHours(CLOSED_MESSAGE.into()))
        );
        // A channel the bot does not serve is a plain start (this one has no hours: open).
        assert_eq!(bot_of(start(CLOSED, false, Some("web"))), Ok(false));
    }

    #[test]
    fn the_order_between_rules() {
        run(vec![
            Case {
                org: |o| o.settings.enabled = false,
                customer: "v_blocked",
                expected: Err(Refusal::Disabled),
                ..ok("disabled before blocked")
            },
            Case {
                customer: "v_blocked",
                request: |r| r.channel = Some(String::new()),
                expected: Err(Refusal::Blocked),
                ..ok("blocked before the channel")
            },
            Case {
                at: CLOSED,
                request: |r| r.channel = Some("Chat!".to_owned()),
                expected: Err(Refusal::Channel),
                ..ok("the channel before hours")
            },
            Case {
                at: CLOSED,
                request: |r| r.reason = None,
                expected: Err(Refusal::OutsideHours(CLOSED_MESSAGE.to_owned())),
                ..ok("hours before the reason")
            },
            Case {
                request: |r| {
                    r.reason = Some(reason_id("nope"));
                    r.case_id = Some(String::new());
                },
                expected: Err(Refusal::Reason(ReasonError::UnknownReason(reason_id(
                    "nope",
                )))),
                ..ok("the reason before the case id")
            },
            Case {
                request: |r| {
                    r.case_id = Some(String::new());
                    r.context = context_of(MAX_CONTEXT_BYTES + 1);
                },
                expected: Err(Refusal::CaseId),
                ..ok("the case id before the context")
            },
            Case {
                open: Some("c_open"),
                request: |r| r.context = context_of(MAX_CONTEXT_BYTES + 1),
                expected: Err(Refusal::ContextTooLarge),
                ..ok("the context before the open chat")
            },
            Case {
                open: Some("c_open"),
                request: |r| r.queue = Some(queue("nope")),
                expected: Ok(Expect::Existing("c_open")),
                ..ok("the open chat before the queue")
            },
            Case {
                open: Some("c_open"),
                org: |o| o.queues.clear(),
                expected: Ok(Expect::Existing("c_open")),
                ..ok("the open chat even with no queue configured")
            },
        ]);
    }

    #[test]
    fn admission_and_blocklist() {
        let mut settings = OrgSettings {
            allowed_origins: vec!["https://shop.example".to_owned()],
            ..OrgSettings::default()
        };
        let cases = [
            (true, Some("https://shop.example/"), Ok(())),
            (true, None, Ok(())),
            (true, Some("https://evil.example"), Err(Refusal::Origin)),
            (false, Some("https://shop.example"), Err(Refusal::Disabled)),
            (false, Some("https://evil.example"), Err(Refusal::Disabled)),
        ];
        for (enabled, origin, expected) in cases {
            settings.enabled = enabled;
            assert_eq!(admit_customer(&settings, origin), expected, "{origin:?}");
        }

        let org = base_org();
        let ada = customer("v_ada");
        let blocked = customer("v_blocked");
        let cases = [
            (Some(&ada), Some("ada@example.com"), Ok(())),
            (Some(&blocked), None, Err(Refusal::Blocked)),
            (
                Some(&ada),
                Some("blocked@example.com"),
                Err(Refusal::Blocked),
            ),
            // The pre-chat form: no id yet, so entries that name only an email match on it alone.
            (None, Some("ada@example.com"), Ok(())),
            (None, Some("BLOCKED@EXAMPLE.COM"), Err(Refusal::Blocked)),
            (None, None, Ok(())),
        ];
        for (who, email, expected) in cases {
            let got = check_blocklist(&org, who, email);
            assert_eq!(got, expected, "{who:?} {email:?}");
        }
    }

    /// The codes and messages a client sees are those of the protocol (PROTOCOL §2.4, §4.2).
    #[test]
    fn refusals_as_clients_see_them() {
        let cases = [
            (
                Refusal::Disabled,
                ErrorCode::Forbidden,
                "chat is not enabled for this org",
            ),
            (
                Refusal::Origin,
                ErrorCode::Forbidden,
                "this origin may not open chats for the org",
            ),
            (
                Refusal::Blocked,
                ErrorCode::Blocked,
                "you cannot start a chat",
            ),
            (
                Refusal::Channel,
                ErrorCode::BadRequest,
                "channel must be 1 to 32 letters, digits or '_'",
            ),
            (
                Refusal::OutsideHours("Back at 9.".to_owned()),
                ErrorCode::OutsideHours,
                "Back at 9.",
            ),
            (
                Refusal::ReasonRequired,
                ErrorCode::ReasonRequired,
                "choose a reason for your chat",
            ),
            (
                Refusal::Reason(ReasonError::UnknownReason(reason_id("nope"))),
                ErrorCode::BadRequest,
                "reason nope is not offered",
            ),
            (
                Refusal::CaseId,
                ErrorCode::BadRequest,
                "case_id must be 1 to 64 characters",
            ),
            (
                Refusal::ContextTooLarge,
                ErrorCode::TooLarge,
                "context is limited to 4096 bytes",
            ),
            (
                Refusal::UnknownQueue,
                ErrorCode::NotFound,
                "queue not found",
            ),
            (
                Refusal::NoQueue,
                ErrorCode::Unavailable,
                "no queue is configured",
            ),
        ];
        for (refusal, code, message) in cases {
            let e = CommandError::from(refusal);
            assert_eq!((e.code, e.message.as_str()), (code, message));
        }
    }
}
