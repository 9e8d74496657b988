//! Short runs of the built binary's benchmarks: `bench acceptance` on
//! SQLite, `bench restart` on separate node processes.

use std::process::Command;

/// Runs `onewindow-deploy bench <args>`, asserts that it exits 0, and
/// returns its last line.
fn last_line(args: &[&str], env: &[(&str, &std::path::Path)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onewindow-deploy"));
    cmd.arg("bench").args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    stdout.lines().last().unwrap_or_default().to_owned()
}

/// The number after `key=` in a key=value line.
fn value(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[test]
fn a_short_acceptance_bench_reports_throughput() {
    let last = last_line(
        &[
            "acceptance",
            "--cases",
            "30",
            "--warmup",
            "5",
            "--concurrency",
            "4",
        ],
        &[],
    );
    assert!(
        last.starts_with("acceptance backend=sqlite cases=30 "),
        "{last}"
    );
    assert!(value(&last, "cases_per_s") > 0.0, "{last}");
    assert!(last.contains(" failed=0"), "{last}");
}

/// A short `bench restart`: a township of separate processes killed with
/// SIGKILL and started again; the run reports every restart converged, and
/// the villages' windows receipted cases throughout.
#[test]
fn a_short_restart_bench_reports_convergence() {
    let node_bin = onewindow_deploy::binary::node_binary_for_tests().expect("the node binary");
    let last = last_line(
        &[
            "restart",
            "--villages",
            "1",
            "--restarts",
            "2",
            "--between",
            "2",
            "--timeout",
            "60",
        ],
        &[(onewindow_deploy::binary::NODE_BIN_ENV, &node_bin)],
    );
    assert!(last.starts_with("restart villages=1 rate=2 "), "{last}");
    assert!(last.contains(" restarts=2 converged=2 "), "{last}");
    assert!(value(&last, "cases") > 0.0, "{last}");
}
