//! The email outbox (`archive/outbox.rs`) on both dialects: a due email is claimed by one
//! sender at a time, a stale claim's outcome is ignored, retries wait until they are due, and
//! everything is scoped by org.

use switchboard::archive::outbox::{EmailStatus, NewEmail, Outbox};
use switchboard::archive::SharedArchive;

use crate::org;

fn email(org_id: &str, id: &str, pdf: bool) -> NewEmail {
    NewEmail {
        org: org(org_id),
        id: id.into(),
        conversation: "c1".into(),
        recipient: "ada@example.com".into(),
        subject: "Transcript of your chat".into(),
        body: "Conversation: c1\n".into(),
        attachment: pdf.then(|| {
            (
                "transcript-c1.pdf".to_string(),
                b"%PDF-1.7 \x00\xff".to_vec(),
            )
        }),
        created_us: 1_000,
    }
}

/// Org t1's email `id`, which must exist.
async fn status(outbox: &dyn Outbox, id: &str) -> EmailStatus {
    outbox
        .status(&org("t1"), id)
        .await
        .expect("status")
        .expect("the email")
}

pub async fn claims_once_fences_stale_outcomes_and_retries(archive: SharedArchive) {
    let outbox = archive.outbox();
    for (org_id, id, pdf) in [("t1", "e1", false), ("t1", "e2", true), ("t2", "e3", false)] {
        outbox
            .enqueue(email(org_id, id, pdf))
            .await
            .expect("enqueue");
    }
    assert_eq!(outbox.backlog().await.expect("backlog"), 3);
    assert!(
        outbox
            .status(&org("t2"), "e1")
            .await
            .expect("status")
            .is_none(),
        "org-scoped"
    );
    let queued = status(outbox, "e1").await;
    assert_eq!((queued.status.as_str(), queued.attempts), ("queued", 0));

    // Two senders at once: each email goes to exactly one of them.
    let (a, b) = tokio::join!(
        outbox.claim(2_000, 10_000, 10),
        outbox.claim(2_000, 10_000, 10)
    );
    let (a, b) = (a.expect("claim"), b.expect("claim"));
    let mut ids: Vec<String> = a.iter().chain(&b).map(|c| c.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    let e2 = a.iter().chain(&b).find(|c| c.id == "e2").expect("e2");
    assert_eq!(
        e2.attachment,
        Some((
            "transcript-c1.pdf".to_string(),
            b"%PDF-1.7 \x00\xff".to_vec()
        ))
    );
    assert!(a.iter().chain(&b).all(|c| c.attempt == 1));
    assert!(
        outbox
            .claim(5_000, 20_000, 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );

    // The lease runs out (the sender died): another takes the emails over, attempt 2.
    let again = outbox.claim(10_001, 30_000, 10).await.expect("claim");
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|c| c.attempt == 2));
    // The first sender's late outcome changes nothing; the new one's counts.
    outbox
        .mark_sent("t1", "e1", 1, 11_000)
        .await
        .expect("stale");
    let e1 = status(outbox, "e1").await;
    assert_eq!(e1.status, "sending");
    outbox.mark_sent("t1", "e1", 2, 11_000).await.expect("sent");
    outbox.mark_sent("t2", "e3", 2, 11_000).await.expect("sent");
    let e1 = status(outbox, "e1").await;
    assert_eq!(e1.status, "sent");
    assert!(e1.sent_at.is_some());

    // A failure is retried once due, and given up when told.
    outbox
        .mark_failed("t1", "e2", 2, "connection refused", Some(50_000))
        .await
        .expect("failed");
    let e2 = status(outbox, "e2").await;
    assert_eq!((e2.status.as_str(), e2.attempts), ("queued", 2));
    assert_eq!(e2.last_error.as_deref(), Some("connection refused"));
    assert!(outbox
        .claim(49_999, 60_000, 10)
        .await
        .expect("claim")
        .iter()
        .all(|c| c.id != "e2"));
    let retry = outbox.claim(50_000, 60_000, 10).await.expect("claim");
    assert_eq!(
        retry
            .iter()
            .map(|c| (c.id.as_str(), c.attempt))
            .collect::<Vec<_>>(),
        [("e2", 3)]
    );
    outbox
        .mark_failed("t1", "e2", 3, "550 no such user", None)
        .await
        .expect("failed");
    let e2 = status(outbox, "e2").await;
    assert_eq!((e2.status.as_str(), e2.attempts), ("failed", 3));
    assert_eq!(outbox.backlog().await.expect("backlog"), 0);

    // Finished emails are purged once old enough; nothing else is.
    outbox
        .enqueue(email("t1", "e4", false))
        .await
        .expect("enqueue");
    assert_eq!(outbox.purge(1_000).await.expect("purge"), 0, "none older");
    assert_eq!(
        outbox.purge(1_001).await.expect("purge"),
        3,
        "e1, e2 and e3, not the queued e4"
    );
    assert!(outbox
        .status(&org("t1"), "e1")
        .await
        .expect("status")
        .is_none());
    assert_eq!(status(outbox, "e4").await.status, "queued");
}
