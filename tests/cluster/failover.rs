//! Nodes die, pause and drain, and Redis restarts, under live traffic: no acknowledged message is
//! lost, none is stored twice, and clients that follow PROTOCOL §7 recover gap-free.

use std::cell::Cell;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::clients::{acked_in, check_transcript, transcript_messages, Acked, Peer, ATTEMPT};
use crate::harness::*;
use crate::helpers::WAIT;
use crate::routing::accept;

/// Both peers end up with every message of the transcript, in order, once (duplicates they
/// were sent are dropped by the protocol's rule), and with no unrecovered resume.
pub(crate) async fn everyone_has_everything(
    cluster: &Cluster,
    conv: &str,
    peers: &mut [&mut Peer],
) -> Vec<Value> {
    let acked: Vec<Acked> = {
        let refs: Vec<&Peer> = peers.iter().map(|p| &**p).collect();
        acked_in(conv, &refs).into_iter().cloned().collect()
    };
    let last = acked.last().expect("something was acked").seq;
    for p in peers.iter_mut() {
        p.wait_seq(conv, last, LONG).await;
    }
    let events = cluster.transcript(conv).await;
    check_transcript(&events, &acked.iter().collect::<Vec<_>>());
    let in_log: Vec<_> = transcript_messages(&events)
        .into_iter()
        .filter(|m| m.1 <= last)
        .collect();
    for p in peers.iter() {
        assert!(p.unrecovered.is_empty(), "{}: {:?}", p.label, p.unrecovered);
        let seen: Vec<_> = p
            .log(conv)
            .messages()
            .into_iter()
            .filter(|m| m.1 <= last)
            .collect();
        assert_eq!(seen, in_log, "{} saw something else than the log", p.label);
    }
    events
}

/// Agent `al` on node 1 and customer `ada` on node 0 (which owns the conversation), in an
/// accepted chat after `rounds` messages each way, both sides caught up.
async fn chat_owned_by_node_0(cluster: &Cluster, rounds: usize) -> (Peer, Peer, String) {
    let mut al = cluster.agent(1, "al").await;
    let (mut ada, conv) = cluster.customer(0, "ada").await;
    accept(&mut al, &conv).await;
    for i in 0..rounds {
        ada.send(&conv, &format!("before {i}"), Instant::now() + WAIT)
            .await;
        al.send(&conv, &format!("reply {i}"), Instant::now() + WAIT)
            .await;
    }
    let last = acked_in(&conv, &[&ada, &al]).last().map_or(0, |a| a.seq);
    ada.wait_seq(&conv, last, WAIT).await;
    al.wait_seq(&conv, last, WAIT).await;
    (al, ada, conv)
}

/// Test 4. The node that owns the conversation (where it was started) is SIGKILLed while the
/// customer keeps sending. The customer reconnects elsewhere, resumes and re-sends what was not
/// acked; the chat is served again within the lease TTL + 2 s (DESIGN §4), and the transcript
/// holds every acknowledged message exactly once, in order, without a gap.
#[actix_web::test]
async fn killing_the_owning_node_loses_no_acknowledged_message() {
    let mut cluster = Cluster::start(3, |_| {}).await;
    let (mut al, mut ada, conv) = chat_owned_by_node_0(&cluster, 3).await;

    // The customer sends without pause until five sends were acked after the kill, so the
    // kill lands mid-stream (typically with a send in flight, which is then retried).
    let sent = Cell::new(0usize);
    let killed_at: Cell<Option<Instant>> = Cell::new(None);
    let sender = async {
        let mut after_kill = 0;
        for i in 0..10_000 {
            ada.send(&conv, &format!("during {i}"), Instant::now() + LONG)
                .await;
            sent.set(i + 1);
            if killed_at.get().is_some() {
                after_kill += 1;
                if after_kill == 5 {
                    break;
                }
            }
        }
    };
    let killer = async {
        eventually("5 messages", WAIT, || async {
            (sent.get() >= 5)
                .then_some(())
                .ok_or(format!("{} sent", sent.get()))
        })
        .await;
        cluster.node(0).kill();
        killed_at.set(Some(Instant::now()));
    };
    tokio::join!(sender, killer);
    let killed_at = killed_at.get().expect("killed");

    // The customer sends back to back, so the longest wait between two acks is the outage
    // (an ack already in flight when the node died does not hide it).
    let outage = ada
        .acked
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .max()
        .expect("acks");
    assert!(
        ada.acked.iter().any(|a| a.at > killed_at),
        "nothing acked after the kill"
    );
    assert!(outage <= RECOVERY, "served again only after {outage:?}");
    eprintln!(
        "longest wait for an ack across the kill: {outage:?}; {} sends acked, {} reconnects",
        ada.acked.len(),
        ada.reconnects
    );
    assert!(ada.reconnects >= 1, "the customer never left the dead node");
    assert_ne!(ada.port(), cluster.port(0));

    // The agent (on a surviving node) talks on; both sides see everything.
    for i in 0..2 {
        al.send(&conv, &format!("after {i}"), Instant::now() + LONG)
            .await;
    }
    let events = everyone_has_everything(&cluster, &conv, &mut [&mut ada, &mut al]).await;
    assert_eq!(
        events,
        cluster.transcript_from(2, &conv).await,
        "nodes disagree on the log"
    );
}

/// Test 4b. The customer's node (which owns the conversation) is SIGKILLed and the customer is
/// back at once on another node — before the dead node is declared gone, so the conversation's
/// owner cannot answer yet (forwarded calls here give up after 100 ms). The new node must not
/// leave it signed in but following nothing: it is told to come back (close 1013) until the
/// conversation has moved, and then gets every later event, live, without sending anything.
#[actix_web::test]
async fn a_customer_back_before_the_failover_still_gets_every_later_event() {
    let mut cluster = Cluster::start(3, |spec| {
        spec.env("SWITCHBOARD__ENGINE__REDIS__CALL_TIMEOUT_MS", "100");
        spec.env("SWITCHBOARD__ENGINE__REDIS__CALL_ATTEMPTS", "1");
    })
    .await;
    let (mut al, mut ada, conv) = chat_owned_by_node_0(&cluster, 1).await;

    cluster.node(0).kill();
    let killed_at = Instant::now();
    // Straight to node 1, well inside the node TTL: node 0 still counts as alive.
    ada.reconnect(Instant::now() + WAIT).await;
    assert!(
        killed_at.elapsed() < NODE_TTL,
        "the customer came back only after {:?}; the test needs it inside the node TTL",
        killed_at.elapsed()
    );

    // The agent goes on once the conversation has moved; the customer only listens.
    let mut last = 0;
    for i in 0..3 {
        last = al
            .send(
                &conv,
                &format!("after the failover {i}"),
                Instant::now() + LONG,
            )
            .await;
    }
    ada.wait_seq(&conv, last, LONG).await;
    everyone_has_everything(&cluster, &conv, &mut [&mut ada, &mut al]).await;
}

/// Test 4c. The owning node is SIGKILLed and restarted with the same node id (a crash and a
/// supervisor's restart). The new process knows its previous incarnation is gone and takes its
/// actors back at once: node TTL and leases are a minute here, so only that rule can bring the
/// chat back within the bound below. Nothing acknowledged is lost.
#[actix_web::test]
async fn a_restarted_node_takes_back_what_its_previous_incarnation_held_at_once() {
    let mut cluster = Cluster::start(2, |spec| {
        spec.env("SWITCHBOARD__ENGINE__REDIS__LEASE_TTL_MS", "60000");
        spec.env("SWITCHBOARD__ENGINE__REDIS__RENEW_MS", "20000");
        spec.env("SWITCHBOARD__ENGINE__REDIS__NODE_TTL_MS", "60000");
    })
    .await;
    let (mut al, mut ada, conv) = chat_owned_by_node_0(&cluster, 1).await;

    cluster.node(0).restart().await;
    let restarted = Instant::now();
    ada.send(&conv, "are you still there?", Instant::now() + LONG)
        .await;
    al.send(&conv, "yes, still here", Instant::now() + LONG)
        .await;
    let took = restarted.elapsed();
    eprintln!("the chat went on {took:?} after the restart");
    assert!(
        took < Duration::from_secs(20),
        "the restarted node did not take its conversation back at once ({took:?})"
    );
    everyone_has_everything(&cluster, &conv, &mut [&mut ada, &mut al]).await;
}

/// Test 5. The owning node is SIGSTOPped for longer than its node TTL and lease while the chat
/// goes on through the other nodes, then SIGCONTed. The paused node writes nothing stale: the
/// transcript has no duplicate or out-of-order entry, everything sent meanwhile is there, and a
/// send that reached the paused node is refused, dropped with the socket, or acked with the seq
/// it really has in the log — never acked with a stale seq.
#[actix_web::test]
async fn a_paused_node_wakes_up_without_writing_anything_stale() {
    let mut cluster = Cluster::start(3, |_| {}).await;
    let (mut al, mut ada, conv) = chat_owned_by_node_0(&cluster, 1).await;

    // A second socket of the same customer on the node about to be paused.
    let mut old = cluster.connect(0, ada.token()).await;
    old.barrier().await;

    cluster.node(0).stop();
    let stopped_at = Instant::now();
    let stale = json!({ "type": "send", "id": "stale", "conversation": conv, "client_msg_id": "stale-1", "text": "sent to a frozen node" });
    assert!(old.try_send_raw(&stale.to_string()).await);

    // Meanwhile the conversation is served by the other nodes (the customer reconnects).
    for i in 0..4 {
        ada.send(&conv, &format!("meanwhile {i}"), Instant::now() + LONG)
            .await;
        al.send(&conv, &format!("answer {i}"), Instant::now() + LONG)
            .await;
    }
    assert_ne!(ada.port(), cluster.port(0));
    // Paused well past node_ttl (1.5 s) and the lease (3 s).
    let pause = Duration::from_secs(4);
    if stopped_at.elapsed() < pause {
        tokio::time::sleep(pause - stopped_at.elapsed()).await;
    }
    cluster.node(0).cont();

    // The woken node's client: an error or a closed socket, or an ack that matches the log.
    let reply = old
        .try_wait_for(WAIT + ATTEMPT, |f| {
            f["id"] == "stale" && (f["type"] == "ack" || f["type"] == "error")
        })
        .await;
    eprintln!(
        "the woken node answered the stale send with {reply:?} (socket closed: {:?})",
        old.closed
    );
    let mut stale_ack = None;
    match &reply {
        Some(r) if r["type"] == "ack" => {
            stale_ack = Some(Acked {
                conv: conv.clone(),
                cmid: "stale-1".into(),
                seq: r["data"]["seq"].as_u64().expect("seq"),
                text: "sent to a frozen node".into(),
                at: Instant::now(),
            })
        }
        Some(_) => {}
        None => assert!(
            old.closed.is_some(),
            "the woken node neither answered nor closed the socket"
        ),
    }

    // After the wake-up the chat goes on, wherever the clients are.
    ada.send(&conv, "after the pause", Instant::now() + LONG)
        .await;
    al.send(&conv, "still here", Instant::now() + LONG).await;
    let events = everyone_has_everything(&cluster, &conv, &mut [&mut ada, &mut al]).await;
    if let Some(a) = &stale_ack {
        check_transcript(&events, &[a]);
    }
    // What the woken node delivered to its old socket is what the log holds.
    for f in old.inbox.iter().filter(|f| f["type"] == "event") {
        let seq = f["seq"].as_u64().expect("seq") as usize;
        let logged = events
            .get(seq - 1)
            .unwrap_or_else(|| panic!("old socket got seq {seq} beyond the log: {f}"));
        assert_eq!(
            f["event"]["kind"], logged["kind"],
            "stale event {f} vs {logged}"
        );
        assert_eq!(
            f["event"]["client_msg_id"], logged["client_msg_id"],
            "{f} vs {logged}"
        );
    }
    // The woken node serves the same log as the others.
    cluster.node(0).wait_ready(LONG).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let from_woken = cluster.transcript_from(0, &conv).await;
        if from_woken == cluster.transcript_from(1, &conv).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the woken node serves a stale log"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Test 7. Redis is killed (-9) mid-conversation and restarted from its AOF: nothing acked is
/// lost; sends during the outage are refused with `unavailable` (never acked); `/readyz` is not
/// 200 during the outage and 200 after.
#[actix_web::test]
async fn a_redis_restart_loses_no_acknowledged_message() {
    let mut cluster = Cluster::start(2, |_| {}).await;
    let (mut al, mut ada, conv) = chat_owned_by_node_0(&cluster, 3).await;
    let before = acked_in(&conv, &[&ada, &al]).last().expect("acked").seq;

    cluster.redis.kill();
    for i in 0..2 {
        let node = &cluster.nodes[i];
        eventually(&format!("n{i} /readyz not 200"), WAIT, || async {
            match node.readyz().await {
                Some(200) => Err("200".to_string()),
                _ => Ok(()),
            }
        })
        .await;
    }
    for (p, cmid) in [(&mut ada, "ada-outage"), (&mut al, "al-outage")] {
        let cmd = json!({ "type": "send", "conversation": conv, "client_msg_id": cmid, "text": "during the outage" });
        let r = p
            .client()
            .try_request(cmd, WAIT)
            .await
            .unwrap_or_else(|| panic!("{}: no answer during the outage", p.label));
        assert_eq!(r["type"], "error", "{}: acked without Redis: {r}", p.label);
        assert_eq!(r["code"], "unavailable", "{}: {r}", p.label);
    }

    cluster.redis.restart();
    for i in 0..2 {
        cluster.node(i).wait_ready(READY_TIMEOUT).await;
    }
    // The refused sends go through now (same client_msg_id), and the chat goes on.
    ada.send_as(
        &conv,
        "ada-outage",
        "during the outage",
        Instant::now() + LONG,
    )
    .await;
    al.send_as(
        &conv,
        "al-outage",
        "during the outage",
        Instant::now() + LONG,
    )
    .await;
    for i in 0..2 {
        ada.send(&conv, &format!("after {i}"), Instant::now() + LONG)
            .await;
        al.send(&conv, &format!("answer {i}"), Instant::now() + LONG)
            .await;
    }
    let events = everyone_has_everything(&cluster, &conv, &mut [&mut ada, &mut al]).await;
    let outage: Vec<&Value> = events
        .iter()
        .filter(|e| e["text"] == "during the outage")
        .collect();
    assert_eq!(outage.len(), 2, "{outage:?}");
    assert!(outage.iter().all(|e| e["seq"].as_u64() > Some(before)));
}

/// Test 8. SIGTERM one node while two chats are busy: its clients get close code 1012, it exits
/// within the drain timeout (plus a margin), and both chats continue through the other nodes.
#[actix_web::test]
async fn draining_a_node_under_traffic_moves_its_chats_to_the_others() {
    let mut cluster = Cluster::start(3, |_| {}).await;
    let drained = cluster.port(0);
    // Chat 1: customer (and owner) on the drained node, agent elsewhere.
    let mut al = cluster.agent(1, "al").await;
    let (mut ada, c1) = cluster.customer(0, "ada").await;
    accept(&mut al, &c1).await;
    al.ok(
        json!({ "type": "status", "presence": "away" }),
        Instant::now() + WAIT,
    )
    .await;
    // Chat 2: customer elsewhere, agent on the drained node.
    let mut bo = cluster.agent(0, "bo").await;
    let (mut bea, c2) = cluster.customer(2, "bea").await;
    accept(&mut bo, &c2).await;
    ada.send(&c1, "hello", Instant::now() + WAIT).await;
    bo.send(&c2, "hello", Instant::now() + WAIT).await;

    // Both customers send without pause from before the SIGTERM until the node has exited.
    let sent = Cell::new(0usize);
    let exited = Cell::new(false);
    let traffic = async {
        for i in 0..10_000 {
            ada.send(&c1, &format!("busy {i}"), Instant::now() + LONG)
                .await;
            bea.send(&c2, &format!("busy {i}"), Instant::now() + LONG)
                .await;
            sent.set(i + 1);
            if exited.get() {
                break;
            }
        }
    };
    let drain = async {
        eventually("traffic", WAIT, || async {
            (sent.get() >= 3)
                .then_some(())
                .ok_or(format!("{} sent", sent.get()))
        })
        .await;
        let started = Instant::now();
        cluster.node(0).term();
        let exit = cluster
            .node(0)
            .wait_exit(DRAIN_TIMEOUT + Duration::from_secs(5))
            .await;
        exited.set(true);
        (exit, started.elapsed())
    };
    let ((), (exit, took)) = tokio::join!(traffic, drain);
    eprintln!(
        "drained node exited after {took:?} ({exit:?}); {} rounds of traffic",
        sent.get()
    );
    assert!(exit.is_some(), "the drained node did not exit");
    assert!(
        took <= DRAIN_TIMEOUT + Duration::from_secs(5),
        "exit took {took:?}"
    );

    // Its clients were told to reconnect with 1012.
    assert!(
        ada.closes.contains(&(drained, 1012)),
        "ada: {:?}",
        ada.closes
    );
    bo.wait_until("close 1012", WAIT, |p| p.closes.contains(&(drained, 1012)))
        .await;

    // Both chats go on, both ways, through the remaining nodes.
    for i in 0..2 {
        ada.send(&c1, &format!("after {i}"), Instant::now() + LONG)
            .await;
        al.send(&c1, &format!("answer {i}"), Instant::now() + LONG)
            .await;
        bo.send(&c2, &format!("after {i}"), Instant::now() + LONG)
            .await;
        bea.send(&c2, &format!("answer {i}"), Instant::now() + LONG)
            .await;
    }
    for p in [&ada, &bo] {
        assert_ne!(
            p.port(),
            drained,
            "{} is still on the drained node",
            p.label
        );
    }
    everyone_has_everything(&cluster, &c1, &mut [&mut ada, &mut al]).await;
    everyone_has_everything(&cluster, &c2, &mut [&mut bea, &mut bo]).await;
}

/// A node with nothing to drain exits on SIGTERM at once instead of waiting out
/// `server.drain_timeout_ms` (PROTOCOL §1.7: it waits *up to* the timeout for clients to
/// leave). Both a memory node and a cluster-mode node, with a 20 s drain timeout.
#[actix_web::test]
async fn an_idle_node_exits_on_sigterm_without_waiting_out_the_drain_timeout() {
    for engine in ["memory", "redis"] {
        let mut cluster = Cluster::start(1, |spec| {
            spec.env("SWITCHBOARD__ENGINE__KIND", engine);
            spec.env("SWITCHBOARD__SERVER__DRAIN_TIMEOUT_MS", 20_000);
        })
        .await;
        let started = Instant::now();
        cluster.node(0).term();
        let exit = cluster.node(0).wait_exit(Duration::from_secs(5)).await;
        assert!(
            exit.is_some(),
            "the idle {engine} node was still running {:?} after SIGTERM",
            started.elapsed()
        );
    }
}
