//! One websocket connection: hello, then a loop that reads client frames, runs their commands
//! and writes what the hub delivers, in order and without gaps.
//!
//! - `signin.rs` — the first frame: `hello`, authentication, signing in with the agent actor,
//!   and the replays the hello asks for;
//! - `inbound.rs` — every later client frame: limits, parsing, the command, the answer;
//! - `delivery.rs` — what goes out: live events in order, gaps filled from the log, following
//!   and unfollowing conversations, around the pure [`cursor::Cursor`].

mod cursor;
mod delivery;
mod inbound;
mod signin;

use signin::{first_text, hello_frame};

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytestring::ByteString;

use super::close_codes;
use super::ws::{self, CloseCode, CloseReason, Incoming};
use crate::actors::agent::{AgentActor, Disconnect};
use crate::actors::conversation::Who;
use crate::actors::route::tell;
use crate::actors::Rt;
use crate::auth::Principal;
use crate::hub::{SessionHandle, SessionInbox};
use crate::ids::{AgentKey, ConvKey, ConversationId, CustomerKey};
use crate::limiter::TokenBucket;
use crate::protocol::{CommandError, ErrorCode, ServerFrame};

pub(super) use cursor::Cursor as Follow;

/// Events read from the log per page when replaying.
const REPLAY_PAGE: usize = 500;
/// How long the close frame may wait for room in the socket once the session has ended (a
/// client that stopped reading never takes it).
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Why the loop ended.
pub(super) enum Stop {
    /// The client went away or the socket broke.
    Gone,
    /// We close it, with a code and reason.
    Close(u16, &'static str),
}

pub(super) struct Session {
    pub rt: Rt,
    pub ws: ws::Sink,
    pub principal: Principal,
    pub who: Who,
    pub handle: SessionHandle,
    pub follows: HashMap<ConversationId, Follow>,
    pub agent: Option<AgentKey>,
    /// A signed-in customer, registered with the hub for controls addressed to them.
    pub customer: Option<CustomerKey>,
    limiter: TokenBucket,
    org_limiter: crate::limiter::OrgLimiter,
    violations: u32,
    /// When the client was last heard from (any frame): the heartbeat rule (PROTOCOL §1.3).
    last_heard: Instant,
}

fn close_reason(code: u16, reason: &str) -> Option<CloseReason> {
    Some(CloseReason {
        code: CloseCode::from(code),
        description: Some(reason.to_string()),
    })
}

/// Runs the connection until it closes. Between frames only the session, its message stream
/// and the boxed loop live in this task: the hello and the close run in boxed futures of their
/// own, so an idle socket (most sockets) does not carry their state.
pub async fn run(rt: Rt, ws: ws::Sink, stream: ws::Stream, origin: Option<String>) {
    let Some((mut session, inbox, mut stream)) = Box::pin(open(rt, ws, stream, origin)).await
    else {
        return;
    };
    let stop = Box::pin(session.serve(&mut stream, &inbox)).await;
    Box::pin(close(session, stop)).await;
}

/// The hello: `None` when the socket was closed instead.
async fn open(
    rt: Rt,
    mut ws: ws::Sink,
    mut stream: ws::Stream,
    origin: Option<String>,
) -> Option<(Session, SessionInbox, ws::Stream)> {
    let hello = tokio::time::timeout(
        rt.settings.limits.hello_timeout(),
        Box::pin(first_text(&mut stream, &mut ws)),
    )
    .await;
    let text = match hello {
        Ok(Some(text)) => text,
        Ok(None) => return None,
        Err(_) => {
            let _ = ws
                .close(close_reason(close_codes::POLICY, "no hello in time"))
                .await;
            return None;
        }
    };
    match Box::pin(hello_frame(&rt, &mut ws, &text, origin.as_deref())).await {
        Some((session, inbox)) => Some((session, inbox, stream)),
        None => {
            let _ = ws
                .close(close_reason(close_codes::POLICY, "authentication failed"))
                .await;
            None
        }
    }
}

/// Leaves the hub and the actors, then closes the socket with the loop's reason.
async fn close(mut session: Session, stop: Stop) {
    session.cleanup();
    if let Stop::Close(code, reason) = stop {
        let close = session.ws.close(close_reason(code, reason));
        let _ = tokio::time::timeout(CLOSE_WAIT, close).await;
    }
}

impl Session {
    pub(super) fn conv_key(&self, id: &ConversationId) -> ConvKey {
        ConvKey {
            org: self.principal.org().clone(),
            id: id.clone(),
        }
    }

    pub(super) async fn send(&mut self, text: impl Into<ByteString>) -> Result<(), Stop> {
        let deadline = self.write_deadline();
        bounded_write(&self.rt, &self.handle, deadline, self.ws.text(text)).await
    }

    /// A write waits for room in the socket; a client that stops reading would make it wait
    /// forever. The heartbeat rule bounds it in time: nothing heard for twice the heartbeat
    /// interval (PROTOCOL §1.3).
    fn write_deadline(&self) -> Instant {
        self.last_heard + self.rt.settings.limits.heartbeat() * 2
    }

    async fn serve(&mut self, stream: &mut ws::Stream, inbox: &SessionInbox) -> Stop {
        let beat = self.rt.settings.limits.heartbeat();
        let mut heartbeat = tokio::time::interval(beat);
        heartbeat.tick().await;
        self.last_heard = Instant::now();
        let mut drain = self.rt.drain_signal();
        loop {
            tokio::select! {
                biased;
                _ = drain.wait_for(|d| *d) => {
                    let bye = ServerFrame::Goodbye { reason: "restart", retry_after_ms: Some(1000) };
                    let _ = self.send(bye.to_json()).await;
                    return Stop::Close(close_codes::RESTART, "server restarting; reconnect and resume");
                }
                () = inbox.kicked() => {
                    if inbox.overflowed() {
                        crate::metrics::Metrics::inc(&self.rt.metrics.slow_consumers);
                        let bye = ServerFrame::Goodbye { reason: "slow_consumer", retry_after_ms: Some(1000) };
                        // Not `send`: the buffer's overflow would refuse it at once.
                        let _ = tokio::time::timeout(CLOSE_WAIT, self.ws.text(bye.to_json())).await;
                        return Stop::Close(close_codes::TRY_AGAIN_LATER, "send buffer full; resume");
                    }
                }
                item = inbox.recv() => {
                    if let Err(stop) = Box::pin(self.outbound(item)).await {
                        return stop;
                    }
                }
                msg = stream.recv() => {
                    self.last_heard = Instant::now();
                    let result = match msg {
                        None => return Stop::Gone,
                        Some(Err(e)) => {
                            tracing::debug!(%e, "Websocket protocol error.");
                            let code = ErrorCode::TooLarge;
                            let frame = ServerFrame::Error { id: None, code, message: "websocket protocol error or frame too large" };
                            let _ = self.send(frame.to_json()).await;
                            return Stop::Close(close_codes::POLICY, "protocol error");
                        }
                        Some(Ok(Incoming::Text(text))) => Box::pin(self.on_text(&text)).await,
                        Some(Ok(Incoming::Binary(_))) => {
                            self.reply_error(None, &CommandError::bad_request("frames are JSON text")).await
                        }
                        Some(Ok(Incoming::Ping(p))) => {
                            let deadline = self.write_deadline();
                            bounded_write(&self.rt, &self.handle, deadline, self.ws.pong(&p)).await
                        }
                        Some(Ok(Incoming::Pong(_))) => Ok(()),
                        Some(Ok(Incoming::Close(_))) => return Stop::Close(1000, "bye"),
                    };
                    if let Err(stop) = result {
                        return stop;
                    }
                }
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > beat * 2 {
                        return Stop::Close(close_codes::POLICY, "heartbeat timeout");
                    }
                    let deadline = self.write_deadline();
                    if let Err(stop) = bounded_write(&self.rt, &self.handle, deadline, self.ws.ping(b"")).await {
                        return stop;
                    }
                }
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
        if let Some(key) = self.customer.take() {
            self.rt.hub.detach_customer(&key, self.handle.id);
        }
        if let Some(key) = self.agent.take() {
            let left = self.rt.hub.detach_agent(&key, self.handle.id);
            let gone = Disconnect {
                instance: self.rt.instance().to_string(),
                sessions: left,
            };
            if self.rt.placement.clustered() {
                tell::<AgentActor, _>(&self.rt, &key, gone);
            } else if let Some(addr) = self.rt.agent_if_active(&key) {
                addr.do_send(gone);
            }
        }
    }
}

/// Runs one socket write, which waits while the client's socket is full. The session loop
/// is stuck meanwhile, so the two rules that would close a client that stopped reading are
/// applied here too: the slow-consumer rule (the hub filled this session's buffer of
/// `limits.send_buffer` items: 1013, PROTOCOL §1.6) and the heartbeat rule (nothing heard
/// until `deadline`: 1008). What a stuck session holds is thereby bounded in items (its hub
/// buffer plus the socket's queue of `ws::QUEUE_FRAMES` frames) and in time. (The `goodbye` cannot go out on a full
/// socket, so the close comes without it.)
async fn bounded_write(
    rt: &Rt,
    handle: &SessionHandle,
    deadline: Instant,
    write: impl std::future::Future<Output = Result<(), ws::Closed>>,
) -> Result<(), Stop> {
    tokio::select! {
        biased;
        res = write => res.map_err(|_| Stop::Gone),
        () = handle.overflow() => {
            crate::metrics::Metrics::inc(&rt.metrics.slow_consumers);
            Err(Stop::Close(close_codes::TRY_AGAIN_LATER, "send buffer full; resume"))
        }
        () = tokio::time::sleep_until(deadline.into()) => {
            Err(Stop::Close(close_codes::POLICY, "heartbeat timeout"))
        }
    }
}
