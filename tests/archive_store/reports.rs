//! Report figures checked against a hand-built data set (issue 14): conversations with known
//! timestamps stored in the archive, read back for a day, aggregated per queue and per agent;
//! every figure asserted exactly, on SQLite and on a real PostgreSQL.
//!
//! The day, 2026-12-01 (UTC), in org `t1`:
//!
//! | chat | queue   | what happens                                                   | survey |
//! |------|---------|----------------------------------------------------------------|--------|
//! | c1   | general | waits 10 s for al, who answers 5 s later; ends at 70 s          | 10     |
//! | c2   | general | waits 20 s for al (answers at 30 s), transferred to bo at 80 s, bo answers 10 s later; ends at 200 s | 6 |
//! | c3   | general | the customer leaves after 30 s in line (abandoned)              |        |
//! | c4   | billing | waits 40 s for bo, who never writes; ends at 100 s              | 9      |
//! | c5   | general | a chat between agents: not in the reports                       |        |
//! | c6   | general | ends at 2026-12-02 00:00:00, just outside the day               | 0      |
//! | c7   | general | org `t2`                                                        | 0      |
//! | b1   | general | bot-first: the bot answers, ends it at 45 s (bot only)          |        |
//! | b2   | general → billing | bot-first: handed over at 15 s to billing, waits 20 s for bo, who answers 5 s later; ends at 95 s | 10 |
//! | b3   | general | bot-first: handed over at 25 s, the customer leaves at 55 s (abandoned) |  |
//!
//! b2 counts in billing, the queue it was handed over to; b1 in its entry queue.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use switchboard::archive::{self, ArchivedConversation, SharedArchive};
use switchboard::domain::conversation::Status;
use switchboard::domain::figures::{Figures, Report, ReportBy};
use switchboard::engine::{BotPhase, ConversationSummary};
use switchboard::ids::{AgentId, ConversationId, OrgId, QueueId};
use switchboard::protocol::LogEvent;

use crate::postgres_server::PostgresServer;

fn day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("date")
}

/// One event: seconds after `start`, the author's role and id, the kind and its fields.
type Entry = (i64, &'static str, &'static str, Value);

fn conversation(
    org: &str,
    id: &str,
    start: DateTime<Utc>,
    entries: &[Entry],
) -> ArchivedConversation {
    let events: Vec<Arc<LogEvent>> = entries
        .iter()
        .enumerate()
        .map(|(i, (sec, role, author, body))| {
            let mut v = json!({
                "seq": i + 1,
                "at": (start + Duration::seconds(*sec)).to_rfc3339(),
                "author": { "role": role, "id": author },
                "visibility": "public",
            });
            v.as_object_mut()
                .expect("object")
                .extend(body.as_object().expect("fields").clone());
            let mut e: LogEvent = serde_json::from_value(v).expect("event");
            e.visibility = e.kind.visibility();
            Arc::new(e)
        })
        .collect();
    let customer = events.iter().find_map(|e| match &e.kind {
        switchboard::protocol::EventKind::Created { customer, .. } => customer.clone(),
        _ => None,
    });
    let agents: Vec<AgentId> = events
        .iter()
        .filter_map(|e| match &e.kind {
            switchboard::protocol::EventKind::Assigned { agent, .. } => Some(agent.clone()),
            switchboard::protocol::EventKind::TransferAccepted { to, .. } => Some(to.clone()),
            _ => None,
        })
        .collect();
    let ended_at = events
        .iter()
        .find(|e| e.kind.name() == "ended")
        .map(|e| e.at);
    let bot = events
        .iter()
        .any(|e| e.kind.name() == "bot_engaged")
        .then(|| BotPhase {
            bot: "ava".into(),
            handed_over_at: events
                .iter()
                .find(|e| e.kind.name() == "handed_over")
                .map(|e| e.at),
        });
    let summary = ConversationSummary {
        id: ConversationId::parse(id).expect("id"),
        org: OrgId::parse(org).expect("org"),
        status: Status::Done,
        customer,
        customer_name: "Ada".into(),
        customer_email: None,
        queue: Some(QueueId::parse("general").expect("queue")),
        reason: None,
        case_id: None,
        channel: "web".into(),
        owner: agents.last().cloned(),
        agents,
        created_at: start,
        waiting_since: None,
        priority: 0,
        ended_at,
        last_seq: events.len() as u64,
        messages: 0,
        disposition: None,
        survey_rating: None,
        bot,
        tickets: Vec::new(),
    };
    ArchivedConversation {
        summary,
        epoch: "e1".into(),
        events,
        survey: None,
        attachments: Vec::new(),
    }
}

fn created(queue: &str) -> Entry {
    (
        0,
        "customer",
        "cu",
        json!({"kind": "created", "customer": "cu", "customer_name": "Ada",
               "verified": false, "queue": queue, "channel": "web"}),
    )
}

fn queued(queue: &str) -> Entry {
    (
        0,
        "system",
        "",
        json!({"kind": "queued", "queue": queue, "priority": 0}),
    )
}

fn assigned(sec: i64, agent: &str) -> Entry {
    (
        sec,
        "system",
        "",
        json!({"kind": "assigned", "agent": agent, "agent_name": agent}),
    )
}

fn says(sec: i64, agent: &'static str) -> Entry {
    (
        sec,
        "agent",
        agent,
        json!({"kind": "message", "text": "Hello", "client_msg_id": format!("m{sec}")}),
    )
}

fn ended(sec: i64) -> Entry {
    (
        sec,
        "customer",
        "cu",
        json!({"kind": "ended", "reason": "customer"}),
    )
}

fn bot_engaged() -> Entry {
    (
        0,
        "system",
        "",
        json!({"kind": "bot_engaged", "bot": "ava", "name": "Ava (bot)"}),
    )
}

fn bot_says(sec: i64) -> Entry {
    (
        sec,
        "bot",
        "ava",
        json!({"kind": "message", "text": "I can help", "client_msg_id": format!("b{sec}")}),
    )
}

/// The handover's one append: `handed_over`, `intake`, `queued`.
fn handover(sec: i64, queue: &str) -> [Entry; 3] {
    [
        (
            sec,
            "customer",
            "cu",
            json!({"kind": "handed_over", "by": "customer"}),
        ),
        (
            sec,
            "system",
            "",
            json!({"kind": "intake", "summary": "Return of order 1001"}),
        ),
        (
            sec,
            "system",
            "",
            json!({"kind": "queued", "queue": queue, "priority": 0}),
        ),
    ]
}

fn survey(sec: i64, rating: u8) -> Entry {
    (
        sec,
        "customer",
        "cu",
        json!({"kind": "survey", "rating": rating}),
    )
}

fn data_set() -> Vec<ArchivedConversation> {
    let at = |h: u32| day() + Duration::hours(i64::from(h));
    vec![
        conversation(
            "t1",
            "c1",
            at(9),
            &[
                created("general"),
                queued("general"),
                assigned(10, "al"),
                says(15, "al"),
                ended(70),
                survey(75, 10),
            ],
        ),
        conversation(
            "t1",
            "c2",
            at(10),
            &[
                created("general"),
                queued("general"),
                assigned(20, "al"),
                says(50, "al"),
                (
                    70,
                    "agent",
                    "al",
                    json!({"kind": "transfer_requested", "from": "al", "to": "bo"}),
                ),
                (
                    80,
                    "agent",
                    "bo",
                    json!({"kind": "transfer_accepted", "from": "al", "to": "bo"}),
                ),
                says(90, "bo"),
                ended(200),
                survey(210, 6),
            ],
        ),
        conversation(
            "t1",
            "c3",
            at(11),
            &[
                created("general"),
                queued("general"),
                (
                    5,
                    "customer",
                    "cu",
                    json!({"kind": "message", "text": "anyone?", "client_msg_id": "q"}),
                ),
                ended(30),
            ],
        ),
        conversation(
            "t1",
            "c4",
            at(12),
            &[
                created("billing"),
                queued("billing"),
                assigned(40, "bo"),
                ended(100),
                survey(101, 9),
            ],
        ),
        conversation(
            "t1",
            "c5",
            at(13),
            &[
                (
                    0,
                    "agent",
                    "al",
                    json!({"kind": "created", "customer_name": "", "verified": false,
                                     "queue": "general", "channel": "internal"}),
                ),
                assigned(0, "bo"),
                says(3, "bo"),
                ended(10),
            ],
        ),
        conversation(
            "t1",
            "c6",
            day() + Duration::days(1) - Duration::seconds(30),
            &[
                created("general"),
                queued("general"),
                assigned(5, "al"),
                ended(30),
                survey(31, 0),
            ],
        ),
        conversation(
            "t2",
            "c7",
            at(9),
            &[
                created("general"),
                queued("general"),
                assigned(5, "al"),
                ended(30),
                survey(31, 0),
            ],
        ),
        conversation(
            "t1",
            "b1",
            at(14),
            &[
                created("general"),
                bot_engaged(),
                bot_says(2),
                (
                    5,
                    "customer",
                    "cu",
                    json!({"kind": "message", "text": "thanks", "client_msg_id": "t"}),
                ),
                (45, "bot", "ava", json!({"kind": "ended", "reason": "bot"})),
            ],
        ),
        conversation("t1", "b2", at(15), &{
            let mut log = vec![created("general"), bot_engaged(), bot_says(1)];
            log.extend(handover(15, "billing"));
            log.extend([
                assigned(35, "bo"),
                says(40, "bo"),
                ended(95),
                survey(96, 10),
            ]);
            log
        }),
        conversation("t1", "b3", at(16), &{
            let mut log = vec![created("general"), bot_engaged(), bot_says(1)];
            log.extend(handover(25, "general"));
            log.push(ended(55));
            log
        }),
    ]
}

fn figures(row: (u64, u64, [Option<i64>; 4], u64, u64, Option<i64>)) -> Figures {
    let (
        handled,
        abandoned,
        [wait_avg_ms, wait_p90_ms, first_response_avg_ms, handle_avg_ms],
        transfers,
        surveys,
        nps,
    ) = row;
    Figures {
        handled,
        abandoned,
        wait_avg_ms,
        wait_p90_ms,
        first_response_avg_ms,
        handle_avg_ms,
        transfers,
        surveys,
        nps,
        ..Figures::default()
    }
}

/// `f` with the bot's share: chats it handled alone, handed over, its mean time.
fn with_bot(f: Figures, bot_only: u64, handed_over: u64, bot_avg_ms: Option<i64>) -> Figures {
    Figures {
        bot_only,
        handed_over,
        bot_avg_ms,
        ..f
    }
}

/// The org's figures for the day: every conversation once.
fn total() -> Figures {
    // Handled by people: c1, c2, c4, b2; abandoned: c3, b3 (b1 is the bot's alone). Waits 10,
    // 20, 40, 20 s (b2's from its handover): p90 is rank ⌈3.6⌉ = 4; first responses 5, 30 and
    // 5 s; handle times 60, 180, 60 and 60 s; surveys 10, 6, 9, 10: (3 − 1) / 4 = 50. With the
    // bot: b1 45 s, b2 15 s, b3 25 s.
    with_bot(
        figures((
            4,
            2,
            [Some(22_500), Some(40_000), Some(13_333), Some(90_000)],
            1,
            4,
            Some(50),
        )),
        1,
        2,
        Some(28_333),
    )
}

/// The report of org `org` for the day `offset` days after 2026-12-01.
async fn report(archive: &SharedArchive, org: &str, offset: i64, by: ReportBy) -> Report {
    let from = day() + Duration::days(offset);
    archive
        .report(
            &OrgId::parse(org).expect("org"),
            from,
            from + Duration::days(1),
            by,
        )
        .await
        .expect("report")
}

async fn report_figures_match_the_hand_built_data_set(archive: SharedArchive) {
    let mut set = data_set();
    // c2 first archived before its survey, then again with it; c1 stored twice: each counts once,
    // with its latest figures. A stale copy stored after the newer one changes nothing.
    let mut early_c2 = set[1].clone();
    early_c2.events.truncate(8);
    early_c2.summary.last_seq = 8;
    archive.store(early_c2.clone()).await.expect("store");
    for c in &set {
        archive.store(c.clone()).await.expect("store");
    }
    archive.store(set.remove(0)).await.expect("re-store");
    archive.store(early_c2).await.expect("stale re-store");
    // Stored again without its log (the engine had forgotten it): its figures stay.
    let mut logless = set[0].clone();
    logless.events.clear();
    archive.store(logless).await.expect("log-less re-store");

    // c1–c4 of the day (c5 is between agents, c6 ends the next day, c7 is t2's).
    assert_eq!(
        report(&archive, "t1", 0, ReportBy::Queue).await,
        Report {
            rows: vec![
                (
                    "billing".into(),
                    // c4 and b2, handed over to it: waits 40 and 20 s; b2's answer after 5 s.
                    with_bot(
                        figures((
                            2,
                            0,
                            [Some(30_000), Some(40_000), Some(5_000), Some(60_000)],
                            0,
                            2,
                            Some(100)
                        )),
                        0,
                        1,
                        Some(15_000)
                    ),
                ),
                (
                    "general".into(),
                    // waits 10 and 20 s (p90: rank ⌈1.8⌉ = 2); surveys 10 and 6; c3 and b3
                    // abandoned; b1 the bot's alone (45 s), b3 handed over (after 25 s).
                    with_bot(
                        figures((
                            2,
                            2,
                            [Some(15_000), Some(20_000), Some(17_500), Some(120_000)],
                            1,
                            2,
                            Some(0)
                        )),
                        1,
                        1,
                        Some(35_000)
                    ),
                ),
            ],
            total: total(),
        }
    );

    let agents = report(&archive, "t1", 0, ReportBy::Agent).await;
    assert_eq!(
        agents,
        Report {
            rows: vec![
                (
                    "al".into(),
                    // c1 and c2 (60 s as owner of each); transferred c2; rated 10 on c1 only,
                    // c2's survey is bo's, its last owner.
                    figures((
                        2,
                        0,
                        [Some(15_000), Some(20_000), Some(17_500), Some(60_000)],
                        1,
                        1,
                        Some(100)
                    )),
                ),
                (
                    "bo".into(),
                    // c2 by transfer (no wait; answered after 10 s; 120 s as owner), c4, and b2
                    // from the bot: people's handling only, so no bot figures in its row.
                    figures((
                        3,
                        0,
                        [Some(30_000), Some(40_000), Some(7_500), Some(80_000)],
                        0,
                        3,
                        Some(33)
                    )),
                ),
            ],
            total: total(),
        }
    );

    // The CSV carries the same figures, a total row last, negative numbers as numbers.
    let csv = switchboard::domain::figures::report_csv(ReportBy::Agent, &agents);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "agent,handled,abandoned,wait_avg_ms,wait_p90_ms,first_response_avg_ms,handle_avg_ms,transfers,surveys,nps,bot_only,handed_over,bot_avg_ms"
    );
    assert_eq!(lines[1], "al,2,0,15000,20000,17500,60000,1,1,100,0,0,");
    assert_eq!(
        lines[3],
        "total,4,2,22500,40000,13333,90000,1,4,50,1,2,28333"
    );

    // The range is by end time, `until` excluded: c6 is the next day's; another org sees only
    // its own.
    let one_chat = figures((
        1,
        0,
        [Some(5_000), Some(5_000), None, Some(25_000)],
        0,
        1,
        Some(-100),
    ));
    assert_eq!(
        report(&archive, "t1", 1, ReportBy::Queue).await.total,
        one_chat
    );
    assert_eq!(
        report(&archive, "t2", 0, ReportBy::Queue).await.total,
        one_chat
    );
    let none = report(&archive, "t3", 0, ReportBy::Agent).await;
    assert_eq!((none.rows.len(), none.total), (0, Figures::default()));
}

/// The archive as a node from before migration 0005 left it: no `handling` or `bot_ms`, and the
/// bot chats measured as if they had no bot (b1 abandoned, b2 in its entry queue).
const BEFORE_0005: [&str; 5] = [
    "UPDATE report_conversations SET abandoned = TRUE WHERE conversation = 'b1'",
    "UPDATE report_conversations SET queue = 'general' WHERE conversation = 'b2'",
    "ALTER TABLE report_conversations DROP COLUMN handling",
    "ALTER TABLE report_conversations DROP COLUMN bot_ms",
    "DELETE FROM _sqlx_migrations WHERE version = 5",
];

/// Migration 0005 on an archive that has bot chats measured the old way (`archive`, just
/// opened on it): their rows go, and the backfill at start measures them again.
async fn bot_chats_measured_before_0005_are_measured_again(archive: SharedArchive) {
    let before = report(&archive, "t1", 0, ReportBy::Queue).await;
    assert_eq!(
        (
            before.total.handled,
            before.total.abandoned,
            before.total.bot_only
        ),
        (3, 1, 0),
        "b1–b3 are out until the backfill; c3 the only abandoned chat"
    );
    assert_eq!(archive.backfill_reports(2).await.expect("backfill"), 3);
    assert_eq!(
        report(&archive, "t1", 0, ReportBy::Queue).await.total,
        total()
    );
}

/// The archive as it was before the reports existed: every report row gone.
const WIPE: [&str; 2] = [
    "DELETE FROM report_owners",
    "DELETE FROM report_conversations",
];

/// Conversations archived before the reports existed get their rows from the backfill (which a
/// node runs at start), once: the same figures as if they had been written with them.
async fn the_backfill_writes_the_rows_of_conversations_archived_before(archive: SharedArchive) {
    let before = report(&archive, "t1", 0, ReportBy::Queue).await;
    assert_eq!((before.rows.len(), before.total.handled), (0, 0));
    // Pages of two: b1–b3, c1, c2, c3, c4, c6 of t1 and c7 of t2 (c5, between agents, has none).
    assert_eq!(archive.backfill_reports(2).await.expect("backfill"), 9);
    assert_eq!(
        report(&archive, "t1", 0, ReportBy::Queue).await.total,
        total()
    );
    assert_eq!(
        report(&archive, "t1", 0, ReportBy::Agent).await.rows.len(),
        2
    );
    assert_eq!(
        archive.backfill_reports(2).await.expect("backfill"),
        0,
        "once"
    );
}

#[tokio::test]
async fn sqlite_report_figures_match_the_hand_built_data_set() {
    let dir = std::env::temp_dir().join(format!("sb-reports-{}", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}", dir.join("switchboard.db").display());
    let archive = archive::open(&url).await.expect("open sqlite");
    report_figures_match_the_hand_built_data_set(archive.clone()).await;
    drop(archive);
    let pool = sqlx::SqlitePool::connect(&url).await.expect("connect");
    for statement in BEFORE_0005 {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect(statement);
    }
    let archive = archive::open(&url).await.expect("reopen sqlite");
    bot_chats_measured_before_0005_are_measured_again(archive.clone()).await;
    for wipe in WIPE {
        sqlx::query(wipe).execute(&pool).await.expect("wipe");
    }
    the_backfill_writes_the_rows_of_conversations_archived_before(archive).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_report_figures_match_the_hand_built_data_set() {
    let pg = PostgresServer::start();
    let archive = archive::open(&pg.url()).await.expect("open postgres");
    report_figures_match_the_hand_built_data_set(archive.clone()).await;
    drop(archive);
    let pool = sqlx::PgPool::connect(&pg.url()).await.expect("connect");
    for statement in BEFORE_0005 {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect(statement);
    }
    let archive = archive::open(&pg.url()).await.expect("reopen postgres");
    bot_chats_measured_before_0005_are_measured_again(archive.clone()).await;
    for wipe in WIPE {
        sqlx::query(wipe).execute(&pool).await.expect("wipe");
    }
    the_backfill_writes_the_rows_of_conversations_archived_before(archive).await;
}
