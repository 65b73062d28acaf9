//! Domain types and pure rules: org configuration, validation of input, the conversation state
//! machine, an agent's capacity, hours of operation, chat reasons, the rules for starting a chat,
//! attachments' rules and content sniffing, the customer journey, retention periods and what of
//! an event is content.
//! Nothing here does I/O or knows about actors.

pub mod attachment;
pub mod bot;
pub mod canned;
pub mod capacity;
pub mod conversation;
pub mod export;
pub mod figures;
pub mod hours;
pub mod journey;
pub mod org;
pub mod pdf;
pub mod privacy;
pub mod reasons;
pub mod report;
pub mod sniff;
pub mod start;
pub mod text;
pub mod webhooks;
