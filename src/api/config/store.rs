//! The one write path for the resources kept as a list in the org document (queues, agents,
//! reasons, dispositions, blocklist): replace-or-add by key, and remove with `404` when nothing
//! matched. The org registry validates the changed document before it is stored, so a change
//! that would leave it invalid is refused and nothing is written.

use actix_web::HttpResponse;
use serde::Serialize;

use super::super::ApiResult;
use crate::actors::Rt;
use crate::domain::org::OrgConfig;
use crate::ids::OrgId;
use crate::protocol::CommandError;

/// Stores `item` in the list that `list` picks out of the org's document: it replaces the first
/// entry whose `key` equals its own, or is added at the end. Answers `200` with the stored item.
pub(super) async fn upsert_in<T, K>(
    rt: &Rt,
    org: &OrgId,
    list: impl FnOnce(&mut OrgConfig) -> &mut Vec<T>,
    item: T,
    key: impl Fn(&T) -> &K,
) -> ApiResult<HttpResponse>
where
    T: Clone + Serialize,
    K: PartialEq + ?Sized,
{
    let stored = item.clone();
    rt.orgs
        .update(org, |o| {
            let entries = list(o);
            match entries.iter().position(|x| key(x) == key(&item)) {
                Some(i) => entries[i] = item,
                None => entries.push(item),
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

/// Removes every entry that `matches` from the list that `list` picks out of the org's
/// document. Answers `204`, or `404 "{what} not found"` when no entry matched.
pub(super) async fn remove_from<T>(
    rt: &Rt,
    org: &OrgId,
    list: impl FnOnce(&mut OrgConfig) -> &mut Vec<T>,
    matches: impl Fn(&T) -> bool,
    what: &str,
) -> ApiResult<HttpResponse> {
    rt.orgs
        .update(org, |o| {
            let entries = list(o);
            let before = entries.len();
            entries.retain(|x| !matches(x));
            if entries.len() == before {
                return Err(CommandError::not_found(what));
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's own document of `kind` (personal canned responses, monitoring levels), parsed;
/// the default when it was never written.
pub(super) async fn read_own<T: serde::de::DeserializeOwned + Default>(
    rt: &Rt,
    staff: &crate::auth::Staff,
    kind: &'static str,
) -> Result<T, super::super::ApiError> {
    let doc = rt
        .engine
        .agent_doc(&staff.org, &staff.id, kind)
        .await
        .map_err(|e| super::super::ApiError(CommandError::from(e)))?;
    match doc {
        None => Ok(T::default()),
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            super::super::ApiError(CommandError::internal(format!(
                "the stored {kind} document does not parse: {e}"
            )))
        }),
    }
}

/// Stores the caller's own document of `kind`, whole (two writes at once: the last one wins).
pub(super) async fn write_own<T: Serialize>(
    rt: &Rt,
    staff: &crate::auth::Staff,
    kind: &'static str,
    doc: &T,
) -> Result<(), super::super::ApiError> {
    let json = serde_json::to_string(doc).map_err(|e| {
        super::super::ApiError(CommandError::internal(format!("serializing {kind}: {e}")))
    })?;
    rt.engine
        .put_agent_doc(&staff.org, &staff.id, kind, json)
        .await
        .map_err(|e| super::super::ApiError(CommandError::from(e)))
}
