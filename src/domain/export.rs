//! Transcripts as files people open (seed 001's "view & export", DESIGN §12): CSV — one row per
//! event —, plain text and PDF (seed 002; laid out by `domain/pdf`). Pure formatting; the routes
//! decide who may read what.
//!
//! CSV cells are quoted per RFC 4180 and made **formula-injection safe**: a cell that a
//! spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return) is prefixed with `'`, so `=HYPERLINK(…)` typed by a customer stays text.

use std::collections::HashMap;

use serde::Serialize;

use crate::protocol::{EventKind, LogEvent};

/// One CSV cell: quoted when it holds a comma, quote, line break or outer space; a leading
/// formula character neutralised with `'`.
pub fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    let quote =
        value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if quote {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One CSV record (CRLF-terminated, as RFC 4180 says).
pub fn csv_row<S: AsRef<str>>(cells: &[S]) -> String {
    let mut row = cells
        .iter()
        .map(|c| csv_cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    row.push_str("\r\n");
    row
}

/// A cell of [`csv_cells`]: text, neutralised and quoted by [`csv_cell`], or a number we
/// formatted ourselves, written as is (a negative number is no formula: `-20` stays a number a
/// spreadsheet can add up). `Number(None)` is an empty cell.
pub enum Cell<'a> {
    Text(&'a str),
    Number(Option<i64>),
}

/// One CSV record of text and number cells (CRLF-terminated).
pub fn csv_cells(cells: &[Cell]) -> String {
    let mut row = cells
        .iter()
        .map(|c| match c {
            Cell::Text(t) => csv_cell(t),
            Cell::Number(n) => n.map(|n| n.to_string()).unwrap_or_default(),
        })
        .collect::<Vec<_>>()
        .join(",");
    row.push_str("\r\n");
    row
}

/// A value's wire name (`"agents"`, `"conference"`, `"customer"` …).
fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// What an event says, in words: the text of messages, notes and the internal discussion, the
/// address of a pushed link, a short description of everything else.
pub fn event_text(kind: &EventKind) -> String {
    match kind {
        EventKind::Message {
            text, attachments, ..
        } => {
            let files: Vec<String> = attachments
                .iter()
                .map(|a| format!("[file: {} ({} bytes)]", a.name, a.size))
                .collect();
            match (text.is_empty(), files.is_empty()) {
                (_, true) => text.clone(),
                (true, false) => files.join(" "),
                (false, false) => format!("{text} {}", files.join(" ")),
            }
        }
        EventKind::Note { text } | EventKind::Internal { text, .. } => text.clone(),
        EventKind::UrlPushed { url, .. } => format!("pushed a link: {url}"),
        EventKind::Created {
            customer_name,
            queue,
            ..
        } => format!("chat started by {customer_name} in queue {queue}"),
        EventKind::Queued { queue, .. } => format!("queued in {queue}"),
        EventKind::Assigned { agent_name, .. } => format!("assigned to {agent_name}"),
        EventKind::ParticipantJoined { name, role, .. } => {
            format!("{name} joined as {}", wire(role))
        }
        EventKind::ParticipantLeft {
            participant, role, ..
        } => format!("{participant} ({}) left", wire(role)),
        EventKind::Read { up_to } => format!("read up to {up_to}"),
        EventKind::TransferRequested { from, to, note } => format!(
            "{from} asked {to} to take the chat{}",
            note.as_ref().map_or(String::new(), |n| format!(": {n}"))
        ),
        EventKind::TransferAccepted { to, .. } => format!("transfer accepted by {to}"),
        EventKind::TransferRejected { to, .. } => format!("transfer rejected by {to}"),
        EventKind::TransferExpired { to, .. } => format!("transfer to {to} expired"),
        EventKind::TransferredToQueue { from, queue, note } => format!(
            "{from} transferred the chat to queue {queue}{}",
            note.as_ref().map_or(String::new(), |n| format!(": {n}"))
        ),
        EventKind::Invited { to, role, by, .. } => {
            format!("{by} invited {to} as {}", wire(role))
        }
        EventKind::InviteEnded { to, outcome, .. } => {
            format!("invitation to {to} {}", wire(outcome))
        }
        EventKind::RoleChanged { name, from, to, .. } => {
            format!("{name}: {} → {}", wire(from), wire(to))
        }
        EventKind::OwnershipChanged { name, .. } => format!("ownership passed to {name}"),
        EventKind::Parked { previous } => format!("parked (was with {previous})"),
        EventKind::IdleWarning { message } => format!("idle prompt: {message}"),
        EventKind::Continued => "the customer continued".to_string(),
        EventKind::Ended { reason, .. } => format!("ended ({})", wire(reason)),
        EventKind::WrapUp { disposition, note } => format!(
            "wrapped up{}{}",
            disposition
                .as_ref()
                .map_or(String::new(), |d| format!(": {d}")),
            note.as_ref().map_or(String::new(), |n| format!(" – {n}"))
        ),
        EventKind::Survey { rating, comment } => format!(
            "survey: {rating}/10{}",
            comment
                .as_ref()
                .map_or(String::new(), |c| format!(" – {c}"))
        ),
        EventKind::BotEngaged { name, .. } => format!("chat started with the bot {name}"),
        EventKind::HandedOver { by } => format!("handed over to a person ({})", wire(by)),
        EventKind::Intake {
            answers,
            summary,
            skill,
        } => {
            let mut parts: Vec<String> = answers
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}: {s}"),
                    other => format!("{k}: {other}"),
                })
                .collect();
            if let Some(s) = skill {
                parts.push(format!("skill: {s}"));
            }
            if let Some(s) = summary {
                parts.push(format!("summary: {s}"));
            }
            format!("intake – {}", parts.join("; "))
        }
        EventKind::HandoverFailed {
            reason, message, ..
        } => {
            format!("handover failed ({reason}): {message}")
        }
        EventKind::TicketRequested { ticket, .. } => match ticket {
            Some(t) => format!("asked to append the chat to ticket {t}"),
            None => "asked for a ticket from the chat".to_string(),
        },
        EventKind::TicketLinked { ticket, url, .. } => format!(
            "ticket {ticket}{}",
            url.as_ref().map_or(String::new(), |u| format!(" ({u})"))
        ),
    }
}

/// The columns of [`transcript_csv`].
pub const TRANSCRIPT_COLUMNS: [&str; 8] = [
    "seq",
    "at",
    "visibility",
    "kind",
    "author_role",
    "author_id",
    "author_name",
    "text",
];

/// A transcript as CSV: a header, then one row per event, in log order.
pub fn transcript_csv(events: &[&LogEvent]) -> String {
    let mut out = csv_row(&TRANSCRIPT_COLUMNS);
    for e in events {
        out.push_str(&csv_row(&[
            e.seq.to_string(),
            e.at.to_rfc3339(),
            wire(&e.visibility),
            e.kind.name().to_string(),
            wire(&e.author.role),
            e.author.id.clone().unwrap_or_default(),
            e.author.name.clone().unwrap_or_default(),
            event_text(&e.kind),
        ]));
    }
    out
}

/// A transcript as plain text, one line per event: `[time] who: text` for what people wrote,
/// `[time] * what happened` for the rest; agents-only lines are marked so.
pub fn transcript_text(heading: &[(&str, String)], events: &[&LogEvent]) -> String {
    let names = names(events);
    let mut out = String::new();
    for (label, value) in heading {
        if !value.is_empty() {
            out.push_str(&format!("{label}: {value}\n"));
        }
    }
    out.push('\n');
    for e in events {
        if matches!(e.kind, EventKind::Read { .. }) {
            continue;
        }
        let at = e.at.format("%Y-%m-%d %H:%M:%S UTC");
        let who = author(e, &names);
        let private = if internal(e) { " (agents only)" } else { "" };
        let text = event_text(&e.kind);
        if written(&e.kind) {
            let lead = format!("[{at}] {who}{private}: ");
            let pad = " ".repeat(lead.chars().count());
            out.push_str(&lead);
            out.push_str(&text.replace('\n', &format!("\n{pad}")));
            out.push('\n');
        } else {
            out.push_str(&format!("[{at}] * {text}{private}\n"));
        }
    }
    out
}

/// The names the log gives its participants' ids (a customer's message carries only the id).
fn names(events: &[&LogEvent]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for e in events {
        if let (Some(id), Some(name)) = (&e.author.id, &e.author.name) {
            names.insert(id.clone(), name.clone());
        }
        match &e.kind {
            EventKind::Created {
                customer: Some(id),
                customer_name,
                ..
            } => {
                names.insert(id.to_string(), customer_name.clone());
            }
            EventKind::Assigned { agent, agent_name } => {
                names.insert(agent.to_string(), agent_name.clone());
            }
            EventKind::ParticipantJoined {
                participant, name, ..
            } => {
                names.insert(participant.clone(), name.clone());
            }
            _ => {}
        }
    }
    names
}

/// Who an event is by: its name, else the name the log gives its id, else the id, else a role.
fn author(e: &LogEvent, names: &HashMap<String, String>) -> String {
    e.author
        .name
        .clone()
        .or_else(|| e.author.id.as_ref().and_then(|id| names.get(id).cloned()))
        .or_else(|| e.author.id.clone())
        .unwrap_or_else(|| wire(&e.author.role))
}

/// Whether only agents saw the event.
fn internal(e: &LogEvent) -> bool {
    e.visibility == crate::protocol::Visibility::Agents
}

/// Whether the event is something a person wrote (else something that happened).
fn written(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Message { .. } | EventKind::Note { .. } | EventKind::Internal { .. }
    )
}

/// A transcript as a paginated A4 PDF: a title and the header fields, then per event a small
/// grey line (time, author, "internal" for agents-only events) over what was written, or one
/// grey line for what happened. Errs only on a defect of the embedded font.
pub fn transcript_pdf(heading: &[(&str, String)], events: &[&LogEvent]) -> Result<Vec<u8>, String> {
    use super::pdf::{document, Block, Style};
    let names = names(events);
    let mut blocks = vec![Block::new(Style::Title, "Chat transcript")];
    for (label, value) in heading {
        if !value.is_empty() {
            blocks.push(Block::new(Style::Field, format!("{label}: {value}")));
        }
    }
    for e in events {
        if matches!(e.kind, EventKind::Read { .. }) {
            continue;
        }
        let at = e.at.format("%Y-%m-%d %H:%M:%S UTC");
        let private = if internal(e) { " · internal" } else { "" };
        let text = event_text(&e.kind);
        if written(&e.kind) {
            blocks.push(Block::new(
                Style::Meta,
                format!("{at} · {}{private}", author(e, &names)),
            ));
            blocks.push(Block::new(Style::Body, text));
        } else {
            blocks.push(Block::new(Style::Meta, format!("{at} · {text}{private}")));
        }
    }
    let title = heading
        .iter()
        .find(|(label, _)| *label == "Conversation")
        .map_or("Chat transcript".to_string(), |(_, id)| {
            format!("Chat transcript {id}")
        });
    document(&title, &blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_neutralised() {
        let cases = [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            (" padded", "\" padded\""),
            ("", ""),
        ];
        for (value, want) in cases {
            assert_eq!(csv_cell(value), want, "{value:?}");
        }
        assert_eq!(csv_row(&["a", "b,c"]), "a,\"b,c\"\r\n");
        assert_eq!(
            csv_cells(&[
                Cell::Text("-q"),
                Cell::Number(Some(-20)),
                Cell::Number(None)
            ]),
            "'-q,-20,\r\n"
        );
    }
}
