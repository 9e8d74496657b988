//! `onewindow-node`: runs one hall node.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use std::sync::Arc;

use onewindow_node::config::{Config, DEFAULT_TOML};
use onewindow_node::service::{CLOCK_OFFSET_ENV, OffsetClock};

/// A OneWindow hall node (一窗通办).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML). Without one: a standalone district node
    /// with an SQLite file under ./data and the starter catalogue.
    #[arg(long, env = "ONEWINDOW_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print every configuration key with its documentation and default.
    DefaultConfig,
    /// Start the node (the default).
    Start,
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    if cfg.log.format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::DefaultConfig) = cli.command {
        print!("{DEFAULT_TOML}");
        return Ok(());
    }
    let cfg = Config::load(cli.config.as_deref())?;
    init_logging(&cfg);
    let running = match std::env::var(CLOCK_OFFSET_ENV) {
        Ok(v) => {
            let offset_ms: i64 = v.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "{CLOCK_OFFSET_ENV} must be a whole number of milliseconds, not {v:?}"
                )
            })?;
            tracing::warn!(offset_ms, "the clock is shifted by {CLOCK_OFFSET_ENV}");
            onewindow_node::server::start_with_clock(cfg, Arc::new(OffsetClock { offset_ms }))
                .await?
        }
        Err(_) => onewindow_node::server::start(cfg).await?,
    };
    println!(
        "OneWindow node {} ({}) is serving at {}",
        running.node.id,
        running.node.tier,
        running.url()
    );
    println!(
        "  API: {}/api/v1/health   OpenAPI: {}/api/v1/openapi.json",
        running.url(),
        running.url()
    );
    if let Some(addr) = running.links.as_ref().and_then(|l| l.listen_addr) {
        println!("  federation: listening for children at {addr}");
    }
    // Ctrl-C and SIGTERM (systemd, kill) both stop the node cleanly.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    println!("stopping");
    running.stop().await;
    Ok(())
}
