//! Outgoing webhooks and tickets (issue 15, PROTOCOL §9.13): real receivers on loopback ports
//! check every signature themselves; the outbox is the node's archive database.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::bot_server::{BotServer as Receiver, Hook, SECRET};
use crate::helpers::*;

fn subscription(url: &str, extra: Value) -> Value {
    let mut s = json!({
        "url": url,
        "secret": SECRET,
        "allow_private_network": true,
    });
    if let (Some(s), Some(e)) = (s.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    s
}

/// A node whose dispatcher retries fast, with org `t1` subscribed as `subs` says (id → body).
async fn app_with(subs: Vec<(&str, Value)>, breaker_failures: u32) -> TestApp {
    let subs: Vec<Value> = subs
        .into_iter()
        .map(|(id, mut s)| {
            s["id"] = json!(id);
            s
        })
        .collect();
    spawn_app_configured(
        move |s| {
            s.webhooks.retry_base_ms = 30;
            s.webhooks.retry_max_ms = 120;
            s.webhooks.poll_ms = 30;
            s.webhooks.timeout_ms = 300;
            s.webhooks.max_attempts = 4;
            s.webhooks.breaker_failures = breaker_failures;
            s.webhooks.breaker_open_ms = 400;
        },
        move |orgs| orgs[0]["webhooks"] = json!(subs),
    )
    .await
}

/// The first delivery of each webhook id of `conv`, in arrival order.
fn firsts(hooks: &[Hook], conv: &str) -> Vec<Hook> {
    let mut seen = std::collections::HashSet::new();
    hooks
        .iter()
        .filter(|h| h.body["conversation"] == conv)
        .filter(|h| seen.insert(h.id.clone()))
        .cloned()
        .collect()
}

async fn until_types(rx: &Receiver, conv: &str, wanted: &[&str]) -> Vec<Hook> {
    eventually(&format!("webhooks {wanted:?}"), || {
        let got = firsts(&rx.hooks(), conv);
        let types: Vec<String> = got.iter().map(|h| h.kind().to_string()).collect();
        let done = wanted.iter().all(|w| types.iter().any(|t| t == w));
        async move { done.then_some(got) }
    })
    .await
}

#[actix_web::test]
async fn a_conversations_events_arrive_signed_in_order_and_a_retry_keeps_its_id() {
    let rx = Receiver::start();
    rx.fail_next(2);
    let app = app_with(vec![("crm", subscription(&rx.url(), json!({})))], 100).await;
    let mut agent = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("Ada").await;
    let conv_id = accept_next(&mut agent).await;
    assert_eq!(conv_id, conv);
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "hello" }))
        .await;
    agent
        .ok(json!({ "type": "internal", "conversation": conv, "client_msg_id": "i1", "text": "agents only" }))
        .await;
    agent
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": "hi Ada" }))
        .await;
    agent.ok(json!({ "type": "end", "conversation": conv })).await;
    agent
        .ok(json!({ "type": "wrap_up", "conversation": conv, "disposition": "resolved" }))
        .await;
    let got = until_types(&rx, &conv, &["conversation.done"]).await;
    let types: Vec<&str> = got.iter().map(|h| h.kind()).collect();
    assert_eq!(
        types,
        [
            "conversation.created",
            "conversation.queued",
            "conversation.assigned",
            "message.created",
            "message.created",
            "conversation.ended",
            "conversation.done"
        ],
        "one of each, in seq order; the internal discussion is left out"
    );
    let seqs: Vec<u64> = got.iter().map(|h| h.body["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let all = rx.hooks();
    assert!(all.iter().all(|h| h.valid), "every attempt is signed");
    // The first event was refused twice: three attempts, one id.
    assert_eq!(all[0].id, all[1].id);
    assert_eq!(all[1].id, all[2].id);
    assert_eq!(all[0].id, format!("{conv}.1"));
    assert_eq!(got[3].body["event"]["text"], "hello");

    // A receiver too slow to answer in time gets the webhook again, same id.
    rx.delay(Duration::from_millis(700));
    let (mut customer2, conv2) = app.customer_chat("Bea").await;
    eventually("a slow first attempt", || {
        let n = rx.hooks().iter().filter(|h| h.id == format!("{conv2}.1")).count();
        async move { (n >= 1).then_some(()) }
    })
    .await;
    rx.delay(Duration::ZERO);
    eventually("the timed-out webhook sent again", || {
        let n = rx.hooks().iter().filter(|h| h.id == format!("{conv2}.1")).count();
        async move { (n >= 2).then_some(()) }
    })
    .await;
    customer2.barrier().await;
    customer.barrier().await;
}

#[actix_web::test]
async fn a_poison_target_goes_dead_and_opens_its_circuit_while_the_others_flow_then_is_redelivered() {
    let good = Receiver::start();
    let poison = Receiver::start();
    poison.fail_next(usize::MAX);
    let app = app_with(
        vec![
            ("good", subscription(&good.url(), json!({ "events": ["message.created"] }))),
            ("poison", subscription(&poison.url(), json!({ "events": ["message.created"] }))),
        ],
        3,
    )
    .await;
    let admin = app.admin_token("t1");
    let (mut customer, conv) = app.customer_chat("Ada").await;
    for i in 1..=3 {
        customer
            .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("c{i}"), "text": format!("m{i}") }))
            .await;
    }
    // The good target has everything, in order, while the poison one keeps failing.
    let got = eventually("the good target's three messages", || {
        let got = firsts(&good.hooks(), &conv);
        async move { (got.len() == 3).then_some(got) }
    })
    .await;
    let texts: Vec<&str> = got.iter().map(|h| h.body["event"]["text"].as_str().unwrap_or("")).collect();
    assert_eq!(texts, ["m1", "m2", "m3"]);
    // The poison target's first message goes dead after its attempts; its circuit opens.
    let dead = eventually("a dead letter", || async {
        let (_, body) = app.http("GET", "/v1/webhooks/poison/dead", Some(&admin), None).await;
        let rows = body["dead"].as_array().cloned().unwrap_or_default();
        (!rows.is_empty()).then_some(rows)
    })
    .await;
    assert_eq!(dead[0]["id"], format!("{conv}.{}", got[0].body["seq"]));
    assert_eq!(dead[0]["attempts"], 4);
    assert_eq!(dead[0]["body"]["event"]["text"], "m1");
    assert!(metric(&app, "switchboard_webhooks_dead_total").await >= 1.0);
    let (_, listed) = app.http("GET", "/v1/webhooks", Some(&admin), None).await;
    let circuits: HashMap<String, String> = listed["webhooks"]
        .as_array()
        .expect("webhooks")
        .iter()
        .map(|s| (s["id"].as_str().unwrap_or("").to_string(), s["circuit"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(circuits["good"], "closed");
    assert!(listed["webhooks"].as_array().expect("list").iter().all(|s| s.get("secret").is_none() && s["secret_set"] == true));
    // Healed, a redelivery of the dead letter arrives.
    poison.fail_next(0);
    let id = dead[0]["id"].as_str().expect("id").to_string();
    let (status, _) = app
        .http("POST", &format!("/v1/webhooks/poison/dead/{id}/redeliver"), Some(&admin), None)
        .await;
    assert_eq!(status, 202);
    eventually("the redelivered webhook acknowledged", || {
        let n = poison.hooks().iter().filter(|h| h.id == id).count();
        let before = dead[0]["attempts"].as_u64().unwrap_or(0) as usize;
        async move { (n > before).then_some(()) }
    })
    .await;
    let (status, _) = app
        .http("POST", "/v1/webhooks/poison/dead/nope/redeliver", Some(&admin), None)
        .await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn subscriptions_refuse_private_targets_unknown_types_and_keep_their_secret() {
    let app = app_with(vec![], 5).await;
    let admin = app.admin_token("t1");
    let put = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move { app.http("PUT", "/v1/webhooks/crm", Some(admin), Some(body)).await }
    };
    for url in ["http://127.0.0.1:9/hook", "http://10.0.0.7/hook", "http://169.254.169.254/x", "http://localhost/x"] {
        let (status, body) = put(json!({ "url": url, "secret": SECRET })).await;
        assert_eq!(status, 400, "{url}: {body}");
        assert!(body["error"]["message"].as_str().unwrap_or("").contains("private"), "{body}");
    }
    let (status, _) = put(json!({ "url": "https://crm.example.com/h", "secret": SECRET, "events": ["message.deleted"] })).await;
    assert_eq!(status, 400);
    let (status, _) = put(json!({ "url": "https://crm.example.com/h" })).await;
    assert_eq!(status, 400, "a push subscription needs a secret");
    let (status, body) = put(json!({ "url": "http://127.0.0.1:9/hook", "secret": SECRET, "allow_private_network": true })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("secret").is_none() && body["secret_set"] == true);
    let (status, body) = put(json!({ "url": "http://127.0.0.1:9/other", "allow_private_network": true })).await;
    assert_eq!((status, &body["secret_set"]), (200, &json!(true)), "the secret is kept");
    let agent = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let (status, _) = app.http("GET", "/v1/webhooks", Some(&agent), None).await;
    assert_eq!(status, 403);
    let (status, _) = app.http("DELETE", "/v1/webhooks/crm", Some(&admin), None).await;
    assert_eq!(status, 204);
    let (status, _) = app.http("DELETE", "/v1/webhooks/crm", Some(&admin), None).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn a_pull_subscription_serves_the_events_after_a_cursor_and_erasures_are_announced() {
    let app = app_with(vec![("feed", json!({ "mode": "pull", "events": ["message.created", "customer.erased"] }))], 5).await;
    let admin = app.admin_token("t1");
    let (mut customer, conv) = app.customer_chat("Ada").await;
    for i in 1..=2 {
        customer
            .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("c{i}"), "text": format!("m{i}") }))
            .await;
    }
    let page = eventually("two pulled events", || async {
        let (_, body) = app.http("GET", "/v1/webhooks/feed/events?after=0", Some(&admin), None).await;
        (body["events"].as_array().map_or(0, Vec::len) == 2).then_some(body)
    })
    .await;
    let texts: Vec<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["webhook"]["event"]["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(texts, ["m1", "m2"]);
    let next = page["next_cursor"].as_i64().expect("cursor");
    let (_, after) = app
        .http("GET", &format!("/v1/webhooks/feed/events?after={next}"), Some(&admin), None)
        .await;
    assert_eq!(after["events"], json!([]), "nothing after the cursor");
    let (status, _) = app.http("GET", "/v1/webhooks/nope/events", Some(&admin), None).await;
    assert_eq!(status, 404);

    // An erasure (of a customer with no live chat) is announced to the integrations.
    let (status, asked) = app
        .http("POST", "/v1/customers/v_gone/erasure", Some(&admin), None)
        .await;
    assert_eq!(status, 202, "{asked}");
    eventually("customer.erased pulled", || async {
        let (_, body) = app
            .http("GET", &format!("/v1/webhooks/feed/events?after={next}"), Some(&admin), None)
            .await;
        let events = body["events"].as_array().cloned().unwrap_or_default();
        events
            .iter()
            .any(|e| e["webhook"]["type"] == "customer.erased" && e["webhook"]["data"]["customer"] == "v_gone")
            .then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_ticket_request_reaches_the_integration_and_its_answer_is_posted_in_the_internal_discussion() {
    let rx = Receiver::start();
    let app = app_with(vec![("desk", subscription(&rx.url(), json!({ "events": ["ticket.requested"] })))], 5).await;
    let admin = app.admin_token("t1");
    let agent_token = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let mut agent = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("Ada").await;
    accept_next(&mut agent).await;
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "My parcel never came" }))
        .await;
    let (status, asked) = app
        .http("POST", &format!("/v1/conversations/{conv}/tickets"), Some(&agent_token), Some(json!({})))
        .await;
    assert_eq!(status, 202, "{asked}");
    let request = asked["request"].as_str().expect("request").to_string();
    let hook = eventually("ticket.requested", || {
        let found = rx.hooks().into_iter().find(|h| h.kind() == "ticket.requested");
        async move { found }
    })
    .await;
    assert!(hook.valid);
    assert_eq!(hook.body["event"]["request"], request.as_str());
    let transcript = hook.body["transcript"].as_array().expect("transcript");
    assert!(transcript.iter().any(|e| e["text"] == "My parcel never came"));

    // The integration answers: recorded, and said in the internal discussion.
    let (status, linked) = app
        .http(
            "POST",
            &format!("/v1/conversations/{conv}/tickets/{request}"),
            Some(&admin),
            Some(json!({ "ticket": "T-77", "url": "https://desk.example.com/t/77" })),
        )
        .await;
    assert_eq!((status, &linked["duplicate"]), (200, &json!(false)), "{linked}");
    let said = agent
        .wait_for("the ticket in the internal discussion", |f| {
            f["event"]["kind"] == "internal" && f["event"]["text"].as_str().is_some_and(|t| t.contains("T-77"))
        })
        .await;
    assert_eq!(said["event"]["visibility"], "agents");
    let (status, again) = app
        .http("POST", &format!("/v1/conversations/{conv}/tickets/{request}"), Some(&admin), Some(json!({ "ticket": "T-77" })))
        .await;
    assert_eq!((status, &again["duplicate"]), (200, &json!(true)));
    let (status, _) = app
        .http("POST", &format!("/v1/conversations/{conv}/tickets/t_unknown"), Some(&admin), Some(json!({ "ticket": "T-1" })))
        .await;
    assert_eq!(status, 404);
    // The agent's token cannot answer for the integration.
    let (status, _) = app
        .http("POST", &format!("/v1/conversations/{conv}/tickets/{request}"), Some(&agent_token), Some(json!({ "ticket": "T-9" })))
        .await;
    assert_eq!(status, 403);

    // After the end: recorded on the conversation, no message in the (read-only) discussion.
    agent.ok(json!({ "type": "end", "conversation": conv })).await;
    let (_, asked) = app
        .http("POST", &format!("/v1/conversations/{conv}/tickets"), Some(&agent_token), Some(json!({ "ticket": "T-77" })))
        .await;
    let second = asked["request"].as_str().expect("request").to_string();
    let (status, _) = app
        .http("POST", &format!("/v1/conversations/{conv}/tickets/{second}"), Some(&admin), Some(json!({ "ticket": "T-78" })))
        .await;
    assert_eq!(status, 200);
    let (_, summary) = app.http("GET", &format!("/v1/conversations/{conv}"), Some(&admin), None).await;
    assert_eq!(summary["tickets"], json!(["T-77", "T-78"]));
    let (_, transcript) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&admin), None)
        .await;
    let internal: Vec<&Value> = transcript["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "internal")
        .collect();
    assert_eq!(internal.len(), 1, "only the open chat's ticket is announced: {internal:?}");
    customer.barrier().await;
    assert!(
        customer.buffered(|f| f["event"]["kind"].as_str().is_some_and(|k| k.starts_with("ticket") || k == "internal")).is_empty(),
        "the customer saw ticket events"
    );
}
