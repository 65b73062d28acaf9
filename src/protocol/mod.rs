//! The wire protocol: every type that is serialized onto the websocket lives here.
//!
//! **Architecture Invariant:** only `protocol/` (and the engine's storage format, which reuses
//! [`events::EventKind`]) knows the JSON shape of frames. `docs/PROTOCOL.md` is the human contract;
//! this module is its implementation.

pub mod client;
pub mod errors;
pub mod events;
pub mod server;

pub use client::{ClientFrame, Command, ResumePoint};
pub use errors::{CommandError, ErrorCode};
pub use events::{
    AttachmentRef, Author, AuthorRole, EndReason, EventKind, HandoverBy, InviteOutcome, LogEvent,
    ParticipantRole, Visibility,
};
pub use server::{ServerFrame, Signal};

/// The protocol version served at `/v1/ws`.
pub const PROTOCOL_VERSION: u32 = 1;
