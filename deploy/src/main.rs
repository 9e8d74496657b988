//! `onewindow-deploy`: runs OneWindow nodes on one machine and measures them.
//!
//! Commands go noun then verb (`topology run`, `bench acceptance`). The
//! topology commands are in [`topology_cli`], over the library
//! (`onewindow_deploy`: topology files, bundles, processes). Each benchmark
//! lives in its own module under [`bench`]; starting a node in this process
//! on a scratch database is [`hall`], and the applicants it submits for come
//! from [`applicants`].

mod applicants;
mod bench;
mod cert_cli;
mod chaos;
mod db;
mod hall;
mod simulate;
mod soak;
mod submission;
mod topology_cli;
mod trees;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Runs OneWindow nodes on one machine and measures them.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Topologies: deployment bundles, and whole federations on this machine.
    #[command(subcommand)]
    Topology(topology_cli::TopologyCommand),
    /// Certificates: create a CA, node certificates and signing requests;
    /// list them with their expiry.
    #[command(subcommand)]
    Cert(cert_cli::CertCommand),
    /// Benchmarks against real nodes started in this process.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// A tree's year of work in accelerated time: every hall a real node in
    /// this process, the 2026 calendar, cases received, escalated, decided
    /// and handed out; reports lag, backlog, memory and convergence.
    Simulate(simulate::SimulateArgs),
    /// A tree of separate node processes under faults drawn from a seed
    /// (kill -9, SIGSTOP, cut and lossy links, catalogue publications)
    /// while clerks accept cases; then every invariant is checked.
    Chaos(chaos::ChaosArgs),
    /// A tree of separate node processes under ten times a Nanhai peak for
    /// a bounded real time: memory, backlog and latency sampled and judged
    /// steady or not, the curves drawn as SVG.
    Soak(soak::SoakArgs),
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    node::malloc::tune();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let outcome = match cli.command {
        Command::Topology(t) => t.run().await,
        Command::Cert(c) => c.run(),
        Command::Bench(b) => b.run().await,
        Command::Simulate(s) => s.run().await,
        Command::Chaos(c) => chaos::run(c).await,
        Command::Soak(s) => soak::run(s).await,
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
