//! The Redis engine's durable log append (DESIGN §4): what does one fenced, deduplicated,
//! seq-assigning append cost through `RedisEngine::append`, awaited one at a time, and how far
//! does group commit (the engine's appender sending everything queued as one pipeline) carry
//! throughput when many conversations append at once?
//!
//! The bench starts its own `redis-server` on a free port (never the machine's 6379) with the
//! shipped durability setting, `appendonly yes` + `appendfsync always` (see
//! `tests/support/redis.rs`), so every figure includes the fsync. It fails loudly if
//! `redis-server` is not installed.
//!
//! - `redis_engine/append_one`: one append, awaited before the next (latency of one ack).
//! - `redis_engine/append_concurrent_512`: 512 appends to 128 conversations issued together and
//!   awaited together; throughput is appends per second.

#[path = "../tests/support/redis.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::future::join_all;
use switchboard::config::RedisSettings;
use switchboard::engine::redis::RedisEngine;
use switchboard::engine::{ActorRef, Claim, Engine, EngineError, Fence, NewEvent};
use switchboard::ids::{ConvKey, ConversationId, OrgId};
use switchboard::protocol::{Author, AuthorRole, EventKind};

const CONVERSATIONS: usize = 128;
const IN_FLIGHT: usize = 512;

fn message(n: u64) -> NewEvent {
    let cmid = format!("m{n}");
    NewEvent {
        author: Author {
            role: AuthorRole::Customer,
            id: Some("v_bench".into()),
            name: None,
        },
        kind: EventKind::Message {
            text: "Hello, I would like to know where my order is.".into(),
            client_msg_id: cmid.clone(),
            attachments: Vec::new(),
        },
        dedup_key: Some(format!("c:v_bench:{cmid}")),
    }
}

fn append(c: &mut Criterion) {
    let server = redis_server::RedisServer::start();
    let system = actix_rt::System::new();
    let settings = RedisSettings {
        url: server.url(),
        ..RedisSettings::default()
    };
    let engine = system.block_on(async {
        RedisEngine::connect(&settings, "bench")
            .await
            .expect("connect to the bench's redis-server")
    });
    let org = OrgId::parse("bench").expect("org id");
    // Claim every conversation's lease, as the owning node does before it appends.
    let convs: Vec<(ConvKey, Fence)> = system.block_on(async {
        let cluster = engine.cluster().expect("the redis engine is a cluster");
        let mut convs = Vec::new();
        for _ in 0..CONVERSATIONS {
            let key = ConvKey {
                org: org.clone(),
                id: ConversationId::generate(),
            };
            let epoch = match cluster
                .claim(&ActorRef::Conversation(key.clone()), None)
                .await
                .expect("claim")
            {
                Claim::Mine { epoch } => epoch,
                other => panic!("a fresh conversation is held: {other:?}"),
            };
            convs.push((key, Fence { epoch }));
        }
        convs
    });
    let convs = Arc::new(convs);
    let mut n = 0u64;

    c.bench_function("redis_engine/append_one", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            system.block_on(async {
                for _ in 0..iters {
                    n += 1;
                    let (key, fence) = &convs[n as usize % CONVERSATIONS];
                    let out = engine
                        .append(key, *fence, 0, vec![message(n)])
                        .await
                        .expect("append");
                    assert!(!out[0].duplicate);
                }
            });
            start.elapsed()
        })
    });

    let mut group = c.benchmark_group("redis_engine");
    group.throughput(Throughput::Elements(IN_FLIGHT as u64));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function(format!("append_concurrent_{IN_FLIGHT}"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            system.block_on(async {
                for _ in 0..iters {
                    let appends = (0..IN_FLIGHT).map(|i| {
                        n += 1;
                        let (key, fence) = &convs[i % CONVERSATIONS];
                        engine.append(key, *fence, 0, vec![message(n)])
                    });
                    for out in join_all(appends.collect::<Vec<_>>()).await {
                        out.expect("append");
                    }
                }
            });
            start.elapsed()
        })
    });
    group.finish();

    // What the figures stand for: a retry is deduplicated and a stale epoch is fenced.
    system.block_on(async {
        let (key, fence) = &convs[0];
        let first = engine.append(key, *fence, 0, vec![message(0)]).await;
        let again = engine.append(key, *fence, 0, vec![message(0)]).await;
        let (first, again) = (first.expect("append"), again.expect("retry"));
        assert!(
            again[0].duplicate,
            "a retried client_msg_id is deduplicated"
        );
        assert_eq!(first[0].event.seq, again[0].event.seq);
        let cluster = engine.cluster().expect("cluster");
        let actor = ActorRef::Conversation(key.clone());
        cluster
            .release(vec![(actor.clone(), fence.epoch)])
            .await
            .expect("release");
        cluster.claim(&actor, None).await.expect("re-claim");
        let stale = engine.append(key, *fence, 0, vec![message(1 << 40)]).await;
        assert!(
            matches!(stale, Err(EngineError::Fenced { .. })),
            "a stale epoch must be refused: {stale:?}"
        );
    });
    drop(engine);
    drop(server);
}

criterion_group!(benches, append);
criterion_main!(benches);
