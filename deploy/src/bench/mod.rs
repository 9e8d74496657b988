//! Benchmarks: each starts real nodes in this process, drives them over real
//! HTTP on the loopback interface, and reports a table for people, one JSON
//! object with `--json`, and a last line of `key=value` pairs for scripts.

pub mod acceptance;
mod latency;
mod load;

use clap::Subcommand;

/// `bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Acceptance at the window: timed submissions against one district node.
    ///
    /// Starts a district hall node ("nanhai") in this process on 127.0.0.1
    /// with a port the system picks, on a fresh database; logs in as the
    /// administrator, creates a clerk and logs in as the clerk; picks a
    /// committed (not immediate) matter that the district receives and builds
    /// a complete submission for it (every required or deferrable material
    /// that applies in every situation, with the originals and copies the
    /// checklist asks for; a valid citizen ID number per case, or a unified
    /// social credit code if the matter serves organisations only).
    ///
    /// Then it sends the warm-up submissions, untimed, and the timed ones,
    /// POST /api/v1/cases from concurrent workers sharing one HTTP client,
    /// each request timed on its own. Every answer must be 201 with a
    /// receipt; any other answer is counted and reported, and the command
    /// exits with status 1. Finally it stops the node and removes the
    /// database.
    ///
    /// Output: a table (or one JSON object with --json), then, unless --json,
    /// a last line such as
    /// `acceptance backend=sqlite cases=2000 concurrency=8 cases_per_s=... p50_ms=... p90_ms=... p99_ms=... max_ms=...`.
    /// Progress goes to standard error. RUST_LOG sets the node's log filter
    /// (default: error).
    Acceptance(acceptance::AcceptanceArgs),
}

impl BenchCommand {
    /// Runs the benchmark; `Ok(false)` when it ran but some requests failed.
    pub async fn run(self) -> anyhow::Result<bool> {
        match self {
            Self::Acceptance(args) => acceptance::run(args).await,
        }
    }
}
