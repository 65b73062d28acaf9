//! A customer's history by day and journey (seeds 001 and 004), and the conversation list's
//! date range and cursor pages — the same whether a conversation is live, finished or only in
//! the archive.

use serde_json::{json, Value};
use switchboard::auth::Role;

use crate::helpers::*;

/// A customer's chat from start to wrap-up: `hi` from the customer, `hello` from `agent`.
async fn chat_once(app: &TestApp, token: &str, agent: &mut Client, hi: &str) -> String {
    let mut customer = app.connect(token).await;
    let conv = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("conversation")
        .to_string();
    accept_next(agent).await;
    customer.event(&conv, "assigned").await;
    let id = hi.replace(' ', "-");
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": id, "text": hi }))
        .await;
    agent
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("r-{id}"), "text": "hello" }))
        .await;
    customer.ok(json!({ "type": "end", "conversation": conv })).await;
    agent
        .ok(json!({ "type": "wrap_up", "conversation": conv, "disposition": "resolved" }))
        .await;
    customer.close().await;
    conv
}

async fn customer_of(app: &TestApp, admin: &str, conv: &str) -> String {
    let (_, s) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(admin), None)
        .await;
    s["customer"].as_str().expect("customer").to_string()
}

/// Waits until the engine no longer holds `conv` (archived and past the hot grace period).
async fn gone_from_hot_storage(app: &TestApp, conv: &str) {
    let key = switchboard::ids::ConvKey {
        org: switchboard::ids::OrgId::parse("t1").expect("org"),
        id: switchboard::ids::ConversationId::parse(conv).expect("id"),
    };
    eventually(&format!("{conv} to leave hot storage"), || async {
        app.rt
            .engine
            .summary(&key)
            .await
            .expect("engine")
            .is_none()
            .then_some(())
    })
    .await;
}

fn ids(list: &Value) -> Vec<String> {
    list["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_string())
        .collect()
}

#[actix_web::test]
async fn the_list_pages_by_cursor_and_filters_by_date() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let mut al = app.agent("al", &["general"]).await;
    let token = app.visitor_token("t1", "ida").await;
    let mut convs = Vec::new();
    for hi in ["one", "two", "three"] {
        convs.push(chat_once(&app, &token, &mut al, hi).await);
    }
    let customer = customer_of(&app, &admin, &convs[0]).await;
    let newest_first: Vec<String> = convs.iter().rev().cloned().collect();

    let base = format!("/v1/conversations?customer={customer}");
    let (status, first) = app
        .http("GET", &format!("{base}&limit=2"), Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(ids(&first), newest_first[..2]);
    let cursor = first["next_cursor"].as_str().expect("a full page has a next cursor");
    let (_, second) = app
        .http("GET", &format!("{base}&limit=2&cursor={cursor}"), Some(&admin), None)
        .await;
    assert_eq!(ids(&second), newest_first[2..], "the next page starts after the first");
    assert!(second["next_cursor"].is_null(), "the last page has no cursor: {second}");

    // Dates: today (UTC) holds all three; yesterday and tomorrow none; an RFC 3339 time
    // before the second chat's start leaves only the first chat with `to`.
    let today = chrono::Utc::now().date_naive();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let (_, all) = app
        .http("GET", &format!("{base}&from={}&to={}", day(today), day(today)), Some(&admin), None)
        .await;
    assert_eq!(ids(&all), newest_first);
    let yesterday = day(today.pred_opt().expect("yesterday"));
    let (_, none) = app
        .http("GET", &format!("{base}&to={yesterday}"), Some(&admin), None)
        .await;
    assert_eq!(ids(&none), Vec::<String>::new());
    let (_, second_conv) = app
        .http("GET", &format!("/v1/conversations/{}", convs[1]), Some(&admin), None)
        .await;
    let started = second_conv["created_at"].as_str().expect("created_at");
    let enc = started.replace('+', "%2B");
    let (_, before) = app
        .http("GET", &format!("{base}&to={enc}"), Some(&admin), None)
        .await;
    assert_eq!(ids(&before), vec![convs[0].clone()]);
    let (_, from) = app
        .http("GET", &format!("{base}&from={enc}"), Some(&admin), None)
        .await;
    assert_eq!(ids(&from), vec![convs[2].clone(), convs[1].clone()]);

    for bad in ["cursor=nonsense", "from=yesterday", "to=2026-13-01", "limit=0"] {
        let (status, body) = app
            .http("GET", &format!("{base}&{bad}"), Some(&admin), None)
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "bad_request", "{bad}: {body}");
    }
}

#[actix_web::test]
async fn earlier_chats_come_by_day_newest_first_a_page_at_a_time_live_or_archived() {
    let app = spawn_app_configured(|s| s.archive.hot_grace_ms = 200, |_| {}).await;
    let mut al = app.agent("al", &["general"]).await;
    let admin = app.admin_token("t1");
    let token = app.visitor_token("t1", "jo").await;
    let first = chat_once(&app, &token, &mut al, "my order is late").await;
    gone_from_hot_storage(&app, &first).await;
    let second = chat_once(&app, &token, &mut al, "still late").await;
    // The current chat, open: the history leaves it out when asked to.
    let mut customer = app.connect(&token).await;
    let current = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("conversation")
        .to_string();
    accept_next(&mut al).await;
    let customer_id = customer_of(&app, &admin, &current).await;
    let al_token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let path = format!("/v1/customers/{customer_id}/history?exclude={current}&limit=2");

    let (status, page) = app.http("GET", &path, Some(&al_token), None).await;
    assert_eq!(status, 200, "{page}");
    let days = page["days"].as_array().expect("days");
    assert_eq!(days.len(), 1, "one day: {page}");
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(days[0]["date"], today.as_str());
    let convs = days[0]["conversations"].as_array().expect("conversations");
    assert_eq!(convs.len(), 1, "the current chat is left out: {page}");
    assert_eq!(convs[0]["conversation"]["id"], second.as_str());
    let texts: Vec<&str> = convs[0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "message")
        .map(|e| e["text"].as_str().expect("text"))
        .collect();
    assert_eq!(texts, vec!["still late", "hello"]);
    assert!(page["available_since"].is_null(), "more to come: {page}");

    // The next page: the first chat, only in the archive now, with its transcript; the end.
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (_, older) = app
        .http("GET", &format!("{path}&cursor={cursor}"), Some(&al_token), None)
        .await;
    let convs = older["days"][0]["conversations"].as_array().expect("conversations");
    assert_eq!(convs.len(), 1, "{older}");
    assert_eq!(convs[0]["conversation"]["id"], first.as_str());
    assert_eq!(convs[0]["events"][0]["kind"], "created", "from the archive: {older}");
    assert!(convs[0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["text"] == "my order is late"));
    assert!(older["next_cursor"].is_null());
    assert_eq!(
        older["available_since"], convs[0]["conversation"]["created_at"],
        "once all are loaded, how far back the history goes"
    );

    // Days follow the reader's time zone; a bad zone is refused.
    let (_, tokyo) = app
        .http("GET", &format!("{path}&tz=Asia/Tokyo"), Some(&al_token), None)
        .await;
    let created: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(tokyo["days"][0]["conversations"][0]["conversation"]["created_at"].clone())
            .expect("created_at");
    let in_tokyo = created
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive()
        .to_string();
    assert_eq!(tokyo["days"][0]["date"], in_tokyo.as_str());
    let (status, body) = app
        .http("GET", &format!("{path}&tz=Mars/Olympus"), Some(&al_token), None)
        .await;
    assert_eq!((status, &body["error"]["code"]), (400, &json!("bad_request")));

    // An agent of another queue sees none of it; another org's admin neither.
    let other = app.staff_token("t1", "zed", &[Role::Agent], &["billing"]);
    let (_, theirs) = app.http("GET", &path, Some(&other), None).await;
    assert_eq!(theirs["days"], json!([]), "{theirs}");
    let (_, t2) = app
        .http("GET", &path, Some(&app.admin_token("t2")), None)
        .await;
    assert_eq!(t2["days"], json!([]), "{t2}");
}

#[actix_web::test]
async fn the_journey_shows_each_interactions_steps_and_consultations_stay_out_of_the_consultants_history(
) {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let mut al = app.agent("al", &["general"]).await;
    let mut bo = app.agent("bo", &["billing"]).await;
    let mut cy = app.agent("cy", &["billing"]).await;
    let token = app.visitor_token("t1", "kim").await;

    // 1. Al takes it, consults Cy, transfers to Bo, the customer ends.
    let mut customer = app.connect(&token).await;
    let transferred = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("conversation")
        .to_string();
    accept_next(&mut al).await;
    al.ok(json!({ "type": "invite", "conversation": transferred, "role": "consult", "to_agent": "cy" }))
        .await;
    cy.signal("invitation").await;
    cy.ok(json!({ "type": "invite_accept", "conversation": transferred }))
        .await;
    cy.ok(json!({ "type": "leave", "conversation": transferred }))
        .await;
    al.ok(json!({ "type": "transfer", "conversation": transferred, "to_agent": "bo" }))
        .await;
    bo.signal("transfer_offer").await;
    bo.ok(json!({ "type": "transfer_accept", "conversation": transferred }))
        .await;
    customer
        .ok(json!({ "type": "end", "conversation": transferred }))
        .await;

    // 2. A chat nobody took: al is away, the customer gives up.
    al.ok(json!({ "type": "status", "presence": "away" })).await;
    let abandoned = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("conversation")
        .to_string();
    customer
        .ok(json!({ "type": "end", "conversation": abandoned }))
        .await;
    let customer_id = customer_of(&app, &admin, &transferred).await;

    let (status, journey) = app
        .http("GET", &format!("/v1/customers/{customer_id}/journey"), Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{journey}");
    let list = journey["interactions"].as_array().expect("interactions");
    assert_eq!(list.len(), 2, "{journey}");
    assert_eq!(list[0]["conversation"], abandoned.as_str());
    assert_eq!(list[0]["status"], "failed");
    assert!(list[0].get("agent").is_none(), "{journey}");
    assert_eq!(list[1]["conversation"], transferred.as_str());
    assert_eq!(list[1]["status"], "ended");
    assert_eq!(list[1]["agent"], "bo");
    let steps: Vec<(String, String)> = list[1]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            let who = s.get("agent").or(s.get("queue")).and_then(Value::as_str);
            (s["status"].as_str().expect("status").to_string(), who.unwrap_or("").to_string())
        })
        .collect();
    let want = [
        ("waiting", "general"),
        ("assigned", "al"),
        ("transferring", "bo"),
        ("assigned", "bo"),
        ("ended", ""),
    ];
    assert_eq!(
        steps,
        want.map(|(a, b)| (a.to_string(), b.to_string())).to_vec(),
        "the consultation is not a step"
    );
    assert!(list[1]["assigned_at"].is_string() && list[1]["ended_at"].is_string());

    // Cy (consulted, of another queue) has neither chat in her history or journey; Bo
    // (the owner in the end, same queue as Cy) sees the transferred one.
    let cy_token = app.staff_token("t1", "cy", &[Role::Agent], &["billing"]);
    let (_, cy_journey) = app
        .http("GET", &format!("/v1/customers/{customer_id}/journey"), Some(&cy_token), None)
        .await;
    assert_eq!(cy_journey["interactions"], json!([]), "{cy_journey}");
    let bo_token = app.staff_token("t1", "bo", &[Role::Agent], &["billing"]);
    let (_, bo_history) = app
        .http("GET", &format!("/v1/customers/{customer_id}/history"), Some(&bo_token), None)
        .await;
    let seen: Vec<&str> = bo_history["days"]
        .as_array()
        .expect("days")
        .iter()
        .flat_map(|d| d["conversations"].as_array().expect("conversations"))
        .map(|c| c["conversation"]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(seen, vec![transferred.as_str()]);

    let (status, body) = app
        .http("GET", "/v1/customers/not%20an%20id/journey", Some(&admin), None)
        .await;
    assert_eq!(status, 400, "{body}");
}
