//! The system of record in a cluster (DESIGN §12): every node writes finished chats to one
//! PostgreSQL and reads them back — a customer's history and journey answer the same from
//! either node once the chat has left hot storage — and an emailed transcript waiting in the
//! shared outbox survives the death of the node that took it: another node delivers it.

use std::time::Duration;

use tokio::time::Instant;

use serde_json::{json, Value};

use crate::clients::Peer;
use crate::harness::*;
use crate::helpers::{try_http, WAIT};
use crate::postgres_server::PostgresServer;
use crate::redis_server::free_port;
use crate::routing::accept;
use crate::smtp_server::SmtpServer;

const LONG: Duration = Duration::from_secs(30);

async fn get(port: u16, path: &str, token: &str) -> Result<Value, String> {
    match try_http(port, "GET", path, Some(token), None, &[], WAIT).await {
        Ok((200, body)) => Ok(body),
        other => Err(format!("{other:?}")),
    }
}

/// A chat between ada (node 0) and al (node 1), ended by ada and wrapped up by al.
async fn finished_chat(cluster: &Cluster) -> String {
    let mut al: Peer = cluster.agent(1, "al").await;
    let (mut ada, conv) = cluster.customer(0, "ada").await;
    accept(&mut al, &conv).await;
    ada.send(&conv, "my parcel is late", Instant::now() + WAIT)
        .await;
    al.send(&conv, "it ships today", Instant::now() + WAIT)
        .await;
    ada.ok(
        json!({ "type": "end", "conversation": conv }),
        Instant::now() + WAIT,
    )
    .await;
    al.ok(
        json!({ "type": "wrap_up", "conversation": conv }),
        Instant::now() + WAIT,
    )
    .await;
    conv
}

#[actix_web::test]
async fn one_postgres_archive_serves_every_node_and_an_email_outlives_its_node() {
    let pg = PostgresServer::start();
    let mut smtp = SmtpServer::stopped(free_port());
    let mut cluster = Cluster::start(2, |spec| {
        spec.env("SWITCHBOARD__ARCHIVE__URL", pg.url());
        spec.env("SWITCHBOARD__ARCHIVE__HOT_GRACE_MS", 300);
        spec.env("SWITCHBOARD__SMTP__HOST", "127.0.0.1");
        spec.env("SWITCHBOARD__SMTP__PORT", smtp.port());
        spec.env("SWITCHBOARD__SMTP__POLL_MS", 100);
        spec.env("SWITCHBOARD__SMTP__RETRY_BASE_MS", 100);
        spec.env("SWITCHBOARD__SMTP__RETRY_MAX_MS", 300);
        spec.env("SWITCHBOARD__SMTP__LEASE_MS", 2000);
        spec.env("SWITCHBOARD__SMTP__TIMEOUT_MS", 1000);
        spec.env("SWITCHBOARD__SMTP__MAX_ATTEMPTS", 1000);
    })
    .await;
    let admin = cluster.admin_token();
    let conv = finished_chat(&cluster).await;

    // Archived once into the shared database, then gone from hot storage (Redis).
    let archive = switchboard::archive::open(&pg.url())
        .await
        .expect("open the archive");
    let key = switchboard::ids::ConvKey {
        org: switchboard::ids::OrgId::parse("t1").expect("org"),
        id: switchboard::ids::ConversationId::parse(&conv).expect("id"),
    };
    let summary = eventually("the chat in the shared archive", LONG, || async {
        match archive.summary(&key).await {
            Ok(Some(s)) if s.status.as_str() == "done" => Ok(s),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let customer = summary.customer.expect("customer").to_string();
    let redis = redis::Client::open(cluster.redis.url()).expect("redis client");
    let mut con = redis
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    eventually("the chat's keys to expire from Redis", LONG, || {
        let mut con = con.clone();
        let pattern = format!("*{conv}*");
        async move {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(&mut con)
                .await
                .map_err(|e| e.to_string())?;
            keys.is_empty().then_some(()).ok_or(format!("{keys:?}"))
        }
    })
    .await;
    let _: () = redis::cmd("PING")
        .query_async(&mut con)
        .await
        .expect("ping");

    // Both nodes answer the history and the journey from the archive alike.
    for i in [0, 1] {
        let history = get(
            cluster.port(i),
            &format!("/v1/customers/{customer}/history"),
            &admin,
        )
        .await
        .expect("history");
        let conversations = &history["days"][0]["conversations"];
        assert_eq!(
            conversations[0]["conversation"]["id"],
            conv.as_str(),
            "n{i}: {history}"
        );
        assert!(
            conversations[0]["events"]
                .as_array()
                .expect("events")
                .iter()
                .any(|e| e["text"] == "my parcel is late"),
            "n{i}: {history}"
        );
        let journey = get(
            cluster.port(i),
            &format!("/v1/customers/{customer}/journey"),
            &admin,
        )
        .await
        .expect("journey");
        assert_eq!(
            journey["interactions"][0]["status"], "ended",
            "n{i}: {journey}"
        );
        assert_eq!(journey["interactions"][0]["agent"], "al", "n{i}: {journey}");
    }

    // Node 1 paused: node 0 alone takes the email, and cannot deliver it (SMTP is down).
    cluster.node(1).stop();
    let (status, queued) = try_http(
        cluster.port(0),
        "POST",
        &format!("/v1/conversations/{conv}/transcript/email"),
        Some(&admin),
        Some(json!({ "to": "ada@example.com" })),
        &[],
        WAIT,
    )
    .await
    .expect("email request");
    assert_eq!(status, 202, "{queued}");
    let id = queued["id"].as_str().expect("id").to_string();
    let path = format!("/v1/emails/{id}");
    eventually("node 0 trying to send", LONG, || async {
        let body = get(cluster.port(0), &path, &admin).await?;
        (body["attempts"].as_i64().unwrap_or(0) >= 1)
            .then_some(())
            .ok_or(body.to_string())
    })
    .await;

    // Node 0 dies holding it; SMTP comes back; node 1 resumes and delivers it.
    cluster.node(0).kill();
    smtp.run();
    cluster.node(1).cont();
    let sent = eventually("node 1 delivering the email", LONG, || async {
        let body = get(cluster.port(1), &path, &admin).await?;
        (body["status"] == "sent")
            .then_some(body.clone())
            .ok_or(body.to_string())
    })
    .await;
    assert_eq!(sent["to"], "ada@example.com", "{sent}");
    let messages = smtp.messages();
    assert!(!messages.is_empty(), "the SMTP server received it");
    assert!(
        messages.iter().all(|m| m.contains("ada@example.com")),
        "{messages:?}"
    );
}
