//! REST configuration and operations endpoints.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn settings_queues_reasons_dispositions_round_trip() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");

    let (status, body) = app.http("GET", "/v1/settings", Some(&admin), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["settings"]["max_chats"], 3);
    assert!(
        body["settings"].get("customer_token_secret").is_none(),
        "the secret is never returned"
    );
    assert_eq!(body["customer_token_secret_set"], true);

    let mut s = body["settings"].clone();
    s["max_chats"] = json!(5);
    s["offer_expiry_ms"] = json!(15_000);
    let (status, body) = app.http("PUT", "/v1/settings", Some(&admin), Some(s)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["settings"]["max_chats"], 5);
    assert_eq!(
        body["customer_token_secret_set"], true,
        "a PUT without the secret keeps it"
    );

    let (status, _) = app
        .http(
            "POST",
            "/v1/queues",
            Some(&admin),
            Some(json!({ "id": "vip", "name": "VIP", "priority": 5 })),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .http(
            "POST",
            "/v1/queues",
            Some(&admin),
            Some(json!({ "id": "vip", "name": "VIP" })),
        )
        .await;
    assert_eq!(status, 409);
    let (_, q) = app.http("GET", "/v1/queues/vip", Some(&admin), None).await;
    assert_eq!(q["queue"]["priority"], 5);
    assert_eq!(q["stats"]["waiting"], 0);

    // Agents see only their own queues.
    let agent = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let (_, visible) = app.http("GET", "/v1/queues", Some(&agent), None).await;
    assert_eq!(
        visible["queues"].as_array().expect("queues").len(),
        1,
        "{visible}"
    );

    let (status, _) = app
        .http(
            "PUT",
            "/v1/reasons/r1",
            Some(&admin),
            Some(json!({ "name": "Orders", "sequence": 0, "queue": "vip" })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .http(
            "PUT",
            "/v1/reasons/r2",
            Some(&admin),
            Some(json!({ "name": "Bad", "queue": "nope" })),
        )
        .await;
    assert_eq!(status, 400, "unknown queue: {body}");
    let (_, reasons) = app.http("GET", "/v1/reasons", Some(&admin), None).await;
    assert_eq!(reasons["display_order"], json!(["r1"]));

    let (status, _) = app
        .http(
            "PUT",
            "/v1/dispositions/callback",
            Some(&admin),
            Some(json!({ "label": "Call back" })),
        )
        .await;
    assert_eq!(status, 200);
    let (_, d) = app
        .http("GET", "/v1/dispositions", Some(&admin), None)
        .await;
    assert_eq!(d["dispositions"].as_array().expect("list").len(), 2);
    let (status, _) = app
        .http("DELETE", "/v1/dispositions/callback", Some(&admin), None)
        .await;
    assert_eq!(status, 204);
}

#[actix_web::test]
async fn hours_import_save_and_get_use_the_seed_format() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let profile = json!({
        "ProfileId": "base",
        "data": [
            { "InteractionType": "Chat", "DayOfWeek": "MONDAY", "TimeZoneId": "America/New_York",
              "OperationPeriod": [ { "OperationPeriodId": "1", "StartTime": "09:00", "EndTime": "17:00", "IsBreak": false } ] }
        ]
    });
    let (status, body) = app
        .http("POST", "/v1/hours/import", Some(&admin), Some(profile))
        .await;
    assert_eq!(status, 200, "{body}");
    let save = json!({
        "ProfileId": "base", "InteractionType": "Chat", "DayOfWeek": "THURSDAY", "TimeZoneId": "America/New_York",
        "PK": "7224843134953761869", "CreatedBy": "admin@example",
        "OperationPeriod": [ { "OperationPeriodId": "1", "StartTime": "00:00", "EndTime": "23:59", "IsBreak": true } ]
    });
    let (status, body) = app
        .http("POST", "/v1/hours/save", Some(&admin), Some(save))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, hours) = app.http("GET", "/v1/hours", Some(&admin), None).await;
    let days: Vec<&str> = hours["hours"]["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|d| d["DayOfWeek"].as_str().expect("day"))
        .collect();
    assert_eq!(days, ["MONDAY", "THURSDAY"]);
    let bad = json!({ "ProfileId": "x", "data": [ { "InteractionType": "Chat", "DayOfWeek": "FUNDAY", "TimeZoneId": "Mars/Base", "OperationPeriod": [] } ] });
    let (status, body) = app
        .http("POST", "/v1/hours/import", Some(&admin), Some(bad))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
}

#[actix_web::test]
async fn conversations_by_customer_and_case_id() {
    let app = spawn_app().await;
    let token = app.visitor_token("t1", "case").await;
    let mut c = app.connect(&token).await;
    let customer = c.hello["customer"].as_str().expect("customer").to_string();
    let conv = c
        .ok(json!({ "type": "start", "case_id": "CASE1039" }))
        .await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    let admin = app.admin_token("t1");
    let (_, by_case) = app
        .http(
            "GET",
            "/v1/conversations?case_id=CASE1039",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(by_case["conversations"][0]["id"], conv.as_str());
    let (_, by_customer) = app
        .http(
            "GET",
            &format!("/v1/conversations?customer={customer}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(by_customer["conversations"][0]["id"], conv.as_str());
    let (_, waiting) = app
        .http(
            "GET",
            "/v1/conversations?status=waiting",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(waiting["conversations"].as_array().expect("list").len(), 1);
    let (status, _) = app
        .http(
            "GET",
            "/v1/conversations?status=sleeping",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let (status, body) = app.http("GET", "/healthz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.http("GET", "/readyz", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(body["engine"], crate::ENGINE);
    let mut al = app.agent("al", &["general"]).await;
    let (mut c, conv) = app.customer_chat("m").await;
    accept_next(&mut al).await;
    c.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "1", "text": "x" }))
        .await;
    c.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "2", "text": "" }),
        "bad_request",
    )
    .await;
    let (_, m) = app.http("GET", "/metrics", None, None).await;
    let m = m.as_str().expect("text");
    for needle in [
        "switchboard_messages_total 1",
        "switchboard_conversations{state=\"assigned\"} 1",
        "switchboard_offers_total{outcome=\"accepted\"} 1",
        "switchboard_errors_total{code=\"bad_request\"} 1",
        "switchboard_connections 2",
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }
}

/// The value of an unlabelled sample (`name value`) in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[actix_web::test]
async fn metrics_expose_contact_center_latencies_after_a_chat() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut c, conv) = app.customer_chat("m").await;
    accept_next(&mut al).await;
    c.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "hi" }))
        .await;
    al.event(&conv, "message").await;
    al.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": "hello" }))
        .await;
    c.wait_for("agent message", |f| {
        is_event(f, &conv) && f["event"]["client_msg_id"] == "a1"
    })
    .await;
    // Both sessions have handled what came before (acks written, events delivered).
    c.barrier().await;
    al.barrier().await;
    // The queue hears of the acceptance asynchronously.
    let deadline = std::time::Instant::now() + WAIT;
    let m = loop {
        let (_, m) = app.http("GET", "/metrics", None, None).await;
        let m = m.as_str().expect("text").to_string();
        if sample(&m, "switchboard_queue_wait_seconds_count") == Some(1.0)
            || std::time::Instant::now() > deadline
        {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    for name in [
        "queue_wait",
        "offer_accept",
        "first_response",
        "send_ack",
        "delivery",
    ] {
        let needle = format!("# TYPE switchboard_{name}_seconds histogram");
        assert!(m.contains(&needle), "missing {needle} in\n{m}");
    }
    for (name, count) in [
        ("switchboard_queue_wait_seconds_count", 1.0),
        ("switchboard_offer_accept_seconds_count", 1.0),
        ("switchboard_first_response_seconds_count", 1.0),
        ("switchboard_send_ack_seconds_count", 2.0),
    ] {
        assert_eq!(sample(&m, name), Some(count), "{name} in\n{m}");
    }
    assert!(
        m.contains("switchboard_offer_accept_seconds_bucket{le=\"+Inf\"} 1"),
        "{m}"
    );
    // Every live event reaches both sides: several deliveries, each well under a minute.
    let deliveries = sample(&m, "switchboard_delivery_seconds_count").expect("delivery count");
    assert!(deliveries >= 4.0, "{deliveries} deliveries in\n{m}");
    let total = sample(&m, "switchboard_delivery_seconds_sum").expect("delivery sum");
    assert!(total < 60.0, "{m}");
}

/// An agent's list is the newest of what it may see: with newer chats waiting in another queue,
/// `limit` still returns its own queue's (not a page of the org cut down to nothing).
#[actix_web::test]
async fn an_agents_conversation_list_is_limited_after_its_access_not_before() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let mut ours = Vec::new();
    let mut keep = Vec::new();
    for name in ["ada", "bea"] {
        let (c, conv) = app.customer_chat(name).await;
        ours.push(conv);
        keep.push(c);
    }
    let (_, body) = app.http("GET", "/v1/settings", Some(&admin), None).await;
    let mut s = body["settings"].clone();
    s["default_queue"] = json!("billing");
    let (status, body) = app.http("PUT", "/v1/settings", Some(&admin), Some(s)).await;
    assert_eq!(status, 200, "{body}");
    let mut theirs = Vec::new();
    for name in ["cid", "dan", "eve"] {
        let (c, conv) = app.customer_chat(name).await;
        theirs.push(conv);
        keep.push(c);
    }

    let agent = app.staff_token("t1", "cy", &[switchboard::auth::Role::Agent], &["general"]);
    let (status, body) = app
        .http("GET", "/v1/conversations?status=waiting&limit=2", Some(&agent), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut got: Vec<String> = body["conversations"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    got.sort();
    ours.sort();
    assert_eq!(got, ours, "the general agent's two, not an empty page");
    // A supervisor sees the org: the newest two are billing's.
    let (_, body) = app
        .http("GET", "/v1/conversations?status=waiting&limit=2", Some(&admin), None)
        .await;
    for row in body["conversations"].as_array().expect("rows") {
        assert!(theirs.iter().any(|t| row["id"] == t.as_str()), "{row}");
    }
}

/// Seed 002's per-chat monitoring levels are the agent's, kept by the server (any browser):
/// set, changed, listed, cleared; bad input refused; another agent's are its own.
#[actix_web::test]
async fn an_agents_monitoring_levels_are_kept_by_the_server() {
    let app = spawn_app().await;
    let al = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let bo = app.staff_token("t1", "bo", &[switchboard::auth::Role::Agent], &["general"]);
    let (status, body) = app.http("GET", "/v1/me/monitoring", Some(&al), None).await;
    assert_eq!((status, body["levels"].clone()), (200, json!({})));
    for (conv, level) in [("c_one", "all"), ("c_two", "none"), ("c_one", "customer")] {
        let (status, body) = app
            .http("PUT", &format!("/v1/me/monitoring/{conv}"), Some(&al), Some(json!({ "level": level })))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({ "conversation": conv, "level": level }));
    }
    let (_, body) = app.http("GET", "/v1/me/monitoring", Some(&al), None).await;
    assert_eq!(body["levels"], json!({ "c_one": "customer", "c_two": "none" }));
    let (_, body) = app.http("GET", "/v1/me/monitoring", Some(&bo), None).await;
    assert_eq!(body["levels"], json!({}), "bo's are bo's own");

    let (status, body) = app
        .http("PUT", "/v1/me/monitoring/c_one", Some(&al), Some(json!({ "level": "loud" })))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .http("PUT", "/v1/me/monitoring/not%20an%20id", Some(&al), Some(json!({ "level": "all" })))
        .await;
    assert_eq!(status, 400);
    let (status, _) = app.http("DELETE", "/v1/me/monitoring/c_two", Some(&al), None).await;
    assert_eq!(status, 204);
    let (_, body) = app.http("GET", "/v1/me/monitoring", Some(&al), None).await;
    assert_eq!(body["levels"], json!({ "c_one": "customer" }));
}
