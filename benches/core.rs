//! Criterion benchmarks of the hot paths that do not need a network. Each answers one question:
//!
//! - `protocol/decode_send`: how long does parsing one `send` frame take? (budget: well under
//!   the 20 µs a 50k msg/s node can spend per message in total)
//! - `protocol/encode_event`: how long does serializing one event frame take?
//! - `routing/choose_1000`: how long does choosing an agent among 1,000 take? (target: a queue
//!   must sustain ≥ 5,000 assignments/s, so far below 200 µs)
//! - `engine/memory_append`: how long does one deduplicated append to the memory log take?
//! - `hub/fanout_N`: how long does handing one event to N followers of a conversation take?
//! - `actor/post_round_trip`: how long does a chat message take through a real conversation
//!   actor (mailbox, validation, append, fold, publish, reply), from a caller on another thread?
//!   This bounds the single-conversation rate; the 50k msg/s target is across conversations.

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
    c.bench_function("protocol/decode_send", |b| {
        b.iter(|| parse_frame(black_box(frame)))
    });

    let conversation = ConversationId::parse("c_0123456789abcdef0123").expect("id");
    let event = LogEvent {
        seq: 42,
        at: Utc::now(),
        author: Author {
            role: AuthorRole::Customer,
            id: Some("v_123".into()),
            name: None,
        },
        visibility: Visibility::Public,
        kind: EventKind::Message {
            text: "Hello, I would like to know where my order is.".into(),
            client_msg_id: "m-42".into(),
            attachments: Vec::new(),
        },
        redacted: false,
    };
    c.bench_function("protocol/encode_event", |b| {
        b.iter(|| {
            ServerFrame::Event {
                conversation: &conversation,
                seq: 42,
                prev: 41,
                epoch: "m1",
                event: black_box(&event),
            }
            .to_json()
        })
    });
}

fn routing(c: &mut Criterion) {
    let now = Utc::now();
    let agents: Vec<(AgentId, AgentView)> = (0..1000)
        .map(|i| {
            let view = AgentView {
                eligible: i % 7 != 0,
                free: (i % 4) as u32,
                ready_since: now - chrono::Duration::seconds(i),
            };
            (AgentId::parse(&format!("agent{i}")).expect("id"), view)
        })
        .collect();
    let declined: HashSet<AgentId> = (0..10)
        .map(|i| AgentId::parse(&format!("agent{}", i * 97)).expect("id"))
        .collect();
    c.bench_function("routing/choose_1000", |b| {
        b.iter(|| choose_agent(agents.iter().map(|(a, v)| (a, v)), black_box(&declined)))
    });
}

fn engine(c: &mut Criterion) {
    let engine = MemoryEngine::new();
    let key = ConvKey {
        org: OrgId::parse("bench").expect("id"),
        id: ConversationId::parse("c_bench").expect("id"),
    };
    let mut n = 0u64;
    c.bench_function("engine/memory_append", |b| {
        b.iter(|| {
            n += 1;
            let e = NewEvent {
                author: Author {
                    role: AuthorRole::Customer,
                    id: Some("v".into()),
                    name: None,
                },
                kind: EventKind::Message {
                    text: "hello".into(),
                    client_msg_id: format!("m{n}"),
                    attachments: Vec::new(),
                },
                dedup_key: Some(format!("c:v:m{n}")),
            };
            engine.append_now(&key, vec![e])
        })
    });
}

fn fanout(c: &mut Criterion) {
    use switchboard::hub::{Audience, EventDelivery, Hub, SessionHandle};
    let key = ConvKey {
        org: OrgId::parse("bench").expect("id"),
        id: ConversationId::parse("c_fan").expect("id"),
    };
    let event = LogEvent {
        seq: 7,
        at: Utc::now(),
        author: Author {
            role: AuthorRole::Agent,
            id: Some("a1".into()),
            name: None,
        },
        visibility: Visibility::Public,
        kind: EventKind::Message {
            text: "Your parcel left the warehouse this morning.".into(),
            client_msg_id: "a-7".into(),
            attachments: Vec::new(),
        },
        redacted: false,
    };
    for n in [2usize, 10, 100] {
        let hub = Hub::new();
        let mut inboxes = Vec::new();
        for i in 0..n {
            let audience = if i == 0 {
                Audience::Customer
            } else {
                Audience::Agent
            };
            let (handle, inbox) = SessionHandle::new(i as u64, audience, 1 << 20);
            // A hub without a cluster subscribes nowhere: the future has nothing to wait for.
            let _subscribed = hub.follow(&key, handle);
            inboxes.push(inbox);
        }
        c.bench_function(&format!("hub/fanout_{n}"), |b| {
            b.iter(|| {
                let d =
                    std::sync::Arc::new(EventDelivery::new(&key.id, "m1", black_box(&event), 6));
                hub.publish(&key, d);
                for inbox in &mut inboxes {
                    while inbox.try_recv().is_some() {}
                }
            })
        });
    }
}

fn actor_round_trip(c: &mut Criterion) {
    use switchboard::actors::conversation::{ConversationActor, Create, Post, Who};
    use switchboard::actors::route::Routed;
    use switchboard::auth::Customer;
    use switchboard::ids::{CustomerId, QueueId};

    let sys = actix::System::new();
    let (rt, addr, customer) = sys.block_on(async {
        let mut settings = switchboard::config::embedded_defaults().expect("defaults");
        settings.archive.url = format!(
            "sqlite://{}",
            std::env::temp_dir()
                .join(format!("sb-bench-{}.db", uuid::Uuid::new_v4()))
                .display()
        );
        settings.server.actor_threads = 1;
        let rt = switchboard::startup::build_runtime(&settings)
            .await
            .expect("runtime");
        let key = ConvKey {
            org: OrgId::parse("demo").expect("id"),
            id: ConversationId::generate(),
        };
        let addr = ConversationActor::activate(&rt, &key, 1, false);
        let customer = Customer {
            org: key.org.clone(),
            id: CustomerId::parse("bench-customer").expect("id"),
            name: "Bench".into(),
            email: None,
            verified: false,
        };
        addr.send(Create {
            customer: customer.clone(),
            queue: QueueId::parse("general").expect("id"),
            priority: 0,
            reason: None,
            case_id: None,
            channel: "chat".into(),
            context: Default::default(),
            bot: None,
        })
        .await
        .expect("mailbox")
        .expect("created");
        (rt, addr, customer)
    });
    let mut n = 0u64;
    c.bench_function("actor/post_round_trip", |b| {
        b.iter(|| {
            n += 1;
            let post = Post {
                who: Who::Customer(customer.id.clone()),
                client_msg_id: format!("m{n}"),
                text: "hello".into(),
                attachments: Vec::new(),
            };
            sys.block_on(addr.send(post))
                .expect("mailbox")
                .expect("posted")
        })
    });
    drop(rt);
}

criterion_group!(benches, protocol, routing, engine, fanout, actor_round_trip);
criterion_main!(benches);
