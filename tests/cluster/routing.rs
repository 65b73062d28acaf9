//! Routing across nodes: offers cross nodes, capacity holds cluster-wide, an accept race has one
//! winner, and an offer whose node died still ends (and frees the agent).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::clients::{acked_in, check_transcript, transcript_messages, Peer};
use crate::harness::*;
use crate::helpers::{try_http, WAIT};

/// Waits for the offer of `conv`, accepts it and follows the conversation.
pub async fn accept(agent: &mut Peer, conv: &str) {
    let offer = agent.signal("offer", WAIT).await;
    assert_eq!(
        offer["conversation"], conv,
        "{}: unexpected offer",
        agent.label
    );
    accept_offer_of(agent, conv).await;
}

/// Every offer an agent gets ends exactly once (accepted, or `offer_ended`), and the agent's
/// own view of its load (assigned + pending offers) never exceeds `max`.
#[derive(Default)]
pub struct OfferBook {
    pub pending: BTreeSet<String>,
    pub accepted: BTreeSet<String>,
    pub ended: Vec<(String, String)>,
    pub offers: usize,
}

impl OfferBook {
    pub fn offered(&mut self, who: &str, s: &Value, max: usize) -> String {
        let conv = s["conversation"]
            .as_str()
            .expect("conversation")
            .to_string();
        assert!(
            self.pending.insert(conv.clone()),
            "{who}: a second offer of {conv} while one is pending: {s}"
        );
        assert!(
            !self.accepted.contains(&conv),
            "{who}: offered {conv}, which it already holds"
        );
        self.offers += 1;
        let load = self.accepted.len() + self.pending.len();
        assert!(
            load <= max,
            "{who} holds {load} > {max}: assigned {:?}, offers {:?}",
            self.accepted,
            self.pending
        );
        conv
    }

    pub fn offer_ended(&mut self, who: &str, s: &Value) {
        let conv = s["conversation"]
            .as_str()
            .expect("conversation")
            .to_string();
        assert!(
            self.pending.remove(&conv),
            "{who}: offer_ended for {conv} without a pending offer (ended twice?): {s}"
        );
        self.ended
            .push((conv, s["outcome"].as_str().unwrap_or("").to_string()));
    }

    /// Accepts a pending offer; `false` when the server says it is gone (`expired`/`conflict`).
    pub async fn accept(&mut self, agent: &mut Peer, conv: &str) -> bool {
        let r = agent
            .request(
                json!({ "type": "accept", "conversation": conv }),
                Instant::now() + LONG,
            )
            .await;
        if r["type"] == "ack" {
            self.pending.remove(conv);
            self.accepted.insert(conv.to_string());
            agent.follow(conv);
            true
        } else {
            assert!(
                r["code"] == "expired" || r["code"] == "conflict",
                "{}: accept of {conv} failed oddly: {r}",
                agent.label
            );
            // The offer is gone; its `offer_ended` (if any) is still on its way.
            false
        }
    }
}

/// Test 1. Customer on node A, agent on node B: the offer crosses nodes, and messages flow both
/// ways, each delivered exactly once, in order, to both sides.
#[actix_web::test]
async fn a_customer_on_one_node_and_an_agent_on_another_chat_both_ways() {
    let cluster = Cluster::start(2, |_| {}).await;
    let mut al = cluster.agent(1, "al").await;
    let (mut ada, conv) = cluster.customer(0, "ada").await;

    let offer = al.signal("offer", WAIT).await;
    assert_eq!(offer["conversation"], conv.as_str());
    assert_eq!(offer["customer_name"], "ada Tester");
    accept_offer_of(&mut al, &conv).await;
    ada.wait_until("assigned", WAIT, |p| p.log(&conv).has("assigned"))
        .await;
    let assigned = ada
        .log(&conv)
        .events
        .iter()
        .find(|f| f["event"]["kind"] == "assigned")
        .cloned()
        .expect("assigned");
    assert_eq!(assigned["event"]["agent"], "al");

    for i in 0..10 {
        ada.send(&conv, &format!("customer says {i}"), Instant::now() + WAIT)
            .await;
        al.send(&conv, &format!("agent says {i}"), Instant::now() + WAIT)
            .await;
    }
    let acked: Vec<crate::clients::Acked> =
        acked_in(&conv, &[&ada, &al]).into_iter().cloned().collect();
    let last = acked.last().expect("acked").seq;
    ada.wait_seq(&conv, last, WAIT).await;
    al.wait_seq(&conv, last, WAIT).await;
    // Nothing more is on its way: a round trip through each node.
    for p in [&mut ada, &mut al] {
        p.ok(json!({ "type": "ping" }), Instant::now() + WAIT).await;
    }

    let expected: Vec<(String, u64, String)> = acked
        .iter()
        .map(|a| (a.cmid.clone(), a.seq, a.text.clone()))
        .collect();
    for p in [&ada, &al] {
        let log = p.log(&conv);
        assert_eq!(p.reconnects, 0, "{}: reconnected", p.label);
        assert_eq!(log.duplicates, 0, "{}: got events twice", p.label);
        assert_eq!(log.gaps, 0, "{}: missed events", p.label);
        assert_eq!(log.messages(), expected, "{} saw other messages", p.label);
    }
    let events = cluster.transcript_from(1, &conv).await;
    check_transcript(&events, &acked.iter().collect::<Vec<_>>());
    assert_eq!(transcript_messages(&events), expected);
}

async fn accept_offer_of(agent: &mut Peer, conv: &str) {
    agent
        .ok(
            json!({ "type": "accept", "conversation": conv }),
            Instant::now() + WAIT,
        )
        .await;
    agent.follow(conv);
}

/// Test 2. 50 chats start at once on 3 nodes against 4 agents (spread over the nodes) with
/// `max_chats = 3`. Agents accept everything they are offered. Neither the agents' own signals
/// nor any sample of `GET /v1/agents` ever shows an agent above 3 (assigned + offers); in the
/// end 12 chats are assigned and 38 wait in the queue.
#[actix_web::test]
async fn concurrent_chats_on_three_nodes_never_push_an_agent_past_max_chats() {
    const MAX: usize = 3;
    let cluster = Cluster::start(3, |s| s.org_setting("max_chats", json!(MAX))).await;
    let admin = cluster.admin_token();
    let ids = ["a1", "a2", "a3", "a4"];
    let mut agents = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        agents.push(cluster.agent(i % 3, id).await);
    }

    let accepted: RefCell<BTreeMap<String, usize>> = RefCell::new(BTreeMap::new());
    let stop = Cell::new(false);
    let samples = Cell::new(0usize);

    let work = futures_util::future::join_all(agents.iter_mut().map(|agent| {
        let (accepted, stop) = (&accepted, &stop);
        async move {
            let mut book = OfferBook::default();
            while !stop.get() {
                let Some(s) = agent
                    .next_signal(
                        &["offer", "offer_ended", "presence"],
                        Duration::from_millis(100),
                    )
                    .await
                else {
                    continue;
                };
                let who = agent.label.clone();
                match s["signal"].as_str() {
                    Some("offer") => {
                        let conv = book.offered(&who, &s, MAX);
                        book.accept(agent, &conv).await;
                        accepted.borrow_mut().insert(who, book.accepted.len());
                    }
                    Some("offer_ended") => book.offer_ended(&who, &s),
                    _ => {
                        let assigned = s["assigned"].as_u64().expect("assigned") as usize;
                        assert!(assigned <= MAX, "{who}: presence shows {s}");
                    }
                }
            }
            book
        }
    }));

    let sampler = async {
        let mut i = 0;
        while !stop.get() {
            let got = try_http(
                cluster.port(i % 3),
                "GET",
                "/v1/agents",
                Some(&admin),
                None,
                &[],
                WAIT,
            )
            .await;
            if let Ok((200, body)) = got {
                for a in body["live"].as_array().expect("live") {
                    let load = a["assigned"].as_u64().expect("assigned")
                        + a["offers"].as_u64().expect("offers");
                    assert!(load <= MAX as u64, "sample from n{}: {a}", i % 3);
                }
                samples.set(samples.get() + 1);
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    let control = async {
        let starts = (0..50).map(|i| {
            let cluster = &cluster;
            async move { cluster.customer(i % 3, &format!("rush{i}")).await }
        });
        let customers = futures_util::future::join_all(starts).await;
        // Settled: every agent full, the rest waiting, no offer out.
        eventually(
            "every agent full, the rest waiting, no offer out",
            LONG,
            || async {
                let full = accepted.borrow().values().sum::<usize>() == 4 * MAX;
                let (_, q) = cluster
                    .http(0, "GET", "/v1/queues/general", Some(&admin), None)
                    .await;
                if full && q["stats"]["waiting"] == 50 - 4 * MAX && q["stats"]["offered"] == 0 {
                    Ok(())
                } else {
                    Err(format!("accepted {:?}, queue {q}", accepted.borrow()))
                }
            },
        )
        .await;
        stop.set(true);
        customers
    };

    let (books, (), customers) = tokio::join!(work, sampler, control);
    assert!(samples.get() > 0, "GET /v1/agents was never sampled");

    // Nothing more is offered to the full agents.
    for (agent, book) in agents.iter_mut().zip(&books) {
        agent
            .ok(json!({ "type": "ping" }), Instant::now() + WAIT)
            .await;
        agent.absorb();
        let late: Vec<&Value> = agent
            .signals
            .iter()
            .filter(|s| s["signal"] == "offer")
            .collect();
        assert!(
            late.is_empty(),
            "{}: offered while full: {late:?}",
            agent.label
        );
        assert_eq!(book.accepted.len(), MAX, "{} is not full", agent.label);
        assert!(book.pending.is_empty());
    }
    let all: BTreeSet<&String> = books.iter().flat_map(|b| &b.accepted).collect();
    assert_eq!(all.len(), 4 * MAX, "a chat was assigned to two agents");

    // Every node tells the same final story.
    for i in 0..3 {
        let (_, live) = cluster
            .http(i, "GET", "/v1/agents", Some(&admin), None)
            .await;
        for id in ids {
            let a = live["live"]
                .as_array()
                .expect("live")
                .iter()
                .find(|a| a["id"] == id)
                .unwrap_or_else(|| panic!("n{i} does not report {id}: {live}"));
            assert_eq!(a["assigned"], MAX, "n{i}: {a}");
            assert_eq!(a["offers"], 0, "n{i}: {a}");
        }
        let (_, q) = cluster
            .http(i, "GET", "/v1/queues/general", Some(&admin), None)
            .await;
        assert_eq!(q["stats"]["waiting"], 50 - 4 * MAX, "n{i}: {q}");
    }
    drop(customers);
}

/// Test 3. Two agents on different nodes send `accept` for the same conversation at the same
/// moment (only one of them was offered it): exactly one wins, the other gets an error, and the
/// log records one assignment.
#[actix_web::test]
async fn two_agents_racing_to_accept_one_chat_have_one_winner() {
    let cluster = Cluster::start(3, |_| {}).await;
    let mut al = cluster.agent(0, "al").await;
    let mut bo = cluster.agent(1, "bo").await;
    for round in 0..4 {
        let (holder, other) = if round % 2 == 0 {
            (&mut al, &mut bo)
        } else {
            (&mut bo, &mut al)
        };
        let deadline = Instant::now() + WAIT;
        other
            .ok(json!({ "type": "status", "presence": "away" }), deadline)
            .await;
        holder
            .ok(
                json!({ "type": "status", "presence": "available" }),
                deadline,
            )
            .await;
        let (mut customer, conv) = cluster.customer(2, &format!("race{round}")).await;
        let offer = holder.signal("offer", WAIT).await;
        assert_eq!(offer["conversation"], conv.as_str());

        let cmd = json!({ "type": "accept", "conversation": conv });
        let deadline = Instant::now() + LONG;
        let (mine, theirs) = tokio::join!(
            holder.request(cmd.clone(), deadline),
            other.request(cmd.clone(), deadline)
        );
        assert_eq!(
            mine["type"], "ack",
            "round {round}: the offer holder lost: {mine} / {theirs}"
        );
        assert_eq!(
            theirs["type"], "error",
            "round {round}: both accepted: {mine} / {theirs}"
        );
        assert!(
            ["expired", "conflict", "not_found"].contains(&theirs["code"].as_str().unwrap_or("")),
            "round {round}: {theirs}"
        );

        let winner = holder.label.clone();
        customer
            .wait_until("assigned", WAIT, |p| p.log(&conv).has("assigned"))
            .await;
        let events = cluster.transcript(&conv).await;
        let assigned: Vec<&Value> = events.iter().filter(|e| e["kind"] == "assigned").collect();
        assert_eq!(assigned.len(), 1, "round {round}: {assigned:?}");
        assert_eq!(assigned[0]["agent"], winner.as_str());
        let owners = events
            .iter()
            .filter(|e| e["kind"] == "participant_joined" && e["role"] == "owner")
            .count();
        assert_eq!(owners, 1, "round {round}");
        check_transcript(&events, &[]);
    }
}

/// The agent's next `offer` or `offer_ended` signal; panics with `why` (and every signal it
/// got) if none comes before `deadline`.
async fn next_offer_news(agent: &mut Peer, deadline: Instant, why: &str) -> Value {
    let left = deadline.saturating_duration_since(Instant::now());
    match agent.next_signal(&["offer", "offer_ended"], left).await {
        Some(s) => s,
        None => panic!("{why}; signals: {:?}", agent.all_signals),
    }
}

/// Test 6. The chat starts on node A, so A owns the conversation and its offer; the agent is on
/// node B. A dies with the offer pending: the offer still ends (expired, on another node), once,
/// and the agent's slot comes back — it fills all three slots again.
#[actix_web::test]
async fn an_offer_pending_on_a_killed_node_expires_elsewhere_and_frees_the_agent() {
    let mut cluster = Cluster::start(3, |s| s.org_setting("offer_expiry_ms", json!(2000))).await;
    let mut al = cluster.agent(1, "al").await;
    let (_ada, conv) = cluster.customer(0, "ada").await;
    let mut book = OfferBook::default();
    let offer = al.signal("offer", WAIT).await;
    assert_eq!(book.offered("al", &offer, 3), conv);

    cluster.node(0).kill();
    let deadline = Instant::now() + RECOVERY + Duration::from_secs(2) + WAIT;
    while book.ended.iter().all(|(c, _)| c != &conv) {
        let s = next_offer_news(
            &mut al,
            deadline,
            &format!("the offer of {conv} never ended"),
        )
        .await;
        if s["signal"] == "offer" {
            book.offered("al", &s, 3);
        } else {
            book.offer_ended("al", &s);
        }
    }
    let outcome = &book
        .ended
        .iter()
        .find(|(c, _)| c == &conv)
        .expect("ended")
        .1;
    assert_eq!(outcome, "expired");

    // The slot is free again: with more chats waiting, Al fills all three slots.
    let mut customers = Vec::new();
    for i in 0..3 {
        customers.push(cluster.customer(2, &format!("more{i}")).await);
    }
    let deadline = Instant::now() + LONG;
    while book.accepted.len() < 3 {
        let why = format!(
            "Al holds {:?} and is offered nothing more: capacity leaked",
            book.accepted
        );
        let s = next_offer_news(&mut al, deadline, &why).await;
        if s["signal"] == "offer" {
            let c = book.offered("al", &s, 3);
            book.accept(&mut al, &c).await;
        } else {
            book.offer_ended("al", &s);
        }
    }

    // The REST view of the surviving nodes agrees: three assigned, no offer left over.
    let admin = cluster.admin_token();
    eventually("al: three assigned, no offer", WAIT, || async {
        let (_, live) = cluster
            .http(2, "GET", "/v1/agents", Some(&admin), None)
            .await;
        let a = live["live"]
            .as_array()
            .expect("live")
            .iter()
            .find(|a| a["id"] == "al")
            .cloned()
            .unwrap_or(Value::Null);
        if a["assigned"] == 3 && a["offers"] == 0 {
            Ok(())
        } else {
            Err(a.to_string())
        }
    })
    .await;
    drop(customers);
}

/// Test 7. The queue lives on node A (the chats start there). Chat 1 starts first and is
/// accepted; chat 2 starts and waits; then chat 1 is transferred back to the queue, so it joins
/// the line *behind* chat 2. A dies: the queue is rebuilt on another node from what was stored,
/// and it must keep that order (priority, then original enqueue time — not creation time): the
/// next offer is chat 2.
#[actix_web::test]
async fn a_queue_rebuilt_after_its_node_died_keeps_the_line_in_order() {
    let mut cluster = Cluster::start(2, |_| {}).await;
    // The first customer's start activates the queue, on node 0 (before any agent reports).
    let (_ada, first) = cluster.customer(0, "ada").await;
    let mut al = cluster.agent(1, "al").await;
    accept(&mut al, &first).await;
    al.ok(
        json!({ "type": "status", "presence": "away" }),
        Instant::now() + WAIT,
    )
    .await;
    let (_bea, second) = cluster.customer(0, "bea").await;
    al.ok(
        json!({ "type": "transfer", "conversation": first, "to_queue": "general" }),
        Instant::now() + WAIT,
    )
    .await;

    cluster.node(0).kill();
    // Once node 0 is declared gone its queue and conversations come back on node 1; an agent
    // who becomes available is offered the head of the line.
    al.ok(
        json!({ "type": "status", "presence": "available" }),
        Instant::now() + LONG,
    )
    .await;
    let offer = al.signal("offer", RECOVERY + WAIT).await;
    assert_eq!(
        offer["conversation"], second,
        "the rebuilt queue lost the order: {offer}"
    );
}
