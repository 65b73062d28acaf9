//! Switchboard: a live-chat runtime for contact centers.
//!
//! # Layout
//!
//! Layers, lowest first; a module uses only its own layer and those below (ARCHITECTURE.md,
//! checked by `tests/layers.rs`):
//!
//! 0. Pure: [`ids`], [`protocol`] (the wire format — commands, frames, log events, error
//!    codes), [`domain`] (org configuration, validation, the conversation state machine, an
//!    agent's capacity, hours, reasons), [`routing`] (who gets the next offer), [`config`].
//! 1. Storage: [`engine`] — the memory engine (default) and the Redis engine behind the
//!    [`engine::Engine`] trait — and [`archive`], finished conversations in SQL (SQLite or
//!    PostgreSQL) behind the [`archive::Archive`] trait.
//! 2. The node's services: [`node`] (what one node shares), [`archiver`] (finished
//!    conversations into the archive), [`mailer`] (transcripts emailed through the outbox),
//!    [`placement`] (where actors live:
//!    one process or a cluster), [`hub`] (fan-out of events to sockets), [`attachments`]
//!    (where uploaded files live), [`privacy`] (retention and customer erasure), [`orgs`], [`auth`],
//!    [`limiter`], [`metrics`], [`http_error`], [`shutdown`], [`telemetry`].
//! 3. [`actors`]: one actor per conversation, agent and queue, the directory that activates
//!    them, and the timer supervisor that enforces every deadline.
//! 4. The edges: [`gateway`] (the websocket endpoint, one task per connection) and [`api`] (REST).
//! 5. [`startup`]: building and running a node.

// Layer 0, pure: what things are and the rules they follow.
pub mod config;
pub mod domain;
pub mod ids;
pub mod protocol;
pub mod routing;
// Layer 1: storage.
pub mod archive;
pub mod engine;
// Layer 2: the node's services.
pub mod archiver;
pub mod attachments;
pub mod auth;
pub mod http_error;
pub mod hub;
pub mod limiter;
pub mod mailer;
pub mod metrics;
pub mod node;
pub mod orgs;
pub mod placement;
pub mod privacy;
pub mod shutdown;
pub mod telemetry;
pub mod webhook;
// Layer 3: the actors.
pub mod actors;
// Layer 4: the edges.
pub mod api;
pub mod gateway;
// Layer 5: the process.
pub mod startup;
