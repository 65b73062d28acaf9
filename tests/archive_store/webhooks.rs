//! The webhook outbox (`archive/webhooks.rs`) on both dialects: a row per (subscription, id)
//! however often it is offered, one unfinished row per (subscription, conversation) claimed at
//! a time in seq order, stale outcomes fenced, dead rows stop holding the line and can be
//! redelivered, and pull rows are read after a cursor.

use switchboard::archive::webhooks::NewWebhook;
use switchboard::archive::SharedArchive;

use crate::org;

fn row(sub: &str, conv: &str, seq: i64, pull: bool) -> NewWebhook {
    NewWebhook {
        org: org("t1"),
        subscription: sub.into(),
        id: format!("{conv}.{seq}"),
        conversation: conv.into(),
        seq,
        event_type: "message.created".into(),
        body: format!(r#"{{"seq":{seq}}}"#),
        pull,
        created_us: 1_000 + seq,
    }
}

pub async fn one_line_at_a_time_dead_rows_step_aside_and_pull_reads_after_a_cursor(
    archive: SharedArchive,
) {
    let w = archive.webhooks();
    let rows = vec![
        row("crm", "c1", 1, false),
        row("crm", "c1", 2, false),
        row("crm", "c2", 1, false),
    ];
    w.enqueue_webhooks(rows.clone()).await.expect("enqueue");
    // Offered again (a rebuilt conversation): nothing new.
    w.enqueue_webhooks(rows).await.expect("enqueue again");
    assert_eq!(w.webhook_backlog().await.expect("backlog"), 3);

    // c1's second event waits for its first; c2's goes at once.
    let now = 10_000;
    let claimed = w
        .claim_webhooks(now, now + 500, 10, vec![])
        .await
        .expect("claim");
    let mut ids: Vec<&str> = claimed.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["c1.1", "c2.1"]);
    assert!(
        w.claim_webhooks(now, now + 500, 10, vec![])
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    // An open circuit's subscription is skipped.
    let first = claimed
        .iter()
        .find(|c| c.id == "c1.1")
        .expect("c1.1")
        .clone();
    w.webhooks_delivered(
        vec![claimed
            .iter()
            .find(|c| c.id == "c2.1")
            .expect("c2.1")
            .clone()],
        now,
    )
    .await
    .expect("delivered");
    // c1.1 fails for good (its last attempt): dead, and c1.2 is free to go.
    w.webhook_failed(&first, "answered 500", None)
        .await
        .expect("failed");
    let skipped = w
        .claim_webhooks(now, now + 500, 10, vec!["t1/crm".into()])
        .await
        .expect("claim");
    assert!(skipped.is_empty(), "the open circuit's rows wait");
    let next = w
        .claim_webhooks(now, now + 500, 10, vec![])
        .await
        .expect("claim");
    assert_eq!(
        next.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["c1.2"]
    );
    // Its lease runs out (the node died): another claim takes it, and the old attempt's
    // outcome is ignored.
    let later = now + 1_000;
    let retaken = w
        .claim_webhooks(later, later + 500, 10, vec![])
        .await
        .expect("reclaim");
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].attempt, 2);
    w.webhooks_delivered(vec![next[0].clone()], later)
        .await
        .expect("stale outcome");
    assert_eq!(
        w.webhook_backlog().await.expect("backlog"),
        1,
        "the stale outcome changed nothing"
    );
    w.webhooks_delivered(vec![retaken[0].clone()], later)
        .await
        .expect("delivered");
    assert_eq!(w.webhook_backlog().await.expect("backlog"), 0);

    let dead = w.dead_webhooks(&org("t1"), "crm", 10).await.expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].id.as_str(), dead[0].last_error.as_deref()),
        ("c1.1", Some("answered 500"))
    );
    assert!(
        w.dead_webhooks(&org("t2"), "crm", 10)
            .await
            .expect("dead")
            .is_empty(),
        "scoped by org"
    );
    assert!(w
        .redeliver_webhook(&org("t1"), "crm", "c1.1", later)
        .await
        .expect("redeliver"));
    assert!(!w
        .redeliver_webhook(&org("t1"), "crm", "c1.1", later)
        .await
        .expect("again"));
    let again = w
        .claim_webhooks(later, later + 500, 10, vec![])
        .await
        .expect("claim");
    assert_eq!(
        (again.len(), again[0].attempt),
        (1, 1),
        "attempts start over"
    );

    // Pull rows: never claimed, read in order after a cursor.
    w.enqueue_webhooks((1..=3).map(|s| row("feed", "c3", s, true)).collect())
        .await
        .expect("pull rows");
    assert!(w
        .claim_webhooks(later, later + 500, 10, vec![])
        .await
        .expect("claim")
        .is_empty());
    let page = w
        .pull_webhooks(&org("t1"), "feed", 0, i64::MAX, 2)
        .await
        .expect("pull");
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    let rest = w
        .pull_webhooks(&org("t1"), "feed", page[1].n, i64::MAX, 10)
        .await
        .expect("pull");
    assert_eq!(rest.iter().map(|r| r.seq).collect::<Vec<_>>(), [3]);
    let settled = w
        .pull_webhooks(&org("t1"), "feed", 0, 1_002, 10)
        .await
        .expect("pull");
    assert_eq!(settled.len(), 1, "rows younger than the settle time wait");
    assert_eq!(
        w.purge_webhooks(i64::MAX).await.expect("purge"),
        5,
        "the delivered and pull rows; the one being sent stays"
    );
}
