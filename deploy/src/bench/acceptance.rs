//! `bench acceptance`: how many complete submissions a district node accepts
//! per second at the window, and how long each one takes.

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::latency::{Latencies, ms};
use super::load::{self, Target};
use crate::db::{DbChoice, redact};
use crate::hall::{Hall, HallOptions, random_password};
use crate::submission::{CatalogueView, SubmissionPlan};
use onewindow_client::types::NewStaff;
use onewindow_client::{ApiError, Client};
use onewindow_table as report;

/// Options of `bench acceptance`.
#[derive(Debug, Args)]
pub struct AcceptanceArgs {
    /// The store: `sqlite` (a fresh SQLite file in a temporary folder) or a
    /// PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/postgres,
    /// through which a fresh database onewindow_bench_<pid>_<time> is created
    /// and, at the end, dropped.
    #[arg(long, default_value = "sqlite", value_name = "sqlite|postgres://...")]
    pub db: DbChoice,
    /// Timed submissions.
    #[arg(long, default_value_t = 2000, value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..))]
    pub cases: u64,
    /// Workers submitting at the same time (like windows of a hall).
    #[arg(long, default_value_t = 8, value_name = "C",
        value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub concurrency: u64,
    /// Untimed submissions before the timed ones.
    #[arg(long, default_value_t = 100, value_name = "W")]
    pub warmup: u64,
    /// SQLite `synchronous` mode: full (fsync on every commit) or normal.
    /// Ignored for PostgreSQL.
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    pub sqlite_synchronous: Synchronous,
    /// Submit this matter (by code) instead of the first committed matter
    /// that the district receives and decides.
    #[arg(long, value_name = "CODE")]
    pub matter: Option<String>,
    /// Print one JSON object instead of the table and the key=value line.
    #[arg(long)]
    pub json: bool,
}

/// SQLite's `synchronous` pragma.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// fsync on every commit.
    Full,
    /// fsync at checkpoints only (WAL): a power cut may lose the last commits.
    Normal,
}

impl Synchronous {
    /// The configuration's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Normal => "normal",
        }
    }
}

/// The result of a run, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Summary {
    bench: &'static str,
    backend: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sqlite_synchronous: Option<Synchronous>,
    matter: String,
    warmup: u64,
    cases: u64,
    concurrency: u64,
    succeeded: u64,
    failed: u64,
    wall_s: f64,
    cases_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Runs the benchmark; `Ok(false)` if any submission failed.
pub async fn run(args: AcceptanceArgs) -> anyhow::Result<bool> {
    let opts = HallOptions {
        id: "nanhai".to_owned(),
        db: args.db.clone(),
        sqlite_synchronous: args.sqlite_synchronous.as_str().to_owned(),
    };
    if let DbChoice::Postgres(url) = &args.db {
        eprintln!("creating a scratch database through {}", redact(url));
    }
    let hall = Hall::start(&opts).await?;
    eprintln!(
        "node {} serving at {} on {}{}",
        hall.node.node.id,
        hall.node.url(),
        hall.backend(),
        hall.postgres_database()
            .map(|d| format!(" (database {d})"))
            .unwrap_or_default(),
    );
    let result = tokio::select! {
        r = measure(&hall, &args) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    eprintln!("stopping the node and removing the database");
    let stopped = hall.stop().await;
    let summary = result?;
    stopped.context("cleaning up")?;
    Ok(summary.failed == 0)
}

async fn measure(hall: &Hall, args: &AcceptanceArgs) -> anyhow::Result<Summary> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency as usize)
        .build()
        .context("building the HTTP client")?;
    let api = Client::with_http(http.clone(), &hall.node.url())?;
    let clerk = new_clerk(&api, &hall.admin_password, "bench.clerk").await?;
    let catalogue: CatalogueView =
        serde_json::from_value(api.catalogue().await?.json).context("reading the catalogue")?;
    let plan = SubmissionPlan::choose(
        &catalogue,
        hall.node.node.tier.as_str(),
        args.matter.as_deref(),
    )?;
    eprintln!(
        "matter {} {} ({} materials, {} applicants)",
        plan.matter_code,
        plan.matter_name,
        plan.materials.len(),
        if plan.organisation {
            "organisation"
        } else {
            "person"
        },
    );
    let plan = Arc::new(plan);
    let target = Target {
        http,
        url: format!("{}/api/v1/cases", clerk.base()),
        token: clerk.token().unwrap_or_default().to_owned(),
    };
    // Applicants 0 .. W warm up, W .. W + N are timed: every one different.
    let submissions = |first: u64| {
        let plan = Arc::clone(&plan);
        move |k: u64| plan.body(first + k)
    };

    if args.warmup > 0 {
        eprintln!("warm-up: {} submissions", args.warmup);
        let warm = load::run(
            &target,
            args.warmup,
            args.concurrency,
            submissions(0),
            check_receipt,
        )
        .await;
        if warm.failed > 0 {
            anyhow::bail!(
                "{} of {} warm-up submissions failed; first: {}",
                warm.failed,
                args.warmup,
                warm.failures.first().map_or("?", String::as_str)
            );
        }
    }
    eprintln!(
        "timing {} submissions with {} workers",
        args.cases, args.concurrency
    );
    let timed = load::run(
        &target,
        args.cases,
        args.concurrency,
        submissions(args.warmup),
        check_receipt,
    )
    .await;
    let stored = hall.node.node.store.case_count().await.ok();

    let lat = Latencies::new(timed.latencies);
    let wall_s = timed.wall.as_secs_f64();
    let summary = Summary {
        bench: "acceptance",
        backend: hall.backend(),
        sqlite_synchronous: (hall.backend() == "sqlite").then_some(args.sqlite_synchronous),
        matter: plan.matter_code.clone(),
        warmup: args.warmup,
        cases: args.cases,
        concurrency: args.concurrency,
        succeeded: lat.len() as u64,
        failed: timed.failed,
        wall_s,
        cases_per_s: if wall_s > 0.0 {
            lat.len() as f64 / wall_s
        } else {
            0.0
        },
        p50_ms: ms(lat.percentile(50.0)),
        p90_ms: ms(lat.percentile(90.0)),
        p99_ms: ms(lat.percentile(99.0)),
        max_ms: ms(lat.max()),
    };
    print_summary(&summary, args.json)?;
    if timed.failed > 0 {
        eprintln!("{} of {} submissions failed:", timed.failed, args.cases);
        for f in &timed.failures {
            eprintln!("  {f}");
        }
    }
    let expected = args.warmup + summary.succeeded;
    if let Some(n) = stored.filter(|n| u64::try_from(*n).ok() != Some(expected)) {
        eprintln!("warning: the store holds {n} cases, {expected} expected");
    }
    Ok(summary)
}

/// The head of a submission's answer.
#[derive(Deserialize)]
struct OutcomeHead {
    outcome: String,
    case_number: String,
}

/// A submission succeeded if it answered 201 with a receipt.
/// Makes a clerk's account `username` at the node `api` speaks to, as its
/// bootstrap administrator, and logs her in.
pub(crate) async fn new_clerk(
    api: &Client,
    admin_password: &str,
    username: &str,
) -> anyhow::Result<Client> {
    let admin = api
        .login("admin", admin_password)
        .await
        .context("logging in as admin")?;
    let password = random_password(20);
    admin
        .create_staff(&NewStaff {
            username,
            display_name: "压测受理员",
            role: "clerk",
            department: None,
            password: &password,
            hall: None,
        })
        .await
        .context("creating the clerk")?;
    api.login(username, &password)
        .await
        .with_context(|| format!("logging in as {username}"))
}

pub(crate) fn check_receipt(status: reqwest::StatusCode, body: &[u8]) -> Result<(), String> {
    if status != reqwest::StatusCode::CREATED {
        return Err(
            ApiError::from_answer(status.as_u16(), &String::from_utf8_lossy(body)).to_string(),
        );
    }
    let head: OutcomeHead =
        serde_json::from_slice(body).map_err(|e| format!("{status}: unreadable answer: {e}"))?;
    if head.outcome == "receipt" {
        Ok(())
    } else {
        Err(format!(
            "case {}: outcome {} instead of a receipt",
            head.case_number, head.outcome
        ))
    }
}

fn print_summary(s: &Summary, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string(s)?);
        return Ok(());
    }
    let backend = match s.sqlite_synchronous {
        Some(sync) => format!("{} (synchronous={})", s.backend, sync.as_str()),
        None => s.backend.to_owned(),
    };
    let headers = [
        "backend",
        "cases",
        "concurrency",
        "wall s",
        "cases/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
    ];
    let row = vec![
        backend,
        s.cases.to_string(),
        s.concurrency.to_string(),
        format!("{:.2}", s.wall_s),
        format!("{:.1}", s.cases_per_s),
        format!("{:.2}", s.p50_ms),
        format!("{:.2}", s.p90_ms),
        format!("{:.2}", s.p99_ms),
        format!("{:.2}", s.max_ms),
    ];
    println!(
        "{}",
        report::table(&headers, &[row], &[1, 2, 3, 4, 5, 6, 7, 8])
    );
    let mut line = format!(
        "acceptance backend={} cases={} concurrency={} cases_per_s={:.1} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2} wall_s={:.2} warmup={} failed={}",
        s.backend,
        s.cases,
        s.concurrency,
        s.cases_per_s,
        s.p50_ms,
        s.p90_ms,
        s.p99_ms,
        s.max_ms,
        s.wall_s,
        s.warmup,
        s.failed,
    );
    if let Some(sync) = s.sqlite_synchronous {
        line.push_str(&format!(" sqlite_synchronous={}", sync.as_str()));
    }
    println!("{line}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    #[test]
    fn only_a_receipt_counts() {
        let receipt = br#"{"case_number":"NH-20261123-000001-7","outcome":"receipt"}"#;
        assert_eq!(check_receipt(StatusCode::CREATED, receipt), Ok(()));
        let notice = br#"{"case_number":"NH-20261123-000002-5","outcome":"correction_notice"}"#;
        let e = check_receipt(StatusCode::CREATED, notice).expect_err("a notice");
        assert!(e.contains("correction_notice"), "{e}");
        let refused = br#"{"code":"bad_id_number","message_zh":"x","message_en":"y"}"#;
        let e = check_receipt(StatusCode::BAD_REQUEST, refused).expect_err("a refusal");
        assert!(e.contains("bad_id_number"), "{e}");
        assert!(check_receipt(StatusCode::CREATED, b"not json").is_err());
    }
}
