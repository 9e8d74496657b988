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

/// A new hall below `parent` of the tree: its configuration, written in
/// its own folder, with no key and no certificate yet.
fn new_village(
    t: &onewindow_tests::Tree,
    parent: &str,
    id: &str,
    hall_code: &str,
) -> (onewindow_node::config::Config, std::path::PathBuf) {
    let home = t.dir.path().join(id);
    let mut cfg = t.nodes[parent].config.clone();
    cfg.node.id = id.into();
    cfg.node.hall_code = hall_code.into();
    cfg.node.data_dir = home.clone();
    // Its own document key, made in its data folder at first start (an
    // enrolled hall's key is not endorsed until the root endorses it).
    cfg.node.document_key_file = String::new();
    cfg.node.document_key_endorsement = String::new();
    cfg.database.url = format!("sqlite://{}?mode=rwc", home.join("node.db").display());
    cfg.http.listen = "127.0.0.1:0".parse().unwrap();
    cfg.federation.listen = "127.0.0.1:0".parse().unwrap();
    cfg.federation.credentials_dir = home.join("pki").display().to_string();
    cfg.federation.parent_addr = t.quic_addr(parent).to_string();
    std::fs::create_dir_all(&home).unwrap();
    let config_file = home.join("config.toml");
    std::fs::write(&config_file, toml::to_string(&cfg).unwrap()).unwrap();
    (cfg, config_file)
}

/// `onewindow-node enrol` with the district's options and files.
async fn enrol(config: &std::path::Path, token: &str, url: &str) -> std::process::Output {
    let (config, token, url) = (config.to_owned(), token.to_owned(), url.to_owned());
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .arg("--config")
            .arg(&config)
            .args(["enrol", "--token", &token, "--url", &url])
            .env_remove("ONEWINDOW_CONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_enrols_with_a_one_time_token_and_links_with_the_certificate() {
    const DISTRICT: &str = "nanhai";
    const TOWNSHIP: &str = "nanhai.guicheng";
    let mut t = onewindow_tests::tree_with_ca_at_root(&[DISTRICT, TOWNSHIP]).await;
    let district = t.url(DISTRICT);
    // The township's hall is new: no key, no certificate, no CA.
    t.stop(TOWNSHIP).await;
    let cfg = t.nodes[TOWNSHIP].config.clone();
    let pki = std::path::PathBuf::from(&cfg.federation.credentials_dir);
    std::fs::remove_dir_all(&pki).unwrap();
    let config_file = t.dir.path().join("township.toml");
    std::fs::write(&config_file, toml::to_string(&cfg).unwrap()).unwrap();

    // The district's administrator registers it.
    let admin =
        onewindow_tests::Api::login(&district, "admin", onewindow_tests::ADMIN_PASSWORD).await;
    let issued = admin
        .post_ok(
            "/api/v1/admin/enrolments",
            &serde_json::json!({"node": TOWNSHIP}),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    // Only below the district, and only the district holds the CA.
    for elsewhere in ["elsewhere", DISTRICT, "nanhai.guicheng.xiaping.deeper"] {
        let (status, _) = admin
            .post(
                "/api/v1/admin/enrolments",
                &serde_json::json!({"node": elsewhere}),
            )
            .await;
        assert_eq!(status, 400, "{elsewhere}");
    }

    // A token past its 24 hours is refused.
    let stale = admin
        .post_ok(
            "/api/v1/admin/enrolments",
            &serde_json::json!({"node": TOWNSHIP}),
        )
        .await;
    let stale = stale["token"].as_str().unwrap().to_owned();
    sqlx::query("UPDATE enrolment_tokens SET expires_ms = 0 WHERE token_id = $1")
        .bind(&stale[5..21])
        .execute(t.node(DISTRICT).node.store.pool())
        .await
        .unwrap();
    let out = enrol(&config_file, &stale, &district).await;
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(said.contains("enrolment_token_expired"), "{said}");
    assert!(!pki.join("node.crt").exists());

    // The hall enrols: its key is made here and stays here.
    let out = enrol(&config_file, &token, &district).await;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("enrolled nanhai.guicheng"), "{said}");
    let creds = federation::NodeCredentials::from_files(&pki).unwrap();
    assert_eq!(creds.node.as_str(), TOWNSHIP);
    assert!(federation::signed_by(&creds.cert_pem, t.ca.cert_pem()).unwrap());
    assert_eq!(creds.ca_pem, t.ca.cert_pem());

    // The token works once; a second hall with it is refused and recorded.
    let out = enrol(&config_file, &token, &district).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exists already"),
        "{out:?}"
    );
    std::fs::remove_file(pki.join("node.crt")).unwrap();
    let out = enrol(&config_file, &token, &district).await;
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(said.contains("enrolment_token_used"), "{said}");
    // A token's text altered (another secret): refused, and recorded.
    // (owe1-<id>-<secret>-<ca>: the secret is characters 22 to 54)
    let forged = format!("{}{}{}", &token[..22], "0".repeat(32), &token[54..]);
    assert_ne!(forged, token);
    let out = enrol(&config_file, &forged, &district).await;
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(said.contains("enrolment_refused"), "{said}");
    let events = admin.get_ok("/api/v1/admin/security-events").await;
    let refused = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "enrolment_refused")
        .count();
    assert_eq!(refused, 3, "{events}");

    // Back in place, the enrolled hall links with its certificate.
    creds.to_files(&pki).unwrap();
    t.restart(TOWNSHIP).await;
    let serial = creds.serial().unwrap();
    t.eventually(
        30,
        "the township linked with its enrolled certificate",
        || async {
            let fleet = t.node(DISTRICT).node.store.oversight_fleet().await.unwrap();
            fleet
                .iter()
                .find(|f| f.node_id == TOWNSHIP && f.connected)
                .filter(|f| f.cert_serial.as_deref() == Some(serial.as_str()))
                .map(|_| ())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_enrolled_at_the_district_is_admitted_by_its_township_from_the_roots_announcement()
 {
    const DISTRICT: &str = "nanhai";
    const TOWNSHIP: &str = "nanhai.guicheng";
    const VILLAGE: &str = "nanhai.guicheng.shibei";
    let mut t = onewindow_tests::tree_with_ca_at_root(&[DISTRICT, TOWNSHIP]).await;
    let district = t.url(DISTRICT);
    assert!(t.nodes[TOWNSHIP].config.federation.children.is_empty());

    let (cfg, config_file) = new_village(&t, TOWNSHIP, VILLAGE, "SB01");

    // The district registers a village two tiers down, and it enrols there.
    let admin =
        onewindow_tests::Api::login(&district, "admin", onewindow_tests::ADMIN_PASSWORD).await;
    let issued = admin
        .post_ok(
            "/api/v1/admin/enrolments",
            &serde_json::json!({"node": VILLAGE}),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();
    let out = enrol(&config_file, &token, &district).await;
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The root announced it down the village's branch.
    let announced = t
        .node(DISTRICT)
        .node
        .store
        .events_after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            matches!(
                &e.body,
                onewindow_node::domain::log::LogBody::Directive(d)
                    if d.directive.kind() == "node_registered"
            )
        })
        .count();
    assert_eq!(announced, 1);

    // The township, whose configuration does not list it, admits it.
    let village = onewindow_node::server::start_with_clock(cfg.clone(), t.clock.clone())
        .await
        .unwrap();
    // Enrolled at the root, the village's own document key is endorsed:
    // its documents check against the root's key.
    assert!(
        cfg.node
            .data_dir
            .join(onewindow_node::service::documents::ENDORSEMENT_FILE)
            .exists()
    );
    assert!(village.node.document_key.endorsed());
    let linked = |t: &onewindow_tests::Tree, since: i64| {
        let store = t.node(TOWNSHIP).node.store.clone();
        async move {
            let fleet = store.oversight_fleet().await.unwrap();
            fleet
                .iter()
                .find(|f| f.node_id == VILLAGE && f.connected)
                .filter(|f| f.last_seen_ms.is_some_and(|s| s > since))
                .map(|_| ())
        }
    };
    t.eventually(30, "the village linked to the township", || linked(&t, 0))
        .await;
    // A case received at the village reaches the district.
    let clerk = {
        let admin =
            onewindow_tests::Api::login(&village.url(), "admin", onewindow_tests::ADMIN_PASSWORD)
                .await;
        onewindow_tests::hall::ensure_staff(admin.client(), "clerk1", "clerk1", "clerk", None)
            .await;
        onewindow_tests::Api::login(&village.url(), "clerk1", onewindow_tests::STAFF_PASSWORD).await
    };
    let cat = clerk.get_ok("/api/v1/catalogue").await;
    let matter = cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["decided_here"] == true)
        .unwrap()
        .clone();
    let r = clerk
        .post_ok(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&matter, "11010519491231002X"),
        )
        .await;
    let number = r["case_number"].as_str().unwrap().to_owned();
    let store = t.node(DISTRICT).node.store.clone();
    onewindow_tests::eventually(30, "the village's case at the district", || {
        let store = store.clone();
        let number = number.clone();
        async move { store.case(&number).await.unwrap().map(|_| ()) }
    })
    .await;
    // And after a restart of the township, from its own log.
    t.restart(TOWNSHIP).await;
    let restarted = t.clock.now_ms();
    t.eventually(60, "the village linked again after a restart", || {
        linked(&t, restarted)
    })
    .await;
    village.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_enrols_its_own_village_and_admits_it_without_a_configuration_line() {
    const DISTRICT: &str = "nanhai";
    const TOWNSHIP: &str = "nanhai.guicheng";
    const VILLAGE: &str = "nanhai.guicheng.xinhe";
    let mut t = onewindow_tests::tree_with_ca_at_root(&[DISTRICT, TOWNSHIP]).await;
    let township = t.url(TOWNSHIP);
    // The township has no children in its configuration, and no CA key.
    assert!(t.nodes[TOWNSHIP].config.federation.children.is_empty());
    assert!(t.node(TOWNSHIP).node.ca.is_none());

    // A new village hall: a configuration, no key, no certificate.
    let (cfg, config_file) = new_village(&t, TOWNSHIP, VILLAGE, "XH01");

    // The township's administrator registers it: for its own children only.
    let admin =
        onewindow_tests::Api::login(&township, "admin", onewindow_tests::ADMIN_PASSWORD).await;
    for elsewhere in ["nanhai.dali.yanbu", "nanhai.guicheng.xinhe.deeper"] {
        let (status, body) = admin
            .post(
                "/api/v1/admin/enrolments",
                &serde_json::json!({"node": elsewhere}),
            )
            .await;
        assert_eq!(status, 400, "{elsewhere}: {body}");
    }
    let (status, body) = admin
        .post(
            "/api/v1/admin/enrolments",
            &serde_json::json!({"node": "nanhai.dali.yanbu"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("bad_node_id"), "{body}");
    let issued = admin
        .post_ok(
            "/api/v1/admin/enrolments",
            &serde_json::json!({"node": VILLAGE}),
        )
        .await;
    let token = issued["token"].as_str().unwrap().to_owned();

    // The village enrols at the township, which has the district sign.
    let out = enrol(&config_file, &token, &township).await;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    let pki = std::path::PathBuf::from(&cfg.federation.credentials_dir);
    let creds = federation::NodeCredentials::from_files(&pki).unwrap();
    assert_eq!(creds.node.as_str(), VILLAGE);
    assert!(federation::signed_by(&creds.cert_pem, t.ca.cert_pem()).unwrap());
    // Once only.
    std::fs::remove_file(pki.join("node.crt")).unwrap();
    let out = enrol(&config_file, &token, &township).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("enrolment_token_used"),
        "{out:?}"
    );
    creds.to_files(&pki).unwrap();

    // The township admits it on its link, and still does after a restart.
    let village = onewindow_node::server::start_with_clock(cfg.clone(), t.clock.clone())
        .await
        .unwrap();
    // Enrolled below the root, its document key is not endorsed.
    assert!(!village.node.document_key.endorsed());
    let serial = creds.serial().unwrap();
    // Seen connected, with its enrolled certificate, after `since`.
    let linked = |t: &onewindow_tests::Tree, since: i64| {
        let store = t.node(TOWNSHIP).node.store.clone();
        let serial = serial.clone();
        async move {
            let fleet = store.oversight_fleet().await.unwrap();
            fleet
                .iter()
                .find(|f| f.node_id == VILLAGE && f.connected)
                .filter(|f| f.cert_serial.as_deref() == Some(serial.as_str()))
                .filter(|f| f.last_seen_ms.is_some_and(|s| s > since))
                .map(|_| ())
        }
    };
    t.eventually(30, "the village linked to the township", || linked(&t, 0))
        .await;
    t.restart(TOWNSHIP).await;
    let restarted = t.clock.now_ms();
    t.eventually(60, "the village linked again after a restart", || {
        linked(&t, restarted)
    })
    .await;
    village.stop().await;
}

#[test]
fn a_sigterm_while_the_node_starts_stops_it_cleanly() {
    // A supervisor may stop a node right after starting it: the handlers
    // are in place before the node opens its store, so the signal waits
    // for the start and the node then stops as on any SIGTERM (a signal's
    // default action would kill it with nothing said).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    let mut node = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("ONEWINDOW_CONFIG")
        .env("ONEWINDOW__HTTP__LISTEN", "127.0.0.1:0")
        .env(
            "ONEWINDOW__AUTH__BOOTSTRAP_PASSWORD",
            "a-password-for-this-test",
        )
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its first log line (on stdout): the node is opening its store.
    let stdout = node.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(!first.contains("is serving"), "{first}");
    let killed = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = node.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the node did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut node.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}\n{first}\n{rest:?}\n{stderr}");
    assert!(rest.iter().any(|l| l == "stopping"), "{rest:?}");
}
