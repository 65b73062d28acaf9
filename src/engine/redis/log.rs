//! Conversation logs: the group-commit appender and log reads.
//!
//! `append` prepares its batch (events stamped and serialized in the caller's task) and hands it
//! to the one appender task of the engine, which takes everything queued (up to `max_batch`
//! requests) and sends it as ONE pipeline of `append.lua` calls on its own connection. While a
//! pipeline is in flight new requests queue up and go in the next one: the batch grows with the
//! load, so throughput is bounded by the batch size per round trip, not by one round trip per
//! event. One pipeline at a time on one connection also keeps a conversation's appends in the
//! order they were made.
//!
//! The script also publishes each new event on the conversation's topic for the other nodes
//! (the head `{"t":"event",…}`, a newline, the event as logged; see `append.lua` and
//! `hub::relay`): a message crosses Redis once, and followers elsewhere hear of it only once it
//! is durable.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use redis::Value;
use tokio::sync::{mpsc, oneshot};

use super::conn::{array, fenced_reply, int, text, ScriptCall};
use super::keys::{self, ConvKeys};
use super::Shared;
use crate::engine::{Appended, EngineError, LogSlice, NewEvent, Topic};
use crate::ids::ConvKey;
use crate::protocol::{LogEvent, Visibility};

/// What serde_json writes first for a [`LogEvent`] whose seq is 0 (seq is its first field).
/// The script replaces it with the seq it assigns.
const SEQ_PLACEHOLDER: &str = "{\"seq\":0,";

/// The pool slot the appender uses (the other callers share it round-robin, which is fine:
/// a multiplexed connection keeps each caller's commands in order).
const APPENDER_SLOT: usize = 0;

/// Where the appender answers one `append` call.
pub(super) type AppendReply = oneshot::Receiver<Result<Vec<Appended>, EngineError>>;

pub(super) struct AppendReq {
    call: ScriptCall,
    pending: Pending,
}

/// What answers the caller once the script ran.
struct Pending {
    fence: u64,
    /// The events as written, with seq 0 until the script assigns it.
    events: Vec<LogEvent>,
    reply: oneshot::Sender<Result<Vec<Appended>, EngineError>>,
}

/// Who is told of the new events: the script publishes each on the conversation's topic, for
/// the other nodes (src/hub/relay.rs), in the same round trip as the append.
pub(super) struct Notify<'a> {
    /// This node's instance id (its own notifications are ignored when they come back).
    pub instance: &'a str,
    /// The conversation's last public seq before the batch.
    pub prev_public: u64,
}

impl AppendReq {
    /// Stamps and serializes a batch. Fails only if an event cannot be serialized.
    pub fn prepare(
        conv: &ConvKey,
        fence: u64,
        events: Vec<NewEvent>,
        at: DateTime<Utc>,
        notify: Notify<'_>,
    ) -> Result<(Self, AppendReply), EngineError> {
        let keys = ConvKeys::new(conv);
        let mut args = Vec::with_capacity(5 + events.len() * 3);
        args.push(fence.to_string());
        args.push(new_generation());
        args.push(keys::channel(&Topic::Conversation(conv.clone())));
        args.push(format!(
            r#"{{"t":"event","o":{},"c":{}"#,
            serde_json::Value::from(notify.instance),
            serde_json::Value::from(conv.id.as_str())
        ));
        args.push(notify.prev_public.to_string());
        let mut logged = Vec::with_capacity(events.len());
        for e in events {
            let event = LogEvent {
                seq: 0,
                at,
                visibility: e.kind.visibility(),
                author: e.author,
                kind: e.kind,
                redacted: false,
            };
            let json = serde_json::to_string(&event)
                .map_err(|err| EngineError::Other(format!("serializing an event: {err}")))?;
            let Some(tail) = json.strip_prefix(SEQ_PLACEHOLDER) else {
                return Err(EngineError::Other(format!(
                    "serialized event does not start with {SEQ_PLACEHOLDER}"
                )));
            };
            args.push(e.dedup_key.map(|k| format!("k{k}")).unwrap_or_default());
            args.push(
                match event.visibility {
                    Visibility::Public => "public",
                    Visibility::Agents => "agents",
                }
                .to_string(),
            );
            args.push(tail.to_string());
            logged.push(event);
        }
        let (tx, rx) = oneshot::channel();
        Ok((
            Self {
                call: ScriptCall {
                    keys: vec![keys.epoch, keys.seq, keys.log, keys.dedup, keys.gen],
                    args,
                },
                pending: Pending {
                    fence,
                    events: logged,
                    reply: tx,
                },
            },
            rx,
        ))
    }
}

/// A new log generation: a log that Redis lost comes back with another one, so clients that
/// saw the old one are told they cannot resume (`recovered: false`).
fn new_generation() -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    format!("r{}", &raw[..12])
}

/// The appender task: one pipeline per batch of queued requests, until the engine is dropped.
pub(super) async fn appender(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<AppendReq>,
    max_batch: usize,
) {
    let max_batch = max_batch.max(1);
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        let n = rx.recv_many(&mut batch, max_batch).await;
        if n == 0 {
            return;
        }
        shared.queued.fetch_sub(n, Ordering::AcqRel);
        commit(&shared, std::mem::take(&mut batch)).await;
        batch.reserve(max_batch);
    }
}

async fn commit(shared: &Shared, batch: Vec<AppendReq>) {
    let (calls, batch): (Vec<ScriptCall>, Vec<Pending>) =
        batch.into_iter().map(|r| (r.call, r.pending)).unzip();
    let mut h = match shared.conns.get_slot(APPENDER_SLOT).await {
        Ok(h) => h,
        Err(err) => return fail_all(batch, err),
    };
    shared.commits.fetch_add(1, Ordering::Relaxed);
    let results = match shared
        .conns
        .eval_many(&mut h, &shared.scripts.append, &calls)
        .await
    {
        Ok(r) => r,
        Err(err) => return fail_all(batch, err),
    };
    for (req, result) in batch.into_iter().zip(results) {
        let outcome = result.and_then(|v| finish(v, req.fence, req.events));
        if let Err(err) = &outcome {
            if !matches!(err, EngineError::Fenced { .. }) {
                tracing::warn!(%err, "Log append failed.");
            }
        }
        let _ = req.reply.send(outcome);
    }
}

/// Nothing of the batch is known to be written: every caller gets the error (they retry with
/// the same dedup keys, so a batch that did land is not written twice).
fn fail_all(batch: Vec<Pending>, err: EngineError) {
    tracing::warn!(%err, requests = batch.len(), "Log append pipeline failed.");
    for req in batch {
        let _ = req.reply.send(Err(err.clone()));
    }
}

/// Turns a script reply into the appended events.
fn finish(v: Value, fence: u64, events: Vec<LogEvent>) -> Result<Vec<Appended>, EngineError> {
    let items = fenced_reply(v, fence)?;
    let bad = |what: &str| EngineError::Other(format!("bad append reply: {what}"));
    let generation: Arc<str> = Arc::from(items.get(1).and_then(text).ok_or_else(|| bad("gen"))?);
    let rest = items.get(2..).unwrap_or_default();
    if rest.len() != events.len() * 3 {
        return Err(bad("wrong number of results"));
    }
    let mut out = Vec::with_capacity(events.len());
    for (mut event, r) in events.into_iter().zip(rest.chunks(3)) {
        let seq = int(&r[0])
            .and_then(|s| u64::try_from(s).ok())
            .ok_or_else(|| bad("seq"))?;
        let duplicate = int(&r[1]) == Some(1);
        let event = if duplicate {
            let json = text(&r[2]).ok_or_else(|| bad("stored event"))?;
            let mut stored: LogEvent = serde_json::from_str(&json).map_err(|err| {
                EngineError::Other(format!("stored event {seq} does not parse: {err}"))
            })?;
            stored.seq = seq;
            stored
        } else {
            event.seq = seq;
            event
        };
        out.push(Appended {
            event: Arc::new(event),
            epoch: generation.clone(),
            duplicate,
        });
    }
    Ok(out)
}

/// Events with `seq > after_seq`, at most `limit`; `None` when the conversation has no log.
pub(super) async fn read(
    shared: &Shared,
    conv: &ConvKey,
    after_seq: u64,
    limit: usize,
) -> Result<Option<LogSlice>, EngineError> {
    let keys = ConvKeys::new(conv);
    let mut pipe = redis::pipe();
    pipe.cmd("GET").arg(&keys.gen).cmd("GET").arg(&keys.seq);
    let read_entries = limit > 0 && after_seq < u64::MAX;
    if read_entries {
        pipe.cmd("XRANGE")
            .arg(&keys.log)
            .arg(format!("{}-0", after_seq + 1))
            .arg("+")
            .arg("COUNT")
            .arg(limit.min(i64::MAX as usize));
    }
    let mut replies: Vec<Value> = shared.conns.pipe(&pipe).await?;
    if replies.len() != if read_entries { 3 } else { 2 } {
        return Err(EngineError::Other("short reply to log read".into()));
    }
    let entries = if read_entries { replies.pop() } else { None };
    let last_seq = int(&replies[1])
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(0);
    let Some(generation) = text(&replies[0]) else {
        return Ok(None);
    };
    let events = entries
        .and_then(array)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| parse_entry(conv, entry))
        .map(Arc::new)
        .collect();
    Ok(Some(LogSlice {
        epoch: Arc::from(generation),
        events,
        last_seq,
    }))
}

/// One stream entry `[id, [field, value, ...]]` as an event; a bad entry is logged and skipped.
fn parse_entry(conv: &ConvKey, entry: Value) -> Option<LogEvent> {
    let mut parts = array(entry)?.into_iter();
    let id = parts.next().as_ref().and_then(text);
    let seq = id
        .as_deref()
        .and_then(|id| id.split('-').next())
        .and_then(|s| s.parse::<u64>().ok());
    let json = match parts.next() {
        Some(Value::Map(pairs)) => pairs
            .into_iter()
            .find(|(k, _)| text(k).as_deref() == Some("e"))
            .and_then(|(_, v)| text(&v)),
        Some(other) => array(other).and_then(|fields| {
            fields
                .chunks(2)
                .find(|kv| text(&kv[0]).as_deref() == Some("e"))
                .and_then(|kv| kv.get(1).and_then(text))
        }),
        None => None,
    };
    let parsed = json
        .as_deref()
        .map(serde_json::from_str::<LogEvent>)
        .transpose();
    match (seq, parsed) {
        (Some(seq), Ok(Some(mut event))) => {
            event.seq = seq;
            Some(event)
        }
        (_, Err(err)) => {
            tracing::error!(conversation = %conv.id, org = %conv.org, ?id, %err, "Skipping a log entry that does not parse.");
            None
        }
        _ => {
            tracing::error!(conversation = %conv.id, org = %conv.org, ?id, "Skipping a malformed log entry.");
            None
        }
    }
}
