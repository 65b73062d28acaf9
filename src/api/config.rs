//! Org configuration routes. Reads need any staff role; writes need `admin`.
//! Every write validates the whole org document before it is stored.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiResult, Authed};
use crate::actors::agent::{AgentActor, AgentStatus, GetStatus};
use crate::actors::queue::{GetStats, QueueActor};
use crate::actors::route::ask;
use crate::actors::Rt;
use crate::domain::hours::{DayHours, HoursProfile};
use crate::domain::org::{AgentProfile, BlockEntry, Disposition, OrgSettings, QueueConfig};
use crate::domain::reasons::{self, Reason};
use crate::ids::{AgentId, AgentKey, CustomerId, OrgId, QueueId, QueueKey, ReasonId};
use crate::protocol::CommandError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/settings", web::get().to(get_settings))
        .route("/v1/settings", web::put().to(put_settings))
        .route("/v1/queues", web::get().to(list_queues))
        .route("/v1/queues", web::post().to(create_queue))
        .route("/v1/queues/{id}", web::get().to(get_queue))
        .route("/v1/queues/{id}", web::put().to(put_queue))
        .route("/v1/queues/{id}", web::delete().to(delete_queue))
        .route("/v1/agents", web::get().to(list_agents))
        .route("/v1/directory", web::get().to(directory))
        .route("/v1/agents/{id}", web::put().to(put_agent))
        .route("/v1/agents/{id}", web::delete().to(delete_agent))
        .route("/v1/reasons", web::get().to(list_reasons))
        .route("/v1/reasons/{id}", web::put().to(put_reason))
        .route("/v1/reasons/{id}", web::delete().to(delete_reason))
        .route("/v1/hours", web::get().to(get_hours))
        .route("/v1/hours/import", web::post().to(import_hours))
        .route("/v1/hours/save", web::post().to(save_hours))
        .route("/v1/dispositions", web::get().to(list_dispositions))
        .route("/v1/dispositions/{code}", web::put().to(put_disposition))
        .route(
            "/v1/dispositions/{code}",
            web::delete().to(delete_disposition),
        )
        .route("/v1/blocklist", web::get().to(list_blocklist))
        .route("/v1/blocklist", web::post().to(add_block))
        .route("/v1/blocklist", web::delete().to(remove_block));
}

fn org(rt: &Rt, id: &OrgId) -> Result<std::sync::Arc<crate::domain::org::OrgConfig>, ApiError> {
    rt.orgs
        .get(id)
        .ok_or_else(|| ApiError(CommandError::not_found("org")))
}

fn parse<T>(r: Result<T, crate::ids::IdError>, what: &str) -> Result<T, ApiError> {
    r.map_err(|e| ApiError(CommandError::bad_request(format!("{what}: {e}"))))
}

async fn get_settings(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    let mut s = o.settings.clone();
    let has_secret = s.customer_token_secret.take().is_some();
    Ok(HttpResponse::Ok().json(json!({ "settings": s, "customer_token_secret_set": has_secret })))
}

async fn put_settings(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<OrgSettings>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let mut next = body.into_inner();
    rt.orgs
        .update(&staff.org, |o| {
            if next.customer_token_secret.is_none() {
                next.customer_token_secret = o.settings.customer_token_secret.clone();
            }
            o.settings = next;
            Ok(())
        })
        .await?;
    get_settings(rt, who).await
}

async fn list_queues(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    let visible: Vec<&QueueConfig> = o
        .queues
        .iter()
        .filter(|q| who.0.can_see_queue(&q.id))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "queues": visible })))
}

async fn create_queue(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<QueueConfig>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let q = body.into_inner();
    let created = q.clone();
    rt.orgs
        .update(&staff.org, |o| {
            if o.queue(&q.id).is_some() {
                return Err(CommandError::conflict("a queue with this id exists"));
            }
            o.queues.push(q);
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(created))
}

async fn get_queue(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = parse(QueueId::parse(&path), "queue")?;
    let o = org(&rt, &who.0.org)?;
    let q = o
        .queue(&id)
        .filter(|q| who.0.can_see_queue(&q.id))
        .ok_or_else(|| ApiError(CommandError::not_found("queue")))?;
    let key = QueueKey {
        org: who.0.org.clone(),
        id,
    };
    let stats = ask::<QueueActor, _>(&rt, &key, GetStats).await?;
    Ok(HttpResponse::Ok().json(json!({ "queue": q, "stats": stats })))
}

/// The body of `PUT /v1/queues/{id}`: the id comes from the path.
#[derive(Deserialize)]
struct QueueBody {
    name: String,
    #[serde(default)]
    priority: i32,
}

async fn put_queue(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<QueueBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(QueueId::parse(&path), "queue")?;
    let b = body.into_inner();
    let q = QueueConfig {
        id: id.clone(),
        name: b.name,
        priority: b.priority,
    };
    let stored = q.clone();
    rt.orgs
        .update(&staff.org, |o| {
            match o.queues.iter_mut().find(|x| x.id == id) {
                Some(existing) => *existing = q,
                None => o.queues.push(q),
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

async fn delete_queue(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(QueueId::parse(&path), "queue")?;
    rt.orgs
        .update(&staff.org, |o| {
            let before = o.queues.len();
            o.queues.retain(|q| q.id != id);
            if o.queues.len() == before {
                return Err(CommandError::not_found("queue"));
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_agents(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let o = org(&rt, &staff.org)?;
    let live = live_agents(&rt, &staff.org).await;
    Ok(HttpResponse::Ok().json(json!({ "profiles": o.agents, "live": live })))
}

/// What any staff member may know to pick a transfer target: every agent of the org with a
/// display name and live presence, and the queues the caller can see.
async fn directory(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    let mut agents: std::collections::BTreeMap<AgentId, serde_json::Value> = o
        .agents
        .iter()
        .map(|a| {
            let v = json!({ "id": a.id, "name": a.name, "presence": "offline", "assigned": 0 });
            (a.id.clone(), v)
        })
        .collect();
    for s in live_agents(&rt, &who.0.org).await {
        {
            let name = o.agent(&s.id).map_or(s.name, |p| p.name.clone());
            let presence = if s.sessions == 0 {
                crate::protocol::client::Presence::Offline
            } else {
                s.presence
            };
            let v = json!({ "id": s.id, "name": name, "presence": presence,
                "assigned": s.assigned, "max_chats": s.max_chats });
            agents.insert(s.id, v);
        }
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

#[derive(Deserialize)]
struct AgentBody {
    name: String,
    #[serde(default)]
    max_chats: Option<u32>,
    #[serde(default)]
    queues: Vec<QueueId>,
}

async fn put_agent(
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
        max_chats: b.max_chats,
        queues: b.queues,
    };
    let stored = profile.clone();
    rt.orgs
        .update(&staff.org, |o| {
            match o.agents.iter_mut().find(|a| a.id == id) {
                Some(existing) => *existing = profile,
                None => o.agents.push(profile),
            }
            Ok(())
        })
        .await?;
    // Capacity changes take effect at once for a signed-in agent.
    if let Some(addr) = rt.agent_if_active(&AgentKey {
        org: staff.org.clone(),
        id,
    }) {
        addr.do_send(crate::actors::agent::Announce);
    }
    Ok(HttpResponse::Ok().json(stored))
}

async fn delete_agent(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(AgentId::parse(&path), "agent")?;
    rt.orgs
        .update(&staff.org, |o| {
            let before = o.agents.len();
            o.agents.retain(|a| a.id != id);
            if o.agents.len() == before {
                return Err(CommandError::not_found("agent"));
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_reasons(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    Ok(HttpResponse::Ok().json(json!({
        "reasons": o.reasons,
        "display_order": reasons::display_order(&o.reasons).iter().map(|r| &r.id).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ReasonBody {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sequence: Option<u32>,
    #[serde(default)]
    queue: Option<QueueId>,
}

async fn put_reason(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<ReasonBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(ReasonId::parse(&path), "reason")?;
    let b = body.into_inner();
    let reason = Reason {
        id: id.clone(),
        name: b.name,
        description: b.description,
        sequence: b.sequence,
        queue: b.queue,
    };
    let stored = reason.clone();
    rt.orgs
        .update(&staff.org, |o| {
            match o.reasons.iter_mut().find(|r| r.id == id) {
                Some(existing) => *existing = reason,
                None => o.reasons.push(reason),
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

async fn delete_reason(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let id = parse(ReasonId::parse(&path), "reason")?;
    rt.orgs
        .update(&staff.org, |o| {
            let before = o.reasons.len();
            o.reasons.retain(|r| r.id != id);
            if o.reasons.len() == before {
                return Err(CommandError::not_found("reason"));
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn get_hours(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    Ok(HttpResponse::Ok().json(json!({
        "hours": o.hours,
        "open_now": { "chat": o.hours.is_open("chat", chrono::Utc::now()) },
    })))
}

/// Seed 000's `hoursOfOperation/import`: replaces the whole profile.
async fn import_hours(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<HoursProfile>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let profile = body.into_inner();
    profile
        .validate()
        .map_err(|e| ApiError(CommandError::bad_request(e.to_string())))?;
    let stored = profile.clone();
    rt.orgs
        .update(&staff.org, |o| {
            o.hours = profile;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

/// Seed 000's `hoursOfOperation/save`: upserts one (channel, weekday) entry.
async fn save_hours(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<DayHours>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let day = body.into_inner();
    let stored = rt
        .orgs
        .update(&staff.org, |o| {
            o.hours
                .save_day(day)
                .map_err(|e| CommandError::bad_request(e.to_string()))?;
            Ok(o.hours.clone())
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

async fn list_dispositions(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let o = org(&rt, &who.0.org)?;
    Ok(HttpResponse::Ok().json(
        json!({ "dispositions": o.dispositions, "required": o.settings.disposition_required }),
    ))
}

#[derive(Deserialize)]
struct DispositionBody {
    label: String,
}

async fn put_disposition(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
    body: web::Json<DispositionBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let code = path.into_inner();
    let d = Disposition {
        code: code.clone(),
        label: body.into_inner().label,
    };
    let stored = d.clone();
    rt.orgs
        .update(&staff.org, |o| {
            match o.dispositions.iter_mut().find(|x| x.code == code) {
                Some(existing) => *existing = d,
                None => o.dispositions.push(d),
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

async fn delete_disposition(
    rt: web::Data<Rt>,
    who: Authed,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let staff = who.admin()?;
    let code = path.into_inner();
    rt.orgs
        .update(&staff.org, |o| {
            let before = o.dispositions.len();
            o.dispositions.retain(|d| d.code != code);
            if o.dispositions.len() == before {
                return Err(CommandError::not_found("disposition"));
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_blocklist(rt: web::Data<Rt>, who: Authed) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let o = org(&rt, &staff.org)?;
    Ok(HttpResponse::Ok().json(json!({ "blocklist": o.blocklist })))
}

#[derive(Deserialize)]
struct BlockBody {
    #[serde(default)]
    customer: Option<CustomerId>,
    #[serde(default)]
    email: Option<String>,
    reason: String,
}

/// Seed 001's visitor blocklist: blocks future chats from a customer or email, org-wide.
async fn add_block(
    rt: web::Data<Rt>,
    who: Authed,
    body: web::Json<BlockBody>,
) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let b = body.into_inner();
    let email = b
        .email
        .map(|e| crate::domain::text::email(&e))
        .transpose()?;
    let entry = BlockEntry {
        customer: b.customer,
        email,
        reason: b.reason,
        at: chrono::Utc::now(),
    };
    let stored = entry.clone();
    rt.orgs
        .update(&staff.org, |o| {
            o.blocklist.push(entry);
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Created().json(stored))
}

#[derive(Deserialize)]
struct Unblock {
    #[serde(default)]
    customer: Option<CustomerId>,
    #[serde(default)]
    email: Option<String>,
}

async fn remove_block(
    rt: web::Data<Rt>,
    who: Authed,
    q: web::Query<Unblock>,
) -> ApiResult<HttpResponse> {
    let staff = who.supervisor()?;
    let q = q.into_inner();
    rt.orgs
        .update(&staff.org, |o| {
            let before = o.blocklist.len();
            o.blocklist.retain(|b| {
                !(q.customer.is_some() && b.customer == q.customer
                    || q.email.as_ref().is_some_and(|e| {
                        b.email.as_ref().is_some_and(|x| x.eq_ignore_ascii_case(e))
                    }))
            });
            if o.blocklist.len() == before {
                return Err(CommandError::not_found("blocklist entry"));
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The live state of the org's agents. One node: the agents active here. A cluster: every
/// agent with a profile, wherever its actor lives, plus those active here.
async fn live_agents(rt: &Rt, org_id: &OrgId) -> Vec<AgentStatus> {
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
