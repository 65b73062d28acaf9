//! The archive's two implementations, against a real SQLite file and a real PostgreSQL started
//! per test (`tests/support/postgres.rs`): the same checks run on both.

#[path = "../support/postgres.rs"]
mod postgres_server;
mod reports;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use switchboard::archive::{self, ArchivedConversation, SharedArchive};
use switchboard::domain::conversation::Status;
use switchboard::engine::{ConversationFilter, ConversationSummary, SurveyRecord};
use switchboard::ids::{AgentId, ConvKey, ConversationId, CustomerId, OrgId, QueueId};
use switchboard::protocol::{LogEvent, Visibility};

use postgres_server::PostgresServer;

fn org(s: &str) -> OrgId {
    OrgId::parse(s).expect("org id")
}

/// A finished chat: created, a public message, an agents-only note, ended, wrapped up, survey.
fn finished(org_id: &str, id: &str, created: DateTime<Utc>, queue: &str) -> ArchivedConversation {
    let at = |n: i64| (created + Duration::seconds(n)).to_rfc3339();
    let events: Vec<Arc<LogEvent>> = [
        json!({"seq": 1, "at": at(0), "author": {"role": "customer", "id": "cu1", "name": "Ada"},
               "visibility": "public", "kind": "created", "customer": "cu1", "customer_name": "Ada",
               "verified": false, "queue": queue, "channel": "web"}),
        json!({"seq": 2, "at": at(1), "author": {"role": "customer", "id": "cu1"},
               "visibility": "public", "kind": "message", "text": "hello <b>", "client_msg_id": "m1"}),
        json!({"seq": 3, "at": at(2), "author": {"role": "agent", "id": "a1"},
               "visibility": "agents", "kind": "note", "text": "VIP"}),
        json!({"seq": 4, "at": at(3), "author": {"role": "agent", "id": "a1"},
               "visibility": "public", "kind": "ended", "reason": "agent"}),
        json!({"seq": 5, "at": at(4), "author": {"role": "customer", "id": "cu1"},
               "visibility": "public", "kind": "survey", "rating": 9, "comment": "great"}),
        json!({"seq": 6, "at": at(5), "author": {"role": "agent", "id": "a1"},
               "visibility": "agents", "kind": "wrap_up", "disposition": "resolved"}),
    ]
    .into_iter()
    .map(|v| Arc::new(serde_json::from_value::<LogEvent>(v).expect("event")))
    .collect();
    let summary = ConversationSummary {
        id: ConversationId::parse(id).expect("id"),
        org: org(org_id),
        status: Status::Done,
        customer: Some(CustomerId::parse("cu1").expect("customer")),
        customer_name: "Ada".into(),
        customer_email: None,
        queue: Some(QueueId::parse(queue).expect("queue")),
        reason: None,
        case_id: Some(format!("case-{id}")),
        channel: "web".into(),
        owner: Some(AgentId::parse("a1").expect("agent")),
        agents: vec![AgentId::parse("a1").expect("agent")],
        created_at: created,
        waiting_since: None,
        priority: 0,
        ended_at: Some(created + Duration::seconds(3)),
        last_seq: 6,
        messages: 1,
        disposition: Some("resolved".into()),
        survey_rating: Some(9),
    };
    let survey = SurveyRecord {
        id: format!("{id}-nps"),
        org: org(org_id),
        conversation: summary.id.clone(),
        customer: CustomerId::parse("cu1").expect("customer"),
        agent: summary.owner.clone(),
        survey_type: "NPS",
        rating: 9,
        comment: Some("great".into()),
        created_at: created + Duration::seconds(4),
    };
    ArchivedConversation {
        summary,
        epoch: "e1".into(),
        events,
        survey: Some(survey),
    }
}

fn key(c: &ArchivedConversation) -> ConvKey {
    ConvKey {
        org: c.summary.org.clone(),
        id: c.summary.id.clone(),
    }
}

fn filter(limit: usize) -> ConversationFilter {
    ConversationFilter {
        limit,
        ..ConversationFilter::default()
    }
}

/// Everything the archive promises, on one implementation.
async fn stores_reads_back_and_restores_idempotently(archive: SharedArchive) {
    let now = Utc::now();
    let old = finished("t1", "c-old", now - Duration::hours(2), "general");
    let new = finished("t1", "c-new", now - Duration::hours(1), "billing");
    archive.store(old.clone()).await.expect("store");
    archive.store(new.clone()).await.expect("store");

    // Read back identically: events (agents-only ones kept and marked), summary, survey.
    let events = archive::read_all(archive.as_ref(), &key(&old), 2)
        .await
        .expect("events");
    assert_eq!(events, old.events);
    assert_eq!(events[2].visibility, Visibility::Agents);
    let summary = archive
        .summary(&key(&old))
        .await
        .expect("summary")
        .expect("archived");
    assert_eq!(
        serde_json::to_value(&summary).unwrap(),
        serde_json::to_value(&old.summary).unwrap()
    );
    assert_eq!(summary.disposition.as_deref(), Some("resolved"));
    assert_eq!(
        archive.epoch(&key(&old)).await.expect("epoch").as_deref(),
        Some("e1")
    );
    let after = archive.events(&key(&old), 4, 10).await.expect("events");
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 6]);

    // A crash between the write and its acknowledgement: the archiver stores it again.
    // Nothing changes: one row, the same events, one survey.
    archive.store(old.clone()).await.expect("re-store");
    assert_eq!(
        archive::read_all(archive.as_ref(), &key(&old), 100)
            .await
            .expect("events"),
        old.events
    );
    let all = archive.find(&org("t1"), filter(10)).await.expect("find");
    assert_eq!(
        all.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec!["c-new", "c-old"],
        "newest first, each once"
    );
    let surveys = archive.surveys(&org("t1")).await.expect("surveys");
    assert_eq!(surveys.len(), 2);
    assert_eq!(surveys[0].conversation.as_str(), "c-old");
    assert_eq!(
        (surveys[0].rating, surveys[0].comment.as_deref()),
        (9, Some("great"))
    );

    // The engine's filters.
    let by = |f: ConversationFilter| {
        let archive = archive.clone();
        async move {
            archive
                .find(&org("t1"), f)
                .await
                .expect("find")
                .into_iter()
                .map(|s| s.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        by(ConversationFilter {
            case_id: Some("case-c-old".into()),
            ..filter(10)
        })
        .await,
        vec!["c-old"]
    );
    assert_eq!(
        by(ConversationFilter {
            queues: Some(vec![QueueId::parse("billing").unwrap()]),
            ..filter(10)
        })
        .await,
        vec!["c-new"]
    );
    assert_eq!(
        by(ConversationFilter {
            agent: Some(AgentId::parse("a1").unwrap()),
            ..filter(1)
        })
        .await,
        vec!["c-new"]
    );
    assert_eq!(
        by(ConversationFilter {
            customer: Some(CustomerId::parse("cu1").unwrap()),
            status: Some(Status::Done),
            ..filter(10)
        })
        .await
        .len(),
        2
    );
    assert!(by(ConversationFilter {
        status: Some(Status::Assigned),
        ..filter(10)
    })
    .await
    .is_empty());
    assert!(by(ConversationFilter {
        agent: Some(AgentId::parse("a2").unwrap()),
        ..filter(10)
    })
    .await
    .is_empty());

    // Date range (created at or after `from`, before `to`) and cursor pages.
    assert_eq!(
        by(ConversationFilter {
            created_from: Some(now - Duration::minutes(90)),
            ..filter(10)
        })
        .await,
        vec!["c-new"]
    );
    assert_eq!(
        by(ConversationFilter {
            created_to: Some(now - Duration::hours(1)),
            ..filter(10)
        })
        .await,
        vec!["c-old"],
        "`to` is exclusive"
    );
    let first = archive.find(&org("t1"), filter(1)).await.expect("find");
    assert_eq!(first[0].id.as_str(), "c-new");
    assert_eq!(
        by(ConversationFilter {
            after: Some(switchboard::engine::ListPosition::of(&first[0])),
            ..filter(10)
        })
        .await,
        vec!["c-old"],
        "the next page starts after the cursor"
    );

    // Tenant isolation: another org's id finds nothing.
    let other = ConvKey {
        org: org("t2"),
        id: old.summary.id.clone(),
    };
    assert!(archive.summary(&other).await.expect("summary").is_none());
    assert!(archive
        .events(&other, 0, 10)
        .await
        .expect("events")
        .is_empty());
    assert!(archive
        .find(&org("t2"), filter(10))
        .await
        .expect("find")
        .is_empty());
    assert!(archive
        .surveys(&org("t2"))
        .await
        .expect("surveys")
        .is_empty());
    archive.check().await.expect("check");
}

#[tokio::test]
async fn sqlite_stores_reads_back_and_restores_idempotently() {
    let dir = std::env::temp_dir().join(format!("sb-archive-store-{}", uuid::Uuid::new_v4()));
    // The folder does not exist yet: opening creates it and the file.
    let url = format!("sqlite://{}", dir.join("nested/switchboard.db").display());
    let archive = archive::open(&url).await.expect("open sqlite");
    stores_reads_back_and_restores_idempotently(archive).await;
    // Opening the same file again (a restart) finds what was stored; migrations are not re-run.
    let again = archive::open(&url).await.expect("reopen sqlite");
    assert_eq!(
        again
            .find(&org("t1"), filter(10))
            .await
            .expect("find")
            .len(),
        2
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_stores_reads_back_and_restores_idempotently() {
    let pg = PostgresServer::start();
    let archive = archive::open(&pg.url()).await.expect("open postgres");
    stores_reads_back_and_restores_idempotently(archive).await;
    let again = archive::open(&pg.url()).await.expect("reopen postgres");
    assert_eq!(
        again
            .find(&org("t1"), filter(10))
            .await
            .expect("find")
            .len(),
        2
    );
}

#[tokio::test]
async fn postgres_down_fails_the_store_and_a_restart_accepts_it() {
    let mut pg = PostgresServer::start();
    let archive = archive::open(&pg.url()).await.expect("open postgres");
    let c = finished("t1", "c-down", Utc::now(), "general");
    pg.kill();
    assert!(
        archive.store(c.clone()).await.is_err(),
        "a store with the database down fails"
    );
    assert!(archive.check().await.is_err());
    pg.restart();
    // The pool reconnects: poll with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        match archive.store(c.clone()).await {
            Ok(()) => break,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "store after restart: {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    assert_eq!(
        archive::read_all(archive.as_ref(), &key(&c), 100)
            .await
            .expect("events"),
        c.events
    );
}
