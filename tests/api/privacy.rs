//! Retention and privacy (issue 14): erasing a customer leaves nothing of it behind — REST
//! reads, archive rows, files, hot keys, blocklist entries — and touches no other customer or
//! org; the right of access exports everything of one customer and nothing of another; the
//! retention job redacts old content and deletes old conversations, on SQLite and PostgreSQL.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use switchboard::archive::ArchivedConversation;
use switchboard::attachments::BlobStore;
use switchboard::auth::Role;
use switchboard::domain::conversation::Status;
use switchboard::engine::{AttachmentRecord, ConversationSummary, SurveyRecord};
use switchboard::ids::{AgentId, AttachmentId, ConvKey, ConversationId, CustomerId, OrgId};
use switchboard::protocol::LogEvent;

use crate::helpers::*;
use crate::postgres_server::PostgresServer;

fn key(org: &str, conv: &str) -> ConvKey {
    ConvKey {
        org: OrgId::parse(org).expect("org"),
        id: ConversationId::parse(conv).expect("id"),
    }
}

/// A finished chat of `name` in `org`.
struct Chat {
    conv: String,
    customer: String,
    file: String,
}

/// A whole chat with a file: the customer uploads and sends it with a message, the agent
/// answers and notes, the customer ends and answers the survey, the agent wraps up.
async fn finished_chat(app: &TestApp, org: &str, name: &str) -> Chat {
    let token = app.visitor_token(org, name).await;
    finished_chat_of(app, org, name, &token).await
}

/// Like [`finished_chat`], for the customer behind `token`.
async fn finished_chat_of(app: &TestApp, org: &str, name: &str, token: &str) -> Chat {
    let agent_id = format!("al-{name}");
    let mut agent = app
        .connect(&app.staff_token(org, &agent_id, &[Role::Agent], &["general"]))
        .await;
    agent
        .ok(json!({ "type": "status", "presence": "available" }))
        .await;
    let mut customer = app.connect(token).await;
    let started = customer.ok(json!({ "type": "start" })).await;
    let conv = started["conversation"].as_str().expect("conversation").to_string();
    accept_next(&mut agent).await;
    customer.event(&conv, "assigned").await;
    let file = upload(app, token, &conv, &format!("{name}.txt"), name).await;
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1",
                     "text": format!("I am {name}"), "attachments": [file] }))
        .await;
    agent
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": format!("Hello {name}") }))
        .await;
    agent
        .ok(json!({ "type": "note", "conversation": conv, "text": format!("{name} is a VIP") }))
        .await;
    customer.ok(json!({ "type": "end", "conversation": conv })).await;
    customer
        .ok(json!({ "type": "survey", "conversation": conv, "rating": 9, "comment": format!("{name} liked it") }))
        .await;
    agent
        .ok(json!({ "type": "wrap_up", "conversation": conv, "disposition": "resolved" }))
        .await;
    let (status, summary) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(&app.admin_token(org)), None)
        .await;
    assert_eq!(status, 200, "{summary}");
    let customer = summary["customer"].as_str().expect("customer").to_string();
    Chat {
        conv,
        customer,
        file,
    }
}

/// Uploads a small text file whose content is `secret of {name}`; its id.
async fn upload(app: &TestApp, token: &str, conv: &str, name: &str, who: &str) -> String {
    let client = awc::Client::builder().timeout(WAIT).finish();
    let mut resp = client
        .post(app.url(&format!("/v1/conversations/{conv}/attachments?name={name}")))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_body(format!("secret of {who}"))
        .await
        .expect("upload request");
    let body: Value = resp.json().await.expect("upload answer");
    assert_eq!(resp.status().as_u16(), 201, "{body}");
    body["attachment"]["id"].as_str().expect("id").to_string()
}

/// The contents of every file in the node's attachment folder.
fn stored_contents(app: &TestApp) -> Vec<String> {
    stored_files(app)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

/// Rows mentioning `conv` in each archive table (the test's own SQLite file).
async fn archive_rows(app: &TestApp, conv: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(&app.rt.settings.archive.url)
        .await
        .expect("open the archive file");
    let mut total = 0;
    for (table, column) in [
        ("archived_conversations", "id"),
        ("archived_events", "conversation"),
        ("archived_participants", "conversation"),
        ("archived_surveys", "conversation"),
        ("archived_attachments", "conversation"),
        ("report_conversations", "conversation"),
        ("report_owners", "conversation"),
    ] {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?"))
            .bind(conv)
            .fetch_one(&pool)
            .await
            .expect("count");
        total += n;
    }
    pool.close().await;
    total
}

/// Every Redis key name (none on the memory engine).
async fn redis_keys(app: &TestApp) -> Vec<String> {
    if crate::ENGINE != "redis" {
        return Vec::new();
    }
    let client = redis::Client::open(app.rt.settings.engine.redis.url.as_str()).expect("redis url");
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await
            .expect("SCAN");
        keys.extend(page);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

async fn erasure_done(app: &TestApp, admin: &str, id: &str) -> Value {
    eventually("the erasure to finish", || async {
        let (status, body) = app
            .http("GET", &format!("/v1/erasures/{id}"), Some(admin), None)
            .await;
        assert_eq!(status, 200, "{body}");
        (body["status"] == "done").then_some(body)
    })
    .await
}

#[actix_web::test]
async fn erasing_a_customer_leaves_nothing_of_it_and_touches_nobody_else() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let ada = finished_chat(&app, "t1", "ada").await;
    let bob = finished_chat(&app, "t1", "bob").await;
    let other = finished_chat(&app, "t2", "cyd").await;
    for body in [
        json!({ "customer": ada.customer, "reason": "abuse" }),
        json!({ "email": "ada@example.com", "reason": "abuse" }),
        json!({ "customer": bob.customer, "reason": "spam" }),
    ] {
        let (status, b) = app.http("POST", "/v1/blocklist", Some(&admin), Some(body)).await;
        assert_eq!(status, 201, "{b}");
    }

    let (status, asked) = app
        .http("POST", &format!("/v1/customers/{}/erasure", ada.customer), Some(&admin), None)
        .await;
    assert_eq!(status, 202, "{asked}");
    assert_eq!(asked["status"], "pending");
    let id = asked["id"].as_str().expect("erasure id").to_string();
    let audit = erasure_done(&app, &admin, &id).await;

    // The audit record: who, when, what went — and of the customer only a hash.
    assert_eq!(audit["requested_by"], "admin");
    assert!(audit["finished_at"].is_string(), "{audit}");
    assert_eq!(audit["customer_sha256"].as_str().map(str::len), Some(64));
    assert!(!audit.to_string().contains(&ada.customer), "{audit}");
    let removed = &audit["removed"];
    assert_eq!(removed["conversations"], 1, "{audit}");
    assert_eq!(removed["attachments"], 1, "{audit}");
    assert_eq!(removed["surveys"], 1, "{audit}");
    assert_eq!(removed["blocklist_entries"], 2, "{audit}");
    assert!(removed["events"].as_u64().unwrap_or(0) >= 8, "{audit}");

    // Every REST read answers as if Ada had never been.
    for path in [
        format!("/v1/conversations/{}", ada.conv),
        format!("/v1/conversations/{}/transcript", ada.conv),
        format!("/v1/attachments/{}", ada.file),
    ] {
        let (status, body) = app.http("GET", &path, Some(&admin), None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (_, list) = app
        .http("GET", &format!("/v1/conversations?customer={}", ada.customer), Some(&admin), None)
        .await;
    assert_eq!(list["conversations"], json!([]));
    let (_, surveys) = app.http("GET", "/v1/surveys", Some(&admin), None).await;
    let convs: Vec<&str> = surveys["data"]
        .as_array()
        .expect("surveys")
        .iter()
        .filter_map(|s| s["conversation"].as_str())
        .collect();
    assert_eq!(convs, [bob.conv.as_str()]);
    let (_, blocklist) = app.http("GET", "/v1/blocklist", Some(&admin), None).await;
    assert_eq!(blocklist["blocklist"].as_array().map(Vec::len), Some(1), "{blocklist}");
    assert_eq!(blocklist["blocklist"][0]["customer"], json!(bob.customer));

    // Nothing is left in the archive, the file store or Redis.
    assert_eq!(archive_rows(&app, &ada.conv).await, 0);
    let contents = stored_contents(&app);
    assert!(!contents.iter().any(|c| c.contains("secret of ada")), "Ada's file is still stored");
    assert!(contents.iter().any(|c| c == "secret of bob"), "Bob's file is gone");
    assert!(contents.iter().any(|c| c == "secret of cyd"), "the other org's file is gone");
    eventually("no Redis key to name Ada's conversation", || async {
        let keys = redis_keys(&app).await;
        // The scan sees Bob's keys (still in their grace period), and none of Ada's.
        let sees_bob = crate::ENGINE != "redis" || keys.iter().any(|k| k.contains(&bob.conv));
        assert!(sees_bob, "{keys:?}");
        (!keys.iter().any(|k| k.contains(&ada.conv))).then_some(())
    })
    .await;

    // Bob, and the other org, are untouched.
    assert!(archive_rows(&app, &bob.conv).await > 0);
    let transcript = |org: &'static str, conv: String| {
        let app = &app;
        async move {
            let token = app.admin_token(org);
            app.http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&token), None)
                .await
        }
    };
    let (status, t) = transcript("t1", bob.conv.clone()).await;
    assert_eq!(status, 200);
    assert!(t.to_string().contains("I am bob"), "{t}");
    let (status, t) = transcript("t2", other.conv.clone()).await;
    assert_eq!(status, 200);
    assert!(t.to_string().contains("I am cyd"), "{t}");
    let bob_file = download(&app, &admin, &format!("/v1/attachments/{}", bob.file)).await;
    assert_eq!(bob_file.status, 200);
    assert_eq!(bob_file.body, b"secret of bob");

    // Asking again is safe: a second request finishes with nothing left to remove.
    let (status, again) = app
        .http("POST", &format!("/v1/customers/{}/erasure", ada.customer), Some(&admin), None)
        .await;
    assert_eq!(status, 202, "{again}");
    let audit = erasure_done(&app, &admin, again["id"].as_str().expect("id")).await;
    assert_eq!(audit["removed"]["conversations"], 0, "{audit}");
}

#[actix_web::test]
async fn an_erasure_waits_for_the_customers_live_chat_to_end() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let mut agent = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("ada").await;
    accept_next(&mut agent).await;
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "Still here" }))
        .await;
    let (_, summary) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(&admin), None)
        .await;
    let who = summary["customer"].as_str().expect("customer").to_string();
    let (status, asked) = app
        .http("POST", &format!("/v1/customers/{who}/erasure"), Some(&admin), None)
        .await;
    assert_eq!(status, 202, "{asked}");
    let id = asked["id"].as_str().expect("id").to_string();

    // The chat goes on meanwhile; the request stays pending while it is live.
    agent
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": "Hello" }))
        .await;
    let (_, audit) = app.http("GET", &format!("/v1/erasures/{id}"), Some(&admin), None).await;
    assert_eq!(audit["status"], "pending", "{audit}");

    customer.ok(json!({ "type": "end", "conversation": conv })).await;
    agent
        .ok(json!({ "type": "wrap_up", "conversation": conv, "disposition": "resolved" }))
        .await;
    let audit = erasure_done(&app, &admin, &id).await;
    assert_eq!(audit["removed"]["conversations"], 1, "{audit}");
    let (status, _) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(&admin), None)
        .await;
    assert_eq!(status, 404);

    // The customer's socket is still open: a late survey cannot write the chat back.
    let reply = customer
        .request(json!({ "type": "survey", "conversation": conv, "rating": 3 }))
        .await;
    assert_eq!(reply["type"], "error", "{reply}");
    let (status, _) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(&admin), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(archive_rows(&app, &conv).await, 0);
}

#[actix_web::test]
async fn a_pending_erasure_survives_a_restart_and_finishes_on_the_new_node() {
    let dir = crate::redis_server::unique_dir("sb-privacy-restart");
    let url = format!("sqlite://{}", dir.join("archive.db").display());
    let files = dir.join("files").to_string_lossy().into_owned();
    let configure = |url: String, files: String| {
        move |s: &mut switchboard::config::Settings| {
            s.archive.url = url;
            s.attachments.dir = files;
        }
    };
    let (ada, id);
    {
        let app = spawn_app_configured(configure(url.clone(), files.clone()), |_| {}).await;
        let admin = app.admin_token("t1");
        let token = app.visitor_token("t1", "ada").await;
        ada = finished_chat_of(&app, "t1", "ada", &token).await;
        eventually("Ada's chat to be archived", || async {
            let k = key("t1", &ada.conv);
            app.rt.archive().summary(&k).await.ok().flatten().map(|_| ())
        })
        .await;
        // Ada is chatting again: the erasure waits for that chat.
        let mut customer = app.connect(&token).await;
        customer.ok(json!({ "type": "start" })).await;
        let (status, asked) = app
            .http("POST", &format!("/v1/customers/{}/erasure", ada.customer), Some(&admin), None)
            .await;
        assert_eq!(status, 202, "{asked}");
        id = asked["id"].as_str().expect("id").to_string();
        let (_, audit) = app.http("GET", &format!("/v1/erasures/{id}"), Some(&admin), None).await;
        assert_eq!(audit["status"], "pending", "{audit}");
    }

    // A new node on the same archive and files (its engine starts empty: the live chat is
    // gone with the old one) carries the recorded request out.
    let app = spawn_app_configured(configure(url, files), |_| {}).await;
    let admin = app.admin_token("t1");
    let audit = erasure_done(&app, &admin, &id).await;
    assert_eq!(audit["removed"]["conversations"], 1, "{audit}");
    assert_eq!(audit["removed"]["attachments"], 1, "{audit}");
    let (status, _) = app
        .http("GET", &format!("/v1/conversations/{}", ada.conv), Some(&admin), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(archive_rows(&app, &ada.conv).await, 0);
    assert!(!stored_contents(&app).iter().any(|c| c.contains("secret of ada")));
}

#[actix_web::test]
async fn an_erasure_deletes_the_files_from_an_s3_store() {
    let s3 = crate::s3_server::S3Server::start();
    let app = s3_app(&s3, &s3.secret_key).await;
    let store = s3_bucket(&app).await;
    let admin = app.admin_token("t1");
    let ada = finished_chat(&app, "t1", "ada").await;
    let bob = finished_chat(&app, "t1", "bob").await;
    let t1 = OrgId::parse("t1").expect("org");
    let mut keys = Vec::new();
    for file in [&ada.file, &bob.file] {
        let id = AttachmentId::parse(file).expect("id");
        let record = app.rt.engine.attachment(&t1, &id).await.expect("engine");
        keys.push(record.expect("the record").key);
    }
    let (_, asked) = app
        .http("POST", &format!("/v1/customers/{}/erasure", ada.customer), Some(&admin), None)
        .await;
    erasure_done(&app, &admin, asked["id"].as_str().expect("id")).await;
    assert!(store.get(&keys[0]).await.expect("store").is_none(), "Ada's object is still stored");
    assert!(store.get(&keys[1]).await.expect("store").is_some(), "Bob's object is gone");
}

#[actix_web::test]
async fn the_right_of_access_exports_one_customer_and_only_admins_may_erase_or_export() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let ada = finished_chat(&app, "t1", "ada").await;
    let bob = finished_chat(&app, "t1", "bob").await;
    let (status, b) = app
        .http("POST", "/v1/blocklist", Some(&admin), Some(json!({ "customer": ada.customer, "reason": "abuse" })))
        .await;
    assert_eq!(status, 201, "{b}");

    let (status, export) = app
        .http("GET", &format!("/v1/customers/{}/export", ada.customer), Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{export}");
    let text = export.to_string();
    for expected in ["I am ada", "Hello ada", "ada liked it", "ada.txt", "abuse"] {
        assert!(text.contains(expected), "the export lacks {expected:?}: {export}");
    }
    assert!(!text.contains("bob") && !text.contains(&bob.conv), "{export}");
    assert_eq!(export["conversations"].as_array().map(Vec::len), Some(1));
    assert_eq!(export["surveys"][0]["conversation"], json!(ada.conv));
    assert_eq!(export["attachments"][0]["id"], json!(ada.file));
    // Agents-only events are included, marked as such.
    let note = export["conversations"][0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "note")
        .cloned()
        .expect("the note");
    assert_eq!(note["visibility"], "agents");

    // Supervisors and agents may do neither; another org finds nothing.
    let supervisor = app.staff_token("t1", "sue", &[Role::Supervisor], &[]);
    for (method, path) in [
        ("POST", format!("/v1/customers/{}/erasure", ada.customer)),
        ("GET", format!("/v1/customers/{}/export", ada.customer)),
    ] {
        let (status, body) = app.http(method, &path, Some(&supervisor), None).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    let other = app.admin_token("t2");
    let (status, export) = app
        .http("GET", &format!("/v1/customers/{}/export", ada.customer), Some(&other), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(export["conversations"], json!([]));
    let (_, asked) = app
        .http("POST", &format!("/v1/customers/{}/erasure", ada.customer), Some(&admin), None)
        .await;
    let id = asked["id"].as_str().expect("id");
    let (status, body) = app.http("GET", &format!("/v1/erasures/{id}"), Some(&other), None).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app
        .http("POST", "/v1/customers/bad%20id/erasure", Some(&admin), None)
        .await;
    assert_eq!(status, 400, "{body}");
}

#[actix_web::test]
async fn retention_settings_are_checked() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let (_, current) = app.http("GET", "/v1/settings", Some(&admin), None).await;
    assert_eq!(
        current["settings"]["retention"],
        json!({ "content_days": null, "metadata_days": null })
    );
    let mut settings = current["settings"].clone();
    settings["retention"] = json!({ "content_days": 400, "metadata_days": 30 });
    let (status, body) = app.http("PUT", "/v1/settings", Some(&admin), Some(settings.clone())).await;
    assert_eq!(status, 400, "{body}");
    settings["retention"] = json!({ "content_days": 30, "metadata_days": 400 });
    let (status, body) = app.http("PUT", "/v1/settings", Some(&admin), Some(settings)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["settings"]["retention"]["content_days"], 30);
}

/// A hand-built finished conversation of org `org` that ended at `ended`, with a message, a
/// note, a survey comment and a file (written to the node's file folder).
fn old_conversation(app: &TestApp, org: &str, id: &str, ended: DateTime<Utc>) -> ArchivedConversation {
    let at = |n: i64| (ended - Duration::seconds(10 - n)).to_rfc3339();
    let file_key = uuid::Uuid::new_v4().simple().to_string();
    let dir = Path::new(&app.rt.settings.attachments.dir);
    std::fs::create_dir_all(dir).expect("files folder");
    std::fs::write(dir.join(&file_key), format!("file of {id}")).expect("write the file");
    let events: Vec<Arc<LogEvent>> = [
        json!({"seq": 1, "at": at(0), "author": {"role": "customer", "id": "cu1", "name": "Ada"},
               "visibility": "public", "kind": "created", "customer": "cu1", "customer_name": "Ada",
               "verified": false, "queue": "general", "channel": "web"}),
        json!({"seq": 2, "at": at(1), "author": {"role": "customer", "id": "cu1"},
               "visibility": "public", "kind": "message", "text": format!("text of {id}"), "client_msg_id": "m1",
               "attachments": [{"id": format!("a_{id}"), "name": format!("{id}.txt"), "size": 10,
                                "type": "text/plain", "sha256": "0".repeat(64)}]}),
        json!({"seq": 3, "at": at(2), "author": {"role": "agent", "id": "al"},
               "visibility": "agents", "kind": "note", "text": format!("note of {id}")}),
        json!({"seq": 4, "at": at(3), "author": {"role": "agent", "id": "al"},
               "visibility": "public", "kind": "ended", "reason": "agent"}),
        json!({"seq": 5, "at": at(4), "author": {"role": "customer", "id": "cu1"},
               "visibility": "public", "kind": "survey", "rating": 9, "comment": format!("comment of {id}")}),
    ]
    .into_iter()
    .map(|v| Arc::new(serde_json::from_value::<LogEvent>(v).expect("event")))
    .collect();
    let customer = CustomerId::parse("cu1").expect("customer");
    let summary = ConversationSummary {
        id: ConversationId::parse(id).expect("id"),
        org: OrgId::parse(org).expect("org"),
        status: Status::Done,
        customer: Some(customer.clone()),
        customer_name: "Ada".into(),
        customer_email: None,
        queue: Some(switchboard::ids::QueueId::parse("general").expect("queue")),
        reason: None,
        case_id: None,
        channel: "web".into(),
        owner: Some(AgentId::parse("al").expect("agent")),
        agents: vec![AgentId::parse("al").expect("agent")],
        created_at: ended - Duration::seconds(10),
        waiting_since: None,
        priority: 0,
        ended_at: Some(ended),
        last_seq: 5,
        messages: 1,
        disposition: None,
        survey_rating: Some(9),
        bot: None,
        tickets: Vec::new(),
    };
    let survey = SurveyRecord {
        id: format!("{id}-nps"),
        org: summary.org.clone(),
        conversation: summary.id.clone(),
        customer: customer.clone(),
        agent: summary.owner.clone(),
        survey_type: "NPS",
        rating: 9,
        comment: Some(format!("comment of {id}")),
        created_at: ended,
    };
    let attachment = AttachmentRecord {
        id: AttachmentId::parse(&format!("a_{id}")).expect("attachment id"),
        org: summary.org.clone(),
        conversation: summary.id.clone(),
        uploader: serde_json::from_value(json!({ "role": "customer", "id": "cu1" })).expect("author"),
        name: format!("{id}.txt"),
        size: 10,
        mime: "text/plain".into(),
        sha256: "0".repeat(64),
        state: switchboard::domain::attachment::ScanState::Clean,
        created_at: ended,
        key: file_key,
    };
    ArchivedConversation {
        summary,
        epoch: "e1".into(),
        events,
        survey: Some(survey),
        attachments: vec![attachment],
    }
}

/// Old conversations (two years, and sixty days) and a recent one in `t1`, and an old one in
/// `t2` (which keeps everything); `t1` keeps content 30 days and metadata a year.
async fn retention_removes_what_is_due_and_nothing_else(archive_url: Option<String>) {
    let app = spawn_app_configured(
        |s| {
            s.retention.sweep_ms = 100;
            if let Some(url) = archive_url {
                s.archive.url = url;
            }
        },
        |orgs| set(orgs, 0, "retention", json!({ "content_days": 30, "metadata_days": 365 })),
    )
    .await;
    let now = Utc::now();
    let archive = app.rt.archive().clone();
    let admin = app.admin_token("t1");
    // Stored straight into the archive, as if archived long ago.
    for (org, id, ended) in [
        ("t1", "c_ancient", now - Duration::days(730)),
        ("t1", "c_middle", now - Duration::days(60)),
        ("t1", "c_recent", now - Duration::days(2)),
        ("t2", "c_other", now - Duration::days(730)),
    ] {
        let mut c = old_conversation(&app, org, id, ended);
        if id == "c_ancient" {
            // Archived before the archive kept attachment records: only the engine has it.
            for record in c.attachments.drain(..) {
                app.rt.engine.put_attachment(record).await.expect("engine");
            }
        }
        archive.store(c).await.expect("store");
    }

    // The two-year-old conversation goes entirely, files included.
    eventually("the old conversation to be deleted", || async {
        archive.summary(&key("t1", "c_ancient")).await.expect("archive").is_none().then_some(())
    })
    .await;
    let (status, _) = app
        .http("GET", "/v1/conversations/c_ancient", Some(&admin), None)
        .await;
    assert_eq!(status, 404);
    assert!(
        switchboard::archive::read_all(archive.as_ref(), &key("t1", "c_ancient"), 100)
            .await
            .expect("events")
            .is_empty()
    );

    // The sixty-day-old one keeps its events, without their content.
    let transcript = eventually("the middle conversation to be redacted", || async {
        let (status, t) = app
            .http("GET", "/v1/conversations/c_middle/transcript", Some(&admin), None)
            .await;
        assert_eq!(status, 200, "{t}");
        let redacted = t["events"].as_array()?.iter().any(|e| e["redacted"] == true);
        redacted.then_some(t)
    })
    .await;
    let events = transcript["events"].as_array().expect("events");
    assert_eq!(events.len(), 5, "every event stays: {transcript}");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds, ["created", "message", "note", "ended", "survey"]);
    let text = transcript.to_string();
    for gone in ["text of c_middle", "note of c_middle", "comment of c_middle"] {
        assert!(!text.contains(gone), "{gone:?} is still there: {transcript}");
    }
    assert_eq!(events[1]["text"], "");
    assert_eq!(events[1]["redacted"], true);
    assert_eq!(events[3].get("redacted"), None, "an event without content stays as it was");
    let (_, surveys) = app.http("GET", "/v1/surveys", Some(&admin), None).await;
    let middle = surveys["data"]
        .as_array()
        .expect("surveys")
        .iter()
        .find(|s| s["conversation"] == "c_middle")
        .cloned()
        .expect("the rating stays");
    assert_eq!(middle["rating"], 9);
    assert_eq!(middle.get("comment"), None, "{middle}");
    assert!(archive
        .attachments(&key("t1", "c_middle"))
        .await
        .expect("attachments")
        .is_empty());

    let t1 = OrgId::parse("t1").expect("org");
    let ancient = AttachmentId::parse("a_c_ancient").expect("id");
    assert_eq!(app.rt.engine.attachment(&t1, &ancient).await.expect("engine"), None);

    // Files: only those of the recent conversation and of the other org remain.
    let contents = stored_contents(&app);
    let mut files: Vec<&str> = contents.iter().map(String::as_str).collect();
    files.sort_unstable();
    assert_eq!(files, ["file of c_other", "file of c_recent"]);

    // The recent conversation and the other org's are untouched.
    for (org, id) in [("t1", "c_recent"), ("t2", "c_other")] {
        let events = switchboard::archive::read_all(archive.as_ref(), &key(org, id), 100)
            .await
            .expect("events");
        assert_eq!(events.len(), 5);
        assert!(events.iter().all(|e| !e.redacted));
        assert_eq!(archive.attachments(&key(org, id)).await.expect("files").len(), 1);
    }
    assert!(
        metric(&app, "switchboard_retention_deleted_total").await >= 1.0,
        "the deletion is counted"
    );
}

#[actix_web::test]
async fn retention_redacts_old_content_and_deletes_old_conversations_on_sqlite() {
    retention_removes_what_is_due_and_nothing_else(None).await;
}

#[actix_web::test]
async fn retention_redacts_old_content_and_deletes_old_conversations_on_postgres() {
    let pg = PostgresServer::start();
    retention_removes_what_is_due_and_nothing_else(Some(pg.url())).await;
}
