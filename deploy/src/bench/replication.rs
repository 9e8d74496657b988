//! `bench replication`: how fast case events written at a village reach the
//! district through a township, over real QUIC links through the
//! fault-injecting relay.
//!
//! Three nodes run in this process, each with its own SQLite file:
//!
//! ```text
//! village ──relay──► township ──relay──► district
//! ```
//!
//! The load is written straight into the village's store (one transaction
//! per batch of new cases, each a `received` event, exactly as the window
//! would stage them, with the applicant's digest under one key for the
//! three halls, as a deployed tree's bundle gives them), so the window's
//! own cost does not cap what the links are offered. The district's head of
//! the village's origin is watched as it moves: an event's lag runs from
//! the commit of its batch at the village to the moment the district holds
//! it.
//!
//! With `--catchup` the village's link is cut (the relay drops every
//! datagram) while the events are written, then restored: the figure is
//! how fast the backlog drains to the district, while a clerk submits
//! applications at the village's window through its HTTP API, each one
//! timed. The bench's cases are numbered on the days before today (a hall
//! numbers at most 999,999 cases a day), so the clerk's cases of today
//! never meet them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use federation::relay::{LinkShape, Relay, RelayStats};
use federation::{FederationCa, NodeId};
use node::config::Config;
use node::domain::case::{
    Actor, Applicant, ApplicantKind, Case, Event, EventRecord, Received, Role,
};
use node::domain::case_number::CaseNumber;
use node::domain::catalogue::Matter;
use node::server::{self, RunningNode};
use node::service::Node;
use serde::Serialize;

use super::acceptance::Synchronous;
use super::latency::{Latencies, ms};
use crate::applicants;
use crate::hall::random_password;
use crate::submission::SubmissionPlan;
use onewindow_table as report;

const DISTRICT: &str = "nanhai";
const TOWNSHIP: &str = "nanhai.guicheng";
const VILLAGE: &str = "nanhai.guicheng.xiaping";

/// Options of `bench replication`.
#[derive(Debug, Args)]
pub struct ReplicationArgs {
    /// Case events written at the village.
    #[arg(long, default_value_t = 100_000, value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub events: u64,
    /// Offered load in events per second; 0 writes as fast as the village's
    /// store takes them.
    #[arg(long, default_value_t = 0.0, value_name = "R")]
    pub rate: f64,
    /// The shape of both links (village-township and township-district),
    /// each way: loss=5%,rtt=300ms,rate=1mbit,dup=1%,jitter=10ms; perfect
    /// when omitted.
    #[arg(long, default_value = "perfect", value_name = "SHAPE",
        value_parser = |s: &str| LinkShape::parse(s).map_err(|e| e.to_string()))]
    pub link: LinkShape,
    /// Most events per write transaction at the village.
    #[arg(long, default_value_t = 500, value_name = "B",
        value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub batch: u64,
    /// SQLite `synchronous` mode of all three stores.
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    pub sqlite_synchronous: Synchronous,
    /// The district's store: `sqlite` (a file, like the other two), or a
    /// postgres:// URL through which a fresh database is made for the run
    /// and dropped after it.
    #[arg(long, default_value = "sqlite", value_name = "DB")]
    pub district_db: crate::db::DbChoice,
    /// Cut the village's link while the events are written and measure how
    /// fast they drain once it is back, with a clerk at the village's
    /// window (see `--clerk-rate`).
    #[arg(long)]
    pub catchup: bool,
    /// With `--catchup`: the clerk's submissions a second during the drain.
    #[arg(long, default_value_t = 5.0, value_name = "R")]
    pub clerk_rate: f64,
    /// Give up this many seconds after the start of writing.
    #[arg(long, default_value_t = 900, value_name = "S")]
    pub timeout: u64,
    /// Print one JSON object instead of the table and the key=value line.
    #[arg(long)]
    pub json: bool,
}

/// The result of a run, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Summary {
    bench: &'static str,
    link: String,
    /// `sqlite` or `postgres`.
    district_store: String,
    events: u64,
    offered_rate: f64,
    delivered: u64,
    write_s: f64,
    wall_s: f64,
    events_per_s: f64,
    lag_p50_ms: f64,
    lag_p90_ms: f64,
    lag_p99_ms: f64,
    lag_max_ms: f64,
    catchup_s: f64,
    village_link_dropped_packets: u64,
    district_link_dropped_packets: u64,
    /// UDP payload bytes that crossed the village's link upwards, per event.
    village_link_up_bytes_per_event: f64,
    /// Bytes this process sent to the disk from the start of writing to the
    /// last arrival (`write_bytes` of `/proc/self/io`: the three stores'
    /// logs, write-ahead logs and checkpoints), per event; `None` where the
    /// system does not say.
    disk_bytes_per_event: Option<f64>,
    /// CPU time this process used from the start of writing to the last
    /// arrival (`/proc/self/stat`), per event: the three halls, their
    /// links and the bench's own writer together; `None` where the system
    /// does not say.
    cpu_us_per_event: Option<f64>,
    /// The part of it in SQLite's connection threads (the statements,
    /// the commits and their writes; `/proc/self/task`), at least: a
    /// thread that ended during the run is not counted.
    sqlite_cpu_us_per_event: Option<f64>,
    /// The events a second this process could move at that CPU cost with
    /// every core of the machine busy: what bounds `events_per_s` when the
    /// run is bound by CPU, as it is on a machine of few cores. `None`
    /// with the district on PostgreSQL, whose server's CPU is not counted.
    cpu_bound_events_per_s: Option<f64>,
    /// Seconds from the start of writing by which a tenth, two tenths, ...
    /// of the events had reached the district: even steps mean they arrive
    /// continuously, one step holding most of them means a lump.
    arrived_by_tenth_s: Vec<f64>,
    /// With `--catchup`: what the drain and the clerk saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    catchup: Option<CatchUp>,
    /// What each receiving hall did with the batches that came up to it,
    /// from its own `/metrics`.
    hops: Vec<Hop>,
}

/// One receiving hall's batches from its child, read from its metrics.
#[derive(Debug, Serialize)]
struct Hop {
    /// The receiving hall.
    hall: String,
    batches: u64,
    entries: u64,
    /// Write transactions committed (an fsync each).
    fsyncs: u64,
    /// Time spent applying batches, in all.
    apply_s: f64,
    /// Batches the sending hall (the child) read for this link and all its
    /// others from the log's tail in memory, and from its database.
    child_reads_from_tail: u64,
    child_reads_from_store: u64,
}

impl Hop {
    /// Reads `hall`'s counters of the up flow from `child` out of the
    /// node's metrics text.
    fn read(hall: &Node, child: &Node) -> Hop {
        let (tail, store) = child.store.link_reads();
        let child = child.id.as_str();
        let text = hall.metrics.render(hall.id.as_str(), hall.now_ms());
        let value = |name: &str| -> f64 {
            let labels = format!("{{peer=\"{child}\",flow=\"up\"}}");
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(name)?
                        .strip_prefix(&labels)?
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .unwrap_or(0.0)
        };
        Hop {
            hall: hall.id.to_string(),
            batches: value("onewindow_link_batches_received_total") as u64,
            entries: value("onewindow_link_entries_applied_total") as u64,
            fsyncs: value("onewindow_link_fsyncs_total") as u64,
            apply_s: value("onewindow_link_apply_seconds_sum"),
            child_reads_from_tail: tail,
            child_reads_from_store: store,
        }
    }
}

/// The drain of a backlog written while the village's link was down.
#[derive(Debug, Serialize)]
struct CatchUp {
    /// From the link's return to the district holding the last event.
    drain_s: f64,
    drain_events_per_s: f64,
    /// The clerk's submissions at the village during the drain.
    clerk_submissions: u64,
    clerk_failed: u64,
    clerk_p50_ms: f64,
    clerk_p99_ms: f64,
    clerk_max_ms: f64,
}

/// Three linked nodes and the relays between them.
struct Chain {
    /// The village's first login (its bootstrap administrator).
    village_admin_password: String,
    district: RunningNode,
    township: RunningNode,
    village: RunningNode,
    relays: [Relay; 2],
    district_db: Option<crate::db::ScratchDb>,
    _dir: tempfile::TempDir,
}

/// Runs the benchmark; `Ok(false)` if not every event reached the district.
pub async fn run(args: ReplicationArgs) -> anyhow::Result<bool> {
    if !(args.rate.is_finite() && args.rate >= 0.0) {
        bail!("--rate must be 0 or a positive number of events per second");
    }
    eprintln!(
        "starting {VILLAGE} -> {TOWNSHIP} -> {DISTRICT}, links {}",
        args.link
    );
    let chain = Chain::start(&args).await?;
    let result = tokio::select! {
        r = measure(&chain, &args) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    eprintln!("stopping the nodes");
    chain.stop().await;
    let summary = result?;
    print_summary(&summary, args.json)?;
    Ok(summary.delivered == args.events)
}

impl Chain {
    async fn start(args: &ReplicationArgs) -> anyhow::Result<Chain> {
        let dir = tempfile::Builder::new()
            .prefix("onewindow-replication-")
            .tempdir()
            .context("creating a temporary folder")?;
        let ca = FederationCa::generate("OneWindow bench CA")?;
        let (signing_private, signing_public) = node::link::signing::generate()?;
        let key_file = dir.path().join("root-signing.key");
        std::fs::write(&key_file, &signing_private)?;
        // One key for the applicants' digests in every hall, as a deployed
        // tree's bundle has: each case carries its digest, as at a real
        // window.
        let id_digest_key = hex::encode(rand::random::<[u8; 32]>());
        let config = |id: &str, code: &str, child: &str| -> anyhow::Result<Config> {
            let nid = NodeId::new(id)?;
            let home = dir.path().join(id);
            let pki = home.join("pki");
            ca.issue_for_days(&nid, 7)?.to_files(&pki)?;
            let mut c = Config::default();
            c.node.id = id.to_owned();
            c.node.hall_code = code.to_owned();
            c.node.hall_name_zh = format!("{id} 测试厅");
            c.node.hall_name_en = format!("{id} bench hall");
            c.node.data_dir = home.clone();
            c.http.listen = ([127, 0, 0, 1], 0).into();
            c.federation.listen = ([127, 0, 0, 1], 0).into();
            c.federation.credentials_dir = pki.display().to_string();
            c.federation.root_public_key = signing_public.clone();
            c.federation.children = if child.is_empty() {
                vec![]
            } else {
                vec![child.to_owned()]
            };
            if nid.depth() == 0 {
                c.federation.signing_key_file = key_file.display().to_string();
            }
            c.database.url = format!("sqlite://{}?mode=rwc", home.join("node.db").display());
            c.database.sqlite_synchronous = sync_str(args.sqlite_synchronous).to_owned();
            c.auth.bootstrap_password = random_password(20);
            c.privacy.id_digest_key.clone_from(&id_digest_key);
            std::fs::create_dir_all(&home)?;
            Ok(c)
        };
        let mut c = config(DISTRICT, "NH", TOWNSHIP)?;
        let district_db = match &args.district_db {
            crate::db::DbChoice::Sqlite => None,
            choice => {
                let db = crate::db::ScratchDb::create(choice, dir.path()).await?;
                eprintln!(
                    "the district's store is PostgreSQL: {}",
                    crate::db::redact(&db.url)
                );
                c.database.url = db.url.clone();
                Some(db)
            }
        };
        let district = server::start(c).await?;
        let relay_up = relay_to(&district, args.link).await?;
        let mut c = config(TOWNSHIP, "NHGC", VILLAGE)?;
        c.federation.parent_addr = relay_up.local_addr().to_string();
        let township = server::start(c).await?;
        let relay_down = relay_to(&township, args.link).await?;
        let mut c = config(VILLAGE, "NHGCXP", "")?;
        c.federation.parent_addr = relay_down.local_addr().to_string();
        let village_admin_password = c.auth.bootstrap_password.clone();
        let village = server::start(c).await?;
        Ok(Chain {
            village_admin_password,
            district,
            township,
            village,
            relays: [relay_down, relay_up],
            district_db,
            _dir: dir,
        })
    }

    async fn stop(self) {
        for r in &self.relays {
            r.shutdown();
        }
        self.village.stop().await;
        self.township.stop().await;
        self.district.stop().await;
        if let Some(db) = self.district_db
            && let Err(e) = db.remove().await
        {
            eprintln!("could not drop the district's scratch database: {e:#}");
        }
    }
}

/// A relay in front of a node's QUIC port.
async fn relay_to(parent: &RunningNode, shape: LinkShape) -> anyhow::Result<Relay> {
    let upstream = parent
        .links
        .as_ref()
        .and_then(|l| l.listen_addr)
        .context("the parent listens for no children")?;
    Ok(Relay::start(([127, 0, 0, 1], 0).into(), upstream, shape, shape).await?)
}

fn sync_str(s: Synchronous) -> &'static str {
    match s {
        Synchronous::Full => "full",
        Synchronous::Normal => "normal",
    }
}

async fn measure(chain: &Chain, args: &ReplicationArgs) -> anyhow::Result<Summary> {
    let village = Arc::clone(&chain.village.node);
    let township = Arc::clone(&chain.township.node);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(village.uplink_up() && township.uplink_up()) {
        if Instant::now() > deadline {
            bail!("the links did not come up within two minutes");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let n = usize::try_from(args.events)?;
    let template = template(&village)?;
    eprintln!(
        "links up; writing {n} events of matter {} at {}",
        template.matter_code,
        if args.rate > 0.0 {
            format!("{} events/s", args.rate)
        } else {
            "full speed".to_owned()
        }
    );

    let clerk = if args.catchup {
        let clerk = Clerk::log_in(chain).await?;
        chain.relays[0].set_blackhole(true);
        eprintln!("the village's link is cut while it writes");
        Some(clerk)
    } else {
        None
    };
    let first_day = village.today() - chrono::Days::new(1);
    let disk_before = disk_written();
    let cpu_before = cpu_used();
    let started = Instant::now();
    let give_up = started + Duration::from_secs(args.timeout);
    let (last_tx, last_rx) = tokio::sync::watch::channel(None);
    let watcher = tokio::spawn(watch_district(
        Arc::clone(&chain.district.node),
        NodeId::new(VILLAGE)?,
        last_rx,
        give_up,
    ));
    let written = write_load(&village, &template, args, first_day, started).await?;
    let _ = last_tx.send(written.last().map(|w| w.1));
    let write_end = Instant::now();
    eprintln!(
        "wrote {n} events in {:.2} s; waiting for the district",
        (write_end - started).as_secs_f64()
    );
    // During a catch-up the clerk works at the village's window from the
    // link's return until the district holds the last event.
    let clerk = clerk.map(|clerk| {
        chain.relays[0].set_blackhole(false);
        eprintln!(
            "the village's link is back; the clerk submits {}/s while the backlog drains",
            args.clerk_rate
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let rate = args.clerk_rate;
        (stop, tokio::spawn(clerk.submit_until(rate, stopped)))
    });
    let moves = watcher.await.context("the district watcher failed")??;
    let disk = disk_before
        .zip(disk_written())
        .map(|(a, b)| b.saturating_sub(a) as f64 / args.events as f64);
    let cpu = cpu_before.zip(cpu_used()).map(|(a, b)| CpuUse {
        total: b.total.saturating_sub(a.total),
        sqlite: b.sqlite.saturating_sub(a.sqlite),
    });
    let cpu_us = cpu.map(|c| us_per(c.total, args.events));
    let arrivals = arrivals_of(&written, &moves);
    let delivered = arrivals.iter().flatten().count();
    let last = arrivals
        .iter()
        .flatten()
        .max()
        .copied()
        .unwrap_or(write_end);
    let catchup = match clerk {
        Some((stop, task)) => {
            let _ = stop.send(true);
            let seen = task.await.context("the clerk failed")?;
            Some(catch_up(delivered, last, write_end, seen))
        }
        None => None,
    };
    let lags = Latencies::new(
        arrivals
            .iter()
            .zip(&written)
            .filter_map(|(a, c)| a.map(|a| a.saturating_duration_since(c.0)))
            .collect(),
    );
    let wall = last.saturating_duration_since(started);
    let write_s = (write_end - started).as_secs_f64();
    let dropped = |r: &RelayStats| r.up.dropped_packets + r.down.dropped_packets;
    Ok(Summary {
        bench: "replication",
        link: args.link.to_string(),
        district_store: args.district_db.to_string(),
        events: args.events,
        offered_rate: args.rate,
        delivered: delivered as u64,
        write_s,
        wall_s: wall.as_secs_f64(),
        events_per_s: if wall.is_zero() {
            0.0
        } else {
            delivered as f64 / wall.as_secs_f64()
        },
        lag_p50_ms: ms(lags.percentile(50.0)),
        lag_p90_ms: ms(lags.percentile(90.0)),
        lag_p99_ms: ms(lags.percentile(99.0)),
        lag_max_ms: ms(lags.max()),
        catchup_s: last.saturating_duration_since(write_end).as_secs_f64(),
        village_link_dropped_packets: dropped(&chain.relays[0].stats()),
        district_link_dropped_packets: dropped(&chain.relays[1].stats()),
        village_link_up_bytes_per_event: chain.relays[0].stats().up.forwarded_bytes as f64
            / args.events as f64,
        disk_bytes_per_event: disk,
        cpu_us_per_event: cpu_us,
        sqlite_cpu_us_per_event: cpu.map(|c| us_per(c.sqlite, args.events)),
        // With the district on PostgreSQL its work is done by the server,
        // another process, whose CPU this process does not see.
        cpu_bound_events_per_s: cpu_us.filter(|us| *us > 0.0).and_then(|us| {
            let own = matches!(args.district_db, crate::db::DbChoice::Sqlite);
            let cores = std::thread::available_parallelism().ok()?.get() as f64;
            own.then(|| cores * 1e6 / us)
        }),
        arrived_by_tenth_s: tenths(&arrivals, started),
        catchup,
        hops: vec![
            Hop::read(&township, &village),
            Hop::read(&chain.district.node, &township),
        ],
    })
}

/// When a tenth, two tenths, ... of the events had arrived (seconds since
/// `started`).
fn tenths(arrivals: &[Option<Instant>], started: Instant) -> Vec<f64> {
    let mut at: Vec<f64> = arrivals
        .iter()
        .flatten()
        .map(|a| a.saturating_duration_since(started).as_secs_f64())
        .collect();
    at.sort_by(f64::total_cmp);
    (1..=10)
        .filter_map(|t| {
            let i = (at.len() * t / 10).checked_sub(1)?;
            at.get(i).copied()
        })
        .collect()
}

/// The drain's figures: `delivered` events from the link's return
/// (`write_end`) to the `last` arrival, and what the clerk saw meanwhile.
fn catch_up(
    delivered: usize,
    last: Instant,
    write_end: Instant,
    (latencies, failed, failures): (Vec<Duration>, u64, Vec<String>),
) -> CatchUp {
    if let Some(f) = failures.first() {
        eprintln!("{failed} of the clerk's submissions failed; the first: {f}");
    }
    let drain_s = last.saturating_duration_since(write_end).as_secs_f64();
    let clerk = Latencies::new(latencies);
    CatchUp {
        drain_s,
        drain_events_per_s: if drain_s > 0.0 {
            delivered as f64 / drain_s
        } else {
            0.0
        },
        clerk_submissions: clerk.len() as u64 + failed,
        clerk_failed: failed,
        clerk_p50_ms: ms(clerk.percentile(50.0)),
        clerk_p99_ms: ms(clerk.percentile(99.0)),
        clerk_max_ms: ms(clerk.max()),
    }
}

/// A clerk logged in at the village's window.
struct Clerk {
    target: super::load::Target,
    plan: SubmissionPlan,
}

impl Clerk {
    /// Makes a clerk's account at the village and logs her in.
    async fn log_in(chain: &Chain) -> anyhow::Result<Clerk> {
        let http = reqwest::Client::new();
        let api = onewindow_client::Client::with_http(http.clone(), &chain.village.url())?;
        let clerk =
            super::acceptance::new_clerk(&api, &chain.village_admin_password, "bench.window")
                .await?;
        let catalogue: crate::submission::CatalogueView =
            serde_json::from_value(api.catalogue().await?.json).context("reading the catalogue")?;
        let plan = SubmissionPlan::choose(&catalogue, chain.village.node.tier.as_str(), None)?;
        Ok(Clerk {
            target: super::load::Target {
                http,
                url: format!("{}/api/v1/cases", clerk.base()),
                token: clerk.token().unwrap_or_default().to_owned(),
            },
            plan,
        })
    }

    /// Submits `rate` applications a second, one at a time, until told to
    /// stop; returns each success's time from sending to the whole answer,
    /// how many failed, and the first failures.
    async fn submit_until(
        self,
        rate: f64,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> (Vec<Duration>, u64, Vec<String>) {
        let every = Duration::from_secs_f64(1.0 / rate.max(0.001));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let (mut lat, mut failed, mut failures) = (Vec::new(), 0u64, Vec::new());
        let mut k = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            let body = self.plan.body(20_000_000 + k);
            k += 1;
            let t = Instant::now();
            let answer = super::load::post(&self.target, body).await;
            let took = t.elapsed();
            match answer
                .and_then(|(status, bytes)| super::acceptance::check_receipt(status, &bytes))
            {
                Ok(()) => lat.push(took),
                Err(e) => {
                    failed += 1;
                    if failures.len() < 5 {
                        failures.push(e);
                    }
                }
            }
        }
        (lat, failed, failures)
    }
}

/// The received event every case starts with, but for its number, time and
/// applicant: a committed matter the village receives and decides.
fn template(village: &Node) -> anyhow::Result<Received> {
    let cat = village.catalogue();
    let m: &Matter = cat
        .matters
        .values()
        .filter(|m| village.may_receive(m) && !m.immediate)
        .min_by_key(|m| (!village.may_decide(m), m.code.clone()))
        .context("the village receives no committed matter")?;
    let plan = SubmissionPlan::for_matter(m);
    Ok(Received::from_matter(
        m,
        cat.version,
        Applicant {
            kind: ApplicantKind::Person,
            id_number: String::new(),
            name: String::new(),
            phone: None,
            checksum_overridden: false,
            checksum_override_reason: None,
        },
        vec![],
        plan.materials,
        village.id.to_string(),
    ))
}

/// Writes the events at the offered rate, in batches; returns the commit
/// time and origin sequence of each event.
async fn write_load(
    village: &Node,
    template: &Received,
    args: &ReplicationArgs,
    first_day: chrono::NaiveDate,
    started: Instant,
) -> anyhow::Result<Vec<(Instant, u64)>> {
    let n = args.events;
    let batch = args.batch;
    let hall = village.config.node.hall_code.clone();
    let actor = Actor {
        username: "bench.clerk".into(),
        role: Role::Clerk,
        node: village.id.to_string(),
        department: None,
    };
    let mut committed = Vec::with_capacity(usize::try_from(n)?);
    let mut seqs = Vec::new();
    let mut i = 0u64;
    while i < n {
        let due = if args.rate > 0.0 {
            let by_now = (started.elapsed().as_secs_f64() * args.rate) as u64 + 1;
            by_now.min(n)
        } else {
            n
        };
        if due <= i {
            let next = started + Duration::from_secs_f64(i as f64 / args.rate);
            tokio::time::sleep_until(next.into()).await;
            continue;
        }
        let upto = due.min(i + batch);
        let mut w = village.store.write().await?;
        let at_ms = village.now_ms();
        for k in i..upto {
            let (day, seq) = bench_number(first_day, k);
            let number = CaseNumber::new(&hall, day, seq)?;
            let mut received = template.clone();
            received.applicant.id_number = applicants::citizen_id(k);
            received.applicant.name = applicants::person_name(k);
            received.id_digest = village
                .id_digest(&received.applicant.id_number)
                .unwrap_or_default();
            let rec = EventRecord {
                case_id: number.to_string(),
                case_version: 1,
                actor: actor.clone(),
                at_ms,
                event: Event::Received(std::sync::Arc::new(received)),
            };
            let case = Case::start(&rec)?;
            seqs.push(w.append(rec, village.id.as_str())?.entry.origin_seq);
            w.put_new_case(village.case_row_owned(case));
        }
        w.commit().await?;
        let now = Instant::now();
        committed.extend(seqs.drain(..).map(|s| (now, s)));
        i = upto;
    }
    Ok(committed)
}

/// Cases a hall numbers in one day at most.
const PER_DAY: u64 = 999_999;

/// The day and number of the bench's case `k`: 999,999 a day, counting
/// back from `first_day`.
fn bench_number(first_day: chrono::NaiveDate, k: u64) -> (chrono::NaiveDate, u32) {
    let day = first_day - chrono::Days::new(k / PER_DAY);
    // Below 1,000,000: always fits.
    (day, (k % PER_DAY + 1) as u32)
}

/// Watches the district's head of the village's origin (held in memory,
/// moved by each commit): returns when it moved and to which sequence,
/// until it reaches the last sequence written (`last`, known once the
/// load is written) or `give_up`. An origin's entries are held in order
/// with no gap, so the village's entry `s` is at the district from the
/// first moment the head is at `s` or above. Reading the district's rows
/// instead cost the bench a tenth of the machine's time.
async fn watch_district(
    district: Arc<Node>,
    village: NodeId,
    mut last: tokio::sync::watch::Receiver<Option<u64>>,
    give_up: Instant,
) -> anyhow::Result<Vec<(Instant, u64)>> {
    let mut head = district.store.head().await;
    let mut moves: Vec<(Instant, u64)> = Vec::new();
    loop {
        head.borrow_and_update();
        let now = Instant::now();
        let at = district
            .store
            .origin_heads()
            .await?
            .get(&village)
            .map_or(0, |h| h.0);
        if moves.last().is_none_or(|m| m.1 < at) {
            moves.push((now, at));
        }
        let end = *last.borrow_and_update();
        if end.is_some_and(|end| at >= end) || now >= give_up {
            return Ok(moves);
        }
        tokio::select! {
            _ = head.changed() => {}
            _ = last.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// Bytes this process has caused to be written to the disk so far
/// (`write_bytes` in `/proc/self/io`); `None` where there is no such file.
fn disk_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// CPU time used by this process, in all and in SQLite's connection
/// threads.
#[derive(Debug, Clone, Copy)]
struct CpuUse {
    total: Duration,
    sqlite: Duration,
}

/// The CPU time this process has used so far (user and system, threads
/// that ended included), and that of its live SQLite connection threads,
/// which sqlx names `sqlx-sqlite-worker-N` (the kernel keeps 15
/// characters of a name); `None` where `/proc` does not say.
fn cpu_used() -> Option<CpuUse> {
    let total = stat_cpu(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let mut sqlite = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let path = task.path();
        let is_sqlite =
            std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.starts_with("sqlx-sqlite"));
        if is_sqlite
            && let Some(t) = std::fs::read_to_string(path.join("stat"))
                .ok()
                .and_then(|s| stat_cpu(&s))
        {
            sqlite += t;
        }
    }
    Some(CpuUse { total, sqlite })
}

/// User and system time from a `/proc/.../stat` line: the 14th and 15th
/// fields, in clock ticks of 1/100 s (Linux reports `USER_HZ`, 100, to
/// every program). The name (2nd field, in parentheses) may hold spaces,
/// so the fields are counted from after its closing parenthesis.
fn stat_cpu(stat: &str) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// `d` for each of `events`, in microseconds.
fn us_per(d: Duration, events: u64) -> f64 {
    d.as_secs_f64() * 1e6 / events.max(1) as f64
}

/// When each entry (by origin sequence) arrived, from the head's moves.
fn arrivals_of(written: &[(Instant, u64)], moves: &[(Instant, u64)]) -> Vec<Option<Instant>> {
    written
        .iter()
        .map(|&(_, seq)| {
            let i = moves.partition_point(|m| m.1 < seq);
            moves.get(i).map(|m| m.0)
        })
        .collect()
}

fn print_summary(s: &Summary, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string(s)?);
        return Ok(());
    }
    let headers = [
        "link",
        "events",
        "delivered",
        "write s",
        "wall s",
        "events/s",
        "lag p50 ms",
        "lag p90 ms",
        "lag p99 ms",
        "lag max ms",
        "catch-up s",
        "dropped pkts",
        "up B/event",
    ];
    let row = vec![
        s.link.clone(),
        s.events.to_string(),
        s.delivered.to_string(),
        format!("{:.2}", s.write_s),
        format!("{:.2}", s.wall_s),
        format!("{:.0}", s.events_per_s),
        format!("{:.1}", s.lag_p50_ms),
        format!("{:.1}", s.lag_p90_ms),
        format!("{:.1}", s.lag_p99_ms),
        format!("{:.1}", s.lag_max_ms),
        format!("{:.2}", s.catchup_s),
        format!(
            "{} + {}",
            s.village_link_dropped_packets, s.district_link_dropped_packets
        ),
        format!("{:.0}", s.village_link_up_bytes_per_event),
    ];
    println!(
        "{}",
        report::table(&headers, &[row], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12])
    );
    let steps: Vec<String> = s
        .arrived_by_tenth_s
        .iter()
        .map(|t| format!("{t:.1}"))
        .collect();
    println!("arrived by each tenth (s): {}", steps.join(" "));
    if let Some(d) = s.disk_bytes_per_event {
        println!("written to disk by the three stores: {d:.0} bytes an event");
    }
    if let (Some(c), Some(q)) = (s.cpu_us_per_event, s.sqlite_cpu_us_per_event) {
        let bound = s
            .cpu_bound_events_per_s
            .map(|b| format!("; with every core busy at that cost, at most {b:.0} events/s"))
            .unwrap_or_default();
        let whose = if s.district_store == "sqlite" {
            ""
        } else {
            " (this process only: not the PostgreSQL server's)"
        };
        println!(
            "CPU for each event: {c:.1} µs{whose}, of which {q:.1} µs in SQLite's threads{bound}"
        );
    }
    for h in &s.hops {
        let per = |x: f64| {
            if h.batches == 0 {
                0.0
            } else {
                x / h.batches as f64
            }
        };
        println!(
            "{}: {} batches, {:.0} entries a batch, {} fsyncs, apply {:.1} ms a batch ({:.1} s in all); its child read {} batches from its log's tail, {} from its database",
            h.hall,
            h.batches,
            per(h.entries as f64),
            h.fsyncs,
            per(h.apply_s * 1000.0),
            h.apply_s,
            h.child_reads_from_tail,
            h.child_reads_from_store
        );
    }
    if s.delivered < s.events {
        eprintln!(
            "only {} of {} events reached the district before the timeout",
            s.delivered, s.events
        );
    }
    if let Some(c) = &s.catchup {
        println!(
            "{}",
            report::table(
                &[
                    "drain s",
                    "drain events/s",
                    "clerk submissions",
                    "failed",
                    "clerk p50 ms",
                    "clerk p99 ms",
                    "clerk max ms",
                ],
                &[vec![
                    format!("{:.2}", c.drain_s),
                    format!("{:.0}", c.drain_events_per_s),
                    c.clerk_submissions.to_string(),
                    c.clerk_failed.to_string(),
                    format!("{:.1}", c.clerk_p50_ms),
                    format!("{:.1}", c.clerk_p99_ms),
                    format!("{:.1}", c.clerk_max_ms),
                ]],
                &[0, 1, 2, 3, 4, 5, 6]
            )
        );
        println!(
            "catchup events={} drain_events_per_s={:.0} drain_s={:.2} clerk_p50_ms={:.1} clerk_p99_ms={:.1} clerk_failed={}",
            s.delivered,
            c.drain_events_per_s,
            c.drain_s,
            c.clerk_p50_ms,
            c.clerk_p99_ms,
            c.clerk_failed
        );
    } else {
        println!(
            "replication events_per_s={:.0} lag_p50_ms={:.1} lag_p99_ms={:.1} catchup_s={:.2}",
            s.events_per_s, s.lag_p50_ms, s.lag_p99_ms, s.catchup_s
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_entry_arrives_when_the_head_first_reaches_its_sequence() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let written = [(at(0), 4), (at(0), 5), (at(1), 9), (at(2), 12)];
        // The head moved 0 -> 3 -> 5 -> 11: entries 4 and 5 arrived with
        // the move to 5, entry 9 with the move to 11, and 12 never did.
        let moves = [(at(10), 3), (at(20), 5), (at(30), 11)];
        assert_eq!(
            arrivals_of(&written, &moves),
            vec![Some(at(20)), Some(at(20)), Some(at(30)), None]
        );
        assert_eq!(arrivals_of(&written, &[]), vec![None; 4]);
    }

    #[test]
    fn cpu_time_is_read_after_the_threads_name_whatever_it_holds() {
        // A name with spaces and a parenthesis: the fields after it count.
        let line = "4242 (sqlx (a) b) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 9 0 100 2000 300";
        assert_eq!(stat_cpu(line), Some(Duration::from_millis(3250)));
        assert_eq!(stat_cpu("4242 (x) S 1 2"), None);
        assert_eq!(stat_cpu("no name here"), None);
        assert!((us_per(Duration::from_secs(2), 100_000) - 20.0).abs() < 1e-9);
    }

    #[tokio::test]
    async fn this_process_cpu_and_its_sqlite_threads_are_read_on_linux() {
        use sqlx::Connection;
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let before = cpu_used().expect("read on Linux");
        // Work in an SQLite connection's own thread (sqlx's
        // `sqlx-sqlite-worker-N`), read while the thread still lives.
        // Other tests of the process may run SQLite too: only growth is
        // asked for, so theirs do not matter.
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let sum: i64 = sqlx::query_scalar(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             SELECT SUM(x) FROM c",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(sum, 3_000_000 * 3_000_001 / 2);
        let after = cpu_used().expect("read on Linux");
        conn.close().await.unwrap();
        assert!(after.total > before.total, "{before:?} {after:?}");
        assert!(after.sqlite > before.sqlite, "{before:?} {after:?}");
        assert!(after.sqlite <= after.total, "{after:?}");
    }
}
