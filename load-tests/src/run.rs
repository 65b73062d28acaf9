//! One run, start to finish: health check, agents sign in, customers arrive by the stages (and
//! the reconnect storm strikes if there is one), customers finish or hit the deadline, in-flight
//! deliveries drain, agents sign out, and the report is built. Every wait is bounded by
//! `run.timeout_secs`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::agent;
use crate::customer;
use crate::http;
use crate::memory::Sampler;
use crate::report::{self, Report};
use crate::scenario::Mode;
use crate::seats::Rules;
use crate::shared::Shared;
use crate::supervisor;
use crate::token;

/// How long the nodes have to answer `/healthz` at the start.
const HEALTH_WAIT: Duration = Duration::from_secs(10);
/// Time given to clients to close after being told to stop.
const CLOSE_GRACE: Duration = Duration::from_secs(3);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub async fn run(
    shared: Arc<Shared>,
    server_pid: Option<u32>,
    progress: bool,
) -> anyhow::Result<Report> {
    let started_unix = report::now_unix();
    let s = &shared.scenario;
    let began = Instant::now();
    let deadline = began + Duration::from_secs(s.run.timeout_secs);
    let drain = Duration::from_secs(s.run.drain_secs);
    // Customers must be done in time for the drain and the close before the deadline.
    let customers_deadline = deadline
        .checked_sub(drain + CLOSE_GRACE)
        .filter(|d| *d > began)
        .unwrap_or(deadline);

    // Memory baseline before the first connection.
    let sampler = server_pid.and_then(|pid| {
        let s = Sampler::start(pid).map(Arc::new);
        if s.is_none() {
            eprintln!(
                "warning: cannot read /proc/{pid}/status; server memory will not be reported"
            );
        }
        s
    });
    let mut background = JoinSet::new();
    if let Some(sm) = sampler.clone() {
        let sh = shared.clone();
        background.spawn(async move { sm.run(&sh.stats).await });
    }

    wait_healthy(&shared, deadline.min(Instant::now() + HEALTH_WAIT)).await?;
    if progress {
        let sh = shared.clone();
        background.spawn(async move { report_progress(&sh).await });
    }

    let archive_start = crate::archive::read(&shared)
        .await
        .map(|c| (c, Instant::now()));
    // The bot first: `prepare_org` then reads (and puts back) the settings with it.
    let bot_restore = match &shared.scenario.bot {
        Some(cfg) => {
            let (listener, addr) = crate::bot::bind(&cfg.listen).await?;
            let sh = shared.clone();
            background.spawn(async move { crate::bot::serve(sh, listener).await });
            Some(crate::bot::configure(&shared, addr).await?)
        }
        None => None,
    };
    let restore = prepare_org(&shared).await?;
    let mut agents = JoinSet::new();
    sign_in_agents(&shared, &mut agents, deadline).await;
    // Supervisors sign in with the agents and stop with them.
    for idx in 0..shared.supervisor_ids.len() {
        agents.spawn(supervisor::run(shared.clone(), idx));
    }

    // Customers (and the storm, timed from the first arrival).
    let arrivals_began = Instant::now();
    if let Some(r) = s.reconnect.clone() {
        let sh = shared.clone();
        background.spawn(async move {
            tokio::time::sleep_until((arrivals_began + Duration::from_secs_f64(r.at_secs)).into())
                .await;
            sh.stats.storm_started();
            let _ = sh.storm.send(true);
            std::future::pending::<()>().await;
        });
    }
    let mut customers = JoinSet::new();
    let mut spawned = 0;
    let total_secs = s.arrival_secs();
    loop {
        let t = arrivals_began.elapsed().as_secs_f64();
        let due = s.arrivals_by(t);
        while spawned < due {
            customers.spawn(customer::run(shared.clone(), spawned));
            spawned += 1;
        }
        while customers.try_join_next().is_some() {}
        let capped = s.customers.count > 0 && spawned >= s.customers.count;
        if capped || t >= total_secs || Instant::now() >= customers_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if s.customers.mode == Mode::Idle {
        let sh = shared.clone();
        let hold = Duration::from_secs(s.customers.idle_hold_secs);
        background.spawn(async move {
            tokio::time::sleep(hold).await;
            let _ = sh.release_idle.send(true);
            std::future::pending::<()>().await;
        });
    }

    // Wait for the customers, up to their deadline.
    let all_done = tokio::time::timeout_at(customers_deadline.into(), async {
        while customers.join_next().await.is_some() {}
    })
    .await
    .is_ok();
    if !all_done {
        eprintln!(
            "run deadline: stopping {} customers still running",
            customers.len()
        );
        let _ = shared.stop_customers.send(true);
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while customers.join_next().await.is_some() {}
        })
        .await;
        customers.abort_all();
    }
    let c = &shared.stats.c;
    let arrived = c.customers_arrived.load(Relaxed);
    c.customers_unfinished.store(
        arrived.saturating_sub(c.customers_finished.load(Relaxed)),
        Relaxed,
    );

    // Drain: deliveries in flight and wrap-ups still to do.
    let drain_end = (Instant::now() + drain).min(deadline);
    let deliveries = || shared.audience.as_ref().map_or(0, |a| a.outstanding());
    while Instant::now() < drain_end
        && (shared.ledger.outstanding() > 0
            || shared.agent_work.load(Relaxed) > 0
            || deliveries() > 0)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let _ = shared.stop_agents.send(true);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while agents.join_next().await.is_some() {}
    })
    .await;
    agents.abort_all();
    for (token, settings) in [restore, bot_restore].into_iter().flatten() {
        if let Err(e) = put_settings(&shared, &token, &settings).await {
            eprintln!("warning: could not restore the org's settings: {e:#}");
        }
    }
    let archive = match archive_start {
        Some((start, at)) => crate::archive::finish(&shared, start, at).await,
        None => None,
    };
    if let Some(sm) = &sampler {
        sm.sample(&shared.stats);
    }
    background.abort_all();
    Ok(Report::build(
        &shared,
        started_unix,
        sampler.map(|s| s.report()),
        archive,
    ))
}

/// Waits until every node answers `GET /healthz` with 200.
async fn wait_healthy(shared: &Shared, until: Instant) -> anyhow::Result<()> {
    for node in &shared.dialer.endpoints {
        loop {
            let r = http::request(
                &shared.dialer,
                node,
                "GET",
                "/healthz",
                None,
                Duration::from_secs(2),
            )
            .await;
            match r {
                Ok(r) if r.status == 200 => break,
                other => {
                    if Instant::now() >= until {
                        let why = match other {
                            Ok(r) => format!("HTTP {}", r.status),
                            Err(e) => format!("{e:#}"),
                        };
                        bail!("node {} is not healthy (GET /healthz: {why})", node.url);
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }
    Ok(())
}

/// With `[conference]`: reads the org's settings (which participant seats count against
/// max_chats) and, when the scenario sets `invite_expiry_ms`, sets it for the run. Returns what
/// to put back afterwards (an admin token and the settings as they were).
async fn prepare_org(shared: &Shared) -> anyhow::Result<Option<(String, Value)>> {
    let Some(conf) = &shared.scenario.conference else {
        return Ok(None);
    };
    let token = token::admin(
        &shared.scenario.target,
        shared.scenario.run.timeout_secs + 3600,
    )?;
    let settings = get_settings(shared, &token).await;
    let mut settings = match settings {
        Ok(s) => s,
        Err(e) if conf.invite_expiry_ms.is_some() => {
            return Err(e.context("setting the org's invite_expiry_ms"))
        }
        Err(e) => {
            eprintln!("warning: {e:#}; counting conference and consult seats (the defaults)");
            return Ok(None);
        }
    };
    let counts = |key: &str| settings.get(key).and_then(Value::as_bool).unwrap_or(true);
    let _ = shared.seat_rules.set(Rules {
        conference: counts("conference_counts"),
        consult: counts("consult_counts"),
    });
    let Some(ms) = conf.invite_expiry_ms else {
        return Ok(None);
    };
    let original = settings.clone();
    settings["invite_expiry_ms"] = json!(ms);
    put_settings(shared, &token, &settings).await?;
    Ok(Some((token, original)))
}

/// `GET /v1/settings` (admin): the org's settings, secrets left out.
pub async fn get_settings(shared: &Shared, token: &str) -> anyhow::Result<Value> {
    let r = http::request_as(
        &shared.dialer,
        shared.dialer.endpoint(0),
        "GET",
        "/v1/settings",
        None,
        Some(token),
        shared.request_timeout(),
    )
    .await?;
    if r.status != 200 {
        bail!("GET /v1/settings: HTTP {}: {}", r.status, r.body.trim());
    }
    serde_json::from_str::<Value>(&r.body)
        .ok()
        .and_then(|v| v.get("settings").cloned())
        .context("GET /v1/settings: no settings in the answer")
}

pub async fn put_settings(shared: &Shared, token: &str, settings: &Value) -> anyhow::Result<()> {
    let r = http::request_as(
        &shared.dialer,
        shared.dialer.endpoint(0),
        "PUT",
        "/v1/settings",
        Some(&settings.to_string()),
        Some(token),
        shared.request_timeout(),
    )
    .await?;
    if r.status != 200 {
        bail!("PUT /v1/settings: HTTP {}: {}", r.status, r.body.trim());
    }
    Ok(())
}

/// Spawns the agents at the login rate and waits (bounded) until they are all available.
async fn sign_in_agents(shared: &Arc<Shared>, agents: &mut JoinSet<()>, deadline: Instant) {
    let count = shared.agent_ids.len();
    if count == 0 {
        return;
    }
    let began = Instant::now();
    let rate = shared.scenario.agents.login_rate_per_sec;
    let mut spawned = 0;
    while spawned < count {
        let due = ((began.elapsed().as_secs_f64() * rate) as usize + 1).min(count);
        while spawned < due {
            agents.spawn(agent::run(shared.clone(), spawned));
            spawned += 1;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let until = deadline.min(began + Duration::from_secs(shared.scenario.run.login_timeout_secs));
    while shared.stats.c.agents_ready.load(Relaxed) < count as u64 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready = shared.stats.c.agents_ready.load(Relaxed);
    if ready < count as u64 {
        eprintln!("warning: only {ready} of {count} agents are available; going on");
        shared
            .stats
            .note(format!("only {ready} of {count} agents became available"));
    }
}

/// A line on stderr every few seconds for long runs.
async fn report_progress(shared: &Shared) {
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        let c = shared.stats.c.values();
        eprintln!(
            "[{:>5.0}s] open {} | customers {} (done {}) | chats started {} assigned {} ended {} | msgs acked {} delivered {} in flight {} | errors {}",
            shared.stats.started.elapsed().as_secs_f64(),
            shared.stats.open_connections(),
            c.customers_arrived,
            c.customers_finished,
            c.chats_started,
            c.chats_assigned,
            c.chats_ended,
            c.messages_acked,
            c.messages_delivered,
            shared.ledger.outstanding(),
            c.errors
        );
    }
}
