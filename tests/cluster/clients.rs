//! Clients that behave like real ones when nodes die: [`Peer`] follows conversations with the
//! protocol's recovery rules (PROTOCOL §7): it drops duplicates (`seq` ≤ last seen), resumes on a
//! gap (`prev` ≠ last seen), reconnects to another node when its socket closes or stops
//! answering (`hello` with `resume` of the last seq of each conversation), and retries an
//! un-acked `send` with the same `client_msg_id` until it is acked.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::helpers::{Client, Next};

/// One attempt of a command waits this long for its reply before the peer gives up on the node
/// (the server's own forwarding gives up after `call_timeout_ms` × `call_attempts` = 3 s).
pub const ATTEMPT: Duration = Duration::from_secs(4);
/// Opening a websocket to a node (a stopped node accepts TCP but never upgrades).
const OPEN: Duration = Duration::from_secs(2);
/// Silence after which a waiting peer pings its node to see whether it is still there.
const QUIET: Duration = Duration::from_secs(3);
/// Pause between retries of a refused (`unavailable`) command or a failed reconnect.
const BACKOFF: Duration = Duration::from_millis(100);

/// What one client knows of one conversation: the events it accepted, in order.
#[derive(Debug, Default, Clone)]
pub struct ConvLog {
    pub epoch: Option<String>,
    /// Seq of the last event accepted (0: none).
    pub last: u64,
    /// Accepted events (`event` frames), a gap-free chain by `prev`.
    pub events: Vec<Value>,
    /// Frames dropped because their seq was already seen.
    pub duplicates: usize,
    /// Frames dropped because `prev` did not match (each leads to a resume).
    pub gaps: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    New,
    Duplicate,
    Gap,
}

impl ConvLog {
    /// Applies one `event` frame by the rules of PROTOCOL §7.2.
    pub fn apply(&mut self, f: &Value) -> Applied {
        let seq = f["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("event without seq: {f}"));
        let prev = f["prev"]
            .as_u64()
            .unwrap_or_else(|| panic!("event without prev: {f}"));
        if let (Some(mine), Some(theirs)) = (&self.epoch, f["epoch"].as_str()) {
            assert_eq!(
                mine, theirs,
                "the log's epoch changed (seqs restarted: the log was lost): {f}"
            );
        }
        if seq <= self.last {
            self.duplicates += 1;
            return Applied::Duplicate;
        }
        if prev != self.last {
            self.gaps += 1;
            return Applied::Gap;
        }
        if self.epoch.is_none() {
            self.epoch = f["epoch"].as_str().map(str::to_string);
        }
        self.last = seq;
        self.events.push(f.clone());
        Applied::New
    }

    /// `(client_msg_id, seq, text)` of every chat message accepted, in order.
    pub fn messages(&self) -> Vec<(String, u64, String)> {
        self.events
            .iter()
            .filter(|f| f["event"]["kind"] == "message")
            .map(|f| {
                (
                    f["event"]["client_msg_id"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    f["seq"].as_u64().expect("seq"),
                    f["event"]["text"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    pub fn has(&self, kind: &str) -> bool {
        self.events.iter().any(|f| f["event"]["kind"] == kind)
    }
}

/// An acknowledged `send`.
#[derive(Debug, Clone)]
pub struct Acked {
    pub conv: String,
    pub cmid: String,
    pub seq: u64,
    pub text: String,
    pub at: Instant,
}

/// A customer or agent that survives node deaths, drains and Redis outages like a well-behaved
/// client of PROTOCOL §7 would.
pub struct Peer {
    pub label: String,
    token: String,
    /// Ports of the nodes it may use; it reconnects to the next one in this list.
    nodes: Vec<u16>,
    at: usize,
    client: Option<Client>,
    pub logs: BTreeMap<String, ConvLog>,
    pub acked: Vec<Acked>,
    /// `(port, close code)` of every socket that went away.
    pub closes: Vec<(u16, u16)>,
    pub goodbyes: Vec<Value>,
    /// Signals not yet taken with [`Peer::next_signal`].
    pub signals: VecDeque<Value>,
    /// Every signal ever received, in order.
    pub all_signals: Vec<Value>,
    /// `resumed` signals with `recovered: false` (the log was reset: never expected here).
    pub unrecovered: Vec<Value>,
    pub reconnects: usize,
    /// The `data` of the last successful `hello`.
    pub hello: Value,
    gaps: BTreeSet<String>,
    sent: u64,
}

impl Peer {
    /// Signs in on `nodes[at]`; panics when that fails (the first connection must work).
    pub async fn connect(label: &str, token: &str, nodes: Vec<u16>, at: usize) -> Peer {
        let mut peer = Peer {
            label: label.to_string(),
            token: token.to_string(),
            nodes,
            at,
            client: None,
            logs: BTreeMap::new(),
            acked: Vec::new(),
            closes: Vec::new(),
            goodbyes: Vec::new(),
            signals: VecDeque::new(),
            all_signals: Vec::new(),
            unrecovered: Vec::new(),
            reconnects: 0,
            hello: Value::Null,
            gaps: BTreeSet::new(),
            sent: 0,
        };
        let port = peer.nodes[at];
        let ok = peer.sign_in(port).await;
        assert!(ok, "{label}: could not sign in on port {port}");
        peer.reconnects = 0;
        peer
    }

    /// The token it signs in with.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The port of the node it is connected to now (or was last).
    pub fn port(&self) -> u16 {
        self.nodes[self.at]
    }

    /// The live client, for raw frames. Panics while disconnected.
    pub fn client(&mut self) -> &mut Client {
        let label = self.label.clone();
        self.client
            .as_mut()
            .unwrap_or_else(|| panic!("{label} is not connected"))
    }

    pub fn log(&self, conv: &str) -> &ConvLog {
        self.logs
            .get(conv)
            .unwrap_or_else(|| panic!("{} does not follow {conv}", self.label))
    }

    /// Starts following `conv` from its beginning (a conversation it just started or accepted).
    pub fn follow(&mut self, conv: &str) {
        self.logs.entry(conv.to_string()).or_default();
        self.absorb();
    }

    async fn sign_in(&mut self, port: u16) -> bool {
        let Some(mut c) = Client::try_open(port, OPEN).await else {
            return false;
        };
        let resume: Vec<Value> = self
            .logs
            .iter()
            .map(|(conv, log)| match &log.epoch {
                Some(e) => json!({ "conversation": conv, "last_seq": log.last, "epoch": e }),
                None => json!({ "conversation": conv, "last_seq": log.last }),
            })
            .collect();
        let hello = json!({ "type": "hello", "token": self.token, "resume": resume });
        match c.try_request(hello, ATTEMPT).await {
            Some(r) if r["type"] == "ack" => {
                self.hello = r["data"].clone();
                c.hello = r["data"].clone();
                self.client = Some(c);
                self.reconnects += 1;
                // Whatever a resumed conversation's replay contains is now chained from where
                // this peer was; earlier gaps are healed by it.
                for conv in self.logs.keys() {
                    self.gaps.remove(conv);
                }
                self.absorb();
                true
            }
            _ => false,
        }
    }

    /// Forgets the socket (recording how it closed).
    pub fn drop_client(&mut self) {
        if let Some(mut c) = self.client.take() {
            while let Some(f) = c.inbox.pop_front() {
                self.take(f);
            }
            let code = c.closed.as_ref().map_or(0, |c| c.0);
            self.closes.push((self.port(), code));
        }
    }

    /// Reconnects to the next node of the list that lets it sign in (hello with resume).
    pub async fn reconnect(&mut self, deadline: Instant) {
        self.drop_client();
        loop {
            self.at = (self.at + 1) % self.nodes.len();
            let port = self.port();
            if self.sign_in(port).await {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: could not reconnect to any of {:?} in time",
                    self.label, self.nodes
                );
            }
            tokio::time::sleep(BACKOFF).await;
        }
    }

    /// Moves everything buffered by the client into the logs and signal lists.
    pub fn absorb(&mut self) {
        let Some(c) = self.client.as_mut() else {
            return;
        };
        let frames: Vec<Value> = c.inbox.drain(..).collect();
        for f in frames {
            self.take(f);
        }
    }

    fn take(&mut self, f: Value) {
        match f["type"].as_str() {
            Some("event") => {
                let conv = f["conversation"]
                    .as_str()
                    .expect("conversation")
                    .to_string();
                let log = self.logs.entry(conv.clone()).or_default();
                if log.apply(&f) == Applied::Gap {
                    self.gaps.insert(conv);
                }
            }
            Some("signal") if f["signal"] == "resumed" => {
                if f["recovered"] == false {
                    let conv = f["conversation"].as_str().expect("conversation");
                    let log = self.logs.entry(conv.to_string()).or_default();
                    *log = ConvLog::default();
                    self.unrecovered.push(f.clone());
                }
                self.all_signals.push(f);
            }
            Some("signal") => {
                if f["signal"] == "joined" {
                    let conv = f["conversation"].as_str().expect("conversation");
                    self.logs.entry(conv.to_string()).or_default();
                }
                self.all_signals.push(f.clone());
                self.signals.push_back(f);
            }
            Some("goodbye") => self.goodbyes.push(f),
            // Late replies to attempts this peer already gave up on.
            _ => {}
        }
    }

    /// Resumes every conversation where a gap was seen.
    async fn heal(&mut self) {
        let gaps: Vec<String> = std::mem::take(&mut self.gaps).into_iter().collect();
        for conv in gaps {
            let log = self.logs.get(&conv).cloned().unwrap_or_default();
            let mut cmd = json!({ "type": "resume", "conversation": conv, "last_seq": log.last });
            if let Some(e) = &log.epoch {
                cmd["epoch"] = json!(e);
            }
            let Some(c) = self.client.as_mut() else {
                self.gaps.insert(conv);
                continue;
            };
            match c.try_request(cmd, ATTEMPT).await {
                Some(r) if r["type"] == "ack" => {}
                _ => {
                    self.gaps.insert(conv);
                }
            }
            self.absorb();
        }
    }

    /// Sends a command until it gets an answer other than `unavailable`/`rate_limited`,
    /// reconnecting (to another node) when the socket closes or the node stops answering.
    pub async fn request(&mut self, cmd: Value, deadline: Instant) -> Value {
        loop {
            if Instant::now() > deadline {
                panic!("{}: no answer to {cmd} in time", self.label);
            }
            if self.client.is_none() {
                self.reconnect(deadline).await;
            }
            let reply = self.client().try_request(cmd.clone(), ATTEMPT).await;
            self.absorb();
            match reply {
                None => self.drop_client(),
                Some(r)
                    if r["type"] == "error"
                        && (r["code"] == "unavailable" || r["code"] == "rate_limited") =>
                {
                    tokio::time::sleep(BACKOFF).await;
                }
                Some(r) => {
                    self.heal().await;
                    return r;
                }
            }
        }
    }

    /// A command that must succeed (after retries); returns the ack's data.
    pub async fn ok(&mut self, cmd: Value, deadline: Instant) -> Value {
        let r = self.request(cmd.clone(), deadline).await;
        assert_eq!(r["type"], "ack", "{}: {cmd} failed: {r}", self.label);
        r["data"].clone()
    }

    /// Sends a chat message with a fresh `client_msg_id`, retrying until acked; returns its seq.
    pub async fn send(&mut self, conv: &str, text: &str, deadline: Instant) -> u64 {
        self.sent += 1;
        let cmid = format!("{}-{}", self.label, self.sent);
        self.send_as(conv, &cmid, text, deadline).await
    }

    /// Sends (or re-sends) a message with the given `client_msg_id` until it is acked.
    pub async fn send_as(&mut self, conv: &str, cmid: &str, text: &str, deadline: Instant) -> u64 {
        let cmd =
            json!({ "type": "send", "conversation": conv, "client_msg_id": cmid, "text": text });
        let data = self.ok(cmd, deadline).await;
        let seq = data["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("send ack without seq: {data}"));
        self.acked.push(Acked {
            conv: conv.to_string(),
            cmid: cmid.to_string(),
            seq,
            text: text.to_string(),
            at: Instant::now(),
        });
        seq
    }

    /// Reads (and reconnects, resumes) until `pred` holds; panics after `timeout`.
    pub async fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Peer) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        let mut heard = Instant::now();
        loop {
            self.absorb();
            self.heal().await;
            if pred(self) {
                return;
            }
            let now = Instant::now();
            if now > deadline {
                panic!(
                    "{}: timed out waiting for {what}; logs: {:#?}; signals: {:?}; closes: {:?}",
                    self.label, self.logs, self.signals, self.closes
                );
            }
            if self.client.is_none() {
                self.reconnect(deadline).await;
                heard = Instant::now();
                continue;
            }
            let left = deadline
                .saturating_duration_since(now)
                .min(Duration::from_millis(250));
            match self.client().try_read(left).await {
                Next::Frame(f) => {
                    heard = Instant::now();
                    self.take(f);
                }
                Next::Closed => self.drop_client(),
                Next::Timeout if heard.elapsed() > QUIET => {
                    // Is the node still there? A stopped node never answers.
                    let ping = self
                        .client()
                        .try_request(json!({ "type": "ping" }), OPEN)
                        .await;
                    self.absorb();
                    if ping.is_none() {
                        self.drop_client();
                    }
                    heard = Instant::now();
                }
                Next::Timeout => {}
            }
        }
    }

    /// Waits until this peer has accepted an event with `seq` ≥ `seq` in `conv`.
    pub async fn wait_seq(&mut self, conv: &str, seq: u64, timeout: Duration) {
        let what = format!("seq {seq} of {conv}");
        self.wait_until(&what, timeout, |p| {
            p.logs.get(conv).is_some_and(|l| l.last >= seq)
        })
        .await;
    }

    /// Takes the first signal of one of `kinds`, reading for at most `timeout`; `None` if none.
    pub async fn next_signal(&mut self, kinds: &[&str], timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            self.absorb();
            if let Some(i) = self
                .signals
                .iter()
                .position(|s| kinds.iter().any(|k| s["signal"] == *k))
            {
                return self.signals.remove(i);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            if self.client.is_none() {
                self.reconnect(deadline + Duration::from_secs(10)).await;
                continue;
            }
            match self.client().try_read(deadline - now).await {
                Next::Frame(f) => self.take(f),
                Next::Closed => self.drop_client(),
                Next::Timeout => {}
            }
        }
    }

    /// Like [`Peer::next_signal`] but the signal must come within `timeout`.
    pub async fn signal(&mut self, kind: &str, timeout: Duration) -> Value {
        match self.next_signal(&[kind], timeout).await {
            Some(s) => s,
            None => panic!(
                "{}: no {kind} signal within {timeout:?}; signals so far: {:?}",
                self.label, self.all_signals
            ),
        }
    }
}

/// The gap-free, duplicate-free check of a whole transcript (`GET …/transcript` events):
/// seqs are exactly 1..=n, no `client_msg_id` is stored twice by the same author, and every
/// acknowledged send is there exactly once, at the seq its ack named, in the order acked.
pub fn check_transcript(events: &[Value], acked: &[&Acked]) {
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| {
            e["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("event without seq: {e}"))
        })
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "the transcript's seqs have a gap, a duplicate or are out of order"
    );
    let mut stored = BTreeSet::new();
    for e in events.iter().filter(|e| e["kind"] == "message") {
        let key = (
            e["author"]["id"].as_str().unwrap_or("").to_string(),
            e["client_msg_id"].as_str().unwrap_or("").to_string(),
        );
        assert!(stored.insert(key), "message stored twice: {e}");
    }
    for a in acked {
        let found: Vec<&Value> = events
            .iter()
            .filter(|e| e["kind"] == "message" && e["client_msg_id"] == a.cmid.as_str())
            .collect();
        assert_eq!(
            found.len(),
            1,
            "acknowledged message {} (seq {}) must be in the transcript exactly once: {found:?}",
            a.cmid,
            a.seq
        );
        assert_eq!(
            found[0]["seq"].as_u64(),
            Some(a.seq),
            "{} was acked with seq {} but stored as {}",
            a.cmid,
            a.seq,
            found[0]
        );
        assert_eq!(found[0]["text"], a.text.as_str());
    }
}

/// The acked sends of several peers in one conversation, in seq order; also checks that each
/// peer's own acks have increasing seqs (sends were sequential, so their order must hold).
pub fn acked_in<'a>(conv: &str, peers: &[&'a Peer]) -> Vec<&'a Acked> {
    let mut all = Vec::new();
    for p in peers {
        let mine: Vec<&Acked> = p.acked.iter().filter(|a| a.conv == conv).collect();
        for w in mine.windows(2) {
            assert!(
                w[0].seq < w[1].seq,
                "{}: later send acked with a lower seq: {:?}",
                p.label,
                w
            );
        }
        all.extend(mine);
    }
    all.sort_by_key(|a| a.seq);
    all
}

/// The `(client_msg_id, seq, text)` of the chat messages of a transcript, in order.
pub fn transcript_messages(events: &[Value]) -> Vec<(String, u64, String)> {
    events
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| {
            (
                e["client_msg_id"].as_str().unwrap_or("").to_string(),
                e["seq"].as_u64().expect("seq"),
                e["text"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}
