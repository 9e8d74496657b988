//! `topology bundle` and `topology run` as an operator runs them: the small
//! topology bundled to disk, then run as seven `onewindow-node` processes
//! that answer with the printed passwords and stop on Ctrl-C.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use onewindow_deploy::bundle::Bundle;

const DEPLOY: &str = env!("CARGO_BIN_EXE_onewindow-deploy");

fn small() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../configs/topologies/small.toml")
        .display()
        .to_string()
}

/// A first port such that `n` ports from it are free now, for TCP (or UDP).
fn free_run(n: u16, udp: bool) -> u16 {
    // Tests of one process run at once: each call starts elsewhere.
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for attempt in 0..200u32 {
        let base = 20_000
            + u16::try_from(
                (std::process::id().wrapping_mul(7) + call * 1_009 + attempt * 97) % 40_000,
            )
            .unwrap();
        let all_free = (0..n).all(|k| {
            let addr = (Ipv4Addr::LOCALHOST, base + k);
            if udp {
                UdpSocket::bind(addr).is_ok()
            } else {
                TcpListener::bind(addr).is_ok()
            }
        });
        if all_free {
            return base;
        }
    }
    panic!("no run of {n} free ports");
}

#[test]
fn bundle_writes_a_folder_per_node() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let res = Command::new(DEPLOY)
        .args(["topology", "bundle", &small(), "--out"])
        .arg(&out)
        .args(["--http-base", "8080", "--quic-base", "7443"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        stdout.contains("bundled 7 nodes (1 district, 2 township, 4 village)"),
        "{stdout}"
    );
    let b = Bundle::load(&out).unwrap();
    assert_eq!(b.nodes.len(), 7);
    for n in &b.nodes {
        let folder = b.folder(&n.id).unwrap();
        for f in [
            "config.toml",
            "onewindow-node.service",
            "pki/node.crt",
            "pki/node.key",
            "pki/ca.crt",
        ] {
            assert!(folder.join(f).is_file(), "{} lacks {f}", n.id);
        }
        assert_eq!(folder.join("root-signing.key").is_file(), n.id == "nanhai");
    }
    assert_eq!(
        b.node("nanhai.dali.yanbu").unwrap().url,
        "http://127.0.0.1:8086"
    );
    // Bundling again over it is refused: the CA would be lost.
    let again = Command::new(DEPLOY)
        .args(["topology", "bundle", &small(), "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
}

/// `topology run` of the small topology into `dir` (a bundle made there
/// the first time), once every node is up: the process and the lines it
/// printed.
fn run_small(
    dir: &Path,
    node_bin: &Path,
    http: u16,
    quic: u16,
) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(DEPLOY)
        .args(["topology", "run", &small(), "--dir"])
        .arg(dir)
        .arg("--node-bin")
        .arg(node_bin)
        .args([
            "--http-base",
            &http.to_string(),
            "--quic-base",
            &quic.to_string(),
        ])
        .args(["--sqlite-synchronous", "normal"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no start in time: {lines:?}"));
        let done = line.contains("nodes up");
        lines.push(line);
        if done {
            break;
        }
    }
    (child, lines)
}

/// Whether every node of the bundle in `dir` has let go of its HTTP port.
fn all_stopped(dir: &Path) -> bool {
    let b = Bundle::load(dir).unwrap();
    b.nodes
        .iter()
        .all(|n| TcpListener::bind(n.http_listen).is_ok())
}

#[test]
fn run_starts_every_node_as_a_process_and_stops_them_on_ctrl_c() {
    let node_bin = onewindow_deploy::binary::node_binary_for_tests().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (http, quic) = (free_run(7, false), free_run(7, true));
    let (mut child, lines) = run_small(&dir.path().join("small"), &node_bin, http, quic);
    // The table: one row per node with its URL and password.
    let row = |id: &str| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row for {id}: {lines:?}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let village = row("nanhai.dali.yanbu");
    assert_eq!(village[1], "village");
    let url = village[2].clone();
    let password = village.last().unwrap().clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let health: serde_json::Value = http
            .get(format!("{url}/api/v1/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["node_id"], "nanhai.dali.yanbu");
        let login = http
            .post(format!("{url}/api/v1/session"))
            .json(&serde_json::json!({"username": "admin", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200, "the printed password logs in");
    });

    kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("stopping 7 nodes"), "{stderr}");
    // Every node is gone: nothing answers on their ports any more.
    let b = Bundle::load(&dir.path().join("small")).unwrap();
    for n in &b.nodes {
        assert!(
            TcpListener::bind(n.http_listen).is_ok(),
            "{} still listens",
            n.id
        );
    }
}

#[test]
fn run_stops_its_nodes_on_sigterm_and_leaves_none_behind_when_killed() {
    let node_bin = onewindow_deploy::binary::node_binary_for_tests().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    let (http, quic) = (free_run(7, false), free_run(7, true));

    // SIGTERM, as systemd, a container runtime or CI sends it: a clean stop.
    let (mut child, _) = run_small(&small, &node_bin, http, quic);
    kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("stopping 7 nodes"), "{stderr}");
    assert!(all_stopped(&small), "a node outlived SIGTERM");

    // SIGKILL cannot be caught: the nodes see their parent gone and stop.
    let (mut child, _) = run_small(&small, &node_bin, http, quic);
    assert!(!all_stopped(&small));
    kill(
        Pid::from_raw(i32::try_from(child.id()).unwrap()),
        Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !all_stopped(&small) {
        assert!(
            Instant::now() < deadline,
            "nodes still run 30 s after their supervisor was killed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(small.join("nodes/nanhai/node.log")).unwrap();
    assert!(log.contains("the supervising process"), "{log}");
}

/// The variable that ties a node to its supervisor (not set here: the
/// test waits for the node itself).
fn onewindow_node_exit_env() -> &'static str {
    "ONEWINDOW_EXIT_WITH_PARENT"
}

#[test]
fn a_node_started_from_another_folder_finds_its_bundle() {
    let node_bin = onewindow_deploy::binary::node_binary_for_tests().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    let (http, quic) = (free_run(7, false), free_run(7, true));
    let res = Command::new(DEPLOY)
        .args(["topology", "bundle", &small(), "--out"])
        .arg(&out)
        .args([
            "--http-base",
            &http.to_string(),
            "--quic-base",
            &quic.to_string(),
        ])
        .output()
        .unwrap();
    assert!(res.status.success(), "{res:?}");
    let b = Bundle::load(&out).unwrap();
    let id = "nanhai.dali.yanbu";
    let config = b.config_path(id).unwrap();
    let folder = b.folder(id).unwrap();
    // Somewhere else, with nothing of the bundle in it.
    let elsewhere = tempfile::tempdir().unwrap();
    // One start, to its first "is serving" (or its end), then SIGTERM: what
    // it printed, how it ended, its stderr.
    let attempt = || {
        let mut node = Command::new(&node_bin)
            .arg("--config")
            .arg(&config)
            .arg("start")
            .current_dir(elsewhere.path())
            .env_remove("ONEWINDOW_CONFIG")
            .env_remove(onewindow_node_exit_env())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = node.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = Vec::new();
        while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            let done = l.contains("is serving");
            lines.push(l);
            if done {
                break;
            }
        }
        let serving = lines.iter().any(|l| l.contains("is serving"));
        let _ = kill(
            Pid::from_raw(i32::try_from(node.id()).unwrap()),
            Signal::SIGTERM,
        );
        let status = node.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut node.stderr.take().unwrap(), &mut stderr).unwrap();
        (serving, lines, status, stderr)
    };
    // A start that ended without a word on a loaded machine is tried once
    // more; a wrong path fails both times (and says so).
    let mut outcome = attempt();
    if !outcome.0 && outcome.3.is_empty() {
        eprintln!(
            "first start ended silently ({:?}): {:?}",
            outcome.2, outcome.1
        );
        outcome = attempt();
    }
    let (serving, lines, status, stderr) = outcome;
    assert!(serving, "{status:?}\n{lines:?}\n{stderr}");
    assert!(status.success(), "{status:?}\n{lines:?}\n{stderr}");
    // Its store is in its own folder, and nothing was written here.
    assert!(folder.join("data/node.db").is_file());
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}
