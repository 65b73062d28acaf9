//! Several agents in one chat across nodes (DESIGN §10): a conference survives the death of the
//! node that holds the conversation, every participant keeps its role and recovers gap-free,
//! and participant seats hold capacity cluster-wide under concurrent invitations.

use serde_json::json;
use tokio::time::Instant;

use crate::clients::Peer;
use crate::failover::everyone_has_everything;
use crate::harness::*;
use crate::helpers::WAIT;
use crate::routing::accept;
use switchboard::auth::Role;

/// An available agent of queue billing (no chat waits there: it gets invitations, not offers).
async fn helper(cluster: &Cluster, node: usize, id: &str) -> Peer {
    let token = cluster.staff_token(id, &[Role::Agent], &["billing"]);
    let mut p = Peer::connect(id, &token, cluster.ports(), node).await;
    p.ok(
        json!({ "type": "status", "presence": "available" }),
        Instant::now() + WAIT,
    )
    .await;
    p
}

/// `owner` invites `agent` as `role`; the agent accepts and follows the conversation.
async fn join(owner: &mut Peer, agent: &mut Peer, conv: &str, role: &str) {
    owner
        .ok(
            json!({ "type": "invite", "conversation": conv, "role": role, "to_agent": agent.label }),
            Instant::now() + WAIT,
        )
        .await;
    let inv = agent.signal("invitation", WAIT).await;
    assert_eq!(inv["conversation"], conv);
    agent
        .ok(
            json!({ "type": "invite_accept", "conversation": conv }),
            Instant::now() + WAIT,
        )
        .await;
    agent.follow(conv);
}

/// The node that holds a conference (owner al, conference bo, consultant cy) is SIGKILLed.
/// Everyone is served again by another node, with the role they had: bo still writes to the
/// customer, cy still only to the internal discussion; every acknowledged message is in every
/// participant's transcript once, in order; the customer saw nothing agents-only.
#[actix_web::test]
async fn killing_the_node_that_holds_a_conference_loses_nothing_and_keeps_every_role() {
    let mut cluster = Cluster::start(3, |_| {}).await;
    let mut al = cluster.agent(1, "al").await;
    let (mut ada, conv) = cluster.customer(0, "ada").await;
    accept(&mut al, &conv).await;
    let mut bo = helper(&cluster, 2, "bo").await;
    let mut cy = helper(&cluster, 1, "cy").await;
    join(&mut al, &mut bo, &conv, "conference").await;
    join(&mut al, &mut cy, &conv, "consult").await;
    let deadline = || Instant::now() + LONG;
    ada.send(&conv, "hello all", deadline()).await;
    bo.send(&conv, "bo here", deadline()).await;
    cy.ok(
        json!({ "type": "internal", "conversation": conv, "client_msg_id": "cy-1", "text": "check the order" }),
        deadline(),
    )
    .await;

    cluster.node(0).kill();

    ada.send(&conv, "still there?", deadline()).await;
    al.send(&conv, "yes", deadline()).await;
    bo.send(&conv, "me too", deadline()).await;
    let tip = cy
        .ok(
            json!({ "type": "internal", "conversation": conv, "client_msg_id": "cy-2", "text": "after the failover" }),
            deadline(),
        )
        .await;
    let refused = cy
        .request(
            json!({ "type": "send", "conversation": conv, "client_msg_id": "cy-3", "text": "to the customer" }),
            deadline(),
        )
        .await;
    assert_eq!(
        refused["code"], "forbidden",
        "the consultant's role survived: {refused}"
    );
    let events =
        everyone_has_everything(&cluster, &conv, &mut [&mut ada, &mut al, &mut bo, &mut cy]).await;
    // Agents see the internal discussion; the customer never does.
    let tip_seq = tip["seq"].as_u64().expect("seq");
    al.wait_seq(&conv, tip_seq, LONG).await;
    assert!(events.iter().any(|e| e["kind"] == "internal"));
    let leaked: Vec<_> = ada
        .log(&conv)
        .events
        .iter()
        .filter(|f| f["event"]["visibility"] != "public")
        .collect();
    assert!(leaked.is_empty(), "the customer saw {leaked:?}");
}

/// Two owners on different nodes invite the same agent (max_chats 1) at the same moment:
/// exactly one invitation takes the seat; the other is refused with `capacity`.
#[actix_web::test]
async fn concurrent_invitations_from_two_nodes_never_push_an_agent_past_max_chats() {
    let cluster = Cluster::start(2, |spec| spec.org_setting("max_chats", json!(1))).await;
    let mut al = cluster.agent(0, "al").await;
    let (_ada, conv1) = cluster.customer(0, "ada").await;
    accept(&mut al, &conv1).await;
    let mut a1 = cluster.agent(1, "a1").await;
    let (_bea, conv2) = cluster.customer(1, "bea").await;
    accept(&mut a1, &conv2).await;
    let mut bo = helper(&cluster, 1, "bo").await;

    let invite = |conv: &str, role: &str| json!({ "type": "invite", "conversation": conv, "role": role, "to_agent": "bo" });
    let (x, y) = tokio::join!(
        al.request(invite(&conv1, "conference"), Instant::now() + LONG),
        a1.request(invite(&conv2, "consult"), Instant::now() + LONG),
    );
    let acks = [&x, &y].iter().filter(|r| r["type"] == "ack").count();
    assert_eq!(acks, 1, "{x} {y}");
    let refused = if x["type"] == "error" { &x } else { &y };
    assert_eq!(refused["code"], "capacity", "{refused}");
    bo.signal("invitation", WAIT).await;
    assert!(
        bo.next_signal(&["invitation"], std::time::Duration::from_millis(500))
            .await
            .is_none(),
        "a second invitation reached bo"
    );
}

/// An agent on one node starts a chat with a customer whose widget is open on another node:
/// the customer's session follows it at once (the org's customers topic), and the chat goes on
/// across the two nodes.
#[actix_web::test]
async fn a_chat_an_agent_starts_reaches_the_customer_on_another_node() {
    let cluster = Cluster::start(2, |_| {}).await;
    let token = cluster.visitor_token(0, "ada").await;
    let mut ada = Peer::connect("ada", &token, cluster.ports(), 0).await;
    let customer = ada.hello["customer"]
        .as_str()
        .expect("customer id")
        .to_string();
    let mut al = cluster.agent(1, "al").await;
    let data = al
        .ok(
            json!({ "type": "start_chat", "customer": customer, "client_msg_id": "o-1", "text": "Hello from node 1" }),
            Instant::now() + WAIT,
        )
        .await;
    let conv = data["conversation"].as_str().expect("id").to_string();
    al.follow(&conv);
    let joined = ada.signal("joined", WAIT).await;
    assert_eq!(joined["conversation"], conv);
    ada.follow(&conv);
    ada.wait_until("the agent's first message", WAIT, |p| {
        p.log(&conv)
            .messages()
            .iter()
            .any(|m| m.2 == "Hello from node 1")
    })
    .await;
    let seq = ada.send(&conv, "Hi node 1!", Instant::now() + WAIT).await;
    al.wait_seq(&conv, seq, WAIT).await;
}
