//! Files in chats (docs/PROTOCOL.md §9.8): upload → message → download by every party allowed
//! to read the conversation and by nobody else; every bad upload refused with nothing stored;
//! bad attachment ids in a message refused with nothing logged; retries stored once; the
//! download headers; the scanning hook; the S3-compatible store.

use std::time::Instant;

use serde_json::{json, Value};
use switchboard::auth::Role;

use crate::helpers::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

/// Percent-encodes a query value (every byte but unreserved ones).
fn q(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Uploads `body` as `name` to `conv` with `token`.
async fn upload(app: &TestApp, token: &str, conv: &str, name: &str, body: &[u8]) -> (u16, Value) {
    let client = awc::Client::builder().timeout(WAIT).finish();
    let mut resp = client
        .post(app.url(&format!(
            "/v1/conversations/{conv}/attachments?name={}",
            q(name)
        )))
        .insert_header(("Authorization", format!("Bearer {token}")))
        // Ignored by the server: the content decides.
        .insert_header(("Content-Type", "application/pdf"))
        .send_body(body.to_vec())
        .await
        .expect("upload request");
    let status = resp.status().as_u16();
    let bytes = resp.body().await.expect("upload answer");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// An upload that must succeed: the attachment's id.
async fn uploaded(app: &TestApp, token: &str, conv: &str, name: &str, body: &[u8]) -> String {
    let (status, answer) = upload(app, token, conv, name, body).await;
    assert_eq!(status, 201, "upload of {name}: {answer}");
    answer["attachment"]["id"]
        .as_str()
        .expect("attachment id")
        .to_string()
}


/// A chat of org t1 with customer `name`, accepted by agent `al` (queue general).
async fn accepted_chat(app: &TestApp, name: &str) -> (Client, Client, String, String) {
    let mut agent = app.agent("al", &["general"]).await;
    let token = app.visitor_token("t1", name).await;
    let mut customer = app.connect(&token).await;
    let data = customer.ok(json!({ "type": "start" })).await;
    let conv = data["conversation"].as_str().expect("conv").to_string();
    accept_next(&mut agent).await;
    customer.event(&conv, "assigned").await;
    (customer, agent, conv, token)
}

/// The message events of a conversation's transcript (read as an admin).
async fn messages(app: &TestApp, conv: &str) -> Vec<Value> {
    let admin = app.admin_token("t1");
    let (status, t) = app
        .http(
            "GET",
            &format!("/v1/conversations/{conv}/transcript"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{t}");
    t["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "message")
        .cloned()
        .collect()
}

#[actix_web::test]
async fn a_file_goes_from_upload_to_message_to_every_party_allowed_to_read_it() {
    let app = spawn_app().await;
    let (mut customer, mut agent, conv, customer_token) = accepted_chat(&app, "ada").await;

    // The customer uploads a PNG (the Content-Type they sent is ignored) ...
    let (status, answer) = upload(&app, &customer_token, &conv, "screen shot.png", PNG).await;
    assert_eq!(status, 201, "{answer}");
    let a = &answer["attachment"];
    let id = a["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("a_"), "{a}");
    assert_eq!(a["name"], "screen shot.png");
    assert_eq!(a["size"], PNG.len());
    assert_eq!(a["type"], "image/png");
    assert_eq!(a["state"], "clean");
    assert_eq!(a["sha256"].as_str().map(str::len), Some(64));

    // ... and sends it, with no text: the agent's event carries the file's record.
    let ack = customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "f1", "attachments": [id] }))
        .await;
    let got = agent
        .wait_for("message with a file", |f| {
            is_event(f, &conv) && f["event"]["client_msg_id"] == "f1"
        })
        .await;
    assert_eq!(got["seq"], ack["seq"]);
    assert_eq!(got["event"]["text"], "");
    assert_eq!(
        got["event"]["attachments"],
        json!([{ "id": id, "name": "screen shot.png", "size": PNG.len(), "type": "image/png", "sha256": a["sha256"] }])
    );

    // The owner sends a PDF back with a text.
    let owner = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let pdf = uploaded(&app, &owner, &conv, "invoice.pdf", PDF).await;
    agent
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "f2", "text": "Your invoice", "attachments": [pdf] }))
        .await;
    let got = customer
        .wait_for("the agent's file", |f| {
            is_event(f, &conv) && f["event"]["client_msg_id"] == "f2"
        })
        .await;
    assert_eq!(got["event"]["attachments"][0]["type"], "application/pdf");

    // Readers: the customer, the owner, an agent of the queue (not in the chat), a supervisor.
    let queue_agent = app.staff_token("t1", "bo", &[Role::Agent], &["general"]);
    let supervisor = app.staff_token("t1", "sue", &[Role::Agent, Role::Supervisor], &[]);
    for (who, token) in [
        ("customer", &customer_token),
        ("owner", &owner),
        ("queue agent", &queue_agent),
        ("supervisor", &supervisor),
    ] {
        let d = download(&app, token, &format!("/v1/attachments/{id}")).await;
        assert_eq!(d.status, 200, "{who}");
        assert_eq!(d.body, PNG, "{who}");
        let d = download(&app, token, &format!("/v1/attachments/{pdf}")).await;
        assert_eq!((d.status, d.body.as_slice()), (200, PDF), "{who}");
        // What a client shows before fetching: the record and its state, no bytes.
        let d = download(&app, token, &format!("/v1/attachments/{pdf}/meta")).await;
        assert_eq!(d.status, 200, "{who}");
        let meta: Value = serde_json::from_slice(&d.body).expect("json");
        assert_eq!(meta["attachment"]["name"], "invoice.pdf", "{who}");
        assert_eq!(meta["attachment"]["state"], "clean", "{who}");
        assert_eq!(meta["attachment"]["size"], PDF.len(), "{who}");
    }

    // Headers: an attachment with the sniffed type, never sniffed by the browser, sandboxed,
    // not cached.
    let d = download(&app, &customer_token, &format!("/v1/attachments/{id}")).await;
    assert_eq!(d.headers["content-type"], "image/png");
    assert_eq!(
        d.headers["content-disposition"],
        "attachment; filename*=UTF-8''screen%20shot.png"
    );
    assert_eq!(d.headers["x-content-type-options"], "nosniff");
    assert_eq!(
        d.headers["content-security-policy"],
        "sandbox; default-src 'none'"
    );
    assert_eq!(d.headers["cache-control"], "private, no-store");
    assert_eq!(d.headers["content-length"], PNG.len().to_string());
    // A raster image may be shown inline when asked; a PDF (or an SVG) never.
    let d = download(&app, &customer_token, &format!("/v1/attachments/{id}?inline=1")).await;
    assert!(d.headers["content-disposition"].starts_with("inline;"));
    let d = download(&app, &customer_token, &format!("/v1/attachments/{pdf}?inline=1")).await;
    assert!(d.headers["content-disposition"].starts_with("attachment;"));
    let svg = uploaded(
        &app,
        &customer_token,
        &conv,
        "logo.svg",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
    )
    .await;
    let d = download(&app, &customer_token, &format!("/v1/attachments/{svg}?inline=1")).await;
    assert_eq!(d.status, 200);
    assert!(d.headers["content-disposition"].starts_with("attachment;"));
    assert_eq!(d.headers["content-type"], "image/svg+xml; charset=utf-8");

    // Nobody else learns the file exists: another visitor, an agent of another queue, another
    // org's admin — all 404, like an id that does not exist.
    let other_visitor = app.visitor_token("t1", "eve").await;
    let other_queue = app.staff_token("t1", "cy", &[Role::Agent], &["billing"]);
    let other_org = app.admin_token("t2");
    for (who, token) in [
        ("another visitor", &other_visitor),
        ("an agent of another queue", &other_queue),
        ("another org's admin", &other_org),
    ] {
        let d = download(&app, token, &format!("/v1/attachments/{id}")).await;
        assert_eq!(d.status, 404, "{who}");
        assert!(d.body != PNG, "{who}");
        let d = download(&app, token, &format!("/v1/attachments/{id}/meta")).await;
        assert_eq!(d.status, 404, "{who}: the record is as hidden as the file");
    }
    let d = download(&app, &customer_token, "/v1/attachments/a_doesnotexist").await;
    assert_eq!(d.status, 404);
    let client = awc::Client::builder().timeout(WAIT).finish();
    let anonymous = client
        .get(app.url(&format!("/v1/attachments/{id}")))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status().as_u16(), 401, "no token, no file");
}

#[actix_web::test]
async fn every_bad_upload_is_refused_and_nothing_is_stored() {
    let app = spawn_app_with(|orgs| {
        set(
            orgs,
            0,
            "attachments",
            json!({ "max_bytes": 64, "allowed_extensions": ["txt", "pdf", "png"] }),
        )
    })
    .await;
    let (_customer, _agent, conv, token) = accepted_chat(&app, "ada").await;
    let before = stored_files(&app);
    // The widget learns the org's rules from its settings (and refuses early); the server
    // checks every upload regardless.
    let (_, widget) = app.http("GET", "/v1/orgs/t1/widget", None, None).await;
    assert_eq!(
        widget["attachments"],
        json!({ "enabled": true, "allowed_extensions": ["txt", "pdf", "png"], "max_bytes": 64 })
    );

    let cases: &[(&str, &[u8], u16, &str, &str)] = &[
        ("tool.exe", b"MZ\x90\0", 400, "bad_request", "not allowed"),
        ("invoice.pdf.exe", b"%PDF-1.4", 400, "bad_request", ".exe"),
        ("photo.jpg", b"\xff\xd8\xff\xe0", 400, "bad_request", ".jpg"),
        ("fake.pdf", PNG, 400, "bad_request", "not a .pdf"),
        ("a\0b.txt", b"hello", 400, "bad_request", "NUL"),
        ("../up.txt", b"hello", 400, "bad_request", "'/'"),
        ("c:\\up.txt", b"hello", 400, "bad_request", "'\\'"),
        ("", b"hello", 400, "bad_request", "empty"),
        ("big.txt", &[b'x'; 65], 413, "too_large", "64 bytes"),
        ("empty.txt", b"", 400, "bad_request", "empty"),
        ("latin1.txt", b"caf\xe9 au lait", 400, "bad_request", "UTF-8"),
        ("nul.txt", b"a\0b", 400, "bad_request", "UTF-8"),
    ];
    for (name, body, status, code, says) in cases {
        let (got, answer) = upload(&app, &token, &conv, name, body).await;
        assert_eq!(got, *status, "{name:?}: {answer}");
        assert_eq!(answer["error"]["code"], *code, "{name:?}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{name:?}: {message}");
        assert_eq!(stored_files(&app), before, "{name:?} left something behind");
    }
    // A chunked body (no Content-Length) is counted as it streams.
    let client = awc::Client::builder().timeout(WAIT).finish();
    let chunks = futures_util::stream::iter(
        [&[b'x'; 40][..], &[b'y'; 25][..]]
            .map(|c| Ok::<_, std::io::Error>(actix_web::web::Bytes::from_static(c))),
    );
    let mut resp = client
        .post(app.url(&format!("/v1/conversations/{conv}/attachments?name=chunked.txt")))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_stream(chunks)
        .await
        .expect("chunked upload");
    assert_eq!(resp.status().as_u16(), 413);
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(answer["error"]["code"], "too_large");
    assert_eq!(stored_files(&app), before, "the chunked upload left something behind");

    // The limit is the org's: exactly max_bytes passes.
    uploaded(&app, &token, &conv, "fits.txt", &[b'x'; 64]).await;
    assert_eq!(stored_files(&app).len(), before.len() + 1);

    // Only parties of an open conversation upload: another visitor gets 404, an agent of the
    // queue who is not in the chat is refused.
    let eve = app.visitor_token("t1", "eve").await;
    let (status, _) = upload(&app, &eve, &conv, "a.txt", b"hi").await;
    assert_eq!(status, 404);
    let bo = app.staff_token("t1", "bo", &[Role::Agent], &["general"]);
    let (status, _) = upload(&app, &bo, &conv, "a.txt", b"hi").await;
    assert_eq!(status, 403);
    let t2 = app.admin_token("t2");
    let (status, _) = upload(&app, &t2, &conv, "a.txt", b"hi").await;
    assert_eq!(status, 404);
    assert_eq!(stored_files(&app).len(), before.len() + 1);
}

#[actix_web::test]
async fn a_message_naming_a_bad_attachment_is_refused_and_nothing_is_logged() {
    let app = spawn_app().await;
    let (mut customer, mut agent, conv, token) = accepted_chat(&app, "ada").await;
    // Another chat of the same agent, with its own file.
    let other_token = app.visitor_token("t1", "bob").await;
    let mut other = app.connect(&other_token).await;
    let data = other.ok(json!({ "type": "start" })).await;
    let other_conv = data["conversation"].as_str().expect("conv").to_string();
    accept_next(&mut agent).await;
    let foreign = uploaded(&app, &other_token, &other_conv, "b.txt", b"other chat").await;
    // A file the agent uploaded to this chat.
    let owner = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let agents_file = uploaded(&app, &owner, &conv, "c.txt", b"from the agent").await;
    let mine = uploaded(&app, &token, &conv, "a.txt", b"mine").await;

    let send = |id: &str, atts: Value| {
        json!({ "type": "send", "conversation": conv, "client_msg_id": id, "attachments": atts })
    };
    let e = customer
        .err(send("m1", json!(["a_doesnotexist"])), "not_found")
        .await;
    assert!(e["message"].as_str().unwrap_or_default().contains("a_doesnotexist"), "{e}");
    customer
        .err(send("m2", json!([foreign])), "not_found")
        .await;
    let e = customer
        .err(send("m3", json!([agents_file])), "bad_request")
        .await;
    assert!(e["message"].as_str().unwrap_or_default().contains("someone else"), "{e}");
    customer
        .err(send("m4", json!([mine, mine])), "bad_request")
        .await;
    let eleven: Vec<String> = (0..11).map(|_| mine.clone()).collect();
    customer.err(send("m5", json!(eleven)), "bad_request").await;
    customer
        .err(
            json!({ "type": "send", "conversation": conv, "client_msg_id": "m6", "text": "" }),
            "bad_request",
        )
        .await;
    assert!(messages(&app, &conv).await.is_empty(), "nothing logged");

    // A retried message with the same file is stored once, acked with the same seq.
    let first = customer.ok(send("m7", json!([mine]))).await;
    let again = customer.ok(send("m7", json!([mine]))).await;
    assert_eq!(first["seq"], again["seq"]);
    assert_eq!(again["duplicate"], true);
    let logged = messages(&app, &conv).await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0]["attachments"][0]["id"], mine.as_str());
}

/// Polls a download until it is no longer `409` (the scan is pending), within [`WAIT`].
async fn after_scan(app: &TestApp, token: &str, id: &str) -> Download {
    let deadline = Instant::now() + WAIT;
    loop {
        let d = download(app, token, &format!("/v1/attachments/{id}")).await;
        if d.status != 409 || Instant::now() > deadline {
            return d;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn with_a_scanner_a_file_is_served_once_clean_and_an_infected_one_never() {
    let scanner = crate::scanner::Scanner::start();
    let url = scanner.url();
    let app = spawn_app_configured(
        move |s| s.attachments.scan_url = url,
        |_| {},
    )
    .await;
    let (mut customer, _agent, conv, token) = accepted_chat(&app, "ada").await;

    let (status, answer) = upload(&app, &token, &conv, "ok.txt", b"a clean file").await;
    assert_eq!(status, 201);
    assert_eq!(answer["attachment"]["state"], "pending");
    let clean = answer["attachment"]["id"].as_str().expect("id").to_string();
    let d = after_scan(&app, &token, &clean).await;
    assert_eq!((d.status, d.body.as_slice()), (200, &b"a clean file"[..]));

    let eicar = format!("prefix {} suffix", crate::scanner::EICAR);
    let infected = uploaded(&app, &token, &conv, "eicar.txt", eicar.as_bytes()).await;
    let d = after_scan(&app, &token, &infected).await;
    assert_eq!(d.status, 410, "{}", String::from_utf8_lossy(&d.body));
    // Its bytes are gone from the store; the clean file's stay.
    assert_eq!(stored_files(&app).len(), 1, "{:?}", stored_files(&app));
    let error: Value = serde_json::from_slice(&d.body).expect("json error");
    assert_eq!(error["error"]["code"], "blocked");
    // Its record says so, for a broken-file indicator.
    let d = download(&app, &token, &format!("/v1/attachments/{infected}/meta")).await;
    let meta: Value = serde_json::from_slice(&d.body).expect("json");
    assert_eq!((d.status, meta["attachment"]["state"].as_str()), (200, Some("rejected")));
    assert_eq!(scanner.scanned.load(std::sync::atomic::Ordering::SeqCst), 2);
    // A rejected file cannot be sent.
    let e = customer
        .err(
            json!({ "type": "send", "conversation": conv, "client_msg_id": "x", "attachments": [infected] }),
            "bad_request",
        )
        .await;
    assert!(e["message"].as_str().unwrap_or_default().contains("rejected"), "{e}");
    assert!(messages(&app, &conv).await.is_empty());
}

#[actix_web::test]
async fn the_s3_store_keeps_and_serves_files() {
    // moto checks every request's signature (tests/support/s3.rs).
    let s3 = crate::s3_server::S3Server::start();
    let app = s3_app(&s3, &s3.secret_key).await;
    let _store = s3_bucket(&app).await;
    let (_customer, _agent, conv, token) = accepted_chat(&app, "ada").await;
    let big: Vec<u8> = PDF
        .iter()
        .copied()
        .chain((0..300_000u32).map(|i| (i % 251) as u8))
        .collect();
    let id = uploaded(&app, &token, &conv, "big.pdf", &big).await;
    let d = download(&app, &token, &format!("/v1/attachments/{id}")).await;
    assert_eq!(d.status, 200);
    assert!(d.body == big, "the same bytes back ({} bytes)", d.body.len());
    assert_eq!(d.headers["content-type"], "application/pdf");
    // Nothing stays on the node's disk: the spool went to the store.
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));

    // A node with a wrong secret is refused by the store: the upload is `unavailable` and
    // leaves nothing behind, on disk or in the engine.
    let wrong = s3_app(&s3, "not-the-secret").await;
    let (_customer, _agent, conv, token) = accepted_chat(&wrong, "bob").await;
    let (status, answer) = upload(&wrong, &token, &conv, "a.pdf", PDF).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "unavailable");
    assert!(stored_files(&wrong).is_empty(), "{:?}", stored_files(&wrong));
}
