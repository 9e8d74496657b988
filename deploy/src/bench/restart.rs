//! `bench restart`: how soon a tree converges after its township is killed
//! with SIGKILL and started again, while its villages keep accepting cases.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use onewindow_client::Client;
use onewindow_table as report;
use serde::Serialize;

use crate::submission::{CatalogueView, SubmissionPlan};
use onewindow_deploy::binary::find_node_binary;
use onewindow_deploy::process::ProcessTree;

const DISTRICT: &str = "nanhai";
const TOWNSHIP: &str = "nanhai.guicheng";

/// `bench restart`.
#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Villages under the township, each with a clerk accepting cases.
    #[arg(long, default_value_t = 4)]
    pub villages: usize,
    /// Cases per second each village's clerk offers (Chancheng's 2.79
    /// million cases in two years are about 0.2 a second for the whole
    /// district over working hours).
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    /// Times the township is killed and started again.
    #[arg(long, default_value_t = 3)]
    pub restarts: u32,
    /// Seconds of load before the first kill and between restarts.
    #[arg(long, default_value_t = 10)]
    pub between: u64,
    /// Milliseconds of load after the township answers again that the
    /// district must also hold: cases a village receipted while its link
    /// to the dead township had not yet noticed the restart.
    #[arg(long, default_value_t = 1000)]
    pub settle_ms: u64,
    /// Give up waiting for convergence after a restart after this many
    /// seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// The `onewindow-node` binary (default: beside this one, or
    /// `$ONEWINDOW_NODE_BIN`).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// Print one JSON object instead of the table and the key=value line.
    #[arg(long)]
    pub json: bool,
}

/// The result of a run, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Villages.
    pub villages: usize,
    /// Cases per second offered at each village.
    pub rate: f64,
    /// Cases the villages' windows receipted.
    pub cases: usize,
    /// Submissions that got no receipt.
    pub failed: u64,
    /// Per restart: seconds from the township answering again to the
    /// district holding every case receipted until `settle_ms` after that
    /// moment.
    pub converge_s: Vec<f64>,
    /// Seconds from the kill to the township answering again.
    pub restart_s: Vec<f64>,
}

/// Runs the benchmark; `Ok(false)` when some restart did not converge.
pub async fn run(args: RestartArgs) -> anyhow::Result<bool> {
    if args.villages == 0 || args.restarts == 0 || !args.rate.is_finite() || args.rate <= 0.0 {
        bail!("--villages, --restarts and --rate must be more than zero");
    }
    let dir = tempfile::tempdir().context("making a temporary folder")?;
    let villages: Vec<String> = (0..args.villages)
        .map(|i| format!("{TOWNSHIP}.v{i:02}"))
        .collect();
    let b = crate::trees::bundle_of(
        dir.path(),
        [DISTRICT, TOWNSHIP]
            .into_iter()
            .chain(villages.iter().map(String::as_str)),
        "RB",
    )?;
    let mut tree = ProcessTree::new(b, find_node_binary(args.node_bin.as_deref())?);
    eprintln!(
        "starting 1 district, 1 township, {} villages",
        args.villages
    );
    tree.start_all().await?;
    let outcome = measure(&mut tree, &villages, &args).await;
    tree.stop_all().await?;
    let summary = outcome?;
    print(&summary, args.json)?;
    Ok(summary.converge_s.len() == args.restarts as usize)
}

/// A logged-in staff member at `id`.
async fn staff(tree: &ProcessTree, id: &str, role: &str) -> anyhow::Result<Client> {
    crate::trees::staff(tree, id, &format!("bench.{role}"), role, None).await
}

/// Cases receipted so far, and submissions that failed.
#[derive(Default)]
struct Receipted {
    numbers: Vec<String>,
    failed: u64,
}

async fn measure(
    tree: &mut ProcessTree,
    villages: &[String],
    args: &RestartArgs,
) -> anyhow::Result<Summary> {
    let district = staff(tree, DISTRICT, "supervisor").await?;
    let done = Arc::new(Mutex::new(Receipted::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for (k, id) in villages.iter().enumerate() {
        let clerk = staff(tree, id, "clerk").await?;
        let catalogue: CatalogueView = serde_json::from_value(clerk.catalogue().await?.json)?;
        let plan = SubmissionPlan::choose(&catalogue, "village", None)?;
        let (done, stop, every) = (
            done.clone(),
            stop.clone(),
            Duration::from_secs_f64(1.0 / args.rate),
        );
        workers.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let mut i = k as u64 * 1_000_000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                i += 1;
                let req = plan.request(&clerk, i);
                let number = match clerk.send(req).await {
                    Ok(r) if r.status == 201 => r.json()["case_number"].as_str().map(str::to_owned),
                    _ => None,
                };
                let mut d = done
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match number {
                    Some(n) => d.numbers.push(n),
                    None => d.failed += 1,
                }
            }
        }));
    }
    let snapshot = |done: &Mutex<Receipted>| {
        done.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .numbers
            .clone()
    };
    let mut at_district: BTreeSet<String> = BTreeSet::new();
    let mut converge_s = Vec::new();
    let mut restart_s = Vec::new();
    for r in 1..=args.restarts {
        tokio::time::sleep(Duration::from_secs(args.between)).await;
        let killed = Instant::now();
        tree.kill(TOWNSHIP).await?;
        tree.start(TOWNSHIP).await?;
        let up = Instant::now();
        restart_s.push((up - killed).as_secs_f64());
        tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
        let mut waiting: Vec<String> = snapshot(&done)
            .into_iter()
            .filter(|n| !at_district.contains(n))
            .collect();
        eprintln!(
            "restart {r}: township answers after {:.2} s; waiting for {} cases at the district",
            (up - killed).as_secs_f64(),
            waiting.len()
        );
        let deadline = up + Duration::from_secs(args.timeout);
        while !waiting.is_empty() {
            if Instant::now() > deadline {
                eprintln!(
                    "restart {r}: {} cases not at the district after {} s",
                    waiting.len(),
                    args.timeout
                );
                break;
            }
            let mut still = Vec::new();
            for n in waiting {
                match district.case_record(&n).await {
                    Ok(_) => {
                        at_district.insert(n);
                    }
                    Err(_) => still.push(n),
                }
            }
            waiting = still;
            if !waiting.is_empty() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if waiting.is_empty() {
            converge_s.push(up.elapsed().as_secs_f64());
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let d = done
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(Summary {
        villages: villages.len(),
        rate: args.rate,
        cases: d.numbers.len(),
        failed: d.failed,
        converge_s,
        restart_s,
    })
}

fn print(s: &Summary, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string(s)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = s
        .restart_s
        .iter()
        .enumerate()
        .map(|(i, up)| {
            vec![
                format!("{}", i + 1),
                format!("{up:.2}"),
                s.converge_s
                    .get(i)
                    .map_or_else(|| "timeout".to_owned(), |c| format!("{c:.2}")),
            ]
        })
        .collect();
    println!(
        "{}",
        report::table(
            &["restart", "township_up_s", "converged_after_s"],
            &rows,
            &[0, 1, 2]
        )
    );
    let max = s.converge_s.iter().copied().fold(0.0_f64, f64::max);
    println!(
        "restart villages={} rate={} cases={} failed={} restarts={} converged={} max_converge_s={max:.2}",
        s.villages,
        s.rate,
        s.cases,
        s.failed,
        s.restart_s.len(),
        s.converge_s.len()
    );
    Ok(())
}
