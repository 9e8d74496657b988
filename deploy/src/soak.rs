//! `soak`: a tree of separate node processes under ten times the busiest
//! half hour of a Nanhai working day, for a bounded real time, watched:
//! every hall's resident memory, every link's backlog and the windows'
//! acceptance latency, sampled every `--every` seconds and drawn as SVG.
//!
//! The load: `simulate`'s working day spreads 3,800 cases over 16
//! half-hour slots, the morning's weighted 1.3, so its busiest half hour
//! holds about 309 cases (0.17 a second); ten times that is 1.7 cases a
//! second, shared by the halls as a district's are (the district 15%, the
//! townships 55%, the villages 30%).
//!
//! Judged over the run after its first quarter (start-up and warm caches):
//! - memory flat: no hall's mean resident memory in the last quarter is
//!   more than 5% above its mean in the second;
//! - no backlog growth: no link's mean backlog in the last quarter is
//!   above its mean in the second by more than 10 entries;
//! - latency steady: the last quarter's p99 acceptance time is at most
//!   1.5 times the second's, or 20 ms more.
//!
//! The last line reads `soak minutes=M cases=C failed=F
//! rss_growth_pct=G backlog_growth=B p99_ms=P1/P2 steady=true|false`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use onewindow_client::Client;

use crate::submission::{CatalogueView, SubmissionPlan};
use onewindow_deploy::binary::find_node_binary;
use onewindow_deploy::process::ProcessTree;

/// The halls, parents before children, with each one's share of the cases.
const HALLS: [(&str, &str, f64); 7] = [
    ("nanhai", "district", 0.15),
    ("nanhai.t1", "township", 0.275),
    ("nanhai.t2", "township", 0.275),
    ("nanhai.t1.v1", "village", 0.075),
    ("nanhai.t1.v2", "village", 0.075),
    ("nanhai.t2.v1", "village", 0.075),
    ("nanhai.t2.v2", "village", 0.075),
];

/// Ten times the busiest half hour of `simulate`'s working day, in cases
/// a second (3,800 / 16 slots x 1.3 / 1,800 s x 10).
pub const TEN_TIMES_PEAK: f64 = 3_800.0 / 16.0 * 1.3 / 1_800.0 * 10.0;

/// `soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Minutes to run (real time).
    #[arg(long, default_value_t = 60.0)]
    pub minutes: f64,
    /// Cases a second over the whole tree (default: ten times the busiest
    /// half hour of a Nanhai working day).
    #[arg(long, default_value_t = TEN_TIMES_PEAK)]
    pub rate: f64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10.0)]
    pub every: f64,
    /// Write the curves (memory, backlog, latency) to this SVG file.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// The `onewindow-node` binary (default: beside this one, or
    /// `$ONEWINDOW_NODE_BIN`).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
}

/// One sample: seconds since the start, every hall's resident memory
/// (MB) and uplink backlog (entries; the district has none), and the
/// acceptance times (ms) of the cases answered since the last sample.
#[derive(Debug, Clone, Default)]
struct Sample {
    t: f64,
    rss_mb: Vec<f64>,
    backlog: Vec<f64>,
    latencies_ms: Vec<f64>,
}

/// Runs the soak; `Ok(false)` when memory, backlog or latency was not
/// steady.
pub async fn run(args: SoakArgs) -> anyhow::Result<bool> {
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !(positive(args.minutes) && positive(args.rate) && positive(args.every)) {
        bail!("--minutes, --rate and --every must be positive numbers");
    }
    let dir = tempfile::tempdir().context("making a temporary folder")?;
    let b = crate::trees::bundle_of(dir.path(), HALLS.iter().map(|h| h.0), "SK")?;
    let mut tree = ProcessTree::new(b, find_node_binary(args.node_bin.as_deref())?);
    eprintln!(
        "starting 7 halls; {:.2} cases a second for {} minutes, a sample every {} s",
        args.rate, args.minutes, args.every
    );
    tree.start_all().await?;
    let outcome = soak(&mut tree, &args).await;
    tree.stop_all().await?;
    let (samples, cases, failed) = outcome?;
    report(&samples, cases, failed, &args)
}

async fn staff(tree: &ProcessTree, id: &str, role: &str) -> anyhow::Result<Client> {
    crate::trees::staff(tree, id, &format!("soak.{role}"), role, None).await
}

/// Resident memory of a process, in MB.
fn rss_mb(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else {
        return 0.0;
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

type Latencies = Arc<Mutex<Vec<f64>>>;

async fn soak(tree: &mut ProcessTree, args: &SoakArgs) -> anyhow::Result<(Vec<Sample>, u64, u64)> {
    let latencies: Latencies = Arc::default();
    let counts = Arc::new(Mutex::new((0u64, 0u64)));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut watchers = Vec::new();
    let mut clerks = Vec::new();
    for (k, (id, tier, share)) in HALLS.iter().enumerate() {
        watchers.push(staff(tree, id, "supervisor").await?);
        let clerk = staff(tree, id, "clerk").await?;
        let catalogue: CatalogueView = serde_json::from_value(clerk.catalogue().await?.json)?;
        let plan = SubmissionPlan::choose(&catalogue, tier, None)?;
        let every = Duration::from_secs_f64(1.0 / (args.rate * share));
        let (latencies, counts, stop) = (latencies.clone(), counts.clone(), stop.clone());
        clerks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut i = k as u64 * 10_000_000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                i += 1;
                let req = plan.request(&clerk, i);
                let began = Instant::now();
                let ok = matches!(clerk.send(req).await, Ok(r) if r.status == 201);
                let ms = began.elapsed().as_secs_f64() * 1000.0;
                let mut c = counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if ok {
                    c.0 += 1;
                    latencies
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(ms);
                } else {
                    c.1 += 1;
                }
            }
        }));
    }
    let began = Instant::now();
    let end = began + Duration::from_secs_f64(args.minutes * 60.0);
    let mut samples = Vec::new();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs_f64(args.every)).await;
        let mut s = Sample {
            t: began.elapsed().as_secs_f64(),
            ..Sample::default()
        };
        for ((id, _, _), w) in HALLS.iter().zip(&watchers) {
            s.rss_mb.push(rss_mb(tree.pid(id)));
            let backlog = match w.health().await {
                Ok(h) => h.json["uplink"]["backlog"].as_f64().unwrap_or(0.0),
                Err(_) => 0.0,
            };
            s.backlog.push(backlog);
        }
        s.latencies_ms = std::mem::take(
            &mut *latencies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        eprintln!(
            "{:>6.0} s  rss {:>5.1} MB (largest)  backlog {:>4.0}  p99 {:>6.1} ms  ({} cases)",
            s.t,
            s.rss_mb.iter().copied().fold(0.0, f64::max),
            s.backlog.iter().sum::<f64>(),
            p99(&s.latencies_ms),
            s.latencies_ms.len()
        );
        samples.push(s);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clerks {
        let _ = c.await;
    }
    let (cases, failed) = *counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok((samples, cases, failed))
}

fn p99(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64) * 0.99).ceil() as usize;
    v[i.clamp(1, v.len()) - 1]
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// The judgement over the second and the last quarter of the samples.
#[derive(Debug, PartialEq)]
struct Verdict {
    rss_growth_pct: f64,
    backlog_growth: f64,
    p99_second_ms: f64,
    p99_last_ms: f64,
}

impl Verdict {
    fn of(samples: &[Sample]) -> Option<Self> {
        let n = samples.len();
        if n < 4 {
            return None;
        }
        let second = &samples[n / 4..n / 2];
        let last = &samples[n - n / 4..];
        let halls = samples[0].rss_mb.len();
        let mut rss_growth_pct = f64::MIN;
        let mut backlog_growth = f64::MIN;
        for h in 0..halls {
            let (a, b) = (
                mean(second.iter().map(|s| s.rss_mb[h])),
                mean(last.iter().map(|s| s.rss_mb[h])),
            );
            if a > 0.0 {
                rss_growth_pct = rss_growth_pct.max((b - a) / a * 100.0);
            }
            let (a, b) = (
                mean(second.iter().map(|s| s.backlog[h])),
                mean(last.iter().map(|s| s.backlog[h])),
            );
            backlog_growth = backlog_growth.max(b - a);
        }
        let lat = |part: &[Sample]| {
            p99(&part
                .iter()
                .flat_map(|s| s.latencies_ms.iter().copied())
                .collect::<Vec<_>>())
        };
        Some(Self {
            rss_growth_pct,
            backlog_growth,
            p99_second_ms: lat(second),
            p99_last_ms: lat(last),
        })
    }

    fn steady(&self) -> bool {
        self.rss_growth_pct <= 5.0
            && self.backlog_growth <= 10.0
            && self.p99_last_ms <= (self.p99_second_ms * 1.5).max(self.p99_second_ms + 20.0)
    }
}

fn report(samples: &[Sample], cases: u64, failed: u64, args: &SoakArgs) -> anyhow::Result<bool> {
    if let Some(path) = &args.chart {
        std::fs::write(path, chart(samples))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("curves written to {}", path.display());
    }
    for (h, (id, _, _)) in HALLS.iter().enumerate() {
        let first = samples.first().map_or(0.0, |s| s.rss_mb[h]);
        let last = samples.last().map_or(0.0, |s| s.rss_mb[h]);
        let peak = samples.iter().map(|s| s.rss_mb[h]).fold(0.0, f64::max);
        println!("{id:<14} rss first {first:>6.1} MB  last {last:>6.1} MB  peak {peak:>6.1} MB");
    }
    let Some(v) = Verdict::of(samples) else {
        println!(
            "soak minutes={} cases={cases} failed={failed} too_short=true steady=false",
            args.minutes
        );
        return Ok(false);
    };
    let steady = v.steady() && failed == 0;
    println!(
        "soak minutes={} cases={cases} failed={failed} rss_growth_pct={:.1} backlog_growth={:.0} p99_ms={:.1}/{:.1} steady={steady}",
        args.minutes, v.rss_growth_pct, v.backlog_growth, v.p99_second_ms, v.p99_last_ms
    );
    Ok(steady)
}

/// Three panels over the run's time: every hall's resident memory, every
/// link's backlog, and the p99 acceptance time of each sample.
fn chart(samples: &[Sample]) -> String {
    let (w, ph, pad) = (900.0, 220.0, 50.0);
    let t_max = samples.last().map_or(1.0, |s| s.t).max(1.0);
    let colours = [
        "#222", "#c0392b", "#e67e22", "#2e6fb5", "#16a085", "#8e44ad", "#7f8c8d",
    ];
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
"##,
        ph * 3.0 + 20.0
    );
    // Memory is drawn from a little below its least value, so that a
    // growth of a few percent shows; backlog and latency from zero.
    let mut panel = |k: f64, title: &str, from_zero: bool, series: Vec<(usize, Vec<f64>)>| {
        let top = k * ph + 10.0;
        let values = || series.iter().flat_map(|(_, v)| v.iter().copied());
        let max = values().fold(0.0, f64::max).max(1.0);
        let min = if from_zero {
            0.0
        } else {
            (values().fold(f64::INFINITY, f64::min) * 0.95).clamp(0.0, max * 0.95)
        };
        out.push_str(&format!(
            "<text x=\"{pad}\" y=\"{}\" font-size=\"14\">{title}: {min:.1} to {max:.1}, over {t_max:.0} s</text>\n",
            top + 16.0
        ));
        out.push_str(&format!(
            "<line x1=\"{pad}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#444\"/><line x1=\"{pad}\" y1=\"{y1}\" x2=\"{pad}\" y2=\"{y0}\" stroke=\"#444\"/>\n",
            y0 = top + ph - pad,
            y1 = top + 24.0,
            x1 = w - pad
        ));
        for (c, v) in series {
            let points: Vec<String> = samples
                .iter()
                .zip(&v)
                .map(|(s, y)| {
                    let x = pad + s.t / t_max * (w - 2.0 * pad);
                    let y = top + ph - pad - (y - min) / (max - min) * (ph - pad - 24.0);
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            out.push_str(&format!(
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.2\" points=\"{}\"/>\n",
                colours[c % colours.len()],
                points.join(" ")
            ));
        }
    };
    let halls = samples.first().map_or(0, |s| s.rss_mb.len());
    panel(
        0.0,
        "resident memory per hall, MB (district black)",
        false,
        (0..halls)
            .map(|h| (h, samples.iter().map(|s| s.rss_mb[h]).collect()))
            .collect(),
    );
    panel(
        1.0,
        "uplink backlog per hall, entries",
        true,
        (0..halls)
            .map(|h| (h, samples.iter().map(|s| s.backlog[h]).collect()))
            .collect(),
    );
    panel(
        2.0,
        "p99 acceptance time, ms",
        true,
        vec![(3, samples.iter().map(|s| p99(&s.latencies_ms)).collect())],
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: f64, rss: f64, backlog: f64, lat: f64) -> Sample {
        Sample {
            t,
            rss_mb: vec![rss; 7],
            backlog: vec![backlog; 7],
            latencies_ms: vec![lat; 10],
        }
    }

    #[test]
    fn a_flat_run_is_steady_and_a_growing_one_is_not() {
        let flat: Vec<Sample> = (0..8)
            .map(|i| sample(f64::from(i), 30.0, 2.0, 8.0))
            .collect();
        let v = Verdict::of(&flat).expect("enough samples");
        assert!(v.steady(), "{v:?}");
        let leak: Vec<Sample> = (0..8)
            .map(|i| sample(f64::from(i), 30.0 + 2.0 * f64::from(i), 2.0, 8.0))
            .collect();
        assert!(!Verdict::of(&leak).expect("enough").steady());
        let backlog: Vec<Sample> = (0..8)
            .map(|i| sample(f64::from(i), 30.0, 20.0 * f64::from(i), 8.0))
            .collect();
        assert!(!Verdict::of(&backlog).expect("enough").steady());
        let slow: Vec<Sample> = (0..8)
            .map(|i| sample(f64::from(i), 30.0, 2.0, if i < 6 { 8.0 } else { 80.0 }))
            .collect();
        assert!(!Verdict::of(&slow).expect("enough").steady());
        assert_eq!(Verdict::of(&flat[..3]), None);
    }

    #[test]
    fn ten_times_the_peak_is_about_one_and_seven_tenths_a_second() {
        assert!((TEN_TIMES_PEAK - 1.715).abs() < 0.01, "{TEN_TIMES_PEAK}");
        assert_eq!(p99(&[1.0, 2.0, 3.0]), 3.0);
        assert_eq!(p99(&[]), 0.0);
    }

    #[test]
    fn the_chart_has_three_panels() {
        let s: Vec<Sample> = (0..5)
            .map(|i| sample(f64::from(i), 30.0, 2.0, 8.0))
            .collect();
        let svg = chart(&s);
        assert_eq!(svg.matches("<polyline").count(), 7 + 7 + 1);
        // Memory's axis starts below its least value, not at zero.
        assert!(svg.contains("MB (district black): 28.5 to 30.0"), "{svg}");
        assert!(svg.contains("entries: 0.0 to 2.0"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
