//! Asynchronous chat (seed 004): with the org's `owner_leaves = "async"`, a chat whose last agent
//! leaves — or whose customer goes quiet — stays open ("parked") with nobody in it and holding
//! no capacity; when the customer writes again it goes to the previous agent first, then to the
//! queue. It ends only when marked done or when it expires.

use serde_json::{json, Value};

use crate::helpers::*;

fn async_org(extra: Vec<(&'static str, Value)>) -> impl FnOnce(&mut Vec<Value>) {
    move |orgs| {
        set(orgs, 0, "owner_leaves", json!("async"));
        for (k, v) in extra {
            set(orgs, 0, k, v);
        }
    }
}

async fn status_of(app: &TestApp, conv: &str) -> Value {
    let admin = app.admin_token("t1");
    let (_, body) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(&admin), None)
        .await;
    body["status"].clone()
}

#[actix_web::test]
async fn a_parked_chat_survives_the_customer_leaving_and_comes_back_to_the_previous_agent() {
    let app = spawn_app_with(async_org(vec![])).await;
    let mut al = app.agent("al", &["general"]).await;
    let token = app.visitor_token("t1", "ada").await;
    let mut customer = app.connect(&token).await;
    let conv = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(accept_next(&mut al).await, conv);

    // The agent leaves: the chat is parked, open, and al's seat is free.
    al.ok(json!({ "type": "leave", "conversation": conv })).await;
    let parked = customer.event(&conv, "parked").await;
    assert_eq!(parked["event"]["previous"], "al");
    assert_eq!(parked["event"]["visibility"], "public");
    al.wait_for("al's seat back", |f| {
        f["signal"] == "presence" && f["assigned"] == 0
    })
    .await;
    assert_eq!(status_of(&app, &conv).await, "parked");

    // Another agent becomes available meanwhile (and has waited longer than al by then).
    let mut bo = app.agent("bo", &["general"]).await;
    // The customer leaves and comes back later; the chat is still theirs and open.
    customer.close().await;
    let mut customer = app.connect(&token).await;
    assert_eq!(customer.hello["conversations"], json!([conv]));
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c2", "text": "I'm back" }))
        .await;
    // The previous agent is offered it first.
    assert_eq!(accept_next(&mut al).await, conv);
    let assignments = customer
        .wait_for("the second assignment", |f| {
            is_event(f, &conv) && f["event"]["kind"] == "assigned" && f["seq"].as_u64() > parked["seq"].as_u64()
        })
        .await;
    assert_eq!(assignments["event"]["agent"], "al");
    al.wait_for("the customer's new message", |f| {
        is_event(f, &conv) && f["event"]["client_msg_id"] == "c2"
    })
    .await;
    bo.barrier().await;
    assert!(
        bo.buffered(|f| f["signal"] == "offer").is_empty(),
        "bo was offered the returning chat"
    );
    assert_eq!(status_of(&app, &conv).await, "assigned");
}

#[actix_web::test]
async fn when_the_previous_agent_cannot_take_it_the_queue_does_after_the_return_window() {
    let app = spawn_app_with(async_org(vec![("return_window_ms", json!(300))])).await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("ada").await;
    accept_next(&mut al).await;
    al.ok(json!({ "type": "leave", "conversation": conv })).await;
    customer.event(&conv, "parked").await;
    al.ok(json!({ "type": "status", "presence": "away" })).await;
    let mut bo = app.agent("bo", &["general"]).await;

    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c2", "text": "anyone?" }))
        .await;
    assert_eq!(accept_next(&mut bo).await, conv);
    customer
        .wait_for("bo's assignment", |f| {
            is_event(f, &conv) && f["event"]["kind"] == "assigned" && f["event"]["agent"] == "bo"
        })
        .await;
}

#[actix_web::test]
async fn a_quiet_customer_parks_the_chat_and_a_parked_chat_expires_or_is_marked_done() {
    let app = spawn_app_with(async_org(vec![
        ("idle_prompt_ms", json!(200)),
        ("idle_end_ms", json!(200)),
        ("parked_expiry_ms", json!(600)),
    ]))
    .await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("ada").await;
    accept_next(&mut al).await;
    // The idle prompt, then instead of the idle end: parked, not ended.
    customer.event(&conv, "idle_warning").await;
    let parked = customer.event(&conv, "parked").await;
    assert_eq!(parked["event"]["author"]["role"], "system");
    customer.barrier().await;
    assert!(customer
        .buffered(|f| is_event(f, &conv) && f["event"]["kind"] == "ended")
        .is_empty());
    // Nobody writes: the parked chat expires.
    let ended = customer.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "auto_complete");

    // A second chat, parked by its agent, is marked done by that agent.
    let (mut customer, conv) = app.customer_chat("bea").await;
    accept_next(&mut al).await;
    al.ok(json!({ "type": "leave", "conversation": conv })).await;
    customer.event(&conv, "parked").await;
    let mut cy = app.agent("cy", &["billing"]).await;
    cy.err(json!({ "type": "end", "conversation": conv }), "not_found")
        .await;
    al.ok(json!({ "type": "end", "conversation": conv })).await;
    let ended = customer.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "agent");
}

#[actix_web::test]
async fn a_queue_rule_overrides_the_orgs_and_without_one_the_orgs_applies() {
    let app = spawn_app_with(async_org(vec![])).await;
    let admin = app.admin_token("t1");
    // Queue general ends its chats when the owner leaves, whatever the org says.
    let (status, body) = app
        .http(
            "PUT",
            "/v1/queues/general",
            Some(&admin),
            Some(json!({ "name": "General", "owner_leaves": "end" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = app.http("GET", "/v1/queues/general", Some(&admin), None).await;
    assert_eq!(body["queue"]["owner_leaves"], "end");
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("ada").await;
    accept_next(&mut al).await;
    al.ok(json!({ "type": "leave", "conversation": conv })).await;
    let ended = customer.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "agent");
    customer.barrier().await;
    assert!(customer
        .buffered(|f| is_event(f, &conv) && f["event"]["kind"] == "parked")
        .is_empty());

    // The queue's rule removed: the org's (asynchronous) applies again.
    let (status, body) = app
        .http(
            "PUT",
            "/v1/queues/general",
            Some(&admin),
            Some(json!({ "name": "General" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("owner_leaves").is_none(), "{body}");
    let (mut customer, conv) = app.customer_chat("bea").await;
    accept_next(&mut al).await;
    al.ok(json!({ "type": "leave", "conversation": conv })).await;
    customer.event(&conv, "parked").await;
    assert_eq!(status_of(&app, &conv).await, "parked");
}

#[actix_web::test]
async fn a_bad_queue_rule_is_refused() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let (status, body) = app
        .http(
            "PUT",
            "/v1/queues/general",
            Some(&admin),
            Some(json!({ "name": "General", "owner_leaves": "later" })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    let (_, body) = app.http("GET", "/v1/queues/general", Some(&admin), None).await;
    assert!(body["queue"].get("owner_leaves").is_none(), "{body}");
}
