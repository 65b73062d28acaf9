//! The Redis engine (cluster mode, DESIGN §4). docs/REDIS.md describes the key schema, each Lua
//! script and the invariant it guards.
//!
//! - **Logs** are Redis Streams appended by `scripts/append.lua` (fenced, deduplicated,
//!   seq-assigning), group-committed by one appender task per engine ([`log`]).
//! - **Leases** with fencing epochs (`claim.lua`, `renew.lua`, `release.lua`), fenced actor
//!   state (`put_state.lua`), membership with heartbeats on the Redis clock.
//! - **Summaries, surveys, orgs** with per-org indexes ([`store`]).
//! - **Pub/sub** on a dedicated connection that reconnects and re-subscribes ([`bus`]).
//!
//! No script touches keys of two hash tags, so every script runs on Redis Cluster; multi-key
//! work across tags uses pipelines. Connection trouble and timeouts (`command_timeout_ms` on
//! every round trip) are `EngineError::Unavailable`.
//!
//! (Over 500 lines: this file is the `Engine` and `Cluster` implementations, one short method
//! per trait method; keys, scripts, connections, the log appender and the stored documents
//! each have their own file.)

mod bus;
mod conn;
mod keys;
mod log;
mod privacy;
mod store;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use self::bus::Bus;
use self::conn::{array, fenced_reply, int, text, Conns, Lua, ScriptCall};
use self::keys::ActorKeys;
use self::log::{AppendReq, Notify};
use super::*;
use crate::config::RedisSettings;

/// The Lua scripts, each loaded at connect (and re-sent with EVAL if Redis lost them).
struct Scripts {
    append: Lua,
    claim: Lua,
    renew: Lua,
    release: Lua,
    put_state: Lua,
    heartbeat: Lua,
}

impl Scripts {
    fn new() -> Self {
        Self {
            append: Lua::new(include_str!("scripts/append.lua")),
            claim: Lua::new(include_str!("scripts/claim.lua")),
            renew: Lua::new(include_str!("scripts/renew.lua")),
            release: Lua::new(include_str!("scripts/release.lua")),
            put_state: Lua::new(include_str!("scripts/put_state.lua")),
            heartbeat: Lua::new(include_str!("scripts/heartbeat.lua")),
        }
    }

    fn all(&self) -> [&Lua; 6] {
        [
            &self.append,
            &self.claim,
            &self.renew,
            &self.release,
            &self.put_state,
            &self.heartbeat,
        ]
    }
}

/// What the engine's futures and background tasks share.
struct Shared {
    conns: Conns,
    scripts: Scripts,
    instance: String,
    lease_ttl_ms: u64,
    /// Append requests sent to the appender and not yet taken into a batch.
    queued: AtomicUsize,
    /// Beyond this many queued requests `append` fails fast with `Unavailable`.
    max_queued: usize,
    /// Append pipelines sent (group commits), for tests and diagnostics.
    commits: AtomicU64,
}

/// See the module docs.
pub struct RedisEngine {
    me: Weak<RedisEngine>,
    shared: Arc<Shared>,
    node_id: String,
    appends: mpsc::UnboundedSender<AppendReq>,
    bus: Arc<Bus>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RedisEngine {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn owned_member(actor: &ActorRef) -> Result<String, EngineError> {
    serde_json::to_string(actor).map_err(|e| EngineError::Other(format!("actor ref: {e}")))
}

impl RedisEngine {
    /// Connects (pool + pub/sub), loads the Lua scripts, subscribes to this instance's topic and
    /// the broadcast topic, and starts the background tasks (group-commit appender, pub/sub
    /// reader with reconnect). The instance id is `{node_id}-{8 random hex}`. Must be called
    /// within a tokio runtime.
    pub async fn connect(
        settings: &RedisSettings,
        node_id: &str,
    ) -> Result<Arc<Self>, EngineError> {
        let client = ::redis::Client::open(settings.url.as_str())
            .map_err(|e| EngineError::Other(format!("Redis URL {:?}: {e}", settings.url)))?;
        let timeout = Duration::from_millis(settings.command_timeout_ms.max(1));
        let raw = uuid::Uuid::new_v4().simple().to_string();
        let instance = format!("{node_id}-{}", &raw[..8]);
        let shared = Arc::new(Shared {
            conns: Conns::new(client.clone(), settings.pool_size, timeout),
            scripts: Scripts::new(),
            instance: instance.clone(),
            lease_ttl_ms: settings.lease_ttl_ms.max(1),
            queued: AtomicUsize::new(0),
            max_queued: settings.max_batch.max(1).saturating_mul(64),
            commits: AtomicU64::new(0),
        });
        shared.conns.open_all().await?;
        for lua in shared.scripts.all() {
            shared.conns.load(lua).await?;
        }
        let (bus, stream) = Bus::connect(
            client,
            &[Topic::Instance(instance.clone()), Topic::Broadcast],
            timeout,
        )
        .await?;
        let max_batch = settings.max_batch.max(1);
        let (appends, rx) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(log::appender(shared.clone(), rx, max_batch)),
            tokio::spawn(bus.clone().run(stream)),
        ];
        tracing::info!(%instance, url = %redacted(&settings.url), "Connected to Redis.");
        Ok(Arc::new_cyclic(|me| RedisEngine {
            me: me.clone(),
            shared,
            node_id: node_id.to_string(),
            appends,
            bus,
            tasks,
        }))
    }

    fn run<T, F>(&self, f: impl FnOnce(Arc<Shared>) -> F) -> EngineFuture<T>
    where
        F: Future<Output = Result<T, EngineError>> + Send + 'static,
    {
        Box::pin(f(self.shared.clone()))
    }
}

/// The URL without its password, for logs.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

impl Engine for RedisEngine {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn append(
        &self,
        conv: &ConvKey,
        fence: Fence,
        prev_public: u64,
        events: Vec<NewEvent>,
    ) -> EngineFuture<Vec<Appended>> {
        // Queued now, not when the future is first polled: appends are committed in the order
        // they were made.
        let notify = Notify {
            instance: &self.shared.instance,
            prev_public,
        };
        let queued = AppendReq::prepare(conv, fence.epoch, events, Utc::now(), notify).and_then(
            |(req, rx)| {
                let s = &self.shared;
                if s.queued.fetch_add(1, Ordering::AcqRel) >= s.max_queued {
                    s.queued.fetch_sub(1, Ordering::AcqRel);
                    return Err(EngineError::Unavailable(
                        "too many appends waiting for Redis".into(),
                    ));
                }
                self.appends.send(req).map_err(|_| {
                    s.queued.fetch_sub(1, Ordering::AcqRel);
                    EngineError::Unavailable("the log appender has stopped".into())
                })?;
                Ok(rx)
            },
        );
        Box::pin(async move {
            queued?
                .await
                .map_err(|_| EngineError::Unavailable("the log appender has stopped".into()))?
        })
    }

    fn read_log(
        &self,
        conv: &ConvKey,
        after_seq: u64,
        limit: usize,
    ) -> EngineFuture<Option<LogSlice>> {
        let conv = conv.clone();
        self.run(move |s| async move { log::read(&s, &conv, after_seq, limit).await })
    }

    fn put_summary(&self, summary: ConversationSummary) -> EngineFuture<()> {
        self.run(move |s| async move { store::put_summary(&s, summary).await })
    }

    fn summary(&self, conv: &ConvKey) -> EngineFuture<Option<ConversationSummary>> {
        let conv = conv.clone();
        self.run(move |s| async move { store::summary(&s, &conv).await })
    }

    fn find_conversations(
        &self,
        org: &OrgId,
        filter: ConversationFilter,
    ) -> EngineFuture<Vec<ConversationSummary>> {
        let org = org.clone();
        self.run(move |s| async move { store::find(&s, &org, filter).await })
    }

    fn put_survey(&self, survey: SurveyRecord) -> EngineFuture<()> {
        self.run(move |s| async move { store::put_survey(&s, survey).await })
    }

    fn surveys(&self, org: &OrgId) -> EngineFuture<Vec<SurveyRecord>> {
        let org = org.clone();
        self.run(move |s| async move { store::surveys(&s, &org).await })
    }

    fn mark_archived(&self, conv: &ConvKey, seq: u64) -> EngineFuture<()> {
        let key = keys::OrgIndex::new(&conv.org).archived();
        let id = conv.id.to_string();
        self.run(move |s| async move {
            s.conns
                .cmd::<()>(::redis::cmd("HSET").arg(key).arg(id).arg(seq))
                .await
        })
    }

    fn expire_conversation(&self, conv: &ConvKey, after: Duration) -> EngineFuture<()> {
        let conv = conv.clone();
        self.run(move |s| async move { store::expire_conversation(&s, &conv, after).await })
    }

    fn forget_conversation(&self, conv: &ConvKey) -> EngineFuture<()> {
        let conv = conv.clone();
        self.run(move |s| async move { privacy::forget_conversation(&s, &conv).await })
    }

    fn archived_marks(&self, org: &OrgId, ids: Vec<ConversationId>) -> EngineFuture<Vec<u64>> {
        let key = keys::OrgIndex::new(org).archived();
        self.run(move |s| async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut cmd = ::redis::cmd("HMGET");
            cmd.arg(key);
            for id in &ids {
                cmd.arg(id.as_str());
            }
            let marks: Vec<Option<u64>> = s.conns.cmd(&cmd).await?;
            Ok(marks.into_iter().map(|m| m.unwrap_or(0)).collect())
        })
    }

    fn agent_doc(
        &self,
        org: &OrgId,
        agent: &AgentId,
        kind: &'static str,
    ) -> EngineFuture<Option<String>> {
        let key = keys::OrgIndex::new(org).agent_doc(agent, kind);
        self.run(move |s| async move { s.conns.cmd(::redis::cmd("GET").arg(key)).await })
    }

    fn put_agent_doc(
        &self,
        org: &OrgId,
        agent: &AgentId,
        kind: &'static str,
        json: String,
    ) -> EngineFuture<()> {
        let key = keys::OrgIndex::new(org).agent_doc(agent, kind);
        self.run(move |s| async move {
            s.conns
                .cmd::<()>(::redis::cmd("SET").arg(key).arg(json))
                .await
        })
    }

    fn put_attachment(&self, record: AttachmentRecord) -> EngineFuture<()> {
        self.run(move |s| async move { store::put_attachment(&s, record).await })
    }

    fn attachment(&self, org: &OrgId, id: &AttachmentId) -> EngineFuture<Option<AttachmentRecord>> {
        let (org, id) = (org.clone(), id.clone());
        self.run(move |s| async move { store::attachment(&s, &org, &id).await })
    }

    fn conversation_attachments(&self, conv: &ConvKey) -> EngineFuture<Vec<AttachmentRecord>> {
        let conv = conv.clone();
        self.run(move |s| async move { privacy::conversation_attachments(&s, &conv).await })
    }

    fn delete_attachment(&self, org: &OrgId, id: &AttachmentId) -> EngineFuture<()> {
        let (org, id) = (org.clone(), id.clone());
        self.run(move |s| async move { privacy::delete_attachment(&s, &org, &id).await })
    }

    fn put_org(&self, org: Arc<OrgConfig>) -> EngineFuture<()> {
        self.run(move |s| async move { store::put_org(&s, org).await })
    }

    fn load_orgs(&self) -> EngineFuture<Vec<Arc<OrgConfig>>> {
        self.run(move |s| async move { store::load_orgs(&s).await })
    }

    fn check_ready(&self) -> EngineFuture<()> {
        self.run(move |s| async move {
            let pong: String = s.conns.cmd(&::redis::cmd("PING")).await?;
            if pong == "PONG" {
                Ok(())
            } else {
                Err(EngineError::Other(format!("PING answered {pong:?}")))
            }
        })
    }

    fn cluster(&self) -> Option<SharedCluster> {
        self.me.upgrade().map(|me| me as SharedCluster)
    }
}

impl Cluster for RedisEngine {
    fn instance(&self) -> &str {
        &self.shared.instance
    }

    fn node_id(&self) -> &str {
        &self.node_id
    }

    fn heartbeat(&self) -> EngineFuture<()> {
        self.run(move |s| async move {
            let call = ScriptCall {
                keys: vec![keys::NODES.to_string()],
                args: vec![s.instance.clone()],
            };
            s.conns.eval(&s.scripts.heartbeat, call).await.map(|_| ())
        })
    }

    fn members(&self) -> EngineFuture<Vec<Member>> {
        self.run(move |s| async move {
            let mut pipe = ::redis::pipe();
            pipe.cmd("TIME")
                .cmd("ZRANGE")
                .arg(keys::NODES)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES");
            let (time, rows): (Vec<u64>, Vec<(String, f64)>) = s.conns.pipe(&pipe).await?;
            let now_ms = match time.as_slice() {
                [secs, micros, ..] => secs * 1000 + micros / 1000,
                _ => return Err(EngineError::Other("bad TIME reply".into())),
            };
            Ok(rows
                .into_iter()
                .map(|(instance, score)| Member {
                    instance,
                    silent_ms: now_ms.saturating_sub(score.max(0.0) as u64),
                })
                .collect())
        })
    }

    fn forget(&self, instance: &str) -> EngineFuture<()> {
        let instance = instance.to_string();
        self.run(move |s| async move {
            let mut pipe = ::redis::pipe();
            pipe.cmd("ZREM")
                .arg(keys::NODES)
                .arg(&instance)
                .ignore()
                .cmd("DEL")
                .arg(keys::owned(&instance))
                .ignore();
            s.conns.pipe::<()>(&pipe).await
        })
    }

    fn lock_reap(&self, instance: &str) -> EngineFuture<bool> {
        let key = keys::reap(instance);
        self.run(move |s| async move {
            let won: Option<String> = s
                .conns
                .cmd(
                    ::redis::cmd("SET")
                        .arg(key)
                        .arg(&s.instance)
                        .arg("NX")
                        .arg("PX")
                        .arg(30_000),
                )
                .await?;
            Ok(won.is_some())
        })
    }

    fn owned(&self, instance: &str) -> EngineFuture<Vec<ActorRef>> {
        let key = keys::owned(instance);
        self.run(move |s| async move {
            let rows: Vec<String> = s.conns.cmd(::redis::cmd("SMEMBERS").arg(&key)).await?;
            Ok(rows
                .iter()
                .filter_map(|json| match serde_json::from_str::<ActorRef>(json) {
                    Ok(a) => Some(a),
                    Err(err) => {
                        tracing::error!(%key, %err, "Owned-set member does not parse; skipped.");
                        None
                    }
                })
                .collect())
        })
    }

    fn claim(&self, actor: &ActorRef, steal_from: Option<&str>) -> EngineFuture<Claim> {
        let keys = ActorKeys::new(actor);
        let member = owned_member(actor);
        let steal = steal_from.unwrap_or_default().to_string();
        self.run(move |s| async move {
            // Owned first: a crash between the two leaves a superset, never a lease nobody
            // knows this instance may hold.
            s.conns
                .cmd::<()>(
                    ::redis::cmd("SADD")
                        .arg(keys::owned(&s.instance))
                        .arg(member?),
                )
                .await?;
            let call = ScriptCall {
                keys: vec![keys.lease, keys.epoch],
                args: vec![s.instance.clone(), steal, s.lease_ttl_ms.to_string()],
            };
            let reply = s.conns.eval(&s.scripts.claim, call).await?;
            let items = array(reply).unwrap_or_default();
            let bad = || EngineError::Other("bad claim reply".into());
            match items.first().and_then(text).as_deref() {
                Some("MINE") => {
                    let epoch = items
                        .get(1)
                        .and_then(int)
                        .and_then(|e| u64::try_from(e).ok())
                        .ok_or_else(bad)?;
                    Ok(Claim::Mine { epoch })
                }
                Some("HELD") => Ok(Claim::Held {
                    by: items.get(1).and_then(text).ok_or_else(bad)?,
                }),
                _ => Err(bad()),
            }
        })
    }

    fn holder(&self, actor: &ActorRef) -> EngineFuture<Option<String>> {
        let keys = ActorKeys::new(actor);
        self.run(move |s| async move {
            let lease: Option<String> = s.conns.cmd(::redis::cmd("GET").arg(&keys.lease)).await?;
            Ok(lease.map(|v| match v.rsplit_once(':') {
                Some((holder, epoch)) if epoch.parse::<u64>().is_ok() => holder.to_string(),
                _ => v,
            }))
        })
    }

    fn renew(&self, leases: Vec<(ActorRef, u64)>) -> EngineFuture<Vec<bool>> {
        self.run(move |s| async move {
            let ttl = s.lease_ttl_ms.to_string();
            let calls: Vec<ScriptCall> = leases
                .iter()
                .map(|(actor, epoch)| {
                    let k = ActorKeys::new(actor);
                    ScriptCall {
                        keys: vec![k.lease, k.epoch],
                        args: vec![
                            format!("{}:{epoch}", s.instance),
                            epoch.to_string(),
                            ttl.clone(),
                        ],
                    }
                })
                .collect();
            let mut h = s.conns.get().await?;
            let results = s.conns.eval_many(&mut h, &s.scripts.renew, &calls).await?;
            results
                .into_iter()
                .map(|r| r.map(|v| int(&v) == Some(1)))
                .collect()
        })
    }

    fn release(&self, leases: Vec<(ActorRef, u64)>) -> EngineFuture<()> {
        self.run(move |s| async move {
            if leases.is_empty() {
                return Ok(());
            }
            let calls: Vec<ScriptCall> = leases
                .iter()
                .map(|(actor, epoch)| ScriptCall {
                    keys: vec![ActorKeys::new(actor).lease],
                    args: vec![format!("{}:{epoch}", s.instance)],
                })
                .collect();
            let mut h = s.conns.get().await?;
            for r in s
                .conns
                .eval_many(&mut h, &s.scripts.release, &calls)
                .await?
            {
                r?;
            }
            let mut srem = ::redis::cmd("SREM");
            srem.arg(keys::owned(&s.instance));
            for (actor, _) in &leases {
                srem.arg(owned_member(actor)?);
            }
            s.conns.cmd::<()>(&srem).await
        })
    }

    fn put_state(&self, actor: &ActorRef, epoch: u64, state: String) -> EngineFuture<()> {
        let keys = ActorKeys::new(actor);
        self.run(move |s| async move {
            let call = ScriptCall {
                keys: vec![keys.epoch, keys.state],
                args: vec![epoch.to_string(), state],
            };
            let reply = s.conns.eval(&s.scripts.put_state, call).await?;
            fenced_reply(reply, epoch).map(|_| ())
        })
    }

    fn get_state(&self, actor: &ActorRef) -> EngineFuture<Option<String>> {
        let keys = ActorKeys::new(actor);
        self.run(move |s| async move { s.conns.cmd(::redis::cmd("GET").arg(&keys.state)).await })
    }

    fn publish(&self, topic: &Topic, payload: String) -> EngineFuture<()> {
        let channel = keys::channel(topic);
        self.run(move |s| async move {
            s.conns
                .cmd::<()>(::redis::cmd("PUBLISH").arg(channel).arg(payload))
                .await
        })
    }

    fn publish_many(&self, batch: Vec<(Topic, String)>) -> EngineFuture<()> {
        let mut pipe = ::redis::pipe();
        for (topic, payload) in batch {
            pipe.cmd("PUBLISH")
                .arg(keys::channel(&topic))
                .arg(payload)
                .ignore();
        }
        self.run(move |s| async move { s.conns.pipe::<()>(&pipe).await })
    }

    fn subscribe(&self, topic: &Topic) -> EngineFuture<()> {
        let bus = self.bus.clone();
        let topic = topic.clone();
        Box::pin(async move { bus.subscribe(&topic).await })
    }

    fn unsubscribe(&self, topic: &Topic) -> EngineFuture<()> {
        let bus = self.bus.clone();
        let topic = topic.clone();
        Box::pin(async move { bus.unsubscribe(&topic).await })
    }

    fn take_incoming(&self) -> Option<mpsc::UnboundedReceiver<BusEvent>> {
        self.bus.take_incoming()
    }
}
