//! `switchboard-load`: drives simulated customers and agents against Switchboard nodes over the
//! real protocol, as a scenario file describes, and reports what it measured.
//!
//! Exit status: 0 when every threshold of the scenario holds, 1 when one is broken, 2 when the
//! run could not be carried out (bad scenario, node unreachable).
//!
//! ```text
//! cargo run --release -p switchboard-load -- load-tests/scenarios/smoke.toml --url ws://127.0.0.1:8080
//! ```

mod agent;
mod archive;
mod audience;
mod bot;
mod client;
mod clock;
mod customer;
mod http;
mod ledger;
mod memory;
mod net;
mod participant;
mod payload;
mod protocol;
mod report;
mod requests;
mod rng;
mod run;
mod scenario;
mod seats;
mod shared;
mod stats;
mod supervisor;
mod sys;
mod thresholds;
mod timers;
mod token;
mod tracker;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use crate::net::{Dialer, Endpoint};
use crate::scenario::Scenario;
use crate::shared::Shared;

/// Extra time past `run.timeout_secs` before the process gives up on the run altogether.
const WATCHDOG_SLACK: Duration = Duration::from_secs(30);

#[derive(Debug, Parser)]
#[command(
    name = "switchboard-load",
    version,
    about = "Load generator for Switchboard: simulated customers and agents over the real protocol."
)]
struct Cli {
    /// Scenario file, e.g. load-tests/scenarios/smoke.toml.
    scenario: PathBuf,
    /// A node's websocket URL (ws://HOST:PORT[/v1/ws]); repeat for several nodes, used round-robin.
    /// Replaces the scenario's target.urls.
    #[arg(long = "url", value_name = "URL")]
    urls: Vec<String>,
    /// PID of the server process on this machine: report its memory (VmRSS) per connection.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Multiply agents, customers and arrival rates by this factor (scale a scenario up or down).
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    scale: f64,
    /// Local address to bind client sockets to (repeat for several, used round-robin).
    /// Replaces the scenario's target.source_ips.
    #[arg(long = "source-ip", value_name = "IP")]
    source_ips: Vec<IpAddr>,
    /// HS256 secret for agent tokens (the server's auth.jwt_secret). Replaces target.jwt_secret.
    #[arg(long, value_name = "SECRET")]
    jwt_secret: Option<String>,
    /// Replaces run.timeout_secs.
    #[arg(long, value_name = "SECS")]
    timeout_secs: Option<u64>,
    /// Runtime worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("switchboard-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Ok(passed) when the run happened.
fn real_main(cli: Cli) -> anyhow::Result<bool> {
    let mut scenario = Scenario::load(&cli.scenario)?;
    if !cli.urls.is_empty() {
        scenario.target.urls = cli.urls.clone();
    }
    if !cli.source_ips.is_empty() {
        scenario.target.source_ips = cli.source_ips.clone();
    }
    if let Some(secret) = cli.jwt_secret.clone() {
        scenario.target.jwt_secret = secret;
    }
    if let Some(t) = cli.timeout_secs {
        scenario.run.timeout_secs = t;
    }
    if cli.scale.is_nan() || cli.scale <= 0.0 {
        anyhow::bail!("--scale must be positive");
    }
    if cli.scale != 1.0 {
        scenario.scale(cli.scale);
    }
    scenario.validate()?;

    let nofile = sys::raise_nofile();
    let needed = (scenario.agents.count + scenario.customers.count) as u64 + 64;
    if let Some(n) = nofile.filter(|&n| scenario.customers.count > 0 && n < needed) {
        eprintln!(
            "warning: open-file limit is {n}, the run may need {needed}; raise it with `ulimit -n`"
        );
    }

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = cli.threads {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.build().context("starting the async runtime")?;
    let timeout = Duration::from_secs(scenario.run.timeout_secs) + WATCHDOG_SLACK;
    let report = runtime.block_on(async {
        let mut endpoints = Vec::new();
        for url in &scenario.target.urls {
            endpoints.push(Endpoint::resolve(url).await?);
        }
        let dialer = Dialer::new(endpoints, scenario.target.source_ips.clone());
        let prefix = scenario
            .agents
            .id_prefix
            .clone()
            .unwrap_or_else(|| format!("lg{:x}{:x}-a", clock::unix_secs(), std::process::id()));
        let ids = agent::ids(&prefix, scenario.agents.count);
        let supervisors = scenario.supervisors.as_ref().map_or_else(Vec::new, |v| {
            let p = v
                .id_prefix
                .clone()
                .unwrap_or_else(|| format!("{}s", prefix.strip_suffix('a').unwrap_or(&prefix)));
            agent::ids(&p, v.count)
        });
        let shared = Arc::new(Shared::new(scenario, dialer, ids, supervisors));
        tokio::time::timeout(timeout, run::run(shared, cli.server_pid, !cli.quiet))
            .await
            .map_err(|_| anyhow::anyhow!("the run did not finish within {timeout:?}"))?
    })?;
    // Clients still closing are not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));

    print!("{}", report.render());
    if let Some(path) = &cli.json {
        let json = serde_json::to_string_pretty(&report).context("serializing the report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("JSON report: {}", path.display());
    }
    Ok(report.passed)
}
