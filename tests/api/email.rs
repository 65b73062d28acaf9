//! Emailing a transcript (issue 14, seed 002) through a real SMTP server on loopback
//! (`tests/support/smtp.rs`): received with its recipient, subject, text and PDF; queued while
//! the server is down and delivered when it is back; refused for bad input and for staff who
//! cannot see the conversation; `503` when no SMTP server is configured.

use serde_json::{json, Value};

use switchboard::auth::Role;
use switchboard::config::SmtpSettings;

use crate::helpers::*;
use crate::redis_server::free_port;
use crate::smtp_server::SmtpServer;

/// A node that sends through `port`, retrying fast; `tweak` changes its `[smtp]` further.
async fn app_with_smtp(port: u16, tweak: impl FnOnce(&mut SmtpSettings)) -> TestApp {
    spawn_app_configured(
        move |s| {
            s.smtp.host = "127.0.0.1".into();
            s.smtp.port = port;
            s.smtp.from = "chat@shop.example".into();
            s.smtp.poll_ms = 50;
            s.smtp.retry_base_ms = 50;
            s.smtp.retry_max_ms = 200;
            s.smtp.timeout_ms = 2000;
            tweak(&mut s.smtp);
        },
        |_| {},
    )
    .await
}

/// A chat between ada and al with a few messages; the conversation id.
async fn a_chat(app: &TestApp) -> String {
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("ada").await;
    assert_eq!(accept_next(&mut al).await, conv);
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "Where is my order? שלום" }))
        .await;
    al.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": "It ships tomorrow." }))
        .await;
    al.ok(json!({ "type": "note", "conversation": conv, "text": "Grumpy customer" }))
        .await;
    conv
}

/// The parts of a raw message that a person reads, decoded by Python's `email` package:
/// `{to, rcpt, subject, text, attachments: [{name, type, head}]}`.
fn read_mail(raw: &str) -> Value {
    const SCRIPT: &str = r#"
import email, email.policy, json, sys
m = email.message_from_string(sys.stdin.read(), policy=email.policy.default)
body = m.get_body(preferencelist=("plain",))
files = [{"name": p.get_filename(), "type": p.get_content_type(),
          "head": p.get_content()[:5].decode("latin-1")} for p in m.iter_attachments()]
print(json.dumps({"to": str(m["To"]), "rcpt": str(m["X-RcptTo"]), "subject": str(m["Subject"]),
                  "text": body.get_content() if body else "", "attachments": files}))
"#;
    serde_json::from_slice(&python("parsing the email", SCRIPT, raw.as_bytes())).expect("json")
}

async fn email(app: &TestApp, token: &str, conv: &str, body: Value) -> (u16, Value) {
    let path = format!("/v1/conversations/{conv}/transcript/email");
    app.http("POST", &path, Some(token), Some(body)).await
}

/// Waits until the email's status is `want`; its status document.
async fn until_status(app: &TestApp, token: &str, id: &str, want: &str) -> Value {
    let path = format!("/v1/emails/{id}");
    eventually(&format!("email {id} {want}"), || async {
        let (status, body) = app.http("GET", &path, Some(token), None).await;
        assert_eq!(status, 200, "{body}");
        (body["status"] == want).then_some(body)
    })
    .await
}

#[actix_web::test]
async fn a_transcript_is_emailed_as_text_and_with_its_pdf_and_the_smtp_server_receives_it() {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(smtp.port(), |_| {}).await;
    let conv = a_chat(&app).await;
    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);

    let (status, body) = email(&app, &token, &conv, json!({ "to": "ada@example.com" })).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");
    let id = body["id"].as_str().expect("id").to_string();
    let done = until_status(&app, &token, &id, "sent").await;
    assert_eq!(done["to"], "ada@example.com");
    assert_eq!(done["conversation"], conv);
    assert_eq!(done["attempts"], 1);

    let (status, body) = email(&app, &token, &conv, json!({ "to": "ada@example.com", "format": "pdf" })).await;
    assert_eq!(status, 202, "{body}");
    let pdf_id = body["id"].as_str().expect("id").to_string();
    until_status(&app, &token, &pdf_id, "sent").await;

    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    for raw in &messages {
        let mail = read_mail(raw);
        assert_eq!(mail["rcpt"], "ada@example.com");
        assert_eq!(mail["to"], "ada@example.com");
        assert!(mail["subject"].as_str().is_some_and(|s| s.starts_with("Transcript of your chat")), "{mail}");
        let text = mail["text"].as_str().unwrap_or_default();
        assert!(text.contains(&format!("Conversation: {conv}")), "{text}");
        assert!(text.contains("ada Tester: Where is my order? שלום"), "{text}");
        assert!(text.contains("Agent al: It ships tomorrow."), "{text}");
        assert!(!text.contains("Grumpy customer"), "agents-only events stay out: {text}");
        assert!(!text.contains("agents only"), "{text}");
    }
    let with_pdf: Vec<Value> = messages.iter().map(|m| read_mail(m)["attachments"].clone()).collect();
    assert_eq!(with_pdf[0], json!([]));
    assert_eq!(
        with_pdf[1],
        json!([{ "name": format!("transcript-{conv}.pdf"), "type": "application/pdf", "head": "%PDF-" }])
    );

    assert_eq!(metric(&app, "switchboard_email_sent_total").await, 2.0);
    let (_, ready) = app.http("GET", "/readyz", None, None).await;
    assert_eq!(ready["email"], "ok", "{ready}");
}

#[actix_web::test]
async fn with_the_smtp_server_down_the_email_waits_and_is_delivered_once_it_is_back() {
    let mut smtp = SmtpServer::stopped(free_port());
    let app = app_with_smtp(smtp.port(), |s| s.max_attempts = 1000).await;
    let conv = a_chat(&app).await;
    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let (status, body) = email(&app, &token, &conv, json!({ "to": "ada@example.com" })).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().expect("id").to_string();

    // Attempts fail and are retried; the email stays queued with the last error.
    let path = format!("/v1/emails/{id}");
    let waiting = eventually("two failed attempts", || async {
        let (_, body) = app.http("GET", &path, Some(&token), None).await;
        (body["attempts"].as_i64().unwrap_or(0) >= 2 && body["status"] == "queued").then_some(body)
    })
    .await;
    assert!(waiting["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{waiting}");
    assert!(metric(&app, "switchboard_email_failures_total").await >= 2.0);
    let (_, ready) = app.http("GET", "/readyz", None, None).await;
    assert_eq!(ready["email"], "backlog 1", "{ready}");
    assert!(smtp.messages().is_empty());

    smtp.run();
    let sent = until_status(&app, &token, &id, "sent").await;
    assert_eq!(sent["last_error"], Value::Null);
    assert_eq!(smtp.messages().len(), 1, "delivered once");
}

#[actix_web::test]
async fn an_email_that_keeps_failing_ends_failed_after_its_attempts() {
    let smtp = SmtpServer::stopped(free_port());
    let app = app_with_smtp(smtp.port(), |s| s.max_attempts = 2).await;
    let conv = a_chat(&app).await;
    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let (_, body) = email(&app, &token, &conv, json!({ "to": "ada@example.com" })).await;
    let id = body["id"].as_str().expect("id").to_string();
    let failed = until_status(&app, &token, &id, "failed").await;
    assert_eq!(failed["attempts"], 2);
    assert!(failed["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{failed}");
}

#[actix_web::test]
async fn bad_input_other_orgs_and_other_queues_are_refused() {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(smtp.port(), |_| {}).await;
    let conv = a_chat(&app).await;
    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    for bad in [
        json!({ "to": "not an address" }),
        json!({ "to": "a@b.example, c@d.example" }),
        json!({ "to": "Ada <ada@example.com>" }),
        json!({ "to": "ada@example.com\r\nBcc: x@evil.example" }),
        json!({ "to": "" }),
        json!({ "to": "ada@example.com", "format": "docx" }),
        json!({ "format": "txt" }),
    ] {
        let (status, body) = email(&app, &token, &conv, bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    let (_, body) = email(&app, &token, &conv, json!({ "to": "ada@example.com" })).await;
    let id = body["id"].as_str().expect("id").to_string();

    // Another org's staff, and an agent of another queue, find neither the conversation nor
    // the email.
    let other_org = app.admin_token("t2");
    let other_queue = app.staff_token("t1", "cy", &[Role::Agent], &["billing"]);
    for stranger in [&other_org, &other_queue] {
        let (status, body) = email(&app, stranger, &conv, json!({ "to": "x@evil.example" })).await;
        assert_eq!(status, 404, "{body}");
        let (status, body) = app.http("GET", &format!("/v1/emails/{id}"), Some(stranger), None).await;
        assert_eq!(status, 404, "{body}");
    }
    let (status, _) = app.http("GET", "/v1/emails/e_nothing", Some(&token), None).await;
    assert_eq!(status, 404);
    until_status(&app, &token, &id, "sent").await;
    assert_eq!(smtp.messages().len(), 1, "only the valid request was sent");
}

#[actix_web::test]
async fn an_org_that_queues_too_many_emails_is_told_to_wait() {
    let smtp = SmtpServer::start();
    let app = app_with_smtp(smtp.port(), |s| {
        s.burst = 2;
        s.per_minute = 0;
    })
    .await;
    let conv = a_chat(&app).await;
    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    for _ in 0..2 {
        let (status, body) = email(&app, &token, &conv, json!({ "to": "ada@example.com" })).await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, body) = email(&app, &token, &conv, json!({ "to": "ada@example.com" })).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
}

#[actix_web::test]
async fn without_an_smtp_server_configured_email_is_unavailable() {
    let app = spawn_app().await;
    let conv = a_chat(&app).await;
    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let (status, body) = email(&app, &token, &conv, json!({ "to": "ada@example.com" })).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let (_, ready) = app.http("GET", "/readyz", None, None).await;
    assert_eq!(ready["email"], "off");
}
