//! The request list (seed 002): agents see the waiting chats of their queues and pick one,
//! under capacity; of two agents picking the same chat, exactly one gets it.

use serde_json::{json, Value};

use switchboard::auth::Role;

use crate::helpers::*;

/// A signed-in agent of `general` who stays `away` (the state after `hello`): it gets no offers,
/// so waiting chats stay on the request list.
async fn away_agent(app: &TestApp, id: &str) -> Client {
    let token = app.staff_token("t1", id, &[Role::Agent], &["general"]);
    app.connect(&token).await
}

async fn waiting(app: &TestApp, token: &str, queue: &str) -> (u16, Value) {
    app.http("GET", &format!("/v1/queues/{queue}/waiting"), Some(token), None)
        .await
}

#[actix_web::test]
async fn two_agents_picking_the_same_waiting_chat_have_one_winner() {
    let app = spawn_app().await;
    let mut al = away_agent(&app, "al").await;
    let mut bo = away_agent(&app, "bo").await;
    let (mut customer, conv) = app.customer_chat("ada").await;
    let (_other, second) = app.customer_chat("bea").await;

    // The request list: both chats, in line order, nobody offered yet.
    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let list = eventually_listed(&app, &token, 2).await;
    assert_eq!(list[0]["conversation"], conv.as_str(), "{list:?}");
    assert_eq!(list[0]["position"], 1);
    assert_eq!(list[0]["customer_name"], "ada Tester");
    assert_eq!(list[1]["conversation"], second.as_str());
    // Agents of other queues do not see it.
    let stranger = app.staff_token("t1", "cy", &[Role::Agent], &["billing"]);
    assert_eq!(waiting(&app, &stranger, "general").await.0, 404);

    let pick = json!({ "type": "pick", "conversation": conv });
    let (a, b) = tokio::join!(al.request(pick.clone()), bo.request(pick.clone()));
    let winners: Vec<&Value> = [&a, &b].into_iter().filter(|r| r["type"] == "ack").collect();
    assert_eq!(winners.len(), 1, "{a} {b}");
    let loser = if a["type"] == "ack" { &b } else { &a };
    assert_eq!(loser["code"], "conflict", "{loser}");
    let (winner, winner_id) = if a["type"] == "ack" {
        (&mut al, "al")
    } else {
        (&mut bo, "bo")
    };
    let assigned = customer.event(&conv, "assigned").await;
    assert_eq!(assigned["event"]["agent"], winner_id);
    winner
        .wait_for("joined", |f| f["signal"] == "joined" && f["conversation"] == conv)
        .await;
    // Picked chats leave the list; the other one is still there.
    let list = eventually_listed(&app, &token, 1).await;
    assert_eq!(list[0]["conversation"], second.as_str());
    // Picking a chat that is no longer waiting is a conflict.
    winner.err(pick, "conflict").await;
}

#[actix_web::test]
async fn a_pick_respects_capacity() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "max_chats", json!(1))).await;
    let mut al = away_agent(&app, "al").await;
    let (_c1, first) = app.customer_chat("ada").await;
    let (_c2, second) = app.customer_chat("bea").await;
    al.ok(json!({ "type": "pick", "conversation": first })).await;
    al.err(json!({ "type": "pick", "conversation": second }), "capacity")
        .await;
    // The refused chat is still waiting, for someone else.
    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let list = eventually_listed(&app, &token, 1).await;
    assert_eq!(list[0]["conversation"], second.as_str());
    assert_eq!(list[0]["offered"], false);
}

/// The request list once it holds `n` chats (a start is acknowledged before its queue, another
/// actor, has the chat in line).
async fn eventually_listed(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (status, body) = waiting(app, token, "general").await;
        assert_eq!(status, 200, "{body}");
        let list = body["waiting"].as_array().cloned().unwrap_or_default();
        if list.len() == n {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request list never held {n} chats: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The request list is pushed, not polled: an agent who could pick is told when a queue's
/// waiting chats change (one `waiting` signal per burst), then reads the list.
#[actix_web::test]
async fn agents_who_could_pick_are_told_when_the_waiting_chats_change() {
    let app = spawn_app().await;
    let mut al = away_agent(&app, "al").await;
    let billing = app.staff_token("t1", "cy", &[Role::Agent], &["billing"]);
    let mut stranger = app.connect(&billing).await;
    let (_ada, conv) = app.customer_chat("ada").await;
    let got = al
        .wait_for("a waiting signal with ada's chat", |f| {
            f["signal"] == "waiting" && f["waiting"] == 1
        })
        .await;
    assert_eq!(got["queue"], "general");
    let (_bea, _second) = app.customer_chat("bea").await;
    al.wait_for("two waiting", |f| f["signal"] == "waiting" && f["waiting"] == 2)
        .await;

    // al picks one: the list changes again.
    al.ok(json!({ "type": "pick", "conversation": conv })).await;
    al.wait_for("one waiting after the pick", |f| {
        f["signal"] == "waiting" && f["waiting"] == 1
    })
    .await;
    // An agent of another queue is told nothing about general.
    stranger.barrier().await;
    assert!(stranger
        .buffered(|f| f["signal"] == "waiting" && f["queue"] == "general")
        .is_empty());
}
