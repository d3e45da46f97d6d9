//! `ordercycle`: one binary for every way of running the platform.
//!
//! - `ordercycle up` — all eight services in one process on the DESIGN §3a addresses, dev mode
//!   (authentication off), for a laptop.
//! - `ordercycle serve <service>` — one service, the container entrypoint; needs JWT settings or
//!   an explicit `OC_AUTH=off`.
//! - `ordercycle migrate [service…]` — create and migrate the services' databases, then exit.
//! - `ordercycle events` — the events catalogue (`docs/events.md`).
//! - `ordercycle demo` — every DESIGN §3a scenario against a running platform (`demo/`).
//! - operator commands (`orders`, `review`, `stock`, `fulfil`, `ship`, `returns`, `cases`,
//!   `report`) — gRPC clients of a running platform (`commands/`); `report --out`, `analytics
//!   rebuild` and `dlq` work on analytics' database and the dead-letter stream directly.

mod clients;
mod commands;
mod demo;
mod output;
mod platform;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ordercycle",
    version,
    about = "The ordercycle order-management platform"
)]
struct Cli {
    #[command(flatten)]
    target: clients::Target,
    /// Machine-readable output: one JSON object per line.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in this process (development: authentication off).
    Up,
    /// Run one service (orders, inventory, payments, fulfillment, shipping, notifications,
    /// feedback, analytics).
    Serve { service: String },
    /// Create and migrate the databases of the named services (all when none is named).
    Migrate { services: Vec<String> },
    /// Print the catalogue of every event (subject, message, producer, consumers) as Markdown.
    Events,
    /// Walk one order per DESIGN §3a scenario through a running platform and report.
    Demo(demo::DemoArgs),
    #[command(flatten)]
    Operator(Box<commands::Operator>),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up => platform::up().await,
        Command::Serve { service } => platform::serve(&service).await,
        Command::Migrate { services } => platform::migrate(&services).await,
        Command::Events => {
            output::raw(&contracts::catalogue_markdown());
            Ok(())
        }
        Command::Operator(cmd) => commands::run(&cli.target, cli.json, *cmd).await,
        Command::Demo(args) => {
            let settings = runtime::config::LogSettings {
                format: runtime::config::LogFormat::Pretty,
                otlp_endpoint: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .ok()
                    .filter(|v| !v.is_empty()),
            };
            // Dropped (and flushed) when the demo returns.
            let _telemetry = runtime::telemetry::init_client("ordercycle-demo", &settings);
            match demo::run(&cli.target, cli.json, args).await {
                Ok(true) => Ok(()),
                Ok(false) => return std::process::ExitCode::from(2),
                Err(err) => Err(err),
            }
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            output::error(&err);
            std::process::ExitCode::FAILURE
        }
    }
}
