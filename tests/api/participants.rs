//! Several agents in one chat (DESIGN §10): conference, consultation, the internal discussion,
//! supervisors monitoring, and capacity with participant seats.

use serde_json::{json, Value};

use switchboard::auth::Role;

use crate::helpers::*;

/// A chat `al` (queue general) owns with customer "ada".
async fn owned_chat(app: &TestApp) -> (Client, Client, String) {
    let mut al = app.agent("al", &["general"]).await;
    let (customer, conv) = app.customer_chat("ada").await;
    let got = accept_next(&mut al).await;
    assert_eq!(got, conv);
    (al, customer, conv)
}

/// An available agent of queue billing (where no chat waits, so it gets no offers).
async fn helper(app: &TestApp, id: &str) -> Client {
    app.agent(id, &["billing"]).await
}

async fn invite(owner: &mut Client, conv: &str, to: &str, role: &str) -> Value {
    owner
        .ok(json!({ "type": "invite", "conversation": conv, "role": role, "to_agent": to }))
        .await
}

/// `agent` gets the invitation and accepts it; it then follows the conversation.
async fn join(agent: &mut Client, conv: &str, role: &str) {
    let inv = agent.signal("invitation").await;
    assert_eq!(inv["conversation"], conv);
    assert_eq!(inv["role"], role);
    assert_eq!(inv["from"], "al");
    assert_eq!(inv["customer_name"], "ada Tester");
    agent
        .ok(json!({ "type": "invite_accept", "conversation": conv }))
        .await;
    agent
        .wait_for("joined", |f| {
            f["signal"] == "joined" && f["conversation"] == conv
        })
        .await;
}

fn agents_only(frames: &[Value]) -> Vec<&Value> {
    frames
        .iter()
        .filter(|f| f["type"] == "event" && f["event"]["visibility"] != "public")
        .collect()
}

async fn say(who: &mut Client, conv: &str, id: &str, text: &str) -> u64 {
    who.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": id, "text": text }))
        .await["seq"]
        .as_u64()
        .expect("seq")
}

async fn internal(who: &mut Client, conv: &str, id: &str, text: &str) -> u64 {
    who.ok(json!({ "type": "internal", "conversation": conv, "client_msg_id": id, "text": text }))
        .await["seq"]
        .as_u64()
        .expect("seq")
}

#[actix_web::test]
async fn a_conference_participant_chats_with_the_customer_and_a_rejected_one_never_gets_in() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let mut bo = helper(&app, "bo").await;
    let mut cy = helper(&app, "cy").await;

    let seq = invite(&mut al, &conv, "bo", "conference").await["seq"].clone();
    let invited = al.event(&conv, "invited").await;
    assert_eq!(invited["seq"], seq);
    assert_eq!(invited["event"]["to"], "bo");
    join(&mut bo, &conv, "conference").await;

    // The customer sees the join, and the conference participant writes to them.
    let joined = customer
        .wait_for("bo's join", |f| {
            is_event(f, &conv) && f["event"]["participant"] == "bo"
        })
        .await;
    assert_eq!(joined["event"]["kind"], "participant_joined");
    assert_eq!(joined["event"]["role"], "conference");
    let seq = say(&mut bo, &conv, "b1", "Bo from returns here.").await;
    let got = customer
        .wait_for("bo's message", |f| is_event(f, &conv) && f["seq"] == seq)
        .await;
    assert_eq!(got["event"]["author"]["id"], "bo");
    let ended = al.event(&conv, "invite_ended").await;
    assert_eq!(ended["event"]["outcome"], "accepted");

    // A second invitation to the same agent is a conflict; cy rejects hers.
    al.err(
        json!({ "type": "invite", "conversation": conv, "role": "consult", "to_agent": "bo" }),
        "conflict",
    )
    .await;
    invite(&mut al, &conv, "cy", "conference").await;
    cy.signal("invitation").await;
    cy.ok(json!({ "type": "invite_reject", "conversation": conv }))
        .await;
    let rejected = al
        .wait_for("cy's rejection", |f| {
            is_event(f, &conv)
                && f["event"]["kind"] == "invite_ended"
                && f["event"]["to"] == "cy"
        })
        .await;
    assert_eq!(rejected["event"]["outcome"], "rejected");
    // Answering twice: the invitation is gone. And cy cannot read or write the chat.
    cy.err(
        json!({ "type": "invite_accept", "conversation": conv }),
        "expired",
    )
    .await;
    cy.err(
        json!({ "type": "resume", "conversation": conv, "last_seq": 0 }),
        "not_found",
    )
    .await;
    cy.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "hi" }),
        "not_found",
    )
    .await;

    // The customer never saw an invitation.
    customer.barrier().await;
    assert_eq!(agents_only(&customer.buffered(|_| true)), Vec::<&Value>::new());
}

#[actix_web::test]
async fn an_unanswered_invitation_expires_once_and_an_invitation_to_a_queue_reaches_its_agent() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "invite_expiry_ms", json!(400))).await;
    let (mut al, _customer, conv) = owned_chat(&app).await;
    let mut bo = helper(&app, "bo").await;

    // To the queue: its available agent is invited (once the queue has heard bo is available).
    queue_has_available_agent(&app, "billing").await;
    al.ok(json!({ "type": "invite", "conversation": conv, "role": "consult", "to_queue": "billing" }))
        .await;
    let inv = bo.signal("invitation").await;
    assert_eq!(inv["role"], "consult");
    let gone = bo.signal("invitation_ended").await;
    assert_eq!(gone["outcome"], "expired");
    let ended = al.event(&conv, "invite_ended").await;
    assert_eq!(ended["event"]["outcome"], "expired");
    bo.err(
        json!({ "type": "invite_accept", "conversation": conv }),
        "expired",
    )
    .await;
    // Exactly once: no second end.
    al.barrier().await;
    let ends = al.buffered(|f| is_event(f, &conv) && f["event"]["kind"] == "invite_ended");
    assert!(ends.is_empty(), "a second invite_ended: {ends:?}");

    // Nobody available in the queue: a clear error, nothing logged.
    bo.ok(json!({ "type": "status", "presence": "away" })).await;
    al.err(
        json!({ "type": "invite", "conversation": conv, "role": "consult", "to_queue": "billing" }),
        "unavailable",
    )
    .await;
}

#[actix_web::test]
async fn when_the_owner_leaves_ownership_passes_to_the_longest_joined_conference_participant() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let mut bo = helper(&app, "bo").await;
    let mut cy = helper(&app, "cy").await;
    invite(&mut al, &conv, "bo", "conference").await;
    join(&mut bo, &conv, "conference").await;
    invite(&mut al, &conv, "cy", "conference").await;
    join(&mut cy, &conv, "conference").await;

    al.ok(json!({ "type": "leave", "conversation": conv })).await;
    for c in [&mut bo, &mut cy, &mut customer] {
        let changed = c.event(&conv, "ownership_changed").await;
        assert_eq!(changed["event"]["from"], "al");
        assert_eq!(changed["event"]["to"], "bo");
        assert_eq!(changed["event"]["name"], "Agent bo");
    }
    al.wait_for("left", |f| f["signal"] == "left" && f["conversation"] == conv)
        .await;
    al.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "a9", "text": "still here?" }),
        "forbidden",
    )
    .await;

    // Bo owns the chat now: only the owner invites and transfers; cy does not.
    cy.err(
        json!({ "type": "invite", "conversation": conv, "role": "consult", "to_agent": "al" }),
        "forbidden",
    )
    .await;
    let status: Value = app
        .http(
            "GET",
            &format!("/v1/conversations/{conv}"),
            Some(&app.admin_token("t1")),
            None,
        )
        .await
        .1;
    assert_eq!(status["owner"], "bo", "{status}");

    // With only cy left beside him, bo leaves too, and cy owns it; then cy leaves and the
    // org's rule (default: end) ends the chat.
    bo.ok(json!({ "type": "leave", "conversation": conv })).await;
    let changed = cy.event(&conv, "ownership_changed").await;
    assert_eq!(changed["event"]["to"], "cy");
    cy.ok(json!({ "type": "leave", "conversation": conv })).await;
    let end = customer.event(&conv, "ended").await;
    assert_eq!(end["event"]["reason"], "agent");
}

#[actix_web::test]
async fn a_removed_participant_can_no_longer_read_or_write() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let mut bo = helper(&app, "bo").await;
    invite(&mut al, &conv, "bo", "conference").await;
    join(&mut bo, &conv, "conference").await;
    say(&mut bo, &conv, "b1", "hello").await;

    al.ok(json!({ "type": "remove", "conversation": conv, "agent": "bo" }))
        .await;
    let left = customer.event(&conv, "participant_left").await;
    assert_eq!(left["event"]["participant"], "bo");
    bo.wait_for("left", |f| f["signal"] == "left" && f["conversation"] == conv)
        .await;
    bo.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "b2", "text": "again" }),
        "not_found",
    )
    .await;
    bo.err(
        json!({ "type": "internal", "conversation": conv, "client_msg_id": "b3", "text": "psst" }),
        "not_found",
    )
    .await;
    bo.err(
        json!({ "type": "resume", "conversation": conv, "last_seq": 0 }),
        "not_found",
    )
    .await;
    // Nothing more reaches bo's session.
    say(&mut al, &conv, "a1", "after bo left").await;
    bo.barrier().await;
    assert!(bo
        .buffered(|f| is_event(f, &conv) && f["event"]["client_msg_id"] == "a1")
        .is_empty());
    // Only the owner removes.
    al.err(
        json!({ "type": "remove", "conversation": conv, "agent": "bo" }),
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn a_consultation_is_hidden_from_the_customer_live_and_on_resume() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let mut bo = helper(&app, "bo").await;
    invite(&mut al, &conv, "bo", "consult").await;
    join(&mut bo, &conv, "consult").await;

    // The consultant sees the live transcript, and talks to the owner only.
    let seq = say(&mut customer, &conv, "c1", "My boots are 40 days old.").await;
    let got = bo
        .wait_for("the customer's message", |f| {
            is_event(f, &conv) && f["seq"] == seq
        })
        .await;
    assert_eq!(got["event"]["text"], "My boots are 40 days old.");
    let q = internal(&mut bo, &conv, "b1", "Past 30 days: offer store credit.").await;
    let got = al
        .wait_for("bo's advice", |f| is_event(f, &conv) && f["seq"] == q)
        .await;
    assert_eq!(got["event"]["kind"], "internal");
    internal(&mut al, &conv, "a1", "Thanks!").await;
    bo.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "b2", "text": "hi customer" }),
        "forbidden",
    )
    .await;
    // A retried internal message is stored once.
    let again = bo
        .ok(json!({ "type": "internal", "conversation": conv, "client_msg_id": "b1", "text": "Past 30 days: offer store credit." }))
        .await;
    assert_eq!(again["seq"].as_u64(), Some(q));
    assert_eq!(again["duplicate"], true);
    // The consultant leaves: the consultation ends, the chat goes on.
    bo.ok(json!({ "type": "leave", "conversation": conv })).await;
    let left = al.event(&conv, "participant_left").await;
    assert_eq!(left["event"]["role"], "consult");
    say(&mut al, &conv, "a2", "We can offer store credit.").await;

    // Live: nothing agents-only reached the customer.
    customer.barrier().await;
    let live = customer.buffered(|_| true);
    assert_eq!(agents_only(&live), Vec::<&Value>::new());
    assert!(live.iter().any(|f| f["event"]["client_msg_id"] == "a2"));

    // On resume from the start: the same.
    customer
        .ok(json!({ "type": "resume", "conversation": conv, "last_seq": 0 }))
        .await;
    customer.barrier().await;
    let replay = customer.buffered(|f| is_event(f, &conv));
    assert!(
        replay.iter().any(|f| f["event"]["kind"] == "created"),
        "the replay starts at seq 1"
    );
    assert_eq!(agents_only(&replay), Vec::<&Value>::new());
    assert!(!replay.iter().any(|f| f["event"]["kind"] == "internal"
        || f["event"]["role"] == "consult"));
}

#[actix_web::test]
async fn a_consultation_becomes_a_transfer_or_a_conference_without_a_second_offer() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let mut bo = helper(&app, "bo").await;
    let mut cy = helper(&app, "cy").await;

    // Consultation → conference: a public join.
    invite(&mut al, &conv, "cy", "consult").await;
    join(&mut cy, &conv, "consult").await;
    al.ok(json!({ "type": "consult_convert", "conversation": conv, "agent": "cy", "to": "conference" }))
        .await;
    let changed = customer.event(&conv, "role_changed").await;
    assert_eq!(changed["event"]["participant"], "cy");
    assert_eq!(changed["event"]["to"], "conference");
    say(&mut cy, &conv, "c1", "Cy here too.").await;

    // Consultation → transfer: bo owns it, al is out, cy stays in the conference.
    invite(&mut al, &conv, "bo", "consult").await;
    join(&mut bo, &conv, "consult").await;
    al.err(
        json!({ "type": "consult_convert", "conversation": conv, "agent": "cy", "to": "transfer" }),
        "not_found",
    )
    .await;
    al.ok(json!({ "type": "consult_convert", "conversation": conv, "agent": "bo", "to": "transfer" }))
        .await;
    let changed = customer.event(&conv, "ownership_changed").await;
    assert_eq!(changed["event"]["to"], "bo");
    al.wait_for("left", |f| f["signal"] == "left" && f["conversation"] == conv)
        .await;
    let presence = al
        .wait_for("al's load", |f| {
            f["signal"] == "presence" && f["assigned"] == 0
        })
        .await;
    assert_eq!(presence["assigned"], 0);
    bo.wait_for("bo owns a chat", |f| {
        f["signal"] == "presence" && f["assigned"] == 1
    })
    .await;
    let seq = say(&mut bo, &conv, "b1", "Bo takes it from here.").await;
    customer
        .wait_for("bo's message", |f| is_event(f, &conv) && f["seq"] == seq)
        .await;
    al.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "a9", "text": "x" }),
        "forbidden",
    )
    .await;
    bo.ok(json!({ "type": "end", "conversation": conv })).await;
}

#[actix_web::test]
async fn the_internal_discussion_is_view_only_after_the_end() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let mut bo = helper(&app, "bo").await;
    invite(&mut al, &conv, "bo", "consult").await;
    join(&mut bo, &conv, "consult").await;
    let seq = internal(&mut al, &conv, "a1", "Can you check order 42?").await;

    customer
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;
    bo.event(&conv, "ended").await;
    for (who, id) in [(&mut al, "a2"), (&mut bo, "b1")] {
        who.err(
            json!({ "type": "internal", "conversation": conv, "client_msg_id": id, "text": "late" }),
            "ended",
        )
        .await;
    }
    // Still readable: the consultant replays the thread.
    bo.ok(json!({ "type": "resume", "conversation": conv, "last_seq": 0 }))
        .await;
    let got = bo
        .wait_for("the internal message on replay", |f| {
            is_event(f, &conv) && f["seq"] == seq
        })
        .await;
    assert_eq!(got["event"]["text"], "Can you check order 42?");
    // The consultant's seat went with the chat.
    bo.wait_for("bo's load back to 0", |f| {
        f["signal"] == "presence" && f["assigned"] == 0
    })
    .await;
}

#[actix_web::test]
async fn a_supervisor_observes_silently_coaches_the_agents_and_barges_in_publicly() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let token = app.staff_token("t1", "sue", &[Role::Agent, Role::Supervisor], &[]);
    let mut sue = app.connect(&token).await;
    // Agents cannot monitor.
    let mut bo = helper(&app, "bo").await;
    bo.err(
        json!({ "type": "monitor", "conversation": conv, "mode": "observe" }),
        "forbidden",
    )
    .await;

    sue.ok(json!({ "type": "monitor", "conversation": conv, "mode": "observe" }))
        .await;
    let observing = al
        .wait_for("sue's join", |f| {
            is_event(f, &conv) && f["event"]["participant"] == "sue"
        })
        .await;
    assert_eq!(observing["event"]["kind"], "participant_joined");
    assert_eq!(observing["event"]["role"], "observer");
    sue.wait_for("joined", |f| f["signal"] == "joined" && f["conversation"] == conv)
        .await;
    let seq = say(&mut customer, &conv, "c1", "Hello?").await;
    sue.wait_for("the live transcript", |f| {
        is_event(f, &conv) && f["seq"] == seq
    })
    .await;
    // An observer reads without a receipt and cannot write.
    sue.ok(json!({ "type": "read", "conversation": conv, "seq": seq }))
        .await;
    sue.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "s1", "text": "hi" }),
        "forbidden",
    )
    .await;
    sue.err(
        json!({ "type": "internal", "conversation": conv, "client_msg_id": "s1", "text": "hi" }),
        "forbidden",
    )
    .await;

    // Coach: messages reach the agents only.
    sue.ok(json!({ "type": "monitor", "conversation": conv, "mode": "coach" }))
        .await;
    let tip = internal(&mut sue, &conv, "s2", "Offer the express shipping.").await;
    al.wait_for("the coach's tip", |f| is_event(f, &conv) && f["seq"] == tip)
        .await;
    customer.barrier().await;
    assert_eq!(agents_only(&customer.buffered(|_| true)), Vec::<&Value>::new());
    assert!(customer
        .buffered(|f| is_event(f, &conv) && f["event"]["kind"] == "read")
        .is_empty());

    // Barge: a public join, and the supervisor writes to the customer.
    sue.ok(json!({ "type": "monitor", "conversation": conv, "mode": "barge" }))
        .await;
    let barged = customer.event(&conv, "role_changed").await;
    assert_eq!(barged["event"]["participant"], "sue");
    assert_eq!(barged["event"]["to"], "conference");
    let seq = say(&mut sue, &conv, "s3", "Hi, I'm the supervisor.").await;
    customer
        .wait_for("the supervisor's message", |f| {
            is_event(f, &conv) && f["seq"] == seq
        })
        .await;
    // Back to observing: the customer sees the supervisor step out.
    sue.ok(json!({ "type": "monitor", "conversation": conv, "mode": "observe" }))
        .await;
    let back = customer.event(&conv, "role_changed").await;
    assert_eq!(back["event"]["to"], "observer");
    sue.ok(json!({ "type": "leave", "conversation": conv })).await;
    al.event(&conv, "participant_left").await;
}

#[actix_web::test]
async fn concurrent_invitations_never_push_an_agent_past_max_chats() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "max_chats", json!(1))).await;
    let mut al = app.agent("al", &["general"]).await;
    let mut am = app.agent("am", &["general"]).await;
    let (_c1, conv1) = app.customer_chat("ada").await;
    let (_c2, conv2) = app.customer_chat("bea").await;
    let mut chats = Vec::new();
    for agent in [&mut al, &mut am] {
        chats.push(accept_next(agent).await);
    }
    chats.sort();
    let mut expected = vec![conv1, conv2];
    expected.sort();
    assert_eq!(chats, expected);
    let mut bo = helper(&app, "bo").await;

    // Both owners invite bo (max_chats 1) at once: exactly one invitation gets his seat.
    let (a, b) = {
        let (conv_al, conv_am) = (chats_of(&mut al).await, chats_of(&mut am).await);
        tokio::join!(
            al.request(json!({ "type": "invite", "conversation": conv_al, "role": "conference", "to_agent": "bo" })),
            am.request(json!({ "type": "invite", "conversation": conv_am, "role": "consult", "to_agent": "bo" })),
        )
    };
    let outcomes = [a["type"].clone(), b["type"].clone()];
    assert_eq!(
        outcomes.iter().filter(|t| *t == "ack").count(),
        1,
        "{a} {b}"
    );
    let refused = if a["type"] == "error" { &a } else { &b };
    assert_eq!(refused["code"], "capacity", "{refused}");
    bo.signal("invitation").await;
    bo.barrier().await;
    assert!(bo.buffered(|f| f["signal"] == "invitation").is_empty());
}

/// The conversation the agent accepted (from its `assigned` event).
async fn chats_of(agent: &mut Client) -> String {
    let assigned = agent
        .wait_for("assigned", |f| {
            f["type"] == "event" && f["event"]["kind"] == "assigned"
        })
        .await;
    assigned["conversation"].as_str().expect("id").to_string()
}

/// Waits (bounded) until the queue's own view counts an available agent: an agent's status is
/// acknowledged before the queue, a separate actor, has heard of it.
async fn queue_has_available_agent(app: &TestApp, queue: &str) {
    let token = app.admin_token("t1");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, body) = app
            .http("GET", &format!("/v1/queues/{queue}"), Some(&token), None)
            .await;
        if body["stats"]["agents_available"].as_u64() >= Some(1) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue {queue} never saw an available agent: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Seed 004: an agent profile's nickname is the name customers (and the transcript) see.
#[actix_web::test]
async fn an_agents_nickname_is_the_name_the_customer_sees() {
    let app = spawn_app_with(|orgs| {
        orgs[0]["agents"] = json!([{ "id": "al", "name": "Alan Realname", "nickname": "Sam" }]);
    })
    .await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let assigned = customer.event(&conv, "assigned").await;
    assert_eq!(assigned["event"]["agent_name"], "Sam");
    let seq = say(&mut al, &conv, "a1", "Hello!").await;
    let got = customer
        .wait_for("al's message", |f| is_event(f, &conv) && f["seq"] == seq)
        .await;
    assert_eq!(got["event"]["author"]["name"], "Sam");
    assert!(!got.to_string().contains("Realname"), "{got}");

    // A blank nickname is refused with a clear error; the profile is unchanged.
    let admin = app.admin_token("t1");
    let (status, body) = app
        .http(
            "PUT",
            "/v1/agents/al",
            Some(&admin),
            Some(json!({ "name": "Alan Realname", "nickname": " " })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request");
    let (_, listed) = app.http("GET", "/v1/agents", Some(&admin), None).await;
    assert_eq!(listed["profiles"][0]["nickname"], "Sam", "{listed}");
}

/// With the org's `announce_observers` off, a supervisor observes without anything logged: the
/// agents see nothing; barging in is still a public join, and stepping back a public leave.
#[actix_web::test]
async fn with_observers_unannounced_a_supervisor_observes_without_a_trace() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "announce_observers", json!(false))).await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let token = app.staff_token("t1", "sue", &[Role::Agent, Role::Supervisor], &[]);
    let mut sue = app.connect(&token).await;
    sue.ok(json!({ "type": "monitor", "conversation": conv, "mode": "observe" }))
        .await;
    sue.wait_for("joined", |f| f["signal"] == "joined" && f["conversation"] == conv)
        .await;
    let seq = say(&mut customer, &conv, "c1", "Hello?").await;
    sue.wait_for("the live transcript", |f| {
        is_event(f, &conv) && f["seq"] == seq
    })
    .await;
    al.barrier().await;
    let traces = al.buffered(|f| is_event(f, &conv) && f["event"]["author"]["id"] == "sue");
    assert!(traces.is_empty(), "the agent saw the observer: {traces:?}");

    sue.ok(json!({ "type": "monitor", "conversation": conv, "mode": "barge" }))
        .await;
    let joined = customer
        .wait_for("sue's join", |f| {
            is_event(f, &conv) && f["event"]["participant"] == "sue"
        })
        .await;
    assert_eq!(joined["event"]["kind"], "participant_joined");
    assert_eq!(joined["event"]["role"], "conference");
    sue.ok(json!({ "type": "monitor", "conversation": conv, "mode": "observe" }))
        .await;
    let left = customer.event(&conv, "participant_left").await;
    assert_eq!(left["event"]["participant"], "sue");
    sue.ok(json!({ "type": "leave", "conversation": conv })).await;
    sue.wait_for("left", |f| f["signal"] == "left" && f["conversation"] == conv)
        .await;
}

/// Seed 001's inbox: an agent of the conversation's queue who is not in the chat reads it live
/// and on replay, and writes in its internal discussion (view-only after the end); it never
/// writes to the customer and logs no read receipt. Agents of other queues get nothing.
#[actix_web::test]
async fn an_agent_of_the_queue_reads_the_chat_and_writes_in_its_internal_discussion() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let mut cy = app.agent("cy", &["general"]).await;
    let mut dee = helper(&app, "dee").await;
    let first = say(&mut al, &conv, "a1", "Hello Ada").await;

    // Another queue's agent: nothing to read or write.
    dee.err(
        json!({ "type": "resume", "conversation": conv, "last_seq": 0 }),
        "not_found",
    )
    .await;
    dee.err(
        json!({ "type": "internal", "conversation": conv, "client_msg_id": "d1", "text": "hi" }),
        "not_found",
    )
    .await;

    // An agent of the queue follows it: the replay, then live events.
    cy.ok(json!({ "type": "resume", "conversation": conv, "last_seq": 0 }))
        .await;
    cy.wait_for("the replayed message", |f| {
        is_event(f, &conv) && f["seq"] == first
    })
    .await;
    let seq = internal(&mut cy, &conv, "c1", "I had this customer yesterday").await;
    let got = al
        .wait_for("cy's internal message", |f| {
            is_event(f, &conv) && f["seq"] == seq
        })
        .await;
    assert_eq!(got["event"]["kind"], "internal");
    assert_eq!(got["event"]["author"]["id"], "cy");
    // A retry is the same message.
    assert_eq!(
        internal(&mut cy, &conv, "c1", "I had this customer yesterday").await,
        seq
    );
    let later = say(&mut al, &conv, "a2", "Let me look").await;
    cy.wait_for("al's live message", |f| is_event(f, &conv) && f["seq"] == later)
        .await;

    // Never to the customer, and no read receipt: the customer sees none of cy.
    for cmd in [
        json!({ "type": "send", "conversation": conv, "client_msg_id": "c2", "text": "hi" }),
        json!({ "type": "typing", "conversation": conv, "on": true }),
        json!({ "type": "note", "conversation": conv, "text": "a note" }),
    ] {
        cy.err(cmd, "forbidden").await;
    }
    cy.ok(json!({ "type": "read", "conversation": conv, "seq": later }))
        .await;
    let last = say(&mut al, &conv, "a3", "Found it").await;
    customer
        .wait_for("al's last message", |f| is_event(f, &conv) && f["seq"] == last)
        .await;
    let seen = customer.buffered(|f| is_event(f, &conv));
    assert!(agents_only(&seen).is_empty(), "{seen:?}");
    assert!(
        seen.iter().all(|f| f["event"]["author"]["id"] != "cy"),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|f| f["event"]["kind"] != "read" || f["event"]["author"]["role"] != "agent"),
        "{seen:?}"
    );

    // The REST transcript an agent of the queue reads has the internal message; dee's has nothing.
    let token = app.staff_token("t1", "cy", &[Role::Agent], &["general"]);
    let (status, body) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["seq"] == seq && e["kind"] == "internal"));
    let token = app.staff_token("t1", "dee", &[Role::Agent], &["billing"]);
    let (status, _) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&token), None)
        .await;
    assert_eq!(status, 404);

    // After the end: view-only.
    customer
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;
    cy.event(&conv, "ended").await;
    cy.err(
        json!({ "type": "internal", "conversation": conv, "client_msg_id": "c3", "text": "late" }),
        "ended",
    )
    .await;
}

/// `unfollow` ends what `resume` started, on that socket only: an inbox agent who stops viewing a
/// chat gets none of its later events; the chat and everyone else's view go on.
#[actix_web::test]
async fn unfollow_stops_a_sockets_events_and_nothing_else() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let mut cy = app.agent("cy", &["general"]).await;
    cy.ok(json!({ "type": "resume", "conversation": conv, "last_seq": 0 }))
        .await;
    let seen = say(&mut al, &conv, "a1", "before").await;
    cy.wait_for("the live message", |f| is_event(f, &conv) && f["seq"] == seen)
        .await;

    cy.ok(json!({ "type": "unfollow", "conversation": conv }))
        .await;
    // Again, or for a chat it never followed: nothing to do, still an ack.
    cy.ok(json!({ "type": "unfollow", "conversation": conv }))
        .await;
    let after = say(&mut al, &conv, "a2", "after").await;
    customer
        .wait_for("the customer still gets it", |f| {
            is_event(f, &conv) && f["seq"] == after
        })
        .await;
    let note = al
        .ok(json!({ "type": "note", "conversation": conv, "text": "agents see this" }))
        .await["seq"]
        .as_u64()
        .expect("seq");
    al.wait_for("the owner still gets its note", |f| {
        is_event(f, &conv) && f["seq"] == note
    })
    .await;
    cy.barrier().await;
    assert!(
        cy.buffered(|f| is_event(f, &conv) && f["seq"].as_u64() > Some(seen))
            .is_empty(),
        "events reached a socket that unfollowed"
    );
    // It can still write in the internal discussion and follow again from where it stopped.
    cy.ok(json!({ "type": "resume", "conversation": conv, "last_seq": seen }))
        .await;
    cy.wait_for("the missed note on replay", |f| {
        is_event(f, &conv) && f["seq"] == note
    })
    .await;
}
