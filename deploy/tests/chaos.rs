//! A short `chaos` run, as CI runs it each time: two schedules of faults
//! on a tree of separate node processes, every invariant checked after
//! healing. Seeds 1012 and 1013 draw every kind of fault between them: a
//! township put back to an older store, a skewed clock, kills, a frozen
//! hall, cut and lossy links, a publication and a recall.
//! `onewindow-deploy chaos --schedules 1000 ...` is the long run.

use std::process::Command;

#[test]
fn two_chaos_schedules_find_no_violation() {
    let node_bin = onewindow_deploy::binary::node_binary_for_tests().expect("the node binary");
    let out = Command::new(env!("CARGO_BIN_EXE_onewindow-deploy"))
        .args([
            "chaos",
            "--schedules",
            "2",
            "--seed",
            "1000",
            "--faults",
            "6",
        ])
        .env_remove("RUST_LOG")
        .env("ONEWINDOW_NODE_BIN", &node_bin)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("chaos schedules=2 violations=0 max_converge_s="),
        "{stdout}"
    );
    // Each schedule received cases and converged.
    let schedules: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("schedule "))
        .collect();
    assert_eq!(schedules.len(), 2, "{stdout}");
    for s in schedules {
        assert!(s.contains(" converged in "), "{s}");
        assert!(!s.contains(" cases=0 "), "{s}");
    }
}
