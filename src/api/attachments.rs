//! Files in chats (docs/PROTOCOL.md §9.8): `POST /v1/conversations/{id}/attachments?name=…`
//! uploads the raw body (streamed to a spool file while it is counted, hashed and sniffed, then
//! handed to the blob store), and `GET /v1/attachments/{id}` downloads one, authorised on every
//! request by the conversation actor. Both take the customer's token or a staff token.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

use super::{rt_of, ApiError, ApiResult};
use crate::actors::conversation::{Access, ConversationActor, MayUpload, Who};
use crate::actors::route::ask;
use crate::actors::Rt;
use crate::attachments::{hex, new_key, scan};
use crate::domain::attachment::{self, FileError, ScanState};
use crate::domain::org::OrgConfig;
use crate::domain::sniff::{self, ContentCheck};
use crate::engine::AttachmentRecord;
use crate::ids::{AttachmentId, ConvKey, ConversationId};
use crate::protocol::{CommandError, ErrorCode};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/conversations/{id}/attachments")
            .wrap(files_cors())
            .route(web::post().to(upload)),
    )
    .service(
        web::resource("/v1/attachments/{id}")
            .wrap(files_cors())
            .route(web::get().to(download)),
    )
    .service(
        web::resource("/v1/attachments/{id}/meta")
            .wrap(files_cors())
            .route(web::get().to(meta)),
    );
}

/// The widget uploads and downloads from the retailer's pages, so these routes answer
/// cross-origin requests: any origin (the bearer token is the credential — no cookies, so no
/// `Access-Control-Allow-Credentials`), the `Authorization` and `Content-Type` headers, and the
/// response headers a client reads (the file name and hash). A customer's `Origin` is still
/// checked against the org's `allowed_origins` in [`caller`].
fn files_cors() -> actix_cors::Cors {
    actix_cors::Cors::default()
        .allow_any_origin()
        .send_wildcard()
        .allowed_methods([
            actix_web::http::Method::GET,
            actix_web::http::Method::POST,
            actix_web::http::Method::OPTIONS,
        ])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([
            header::CONTENT_DISPOSITION,
            header::HeaderName::from_static("x-attachment-sha256"),
        ])
        .max_age(600)
        .disable_vary_header()
}

/// The caller behind `Authorization: Bearer <token>`: a customer (visitor or verified) or
/// staff, with its org.
struct Caller {
    who: Who,
    org: std::sync::Arc<OrgConfig>,
}

fn caller(rt: &Rt, req: &HttpRequest) -> Result<Caller, CommandError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or_else(|| {
            CommandError::new(
                ErrorCode::Unauthorized,
                "missing Authorization: Bearer token",
            )
        })?;
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|h| h.to_str().ok());
    let (principal, org) = crate::auth::authenticate(&rt.auth, &rt.orgs, token, origin)?;
    Ok(Caller {
        who: Who::of(&principal, Some(&org)),
        org,
    })
}

#[derive(Deserialize)]
struct UploadQuery {
    name: String,
}

fn file_error(e: FileError) -> ApiError {
    let code = match e {
        FileError::TooLarge { .. } => ErrorCode::TooLarge,
        _ => ErrorCode::BadRequest,
    };
    ApiError(CommandError::new(code, e.to_string()))
}

fn store_error(e: crate::attachments::BlobError) -> ApiError {
    tracing::warn!(%e, "The blob store failed.");
    ApiError(CommandError::unavailable(
        "the file store is unavailable; retry",
    ))
}

async fn upload(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<UploadQuery>,
    mut body: web::Payload,
) -> ApiResult<HttpResponse> {
    let rt = rt_of(&req)?;
    let Caller { who, org } = caller(&rt, &req)?;
    let settings = &org.settings.attachments;
    if !settings.enabled {
        return Err(CommandError::forbidden("attachments are turned off for this org").into());
    }
    let name = attachment::check_name(&query.name, settings).map_err(file_error)?;
    let conversation = ConversationId::parse(&path)
        .map_err(|_| ApiError(CommandError::not_found("conversation")))?;
    let key = ConvKey {
        org: org.id.clone(),
        id: conversation,
    };
    ask::<ConversationActor, _>(&rt, &key, MayUpload { who: who.clone() }).await?;
    // A declared length over the limit is refused before anything is read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > settings.max_bytes) {
        return Err(file_error(FileError::TooLarge {
            max: settings.max_bytes,
        }));
    }

    // Streamed: each chunk is checked, hashed and written to the spool; a refusal drops the
    // spool, which removes its file.
    let mut check = ContentCheck::new(&name, settings.max_bytes).map_err(file_error)?;
    let mut hasher = Sha256::new();
    let mut spool = rt.blobs.spool().await.map_err(store_error)?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError(CommandError::bad_request(format!(
                "reading the upload: {e}"
            )))
        })?;
        check.feed(&chunk).map_err(file_error)?;
        hasher.update(&chunk);
        spool.write(&chunk).await.map_err(store_error)?;
    }
    let size = check.size();
    let mime = check.finish().map_err(file_error)?;
    let sha256 = hex(&hasher.finalize());

    let scan_url = rt.settings.attachments.scan_url.clone();
    let record = AttachmentRecord {
        id: AttachmentId::generate(),
        org: org.id.clone(),
        conversation: key.id.clone(),
        uploader: who.author(),
        name: name.name,
        size,
        mime: mime.to_string(),
        sha256,
        state: if scan_url.is_empty() {
            ScanState::Clean
        } else {
            ScanState::Pending
        },
        created_at: chrono::Utc::now(),
        key: new_key(),
    };
    rt.blobs
        .put(&record.key, spool)
        .await
        .map_err(store_error)?;
    if let Err(e) = rt.engine.put_attachment(record.clone()).await {
        // Nothing half-stored: without its metadata the blob is unreachable, so it goes.
        if let Err(e) = rt.blobs.delete(&record.key).await {
            tracing::warn!(%e, "An orphaned upload could not be removed.");
        }
        return Err(ApiError(CommandError::from(e)));
    }
    tracing::debug!(attachment = %record.id, conversation = %record.conversation, size, mime, "File uploaded.");
    let body = json!({ "attachment": view(&record) });
    if !scan_url.is_empty() {
        actix_web::rt::spawn(scan_upload(rt.clone(), record, scan_url));
    }
    Ok(HttpResponse::Created().json(body))
}

fn view(r: &AttachmentRecord) -> serde_json::Value {
    json!({
        "id": r.id,
        "name": r.name,
        "size": r.size,
        "type": r.mime,
        "sha256": r.sha256,
        "state": r.state,
    })
}

/// Sends an upload to the scanning webhook and records its verdict (a failed scan rejects).
async fn scan_upload(rt: Rt, mut record: AttachmentRecord, url: String) {
    let timeout = Duration::from_millis(rt.settings.attachments.scan_timeout_ms);
    let verdict = match rt.blobs.get(&record.key).await {
        Ok(Some(blob)) => scan::scan(&url, timeout, record.id.as_str(), &record.mime, blob).await,
        Ok(None) => Err("the file is gone from the store".to_string()),
        Err(e) => Err(e.to_string()),
    };
    record.state = match verdict {
        Ok(scan::Verdict::Clean) => ScanState::Clean,
        Ok(scan::Verdict::Infected) => {
            tracing::info!(attachment = %record.id, "The scanner flagged a file; it is rejected.");
            // Never served again: its bytes go; its record stays, so the id keeps answering 410.
            if let Err(e) = rt.blobs.delete(&record.key).await {
                tracing::warn!(attachment = %record.id, %e, "An infected file could not be removed.");
            }
            ScanState::Rejected
        }
        Err(e) => {
            tracing::warn!(attachment = %record.id, error = %e, "Scanning failed; the file is rejected.");
            ScanState::Rejected
        }
    };
    if let Err(e) = rt.engine.put_attachment(record.clone()).await {
        tracing::warn!(attachment = %record.id, %e, "A scan verdict could not be stored; the file stays pending.");
    }
}

#[derive(Deserialize)]
struct DownloadQuery {
    #[serde(default)]
    inline: Option<String>,
}

/// `filename*=UTF-8''…` (RFC 5987/6266): every byte outside the attribute characters is
/// percent-encoded, so no name can break out of the header.
fn content_disposition(inline: bool, name: &str) -> String {
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename*=UTF-8''{encoded}")
}

/// The attachment `path` names, if the caller may read its conversation: whoever may read the
/// conversation may read its files; anyone else learns nothing, not even that the file exists.
async fn readable(rt: &Rt, req: &HttpRequest, path: &str) -> Result<AttachmentRecord, ApiError> {
    let Caller { who, org } = caller(rt, req)?;
    let not_found = || ApiError(CommandError::not_found("attachment"));
    let id = AttachmentId::parse(path).map_err(|_| not_found())?;
    let record = rt
        .engine
        .attachment(&org.id, &id)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?
        .ok_or_else(not_found)?;
    let key = ConvKey {
        org: org.id.clone(),
        id: record.conversation.clone(),
    };
    match ask::<ConversationActor, _>(rt, &key, Access { who }).await {
        Ok(_) => Ok(record),
        Err(e) if e.code == ErrorCode::Unavailable || e.code == ErrorCode::Internal => {
            Err(e.into())
        }
        Err(_) => Err(not_found()),
    }
}

/// `GET /v1/attachments/{id}/meta`: what a client shows for a file before (or instead of)
/// fetching it — name, size, type, hash and scan state — with the same access as the download.
async fn meta(req: HttpRequest, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let rt = rt_of(&req)?;
    let record = readable(&rt, &req, &path).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(json!({ "attachment": view(&record) })))
}

async fn download(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<DownloadQuery>,
) -> ApiResult<HttpResponse> {
    let rt = rt_of(&req)?;
    let record = readable(&rt, &req, &path).await?;
    let not_found = || ApiError(CommandError::not_found("attachment"));
    match record.state {
        ScanState::Clean => {}
        ScanState::Pending => {
            return Err(
                CommandError::conflict("the file is still being scanned; retry later").into(),
            )
        }
        ScanState::Rejected => return Ok(HttpResponse::Gone().json(json!({
            "error": { "code": "blocked", "message": "the file was rejected by the virus scanner" }
        }))),
    }
    let blob = rt
        .blobs
        .get(&record.key)
        .await
        .map_err(store_error)?
        .ok_or_else(|| {
            tracing::warn!(attachment = %record.id, "An attachment's file is missing from the store.");
            not_found()
        })?;
    let inline =
        matches!(query.inline.as_deref(), Some("1" | "true")) && sniff::inline_safe(&record.mime);
    let content_type = if record.mime.starts_with("text/")
        || record.mime == "application/json"
        || record.mime == "application/xml"
        || record.mime == "image/svg+xml"
    {
        format!("{}; charset=utf-8", record.mime)
    } else {
        record.mime.clone()
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(inline, &record.name),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'",
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header(("X-Attachment-SHA256", record.sha256.clone()))
        .body(actix_web::body::SizedStream::new(
            blob.size,
            blob.body
                .map(|r| r.map_err(actix_web::error::ErrorInternalServerError)),
        )))
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn file_names_are_percent_encoded_in_the_header() {
        assert_eq!(
            content_disposition(false, "report 1.pdf"),
            "attachment; filename*=UTF-8''report%201.pdf"
        );
        assert_eq!(
            content_disposition(true, "é\";\r\n.png"),
            "inline; filename*=UTF-8''%C3%A9%22%3B%0D%0A.png"
        );
    }
}
