//! Building and running one node: engine, actors, HTTP server. `main` and the tests use the same
//! entry points (`Application::build`, `run_until_stopped`).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Arbiter;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;

use crate::actors::directory::Directory;
use crate::actors::takeover::ClusterHost;
use crate::actors::{ActorSystem, Rt};
use crate::config::{EngineKind, Settings};
use crate::domain::org::OrgConfig;
use crate::engine::memory::MemoryEngine;
use crate::engine::SharedEngine;
use crate::node::Node;
use crate::placement::{ClusterNode, Local, Notice, Placement};

/// How long drain waits for the local actors to stop (each finishes what it is writing and
/// gives its lease back) before it releases their leases anyway.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// The demo org shipped in `config/demo-org.json`, compiled in.
pub const DEMO_ORGS: &str = include_str!("../config/demo-org.json");

pub struct Application {
    port: u16,
    server: Server,
    rt: Rt,
}

/// The listening socket, with the configured accept queue (std's `TcpListener::bind` asks
/// for 128, which a reconnect storm of thousands of clients overflows: their SYNs are dropped
/// and retried only after a second or more).
fn listen(server: &crate::config::ServerSettings) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::ToSocketAddrs;
    let mut last = None;
    for addr in (server.host.as_str(), server.port).to_socket_addrs()? {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        let bound = socket
            .bind(&addr.into())
            .and_then(|()| socket.listen(i32::try_from(server.backlog).unwrap_or(i32::MAX)));
        match bound {
            Ok(()) => return Ok(socket.into()),
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to bind")
    }))
}

fn threads(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

/// Loads org documents from JSON (an array), skipping orgs that already exist.
pub async fn seed_orgs(rt: &Node, json: &str) -> anyhow::Result<usize> {
    let orgs: Vec<OrgConfig> =
        serde_json::from_str(json).context("org seed data is not valid JSON")?;
    let mut added = 0;
    for org in orgs {
        if rt.orgs.get(&org.id).is_none() {
            let id = org.id.clone();
            rt.orgs
                .put(org)
                .await
                .map_err(|e| anyhow::anyhow!("org {id}: {}", e.message))?;
            added += 1;
        }
    }
    Ok(added)
}

/// Everything of a node but its HTTP server: engine, actor arbiters, timer supervisor and the
/// org registry (loaded, and seeded as configured). Must run inside an actix `System`. The
/// benchmarks use it to drive the actors without sockets.
pub async fn build_runtime(settings: &Settings) -> anyhow::Result<Rt> {
    let mut settings = settings.clone();
    settings.server.node_id = crate::node::node_id(&settings);
    let engine: SharedEngine = match settings.engine.kind {
        EngineKind::Memory => Arc::new(MemoryEngine::new()),
        EngineKind::Redis => {
            let r = &settings.engine.redis;
            if !r.calls_outlast_failover() {
                tracing::warn!(
                    call_attempts = r.call_attempts,
                    call_timeout_ms = r.call_timeout_ms,
                    node_ttl_ms = r.node_ttl_ms,
                    heartbeat_ms = r.heartbeat_ms,
                    "Forwarded commands give up before a dead node's actors move: clients get `unavailable` during failovers. Raise engine.redis.call_attempts or call_timeout_ms."
                );
            }
            crate::engine::redis::RedisEngine::connect(
                &settings.engine.redis,
                &settings.server.node_id,
            )
            .await
            .map_err(|e| anyhow::anyhow!("connecting to Redis: {e}"))?
        }
    };
    let placement: Arc<dyn Placement> = match engine.cluster() {
        Some(bus) => Arc::new(ClusterNode::new(bus, settings.engine.redis.clone())),
        None => Arc::new(Local::new(&settings.server.node_id)),
    };
    let arbiters = (0..threads(settings.server.actor_threads))
        .map(|_| Arbiter::new().handle())
        .collect();
    crate::mailer::validate(&settings.smtp).map_err(|e| anyhow::anyhow!(e))?;
    let archive = crate::archive::open(&settings.archive.url)
        .await
        .map_err(|e| anyhow::anyhow!("opening the archive: {e}"))?;
    let node = Node::new(settings.clone(), engine, placement.clone(), archive);
    node.archiver.start();
    node.mailer.start();
    node.webhooks.start();
    if let Some(bus) = node.engine.cluster() {
        node.hub.connect_bus(bus);
    }
    let rt = ActorSystem::start(node, Directory::new(arbiters));
    if placement.clustered() {
        let notify = Arc::downgrade(&placement);
        let instance = placement.instance().to_string();
        rt.orgs.on_change(Box::new(move |org| {
            if let Some(placement) = notify.upgrade() {
                placement.broadcast(Notice::OrgChanged {
                    org: org.clone(),
                    from: instance.clone(),
                });
            }
        }));
    }
    placement.start(ClusterHost::shared(&rt));
    crate::privacy::start(rt.clone());

    rt.orgs
        .load()
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    if settings.demo.enabled {
        seed_orgs(&rt, DEMO_ORGS).await?;
    }
    if let Some(path) = &settings.demo.seed_file {
        let json =
            std::fs::read_to_string(path).with_context(|| format!("reading seed file {path}"))?;
        seed_orgs(&rt, &json).await?;
    }

    Ok(rt)
}

impl Application {
    /// Builds the node. Must run inside an actix `System`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let rt = build_runtime(&settings).await?;
        let listener = listen(&settings.server).with_context(|| {
            format!("binding {}:{}", settings.server.host, settings.server.port)
        })?;
        let port = listener.local_addr()?.port();
        let app_rt = rt.clone();
        let limits = settings.limits.clone();
        let fault_injection = settings.testing.fault_injection;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(app_rt.clone()))
                .app_data(crate::api::json_config(limits.max_body_bytes))
                .app_data(crate::api::path_config())
                .app_data(crate::api::query_config())
                .route("/v1/ws", web::get().to(crate::gateway::upgrade))
                .configure(|cfg| crate::api::routes(cfg, fault_injection))
                .default_service(web::to(|| async {
                    crate::http_error::error_response(&crate::protocol::CommandError::not_found(
                        "route",
                    ))
                }))
        })
        .workers(threads(settings.server.workers))
        // actix-server stops accepting at 25,600 connections per worker by default, which would
        // cap a node with one worker below its own limit, silently (connections wait in the
        // accept queue). The node's own limit (`limits.max_connections`, a clear 503) binds
        // first; REST calls get the headroom.
        .max_connections(settings.limits.max_connections.saturating_add(1024))
        // Chat frames are small and latency-bound: without this, Nagle's algorithm and delayed
        // ACKs hold frames back for up to ~40 ms under load (measured: delivery p90 38 ms at
        // 10k msg/s before, see docs/PERFORMANCE.md).
        .tcp_nodelay(true)
        .disable_signals()
        .shutdown_timeout(settings.server.drain_timeout_ms.div_ceil(1000))
        .listen(listener)?
        .run();
        tracing::info!(port, node = %rt.node_id, engine = rt.engine.kind(), files = rt.blobs.kind(), "Switchboard is listening.");
        Ok(Self { port, server, rt })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn runtime(&self) -> Rt {
        self.rt.clone()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until `shutdown` resolves, then drains: new connections are refused, connected
    /// clients are told to reconnect, and the server stops within the drain timeout.
    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let handle = self.server.handle();
        let rt = self.rt.clone();
        let drain = Duration::from_millis(rt.settings.server.drain_timeout_ms);
        let server = self.server;
        tokio::pin!(server);
        tokio::select! {
            res = &mut server => return res,
            () = shutdown => {}
        }
        tracing::info!("Draining: telling clients to reconnect.");
        rt.begin_drain();
        rt.placement
            .leave(&ClusterHost(rt.clone()), STOP_WAIT.min(drain))
            .await;
        // Graceful: the server stops as soon as its connections are gone (sessions close
        // themselves on the drain signal), at the latest after the drain timeout. The server
        // future runs the command loop that carries the stop out, so it is polled alongside
        // (awaiting the stop's completion alone waited out the whole drain timeout).
        let stop = handle.stop(true);
        let _ = tokio::time::timeout(drain, async {
            let _ = tokio::join!(stop, &mut server);
        })
        .await;
        Ok(())
    }
}
