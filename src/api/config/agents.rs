//! `/v1/agents`: the org's agent profiles (display name, capacity override, queues) with the
//! agents' live state. A changed profile takes effect at once for a signed-in agent.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::super::{ApiResult, Authed};
use super::directory::live_agents;
use super::store::{remove_from, upsert_in};
use super::{org, parse};
use crate::actors::agent::Announce;
use crate::actors::Rt;
use crate::domain::org::AgentProfile;
use crate::ids::{AgentId, AgentKey, QueueId};

/// `GET /v1/agents` (supervisors): every profile and the live state of the org's agents.
pub(super) async fn list_agents(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let o = org(&rt, &staff.org)?;
    let live = live_agents(&rt, &staff.org).await;
    Ok(HttpResponse::Ok().json(json!({ "profiles": o.agents, "live": live })))
}

/// The body of `PUT /v1/agents/{id}`: the id comes from the path.
#[derive(Deserialize)]
pub(super) struct AgentBody {
    name: String,
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    max_chats: Option<u32>,
    #[serde(default)]
    queues: Vec<QueueId>,
}

pub(super) async fn put_agent(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<AgentBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(AgentId::parse(&path), "agent")?;
    let b = body.into_inner();
    let profile = AgentProfile {
        id: id.clone(),
        name: b.name,
        nickname: b.nickname,
        max_chats: b.max_chats,
        queues: b.queues,
    };
    let stored = upsert_in(&rt, &staff.org, |o| &mut o.agents, profile, |a| &a.id).await?;
    // Capacity changes take effect at once for a signed-in agent.
    if let Some(addr) = rt.agent_if_active(&AgentKey {
        org: staff.org.clone(),
        id,
    }) {
        addr.do_send(Announce);
    }
    Ok(stored)
}

pub(super) async fn delete_agent(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(AgentId::parse(&path), "agent")?;
    remove_from(&rt, &staff.org, |o| &mut o.agents, |a| a.id == id, "agent").await
}
