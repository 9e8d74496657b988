//! Benchmarks: each starts real nodes in this process, drives them over real
//! HTTP on the loopback interface, and reports a table for people, one JSON
//! object with `--json`, and a last line of `key=value` pairs for scripts.

pub mod acceptance;
mod latency;
mod load;
pub mod pages;
pub mod replication;
pub mod restart;

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
    /// Replication: how fast case events written at a village reach the
    /// district through a township.
    ///
    /// Starts three nodes in this process (village nanhai.guicheng.xiaping,
    /// township nanhai.guicheng, district nanhai), each on its own SQLite
    /// file, linked over QUIC with mutual TLS through two fault-injecting
    /// relays that give both links the --link shape each way. Once both links
    /// are up it writes --events new cases (one `received` event each)
    /// straight into the village's store, --batch per transaction, at
    /// --rate events per second (0: as fast as the store takes them), and
    /// watches the district's store grow.
    ///
    /// events_per_s: events delivered to the district per second, from the
    /// start of writing to the last arrival. lag: from the commit of an
    /// event's batch at the village to the district holding it (p50, p90,
    /// p99, max). catchup_s: from the end of writing until the district holds
    /// every event. Output: a table (or one JSON object with --json), then,
    /// unless --json, a last line
    /// `replication events_per_s=N lag_p50_ms=X lag_p99_ms=Y catchup_s=Z`.
    /// Exits with status 1 if some event had not arrived by --timeout.
    Replication(replication::ReplicationArgs),
    /// Supervisor pages: server-side render time at a district holding many
    /// cases.
    ///
    /// Fills a fresh SQLite store directly through the node's write API, in
    /// batches of --batch cases per transaction: --cases synthetic cases
    /// (every event and the read-model row of each) spread over the halls of
    /// a Nanhai-shaped district (1 district, 15 townships, 269 villages),
    /// the starter catalogue's matters and departments, every state of a
    /// case's life, and the last --days days. Then starts the district node
    /// on it in this process, logs a supervisor in, and GETs each supervisor
    /// page (overview, search, statistics, fleet, a CSV export) --requests
    /// times after two untimed requests, over loopback HTTP.
    ///
    /// Output: a table of p50, p99 and max milliseconds and the bytes of each
    /// page (or one JSON object with --json), then, unless --json, a last line
    /// `pages cases=N events=E requests=R fill_s=S overview_p50_ms=X ...`.
    /// Exits with status 1 if some page did not answer 200.
    Pages(pages::PagesArgs),
    /// A restarted township: how soon the tree converges after it is killed
    /// with SIGKILL and started again while its villages accept cases.
    ///
    /// Bundles and starts a tree of separate `onewindow-node` processes (1
    /// district, 1 township, --villages villages) on free ports in a
    /// temporary folder. A clerk at each village submits a complete
    /// application --rate times a second. Every --between seconds the
    /// township is killed (SIGKILL) and started again at once, --restarts
    /// times; after each restart the district's supervisor looks up every
    /// case the villages receipted until --settle-ms after the township
    /// answered again (cases a village wrote while its link had not yet
    /// noticed the restart are among them).
    ///
    /// converged_after_s: from the township answering again to the district
    /// holding every one of those cases (at least --settle-ms). Output: a table (or one JSON object
    /// with --json), then, unless --json, a last line
    /// `restart villages=N rate=R cases=C failed=F restarts=K converged=K max_converge_s=T`.
    /// Exits with status 1 if some restart had not converged by --timeout.
    Restart(restart::RestartArgs),
}

impl BenchCommand {
    /// Runs the benchmark; `Ok(false)` when it ran but some requests failed.
    pub async fn run(self) -> anyhow::Result<bool> {
        match self {
            Self::Acceptance(args) => acceptance::run(args).await,
            Self::Replication(args) => replication::run(args).await,
            Self::Pages(args) => pages::run(args).await,
            Self::Restart(args) => restart::run(args).await,
        }
    }
}
