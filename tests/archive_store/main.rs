//! The archive's two implementations, against a real SQLite file and a real PostgreSQL started
//! per test (`tests/support/postgres.rs`): the same checks run on both.

#[path = "../support/postgres.rs"]
mod postgres_server;
mod reports;
mod webhooks;

mod outbox;

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
        bot: None,
        tickets: Vec::new(),
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
        attachments: Vec::new(),
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

/// Retention's and erasure's rows, on one implementation: redact and delete are idempotent and
/// scoped by org; erasure records round-trip and leave the pending list once finished.
async fn privacy_rows_are_redacted_deleted_and_audited(archive: SharedArchive) {
    use switchboard::archive::privacy::{ErasureRecord, ErasureStatus, Removed};
    let now = Utc::now();
    let mut mine = finished("t1", "c-1", now - Duration::days(40), "general");
    let record: switchboard::engine::AttachmentRecord = serde_json::from_value(json!({
        "id": "a_1", "org": "t1", "conversation": "c-1",
        "uploader": {"role": "customer", "id": "cu1"}, "name": "passport.png", "size": 3,
        "mime": "image/png", "sha256": "0".repeat(64), "state": "clean",
        "created_at": now.to_rfc3339(), "key": "0a1b2c"
    }))
    .expect("record");
    mine.attachments = vec![record.clone()];
    let theirs = finished("t2", "c-1", now - Duration::days(40), "general");
    archive.store(mine.clone()).await.expect("store");
    archive.store(theirs.clone()).await.expect("store");
    assert_eq!(
        archive.attachments(&key(&mine)).await.expect("files"),
        vec![record]
    );
    let cutoff = now - Duration::days(30);
    let due = archive
        .ended_before(&org("t1"), cutoff, true, 10)
        .await
        .expect("due");
    assert_eq!(due, vec![mine.summary.id.clone()]);
    assert!(archive
        .ended_before(&org("t1"), now - Duration::days(50), false, 10)
        .await
        .expect("due")
        .is_empty());

    // Redaction: the message, the note and the survey comment; again, nothing.
    assert_eq!(archive.redact(&key(&mine)).await.expect("redact"), 3);
    assert_eq!(archive.redact(&key(&mine)).await.expect("redact"), 0);
    let events = archive::read_all(archive.as_ref(), &key(&mine), 100)
        .await
        .expect("events");
    assert_eq!(events.len(), 6);
    let redacted: Vec<u64> = events
        .iter()
        .filter(|e| e.redacted)
        .map(|e| e.seq)
        .collect();
    assert_eq!(redacted, vec![2, 3, 5]);
    assert!(!serde_json::to_string(&events)
        .expect("json")
        .contains("hello"));
    let survey = &archive.surveys(&org("t1")).await.expect("surveys")[0];
    assert_eq!((survey.rating, survey.comment.as_deref()), (9, None));
    assert!(archive
        .attachments(&key(&mine))
        .await
        .expect("files")
        .is_empty());
    assert!(archive
        .ended_before(&org("t1"), cutoff, true, 10)
        .await
        .expect("due")
        .is_empty());

    // Deletion: every row, once; the other org's conversation of the same id stays whole.
    // An emailed transcript of it still in the outbox goes too.
    archive
        .outbox()
        .enqueue(switchboard::archive::outbox::NewEmail {
            org: org("t1"),
            id: "e1".into(),
            conversation: "c-1".into(),
            recipient: "ada@example.com".into(),
            subject: "Transcript".into(),
            body: "hello".into(),
            attachment: None,
            created_us: now.timestamp_micros(),
        })
        .await
        .expect("enqueue");
    let removed = archive.delete(&key(&mine)).await.expect("delete");
    assert!(archive
        .outbox()
        .status(&org("t1"), "e1")
        .await
        .expect("status")
        .is_none());
    assert_eq!(
        (removed.conversations, removed.events, removed.surveys),
        (1, 6, 1)
    );
    assert_eq!(
        archive.delete(&key(&mine)).await.expect("delete"),
        Removed::default()
    );
    assert!(archive
        .summary(&key(&mine))
        .await
        .expect("summary")
        .is_none());
    assert_eq!(
        archive::read_all(archive.as_ref(), &key(&theirs), 100)
            .await
            .expect("events"),
        theirs.events
    );

    // The audit trail: pending, then done without the customer id.
    let mut request = ErasureRecord {
        id: "er1".into(),
        org: org("t1"),
        customer: Some(CustomerId::parse("cu1").expect("customer")),
        customer_sha256: "ab".repeat(32),
        requested_by: "admin".into(),
        requested_at: now,
        status: ErasureStatus::Pending,
        finished_at: None,
        removed: Removed::default(),
        error: None,
    };
    archive.put_erasure(request.clone()).await.expect("record");
    // One node at a time carries it out: a claim holds until it lapses or the record is stored.
    let claim = |by: &'static str, until: DateTime<Utc>| {
        let archive = archive.clone();
        async move {
            archive
                .claim_erasure(&org("t1"), "er1", by, until)
                .await
                .expect("claim")
        }
    };
    assert!(claim("n1", now + Duration::minutes(5)).await);
    assert!(
        claim("n1", now + Duration::minutes(5)).await,
        "ours already"
    );
    assert!(!claim("n2", now + Duration::minutes(5)).await, "held by n1");
    archive.put_erasure(request.clone()).await.expect("release");
    assert!(claim("n2", now - Duration::minutes(1)).await, "released");
    assert!(
        claim("n1", now + Duration::minutes(5)).await,
        "n2's claim lapsed"
    );
    assert!(!archive
        .claim_erasure(&org("t2"), "er1", "n3", now)
        .await
        .expect("claim"));
    let pending = archive.pending_erasures(10).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].customer, request.customer);
    assert!(archive
        .erasure(&org("t2"), "er1")
        .await
        .expect("read")
        .is_none());
    request.status = ErasureStatus::Done;
    request.customer = None;
    request.finished_at = Some(now);
    request.removed.conversations = 1;
    archive.put_erasure(request.clone()).await.expect("record");
    assert!(archive
        .pending_erasures(10)
        .await
        .expect("pending")
        .is_empty());
    let done = archive
        .erasure(&org("t1"), "er1")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(done.status, ErasureStatus::Done);
    assert_eq!(done.customer, None);
    assert_eq!(done.removed.conversations, 1);
    assert_eq!(
        done.finished_at.map(|t| t.timestamp_micros()),
        Some(now.timestamp_micros())
    );
    // A finished record stays as it is: a late writer (a node that lost its claim) changes
    // nothing, and nobody claims it.
    let mut late = request.clone();
    late.status = ErasureStatus::Failed;
    late.error = Some("late".into());
    archive.put_erasure(late).await.expect("record");
    let kept = archive
        .erasure(&org("t1"), "er1")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!((kept.status, kept.error), (ErasureStatus::Done, None));
    assert!(!claim("n1", now + Duration::minutes(5)).await);
}

#[tokio::test]
async fn sqlite_redacts_deletes_and_audits() {
    let dir = std::env::temp_dir().join(format!("sb-archive-privacy-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}", dir.join("switchboard.db").display());
    let archive = archive::open(&url).await.expect("open sqlite");
    privacy_rows_are_redacted_deleted_and_audited(archive).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn sqlite_email_outbox_claims_once_and_retries() {
    let dir = std::env::temp_dir().join(format!("sb-outbox-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}", dir.join("switchboard.db").display());
    let archive = archive::open(&url).await.expect("open sqlite");
    outbox::claims_once_fences_stale_outcomes_and_retries(archive).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_redacts_deletes_and_audits() {
    let pg = PostgresServer::start();
    let archive = archive::open(&pg.url()).await.expect("open postgres");
    privacy_rows_are_redacted_deleted_and_audited(archive).await;
}

#[tokio::test]
async fn postgres_email_outbox_claims_once_and_retries() {
    let pg = PostgresServer::start();
    let archive = archive::open(&pg.url()).await.expect("open postgres");
    outbox::claims_once_fences_stale_outcomes_and_retries(archive).await;
}

#[tokio::test]
async fn sqlite_webhook_outbox_keeps_each_line_in_order() {
    let dir = std::env::temp_dir().join(format!("sb-webhooks-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}", dir.join("switchboard.db").display());
    let archive = archive::open(&url).await.expect("open sqlite");
    webhooks::one_line_at_a_time_dead_rows_step_aside_and_pull_reads_after_a_cursor(archive).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_webhook_outbox_keeps_each_line_in_order() {
    let pg = PostgresServer::start();
    let archive = archive::open(&pg.url()).await.expect("open postgres");
    webhooks::one_line_at_a_time_dead_rows_step_aside_and_pull_reads_after_a_cursor(archive).await;
}
