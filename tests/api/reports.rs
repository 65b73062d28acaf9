//! Reports (issue 14): real chats — one abandoned, one transferred, surveys — finished and
//! archived, then read per queue and per agent as JSON and CSV, by supervisors and admins of the
//! org only, for a valid date range; and bot-first chats (issue 15) split into the bot's alone
//! and those it handed over.

use serde_json::{json, Value};

use switchboard::auth::Role;

use crate::bot::{bot_settings, bot_token};
use crate::bot_server::BotServer;
use crate::helpers::*;

/// The figures of `report`'s row whose `key` field is `id`.
fn row<'a>(report: &'a Value, key: &str, id: &str) -> &'a Value {
    report["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r[key] == id))
        .unwrap_or_else(|| panic!("no row {key} = {id} in {report}"))
}

/// The counts of a row (or total) that do not depend on timing.
fn counts(f: &Value) -> Value {
    json!({
        "handled": f["handled"], "abandoned": f["abandoned"], "transfers": f["transfers"],
        "surveys": f["surveys"], "nps": f["nps"],
    })
}

/// Ends the chat as its customer and answers the survey.
async fn end_with_survey(customer: &mut Client, conv: &str, rating: u8) {
    customer
        .ok(json!({ "type": "end", "conversation": conv }))
        .await;
    customer
        .ok(json!({ "type": "survey", "conversation": conv, "rating": rating }))
        .await;
}

#[actix_web::test]
async fn reports_count_finished_chats_per_queue_and_per_agent() {
    // Ended chats wrap up on their own quickly (an abandoned chat has no agent to do it).
    let app = spawn_app_with(|orgs| set(orgs, 0, "wrapup_timeout_ms", json!(200))).await;

    // Abandoned: the customer leaves before any agent is there.
    let (mut cy, abandoned) = app.customer_chat("cy").await;
    cy.ok(json!({ "type": "end", "conversation": abandoned }))
        .await;

    // Al answers Ada, who rates 10.
    let mut al = app.agent("al", &["general"]).await;
    let mut bo = app.agent("bo", &["billing"]).await;
    let (mut ada, first) = app.customer_chat("ada").await;
    assert_eq!(accept_next(&mut al).await, first);
    al.ok(json!({ "type": "send", "conversation": first, "client_msg_id": "a1", "text": "Hi Ada" }))
        .await;
    end_with_survey(&mut ada, &first, 10).await;

    // Al takes Bea's chat and transfers it to Bo, who answers; Bea rates 6.
    let (mut bea, second) = app.customer_chat("bea").await;
    assert_eq!(accept_next(&mut al).await, second);
    al.ok(json!({ "type": "send", "conversation": second, "client_msg_id": "a2", "text": "Hi Bea" }))
        .await;
    al.ok(json!({ "type": "transfer", "conversation": second, "to_agent": "bo" }))
        .await;
    bo.signal("transfer_offer").await;
    bo.ok(json!({ "type": "transfer_accept", "conversation": second }))
        .await;
    bo.ok(json!({ "type": "send", "conversation": second, "client_msg_id": "b1", "text": "Bo here" }))
        .await;
    end_with_survey(&mut bea, &second, 6).await;

    // The reports read the archive: wait until all three chats, surveys included, are in it.
    let supervisor = app.staff_token("t1", "sue", &[Role::Agent, Role::Supervisor], &[]);
    let queues = eventually("the three chats in the queue report", || async {
        let (status, body) = app.http("GET", "/v1/reports/queues", Some(&supervisor), None).await;
        assert_eq!(status, 200, "{body}");
        (body["total"]["handled"] == 2
            && body["total"]["abandoned"] == 1
            && body["total"]["surveys"] == 2)
            .then_some(body)
    })
    .await;
    let general = row(&queues, "queue", "general");
    assert_eq!(
        counts(general),
        json!({ "handled": 2, "abandoned": 1, "transfers": 1, "surveys": 2, "nps": 0 })
    );
    for figure in ["wait_avg_ms", "wait_p90_ms", "first_response_avg_ms", "handle_avg_ms"] {
        assert!(general[figure].as_i64().is_some_and(|ms| ms >= 0), "{figure}: {general}");
    }
    assert_eq!(queues["rows"].as_array().map(Vec::len), Some(1), "only the queue with chats");
    assert_eq!(counts(&queues["total"]), counts(general));

    // Per agent: both owners handled the transferred chat; the transfer is Al's; Bea's survey is
    // Bo's (her last agent), Ada's is Al's.
    let admin = app.admin_token("t1");
    let (status, agents) = app.http("GET", "/v1/reports/agents", Some(&admin), None).await;
    assert_eq!(status, 200, "{agents}");
    assert_eq!(
        counts(row(&agents, "agent", "al")),
        json!({ "handled": 2, "abandoned": 0, "transfers": 1, "surveys": 1, "nps": 100 })
    );
    let bo_row = row(&agents, "agent", "bo");
    assert_eq!(
        counts(bo_row),
        json!({ "handled": 1, "abandoned": 0, "transfers": 0, "surveys": 1, "nps": -100 })
    );
    assert!(bo_row["first_response_avg_ms"].as_i64().is_some(), "{bo_row}");
    assert_eq!(bo_row["wait_avg_ms"], Value::Null, "Bo took it by transfer, not from a queue");
    assert_eq!(counts(&agents["total"]), counts(general), "each chat counts once in the total");

    // CSV: the same figures, a total row last, saved as a file.
    let d = download(&app, &supervisor, "/v1/reports/agents?format=csv").await;
    assert_eq!(d.status, 200);
    assert_eq!(d.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        d.headers["content-disposition"].starts_with("attachment; filename=\"report-agents-"),
        "{:?}",
        d.headers
    );
    let csv = String::from_utf8(d.body).expect("utf-8");
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        lines[0],
        [
            "agent", "handled", "abandoned", "wait_avg_ms", "wait_p90_ms",
            "first_response_avg_ms", "handle_avg_ms", "transfers", "surveys", "nps",
            "bot_only", "handed_over", "bot_avg_ms"
        ]
    );
    assert_eq!(lines.len(), 4, "{csv}");
    let bo_line = lines.iter().find(|l| l[0] == "bo").expect("bo's line");
    assert_eq!((bo_line[1], bo_line[3], bo_line[9]), ("1", "", "-100"));
    assert_eq!((lines[3][0], lines[3][1], lines[3][2]), ("total", "2", "1"));

    // A range without these chats is empty; the day they ended (to included) has them.
    let (status, old) = app
        .http("GET", "/v1/reports/queues?from=2020-01-01&to=2020-01-31", Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{old}");
    assert_eq!((old["rows"].as_array().map(Vec::len), &old["total"]["handled"]), (Some(0), &json!(0)));
    assert_eq!(old["from"], "2020-01-01T00:00:00Z");
    assert_eq!(old["to"], "2020-01-31T23:59:59.999999Z");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (_, day) = app
        .http("GET", &format!("/v1/reports/queues?from={today}&to={today}"), Some(&admin), None)
        .await;
    // (A run across midnight UTC may have finished some chats the day before.)
    assert!(day["total"]["handled"].as_u64().is_some_and(|n| n <= 2), "{day}");
}

#[actix_web::test]
async fn reports_are_for_supervisors_of_the_org_and_refuse_bad_ranges() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut ada, conv) = app.customer_chat("ada").await;
    accept_next(&mut al).await;
    end_with_survey(&mut ada, &conv, 9).await;
    al.ok(json!({ "type": "wrap_up", "conversation": conv }))
        .await;
    let admin = app.admin_token("t1");
    eventually("the chat in the report", || async {
        let (_, body) = app.http("GET", "/v1/reports/queues", Some(&admin), None).await;
        (body["total"]["handled"] == 1).then_some(())
    })
    .await;

    // An agent is refused, with a JSON error; so is a request without a token.
    let agent = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    for path in ["/v1/reports/queues", "/v1/reports/agents", "/v1/reports/agents?format=csv"] {
        let (status, body) = app.http("GET", path, Some(&agent), None).await;
        assert_eq!((status, &body["error"]["code"]), (403, &json!("forbidden")), "{path}: {body}");
    }
    let (status, _) = app.http("GET", "/v1/reports/queues", None, None).await;
    assert_eq!(status, 401);

    // Another org's supervisor sees nothing of it.
    let other = app.admin_token("t2");
    for path in ["/v1/reports/queues", "/v1/reports/agents"] {
        let (status, body) = app.http("GET", path, Some(&other), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["rows"], json!([]), "{body}");
        assert_eq!((&body["total"]["handled"], &body["total"]["nps"]), (&json!(0), &Value::Null));
    }

    // Bad ranges and formats are 400s with a JSON error.
    for query in [
        "from=yesterday",
        "to=2026-02-30",
        "from=2026-12-01T10:00",
        "from=2026-12-02&to=2026-12-01",
        "from=2026-01-01&to=2027-01-02",
        "format=txt",
    ] {
        let (status, body) = app
            .http("GET", &format!("/v1/reports/queues?{query}"), Some(&admin), None)
            .await;
        assert_eq!((status, &body["error"]["code"]), (400, &json!("bad_request")), "{query}: {body}");
    }
    let (status, body) = app
        .http("GET", "/v1/reports/agents?from=2026-01-01&to=2026-12-31", Some(&admin), None)
        .await;
    assert_eq!(status, 200, "a year is allowed: {body}");
}

#[actix_web::test]
async fn reports_split_the_bots_chats_from_those_it_handed_over_to_a_person() {
    let bot = BotServer::start();
    let settings = bot_settings(&bot.url(), json!({}));
    let app = spawn_app_with(move |orgs| {
        set(orgs, 0, "wrapup_timeout_ms", json!(200));
        orgs[0]["settings"]["bot"] = settings;
    })
    .await;
    let token = bot_token(&app).await;
    let mut al = app.agent("al", &["general"]).await;
    let bot_post = |conv: &str, action: &str, body: Value| {
        let (app, token, path) = (&app, &token, format!("/v1/bot/conversations/{conv}/{action}"));
        async move { app.http("POST", &path, Some(token), Some(body)).await }
    };

    // The bot answers Ada and ends the chat itself: the bot's alone.
    let (mut ada, alone) = app.customer_chat("ada").await;
    ada.event(&alone, "bot_engaged").await;
    let (status, body) = bot_post(&alone, "messages", json!({ "client_msg_id": "b1", "text": "Opening hours are 9–5." })).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = bot_post(&alone, "end", json!({})).await;
    assert_eq!(status, 200, "{body}");

    // The bot hands Bea over; Al takes and answers her; she rates 9.
    let (mut bea, handed) = app.customer_chat("bea").await;
    bea.event(&handed, "bot_engaged").await;
    let (status, body) = bot_post(&handed, "handover", json!({ "summary": "Wants a person." })).await;
    assert_eq!((status, &body["queue"]), (200, &json!("general")), "{body}");
    assert_eq!(accept_next(&mut al).await, handed);
    al.ok(json!({ "type": "send", "conversation": handed, "client_msg_id": "a1", "text": "Hi Bea" }))
        .await;
    end_with_survey(&mut bea, &handed, 9).await;

    let supervisor = app.staff_token("t1", "sue", &[Role::Agent, Role::Supervisor], &[]);
    let queues = eventually("both bot chats in the queue report", || async {
        let (status, body) = app.http("GET", "/v1/reports/queues", Some(&supervisor), None).await;
        assert_eq!(status, 200, "{body}");
        (body["total"]["bot_only"] == 1 && body["total"]["handed_over"] == 1 && body["total"]["surveys"] == 1)
            .then_some(body)
    })
    .await;
    let general = row(&queues, "queue", "general");
    let bot_counts = |f: &Value| {
        json!({
            "handled": f["handled"], "abandoned": f["abandoned"], "bot_only": f["bot_only"],
            "handed_over": f["handed_over"], "surveys": f["surveys"], "nps": f["nps"],
        })
    };
    // Handled by a person: Bea's chat only; Ada's is the bot's, not abandoned.
    assert_eq!(
        bot_counts(general),
        json!({ "handled": 1, "abandoned": 0, "bot_only": 1, "handed_over": 1, "surveys": 1, "nps": 100 })
    );
    assert_eq!(bot_counts(&queues["total"]), bot_counts(general));
    assert!(general["bot_avg_ms"].as_i64().is_some_and(|ms| ms >= 0), "{general}");
    assert!(general["wait_avg_ms"].as_i64().is_some(), "Bea waited from her handover: {general}");
    assert!(general["first_response_avg_ms"].as_i64().is_some(), "{general}");

    // Al's row counts his handling of Bea's chat, nothing of the bot's.
    let (status, agents) = app.http("GET", "/v1/reports/agents", Some(&supervisor), None).await;
    assert_eq!(status, 200, "{agents}");
    assert_eq!(agents["rows"].as_array().map(Vec::len), Some(1), "{agents}");
    let al_row = row(&agents, "agent", "al");
    assert_eq!(
        bot_counts(al_row),
        json!({ "handled": 1, "abandoned": 0, "bot_only": 0, "handed_over": 0, "surveys": 1, "nps": 100 })
    );
    assert_eq!(al_row["bot_avg_ms"], Value::Null);
    assert_eq!(bot_counts(&agents["total"]), bot_counts(general), "the org's total in both");

    // The CSV has the bot's columns last.
    let d = download(&app, &supervisor, "/v1/reports/queues?format=csv").await;
    assert_eq!(d.status, 200);
    let csv = String::from_utf8(d.body).expect("utf-8");
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines[0][10..], ["bot_only", "handed_over", "bot_avg_ms"], "{csv}");
    assert_eq!((lines[1][0], lines[1][1], lines[1][2], lines[1][10], lines[1][11]), ("general", "1", "0", "1", "1"), "{csv}");
}
