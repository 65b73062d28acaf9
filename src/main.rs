//! The `switchboard` binary: `serve` (default) and `token` (dev tokens).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use switchboard::auth::{Authenticator, Role};
use switchboard::ids::{AgentId, CustomerId, OrgId, QueueId};

#[derive(Parser)]
#[command(name = "switchboard", about = "Live-chat runtime for contact centers")]
struct Cli {
    /// Folder with default.toml and the environment files.
    #[arg(long, default_value = "config", global = true)]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Agent,
    Supervisor,
    Admin,
    /// A verified customer, signed with the org's customer secret from the demo seed.
    Customer,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start the server (the default).
    Serve,
    /// Mint a development token from the configured secret.
    Token {
        #[arg(long, value_enum, default_value = "agent")]
        kind: Kind,
        #[arg(long, default_value = "demo")]
        org: String,
        /// Agent or customer id.
        #[arg(long, default_value = "alice")]
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// Comma-separated queue ids (agents).
        #[arg(long, default_value = "general,billing")]
        queues: String,
        /// Customer email (customers).
        #[arg(long)]
        email: Option<String>,
    },
}

fn settings(dir: &std::path::Path) -> anyhow::Result<switchboard::config::Settings> {
    if dir.join("default.toml").exists() {
        Ok(switchboard::config::load(dir)?)
    } else {
        Ok(switchboard::config::embedded_defaults()?)
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = settings(&cli.config)?;
    match cli.command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => serve(settings),
        Cmd::Token {
            kind,
            org,
            id,
            name,
            queues,
            email,
        } => {
            let org = OrgId::parse(&org).context("org")?;
            let token = match kind {
                Kind::Customer => {
                    let secret = customer_secret(&org)?;
                    let id = CustomerId::parse(&id).context("id")?;
                    let name = name.unwrap_or_else(|| id.to_string());
                    Authenticator::mint_customer_with(
                        &secret,
                        org,
                        id,
                        name,
                        email,
                        settings.auth.dev_token_ttl_secs,
                    )
                }
                staff => {
                    let roles = match staff {
                        Kind::Admin => vec![Role::Agent, Role::Supervisor, Role::Admin],
                        Kind::Supervisor => vec![Role::Agent, Role::Supervisor],
                        _ => vec![Role::Agent],
                    };
                    let queues = queues
                        .split(',')
                        .filter(|q| !q.is_empty())
                        .map(QueueId::parse)
                        .collect::<Result<Vec<_>, _>>()
                        .context("queues")?;
                    Authenticator::new(&settings.auth).mint_staff(
                        org,
                        AgentId::parse(&id).context("id")?,
                        name,
                        roles,
                        queues,
                        settings.auth.dev_token_ttl_secs,
                    )
                }
            }
            .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{token}");
            Ok(())
        }
    }
}

fn customer_secret(org: &OrgId) -> anyhow::Result<String> {
    let orgs: Vec<switchboard::domain::org::OrgConfig> =
        serde_json::from_str(switchboard::startup::DEMO_ORGS)?;
    orgs.into_iter()
        .find(|o| &o.id == org)
        .and_then(|o| o.settings.customer_token_secret)
        .with_context(|| format!("org {org} has no customer token secret in the demo seed"))
}

fn serve(settings: switchboard::config::Settings) -> anyhow::Result<()> {
    switchboard::telemetry::init();
    actix_web::rt::System::new().block_on(async move {
        let app = switchboard::startup::Application::build(settings).await?;
        let port = app.port();
        println!("Switchboard listening on http://127.0.0.1:{port} (websocket: ws://127.0.0.1:{port}/v1/ws)");
        println!("Chat widget:    http://127.0.0.1:{port}/demo   (a sample shop page with the widget)");
        println!("Agent console:  http://127.0.0.1:{port}/console (sign in with an agent token)");
        println!("Widget snippet: http://127.0.0.1:{port}/snippet");
        println!("Agent token:    cargo run --release -- token --kind agent --id alice");
        println!("Admin token:    cargo run --release -- token --kind admin --id dave");
        println!("Visitor token:  curl -XPOST localhost:{port}/v1/orgs/demo/visitors -H 'content-type: application/json' \\");
        println!("                  -d '{{\"first_name\":\"Ada\",\"last_name\":\"Lovelace\",\"email\":\"ada@example.com\"}}'");
        app.run_until_stopped(switchboard::shutdown::signal()).await?;
        Ok(())
    })
}
