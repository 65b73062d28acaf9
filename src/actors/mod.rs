//! The actors: one per conversation, per agent and per queue, plus the node's timer supervisor.
//!
//! Each actor is the single writer of its own state. Actors are activated on demand through the
//! [`directory::Directory`] and rebuild their state from the engine when (re)activated, which is
//! also how a panicked actor comes back. [`system::ActorSystem`] is the handle everything above
//! this layer holds ([`Rt`]).

pub mod agent;
pub mod conversation;
pub mod directory;
pub mod queue;
pub mod route;
pub mod system;
pub mod takeover;
pub mod timers;

pub use system::{ActorSystem, Rt};
