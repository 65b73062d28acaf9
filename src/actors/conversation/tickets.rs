//! Tickets from chats (seeds 001, 002): an agent asks the subscribed integration for a ticket
//! (new, or to append to one); the integration answers with the ticket, which is recorded on the
//! conversation and, while the chat is open, announced in its internal discussion.

use actix::prelude::*;
use serde::{Deserialize, Serialize};

use super::{event, reply, ConversationActor, Reply, Who};
use crate::engine::NewEvent;
use crate::protocol::{Author, CommandError, EventKind};

/// An agent who has held the chat (or a supervisor) asks for a ticket.
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<u64, CommandError>")]
pub struct RequestTicket {
    pub who: Who,
    /// The request's id (the integration names it in its answer).
    pub request: String,
    /// Append to this ticket instead of creating one.
    pub ticket: Option<String>,
}

impl Handler<RequestTicket> for ConversationActor {
    type Result = Reply<u64>;

    fn handle(&mut self, msg: RequestTicket, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self
            .ready()
            .and_then(|_| self.check_participant_agent(&msg.who))
        {
            return reply(Err(e));
        }
        if self.state.customer.is_none() {
            return reply(Err(CommandError::bad_request(
                "a chat between agents has no customer to open a ticket for",
            )));
        }
        let kind = EventKind::TicketRequested {
            request: msg.request,
            ticket: msg.ticket,
        };
        let fut = self
            .append(vec![event(msg.who.author(), kind)])
            .map(|res, _, _| Ok(res?.first().map_or(0, |a| a.event.seq)));
        AtomicResponse::new(Box::pin(fut))
    }
}

/// The integration's answer: the ticket a request made (or appended to).
#[derive(Message, Clone, Serialize, Deserialize)]
#[rtype(result = "Result<(u64, bool), CommandError>")]
pub struct LinkTicket {
    pub request: String,
    pub ticket: String,
    pub url: Option<String>,
}

impl Handler<LinkTicket> for ConversationActor {
    type Result = Reply<(u64, bool)>;

    fn handle(&mut self, msg: LinkTicket, _: &mut Self::Context) -> Self::Result {
        if let Err(e) = self.ready() {
            return reply(Err(e));
        }
        if !self.state.ticket_requests.iter().any(|r| r == &msg.request) {
            return reply(Err(CommandError::not_found("ticket request")));
        }
        // Answered twice (the integration retried): the first answer stands.
        if let Some(seq) = self.state.ticket_links.get(&msg.request) {
            return reply(Ok((*seq, true)));
        }
        let mut events = vec![event(
            Author::system(),
            EventKind::TicketLinked {
                request: msg.request.clone(),
                ticket: msg.ticket.clone(),
                url: msg.url.clone(),
            },
        )];
        // Seed 001: "a message about the ticket in Internal Discussion" — none once the chat
        // has ended (its discussion is read-only then).
        if self.state.status.is_open() {
            let text = match &msg.url {
                Some(url) => format!("Ticket {} is linked to this chat: {url}", msg.ticket),
                None => format!("Ticket {} is linked to this chat.", msg.ticket),
            };
            events.push(NewEvent {
                author: Author::system(),
                kind: EventKind::Internal {
                    text,
                    client_msg_id: format!("ticket:{}", msg.request),
                },
                dedup_key: None,
            });
        }
        let fut = self
            .append(events)
            .map(|res, _, _| Ok((res?.first().map_or(0, |a| a.event.seq), false)));
        AtomicResponse::new(Box::pin(fut))
    }
}
