//! A conversation's transcript: the whole log as JSON, CSV (one row per event), plain text or
//! PDF (seeds 001 and 002), with the access of the conversation itself (`conversations::find`).
//! Live conversations are read from the engine, finished ones from the archive.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::conversations::{file, find, Format};
use super::{ApiError, ApiResult, Authed};
use crate::actors::Rt;
use crate::domain::export;
use crate::engine::ConversationSummary;
use crate::ids::ConvKey;
use crate::protocol::{CommandError, LogEvent};

#[derive(Deserialize)]
pub(super) struct TranscriptQuery {
    /// `json` (default), `csv` (one row per event), `txt` or `pdf`.
    #[serde(default)]
    format: Option<String>,
}

/// The whole log, agent-only events included (this is an agent API).
pub(super) async fn transcript(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    q: web::Query<TranscriptQuery>,
) -> ApiResult<HttpResponse> {
    let format = Format::parse(
        q.format.as_deref(),
        &[Format::Json, Format::Csv, Format::Text, Format::Pdf],
    )?;
    let (key, summary) = find(&rt, &who.0, &path).await?;
    let (epoch, all) = load(&rt, &key).await?;
    let events: Vec<&LogEvent> = all.iter().map(|e| e.as_ref()).collect();
    let name = format!("transcript-{}", summary.id);
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(json!({
            "conversation": summary,
            "epoch": epoch,
            "events": events,
        })),
        Format::Csv => file(
            export::transcript_csv(&events),
            "text/csv; charset=utf-8",
            &format!("{name}.csv"),
        ),
        Format::Text => file(
            export::transcript_text(&heading(&summary), &events),
            "text/plain; charset=utf-8",
            &format!("{name}.txt"),
        ),
        Format::Pdf => file(
            pdf(summary.clone(), all.clone()).await?,
            "application/pdf",
            &format!("{name}.pdf"),
        ),
    })
}

/// The transcript as a PDF, laid out on a blocking thread (a long chat takes a while).
pub(super) async fn pdf(
    summary: ConversationSummary,
    events: Vec<Arc<LogEvent>>,
) -> Result<Vec<u8>, ApiError> {
    let made = web::block(move || {
        let events: Vec<&LogEvent> = events.iter().map(|e| e.as_ref()).collect();
        export::transcript_pdf(&heading(&summary), &events)
    })
    .await
    .map_err(|e| ApiError(CommandError::internal(format!("PDF task: {e}"))))?;
    made.map_err(|e| ApiError(CommandError::internal(format!("PDF: {e}"))))
}

/// The log's epoch and every event, from the engine while it has the conversation, else from
/// the archive.
pub(super) async fn load(rt: &Rt, key: &ConvKey) -> Result<(String, Vec<Arc<LogEvent>>), ApiError> {
    let whole = crate::engine::read_all(rt.engine.as_ref(), key, 1000)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?;
    if let Some(w) = whole {
        return Ok((w.epoch.to_string(), w.events));
    }
    let archive = rt.archive();
    let epoch = archive
        .epoch(key)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?
        .unwrap_or_default();
    let events = crate::archive::read_all(archive.as_ref(), key, 1000)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?;
    Ok((epoch, events))
}

/// How the header shows a time (the events' lines show theirs the same way).
const CLOCK: &str = "%Y-%m-%d %H:%M:%S UTC";

/// The header of a transcript file: what the conversation was, who took part, when.
pub(super) fn heading(s: &ConversationSummary) -> Vec<(&'static str, String)> {
    let opt = |o: Option<String>| o.unwrap_or_default();
    vec![
        ("Conversation", s.id.to_string()),
        ("Customer", s.customer_name.clone()),
        ("Email", opt(s.customer_email.clone())),
        ("Queue", opt(s.queue.as_ref().map(ToString::to_string))),
        (
            "Agents",
            s.agents
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ("Case", opt(s.case_id.clone())),
        ("Status", s.status.as_str().to_string()),
        ("Started", s.created_at.format(CLOCK).to_string()),
        (
            "Ended",
            opt(s.ended_at.map(|t| t.format(CLOCK).to_string())),
        ),
    ]
}
