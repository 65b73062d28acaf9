//! Cluster mode (DESIGN §2 and §4): several real `switchboard` processes sharing one real
//! `redis-server`, driven by real websocket clients. Nodes are killed (SIGKILL), paused
//! (SIGSTOP/SIGCONT), drained (SIGTERM), and Redis itself is killed and restarted; the tests
//! assert what users see: every acknowledged message exactly once, in order, gap-free;
//! capacity never exceeded; every offer ending once.
//!
//! Needs `redis-server` on PATH (it never skips). Run: `cargo test --test cluster`.
//! On failure the last lines of every node's log (and Redis's) are printed.

/// `tests/api/helpers.rs` wants to know the engine of its in-process nodes; the cluster tests
/// run the server binary instead and use only its clients.
pub const ENGINE: &str = "redis";

mod archive;
#[path = "../support/bot.rs"]
mod bot_server;
mod clients;
mod failover;
mod files;
mod harness;
mod harness_self_test;
#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;
mod participants;
#[path = "../support/postgres.rs"]
mod postgres_server;
#[path = "../support/redis.rs"]
mod redis_server;
mod routing;
#[path = "../support/s3.rs"]
mod s3_server;
#[path = "../support/smtp.rs"]
mod smtp_server;
mod webhooks;
