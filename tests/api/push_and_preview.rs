//! What an agent puts on the customer's screen and what agents see of the customer's unsent
//! text (seed 004): `push_url` (a logged, public event the customer's page offers to open) and
//! the typing preview (live only, agents only, only where the org has it on).

use serde_json::{json, Value};

use crate::helpers::*;

async fn owned_chat(app: &TestApp) -> (Client, Client, String) {
    let mut al = app.agent("al", &["general"]).await;
    let (customer, conv) = app.customer_chat("ada").await;
    assert_eq!(accept_next(&mut al).await, conv);
    (al, customer, conv)
}

async fn transcript(app: &TestApp, conv: &str) -> Vec<Value> {
    let admin = app.admin_token("t1");
    let (status, body) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["events"].as_array().expect("events").clone()
}

#[actix_web::test]
async fn a_pushed_url_reaches_the_customer_as_its_own_event_exactly_once() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let push = json!({ "type": "push_url", "conversation": conv, "client_msg_id": "p1",
        "url": "https://shop.example.com/orders/42?tab=returns" });
    let ack = al.ok(push.clone()).await;
    assert_eq!(ack["duplicate"], false);
    let seq = ack["seq"].as_u64().expect("seq");
    let got = customer.event(&conv, "url_pushed").await;
    assert_eq!(got["seq"], seq);
    assert_eq!(got["event"]["visibility"], "public");
    assert_eq!(got["event"]["url"], "https://shop.example.com/orders/42?tab=returns");
    assert_eq!(got["event"]["author"]["id"], "al");
    // A retry is the same event.
    let again = al.ok(push).await;
    assert_eq!((again["seq"].as_u64(), again["duplicate"].as_bool()), (Some(seq), Some(true)));
    let pushed: Vec<_> = transcript(&app, &conv)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "url_pushed")
        .collect();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    // A customer cannot push; a URL is normalised (the host lower-cased) before it is logged.
    customer
        .err(
            json!({ "type": "push_url", "conversation": conv, "client_msg_id": "c1", "url": "https://example.com" }),
            "forbidden",
        )
        .await;
    al.ok(json!({ "type": "push_url", "conversation": conv, "client_msg_id": "p2", "url": "HTTP://Example.COM" }))
        .await;
    let got = customer
        .wait_for("the second push", |f| {
            is_event(f, &conv) && f["event"]["client_msg_id"] == "p2"
        })
        .await;
    assert_eq!(got["event"]["url"], "http://example.com/");
}

#[actix_web::test]
async fn bad_pushed_urls_are_refused_and_nothing_is_logged() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let long = format!("https://example.com/{}", "a".repeat(2100));
    let bad = [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/file",
        "example.com/orders",
        "https://",
        "https://user:secret@example.com/",
        "https://exa mple.com/",
        "https://example.com/\u{0}x",
        "",
        long.as_str(),
    ];
    for (i, url) in bad.iter().enumerate() {
        let e = al
            .err(
                json!({ "type": "push_url", "conversation": conv, "client_msg_id": format!("b{i}"), "url": url }),
                "bad_request",
            )
            .await;
        assert!(
            e["message"].as_str().unwrap_or("").starts_with("url"),
            "{url}: {e}"
        );
    }
    // Nobody else in the chat may push: an agent of another queue does not even see it.
    let mut bo = app.agent("bo", &["billing"]).await;
    bo.err(
        json!({ "type": "push_url", "conversation": conv, "client_msg_id": "x", "url": "https://example.com" }),
        "not_found",
    )
    .await;
    assert!(transcript(&app, &conv)
        .await
        .iter()
        .all(|e| e["kind"] != "url_pushed"));
    // After the end: `ended`.
    customer
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;
    al.event(&conv, "ended").await;
    al.err(
        json!({ "type": "push_url", "conversation": conv, "client_msg_id": "late", "url": "https://example.com" }),
        "ended",
    )
    .await;
    customer.barrier().await;
    assert!(customer
        .buffered(|f| is_event(f, &conv) && f["event"]["kind"] == "url_pushed")
        .is_empty());
}

async fn set_typing_preview(app: &TestApp, on: bool) {
    let admin = app.admin_token("t1");
    let (_, body) = app.http("GET", "/v1/settings", Some(&admin), None).await;
    let mut s = body["settings"].clone();
    s["typing_preview"] = json!(on);
    let (status, body) = app
        .http("PUT", "/v1/settings", Some(&admin), Some(s))
        .await;
    assert_eq!(status, 200, "{body}");
}

fn typing(conv: &str, on: bool, preview: &str) -> Value {
    json!({ "type": "typing", "conversation": conv, "on": on, "preview": preview })
}

#[actix_web::test]
async fn the_typing_preview_reaches_agents_only_when_the_org_has_it_on_and_is_never_logged() {
    let app = spawn_app().await;
    let (mut al, mut customer, conv) = owned_chat(&app).await;
    let (_, widget) = app.http("GET", "/v1/orgs/t1/widget", None, None).await;
    assert_eq!(widget["typing_preview"], false, "off by default");

    // Off: the agent learns that the customer types, never what.
    customer.ok(typing(&conv, true, "my card number is")).await;
    let got = al.signal("typing").await;
    assert_eq!(got["on"], true);
    assert!(got.get("preview").is_none(), "{got}");

    // On: the agents see the text; the widget config says so (the widget tells the customer).
    set_typing_preview(&app, true).await;
    let (_, widget) = app.http("GET", "/v1/orgs/t1/widget", None, None).await;
    assert_eq!(widget["typing_preview"], true);
    customer.ok(typing(&conv, true, "Where is my ord")).await;
    let got = al
        .wait_for("the preview", |f| f["signal"] == "typing" && f.get("preview").is_some())
        .await;
    assert_eq!(got["preview"], "Where is my ord");
    assert_eq!(got["who"], "customer");

    // A burst is throttled, and the latest text always arrives.
    for i in 0..8 {
        customer
            .ok(typing(&conv, true, &format!("Where is my order {i}")))
            .await;
    }
    al.wait_for("the last text of the burst", |f| {
        f["signal"] == "typing" && f["preview"] == "Where is my order 7"
    })
    .await;
    let burst = al.buffered(|f| {
        f["signal"] == "typing"
            && f["preview"]
                .as_str()
                .is_some_and(|p| p.starts_with("Where is my order "))
    });
    assert!(burst.len() <= 2, "not throttled: {burst:?}");

    // An agent's typing carries no preview; its typing reaches the customer without one.
    al.err(typing(&conv, true, "hello"), "bad_request").await;
    al.ok(json!({ "type": "typing", "conversation": conv, "on": true }))
        .await;
    let got = customer.signal("typing").await;
    assert!(got.get("preview").is_none(), "{got}");
    // The customer never gets its own preview back.
    customer.barrier().await;
    assert!(customer
        .buffered(|f| f["signal"] == "typing" && f.get("preview").is_some())
        .is_empty());

    // Turned off: previews stop at once.
    set_typing_preview(&app, false).await;
    customer.ok(typing(&conv, true, "secret draft")).await;
    let got = al
        .wait_for("typing without text", |f| {
            f["signal"] == "typing" && f.get("preview").is_none()
        })
        .await;
    assert_eq!(got["on"], true);
    // Never logged.
    let events = transcript(&app, &conv).await;
    let all = serde_json::to_string(&events).expect("json");
    assert!(!all.contains("Where is my ord") && !all.contains("secret draft"));
    // Oversized or control characters: refused like message text.
    customer
        .err(typing(&conv, true, &"x".repeat(5000)), "too_large")
        .await;
}
