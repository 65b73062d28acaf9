//! Emailing a transcript (issue 14, seed 002): `POST /v1/conversations/{id}/transcript/email`
//! queues the plain-text transcript of what the customer saw (and the PDF, when asked) in the
//! outbox, answered `202`;
//! `GET /v1/emails/{id}` shows how it went. Staff who can see the conversation may do both;
//! another org's email or conversation is not found.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::conversations::find;
use super::transcripts::{heading, load, pdf};
use super::{ApiError, ApiResult, Authed};
use crate::actors::Rt;
use crate::archive::outbox::NewEmail;
use crate::domain::export;
use crate::protocol::{CommandError, ErrorCode, LogEvent, Visibility};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/v1/conversations/{id}/transcript/email",
        web::post().to(email_transcript),
    )
    .route("/v1/emails/{id}", web::get().to(status));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailBody {
    to: String,
    /// `txt` (default: the transcript in the body) or `pdf` (the PDF attached too).
    #[serde(default)]
    format: Option<String>,
}

async fn email_transcript(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<EmailBody>,
) -> ApiResult<HttpResponse> {
    if !rt.mailer.enabled() {
        return Err(ApiError(CommandError::unavailable(
            "email is not configured on this server (smtp.host)",
        )));
    }
    let (key, summary) = find(&rt, &who.0, &path).await?;
    let to = crate::mailer::recipient(&body.to)
        .map_err(|e| ApiError(CommandError::bad_request(format!("to: {e}"))))?;
    let attach_pdf = match body.format.as_deref().unwrap_or("txt") {
        "txt" | "text" => false,
        "pdf" => true,
        other => {
            return Err(ApiError(CommandError::bad_request(format!(
                "format must be txt or pdf, not {other:?}"
            ))))
        }
    };
    if !rt.mailer.allow(&key.org) {
        return Err(ApiError(CommandError::new(
            ErrorCode::RateLimited,
            "too many emails from this org; try again in a minute",
        )));
    }
    // What the customer saw: notes, the internal discussion and other agents-only events stay
    // out of an email (it may well go to the customer).
    let (_, mut events) = load(&rt, &key).await?;
    events.retain(|e| e.visibility == Visibility::Public);
    let text = {
        let refs: Vec<&LogEvent> = events.iter().map(|e| e.as_ref()).collect();
        export::transcript_text(&heading(&summary), &refs)
    };
    let attachment = if attach_pdf {
        let name = format!("transcript-{}.pdf", summary.id);
        Some((name, pdf(summary.clone(), events).await?))
    } else {
        None
    };
    let id = format!("e_{}", uuid::Uuid::new_v4().simple());
    let email = NewEmail {
        org: key.org.clone(),
        id: id.clone(),
        conversation: summary.id.to_string(),
        recipient: to.to_string(),
        subject: format!(
            "Transcript of your chat on {}",
            summary.created_at.format("%Y-%m-%d")
        ),
        body: text,
        attachment,
        created_us: crate::mailer::now_us(),
    };
    rt.mailer
        .queue(email)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?;
    Ok(HttpResponse::Accepted().json(json!({ "id": id, "status": "queued" })))
}

/// An email's progress, for staff who can see its conversation.
async fn status(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let found = rt
        .archive()
        .outbox()
        .status(&who.0.org, &path)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?
        .ok_or_else(|| ApiError(CommandError::not_found("email")))?;
    find(&rt, &who.0, &found.conversation)
        .await
        .map_err(|e| match e.0.code {
            ErrorCode::NotFound => ApiError(CommandError::not_found("email")),
            _ => e,
        })?;
    Ok(HttpResponse::Ok().json(found))
}
