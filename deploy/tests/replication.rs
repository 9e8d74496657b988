//! A short `bench replication` run of the built binary: three nodes, two
//! relays, a few events.

use std::process::Command;

fn run(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_onewindow-deploy"))
        .args(["bench", "replication"])
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}

/// The value of `key` in the last line, which must be exactly the four
/// replication measures.
fn measures(stdout: &str) -> Vec<(String, f64)> {
    let last = stdout.lines().last().unwrap_or_default();
    let mut words = last.split_whitespace();
    assert_eq!(words.next(), Some("replication"), "{last}");
    let pairs: Vec<(String, f64)> = words
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{kv} in {last}"));
            let v: f64 = v.parse().unwrap_or_else(|_| panic!("{kv} in {last}"));
            (k.to_owned(), v)
        })
        .collect();
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["events_per_s", "lag_p50_ms", "lag_p99_ms", "catchup_s"],
        "{last}"
    );
    pairs
}

#[test]
fn events_written_at_a_village_are_measured_at_the_district() {
    let stdout = run(&["--events", "60", "--batch", "7"]);
    let m = measures(&stdout);
    assert!(m[0].1 > 0.0, "{stdout}");
    assert!(m[1].1 <= m[2].1, "p50 above p99: {stdout}");
    assert!(m.iter().all(|(_, v)| *v >= 0.0), "{stdout}");
}

#[test]
fn a_shaped_link_at_an_offered_rate_delivers_everything() {
    let stdout = run(&[
        "--events",
        "40",
        "--rate",
        "200",
        "--link",
        "loss=2%,rtt=20ms,rate=10mbit",
        "--sqlite-synchronous",
        "normal",
    ]);
    let table = stdout.lines().nth(1).unwrap_or_default();
    assert!(table.contains("loss=2%,rtt=20ms,rate=10mbit"), "{stdout}");
    assert!(table.contains(" 40 "), "{stdout}");
    measures(&stdout);
}

/// Ten times, one for each tenth of the events, in order.
fn tenths(stdout: &str) -> Vec<f64> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("arrived by each tenth (s): "))
        .unwrap_or_else(|| panic!("no tenths in {stdout}"));
    let t: Vec<f64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{v} in {line}")))
        .collect();
    assert_eq!(t.len(), 10, "{line}");
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "{line}");
    t
}

#[test]
fn the_arrivals_are_reported_by_tenths() {
    let text = run(&["--events", "50"]);
    tenths(&text);
    // The last tenth is the last arrival: the run's wall time. (Enough
    // events that SQLite's threads use some ticks of the CPU clock.)
    let stdout = run(&["--events", "2000", "--json"]);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let t: Vec<f64> = v["arrived_by_tenth_s"]
        .as_array()
        .expect("arrived_by_tenth_s")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect();
    assert_eq!(t.len(), 10, "{stdout}");
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "{stdout}");
    let wall = v["wall_s"].as_f64().expect("wall_s");
    assert!((t[9] - wall).abs() < 1e-6, "{stdout}");
    // Every commit is flushed to a file: the stores wrote something for
    // each event (on Linux, which says how much).
    if std::path::Path::new("/proc/self/io").exists() {
        let disk = v["disk_bytes_per_event"]
            .as_f64()
            .expect("disk_bytes_per_event");
        assert!(disk > 0.0, "{stdout}");
    }
    // The three halls used CPU, much of it in SQLite's threads, and the
    // bound it sets is printed.
    if std::path::Path::new("/proc/self/stat").exists() {
        let num = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("no {k}: {stdout}"));
        let (cpu, sqlite) = (num("cpu_us_per_event"), num("sqlite_cpu_us_per_event"));
        assert!(cpu > 0.0 && sqlite > 0.0 && sqlite <= cpu, "{stdout}");
        assert!(num("cpu_bound_events_per_s") > 0.0, "{stdout}");
        assert!(text.contains("CPU for each event: "), "{text}");
    }
}

/// `--catchup`: the village writes with its link cut, then the backlog
/// drains while a clerk submits at its window through the HTTP API; the
/// last line names the drain and the clerk's times.
#[test]
fn a_catch_up_drains_the_backlog_while_a_clerk_works() {
    let stdout = run(&["--catchup", "--events", "400", "--clerk-rate", "20"]);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("catchup events=400 "), "{stdout}");
    for key in [
        "drain_events_per_s",
        "drain_s",
        "clerk_p50_ms",
        "clerk_p99_ms",
    ] {
        let v: f64 = last
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {last}"));
        assert!(v >= 0.0, "{last}");
    }
    assert!(last.ends_with(" clerk_failed=0"), "{stdout}");
    assert!(stdout.contains("DRAIN EVENTS/S"), "{stdout}");
    tenths(&stdout);
}
