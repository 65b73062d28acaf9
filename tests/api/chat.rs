//! A conversation end to end: messages, notes, receipts, retries, resume, restarts.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn full_chat_from_start_to_survey_and_wrap_up() {
    let app = spawn_app().await;
    let mut agent = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("ada").await;

    // The customer sees their own conversation's public events; the agent gets an offer.
    customer.event(&conv, "created").await;
    let offer = agent.signal("offer").await;
    assert_eq!(offer["conversation"], conv.as_str());
    assert_eq!(offer["customer_name"], "ada Tester");
    agent
        .ok(json!({ "type": "accept", "conversation": conv }))
        .await;

    // Both sides learn the agent joined.
    let joined = customer.event(&conv, "assigned").await;
    assert_eq!(joined["event"]["agent"], "al");
    agent.event(&conv, "assigned").await;

    // Messages both ways, each acked with its seq and delivered once to the other side.
    let ack = customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "Where is my order?" })).await;
    let seq_c1 = ack["seq"].as_u64().expect("seq");
    let got = agent.event(&conv, "message").await;
    assert_eq!(got["seq"].as_u64(), Some(seq_c1));
    assert_eq!(got["event"]["text"], "Where is my order?");
    assert_eq!(got["event"]["author"]["role"], "customer");

    agent
        .ok(json!({ "type": "typing", "conversation": conv, "on": true }))
        .await;
    let typing = customer.signal("typing").await;
    assert_eq!(typing["on"], true);

    let ack = agent.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": "It ships today." })).await;
    let got = customer
        .wait_for("agent message", |f| {
            is_event(f, &conv) && f["event"]["client_msg_id"] == "a1"
        })
        .await;
    assert_eq!(got["seq"], ack["seq"]);
    assert_eq!(got["event"]["text"], "It ships today.");

    // Read receipt from the customer reaches the agent.
    customer
        .ok(json!({ "type": "read", "conversation": conv, "seq": ack["seq"] }))
        .await;
    let read = agent.event(&conv, "read").await;
    assert_eq!(read["event"]["up_to"], ack["seq"]);

    // The customer ends; both see it; the survey is stored and readable over REST.
    customer
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;
    let ended = agent.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "customer");
    customer.ok(json!({ "type": "survey", "conversation": conv, "rating": 9, "comment": "Quick and kind" })).await;
    customer
        .err(
            json!({ "type": "survey", "conversation": conv, "rating": 3 }),
            "conflict",
        )
        .await;

    let admin = app.admin_token("t1");
    let (status, surveys) = app.http("GET", "/v1/surveys", Some(&admin), None).await;
    assert_eq!(status, 200);
    let data = surveys["data"].as_array().expect("data");
    assert_eq!(data.len(), 1, "{surveys}");
    assert_eq!(data[0]["rating"], 9);
    assert_eq!(data[0]["comment"], "Quick and kind");
    assert_eq!(data[0]["conversation"], conv.as_str());
    assert_eq!(data[0]["agent"], "al");

    // Wrap-up with a disposition marks it done.
    agent
        .err(
            json!({ "type": "wrap_up", "conversation": conv, "disposition": "nope" }),
            "bad_request",
        )
        .await;
    agent
        .ok(json!({ "type": "wrap_up", "conversation": conv, "disposition": "resolved" }))
        .await;
    let (_, summary) = app
        .http(
            "GET",
            &format!("/v1/conversations/{conv}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(summary["status"], "done", "{summary}");
    assert_eq!(summary["disposition"], "resolved");

    // The transcript holds every event once, in seq order with no gap.
    let (_, t) = app
        .http(
            "GET",
            &format!("/v1/conversations/{conv}/transcript"),
            Some(&admin),
            None,
        )
        .await;
    let seqs: Vec<u64> = t["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}

#[actix_web::test]
async fn internal_notes_never_reach_the_customer() {
    let app = spawn_app().await;
    let mut agent = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("bea").await;
    accept_next(&mut agent).await;
    customer.event(&conv, "assigned").await;

    let note = agent
        .ok(json!({ "type": "note", "conversation": conv, "text": "VIP, offer a voucher" }))
        .await;
    agent.event(&conv, "note").await;
    let msg = agent.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": "Hello!" })).await;

    // The customer gets the message, whose `prev` skips the hidden note.
    let got = customer.event(&conv, "message").await;
    assert_eq!(got["seq"], msg["seq"]);
    assert_eq!(
        got["prev"].as_u64(),
        Some(note["seq"].as_u64().expect("seq") - 1)
    );
    customer.barrier().await;
    assert!(
        customer
            .buffered(|f| f["event"]["kind"] == "note")
            .is_empty(),
        "{:?}",
        customer.inbox
    );

    // Nor on resume: a replay from zero contains no agent-only event.
    let token = app.visitor_token("t1", "other").await;
    let _ = token;
    customer
        .ok(json!({ "type": "resume", "conversation": conv, "last_seq": 0 }))
        .await;
    customer.barrier().await;
    let replayed = customer.buffered(|f| is_event(f, &conv));
    assert!(!replayed.is_empty());
    for f in &replayed {
        assert_eq!(f["event"]["visibility"], "public", "customer got {f}");
    }
    // Customers cannot write notes.
    customer
        .err(
            json!({ "type": "note", "conversation": conv, "text": "x" }),
            "forbidden",
        )
        .await;
}

#[actix_web::test]
async fn a_retried_send_is_stored_once_and_acked_with_the_same_seq() {
    let app = spawn_app().await;
    let mut agent = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("cy").await;
    accept_next(&mut agent).await;

    let first = customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "m-1", "text": "once" }))
        .await;
    let again = customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "m-1", "text": "once" }))
        .await;
    assert_eq!(first["seq"], again["seq"]);
    assert_eq!(first["duplicate"], false);
    assert_eq!(again["duplicate"], true);
    customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "m-2", "text": "twice" })).await;

    agent.event(&conv, "message").await;
    let second = agent.event(&conv, "message").await;
    assert_eq!(second["event"]["client_msg_id"], "m-2");
    agent.barrier().await;
    assert!(
        agent
            .buffered(|f| f["event"]["kind"] == "message")
            .is_empty(),
        "m-1 delivered twice: {:?}",
        agent.inbox
    );

    // Even after the chat ended, a retry of an acked message gets its original seq back.
    agent
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;
    let late = customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "m-1", "text": "once" }))
        .await;
    assert_eq!(late["seq"], first["seq"]);
    customer
        .err(
            json!({ "type": "send", "conversation": conv, "client_msg_id": "m-3", "text": "new" }),
            "ended",
        )
        .await;
}

#[actix_web::test]
async fn reconnect_resumes_exactly_what_was_missed() {
    let app = spawn_app().await;
    let agent_token = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let mut agent = app.connect(&agent_token).await;
    agent
        .ok(json!({ "type": "status", "presence": "available" }))
        .await;
    let (mut customer, conv) = app.customer_chat("dee").await;
    accept_next(&mut agent).await;
    for i in 1..=3 {
        customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("m{i}"), "text": format!("msg {i}") })).await;
    }
    let mut last = 0;
    for _ in 0..3 {
        last = agent.event(&conv, "message").await["seq"]
            .as_u64()
            .expect("seq");
    }
    agent.close().await;

    // While the agent is away the customer keeps talking.
    for i in 4..=6 {
        customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("m{i}"), "text": format!("msg {i}") })).await;
    }
    let mut agent = app.connect_with_resume(&agent_token, &conv, last).await;
    agent.barrier().await;
    let replay: Vec<_> = agent.buffered(|f| is_event(f, &conv));
    let seqs: Vec<u64> = replay
        .iter()
        .map(|f| f["seq"].as_u64().expect("seq"))
        .collect();
    let texts: Vec<&str> = replay
        .iter()
        .filter_map(|f| f["event"]["text"].as_str())
        .collect();
    assert_eq!(
        seqs,
        ((last + 1)..=(last + 3)).collect::<Vec<_>>(),
        "no gap, no duplicate"
    );
    assert_eq!(texts, ["msg 4", "msg 5", "msg 6"]);
    agent.inbox.clear();

    // Live delivery continues after the replay.
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "m7", "text": "msg 7" }))
        .await;
    let live = agent.event(&conv, "message").await;
    assert_eq!(live["seq"].as_u64(), Some(last + 4));
    assert_eq!(live["prev"].as_u64(), Some(last + 3));
}

impl TestApp {
    pub async fn connect_with_resume(&self, token: &str, conv: &str, last_seq: u64) -> Client {
        let mut c = Client::open(self.port).await;
        let reply = c
            .request(json!({ "type": "hello", "token": token, "resume": [{ "conversation": conv, "last_seq": last_seq }] }))
            .await;
        assert_eq!(reply["type"], "ack", "hello refused: {reply}");
        c.hello = reply["data"].clone();
        c
    }
}

#[actix_web::test]
async fn a_customer_page_reload_replays_the_conversation() {
    let app = spawn_app().await;
    let token = app.visitor_token("t1", "eve").await;
    let mut customer = app.connect(&token).await;
    let conv = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "x1", "text": "hi" }))
        .await;
    customer.close().await;

    // A new connection with the same token: hello lists the open conversation and replays it.
    let mut again = app.connect(&token).await;
    assert_eq!(again.hello["conversations"], json!([conv]));
    let msg = again.event(&conv, "message").await;
    assert_eq!(msg["event"]["text"], "hi");
    // A second start returns the same conversation instead of opening another.
    let data = again.ok(json!({ "type": "start" })).await;
    assert_eq!(data["conversation"], conv.as_str());
    assert_eq!(data["existing"], true);
}

#[actix_web::test]
async fn a_conversation_actor_that_panics_comes_back_from_its_log() {
    let app = spawn_app().await;
    let mut agent = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("fay").await;
    accept_next(&mut agent).await;
    let before = customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "p1", "text": "before" })).await;

    let admin = app.admin_token("t1");
    let (status, _) = app
        .http(
            "POST",
            &format!("/v1/debug/conversations/{conv}/panic"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 202);

    // The next command reaches a fresh activation rebuilt from the log: the retry of the
    // stored message is still recognised, and new messages continue the sequence.
    let mut after = None;
    for attempt in 0..50 {
        let reply = customer
            .request(json!({ "type": "send", "conversation": conv, "client_msg_id": "p2", "text": "after" }))
            .await;
        if reply["type"] == "ack" {
            after = Some(reply["data"].clone());
            break;
        }
        assert_eq!(reply["code"], "unavailable", "attempt {attempt}: {reply}");
    }
    let after = after.expect("conversation came back");
    assert_eq!(
        after["seq"].as_u64(),
        Some(before["seq"].as_u64().expect("seq") + 1)
    );
    let dup = customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "p1", "text": "before" })).await;
    assert_eq!(dup["seq"], before["seq"]);
    let got = agent
        .wait_for("after", |f| f["event"]["text"] == "after")
        .await;
    assert_eq!(got["seq"], after["seq"]);
    let (_, metrics) = app.http("GET", "/metrics", None, None).await;
    let text = metrics.as_str().expect("text");
    assert!(
        text.contains("switchboard_actor_restarts_total 1"),
        "{text}"
    );
}

#[actix_web::test]
async fn continue_without_a_prompt_logs_nothing() {
    let app = spawn_app().await;
    let (mut customer, conv) = app.customer_chat("gus").await;
    for _ in 0..3 {
        customer
            .ok(json!({ "type": "continue", "conversation": conv }))
            .await;
    }
    customer.barrier().await;
    assert!(
        customer
            .buffered(|f| f["event"]["kind"] == "continued")
            .is_empty(),
        "{:?}",
        customer.inbox
    );
}

#[actix_web::test]
async fn draining_sends_clients_away_and_refuses_new_sockets() {
    let app = spawn_app().await;
    let (mut customer, _conv) = app.customer_chat("hal").await;
    app.rt.begin_drain();
    let bye = customer
        .wait_for("goodbye", |f| f["type"] == "goodbye")
        .await;
    assert_eq!(bye["reason"], "restart");
    assert!(bye["retry_after_ms"].as_u64().is_some());
    assert_eq!(customer.closed_code().await, 1012);
    let (status, body) = app.http("GET", "/v1/ws", None, None).await;
    assert_eq!(status, 503, "{body}");
}

#[actix_web::test]
async fn an_agent_who_reconnects_sees_chats_that_ended_meanwhile_and_can_wrap_them_up() {
    let app = spawn_app().await;
    let token = app.staff_token("t1", "al", &[switchboard::auth::Role::Agent], &["general"]);
    let mut al = app.connect(&token).await;
    al.ok(json!({ "type": "status", "presence": "available" }))
        .await;
    let (mut customer, conv) = app.customer_chat("ivy").await;
    accept_next(&mut al).await;
    let last = al.event(&conv, "participant_joined").await["seq"]
        .as_u64()
        .expect("seq");
    al.close().await;
    customer
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;

    let mut al = app.connect_with_resume(&token, &conv, last).await;
    assert_eq!(al.hello["wrap_up"], json!([conv]));
    let ended = al.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "customer");
    al.ok(json!({ "type": "wrap_up", "conversation": conv, "disposition": "resolved" }))
        .await;
}

/// §7.3: a `hello` resume entry whose epoch is not the log's is a reset log: `recovered: false`
/// and a replay from seq 1, exactly like the `resume` command.
#[actix_web::test]
async fn a_hello_resume_with_a_stale_epoch_replays_from_the_start() {
    let app = spawn_app().await;
    let token = app.visitor_token("t1", "old").await;
    let mut customer = app.connect(&token).await;
    let conv = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    let mut last = 0;
    for i in 1..=3 {
        let ack = customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("e{i}"), "text": format!("msg {i}") })).await;
        last = ack["seq"].as_u64().expect("seq");
    }
    customer.close().await;

    let mut again = Client::open(app.port).await;
    let reply = again
        .request(json!({ "type": "hello", "token": token, "resume": [{ "conversation": conv, "last_seq": last - 1, "epoch": "not-the-epoch" }] }))
        .await;
    assert_eq!(reply["type"], "ack", "hello refused: {reply}");
    let resumed = again.signal("resumed").await;
    assert_eq!(resumed["conversation"], conv.as_str());
    assert_eq!(resumed["recovered"], false, "{resumed}");
    let first = again.wait_for("the replay", |f| is_event(f, &conv)).await;
    assert_eq!(first["seq"], 1, "the replay starts at seq 1: {first}");
    assert_eq!(first["prev"], 0);
}
