//! The behavioural suite of `tests/api`, run against the redis engine: every test gets its own
//! `redis-server` (see `tests/support/redis.rs`) and a node in cluster mode with short lease and
//! heartbeat timings. Needs `redis-server` on PATH; it never skips.

/// The engine `helpers::spawn_app_configured` gives every node of this binary.
pub const ENGINE: &str = "redis";

#[path = "../api/bad_input.rs"]
mod bad_input;
#[path = "../api/chat.rs"]
mod chat;
#[path = "../api/config.rs"]
mod config;
#[path = "../api/helpers.rs"]
mod helpers;
#[path = "../api/policy.rs"]
mod policy;
#[path = "../support/redis.rs"]
mod redis_server;
#[path = "../api/rest.rs"]
mod rest;
#[path = "../api/routing.rs"]
mod routing;
#[path = "../api/timers.rs"]
mod timers;
#[path = "../api/web.rs"]
mod web;
