//! REST configuration writes: each resource kept as a list in the org document (queues, agents,
//! reasons, dispositions, blocklist) is replaced or added by its key and removed exactly once.

use serde_json::{json, Value};

use crate::helpers::*;

/// `PUT path` twice (the first adds, the second replaces), then `DELETE path` twice (the first
/// removes, the second is `404 {what} not found`); `list` is where the list of the resource is
/// read back, under `field`.
async fn upsert_then_remove(
    app: &TestApp,
    path: &str,
    first: Value,
    second: Value,
    (list, field): (&str, &str),
    what: &str,
) {
    let admin = app.admin_token("t1");
    let (status, added) = app.http("PUT", path, Some(&admin), Some(first)).await;
    assert_eq!(status, 200, "{path}: {added}");
    let (status, replaced) = app.http("PUT", path, Some(&admin), Some(second)).await;
    assert_eq!(status, 200, "{path}: {replaced}");
    let (_, body) = app.http("GET", list, Some(&admin), None).await;
    let same_key: Vec<&Value> = body[field]
        .as_array()
        .expect("list")
        .iter()
        .filter(|x| *x == &replaced)
        .collect();
    assert_eq!(same_key.len(), 1, "{path} is stored once, replaced: {body}");
    assert!(
        !body[field].as_array().expect("list").contains(&added),
        "{path}: the first version is gone: {body}"
    );

    let (status, _) = app.http("DELETE", path, Some(&admin), None).await;
    assert_eq!(status, 204, "{path}");
    let (status, body) = app.http("DELETE", path, Some(&admin), None).await;
    assert_eq!(status, 404, "{path}: {body}");
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["message"], format!("{what} not found"));
}

#[actix_web::test]
async fn queues_agents_reasons_and_dispositions_are_replaced_by_key_and_removed_once() {
    let app = spawn_app().await;
    upsert_then_remove(
        &app,
        "/v1/queues/vip",
        json!({ "name": "VIP" }),
        json!({ "name": "Very important", "priority": 7 }),
        ("/v1/queues", "queues"),
        "queue",
    )
    .await;
    upsert_then_remove(
        &app,
        "/v1/agents/al",
        json!({ "name": "Al" }),
        json!({ "name": "Alice", "max_chats": 2, "queues": ["general"] }),
        ("/v1/agents", "profiles"),
        "agent",
    )
    .await;
    upsert_then_remove(
        &app,
        "/v1/reasons/r1",
        json!({ "name": "Orders" }),
        json!({ "name": "Orders", "description": "Where is it?", "sequence": 1, "queue": "billing" }),
        ("/v1/reasons", "reasons"),
        "reason",
    )
    .await;
    upsert_then_remove(
        &app,
        "/v1/dispositions/callback",
        json!({ "label": "Call back" }),
        json!({ "label": "Call back later" }),
        ("/v1/dispositions", "dispositions"),
        "disposition",
    )
    .await;

    // The PUT answers with what was stored, the id taken from the path.
    let admin = app.admin_token("t1");
    let (_, q) = app
        .http(
            "PUT",
            "/v1/queues/vip",
            Some(&admin),
            Some(json!({ "name": "VIP" })),
        )
        .await;
    assert_eq!(q, json!({ "id": "vip", "name": "VIP", "priority": 0 }));
    // A change that leaves the document invalid is refused and nothing is stored.
    let (status, body) = app
        .http(
            "PUT",
            "/v1/reasons/r9",
            Some(&admin),
            Some(json!({ "name": "Bad", "queue": "nope" })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, reasons) = app.http("GET", "/v1/reasons", Some(&admin), None).await;
    assert_eq!(reasons["reasons"], json!([]));
}

#[actix_web::test]
async fn a_new_agent_capacity_reaches_the_signed_in_agent_at_once() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    al.barrier().await;
    let admin = app.admin_token("t1");
    let (status, body) = app
        .http(
            "PUT",
            "/v1/agents/al",
            Some(&admin),
            Some(json!({ "name": "Al", "max_chats": 1 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    al.wait_for("presence with the new capacity", |f| {
        f["type"] == "signal" && f["signal"] == "presence" && f["max_chats"] == 1
    })
    .await;
}

#[actix_web::test]
async fn blocklist_entries_are_removed_by_customer_or_email() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    for email in ["spam@example.com", "junk@example.com"] {
        let (status, body) = app
            .http(
                "POST",
                "/v1/blocklist",
                Some(&admin),
                Some(json!({ "email": email, "reason": "abuse" })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["email"], email);
    }
    let (status, _) = app
        .http(
            "DELETE",
            "/v1/blocklist?email=SPAM@example.com",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 204, "emails match whatever their case");
    let (_, list) = app.http("GET", "/v1/blocklist", Some(&admin), None).await;
    let left: Vec<&Value> = list["blocklist"]
        .as_array()
        .expect("list")
        .iter()
        .map(|b| &b["email"])
        .collect();
    assert_eq!(left, [&json!("junk@example.com")]);
    let (status, body) = app
        .http(
            "DELETE",
            "/v1/blocklist?email=spam@example.com",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["message"], "blocklist entry not found");
}
