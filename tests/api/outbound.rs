//! Agent-initiated chats (seed 002, "agent to customer"): an agent starts a chat with a known
//! customer; the customer on the site sees it at once, one who comes later finds it open.

use serde_json::{json, Value};

use crate::helpers::*;

fn verified(id: &str, name: &str) -> String {
    switchboard::auth::Authenticator::mint_customer_with(
        "cust-secret",
        switchboard::ids::OrgId::parse("t1").expect("org"),
        switchboard::ids::CustomerId::parse(id).expect("id"),
        name.into(),
        None,
        600,
    )
    .expect("mint")
}

fn start_chat(customer: &str, text: &str) -> Value {
    json!({ "type": "start_chat", "customer": customer, "customer_name": "Vera V",
            "client_msg_id": "o-1", "text": text })
}

#[actix_web::test]
async fn a_customer_on_the_site_sees_the_chat_an_agent_starts_and_answers_it() {
    let app = spawn_app().await;
    let token = verified("cust-42", "Vera V");
    let mut vera = app.connect(&token).await;
    let mut al = app.agent("al", &["general"]).await;

    let data = al
        .ok(start_chat("cust-42", "Hello Vera, your order is ready for pick-up."))
        .await;
    let conv = data["conversation"].as_str().expect("id").to_string();
    al.wait_for("joined", |f| f["signal"] == "joined" && f["conversation"] == conv)
        .await;
    al.wait_for("al owns one chat", |f| {
        f["signal"] == "presence" && f["assigned"] == 1
    })
    .await;

    // The customer's open widget follows it at once: the request and the first message.
    vera.wait_for("joined", |f| f["signal"] == "joined" && f["conversation"] == conv)
        .await;
    let created = vera.event(&conv, "created").await;
    assert_eq!(created["event"]["channel"], "outbound");
    assert_eq!(created["event"]["context"]["initiated_by"], "al");
    let first = vera.event(&conv, "message").await;
    assert_eq!(first["event"]["author"]["id"], "al");
    assert_eq!(first["event"]["text"], "Hello Vera, your order is ready for pick-up.");

    // The customer answers; the agent gets it.
    let seq = vera
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "v1", "text": "Great, thanks!" }))
        .await["seq"]
        .clone();
    al.wait_for("vera's answer", |f| is_event(f, &conv) && f["seq"] == seq)
        .await;

    // One open chat per customer: a second request is refused while this one is open.
    let mut bo = app.agent("bo", &["general"]).await;
    bo.err(start_chat("cust-42", "Hi again"), "conflict").await;
}

#[actix_web::test]
async fn a_customer_who_comes_later_finds_the_request_and_capacity_holds() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "max_chats", json!(1))).await;
    let mut al = app.agent("al", &["general"]).await;
    let conv = al
        .ok(start_chat("cust-7", "We have news about your claim."))
        .await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    // The agent is full now: a second outbound chat is refused, and nothing is created.
    al.err(start_chat("cust-8", "Hello"), "capacity").await;
    let admin = app.admin_token("t1");
    let (_, listed) = app
        .http("GET", "/v1/conversations?customer=cust-8", Some(&admin), None)
        .await;
    assert_eq!(listed["conversations"], json!([]), "{listed}");

    // The customer arrives later: the open chat is in the hello ack and resumes from the start.
    let mut vera = app.connect(&verified("cust-7", "Vera V")).await;
    assert_eq!(vera.hello["conversations"], json!([conv]));
    let first = vera.event(&conv, "message").await;
    assert_eq!(first["event"]["text"], "We have news about your claim.");
    // Declining is ending it.
    vera.ok(json!({ "type": "end", "conversation": conv })).await;
    al.wait_for("al's seat back", |f| {
        f["signal"] == "presence" && f["assigned"] == 0
    })
    .await;
    // Customers cannot start chats this way.
    vera.err(start_chat("cust-9", "hi"), "forbidden").await;
}
