//! `chaos`: a tree of separate `onewindow-node` processes (a district, two
//! townships, four villages), each link through a fault-injecting relay,
//! while a clerk at every village accepts cases; faults drawn from a seed
//! strike the tree meanwhile; then everything heals and the invariants of
//! `ARCHITECTURE.md` are checked from outside, over each hall's API.
//!
//! Faults: a hall killed with SIGKILL and started again; a hall frozen with
//! SIGSTOP (a hung machine) and let go on; a link cut one way or both ways;
//! a link that loses, duplicates and delays datagrams, half of the time
//! under a bandwidth cap (64 kbit/s to 2 Mbit/s). Between them the
//! district publishes a new catalogue version. With `--postgres`, every
//! other schedule runs the district on a fresh PostgreSQL database.
//!
//! Checked once healed, until they hold or `--timeout` passes:
//! - every case a window was told succeeded (a clerk's submission is sent
//!   again with its `Idempotency-Key` until it is answered) is at the
//!   district, and the district holds no case that no window receipted
//!   (nothing lost, nothing made twice);
//! - its event list is the same at the village that accepted it, its
//!   township and the district, with versions 1, 2, ... k;
//! - every hall runs the district's catalogue version.
//!
//! The time from healing to all of them holding is the schedule's
//! convergence time. A violation prints the seed and the command that runs
//! that schedule again. The last line reads
//! `chaos schedules=N violations=V max_converge_s=T`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use federation::relay::{Direction, LinkShape, Relay};
use onewindow_client::{Client, Method};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::db::{DbChoice, ScratchDb};
use crate::submission::{CatalogueView, SubmissionPlan};
use onewindow_deploy::binary::find_node_binary;
use onewindow_deploy::process::ProcessTree;

/// The halls, parents before children.
const HALLS: [&str; 7] = [
    "nanhai",
    "nanhai.t1",
    "nanhai.t2",
    "nanhai.t1.v1",
    "nanhai.t1.v2",
    "nanhai.t2.v1",
    "nanhai.t2.v2",
];
/// Index of the first village in [`HALLS`].
const FIRST_VILLAGE: usize = 3;
/// The township that is put back to older copies of its store: the one
/// that decides nothing (no approvers), so that everything of its own
/// origin has reached the district. A hall put back to a copy older than
/// own entries that reached its villages but not its parent forks its
/// log (its parent's word on its own head is final, and its villages hold
/// the lost entries): production does not cover that restore
/// (`ARCHITECTURE.md`, restores), and the checks would report it.
const RESTORED: usize = 2;

/// `chaos`.
#[derive(Debug, Clone, Args)]
pub struct ChaosArgs {
    /// Schedules to run, each on a fresh tree.
    #[arg(long, default_value_t = 1)]
    pub schedules: u64,
    /// Seed of the first schedule (schedule k runs with seed + k); drawn
    /// from the clock when not given, and printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Faults (and catalogue publications) per schedule.
    #[arg(long, default_value_t = 5)]
    pub faults: u32,
    /// Seconds the clerks accept cases while the faults strike.
    #[arg(long, default_value_t = 8)]
    pub seconds: u64,
    /// Cases per second each village's clerk offers.
    #[arg(long, default_value_t = 4.0)]
    pub rate: f64,
    /// Seconds after healing within which the tree must converge.
    #[arg(long, default_value_t = 90)]
    pub timeout: u64,
    /// A PostgreSQL server (`postgres://...`, a database it may create
    /// others from): every other schedule runs the district on a fresh
    /// database there.
    #[arg(long)]
    pub postgres: Option<String>,
    /// Schedules run at the same time, each on its own tree (a schedule
    /// is mostly waiting; convergence times are longer when several share
    /// the cores).
    #[arg(long, default_value_t = 1)]
    pub parallel: usize,
    /// Keep the folder of a schedule that found a violation (every hall's
    /// store, configuration and log) and print where it is.
    #[arg(long)]
    pub keep_failed: bool,
    /// The `onewindow-node` binary (default: beside this one, or
    /// `$ONEWINDOW_NODE_BIN`).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
}

/// One thing that happens to the tree.
#[derive(Debug, Clone)]
enum Fault {
    /// SIGKILL, and started again after `down_ms`.
    Kill { hall: usize, down_ms: u64 },
    /// SIGSTOP for `ms`, then SIGCONT.
    Freeze { hall: usize, ms: u64 },
    /// The link from `hall` to its parent drops everything `up`, `down`
    /// or both ways for `ms`.
    Cut {
        hall: usize,
        up: bool,
        down: bool,
        ms: u64,
    },
    /// The link from `hall` to its parent loses, duplicates and delays
    /// datagrams for `ms`, half of the time under a bandwidth cap.
    Degrade {
        hall: usize,
        shape: LinkShape,
        ms: u64,
    },
    /// The district publishes a new catalogue version.
    Publish,
    /// The district recalls the case a window of the first township's
    /// villages receipted last: its holder hands it up when the directive
    /// reaches it (a hand-up is an entry of the holder's own, so not one
    /// of [`RESTORED`]'s).
    Recall,
    /// The hall is stopped and started again with its clock `skew_ms` off
    /// the others', and stays so.
    Skew { hall: usize, skew_ms: i64 },
    /// A copy of a township's store is taken (frozen, as a crash would
    /// leave it), the tree works on for `ms`, and the township is killed
    /// and started on that older copy. Always [`RESTORED`].
    Restore { hall: usize, ms: u64 },
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Kill { hall, down_ms } => {
                write!(f, "kill -9 {} ({down_ms} ms down)", HALLS[*hall])
            }
            Self::Freeze { hall, ms } => write!(f, "SIGSTOP {} for {ms} ms", HALLS[*hall]),
            Self::Cut { hall, up, down, ms } => {
                let way = match (up, down) {
                    (true, true) => "both ways",
                    (true, false) => "up",
                    _ => "down",
                };
                write!(f, "cut {} {way} for {ms} ms", HALLS[*hall])
            }
            Self::Degrade { hall, shape, ms } => {
                write!(f, "degrade {} ({shape}) for {ms} ms", HALLS[*hall])
            }
            Self::Publish => f.write_str("publish a catalogue version"),
            Self::Recall => f.write_str("recall a case"),
            Self::Skew { hall, skew_ms } => {
                write!(f, "clock of {} {:+} s", HALLS[*hall], skew_ms / 1000)
            }
            Self::Restore { hall, ms } => {
                write!(
                    f,
                    "put {} back to its store of {ms} ms before",
                    HALLS[*hall]
                )
            }
        }
    }
}

/// The faults of one schedule, with when each starts (ms into the
/// clerks' work), drawn from its seed.
fn draw(seed: u64, args: &ChaosArgs) -> Vec<(u64, Fault)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let span = args.seconds * 1000;
    let mut faults: Vec<(u64, Fault)> = (0..args.faults)
        .map(|_| {
            let at = rng.gen_range(0..span.max(1));
            let hall = rng.gen_range(0..HALLS.len());
            let child = rng.gen_range(1..HALLS.len());
            let fault = match rng.gen_range(0..12) {
                0 | 1 => Fault::Kill {
                    hall,
                    down_ms: rng.gen_range(0..2000),
                },
                2 | 3 => Fault::Freeze {
                    hall,
                    ms: rng.gen_range(200..3000),
                },
                4 | 5 => {
                    let way = rng.gen_range(0..3);
                    Fault::Cut {
                        hall: child,
                        up: way != 1,
                        down: way != 0,
                        ms: rng.gen_range(200..4000),
                    }
                }
                6 | 7 => Fault::Degrade {
                    hall: child,
                    shape: LinkShape {
                        loss: rng.gen_range(0.0..0.3),
                        duplicate: rng.gen_range(0.0..0.1),
                        delay: Duration::from_millis(rng.gen_range(0..150)),
                        jitter: Duration::from_millis(rng.gen_range(0..50)),
                        // Half of them capped as a village's mobile link
                        // is: 64 kbit/s to 2 Mbit/s.
                        rate_bps: rng.gen_bool(0.5).then(|| rng.gen_range(64_000..2_000_000)),
                        ..LinkShape::perfect()
                    },
                    ms: rng.gen_range(500..4000),
                },
                8 if rng.gen_bool(0.5) => Fault::Publish,
                8 => Fault::Recall,
                9 => Fault::Skew {
                    hall,
                    skew_ms: rng.gen_range(-600_000..600_000),
                },
                _ => Fault::Restore {
                    hall: RESTORED,
                    ms: rng.gen_range(500..4000),
                },
            };
            (at, fault)
        })
        .collect();
    faults.sort_by_key(|(at, _)| *at);
    faults
}

/// What one schedule found.
struct Outcome {
    cases: usize,
    /// Cases decided (by the township and district approvers).
    decided: usize,
    converge_s: Option<f64>,
    violations: Vec<String>,
}

/// Runs the schedules; `Ok(false)` when any found a violation.
pub async fn run(args: ChaosArgs) -> anyhow::Result<bool> {
    if args.schedules == 0 || !args.rate.is_finite() || args.rate <= 0.0 {
        bail!("--schedules and --rate must be more than zero");
    }
    let first = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs())
    });
    let bin = find_node_binary(args.node_bin.as_deref())?;
    let mut violations = 0u64;
    let mut max_converge = 0.0_f64;
    let mut running = tokio::task::JoinSet::new();
    let mut next = 0u64;
    while next < args.schedules || !running.is_empty() {
        while next < args.schedules && running.len() < args.parallel.max(1) {
            let (k, seed) = (next, first.wrapping_add(next));
            let (args, bin) = (args.clone(), bin.clone());
            running.spawn(async move {
                let faults = draw(seed, &args);
                let on_pg = args.postgres.clone().filter(|_| seed % 2 == 1);
                let started = Instant::now();
                let outcome = schedule(seed, &faults, on_pg.as_deref(), &args, &bin)
                    .await
                    .with_context(|| format!("schedule {k} (seed {seed})"));
                (k, seed, faults, on_pg.is_some(), started.elapsed(), outcome)
            });
            next += 1;
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (k, seed, faults, on_pg, took, outcome) = joined?;
        // A schedule that could not run to its end (a hall that did not
        // start again, a store that could not be copied) is a violation
        // too: the tree did not come back.
        let outcome = outcome.unwrap_or_else(|e| Outcome {
            cases: 0,
            decided: 0,
            converge_s: None,
            violations: vec![format!("{e:#}")],
        });
        let listed: Vec<String> = faults
            .iter()
            .map(|(at, f)| format!("{at} ms: {f}"))
            .collect();
        let converge = outcome.converge_s.map_or_else(
            || "did not converge".to_owned(),
            |s| format!("converged in {s:.2} s"),
        );
        println!(
            "schedule {k} seed={seed} district={} cases={} decided={} {converge} ({:.0} s) faults: {}",
            if on_pg { "postgres" } else { "sqlite" },
            outcome.cases,
            outcome.decided,
            took.as_secs_f64(),
            listed.join("; ")
        );
        if let Some(s) = outcome.converge_s {
            max_converge = max_converge.max(s);
        }
        if !outcome.violations.is_empty() {
            violations += 1;
            for v in &outcome.violations {
                println!("  violation: {v}");
            }
            let mut replay = format!(
                "onewindow-deploy chaos --schedules 1 --seed {seed} --faults {} --seconds {} --rate {} --timeout {}",
                args.faults, args.seconds, args.rate, args.timeout
            );
            if let Some(pg) = &args.postgres {
                replay.push_str(&format!(" --postgres {pg}"));
            }
            println!("  replay: {replay}");
        }
    }
    println!(
        "chaos schedules={} violations={violations} max_converge_s={max_converge:.2}",
        args.schedules
    );
    Ok(violations == 0)
}

/// The tree of one schedule: its processes and the relay of each link
/// (by the child's index in [`HALLS`]).
struct Tree {
    processes: ProcessTree,
    relays: BTreeMap<usize, Relay>,
    /// Where copies of stores are kept.
    scratch: PathBuf,
}

async fn schedule(
    seed: u64,
    faults: &[(u64, Fault)],
    postgres: Option<&str>,
    args: &ChaosArgs,
    bin: &std::path::Path,
) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir().context("making a temporary folder")?;
    let b = crate::trees::bundle_of(dir.path(), HALLS, "CH")?;
    let scratch = match postgres {
        Some(url) => {
            let db = ScratchDb::create(&DbChoice::Postgres(url.to_owned()), dir.path()).await?;
            let mut cfg = b.config(HALLS[0])?;
            cfg.database.url = db.url.clone();
            b.write_config(HALLS[0], &cfg)?;
            Some(db)
        }
        None => None,
    };
    let mut relays = BTreeMap::new();
    for (i, id) in HALLS.iter().enumerate().skip(1) {
        let parent = &id[..id.rfind('.').unwrap_or(0)];
        let relay = Relay::start_seeded(
            ([127, 0, 0, 1], 0).into(),
            b.node(parent)?.quic_listen,
            LinkShape::perfect(),
            LinkShape::perfect(),
            seed.wrapping_mul(31).wrapping_add(i as u64),
        )
        .await?;
        b.set_parent_addr(id, &relay.local_addr().to_string())?;
        relays.insert(i, relay);
    }
    let mut tree = Tree {
        processes: ProcessTree::new(b, bin.to_path_buf()),
        relays,
        scratch: dir.path().join("copies"),
    };
    tree.processes.start_all().await?;
    let outcome = exercise(&mut tree, seed, faults, args).await;
    heal(&mut tree).await;
    let _ = tree.processes.stop_all().await;
    for r in tree.relays.values() {
        r.shutdown();
    }
    if let Some(db) = scratch {
        db.remove().await?;
    }
    let failed = outcome.as_ref().map_or(true, |o| !o.violations.is_empty());
    if failed && args.keep_failed {
        let kept = dir.keep();
        println!(
            "  kept the tree of seed {seed} (stores and logs) in {}",
            kept.display()
        );
    }
    outcome
}

/// A staff member logged in at hall `id`.
async fn staff(tree: &ProcessTree, id: &str, role: &str) -> anyhow::Result<Client> {
    crate::trees::staff(tree, id, &format!("chaos.{role}"), role, None).await
}

/// Three approvers of `department` at hall `hall` take every case it holds
/// through handling, review, decision and result, one step a round: the
/// first handles, the second reviews, the third decides (handling, review
/// and decision are three people's).
async fn approve(hall: usize, [first, second, third]: [Client; 3], stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let Ok(list) = first
            .cases(&[("holder", HALLS[hall]), ("limit", "200")])
            .await
        else {
            continue;
        };
        for c in list.value.iter() {
            let (who, action) = match c.state.as_str() {
                "accepted" => (&first, r#"{"action":"start_handling"}"#),
                "handling" => (
                    &first,
                    r#"{"action":"submit_for_review","opinion":"材料齐全，拟同意。"}"#,
                ),
                "review" => (&second, r#"{"action":"pass_review","opinion":"同意。"}"#),
                "approval" => (
                    &third,
                    r#"{"action":"decide","granted":true,"opinion":"准予。"}"#,
                ),
                "decided" => (&first, r#"{"action":"result_ready","result":"准予许可"}"#),
                _ => continue,
            };
            let req = who
                .request(Method::POST, &format!("/api/v1/cases/{}/actions", c.number))
                .header("content-type", "application/json")
                .timeout(Duration::from_secs(5))
                .body(action);
            // Refused (the case moved on, or went up) or unanswered (the
            // hall is down): the next round looks again.
            let _ = who.send(req).await;
        }
    }
}

/// Receipts the windows were given: (case number, village index).
type Receipts = Arc<Mutex<Vec<(String, usize)>>>;

async fn exercise(
    tree: &mut Tree,
    seed: u64,
    faults: &[(u64, Fault)],
    args: &ChaosArgs,
) -> anyhow::Result<Outcome> {
    let mut sups = Vec::new();
    for id in HALLS {
        sups.push(staff(&tree.processes, id, "supervisor").await?);
    }
    let admin = Client::new(&tree.processes.url(HALLS[0])?)?
        .login(
            "admin",
            &tree.processes.bundle().node(HALLS[0])?.admin_password,
        )
        .await?;
    let receipts: Receipts = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clerks = Vec::new();
    let mut department = None;
    for (v, village) in HALLS.iter().enumerate().skip(FIRST_VILLAGE) {
        let clerk = staff(&tree.processes, village, "clerk").await?;
        let catalogue: CatalogueView = serde_json::from_value(clerk.catalogue().await?.json)?;
        let own = SubmissionPlan::choose(&catalogue, "village", None)?;
        // A matter the village receives but may not decide: it goes up.
        let above = catalogue
            .matters
            .iter()
            .find(|g| {
                !g.decided_here
                    && !g.matter.immediate
                    && g.matter.delegation.receive_tiers.contains("village")
            })
            .map(|g| {
                department = Some(g.matter.department.clone());
                SubmissionPlan::choose(&catalogue, "village", Some(&g.matter.code))
            })
            .transpose()?;
        let plans: Vec<SubmissionPlan> = std::iter::once(own).chain(above).collect();
        let (receipts, stop) = (receipts.clone(), stop.clone());
        let every = Duration::from_secs_f64(1.0 / args.rate);
        clerks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                i += 1;
                let plan = &plans[(i as usize) % plans.len()];
                let key = format!("chaos-{seed}-{v}-{i}");
                let applicant = v as u64 * 1_000_000 + i;
                if let Some(number) = submit_until_answered(&clerk, &key, plan, applicant).await {
                    receipts
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((number, v));
                }
            }
        }));
    }
    // Approvers at the townships and the district decide what goes up.
    let mut approvers = Vec::new();
    if let Some(dept) = &department {
        // Not at the second township: it is the one put back to older
        // copies of its store, which production covers only for a hall
        // whose own entries its parent holds (see `Fault::Restore`).
        for (hall, id) in HALLS.iter().enumerate().take(FIRST_VILLAGE) {
            if hall == RESTORED {
                continue;
            }
            let a = crate::trees::staff(&tree.processes, id, "chaos.a1", "approver", Some(dept))
                .await?;
            let b = crate::trees::staff(&tree.processes, id, "chaos.a2", "approver", Some(dept))
                .await?;
            let c = crate::trees::staff(&tree.processes, id, "chaos.a3", "approver", Some(dept))
                .await?;
            approvers.push(tokio::spawn(approve(hall, [a, b, c], stop.clone())));
        }
    }
    // The faults, one after another, each from its moment on.
    let began = Instant::now();
    for (at, fault) in faults {
        let due = began + Duration::from_millis(*at);
        tokio::time::sleep_until(due.into()).await;
        strike(tree, fault, &admin, &receipts).await?;
    }
    let end = began + Duration::from_secs(args.seconds);
    tokio::time::sleep_until(end.into()).await;
    heal(tree).await;
    let healed = Instant::now();
    stop.store(true, Ordering::Relaxed);
    for c in clerks.into_iter().chain(approvers) {
        let _ = c.await;
    }
    let receipts: Vec<(String, usize)> = receipts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let deadline = healed + Duration::from_secs(args.timeout);
    loop {
        let seen = gather(&sups, &receipts).await;
        let violations = judge(&receipts, &seen);
        let converged = violations.is_empty();
        if converged || Instant::now() > deadline {
            let decided = seen
                .events
                .iter()
                .filter(|[_, _, d]| match d {
                    Ok(Some(evs)) => evs
                        .as_array()
                        .is_some_and(|a| a.iter().any(|e| e["event"]["type"] == "decided")),
                    _ => false,
                })
                .count();
            return Ok(Outcome {
                cases: receipts.len(),
                decided,
                converge_s: converged.then(|| healed.elapsed().as_secs_f64()),
                violations,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Sends a submission with its key until it is answered; `None` when it is
/// refused (a refusal is an answer too: nothing was made).
async fn submit_until_answered(
    clerk: &Client,
    key: &str,
    plan: &SubmissionPlan,
    i: u64,
) -> Option<String> {
    loop {
        let req = plan
            .request(clerk, i)
            .header("idempotency-key", key)
            .timeout(Duration::from_secs(5));
        match clerk.send(req).await {
            Ok(r) if r.status == 200 || r.status == 201 => {
                return r.json()["case_number"].as_str().map(str::to_owned);
            }
            Ok(r) if r.status < 500 => {
                tracing::warn!(key, status = r.status, body = r.text, "submission refused");
                return None;
            }
            // Down, frozen, starting or recovering: the same again.
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn strike(
    tree: &mut Tree,
    fault: &Fault,
    admin: &Client,
    receipts: &Receipts,
) -> anyhow::Result<()> {
    match fault {
        Fault::Kill { hall, down_ms } => {
            let id = HALLS[*hall];
            if tree.processes.is_running(id) {
                tree.processes.kill(id).await?;
            }
            tokio::time::sleep(Duration::from_millis(*down_ms)).await;
            tree.processes.start(id).await?;
        }
        Fault::Freeze { hall, ms } => {
            tree.processes.pause(HALLS[*hall])?;
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            tree.processes.resume(HALLS[*hall])?;
        }
        Fault::Cut { hall, up, down, ms } => {
            let relay = &tree.relays[hall];
            let cut = LinkShape {
                blackhole: true,
                ..LinkShape::perfect()
            };
            if *up {
                relay.set_shape(Direction::Up, cut);
            }
            if *down {
                relay.set_shape(Direction::Down, cut);
            }
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            relay.set_shape(Direction::Up, LinkShape::perfect());
            relay.set_shape(Direction::Down, LinkShape::perfect());
        }
        Fault::Degrade { hall, shape, ms } => {
            let relay = &tree.relays[hall];
            relay.set_shape(Direction::Up, *shape);
            relay.set_shape(Direction::Down, *shape);
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            relay.set_shape(Direction::Up, LinkShape::perfect());
            relay.set_shape(Direction::Down, LinkShape::perfect());
        }
        Fault::Skew { hall, skew_ms } => {
            let id = HALLS[*hall];
            tree.processes.stop(id).await?;
            tree.processes.skew_clock(id, *skew_ms);
            tree.processes.start(id).await?;
        }
        Fault::Restore { hall, ms } => {
            let id = HALLS[*hall];
            let data = tree.processes.bundle().folder(id)?.join("data");
            let copy = tree.scratch.join(id);
            std::fs::create_dir_all(&copy)?;
            tree.processes.pause(id)?;
            let copied = copy_store(&data, &copy);
            tree.processes.resume(id)?;
            copied?;
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            if tree.processes.is_running(id) {
                tree.processes.kill(id).await?;
            }
            copy_store(&copy, &data)?;
            tree.processes.start(id).await?;
        }
        Fault::Recall => {
            // Halfway back: one that has had time to reach the district,
            // and is likely still open.
            let last = {
                let r = receipts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let ours: Vec<&String> = r
                    .iter()
                    .filter(|(_, v)| township_of(*v) != RESTORED)
                    .map(|(n, _)| n)
                    .collect();
                ours.get(ours.len() / 2).map(|n| (*n).clone())
            };
            if let Some(n) = last {
                let req = admin
                    .request(Method::POST, &format!("/api/v1/cases/{n}/recall"))
                    .header("content-type", "application/json")
                    .body(r#"{"reason":"抽查"}"#);
                let r = admin.send(req).await?;
                if r.status != 202 {
                    tracing::warn!(case = n, status = r.status, body = r.text, "recall refused");
                }
            }
        }
        Fault::Publish => {
            let now = admin.catalogue().await?.json["version"]
                .as_i64()
                .context("the district's catalogue version")?;
            let body = admin.catalogue_version(now).await?.json;
            let draft = admin.create_draft(&body).await?;
            admin.publish_version(draft.version).await?;
        }
    }
    Ok(())
}

/// Copies a hall's store (the SQLite file and its journal) from one folder
/// to another, replacing what is there.
fn copy_store(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    for f in ["node.db", "node.db-wal", "node.db-shm"] {
        let (src, dst) = (from.join(f), to.join(f));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
        }
    }
    Ok(())
}

/// Every link perfect, every hall running and going on.
async fn heal(tree: &mut Tree) {
    for r in tree.relays.values() {
        r.set_shape(Direction::Up, LinkShape::perfect());
        r.set_shape(Direction::Down, LinkShape::perfect());
    }
    for id in HALLS {
        let _ = tree.processes.resume(id);
        if !tree.processes.is_running(id)
            && let Err(e) = tree.processes.start(id).await
        {
            tracing::error!(hall = id, error = %e, "could not start again");
        }
    }
}

/// A case's events at a hall, if it holds the case.
async fn events(sup: &Client, number: &str) -> Result<Option<Value>, String> {
    let req = sup.request(Method::GET, &format!("/api/v1/cases/{number}/record"));
    match sup.send(req).await {
        Ok(r) if r.status == 200 => Ok(Some(r.json()["events"].clone())),
        Ok(r) if r.status == 404 => Ok(None),
        Ok(r) => Err(format!("{} answered {}", sup.base(), r.status)),
        Err(e) => Err(e.to_string()),
    }
}

/// What the halls say once healed: the district's cases, each receipted
/// case's events at its village, its township and the district, and every
/// hall's catalogue version. A hall that could not be asked is an error.
#[derive(Debug)]
struct Seen {
    district_cases: Result<BTreeSet<String>, String>,
    /// Per receipt, in order: village, township, district.
    events: Vec<[Result<Option<Value>, String>; 3]>,
    catalogue_versions: Vec<Result<Option<i64>, String>>,
    /// Per hall, the matters it may decide (by its own catalogue).
    deciders: BTreeMap<String, BTreeSet<String>>,
}

/// The township of village `v` (an index into [`HALLS`]).
fn township_of(v: usize) -> usize {
    HALLS
        .iter()
        .position(|h| h.matches('.').count() == 1 && HALLS[v].starts_with(&format!("{h}.")))
        .unwrap_or(0)
}

async fn gather(sups: &[Client], receipts: &[(String, usize)]) -> Seen {
    let district_cases = match sups[0].cases(&[("limit", "1000")]).await {
        Ok(list) => Ok(list.value.iter().map(|c| c.number.clone()).collect()),
        Err(e) => Err(format!("the district's case list: {e}")),
    };
    let mut evs = Vec::with_capacity(receipts.len());
    for (number, v) in receipts {
        evs.push([
            events(&sups[*v], number).await,
            events(&sups[township_of(*v)], number).await,
            events(&sups[0], number).await,
        ]);
    }
    let mut catalogue_versions = Vec::new();
    let mut deciders = BTreeMap::new();
    for (s, id) in sups.iter().zip(HALLS) {
        catalogue_versions.push(match s.catalogue().await {
            Ok(c) => {
                let decides = c.json["matters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|m| m["decided_here"] == true)
                    .filter_map(|m| m["code"].as_str().map(str::to_owned))
                    .collect();
                deciders.insert(id.to_owned(), decides);
                Ok(c.json["version"].as_i64())
            }
            Err(e) => Err(format!("{}: catalogue: {e}", s.base())),
        });
    }
    Seen {
        district_cases,
        events: evs,
        catalogue_versions,
        deciders,
    }
}

/// The open part of a case's record events: each one's version, writer,
/// time and kind, which every hall that holds the case holds alike.
fn open_part(events: &Value) -> Vec<Value> {
    events
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            serde_json::json!([
                e["case_version"],
                e["actor"],
                e["at_ms"],
                e["event"]["type"]
            ])
        })
        .collect()
}

/// The invariants over what the halls say, each broken one as a line
/// (empty when all hold).
fn judge(receipts: &[(String, usize)], seen: &Seen) -> Vec<String> {
    let mut out = Vec::new();
    let told: BTreeSet<&str> = receipts.iter().map(|(n, _)| n.as_str()).collect();
    if told.len() != receipts.len() {
        out.push("two submissions were answered with the same case".to_owned());
    }
    match &seen.district_cases {
        Ok(held) => {
            let held: BTreeSet<&str> = held.iter().map(String::as_str).collect();
            let missing = told.difference(&held).count();
            let extra: Vec<&&str> = held.difference(&told).take(3).collect();
            if missing > 0 {
                out.push(format!("{missing} receipted cases are not at the district"));
            }
            if !extra.is_empty() {
                out.push(format!(
                    "the district holds cases no window receipted: {extra:?}"
                ));
            }
        }
        Err(e) => out.push(e.clone()),
    }
    for ((number, _), [village, township, district]) in receipts.iter().zip(&seen.events) {
        match (village, township, district) {
            (Ok(Some(a)), Ok(Some(b)), Ok(Some(c))) => {
                // Compared on their open part: a case's personal sections
                // reach only the halls that hold it.
                if open_part(a) != open_part(c) || open_part(b) != open_part(c) {
                    out.push(format!("{number}: the event lists differ between halls"));
                } else if !versions_run_on(c) {
                    out.push(format!("{number}: its versions do not run 1, 2, ... k"));
                } else if let Err(e) = one_holder(c) {
                    out.push(format!("{number}: {e}"));
                } else if let Err(e) = decided_where_delegated(c, &seen.deciders) {
                    out.push(format!("{number}: {e}"));
                }
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => out.push(format!("{number}: {e}")),
            _ => out.push(format!("{number}: not at every hall on its way up")),
        }
        if out.len() > 10 {
            break;
        }
    }
    let mut versions = Vec::new();
    for v in &seen.catalogue_versions {
        match v {
            Ok(v) => versions.push(*v),
            Err(e) => out.push(e.clone()),
        }
    }
    if versions.iter().any(|v| v.is_none()) || versions.windows(2).any(|w| w[0] != w[1]) {
        out.push(format!("catalogue versions differ: {versions:?}"));
    }
    out
}

/// Every event after the first is written by the case's holder at that
/// point, as the events' own order makes it: the accepting hall first,
/// then whom `accepted`, `transferred` and `handed_over` name.
fn one_holder(events: &Value) -> Result<(), String> {
    let evs = events.as_array().ok_or("no events")?;
    let node = |e: &Value| e["actor"]["node"].as_str().map(str::to_owned);
    let mut holder = evs.first().and_then(node);
    for e in evs.iter().skip(1) {
        let writer = node(e);
        if writer.is_none() || writer != holder {
            return Err(format!(
                "version {} written by {} while {} held it",
                e["case_version"],
                writer.as_deref().unwrap_or("nobody"),
                holder.as_deref().unwrap_or("nobody")
            ));
        }
        let ev = &e["event"];
        match ev["type"].as_str() {
            Some("accepted") => holder = ev["holder"].as_str().map(str::to_owned),
            Some("transferred") => holder = ev["to"].as_str().map(str::to_owned),
            Some("handed_over") => holder = ev["holder"].as_str().map(str::to_owned),
            _ => {}
        }
    }
    Ok(())
}

/// A case is decided only at a hall whose catalogue lets it decide the
/// case's matter.
fn decided_where_delegated(
    events: &Value,
    deciders: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(), String> {
    let evs = events.as_array().ok_or("no events")?;
    let matter = evs
        .first()
        .and_then(|e| e["event"]["matter_code"].as_str())
        .ok_or("no matter in the first event")?;
    for e in evs {
        if e["event"]["type"] == "decided" {
            let by = e["actor"]["node"].as_str().unwrap_or_default();
            if !deciders.get(by).is_some_and(|m| m.contains(matter)) {
                return Err(format!("{by} decided {matter}, which it may not decide"));
            }
        }
    }
    Ok(())
}

fn versions_run_on(events: &Value) -> bool {
    events.as_array().is_some_and(|evs| {
        evs.iter()
            .enumerate()
            .all(|(i, e)| e["case_version"].as_u64() == Some(i as u64 + 1))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    /// `n` events of a case accepted at a village, each written there.
    fn evs(n: u64) -> Value {
        Value::Array(
            (1..=n)
                .map(|v| {
                    let event = if v == 1 {
                        json!({"type": "received", "matter_code": "M-1"})
                    } else {
                        json!({"type": "opinion"})
                    };
                    json!({"case_version": v, "actor": {"node": "nanhai.t1.v1"}, "event": event})
                })
                .collect(),
        )
    }

    fn all(s: &mut Seen, k: usize, events: &Value) {
        s.events[k] = [
            Ok(Some(events.clone())),
            Ok(Some(events.clone())),
            Ok(Some(events.clone())),
        ];
    }

    /// Two receipts, every hall holding both with the same events, one
    /// catalogue version: nothing to report.
    fn good() -> (Vec<(String, usize)>, Seen) {
        let receipts = vec![("A-1".to_owned(), 3), ("A-2".to_owned(), 5)];
        let seen = Seen {
            district_cases: Ok(["A-1".to_owned(), "A-2".to_owned()].into()),
            events: vec![
                [Ok(Some(evs(2))), Ok(Some(evs(2))), Ok(Some(evs(2)))],
                [Ok(Some(evs(3))), Ok(Some(evs(3))), Ok(Some(evs(3)))],
            ],
            catalogue_versions: vec![Ok(Some(2)); 7],
            deciders: [
                ("nanhai.t1.v1".to_owned(), ["M-1".to_owned()].into()),
                ("nanhai.t1".to_owned(), ["M-2".to_owned()].into()),
            ]
            .into(),
        };
        (receipts, seen)
    }

    #[test]
    fn a_healthy_tree_has_no_violation() {
        let (r, s) = good();
        assert_eq!(judge(&r, &s), Vec::<String>::new());
    }

    #[test]
    fn each_broken_invariant_is_reported() {
        let (r, mut s) = good();
        s.district_cases = Ok(["A-1".to_owned()].into());
        assert!(judge(&r, &s)[0].contains("1 receipted cases are not at the district"));

        let (r, mut s) = good();
        s.district_cases = Ok(["A-1".to_owned(), "A-2".to_owned(), "A-3".to_owned()].into());
        assert!(judge(&r, &s)[0].contains("no window receipted"));

        let (mut r, s) = good();
        r[1].0 = "A-1".to_owned();
        assert!(judge(&r, &s)[0].contains("same case"));

        let (r, mut s) = good();
        s.events[0][1] = Ok(Some(evs(1)));
        assert_eq!(judge(&r, &s), ["A-1: the event lists differ between halls"]);

        let (r, mut s) = good();
        s.events[1][0] = Ok(None);
        assert_eq!(judge(&r, &s), ["A-2: not at every hall on its way up"]);

        let (r, mut s) = good();
        let mut twice = evs(2);
        twice[1]["case_version"] = json!(1);
        all(&mut s, 0, &twice);
        assert_eq!(judge(&r, &s), ["A-1: its versions do not run 1, 2, ... k"]);

        // Written by a hall that did not hold the case.
        let (r, mut s) = good();
        let mut stolen = evs(3);
        stolen[2]["actor"]["node"] = json!("nanhai.t1");
        all(&mut s, 0, &stolen);
        assert_eq!(
            judge(&r, &s),
            ["A-1: version 3 written by nanhai.t1 while nanhai.t1.v1 held it"]
        );
        // Handed up first, it is the township's to write.
        stolen[1]["event"] = json!({"type": "transferred", "to": "nanhai.t1"});
        all(&mut s, 0, &stolen);
        assert_eq!(judge(&r, &s), Vec::<String>::new());

        // Decided where the matter may not be decided.
        let (r, mut s) = good();
        let mut below = evs(2);
        below[0]["event"]["matter_code"] = json!("M-2");
        below[1]["event"] = json!({"type": "decided", "granted": true});
        all(&mut s, 1, &below);
        assert_eq!(
            judge(&r, &s),
            ["A-2: nanhai.t1.v1 decided M-2, which it may not decide"]
        );

        let (r, mut s) = good();
        s.catalogue_versions[4] = Ok(Some(1));
        assert!(judge(&r, &s)[0].starts_with("catalogue versions differ"));

        let (r, mut s) = good();
        s.catalogue_versions[6] = Err("nanhai.t2.v2: catalogue: down".to_owned());
        assert_eq!(judge(&r, &s), ["nanhai.t2.v2: catalogue: down"]);
    }

    #[test]
    fn a_seed_draws_the_same_schedule_every_time() {
        let args = ChaosArgs {
            schedules: 1,
            seed: None,
            faults: 6,
            seconds: 8,
            rate: 4.0,
            timeout: 90,
            postgres: None,
            parallel: 1,
            keep_failed: false,
            node_bin: None,
        };
        let show = |f: &[(u64, Fault)]| format!("{f:?}");
        assert_eq!(show(&draw(42, &args)), show(&draw(42, &args)));
        assert_ne!(show(&draw(42, &args)), show(&draw(43, &args)));
        let f = draw(42, &args);
        assert_eq!(f.len(), 6);
        assert!(f.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(f.iter().all(|(at, _)| *at < 8000));
    }

    #[test]
    fn a_village_goes_up_through_its_township() {
        assert_eq!(HALLS[township_of(3)], "nanhai.t1");
        assert_eq!(HALLS[township_of(4)], "nanhai.t1");
        assert_eq!(HALLS[township_of(5)], "nanhai.t2");
        assert_eq!(HALLS[township_of(6)], "nanhai.t2");
    }
}
