//! Bad input gets a clear error code; the connection and everyone else carry on.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn malformed_unknown_and_incomplete_frames_get_bad_request() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut c, conv) = app.customer_chat("bad").await;
    accept_next(&mut al).await;

    c.send_raw("{not json").await;
    let e = c.wait_for("malformed", |f| f["type"] == "error").await;
    assert_eq!(e["code"], "bad_request");
    assert!(e["message"]
        .as_str()
        .expect("msg")
        .contains("malformed JSON"));

    c.send_raw(r#"{"type":"teleport","id":"u1"}"#).await;
    let e = c.wait_for("unknown", |f| f["id"] == "u1").await;
    assert_eq!(e["code"], "bad_request");

    c.send_raw(r#"{"type":"send","id":"m1","conversation":"x"}"#)
        .await;
    let e = c.wait_for("missing fields", |f| f["id"] == "m1").await;
    assert_eq!(e["code"], "bad_request");

    c.err(
        json!({ "type": "send", "conversation": "bad:id", "client_msg_id": "a", "text": "x" }),
        "bad_request",
    )
    .await;
    c.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "", "text": "x" }),
        "bad_request",
    )
    .await;
    c.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "e", "text": "   " }),
        "bad_request",
    )
    .await;
    c.err(json!({ "type": "send", "conversation": conv, "client_msg_id": "l", "text": "x".repeat(4001) }), "too_large").await;
    c.err(
        json!({ "type": "survey", "conversation": conv, "rating": 11 }),
        "conflict",
    )
    .await;
    c.err(
        json!({ "type": "accept", "conversation": conv }),
        "forbidden",
    )
    .await;
    c.err(json!({ "type": "hello", "token": "again" }), "conflict")
        .await;
    c.err(json!({ "type": "send", "conversation": "c_doesnotexist", "client_msg_id": "z", "text": "x" }), "not_found").await;

    // The connection still works, and so does the other side.
    let ok = c.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "fine", "text": "still here" })).await;
    let got = al.event(&conv, "message").await;
    assert_eq!(got["seq"], ok["seq"]);
}

#[actix_web::test]
async fn an_oversized_frame_is_refused_and_nothing_is_lost() {
    let app = spawn_app().await;
    let (mut c, conv) = app.customer_chat("big").await;
    let before = c
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "k1", "text": "kept" }))
        .await;
    let huge = json!({ "type": "send", "id": "huge", "conversation": conv, "client_msg_id": "h", "text": "y".repeat(70_000) });
    c.send_raw(&huge.to_string()).await;
    let e = c
        .wait_for("too large", |f| {
            f["type"] == "error" && f["code"] == "too_large"
        })
        .await;
    assert_eq!(e["id"], "huge");
    let after = c
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "k2", "text": "still" }))
        .await;
    assert_eq!(
        after["seq"].as_u64(),
        Some(before["seq"].as_u64().expect("seq") + 1)
    );
}

#[actix_web::test]
async fn a_fragmented_message_is_put_together_and_a_plain_get_of_the_socket_is_refused() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut c, conv) = app.customer_chat("frag").await;
    accept_next(&mut al).await;
    let text = "ünïcode split across fragments, ".repeat(8);
    let send = json!({ "type": "send", "id": "f1", "conversation": conv, "client_msg_id": "frag-1", "text": text });
    c.send_fragmented(&send.to_string(), 5).await;
    let ack = c
        .wait_for("the ack of the fragmented send", |f| {
            f["type"] == "ack" && f["id"] == "f1"
        })
        .await;
    let got = al.event(&conv, "message").await;
    assert_eq!(got["seq"], ack["data"]["seq"]);
    assert_eq!(got["event"]["text"], text);
    // An ordinary GET of the websocket's path is not an upgrade: a JSON error, not a hang.
    let (status, body) = app.http("GET", "/v1/ws", None, None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");
}

#[actix_web::test]
async fn commands_in_the_wrong_state_are_refused() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "offer_expiry_ms", json!(200))).await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut c, conv) = app.customer_chat("state").await;
    // Wrap-up before the end, survey before the end, accepting an expired offer.
    al.signal("offer").await;
    al.signal("offer_ended").await;
    al.err(json!({ "type": "accept", "conversation": conv }), "expired")
        .await;
    c.err(
        json!({ "type": "survey", "conversation": conv, "rating": 5 }),
        "conflict",
    )
    .await;
    let offer = al.signal("offer").await;
    al.ok(json!({ "type": "accept", "conversation": offer["conversation"] }))
        .await;
    al.err(
        json!({ "type": "wrap_up", "conversation": conv }),
        "conflict",
    )
    .await;
    al.err(
        json!({ "type": "transfer", "conversation": conv }),
        "bad_request",
    )
    .await;
    al.err(
        json!({ "type": "transfer", "conversation": conv, "to_agent": "al" }),
        "bad_request",
    )
    .await;
    c.ok(json!({ "type": "end", "conversation": conv })).await;
    c.err(json!({ "type": "end", "conversation": conv }), "ended")
        .await;
    c.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "n", "text": "x" }),
        "ended",
    )
    .await;
    al.err(
        json!({ "type": "transfer", "conversation": conv, "to_queue": "billing" }),
        "ended",
    )
    .await;
}

#[actix_web::test]
async fn a_flood_is_rate_limited_and_repeated_abuse_closes_only_that_connection() {
    let app = spawn_app().await;
    let (mut flooder, _) = app.customer_chat("flood").await;
    let (mut calm, calm_conv) = app.customer_chat("calm").await;
    for i in 0..200 {
        flooder
            .send_raw(&json!({ "type": "ping", "id": format!("f{i}") }).to_string())
            .await;
    }
    let limited = flooder
        .wait_for("rate_limited", |f| f["code"] == "rate_limited")
        .await;
    assert_eq!(limited["type"], "error");
    assert_eq!(
        flooder.closed_code().await,
        1008,
        "repeated abuse closes the connection"
    );
    // Everyone else carries on.
    calm.ok(json!({ "type": "send", "conversation": calm_conv, "client_msg_id": "c", "text": "unaffected" })).await;
}

#[actix_web::test]
async fn authentication_failures_close_the_connection() {
    let app = spawn_app().await;
    let mut c = Client::open(app.port).await;
    c.err(
        json!({ "type": "hello", "token": "not.a.jwt" }),
        "unauthorized",
    )
    .await;
    assert_eq!(c.closed_code().await, 1008);

    let mut c = Client::open(app.port).await;
    c.err(json!({ "type": "ping" }), "unauthorized").await;
    assert_eq!(c.closed_code().await, 1008);

    // A staff token for an org that does not exist.
    let ghost = app.staff_token("ghost", "al", &[switchboard::auth::Role::Agent], &[]);
    let mut c = Client::open(app.port).await;
    c.err(json!({ "type": "hello", "token": ghost }), "unauthorized")
        .await;
}

#[actix_web::test]
async fn a_socket_that_never_says_hello_is_closed() {
    let mut settings_app = spawn_app().await;
    let _ = &mut settings_app;
    let mut c = Client::open(settings_app.port).await;
    // The default hello timeout is 5 s; the close arrives without us sending anything.
    assert_eq!(c.closed_code().await, 1008);
}

#[actix_web::test]
async fn bad_rest_input_gets_json_errors() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let (status, body) = app.http("GET", "/v1/queues", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, body) = app
        .http(
            "POST",
            "/v1/orgs/t1/visitors",
            None,
            Some(json!({ "first_name": "A", "last_name": "B", "email": "nope" })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
    let (status, body) = app
        .http(
            "PUT",
            "/v1/settings",
            Some(&admin),
            Some(json!({ "max_chats": 0 })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app
        .http(
            "PUT",
            "/v1/settings",
            Some(&admin),
            Some(json!("not an object")),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app.http("GET", "/v1/nowhere", None, None).await;
    assert_eq!(status, 404);
    let agent = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let (status, body) = app
        .http(
            "POST",
            "/v1/queues",
            Some(&agent),
            Some(json!({ "id": "x", "name": "X" })),
        )
        .await;
    assert_eq!(status, 403, "agents cannot configure: {body}");
}

#[actix_web::test]
async fn one_orgs_flood_is_limited_without_touching_another_org() {
    let app = spawn_app_configured(
        |s| {
            s.limits.org_rate_per_sec = 1;
            s.limits.org_rate_burst = 30;
        },
        |_| {},
    )
    .await;
    let mut a = app.connect(&app.visitor_token("t1", "ann").await).await;
    let mut b = app.connect(&app.visitor_token("t1", "bob").await).await;
    let mut other = app.connect(&app.visitor_token("t2", "cat").await).await;
    // Each connection stays well inside its own limit (30/s, burst 60); together t1 exceeds
    // its org's burst of 30.
    for _ in 0..20 {
        a.barrier().await;
    }
    let mut limited = 0;
    for _ in 0..20 {
        let reply = b.request(json!({ "type": "ping" })).await;
        if reply["code"] == "rate_limited" {
            limited += 1;
        }
    }
    assert!(
        limited >= 5,
        "the org's shared bucket should refuse about 10 of B's pings, refused {limited}"
    );
    // Another org is unaffected.
    for _ in 0..25 {
        other.barrier().await;
    }
}

/// Agent Al, signed in with a socket whose receive window is tiny (4 KiB), in an accepted chat
/// with a customer: the setting of both tests of a client that stops reading.
async fn agent_in_a_chat_with_a_small_receive_window(app: &TestApp) -> (Client, Client, String) {
    let token = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let mut al = Client::open_with_recv_buffer(app.port, 4096).await;
    al.ok(json!({ "type": "hello", "token": token })).await;
    al.ok(json!({ "type": "status", "presence": "available" }))
        .await;
    let (customer, conv) = app.customer_chat("flood").await;
    accept_next(&mut al).await;
    al.barrier().await;
    (al, customer, conv)
}

/// PROTOCOL §1.6 for a client that stops reading altogether: its socket fills up, the server's
/// writes to it block, and the session must still be closed (1013) instead of waiting forever
/// while its buffer grows. Al's socket keeps a tiny receive window and is never read while
/// the customer floods the chat; the customer carries on unaffected.
#[actix_web::test]
async fn a_client_that_stops_reading_is_disconnected_and_the_other_side_carries_on() {
    let app = spawn_app_configured(
        |s| {
            s.limits.send_buffer = 8;
            s.limits.rate_per_sec = 100_000;
            s.limits.rate_burst = 100_000;
            // Only the slow-consumer rule can close Al within this test.
            s.limits.heartbeat_ms = 120_000;
        },
        |_| {},
    )
    .await;
    let (mut al, mut customer, conv) = agent_in_a_chat_with_a_small_receive_window(&app).await;

    // From here on Al never reads its socket.
    let text = "x".repeat(4000);
    let closed = |metrics: &serde_json::Value| {
        metrics
            .as_str()
            .is_some_and(|m| m.contains("switchboard_slow_consumers_total 1"))
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut sent = 0;
    loop {
        for _ in 0..20 {
            sent += 1;
            customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("f{sent}"), "text": text })).await;
        }
        customer.inbox.clear();
        let (_, metrics) = app.http("GET", "/metrics", None, None).await;
        if closed(&metrics) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Al's session is still open after {sent} messages it never read: {metrics}"
        );
    }

    // Al's session is gone: the agent goes offline.
    let admin = app.admin_token("t1");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, agents) = app.http("GET", "/v1/agents", Some(&admin), None).await;
        let al_live = agents["live"]
            .as_array()
            .expect("live")
            .iter()
            .find(|a| a["id"] == "al")
            .cloned()
            .expect("al");
        if al_live["presence"] == "offline" && al_live["sessions"] == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Al is still signed in: {agents}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // The customer is unaffected.
    customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "after", "text": "still here" })).await;
    assert!(customer.closed.is_none());

    // When Al reads again, what was buffered comes out and then the connection ends.
    let code = al.closed_code().await;
    assert!(matches!(code, 1013 | 1006), "close code {code}");
}

/// PROTOCOL §9.5: `limit` is 1–1000 on `GET /v1/conversations`; §9.2: pre-chat names are 1–100
/// characters. Out of range is `400` with a JSON error, like every other bad input.
#[actix_web::test]
async fn out_of_range_rest_parameters_get_400() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    for limit in ["0", "1001"] {
        let (status, body) = app
            .http(
                "GET",
                &format!("/v1/conversations?limit={limit}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 400, "limit={limit}: {body}");
        assert_eq!(
            body["error"]["code"], "bad_request",
            "limit={limit}: {body}"
        );
    }
    for limit in ["1", "1000"] {
        let (status, body) = app
            .http(
                "GET",
                &format!("/v1/conversations?limit={limit}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, 200, "limit={limit}: {body}");
    }

    let form =
        |first: String| json!({ "first_name": first, "last_name": "B", "email": "a@example.com" });
    let (status, body) = app
        .http(
            "POST",
            "/v1/orgs/t1/visitors",
            None,
            Some(form("n".repeat(101))),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    let (status, body) = app
        .http(
            "POST",
            "/v1/orgs/t1/visitors",
            None,
            Some(form("n".repeat(100))),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// PROTOCOL §1.3 for a client that stops reading: even while the server's write to it is
/// blocked on its full socket, nothing heard for twice the heartbeat interval closes the
/// session (the buffer is made too large to overflow here, so only that rule applies).
#[actix_web::test]
async fn a_client_that_stops_reading_times_out_on_the_heartbeat_even_while_a_write_waits() {
    let app = spawn_app_configured(
        |s| {
            s.limits.send_buffer = 1_000_000;
            s.limits.rate_per_sec = 100_000;
            s.limits.rate_burst = 100_000;
            s.limits.heartbeat_ms = 2_000;
        },
        |_| {},
    )
    .await;
    let (mut al, mut customer, conv) = agent_in_a_chat_with_a_small_receive_window(&app).await;

    // From here on Al never reads (nor answers pings) while the customer floods the chat.
    let text = "x".repeat(4000);
    let admin = app.admin_token("t1");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut sent = 0;
    loop {
        for _ in 0..20 {
            sent += 1;
            customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("f{sent}"), "text": text })).await;
        }
        customer.inbox.clear();
        let (_, agents) = app.http("GET", "/v1/agents", Some(&admin), None).await;
        let offline = agents["live"]
            .as_array()
            .expect("live")
            .iter()
            .any(|a| a["id"] == "al" && a["presence"] == "offline");
        if offline {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Al's session is still open after {sent} messages it never read: {agents}"
        );
    }
    let (_, metrics) = app.http("GET", "/metrics", None, None).await;
    assert!(
        metrics
            .as_str()
            .is_some_and(|m| m.contains("switchboard_slow_consumers_total 0")),
        "closed by the heartbeat rule, not as a slow consumer: {metrics}"
    );
    customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "after", "text": "still here" })).await;
    assert!(customer.closed.is_none());
    let code = al.closed_code().await;
    assert!(matches!(code, 1008 | 1006), "close code {code}");
}
