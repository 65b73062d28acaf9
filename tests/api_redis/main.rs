//! The behavioural suite of `tests/api`, run against the redis engine: every test gets its own
//! `redis-server` (see `tests/support/redis.rs`) and a node in cluster mode with short lease and
//! heartbeat timings. Needs `redis-server` on PATH; it never skips. The module list is
//! `tests/support/suite.rs`, shared with `tests/api/main.rs`.

/// The engine `helpers::spawn_app_configured` gives every node of this binary.
pub const ENGINE: &str = "redis";

#[macro_use]
#[path = "../support/suite.rs"]
mod suite;

behavioural_suite!();
