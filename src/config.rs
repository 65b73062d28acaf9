//! Configuration: `config/default.toml` → `config/{SWITCHBOARD_ENVIRONMENT}.toml` → `SWITCHBOARD__*`
//! environment variables (`SWITCHBOARD__SERVER__PORT=9000`). Configuration is data passed into
//! [`crate::startup::Application::build`]; nothing below reads the environment itself.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// A secret that never prints.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub engine: EngineSettings,
    pub auth: AuthSettings,
    pub limits: Limits,
    pub demo: DemoSettings,
    /// Where uploaded files live and how they are scanned.
    #[serde(default)]
    pub attachments: AttachmentsSettings,
    /// Where finished conversations are kept (DESIGN §12).
    #[serde(default)]
    pub archive: ArchiveSettings,
    /// The retention job and customer erasures (issue 14; periods are per org).
    #[serde(default)]
    pub retention: RetentionSettings,
    /// The SMTP server transcripts are emailed through; none configured: email is off.
    #[serde(default)]
    pub smtp: SmtpSettings,
    /// Outgoing webhooks: delivery, retries, the circuit breaker (PROTOCOL §9.13).
    #[serde(default)]
    pub webhooks: WebhookSettings,
    /// Test hooks; off in every shipped config.
    #[serde(default)]
    pub testing: TestingSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Empty: a random id per process.
    #[serde(default)]
    pub node_id: String,
    /// Worker threads for HTTP/websocket I/O. 0: one per core.
    #[serde(default)]
    pub workers: usize,
    /// Arbiters (threads) that host conversation/agent/queue actors. 0: one per core.
    #[serde(default)]
    pub actor_threads: usize,
    /// How long a draining node waits for clients to leave before exiting.
    pub drain_timeout_ms: u64,
    /// The listening socket's accept queue (the kernel caps it at `net.core.somaxconn`): room
    /// for a reconnect storm, when every client of a restarted node comes back at once.
    #[serde(default = "default_backlog")]
    pub backlog: u32,
}

fn default_backlog() -> u32 {
    4096
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// One process; state lives and dies with it.
    Memory,
    /// Cluster mode: several nodes share one Redis (DESIGN §4).
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EngineSettings {
    pub kind: EngineKind,
    #[serde(default)]
    pub redis: RedisSettings,
}

/// Cluster mode (`kind = "redis"`). Times in milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RedisSettings {
    pub url: String,
    /// Pooled command connections per node (the pub/sub connection is extra).
    pub pool_size: usize,
    /// An actor's lease lives this long without renewal (DESIGN §4: about 10 s).
    pub lease_ttl_ms: u64,
    /// Leases are renewed in one batch this often (a third of the TTL by default).
    pub renew_ms: u64,
    /// Each node writes its heartbeat this often ...
    pub heartbeat_ms: u64,
    /// ... and is gone when none arrived for this long; its actors are then claimed elsewhere.
    pub node_ttl_ms: u64,
    /// One attempt of a command forwarded to another node waits this long for the answer.
    pub call_timeout_ms: u64,
    /// Attempts of a forwarded command (commands are idempotent, so retrying is safe). A
    /// command for an actor on a node that just died is answered once that node is declared
    /// gone and the actor claimed elsewhere, so `call_attempts × call_timeout_ms` should exceed
    /// `node_ttl_ms + heartbeat_ms` (a warning at start-up says when it does not).
    pub call_attempts: u32,
    /// Appends gathered into one pipeline (group commit).
    pub max_batch: usize,
    /// Longest a Redis command may take before the engine calls Redis unavailable.
    pub command_timeout_ms: u64,
}

impl RedisSettings {
    /// Whether a forwarded command outlasts a failover (see `call_attempts`).
    pub fn calls_outlast_failover(&self) -> bool {
        u64::from(self.call_attempts.max(1)) * self.call_timeout_ms
            > self.node_ttl_ms + self.heartbeat_ms
    }
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            pool_size: 16,
            lease_ttl_ms: 10_000,
            renew_ms: 3_000,
            heartbeat_ms: 1_000,
            node_ttl_ms: 5_000,
            call_timeout_ms: 2_000,
            call_attempts: 4,
            max_batch: 128,
            command_timeout_ms: 2_000,
        }
    }
}

/// The archive of finished conversations. Times in milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ArchiveSettings {
    /// `sqlite://path/to/file.db` (one node; the file and its folder are created on first
    /// start) or `postgres://user@host:port/db` (clusters: every node shares it).
    pub url: String,
    /// Attempts of one archive write before the conversation waits for the next sweep.
    pub retry_attempts: u32,
    /// Backoff between attempts: doubles from `retry_base_ms` up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How often the archiver looks for finished conversations not yet archived (left behind
    /// by a database outage, a full queue or a restart) and retries them.
    pub sweep_ms: u64,
    /// Most finished conversations one sweep takes per org.
    pub sweep_batch: usize,
    /// Most conversations waiting to be archived on one node; beyond it, new ones wait for a
    /// sweep (nothing is lost: the engine still holds them).
    pub max_backlog: usize,
    /// How long an archived conversation stays in the engine (late clients resume from it
    /// meanwhile); afterwards REST answers from the archive alone.
    pub hot_grace_ms: u64,
}

/// The node's retention and erasure job. The periods themselves are per org
/// (`settings.retention` of the org document).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// How often the job runs: pending erasures, then each org's retention.
    pub sweep_ms: u64,
    /// Most conversations one run redacts, and most it deletes, per org.
    pub batch: usize,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            sweep_ms: 600_000,
            batch: 200,
        }
    }
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        Self {
            url: "sqlite://data/switchboard.db".into(),
            retry_attempts: 5,
            retry_base_ms: 200,
            retry_max_ms: 5_000,
            sweep_ms: 30_000,
            sweep_batch: 500,
            max_backlog: 10_000,
            hot_grace_ms: 3_600_000,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain SMTP: a relay on the same host or a trusted network (TLS is not built in).
    #[default]
    None,
}

/// Emailing transcripts (seed 002) through an outbox in the archive database. Times in
/// milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SmtpSettings {
    /// The SMTP server; empty turns email off (the routes answer `503`).
    pub host: String,
    pub port: u16,
    /// The sender address (`From`).
    pub from: String,
    /// SMTP AUTH (PLAIN/LOGIN) when both are set.
    pub username: String,
    pub password: Secret,
    pub tls: SmtpTls,
    /// One SMTP conversation's timeout.
    pub timeout_ms: u64,
    /// Attempts of one email before it is `failed`.
    pub max_attempts: u32,
    /// Backoff between attempts: doubles from `retry_base_ms` up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How often a node's sender looks for due emails (it is also woken by each new one).
    pub poll_ms: u64,
    /// How long a claimed email is a node's before another node may take it over.
    pub lease_ms: u64,
    /// Most emails one node claims at a time.
    pub batch: usize,
    /// How long a sent or failed email's status stays readable before it is purged.
    pub keep_ms: u64,
    /// Emails one org may queue on one node: a burst, refilled at `per_minute` (`429` beyond),
    /// so that the relay is not a way to mail the world.
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 25,
            from: "switchboard@localhost".into(),
            username: String::new(),
            password: Secret::new(""),
            tls: SmtpTls::None,
            timeout_ms: 10_000,
            max_attempts: 8,
            retry_base_ms: 5_000,
            retry_max_ms: 600_000,
            poll_ms: 5_000,
            lease_ms: 60_000,
            batch: 20,
            keep_ms: 2_592_000_000,
            per_minute: 30,
            burst: 10,
        }
    }
}

/// `[webhooks]`: how the outgoing-webhook outbox is delivered. Durations in milliseconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// One attempt's timeout.
    pub timeout_ms: u64,
    /// Attempts before a webhook is dead (the backoff doubles from `retry_base_ms` to
    /// `retry_max_ms`: with the defaults, about 4 hours of trying).
    pub max_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// How often a node looks for due webhooks (a new one wakes it at once).
    pub poll_ms: u64,
    /// How long a claimed webhook is a node's before another may take it over.
    pub lease_ms: u64,
    /// Most webhooks one node sends at a time.
    pub batch: usize,
    /// Delivered, dead and pull rows are purged after this long.
    pub keep_ms: u64,
    /// Consecutive failures of one subscription that open its circuit on a node, and for how
    /// long it stays open (then one attempt decides).
    pub breaker_failures: u32,
    pub breaker_open_ms: u64,
    /// After a conversation is rebuilt (a restart, a failover), its events of this last while
    /// are offered again (the outbox ignores the ones it has): what a node that died between
    /// logging an event and writing its webhook leaves behind.
    pub replay_window_ms: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 10_000,
            max_attempts: 16,
            retry_base_ms: 1_000,
            retry_max_ms: 3_600_000,
            poll_ms: 1_000,
            lease_ms: 60_000,
            batch: 50,
            keep_ms: 7 * 24 * 3_600_000,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            replay_window_ms: 600_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    /// HS256 secret for agent/admin JWTs and the visitor tokens this server issues.
    pub jwt_secret: Secret,
    pub issuer: String,
    pub audience: String,
    pub visitor_token_ttl_secs: u64,
    /// Lifetime of tokens minted by the `token` subcommand.
    pub dev_token_ttl_secs: u64,
}

/// Bounds on everything a client can send (DESIGN invariant 8).
#[derive(Debug, Clone, Deserialize)]
pub struct Limits {
    /// Largest websocket text frame accepted; larger frames get `too_large`.
    pub max_frame_bytes: usize,
    /// Largest chat message, in characters.
    pub max_message_chars: usize,
    /// Largest internal note / transfer note / survey comment, in characters.
    pub max_note_chars: usize,
    pub max_client_msg_id_len: usize,
    /// Frames queued to one connection before it is treated as a slow consumer and closed.
    pub send_buffer: usize,
    /// Per-connection token bucket: sustained frames per second and burst.
    pub rate_per_sec: u32,
    pub rate_burst: u32,
    /// Per-org token bucket shared by all of an org's connections on this node: one tenant's
    /// flood cannot starve the others.
    pub org_rate_per_sec: u32,
    pub org_rate_burst: u32,
    /// Rate-limit violations in a row after which the connection is closed.
    pub max_rate_violations: u32,
    /// A connection that sends no `hello` within this time is closed.
    pub hello_timeout_ms: u64,
    /// Server → client websocket ping interval; no pong for twice this long closes the socket.
    pub heartbeat_ms: u64,
    /// Most conversations waiting in one queue; further starts get `unavailable`.
    pub max_queue_len: usize,
    /// Queue positions are sent to waiting customers at most this often.
    pub position_update_ms: u64,
    /// A customer's typing preview reaches agents at most this often (the latest text is sent
    /// when the interval is over).
    pub typing_preview_ms: u64,
    /// How often each queue re-checks offers nobody reported on and decliners' cooldowns.
    pub queue_sweep_ms: u64,
    /// Most websocket connections one node accepts.
    pub max_connections: usize,
    /// Largest REST body.
    pub max_body_bytes: usize,
}

impl Limits {
    pub fn hello_timeout(&self) -> Duration {
        Duration::from_millis(self.hello_timeout_ms)
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoSettings {
    /// Load the demo org (`config/demo-org.json`, embedded) when it does not exist yet.
    pub enabled: bool,
    /// A JSON file with an array of org documents to load at start-up (orgs that already exist
    /// are left alone). Used by tests and for provisioning a fresh deployment.
    #[serde(default)]
    pub seed_file: Option<String>,
}

/// Which blob store holds uploaded files.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BlobStoreKind {
    /// Files under `attachments.dir` on this machine: one node only.
    Local,
    /// An S3-compatible object store: every node of a cluster serves every file.
    S3,
}

/// Uploaded files (docs/OPERATIONS.md, "Attachments"). Per-org rules (allowed extensions, size)
/// live with the org (`settings.attachments`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AttachmentsSettings {
    pub store: BlobStoreKind,
    /// The local store's directory; with S3, uploads are spooled here (`.tmp/`) before they
    /// are sent. Created on first use.
    pub dir: String,
    pub s3: S3Settings,
    /// A scanning webhook: each upload is POSTed to it and stays `pending` until it answers
    /// `{"result": "clean"}` (or `"infected"`). Empty: no scanning, files are clean at once.
    pub scan_url: String,
    /// How long one scan may take; a scan that fails or times out rejects the file.
    pub scan_timeout_ms: u64,
}

impl Default for AttachmentsSettings {
    fn default() -> Self {
        Self {
            store: BlobStoreKind::Local,
            dir: "data/attachments".into(),
            s3: S3Settings::default(),
            scan_url: String::new(),
            scan_timeout_ms: 30_000,
        }
    }
}

/// An S3-compatible object store, addressed path-style (`{endpoint}/{bucket}/{key}`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct S3Settings {
    /// `http://host:port` (plain HTTP: put TLS in front, e.g. a sidecar, for a remote store).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: Secret,
    /// How long one request to the store may take.
    pub timeout_ms: u64,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "switchboard-attachments".into(),
            region: "us-east-1".into(),
            access_key: String::new(),
            secret_key: Secret::new(""),
            timeout_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TestingSettings {
    /// Enables `POST /v1/debug/conversations/{id}/panic`, used to prove actors restart.
    #[serde(default)]
    pub fault_injection: bool,
}

/// Loads settings from `config_dir`, the environment file named by `SWITCHBOARD_ENVIRONMENT`
/// (default `local`, which may be absent), and `SWITCHBOARD__` variables.
pub fn load(config_dir: &Path) -> Result<Settings, config::ConfigError> {
    let environment =
        std::env::var("SWITCHBOARD_ENVIRONMENT").unwrap_or_else(|_| "local".to_string());
    config::Config::builder()
        .add_source(config::File::from(config_dir.join("default.toml")).required(true))
        .add_source(
            config::File::from(config_dir.join(format!("{environment}.toml"))).required(false),
        )
        .add_source(
            config::Environment::with_prefix("SWITCHBOARD")
                .prefix_separator("__")
                .separator("__"),
        )
        .build()?
        .try_deserialize()
}

/// The settings in `config/default.toml`, compiled in: the base for tests and for running the
/// binary from any directory.
pub fn embedded_defaults() -> Result<Settings, config::ConfigError> {
    config::Config::builder()
        .add_source(config::File::from_str(
            include_str!("../config/default.toml"),
            config::FileFormat::Toml,
        ))
        .build()?
        .try_deserialize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_cluster_timings_let_a_forwarded_command_outlast_a_failover() {
        let shipped = embedded_defaults().expect("config/default.toml");
        assert!(shipped.engine.redis.calls_outlast_failover());
        let impatient = RedisSettings {
            call_attempts: 3,
            call_timeout_ms: 2_000,
            node_ttl_ms: 5_000,
            heartbeat_ms: 1_000,
            ..RedisSettings::default()
        };
        assert!(!impatient.calls_outlast_failover());
    }
}
