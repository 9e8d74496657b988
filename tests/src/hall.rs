//! One hall: a fresh database per test, the config of a hall on port 0, and
//! a real node started on it, with an API client whose every reply is a
//! [`Reply`] to assert on.
//!
//! `ONEWINDOW_TEST_DATABASE` picks the backend of [`test_db`]: unset or
//! `sqlite` gives each test its own SQLite file; a `postgres://` URL (of a
//! database the tests may use to create others, such as `postgres`) gives
//! each test its own fresh PostgreSQL database.

use std::path::Path;
use std::sync::Arc;

use node::config::Config;
use node::server::{self, RunningNode};
use node::service::{Clock, StartedClock};
use onewindow_client::Method;
use onewindow_client::types::NewStaff;
use serde_json::Value;
use sqlx::Connection;

use crate::{ADMIN_PASSWORD, STAFF_PASSWORD, START_MS};

/// A database for one test; dropping it leaves the PostgreSQL database behind
/// (named `ow_test_*`, cheap) and removes the SQLite folder.
pub struct TestDb {
    /// The database URL.
    pub url: String,
    dir: tempfile::TempDir,
}

impl TestDb {
    /// The test's folder (the SQLite file's, and the node's data folder).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
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

/// A fresh database (and folder) for one test.
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
        let base = choice.rsplit_once('/').map_or(choice.as_str(), |(b, _)| b);
        TestDb {
            url: format!("{base}/{name}"),
            dir,
        }
    } else {
        TestDb {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display()),
            dir,
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

/// The config of a hall with this id, on HTTP port 0, with the given
/// database and data folder, and [`ADMIN_PASSWORD`] for the first
/// administrator. Its hall code is the first letter of each part of the id
/// then `H` (`nanhai` gives `NH`), its names `{id} 服务中心` and
/// `{id} service centre`; it runs alone (no federation settings).
pub fn hall_config(id: &str, database_url: &str, data_dir: &Path) -> Config {
    let mut c = Config::default();
    c.node.id = id.to_owned();
    c.node.hall_code = id
        .split('.')
        .map(|s| s.chars().next().unwrap().to_ascii_uppercase())
        .chain("H".chars())
        .collect();
    c.node.hall_name_zh = format!("{id} 服务中心");
    c.node.hall_name_en = format!("{id} service centre");
    c.node.hall_phone = "0757-8600 0000".into();
    c.node.reconsideration_zh = "佛山市南海区人民政府".into();
    c.node.reconsideration_en = "the People's Government of Nanhai District".into();
    c.node.litigation_zh = "佛山市南海区人民法院".into();
    c.node.litigation_en = "the People's Court of Nanhai District".into();
    c.node.data_dir = data_dir.to_path_buf();
    c.http.listen = "127.0.0.1:0".parse().unwrap();
    c.database.url = database_url.to_owned();
    c.database.sqlite_synchronous = "normal".into();
    c.auth.bootstrap_password = ADMIN_PASSWORD.into();
    // Each hall walks its stored log every second, so that a test sees a
    // row changed by hand reported without waiting.
    c.audit.self_check_secs = 1;
    // A hall that comes to hold a case looks for its withheld personal
    // sections every second.
    c.privacy.fill_secs = 1;
    // One digest key for every test hall, as a bundle gives a tree one.
    c.privacy.id_digest_key = "5a".repeat(32);
    c
}

/// A running hall on its own database, with an anonymous client.
pub struct TestNode {
    /// The running node.
    pub node: RunningNode,
    /// Its database (and folder).
    pub db: TestDb,
    /// An anonymous client of its API.
    pub http: Client,
}

/// Starts a hall with this id on a fresh database, its clock starting on
/// [`START_MS`].
pub async fn start(id: &str) -> TestNode {
    start_with_clock(id, Arc::new(StartedClock::at(START_MS))).await
}

/// Starts a hall with this id on a fresh database, reading `clock`.
pub async fn start_with_clock(id: &str, clock: Arc<dyn Clock>) -> TestNode {
    let db = test_db().await;
    let cfg = hall_config(id, &db.url, db.dir());
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

/// A reply of any status.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body as JSON (`Null` when it is not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// Asserts an error reply with this status and code (and bilingual messages).
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(self.body["code"], code, "code of {}", self.text);
        for message in ["message_zh", "message_en"] {
            assert!(
                self.body[message].as_str().is_some_and(|s| !s.is_empty()),
                "{message} of {}",
                self.text
            );
        }
    }

    /// The body, asserting success.
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
    /// An anonymous client of the node at `base`.
    pub fn new(base: String) -> Self {
        Self {
            api: onewindow_client::Client::new(&base).expect("a node URL"),
        }
    }

    /// This client carrying `token`.
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

    /// GET.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.api.request(Method::GET, path)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.api.request(Method::DELETE, path)).await
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.api.request(Method::POST, path).json(body))
            .await
    }

    /// POST JSON with one more header (`Idempotency-Key`, say).
    pub async fn post_with_header(
        &self,
        path: &str,
        body: &Value,
        (name, value): (&str, &str),
    ) -> Reply {
        self.send(
            self.api
                .request(Method::POST, path)
                .header(name, value)
                .json(body),
        )
        .await
    }

    /// PUT JSON.
    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(self.api.request(Method::PUT, path).json(body))
            .await
    }

    /// POST a body as it is, labelled JSON.
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
    ensure_staff(admin.api(), username, &display_name, role, department).await;
    http.login(username, STAFF_PASSWORD).await
}

/// Creates a staff member with [`STAFF_PASSWORD`] through `admin`'s
/// session, unless one of that name exists.
pub async fn ensure_staff(
    admin: &onewindow_client::Client,
    username: &str,
    display_name: &str,
    role: &str,
    department: Option<&str>,
) {
    let created = admin
        .create_staff(&NewStaff {
            username,
            display_name,
            role,
            department,
            password: STAFF_PASSWORD,
            hall: None,
        })
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.api().is_some_and(|a| a.status == 409) => {}
        Err(e) => panic!("creating {username} at {}: {e}", admin.base()),
    }
}

/// Counts of rows that any write would touch: (events, cases).
pub async fn counts(node: &RunningNode) -> (i64, i64) {
    (
        node.node.store.event_count().await.unwrap(),
        node.node.store.case_count().await.unwrap(),
    )
}
