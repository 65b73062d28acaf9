//! The test harness: `spawn_app` starts a real node on a free port with test orgs; `Client`
//! speaks the real websocket protocol. Every wait has a timeout.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use switchboard::actors::Rt;
use switchboard::auth::{Authenticator, Role};
use switchboard::ids::{AgentId, OrgId, QueueId};
use switchboard::startup::Application;

use crate::redis_server::RedisServer;

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestApp {
    pub port: u16,
    pub rt: Rt,
    /// Dropping it tells the node to drain and stop (its thread would otherwise outlive the test).
    _stop: tokio::sync::oneshot::Sender<()>,
    /// The test's own Redis when `crate::ENGINE == "redis"`; it dies with the test.
    _redis: Option<RedisServer>,
}

/// The test org document; tests patch it with `tweak`.
pub fn test_org(id: &str) -> Value {
    json!({
        "id": id,
        "settings": {
            "name": format!("Org {id}"),
            "default_queue": "general",
            "customer_token_secret": "cust-secret",
        },
        "queues": [
            { "id": "general", "name": "General" },
            { "id": "billing", "name": "Billing" }
        ],
        "dispositions": [ { "code": "resolved", "label": "Resolved" } ]
    })
}

/// Starts a node with orgs `t1` and `t2`; `tweak` edits the org documents before start.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Vec<Value>)) -> TestApp {
    spawn_app_configured(|_| {}, tweak).await
}

/// Like `spawn_app_with`, and `configure` edits the node's settings too.
pub async fn spawn_app_configured(
    configure: impl FnOnce(&mut switchboard::config::Settings),
    tweak: impl FnOnce(&mut Vec<Value>),
) -> TestApp {
    let mut orgs = vec![test_org("t1"), test_org("t2")];
    tweak(&mut orgs);
    let seed = std::env::temp_dir().join(format!("sb-seed-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&seed, serde_json::to_string(&orgs).expect("json")).expect("write seed");
    let mut settings = switchboard::config::embedded_defaults().expect("defaults");
    settings.server.port = 0;
    settings.server.workers = 1;
    settings.server.actor_threads = 2;
    settings.demo.enabled = false;
    settings.demo.seed_file = Some(seed.to_string_lossy().into_owned());
    settings.limits.position_update_ms = 20;
    settings.limits.queue_sweep_ms = 50;
    settings.testing.fault_injection = true;
    // Each node its own file store, removed by nobody: the system temp dir's (small) litter.
    settings.attachments.dir = crate::redis_server::unique_dir("sb-files")
        .to_string_lossy()
        .into_owned();
    // Every node gets its own archive file; archive writes retry and sweep quickly.
    settings.archive.url = format!(
        "sqlite://{}",
        crate::redis_server::unique_dir("sb-archive")
            .join("archive.db")
            .display()
    );
    settings.archive.retry_attempts = 3;
    settings.archive.retry_base_ms = 20;
    settings.archive.retry_max_ms = 200;
    settings.archive.sweep_ms = 200;
    // The same suite runs against both engines (DESIGN §1): `tests/api` with the memory engine,
    // `tests/api_redis` with a real redis-server per test and short cluster timings.
    let redis = match crate::ENGINE {
        "memory" => None,
        "redis" => {
            let server = RedisServer::start();
            settings.engine.kind = switchboard::config::EngineKind::Redis;
            settings.engine.redis.url = server.url();
            settings.engine.redis.lease_ttl_ms = 3000;
            settings.engine.redis.renew_ms = 1000;
            settings.engine.redis.heartbeat_ms = 200;
            settings.engine.redis.node_ttl_ms = 1500;
            Some(server)
        }
        other => panic!("unknown test engine {other:?}"),
    };
    configure(&mut settings);
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(settings).await {
                Ok(app) => {
                    let _ = tx.send(Ok((app.port(), app.runtime())));
                    let _ = app
                        .run_until_stopped(async move {
                            let _ = stopped.await;
                        })
                        .await;
                    // Stop the node's actor arbiters too, so nothing keeps running after the test.
                    actix_web::rt::System::current().stop();
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
    });
    let (port, rt) = rx
        .recv_timeout(WAIT)
        .expect("server did not start in time")
        .expect("server failed to start");
    // Read at start-up; not needed any more.
    let _ = std::fs::remove_file(&seed);
    TestApp {
        port,
        rt,
        _stop: stop,
        _redis: redis,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A staff token of `org` for agent `id` (named "Agent {id}"), valid for an hour.
pub fn staff_token(
    auth: &Authenticator,
    org: &str,
    id: &str,
    roles: &[Role],
    queues: &[&str],
) -> String {
    auth.mint_staff(
        OrgId::parse(org).expect("org"),
        AgentId::parse(id).expect("agent id"),
        Some(format!("Agent {id}")),
        roles.to_vec(),
        queues
            .iter()
            .map(|q| QueueId::parse(q).expect("queue"))
            .collect(),
        3600,
    )
    .expect("mint")
}

/// Sets `settings.<key> = value` on org `index`.
pub fn set(orgs: &mut [Value], index: usize, key: &str, value: Value) {
    orgs[index]["settings"][key] = value;
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn staff_token(&self, org: &str, id: &str, roles: &[Role], queues: &[&str]) -> String {
        staff_token(&self.rt.auth, org, id, roles, queues)
    }

    pub fn admin_token(&self, org: &str) -> String {
        self.staff_token(
            org,
            "admin",
            &[Role::Agent, Role::Supervisor, Role::Admin],
            &[],
        )
    }

    pub async fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.http_with(method, path, token, body, &[]).await
    }

    pub async fn http_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        try_http(self.port, method, path, token, body, headers, WAIT)
            .await
            .unwrap_or_else(|e| panic!("http request {method} {path}: {e}"))
    }

    /// A visitor token through the pre-chat form.
    pub async fn visitor_token(&self, org: &str, first: &str) -> String {
        let (status, body) = self
            .http(
                "POST",
                &format!("/v1/orgs/{org}/visitors"),
                None,
                Some(json!({ "first_name": first, "last_name": "Tester", "email": format!("{first}@example.com") })),
            )
            .await;
        assert_eq!(status, 201, "pre-chat form: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    pub async fn connect(&self, token: &str) -> Client {
        let mut c = Client::open(self.port).await;
        let reply = c.request(json!({ "type": "hello", "token": token })).await;
        assert_eq!(reply["type"], "ack", "hello refused: {reply}");
        c.hello = reply["data"].clone();
        c
    }

    /// A signed-in agent of org `t1` in the given queues, set available.
    pub async fn agent(&self, id: &str, queues: &[&str]) -> Client {
        let token = self.staff_token("t1", id, &[Role::Agent], queues);
        let mut c = self.connect(&token).await;
        c.ok(json!({ "type": "status", "presence": "available" }))
            .await;
        c
    }

    /// A visitor of org `t1` who started a chat; returns the client and the conversation id.
    pub async fn customer_chat(&self, name: &str) -> (Client, String) {
        let token = self.visitor_token("t1", name).await;
        let mut c = self.connect(&token).await;
        let data = c.ok(json!({ "type": "start" })).await;
        let conv = data["conversation"]
            .as_str()
            .expect("conversation id")
            .to_string();
        (c, conv)
    }
}

/// One HTTP request to `127.0.0.1:port`; `Err` when there is no answer within `timeout`
/// (connection refused, node stopped or killed). Bodies that are not JSON come back as a string.
pub async fn try_http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<(u16, Value), String> {
    let client = awc::Client::builder().timeout(timeout).finish();
    let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client.request(method, format!("http://127.0.0.1:{port}{path}"));
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut resp = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let bytes = resp
        .body()
        .limit(16 << 20)
        .await
        .map_err(|e| e.to_string())?;
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Ok((status, json))
}

/// What [`Client::try_read`] found.
#[allow(dead_code)] // used by tests/cluster
#[derive(Debug)]
pub enum Next {
    Frame(Value),
    /// The socket is closed (see `Client::closed` for the code).
    Closed,
    /// Nothing arrived in time.
    Timeout,
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Frames read while waiting for something else.
    pub inbox: VecDeque<Value>,
    pub hello: Value,
    pub closed: Option<(u16, String)>,
}

impl Client {
    pub async fn open(port: u16) -> Client {
        Self::open_with(port, None).await
    }

    pub async fn open_with(port: u16, origin: Option<&str>) -> Client {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://127.0.0.1:{port}/v1/ws")
            .into_client_request()
            .expect("request");
        if let Some(o) = origin {
            req.headers_mut()
                .insert("Origin", o.parse().expect("header"));
        }
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req))
            .await
            .expect("connect timed out")
            .expect("connect");
        Client {
            ws,
            next_id: 0,
            inbox: VecDeque::new(),
            hello: Value::Null,
            closed: None,
        }
    }

    /// Like `open`, with the socket's receive buffer shrunk to about `bytes` (the kernel rounds
    /// it), so that once this client stops reading, the server's writes to it soon block.
    pub async fn open_with_recv_buffer(port: u16, bytes: u32) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let tcp = tokio::time::timeout(WAIT, socket.connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect");
        let url = format!("ws://127.0.0.1:{port}/v1/ws");
        let (ws, _) = tokio::time::timeout(
            WAIT,
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)),
        )
        .await
        .expect("handshake timed out")
        .expect("handshake");
        Client {
            ws,
            next_id: 0,
            inbox: VecDeque::new(),
            hello: Value::Null,
            closed: None,
        }
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send");
    }

    /// Sends one text message as `parts` websocket fragments (a first frame and continuations).
    pub async fn send_fragmented(&mut self, text: &str, parts: usize) {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        let bytes = text.as_bytes();
        let size = bytes.len().div_ceil(parts.max(1));
        let chunks: Vec<&[u8]> = bytes.chunks(size.max(1)).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let op = if i == 0 { Data::Text } else { Data::Continue };
            let last = i + 1 == chunks.len();
            let frame = Frame::message(chunk.to_vec(), OpCode::Data(op), last);
            self.ws
                .send(Message::Frame(frame))
                .await
                .expect("send fragment");
        }
    }

    /// Reads one frame from the socket (not the inbox). `None` when the socket closed.
    async fn read(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("no frame within {WAIT:?}; inbox: {:?}", self.inbox));
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(&t).expect("server sent JSON"))
                }
                Some(Ok(Message::Close(frame))) => {
                    self.closed = Some(frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    }));
                    return None;
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    if self.closed.is_none() {
                        self.closed = Some((1006, String::new()));
                    }
                    return None;
                }
            }
        }
    }

    /// Sends a command with a fresh id and returns its `ack` or `error`.
    pub async fn request(&mut self, mut cmd: Value) -> Value {
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        cmd["id"] = json!(id);
        self.send_raw(&cmd.to_string()).await;
        self.wait_for(&format!("reply to {cmd}"), |f| {
            f["id"] == json!(id) && (f["type"] == "ack" || f["type"] == "error")
        })
        .await
    }

    /// Sends a command that must succeed; returns the ack's data.
    pub async fn ok(&mut self, cmd: Value) -> Value {
        let reply = self.request(cmd.clone()).await;
        assert_eq!(reply["type"], "ack", "{cmd} failed: {reply}");
        reply["data"].clone()
    }

    /// Sends a command that must fail with `code`; returns the error frame.
    pub async fn err(&mut self, cmd: Value, code: &str) -> Value {
        let reply = self.request(cmd.clone()).await;
        assert_eq!(
            reply["type"], "error",
            "{cmd} should fail with {code}: {reply}"
        );
        assert_eq!(reply["code"], code, "{cmd}: {reply}");
        reply
    }

    /// The first frame (buffered or new) matching `pred`; others stay buffered in order.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.inbox.iter().position(&pred) {
            return self.inbox.remove(i).expect("index is in range");
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}; inbox: {:?}", self.inbox);
            }
            match self.read().await {
                Some(f) if pred(&f) => return f,
                Some(f) => self.inbox.push_back(f),
                None => panic!(
                    "socket closed ({:?}) while waiting for {what}; inbox: {:?}",
                    self.closed, self.inbox
                ),
            }
        }
    }

    pub async fn signal(&mut self, kind: &str) -> Value {
        self.wait_for(&format!("signal {kind}"), |f| {
            f["type"] == "signal" && f["signal"] == kind
        })
        .await
    }

    /// The next log event of this kind in the conversation.
    pub async fn event(&mut self, conv: &str, kind: &str) -> Value {
        self.wait_for(&format!("{kind} event in {conv}"), |f| {
            f["type"] == "event" && f["conversation"] == conv && f["event"]["kind"] == kind
        })
        .await
    }

    /// A round trip through the server: everything the server queued for this client before
    /// answering is in the inbox afterwards.
    pub async fn barrier(&mut self) {
        self.ok(json!({ "type": "ping" })).await;
    }

    /// Buffered frames matching `pred` (after a barrier, this is all of them so far).
    pub fn buffered(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.inbox.iter().filter(|f| pred(f)).cloned().collect()
    }

    /// Waits until the server closes the socket; returns the close code.
    pub async fn closed_code(&mut self) -> u16 {
        while self.closed.is_none() {
            if let Some(f) = self.read().await {
                self.inbox.push_back(f);
            }
        }
        self.closed.as_ref().map_or(0, |c| c.0)
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Non-panicking variants for clients of nodes that may die or pause (tests/cluster).
#[allow(dead_code)]
impl Client {
    /// Like `open`, but `None` when no websocket is up within `timeout` (node dead or stopped).
    pub async fn try_open(port: u16, timeout: Duration) -> Option<Client> {
        let url = format!("ws://127.0.0.1:{port}/v1/ws");
        match tokio::time::timeout(timeout, tokio_tungstenite::connect_async(url)).await {
            Ok(Ok((ws, _))) => Some(Client {
                ws,
                next_id: 0,
                inbox: VecDeque::new(),
                hello: Value::Null,
                closed: None,
            }),
            _ => None,
        }
    }

    /// Sends a text frame; false when the socket is gone.
    pub async fn try_send_raw(&mut self, text: &str) -> bool {
        matches!(
            tokio::time::timeout(WAIT, self.ws.send(Message::Text(text.into()))).await,
            Ok(Ok(()))
        )
    }

    /// Reads one frame from the socket (not the inbox) without panicking.
    pub async fn try_read(&mut self, timeout: Duration) -> Next {
        if self.closed.is_some() {
            return Next::Closed;
        }
        loop {
            let Ok(msg) = tokio::time::timeout(timeout, self.ws.next()).await else {
                return Next::Timeout;
            };
            match msg {
                Some(Ok(Message::Text(t))) => match serde_json::from_str(&t) {
                    Ok(v) => return Next::Frame(v),
                    Err(e) => panic!("server sent a frame that is not JSON ({e}): {t}"),
                },
                Some(Ok(Message::Close(frame))) => {
                    self.closed = Some(frame.map_or((1005, String::new()), |f| {
                        (u16::from(f.code), f.reason.to_string())
                    }));
                    return Next::Closed;
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    if self.closed.is_none() {
                        self.closed = Some((1006, String::new()));
                    }
                    return Next::Closed;
                }
            }
        }
    }

    /// Sends a command with a fresh id; its `ack` or `error`, or `None` when the socket closed
    /// or nothing answered within `timeout`. Other frames read meanwhile stay in the inbox.
    pub async fn try_request(&mut self, mut cmd: Value, timeout: Duration) -> Option<Value> {
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        cmd["id"] = json!(id);
        if !self.try_send_raw(&cmd.to_string()).await {
            return None;
        }
        let is_reply =
            |f: &Value| f["id"] == json!(id) && (f["type"] == "ack" || f["type"] == "error");
        self.try_wait_for(timeout, is_reply).await
    }

    /// The first frame (buffered or new) matching `pred`, or `None` on close or timeout.
    pub async fn try_wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(i) = self.inbox.iter().position(&pred) {
            return self.inbox.remove(i);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            match self.try_read(left).await {
                Next::Frame(f) if pred(&f) => return Some(f),
                Next::Frame(f) => self.inbox.push_back(f),
                Next::Closed | Next::Timeout => return None,
            }
        }
    }
}

/// Accepts the next offer the agent gets; returns the conversation id.
pub async fn accept_next(agent: &mut Client) -> String {
    let offer = agent.signal("offer").await;
    let conv = offer["conversation"]
        .as_str()
        .expect("conversation")
        .to_string();
    agent
        .ok(json!({ "type": "accept", "conversation": conv }))
        .await;
    conv
}

pub fn is_event(f: &Value, conv: &str) -> bool {
    f["type"] == "event" && f["conversation"] == conv
}

/// A raw answer: status, headers (lower-case names), body bytes.
pub struct Download {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// `GET path` with a bearer token, the body read raw (files, CSV, text).
pub async fn download(app: &TestApp, token: &str, path: &str) -> Download {
    let client = awc::Client::builder().timeout(WAIT).finish();
    let mut resp = client
        .get(app.url(path))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .expect("download request");
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let body = resp.body().limit(16 << 20).await.expect("download body");
    Download {
        status: resp.status().as_u16(),
        headers,
        body: body.to_vec(),
    }
}

/// Polls `check` until it gives a value, failing the test after `WAIT` × 3.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + WAIT * 3;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A metric's value from `/metrics` (0 when absent).
pub async fn metric(app: &TestApp, name: &str) -> f64 {
    let body = awc::Client::default()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .body()
        .await
        .expect("metrics body");
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Every file in the node's attachment store (spool files included), by path.
pub fn stored_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        std::path::Path::new(&app.rt.settings.attachments.dir),
        &mut out,
    );
    out.sort();
    out
}

/// A node whose files go to the S3-compatible test server `s3` (bucket `files`), signing with
/// `secret_key`.
pub async fn s3_app(s3: &crate::s3_server::S3Server, secret_key: &str) -> TestApp {
    let endpoint = s3.endpoint();
    let access_key = s3.access_key.clone();
    let secret_key = secret_key.to_string();
    spawn_app_configured(
        move |s| {
            s.attachments.store = switchboard::config::BlobStoreKind::S3;
            s.attachments.s3.endpoint = endpoint;
            s.attachments.s3.bucket = "files".into();
            s.attachments.s3.access_key = access_key;
            s.attachments.s3.secret_key = switchboard::config::Secret::new(secret_key);
        },
        |_| {},
    )
    .await
}

/// The S3 store of an `s3_app` node, its bucket created.
pub async fn s3_bucket(app: &TestApp) -> switchboard::attachments::s3::S3Store {
    let store = switchboard::attachments::s3::S3Store::new(
        app.rt.settings.attachments.s3.clone(),
        std::path::PathBuf::from(&app.rt.settings.attachments.dir),
    );
    store.create_bucket().await.expect("create bucket");
    store
}

/// Runs a Python script with `input` on its stdin; its stdout. Fails the test (with `what` and
/// Python's stderr) when the script fails — a missing package says to run tests/setup.sh.
pub fn python(what: &str, script: &str, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write to python3");
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "{what} failed (missing packages: tests/setup.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
