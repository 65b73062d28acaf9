//! Bot-first chats (issue 15, PROTOCOL §9.12): a real bot endpoint receives signed webhooks in
//! order; the test acts for the bot through the bot REST API with a bot token.

use serde_json::{json, Value};

use crate::bot_server::{BotServer, SECRET};
use crate::helpers::*;
use switchboard::auth::Role;

pub(crate) fn bot_settings(url: &str, extra: Value) -> Value {
    let mut bot = json!({
        "id": "ava",
        "name": "Ava (bot)",
        "url": url,
        "secret": SECRET,
        "allow_private_network": true,
        "reply_timeout_ms": 60000,
    });
    if let (Some(b), Some(e)) = (bot.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    bot
}

/// Org `t1` with the bot, and a `returns` queue that has the skill `returns`.
async fn bot_app(url: &str, extra: Value, closed: bool) -> TestApp {
    let bot = bot_settings(url, extra);
    spawn_app_with(move |orgs| {
        orgs[0]["settings"]["bot"] = bot;
        orgs[0]["queues"]
            .as_array_mut()
            .expect("queues")
            .push(json!({ "id": "returns", "name": "Returns", "skills": ["returns", "refund"] }));
        if closed {
            orgs[0]["hours"] = closed_all_week();
        }
    })
    .await
}

fn closed_all_week() -> Value {
    let days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
    json!({
        "ProfileId": "closed",
        "data": days.iter().map(|d| json!({
            "InteractionType": "Chat", "DayOfWeek": d, "TimeZoneId": "UTC",
            "OperationPeriod": [
                { "OperationPeriodId": "1", "StartTime": "00:00", "EndTime": "23:59", "IsBreak": true }
            ]
        })).collect::<Vec<_>>()
    })
}

pub(crate) async fn bot_token(app: &TestApp) -> String {
    let (status, body) = app
        .http("POST", "/v1/bot/token", Some(&app.admin_token("t1")), None)
        .await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().expect("token").to_string()
}

/// Waits until the bot has received a webhook matching `pred`.
async fn hook(bot: &BotServer, what: &str, pred: impl Fn(&crate::bot_server::Hook) -> bool) -> crate::bot_server::Hook {
    eventually(what, || {
        let found = bot.hooks().into_iter().find(|h| pred(h));
        async move { found }
    })
    .await
}

async fn bot_says(app: &TestApp, token: &str, conv: &str, id: &str, text: &str) -> (u16, Value) {
    app.http(
        "POST",
        &format!("/v1/bot/conversations/{conv}/messages"),
        Some(token),
        Some(json!({ "client_msg_id": id, "text": text })),
    )
    .await
}

#[actix_web::test]
async fn the_bot_answers_first_then_hands_over_with_a_skill_and_the_agent_sees_the_intake() {
    let bot = BotServer::start();
    let app = bot_app(&bot.url(), json!({}), false).await;
    let token = bot_token(&app).await;
    let mut general = app.agent("gina", &["general"]).await;
    let mut returns = app.agent("rory", &["returns"]).await;
    let (mut customer, conv) = app.customer_chat("Ada").await;

    // The chat is with the bot: the customer sees it, no agent is offered it.
    let engaged = customer.event(&conv, "bot_engaged").await;
    assert_eq!(engaged["event"]["name"], "Ava (bot)");
    let started = hook(&bot, "conversation.started", |h| h.kind() == "conversation.started").await;
    assert!(started.valid, "signature: {started:?}");
    assert_eq!(started.id, format!("{conv}.{}", started.body["seq"]));
    assert_eq!(started.body["conversation"], conv.as_str());
    assert_eq!(started.body["customer"]["name"], "Ada Tester");
    let (_, summary) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(&app.admin_token("t1")), None)
        .await;
    assert_eq!(summary["status"], "bot", "{summary}");

    // The customer's message reaches the bot; the bot answers (deduplicated on retry).
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "where is my refund?" }))
        .await;
    let asked = hook(&bot, "message.created", |h| h.kind() == "message.created").await;
    assert!(asked.valid);
    assert_eq!(asked.body["event"]["text"], "where is my refund?");
    let (status, sent) = bot_says(&app, &token, &conv, "b1", "Let me find someone for you.").await;
    assert_eq!(status, 201, "{sent}");
    let (status, again) = bot_says(&app, &token, &conv, "b1", "Let me find someone for you.").await;
    assert_eq!((status, &again["duplicate"], &again["seq"]), (200, &json!(true), &sent["seq"]));
    let said = customer.event(&conv, "message").await;
    let said = if said["event"]["author"]["role"] == "bot" {
        said
    } else {
        customer.event(&conv, "message").await
    };
    assert_eq!(said["event"]["author"], json!({ "role": "bot", "id": "ava", "name": "Ava (bot)" }));

    // Presence, then the handover to the skill's queue with intake and summary.
    let (status, presence) = app
        .http("GET", "/v1/bot/presence?skill=refund", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{presence}");
    assert_eq!(
        (&presence["agent_status"], &presence["queue"], &presence["within_hours"]),
        (&json!("online"), &json!("returns"), &json!(true))
    );
    let (status, done) = app
        .http(
            "POST",
            &format!("/v1/bot/conversations/{conv}/handover"),
            Some(&token),
            Some(json!({ "skill": "refund", "intake": { "order": "A-1001" }, "summary": "Wants a refund for A-1001." })),
        )
        .await;
    assert_eq!((status, &done["queue"]), (200, &json!("returns")), "{done}");
    let handed = customer.event(&conv, "handed_over").await;
    assert_eq!(handed["event"]["by"], "bot");
    assert_eq!(accept_next(&mut returns).await, conv);

    // The agent reads the bot's part and the intake; the customer never sees the intake.
    let (_, transcript) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&app.staff_token("t1", "rory", &[Role::Agent], &["returns"])), None)
        .await;
    let events = transcript["events"].as_array().expect("events");
    let intake = events.iter().find(|e| e["kind"] == "intake").expect("intake event");
    assert_eq!(intake["answers"]["order"], "A-1001");
    assert_eq!(intake["summary"], "Wants a refund for A-1001.");
    assert_eq!(intake["visibility"], "agents");
    assert!(events.iter().any(|e| e["author"]["role"] == "bot" && e["kind"] == "message"));

    // From now on the bot may not write, and hears nothing more.
    let (status, refused) = bot_says(&app, &token, &conv, "b2", "Still me!").await;
    assert_eq!(status, 409, "{refused}");
    let (status, _) = app
        .http("POST", &format!("/v1/bot/conversations/{conv}/typing"), Some(&token), Some(json!({ "on": true })))
        .await;
    assert_eq!(status, 409);
    hook(&bot, "conversation.handed_over", |h| h.kind() == "conversation.handed_over").await;
    let before = bot.hooks().len();
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c2", "text": "hello human" }))
        .await;
    let mut agent_sees = returns.event(&conv, "message").await;
    while agent_sees["event"]["text"] != "hello human" {
        agent_sees = returns.event(&conv, "message").await;
    }
    customer.barrier().await;
    assert_eq!(bot.hooks().len(), before, "the bot heard of a chat after its handover");
    assert!(bot.hooks().iter().all(|h| h.valid));
    customer.barrier().await;
    assert!(
        customer.buffered(|f| f["event"]["kind"] == "intake" || f["event"]["kind"] == "queued").is_empty(),
        "the customer saw agents-only events"
    );
    general.barrier().await;
    assert!(general.buffered(|f| f["signal"] == "offer").is_empty(), "the general queue was offered a returns chat");
}

#[actix_web::test]
async fn a_handover_that_cannot_complete_leaves_the_customer_with_the_bot_which_is_told_why() {
    let bot = BotServer::start();
    let app = bot_app(&bot.url(), json!({}), true).await;
    let token = bot_token(&app).await;
    // Outside hours the chat still starts: with the bot.
    let (mut customer, conv) = app.customer_chat("Ada").await;
    customer.event(&conv, "bot_engaged").await;

    let handover = |body: Value| {
        let (app, token, conv) = (&app, &token, &conv);
        async move {
            app.http("POST", &format!("/v1/bot/conversations/{conv}/handover"), Some(token), Some(body))
                .await
        }
    };
    let (status, failed) = handover(json!({ "skill": "returns" })).await;
    assert_eq!((status, &failed["error"]["reason"]), (409, &json!("outside_hours")), "{failed}");
    let (status, failed) = handover(json!({ "skill": "astrology" })).await;
    assert_eq!((status, &failed["error"]["reason"]), (409, &json!("unknown_skill")), "{failed}");

    // The customer's "Connect to an agent" fails the same way, and the bot hears of it.
    let err = customer
        .err(json!({ "type": "handover", "conversation": conv }), "outside_hours")
        .await;
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    let told = hook(&bot, "handover.failed", |h| h.kind() == "handover.failed").await;
    assert_eq!(told.body["event"]["reason"], "outside_hours");
    assert_eq!(told.body["event"]["by"], "customer");
    // The bot's own failures come in its answers, not as webhooks.
    assert_eq!(bot.hooks().iter().filter(|h| h.kind() == "handover.failed").count(), 1);

    // Still the bot's chat: it writes, the customer reads.
    let (status, _) = bot_says(&app, &token, &conv, "b1", "We are closed, but I can help.").await;
    assert_eq!(status, 201);
    let (_, summary) = app
        .http("GET", &format!("/v1/conversations/{conv}"), Some(&app.admin_token("t1")), None)
        .await;
    assert_eq!(summary["status"], "bot");
    // The bot ends it: done at once (no agent to wrap up).
    let (status, _) = app
        .http("POST", &format!("/v1/bot/conversations/{conv}/end"), Some(&token), Some(json!({ "message": "Bye!" })))
        .await;
    assert_eq!(status, 200);
    let ended = customer.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "bot");
    hook(&bot, "conversation.ended", |h| h.kind() == "conversation.ended").await;
    eventually("the bot-only chat is done", || async {
        let (_, s) = app
            .http("GET", &format!("/v1/conversations/{conv}"), Some(&app.admin_token("t1")), None)
            .await;
        (s["status"] == "done").then_some(())
    })
    .await;
}

#[actix_web::test]
async fn an_unreachable_bot_hands_over_by_itself_and_the_customer_is_locked_out_of_the_bot() {
    // A port nobody listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://127.0.0.1:{}/hook", dead.local_addr().expect("addr").port());
    drop(dead);
    let app = bot_app(&url, json!({ "reply_timeout_ms": 1000, "request_timeout_ms": 300 }), false).await;
    let mut agent = app.agent("gina", &["general"]).await;
    let token = app.visitor_token("t1", "Ada").await;
    let mut customer = app.connect(&token).await;
    let conv = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    customer.event(&conv, "bot_engaged").await;
    let handed = customer.event(&conv, "handed_over").await;
    assert_eq!(handed["event"]["by"], "timeout");
    assert_eq!(accept_next(&mut agent).await, conv);
    assert!(metric(&app, "switchboard_bot_webhooks_failed_total").await >= 1.0);

    // The chat ends; the same customer's next chat skips the bot (seed 003's lock).
    agent.ok(json!({ "type": "end", "conversation": conv })).await;
    customer.event(&conv, "ended").await;
    let next = customer.ok(json!({ "type": "start" })).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    assert_ne!(next, conv);
    assert_eq!(accept_next(&mut agent).await, next, "straight to a person");
    customer.barrier().await;
    assert!(customer
        .buffered(|f| f["conversation"] == next.as_str() && f["event"]["kind"] == "bot_engaged")
        .is_empty());
}

#[actix_web::test]
async fn webhooks_are_retried_with_the_same_id_one_at_a_time_in_seq_order() {
    let bot = BotServer::start();
    bot.fail_next(2);
    let app = bot_app(&bot.url(), json!({}), false).await;
    let (mut customer, conv) = app.customer_chat("Ada").await;
    for i in 1..=3 {
        customer
            .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": format!("c{i}"), "text": format!("m{i}") }))
            .await;
    }
    let all = eventually("four distinct webhooks", || {
        let hooks = bot.hooks();
        let mut ids: Vec<String> = hooks.iter().map(|h| h.id.clone()).collect();
        ids.dedup();
        async move { (ids.len() == 4).then_some(hooks) }
    })
    .await;
    assert!(all.iter().all(|h| h.valid), "every attempt signed");
    // The first event was tried three times (two 500s) under one id, before anything else.
    assert_eq!(all[0].id, all[1].id);
    assert_eq!(all[1].id, all[2].id);
    assert_eq!(all[0].kind(), "conversation.started");
    let seqs: Vec<u64> = all.iter().map(|h| h.body["seq"].as_u64().expect("seq")).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "in seq order: {seqs:?}");
    let texts: Vec<&str> = all[3..].iter().map(|h| h.body["event"]["text"].as_str().unwrap_or("")).collect();
    assert_eq!(texts, ["m1", "m2", "m3"]);
    assert_eq!(bot.max_in_flight.load(std::sync::atomic::Ordering::SeqCst), 1, "one request in flight");
}

#[actix_web::test]
async fn a_bot_token_works_on_the_bot_api_only_and_private_bot_urls_need_an_admins_allowance() {
    let bot = BotServer::start();
    let app = bot_app(&bot.url(), json!({}), false).await;
    let token = bot_token(&app).await;
    // Not a staff token, nor a websocket identity.
    let (status, _) = app.http("GET", "/v1/conversations", Some(&token), None).await;
    assert_eq!(status, 403);
    let mut ws = Client::open(app.port).await;
    let reply = ws.request(json!({ "type": "hello", "token": token })).await;
    assert_eq!(reply["type"], "error", "{reply}");
    // A staff token is no bot token.
    let (status, _) = app
        .http("GET", "/v1/bot/presence", Some(&app.admin_token("t1")), None)
        .await;
    assert_eq!(status, 403);
    // An agent's chat (not the bot's) is out of the bot's reach.
    let (_, conv) = {
        let mut agent = app.agent("gina", &["general"]).await;
        let data = agent
            .ok(json!({ "type": "start_chat", "customer": "cust-9", "customer_name": "Vera V", "client_msg_id": "a1", "text": "Hello from us" }))
            .await;
        (agent, data["conversation"].as_str().expect("id").to_string())
    };
    let (status, _) = bot_says(&app, &token, &conv, "b1", "hi").await;
    assert_eq!(status, 404);

    // Settings: a loopback bot needs allow_private_network; the secret never comes back.
    let admin = app.admin_token("t1");
    let (_, current) = app.http("GET", "/v1/settings", Some(&admin), None).await;
    assert_eq!(current["bot_secret_set"], true);
    assert!(current["settings"]["bot"].get("secret").is_none());
    let mut settings = current["settings"].clone();
    settings["bot"]["allow_private_network"] = json!(false);
    let (status, body) = app.http("PUT", "/v1/settings", Some(&admin), Some(settings.clone())).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("private"), "{body}");
    settings["bot"]["allow_private_network"] = json!(true);
    settings["bot"]["name"] = json!("Ava 2");
    let (status, body) = app.http("PUT", "/v1/settings", Some(&admin), Some(settings)).await;
    assert_eq!(status, 200, "{body}");
    // The stored secret was kept: the bot still verifies the next webhook.
    let (mut customer, conv) = app.customer_chat("Ada").await;
    customer.event(&conv, "bot_engaged").await;
    let h = hook(&bot, "started", |h| h.kind() == "conversation.started" && h.body["conversation"] == conv.as_str()).await;
    assert!(h.valid);
}

/// The text of the next message from the bot the customer gets.
async fn bot_line(c: &mut Client, conv: &str) -> String {
    c.wait_for("a message from the bot", |f| {
        is_event(f, conv) && f["event"]["author"]["role"] == "bot"
    })
    .await["event"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Kills the child process when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The reference bot of `examples/faq-bot`, run the way its README says, against this node.
#[actix_web::test]
async fn the_reference_bot_answers_a_faq_and_hands_over_on_request_to_the_skills_queue() {
    let app = bot_app("http://127.0.0.1:9/hook", json!({}), false).await;
    let token = bot_token(&app).await;
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = std::process::Command::new("python3")
        .arg(format!("{root}/examples/faq-bot/faq_bot.py"))
        .args(["--config", &format!("{root}/examples/faq-bot/faq.toml"), "--port", "0"])
        .env("SWITCHBOARD_BOT_TOKEN", &token)
        .env("SWITCHBOARD_BOT_SECRET", SECRET)
        .env("SWITCHBOARD_URL", app.url(""))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 runs the reference bot");
    let stdout = child.stdout.take().expect("stdout");
    let child = Child(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on ") {
                let _ = tx.send(addr.trim().to_string());
            }
        }
    });
    let addr = rx.recv_timeout(WAIT).expect("the reference bot printed its address");
    let admin = app.admin_token("t1");
    let (_, current) = app.http("GET", "/v1/settings", Some(&admin), None).await;
    let mut settings = current["settings"].clone();
    settings["bot"]["url"] = json!(format!("http://{addr}/webhook"));
    let (status, body) = app.http("PUT", "/v1/settings", Some(&admin), Some(settings)).await;
    assert_eq!(status, 200, "{body}");

    let mut returns = app.agent("rory", &["returns"]).await;
    let (mut customer, conv) = app.customer_chat("Ada").await;
    assert!(bot_line(&mut customer, &conv).await.contains("assistant"), "the greeting");
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c1", "text": "Can I return my shoes?" }))
        .await;
    assert!(bot_line(&mut customer, &conv).await.contains("30 days"), "the returns answer");
    customer
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "c2", "text": "I want to talk to an agent" }))
        .await;
    let handed = customer.event(&conv, "handed_over").await;
    assert_eq!(handed["event"]["by"], "bot");
    assert_eq!(accept_next(&mut returns).await, conv, "the returns skill's queue");
    let (_, transcript) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&admin), None)
        .await;
    let intake = transcript["events"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["kind"] == "intake").cloned())
        .expect("intake");
    assert_eq!(intake["skill"], "returns", "{intake}");
    assert!(intake["summary"].as_str().is_some_and(|s| s.contains("return")), "{intake}");
    drop(child);
}

/// A chat with the bot holds no agent's capacity and keeps the customer's idle timers.
#[actix_web::test]
async fn a_chat_with_the_bot_holds_no_seat_and_keeps_the_idle_timers() {
    let bot = BotServer::start();
    let bot_json = bot_settings(&bot.url(), json!({ "channels": ["chat"] }));
    let app = spawn_app_with(move |orgs| {
        orgs[0]["settings"]["bot"] = bot_json;
        orgs[0]["settings"]["max_chats"] = json!(1);
        orgs[0]["settings"]["idle_prompt_ms"] = json!(600);
        orgs[0]["settings"]["idle_end_ms"] = json!(600);
    })
    .await;
    let mut agent = app.agent("gina", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("Ada").await;
    customer.event(&conv, "bot_engaged").await;
    // While Ada is with the bot, the agent's one seat is free: a chat on a channel the bot
    // does not serve is offered to it.
    let token = app.visitor_token("t1", "Bea").await;
    let mut bea = app.connect(&token).await;
    let other = bea.ok(json!({ "type": "start", "channel": "sms" })).await["conversation"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(accept_next(&mut agent).await, other);
    // The idle prompt, then the idle end, while with the bot; the bot hears of the end.
    customer.event(&conv, "idle_warning").await;
    let ended = customer.event(&conv, "ended").await;
    assert_eq!(ended["event"]["reason"], "idle_timeout");
    hook(&bot, "conversation.ended", |h| h.kind() == "conversation.ended").await;
}
