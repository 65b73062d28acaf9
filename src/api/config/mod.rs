//! Org configuration routes, one file per resource. Reads need any staff role; writes need
//! `admin` (the blocklist needs `supervisor`). Every write goes through the org registry, which
//! validates the whole org document before it is stored; the lists of the document share the
//! upsert and remove helpers of `store.rs`.

mod agents;
mod blocklist;
mod canned;
mod directory;
mod dispositions;
mod hours;
mod monitoring;
mod queues;
mod reasons;
mod settings;
mod store;

use std::sync::Arc;

use actix_web::web;

use super::ApiError;
use crate::actors::Rt;
use crate::domain::org::OrgConfig;
use crate::ids::{IdError, OrgId};
use crate::protocol::CommandError;

/// Registers the configuration routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/settings", web::get().to(settings::get_settings))
        .route("/v1/settings", web::put().to(settings::put_settings))
        .route("/v1/queues", web::get().to(queues::list_queues))
        .route("/v1/queues", web::post().to(queues::create_queue))
        .route("/v1/queues/{id}", web::get().to(queues::get_queue))
        .route("/v1/queues/{id}/waiting", web::get().to(queues::waiting))
        .route("/v1/queues/{id}", web::put().to(queues::put_queue))
        .route("/v1/queues/{id}", web::delete().to(queues::delete_queue))
        .route("/v1/agents", web::get().to(agents::list_agents))
        .route("/v1/directory", web::get().to(directory::directory))
        .route("/v1/agents/{id}", web::put().to(agents::put_agent))
        .route("/v1/agents/{id}", web::delete().to(agents::delete_agent))
        .route("/v1/reasons", web::get().to(reasons::list_reasons))
        .route("/v1/reasons/{id}", web::put().to(reasons::put_reason))
        .route("/v1/reasons/{id}", web::delete().to(reasons::delete_reason))
        .route("/v1/hours", web::get().to(hours::get_hours))
        .route("/v1/hours/import", web::post().to(hours::import_hours))
        .route("/v1/hours/save", web::post().to(hours::save_hours))
        .route(
            "/v1/dispositions",
            web::get().to(dispositions::list_dispositions),
        )
        .route(
            "/v1/dispositions/{code}",
            web::put().to(dispositions::put_disposition),
        )
        .route(
            "/v1/dispositions/{code}",
            web::delete().to(dispositions::delete_disposition),
        )
        .route("/v1/blocklist", web::get().to(blocklist::list_blocklist))
        .route("/v1/blocklist", web::post().to(blocklist::add_block))
        .route("/v1/blocklist", web::delete().to(blocklist::remove_block))
        .route("/v1/canned", web::get().to(canned::list_org))
        .route("/v1/canned/{id}", web::put().to(canned::put_org))
        .route("/v1/canned/{id}", web::delete().to(canned::delete_org))
        .route("/v1/me/monitoring", web::get().to(monitoring::list))
        .route("/v1/me/monitoring/{id}", web::put().to(monitoring::put))
        .route(
            "/v1/me/monitoring/{id}",
            web::delete().to(monitoring::delete),
        )
        .route("/v1/me/canned", web::get().to(canned::list_mine))
        .route("/v1/me/canned/{id}", web::put().to(canned::put_mine))
        .route("/v1/me/canned/{id}", web::delete().to(canned::delete_mine))
        .route(
            "/v1/conversations/{id}/canned",
            web::get().to(canned::for_conversation),
        );
}

/// The caller's org document as stored now.
pub(in crate::api) fn org(rt: &Rt, id: &OrgId) -> Result<Arc<OrgConfig>, ApiError> {
    rt.orgs
        .get(id)
        .ok_or_else(|| ApiError(CommandError::not_found("org")))
}

/// Turns an id that did not parse into `400`, naming `what` it was meant to be.
fn parse<T>(r: Result<T, IdError>, what: &str) -> Result<T, ApiError> {
    r.map_err(|e| ApiError(CommandError::bad_request(format!("{what}: {e}"))))
}
