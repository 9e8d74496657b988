//! `simulate`: a tree's year of work, in accelerated time, on the
//! production node code.
//!
//! Every hall of a topology runs in this process as a real node: its own
//! SQLite store, its HTTP server and its QUIC links to its parent over
//! loopback with mutual TLS, the real replication state machine. All of
//! them read one simulated clock, which the driver moves through the 2026
//! calendar: working days only (the State Council's holidays and make-up
//! days), office hours in half-hour slots. In each slot the windows
//! receive their share of the day's cases and the back offices act on the
//! cases that are due, through the same service calls as the API's
//! (`Node::submit`, `Node::act`), so a case escalated from a village is
//! decided at the township or the district once its events have arrived
//! there, and handed out at the village once the result has come back.
//! The links run flat out in wall time while the clock jumps: the figures
//! are wall-clock figures of how fast this code moves a district's work.
//!
//! The workload (the assumptions, not measurements):
//! - `--cases-per-day` (3,800 by default: Chancheng's 2.79 million cases in
//!   two years) spread over the working day's 16 slots;
//! - a case is received at the district with probability 0.15, at one of
//!   the townships 0.55, at one of the villages 0.30, then at a hall of
//!   that tier drawn evenly;
//! - its matter is drawn evenly among the committed (not immediate)
//!   matters the hall receives; where it is decided follows the
//!   catalogue's delegation (`policy::decider`);
//! - handling starts 2 to 48 office hours after acceptance, review and
//!   decision each follow 1 to 16 hours later, every co-handling department
//!   gives its opinion, and the applicant collects the result 1 to 24 hours
//!   after it is ready;
//! - `--booked-share` (0.08) of the people who come for a bookable matter
//!   booked a place in the slot they come in (through the hall's booking
//!   service, as the phone page does), show the code at the kiosk and are
//!   called; `--no-show-share` (0.1) of those never come, and the hall
//!   records them as no-shows when the slot has ended;
//! - `--rated-share` (0.6) of the applicants rate the service when they
//!   collect their result (the hall tablet, the progress page on a phone,
//!   or the web), 1 (very satisfied) 85%, 2 10%, 3 3%, 4 and 5 1% each;
//!   a bad rating (4 or 5) is followed up at that hall 1 to 72 hours later;
//! - `--cross-share` (0.02) of the cases at a hall that receives a matter
//!   open for cross-district handling (异地通办) are of such a matter and
//!   name a hall of another branch of the tree, which decides them: the
//!   case goes through the two halls' common ancestor and back.
//!
//! Faults: `--down ID@DAY+DAYS` stops a hall (its store stays) at the start
//! of working day DAY for DAYS working days; its windows are closed
//! meanwhile, and its children queue their logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Datelike, NaiveDate, TimeZone};
use clap::Args;
use node::config::Config;
use node::domain::case::{Channel, Role};
use node::server::{self, RunningNode};
use node::service::{Action, Clock, Node, Submission, TestClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::bench::acceptance::Synchronous;
use crate::submission::SubmissionPlan;
use onewindow_deploy::bundle::{self, BundleOptions, Ports};
use onewindow_deploy::topology::Topology;

/// Half-hour slots of a working day, from 09:00 China time.
const SLOTS: u32 = 16;
const SLOT_MS: i64 = 30 * 60 * 1000;
const HOUR_MS: i64 = 3_600_000;
/// 09:00 in China is 01:00 UTC.
const OPEN_UTC_HOUR: u32 = 1;

/// Options of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The tree.
    #[arg(
        long,
        default_value = "configs/topologies/nanhai.toml",
        value_name = "FILE"
    )]
    pub topology: PathBuf,
    /// Simulated calendar days, from Monday 5 January 2026.
    #[arg(long, default_value_t = 365, value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Cases a working day, in the whole tree.
    #[arg(long, default_value_t = 3_800, value_name = "C",
        value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub cases_per_day: u32,
    /// Share of the people coming for a bookable matter who booked.
    #[arg(long, default_value_t = 0.08, value_name = "P", value_parser = share)]
    pub booked_share: f64,
    /// Share of the booked people who never come.
    #[arg(long, default_value_t = 0.1, value_name = "P", value_parser = share)]
    pub no_show_share: f64,
    /// Share of the applicants who rate the service at collection.
    #[arg(long, default_value_t = 0.6, value_name = "P", value_parser = share)]
    pub rated_share: f64,
    /// Share of the cases at a hall that receives a cross-district matter
    /// that name a hall of another branch to decide it.
    #[arg(long, default_value_t = 0.02, value_name = "P", value_parser = share)]
    pub cross_share: f64,
    /// Seed of the workload's draws: the same seed, the same cases.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stops hall ID at the start of working day DAY (1 is the first) for
    /// DAYS working days; repeatable.
    #[arg(long, value_name = "ID@DAY+DAYS", value_parser = Outage::parse)]
    pub down: Vec<Outage>,
    /// SQLite `synchronous` of every store.
    #[arg(long, value_enum, default_value_t = Synchronous::Normal)]
    pub sqlite_synchronous: Synchronous,
    /// Where the stores go (a fresh temporary folder when omitted; kept
    /// only when given).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The chart of lag and backlog over the run (SVG).
    #[arg(long, default_value = "simulate.svg", value_name = "FILE")]
    pub chart: PathBuf,
    /// Give up waiting for convergence this many seconds after the last day.
    #[arg(long, default_value_t = 600, value_name = "S")]
    pub drain_timeout: u64,
    /// Print one JSON object before the last line.
    #[arg(long)]
    pub json: bool,
}

/// A share: a number from 0 to 1.
fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?}: expected a share from 0 to 1, e.g. 0.25")),
    }
}

/// A hall stopped for a while.
#[derive(Debug, Clone)]
pub struct Outage {
    node: String,
    day: u32,
    days: u32,
}

impl Outage {
    fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected ID@DAY+DAYS, e.g. nanhai.dali@3+5");
        let (node, when) = s.split_once('@').ok_or_else(bad)?;
        let (day, days) = when.split_once('+').ok_or_else(bad)?;
        let (day, days) = (
            day.parse::<u32>().map_err(|_| bad())?,
            days.parse::<u32>().map_err(|_| bad())?,
        );
        if node.is_empty() || day == 0 || days == 0 {
            return Err(bad());
        }
        Ok(Self {
            node: node.to_owned(),
            day,
            days,
        })
    }
}

/// One hall of the run.
struct Hall {
    id: String,
    depth: usize,
    config: Config,
    running: Option<RunningNode>,
    /// Matters received here, with the hall that decides each.
    plans: Vec<(SubmissionPlan, usize, Vec<String>, String)>,
    /// Of `plans`: the matter takes bookings (and its applicants are
    /// people, who book with their ID number).
    bookable: Vec<bool>,
    /// Of `plans`: those that name a hall of another branch (drawn for
    /// `--cross-share` of the cases), and the others.
    crossing: Vec<usize>,
    local: Vec<usize>,
}

impl Hall {
    fn node(&self) -> Option<&Arc<Node>> {
        self.running.as_ref().map(|r| &r.node)
    }
}

/// A case in the back offices' hands.
struct Pending {
    number: String,
    /// The applicant's index: with the seed, it draws the case's waits.
    applicant: u64,
    /// Where it was received (and is handed out).
    home: usize,
    /// Where it is decided.
    decider: usize,
    department: String,
    co_departments: Vec<String>,
    /// 0 handling, 1 review, 2 decision, 3 hand-out, 4 the follow-up of
    /// a bad rating.
    stage: u8,
    due_ms: i64,
}

/// A per-hop wait: from the end of a slot's writes until the parent holds
/// them.
struct Watch {
    hall: usize,
    head: u64,
    since: Instant,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    nodes: usize,
    days: u32,
    working_days: u32,
    cases: u64,
    actions: u64,
    /// Actions tried before the case had reached the hall, tried again.
    early_actions: u64,
    failed_actions: u64,
    completed: u64,
    /// Cases accepted for a hall of another branch (异地通办).
    crossed: u64,
    events: u64,
    /// Of the events: cases recorded as having reached their decider late.
    late_arrivals: u64,
    bookings: u64,
    /// Booked people who came in their slot and were called.
    booked_arrivals: u64,
    /// Bookings the halls recorded as no-shows.
    no_shows: u64,
    ratings: u64,
    bad_ratings: u64,
    follow_ups: u64,
    /// `rated` and `followed_up` events at the root (every one of
    /// `ratings` and `follow_ups` when the tree converged).
    ratings_at_district: u64,
    follow_ups_at_district: u64,
    wall_s: f64,
    drive_s: f64,
    drain_s: f64,
    events_per_s: f64,
    village_lag_p50_ms: f64,
    village_lag_p99_ms: f64,
    township_lag_p50_ms: f64,
    township_lag_p99_ms: f64,
    backlog_peak: u64,
    peak_rss_mb: f64,
    rss_per_node_mb: f64,
    converged: bool,
    divergent_cases: u64,
}

impl SimulateArgs {
    /// Runs the simulation; `Ok(false)` when the tree did not converge.
    pub async fn run(self) -> anyhow::Result<bool> {
        let started = Instant::now();
        let topology = Topology::load(&self.topology)
            .with_context(|| format!("reading {}", self.topology.display()))?;
        let scratch;
        let dir = match &self.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                d.clone()
            }
            None => {
                scratch = tempfile::tempdir()?;
                scratch.path().to_owned()
            }
        };
        for o in &self.down {
            if !topology.nodes.iter().any(|n| n.id.as_str() == o.node) {
                bail!("--down names {}, which is not in the topology", o.node);
            }
        }
        let clock = Arc::new(TestClock::at(day_open_ms(first_day(), 0) - HOUR_MS));
        eprintln!(
            "simulate: starting {} halls under {}",
            topology.nodes.len(),
            dir.display()
        );
        let mut halls = start_halls(&topology, &dir, &self, &clock).await?;
        prepare_plans(&mut halls, &topology.tiers)?;
        eprintln!(
            "simulate: {} halls up in {:.1} s; {} days from 2026-01-05, {} cases a working day",
            halls.len(),
            started.elapsed().as_secs_f64(),
            self.days,
            self.cases_per_day
        );
        let mut sim = Sim {
            rng: StdRng::seed_from_u64(self.seed),
            seed: self.seed,
            pending: Vec::new(),
            watches: Vec::new(),
            lags: [Vec::new(), Vec::new()],
            summary: Summary {
                nodes: halls.len(),
                days: self.days,
                ..Summary::default()
            },
            series: Vec::new(),
            applicant: 0,
            started: Instant::now(),
            booked: Vec::new(),
            shares: Shares {
                booked: self.booked_share,
                no_show: self.no_show_share,
                rated: self.rated_share,
                cross: self.cross_share,
            },
        };
        let by_tier = tiers_of(&halls);
        let calendar = halls[0]
            .node()
            .map(|n| n.calendar())
            .context("the root did not start")?;
        let drive = Instant::now();
        let mut working_day = 0u32;
        for d in 0..self.days {
            let date = first_day() + chrono::Duration::days(i64::from(d));
            if !calendar.is_working_day(date) {
                continue;
            }
            working_day += 1;
            self.apply_outages(&mut halls, working_day, &clock).await?;
            for slot in 0..SLOTS {
                clock.set(day_open_ms(date, slot));
                let quota = slot_quota(self.cases_per_day, slot, &mut sim.rng);
                let last = slot + 1 == SLOTS;
                sim.receive(&halls, &by_tier, quota, clock.now_ms(), last)
                    .await;
                sim.act(&halls, clock.now_ms()).await;
                sim.snapshot(&halls, true);
            }
            if working_day.is_multiple_of(5) || d + 1 == self.days {
                eprintln!(
                    "simulate: day {} ({date}), {} cases, {} open, {:.0} s",
                    d + 1,
                    sim.summary.cases,
                    sim.pending.len(),
                    drive.elapsed().as_secs_f64()
                );
            }
        }
        sim.summary.working_days = working_day;
        // The windows close: every hall comes back, and the back offices
        // finish what they hold, in simulated time that runs on.
        for h in &mut halls {
            if h.running.is_none() {
                start_hall(h, &clock).await?;
            }
        }
        sim.summary.drive_s = drive.elapsed().as_secs_f64();
        let drain = Instant::now();
        let deadline = drain + Duration::from_secs(self.drain_timeout);
        let mut t = clock.now_ms();
        while !sim.pending.is_empty() && Instant::now() < deadline {
            t += SLOT_MS;
            clock.set(t);
            sim.act(&halls, t).await;
            sim.snapshot(&halls, false);
            if sim.pending.iter().all(|p| p.due_ms > t) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let converged = loop {
            sim.snapshot(&halls, false);
            let quiet = halls.iter().all(|h| {
                h.node()
                    .and_then(|n| n.uplink.backlog())
                    .is_none_or(|b| b == 0)
            });
            if quiet && sim.pending.is_empty() {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            // The halls' clock runs on while they drain: a link's batching
            // waits on it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            clock.advance(50);
        };
        sim.summary.drain_s = drain.elapsed().as_secs_f64();
        for h in &halls {
            if let Some(b) = h.node().and_then(|n| n.uplink.backlog()).filter(|b| *b > 0) {
                eprintln!("simulate: {} still has {b} entries for its parent", h.id);
            }
        }
        if !sim.pending.is_empty() {
            let mut stuck: BTreeMap<(u8, &str, &str), usize> = BTreeMap::new();
            for p in &sim.pending {
                *stuck
                    .entry((
                        p.stage,
                        halls[p.home].id.as_str(),
                        halls[p.decider].id.as_str(),
                    ))
                    .or_default() += 1;
            }
            for ((stage, home, decider), n) in stuck.iter().take(20) {
                eprintln!(
                    "simulate: {n} cases received at {home}, decided at {decider}, still at stage {stage}"
                );
            }
        }
        // The halls record their no-shows (a slot's bookings not checked
        // in by its end); the clock is past every slot by now.
        for h in &halls {
            if let Some(n) = h.node() {
                n.sweep_bookings().await.ok();
                let count: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM bookings WHERE status = 'no_show'")
                        .fetch_one(n.store.pool())
                        .await?;
                sim.summary.no_shows += u64::try_from(count).unwrap_or(0);
            }
        }
        sim.summary.ratings_at_district = events_at_root(&halls, Some("rated")).await?;
        sim.summary.follow_ups_at_district = events_at_root(&halls, Some("followed_up")).await?;
        let divergent = compare(&halls).await?;
        sim.summary.divergent_cases = divergent;
        sim.summary.converged = converged
            && divergent == 0
            && sim.summary.failed_actions == 0
            && sim.summary.ratings_at_district == sim.summary.ratings
            && sim.summary.follow_ups_at_district == sim.summary.follow_ups;
        sim.summary.events = events_at_root(&halls, None).await?;
        // How many of them record a case that reached its decider late:
        // an outage's edge falls either side of the limit by timing, not
        // by the seed.
        sim.summary.late_arrivals = events_at_root(&halls, Some("forwarded_late")).await?;
        sim.summary.wall_s = started.elapsed().as_secs_f64();
        sim.summary.events_per_s =
            sim.summary.events as f64 / (sim.summary.drive_s + sim.summary.drain_s).max(1e-9);
        for (i, lags) in sim.lags.iter_mut().enumerate() {
            lags.sort_by(f64::total_cmp);
            let (p50, p99) = (pct(lags, 0.50), pct(lags, 0.99));
            if i == 0 {
                (
                    sim.summary.village_lag_p50_ms,
                    sim.summary.village_lag_p99_ms,
                ) = (p50, p99);
            } else {
                (
                    sim.summary.township_lag_p50_ms,
                    sim.summary.township_lag_p99_ms,
                ) = (p50, p99);
            }
        }
        let (peak, now) = rss_mb();
        sim.summary.peak_rss_mb = peak;
        sim.summary.rss_per_node_mb = now / halls.len().max(1) as f64;
        std::fs::write(&self.chart, chart(&sim.series))
            .with_context(|| format!("writing {}", self.chart.display()))?;
        for h in &mut halls {
            if let Some(r) = h.running.take() {
                r.stop().await;
            }
        }
        let s = &sim.summary;
        if self.json {
            println!("{}", serde_json::to_string(s)?);
        } else {
            println!(
                "cases {} (completed {}, {} across branches), actions {} ({} early, {} failed), events at the root {} ({} late arrivals)",
                s.cases,
                s.completed,
                s.crossed,
                s.actions,
                s.early_actions,
                s.failed_actions,
                s.events,
                s.late_arrivals
            );
            println!(
                "bookings {} ({} called in their slot, {} no-shows), ratings {} ({} bad, {} followed up; at the root {} and {})",
                s.bookings,
                s.booked_arrivals,
                s.no_shows,
                s.ratings,
                s.bad_ratings,
                s.follow_ups,
                s.ratings_at_district,
                s.follow_ups_at_district
            );
            println!(
                "lag from the lowest tier p50 {:.0} ms p99 {:.0} ms; from the tiers above it p50 {:.0} ms p99 {:.0} ms; backlog peak {}",
                s.village_lag_p50_ms,
                s.village_lag_p99_ms,
                s.township_lag_p50_ms,
                s.township_lag_p99_ms,
                s.backlog_peak
            );
            println!(
                "driving {:.1} s, draining {:.1} s, {:.0} events/s at the root; {:.1} MB a hall now; chart {}",
                s.drive_s,
                s.drain_s,
                s.events_per_s,
                s.rss_per_node_mb,
                self.chart.display()
            );
        }
        println!(
            "simulate nodes={} cases={} events={} converged={} wall_s={:.1} peak_rss_mb={:.0}",
            s.nodes, s.cases, s.events, s.converged, s.wall_s, s.peak_rss_mb
        );
        Ok(s.converged)
    }

    async fn apply_outages(
        &self,
        halls: &mut [Hall],
        working_day: u32,
        clock: &Arc<TestClock>,
    ) -> anyhow::Result<()> {
        for o in &self.down {
            let Some(h) = halls.iter_mut().find(|h| h.id == o.node) else {
                continue;
            };
            if working_day == o.day
                && let Some(r) = h.running.take()
            {
                eprintln!("simulate: {} goes down for {} working days", h.id, o.days);
                r.stop().await;
            } else if working_day == o.day + o.days && h.running.is_none() {
                eprintln!("simulate: {} comes back", h.id);
                start_hall(h, clock).await?;
            }
        }
        Ok(())
    }
}

struct Sim {
    /// Draws the arrivals: where each case is received, and its matter.
    rng: StdRng,
    seed: u64,
    pending: Vec<Pending>,
    watches: Vec<Watch>,
    /// Per-hop waits (ms): the lowest tier's uplinks (villages'), those
    /// of every tier above it (townships', and districts' in a city).
    lags: [Vec<f64>; 2],
    summary: Summary,
    /// (wall s, backlog in all, open cases).
    series: Vec<(f64, u64, usize)>,
    applicant: u64,
    started: Instant,
    /// People who booked a place in the next slot.
    booked: Vec<Booked>,
    shares: Shares,
}

/// The workload's shares (see the module's page).
struct Shares {
    booked: f64,
    no_show: f64,
    rated: f64,
    cross: f64,
}

/// A place booked at a hall for the next slot.
struct Booked {
    hall: usize,
    plan: usize,
    applicant: u64,
    code: String,
    /// The person comes (or is a no-show).
    comes: bool,
}

/// A submission's case number and applicant, or its refusal's code.
type Submitted = Result<(String, u64), &'static str>;

/// What a hall's window did in a slot.
#[derive(Default)]
struct WindowWork {
    /// Submissions: the plan, and the case number and applicant or the
    /// refusal's code.
    made: Vec<(usize, Submitted)>,
    /// Places booked for the next slot.
    booked: Vec<Booked>,
    /// Booked people called in their slot.
    called: u64,
}

impl Sim {
    /// The slot's new cases, received at their windows (each hall's in
    /// turn, the halls side by side): first the people who booked a place
    /// in this slot (their code at the kiosk, then called to a window),
    /// then the walk-ins. Some of those coming for a bookable matter book
    /// the next slot instead (none in the day's `last` slot).
    async fn receive(
        &mut self,
        halls: &[Hall],
        by_tier: &[Vec<usize>],
        quota: u32,
        now: i64,
        last: bool,
    ) {
        // (walk-ins, bookings for the next slot) per hall.
        type Plans = Vec<(usize, u64)>;
        let mut per_hall: BTreeMap<usize, (Plans, Plans)> = BTreeMap::new();
        for _ in 0..quota {
            let tier = pick_tier(&mut self.rng, by_tier.len());
            let candidates = &by_tier[tier];
            if candidates.is_empty() {
                continue;
            }
            let hall = candidates[self.rng.gen_range(0..candidates.len())];
            let h = &halls[hall];
            if h.node().is_none() || h.local.is_empty() {
                continue;
            }
            let crosses = !h.crossing.is_empty() && self.rng.r#gen::<f64>() < self.shares.cross;
            let pool = if crosses { &h.crossing } else { &h.local };
            let plan = pool[self.rng.gen_range(0..pool.len())];
            self.applicant += 1;
            let books = halls[hall].bookable[plan] && self.rng.r#gen::<f64>() < self.shares.booked;
            let entry = per_hall.entry(hall).or_default();
            if books && !last {
                entry.1.push((plan, self.applicant));
            } else {
                entry.0.push((plan, self.applicant));
            }
        }
        let mut arrivals: BTreeMap<usize, Vec<Booked>> = BTreeMap::new();
        for b in std::mem::take(&mut self.booked) {
            arrivals.entry(b.hall).or_default().push(b);
        }
        for hall in arrivals.keys() {
            per_hall.entry(*hall).or_default();
        }
        // The next slot's start, China time, as the halls' slots read.
        let next = (now + SLOT_MS) / 60_000 + 8 * 60;
        let next = format!("{:02}:{:02}", next / 60 % 24, next % 60);
        let mut set = tokio::task::JoinSet::new();
        for (hall, (walk_ins, bookings)) in per_hall {
            let Some(node) = halls[hall].node().cloned() else {
                continue;
            };
            let submission = |p: usize, i: u64| -> Option<Submission> {
                serde_json::from_value(halls[hall].plans[p].0.submission(i)).ok()
            };
            let coming: Vec<(usize, u64, String, Option<Submission>)> = arrivals
                .remove(&hall)
                .unwrap_or_default()
                .into_iter()
                .filter(|b| b.comes)
                .map(|b| (b.plan, b.applicant, b.code, submission(b.plan, b.applicant)))
                .collect();
            let walk_ins: Vec<(usize, u64, Option<Submission>)> = walk_ins
                .into_iter()
                .map(|(p, i)| (p, i, submission(p, i)))
                .collect();
            let bookings: Vec<(usize, u64, String, bool, Option<Submission>)> = bookings
                .into_iter()
                .map(|(p, i)| {
                    let comes = self.rng.r#gen::<f64>() >= self.shares.no_show;
                    let matter = halls[hall].plans[p].0.matter_code.clone();
                    (p, i, matter, comes, submission(p, i))
                })
                .collect();
            let next = next.clone();
            set.spawn(async move {
                let mut work = WindowWork::default();
                for (p, i, code, sub) in coming {
                    if let Err(e) = call_booked(&node, &code).await {
                        work.made.push((p, Err(e)));
                        continue;
                    }
                    work.called += 1;
                    work.made.push((p, submit(&node, sub, i).await));
                }
                for (p, i, sub) in walk_ins {
                    work.made.push((p, submit(&node, sub, i).await));
                }
                for (p, i, matter, comes, sub) in bookings {
                    match book_next(&node, &matter, &next, i).await {
                        Some(code) => work.booked.push(Booked {
                            hall,
                            plan: p,
                            applicant: i,
                            code,
                            comes,
                        }),
                        // No place in the next slot: a walk-in now.
                        None => work.made.push((p, submit(&node, sub, i).await)),
                    }
                }
                (hall, work)
            });
        }
        while let Some(Ok((hall, work))) = set.join_next().await {
            self.summary.booked_arrivals += work.called;
            self.summary.bookings += work.booked.len() as u64;
            self.booked.extend(work.booked);
            for (p, r) in work.made {
                match r {
                    Ok((number, applicant)) => {
                        let (plan, decider, co, department) = &halls[hall].plans[p];
                        self.summary.cases += 1;
                        if plan.deciding_hall.is_some() {
                            self.summary.crossed += 1;
                        }
                        self.pending.push(Pending {
                            number,
                            applicant,
                            home: hall,
                            decider: *decider,
                            department: department.clone(),
                            co_departments: co.clone(),
                            stage: 0,
                            due_ms: now + self.wait(applicant, 0),
                        });
                    }
                    Err(code) => {
                        self.summary.failed_actions += 1;
                        tracing::warn!(hall = %halls[hall].id, %code, "a submission failed");
                    }
                }
            }
        }
    }

    /// The back offices act on every case that is due, at each hall in
    /// turn; a case not there yet is tried again in the next slot.
    async fn act(&mut self, halls: &[Hall], now: i64) {
        let mut due: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, p) in self.pending.iter().enumerate() {
            if p.due_ms <= now {
                let at = if p.stage >= 3 { p.home } else { p.decider };
                due.entry(at).or_default().push(i);
            }
        }
        let mut set = tokio::task::JoinSet::new();
        for (hall, idx) in due {
            let Some(node) = halls[hall].node().cloned() else {
                continue;
            };
            let work: Vec<Work> = idx
                .into_iter()
                .map(|i| {
                    let p = &self.pending[i];
                    Work {
                        i,
                        number: p.number.clone(),
                        stage: p.stage,
                        department: p.department.clone(),
                        co: p.co_departments.clone(),
                        rating: self.rating(p.applicant),
                    }
                })
                .collect();
            set.spawn(async move {
                let mut out = Vec::new();
                for w in work {
                    out.push((w.i, stage_actions(&node, &w).await));
                }
                out
            });
        }
        let mut done = Vec::new();
        while let Some(Ok(out)) = set.join_next().await {
            for (i, r) in out {
                match r {
                    StageResult::Done(n) => {
                        self.summary.actions += n;
                        let (applicant, stage) =
                            (self.pending[i].applicant, self.pending[i].stage + 1);
                        let rating = self.rating(applicant);
                        let wait = self.wait(applicant, stage);
                        let p = &mut self.pending[i];
                        p.stage = stage;
                        p.due_ms = now + wait;
                        match stage {
                            4 => {
                                self.summary.completed += 1;
                                self.summary.ratings += u64::from(rating.is_some());
                                if rating.is_some_and(|(score, _)| score >= 4) {
                                    // Followed up later, at the same hall.
                                    self.summary.bad_ratings += 1;
                                } else {
                                    done.push(i);
                                }
                            }
                            5.. => {
                                self.summary.follow_ups += 1;
                                done.push(i);
                            }
                            _ => {}
                        }
                    }
                    StageResult::NotYet(n) => {
                        self.summary.actions += n;
                        self.summary.early_actions += 1;
                    }
                    StageResult::Failed(code) => {
                        tracing::warn!(%code, "an action failed");
                        self.summary.failed_actions += 1;
                        done.push(i);
                    }
                }
            }
        }
        done.sort_unstable();
        for i in done.into_iter().rev() {
            self.pending.swap_remove(i);
        }
    }

    /// Samples the links: each hall's backlog, and the per-hop waits.
    fn snapshot(&mut self, halls: &[Hall], new_watches: bool) {
        let mut backlog = 0;
        let deepest = halls.iter().map(|h| h.depth).max().unwrap_or(0);
        for w in std::mem::take(&mut self.watches) {
            let acked = halls[w.hall].node().map_or(0, |n| n.uplink.acked());
            if acked >= w.head {
                // The lowest tier's uplinks, and those of every tier above.
                let tier = usize::from(halls[w.hall].depth < deepest);
                self.lags[tier].push(w.since.elapsed().as_secs_f64() * 1000.0);
            } else {
                self.watches.push(w);
            }
        }
        for (i, h) in halls.iter().enumerate() {
            let Some(n) = h.node() else { continue };
            let Some(b) = n.uplink.backlog() else {
                continue;
            };
            backlog += b;
            if new_watches && b > 0 && !self.watches.iter().any(|w| w.hall == i) {
                self.watches.push(Watch {
                    hall: i,
                    head: n.uplink.acked() + b,
                    since: Instant::now(),
                });
            }
        }
        self.summary.backlog_peak = self.summary.backlog_peak.max(backlog);
        self.series.push((
            self.started.elapsed().as_secs_f64(),
            backlog,
            self.pending.len(),
        ));
    }
}

/// A window accepts applicant `i`'s submission.
async fn submit(node: &Node, sub: Option<Submission>, i: u64) -> Submitted {
    let sub = sub.ok_or("bad_submission")?;
    match node.submit("window", Role::Clerk, sub, None).await {
        Ok(made) => Ok((made.outcome.case_number, i)),
        Err(e) => Err(e.code),
    }
}

/// A booked person shows the code at the kiosk in the slot and is called
/// to a window (booked numbers first) and served.
async fn call_booked(node: &Node, code: &str) -> Result<(), &'static str> {
    let issued = node.take_ticket(Some(code)).await.map_err(|e| e.code)?;
    if issued.late.is_some() {
        return Err("booking_late");
    }
    let called = node
        .call_next("1", "window")
        .await
        .map_err(|e| e.code)?
        .ok_or("nobody_waiting")?;
    node.serve_ticket(called.id).await.map_err(|e| e.code)?;
    Ok(())
}

/// Applicant `i` books a place for `matter` in the slot starting at
/// `start` (China time) today; `None` when it has no free place (or the
/// hall has no slot then).
async fn book_next(node: &Node, matter: &str, start: &str, i: u64) -> Option<String> {
    let today = node.today().format("%Y-%m-%d").to_string();
    let slots = node.booking_slots(matter, &today).await.ok()?;
    slots.slots.iter().find(|s| s.start == start && s.open)?;
    let req = node::service::BookingRequest {
        matter: matter.to_owned(),
        date: today,
        start: start.to_owned(),
        name: crate::applicants::person_name(i),
        id_number: crate::applicants::citizen_id(i),
        phone: crate::applicants::phone(i),
    };
    node.book(&req).await.ok().map(|b| b.code)
}

enum StageResult {
    /// The stage's actions were taken (how many).
    Done(u64),
    /// The case has not reached the hall yet (actions taken before that).
    NotYet(u64),
    Failed(&'static str),
}

/// A case's stage to take at a hall.
struct Work {
    /// Its place among the pending cases.
    i: usize,
    number: String,
    stage: u8,
    department: String,
    co: Vec<String>,
    /// The applicant's rating at collection (score, channel), if any.
    rating: Option<(u8, Channel)>,
}

/// One stage of a case's back office: 0 handling (and the co-handling
/// departments' opinions) to review, 1 review passed, 2 decided and the
/// result ready, 3 handed out at the window that received it (and rated
/// there by those who rate), 4 a bad rating followed up at that hall.
async fn stage_actions(node: &Node, w: &Work) -> StageResult {
    let (number, stage, co) = (w.number.as_str(), w.stage, &w.co);
    let dept = Some(w.department.clone());
    let mut steps: Vec<(&str, Role, Option<String>, Action)> = Vec::new();
    match stage {
        0 => {
            steps.push((
                "handler",
                Role::Approver,
                dept.clone(),
                Action::StartHandling,
            ));
            for c in co {
                steps.push((
                    "co-handler",
                    Role::Approver,
                    Some(c.clone()),
                    Action::Opinion {
                        department: c.clone(),
                        approve: true,
                        opinion: "同意".into(),
                    },
                ));
            }
            steps.push((
                "handler",
                Role::Approver,
                dept,
                Action::SubmitForReview {
                    opinion: "材料齐全，符合条件".into(),
                },
            ));
        }
        1 => steps.push((
            "reviewer",
            Role::Approver,
            dept,
            Action::PassReview {
                opinion: "审核通过".into(),
            },
        )),
        2 => {
            steps.push((
                "decider",
                Role::Approver,
                dept.clone(),
                Action::Decide {
                    granted: true,
                    opinion: "准予许可".into(),
                },
            ));
            steps.push((
                "decider",
                Role::Approver,
                dept,
                Action::ResultReady {
                    result: "许可决定书".into(),
                },
            ));
        }
        4.. => steps.push((
            "supervisor",
            Role::Supervisor,
            None,
            Action::FollowUp {
                answer: "已回访申请人，说明情况并改进窗口服务".into(),
            },
        )),
        3 => {
            // A person collects it in person, the ID card checked; an
            // organisation's representative (经办人) with its written authorisation.
            use node::domain::handout::{Collector, IdDocument};
            let Ok(Some(row)) = node.store.case(number).await else {
                return StageResult::NotYet(0);
            };
            let applicant = &row.case.received.applicant;
            let collector = match applicant.kind {
                node::domain::case::ApplicantKind::Person => Collector::InPerson {
                    document: IdDocument::ResidentId,
                    id_number: applicant.id_number.clone(),
                    id_checked: true,
                },
                node::domain::case::ApplicantKind::Organisation => Collector::Proxy {
                    name: crate::applicants::person_name(0),
                    id_number: crate::applicants::citizen_id(0),
                    authorisation: true,
                    reference: String::new(),
                },
            };
            steps.push((
                "window",
                Role::Clerk,
                None,
                Action::HandOut {
                    collector: Some(collector),
                    recipient: None,
                },
            ));
        }
    }
    let mut taken = 0;
    for (who, role, dept, action) in steps {
        match node.act(who, role, dept, number, action).await {
            Ok(_) => taken += 1,
            // The case is not here yet (or not back yet): its events are
            // on their way.
            Err(e) if taken == 0 && matches!(e.code, "case_not_found" | "not_holder") => {
                return StageResult::NotYet(taken);
            }
            Err(e) => {
                tracing::warn!(%number, stage, code = e.code, message = %e.message_en, "action refused");
                return StageResult::Failed(e.code);
            }
        }
    }
    if stage == 3
        && let Some((score, channel)) = w.rating
    {
        // The progress query's key: the last four characters of the
        // applicant's ID number.
        let last4 = match node.store.case(number).await {
            Ok(Some(row)) => {
                let id = &row.case.received.applicant.id_number;
                id.chars()
                    .skip(id.chars().count().saturating_sub(4))
                    .collect::<String>()
            }
            _ => return StageResult::Failed("case_not_found"),
        };
        if let Err(e) = node
            .rate(number, &last4, score, channel, String::new())
            .await
        {
            tracing::warn!(%number, code = e.code, message = %e.message_en, "rating refused");
            return StageResult::Failed(e.code);
        }
        taken += 1;
    }
    StageResult::Done(taken)
}

/// Bundles the topology's halls (certificates, keys, configurations) in
/// `dir` and starts them all in this process, parents first.
async fn start_halls(
    topology: &Topology,
    dir: &Path,
    args: &SimulateArgs,
    clock: &Arc<TestClock>,
) -> anyhow::Result<Vec<Hall>> {
    let opts = BundleOptions {
        ports: Ports::Free,
        sqlite_synchronous: args.sqlite_synchronous.as_str().to_owned(),
        ..BundleOptions::default()
    };
    let b = bundle::make(topology, &dir.join("bundle"), &opts)?;
    let mut halls: Vec<Hall> = Vec::new();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    for tier in b.tiers_of_nodes() {
        let mut set = tokio::task::JoinSet::new();
        for id in tier {
            let mut config = Config::load(Some(&b.config_path(&id)?))
                .with_context(|| format!("the configuration of {id}"))?;
            config.http.listen = "127.0.0.1:0".parse()?;
            config.federation.listen = "127.0.0.1:0".parse()?;
            let depth = id.matches('.').count();
            if let Some((parent, _)) = id.rsplit_once('.') {
                let p = &halls[by_id[parent]];
                config.federation.parent_addr = p.config.federation.listen.to_string();
            }
            let mut hall = Hall {
                id,
                depth,
                config,
                running: None,
                plans: Vec::new(),
                bookable: Vec::new(),
                crossing: Vec::new(),
                local: Vec::new(),
            };
            let clock = Arc::clone(clock);
            set.spawn(async move {
                let r = start_hall(&mut hall, &clock).await;
                r.map(|()| hall)
            });
        }
        let mut started = Vec::new();
        while let Some(r) = set.join_next().await {
            started.push(r??);
        }
        started.sort_by(|a, b| a.id.cmp(&b.id));
        for h in started {
            by_id.insert(h.id.clone(), halls.len());
            halls.push(h);
        }
    }
    Ok(halls)
}

/// Starts a hall (again) on its ports, which stay fixed after its first
/// start.
async fn start_hall(hall: &mut Hall, clock: &Arc<TestClock>) -> anyhow::Result<()> {
    let clock: Arc<dyn node::service::Clock> = clock.clone();
    let mut last = None;
    for _ in 0..100 {
        match server::start_with_clock(hall.config.clone(), Arc::clone(&clock)).await {
            Ok(r) => {
                hall.config.http.listen = r.http_addr;
                if let Some(a) = r.links.as_ref().and_then(|l| l.listen_addr) {
                    hall.config.federation.listen = a;
                }
                hall.running = Some(r);
                return Ok(());
            }
            // A hall just stopped may hold its UDP port a moment longer.
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no start")))
        .with_context(|| format!("starting {}", hall.id))
}

/// Each hall's matters (received here, not immediate), with the hall
/// that decides each.
fn prepare_plans(halls: &mut [Hall], tiers: &[String]) -> anyhow::Result<()> {
    let index: BTreeMap<String, usize> = halls
        .iter()
        .enumerate()
        .map(|(i, h)| (h.id.clone(), i))
        .collect();
    let ids: Vec<String> = halls.iter().map(|h| h.id.clone()).collect();
    for h in halls.iter_mut() {
        let Some(node) = h.node() else { continue };
        let catalogue = node.catalogue();
        let tier = tiers.get(h.depth).cloned().unwrap_or_default();
        let mut plans = Vec::new();
        let mut bookable = Vec::new();
        let mut crossing = Vec::new();
        let mut local = Vec::new();
        for m in catalogue.matters.values() {
            let d = &m.delegation;
            if m.immediate
                || !d.receive_tiers.contains(&tier)
                || (!d.receive_halls.is_empty() && !d.receive_halls.contains(&h.id))
            {
                continue;
            }
            let decider = node::domain::policy::decider(m, &h.id, tiers, node.today());
            let Some(&at) = index.get(&decider) else {
                continue;
            };
            // Under "any", the first approval closes the other sub-cases.
            let co = if m.join == node::domain::catalogue::JoinRule::Any {
                m.co_departments.iter().take(1).cloned().collect()
            } else {
                m.co_departments.clone()
            };
            let plan = SubmissionPlan::for_matter(m);
            // A matter open for cross-district handling is also drawn
            // naming the first hall of another branch that decides it.
            let across = m
                .cross_district
                .then(|| {
                    ids.iter().find_map(|named| {
                        let to = node::domain::policy::cross_decider(
                            m,
                            &h.id,
                            named,
                            tiers,
                            node.today(),
                        )?;
                        index.get(&to).map(|&at| (named.clone(), at))
                    })
                })
                .flatten();
            if let Some((named, at)) = across {
                let mut p = plan.clone();
                p.deciding_hall = Some(named);
                crossing.push(plans.len());
                bookable.push(false);
                plans.push((p, at, co.clone(), m.department.clone()));
            }
            local.push(plans.len());
            bookable.push(m.bookable && !plan.organisation);
            plans.push((plan, at, co, m.department.clone()));
        }
        h.plans = plans;
        h.bookable = bookable;
        h.crossing = crossing;
        h.local = local;
    }
    if halls.iter().all(|h| h.plans.is_empty()) {
        bail!("no hall receives a committed matter of the catalogue");
    }
    Ok(())
}

/// Halls by tier (index = depth).
fn tiers_of(halls: &[Hall]) -> Vec<Vec<usize>> {
    let mut by: Vec<Vec<usize>> = Vec::new();
    for (i, h) in halls.iter().enumerate() {
        if by.len() <= h.depth {
            by.resize(h.depth + 1, Vec::new());
        }
        by[h.depth].push(i);
    }
    by
}

/// District 0.15, townships 0.55, villages 0.30: the three lowest tiers
/// (a city above its districts receives no case at a window); fewer
/// tiers: the first ones' shares.
fn pick_tier(rng: &mut StdRng, tiers: usize) -> usize {
    let x: f64 = rng.r#gen();
    let t = if x < 0.15 {
        0
    } else if x < 0.70 {
        1
    } else {
        2
    };
    (t + tiers.saturating_sub(3)).min(tiers.saturating_sub(1))
}

/// A slot's share of the day's cases: the morning busier than the
/// afternoon, the rounding drawn.
fn slot_quota(per_day: u32, slot: u32, rng: &mut StdRng) -> u32 {
    let weight = if slot < 6 { 1.3 } else { 0.82 };
    let exact = f64::from(per_day) / f64::from(SLOTS) * weight;
    let whole = exact.floor();
    let extra = u32::from(rng.r#gen::<f64>() < exact - whole);
    whole as u32 + extra
}

impl Sim {
    /// How long a case waits before its stage `stage`, in whole hours on
    /// the clock (a wait past closing time runs into the night): drawn
    /// from the seed, the applicant and the stage alone, so that a run
    /// repeats whatever order the halls finish their work in.
    fn wait(&self, applicant: u64, stage: u8) -> i64 {
        let (lo, hi) = match stage {
            0 => (2, 48),
            1 | 2 => (1, 16),
            3 => (1, 24),
            _ => (1, 72),
        };
        let mut rng = StdRng::seed_from_u64(
            self.seed ^ applicant.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(stage) << 56,
        );
        rng.gen_range(lo..=hi) * HOUR_MS
    }
}

impl Sim {
    /// The applicant's rating at collection (score 1 very satisfied to 5
    /// very dissatisfied, and the channel), or none: drawn from the seed
    /// and the applicant alone, like [`Sim::wait`].
    fn rating(&self, applicant: u64) -> Option<(u8, Channel)> {
        let mut rng = StdRng::seed_from_u64(
            self.seed ^ applicant.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ 0xA5 << 56,
        );
        if rng.r#gen::<f64>() >= self.shares.rated {
            return None;
        }
        let x: f64 = rng.r#gen();
        let score = match x {
            x if x < 0.85 => 1,
            x if x < 0.95 => 2,
            x if x < 0.98 => 3,
            x if x < 0.99 => 4,
            _ => 5,
        };
        let channel = match rng.gen_range(0..10) {
            0..6 => Channel::HallTablet,
            6..8 => Channel::Mobile,
            _ => Channel::Web,
        };
        Some((score, channel))
    }
}

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default()
}

/// The start of slot `slot` of `date` (ms, UTC).
fn day_open_ms(date: NaiveDate, slot: u32) -> i64 {
    let open = chrono::Utc
        .with_ymd_and_hms(date.year(), date.month(), date.day(), OPEN_UTC_HOUR, 0, 0)
        .single()
        .map_or(0, |t| t.timestamp_millis());
    open + i64::from(slot) * SLOT_MS
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Every hall's cases as the root holds them: the same version as the
/// hall that received each (the one that holds it last), for every case.
async fn compare(halls: &[Hall]) -> anyhow::Result<u64> {
    let Some(root) = halls.first().and_then(Hall::node) else {
        return Ok(0);
    };
    let at_root = case_versions(root, None).await?;
    let mut divergent = 0;
    for h in halls {
        let Some(n) = h.node() else { continue };
        for (id, v) in case_versions(n, Some(&h.id)).await? {
            if at_root.get(&id) != Some(&v) {
                divergent += 1;
            }
        }
    }
    Ok(divergent)
}

/// Case id → version at a node (only those received at `accepting`).
async fn case_versions(
    node: &Node,
    accepting: Option<&str>,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let rows: Vec<(String, i64)> = match accepting {
        Some(a) => {
            sqlx::query_as("SELECT id, version FROM cases WHERE accepting_node = $1")
                .bind(a)
                .fetch_all(node.store.pool())
                .await?
        }
        None => {
            sqlx::query_as("SELECT id, version FROM cases")
                .fetch_all(node.store.pool())
                .await?
        }
    };
    Ok(rows.into_iter().collect())
}

async fn events_at_root(halls: &[Hall], kind: Option<&str>) -> anyhow::Result<u64> {
    let Some(root) = halls.first().and_then(Hall::node) else {
        return Ok(0);
    };
    let n: i64 = match kind {
        None => {
            sqlx::query_scalar("SELECT COUNT(*) FROM events")
                .fetch_one(root.store.pool())
                .await?
        }
        Some(k) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = $1")
                .bind(k)
                .fetch_one(root.store.pool())
                .await?
        }
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// (peak, now) resident memory of this process, MB.
fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmHWM:") / 1024.0, kb("VmRSS:") / 1024.0)
}

/// The backlog in all and the open cases over the run's wall time.
fn chart(series: &[(f64, u64, usize)]) -> String {
    let (w, h, pad) = (900.0, 360.0, 50.0);
    let t_max = series.last().map_or(1.0, |s| s.0).max(1.0);
    let b_max = series.iter().map(|s| s.1).max().unwrap_or(1).max(1) as f64;
    let o_max = series.iter().map(|s| s.2).max().unwrap_or(1).max(1) as f64;
    let line = |f: &dyn Fn(&(f64, u64, usize)) -> f64, max: f64| -> String {
        series
            .iter()
            .map(|s| {
                let x = pad + s.0 / t_max * (w - 2.0 * pad);
                let y = h - pad - f(s) / max * (h - 2.0 * pad);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{pad}" y="24" font-size="14">simulate: link backlog (entries, red, max {b_max}) and open cases (blue, max {o_max}) over {t_max:.0} s</text>
<line x1="{pad}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#444"/>
<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{y0}" stroke="#444"/>
<text x="{pad}" y="{ylab}">0 s</text><text x="{x1}" y="{ylab}" text-anchor="end">{t_max:.0} s (wall)</text>
<polyline fill="none" stroke="#c0392b" stroke-width="1.2" points="{backlog}"/>
<polyline fill="none" stroke="#2e6fb5" stroke-width="1.2" points="{open}"/>
</svg>
"##,
        y0 = h - pad,
        x1 = w - pad,
        ylab = h - pad + 18.0,
        backlog = line(&|s| s.1 as f64, b_max),
        open = line(&|s| s.2 as f64, o_max),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_outage_reads_id_day_and_days() {
        let o = Outage::parse("nanhai.dali@3+5").unwrap();
        assert_eq!((o.node.as_str(), o.day, o.days), ("nanhai.dali", 3, 5));
        for bad in ["nanhai", "nanhai@3", "nanhai@0+1", "@1+1", "nanhai@x+1"] {
            assert!(Outage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_day_has_its_cases_and_opens_at_nine_in_china() {
        let mut rng = StdRng::seed_from_u64(7);
        let total: u32 = (0..SLOTS).map(|s| slot_quota(3_800, s, &mut rng)).sum();
        assert!((3_700..=3_900).contains(&total), "{total}");
        let open = day_open_ms(first_day(), 0);
        let t = chrono::DateTime::from_timestamp_millis(open).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-01-05T01:00:00+00:00");
    }
}
