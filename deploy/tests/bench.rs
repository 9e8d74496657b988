//! A short `bench acceptance` run of the built binary on SQLite.

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
