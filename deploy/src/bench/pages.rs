//! `bench pages`: how long the supervisor pages take to render at a
//! district whose store holds many cases.
//!
//! The store is filled directly through the node's write API (events and
//! read-model rows, a batch per transaction), with synthetic cases spread
//! over the halls of a Nanhai-shaped district (1 district, 15 townships,
//! 269 villages), the starter catalogue's matters and departments, every
//! state of the case life, and the last `--days` days. Then the node starts
//! on that store and each supervisor page is fetched `--requests` times
//! over loopback HTTP with a supervisor's session cookie.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use node::config::Config;
use node::domain::case::{
    Actor, Applicant, ApplicantKind, Case, Channel, Event, EventRecord, Received, Role,
    SuspensionKind,
};
use node::domain::case_number::CaseNumber;
use node::domain::catalogue::{Catalogue, Matter, Necessity};
use node::domain::checklist::{IssueKind, MaterialIssue, PresentedMaterial};
use node::server;
use node::service::{NewStaff, Node, SystemClock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::latency::{Latencies, ms};
use crate::applicants;
use crate::hall::random_password;
use onewindow_table as report;

/// Options of `bench pages`.
#[derive(Debug, Args)]
pub struct PagesArgs {
    /// Cases to put in the district's store before timing.
    #[arg(long, default_value_t = 100_000, value_name = "N",
        value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub cases: u64,
    /// Timed GETs of each page (after two untimed ones).
    #[arg(long, default_value_t = 20, value_name = "R",
        value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub requests: u64,
    /// Days back from today over which the cases were received.
    #[arg(long, default_value_t = 90, value_name = "D",
        value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub days: i64,
    /// Cases per write transaction while filling.
    #[arg(long, default_value_t = 1000, value_name = "B",
        value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch: u64,
    /// Print one JSON object instead of the table and the key=value line.
    #[arg(long)]
    pub json: bool,
}

/// One page's timings.
#[derive(Debug, Serialize)]
struct PageResult {
    page: &'static str,
    path: String,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    bytes: usize,
}

#[derive(Debug, Serialize)]
struct Summary {
    bench: &'static str,
    cases: u64,
    events: i64,
    requests: u64,
    fill_s: f64,
    pages: Vec<PageResult>,
}

/// A hall of the synthetic district: node id, hall code, tier.
struct Hall {
    id: String,
    code: String,
    tier: &'static str,
}

fn district() -> Vec<Hall> {
    let mut halls = vec![Hall {
        id: "nanhai".into(),
        code: "NH".into(),
        tier: "district",
    }];
    for t in 1..=15 {
        halls.push(Hall {
            id: format!("nanhai.t{t:02}"),
            code: format!("NHT{t:02}"),
            tier: "township",
        });
    }
    for v in 1..=269 {
        halls.push(Hall {
            id: format!("nanhai.t{:02}.v{v:03}", (v - 1) % 15 + 1),
            code: format!("NHV{v:03}"),
            tier: "village",
        });
    }
    halls
}

fn actor(username: &str, role: Role, node: &str, department: Option<&str>) -> Actor {
    Actor {
        username: username.to_owned(),
        role,
        node: node.to_owned(),
        department: department.map(str::to_owned),
    }
}

/// Builds one case's events, checked by `Case::apply` as the node would.
struct CaseBuilder {
    case: Case,
    records: Vec<EventRecord>,
}

impl CaseBuilder {
    fn push(&mut self, actor: Actor, at_ms: i64, event: Event) -> anyhow::Result<()> {
        let rec = EventRecord {
            case_id: self.case.id.clone(),
            case_version: self.case.version + 1,
            actor,
            at_ms,
            event,
        };
        self.case
            .apply(&rec)
            .with_context(|| format!("synthetic case {}", self.case.id))?;
        self.records.push(rec);
        Ok(())
    }
}

/// How far a synthetic case got.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    Accepted,
    Handling,
    Review,
    Approval,
    Decided,
    ResultReady,
    Completed,
}

/// Where and when one synthetic case was received.
struct Slot<'a> {
    hall: &'a Hall,
    number: String,
    /// Applicant index.
    i: u64,
    received_ms: i64,
    age_days: i64,
}

fn synthetic_case(
    rng: &mut StdRng,
    cat: &Catalogue,
    matter: &Matter,
    slot: Slot<'_>,
) -> anyhow::Result<CaseBuilder> {
    let Slot {
        hall,
        number,
        i,
        received_ms,
        age_days,
    } = slot;
    let clerk = actor("clerk", Role::Clerk, &hall.id, None);
    let dept = matter.department.as_str();
    let a1 = actor("approver.one", Role::Approver, "nanhai", Some(dept));
    let a2 = actor("approver.two", Role::Approver, "nanhai", Some(dept));
    let a3 = actor("approver.three", Role::Approver, "nanhai", Some(dept));
    let materials: Vec<PresentedMaterial> = matter
        .materials
        .iter()
        .filter(|m| m.situations.is_empty() && m.necessity != Necessity::Optional)
        .map(|m| PresentedMaterial {
            code: m.code.clone(),
            originals: m.originals,
            copies: m.copies,
            electronic: false,
            problem: None,
            by_data: None,
        })
        .collect();
    let received = Received::from_matter(
        matter,
        cat.version,
        Applicant {
            kind: ApplicantKind::Person,
            id_number: applicants::citizen_id(i),
            name: applicants::person_name(i),
            phone: Some(applicants::phone(i)),
            checksum_overridden: false,
            checksum_override_reason: None,
        },
        vec![],
        materials,
        hall.id.clone(),
    );
    let first = EventRecord {
        case_id: number,
        case_version: 1,
        actor: clerk.clone(),
        at_ms: received_ms,
        event: Event::Received(std::sync::Arc::new(received)),
    };
    let mut b = CaseBuilder {
        case: Case::start(&first)?,
        records: vec![first],
    };
    let min = 60_000;
    let day = 86_400_000;
    let r: f64 = rng.r#gen();
    if r < 0.03 {
        return b
            .push(
                clerk,
                received_ms + 5 * min,
                Event::NotAccepted {
                    reason: "不属于本事项受理范围 / outside the matter's scope".into(),
                },
            )
            .map(|()| b);
    }
    if r < 0.07 {
        let m = &matter.materials[0];
        return b
            .push(
                clerk,
                received_ms + 5 * min,
                Event::CorrectionNotified {
                    issues: vec![MaterialIssue {
                        code: m.code.clone(),
                        name_zh: m.name_zh.clone(),
                        name_en: m.name_en.clone(),
                        issue: IssueKind::Missing,
                    }],
                },
            )
            .map(|()| b);
    }
    if matter.immediate {
        b.push(
            clerk,
            received_ms + 8 * min,
            Event::CompletedAtWindow {
                result: "当场办结 / completed at the window".into(),
            },
        )?;
        if rng.gen_bool(0.6) {
            b.push(
                actor("citizen", Role::Citizen, &hall.id, None),
                received_ms + 10 * min,
                Event::Rated {
                    score: rng.gen_range(1..=3),
                    channel: Channel::HallTablet,
                    comment: String::new(),
                },
            )?;
        }
        return Ok(b);
    }
    b.push(
        clerk.clone(),
        received_ms + 6 * min,
        Event::Accepted {
            deferred: vec![],
            holder: Some("nanhai".into()),
        },
    )?;
    if r < 0.09 {
        b.push(
            clerk,
            received_ms + day,
            Event::Withdrawn {
                reason: "申请人撤回 / withdrawn by the applicant".into(),
            },
        )?;
        return Ok(b);
    }
    let reach = if age_days >= 20 {
        if rng.gen_bool(0.93) {
            Reach::Completed
        } else {
            [Reach::Handling, Reach::Review, Reach::Approval][rng.gen_range(0..3)]
        }
    } else {
        let steps = [
            Reach::Accepted,
            Reach::Handling,
            Reach::Review,
            Reach::Approval,
            Reach::Decided,
            Reach::ResultReady,
            Reach::Completed,
        ];
        let k = usize::try_from(age_days / 3).unwrap_or(0) + rng.gen_range(0..2);
        steps[k.min(steps.len() - 1)]
    };
    let at = |d: i64| received_ms + d * day / 2 + 30 * min;
    if reach >= Reach::Handling {
        b.push(a1.clone(), at(1), Event::HandlingStarted)?;
    }
    if reach >= Reach::Review {
        // Under 或签 one approval closes the other sub-cases.
        let opinions = match matter.join {
            node::domain::catalogue::JoinRule::All => matter.co_departments.len(),
            node::domain::catalogue::JoinRule::Any => matter.co_departments.len().min(1),
        };
        for (k, co) in matter.co_departments.iter().take(opinions).enumerate() {
            b.push(
                actor(&format!("co.{co}"), Role::Approver, "nanhai", Some(co)),
                at(2) + k as i64 * min,
                Event::OpinionGiven {
                    department: co.clone(),
                    approve: true,
                    opinion: "同意 / agreed".into(),
                },
            )?;
        }
        b.push(
            a1.clone(),
            at(2),
            Event::SubmittedForReview {
                opinion: "材料齐全 / complete".into(),
            },
        )?;
    }
    if reach >= Reach::Approval {
        b.push(
            a2.clone(),
            at(3),
            Event::ReviewPassed {
                opinion: "审核通过 / passed".into(),
            },
        )?;
    }
    if reach >= Reach::Decided {
        b.push(
            a3.clone(),
            at(4),
            Event::Decided {
                granted: rng.gen_bool(0.95),
                opinion: "决定 / decided".into(),
            },
        )?;
    }
    if reach >= Reach::ResultReady {
        b.push(
            a3.clone(),
            at(5),
            Event::ResultReady {
                result: format!("证照 {}", b.case.id),
            },
        )?;
    }
    if reach >= Reach::Completed {
        b.push(
            clerk,
            at(6),
            Event::HandedOut {
                recipient: b.case.received.applicant.name.clone(),
                collection: Some(node::domain::handout::Collection::InPerson {
                    document: node::domain::handout::IdDocument::ResidentId,
                    id_last4: b.case.received.applicant.last4().to_owned(),
                }),
            },
        )?;
        if rng.gen_bool(0.6) {
            let score = if rng.gen_bool(0.9) {
                rng.gen_range(1..=2)
            } else {
                rng.gen_range(3..=5)
            };
            b.push(
                actor("citizen", Role::Citizen, &hall.id, None),
                at(6) + 5 * min,
                Event::Rated {
                    score,
                    channel: Channel::HallTablet,
                    comment: String::new(),
                },
            )?;
        }
    } else if reach >= Reach::Handling && reach <= Reach::Approval && rng.gen_bool(0.03) {
        b.push(
            a2,
            at(3) + min,
            Event::Suspended {
                kind: SuspensionKind::ExpertReview,
                reason: "专家评审 / expert review".into(),
            },
        )?;
    }
    Ok(b)
}

async fn fill(node: &Node, args: &PagesArgs) -> anyhow::Result<()> {
    let cat = node.catalogue();
    let halls = district();
    let by_tier = |t: &str| -> Vec<&Hall> { halls.iter().filter(|h| h.tier == t).collect() };
    let tiers = [by_tier("district"), by_tier("township"), by_tier("village")];
    let matters: Vec<&Matter> = cat.matters.values().collect();
    let mut rng = StdRng::seed_from_u64(20_260_101);
    let now = node.now_ms();
    let span_ms = args.days * 86_400_000;
    // Received times, oldest first, so case numbers follow the days.
    let mut times: Vec<i64> = (0..args.cases)
        .map(|_| now - rng.gen_range(0..span_ms))
        .collect();
    times.sort_unstable();
    let mut seqs: std::collections::HashMap<(String, chrono::NaiveDate), u32> =
        std::collections::HashMap::new();
    let mut i = 0u64;
    for chunk in times.chunks(usize::try_from(args.batch).unwrap_or(1000)) {
        let mut w = node.store.write().await?;
        for &t in chunk {
            let matter = matters[rng.gen_range(0..matters.len())];
            let allowed: Vec<usize> = ["district", "township", "village"]
                .iter()
                .enumerate()
                .filter(|(_, t)| matter.delegation.receive_tiers.contains(**t))
                .map(|(k, _)| k)
                .collect();
            let tier = if allowed.is_empty() {
                0
            } else {
                allowed[rng.gen_range(0..allowed.len())]
            };
            let hall = tiers[tier][rng.gen_range(0..tiers[tier].len())];
            let day = node::domain::case::china_date(t);
            let seq = seqs.entry((hall.code.clone(), day)).or_insert(0);
            *seq += 1;
            let number = CaseNumber::new(&hall.code, day, *seq)?.to_string();
            let age = (now - t) / 86_400_000;
            let slot = Slot {
                hall,
                number,
                i,
                received_ms: t,
                age_days: age,
            };
            let b = synthetic_case(&mut rng, &cat, matter, slot)?;
            for rec in b.records {
                w.append(rec, &hall.id)?;
            }
            w.put_case(node.case_row(&b.case));
            i += 1;
        }
        w.commit().await?;
        if i % 10_000 < args.batch {
            eprintln!("filled {i} of {} cases", args.cases);
        }
    }
    Ok(())
}

/// Runs the benchmark; `Ok(false)` if some page did not answer 200.
pub async fn run(args: PagesArgs) -> anyhow::Result<bool> {
    let dir = tempfile::Builder::new()
        .prefix("onewindow-bench-pages-")
        .tempdir()
        .context("creating a temporary folder")?;
    let mut cfg = Config::default();
    cfg.node.id = "nanhai".into();
    cfg.node.data_dir = dir.path().to_path_buf();
    cfg.http.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.database.url = format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display());
    cfg.database.sqlite_synchronous = "normal".into();
    cfg.auth.bootstrap_password = random_password(24);
    cfg.validate()?;
    let started = Instant::now();
    let password = random_password(24);
    {
        let node = Node::open(Arc::new(cfg.clone()), Arc::new(SystemClock)).await?;
        eprintln!("filling {} cases over {} days", args.cases, args.days);
        fill(&node, &args).await?;
        node.create_staff(
            "bench",
            Role::Admin,
            NewStaff {
                username: "bench.supervisor".into(),
                display_name: "监察".into(),
                role: Role::Supervisor,
                department: None,
                password: password.clone(),
                hall: None,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating the supervisor: {e}"))?;
        node.store.close().await;
    }
    let fill_s = started.elapsed().as_secs_f64();
    let running = server::start(cfg).await?;
    let events = running.node.store.event_count().await?;
    let token = running
        .node
        .login("bench.supervisor", &password, None)
        .await
        .map_err(|e| anyhow::anyhow!("login: {e}"))?
        .token;
    let base = running.url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let pages: [(&'static str, &str); 7] = [
        ("overview", "/supervisor"),
        (
            "search-matter",
            "/supervisor/search?matter=sfz&state=handling",
        ),
        ("search-last4", "/supervisor/search?last4=0012"),
        ("stats-30d", "/supervisor/stats?days=30"),
        ("stats-90d", "/supervisor/stats?days=90"),
        ("fleet", "/supervisor/fleet"),
        ("export-red", "/supervisor/export/red"),
    ];
    let mut ok = true;
    let mut results = Vec::new();
    for (name, path) in pages {
        let mut samples = Vec::new();
        let mut bytes = 0;
        for k in 0..args.requests + 2 {
            let t = Instant::now();
            let res = http
                .get(format!("{base}{path}"))
                .header("cookie", format!("ow_session={token}"))
                .send()
                .await?;
            let status = res.status();
            let body = res.bytes().await?;
            let took = t.elapsed();
            if !status.is_success() {
                eprintln!("{path}: {status}");
                ok = false;
            }
            bytes = body.len();
            if k >= 2 {
                samples.push(took);
            }
        }
        let l = Latencies::new(samples);
        results.push(PageResult {
            page: name,
            path: path.to_owned(),
            p50_ms: ms(l.percentile(50.0)),
            p99_ms: ms(l.percentile(99.0)),
            max_ms: ms(l.max()),
            bytes,
        });
    }
    running.stop().await;
    if results.is_empty() {
        bail!("no page was timed");
    }
    let summary = Summary {
        bench: "pages",
        cases: args.cases,
        events,
        requests: args.requests,
        fill_s,
        pages: results,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(ok);
    }
    let rows: Vec<Vec<String>> = summary
        .pages
        .iter()
        .map(|p| {
            vec![
                p.page.to_owned(),
                format!("{:.1}", p.p50_ms),
                format!("{:.1}", p.p99_ms),
                format!("{:.1}", p.max_ms),
                p.bytes.to_string(),
                p.path.clone(),
            ]
        })
        .collect();
    println!(
        "{}",
        report::table(
            &["page", "p50 ms", "p99 ms", "max ms", "bytes", "path"],
            &rows,
            &[1, 2, 3, 4]
        )
    );
    let mut line = format!(
        "pages cases={} events={} requests={} fill_s={:.1}",
        summary.cases, summary.events, summary.requests, summary.fill_s
    );
    for p in &summary.pages {
        let key = p.page.replace('-', "_");
        line.push_str(&format!(
            " {key}_p50_ms={:.1} {key}_p99_ms={:.1}",
            p.p50_ms, p.p99_ms
        ));
    }
    println!("{line}");
    Ok(ok)
}
