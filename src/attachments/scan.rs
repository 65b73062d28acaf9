//! The optional scanning webhook (`attachments.scan_url`): the file is POSTed to it as the raw
//! body (with `X-Attachment-Id` and `Content-Type` headers) and it answers
//! `{"result": "clean"}` or `{"result": "infected"}`. Anything else — an error status, another
//! answer, no answer in time — counts as a failed scan, which rejects the file (fail closed).

use std::time::Duration;

use actix_web::body::SizedStream;
use futures_util::TryStreamExt;
use serde::Deserialize;

use super::Blob;

/// What the scanner said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    Infected,
}

#[derive(Deserialize)]
struct Answer {
    result: String,
}

/// Sends the file to the scanner and waits for its verdict.
pub async fn scan(
    url: &str,
    timeout: Duration,
    id: &str,
    mime: &str,
    blob: Blob,
) -> Result<Verdict, String> {
    let client = awc::Client::builder().timeout(timeout).finish();
    let body = SizedStream::new(
        blob.size,
        blob.body
            .map_err(actix_web::error::ErrorInternalServerError),
    );
    let mut resp = client
        .post(url)
        .insert_header(("X-Attachment-Id", id))
        .insert_header(("Content-Type", mime))
        .send_body(body)
        .await
        .map_err(|e| format!("scanner unreachable: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("scanner answered {}", resp.status()));
    }
    let answer: Answer = resp
        .json()
        .limit(4096)
        .await
        .map_err(|e| format!("scanner answer: {e}"))?;
    match answer.result.as_str() {
        "clean" => Ok(Verdict::Clean),
        "infected" => Ok(Verdict::Infected),
        other => Err(format!("scanner answered result {other:?}")),
    }
}
