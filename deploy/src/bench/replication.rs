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
//! would stage them), so the window's own cost does not cap what the links
//! are offered. The district's store is watched as it grows: an event's lag
//! runs from the commit of its batch at the village to the moment the
//! district holds it.

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
        value_parser = clap::value_parser!(u64).range(1..=999_999))]
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
}

/// Three linked nodes and the relays between them.
struct Chain {
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
        let village = server::start(c).await?;
        Ok(Chain {
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

    let started = Instant::now();
    let give_up = started + Duration::from_secs(args.timeout);
    let watcher = tokio::spawn(watch_district(
        Arc::clone(&chain.district.node),
        NodeId::new(VILLAGE)?,
        n,
        give_up,
    ));
    let committed = write_load(&village, &template, args, started).await?;
    let write_end = Instant::now();
    eprintln!(
        "wrote {n} events in {:.2} s; waiting for the district",
        (write_end - started).as_secs_f64()
    );
    let arrivals = watcher.await.context("the district watcher failed")??;

    let delivered = arrivals.iter().flatten().count();
    let last = arrivals
        .iter()
        .flatten()
        .max()
        .copied()
        .unwrap_or(write_end);
    let lags = Latencies::new(
        arrivals
            .iter()
            .zip(&committed)
            .filter_map(|(a, c)| a.map(|a| a.saturating_duration_since(*c)))
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
    })
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
/// time of each event.
async fn write_load(
    village: &Node,
    template: &Received,
    args: &ReplicationArgs,
    started: Instant,
) -> anyhow::Result<Vec<Instant>> {
    let n = args.events;
    let batch = args.batch;
    let hall = village.config.node.hall_code.clone();
    let day = village.today();
    let actor = Actor {
        username: "bench.clerk".into(),
        role: Role::Clerk,
        node: village.id.to_string(),
        department: None,
    };
    let mut committed = Vec::with_capacity(usize::try_from(n)?);
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
            let number = CaseNumber::new(&hall, day, u32::try_from(k + 1)?)?;
            let mut received = template.clone();
            received.applicant.id_number = applicants::citizen_id(k);
            received.applicant.name = applicants::person_name(k);
            let rec = EventRecord {
                case_id: number.to_string(),
                case_version: 1,
                actor: actor.clone(),
                at_ms,
                event: Event::Received(Box::new(received)),
            };
            let case = Case::start(&rec)?;
            w.append(rec, village.id.as_str())?;
            w.put_case(village.case_row(&case));
        }
        w.commit().await?;
        let now = Instant::now();
        committed.extend((i..upto).map(|_| now));
        i = upto;
    }
    Ok(committed)
}

/// Watches the district's log grow; returns when each of the village's
/// events `0 .. n` arrived (`None` for those that had not by `give_up`).
async fn watch_district(
    district: Arc<Node>,
    village: NodeId,
    n: usize,
    give_up: Instant,
) -> anyhow::Result<Vec<Option<Instant>>> {
    const PAGE: i64 = 5000;
    let mut head = district.store.head().await;
    let mut after = 0i64;
    let mut arrivals: Vec<Option<Instant>> = vec![None; n];
    let mut got = 0usize;
    loop {
        head.borrow_and_update();
        let events = district.store.event_keys_after(after, PAGE).await?;
        let now = Instant::now();
        for (seq, origin, case_id) in &events {
            after = *seq;
            if origin != village.as_str() || case_id.is_empty() {
                continue;
            }
            let k = CaseNumber::parse(case_id)
                .map(|c| c.seq() as usize)
                .unwrap_or(0);
            if let Some(slot) = k.checked_sub(1).and_then(|k| arrivals.get_mut(k))
                && slot.is_none()
            {
                *slot = Some(now);
                got += 1;
            }
        }
        if got == n || Instant::now() >= give_up {
            return Ok(arrivals);
        }
        if events.len() as i64 == PAGE {
            continue;
        }
        tokio::select! {
            _ = head.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
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
    if s.delivered < s.events {
        eprintln!(
            "only {} of {} events reached the district before the timeout",
            s.delivered, s.events
        );
    }
    println!(
        "replication events_per_s={:.0} lag_p50_ms={:.1} lag_p99_ms={:.1} catchup_s={:.2}",
        s.events_per_s, s.lag_p50_ms, s.lag_p99_ms, s.catchup_s
    );
    Ok(())
}
