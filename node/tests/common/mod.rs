//! Shared test support: a fresh database per test and a real node on port 0.
//!
//! `ONEWINDOW_TEST_DATABASE` picks the backend: unset or `sqlite` gives each
//! test its own SQLite file; a `postgres://` URL (of a database the tests may
//! use to create others, such as `postgres`) gives each test its own fresh
//! PostgreSQL database.
#![allow(dead_code, clippy::unwrap_used)]

pub mod catalogue;

// One test kit: the fixtures every suite shares come from `onewindow-tests`.
#[allow(unused_imports)] // each suite uses some of them
pub use onewindow_tests::{ADMIN_PASSWORD, STAFF_PASSWORD, START_MS, citizen_id};

use onewindow_client::Method;
use onewindow_client::types::NewStaff;
use onewindow_node::config::Config;
use onewindow_node::server::{self, RunningNode};
use onewindow_node::service::{Clock, StartedClock};
use serde_json::Value;
use sqlx::Connection;
use std::sync::Arc;

/// A database for one test; dropping it leaves the PostgreSQL database behind
/// (named `ow_test_*`, cheap) and removes the SQLite folder.
pub struct TestDb {
    pub url: String,
    _dir: tempfile::TempDir,
}

/// Logs to the test's captured output (shown when a test fails).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        ))
        .with_test_writer()
        .try_init();
}

pub async fn test_db() -> TestDb {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let choice = std::env::var("ONEWINDOW_TEST_DATABASE").unwrap_or_default();
    if choice.starts_with("postgres") {
        let name = format!("ow_test_{}_{}", std::process::id(), rand_suffix());
        let mut admin = sqlx::PgConnection::connect(&choice)
            .await
            .expect("connect to PostgreSQL");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let base = choice.rsplit_once('/').map(|(b, _)| b).unwrap_or(&choice);
        TestDb {
            url: format!("{base}/{name}"),
            _dir: dir,
        }
    } else {
        TestDb {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display()),
            _dir: dir,
        }
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{t}_{}", N.fetch_add(1, Ordering::SeqCst))
}

/// A config for a node with this id, on port 0, with the given database.
pub fn config(id: &str, url: &str, data_dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.node.id = id.to_owned();
    c.node.hall_code = id
        .split('.')
        .map(|s| s.chars().next().unwrap().to_ascii_uppercase())
        .chain("H".chars())
        .collect();
    c.node.data_dir = data_dir.to_path_buf();
    c.http.listen = "127.0.0.1:0".parse().unwrap();
    c.database.url = url.to_owned();
    c.database.sqlite_synchronous = "normal".into();
    c.auth.bootstrap_password = ADMIN_PASSWORD.into();
    c
}

pub struct TestNode {
    pub node: RunningNode,
    pub db: TestDb,
    pub http: Client,
}

pub async fn start(id: &str) -> TestNode {
    start_with_clock(id, Arc::new(StartedClock::at(START_MS))).await
}

pub async fn start_with_clock(id: &str, clock: Arc<dyn Clock>) -> TestNode {
    let db = test_db().await;
    let cfg = config(id, &db.url, db._dir.path());
    let node = server::start_with_clock(cfg, clock)
        .await
        .expect("node starts");
    let http = Client::new(node.url());
    TestNode { node, db, http }
}

/// The API's client for tests: any status is a [`Reply`] to assert on.
#[derive(Clone)]
pub struct Client {
    api: onewindow_client::Client,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Asserts an error reply with this status and code (and bilingual messages).
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(self.body["code"], code, "code of {}", self.text);
        assert!(
            self.body["message_zh"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{}",
            self.text
        );
        assert!(
            self.body["message_en"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{}",
            self.text
        );
    }

    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "{} {}",
            self.status,
            self.text
        );
        self.body
    }
}

impl Client {
    pub fn new(base: String) -> Self {
        Self {
            api: onewindow_client::Client::new(&base).expect("a node URL"),
        }
    }

    pub fn with_token(&self, token: &str) -> Self {
        Self {
            api: self.api.with_token(token),
        }
    }

    /// The typed client, carrying this client's session.
    pub fn api(&self) -> &onewindow_client::Client {
        &self.api
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let r = self.api.send(req).await.expect("request");
        let body = r.json();
        Reply {
            status: r.status,
            body,
            text: r.text,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.api.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.api.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.api.request(Method::POST, path).json(body))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(self.api.request(Method::PUT, path).json(body))
            .await
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> Reply {
        self.send(
            self.api
                .request(Method::POST, path)
                .header("content-type", "application/json")
                .body(body.to_owned()),
        )
        .await
    }

    /// Logs in and returns a client carrying the token.
    pub async fn login(&self, username: &str, password: &str) -> Client {
        let api = self
            .api
            .login(username, password)
            .await
            .unwrap_or_else(|e| panic!("logging in as {username}: {e}"));
        Self { api }
    }
}

/// Logs in as admin, creates a staff member and returns a logged-in client.
pub async fn staff(http: &Client, username: &str, role: &str, department: Option<&str>) -> Client {
    let admin = http.login("admin", ADMIN_PASSWORD).await;
    let display_name = format!("{username} 测试");
    let created = admin
        .api()
        .create_staff(&NewStaff {
            username,
            display_name: &display_name,
            role,
            department,
            password: STAFF_PASSWORD,
        })
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.api().is_some_and(|a| a.status == 409) => {}
        Err(e) => panic!("creating {username}: {e}"),
    }
    http.login(username, STAFF_PASSWORD).await
}

/// Counts of rows that any write would touch.
pub async fn counts(node: &RunningNode) -> (i64, i64) {
    (
        node.node.store.event_count().await.unwrap(),
        node.node.store.case_count().await.unwrap(),
    )
}
