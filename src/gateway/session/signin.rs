//! The first frame: `hello` — authentication, signing in, and the replays it asks for.

use std::collections::HashMap;

use crate::gateway::ws::{self, Incoming};

use super::close_codes;
use crate::actors::agent::{AgentActor, Connect};
use crate::actors::conversation::Who;
use crate::actors::route::ask_here;
use crate::actors::Rt;
use crate::auth::Principal;
use crate::hub::{Audience, SessionHandle, SessionInbox};
use crate::ids::{AgentKey, ConversationId, CustomerKey};
use crate::limiter::TokenBucket;
use crate::protocol::client::{parse_frame, Command};
use crate::protocol::server::{AckData, HelloAck};
use crate::protocol::{CommandError, ErrorCode, ServerFrame};

use super::{close_reason, Session};

/// Waits for the first text frame, answering pings meanwhile.
pub(super) async fn first_text(stream: &mut ws::Stream, ws: &mut ws::Sink) -> Option<String> {
    while let Some(msg) = stream.recv().await {
        match msg {
            Ok(Incoming::Text(t)) => return Some(t.to_string()),
            Ok(Incoming::Ping(p)) => {
                if ws.pong(&p).await.is_err() {
                    return None;
                }
            }
            Ok(Incoming::Pong(_)) => {}
            Ok(Incoming::Binary(_)) => {
                let e = ServerFrame::Error {
                    id: None,
                    code: ErrorCode::BadRequest,
                    message: "frames are JSON text",
                };
                if ws.text(e.to_json()).await.is_err() {
                    return None;
                }
            }
            Ok(Incoming::Close(_)) | Err(_) => return None,
        }
    }
    None
}

/// Authenticates the `hello` frame. On failure sends the error and returns `None`.
pub(super) async fn hello_frame(
    rt: &Rt,
    ws: &mut ws::Sink,
    text: &str,
    origin: Option<&str>,
) -> Option<(Session, SessionInbox)> {
    let (id, result) = match parse_frame(text) {
        Ok(frame) => match frame.command {
            Command::Hello { token, resume } => (
                frame.id,
                authenticate(rt, &token, origin).map(|p| (p, resume)),
            ),
            other => (
                frame.id,
                Err(CommandError::new(
                    ErrorCode::Unauthorized,
                    format!("the first frame must be hello, not {}", other.name()),
                )),
            ),
        },
        Err((id, message)) => (id, Err(CommandError::bad_request(message))),
    };
    let (principal, resume) = match result {
        Ok(ok) => ok,
        Err(e) => {
            rt.metrics.error(e.code);
            let frame = ServerFrame::Error {
                id: id.as_deref(),
                code: e.code,
                message: e.client_message(),
            };
            let _ = ws.text(frame.to_json()).await;
            return None;
        }
    };
    let audience = match principal {
        Principal::Staff(_) => Audience::Agent,
        Principal::Customer(_) => Audience::Customer,
    };
    let (handle, inbox) = SessionHandle::new(
        rt.hub.next_session_id(),
        audience,
        rt.settings.limits.send_buffer,
    );
    let who = Who::of(&principal, rt.orgs.get(principal.org()).as_deref());
    let limits = &rt.settings.limits;
    let principal_org = principal.org();
    let org_limiter = rt.org_limiter(principal_org);
    let mut session = Session {
        rt: rt.clone(),
        ws: ws.clone(),
        principal,
        who,
        handle,
        follows: HashMap::new(),
        agent: None,
        customer: None,
        limiter: TokenBucket::new(limits.rate_per_sec, limits.rate_burst),
        org_limiter,
        violations: 0,
        last_heard: std::time::Instant::now(),
    };
    let data = match session.welcome(resume).await {
        Ok(data) => data,
        Err(e) => {
            let frame = ServerFrame::Error {
                id: id.as_deref(),
                code: e.code,
                message: e.client_message(),
            };
            let _ = ws.text(frame.to_json()).await;
            session.cleanup();
            return None;
        }
    };
    let ack = ServerFrame::Ack {
        id: id.as_deref(),
        data: Some(AckData::Hello(data.0)),
    };
    if ws.text(ack.to_json()).await.is_err() {
        session.cleanup();
        return None;
    }
    // Replays and pending offers go out after the hello ack, in order.
    for (conversation, last, epoch) in data.1 {
        match session
            .follow_from(&conversation, last, epoch.as_deref())
            .await
        {
            // The conversation's actor could not be reached (its node is being replaced):
            // following it silently would leave the client without its events, so the client
            // reconnects and resumes instead (PROTOCOL §7).
            Ok(Err(e)) if e.code == ErrorCode::Unavailable => {
                session.cleanup();
                let reason = close_reason(
                    close_codes::TRY_AGAIN_LATER,
                    "conversation unavailable; resume",
                );
                let _ = session.ws.clone().close(reason).await;
                return None;
            }
            Ok(_) => {}
            Err(_) => {
                session.cleanup();
                return None;
            }
        }
    }
    for signal in data.2 {
        if session.send(signal).await.is_err() {
            session.cleanup();
            return None;
        }
    }
    Some((session, inbox))
}

fn authenticate(rt: &Rt, token: &str, origin: Option<&str>) -> Result<Principal, CommandError> {
    crate::auth::authenticate(&rt.auth, &rt.orgs, token, origin).map(|(p, _)| p)
}

impl Session {
    /// Signs the session in with its actor (agents) and works out what to replay.
    /// Returns the hello ack's data, the conversations to follow (with the last seq and epoch
    /// the client has, which `follow_from` checks as for the `resume` command), and pending
    /// offers.
    #[allow(clippy::type_complexity)]
    pub(in crate::gateway) async fn welcome(
        &mut self,
        resume: Vec<crate::protocol::ResumePoint>,
    ) -> Result<
        (
            HelloAck,
            Vec<(ConversationId, u64, Option<String>)>,
            Vec<String>,
        ),
        CommandError,
    > {
        let resume_at = |c: &ConversationId| {
            resume
                .iter()
                .find(|r| &r.conversation == c)
                .map_or((0, None), |r| (r.last_seq, r.epoch.clone()))
        };
        match self.principal.clone() {
            Principal::Staff(staff) => {
                let key = AgentKey {
                    org: staff.org.clone(),
                    id: staff.id.clone(),
                };
                self.rt.hub.attach_agent(&key, self.handle.clone()).await;
                let sessions = self.rt.hub.agent_sessions(&key).len();
                self.agent = Some(key.clone());
                let connect = Connect {
                    staff: staff.clone(),
                    instance: self.rt.instance().to_string(),
                    sessions,
                };
                let snapshot = ask_here::<AgentActor, _>(&self.rt, &key, connect).await?;
                // Chats that ended while the agent was away still need their wrap-up: follow
                // them too, so the agent sees the end and can close them.
                let filter = crate::engine::ConversationFilter {
                    agent: Some(staff.id.clone()),
                    status: Some(crate::domain::conversation::Status::Ended),
                    limit: 100,
                    ..Default::default()
                };
                let wrap_up: Vec<ConversationId> = self
                    .rt
                    .engine
                    .find_conversations(&staff.org, filter)
                    .await
                    .map_err(CommandError::from)?
                    .into_iter()
                    .filter(|s| s.owner.as_ref() == Some(&staff.id))
                    .map(|s| s.id)
                    // A chat that ended between the agent's snapshot and this read is in both
                    // lists: it is followed (and replayed) once.
                    .filter(|id| !snapshot.assigned.contains(id))
                    .collect();
                let mut seen = std::collections::HashSet::new();
                let follow = snapshot
                    .assigned
                    .iter()
                    .chain(&wrap_up)
                    .chain(&snapshot.participating)
                    .filter(|c| seen.insert((*c).clone()))
                    .map(|c| {
                        let (last, epoch) = resume_at(c);
                        (c.clone(), last, epoch)
                    })
                    .collect();
                let data = HelloAck::Agent {
                    org: staff.org.clone(),
                    agent: staff.id.clone(),
                    name: staff.name.clone(),
                    roles: staff.roles.iter().map(|r| r.as_str().to_string()).collect(),
                    queues: staff.queues.clone(),
                    presence: snapshot.presence,
                    max_chats: snapshot.max_chats,
                    assigned: snapshot.assigned,
                    wrap_up,
                    participating: snapshot.participating,
                };
                Ok((data, follow, snapshot.offers))
            }
            Principal::Customer(c) => {
                let key = CustomerKey {
                    org: c.org.clone(),
                    id: c.id.clone(),
                };
                self.rt.hub.attach_customer(&key, self.handle.clone());
                self.customer = Some(key);
                let filter = crate::engine::ConversationFilter {
                    customer: Some(c.id.clone()),
                    limit: 20,
                    ..Default::default()
                };
                let open: Vec<ConversationId> = self
                    .rt
                    .engine
                    .find_conversations(&c.org, filter)
                    .await
                    .map_err(CommandError::from)?
                    .into_iter()
                    .filter(|s| s.status.is_open())
                    .map(|s| s.id)
                    .collect();
                let follow = open
                    .iter()
                    .map(|id| {
                        let (last, epoch) = resume_at(id);
                        (id.clone(), last, epoch)
                    })
                    .collect();
                let data = HelloAck::Customer {
                    org: c.org.clone(),
                    customer: c.id.clone(),
                    name: c.name.clone(),
                    verified: c.verified,
                    conversations: open,
                };
                Ok((data, follow, Vec::new()))
            }
        }
    }
}
