//! Issue 15 in a cluster: webhooks waiting in the shared outbox are delivered by another node
//! when the node that was sending them dies, and a bot-first chat whose node dies goes on with
//! its bot from another node (the bot phase sent again, same ids) and hands over there.

use std::time::Duration;

use tokio::time::Instant;

use serde_json::json;

use crate::bot_server::{BotServer as Receiver, SECRET};
use crate::harness::*;
use crate::helpers::{try_http, WAIT};
use crate::postgres_server::PostgresServer;
use crate::routing::accept;

const LONG: Duration = Duration::from_secs(30);

#[actix_web::test]
async fn webhooks_left_by_a_killed_node_are_delivered_by_another_in_order() {
    let pg = PostgresServer::start();
    let rx = Receiver::start();
    rx.fail_next(usize::MAX);
    let url = rx.url();
    let mut cluster = Cluster::start(2, |spec| {
        spec.env("SWITCHBOARD__ARCHIVE__URL", pg.url());
        spec.env("SWITCHBOARD__WEBHOOKS__POLL_MS", 50);
        spec.env("SWITCHBOARD__WEBHOOKS__RETRY_BASE_MS", 50);
        spec.env("SWITCHBOARD__WEBHOOKS__RETRY_MAX_MS", 200);
        spec.env("SWITCHBOARD__WEBHOOKS__LEASE_MS", 1500);
        spec.env("SWITCHBOARD__WEBHOOKS__MAX_ATTEMPTS", 1000);
        spec.env("SWITCHBOARD__WEBHOOKS__BREAKER_FAILURES", 1000);
        spec.orgs[0]["webhooks"] = json!([{
            "id": "crm", "url": url, "secret": SECRET, "allow_private_network": true,
            "events": ["conversation.created", "conversation.assigned", "message.created"],
        }]);
    })
    .await;
    let mut al = cluster.agent(0, "al").await;
    let (mut ada, conv) = cluster.customer(0, "ada").await;
    accept(&mut al, &conv).await;
    for text in ["one", "two", "three"] {
        ada.send(&conv, text, Instant::now() + WAIT).await;
    }
    // Node 1 paused: node 0 alone keeps trying (the receiver refuses everything) …
    cluster.node(1).stop();
    let tried = rx.hooks().len();
    eventually("node 0 trying", LONG, || {
        let n = rx.hooks().len();
        async move { (n > tried + 2).then_some(()).ok_or(format!("{n}")) }
    })
    .await;
    // … and dies holding them. The receiver heals; node 1 resumes and delivers everything.
    cluster.node(0).kill();
    rx.fail_next(0);
    cluster.node(1).cont();
    let delivered = eventually("node 1 delivering", LONG, || {
        let hooks = rx.hooks();
        let conv = conv.clone();
        async move {
            let mut ok: Vec<_> = hooks
                .iter()
                .filter(|h| h.acknowledged && h.body["conversation"] == conv.as_str())
                .cloned()
                .collect();
            ok.dedup_by(|a, b| a.id == b.id);
            (ok.len() >= 5)
                .then_some(ok)
                .ok_or(format!("{} acknowledged", hooks.len()))
        }
    })
    .await;
    assert!(rx.hooks().iter().all(|h| h.valid), "signed on both nodes");
    let kinds: Vec<&str> = delivered.iter().map(|h| h.kind()).collect();
    assert_eq!(
        kinds,
        [
            "conversation.created",
            "conversation.assigned",
            "message.created",
            "message.created",
            "message.created"
        ],
        "each once acknowledged, in order"
    );
    let texts: Vec<&str> = delivered[2..]
        .iter()
        .map(|h| h.body["event"]["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
}

#[actix_web::test]
async fn a_bot_first_chat_survives_its_nodes_death_and_hands_over_from_another() {
    let bot = Receiver::start();
    let url = bot.url();
    let mut cluster = Cluster::start(2, |spec| {
        spec.org_setting(
            "bot",
            json!({ "id": "ava", "name": "Ava (bot)", "url": url, "secret": SECRET,
                    "allow_private_network": true, "reply_timeout_ms": 600000 }),
        );
    })
    .await;
    let admin = cluster.admin_token();
    let (status, minted) = try_http(
        cluster.port(1),
        "POST",
        "/v1/bot/token",
        Some(&admin),
        None,
        &[],
        WAIT,
    )
    .await
    .expect("token");
    assert_eq!(status, 201, "{minted}");
    let token = minted["token"].as_str().expect("token").to_string();
    let (mut ada, conv) = cluster.customer(0, "ada").await;
    ada.send(&conv, "hello bot", Instant::now() + WAIT).await;
    eventually("the bot hearing the customer", LONG, || {
        let n = bot
            .hooks()
            .iter()
            .filter(|h| h.kind() == "message.created")
            .count();
        async move { (n >= 1).then_some(()).ok_or(format!("{n}")) }
    })
    .await;
    let started = format!("{conv}.{}", bot.hooks()[0].body["seq"]);

    // The node holding the chat dies; the customer's client moves to node 1 and writes again.
    cluster.node(0).kill();
    ada.send(&conv, "still there?", Instant::now() + LONG).await;
    let again = eventually("the bot phase sent again from node 1", LONG, || {
        let hooks = bot.hooks();
        let started = started.clone();
        async move {
            let repeats = hooks.iter().filter(|h| h.id == started).count();
            let latest = hooks
                .iter()
                .any(|h| h.body["event"]["text"] == "still there?");
            (repeats >= 2 && latest)
                .then_some(hooks)
                .ok_or(format!("{repeats} {latest}"))
        }
    })
    .await;
    assert!(again.iter().all(|h| h.valid));

    // The bot answers and hands over through node 1; an agent there takes the chat.
    let mut al = cluster.agent(1, "al").await;
    let (status, body) = try_http(
        cluster.port(1),
        "POST",
        &format!("/v1/bot/conversations/{conv}/handover"),
        Some(&token),
        Some(json!({ "summary": "asked twice" })),
        &[],
        LONG,
    )
    .await
    .expect("handover");
    assert_eq!(status, 200, "{body}");
    accept(&mut al, &conv).await;
    let (status, _) = try_http(
        cluster.port(1),
        "POST",
        &format!("/v1/bot/conversations/{conv}/messages"),
        Some(&token),
        Some(json!({ "client_msg_id": "late", "text": "me again" })),
        &[],
        WAIT,
    )
    .await
    .expect("late bot write");
    assert_eq!(status, 409, "no bot after the handover, on any node");
}
