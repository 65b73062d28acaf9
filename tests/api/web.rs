//! What the browser clients (widget, console) need from the server: the assets and their
//! headers, cross-origin access for the widget, the transfer directory, the console's
//! pending-response thresholds, and the queue position told again on resume.

use serde_json::json;

use crate::helpers::*;
use switchboard::auth::Role;

/// A raw GET: status, headers, body text.
async fn get(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, awc::http::header::HeaderMap, String) {
    let client = awc::Client::builder().timeout(WAIT).finish();
    let mut req = client.get(app.url(path));
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    let mut resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.body().limit(1 << 20).await.expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn header<'a>(h: &'a awc::http::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[actix_web::test]
async fn the_widget_console_and_snippet_are_served_with_safe_headers() {
    let app = spawn_app().await;
    let cases = [
        ("/widget.js", "text/javascript", "window.Switchboard", false),
        ("/widget.css", "text/css", ".sb-launcher", false),
        ("/console", "text/html", "/console.js", true),
        ("/console.js", "text/javascript", "/v1/ws", false),
        ("/console.css", "text/css", ".chat-item", false),
        ("/snippet", "text/html", "/snippet.js", true),
        ("/snippet.js", "text/javascript", "widget.js", false),
        ("/demo", "text/html", "/demo.js", true),
        ("/demo.js", "text/javascript", "data-org", false),
    ];
    for (path, kind, needle, page) in cases {
        let (status, h, body) = get(&app, path, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            header(&h, "content-type").starts_with(kind),
            "{path}: {h:?}"
        );
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path}");
        assert!(body.contains(needle), "{path} should contain {needle}");
        let csp = header(&h, "content-security-policy");
        if page {
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
        }
    }
    let (_, h, _) = get(&app, "/console", &[]).await;
    assert!(header(&h, "content-security-policy").contains("frame-ancestors 'none'"));
    // No page uses inline scripts, which the policy would block.
    for path in ["/console", "/snippet", "/demo"] {
        let (_, _, body) = get(&app, path, &[]).await;
        assert!(!body.contains("<script>"), "{path} has an inline script");
        assert!(!body.contains(" style=\""), "{path} has an inline style");
    }
}

#[actix_web::test]
async fn the_widget_routes_answer_cross_origin_requests() {
    let app = spawn_app().await;
    let shop = [("Origin", "https://shop.example")];
    let (status, h, _) = get(&app, "/v1/orgs/t1/widget", &shop).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), "*");
    let (status, h, _) = get(&app, "/v1/orgs/t1/reasons?page=1", &shop).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "access-control-allow-origin"), "*");
    // Errors are readable cross-origin too.
    let (status, h, _) = get(&app, "/v1/orgs/nope/widget", &shop).await;
    assert_eq!(status, 404);
    assert_eq!(header(&h, "access-control-allow-origin"), "*");

    // The JSON POST of the pre-chat form is preflighted.
    let client = awc::Client::builder().timeout(WAIT).finish();
    let resp = client
        .request(awc::http::Method::OPTIONS, app.url("/v1/orgs/t1/visitors"))
        .insert_header(("Origin", "https://shop.example"))
        .insert_header(("Access-Control-Request-Method", "POST"))
        .insert_header(("Access-Control-Request-Headers", "content-type"))
        .send()
        .await
        .expect("preflight");
    assert_eq!(resp.status().as_u16(), 200);
    let h = resp.headers();
    assert_eq!(header(h, "access-control-allow-origin"), "*");
    assert!(header(h, "access-control-allow-methods").contains("POST"));
    assert!(header(h, "access-control-allow-headers").contains("content-type"));
    assert_eq!(header(h, "access-control-max-age"), "600");
    // A preflight for what the routes do not take is refused.
    for (method, headers) in [("DELETE", "content-type"), ("POST", "authorization")] {
        let resp = client
            .request(awc::http::Method::OPTIONS, app.url("/v1/orgs/t1/visitors"))
            .insert_header(("Origin", "https://shop.example"))
            .insert_header(("Access-Control-Request-Method", method))
            .insert_header(("Access-Control-Request-Headers", headers))
            .send()
            .await
            .expect("preflight");
        assert_eq!(resp.status().as_u16(), 400, "{method} with {headers}");
        assert!(resp.headers().get("access-control-allow-origin").is_none());
    }
    let (status, body) = app
        .http_with(
            "POST",
            "/v1/orgs/t1/visitors",
            None,
            Some(json!({ "first_name": "A", "last_name": "B", "email": "a@b.example" })),
            &shop,
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The org's allowed origins still decide who may open chats.
    let app =
        spawn_app_with(|orgs| set(orgs, 0, "allowed_origins", json!(["https://shop.example"])))
            .await;
    let (status, _) = app
        .http_with(
            "POST",
            "/v1/orgs/t1/visitors",
            None,
            Some(json!({ "first_name": "A", "last_name": "B", "email": "a@b.example" })),
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(status, 403);
}

/// The widget uploads and downloads files from the shop's pages: both routes answer a
/// preflight for the bearer token, and their answers (errors too) are readable cross-origin.
#[actix_web::test]
async fn the_file_routes_answer_cross_origin_requests() {
    let app = spawn_app().await;
    let client = awc::Client::builder().timeout(WAIT).finish();
    for (method, path, headers) in [
        ("POST", "/v1/conversations/c_x/attachments?name=a.png", "authorization, content-type"),
        ("GET", "/v1/attachments/a_x", "authorization"),
    ] {
        let resp = client
            .request(awc::http::Method::OPTIONS, app.url(path))
            .insert_header(("Origin", "https://shop.example"))
            .insert_header(("Access-Control-Request-Method", method))
            .insert_header(("Access-Control-Request-Headers", headers))
            .send()
            .await
            .expect("preflight");
        assert_eq!(resp.status().as_u16(), 200, "{method} {path}");
        let h = resp.headers();
        assert_eq!(header(h, "access-control-allow-origin"), "*");
        assert!(header(h, "access-control-allow-methods").contains(method));
        assert!(header(h, "access-control-allow-headers").contains("authorization"));
        assert!(h.get("access-control-allow-credentials").is_none(), "no cookies");
    }
    // An answer is readable by the page, with the headers it needs.
    let (status, h, _) = get(&app, "/v1/attachments/a_x", &[("Origin", "https://shop.example")]).await;
    assert_eq!(status, 401);
    assert_eq!(header(&h, "access-control-allow-origin"), "*");
    assert!(header(&h, "access-control-expose-headers").contains("content-disposition"));
}

#[actix_web::test]
async fn agents_get_a_directory_of_transfer_targets() {
    let app = spawn_app_with(|orgs| {
        orgs[0]["agents"] = json!([
            { "id": "al", "name": "Al Agent", "queues": ["general"] },
            { "id": "bo", "name": "Bo Agent", "queues": ["general"] }
        ]);
    })
    .await;
    let _al = app.agent("al", &["general"]).await;
    let token = app.staff_token("t1", "cy", &[Role::Agent], &["general"]);
    let _cy = app.connect(&token).await;

    let (status, body) = app.http("GET", "/v1/directory", Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    let agents = body["agents"].as_array().expect("agents");
    let find = |id: &str| agents.iter().find(|a| a["id"] == id).cloned();
    let al = find("al").expect("al is listed");
    assert_eq!(al["name"], "Al Agent", "the profile's display name");
    assert_eq!(al["presence"], "available");
    assert_eq!(al["max_chats"], 3);
    assert_eq!(find("bo").expect("bo is listed")["presence"], "offline");
    assert_eq!(find("cy").expect("cy is listed")["presence"], "away");
    // Queues: only those the caller may see.
    assert_eq!(
        body["queues"],
        json!([{ "id": "general", "name": "General" }])
    );

    let (status, _) = app.http("GET", "/v1/directory", None, None).await;
    assert_eq!(status, 401);
    let other = app.staff_token("t2", "zed", &[Role::Agent], &["general"]);
    let (_, body) = app.http("GET", "/v1/directory", Some(&other), None).await;
    assert!(
        body["agents"]
            .as_array()
            .expect("agents")
            .iter()
            .all(|a| a["id"] != "al"),
        "another org's agents are not listed: {body}"
    );
}

#[actix_web::test]
async fn pending_response_thresholds_are_org_settings() {
    let app = spawn_app().await;
    let admin = app.admin_token("t1");
    let agent = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let (status, body) = app.http("GET", "/v1/settings", Some(&agent), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["settings"]["pending_yellow_ms"], 30_000);
    assert_eq!(body["settings"]["pending_red_ms"], 60_000);

    let mut s = body["settings"].clone();
    s["pending_yellow_ms"] = json!(10_000);
    s["pending_red_ms"] = json!(10_000);
    let (status, body) = app
        .http("PUT", "/v1/settings", Some(&admin), Some(s.clone()))
        .await;
    assert_eq!(status, 400, "red must come after yellow: {body}");
    s["pending_red_ms"] = json!(20_000);
    let (status, body) = app.http("PUT", "/v1/settings", Some(&admin), Some(s)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["settings"]["pending_red_ms"], 20_000);
}

#[actix_web::test]
async fn a_customer_back_on_a_waiting_chat_is_told_its_position_again() {
    let app = spawn_app().await;
    let token = app.visitor_token("t1", "ada").await;
    let mut first = app.connect(&token).await;
    let data = first.ok(json!({ "type": "start" })).await;
    let conv = data["conversation"].as_str().expect("conversation");
    let pos = first.signal("position").await;
    assert_eq!(pos["position"], 1);
    first.close().await;

    // The page reloads: the new connection follows the chat and learns its place again,
    // although the place did not change.
    let mut again = app.connect(&token).await;
    let pos = again.signal("position").await;
    assert_eq!(pos["conversation"], conv);
    assert_eq!(pos["position"], 1);
}
