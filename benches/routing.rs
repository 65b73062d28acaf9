//! Routing capacity, in process: chats arriving into one queue with 1,000 signed-in agents.
//!
//! Question: how many assignments per second can one queue actor hand out? (DESIGN §8 target:
//! ≥ 5,000 assignments/s.) Each iteration is a burst of 1,000 new conversations; it ends when
//! all 1,000 offers have been accepted (offer → agent's session inbox → accept → assigned).
//! There are no sockets here: the load generator (`load-tests/scenarios/burst.toml`) measures
//! the same path end to end, but on a 2-core box it saturates its own core first.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

use switchboard::actors::agent::{AgentActor, AnswerOffer, Connect, SetPresence};
use switchboard::actors::conversation::{ConversationActor, Create, End, Who};
use switchboard::actors::route::Routed;
use switchboard::auth::{Customer, Role, Staff};
use switchboard::hub::{Audience, Outbound, SessionHandle};
use switchboard::ids::{AgentId, AgentKey, ConvKey, ConversationId, CustomerId, OrgId, QueueId};
use switchboard::protocol::client::Presence;

const AGENTS: usize = 1000;
const BURST: usize = 1000;

fn routing(c: &mut Criterion) {
    let sys = actix::System::new();
    let rt = sys.block_on(async {
        let mut settings = switchboard::config::embedded_defaults().expect("defaults");
        settings.archive.url = format!(
            "sqlite://{}",
            std::env::temp_dir()
                .join(format!("sb-bench-{}.db", uuid::Uuid::new_v4()))
                .display()
        );
        settings.server.actor_threads = 2;
        let rt = switchboard::startup::build_runtime(&settings)
            .await
            .expect("runtime");
        let org = OrgId::parse("demo").expect("org");
        for i in 0..AGENTS {
            let id = AgentId::parse(&format!("bench-agent-{i}")).expect("id");
            let key = AgentKey {
                org: org.clone(),
                id: id.clone(),
            };
            let (handle, inbox) = SessionHandle::new(i as u64, Audience::Agent, 1024);
            rt.hub.attach_agent(&key, handle).await;
            let addr = AgentActor::activate(&rt, &key, 1, false);
            let staff = Staff {
                org: org.clone(),
                id,
                name: format!("Agent {i}"),
                roles: vec![Role::Agent],
                queues: vec![QueueId::parse("general").expect("queue")],
            };
            let connect = Connect {
                staff,
                instance: rt.instance().to_string(),
                sessions: 1,
            };
            addr.send(connect).await.expect("mailbox").expect("connect");
            addr.send(SetPresence(Presence::Available))
                .await
                .expect("mailbox")
                .expect("available");
            // The agent's "session": accept every offer at once.
            actix::spawn(async move {
                loop {
                    let item = inbox.recv().await;
                    let Outbound::Text(text) = item else { continue };
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                        continue;
                    };
                    if v["signal"] != "offer" {
                        continue;
                    }
                    let Some(conv) = v["conversation"]
                        .as_str()
                        .and_then(|c| ConversationId::parse(c).ok())
                    else {
                        continue;
                    };
                    let _ = addr
                        .send(AnswerOffer {
                            conversation: conv,
                            accept: true,
                        })
                        .await;
                }
            });
        }
        rt
    });

    let mut group = c.benchmark_group("routing");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(BURST as u64));
    group.bench_function("burst_1000_chats_1000_agents", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += sys.block_on(burst(&rt));
            }
            total
        })
    });
    group.finish();
}

/// Creates BURST conversations, waits until all are accepted, ends them (untimed) and returns
/// the time from the first create to the last acceptance.
async fn burst(rt: &switchboard::actors::Rt) -> Duration {
    let org = OrgId::parse("demo").expect("org");
    let accepted_before = rt.metrics.offers_accepted.get();
    let start = Instant::now();
    let mut convs = Vec::with_capacity(BURST);
    for i in 0..BURST {
        let key = ConvKey {
            org: org.clone(),
            id: ConversationId::generate(),
        };
        let customer = Customer {
            org: org.clone(),
            id: CustomerId::parse(&format!("bench-customer-{i}")).expect("id"),
            name: "Bench".into(),
            email: None,
            verified: false,
        };
        let create = Create {
            customer: customer.clone(),
            queue: QueueId::parse("general").expect("queue"),
            priority: 0,
            reason: None,
            case_id: None,
            channel: "chat".into(),
            context: Default::default(),
            bot: None,
        };
        ConversationActor::activate(rt, &key, 1, false).do_send(create);
        convs.push((key, customer.id));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while rt.metrics.offers_accepted.get() < accepted_before + BURST as u64 {
        assert!(
            Instant::now() < deadline,
            "the burst was not assigned within 60 s"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let elapsed = start.elapsed();
    for (key, customer) in convs {
        let _ = ConversationActor::activate(rt, &key, 1, false)
            .send(End {
                who: Who::Customer(customer),
            })
            .await;
    }
    elapsed
}

criterion_group!(benches, routing);
criterion_main!(benches);
