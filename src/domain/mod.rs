//! Domain types and pure rules: org configuration, validation of input, the conversation state
//! machine, hours of operation, chat reasons. Nothing here does I/O or knows about actors.

pub mod conversation;
pub mod hours;
pub mod org;
pub mod reasons;
pub mod text;
