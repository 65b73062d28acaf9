//! Black-box tests: a real server on port 0, real websocket and HTTP clients.
//!
//! The same modules run against the redis engine in `tests/api_redis` (DESIGN §1: "the same
//! behavioural test suite runs against both"); the list is `tests/support/suite.rs`.

/// The engine `helpers::spawn_app_configured` gives every node of this binary.
pub const ENGINE: &str = "memory";

#[macro_use]
#[path = "../support/suite.rs"]
mod suite;

behavioural_suite!();
