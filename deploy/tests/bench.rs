//! Short runs of the built binary's benchmarks: `bench acceptance` on SQLite, `bench restart` on separate node processes.

use std::process::Command;

#[test]
fn a_short_acceptance_bench_reports_throughput() {
    let out = Command::new(env!("CARGO_BIN_EXE_onewindow-deploy"))
        .args([
            "bench",
            "acceptance",
            "--cases",
            "30",
            "--warmup",
            "5",
            "--concurrency",
            "4",
        ])
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("acceptance backend=sqlite cases=30 "),
        "{last}"
    );
    let per_s: f64 = last
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("cases_per_s="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no cases_per_s in {last}"));
    assert!(per_s > 0.0, "{last}");
    assert!(last.contains(" failed=0"), "{last}");
}

/// A short `bench restart`: a township of separate processes killed with
/// SIGKILL and started again; the run reports every restart converged, and
/// the villages' windows receipted cases throughout.
#[test]
fn a_short_restart_bench_reports_convergence() {
    let node_bin = onewindow_deploy::binary::node_binary_for_tests().expect("the node binary");
    let out = Command::new(env!("CARGO_BIN_EXE_onewindow-deploy"))
        .args([
            "bench",
            "restart",
            "--villages",
            "1",
            "--restarts",
            "2",
            "--between",
            "2",
            "--timeout",
            "60",
        ])
        .env(onewindow_deploy::binary::NODE_BIN_ENV, &node_bin)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("restart villages=1 rate=2 "), "{last}");
    assert!(last.contains(" restarts=2 converged=2 "), "{last}");
    let cases: u64 = last
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("cases="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no cases in {last}"));
    assert!(cases > 0, "{last}");
}
