//! Criterion benchmarks of the hot paths that do not need a network. Each answers one question:
//!
//! - `protocol/decode_send`: how long does parsing one `send` frame take? (budget: well under
//!   the 20 µs a 50k msg/s node can spend per message in total)
//! - `protocol/encode_event`: how long does serializing one event frame take?
//! - `routing/choose_1000`: how long does choosing an agent among 1,000 take? (target: a queue
//!   must sustain ≥ 5,000 assignments/s, so far below 200 µs)
//! - `engine/memory_append`: how long does one deduplicated append to the memory log take?

use std::collections::HashSet;
use std::hint::black_box;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};

use switchboard::engine::memory::MemoryEngine;
use switchboard::engine::NewEvent;
use switchboard::ids::{AgentId, ConvKey, ConversationId, OrgId};
use switchboard::protocol::client::parse_frame;
use switchboard::protocol::{Author, AuthorRole, EventKind, LogEvent, ServerFrame, Visibility};
use switchboard::routing::{choose_agent, AgentView};

fn protocol(c: &mut Criterion) {
    let frame = r#"{"type":"send","id":"42","conversation":"c_0123456789abcdef0123","client_msg_id":"m-000042","text":"Hello, I would like to know where my order is."}"#;
    c.bench_function("protocol/decode_send", |b| b.iter(|| parse_frame(black_box(frame))));

    let conversation = ConversationId::parse("c_0123456789abcdef0123").expect("id");
    let event = LogEvent {
        seq: 42,
        at: Utc::now(),
        author: Author { role: AuthorRole::Customer, id: Some("v_123".into()), name: None },
        visibility: Visibility::Public,
        kind: EventKind::Message { text: "Hello, I would like to know where my order is.".into(), client_msg_id: "m-42".into() },
    };
    c.bench_function("protocol/encode_event", |b| {
        b.iter(|| {
            ServerFrame::Event { conversation: &conversation, seq: 42, prev: 41, epoch: "m1", event: black_box(&event) }.to_json()
        })
    });
}

fn routing(c: &mut Criterion) {
    let now = Utc::now();
    let agents: Vec<(AgentId, AgentView)> = (0..1000)
        .map(|i| {
            let view = AgentView { eligible: i % 7 != 0, free: (i % 4) as u32, ready_since: now - chrono::Duration::seconds(i) };
            (AgentId::parse(&format!("agent{i}")).expect("id"), view)
        })
        .collect();
    let declined: HashSet<AgentId> = (0..10).map(|i| AgentId::parse(&format!("agent{}", i * 97)).expect("id")).collect();
    c.bench_function("routing/choose_1000", |b| {
        b.iter(|| choose_agent(agents.iter().map(|(a, v)| (a, v)), black_box(&declined)))
    });
}

fn engine(c: &mut Criterion) {
    let engine = MemoryEngine::new();
    let key = ConvKey { org: OrgId::parse("bench").expect("id"), id: ConversationId::parse("c_bench").expect("id") };
    let mut n = 0u64;
    c.bench_function("engine/memory_append", |b| {
        b.iter(|| {
            n += 1;
            let e = NewEvent {
                author: Author { role: AuthorRole::Customer, id: Some("v".into()), name: None },
                kind: EventKind::Message { text: "hello".into(), client_msg_id: format!("m{n}") },
                dedup_key: Some(format!("c:v:m{n}")),
            };
            engine.append_now(&key, vec![e])
        })
    });
}

criterion_group!(benches, protocol, routing, engine);
criterion_main!(benches);
