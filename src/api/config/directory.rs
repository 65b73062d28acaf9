//! `GET /v1/directory` and the live state of the org's agents, which `GET /v1/agents` shows
//! too.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::super::{ApiResult, Authed};
use super::org;
use crate::actors::agent::{AgentActor, AgentStatus, GetStatus};
use crate::actors::route::ask;
use crate::actors::Rt;
use crate::ids::{AgentId, AgentKey, OrgId};
use crate::protocol::client::Presence;

/// What any staff member may know to pick a transfer target: every agent of the org with a
/// display name and live presence, and the queues the caller can see.
pub(super) async fn directory(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    let mut agents: BTreeMap<AgentId, serde_json::Value> = o
        .agents
        .iter()
        .map(|a| {
            let v = json!({ "id": a.id, "name": a.name, "presence": "offline", "assigned": 0 });
            (a.id.clone(), v)
        })
        .collect();
    for s in live_agents(&rt, &who.0.org).await {
        let name = o.agent(&s.id).map_or(s.name, |p| p.name.clone());
        let presence = if s.sessions == 0 {
            Presence::Offline
        } else {
            s.presence
        };
        let v = json!({ "id": s.id, "name": name, "presence": presence,
            "assigned": s.assigned, "max_chats": s.max_chats });
        agents.insert(s.id, v);
    }
    let queues: Vec<serde_json::Value> = o
        .queues
        .iter()
        .filter(|q| who.0.can_see_queue(&q.id))
        .map(|q| json!({ "id": q.id, "name": q.name }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "agents": agents.into_values().collect::<Vec<_>>(),
        "queues": queues,
    })))
}

/// The live state of the org's agents. One node: the agents active here. A cluster: every
/// agent with a profile, wherever its actor lives, plus those active here.
pub(super) async fn live_agents(rt: &Rt, org_id: &OrgId) -> Vec<AgentStatus> {
    let mut keys: Vec<AgentKey> = rt
        .active_agents()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| &k.org == org_id)
        .collect();
    if rt.placement.clustered() {
        if let Some(o) = rt.orgs.get(org_id) {
            for a in &o.agents {
                let key = AgentKey {
                    org: org_id.clone(),
                    id: a.id.clone(),
                };
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    let asks = keys.iter().map(|k| ask::<AgentActor, _>(rt, k, GetStatus));
    let mut live: Vec<AgentStatus> = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    live.sort_by(|a, b| a.id.cmp(&b.id));
    live
}
