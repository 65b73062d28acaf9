//! One websocket connection of a simulated client: connect (bound to a source address), say
//! hello, send frames, read frames already parsed. Opened and closed connections are counted.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::protocol::{self, Incoming};
use crate::shared::{sleep_or_stop, Shared};
use crate::stats::{inc, record};

type Ws = WebSocketStream<TcpStream>;

/// What reading the socket gave.
pub enum Recv {
    Frame(Incoming),
    /// Closed by the server, broken, or never open.
    Closed,
}

pub struct Conn {
    ws: Option<Ws>,
    /// Frames read while waiting for the hello ack, handed out first.
    early: VecDeque<Incoming>,
    shared: Arc<Shared>,
}

impl Conn {
    /// A client's first connection: the node for `slot`, or — when that node cannot be reached
    /// at all (a killed node, as a load balancer would see it) — the next ones in turn. A node
    /// that answers but refuses the hello is not skipped: that is the server's answer.
    pub async fn establish_first(
        shared: &Arc<Shared>,
        slot: usize,
        token: &str,
    ) -> anyhow::Result<(Conn, Value)> {
        let nodes = shared.dialer.endpoints.len().max(1);
        let mut tried = 0;
        loop {
            let last = tried + 1 >= nodes;
            match Conn::connect(shared, slot + tried, token, &[], last).await {
                Err(e) if !last && !e.to_string().contains("hello") => {
                    shared
                        .stats
                        .note(format!("first connection rerouted: {e:#}"));
                    tried += 1;
                }
                other => return other,
            }
        }
    }

    /// Connects to the node for `slot`, says hello with `token` (and `resume` points), and
    /// returns the connection and the hello ack's data. Records connect + hello latency.
    pub async fn establish(
        shared: &Arc<Shared>,
        slot: usize,
        token: &str,
        resume: &[Value],
    ) -> anyhow::Result<(Conn, Value)> {
        Conn::connect(shared, slot, token, resume, true).await
    }

    /// `establish`; a connection that cannot be opened counts as failed only if `count_failure`.
    async fn connect(
        shared: &Arc<Shared>,
        slot: usize,
        token: &str,
        resume: &[Value],
        count_failure: bool,
    ) -> anyhow::Result<(Conn, Value)> {
        let began = Instant::now();
        let node = shared.dialer.endpoint(slot);
        let connect_timeout = Duration::from_millis(shared.scenario.run.connect_timeout_ms);
        let opened = tokio::time::timeout(connect_timeout, async {
            let tcp = shared
                .dialer
                .connect(node.addr)
                .await
                .context("TCP connect")?;
            let (ws, _) = tokio_tungstenite::client_async_with_config(
                node.url.as_str(),
                tcp,
                Some(shared.ws_config),
            )
            .await
            .context("websocket handshake")?;
            anyhow::Ok(ws)
        })
        .await
        .map_err(|_| anyhow!("no connection within {connect_timeout:?}"))
        .and_then(|r| r);
        let ws = match opened {
            Ok(ws) => ws,
            Err(e) => {
                if count_failure {
                    inc(&shared.stats.c.connections_failed);
                }
                return Err(e.context(format!("connecting to {}", node.url)));
            }
        };
        shared.stats.opened();
        let mut conn = Conn {
            ws: Some(ws),
            early: VecDeque::new(),
            shared: shared.clone(),
        };
        match conn.hello(token, resume).await {
            Ok(data) => {
                record(&shared.stats.lat.connect_hello, began.elapsed());
                Ok((conn, data))
            }
            Err(e) => {
                inc(&shared.stats.c.hello_failed);
                conn.drop_socket();
                Err(e.context(format!("hello at {}", node.url)))
            }
        }
    }

    async fn hello(&mut self, token: &str, resume: &[Value]) -> anyhow::Result<Value> {
        const ID: &str = "hello";
        if !self.send(protocol::hello(ID, token, resume)).await {
            return Err(anyhow!("connection closed before hello"));
        }
        let deadline = Instant::now() + self.shared.request_timeout();
        loop {
            let frame = tokio::time::timeout_at(deadline.into(), self.read())
                .await
                .map_err(|_| anyhow!("no hello ack within {:?}", self.shared.request_timeout()))?;
            match frame {
                Recv::Closed => return Err(anyhow!("connection closed during hello")),
                Recv::Frame(Incoming::Ack { id, data }) if id.as_deref() == Some(ID) => {
                    return Ok(data.unwrap_or(Value::Null));
                }
                Recv::Frame(Incoming::Error { id, code, message }) if id.as_deref() == Some(ID) => {
                    return Err(anyhow!("hello refused: {code}: {message}"));
                }
                Recv::Frame(other) => self.early.push_back(other),
            }
        }
    }

    /// Sends a text frame; false if the connection is gone.
    pub async fn send(&mut self, text: String) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return false;
        };
        ws.send(Message::text(text)).await.is_ok()
    }

    /// The next server frame (pings are answered by the websocket layer while reading).
    pub async fn recv(&mut self) -> Recv {
        if let Some(f) = self.early.pop_front() {
            return Recv::Frame(f);
        }
        self.read().await
    }

    async fn read(&mut self) -> Recv {
        loop {
            let Some(ws) = self.ws.as_mut() else {
                return Recv::Closed;
            };
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<Incoming>(text.as_str()) {
                        Ok(f) => return Recv::Frame(f),
                        Err(e) => {
                            inc(&self.shared.stats.c.bad_frames);
                            self.shared.stats.note(format!(
                                "unparsable frame ({e}): {}",
                                truncate(text.as_str(), 200)
                            ));
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    self.drop_socket();
                    return Recv::Closed;
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// Drops the socket without a close frame: what a network failure looks like to the server.
    pub fn drop_socket(&mut self) {
        if self.ws.take().is_some() {
            self.shared.stats.closed();
        }
        self.early.clear();
    }

    /// Closes politely (close frame, then a short wait for the server's).
    pub async fn close(&mut self) {
        if let Some(ws) = self.ws.as_mut() {
            let _ = ws.close(None).await;
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
        }
        self.drop_socket();
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.drop_socket();
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Connection attempts after a lost connection before a client gives up.
const RECONNECT_ATTEMPTS: u32 = 5;

/// How a reconnect ended.
pub enum Reconnected {
    /// A new connection and its hello ack's data.
    Up(Box<Conn>, Value),
    /// The run is stopping.
    Stopped,
    /// Every attempt failed.
    GaveUp,
}

/// Waits `delay`, then connects again with `resume` points, moving to the next node (`slot`)
/// on each attempt and backing off (200 ms, 400 ms, …) between failures.
pub async fn reconnect(
    shared: &Arc<Shared>,
    slot: &mut usize,
    token: &str,
    resume: &[Value],
    delay: Duration,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    who: &str,
) -> Reconnected {
    let mut wait = delay;
    for attempt in 0..RECONNECT_ATTEMPTS {
        if sleep_or_stop(wait, stop).await {
            return Reconnected::Stopped;
        }
        *slot += 1;
        match Conn::establish(shared, *slot, token, resume).await {
            Ok((conn, data)) => return Reconnected::Up(Box::new(conn), data),
            Err(e) => {
                shared.stats.note(format!("{who} reconnect: {e:#}"));
                wait = Duration::from_millis(200 << attempt);
            }
        }
    }
    inc(&shared.stats.c.resume_failed);
    Reconnected::GaveUp
}

/// The ids listed under `key` in a hello ack's data (`assigned`, `conversations`).
pub fn ids_in(data: &Value, key: &str) -> HashSet<String> {
    data.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

impl Conn {
    /// Sends again every request still waiting for its answer (after a reconnect), counting
    /// the chat messages among them as resent.
    pub async fn resend<'a, R: 'a>(
        &mut self,
        pending: Vec<(String, &'a R)>,
        is_message: impl Fn(&R) -> bool,
    ) {
        for (frame, req) in pending {
            if is_message(req) {
                inc(&self.shared.stats.c.messages_resent);
            }
            self.send(frame).await;
        }
    }
}
