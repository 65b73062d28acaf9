//! Offers, capacity, expiry and transfers.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn the_fourth_chat_is_not_offered_to_an_agent_holding_three() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let mut chats = Vec::new();
    for name in ["c1", "c2", "c3"] {
        let (customer, conv) = app.customer_chat(name).await;
        let got = accept_next(&mut al).await;
        assert_eq!(got, conv);
        chats.push(customer);
    }
    // A fourth chat waits: Al is full, nobody else is there.
    let (mut fourth, conv4) = app.customer_chat("c4").await;
    fourth.signal("all_busy").await;
    al.barrier().await;
    assert!(
        al.buffered(|f| f["signal"] == "offer").is_empty(),
        "Al was offered a 4th chat: {:?}",
        al.inbox
    );

    // Bo signs in: the fourth goes to Bo, never to Al.
    let mut bo = app.agent("bo", &["general"]).await;
    let offer = bo.signal("offer").await;
    assert_eq!(offer["conversation"], conv4.as_str());
    al.barrier().await;
    assert!(al.buffered(|f| f["signal"] == "offer").is_empty());

    // The REST view agrees: Al holds 3 of 3.
    let admin = app.admin_token("t1");
    let (_, agents) = app.http("GET", "/v1/agents", Some(&admin), None).await;
    let al_live = agents["live"]
        .as_array()
        .expect("live")
        .iter()
        .find(|a| a["id"] == "al")
        .cloned()
        .expect("al");
    assert_eq!(al_live["assigned"], 3);
    assert_eq!(al_live["max_chats"], 3);
}

#[actix_web::test]
async fn an_ignored_offer_expires_and_goes_to_the_next_agent_keeping_its_place() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "offer_expiry_ms", json!(300))).await;
    // Al becomes available first, so Al has been idle longest and gets the first offer.
    let mut al = app.agent("al", &["general"]).await;
    let mut bo = app.agent("bo", &["general"]).await;
    let (_c1, first) = app.customer_chat("early").await;
    let offer = al.signal("offer").await;
    assert_eq!(offer["conversation"], first.as_str());

    // Al does nothing: the offer expires, Al is told, and Bo gets it.
    let ended = al.signal("offer_ended").await;
    assert_eq!(ended["conversation"], first.as_str());
    assert_eq!(ended["outcome"], "expired");
    let offer = bo.signal("offer").await;
    assert_eq!(offer["conversation"], first.as_str());
    // Accepting the expired offer is refused.
    al.err(
        json!({ "type": "accept", "conversation": first }),
        "expired",
    )
    .await;
    bo.ok(json!({ "type": "accept", "conversation": first }))
        .await;

    let admin = app.admin_token("t1");
    let (_, m) = app.http("GET", "/metrics", Some(&admin), None).await;
    assert!(
        m.as_str()
            .expect("text")
            .contains("switchboard_offers_total{outcome=\"expired\"} 1"),
        "{m}"
    );
}

#[actix_web::test]
async fn a_rejected_offer_goes_to_the_next_agent_and_queue_order_holds() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (_c1, first) = app.customer_chat("one").await;
    let (_c2, second) = app.customer_chat("two").await;
    // Al can take all; the first offer is for the first customer.
    let offer = al.signal("offer").await;
    assert_eq!(offer["conversation"], first.as_str(), "oldest first");
    al.ok(json!({ "type": "reject", "conversation": first }))
        .await;
    // The rejected chat keeps its place: when Bo arrives, Bo is offered the first chat.
    let mut bo = app.agent("bo", &["general"]).await;
    let got = bo
        .wait_for("offer for first", |f| {
            f["signal"] == "offer" && f["conversation"] == first.as_str()
        })
        .await;
    assert_eq!(got["conversation"], first.as_str());
    let _ = second;
}

#[actix_web::test]
async fn transfer_to_an_agent_accepted() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("tara").await;
    accept_next(&mut al).await;
    let mut bo = app.agent("bo", &["billing"]).await;

    al.ok(json!({ "type": "transfer", "conversation": conv, "to_agent": "bo", "note": "billing issue" })).await;
    let req = bo.signal("transfer_offer").await;
    assert_eq!(req["conversation"], conv.as_str());
    assert_eq!(req["from"], "al");
    assert_eq!(req["note"], "billing issue");
    al.event(&conv, "transfer_requested").await;

    bo.ok(json!({ "type": "transfer_accept", "conversation": conv }))
        .await;
    // Both agents are told; the customer sees the owner change but no routing details.
    al.event(&conv, "transfer_accepted").await;
    let left = al.signal("left").await;
    assert_eq!(left["conversation"], conv.as_str());
    bo.signal("joined").await;
    bo.event(&conv, "transfer_accepted").await;
    let joined = customer
        .wait_for("bo joined", |f| {
            f["event"]["kind"] == "participant_joined" && f["event"]["participant"] == "bo"
        })
        .await;
    assert_eq!(joined["event"]["role"], "owner");

    // Bo now owns it: Bo can send, Al cannot.
    bo.ok(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "b1", "text": "Bo here" }),
    )
    .await;
    al.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "a9", "text": "me?" }),
        "forbidden",
    )
    .await;
    customer.barrier().await;
    assert!(customer
        .buffered(|f| f["event"]["kind"]
            .as_str()
            .is_some_and(|k| k.starts_with("transfer")))
        .is_empty());
}

#[actix_web::test]
async fn transfer_to_an_agent_rejected_stays_with_the_sender() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (_customer, conv) = app.customer_chat("tom").await;
    accept_next(&mut al).await;
    let mut bo = app.agent("bo", &["billing"]).await;

    al.ok(json!({ "type": "transfer", "conversation": conv, "to_agent": "bo" }))
        .await;
    bo.signal("transfer_offer").await;
    bo.ok(json!({ "type": "transfer_reject", "conversation": conv }))
        .await;
    let rejected = al.event(&conv, "transfer_rejected").await;
    assert_eq!(rejected["event"]["to"], "bo");
    // Still Al's: Al can chat and even transfer again.
    al.ok(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "a2", "text": "still me" }),
    )
    .await;
    bo.err(
        json!({ "type": "transfer_accept", "conversation": conv }),
        "expired",
    )
    .await;
}

#[actix_web::test]
async fn transfer_to_an_agent_expires_and_both_sides_are_told() {
    let app = spawn_app_with(|orgs| set(orgs, 0, "transfer_expiry_ms", json!(300))).await;
    let mut al = app.agent("al", &["general"]).await;
    let (_customer, conv) = app.customer_chat("ty").await;
    accept_next(&mut al).await;
    let mut bo = app.agent("bo", &["billing"]).await;

    al.ok(json!({ "type": "transfer", "conversation": conv, "to_agent": "bo" }))
        .await;
    bo.signal("transfer_offer").await;
    let expired = al.event(&conv, "transfer_expired").await;
    assert_eq!(expired["event"]["to"], "bo");
    let gone = bo.signal("transfer_ended").await;
    assert_eq!(gone["outcome"], "expired");
    bo.err(
        json!({ "type": "transfer_accept", "conversation": conv }),
        "expired",
    )
    .await;
    al.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a3", "text": "back to me" })).await;
}

#[actix_web::test]
async fn transfer_respects_the_targets_capacity() {
    let app = spawn_app_with(|orgs| {
        orgs[0]["agents"] = json!([{ "id": "bo", "name": "Bo", "max_chats": 1 }]);
    })
    .await;
    let mut bo = app.agent("bo", &["general"]).await;
    let (_c1, _conv1) = app.customer_chat("x1").await;
    accept_next(&mut bo).await;
    let mut al = app.agent("al", &["general"]).await;
    let (_c2, conv2) = app.customer_chat("x2").await;
    accept_next(&mut al).await;
    al.err(
        json!({ "type": "transfer", "conversation": conv2, "to_agent": "bo" }),
        "capacity",
    )
    .await;
    al.err(
        json!({ "type": "transfer", "conversation": conv2, "to_agent": "nobody" }),
        "unavailable",
    )
    .await;
}

#[actix_web::test]
async fn transfer_to_a_queue_requeues_and_frees_the_sender() {
    let app = spawn_app_with(|orgs| {
        orgs[0]["agents"] = json!([{ "id": "al", "name": "Al", "max_chats": 1 }]);
    })
    .await;
    let mut al = app.agent("al", &["general"]).await;
    let mut cy = app.agent("cy", &["billing"]).await;
    let (_customer, conv) = app.customer_chat("qq").await;
    accept_next(&mut al).await;

    al.ok(json!({ "type": "transfer", "conversation": conv, "to_queue": "billing" }))
        .await;
    al.signal("left").await;
    let offer = cy.signal("offer").await;
    assert_eq!(offer["conversation"], conv.as_str());
    assert_eq!(offer["queue"], "billing");
    cy.ok(json!({ "type": "accept", "conversation": conv }))
        .await;

    // Al's only slot is free again: the next general chat is offered to Al.
    let (_c2, next) = app.customer_chat("rr").await;
    let offer = al.signal("offer").await;
    assert_eq!(offer["conversation"], next.as_str());
}

#[actix_web::test]
async fn queued_customers_get_their_position() {
    let app = spawn_app().await;
    let (mut a, _) = app.customer_chat("p1").await;
    let (mut b, conv_b) = app.customer_chat("p2").await;
    let pa = a.signal("position").await;
    assert_eq!(pa["position"], 1);
    let pb = b
        .wait_for("position 2", |f| {
            f["signal"] == "position" && f["position"] == 2
        })
        .await;
    assert_eq!(pb["conversation"], conv_b.as_str());
    let busy = b.signal("all_busy").await;
    assert!(busy["message"].as_str().expect("message").contains("busy"));

    // The first is taken; the second moves up.
    let mut al = app.agent("al", &["general"]).await;
    let offer = al.signal("offer").await;
    al.ok(json!({ "type": "accept", "conversation": offer["conversation"] }))
        .await;
    let moved = b
        .wait_for("position 1", |f| {
            f["signal"] == "position" && f["position"] == 1
        })
        .await;
    assert_eq!(moved["conversation"], conv_b.as_str());
}

#[actix_web::test]
async fn an_agent_going_offline_hands_its_offer_to_the_next_agent() {
    let app = spawn_app().await;
    let al = app.agent("al", &["general"]).await;
    let (_c, conv) = app.customer_chat("zz").await;
    // Wait until Al holds the offer, then Al disconnects.
    let mut al = al;
    al.signal("offer").await;
    al.close().await;
    let mut bo = app.agent("bo", &["general"]).await;
    let offer = bo.signal("offer").await;
    assert_eq!(offer["conversation"], conv.as_str());
}

#[actix_web::test]
async fn going_offline_withdraws_offers_visibly_and_strangers_cannot_transfer() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (_c, conv) = app.customer_chat("off").await;
    al.signal("offer").await;
    al.ok(json!({ "type": "status", "presence": "offline" }))
        .await;
    let ended = al.signal("offer_ended").await;
    assert_eq!(ended["outcome"], "rescinded");
    let mut bo = app.agent("bo", &["general"]).await;
    accept_next(&mut bo).await;
    // Al never held the chat: to Al it does not exist.
    al.err(
        json!({ "type": "transfer", "conversation": conv, "to_queue": "billing" }),
        "not_found",
    )
    .await;
}

/// Invariant 4 under concurrency: 20 chats start at once against 3 agents with 3 slots each.
/// Pending offers count against capacity, so each agent is offered exactly 3 and no more, even
/// before accepting; freed slots are refilled one for one.
#[actix_web::test]
async fn concurrent_starts_never_push_an_agent_past_its_capacity() {
    let app = spawn_app().await;
    let mut agents = Vec::new();
    for id in ["a1", "a2", "a3"] {
        agents.push(app.agent(id, &["general"]).await);
    }
    let starts = (0..20).map(|i| {
        let app = &app;
        async move { app.customer_chat(&format!("rush{i}")).await }
    });
    let mut customers = futures_util::future::join_all(starts).await;

    let offers_of = |c: &Client| -> Vec<String> {
        c.buffered(|f| f["signal"] == "offer")
            .iter()
            .map(|f| f["conversation"].as_str().expect("id").to_string())
            .collect()
    };
    let mut held = Vec::new();
    for agent in agents.iter_mut() {
        // Three offers arrive; a barrier then shows there is no fourth. (Each `signal` takes a
        // new offer out of the inbox: waiting three times waits for three distinct offers.)
        let mut offers = Vec::new();
        for _ in 0..3 {
            let offer = agent.signal("offer").await;
            offers.push(offer["conversation"].as_str().expect("id").to_string());
        }
        agent.barrier().await;
        offers.extend(offers_of(agent));
        assert_eq!(
            offers.len(),
            3,
            "pending offers count against capacity: {offers:?}"
        );
        for conv in &offers {
            agent
                .ok(json!({ "type": "accept", "conversation": conv }))
                .await;
        }
        agent.inbox.retain(|f| f["signal"] != "offer");
        held.push(offers);
    }
    for agent in agents.iter_mut() {
        agent.barrier().await;
        assert!(
            offers_of(agent).is_empty(),
            "a full agent got an offer: {:?}",
            agent.inbox
        );
    }

    // Customers of the first agent's chats leave: exactly that many new offers reach that agent.
    for conv in &held[0][..2] {
        let customer = customers
            .iter_mut()
            .find(|(_, c)| c == conv)
            .expect("customer");
        customer
            .0
            .ok(json!({ "type": "end", "conversation": conv }))
            .await;
    }
    let a1 = &mut agents[0];
    let mut refills = Vec::new();
    for _ in 0..2 {
        refills.push(a1.signal("offer").await);
    }
    a1.barrier().await;
    refills.extend(a1.buffered(|f| f["signal"] == "offer"));
    assert_eq!(refills.len(), 2, "two slots freed, two offers: {refills:?}");

    let admin = app.admin_token("t1");
    let (_, q) = app
        .http("GET", "/v1/queues/general", Some(&admin), None)
        .await;
    assert_eq!(
        q["stats"]["waiting"],
        11 - 2 + 2,
        "20 started, 9 assigned, 2 ended, 2 offered but still waiting: {q}"
    );
    let (_, live) = app.http("GET", "/v1/agents", Some(&admin), None).await;
    for a in live["live"].as_array().expect("live") {
        let load = a["assigned"].as_u64().expect("n") + a["offers"].as_u64().expect("n");
        assert!(load <= 3, "agent over capacity: {a}");
    }
}

/// PROTOCOL §4.9 lets a transfer target `resume` the conversation while the request is
/// pending; once the request ends without acceptance that access is gone (§4.15: "the target
/// does not follow the conversation"), so the target's session is told `left` and gets none of
/// the conversation's later events — neither customer messages nor internal notes.
async fn a_refused_transfer_target_stops_following(expire: bool) {
    let app = spawn_app_with(|orgs| set(orgs, 0, "transfer_expiry_ms", json!(1500))).await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("leak").await;
    accept_next(&mut al).await;
    let mut bo = app.agent("bo", &["billing"]).await;

    al.ok(json!({ "type": "transfer", "conversation": conv, "to_agent": "bo" }))
        .await;
    bo.signal("transfer_offer").await;
    bo.ok(json!({ "type": "resume", "conversation": conv }))
        .await;
    if expire {
        let gone = bo.signal("transfer_ended").await;
        assert_eq!(gone["outcome"], "expired");
        al.event(&conv, "transfer_expired").await;
    } else {
        bo.ok(json!({ "type": "transfer_reject", "conversation": conv }))
            .await;
        al.event(&conv, "transfer_rejected").await;
    }
    let left = bo.signal("left").await;
    assert_eq!(left["conversation"], conv.as_str());
    bo.inbox.clear();

    customer.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "secret", "text": "my card number" })).await;
    al.ok(json!({ "type": "note", "conversation": conv, "text": "internal only" }))
        .await;
    al.event(&conv, "message").await;
    al.event(&conv, "note").await;
    // Everything the server queued for Bo before answering this ping is in Bo's inbox now.
    bo.barrier().await;
    let leaked = bo.buffered(|f| is_event(f, &conv));
    assert!(leaked.is_empty(), "Bo still follows the chat: {leaked:?}");
    bo.err(
        json!({ "type": "resume", "conversation": conv }),
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn a_rejecting_transfer_target_who_resumed_stops_following() {
    a_refused_transfer_target_stops_following(false).await;
}

#[actix_web::test]
async fn an_expired_transfer_target_who_resumed_stops_following() {
    a_refused_transfer_target_stops_following(true).await;
}

/// §4.14: `transfer_accept` is followed by `joined` even when the target already follows the
/// conversation because it resumed it while the request was pending (§4.9).
#[actix_web::test]
async fn a_transfer_target_who_resumed_gets_joined_on_accept() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (_customer, conv) = app.customer_chat("join").await;
    accept_next(&mut al).await;
    let mut bo = app.agent("bo", &["billing"]).await;

    al.ok(json!({ "type": "transfer", "conversation": conv, "to_agent": "bo" }))
        .await;
    bo.signal("transfer_offer").await;
    bo.ok(json!({ "type": "resume", "conversation": conv }))
        .await;
    bo.ok(json!({ "type": "transfer_accept", "conversation": conv }))
        .await;
    let joined = bo.signal("joined").await;
    assert_eq!(joined["conversation"], conv.as_str());
    bo.event(&conv, "transfer_accepted").await;
    al.signal("left").await;
}

/// §9.3: higher queue priority is served first — also across the queues of one agent. Chats
/// wait in `low` (priority 0) and `high` (priority 5); Al, in both with one slot and listing
/// `low` first in the token, comes available: the first offer is the high-priority chat.
#[actix_web::test]
async fn an_agent_in_several_queues_is_offered_the_highest_priority_chat_first() {
    let app = spawn_app_with(|orgs| {
        orgs[0]["queues"] = json!([
            { "id": "general", "name": "General" },
            { "id": "low", "name": "Low", "priority": 0 },
            { "id": "high", "name": "High", "priority": 5 }
        ]);
        orgs[0]["agents"] = json!([{ "id": "al", "name": "Al", "max_chats": 1 }]);
    })
    .await;
    let mut chats = Vec::new();
    for (name, queue) in [("lo", "low"), ("hi", "high")] {
        let token = app.visitor_token("t1", name).await;
        let mut c = app.connect(&token).await;
        let data = c.ok(json!({ "type": "start", "queue": queue })).await;
        let conv = data["conversation"].as_str().expect("id").to_string();
        c.signal("all_busy").await;
        chats.push((c, conv));
    }
    let high = chats[1].1.clone();
    let mut al = app.agent("al", &["low", "high"]).await;
    let offer = al.signal("offer").await;
    assert_eq!(
        offer["conversation"],
        high.as_str(),
        "the low-priority chat was offered first: {offer}"
    );
    assert_eq!(offer["queue"], "high");
}
