//! Org rules: hours, reasons, origins, verified customers, blocklist, tenant isolation.

use serde_json::json;

use crate::helpers::*;
use switchboard::auth::Role;

fn closed_all_week() -> serde_json::Value {
    let days = [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
        "SUNDAY",
    ];
    json!({
        "ProfileId": "closed",
        "data": days.iter().map(|d| json!({
            "InteractionType": "Chat", "DayOfWeek": d, "TimeZoneId": "America/New_York",
            "OperationPeriod": [
                { "OperationPeriodId": "1", "StartTime": "00:00", "EndTime": "23:59", "IsBreak": false },
                { "OperationPeriodId": "2", "StartTime": "00:00", "EndTime": "23:59", "IsBreak": true }
            ]
        })).collect::<Vec<_>>()
    })
}

#[actix_web::test]
async fn outside_hours_a_start_is_refused_with_the_orgs_message() {
    let app = spawn_app_with(|orgs| {
        orgs[0]["hours"] = closed_all_week();
        orgs[0]["settings"]["messages"] = json!({ "outside_hours": "We are closed. Back at 9." });
    })
    .await;
    let token = app.visitor_token("t1", "night").await;
    let mut c = app.connect(&token).await;
    let err = c.err(json!({ "type": "start" }), "outside_hours").await;
    assert_eq!(err["message"], "We are closed. Back at 9.");
    let (_, widget) = app.http("GET", "/v1/orgs/t1/widget", None, None).await;
    assert_eq!(widget["open_now"], false);

    // Re-opening through the seed-style save API lets chats start again.
    let admin = app.admin_token("t1");
    let (status, _) = app
        .http(
            "POST",
            "/v1/hours/import",
            Some(&admin),
            Some(json!({ "ProfileId": "open", "data": [] })),
        )
        .await;
    assert_eq!(status, 200);
    c.ok(json!({ "type": "start" })).await;
}

#[actix_web::test]
async fn a_reason_is_mandatory_when_reasons_are_configured() {
    let app = spawn_app_with(|orgs| {
        orgs[0]["reasons"] = json!([
            { "id": "returns", "name": "Returns", "sequence": 1 },
            { "id": "billing", "name": "Billing", "sequence": 0, "queue": "billing" },
            { "id": "apples", "name": "apples" },
            { "id": "bananas", "name": "Bananas", "sequence": 1 }
        ]);
    })
    .await;
    let (_, page) = app
        .http("GET", "/v1/orgs/t1/reasons?page=1", None, None)
        .await;
    let names: Vec<&str> = page["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["Billing", "Bananas", "Returns", "apples"],
        "sequence, then name"
    );
    let (_, widget) = app.http("GET", "/v1/orgs/t1/widget", None, None).await;
    assert_eq!(widget["reason_required"], true);

    let token = app.visitor_token("t1", "why").await;
    let mut c = app.connect(&token).await;
    c.err(json!({ "type": "start" }), "reason_required").await;
    c.err(
        json!({ "type": "start", "reason": "made-up" }),
        "bad_request",
    )
    .await;
    c.ok(json!({ "type": "start", "reason": "billing" })).await;

    // The reason routed the chat to its queue: a billing agent gets the offer.
    let mut bo = app.agent("bo", &["billing"]).await;
    let offer = bo.signal("offer").await;
    assert_eq!(offer["queue"], "billing");
}

#[actix_web::test]
async fn one_org_cannot_see_or_touch_anothers_conversation() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (_customer, conv) = app.customer_chat("iso").await;
    accept_next(&mut al).await;

    // An agent and an admin of org t2, same agent id, same queue names.
    let other = app.staff_token(
        "t2",
        "al",
        &[Role::Agent, Role::Supervisor, Role::Admin],
        &["general"],
    );
    let mut intruder = app.connect(&other).await;
    intruder
        .err(
            json!({ "type": "resume", "conversation": conv, "last_seq": 0 }),
            "not_found",
        )
        .await;
    intruder
        .err(
            json!({ "type": "send", "conversation": conv, "client_msg_id": "x", "text": "hi" }),
            "not_found",
        )
        .await;
    intruder
        .err(json!({ "type": "end", "conversation": conv }), "not_found")
        .await;
    intruder
        .err(
            json!({ "type": "transfer", "conversation": conv, "to_queue": "general" }),
            "not_found",
        )
        .await;
    let (status, body) = app
        .http(
            "GET",
            &format!("/v1/conversations/{conv}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");
    let (_, list) = app
        .http("GET", "/v1/conversations", Some(&other), None)
        .await;
    assert_eq!(list["conversations"], json!([]));
    let (status, _) = app
        .http(
            "GET",
            &format!("/v1/conversations/{conv}/transcript"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // A customer of t2 cannot reach it either, and a t1 customer cannot read someone else's.
    let t2_visitor = app.visitor_token("t2", "mal").await;
    let mut mal = app.connect(&t2_visitor).await;
    mal.err(
        json!({ "type": "resume", "conversation": conv, "last_seq": 0 }),
        "not_found",
    )
    .await;
    let t1_visitor = app.visitor_token("t1", "nosy").await;
    let mut nosy = app.connect(&t1_visitor).await;
    nosy.err(
        json!({ "type": "send", "conversation": conv, "client_msg_id": "x", "text": "hi" }),
        "not_found",
    )
    .await;
    // The real owner is unaffected.
    al.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "ok", "text": "fine" }))
        .await;
}

#[actix_web::test]
async fn a_verified_customer_skips_the_form_and_origins_are_checked() {
    let app =
        spawn_app_with(|orgs| set(orgs, 0, "allowed_origins", json!(["https://shop.example"])))
            .await;
    let token = switchboard::auth::Authenticator::mint_customer_with(
        "cust-secret",
        switchboard::ids::OrgId::parse("t1").expect("org"),
        switchboard::ids::CustomerId::parse("cust-42").expect("id"),
        "Verified Vera".into(),
        Some("vera@example.com".into()),
        600,
    )
    .expect("mint");
    let mut c = Client::open_with(app.port, Some("https://shop.example")).await;
    let hello = c.ok(json!({ "type": "hello", "token": token })).await;
    assert_eq!(hello["verified"], true);
    assert_eq!(hello["customer"], "cust-42");
    let conv = c.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    let created = c.event(&conv, "created").await;
    assert_eq!(created["event"]["verified"], true);
    assert_eq!(created["event"]["customer_name"], "Verified Vera");

    // A page on another origin is refused, and so is the pre-chat form from it.
    let mut evil = Client::open_with(app.port, Some("https://evil.example")).await;
    evil.err(json!({ "type": "hello", "token": token }), "forbidden")
        .await;
    let (status, _) = app
        .http_with(
            "POST",
            "/v1/orgs/t1/visitors",
            None,
            Some(json!({ "first_name": "E", "last_name": "V", "email": "e@v.example" })),
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(status, 403);
    // A token signed with the wrong secret is refused.
    let forged = switchboard::auth::Authenticator::mint_customer_with(
        "guess",
        switchboard::ids::OrgId::parse("t1").expect("org"),
        switchboard::ids::CustomerId::parse("cust-42").expect("id"),
        "Vera".into(),
        None,
        600,
    )
    .expect("mint");
    let mut f = Client::open(app.port).await;
    f.err(json!({ "type": "hello", "token": forged }), "unauthorized")
        .await;
}

#[actix_web::test]
async fn a_blocked_visitor_cannot_start_a_chat() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let (status, body) = app
        .http(
            "POST",
            "/v1/blocklist",
            Some(&admin),
            Some(json!({ "email": "spam@example.com", "reason": "abusive language" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .http(
            "POST",
            "/v1/orgs/t1/visitors",
            None,
            Some(json!({ "first_name": "S", "last_name": "P", "email": "SPAM@example.com" })),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "blocked");
    let (status, _) = app
        .http(
            "POST",
            "/v1/blocklist",
            Some(&admin),
            Some(json!({ "email": "x@example.com", "reason": "x".repeat(251) })),
        )
        .await;
    assert_eq!(status, 400, "reason is limited to 250 characters");
}
