//! Pub/sub: one dedicated connection per engine, with reconnect.
//!
//! The set of subscribed channels is kept here (under a mutex with the current sink), so that a
//! new connection can subscribe all of them again. While the connection is down, `subscribe`
//! records the channel and answers `Unavailable` (the reconnect subscribes it, and the
//! `Reconnected` event that follows tells the node to re-read what it missed from the logs);
//! `unsubscribe` records the removal and answers Ok.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::Mutex;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::conn::map_err;
use super::keys;
use crate::engine::{BusEvent, EngineError, Topic};

/// Reconnect backoff: from the first to the longest wait, doubling.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How often an idle pub/sub connection is checked with a PING.
const HEALTH_EVERY: Duration = Duration::from_secs(5);
/// Channels per SUBSCRIBE command when (re)subscribing everything.
const SUBSCRIBE_CHUNK: usize = 512;

struct State {
    channels: HashSet<String>,
    /// `None` while disconnected.
    sink: Option<PubSubSink>,
}

pub(super) struct Bus {
    client: redis::Client,
    state: Mutex<State>,
    tx: UnboundedSender<BusEvent>,
    rx: Mutex<Option<UnboundedReceiver<BusEvent>>>,
    timeout: Duration,
}

impl Bus {
    /// Connects and subscribes `initial` (this instance's topic and the broadcast topic).
    /// Returns the bus and the first connection's message stream, for [`Bus::run`].
    pub async fn connect(
        client: redis::Client,
        initial: &[Topic],
        timeout: Duration,
    ) -> Result<(Arc<Bus>, PubSubStream), EngineError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let bus = Arc::new(Bus {
            client,
            state: Mutex::new(State {
                channels: initial.iter().map(keys::channel).collect(),
                sink: None,
            }),
            tx,
            rx: Mutex::new(Some(rx)),
            timeout,
        });
        let stream = bus.establish().await?;
        Ok((bus, stream))
    }

    pub fn take_incoming(&self) -> Option<UnboundedReceiver<BusEvent>> {
        self.rx.lock().take()
    }

    /// Opens a connection, subscribes every channel in the set and installs the sink.
    async fn establish(&self) -> Result<PubSubStream, EngineError> {
        let pubsub = tokio::time::timeout(self.timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| EngineError::Unavailable("pub/sub connect timed out".into()))?
            .map_err(|e| map_err(&e))?;
        let (mut sink, stream) = pubsub.split();
        let first: HashSet<String> = self.state.lock().channels.clone();
        self.sub_all(&mut sink, first.iter().cloned().collect(), true)
            .await?;
        // Channels added or removed while the first SUBSCRIBE was in flight.
        let (added, removed) = {
            let mut st = self.state.lock();
            let added: Vec<String> = st.channels.difference(&first).cloned().collect();
            let removed: Vec<String> = first.difference(&st.channels).cloned().collect();
            st.sink = Some(sink.clone());
            (added, removed)
        };
        self.sub_all(&mut sink, added, true).await?;
        self.sub_all(&mut sink, removed, false).await?;
        Ok(stream)
    }

    async fn sub_all(
        &self,
        sink: &mut PubSubSink,
        channels: Vec<String>,
        subscribe: bool,
    ) -> Result<(), EngineError> {
        for chunk in channels.chunks(SUBSCRIBE_CHUNK) {
            let fut = async {
                if subscribe {
                    sink.subscribe(chunk).await
                } else {
                    sink.unsubscribe(chunk).await
                }
            };
            tokio::time::timeout(self.timeout, fut)
                .await
                .map_err(|_| EngineError::Unavailable("SUBSCRIBE timed out".into()))?
                .map_err(|e| map_err(&e))?;
        }
        Ok(())
    }

    /// Reads messages until the engine is dropped (the task is aborted then): on a broken
    /// connection, reconnects with exponential backoff, re-subscribes everything and emits
    /// [`BusEvent::Reconnected`].
    pub async fn run(self: Arc<Self>, mut stream: PubSubStream) {
        loop {
            self.read(&mut stream).await;
            self.state.lock().sink = None;
            tracing::warn!("Redis pub/sub connection lost; reconnecting.");
            let mut delay = BACKOFF_MIN;
            stream = loop {
                tokio::time::sleep(delay).await;
                match self.establish().await {
                    Ok(s) => break s,
                    Err(err) => {
                        self.state.lock().sink = None;
                        tracing::warn!(%err, retry_in_ms = delay.as_millis() as u64, "Redis pub/sub reconnect failed.");
                        delay = (delay * 2).min(BACKOFF_MAX);
                    }
                }
            };
            tracing::info!("Redis pub/sub reconnected.");
            let _ = self.tx.send(BusEvent::Reconnected);
        }
    }

    /// Forwards messages until the connection ends or fails a health check.
    async fn read(&self, stream: &mut PubSubStream) {
        let mut health = tokio::time::interval(HEALTH_EVERY);
        health.tick().await;
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { return };
                    let channel = msg.get_channel_name();
                    let Some(topic) = keys::topic(channel) else {
                        tracing::debug!(channel, "Message on an unknown channel; ignored.");
                        continue;
                    };
                    match msg.get_payload::<String>() {
                        Ok(payload) => {
                            let _ = self.tx.send(BusEvent::Message { topic, payload });
                        }
                        Err(err) => tracing::warn!(channel, %err, "Pub/sub payload is not text; ignored."),
                    }
                }
                _ = health.tick() => {
                    if !self.healthy().await {
                        return;
                    }
                }
            }
        }
    }

    /// PINGs the pub/sub connection (allowed while subscribed).
    pub(super) async fn healthy(&self) -> bool {
        let sink = self.state.lock().sink.clone();
        let Some(mut sink) = sink else { return false };
        let ping = tokio::time::timeout(self.timeout, sink.ping::<redis::Value>()).await;
        matches!(ping, Ok(Ok(_)))
    }

    pub async fn subscribe(&self, topic: &Topic) -> Result<(), EngineError> {
        let channel = keys::channel(topic);
        let sink = {
            let mut st = self.state.lock();
            st.channels.insert(channel.clone());
            st.sink.clone()
        };
        let Some(mut sink) = sink else {
            return Err(EngineError::Unavailable(
                "pub/sub is reconnecting; the topic is subscribed once it is back".into(),
            ));
        };
        self.sub_all(&mut sink, vec![channel.clone()], true).await?;
        // An unsubscribe that raced this call wins: undo what the set no longer wants.
        if !self.state.lock().channels.contains(&channel) {
            self.sub_all(&mut sink, vec![channel], false).await?;
        }
        Ok(())
    }

    pub async fn unsubscribe(&self, topic: &Topic) -> Result<(), EngineError> {
        let channel = keys::channel(topic);
        let sink = {
            let mut st = self.state.lock();
            st.channels.remove(&channel);
            st.sink.clone()
        };
        let Some(mut sink) = sink else {
            return Ok(());
        };
        self.sub_all(&mut sink, vec![channel.clone()], false)
            .await?;
        if self.state.lock().channels.contains(&channel) {
            self.sub_all(&mut sink, vec![channel], true).await?;
        }
        Ok(())
    }
}
