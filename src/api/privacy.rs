//! Customer privacy (docs/PROTOCOL.md §9.9), admins only: erase a customer
//! (`POST /v1/customers/{id}/erasure`, answered `202` once the request is recorded; the node's
//! privacy job carries it out), the erasure's audit record (`GET /v1/erasures/{id}`), and the
//! right of access (`GET /v1/customers/{id}/export`: everything held about the customer in the
//! caller's org, as one JSON document).

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::conversations::{find_merged, surveys_merged, whole_log};
use super::{ApiError, ApiResult, Authed};
use crate::actors::Rt;
use crate::engine::ConversationFilter;
use crate::ids::{ConvKey, CustomerId};
use crate::protocol::CommandError;

/// Most conversations one export lists.
const EXPORT_LIMIT: usize = 10_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/customers/{id}/erasure", web::post().to(erase))
        .route("/v1/customers/{id}/export", web::get().to(export))
        .route("/v1/erasures/{id}", web::get().to(erasure));
}

fn customer(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw)
        .map_err(|e| ApiError(CommandError::bad_request(format!("customer: {e}"))))
}

async fn erase(rt: web::Data<Rt>, who: Authed, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let customer = customer(&path)?;
    let record = crate::privacy::erasure::request(&rt, &staff.org, &customer, staff.id.as_str())
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?;
    Ok(HttpResponse::Accepted().json(json!({ "id": record.id, "status": record.status })))
}

async fn erasure(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let found = rt
        .archive()
        .erasure(&staff.org, &path)
        .await
        .map_err(|e| ApiError(CommandError::from(e)))?
        .ok_or_else(|| ApiError(CommandError::not_found("erasure")))?;
    Ok(HttpResponse::Ok().json(found))
}

/// Every conversation of the customer (summary and whole log: agents-only events included,
/// each marked by its `visibility`), its survey answers, the attachments' metadata and the
/// blocklist entries naming its id or one of its conversations' emails.
async fn export(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let customer = customer(&path)?;
    let filter = ConversationFilter {
        customer: Some(customer.clone()),
        limit: EXPORT_LIMIT,
        ..ConversationFilter::default()
    };
    let summaries = find_merged(&rt, &staff.org, filter).await?;
    let mut conversations = Vec::with_capacity(summaries.len());
    let mut attachments = Vec::new();
    let mut emails = std::collections::BTreeSet::new();
    for s in &summaries {
        let key = ConvKey {
            org: staff.org.clone(),
            id: s.id.clone(),
        };
        let (_, events) = whole_log(&rt, &key).await?;
        let (hot, cold) = futures_util::future::join(
            rt.engine.conversation_attachments(&key),
            rt.archive().attachments(&key),
        )
        .await;
        let mut files = hot.map_err(|e| ApiError(CommandError::from(e)))?;
        for r in cold.map_err(|e| ApiError(CommandError::from(e)))? {
            if !files.iter().any(|f| f.id == r.id) {
                files.push(r);
            }
        }
        attachments.extend(files.into_iter().map(|r| {
            json!({
                "id": r.id, "conversation": r.conversation, "name": r.name, "size": r.size,
                "type": r.mime, "sha256": r.sha256, "uploaded_by": r.uploader,
                "created_at": r.created_at,
            })
        }));
        emails.extend(s.customer_email.clone());
        conversations.push(json!({ "conversation": s, "events": events }));
    }
    let surveys: Vec<_> = surveys_merged(&rt, &staff.org)
        .await?
        .into_iter()
        .filter(|x| x.customer == customer)
        .collect();
    let blocklist: Vec<_> = rt
        .orgs
        .get(&staff.org)
        .map(|o| {
            o.blocklist
                .iter()
                .filter(|b| crate::domain::privacy::blocks_customer(b, &customer, &emails))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, no-store"))
        .json(json!({
            "customer": customer,
            "exported_at": chrono::Utc::now(),
            "conversations": conversations,
            "surveys": surveys,
            "attachments": attachments,
            "blocklist": blocklist,
        })))
}
