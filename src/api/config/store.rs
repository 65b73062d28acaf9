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
