//! The one test kit of the workspace: builders for a node and for a tree,
//! fixtures, and waiting on conditions.
//!
//! - One hall ([`hall`]): [`hall_config`] is the config every test node
//!   starts from; [`test_db`] a fresh SQLite file, or PostgreSQL database
//!   when `ONEWINDOW_TEST_DATABASE` names a server; [`start`] a real node on
//!   port 0 with a [`Client`] whose replies are asserted on.
//! - A tree ([`tree`]): real nodes in one process, each with its own SQLite
//!   store, HTTP port and QUIC port, linked by mutual TLS with certificates
//!   from a fresh federation CA; each starts from [`hall_config`] plus the
//!   federation settings.
//! - Fixtures: [`ADMIN_PASSWORD`], [`STAFF_PASSWORD`], [`START_MS`],
//!   [`citizen_id`], [`complete_submission`], the [`catalogue`] of the node's
//!   suites.
//! - Waiting: [`Tree::eventually`], [`wait_until`] on a [`Wake`], and
//!   [`eventually`] for nodes in other processes.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

pub mod catalogue;
pub mod fuzz;
pub mod hall;
pub mod pg;

pub use hall::{
    Client, Reply, TestDb, TestNode, counts, hall_config, init_logs, staff, start,
    start_with_clock, test_db,
};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use federation::{FederationCa, NodeId};
use node::config::Config;
use node::server::{self, RunningNode};
use node::service::{Clock, StartedClock};
use onewindow_client::Method;
use serde_json::{Value, json};

/// The administrator password of every test hall ([`hall_config`]).
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The password of staff created with [`Tree::staff`].
pub const STAFF_PASSWORD: &str = "staff-password-123";

/// One node of a tree.
pub struct TreeNode {
    /// Its configuration (ports fixed after the first start).
    pub config: Config,
    /// The running node, if up.
    pub running: Option<RunningNode>,
}

/// A tree of running nodes.
pub struct Tree {
    /// Nodes by id.
    pub nodes: BTreeMap<String, TreeNode>,
    /// The federation CA.
    pub ca: FederationCa,
    /// The root's signing key (PKCS#8 hex) and public key (hex).
    pub signing: (String, String),
    /// Where everything lives.
    pub dir: tempfile::TempDir,
    /// The clock every node of the tree reads: it starts on [`START_MS`]
    /// and runs, so the tree works on a known day at any hour of any year.
    pub clock: Arc<dyn Clock>,
}

/// 2026-11-23 10:00 in China (a Monday in a year whose calendar the
/// starter holds): where the clocks of test nodes start.
pub const START_MS: i64 = 1_795_399_200_000;

/// Starts a tree of the given node ids (parents before children).
pub async fn tree(ids: &[&str]) -> Tree {
    tree_opts(ids, false).await
}

/// Starts a tree whose root holds the federation CA's key
/// (`federation.ca_key_file`), so that certificates renew over the links.
/// The test kit's certificates last 30 days: every node renews soon after
/// it starts.
pub async fn tree_with_ca_at_root(ids: &[&str]) -> Tree {
    tree_opts(ids, true).await
}

/// Starts a tree whose nodes all read `clock` (a [`TestClock`] lets a test
/// move the whole tree's days forward).
///
/// [`TestClock`]: node::service::TestClock
pub async fn tree_at(ids: &[&str], clock: Arc<dyn Clock>) -> Tree {
    tree_with(ids, false, clock, &|_| {}).await
}

async fn tree_opts(ids: &[&str], ca_at_root: bool) -> Tree {
    tree_with(
        ids,
        ca_at_root,
        Arc::new(StartedClock::at(START_MS)),
        &|_| {},
    )
    .await
}

/// Starts a tree whose every node's configuration `edit` changes before
/// it starts (a four-tier tree's `[node] tiers`, for one).
pub async fn tree_configured(ids: &[&str], edit: &dyn Fn(&mut Config)) -> Tree {
    tree_with(ids, false, Arc::new(StartedClock::at(START_MS)), edit).await
}

/// Gives a hall a document key in `home` endorsed by the root's signing key
/// (PKCS#8 hex), as `onewindow-deploy topology bundle` does.
pub fn endorse_document_key(c: &mut Config, home: &std::path::Path, root_private: &str) {
    let (private, _) = node::link::signing::generate().unwrap();
    let file = home.join("document.key");
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(&file, &private).unwrap();
    let public = node::link::signing::Signer::from_hex(&private)
        .unwrap()
        .public_bytes();
    let root = node::link::signing::Signer::from_hex(root_private).unwrap();
    c.node.document_key_file = file.display().to_string();
    c.node.document_key_endorsement = hex::encode(root.sign_raw(
        &node::domain::document::endorsement_text(&c.node.id, &public),
    ));
}

/// Starts a tree whose CA and root signing key (PKCS#8 hex, public hex)
/// are given, every node's configuration changed by `edit` before it
/// starts: the roots of two trees that peer hold each other's CA
/// certificate and public key before either starts.
pub async fn tree_of(
    ids: &[&str],
    ca: FederationCa,
    signing: (String, String),
    edit: &dyn Fn(&mut Config),
) -> Tree {
    tree_keyed(
        ids,
        false,
        Arc::new(StartedClock::at(START_MS)),
        edit,
        Some((ca, signing)),
    )
    .await
}

async fn tree_with(
    ids: &[&str],
    ca_at_root: bool,
    clock: Arc<dyn Clock>,
    edit: &dyn Fn(&mut Config),
) -> Tree {
    tree_keyed(ids, ca_at_root, clock, edit, None).await
}

async fn tree_keyed(
    ids: &[&str],
    ca_at_root: bool,
    clock: Arc<dyn Clock>,
    edit: &dyn Fn(&mut Config),
    keys: Option<(FederationCa, (String, String))>,
) -> Tree {
    let _ = tracing_init();
    let dir = tempfile::tempdir().unwrap();
    let (ca, signing) = match keys {
        Some(k) => k,
        None => (
            FederationCa::generate("onewindow test federation").unwrap(),
            node::link::signing::generate().unwrap(),
        ),
    };
    let key_file = dir.path().join("root-signing.key");
    std::fs::write(&key_file, &signing.0).unwrap();
    let mut t = Tree {
        nodes: BTreeMap::new(),
        ca,
        signing,
        dir,
        clock,
    };
    let mut ordered: Vec<&str> = ids.to_vec();
    ordered.sort_by_key(|i| i.matches('.').count());
    for (i, id) in ordered.iter().enumerate() {
        let nid = NodeId::new(*id).unwrap();
        let home = t.dir.path().join(id);
        let pki = home.join("pki");
        std::fs::create_dir_all(&pki).unwrap();
        t.ca.issue_for_days(&nid, 30)
            .unwrap()
            .to_files(&pki)
            .unwrap();
        let db = format!("sqlite://{}?mode=rwc", home.join("node.db").display());
        let mut c = hall_config(id, &db, &home);
        // Hall codes by order of start: two ids' initials may be alike.
        c.node.hall_code = format!("H{i:03}");
        c.federation.listen = "127.0.0.1:0".parse().unwrap();
        c.federation.credentials_dir = pki.display().to_string();
        c.federation.root_public_key = t.signing.1.clone();
        endorse_document_key(&mut c, &home, &t.signing.0);
        c.federation.children = ids
            .iter()
            .filter(|c| NodeId::new(**c).unwrap().parent().as_ref() == Some(&nid))
            .map(|c| (*c).to_owned())
            .collect();
        if nid.depth() == 0 {
            c.federation.signing_key_file = key_file.display().to_string();
            if ca_at_root {
                let ca_key = t.dir.path().join("ca.key");
                std::fs::write(&ca_key, t.ca.key_pem()).unwrap();
                c.federation.ca_key_file = ca_key.display().to_string();
            }
        }
        if let Some(p) = nid.parent() {
            let parent = &t.nodes[p.as_str()];
            let addr = parent
                .running
                .as_ref()
                .and_then(|r| r.links.as_ref())
                .and_then(|l| l.listen_addr)
                .unwrap();
            c.federation.parent_addr = addr.to_string();
        }
        edit(&mut c);
        let running = server::start_with_clock(c.clone(), t.clock.clone())
            .await
            .unwrap();
        // Keep the same ports across restarts.
        c.http.listen = running.http_addr;
        if let Some(a) = running.links.as_ref().and_then(|l| l.listen_addr) {
            c.federation.listen = a;
        }
        t.nodes.insert(
            (*id).to_owned(),
            TreeNode {
                config: c,
                running: Some(running),
            },
        );
    }
    t
}

fn tracing_init() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if let Ok(f) = std::env::var("OW_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(f))
            .with_test_writer()
            .try_init();
    }
    Ok(())
}

impl Tree {
    /// The running node.
    pub fn node(&self, id: &str) -> &RunningNode {
        self.nodes[id].running.as_ref().unwrap()
    }

    /// Base URL of a node.
    pub fn url(&self, id: &str) -> String {
        self.node(id).url()
    }

    /// A node's QUIC listen address.
    pub fn quic_addr(&self, id: &str) -> SocketAddr {
        self.nodes[id].config.federation.listen
    }

    /// Stops a node (its store stays).
    pub async fn stop(&mut self, id: &str) {
        if let Some(r) = self.nodes.get_mut(id).unwrap().running.take() {
            r.stop().await;
        }
    }

    /// Starts a node again, on the same ports (stopping it first if it
    /// runs).
    pub async fn restart(&mut self, id: &str) {
        self.stop(id).await;
        let c = self.nodes[id].config.clone();
        let mut last = None;
        // The stopped node's UDP socket is released when its QUIC endpoint
        // has drained its connections, which a busy machine can take a few
        // seconds over.
        for _ in 0..300 {
            match server::start_with_clock(c.clone(), self.clock.clone()).await {
                Ok(r) => {
                    self.nodes.get_mut(id).unwrap().running = Some(r);
                    return;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("{id} does not restart: {last:?}");
    }

    /// Receivers of every running node's store head.
    pub async fn heads(&self) -> Vec<tokio::sync::watch::Receiver<u64>> {
        let mut heads = Vec::new();
        for n in self.nodes.values() {
            if let Some(r) = &n.running {
                heads.push(r.node.store.head().await);
            }
        }
        heads
    }

    /// Waits until `f` returns `Some`, looking again whenever any node of
    /// the tree commits (and every [`RECHECK`] for what no commit
    /// announces); panics with `what` after `secs` seconds.
    pub async fn eventually<T, F, Fut>(&self, secs: u64, what: &str, f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let wake = Wake::on(self.heads().await);
        wait_until(&wake, secs, what, f).await
    }

    /// Logs in as admin on a node, creates a staff member there, and returns
    /// a client carrying their token.
    pub async fn staff(
        &self,
        id: &str,
        username: &str,
        role: &str,
        department: Option<&str>,
    ) -> Api {
        let admin = Api::login(&self.url(id), "admin", ADMIN_PASSWORD).await;
        hall::ensure_staff(admin.client(), username, username, role, department).await;
        Api::login(&self.url(id), username, STAFF_PASSWORD).await
    }

    /// Three approvers of `department` at hall `id` (`{prefix}1` to
    /// `{prefix}3`, made if missing) take case `number` to its result: the
    /// first handles it (with `opinion`), the second reviews it and the
    /// third decides it, granted, and marks the result ready. Returns the
    /// answer to the last action.
    pub async fn decide_by_three(
        &self,
        id: &str,
        prefix: &str,
        department: &str,
        number: &str,
        opinion: &str,
    ) -> Value {
        let mut who = Vec::new();
        for k in 1..=3 {
            let name = format!("{prefix}{k}");
            who.push(self.staff(id, &name, "approver", Some(department)).await);
        }
        let path = format!("/api/v1/cases/{number}/actions");
        for (k, body) in [
            (0, json!({"action": "start_handling"})),
            (
                0,
                json!({"action": "submit_for_review", "opinion": opinion}),
            ),
            (1, json!({"action": "pass_review", "opinion": "同意"})),
            (
                2,
                json!({"action": "decide", "granted": true, "opinion": "准予"}),
            ),
        ] {
            who[k].post_ok(&path, &body).await;
        }
        who[2]
            .post_ok(
                &path,
                &json!({"action": "result_ready", "result": "证明一份"}),
            )
            .await
    }
}

/// The API's client for scenarios: any status is `(status, body)` to assert
/// on, and `*_ok` assert success.
#[derive(Clone)]
pub struct Api {
    /// Base URL.
    pub base: String,
    client: onewindow_client::Client,
}

impl Api {
    /// An anonymous client.
    pub fn anonymous(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: onewindow_client::Client::new(base).unwrap(),
        }
    }

    /// Logs in.
    pub async fn login(base: &str, username: &str, password: &str) -> Self {
        let a = Self::anonymous(base);
        let client = a
            .client
            .login(username, password)
            .await
            .unwrap_or_else(|e| panic!("logging in as {username} at {base}: {e}"));
        Self { client, ..a }
    }

    /// The typed client, carrying this client's session.
    pub fn client(&self) -> &onewindow_client::Client {
        &self.client
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, String) {
        let mut req = self.client.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = self.client.send(req).await.unwrap();
        (r.status, r.text)
    }

    /// GET; (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.send(Method::GET, path, None).await
    }

    /// POST JSON; (status, body).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, String) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// PUT JSON; (status, body).
    pub async fn send_put(&self, path: &str, body: &Value) -> (u16, String) {
        self.send(Method::PUT, path, Some(body)).await
    }

    /// GET and parse, asserting success.
    pub async fn get_ok(&self, path: &str) -> Value {
        let (s, b) = self.get(path).await;
        assert!((200..300).contains(&s), "GET {path}: {s} {b}");
        serde_json::from_str(&b).unwrap()
    }

    /// POST and parse, asserting success.
    pub async fn post_ok(&self, path: &str, body: &Value) -> Value {
        let (s, b) = self.post(path, body).await;
        assert!((200..300).contains(&s), "POST {path}: {s} {b}");
        serde_json::from_str(&b).unwrap()
    }
}

/// How long a wait goes without a look when nothing announces a change:
/// link state, metrics and security events move without a store commit.
const RECHECK: Duration = Duration::from_millis(250);

/// Wakes a waiting test when any of a set of watched values moves (every
/// node's store head: each commit, of its own entries or of replicated
/// ones, announces itself there).
pub struct Wake {
    notify: std::sync::Arc<tokio::sync::Notify>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Wake {
    /// Wakes on any move of these receivers; one that closes (its node
    /// stopped) no longer wakes.
    pub fn on(receivers: Vec<tokio::sync::watch::Receiver<u64>>) -> Self {
        let notify = std::sync::Arc::new(tokio::sync::Notify::new());
        let tasks = receivers
            .into_iter()
            .map(|mut rx| {
                let notify = notify.clone();
                tokio::spawn(async move {
                    while rx.changed().await.is_ok() {
                        notify.notify_one();
                    }
                })
            })
            .collect();
        Self { notify, tasks }
    }

    /// Nothing to watch: only the periodic look.
    pub fn none() -> Self {
        Self::on(Vec::new())
    }

    /// Until something moves, or [`RECHECK`] has passed.
    async fn next(&self) {
        let _ = tokio::time::timeout(RECHECK, self.notify.notified()).await;
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        self.tasks.iter().for_each(tokio::task::JoinHandle::abort);
    }
}

/// Waits until `f` returns `Some`, looking again whenever `wake` says
/// something moved; panics with `what` after `secs` seconds.
pub async fn wait_until<T, F, Fut>(wake: &Wake, secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up after {secs} s waiting for {what}"
        );
        let _ = tokio::time::timeout_at(deadline, wake.next()).await;
    }
}

/// Waits until `f` returns `Some`, for nodes that run in other processes
/// (no store of theirs can announce a change here): looks every
/// [`RECHECK`]; panics with `what` after `secs` seconds. Waits on a tree of
/// this process go through [`Tree::eventually`].
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    wait_until(&Wake::none(), secs, what, f).await
}

/// A node's `/metrics` text.
pub async fn metrics_text(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of the sample `name` in a Prometheus text exposition whose
/// labels include every one of `labels` (`None` when there is none).
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (set, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        let held: Vec<(&str, &str)> = set
            .split(',')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k, v.trim_matches('"')))
            })
            .collect();
        labels
            .iter()
            .all(|l| held.contains(l))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// A valid citizen ID number (GB 11643) from 17 digits.
pub fn citizen_id(prefix17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = prefix17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{prefix17}{check}")
}

/// A matter of a hall's catalogue (as `GET /api/v1/catalogue` gives it)
/// that the hall receives but does not decide, that is decided at `tier`,
/// not immediate and with no other department's opinion: a case of it goes
/// up the tree and comes back with its result.
pub fn matter_decided_at(catalogue: &Value, tier: &str) -> Value {
    catalogue["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["decided_here"] == false
                && m["immediate"] == false
                && m["co_departments"].as_array().is_none_or(|c| c.is_empty())
                && m["delegation"]["decide_tiers"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(tier))
        })
        .unwrap_or_else(|| panic!("no matter decided at the {tier} in the catalogue"))
        .clone()
}

/// A complete submission for a matter from its guide (materials that always
/// apply, with the originals and copies the checklist asks for).
pub fn complete_submission(guide: &Value, id_number: &str) -> Value {
    let materials: Vec<Value> = guide["materials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["situations"].as_array().is_none_or(|s| s.is_empty()))
        .filter(|m| m["necessity"] != "optional")
        .map(|m| json!({"code": m["code"], "originals": m["originals"], "copies": m["copies"]}))
        .collect();
    let kind = if guide["serves"] == "organisation" {
        "organisation"
    } else {
        "person"
    };
    let id = if kind == "organisation" {
        "91350100M000100Y43".to_owned()
    } else {
        id_number.to_owned()
    };
    json!({
        "matter_code": guide["code"],
        "applicant": {"kind": kind, "id_number": id, "name": "李四"},
        "materials": materials,
    })
}

/// The open part of a case (the JSON of a `Case`): what every tier that
/// holds the case holds, whether or not its personal sections reached it
/// (its state, holder, version, times, matter and decision).
pub fn open_case(case: &Value) -> Value {
    let keys = [
        "id",
        "state",
        "version",
        "holder",
        "received_at_ms",
        "accepted_at_ms",
        "stage_entered_at_ms",
        "decided_at_ms",
        "closed_at_ms",
        "granted",
        "suspensions",
        "extensions",
        "sub_cases",
    ];
    let mut out = serde_json::Map::new();
    for k in keys {
        out.insert(k.to_owned(), case[k].clone());
    }
    out.insert(
        "matter_code".to_owned(),
        case["received"]["matter_code"].clone(),
    );
    Value::Object(out)
}

/// The open part of a case's record events (`GET
/// /api/v1/cases/{number}/record`): each event's version, writer, time and
/// kind, which every tier holding the case holds alike.
pub fn open_events(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            json!({
                "case_version": e["case_version"],
                "actor": e["actor"],
                "at_ms": e["at_ms"],
                "type": e["event"]["type"],
            })
        })
        .collect()
}
