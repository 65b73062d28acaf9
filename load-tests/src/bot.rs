//! The built-in bot of `[bot]` scenarios (PROTOCOL §9.12): a small HTTP/1.1 server on the
//! generator's runtime that receives the org's signed webhooks and acts through the bot REST
//! API, as an external bot would.
//!
//! Each webhook is checked before anything else: its signature (Standard Webhooks,
//! HMAC-SHA256 over `{id}.{timestamp}.{body}`) and timestamp, then its `webhook-id` (seen
//! before: a duplicate) and its seq (not above the conversation's last one: out of order). It
//! is answered 204 at once and queued to its conversation's worker, so that the server's one
//! request in flight per conversation never waits on the bot's REST calls; the worker handles
//! the conversation's webhooks one after the other: greeting on `conversation.started`, an
//! answer to each `message.created`, and the handover (with a skill, an intake and a summary)
//! at the `handover_after_messages`-th customer message.
//!
//! Only `Content-Length` bodies are read (what Switchboard's client sends); anything else is
//! answered 411 and counted as a bad request.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{bail, Context};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::http;
use crate::rng::Rng;
use crate::shared::Shared;
use crate::stats::inc;
use crate::token;

/// Largest webhook accepted (head and body).
const MAX_REQUEST: usize = 256 * 1024;
/// Standard Webhooks' tolerance between the sender's clock and ours.
const TIMESTAMP_TOLERANCE_SECS: u64 = 300;
/// A connection idle this long between requests is closed (the sender reconnects).
const IDLE_CLOSE: Duration = Duration::from_secs(60);
/// The bot's greeting's `client_msg_id` (one per conversation).
pub const GREETING_ID: &str = "bot-greeting";

/// The `client_msg_id` of a customer's `k`-th message to the bot (not a ledger id: the agent
/// who later reads it in the replay neither counts nor answers it).
pub fn customer_msg_id(k: u32) -> String {
    format!("b{k}")
}

/// The `client_msg_id` of the bot's answer to the customer message `client_msg_id`.
pub fn answer_id(client_msg_id: &str) -> String {
    format!("bot-{client_msg_id}")
}

/// The customer message a bot message answers, by its `client_msg_id`: `Some(k)` for the
/// answer to message `k`.
pub fn answered(bot_msg_id: &str) -> Option<u32> {
    bot_msg_id.strip_prefix("bot-b")?.parse().ok()
}

/// The bot's state for the run: its secret and token, what it has received, and a worker per
/// conversation.
pub struct BotState {
    secret: String,
    token: OnceLock<String>,
    seen: Mutex<HashSet<String>>,
    last_seq: Mutex<HashMap<String, u64>>,
    workers: Mutex<HashMap<String, mpsc::UnboundedSender<Hook>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl BotState {
    /// A fresh bot with a random 32-character secret.
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed ^ crate::clock::unix_nanos(), 0xb07);
        let secret = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
        Self {
            secret,
            token: OnceLock::new(),
            seen: Mutex::new(HashSet::new()),
            last_seq: Mutex::new(HashMap::new()),
            workers: Mutex::new(HashMap::new()),
        }
    }
}

/// `v1,` + base64(HMAC-SHA256(secret, `{id}.{timestamp}.{body}`)), as the server signs.
#[cfg(test)]
pub fn sign(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Option<String> {
    let mac = mac(secret, id, timestamp, body)?;
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The HMAC of `{id}.{timestamp}.{body}` (`None` only if HMAC refused the key, which it never
/// does: it takes keys of any length).
fn mac(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// Whether any `v1,` signature of the space-separated `header` is the body's (compared in
/// constant time).
pub fn signature_ok(secret: &str, id: &str, timestamp: u64, body: &[u8], header: &str) -> bool {
    header.split_whitespace().any(|s| {
        let Some(b64) = s.strip_prefix("v1,") else {
            return false;
        };
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return false;
        };
        mac(secret, id, timestamp, body).is_some_and(|m| m.verify_slice(&given).is_ok())
    })
}

/// Whether a webhook's timestamp is within the tolerance of `now` (both Unix seconds).
pub fn timestamp_ok(timestamp: u64, now: u64) -> bool {
    timestamp.abs_diff(now) <= TIMESTAMP_TOLERANCE_SECS
}

/// One HTTP request as the bot's server reads it.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What `parse_request` makes of the bytes read so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request, and how many bytes of the buffer it took.
    Done(Request, usize),
    /// Read more.
    Partial,
    /// Answer with this status and close.
    Bad(u16, &'static str),
}

/// Reads one request off the front of `buf` (keep-alive: more may follow it).
pub fn parse_request(buf: &[u8]) -> Parsed {
    let Some(split) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_REQUEST {
            Parsed::Bad(431, "request head too large")
        } else {
            Parsed::Partial
        };
    };
    let Ok(head) = std::str::from_utf8(&buf[..split]) else {
        return Parsed::Bad(400, "request head is not UTF-8");
    };
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(path)) = (first.next(), first.next()) else {
        return Parsed::Bad(400, "bad request line");
    };
    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Parsed::Bad(400, "bad header line");
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut req = Request {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body: Vec::new(),
    };
    if req.header("transfer-encoding").is_some() {
        return Parsed::Bad(411, "only Content-Length bodies are read");
    }
    let length = match req.header("content-length").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) if n <= MAX_REQUEST => n,
        Some(Ok(_)) => return Parsed::Bad(413, "body too large"),
        Some(Err(_)) => return Parsed::Bad(400, "bad content-length"),
    };
    let start = split + 4;
    if buf.len() < start + length {
        return Parsed::Partial;
    }
    req.body = buf[start..start + length].to_vec();
    Parsed::Done(req, start + length)
}

/// One verified webhook, as its conversation's worker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub kind: String,
    pub conversation: String,
    pub seq: u64,
    /// `message.created`: the customer message's `client_msg_id`.
    pub client_msg_id: Option<String>,
    pub customer_name: Option<String>,
}

/// The fields of a webhook body the bot uses.
pub fn parse_hook(body: &[u8]) -> Option<Hook> {
    let v: Value = serde_json::from_slice(body).ok()?;
    Some(Hook {
        kind: v.get("type")?.as_str()?.to_string(),
        conversation: v.get("conversation")?.as_str()?.to_string(),
        seq: v.get("seq")?.as_u64()?,
        client_msg_id: v
            .pointer("/event/client_msg_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        customer_name: v
            .pointer("/customer/name")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Binds the webhook server (before the org is pointed at it).
pub async fn bind(listen: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the bot's webhook server to {listen}"))?;
    let addr = listener.local_addr().context("the bot server's address")?;
    Ok((listener, addr))
}

/// Makes the generator's bot the org's for the run: `settings.bot` pointing at the webhook
/// server (`PUT /v1/settings`), then a bot token (`POST /v1/bot/token`). Returns the admin
/// token and the settings to put back.
pub async fn configure(shared: &Shared, addr: SocketAddr) -> anyhow::Result<(String, Value)> {
    let (Some(cfg), Some(state)) = (&shared.scenario.bot, &shared.bot) else {
        bail!("no [bot] section");
    };
    let admin = token::admin(
        &shared.scenario.target,
        shared.scenario.run.timeout_secs + 3600,
    )?;
    let original = crate::run::get_settings(shared, &admin)
        .await
        .context("reading the org's settings to set its bot")?;
    if original.get("bot").is_some_and(|b| !b.is_null()) {
        eprintln!(
            "warning: the org has a bot already; it is replaced for the run and put back afterwards, \
             but with the generator's secret (set its secret again)"
        );
    }
    let url = cfg
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/webhook"));
    let mut settings = original.clone();
    settings["bot"] = json!({
        "id": cfg.id,
        "name": cfg.name,
        "url": url,
        "secret": state.secret,
        "reply_timeout_ms": cfg.reply_timeout_ms,
        "allow_private_network": true,
    });
    crate::run::put_settings(shared, &admin, &settings)
        .await
        .context("setting the org's bot")?;
    let r = http::request_as(
        &shared.dialer,
        shared.dialer.endpoint(0),
        "POST",
        "/v1/bot/token",
        Some("{}"),
        Some(&admin),
        shared.request_timeout(),
    )
    .await?;
    if r.status != 201 {
        bail!("POST /v1/bot/token: HTTP {}: {}", r.status, r.body.trim());
    }
    let token = serde_json::from_str::<Value>(&r.body)
        .ok()
        .and_then(|v| v.get("token").and_then(Value::as_str).map(str::to_string))
        .context("POST /v1/bot/token: no token in the answer")?;
    let _ = state.token.set(token);
    Ok((admin, original))
}

/// Accepts connections until the run ends (the task is aborted).
pub async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(shared.clone(), stream));
            }
            Err(e) => {
                shared.stats.note(format!("bot server: accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(shared: Arc<Shared>, mut stream: TcpStream) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        match parse_request(&buf) {
            Parsed::Done(req, used) => {
                buf.drain(..used);
                let (status, reason) = handle(&shared, &req);
                let close = req
                    .header("connection")
                    .is_some_and(|c| c.eq_ignore_ascii_case("close"));
                let answer = format!(
                    "HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\n{}\r\n",
                    if close { "connection: close\r\n" } else { "" }
                );
                if stream.write_all(answer.as_bytes()).await.is_err() || close {
                    return;
                }
                continue;
            }
            Parsed::Bad(status, why) => {
                inc(&shared.stats.c.bot_bad_requests);
                shared.stats.note(format!("bot server: {status} {why}"));
                let answer = format!(
                    "HTTP/1.1 {status} {why}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                return;
            }
            Parsed::Partial => {}
        }
        match tokio::time::timeout(IDLE_CLOSE, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}

/// Checks and queues one request; the status and reason to answer with.
fn handle(shared: &Arc<Shared>, req: &Request) -> (u16, &'static str) {
    let stats = &shared.stats;
    let Some(state) = &shared.bot else {
        return (404, "Not Found");
    };
    if req.method != "POST" {
        inc(&stats.c.bot_bad_requests);
        return (405, "Method Not Allowed");
    }
    inc(&stats.c.bot_webhooks);
    let (Some(id), Some(ts), Some(sig)) = (
        req.header("webhook-id"),
        req.header("webhook-timestamp")
            .and_then(|t| t.parse::<u64>().ok()),
        req.header("webhook-signature"),
    ) else {
        inc(&stats.c.bot_signature_failures);
        stats.note("bot: a webhook without its webhook-* headers".to_string());
        return (401, "Unauthorized");
    };
    if !signature_ok(&state.secret, id, ts, &req.body, sig) {
        inc(&stats.c.bot_signature_failures);
        stats.note(format!("bot: webhook {id}: the signature does not verify"));
        return (401, "Unauthorized");
    }
    if !timestamp_ok(ts, crate::clock::unix_secs()) {
        inc(&stats.c.bot_signature_failures);
        stats.note(format!(
            "bot: webhook {id}: timestamp {ts} is too far from now"
        ));
        return (401, "Unauthorized");
    }
    if !lock(&state.seen).insert(id.to_string()) {
        inc(&stats.c.bot_duplicate_webhooks);
        stats.note(format!("bot: webhook {id} received twice"));
        return (204, "No Content");
    }
    let Some(hook) = parse_hook(&req.body) else {
        inc(&stats.c.bot_bad_requests);
        stats.note(format!(
            "bot: webhook {id}: body without type/conversation/seq"
        ));
        return (400, "Bad Request");
    };
    {
        let mut last = lock(&state.last_seq);
        let prev = last.entry(hook.conversation.clone()).or_insert(0);
        if hook.seq <= *prev {
            inc(&stats.c.bot_out_of_order);
            stats.note(format!(
                "bot: {} webhook seq {} after {}",
                hook.conversation, hook.seq, *prev
            ));
        } else {
            *prev = hook.seq;
        }
    }
    inc(match hook.kind.as_str() {
        "conversation.started" => &stats.c.bot_webhooks_started,
        "message.created" => &stats.c.bot_webhooks_message,
        "conversation.handed_over" => &stats.c.bot_webhooks_handed_over,
        "conversation.ended" => &stats.c.bot_webhooks_ended,
        _ => &stats.c.bot_webhooks_other,
    });
    let mut workers = lock(&state.workers);
    let tx = workers.entry(hook.conversation.clone()).or_insert_with(|| {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(worker(shared.clone(), hook.conversation.clone(), rx));
        tx
    });
    let _ = tx.send(hook);
    (204, "No Content")
}

/// One conversation's webhooks, in order.
async fn worker(shared: Arc<Shared>, conversation: String, mut rx: mpsc::UnboundedReceiver<Hook>) {
    let Some(cfg) = shared.scenario.bot.clone() else {
        return;
    };
    let stream = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        conversation.hash(&mut h);
        h.finish()
    };
    let mut rng = Rng::new(shared.scenario.seed, stream);
    let mut customer_messages = 0u32;
    let mut handed_over = false;
    while let Some(hook) = rx.recv().await {
        match hook.kind.as_str() {
            "conversation.started" if cfg.greeting => {
                think(&cfg, &mut rng).await;
                let text = format!("Hello, I am {}. How can I help?", cfg.name);
                if post_message(&shared, &conversation, GREETING_ID, &text).await {
                    inc(&shared.stats.c.bot_greetings);
                }
            }
            "message.created" if !handed_over => {
                customer_messages += 1;
                think(&cfg, &mut rng).await;
                let asked = hook.client_msg_id.clone().unwrap_or_default();
                let text = format!("Answer {customer_messages} from the load bot.");
                if post_message(&shared, &conversation, &answer_id(&asked), &text).await {
                    inc(&shared.stats.c.bot_replies);
                }
                if customer_messages >= cfg.handover_after_messages {
                    handed_over = handover(&shared, &cfg, &hook, customer_messages).await;
                }
            }
            "handover.failed" => {
                shared.stats.note(format!(
                    "bot: {conversation}: a handover (not the bot's) failed"
                ));
            }
            "conversation.handed_over" | "conversation.ended" => break,
            _ => {}
        }
    }
    if let Some(state) = &shared.bot {
        lock(&state.workers).remove(&conversation);
    }
}

async fn think(cfg: &crate::scenario::Bot, rng: &mut Rng) {
    let d = cfg.think_ms.pick(rng);
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

/// `POST /v1/bot/conversations/{id}/messages`; whether it was acked.
async fn post_message(
    shared: &Shared,
    conversation: &str,
    client_msg_id: &str,
    text: &str,
) -> bool {
    let body = json!({ "client_msg_id": client_msg_id, "text": text }).to_string();
    let path = format!("/v1/bot/conversations/{conversation}/messages");
    match bot_request(shared, &path, &body).await {
        Ok(r) if r.status == 201 || r.status == 200 => true,
        Ok(r) => {
            inc(&shared.stats.c.bot_requests_failed);
            shared.stats.note(format!(
                "bot: POST {path}: HTTP {}: {}",
                r.status,
                r.body.trim()
            ));
            false
        }
        Err(e) => {
            inc(&shared.stats.c.bot_requests_failed);
            shared.stats.note(format!("bot: POST {path}: {e:#}"));
            false
        }
    }
}

/// `POST /v1/bot/conversations/{id}/handover` with the skill, an intake and a summary;
/// whether the server took it.
async fn handover(shared: &Shared, cfg: &crate::scenario::Bot, hook: &Hook, asked: u32) -> bool {
    let mut body = json!({
        "intake": {
            "customer": hook.customer_name,
            "messages_to_the_bot": asked,
            "source": "switchboard-load",
        },
        "summary": format!("The customer wrote {asked} message(s) to the load bot."),
    });
    if let Some(skill) = &cfg.skill {
        body["skill"] = json!(skill);
    }
    let path = format!("/v1/bot/conversations/{}/handover", hook.conversation);
    let failed = |why: String| {
        inc(&shared.stats.c.handovers_failed);
        shared
            .stats
            .note(format!("bot: handover of {}: {why}", hook.conversation));
        false
    };
    match bot_request(shared, &path, &body.to_string()).await {
        Ok(r) if r.status == 200 => {
            inc(&shared.stats.c.handovers);
            true
        }
        Ok(r) => failed(format!("HTTP {}: {}", r.status, r.body.trim())),
        Err(e) => failed(format!("{e:#}")),
    }
}

async fn bot_request(shared: &Shared, path: &str, body: &str) -> anyhow::Result<http::Response> {
    let token = shared
        .bot
        .as_ref()
        .and_then(|b| b.token.get())
        .context("no bot token yet")?;
    http::request_as(
        &shared.dialer,
        shared.dialer.endpoint(0),
        "POST",
        path,
        Some(body),
        Some(token),
        shared.request_timeout(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector of the brief: secret "k", id "msg_1", timestamp 1700000000, body `{"a":1}`.
    const VECTOR: &str = "v1,VBsnaZ19KHxZpSPS1tPiG++uWCsM9Fw2ggfPDGLHkrU=";

    #[test]
    fn signs_and_verifies_the_known_vector() {
        assert_eq!(
            sign("k", "msg_1", 1_700_000_000, br#"{"a":1}"#).as_deref(),
            Some(VECTOR)
        );
        assert!(signature_ok(
            "k",
            "msg_1",
            1_700_000_000,
            br#"{"a":1}"#,
            VECTOR
        ));
        // Several signatures, space-separated (key rotation): any one may match.
        let two = format!("v1,AAAA {VECTOR}");
        assert!(signature_ok(
            "k",
            "msg_1",
            1_700_000_000,
            br#"{"a":1}"#,
            &two
        ));
    }

    #[test]
    fn refuses_what_does_not_match() {
        let body = br#"{"a":1}"#;
        assert!(
            !signature_ok("K", "msg_1", 1_700_000_000, body, VECTOR),
            "secret"
        );
        assert!(
            !signature_ok("k", "msg_2", 1_700_000_000, body, VECTOR),
            "id"
        );
        assert!(
            !signature_ok("k", "msg_1", 1_700_000_001, body, VECTOR),
            "timestamp"
        );
        assert!(
            !signature_ok("k", "msg_1", 1_700_000_000, br#"{"a":2}"#, VECTOR),
            "body"
        );
        let bare = VECTOR.trim_start_matches("v1,");
        assert!(
            !signature_ok("k", "msg_1", 1_700_000_000, body, bare),
            "no v1, prefix"
        );
        assert!(!signature_ok(
            "k",
            "msg_1",
            1_700_000_000,
            body,
            "v1,not base64!"
        ));
        assert!(!signature_ok("k", "msg_1", 1_700_000_000, body, ""));
    }

    #[test]
    fn timestamps_within_five_minutes() {
        assert!(timestamp_ok(1_000, 1_000));
        assert!(timestamp_ok(1_300, 1_000) && timestamp_ok(700, 1_000));
        assert!(!timestamp_ok(1_301, 1_000) && !timestamp_ok(699, 1_000));
    }

    #[test]
    fn parses_requests_one_after_the_other() {
        let one = b"POST /webhook HTTP/1.1\r\nHost: x\r\nWebhook-Id: c_1.3\r\ncontent-length: 7\r\n\r\n{\"a\":1}";
        let mut buf = one.to_vec();
        buf.extend_from_slice(b"POST /webhook HTTP/1.1\r\ncontent-le");
        let Parsed::Done(req, used) = parse_request(&buf) else {
            panic!("a whole request first");
        };
        assert_eq!(used, one.len());
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "/webhook")
        );
        assert_eq!(
            req.header("webhook-id"),
            Some("c_1.3"),
            "names in lower case"
        );
        assert_eq!(req.body, br#"{"a":1}"#);
        assert_eq!(parse_request(&buf[used..]), Parsed::Partial);
        assert_eq!(
            parse_request(b"POST / HTTP/1.1\r\ncontent-length: 9\r\n\r\n{}"),
            Parsed::Partial,
            "body still coming"
        );
        assert!(matches!(
            parse_request(b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"),
            Parsed::Bad(411, _)
        ));
        assert!(matches!(
            parse_request(b"POST / HTTP/1.1\r\ncontent-length: x\r\n\r\n"),
            Parsed::Bad(400, _)
        ));
        assert!(matches!(
            parse_request(b"NONSENSE\r\n\r\n"),
            Parsed::Bad(400, _)
        ));
    }

    #[test]
    fn reads_a_webhook_body() {
        let body = br#"{"id":"c_9.5","type":"message.created","org":"demo","conversation":"c_9","seq":5,
            "customer":{"id":"v_1","name":"Load C3"},"event":{"seq":5,"kind":"message","client_msg_id":"b1"}}"#;
        let hook = parse_hook(body).expect("parses");
        assert_eq!(
            hook,
            Hook {
                kind: "message.created".to_string(),
                conversation: "c_9".to_string(),
                seq: 5,
                client_msg_id: Some("b1".to_string()),
                customer_name: Some("Load C3".to_string()),
            }
        );
        assert_eq!(
            parse_hook(br#"{"type":"x","conversation":"c"}"#),
            None,
            "no seq"
        );
        assert_eq!(parse_hook(b"not json"), None);
    }

    #[test]
    fn message_ids_tie_answers_to_questions() {
        let asked = customer_msg_id(2);
        assert_eq!(answered(&answer_id(&asked)), Some(2));
        assert_eq!(answered(GREETING_ID), None);
        assert_eq!(
            crate::payload::ledger_num(&asked),
            None,
            "not a ledger message"
        );
        assert_eq!(crate::payload::ledger_num(&answer_id(&asked)), None);
    }
}
