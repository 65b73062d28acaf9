//! Timers enforced by the supervisor, with short configured durations.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn an_idle_customer_is_prompted_then_the_chat_ends() {
    let app = spawn_app_with(|orgs| {
        set(orgs, 0, "idle_prompt_ms", json!(300));
        set(orgs, 0, "idle_end_ms", json!(300));
    })
    .await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("idle").await;
    accept_next(&mut al).await;

    let warning = customer.event(&conv, "idle_warning").await;
    assert!(warning["event"]["message"]
        .as_str()
        .expect("message")
        .contains("continue"));
    let ended = customer.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "idle_timeout");
    al.event(&conv, "ended").await;

    // After the end nobody can send.
    customer.err(json!({ "type": "send", "conversation": conv, "client_msg_id": "late", "text": "hello?" }), "ended").await;
    al.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "late", "text": "hello?" }),
        "ended",
    )
    .await;
    // And the agent's slot is free: the REST view shows nothing assigned.
    let admin = app.admin_token("t1");
    let (_, agents) = app.http("GET", "/v1/agents", Some(&admin), None).await;
    assert_eq!(agents["live"][0]["assigned"], 0, "{agents}");
}

#[actix_web::test]
async fn continue_after_the_prompt_keeps_the_chat_open() {
    let app = spawn_app_with(|orgs| {
        set(orgs, 0, "idle_prompt_ms", json!(400));
        set(orgs, 0, "idle_end_ms", json!(1500));
    })
    .await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("cont").await;
    accept_next(&mut al).await;
    customer.event(&conv, "idle_warning").await;
    customer
        .ok(json!({ "type": "continue", "conversation": conv }))
        .await;
    customer.event(&conv, "continued").await;
    // The next thing that happens is a fresh prompt, not the end.
    let next = customer
        .wait_for("prompt or end", |f| {
            is_event(f, &conv)
                && (f["event"]["kind"] == "idle_warning" || f["event"]["kind"] == "ended")
        })
        .await;
    assert_eq!(next["event"]["kind"], "idle_warning", "{next}");
}

#[actix_web::test]
async fn an_assigned_chat_with_no_activity_auto_completes() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "assigned_autocomplete_ms", json!(300))).await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("auto").await;
    accept_next(&mut al).await;
    let ended = customer.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "auto_complete");
}

#[actix_web::test]
async fn a_waiting_chat_auto_completes_and_leaves_the_queue() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "waiting_autocomplete_ms", json!(300))).await;
    let (mut customer, conv) = app.customer_chat("wait").await;
    let ended = customer.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "auto_complete");
    // An agent arriving later is offered nothing.
    let mut al = app.agent("al", &["general"]).await;
    al.barrier().await;
    let admin = app.admin_token("t1");
    let (_, q) = app
        .http("GET", "/v1/queues/general", Some(&admin), None)
        .await;
    assert_eq!(q["stats"]["waiting"], 0, "{q}");
    assert!(al.buffered(|f| f["signal"] == "offer").is_empty());
}

#[actix_web::test]
async fn an_ended_chat_not_wrapped_up_is_marked_done() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "wrapup_timeout_ms", json!(300))).await;
    let mut al = app.agent("al", &["general"]).await;
    let (_customer, conv) = app.customer_chat("wrap").await;
    accept_next(&mut al).await;
    al.ok(json!({ "type": "end", "conversation": conv })).await;
    let wrap = al.event(&conv, "wrap_up").await;
    assert_eq!(wrap["event"]["author"]["role"], "system");
    al.err(
        json!({ "type": "wrap_up", "conversation": conv, "disposition": "resolved" }),
        "conflict",
    )
    .await;
}

/// A finished chat leaves no deadline behind in the timer supervisor: its auto-complete and
/// idle wake-ups (an hour and more away) are cancelled when it moves on, so that thousands of
/// finished chats do not keep thousands of entries (and later wake-ups) on the node.
#[actix_web::test]
async fn a_finished_chat_leaves_no_deadline_behind() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("brief").await;
    accept_next(&mut al).await;
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "hi" }))
        .await;
    eventually("deadlines for the assigned chat", || async {
        (metric(&app, "switchboard_timers_pending").await > 0.0).then_some(())
    })
    .await;
    customer
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;
    al.ok(json!({ "type": "wrap_up", "conversation": conv }))
        .await;
    eventually("no deadline left for the finished chat", || async {
        (metric(&app, "switchboard_timers_pending").await == 0.0).then_some(())
    })
    .await;
}
