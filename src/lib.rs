//! Switchboard: a live-chat runtime for contact centers.
//!
//! # Layout
//!
//! - [`protocol`]: the wire format — client commands, server frames, log events, error codes.
//! - [`gateway`]: the websocket endpoint; one task per connection translating frames to actor
//!   messages and delivering events in order.
//! - [`api`]: the REST API (configuration, conversations, surveys, health, metrics).
//! - [`actors`]: one actor per conversation, agent and queue, the directory that activates them,
//!   and the timer supervisor that enforces every deadline.
//! - [`routing`]: pure routing decisions (who gets the next offer, wait estimates).
//! - [`domain`]: org configuration, validation, the conversation state machine, hours of
//!   operation and chat reasons — pure logic, no I/O.
//! - [`engine`]: storage seam — the memory engine (default) behind the [`engine::Engine`] trait.
//! - [`hub`]: node-local fan-out of events and signals to sockets.
//! - [`auth`]: JWTs for staff, visitor tokens, verified-customer tokens.
//! - [`config`], [`startup`], [`shutdown`], [`telemetry`], [`metrics`], [`runtime`], [`orgs`]:
//!   the process around it.

pub mod actors;
pub mod api;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod domain;
pub mod engine;
pub mod gateway;
pub mod hub;
pub mod ids;
pub mod metrics;
pub mod orgs;
pub mod protocol;
pub mod routing;
pub mod runtime;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
