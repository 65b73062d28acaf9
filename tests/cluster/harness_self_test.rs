//! The harness itself: processes start, answer, stop, continue, drain, die and come back.
//! These run single memory-engine nodes (and a bare Redis), so they check the harness
//! independently of cluster mode.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::harness::*;
use crate::helpers::WAIT;
use crate::redis_server::RedisServer;

fn memory(spec: &mut Spec) {
    spec.env("SWITCHBOARD__ENGINE__KIND", "memory");
}

fn redis_cmd(port: u16, cmd: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to redis");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s.write_all(cmd.as_bytes()).expect("write");
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn redis_server_replays_its_aof_after_a_kill() {
    let mut redis = RedisServer::start();
    assert!(redis.url().ends_with(&redis.port().to_string()));
    assert_eq!(redis_cmd(redis.port(), "SET k v\r\n"), "+OK\r\n");
    redis.kill();
    assert!(std::net::TcpStream::connect(("127.0.0.1", redis.port())).is_err());
    redis.restart();
    assert_eq!(redis_cmd(redis.port(), "GET k\r\n"), "$1\r\nv\r\n");
}

#[actix_web::test]
async fn a_memory_node_serves_a_chat_and_dies_when_killed() {
    let mut cluster = Cluster::start(1, memory).await;
    let (status, body) = cluster.http(0, "GET", "/readyz", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["engine"], "memory");
    assert_eq!(body["node"], "n0");

    // Tokens minted in-process are accepted by the process; a chat works end to end.
    let mut al = cluster.agent(0, "al").await;
    let (mut ada, conv) = cluster.customer(0, "ada").await;
    let offer = al.signal("offer", WAIT).await;
    assert_eq!(offer["conversation"], conv.as_str());
    al.ok(
        json!({ "type": "accept", "conversation": conv }),
        Instant::now() + WAIT,
    )
    .await;
    al.follow(&conv);
    let seq = ada.send(&conv, "hello", Instant::now() + WAIT).await;
    al.wait_seq(&conv, seq, WAIT).await;
    assert_eq!(al.log(&conv).messages().last().expect("message").2, "hello");
    let events = cluster.transcript(&conv).await;
    crate::clients::check_transcript(&events, &ada.acked.iter().collect::<Vec<_>>());

    let node = cluster.node(0);
    node.kill();
    assert!(node.wait_exit(Duration::from_secs(5)).await.is_some());
    assert_eq!(node.readyz().await, None);
}

#[actix_web::test]
async fn a_memory_node_stops_continues_restarts_and_drains() {
    let mut cluster = Cluster::start(1, memory).await;
    let port = cluster.port(0);

    cluster.node(0).stop();
    assert_eq!(
        cluster.node(0).readyz().await,
        None,
        "a stopped node answers nothing"
    );
    cluster.node(0).cont();
    cluster.node(0).wait_ready(WAIT).await;

    cluster.node(0).restart().await;
    assert_eq!(cluster.node(0).port(), port, "same port after a restart");
    assert_eq!(cluster.node(0).readyz().await, Some(200));

    // SIGTERM: the client is told to reconnect (1012) and the node exits within the drain timeout.
    let (mut ada, _conv) = cluster.customer(0, "ada").await;
    let started = Instant::now();
    cluster.node(0).term();
    assert_eq!(ada.client().closed_code().await, 1012);
    let status = cluster
        .node(0)
        .wait_exit(DRAIN_TIMEOUT + Duration::from_secs(5))
        .await;
    assert!(status.is_some(), "the node did not exit after SIGTERM");
    assert!(started.elapsed() < DRAIN_TIMEOUT + Duration::from_secs(5));
}
