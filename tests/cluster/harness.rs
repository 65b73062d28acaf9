//! Several real server processes sharing one real Redis: `Cluster::start(n, tweak)`.
//!
//! Each node is the `switchboard` binary run from the crate root (so it reads `config/`), on its
//! own port, with node id `n{i}`, short lease/heartbeat timings, the test orgs from a seed file,
//! and its stdout/stderr in a log file whose last lines are printed when a test fails.
//! Cluster tests run one at a time (a lock held by `Cluster`): they are timing-sensitive and
//! each starts several processes.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use switchboard::auth::{Authenticator, Role};

use crate::clients::Peer;
use crate::helpers::{test_org, try_http, Client, WAIT};
use crate::redis_server::{free_port, tail, unique_dir, RedisServer};

/// `engine.redis.lease_ttl_ms` of every node.
pub const LEASE_TTL: Duration = Duration::from_millis(3000);
/// `engine.redis.node_ttl_ms`: a node silent this long is dead to the others.
pub const NODE_TTL: Duration = Duration::from_millis(1500);
/// `server.drain_timeout_ms`.
pub const DRAIN_TIMEOUT: Duration = Duration::from_millis(3000);
/// A killed owner's conversations are served again within this (DESIGN §4: lease TTL + 2 s).
pub const RECOVERY: Duration = Duration::from_millis(3000 + 2000);
/// Upper bound for anything that goes through a failover and retries.
pub const LONG: Duration = Duration::from_secs(30);
/// A node must answer `GET /readyz` with 200 within this after it was started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

static SERIAL: Mutex<()> = Mutex::new(());

/// What `Cluster::start`'s `tweak` may change before the nodes start.
pub struct Spec {
    /// Extra environment for every node (applied after the defaults, so it overrides them).
    pub env: Vec<(String, String)>,
    /// The org documents seeded into the cluster (`t1`, with agent profiles, and `t2`).
    pub orgs: Vec<Value>,
}

impl Spec {
    pub fn env(&mut self, key: &str, value: impl ToString) {
        self.env.push((key.to_string(), value.to_string()));
    }

    /// Sets `settings.<key>` of org `t1` (offer expiry, idle timeouts, max_chats, …).
    pub fn org_setting(&mut self, key: &str, value: Value) {
        self.orgs[0]["settings"][key] = value;
    }
}

pub struct Node {
    pub id: String,
    port: u16,
    child: Option<Child>,
    log: PathBuf,
    env: Vec<(String, String)>,
    exit: Option<ExitStatus>,
}

impl Node {
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .map(Child::id)
            .unwrap_or_else(|| panic!("node {} is not running", self.id))
    }

    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open node log");
        let log2 = log.try_clone().expect("clone log handle");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // Nothing from the caller's environment leaks into the nodes' configuration.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SWITCHBOARD") {
                cmd.env_remove(&key);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.child = Some(cmd.spawn().expect("start the switchboard binary"));
        self.exit = None;
    }

    /// True while the process exists (running or stopped).
    pub fn is_running(&mut self) -> bool {
        if let Some(child) = self.child.as_mut() {
            match child.try_wait() {
                Ok(None) => return true,
                Ok(Some(status)) => {
                    self.exit = Some(status);
                    self.child = None;
                }
                Err(_) => return false,
            }
        }
        false
    }

    /// `GET /readyz`: the status, or `None` when the node does not answer within 2 s.
    pub async fn readyz(&self) -> Option<u16> {
        try_http(
            self.port,
            "GET",
            "/readyz",
            None,
            None,
            &[],
            Duration::from_secs(2),
        )
        .await
        .ok()
        .map(|(status, _)| status)
    }

    /// Polls `GET /readyz` until 200; panics (with the node's log) on timeout or early exit.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.readyz().await == Some(200) {
                return;
            }
            if !self.is_running() {
                panic!(
                    "node {} exited ({:?}) before it was ready; log:\n{}",
                    self.id,
                    self.exit,
                    self.log_tail(50)
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "node {} not ready within {timeout:?}; log:\n{}",
                    self.id,
                    self.log_tail(50)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            self.exit = child.wait().ok();
        }
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} {} failed", self.pid());
    }

    /// SIGSTOP: the process freezes (sockets stay open, nothing is answered or renewed).
    pub fn stop(&mut self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn cont(&mut self) {
        self.signal("-CONT");
    }

    /// SIGTERM: the node drains and exits.
    pub fn term(&mut self) {
        self.signal("-TERM");
    }

    /// Waits for the process to exit; its status, or `None` if it is still running at the end.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_running() {
                return self.exit;
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts it again (killing it first if needed): same port, same node id; waits until ready.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready(READY_TIMEOUT).await;
    }
}

pub struct Cluster {
    pub redis: RedisServer,
    pub nodes: Vec<Node>,
    dir: PathBuf,
    auth: Authenticator,
    _serial: MutexGuard<'static, ()>,
}

/// The orgs every cluster starts with: `t1` and `t2` as in `tests/api`, plus agent profiles in
/// `t1` so `GET /v1/agents` reports those agents wherever their actors live.
fn default_orgs() -> Vec<Value> {
    let mut t1 = test_org("t1");
    t1["agents"] = json!(["al", "bo", "cy", "a1", "a2", "a3", "a4"]
        .iter()
        .map(|id| json!({ "id": id, "name": format!("Agent {id}") }))
        .collect::<Vec<_>>());
    vec![t1, test_org("t2")]
}

impl Cluster {
    /// One redis-server and `n` nodes in cluster mode, all ready (`/readyz` 200).
    pub async fn start(n: usize, tweak: impl FnOnce(&mut Spec)) -> Cluster {
        let serial = SERIAL
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let redis = RedisServer::start();
        let dir = unique_dir("sb-cluster");
        let mut spec = Spec {
            env: Vec::new(),
            orgs: default_orgs(),
        };
        tweak(&mut spec);
        let seed = dir.join("orgs.json");
        std::fs::write(
            &seed,
            serde_json::to_string_pretty(&spec.orgs).expect("json"),
        )
        .expect("write seed file");
        let settings = switchboard::config::embedded_defaults().expect("default settings");
        let auth = Authenticator::new(&settings.auth);
        let mut nodes = Vec::new();
        for i in 0..n {
            let port = free_port();
            let mut env: Vec<(String, String)> = [
                // No config/{env}.toml applies: only config/default.toml and what is set here.
                ("SWITCHBOARD_ENVIRONMENT", "cluster-test".to_string()),
                ("SWITCHBOARD__SERVER__HOST", "127.0.0.1".to_string()),
                ("SWITCHBOARD__SERVER__PORT", port.to_string()),
                ("SWITCHBOARD__SERVER__NODE_ID", format!("n{i}")),
                ("SWITCHBOARD__SERVER__WORKERS", "1".to_string()),
                ("SWITCHBOARD__SERVER__ACTOR_THREADS", "2".to_string()),
                (
                    "SWITCHBOARD__SERVER__DRAIN_TIMEOUT_MS",
                    DRAIN_TIMEOUT.as_millis().to_string(),
                ),
                ("SWITCHBOARD__ENGINE__KIND", "redis".to_string()),
                ("SWITCHBOARD__ENGINE__REDIS__URL", redis.url()),
                (
                    "SWITCHBOARD__ENGINE__REDIS__LEASE_TTL_MS",
                    LEASE_TTL.as_millis().to_string(),
                ),
                ("SWITCHBOARD__ENGINE__REDIS__RENEW_MS", "1000".to_string()),
                (
                    "SWITCHBOARD__ENGINE__REDIS__HEARTBEAT_MS",
                    "200".to_string(),
                ),
                (
                    "SWITCHBOARD__ENGINE__REDIS__NODE_TTL_MS",
                    NODE_TTL.as_millis().to_string(),
                ),
                (
                    "SWITCHBOARD__ENGINE__REDIS__CALL_TIMEOUT_MS",
                    "1000".to_string(),
                ),
                ("SWITCHBOARD__DEMO__ENABLED", "false".to_string()),
                // Each node its own SQLite archive in the test's directory (SQLite is for one
                // node; a production cluster shares PostgreSQL, which tests/api covers).
                (
                    "SWITCHBOARD__ARCHIVE__URL",
                    format!(
                        "sqlite://{}",
                        dir.join(format!("archive-n{i}.db")).display()
                    ),
                ),
                (
                    "SWITCHBOARD__DEMO__SEED_FILE",
                    seed.to_string_lossy().into_owned(),
                ),
                ("SWITCHBOARD__LIMITS__POSITION_UPDATE_MS", "50".to_string()),
                ("SWITCHBOARD__LIMITS__QUEUE_SWEEP_MS", "100".to_string()),
                ("RUST_LOG", "info".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            env.extend(spec.env.iter().cloned());
            let mut node = Node {
                id: format!("n{i}"),
                port,
                child: None,
                log: dir.join(format!("n{i}.log")),
                env,
                exit: None,
            };
            node.spawn();
            nodes.push(node);
        }
        let mut cluster = Cluster {
            redis,
            nodes,
            dir,
            auth,
            _serial: serial,
        };
        for node in cluster.nodes.iter_mut() {
            node.wait_ready(READY_TIMEOUT).await;
        }
        cluster
    }

    pub fn node(&mut self, i: usize) -> &mut Node {
        &mut self.nodes[i]
    }

    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }

    pub fn staff_token(&self, id: &str, roles: &[Role], queues: &[&str]) -> String {
        crate::helpers::staff_token(&self.auth, "t1", id, roles, queues)
    }

    pub fn agent_token(&self, id: &str) -> String {
        self.staff_token(id, &[Role::Agent], &["general"])
    }

    pub fn admin_token(&self) -> String {
        self.staff_token("admin", &[Role::Agent, Role::Supervisor, Role::Admin], &[])
    }

    /// One HTTP request to node `i`; panics when it does not answer.
    pub async fn http(
        &self,
        i: usize,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        try_http(self.port(i), method, path, token, body, &[], WAIT)
            .await
            .unwrap_or_else(|e| panic!("{method} {path} on node n{i}: {e}"))
    }

    /// A visitor token of org `t1` through the pre-chat form on node `i`.
    pub async fn visitor_token(&self, i: usize, first: &str) -> String {
        let (status, body) = self
            .http(
                i,
                "POST",
                "/v1/orgs/t1/visitors",
                None,
                Some(json!({ "first_name": first, "last_name": "Tester", "email": format!("{first}@example.com") })),
            )
            .await;
        assert_eq!(status, 201, "pre-chat form: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    /// A plain client signed in on node `i`.
    pub async fn connect(&self, i: usize, token: &str) -> Client {
        let mut c = Client::open(self.port(i)).await;
        let reply = c.request(json!({ "type": "hello", "token": token })).await;
        assert_eq!(reply["type"], "ack", "hello refused: {reply}");
        c.hello = reply["data"].clone();
        c
    }

    /// Agent `id` of org `t1` (queue `general`) signed in on node `i` and set available.
    pub async fn agent(&self, i: usize, id: &str) -> Peer {
        let mut p = Peer::connect(id, &self.agent_token(id), self.ports(), i).await;
        p.ok(
            json!({ "type": "status", "presence": "available" }),
            Instant::now() + WAIT,
        )
        .await;
        p
    }

    /// A visitor of org `t1` who started a chat on node `i`; the peer and the conversation id.
    pub async fn customer(&self, i: usize, name: &str) -> (Peer, String) {
        let token = self.visitor_token(i, name).await;
        let mut p = Peer::connect(name, &token, self.ports(), i).await;
        let data = p
            .ok(json!({ "type": "start" }), Instant::now() + WAIT)
            .await;
        let conv = data["conversation"]
            .as_str()
            .unwrap_or_else(|| panic!("start without conversation: {data}"))
            .to_string();
        p.follow(&conv);
        (p, conv)
    }

    /// The nodes that answer `/readyz` at all (alive and not stopped).
    pub async fn answering(&self) -> Vec<usize> {
        let mut live = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.readyz().await.is_some() {
                live.push(i);
            }
        }
        live
    }

    /// The conversation's whole log (`GET /v1/conversations/{id}/transcript`) from node `i`,
    /// polling until it answers 200.
    pub async fn transcript_from(&self, i: usize, conv: &str) -> Vec<Value> {
        let admin = self.admin_token();
        let path = format!("/v1/conversations/{conv}/transcript");
        eventually(
            &format!("the transcript of {conv} from n{i}"),
            LONG,
            || async {
                match try_http(self.port(i), "GET", &path, Some(&admin), None, &[], WAIT).await {
                    Ok((200, body)) => Ok(body["events"]
                        .as_array()
                        .unwrap_or_else(|| panic!("transcript without events: {body}"))
                        .clone()),
                    other => Err(format!("{other:?}")),
                }
            },
        )
        .await
    }

    /// The transcript from the first node that answers.
    pub async fn transcript(&self, conv: &str) -> Vec<Value> {
        let live = self.answering().await;
        let i = *live.first().expect("no node answers");
        self.transcript_from(i, conv).await
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed {
            for node in &self.nodes {
                eprintln!(
                    "--- node {} (port {}; last 50 lines of {}) ---\n{}",
                    node.id,
                    node.port,
                    node.log.display(),
                    node.log_tail(50)
                );
            }
        }
        for node in self.nodes.iter_mut() {
            node.kill();
        }
        if failed {
            eprintln!("(cluster files kept in {})", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Polls `probe` (every 50 ms) until it answers `Ok`, for at most `timeout`; then panics with
/// `what` and the probe's last `Err` (what it saw instead). The one polling loop of these tests.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(done) => return done,
            Err(seen) if Instant::now() > deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
