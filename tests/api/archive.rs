//! The archive (DESIGN §12): finished conversations are written to SQL once in effect, never
//! lost while the database is down, kept across a restart of the embedded default, and REST
//! reads merge them with the live ones.


use serde_json::{json, Value};

use switchboard::ids::{ConvKey, ConversationId, OrgId};
use switchboard::protocol::Visibility;

use crate::helpers::*;
use crate::postgres_server::PostgresServer;

fn key(conv: &str) -> ConvKey {
    ConvKey {
        org: OrgId::parse("t1").expect("org"),
        id: ConversationId::parse(conv).expect("id"),
    }
}

/// A whole chat: a message each way, an internal note, the customer ends and answers the
/// survey, the agent wraps up with a disposition. Returns the conversation id.
async fn finish_a_chat(app: &TestApp, name: &str) -> String {
    let mut agent = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat(name).await;
    accept_next(&mut agent).await;
    customer.event(&conv, "assigned").await;
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "Hi <b>there</b>" }))
        .await;
    agent
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": "Hello!" }))
        .await;
    agent
        .ok(json!({ "type": "note", "conversation": conv, "text": "VIP" }))
        .await;
    customer
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;
    customer
        .ok(json!({ "type": "survey", "conversation": conv, "rating": 9, "comment": "Kind" }))
        .await;
    agent
        .ok(json!({ "type": "wrap_up", "conversation": conv, "disposition": "resolved" }))
        .await;
    conv
}

async fn archived_seq(app: &TestApp, conv: &str) -> Option<u64> {
    let archive = app.rt.archive().clone();
    let summary = archive.summary(&key(conv)).await.ok()??;
    Some(summary.last_seq)
}

async fn readyz_archive(app: &TestApp) -> String {
    let (status, body) = app.http("GET", "/readyz", None, None).await;
    assert_eq!(status, 200, "a slow archive never makes the node unready: {body}");
    body["archive"].as_str().unwrap_or_default().to_string()
}

#[actix_web::test]
async fn a_finished_chat_is_archived_once_and_reads_back_identically() {
    let app = spawn_app().await;
    let conv = finish_a_chat(&app, "ada").await;
    let admin = app.admin_token("t1");

    let (_, transcript) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&admin), None)
        .await;
    let last = transcript["events"].as_array().expect("events").len() as u64;
    eventually("the archive to hold the whole chat", || async {
        archived_seq(&app, &conv).await.filter(|s| *s == last)
    })
    .await;

    // The log, read back from the archive, is the engine's log: same events, same order,
    // agents-only ones kept and marked as such.
    let k = key(&conv);
    let live = switchboard::engine::read_all(app.rt.engine.as_ref(), &k, 1000)
        .await
        .expect("engine log")
        .expect("exists");
    let archived = switchboard::archive::read_all(app.rt.archive().as_ref(), &k, 1000)
        .await
        .expect("archived log");
    assert_eq!(archived, live.events);
    let note = archived
        .iter()
        .find(|e| matches!(e.kind, switchboard::protocol::EventKind::Note { .. }))
        .expect("the note is archived");
    assert_eq!(note.visibility, Visibility::Agents);
    assert_eq!(
        app.rt.archive().epoch(&k).await.expect("epoch").as_deref(),
        Some(&*live.epoch)
    );

    // Summary (disposition, participants) and survey.
    let summary = app.rt.archive().summary(&k).await.expect("summary").expect("archived");
    assert_eq!(summary.disposition.as_deref(), Some("resolved"));
    assert_eq!(summary.agents.iter().map(|a| a.as_str()).collect::<Vec<_>>(), vec!["al"]);
    let (_, rest) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(&admin), None)
        .await;
    assert_eq!(serde_json::to_value(&summary).expect("json"), rest);
    let surveys = app
        .rt
        .archive()
        .surveys(&OrgId::parse("t1").expect("org"))
        .await
        .expect("surveys");
    assert_eq!(surveys.len(), 1);
    assert_eq!((surveys[0].rating, surveys[0].comment.as_deref()), (9, Some("Kind")));
    assert_eq!(surveys[0].agent.as_ref().map(|a| a.as_str()), Some("al"));

    // In the engine and in the archive, it is listed once, and its survey counted once.
    let (_, list) = app.http("GET", "/v1/conversations", Some(&admin), None).await;
    let ids: Vec<&str> = list["conversations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![conv.as_str()]);
    let (_, s) = app.http("GET", "/v1/surveys", Some(&admin), None).await;
    assert_eq!(s["data"].as_array().expect("data").len(), 1, "{s}");

    eventually("readyz to say the archive is ok", || async {
        (readyz_archive(&app).await == "ok").then_some(())
    })
    .await;
    assert!(metric(&app, "switchboard_archive_stored_total").await >= 1.0);
    assert_eq!(metric(&app, "switchboard_archive_backlog").await, 0.0);
}

#[actix_web::test]
async fn the_database_down_while_chats_finish_loses_nothing_and_archives_on_its_return() {
    let mut pg = PostgresServer::start();
    let url = pg.url();
    let app = spawn_app_configured(move |s| s.archive.url = url, |_| {}).await;
    pg.kill();

    // Chats finish while the archive is down: every command still succeeds.
    let first = finish_a_chat(&app, "ada").await;
    let second = finish_a_chat(&app, "bea").await;
    eventually("readyz to report the archive's trouble", || async {
        let a = readyz_archive(&app).await;
        (a.starts_with("error") || a.starts_with("backlog")).then_some(())
    })
    .await;
    eventually("a failed archive write to be counted", || async {
        (metric(&app, "switchboard_archive_failures_total").await >= 1.0).then_some(())
    })
    .await;

    // The database comes back: both are archived, nothing lost, each once.
    pg.restart();
    for conv in [&first, &second] {
        let k = key(conv);
        let live = switchboard::engine::read_all(app.rt.engine.as_ref(), &k, 1000)
            .await
            .expect("engine log")
            .expect("exists");
        eventually("the chat to be archived after the database returned", || async {
            archived_seq(&app, conv).await.filter(|s| *s == live.last_seq)
        })
        .await;
        let archived = switchboard::archive::read_all(app.rt.archive().as_ref(), &k, 1000)
            .await
            .expect("archived log");
        assert_eq!(archived, live.events);
    }
    eventually("readyz to say the archive is ok again", || async {
        (readyz_archive(&app).await == "ok").then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_restarted_node_on_the_same_sqlite_file_keeps_every_finished_conversation() {
    let dir = crate::redis_server::unique_dir("sb-archive-restart");
    let url = format!("sqlite://{}", dir.join("data/switchboard.db").display());
    let admin;
    let (conv, summary, transcript, surveys);
    {
        let u = url.clone();
        let app = spawn_app_configured(move |s| s.archive.url = u, |_| {}).await;
        admin = app.admin_token("t1");
        conv = finish_a_chat(&app, "ada").await;
        let (_, t) = app
            .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&admin), None)
            .await;
        let last = t["events"].as_array().expect("events").len() as u64;
        eventually("the chat to be archived", || async {
            archived_seq(&app, &conv).await.filter(|s| *s == last)
        })
        .await;
        transcript = t;
        summary = app
            .http("GET", &format!("/v1/conversations/{conv}"), Some(&admin), None)
            .await
            .1;
        surveys = app.http("GET", "/v1/surveys", Some(&admin), None).await.1;
    }

    // A new node (a new, empty engine) on the same file: the history is there, answered the same.
    let u = url.clone();
    let app = spawn_app_configured(move |s| s.archive.url = u, |_| {}).await;
    let admin2 = app.admin_token("t1");
    let get = |path: String| {
        let app = &app;
        let admin2 = admin2.clone();
        async move { app.http("GET", &path, Some(&admin2), None).await }
    };
    let (status, again) = get(format!("/v1/conversations/{conv}")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, summary);
    let (_, t) = get(format!("/v1/conversations/{conv}/transcript")).await;
    assert_eq!(t, transcript);
    let (_, s) = get("/v1/surveys".into()).await;
    assert_eq!(s, surveys);

    // Reads merge: a live chat and the archived one, newest first, each once.
    let (mut customer, live) = app.customer_chat("cy").await;
    customer.event(&live, "created").await;
    let (_, list) = get("/v1/conversations".into()).await;
    let ids: Vec<&str> = list["conversations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![live.as_str(), conv.as_str()], "{list}");
    let (_, by_status) = get("/v1/conversations?status=done".into()).await;
    assert_eq!(by_status["conversations"].as_array().expect("list").len(), 1);
    let customer_id = summary["customer"].as_str().expect("customer").to_string();
    let (_, by_customer) = get(format!("/v1/conversations?customer={customer_id}")).await;
    assert_eq!(by_customer["conversations"][0]["id"], Value::from(conv.as_str()));
    let _ = std::fs::remove_dir_all(dir);
}

#[actix_web::test]
async fn after_the_grace_period_the_engine_forgets_an_archived_chat_and_rest_answers_the_same() {
    let app = spawn_app_configured(|s| s.archive.hot_grace_ms = 300, |_| {}).await;
    let admin = app.admin_token("t1");
    let conv = finish_a_chat(&app, "ada").await;
    let get = |path: String| {
        let app = &app;
        let admin = admin.clone();
        async move { app.http("GET", &path, Some(&admin), None).await.1 }
    };
    // Read while the engine still holds it (the grace period is running).
    let summary = get(format!("/v1/conversations/{conv}")).await;
    let transcript = get(format!("/v1/conversations/{conv}/transcript")).await;
    let list = get("/v1/conversations".into()).await;
    let surveys = get("/v1/surveys".into()).await;
    assert_eq!(summary["status"], "done", "{summary}");

    // Hot storage forgets it: no log, no summary, not listed by the engine.
    let k = key(&conv);
    eventually("the engine to forget the archived chat", || async {
        let gone = app.rt.engine.summary(&k).await.ok()?.is_none()
            && app.rt.engine.read_log(&k, 0, 10).await.ok()?.is_none();
        gone.then_some(())
    })
    .await;
    let org = OrgId::parse("t1").expect("org");
    let hot = app
        .rt
        .engine
        .find_conversations(
            &org,
            switchboard::engine::ConversationFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("find");
    assert!(hot.is_empty(), "the engine no longer lists it");

    // REST answers the same, from the archive.
    assert_eq!(get(format!("/v1/conversations/{conv}")).await, summary);
    assert_eq!(get(format!("/v1/conversations/{conv}/transcript")).await, transcript);
    assert_eq!(get("/v1/conversations".into()).await, list);
    assert_eq!(get("/v1/surveys".into()).await, surveys);
}

#[actix_web::test]
async fn during_the_grace_period_a_late_client_still_resumes_an_archived_chat() {
    let app = spawn_app().await;
    let conv = finish_a_chat(&app, "ada").await;
    let admin = app.admin_token("t1");
    let (_, t) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&admin), None)
        .await;
    let last = t["events"].as_array().expect("events").len() as u64;
    eventually("the chat to be archived", || async {
        archived_seq(&app, &conv).await.filter(|s| *s == last)
    })
    .await;

    // Archived, still in hot storage: a late client's `resume` replays the whole log from it.
    let token = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let mut agent = app.connect(&token).await;
    agent
        .ok(json!({ "type": "resume", "conversation": conv, "last_seq": 0 }))
        .await;
    agent.barrier().await;
    let seqs: Vec<u64> = agent
        .buffered(|f| is_event(f, &conv))
        .iter()
        .map(|f| f["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());
}
