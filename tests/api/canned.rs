//! Canned responses (seeds 001, 004): org-wide and per-queue ones managed by admins, personal
//! ones by each agent, the list that applies to a chat (personal wins a shortcut, then the
//! queue's, then the org's) with its placeholders filled by the server.

use serde_json::{json, Value};

use switchboard::auth::Role;

use crate::helpers::*;

fn body(shortcut: &str, text: &str) -> Value {
    json!({ "shortcut": shortcut, "title": format!("The {shortcut} one"), "text": text })
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> (u16, Value) {
    app.http("PUT", path, Some(token), Some(body)).await
}

async fn for_chat(app: &TestApp, conv: &str, token: &str) -> Vec<Value> {
    let (status, body) = app
        .http("GET", &format!("/v1/conversations/{conv}/canned"), Some(token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["responses"].as_array().expect("responses").clone()
}

fn by_shortcut<'a>(rows: &'a [Value], shortcut: &str) -> Vec<&'a Value> {
    rows.iter().filter(|r| r["shortcut"] == shortcut).collect()
}

#[actix_web::test]
async fn personal_beats_queue_beats_org_and_placeholders_are_filled_for_the_chat() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let al_token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    for (path, b) in [
        ("/v1/canned/greet", body("greet", "Hello {{customer.first_name}}, I'm {{agent.name}} from {{org.name}}.")),
        ("/v1/canned/bye", body("bye", "Bye {{customer.first_name|there}}! Case {{case_id}}.")),
        ("/v1/canned/g-greet", json!({ "shortcut": "greet", "title": "General greeting", "text": "Welcome to {{queue.name}}, {{customer.name}}.", "queue": "general" })),
        ("/v1/canned/b-refund", json!({ "shortcut": "refund", "title": "Refunds", "text": "Refunds take 5 days.", "queue": "billing" })),
    ] {
        let (status, body) = put(&app, path, &admin, b).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, body) = put(&app, "/v1/me/canned/mine-bye", &al_token, body("bye", "Take care, {{customer.first_name}}!")).await;
    assert_eq!(status, 200, "{body}");

    let mut al = app.agent("al", &["general"]).await;
    let (_customer, conv) = app.customer_chat("ada").await;
    assert_eq!(accept_next(&mut al).await, conv);
    let rows = for_chat(&app, &conv, &al_token).await;
    let shortcuts: Vec<&str> = rows.iter().map(|r| r["shortcut"].as_str().expect("s")).collect();
    assert_eq!(shortcuts, ["bye", "greet"], "one per shortcut, sorted; no billing response");
    let bye = by_shortcut(&rows, "bye")[0];
    assert_eq!((bye["scope"].as_str(), bye["id"].as_str()), (Some("personal"), Some("mine-bye")));
    assert_eq!(bye["rendered"], "Take care, ada!");
    let greet = by_shortcut(&rows, "greet")[0];
    assert_eq!(greet["scope"], "queue");
    assert_eq!(greet["rendered"], "Welcome to General, ada Tester.");

    // Without the personal and the queue ones: the org's, rendered; a missing value shows.
    let (status, _) = app.http("DELETE", "/v1/me/canned/mine-bye", Some(&al_token), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.http("DELETE", "/v1/canned/g-greet", Some(&admin), None).await;
    assert_eq!(status, 204);
    let rows = for_chat(&app, &conv, &al_token).await;
    let greet = by_shortcut(&rows, "greet")[0];
    assert_eq!(greet["scope"], "org");
    assert_eq!(greet["rendered"], "Hello ada, I'm Agent al from Org t1.");
    assert_eq!(by_shortcut(&rows, "bye")[0]["rendered"], "Bye ada! Case [case_id].");

    // Each agent's own are its own; another org sees none of this org's.
    let bo_token = app.staff_token("t1", "bo", &[Role::Agent], &["general"]);
    let (_, mine) = app.http("GET", "/v1/me/canned", Some(&bo_token), None).await;
    assert_eq!(mine["responses"], json!([]));
    let other = app.admin_token("t2");
    let (_, theirs) = app.http("GET", "/v1/canned", Some(&other), None).await;
    assert_eq!(theirs["responses"], json!([]));
    let (status, _) = app
        .http("GET", &format!("/v1/conversations/{conv}/canned"), Some(&other), None)
        .await;
    assert_eq!(status, 404);
    // An agent of another queue does not see this chat, nor billing's responses in the org list.
    let (_, listed) = app.http("GET", "/v1/canned", Some(&al_token), None).await;
    assert!(listed["responses"]
        .as_array()
        .expect("rows")
        .iter()
        .all(|r| r["queue"] != "billing"));
    let dee = app.staff_token("t1", "dee", &[Role::Agent], &["billing"]);
    let (status, _) = app
        .http("GET", &format!("/v1/conversations/{conv}/canned"), Some(&dee), None)
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn bad_canned_responses_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let al = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let (status, _) = put(&app, "/v1/canned/hi", &admin, body("hi", "Hi!")).await;
    assert_eq!(status, 200);
    let long = "x".repeat(4001);
    let cases = [
        ("/v1/canned/x1", body("has space", "t"), 400, "shortcut"),
        ("/v1/canned/x2", body("ok", &long), 400, "text"),
        ("/v1/canned/x3", body("ok", "Hi {{customer.shoe_size}}"), 400, "unknown placeholder"),
        ("/v1/canned/x4", json!({ "shortcut": "ok", "title": "", "text": "t" }), 400, "title"),
        ("/v1/canned/x5", json!({ "shortcut": "ok", "title": "T", "text": "t", "queue": "nope" }), 400, "unknown queue"),
        ("/v1/canned/x6", body("hi", "Hello again"), 409, "/hi"),
        ("/v1/canned/bad%20id", body("ok", "t"), 400, "id"),
    ];
    for (path, b, want, why) in cases {
        let (status, body) = put(&app, path, &admin, b).await;
        assert_eq!(status, want, "{path}: {body}");
        assert!(
            body["error"]["message"].as_str().unwrap_or("").contains(why),
            "{path}: {body}"
        );
    }
    // Agents do not write the org's responses; a personal one has no queue.
    let (status, _) = put(&app, "/v1/canned/mine", &al, body("mine", "t")).await;
    assert_eq!(status, 403);
    let (status, _) = put(
        &app,
        "/v1/me/canned/q",
        &al,
        json!({ "shortcut": "q", "title": "T", "text": "t", "queue": "general" }),
    )
    .await;
    assert_eq!(status, 400);
    // The same shortcut twice in one agent's list: a conflict; nothing half-stored.
    let (status, _) = put(&app, "/v1/me/canned/a", &al, body("dup", "one")).await;
    assert_eq!(status, 200);
    let (status, e) = put(&app, "/v1/me/canned/b", &al, body("dup", "two")).await;
    assert_eq!(status, 409);
    assert_eq!(e["error"]["message"], "the shortcut /dup is already used in your responses");
    let (status, _) = app.http("DELETE", "/v1/me/canned/nope", Some(&al), None).await;
    assert_eq!(status, 404);
    let (_, mine) = app.http("GET", "/v1/me/canned", Some(&al), None).await;
    assert_eq!(mine["responses"].as_array().map(Vec::len), Some(1), "{mine}");
    let (_, org) = app.http("GET", "/v1/canned", Some(&admin), None).await;
    assert_eq!(org["responses"], json!([{ "id": "hi", "shortcut": "hi", "title": "The hi one", "text": "Hi!" }]));
}
