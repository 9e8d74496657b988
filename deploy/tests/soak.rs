//! A short `soak`: the tree under load for fifteen seconds, sampled every
//! two; the run says whether memory, backlog and latency held steady and
//! draws the curves. (`onewindow-deploy soak` runs an hour.)

use std::process::Command;

#[test]
fn a_short_soak_samples_every_hall_and_draws_the_curves() {
    let node_bin = onewindow_deploy::binary::node_binary_for_tests().expect("the node binary");
    let dir = tempfile::tempdir().expect("a folder");
    let chart = dir.path().join("soak.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_onewindow-deploy"))
        .args(["soak", "--minutes", "0.25", "--every", "2", "--chart"])
        .arg(&chart)
        .env_remove("RUST_LOG")
        .env("ONEWINDOW_NODE_BIN", &node_bin)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Steady or not on a shared machine, the run reports; it must have
    // sampled and accepted cases without a failure.
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("soak minutes=0.25 cases="),
        "{stdout}\n{stderr}"
    );
    assert!(last.contains(" failed=0 "), "{last}");
    assert!(!last.contains(" cases=0 "), "{last}");
    assert!(last.contains(" rss_growth_pct="), "{last}");
    // Every hall's memory was read from its process.
    let halls: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" rss first "))
        .collect();
    assert_eq!(halls.len(), 7, "{stdout}");
    for h in halls {
        assert!(!h.contains("first    0.0 MB"), "{h}");
    }
    let svg = std::fs::read_to_string(&chart).expect("the chart");
    assert_eq!(svg.matches("<polyline").count(), 15, "{svg}");
}
