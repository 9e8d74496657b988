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
