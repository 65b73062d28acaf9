//! Command connections, error mapping, Lua script calls and reply parsing.
//!
//! The "pool" is a fixed set of multiplexed connections used round-robin: a multiplexed
//! connection already pipelines concurrent callers, so there is no checkout (and no PING per
//! checkout, which a checkout pool would add to every command). A connection that fails with an
//! I/O error or a timeout is dropped from its slot and the next caller of that slot reconnects.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, FromRedisValue, RedisError, ServerErrorKind, Value};

use crate::engine::EngineError;

/// One slot of the pool: the connection (with a generation, so a failure clears only the
/// connection that failed) and a lock that lets one caller at a time (re)connect.
struct Slot {
    con: Mutex<Option<(u64, MultiplexedConnection)>>,
    connecting: tokio::sync::Mutex<()>,
}

pub(super) struct Conns {
    /// The runtime the engine was created on: connections are opened there, so their I/O
    /// driver tasks live on it and not on whichever actor thread happened to use a slot first.
    home: tokio::runtime::Handle,
    client: redis::Client,
    config: AsyncConnectionConfig,
    slots: Vec<Slot>,
    next: AtomicUsize,
    generation: AtomicU64,
    timeout: Duration,
}

/// A connection taken from a slot.
pub(super) struct Handle {
    /// The next generation when this handle was taken: every connection older than that may
    /// have been hit by whatever breaks this one.
    taken_at: u64,
    pub con: MultiplexedConnection,
}

impl Conns {
    /// Must be called within the tokio runtime that should drive the connections.
    pub fn new(client: redis::Client, size: usize, timeout: Duration) -> Self {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        Self {
            home: tokio::runtime::Handle::current(),
            client,
            config,
            slots: (0..size.max(1))
                .map(|_| Slot {
                    con: Mutex::new(None),
                    connecting: tokio::sync::Mutex::new(()),
                })
                .collect(),
            next: AtomicUsize::new(0),
            generation: AtomicU64::new(1),
            timeout,
        }
    }

    /// Opens every slot's connection (at start-up, so a wrong URL fails there).
    pub async fn open_all(&self) -> Result<(), EngineError> {
        for slot in 0..self.slots.len() {
            self.get_slot(slot).await?;
        }
        Ok(())
    }

    /// A connection, round-robin over the slots; connects the slot if it has none.
    pub async fn get(&self) -> Result<Handle, EngineError> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        self.get_slot(slot).await
    }

    /// The connection of one slot (the appender keeps to one, so batches stay in order).
    pub async fn get_slot(&self, slot: usize) -> Result<Handle, EngineError> {
        let s = &self.slots[slot % self.slots.len()];
        let taken_at = self.generation.load(Ordering::Acquire);
        if let Some((_, con)) = s.con.lock().clone() {
            return Ok(Handle { taken_at, con });
        }
        let _connecting = s.connecting.lock().await;
        if let Some((_, con)) = s.con.lock().clone() {
            return Ok(Handle { taken_at, con });
        }
        let (client, config) = (self.client.clone(), self.config.clone());
        let connect = self.home.spawn(async move {
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await
        });
        let con = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| EngineError::Unavailable("connecting to Redis timed out".into()))?
            .map_err(|e| EngineError::Unavailable(format!("connect task failed: {e}")))?
            .map_err(|e| map_err(&e))?;
        let generation = self.generation.fetch_add(1, Ordering::AcqRel);
        *s.con.lock() = Some((generation, con.clone()));
        Ok(Handle {
            taken_at: generation + 1,
            con,
        })
    }

    /// Drops a connection that failed, and every other connection that existed when it was
    /// taken: whatever broke one (a Redis restart, a failover, a network cut) most likely broke
    /// them all, and a multiplexed connection only notices when it is next used. Connections
    /// opened since are kept. The next use of an emptied slot reconnects.
    pub fn broken(&self, h: &Handle) {
        for slot in &self.slots {
            let mut con = slot.con.lock();
            if con.as_ref().is_some_and(|(g, _)| *g < h.taken_at) {
                *con = None;
            }
        }
    }

    /// Runs one command with the command timeout.
    pub async fn cmd<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, EngineError> {
        let mut h = self.get().await?;
        let result = tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut h.con)).await;
        self.finish(&h, result)
    }

    /// Runs a pipeline (one round trip) with the command timeout.
    pub async fn pipe<T: FromRedisValue>(&self, pipe: &redis::Pipeline) -> Result<T, EngineError> {
        let mut h = self.get().await?;
        self.pipe_on(&mut h, pipe).await
    }

    pub async fn pipe_on<T: FromRedisValue>(
        &self,
        h: &mut Handle,
        pipe: &redis::Pipeline,
    ) -> Result<T, EngineError> {
        let result = tokio::time::timeout(self.timeout, pipe.query_async::<T>(&mut h.con)).await;
        self.finish(h, result)
    }

    fn finish<T>(
        &self,
        h: &Handle,
        result: Result<Result<T, RedisError>, tokio::time::error::Elapsed>,
    ) -> Result<T, EngineError> {
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let mapped = map_err(&e);
                if matches!(mapped, EngineError::Unavailable(_)) {
                    self.broken(h);
                }
                Err(mapped)
            }
            Err(_) => {
                self.broken(h);
                Err(EngineError::Unavailable(format!(
                    "Redis did not answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }

    /// Calls a script once per entry of `calls`, all in one pipeline (EVALSHA; the calls that
    /// get NOSCRIPT are sent again with EVAL, which also loads the script). The outer error is
    /// for the round trip; each call has its own result.
    pub async fn eval_many(
        &self,
        h: &mut Handle,
        lua: &Lua,
        calls: &[ScriptCall],
    ) -> Result<Vec<Result<Value, EngineError>>, EngineError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for c in calls {
            pipe.cmd("EVALSHA")
                .arg(lua.script.get_hash())
                .arg(c.keys.len())
                .arg(&c.keys)
                .arg(&c.args);
        }
        let mut values: Vec<Value> = self.pipe_on(h, &pipe).await?;
        if values.len() != calls.len() {
            return Err(EngineError::Other(format!(
                "pipeline of {} script calls got {} replies",
                calls.len(),
                values.len()
            )));
        }
        let missing: Vec<usize> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| {
                matches!(v, Value::ServerError(e) if e.kind() == Some(ServerErrorKind::NoScript))
            })
            .map(|(i, _)| i)
            .collect();
        if !missing.is_empty() {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            for &i in &missing {
                let c = &calls[i];
                pipe.cmd("EVAL")
                    .arg(lua.source)
                    .arg(c.keys.len())
                    .arg(&c.keys)
                    .arg(&c.args);
            }
            let again: Vec<Value> = self.pipe_on(h, &pipe).await?;
            if again.len() != missing.len() {
                return Err(EngineError::Other("short reply to EVAL pipeline".into()));
            }
            for (i, v) in missing.into_iter().zip(again) {
                values[i] = v;
            }
        }
        Ok(values
            .into_iter()
            .map(|v| match v {
                Value::ServerError(e) => Err(map_server_err(&e)),
                v => Ok(v),
            })
            .collect())
    }

    /// One script call on a pooled connection.
    pub async fn eval(&self, lua: &Lua, call: ScriptCall) -> Result<Value, EngineError> {
        let mut h = self.get().await?;
        let mut out = self.eval_many(&mut h, lua, &[call]).await?;
        out.pop()
            .unwrap_or_else(|| Err(EngineError::Other("no reply to script call".into())))
    }

    /// Loads a script into Redis's script cache (so EVALSHA finds it).
    pub async fn load(&self, lua: &Lua) -> Result<(), EngineError> {
        let sha: String = self
            .cmd(redis::cmd("SCRIPT").arg("LOAD").arg(lua.source))
            .await?;
        if sha != lua.script.get_hash() {
            return Err(EngineError::Other(format!(
                "Redis hashed a script to {sha}, expected {}",
                lua.script.get_hash()
            )));
        }
        Ok(())
    }
}

/// One script call: its keys (all of one hash tag) and arguments.
pub(super) struct ScriptCall {
    pub keys: Vec<String>,
    pub args: Vec<String>,
}

pub(super) struct Lua {
    pub script: redis::Script,
    pub source: &'static str,
}

impl Lua {
    pub fn new(source: &'static str) -> Self {
        Self {
            script: redis::Script::new(source),
            source,
        }
    }
}

/// Connection trouble (I/O, timeouts, a server that is loading or failing over) is
/// `Unavailable`; anything else is `Other`.
pub(super) fn map_err(e: &RedisError) -> EngineError {
    let transient = matches!(
        e.kind(),
        ErrorKind::Io
            | ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ReadOnly
            )
    ) || e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error();
    if transient {
        EngineError::Unavailable(e.to_string())
    } else {
        EngineError::Other(e.to_string())
    }
}

fn map_server_err(e: &redis::ServerError) -> EngineError {
    let msg = format!("{} {}", e.code(), e.details().unwrap_or_default());
    match e.kind() {
        Some(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly,
        ) => EngineError::Unavailable(msg),
        _ => EngineError::Other(msg),
    }
}

/// A reply element as text (bulk or simple string, or a number).
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Okay => Some("OK".into()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A reply element as a number (an integer, or a string holding one).
pub(super) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other)?.parse().ok(),
    }
}

pub(super) fn array(v: Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

/// Interprets a fenced script's reply: `{'FENCED', current}` → `Fenced { ours }`, otherwise
/// the reply's items (the first being `'OK'`, or `'MINE'`/`'HELD'` for claim).
pub(super) fn fenced_reply(v: Value, ours: u64) -> Result<Vec<Value>, EngineError> {
    let items =
        array(v).ok_or_else(|| EngineError::Other("script reply is not an array".into()))?;
    match items.first().and_then(text).as_deref() {
        Some("FENCED") => Err(EngineError::Fenced { ours }),
        Some(_) => Ok(items),
        None => Err(EngineError::Other("empty script reply".into())),
    }
}
