//! Chats between agents (seed 002, "agent to agent"): no customer; the other agent is invited
//! (accept, reject, expire); neither seat counts against max_chats; a chat nobody joined ends.

use serde_json::{json, Value};

use crate::helpers::*;

fn agent_chat(to: &str, text: &str) -> Value {
    json!({ "type": "agent_chat", "to_agent": to, "client_msg_id": "i-1", "text": text })
}

#[actix_web::test]
async fn two_agents_chat_without_taking_a_customer_seat() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "max_chats", json!(1))).await;
    let mut al = app.agent("al", &["general"]).await;
    // Al is full with a customer chat; a chat with a colleague still fits.
    let (_customer, _) = app.customer_chat("ada").await;
    accept_next(&mut al).await;
    let mut bo = app.agent("bo", &["billing"]).await;

    let conv = al
        .ok(agent_chat("bo", "Got a minute about order 42?"))
        .await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    al.wait_for("joined", |f| f["signal"] == "joined" && f["conversation"] == conv)
        .await;
    let created = al.event(&conv, "created").await;
    assert_eq!(created["event"]["channel"], "internal");
    assert!(created["event"].get("customer").is_none(), "{created}");

    let inv = bo.signal("invitation").await;
    assert_eq!(inv["conversation"], conv.as_str());
    assert_eq!(inv["internal"], true);
    assert_eq!(inv["from"], "al");
    bo.ok(json!({ "type": "invite_accept", "conversation": conv }))
        .await;
    let first = bo
        .wait_for("al's first message", |f| {
            is_event(f, &conv) && f["event"]["kind"] == "message"
        })
        .await;
    assert_eq!(first["event"]["text"], "Got a minute about order 42?");
    let seq = bo
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "b1", "text": "Sure" }))
        .await["seq"]
        .clone();
    al.wait_for("bo's answer", |f| is_event(f, &conv) && f["seq"] == seq)
        .await;
    let seq = al
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a2", "text": "Thanks" }))
        .await["seq"]
        .clone();
    bo.wait_for("al's answer", |f| is_event(f, &conv) && f["seq"] == seq)
        .await;

    // Either ends it; it needs no wrap-up (done at once).
    bo.ok(json!({ "type": "end", "conversation": conv }))
        .await
        .get("seq")
        .expect("seq");
    al.event(&conv, "ended").await;
    al.event(&conv, "wrap_up").await;
    al.err(
        json!({ "type": "agent_chat", "to_agent": "al", "client_msg_id": "x", "text": "me?" }),
        "bad_request",
    )
    .await;
}

#[actix_web::test]
async fn a_chat_nobody_joins_ends_when_its_invitation_is_rejected_or_expires() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "invite_expiry_ms", json!(400))).await;
    let mut al = app.agent("al", &["general"]).await;
    let mut bo = app.agent("bo", &["billing"]).await;

    let conv = al.ok(agent_chat("bo", "Lunch?")).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    bo.signal("invitation").await;
    bo.ok(json!({ "type": "invite_reject", "conversation": conv }))
        .await;
    let ended = al.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "agent");
    let rejected = al
        .buffered(|f| is_event(f, &conv) && f["event"]["kind"] == "invite_ended");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["event"]["outcome"], "rejected");

    let conv = al.ok(agent_chat("bo", "Lunch tomorrow?")).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    bo.signal("invitation").await;
    let gone = bo.signal("invitation_ended").await;
    assert_eq!(gone["outcome"], "expired");
    let ended = al.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "auto_complete");
    // An offline agent cannot be asked.
    bo.close().await;
    al.err(agent_chat("bo", "Still there?"), "unavailable").await;
}
