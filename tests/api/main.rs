//! Black-box tests: a real server on port 0, real websocket and HTTP clients.
//!
//! The same modules run against the redis engine in `tests/api_redis` (DESIGN §1: "the same
//! behavioural test suite runs against both").

/// The engine `helpers::spawn_app_configured` gives every node of this binary.
pub const ENGINE: &str = "memory";

mod bad_input;
mod chat;
mod config;
mod helpers;
mod policy;
#[path = "../support/redis.rs"]
mod redis_server;
mod rest;
mod routing;
mod timers;
mod web;
