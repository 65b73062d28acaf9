//! View and export (seed 001): a transcript as CSV (one row per event, formula-injection safe),
//! as plain text and as PDF (seed 002), and the conversation list as CSV — with the same access
//! as the JSON.

use serde_json::json;

use switchboard::auth::Role;

use crate::helpers::*;

/// Splits RFC 4180 CSV into records of cells (quoted cells may hold commas, quotes, newlines).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

#[actix_web::test]
async fn a_transcript_downloads_as_csv_and_text_and_the_list_as_csv() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("ada").await;
    assert_eq!(accept_next(&mut al).await, conv);
    let formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    for (id, text) in [("c1", formula), ("c2", "Hello, \"agent\"\nsecond line")] {
        customer
            .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": id, "text": text }))
            .await;
    }
    al.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": "Hi Ada" }))
        .await;
    al.ok(json!({ "type": "note", "conversation": conv, "text": "VIP customer" }))
        .await;
    let last = al
        .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a2", "text": "Bye" }))
        .await["seq"]
        .as_u64()
        .expect("seq");

    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let (_, json) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript"), Some(&token), None)
        .await;
    let events = json["events"].as_array().expect("events").clone();
    assert_eq!(events.last().map(|e| e["seq"].as_u64()), Some(Some(last)));

    // CSV: a header, then exactly the log's events in order; text kept whole; formulas inert.
    let d = download(&app, &token, &format!("/v1/conversations/{conv}/transcript?format=csv")).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        d.headers["content-disposition"],
        format!("attachment; filename=\"transcript-{conv}.csv\"")
    );
    assert_eq!(d.headers["x-content-type-options"], "nosniff");
    let rows = parse_csv(&String::from_utf8(d.body).expect("utf-8"));
    assert_eq!(
        rows[0],
        ["seq", "at", "visibility", "kind", "author_role", "author_id", "author_name", "text"]
    );
    assert_eq!(rows.len() - 1, events.len());
    for (row, e) in rows[1..].iter().zip(&events) {
        assert_eq!(row[0], e["seq"].to_string());
        assert_eq!(row[3], e["kind"].as_str().expect("kind"));
        assert_eq!(row[2], e["visibility"].as_str().expect("visibility"));
    }
    let cell = |client_msg_id: &str| {
        let seq = events
            .iter()
            .find(|e| e["client_msg_id"] == client_msg_id)
            .expect("event")["seq"]
            .to_string();
        rows.iter().find(|r| r[0] == seq).expect("row")[7].clone()
    };
    assert_eq!(cell("c1"), format!("'{formula}"), "a formula stays text");
    assert_eq!(cell("c2"), "Hello, \"agent\"\nsecond line");
    let note = rows.iter().find(|r| r[3] == "note").expect("note row");
    assert_eq!((note[2].as_str(), note[7].as_str()), ("agents", "VIP customer"));

    // Plain text: who said what, agents-only marked.
    let d = download(&app, &token, &format!("/v1/conversations/{conv}/transcript?format=txt")).await;
    assert_eq!(d.headers["content-type"], "text/plain; charset=utf-8");
    let text = String::from_utf8(d.body).expect("utf-8");
    assert!(text.contains(&format!("Conversation: {conv}")), "{text}");
    assert!(text.contains("Customer: ada Tester"), "{text}");
    assert!(text.contains("Agent al: Hi Ada"), "{text}");
    assert!(text.contains("Agent al (agents only): VIP customer"), "{text}");
    assert!(text.contains("second line"), "{text}");

    // The list as CSV: one row per conversation the caller may see.
    let d = download(&app, &token, "/v1/conversations?format=csv").await;
    assert_eq!(d.status, 200);
    let rows = parse_csv(&String::from_utf8(d.body).expect("utf-8"));
    assert_eq!(rows[0][0], "id");
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][0], conv);
    assert_eq!(rows[1][5], "ada Tester");

    // Same access as the JSON; a format that does not exist is a 400.
    let stranger = app.staff_token("t1", "cy", &[Role::Agent], &["billing"]);
    let d = download(&app, &stranger, &format!("/v1/conversations/{conv}/transcript?format=csv")).await;
    assert_eq!(d.status, 404);
    let d = download(&app, &stranger, "/v1/conversations?format=csv").await;
    assert_eq!(parse_csv(&String::from_utf8(d.body).expect("utf-8")).len(), 1, "header only");
    let (status, body) = app
        .http("GET", &format!("/v1/conversations/{conv}/transcript?format=xls"), Some(&token), None)
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app
        .http("GET", "/v1/conversations?format=txt", Some(&token), None)
        .await;
    assert_eq!(status, 400);
}

/// The text of a PDF as pypdf extracts it (`python3 -m pip install --user pypdf`, done by
/// tests/setup.sh). pypdf reads right-to-left runs back into logical order.
fn pdf_text(pdf: &[u8]) -> String {
    const SCRIPT: &str = "import io, sys, pypdf
r = pypdf.PdfReader(io.BytesIO(sys.stdin.buffer.read()))
sys.stdout.write(chr(10).join(p.extract_text() for p in r.pages))";
    String::from_utf8(python("pypdf", SCRIPT, pdf)).expect("utf-8")
}

#[actix_web::test]
async fn a_transcript_downloads_as_a_pdf_whose_latin_hebrew_and_arabic_text_extracts() {
    let app = spawn_app().await;
    let mut al = app.agent("al", &["general"]).await;
    let (mut customer, conv) = app.customer_chat("ada").await;
    assert_eq!(accept_next(&mut al).await, conv);
    let hebrew = "שלום, אני צריכה עזרה עם ההזמנה";
    let arabic = "مرحبا، أحتاج إلى مساعدة في طلبي";
    for (id, text) in [("c1", hebrew), ("c2", arabic)] {
        customer
            .ok(json!({ "type": "send", "conversation": conv, "client_msg_id": id, "text": text }))
            .await;
    }
    let latin = "Hello Ada, of course – which order is it? Déjà vu, naïve café.";
    al.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a1", "text": latin }))
        .await;
    al.ok(json!({ "type": "note", "conversation": conv, "text": "Order 4711 delayed" }))
        .await;
    let long = "word ".repeat(400);
    al.ok(json!({ "type": "send", "conversation": conv, "client_msg_id": "a2", "text": long }))
        .await;

    let token = app.staff_token("t1", "al", &[Role::Agent], &["general"]);
    let path = format!("/v1/conversations/{conv}/transcript?format=pdf");
    let d = download(&app, &token, &path).await;
    assert_eq!(d.status, 200);
    assert_eq!(d.headers["content-type"], "application/pdf");
    assert_eq!(
        d.headers["content-disposition"],
        format!("attachment; filename=\"transcript-{conv}.pdf\"")
    );
    assert!(d.body.starts_with(b"%PDF-"));
    let has = |needle: &str| d.body.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has("/FontFile2"), "the font is embedded");
    assert!(has("+DejaVuSans"), "as a subset");

    let text = pdf_text(&d.body);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [latin, hebrew, arabic] {
        assert!(flat.contains(want), "{want:?} not in the extracted text:\n{text}");
    }
    assert!(flat.contains(&format!("Conversation: {conv}")), "{text}");
    assert!(flat.contains("Customer: ada Tester"), "{text}");
    assert!(flat.contains("al · internal Order 4711 delayed"), "{text}");
    assert!(flat.contains(&format!("UTC · ada Tester {hebrew}")), "the customer by name: {text}");
    assert!(flat.contains("Page 1 of 2"), "the long message wraps onto a second page: {text}");

    // The same access as the JSON.
    let stranger = app.staff_token("t1", "cy", &[Role::Agent], &["billing"]);
    assert_eq!(download(&app, &stranger, &path).await.status, 404);
}
