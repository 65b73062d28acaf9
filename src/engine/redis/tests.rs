//! Tests against a real `redis-server` each test starts on a free port (none touches 6379).
//!
//! (Long because it is the engine's whole test suite: one test per guarantee of docs/REDIS.md.)

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::domain::conversation::Status;
use crate::engine::test_message as msg;
use crate::ids::{AgentKey, QueueId};
use crate::protocol::Visibility;

/// A `redis-server` child process, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start() -> Server {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .expect("free port")
                .local_addr()
                .expect("addr")
                .port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("these tests need `redis-server` on PATH (apt-get install redis-server): {e}")
                });
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited (port taken meanwhile?): try another port
                }
                let up = ::redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .and_then(|c| c.get_connection())
                    .and_then(|mut c| ::redis::cmd("PING").query::<String>(&mut c));
                if up.is_ok() {
                    return Server { child, port };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("redis-server did not answer PING within 10 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start redis-server on a free port");
    }

    fn settings(&self) -> RedisSettings {
        RedisSettings {
            url: format!("redis://127.0.0.1:{}/", self.port),
            pool_size: 4,
            lease_ttl_ms: 10_000,
            ..RedisSettings::default()
        }
    }

    async fn engine(&self, node: &str) -> Arc<RedisEngine> {
        RedisEngine::connect(&self.settings(), node)
            .await
            .expect("connect")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn conv(id: &str) -> ConvKey {
    ConvKey {
        org: OrgId::parse("demo").expect("id"),
        id: ConversationId::parse(id).expect("id"),
    }
}

async fn claim_epoch(e: &RedisEngine, actor: &ActorRef) -> u64 {
    match e.claim(actor, None).await.expect("claim") {
        Claim::Mine { epoch } => epoch,
        other => panic!("expected to win the claim, got {other:?}"),
    }
}

fn seqs(a: &[Appended]) -> Vec<u64> {
    a.iter().map(|x| x.event.seq).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn appends_assign_seqs_in_order_and_deduplicate() {
    let server = Server::start();
    let e = server.engine("n1").await;
    let k = conv("c1");
    assert!(e.read_log(&k, 0, 10).await.expect("read").is_none());
    let epoch = claim_epoch(&e, &ActorRef::Conversation(k.clone())).await;
    let fence = Fence { epoch };

    let a = e
        .append(
            &k,
            fence,
            0,
            vec![msg("one", Some("m1")), msg("two", Some("m2"))],
        )
        .await
        .expect("append");
    assert_eq!(seqs(&a), [1, 2]);
    assert!(a.iter().all(|x| !x.duplicate));
    let generation = a[0].epoch.clone();

    let note = NewEvent {
        author: Author::system(),
        kind: EventKind::Note {
            text: "internal".into(),
        },
        dedup_key: None,
    };
    let again = e
        .append(
            &k,
            fence,
            0,
            vec![msg("one (retry)", Some("m1")), msg("three", None), note],
        )
        .await
        .expect("append");
    assert_eq!(seqs(&again), [1, 3, 4]);
    assert!(again[0].duplicate && !again[1].duplicate && !again[2].duplicate);
    assert!(matches!(&again[0].event.kind, EventKind::Message { text, .. } if text == "one"));
    assert_eq!(again[0].event.at, a[0].event.at);
    assert_eq!(again[2].event.visibility, Visibility::Agents);
    assert_eq!(again[0].epoch, generation);

    // A duplicate within one batch returns the event the batch itself just wrote.
    let within = e
        .append(
            &k,
            fence,
            0,
            vec![msg("five", Some("m5")), msg("five!", Some("m5"))],
        )
        .await
        .expect("append");
    assert_eq!(seqs(&within), [5, 5]);
    assert!(!within[0].duplicate && within[1].duplicate);

    let slice = e.read_log(&k, 1, 10).await.expect("read").expect("log");
    assert_eq!(
        slice.events.iter().map(|x| x.seq).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    assert_eq!(slice.last_seq, 5);
    assert_eq!(slice.epoch, generation);
    assert_eq!(*slice.events[1], *again[1].event);
    let page = e.read_log(&k, 0, 2).await.expect("read").expect("log");
    assert_eq!(
        page.events.iter().map(|x| x.seq).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(page.last_seq, 5);
    let past = e.read_log(&k, 99, 10).await.expect("read").expect("log");
    assert!(past.events.is_empty());
    assert!(e
        .read_log(&k, 0, 0)
        .await
        .expect("read")
        .expect("log")
        .events
        .is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_bad_stream_entry_is_skipped_not_fatal() {
    let server = Server::start();
    let e = server.engine("n1").await;
    let k = conv("c1");
    e.append(&k, Fence { epoch: 0 }, 0, vec![msg("one", None)])
        .await
        .expect("append");
    e.shared
        .conns
        .cmd::<String>(
            ::redis::cmd("XADD")
                .arg("sb:{demo:c:c1}:log")
                .arg("2-1")
                .arg("e")
                .arg("not json"),
        )
        .await
        .expect("xadd");
    let slice = e.read_log(&k, 0, 10).await.expect("read").expect("log");
    assert_eq!(slice.events.len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_dedup_key_whose_entry_is_gone_writes_the_event_anew() {
    let server = Server::start();
    let e = server.engine("n1").await;
    let k = conv("c1");
    let fence = Fence { epoch: 0 };
    let first = e
        .append(&k, fence, 0, vec![msg("one", Some("m1"))])
        .await
        .expect("append");
    assert_eq!(seqs(&first), [1]);
    e.shared
        .conns
        .cmd::<i64>(::redis::cmd("XDEL").arg("sb:{demo:c:c1}:log").arg("1-1"))
        .await
        .expect("xdel");
    // The retry finds its key taken but the entry gone: written again, under the next seq,
    // and the key now points at it; no seq is skipped.
    let again = e
        .append(
            &k,
            fence,
            0,
            vec![msg("one", Some("m1")), msg("two", Some("m2"))],
        )
        .await
        .expect("append");
    assert_eq!(seqs(&again), [2, 3]);
    assert!(!again[0].duplicate && !again[1].duplicate);
    let third = e
        .append(&k, fence, 0, vec![msg("one", Some("m1"))])
        .await
        .expect("append");
    assert_eq!(seqs(&third), [2]);
    assert!(third[0].duplicate);
    let slice = e.read_log(&k, 0, 10).await.expect("read").expect("log");
    assert_eq!(slice.last_seq, 3);
}

#[tokio::test(flavor = "current_thread")]
async fn claims_leases_and_fencing() {
    let server = Server::start();
    let a = server.engine("n1").await;
    let b = server.engine("n2").await;
    let k = conv("c1");
    let actor = ActorRef::Conversation(k.clone());

    assert_eq!(
        a.claim(&actor, None).await.expect("claim"),
        Claim::Mine { epoch: 1 }
    );
    assert_eq!(
        a.claim(&actor, None).await.expect("claim"),
        Claim::Mine { epoch: 1 }
    );
    assert_eq!(
        a.holder(&actor).await.expect("holder").as_deref(),
        Some(a.instance())
    );
    assert_eq!(
        b.claim(&actor, None).await.expect("claim"),
        Claim::Held {
            by: a.instance().to_string()
        }
    );
    assert_eq!(
        b.claim(&actor, Some("someone-else")).await.expect("claim"),
        Claim::Held {
            by: a.instance().to_string()
        }
    );
    assert_eq!(
        a.owned(a.instance()).await.expect("owned"),
        std::slice::from_ref(&actor)
    );

    a.append(&k, Fence { epoch: 1 }, 0, vec![msg("one", None)])
        .await
        .expect("append at the current epoch");
    a.put_state(&actor, 1, "s1".into()).await.expect("state");

    // b steals from a (known to be gone): epoch 2, and a is fenced from then on.
    assert_eq!(
        b.claim(&actor, Some(a.instance())).await.expect("claim"),
        Claim::Mine { epoch: 2 }
    );
    assert_eq!(
        a.append(&k, Fence { epoch: 1 }, 0, vec![msg("late", None)])
            .await
            .expect_err("stale epoch"),
        EngineError::Fenced { ours: 1 }
    );
    assert_eq!(
        a.put_state(&actor, 1, "stale".into()).await,
        Err(EngineError::Fenced { ours: 1 })
    );
    assert_eq!(
        a.get_state(&actor).await.expect("get").as_deref(),
        Some("s1")
    );
    b.put_state(&actor, 2, "s2".into()).await.expect("state");
    assert_eq!(
        a.get_state(&actor).await.expect("get").as_deref(),
        Some("s2")
    );
    let a2 = b
        .append(&k, Fence { epoch: 2 }, 0, vec![msg("two", None)])
        .await
        .expect("append");
    assert_eq!(seqs(&a2), [2], "the fenced append wrote nothing");

    // Renew: ours at the current epoch only.
    assert_eq!(
        a.renew(vec![(actor.clone(), 1)]).await.expect("renew"),
        [false]
    );
    assert_eq!(
        b.renew(vec![(actor.clone(), 2)]).await.expect("renew"),
        [true]
    );
    // A lapsed lease whose epoch is unchanged is taken again by renew.
    b.shared
        .conns
        .cmd::<()>(::redis::cmd("DEL").arg("sb:{demo:c:c1}:lease"))
        .await
        .expect("del");
    assert_eq!(
        b.renew(vec![(actor.clone(), 2), (actor.clone(), 1)])
            .await
            .expect("renew"),
        [true, false]
    );
    assert_eq!(
        a.holder(&actor).await.expect("holder").as_deref(),
        Some(b.instance())
    );

    // Release: a stale release is a no-op; ours frees the lease and the owned entry.
    a.release(vec![(actor.clone(), 1)]).await.expect("release");
    assert!(a.owned(a.instance()).await.expect("owned").is_empty());
    assert_eq!(
        a.holder(&actor).await.expect("holder").as_deref(),
        Some(b.instance())
    );
    b.release(vec![(actor.clone(), 2)]).await.expect("release");
    assert_eq!(a.holder(&actor).await.expect("holder"), None);
    assert!(b.owned(b.instance()).await.expect("owned").is_empty());
    assert_eq!(
        a.claim(&actor, None).await.expect("claim"),
        Claim::Mine { epoch: 3 }
    );

    // Other actor kinds have their own leases.
    let agent = ActorRef::Agent(AgentKey {
        org: k.org.clone(),
        id: AgentId::parse("al").expect("id"),
    });
    assert_eq!(
        b.claim(&agent, None).await.expect("claim"),
        Claim::Mine { epoch: 1 }
    );
}

#[tokio::test(flavor = "current_thread")]
async fn membership_and_reaping() {
    let server = Server::start();
    let a = server.engine("n1").await;
    let b = server.engine("n2").await;
    assert!(a.instance().starts_with("n1-") && a.instance().len() == "n1-".len() + 8);
    assert_eq!(a.node_id(), "n1");
    a.heartbeat().await.expect("heartbeat");
    b.heartbeat().await.expect("heartbeat");
    let mut members = a.members().await.expect("members");
    members.sort_by(|x, y| x.instance.cmp(&y.instance));
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|m| m.silent_ms < 5_000));
    let actor = ActorRef::Conversation(conv("c9"));
    b.claim(&actor, None).await.expect("claim");
    assert!(a.lock_reap(b.instance()).await.expect("lock"));
    assert!(!a.lock_reap(b.instance()).await.expect("lock"));
    a.forget(b.instance()).await.expect("forget");
    assert_eq!(a.members().await.expect("members").len(), 1);
    assert!(a.owned(b.instance()).await.expect("owned").is_empty());
    a.check_ready().await.expect("ready");
    assert_eq!(a.kind(), "redis");
    assert!(a.cluster().is_some());
}

fn summary(id: &str, customer: &str, agents: &[&str], minutes: i64) -> ConversationSummary {
    ConversationSummary {
        id: ConversationId::parse(id).expect("id"),
        org: OrgId::parse("demo").expect("id"),
        status: Status::Assigned,
        customer: Some(CustomerId::parse(customer).expect("id")),
        customer_name: "C".into(),
        customer_email: None,
        queue: None,
        reason: None,
        case_id: None,
        channel: "chat".into(),
        owner: None,
        agents: agents
            .iter()
            .map(|a| AgentId::parse(a).expect("id"))
            .collect(),
        created_at: Utc::now() - chrono::Duration::minutes(60 - minutes),
        waiting_since: None,
        priority: 0,
        ended_at: None,
        last_seq: 1,
        messages: 0,
        disposition: None,
        survey_rating: None,
        bot: None,
        tickets: Vec::new(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn summaries_are_found_through_the_indexes_newest_first() {
    let server = Server::start();
    let e = server.engine("n1").await;
    let org = OrgId::parse("demo").expect("id");
    let q1 = QueueId::parse("q1").expect("id");
    let q2 = QueueId::parse("q2").expect("id");
    let mut c1 = summary("c1", "ann", &[], 1);
    c1.status = Status::Waiting;
    c1.queue = Some(q1.clone());
    e.put_summary(c1.clone()).await.expect("put");
    c1.agents = vec![AgentId::parse("al").expect("id")];
    c1.status = Status::Assigned;
    c1.case_id = Some("case-7".into());
    e.put_summary(c1.clone()).await.expect("put");
    let mut c2 = summary("c2", "ann", &["bo"], 2);
    c2.status = Status::Waiting;
    c2.queue = Some(q1.clone());
    e.put_summary(c2.clone()).await.expect("put");
    let mut c3 = summary("c3", "ben", &["al"], 3);
    c3.status = Status::Waiting;
    c3.queue = Some(q2.clone());
    e.put_summary(c3.clone()).await.expect("put");
    let mut c4 = summary("c4", "cy", &[], 4);
    c4.status = Status::Waiting;
    c4.queue = Some(q1.clone());
    e.put_summary(c4.clone()).await.expect("put");
    // c4 moves to q2 and gets assigned: it leaves q1's waiting index.
    c4.status = Status::Assigned;
    c4.queue = Some(q2.clone());
    e.put_summary(c4.clone()).await.expect("put");

    let find = |filter: ConversationFilter| {
        let e = e.clone();
        let org = org.clone();
        async move {
            e.find_conversations(&org, filter)
                .await
                .expect("find")
                .into_iter()
                .map(|s| s.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    let all = ConversationFilter {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(find(all.clone()).await, ["c4", "c3", "c2", "c1"]);
    assert_eq!(
        find(ConversationFilter {
            customer: Some(CustomerId::parse("ann").expect("id")),
            ..all.clone()
        })
        .await,
        ["c2", "c1"]
    );
    assert_eq!(
        find(ConversationFilter {
            agent: Some(AgentId::parse("al").expect("id")),
            ..all.clone()
        })
        .await,
        ["c3", "c1"]
    );
    assert_eq!(
        find(ConversationFilter {
            case_id: Some("case-7".into()),
            ..all.clone()
        })
        .await,
        ["c1"]
    );
    assert_eq!(
        find(ConversationFilter {
            status: Some(Status::Waiting),
            queues: Some(vec![q1.clone()]),
            ..all.clone()
        })
        .await,
        ["c2"]
    );
    assert_eq!(
        find(ConversationFilter {
            status: Some(Status::Waiting),
            queues: Some(vec![q1.clone(), q2.clone()]),
            ..all.clone()
        })
        .await,
        ["c3", "c2"]
    );
    assert_eq!(
        find(ConversationFilter {
            status: Some(Status::Assigned),
            ..all.clone()
        })
        .await,
        ["c4", "c1"]
    );
    assert_eq!(
        find(ConversationFilter {
            queues: Some(vec![q2.clone()]),
            ..all.clone()
        })
        .await,
        ["c4", "c3"]
    );
    assert!(find(ConversationFilter {
        queues: Some(vec![]),
        ..all.clone()
    })
    .await
    .is_empty());
    // limit 0 means 1, as in the memory engine.
    assert_eq!(
        find(ConversationFilter {
            limit: 0,
            ..all.clone()
        })
        .await,
        ["c4"]
    );
    assert_eq!(
        find(ConversationFilter {
            limit: 2,
            ..all.clone()
        })
        .await,
        ["c4", "c3"]
    );
    // Other orgs see nothing.
    let other = OrgId::parse("other").expect("id");
    assert!(e
        .find_conversations(&other, all.clone())
        .await
        .expect("find")
        .is_empty());

    let got = e.summary(&conv("c1")).await.expect("get").expect("found");
    assert_eq!(got.org, org);
    assert_eq!(got.status, Status::Assigned);
    assert_eq!(got.case_id.as_deref(), Some("case-7"));
    assert_eq!(got.created_at, c1.created_at);
    assert!(e.summary(&conv("nope")).await.expect("get").is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn many_summaries_with_the_same_creation_time_page_correctly() {
    let server = Server::start();
    let e = server.engine("n1").await;
    let org = OrgId::parse("demo").expect("id");
    let at = Utc::now();
    for i in 0..60 {
        let mut s = summary(&format!("c{i:02}"), "ann", &[], 0);
        s.created_at = at;
        s.status = if i % 3 == 0 {
            Status::Ended
        } else {
            Status::Assigned
        };
        e.put_summary(s).await.expect("put");
    }
    let found = e
        .find_conversations(
            &org,
            ConversationFilter {
                customer: Some(CustomerId::parse("ann").expect("id")),
                status: Some(Status::Ended),
                limit: 5,
                ..Default::default()
            },
        )
        .await
        .expect("find");
    let ids: Vec<String> = found.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(ids, ["c00", "c03", "c06", "c09", "c12"]);
}

#[tokio::test(flavor = "current_thread")]
async fn surveys_and_orgs_round_trip() {
    let server = Server::start();
    let e = server.engine("n1").await;
    let org = OrgId::parse("demo").expect("id");
    for (i, rating) in [9u8, 3].into_iter().enumerate() {
        e.put_survey(SurveyRecord {
            id: format!("s{i}"),
            org: org.clone(),
            conversation: ConversationId::parse(&format!("c{i}")).expect("id"),
            customer: CustomerId::parse("ann").expect("id"),
            agent: None,
            survey_type: "NPS",
            rating,
            comment: Some("ok".into()),
            created_at: Utc::now(),
        })
        .await
        .expect("survey");
    }
    let got = e.surveys(&org).await.expect("surveys");
    assert_eq!(got.iter().map(|s| s.rating).collect::<Vec<_>>(), [9, 3]);
    assert_eq!(got[0].survey_type, "NPS");
    assert_eq!(got[0].org, org);
    assert!(e
        .surveys(&OrgId::parse("x").expect("id"))
        .await
        .expect("surveys")
        .is_empty());
    // A conversation that leaves hot storage takes its answer with it (the archive has it).
    let c0 = crate::ids::ConvKey {
        org: org.clone(),
        id: ConversationId::parse("c0").expect("id"),
    };
    e.expire_conversation(&c0, std::time::Duration::from_secs(60))
        .await
        .expect("expire");
    let got = e.surveys(&org).await.expect("surveys");
    assert_eq!(got.iter().map(|s| s.rating).collect::<Vec<_>>(), [3]);

    let config: OrgConfig =
        serde_json::from_value(serde_json::json!({"id": "demo"})).expect("minimal org");
    e.put_org(Arc::new(config.clone())).await.expect("org");
    e.put_org(Arc::new(config.clone())).await.expect("org");
    let orgs = e.load_orgs().await.expect("orgs");
    assert_eq!(orgs.len(), 1);
    assert_eq!(*orgs[0], config);
}

#[tokio::test(flavor = "current_thread")]
async fn pub_sub_round_trip_between_two_engines() {
    let server = Server::start();
    let a = server.engine("n1").await;
    let b = server.engine("n2").await;
    let mut incoming = a.take_incoming().expect("incoming");
    assert!(a.take_incoming().is_none(), "taken once");
    let topic = Topic::Conversation(conv("c1"));
    a.subscribe(&topic).await.expect("subscribe");
    assert!(a.bus.healthy().await, "PING on the pub/sub connection");
    b.publish(&topic, "hello".into()).await.expect("publish");
    b.publish(&Topic::Instance(a.instance().to_string()), "direct".into())
        .await
        .expect("publish");
    b.publish(&Topic::Broadcast, "all".into())
        .await
        .expect("publish");
    // A batch goes out in one pipeline, in order; a topic nobody follows is skipped by Redis.
    let batch = vec![
        (topic.clone(), "first".to_string()),
        (Topic::Conversation(conv("nobody-follows")), "lost".into()),
        (topic.clone(), "second".into()),
    ];
    b.publish_many(batch).await.expect("publish many");
    let mut got = Vec::new();
    for _ in 0..5 {
        match tokio::time::timeout(Duration::from_secs(5), incoming.recv())
            .await
            .expect("message within 5 s")
            .expect("open")
        {
            BusEvent::Message { topic, payload } => got.push((topic, payload)),
            BusEvent::Reconnected => panic!("unexpected reconnect"),
        }
    }
    assert_eq!(
        got,
        [
            (topic.clone(), "hello".to_string()),
            (Topic::Instance(a.instance().to_string()), "direct".into()),
            (Topic::Broadcast, "all".into()),
            (topic.clone(), "first".into()),
            (topic.clone(), "second".into()),
        ]
    );
    a.unsubscribe(&topic).await.expect("unsubscribe");
    b.publish(&topic, "gone".into()).await.expect("publish");
    b.publish(&Topic::Broadcast, "marker".into())
        .await
        .expect("publish");
    match tokio::time::timeout(Duration::from_secs(5), incoming.recv())
        .await
        .expect("message")
        .expect("open")
    {
        BusEvent::Message { payload, .. } => assert_eq!(payload, "marker"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn pub_sub_reconnects_and_resubscribes() {
    let server = Server::start();
    let a = server.engine("n1").await;
    let b = server.engine("n2").await;
    let mut incoming = a.take_incoming().expect("incoming");
    let topic = Topic::Agent(AgentKey {
        org: OrgId::parse("demo").expect("id"),
        id: AgentId::parse("al").expect("id"),
    });
    a.subscribe(&topic).await.expect("subscribe");
    // Kill every pub/sub client connection.
    b.shared
        .conns
        .cmd::<i64>(::redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub"))
        .await
        .expect("client kill");
    loop {
        match tokio::time::timeout(Duration::from_secs(10), incoming.recv())
            .await
            .expect("reconnect within 10 s")
            .expect("open")
        {
            BusEvent::Reconnected => break,
            BusEvent::Message { .. } => {}
        }
    }
    b.publish(&topic, "after".into()).await.expect("publish");
    match tokio::time::timeout(Duration::from_secs(5), incoming.recv())
        .await
        .expect("message")
        .expect("open")
    {
        BusEvent::Message { topic: t, payload } => {
            assert_eq!((t, payload.as_str()), (topic, "after"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn group_commit_of_concurrent_appends_is_gap_free() {
    let server = Server::start();
    let e = server.engine("n1").await;
    let convs: Vec<ConvKey> = (0..20).map(|i| conv(&format!("g{i}"))).collect();
    let mut fences = Vec::new();
    for k in &convs {
        fences.push(claim_epoch(&e, &ActorRef::Conversation(k.clone())).await);
    }
    let mut pending = Vec::new();
    for i in 0..200 {
        let c = i % 20;
        pending.push((
            c,
            e.append(
                &convs[c],
                Fence { epoch: fences[c] },
                0,
                vec![msg(&format!("m{i}"), Some(&format!("d{i}")))],
            ),
        ));
    }
    let results = futures_util::future::join_all(
        pending
            .into_iter()
            .map(|(c, f)| async move { (c, f.await.expect("append")) }),
    )
    .await;
    let commits = e.shared.commits.load(std::sync::atomic::Ordering::Relaxed);
    assert!(commits <= 10, "200 appends took {commits} pipelines");
    let mut per_conv: Vec<Vec<u64>> = vec![Vec::new(); 20];
    for (c, appended) in results {
        assert_eq!(appended.len(), 1);
        assert!(!appended[0].duplicate);
        per_conv[c].push(appended[0].event.seq);
    }
    for (c, seqs) in per_conv.iter().enumerate() {
        // Appends are committed in the order they were made.
        assert_eq!(*seqs, (1..=10).collect::<Vec<u64>>(), "conversation {c}");
        let slice = e
            .read_log(&convs[c], 0, 100)
            .await
            .expect("read")
            .expect("log");
        assert_eq!(slice.last_seq, 10);
        assert_eq!(
            slice.events.iter().map(|x| x.seq).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<u64>>()
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreachable_redis_is_unavailable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    let settings = RedisSettings {
        url: format!("redis://127.0.0.1:{port}/"),
        command_timeout_ms: 300,
        ..RedisSettings::default()
    };
    assert!(matches!(
        RedisEngine::connect(&settings, "n1").await,
        Err(EngineError::Unavailable(_))
    ));

    // A server that goes away after connect: appends fail with Unavailable, never succeed.
    let mut server = Server::start();
    let e = server.engine("n1").await;
    let k = conv("c1");
    e.append(&k, Fence { epoch: 0 }, 0, vec![msg("one", None)])
        .await
        .expect("append");
    let _ = server.child.kill();
    let _ = server.child.wait();
    assert!(matches!(
        e.append(&k, Fence { epoch: 0 }, 0, vec![msg("two", None)])
            .await,
        Err(EngineError::Unavailable(_))
    ));
    assert!(matches!(
        e.check_ready().await,
        Err(EngineError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn survives_lost_scripts_and_killed_connections() {
    let server = Server::start();
    let e = server.engine("n1").await;
    let k = conv("c1");
    let actor = ActorRef::Conversation(k.clone());
    let epoch = claim_epoch(&e, &actor).await;
    e.append(&k, Fence { epoch }, 0, vec![msg("one", Some("m1"))])
        .await
        .expect("append");
    // Redis forgot the scripts (a restart, SCRIPT FLUSH): EVALSHA gets NOSCRIPT, EVAL follows.
    e.shared
        .conns
        .cmd::<()>(::redis::cmd("SCRIPT").arg("FLUSH"))
        .await
        .expect("flush");
    let a = e
        .append(&k, Fence { epoch }, 0, vec![msg("two", Some("m2"))])
        .await
        .expect("append after SCRIPT FLUSH");
    assert_eq!(seqs(&a), [2]);
    e.shared
        .conns
        .cmd::<()>(::redis::cmd("SCRIPT").arg("FLUSH"))
        .await
        .expect("flush");
    assert_eq!(
        e.claim(&actor, None).await.expect("claim"),
        Claim::Mine { epoch }
    );

    // Every command connection is killed: calls fail with Unavailable (never a false success)
    // until the slot reconnects; a retry with the same dedup key is written exactly once.
    e.shared
        .conns
        .cmd::<i64>(
            ::redis::cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg("normal")
                .arg("SKIPME")
                .arg("no"),
        )
        .await
        .ok();
    let mut written = None;
    for _ in 0..10 {
        match e
            .append(&k, Fence { epoch }, 0, vec![msg("three", Some("m3"))])
            .await
        {
            Ok(a) => {
                written = Some(a);
                break;
            }
            Err(EngineError::Unavailable(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seqs(&written.expect("reconnected")), [3]);
    let again = e
        .append(&k, Fence { epoch }, 0, vec![msg("three", Some("m3"))])
        .await
        .expect("append");
    assert!(again[0].duplicate);
    let slice = e.read_log(&k, 0, 10).await.expect("read").expect("log");
    assert_eq!(slice.last_seq, 3);
}

/// The append script tells the other nodes of each new event in the same round trip: one
/// notification per new event on the conversation's topic, after the head the event exactly
/// as logged, with the previous public seq; nothing for a duplicate or a fenced append.
#[tokio::test(flavor = "current_thread")]
async fn appends_publish_each_new_event_for_the_other_nodes() {
    let server = Server::start();
    let follower = server.engine("n1").await;
    let owner = server.engine("n2").await;
    let mut incoming = follower.take_incoming().expect("incoming");
    let k = conv("c-notify");
    let topic = Topic::Conversation(k.clone());
    follower.subscribe(&topic).await.expect("subscribe");
    let epoch = claim_epoch(&owner, &ActorRef::Conversation(k.clone())).await;
    let fence = Fence { epoch };
    let note = || NewEvent {
        author: Author::system(),
        kind: EventKind::Note {
            text: "internal".into(),
        },
        dedup_key: None,
    };
    let first = owner
        .append(&k, fence, 0, vec![msg("one", Some("m1")), note()])
        .await
        .expect("append");
    let second = owner
        .append(
            &k,
            fence,
            1,
            vec![msg("one again", Some("m1")), msg("two", Some("m2"))],
        )
        .await
        .expect("append");
    assert!(second[0].duplicate);
    let stale = owner
        .append(&k, Fence { epoch: epoch + 7 }, 3, vec![msg("no", None)])
        .await;
    assert!(
        matches!(stale, Err(EngineError::Fenced { .. })),
        "{stale:?}"
    );
    owner
        .publish(&topic, "marker".into())
        .await
        .expect("publish");

    let logged = [&first[0], &first[1], &second[1]];
    let mut notes = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), incoming.recv())
            .await
            .expect("a notification within 5 s")
            .expect("open");
        match next {
            BusEvent::Message { payload, .. } if payload == "marker" => break,
            BusEvent::Message { topic: t, payload } => {
                assert_eq!(t, topic);
                notes.push(payload);
            }
            BusEvent::Reconnected => panic!("unexpected reconnect"),
        }
    }
    assert_eq!(
        notes.len(),
        3,
        "one per new event, none for the duplicate or the fenced one: {notes:?}"
    );
    for ((payload, appended), (vis, pp)) in
        notes
            .iter()
            .zip(logged)
            .zip([("public", 0), ("agents", 1), ("public", 1)])
    {
        let (head, event) = payload.split_once('\n').expect("head, newline, event");
        let head: serde_json::Value = serde_json::from_str(head).expect("head is JSON");
        assert_eq!(head["t"], "event");
        assert_eq!(head["o"], owner.instance());
        assert_eq!(head["c"], "c-notify");
        assert_eq!(head["g"], &*appended.epoch);
        assert_eq!(head["seq"], appended.event.seq);
        assert_eq!(head["pp"], pp);
        assert_eq!(head["vis"], vis);
        assert_eq!(
            event,
            serde_json::to_string(&*appended.event).expect("json"),
            "as logged"
        );
    }
}
