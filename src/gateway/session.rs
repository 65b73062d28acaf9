//! One websocket connection: hello, then a loop that reads client frames, runs their commands
//! and writes what the hub delivers, in order and without gaps.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, MessageStream};
use bytestring::ByteString;

use super::close_codes;
use super::limiter::TokenBucket;
use crate::actors::agent::{AgentActor, Connect, Disconnect};
use crate::actors::conversation::{Access, ConversationActor, Who};
use crate::actors::route::{ask_here, tell};
use crate::auth::Principal;
use crate::domain::conversation::Status;
use crate::hub::{Audience, Control, EventDelivery, Outbound, SessionHandle, SessionInbox};
use crate::ids::{AgentKey, ConvKey, ConversationId};
use crate::protocol::client::{parse_frame, Command};
use crate::protocol::{CommandError, ErrorCode, LogEvent, ServerFrame, Signal, Visibility};
use crate::runtime::Rt;

/// Events read from the log per page when replaying.
const REPLAY_PAGE: usize = 500;

/// What a session knows about a conversation it follows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Follow {
    pub audience: Audience,
    /// The last seq delivered to this client (for customers: the last public seq).
    pub last: u64,
}

/// Why the loop ended.
pub(super) enum Stop {
    /// The client went away or the socket broke.
    Gone,
    /// We close it, with a code and reason.
    Close(u16, &'static str),
}

pub(super) struct Session {
    pub rt: Rt,
    pub ws: actix_ws::Session,
    pub principal: Principal,
    pub who: Who,
    pub handle: SessionHandle,
    pub follows: HashMap<ConversationId, Follow>,
    pub agent: Option<AgentKey>,
    limiter: TokenBucket,
    org_limiter: crate::runtime::OrgLimiter,
    violations: u32,
}

fn close_reason(code: u16, reason: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::from(code),
        description: Some(reason.to_string()),
    })
}

/// Runs the connection until it closes.
pub async fn run(rt: Rt, mut ws: actix_ws::Session, stream: MessageStream, origin: Option<String>) {
    let limits = rt.settings.limits.clone();
    // The codec accepts frames up to 4x our limit so that a too-large frame gets a polite
    // `too_large` error instead of a protocol failure; beyond that the socket is closed.
    let hard_limit = limits.max_frame_bytes.saturating_mul(4).max(4096);
    let mut stream = stream
        .max_frame_size(hard_limit)
        .aggregate_continuations()
        .max_continuation_size(hard_limit);

    // Boxed sub-futures keep the resident (idle) size of this task small: an idle socket only
    // holds the `serve` loop's state, not the largest state any command ever needs.
    let hello = tokio::time::timeout(
        limits.hello_timeout(),
        Box::pin(first_text(&mut stream, &mut ws)),
    )
    .await;
    let text = match hello {
        Ok(Some(text)) => text,
        Ok(None) => return,
        Err(_) => {
            let _ = ws
                .close(close_reason(close_codes::POLICY, "no hello in time"))
                .await;
            return;
        }
    };
    let (mut session, mut inbox) =
        match Box::pin(hello_frame(&rt, &mut ws, &text, origin.as_deref())).await {
            Some(s) => s,
            None => {
                let _ = ws
                    .close(close_reason(close_codes::POLICY, "authentication failed"))
                    .await;
                return;
            }
        };
    let stop = Box::pin(session.serve(&mut stream, &mut inbox)).await;
    session.cleanup();
    if let Stop::Close(code, reason) = stop {
        let _ = session.ws.close(close_reason(code, reason)).await;
    }
}

/// Waits for the first text frame, answering pings meanwhile.
async fn first_text(
    stream: &mut AggregatedMessageStream,
    ws: &mut actix_ws::Session,
) -> Option<String> {
    while let Some(msg) = stream.recv().await {
        match msg {
            Ok(AggregatedMessage::Text(t)) => return Some(t.to_string()),
            Ok(AggregatedMessage::Ping(p)) => {
                if ws.pong(&p).await.is_err() {
                    return None;
                }
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Binary(_)) => {
                let e = ServerFrame::Error {
                    id: None,
                    code: ErrorCode::BadRequest,
                    message: "frames are JSON text",
                };
                if ws.text(e.to_json()).await.is_err() {
                    return None;
                }
            }
            Ok(AggregatedMessage::Close(_)) | Err(_) => return None,
        }
    }
    None
}

/// Authenticates the `hello` frame. On failure sends the error and returns `None`.
async fn hello_frame(
    rt: &Rt,
    ws: &mut actix_ws::Session,
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
                message: &e.message,
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
    let who = match &principal {
        Principal::Staff(s) => Who::Agent {
            id: s.id.clone(),
            name: s.name.clone(),
            supervisor: s.sees_all_queues(),
        },
        Principal::Customer(c) => Who::Customer(c.id.clone()),
    };
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
        limiter: TokenBucket::new(limits.rate_per_sec, limits.rate_burst),
        org_limiter,
        violations: 0,
    };
    let data = match session.welcome(resume).await {
        Ok(data) => data,
        Err(e) => {
            let frame = ServerFrame::Error {
                id: id.as_deref(),
                code: e.code,
                message: &e.message,
            };
            let _ = ws.text(frame.to_json()).await;
            session.cleanup();
            return None;
        }
    };
    let ack = ServerFrame::Ack {
        id: id.as_deref(),
        data: Some(data.0),
    };
    if ws.text(ack.to_json()).await.is_err() {
        session.cleanup();
        return None;
    }
    // Replays and pending offers go out after the hello ack, in order.
    for (conversation, last) in data.1 {
        match session.follow_from(&conversation, last, None).await {
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
    let principal = rt.auth.verify(token, |org| {
        rt.orgs
            .get(org)
            .and_then(|o| o.settings.customer_token_secret.clone())
    })?;
    let org = rt
        .orgs
        .get(principal.org())
        .ok_or_else(|| CommandError::new(ErrorCode::Unauthorized, "unknown org"))?;
    if let Principal::Customer(_) = principal {
        if !org.settings.enabled {
            return Err(CommandError::forbidden("chat is not enabled for this org"));
        }
        if !org.settings.origin_allowed(origin) {
            return Err(CommandError::forbidden(
                "this origin may not open chats for the org",
            ));
        }
    }
    Ok(principal)
}

impl Session {
    pub(super) fn conv_key(&self, id: &ConversationId) -> ConvKey {
        ConvKey {
            org: self.principal.org().clone(),
            id: id.clone(),
        }
    }

    pub(super) async fn send(&mut self, text: impl Into<ByteString>) -> Result<(), Stop> {
        self.ws.text(text).await.map_err(|_| Stop::Gone)
    }

    /// Signs the session in with its actor (agents) and works out what to replay.
    /// Returns the hello ack's data, the conversations to follow, and pending offers.
    #[allow(clippy::type_complexity)]
    async fn welcome(
        &mut self,
        resume: Vec<crate::protocol::ResumePoint>,
    ) -> Result<(serde_json::Value, Vec<(ConversationId, u64)>, Vec<String>), CommandError> {
        let resume_at = |c: &ConversationId| {
            resume
                .iter()
                .find(|r| &r.conversation == c)
                .map_or(0, |r| r.last_seq)
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
                    .map_err(crate::actors::conversation::engine_error)?
                    .into_iter()
                    .filter(|s| s.owner.as_ref() == Some(&staff.id))
                    .map(|s| s.id)
                    .collect();
                let follow = snapshot
                    .assigned
                    .iter()
                    .chain(&wrap_up)
                    .map(|c| (c.clone(), resume_at(c)))
                    .collect();
                let data = serde_json::json!({
                    "role": "agent",
                    "wrap_up": wrap_up,
                    "org": staff.org,
                    "agent": staff.id,
                    "name": staff.name,
                    "roles": staff.roles,
                    "queues": staff.queues,
                    "presence": snapshot.presence,
                    "max_chats": snapshot.max_chats,
                    "assigned": snapshot.assigned,
                });
                Ok((data, follow, snapshot.offers))
            }
            Principal::Customer(c) => {
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
                    .map_err(crate::actors::conversation::engine_error)?
                    .into_iter()
                    .filter(|s| s.status.is_open())
                    .map(|s| s.id)
                    .collect();
                let follow = open.iter().map(|id| (id.clone(), resume_at(id))).collect();
                let data = serde_json::json!({
                    "role": "customer",
                    "org": c.org,
                    "customer": c.id,
                    "name": c.name,
                    "verified": c.verified,
                    "conversations": open,
                });
                Ok((data, follow, Vec::new()))
            }
        }
    }

    async fn serve(
        &mut self,
        stream: &mut AggregatedMessageStream,
        inbox: &mut SessionInbox,
    ) -> Stop {
        let beat = self.rt.settings.limits.heartbeat();
        let mut heartbeat = tokio::time::interval(beat);
        heartbeat.tick().await;
        let mut last_heard = Instant::now();
        let mut drain = self.rt.drain_signal();
        loop {
            tokio::select! {
                biased;
                _ = drain.wait_for(|d| *d) => {
                    let bye = ServerFrame::Goodbye { reason: "restart", retry_after_ms: Some(1000) };
                    let _ = self.send(bye.to_json()).await;
                    return Stop::Close(close_codes::RESTART, "server restarting; reconnect and resume");
                }
                _ = inbox.kick.notified() => {
                    if inbox.overflowed.load(std::sync::atomic::Ordering::Relaxed) {
                        crate::metrics::Metrics::inc(&self.rt.metrics.slow_consumers);
                        let bye = ServerFrame::Goodbye { reason: "slow_consumer", retry_after_ms: Some(1000) };
                        let _ = self.send(bye.to_json()).await;
                        return Stop::Close(close_codes::TRY_AGAIN_LATER, "send buffer full; resume");
                    }
                }
                item = inbox.rx.recv() => {
                    let Some(item) = item else { return Stop::Gone };
                    if let Err(stop) = Box::pin(self.outbound(item)).await {
                        return stop;
                    }
                }
                msg = stream.recv() => {
                    last_heard = Instant::now();
                    let result = match msg {
                        None => return Stop::Gone,
                        Some(Err(e)) => {
                            tracing::debug!(%e, "Websocket protocol error.");
                            let code = ErrorCode::TooLarge;
                            let frame = ServerFrame::Error { id: None, code, message: "websocket protocol error or frame too large" };
                            let _ = self.send(frame.to_json()).await;
                            return Stop::Close(close_codes::POLICY, "protocol error");
                        }
                        Some(Ok(AggregatedMessage::Text(text))) => Box::pin(self.on_text(&text)).await,
                        Some(Ok(AggregatedMessage::Binary(_))) => {
                            self.reply_error(None, &CommandError::bad_request("frames are JSON text")).await
                        }
                        Some(Ok(AggregatedMessage::Ping(p))) => self.ws.pong(&p).await.map_err(|_| Stop::Gone),
                        Some(Ok(AggregatedMessage::Pong(_))) => Ok(()),
                        Some(Ok(AggregatedMessage::Close(_))) => return Stop::Close(1000, "bye"),
                    };
                    if let Err(stop) = result {
                        return stop;
                    }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > beat * 2 {
                        return Stop::Close(close_codes::POLICY, "heartbeat timeout");
                    }
                    if self.ws.ping(b"").await.is_err() {
                        return Stop::Gone;
                    }
                }
            }
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Stop> {
        let limits = &self.rt.settings.limits;
        if text.len() > limits.max_frame_bytes {
            let e = CommandError::new(
                ErrorCode::TooLarge,
                format!(
                    "frame is {} bytes; the limit is {}",
                    text.len(),
                    limits.max_frame_bytes
                ),
            );
            let id = serde_json::from_str::<crate::protocol::client::FrameHead>(text)
                .ok()
                .and_then(|h| h.id_string());
            return self.reply_error(id.as_deref(), &e).await;
        }
        let limited = if !self.limiter.try_take() {
            Some("slow down")
        } else if !self.org_limiter.lock().try_take() {
            Some("your organisation is over its message rate on this node; slow down")
        } else {
            None
        };
        if let Some(message) = limited {
            self.violations += 1;
            let max = self.rt.settings.limits.max_rate_violations;
            let id = serde_json::from_str::<crate::protocol::client::FrameHead>(text)
                .ok()
                .and_then(|h| h.id_string());
            self.reply_error(
                id.as_deref(),
                &CommandError::new(ErrorCode::RateLimited, message),
            )
            .await?;
            if self.violations >= max {
                return Err(Stop::Close(
                    close_codes::POLICY,
                    "rate limit exceeded repeatedly",
                ));
            }
            return Ok(());
        }
        self.violations = 0;
        let frame = match parse_frame(text) {
            Ok(f) => f,
            Err((id, message)) => {
                return self
                    .reply_error(id.as_deref(), &CommandError::bad_request(message))
                    .await
            }
        };
        let id = frame.id;
        match self.command(frame.command).await {
            Ok(data) => {
                if id.is_some() || data.is_some() {
                    let ack = ServerFrame::Ack {
                        id: id.as_deref(),
                        data,
                    };
                    self.send(ack.to_json()).await?;
                }
                Ok(())
            }
            Err(e) => self.reply_error(id.as_deref(), &e).await,
        }
    }

    async fn reply_error(&mut self, id: Option<&str>, e: &CommandError) -> Result<(), Stop> {
        self.rt.metrics.error(e.code);
        let frame = ServerFrame::Error {
            id,
            code: e.code,
            message: &e.message,
        };
        self.send(frame.to_json()).await
    }

    async fn outbound(&mut self, item: Outbound) -> Result<(), Stop> {
        match item {
            Outbound::Text(t) => self.send(t).await,
            Outbound::Event(d) => self.deliver(d).await,
            Outbound::Control(Control::Follow(c)) => {
                if self.follows.contains_key(&c) {
                    return Ok(());
                }
                self.rt
                    .hub
                    .follow(&self.conv_key(&c), self.handle.clone())
                    .await;
                self.follows.insert(
                    c.clone(),
                    Follow {
                        audience: Audience::Agent,
                        last: 0,
                    },
                );
                let signal = Signal::Joined {
                    conversation: c.clone(),
                };
                self.send(ServerFrame::Signal(&signal).to_json()).await?;
                self.fill(&c).await
            }
            Outbound::ResyncOne(c) => self.fill(&c).await,
            Outbound::Resync => {
                let followed: Vec<ConversationId> = self.follows.keys().cloned().collect();
                for c in followed {
                    self.fill(&c).await?;
                }
                Ok(())
            }
            Outbound::Control(Control::Unfollow(c)) => {
                if self.follows.remove(&c).is_some() {
                    self.rt.hub.unfollow(&self.conv_key(&c), self.handle.id);
                    let signal = Signal::Left { conversation: c };
                    self.send(ServerFrame::Signal(&signal).to_json()).await?;
                }
                Ok(())
            }
        }
    }

    /// Delivers a live event if it is the next one for this client; fills a gap from the log
    /// first if there is one; drops what the client already has.
    async fn deliver(&mut self, d: Arc<EventDelivery>) -> Result<(), Stop> {
        let Some(f) = self.follows.get(&d.conversation).copied() else {
            return Ok(());
        };
        if d.seq <= f.last {
            return Ok(());
        }
        let (frame, in_order) = match f.audience {
            Audience::Agent => (Some(&d.agent_frame), d.seq == f.last + 1),
            Audience::Customer => match &d.customer_frame {
                Some(frame) => (Some(frame), d.prev_public == f.last),
                None => return Ok(()),
            },
        };
        if !in_order {
            return self.fill(&d.conversation).await;
        }
        if let Some(frame) = frame {
            self.send(frame.clone()).await?;
        }
        if let Some(f) = self.follows.get_mut(&d.conversation) {
            f.last = d.seq;
        }
        Ok(())
    }

    /// Sends everything after the client's last seq from the log. For customers, `last` stays
    /// on the last public event while the read position moves past agent-only ones.
    pub(super) async fn fill(&mut self, conversation: &ConversationId) -> Result<(), Stop> {
        let Some(f) = self.follows.get(conversation).copied() else {
            return Ok(());
        };
        let key = self.conv_key(conversation);
        let (mut read_pos, mut last) = (f.last, f.last);
        loop {
            let slice = match self.rt.engine.read_log(&key, read_pos, REPLAY_PAGE).await {
                Ok(Some(slice)) => slice,
                Ok(None) => return Ok(()),
                Err(err) => {
                    tracing::warn!(%conversation, %err, "Could not read the log to fill a gap; the client will resume.");
                    return Err(Stop::Close(
                        close_codes::TRY_AGAIN_LATER,
                        "log unavailable; resume",
                    ));
                }
            };
            for event in &slice.events {
                if let Some(text) = frame_for(conversation, &slice.epoch, event, f.audience, last) {
                    self.send(text).await?;
                    last = event.seq;
                }
                read_pos = event.seq;
            }
            if let Some(f) = self.follows.get_mut(conversation) {
                f.last = f.last.max(last);
            }
            if slice.events.is_empty() || read_pos >= slice.last_seq {
                return Ok(());
            }
        }
    }

    /// Follows a conversation from `last_seq`: checks access, registers with the hub, then
    /// replays from the log (live events that arrive meanwhile wait in the inbox and are
    /// de-duplicated by seq). The inner error is the conversation's refusal (or that it could
    /// not be reached); the outer one ends the session.
    pub(super) async fn follow_from(
        &mut self,
        conversation: &ConversationId,
        last_seq: u64,
        epoch: Option<&str>,
    ) -> Result<Result<serde_json::Value, CommandError>, Stop> {
        let key = self.conv_key(conversation);
        let access = Access {
            who: self.who.clone(),
        };
        let audience = match ask_here::<ConversationActor, _>(&self.rt, &key, access).await {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        self.rt.hub.follow(&key, self.handle.clone()).await;
        let current = self.rt.engine.read_log(&key, 0, 0).await.ok().flatten();
        let (log_epoch, log_last) =
            current.map_or((String::new(), 0), |s| (s.epoch.to_string(), s.last_seq));
        let recovered = epoch.is_none_or(|e| e == log_epoch) && last_seq <= log_last;
        let start = if recovered { last_seq } else { 0 };
        self.follows.insert(
            conversation.clone(),
            Follow {
                audience,
                last: start,
            },
        );
        let signal = Signal::Resumed {
            conversation: conversation.clone(),
            recovered,
            epoch: log_epoch,
            last_seq: log_last,
        };
        self.send(ServerFrame::Signal(&signal).to_json()).await?;
        self.fill(conversation).await?;
        if audience == Audience::Customer {
            self.retell_position(&key).await;
        }
        Ok(Ok(serde_json::json!({ "recovered": recovered })))
    }

    /// A customer back on a waiting conversation gets its queue position again.
    async fn retell_position(&self, key: &ConvKey) {
        if let Ok(Some(s)) = self.rt.engine.summary(key).await {
            if let (Status::Waiting | Status::Assigning, Some(queue)) = (s.status, s.queue) {
                let qkey = crate::ids::QueueKey {
                    org: key.org.clone(),
                    id: queue,
                };
                let retell = crate::actors::queue::Retell {
                    conversation: key.id.clone(),
                };
                tell::<crate::actors::queue::QueueActor, _>(&self.rt, &qkey, retell);
            }
        }
    }

    fn cleanup(&mut self) {
        for c in self.follows.keys() {
            let key = ConvKey {
                org: self.principal.org().clone(),
                id: c.clone(),
            };
            self.rt.hub.unfollow(&key, self.handle.id);
        }
        self.follows.clear();
        if let Some(key) = self.agent.take() {
            let left = self.rt.hub.detach_agent(&key, self.handle.id);
            let gone = Disconnect {
                instance: self.rt.instance().to_string(),
                sessions: left,
            };
            if self.rt.cluster.is_some() {
                tell::<AgentActor, _>(&self.rt, &key, gone);
            } else if let Some(addr) = self.rt.agent_if_active(&key) {
                addr.do_send(gone);
            }
        }
    }
}

/// The event frame for this audience, or `None` if the audience may not see it.
fn frame_for(
    conversation: &ConversationId,
    epoch: &str,
    event: &LogEvent,
    audience: Audience,
    last_delivered: u64,
) -> Option<String> {
    let prev = match audience {
        Audience::Agent => event.seq.saturating_sub(1),
        Audience::Customer if event.visibility == Visibility::Public => last_delivered,
        Audience::Customer => return None,
    };
    Some(
        ServerFrame::Event {
            conversation,
            seq: event.seq,
            prev,
            epoch,
            event,
        }
        .to_json(),
    )
}
