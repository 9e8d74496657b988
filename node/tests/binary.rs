//! The `onewindow-node` binary as an operator runs it.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_onewindow-node");

#[test]
fn default_config_prints_every_key_and_parses_back() {
    let out = Command::new(BIN).arg("default-config").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let parsed: onewindow_node::config::Config = toml::from_str(&text).unwrap();
    assert_eq!(parsed, onewindow_node::config::Config::default());
    for key in [
        "id",
        "tiers",
        "hall_code",
        "parent_addr",
        "listen",
        "url",
        "data_dir",
        "refused_backoff_max_ms",
        "max_frame_bytes",
        "stream_receive_window",
        "connection_receive_window",
        "reader_queue_frames",
        "max_batch_entries",
    ] {
        assert!(text.contains(&format!("\n{key} = ")), "{key} missing");
    }
}

#[test]
fn with_no_config_it_starts_a_standalone_district_node_under_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env("ONEWINDOW__HTTP__LISTEN", "127.0.0.1:0")
        .env("ONEWINDOW__LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap();
        lines.push(line.clone());
        if let Some(i) = line.find("serving at ") {
            break line[i + "serving at ".len()..].trim().to_owned();
        }
    };
    assert!(
        lines.iter().any(|l| l.contains("created administrator")),
        "{lines:?}"
    );
    let health: serde_json::Value = reqwest::blocking_get(&format!("{url}/api/v1/health"));
    assert_eq!(health["node_id"], "nanhai");
    assert_eq!(health["tier"], "district");
    assert_eq!(health["catalogue_version"], 1);
    assert!(dir.path().join("data/node.db").exists());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_absurd_link_limit_is_refused_with_the_key_named() {
    let out = Command::new(BIN)
        .env("ONEWINDOW__FEDERATION__LIMITS__MAX_FRAME_BYTES", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("federation.limits.max_frame_bytes"), "{err}");
    assert!(err.contains("超出范围") && err.contains("outside"), "{err}");
}

#[test]
fn a_bad_config_is_refused_with_the_key_named() {
    let out = Command::new(BIN)
        .env("ONEWINDOW__NODE__HALL_CODE", "lower")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("node.hall_code"), "{err}");
}

mod reqwest {
    /// A tiny blocking GET over the async client (no blocking feature needed).
    pub fn blocking_get(url: &str) -> serde_json::Value {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().json().await.unwrap() })
    }
}
