//! The built `onewindow-admin` binary against a real node started in this
//! process on port 0 with an SQLite file in a temporary folder.
#![allow(clippy::unwrap_used)]

use node::domain::case_number::CaseNumber;
use node::server::{self, RunningNode};
use serde_json::Value;
use std::time::Duration;

const PASSWORD: &str = "admin-password-for-cli-tests";

struct Hall {
    node: RunningNode,
    dir: tempfile::TempDir,
}

async fn start() -> Hall {
    // The kit's clock: a known Monday of a year the starter calendar holds.
    start_with(std::sync::Arc::new(node::service::StartedClock::at(
        onewindow_tests::START_MS,
    )))
    .await
}

async fn start_with(clock: std::sync::Arc<dyn node::service::Clock>) -> Hall {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("node.db").display());
    let mut c = onewindow_tests::hall_config("nanhai", &db, dir.path());
    c.auth.bootstrap_password = PASSWORD.into();
    let node = server::start_with_clock(c, clock).await.unwrap();
    Hall { node, dir }
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        assert!(self.ok, "failed: {}", self.stderr);
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// A clerk at `hall` receives `n` cases of a committed matter that the hall
/// decides; their numbers.
async fn receive_cases(hall: &Hall, n: usize) -> Vec<String> {
    receive(hall, n, false).await
}

/// A clerk at `hall` receives `n` cases of a committed (or an immediate)
/// matter that the hall decides; their numbers.
async fn receive(hall: &Hall, n: usize, immediate: bool) -> Vec<String> {
    receive_at(&hall.node.url(), PASSWORD, n, immediate).await
}

/// [`receive`] at the node at `base`, whose administrator has `password`.
async fn receive_at(base: &str, password: &str, n: usize, immediate: bool) -> Vec<String> {
    let base = base.to_owned();
    let admin_api = onewindow_tests::Api::login(&base, "admin", password).await;
    onewindow_tests::hall::ensure_staff(admin_api.client(), "clerk1", "clerk1", "clerk", None)
        .await;
    let clerk = onewindow_tests::Api::login(&base, "clerk1", onewindow_tests::STAFF_PASSWORD).await;
    let cat = clerk.get_ok("/api/v1/catalogue").await;
    let matter = cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["decided_here"] == true && m["immediate"] == immediate)
        .unwrap()
        .clone();
    let mut numbers = Vec::new();
    for _ in 0..n {
        let r = clerk
            .post_ok(
                "/api/v1/cases",
                &onewindow_tests::complete_submission(&matter, "11010519491231002X"),
            )
            .await;
        numbers.push(r["case_number"].as_str().unwrap().to_owned());
    }
    numbers
}

/// Runs the binary against `hall` as the administrator, with `env` added.
async fn admin(hall: &Hall, args: &[&str], env: &[(&str, &str)]) -> Run {
    admin_at(&hall.node.url(), PASSWORD, args, env).await
}

/// Runs the binary against the node at `url` as its administrator.
async fn admin_at(url: &str, password: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_onewindow-admin"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("ONEWINDOW_")) {
        cmd.env_remove(k);
    }
    cmd.args(args)
        .env("ONEWINDOW_URL", url)
        .env("ONEWINDOW_PASSWORD", password)
        .envs(env.iter().copied())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("the command finishes in time")
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_status_and_catalogue_versions() {
    let hall = start().await;
    let status = admin(&hall, &["node", "status", "--json"], &[])
        .await
        .json();
    assert_eq!(status["node_id"], "nanhai");
    assert_eq!(status["store"], "sqlite");
    // A tree that peers with none lists no peer.
    let peers = admin(&hall, &["node", "peers", "--json"], &[]).await.json();
    assert_eq!(peers["peers"], serde_json::json!([]), "{peers}");
    let table = admin(&hall, &["node", "peers"], &[]).await;
    assert!(table.ok, "{}", table.stderr);
    assert!(table.stdout.starts_with("TREE"), "{}", table.stdout);

    let versions = admin(&hall, &["catalogue", "versions", "--json"], &[])
        .await
        .json();
    let v1 = versions
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == 1)
        .expect("version 1 listed");
    assert_eq!(v1["state"], "published");

    let table = admin(&hall, &["catalogue", "versions"], &[]).await;
    assert!(table.ok, "{}", table.stderr);
    assert!(table.stdout.starts_with("VERSION"), "{}", table.stdout);
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_are_added_listed_and_disabled() {
    let hall = start().await;
    let add = admin(
        &hall,
        &[
            "staff",
            "add",
            "--username",
            "clerk.two",
            "--name",
            "李受理",
            "--role",
            "clerk",
        ],
        &[("ONEWINDOW_NEW_PASSWORD", "clerk-password-123")],
    )
    .await;
    assert!(add.ok, "{}", add.stderr);

    let list = admin(&hall, &["staff", "list", "--json"], &[]).await.json();
    let clerk = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "clerk.two")
        .expect("the new clerk is listed");
    assert_eq!(clerk["role"], "clerk");
    assert_eq!(clerk["active"], true);

    let off = admin(&hall, &["staff", "disable", "clerk.two"], &[]).await;
    assert!(off.ok, "{}", off.stderr);
    let list = admin(&hall, &["staff", "list"], &[]).await;
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with("clerk.two"))
        .unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cols[4], "no", "the active column: {line}");
    assert_eq!(cols[6], "no", "a hall's own account: {line}");

    let on = admin(&hall, &["staff", "enable", "clerk.two"], &[]).await;
    assert!(on.ok, "{}", on.stderr);
    let role = admin(
        &hall,
        &[
            "staff",
            "role",
            "clerk.two",
            "--role",
            "supervisor",
            "--json",
        ],
        &[],
    )
    .await
    .json();
    assert_eq!(role["role"], "supervisor");
    assert_eq!(role["active"], true);
    let reset = admin(
        &hall,
        &["staff", "reset-password", "clerk.two"],
        &[("ONEWINDOW_NEW_PASSWORD", "short")],
    )
    .await;
    assert!(!reset.ok);
    assert!(reset.stderr.contains("weak_password"), "{}", reset.stderr);
    let reset = admin(
        &hall,
        &["staff", "reset-password", "clerk.two"],
        &[("ONEWINDOW_NEW_PASSWORD", "a-new-password-456")],
    )
    .await;
    assert!(reset.ok, "{}", reset.stderr);
    onewindow_tests::Api::login(&hall.node.url(), "clerk.two", "a-new-password-456").await;
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_district_keeps_a_village_clerk_whose_changes_reach_the_village() {
    const V: &str = "nanhai.guicheng.xiaping";
    let t = onewindow_tests::tree(&["nanhai", "nanhai.guicheng", V]).await;
    let url = t.url("nanhai");
    let pw = onewindow_tests::ADMIN_PASSWORD;
    t.eventually(60, "the district to know the township", || async {
        t.node("nanhai")
            .node
            .store
            .fleet_knows("nanhai.guicheng")
            .await
            .unwrap()
            .then_some(())
    })
    .await;
    let add = |hall: &'static str| {
        let url = url.clone();
        async move {
            admin_at(
                &url,
                pw,
                &[
                    "staff",
                    "add",
                    "--hall",
                    hall,
                    "--username",
                    "xp.zhang",
                    "--name",
                    "张敏",
                    "--role",
                    "clerk",
                ],
                &[("ONEWINDOW_NEW_PASSWORD", "zhang-password-1")],
            )
            .await
        }
    };
    let refused = add("nanhai.nowhere.x").await;
    assert!(!refused.ok);
    assert!(
        refused.stderr.contains("unknown_hall"),
        "{}",
        refused.stderr
    );
    let made = add(V).await;
    assert!(made.ok, "{}", made.stderr);
    let kept = admin_at(&url, pw, &["staff", "list", "--hall", V, "--json"], &[])
        .await
        .json();
    assert_eq!(kept[0]["username"], "xp.zhang");
    assert_eq!(kept[0]["hall"], V);
    let first = t
        .eventually(60, "the account at the village", || async {
            t.node(V).node.store.staff("xp.zhang").await.unwrap()
        })
        .await;
    assert!(first.managed && first.active);

    let reset = admin_at(
        &url,
        pw,
        &["staff", "reset-password", "xp.zhang", "--hall", V],
        &[("ONEWINDOW_NEW_PASSWORD", "zhang-password-2")],
    )
    .await;
    assert!(reset.ok, "{}", reset.stderr);
    t.eventually(60, "the new password at the village", || async {
        t.node(V)
            .node
            .store
            .staff("xp.zhang")
            .await
            .unwrap()
            .filter(|s| s.password_hash != first.password_hash)
    })
    .await;
    onewindow_tests::Api::login(&t.url(V), "xp.zhang", "zhang-password-2").await;

    // Her login at the village reaches the district in the village's chain;
    // the district's own actions on her account are in its chain.
    let logins = t
        .eventually(60, "the village's login at the district", || async {
            let r = admin_at(
                &url,
                pw,
                &[
                    "audit", "actions", "--hall", V, "--action", "login", "--json",
                ],
                &[],
            )
            .await
            .json();
            (!r.as_array().unwrap().is_empty()).then_some(r)
        })
        .await;
    assert_eq!(logins[0]["actor"], "xp.zhang");
    assert_eq!(logins[0]["role"], "clerk");
    assert_eq!(logins[0]["hall"], V);
    let ours = admin_at(&url, pw, &["audit", "actions", "--hall", "nanhai"], &[]).await;
    assert!(ours.ok, "{}", ours.stderr);
    let created = ours
        .stdout
        .lines()
        .find(|l| l.contains("staff_created"))
        .unwrap_or_else(|| panic!("{}", ours.stdout));
    assert!(
        created.contains("admin (admin)")
            && created.contains("xp.zhang")
            && created.contains(&format!("clerk at {V}")),
        "{created}"
    );
    assert!(ours.stdout.contains("password reset"), "{}", ours.stdout);
    let bad = admin_at(&url, pw, &["audit", "actions", "--action", "dance"], &[]).await;
    assert!(!bad.ok);
    assert!(bad.stderr.contains("bad_query"), "{}", bad.stderr);

    let off = admin_at(
        &url,
        pw,
        &["staff", "disable", "xp.zhang", "--hall", V],
        &[],
    )
    .await;
    assert!(off.ok, "{}", off.stderr);
    assert!(off.stdout.contains(V), "{}", off.stdout);
    t.eventually(60, "the account disabled at the village", || async {
        t.node(V)
            .node
            .store
            .staff("xp.zhang")
            .await
            .unwrap()
            .filter(|s| !s.active)
    })
    .await;

    // `node list` at the district: the whole subtree, halls by name.
    let nodes = t
        .eventually(60, "the village in node list", || async {
            let r = admin_at(&url, pw, &["node", "list", "--json"], &[])
                .await
                .json();
            r.as_array()
                .unwrap()
                .iter()
                .any(|n| n["node_id"] == V && n["connected"] == true && n["name_zh"] != "")
                .then_some(r)
        })
        .await;
    let ids: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["nanhai", "nanhai.guicheng", V]);
    let table = admin_at(&url, pw, &["node", "list"], &[]).await;
    assert!(table.ok, "{}", table.stderr);
    let line = table.stdout.lines().find(|l| l.starts_with(V)).unwrap();
    assert!(
        line.contains(&format!("{V} 服务中心"))
            && line.contains("village")
            && line.contains(" up "),
        "{line}"
    );
    let one = admin_at(&url, pw, &["node", "status", V], &[]).await;
    assert!(one.ok, "{}", one.stderr);
    assert!(
        one.stdout.contains("parent             nanhai.guicheng")
            && one.stdout.contains("link               up"),
        "{}",
        one.stdout
    );
    let unknown = admin_at(&url, pw, &["node", "status", "nanhai.nowhere"], &[]).await;
    assert!(!unknown.ok);
    assert!(
        unknown.stderr.starts_with("error: unknown_hall: "),
        "{}",
        unknown.stderr
    );

    // Revoked at the district: every hall refuses the village's links.
    let revoked = admin_at(&url, pw, &["node", "revoke", V], &[]).await;
    assert!(revoked.ok, "{}", revoked.stderr);
    let gone = t
        .eventually(60, "the village revoked in the fleet", || async {
            let r = admin_at(&url, pw, &["node", "status", V, "--json"], &[])
                .await
                .json();
            (!r["revoked_at_ms"].is_null()).then_some(r)
        })
        .await;
    assert_eq!(gone["node_id"], V);
}

const CALENDAR_2027: &str = r#"
year = 2027
source = "节假日安排（测试用） / holiday arrangement for tests"

[[holidays]]
name_zh = "元旦"
name_en = "New Year's Day"
from = 2027-01-01
to = 2027-01-03
makeup = []

[[holidays]]
name_zh = "春节"
name_en = "Spring Festival"
from = 2027-02-06
to = 2027-02-14
makeup = [2027-01-31, 2027-02-20]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_is_published_from_toml() {
    let hall = start().await;
    let file = hall.dir.path().join("2027.toml");
    std::fs::write(&file, CALENDAR_2027).unwrap();
    let publish = admin(
        &hall,
        &["calendar", "publish", "--file", file.to_str().unwrap()],
        &[],
    )
    .await;
    assert!(publish.ok, "{}", publish.stderr);
    assert!(publish.stdout.contains("2027"), "{}", publish.stdout);

    let show = admin(&hall, &["calendar", "show", "--json"], &[])
        .await
        .json();
    let y2027 = show
        .as_array()
        .unwrap()
        .iter()
        .find(|y| y["year"] == 2027)
        .expect("2027 is shown");
    assert_eq!(y2027["holidays"].as_array().unwrap().len(), 2);
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_passes_a_whole_log_and_names_a_row_changed_by_hand() {
    let hall = start().await;
    // Two cases received at the hall: entries of its own log.
    receive_cases(&hall, 2).await;
    let clean = admin(&hall, &["audit", "verify"], &[]).await;
    assert!(clean.ok, "{}{}", clean.stdout, clean.stderr);
    assert!(clean.stdout.contains("whole chain"), "{}", clean.stdout);
    assert!(clean.stdout.contains(", 0 broken"), "{}", clean.stdout);
    let report = admin(&hall, &["audit", "verify", "--json"], &[])
        .await
        .json();
    let own = report["origins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["origin"] == "nanhai")
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    let head = own["head"].as_i64().unwrap();
    assert!(head >= 2, "{own}");

    // Someone with the database file changes one byte of an entry's body.
    let url = format!("sqlite://{}", hall.dir.path().join("node.db").display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let target = head - 1;
    let body: Vec<u8> = sqlx::query_scalar(
        "SELECT body_bin FROM events WHERE origin = 'nanhai' AND origin_seq = $1",
    )
    .bind(target)
    .fetch_one(&pool)
    .await
    .unwrap();
    let mut changed = body.clone();
    let last = changed.len() - 1;
    changed[last] ^= 0x01;
    sqlx::query("UPDATE events SET body_bin = $1 WHERE origin = 'nanhai' AND origin_seq = $2")
        .bind(changed)
        .bind(target)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let broken = admin(&hall, &["audit", "verify", "--hall", "nanhai"], &[]).await;
    assert!(!broken.ok, "a broken log exits non-zero: {}", broken.stdout);
    assert!(
        broken
            .stdout
            .contains(&format!("BROKEN at #{target} (hash_mismatch)")),
        "{}",
        broken.stdout
    );
    assert!(
        broken.stderr.contains("broken in 1 of 1 origins"),
        "{}",
        broken.stderr
    );
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_list_shows_an_overdue_case_by_level_and_hall() {
    let clock = std::sync::Arc::new(node::service::TestClock::at(onewindow_tests::START_MS));
    let hall = start_with(clock.clone()).await;
    let number = receive_cases(&hall, 1).await.remove(0);
    let none = admin(&hall, &["warnings", "list", "--json"], &[])
        .await
        .json();
    assert_eq!(
        none,
        serde_json::json!([]),
        "nothing is near a deadline yet"
    );

    // Three months later nobody has touched it.
    clock.advance(90 * 86_400_000);
    let red = admin(
        &hall,
        &["warnings", "list", "--level", "red", "--json"],
        &[],
    )
    .await
    .json();
    let rows = red.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{red}");
    assert_eq!(rows[0]["case_number"], number.as_str());
    assert_eq!(rows[0]["level"], "red");
    assert!(rows[0]["working_days_left"].as_i64().unwrap() < 0, "{red}");
    let yellow = admin(&hall, &["warnings", "list", "--level", "yellow"], &[]).await;
    assert!(yellow.ok, "{}", yellow.stderr);
    assert!(
        yellow.stdout.contains("0 red, 0 yellow"),
        "{}",
        yellow.stdout
    );
    let elsewhere = admin(
        &hall,
        &["warnings", "list", "--hall", "nanhai.elsewhere", "--json"],
        &[],
    )
    .await
    .json();
    assert_eq!(elsewhere, serde_json::json!([]));
    let table = admin(&hall, &["warnings", "list"], &[]).await;
    assert!(table.ok, "{}", table.stderr);
    assert!(
        table.stdout.contains(&number) && table.stdout.contains("1 red, 0 yellow"),
        "{}",
        table.stdout
    );
    let bad = admin(&hall, &["warnings", "list", "--hall", "not a node"], &[]).await;
    assert!(
        !bad.ok && bad.stderr.contains("bad_origin"),
        "{}",
        bad.stderr
    );
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_print_the_code_and_exit_non_zero() {
    let hall = start().await;
    let wrong = admin(
        &hall,
        &["staff", "list"],
        &[("ONEWINDOW_PASSWORD", "not-the-password")],
    )
    .await;
    assert!(!wrong.ok);
    assert!(wrong.stderr.contains("bad_credentials"), "{}", wrong.stderr);
    assert!(
        wrong.stderr.contains("用户名或密码错误"),
        "{}",
        wrong.stderr
    );
    assert!(wrong.stdout.is_empty(), "{}", wrong.stdout);

    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let good = CaseNumber::new("NH", date, 42).unwrap().to_string();
    let check = good.chars().last().unwrap();
    let typo_check = if check == '0' { '1' } else { '0' };
    let typo = format!("{}{typo_check}", &good[..good.len() - 1]);
    let shown = admin(&hall, &["case", "show", &typo], &[]).await;
    assert!(!shown.ok);
    assert!(
        shown.stderr.contains("case_number_check"),
        "{}",
        shown.stderr
    );
    hall.node.stop().await;
}

/// The starter catalogue's folder in the repository.
fn starter_folder() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/catalogue").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_files_are_checked_exported_compared_and_published() {
    let hall = start().await;
    let ok = admin(&hall, &["catalogue", "validate", &starter_folder()], &[]).await;
    assert!(ok.ok && ok.stdout.starts_with("valid: "), "{}", ok.stderr);

    // A file that breaks a rule is refused with its code and the file.
    let broken = hall.dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    let mut text =
        std::fs::read_to_string(format!("{}/00-departments.toml", starter_folder())).unwrap();
    text.push_str(
        &std::fs::read_to_string(format!("{}/10-public-security.toml", starter_folder())).unwrap(),
    );
    std::fs::write(broken.join("a.toml"), &text).unwrap();
    std::fs::write(broken.join("b.toml"), "[[matters]]\ncode = \"NH-X\"\n").unwrap();
    let bad = admin(
        &hall,
        &["catalogue", "validate", broken.to_str().unwrap()],
        &[],
    )
    .await;
    assert!(!bad.ok);
    assert!(
        bad.stderr.starts_with("error: catalogue_invalid: ") && bad.stderr.contains("b.toml"),
        "{}",
        bad.stderr
    );

    // Exported, the version in use reads back unchanged.
    let dir = hall.dir.path().join("exported");
    let d = dir.to_str().unwrap();
    let exported = admin(&hall, &["catalogue", "export", "--out", d], &[]).await;
    assert!(exported.ok, "{}", exported.stderr);
    assert!(dir.join("00-departments.toml").exists());
    let same = admin(&hall, &["catalogue", "diff", "1", d], &[]).await;
    assert!(same.ok, "{}", same.stderr);
    assert_eq!(same.stdout.trim(), "no changes");
    let unchanged = admin(&hall, &["catalogue", "publish", d], &[]).await;
    assert!(!unchanged.ok);
    assert!(
        unchanged.stderr.contains("catalogue_unchanged"),
        "{}",
        unchanged.stderr
    );

    // One matter renamed in its file: the diff names it and the field,
    // and publishing makes a new version with the matter's version raised.
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("code = \"NH-GA-001\"")
        })
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let renamed = text.replacen(
        "name_en = \"Household registration of a newborn\"",
        "name_en = \"Registration of a newborn\"",
        1,
    );
    assert_ne!(text, renamed, "the exported file names the matter");
    std::fs::write(&file, renamed).unwrap();
    let diff = admin(&hall, &["catalogue", "diff", "1", d, "--json"], &[])
        .await
        .json();
    assert_eq!(diff.as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(diff[0]["code"], "NH-GA-001");
    assert_eq!(diff[0]["change"], "changed");
    assert_eq!(
        diff[0]["fields"][0],
        "name_en: Household registration of a newborn -> Registration of a newborn"
    );
    let published = admin(&hall, &["catalogue", "publish", d], &[]).await;
    assert!(published.ok, "{}", published.stderr);
    assert!(
        published.stdout.contains("version: 1 -> 2")
            && published.stdout.contains("published catalogue version 2 ")
            && published.stdout.contains("replacing version 1"),
        "{}",
        published.stdout
    );
    let shown = admin(&hall, &["catalogue", "show", "NH-GA-001", "--json"], &[])
        .await
        .json();
    assert_eq!(shown["name_en"], "Registration of a newborn");
    assert_eq!(shown["version"], 2);
    assert_eq!(hall.node.node.catalogue().version, 2);
    let kept = admin(
        &hall,
        &[
            "audit",
            "actions",
            "--action",
            "catalogue_published",
            "--json",
        ],
        &[],
    )
    .await
    .json();
    assert_eq!(kept.as_array().unwrap().len(), 1, "{kept}");
    assert_eq!(kept[0]["target"], "2");
    assert_eq!(kept[0]["actor"], "admin");
    assert_eq!(kept[0]["role"], "admin");
    let missing = admin(&hall, &["catalogue", "show", "NH-XX-999"], &[]).await;
    assert!(!missing.ok);
    assert!(
        missing.stderr.contains("unknown_matter"),
        "{}",
        missing.stderr
    );
    hall.node.stop().await;
}

/// A clerk's session at `base` (created by the administrator).
async fn clerk_at(base: &str, password: &str) -> onewindow_tests::Api {
    let admin_api = onewindow_tests::Api::login(base, "admin", password).await;
    onewindow_tests::hall::ensure_staff(admin_api.client(), "clerk1", "clerk1", "clerk", None)
        .await;
    onewindow_tests::Api::login(base, "clerk1", onewindow_tests::STAFF_PASSWORD).await
}

/// The guide of a matter the hall at `api` receives, if it does.
async fn guide(api: &onewindow_tests::Api, code: &str) -> Option<Value> {
    let cat = api.get_ok("/api/v1/catalogue").await;
    cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == code)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegation_revoked_from_a_date_is_refused_at_the_window_from_that_day() {
    let clock = std::sync::Arc::new(node::service::TestClock::at(onewindow_tests::START_MS));
    let hall = start_with(clock.clone()).await;
    let base = hall.node.url();
    for (args, code) in [
        (
            [
                "delegation",
                "revoke",
                "NH-GA-001",
                "--tier",
                "city",
                "--receive",
            ],
            "unknown_tier",
        ),
        (
            [
                "delegation",
                "revoke",
                "NH-XX-999",
                "--tier",
                "district",
                "--receive",
            ],
            "unknown_matter",
        ),
    ] {
        let r = admin(&hall, &args, &[]).await;
        assert!(!r.ok);
        assert!(
            r.stderr.starts_with(&format!("error: {code}: ")),
            "{}",
            r.stderr
        );
    }
    assert_eq!(hall.node.node.catalogue().version, 1, "nothing published");

    // START_MS is 2026-11-23: the district stops receiving from the 24th.
    let revoke = [
        "delegation",
        "revoke",
        "NH-GA-001",
        "--tier",
        "district",
        "--receive",
        "--from",
        "2026-11-24",
    ];
    let r = admin(&hall, &revoke, &[]).await;
    assert!(r.ok, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("until 2026-11-23, then receive township;"),
        "{}",
        r.stdout
    );
    let again = admin(&hall, &revoke, &[]).await;
    assert!(again.ok, "{}", again.stderr);
    assert!(
        again.stdout.contains("nothing published"),
        "{}",
        again.stdout
    );
    assert_eq!(hall.node.node.catalogue().version, 2);

    let clerk = clerk_at(&base, PASSWORD).await;
    let g = guide(&clerk, "NH-GA-001")
        .await
        .expect("still received today");
    let today = clerk
        .post(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&g, "11010519491231002X"),
        )
        .await;
    assert!(today.0 < 300, "{today:?}");

    clock.advance(24 * 3600 * 1000);
    let clerk = clerk_at(&base, PASSWORD).await;
    assert!(guide(&clerk, "NH-GA-001").await.is_none());
    let (status, body) = clerk
        .post(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&g, "11010519491231002X"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("matter_not_delegated"), "{body}");
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matter_granted_to_villages_is_taken_there_and_refused_once_revoked() {
    const V: &str = "nanhai.guicheng.xiaping";
    let t = onewindow_tests::tree(&["nanhai", "nanhai.guicheng", V]).await;
    let url = t.url("nanhai");
    let pw = onewindow_tests::ADMIN_PASSWORD;
    let clerk = t.staff(V, "xp.li", "clerk", None).await;
    assert!(
        guide(&clerk, "NH-GA-001").await.is_none(),
        "villages do not take it"
    );
    let before = t.node(V).node.catalogue().version;

    let grant = admin_at(
        &url,
        pw,
        &[
            "delegation",
            "grant",
            "NH-GA-001",
            "--tier",
            "village",
            "--receive",
        ],
        &[],
    )
    .await;
    assert!(grant.ok, "{}", grant.stderr);
    assert!(
        grant.stdout.contains("receive district,township,village;"),
        "{}",
        grant.stdout
    );
    t.eventually(60, "the new version at the village", || async {
        (t.node(V).node.catalogue().version > before).then_some(())
    })
    .await;
    let g = guide(&clerk, "NH-GA-001")
        .await
        .expect("the village takes it now");
    let (status, body) = clerk
        .post(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&g, "11010519491231002X"),
        )
        .await;
    assert!(status < 300, "{status} {body}");
    let number = serde_json::from_str::<Value>(&body).unwrap()["case_number"]
        .as_str()
        .unwrap()
        .to_owned();

    // The district finds it by the township's subtree and by the applicant.
    let found = t
        .eventually(60, "the village's case at the district", || async {
            let r = admin_at(
                &url,
                pw,
                &["case", "search", "--hall", "nanhai.guicheng", "--json"],
                &[],
            )
            .await
            .json();
            (r.as_array().unwrap().len() == 1).then_some(r)
        })
        .await;
    assert_eq!(found[0]["number"], number.as_str());
    let by_id = admin_at(
        &url,
        pw,
        &["case", "search", "--applicant", "11010519491231002x"],
        &[],
    )
    .await;
    assert!(by_id.ok, "{}", by_id.stderr);
    assert!(
        by_id.stdout.contains(&number)
            && by_id.stdout.contains(V)
            && by_id.stdout.ends_with("1 case\n"),
        "{}",
        by_id.stdout
    );
    let other = admin_at(
        &url,
        pw,
        &["case", "search", "--hall", "nanhai.dali", "--json"],
        &[],
    )
    .await
    .json();
    assert_eq!(other.as_array().unwrap().len(), 0);
    let bad = admin_at(&url, pw, &["case", "search", "--applicant", "12ab"], &[]).await;
    assert!(!bad.ok);
    assert!(bad.stderr.contains("bad_query"), "{}", bad.stderr);
    // At the township, a search is of its own subtree too.
    let at_township = admin_at(
        &t.url("nanhai.guicheng"),
        pw,
        &["case", "search", "--json"],
        &[],
    )
    .await
    .json();
    assert!(
        at_township
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["number"] == number.as_str())
    );
    // Recalled to the district with a reason; only the root recalls.
    let refused = admin_at(
        &t.url("nanhai.guicheng"),
        pw,
        &["case", "recall", &number, "--reason", "督办"],
        &[],
    )
    .await;
    assert!(!refused.ok);
    let recalled = admin_at(
        &url,
        pw,
        &["case", "recall", &number, "--reason", "群众投诉，区级督办"],
        &[],
    )
    .await;
    assert!(recalled.ok, "{}", recalled.stderr);
    assert!(
        recalled.stdout.contains("recall sent"),
        "{}",
        recalled.stdout
    );
    t.eventually(60, "the case held at the district", || async {
        t.node("nanhai")
            .node
            .store
            .case(&number)
            .await
            .unwrap()
            .filter(|c| c.holder.as_deref() == Some("nanhai"))
    })
    .await;

    let granted = t.node(V).node.catalogue().version;
    let revoke = admin_at(
        &url,
        pw,
        &[
            "delegation",
            "revoke",
            "NH-GA-001",
            "--tier",
            "village",
            "--receive",
        ],
        &[],
    )
    .await;
    assert!(revoke.ok, "{}", revoke.stderr);
    t.eventually(60, "the revoking version at the village", || async {
        (t.node(V).node.catalogue().version > granted).then_some(())
    })
    .await;
    let (status, body) = clerk
        .post(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&g, "11010519491231002X"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("matter_not_delegated"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_changed_by_hand_at_a_village_is_named_by_the_audit_at_the_district() {
    const V: &str = "nanhai.guicheng.xiaping";
    let t = onewindow_tests::tree(&["nanhai", "nanhai.guicheng", V]).await;
    let pw = onewindow_tests::ADMIN_PASSWORD;
    // The administrator's login and logout at the village: entries of its
    // own chain, which travel up.
    let listed = admin_at(&t.url(V), pw, &["audit", "actions", "--json"], &[]).await;
    assert!(listed.json().is_array());
    let village = &t.node(V).node;
    let head = village.store.own_head().await.0;
    assert!(head >= 2, "the village wrote {head} entries");
    t.eventually(60, "the district to hold the village's entries", || async {
        let heads = t.node("nanhai").node.store.origin_heads().await.unwrap();
        let held = heads
            .iter()
            .find(|(o, _)| o.as_str() == V)
            .map_or(0, |(_, h)| h.0);
        (held >= head).then_some(())
    })
    .await;
    let clean = admin_at(&t.url("nanhai"), pw, &["audit", "verify", "--json"], &[])
        .await
        .json();
    assert_eq!(clean["reported"], serde_json::json!([]), "{clean}");

    // Someone with the village's database changes one byte of its first
    // entry, after it came up: the district's copy is intact.
    let url = &t.nodes[V].config.database.url;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let body: Vec<u8> =
        sqlx::query_scalar("SELECT body_bin FROM events WHERE origin = $1 AND origin_seq = 1")
            .bind(V)
            .fetch_one(&pool)
            .await
            .unwrap();
    let mut changed = body.clone();
    changed[0] ^= 0x01;
    sqlx::query("UPDATE events SET body_bin = $1 WHERE origin = $2 AND origin_seq = 1")
        .bind(changed)
        .bind(V)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    // The village's own check finds it within a second and reports it up.
    let report = t
        .eventually(60, "the district to hear of the break", || async {
            let r = admin_at(&t.url("nanhai"), pw, &["audit", "verify", "--json"], &[]).await;
            let v: Value = serde_json::from_str(&r.stdout).ok()?;
            (!v["reported"].as_array()?.is_empty()).then_some(v)
        })
        .await;
    let reported = report["reported"].as_array().unwrap();
    assert_eq!(reported.len(), 1, "{report}");
    assert_eq!(reported[0]["hall"], V);
    assert_eq!(reported[0]["origin"], V);
    assert_eq!(reported[0]["seq"], 1);
    assert_eq!(reported[0]["kind"], "hash_mismatch");
    // The district's own copy of the village's chain is whole.
    let own_copy = report["origins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["origin"] == V)
        .unwrap();
    assert_eq!(own_copy["break"], Value::Null, "{report}");
    assert_eq!(report["broken"], 0);

    let text = admin_at(&t.url("nanhai"), pw, &["audit", "verify"], &[]).await;
    assert!(!text.ok, "a reported break exits non-zero: {}", text.stdout);
    assert!(text.stdout.contains(&format!("{V}#1")), "{}", text.stdout);
    assert!(
        text.stdout.contains("BROKEN (hash_mismatch)"),
        "{}",
        text.stdout
    );
    assert!(
        text.stderr
            .contains(&format!("halls below nanhai reported 1 break(s) in their stored logs, the first by {V} at {V}#1 (hash_mismatch)")),
        "{}",
        text.stderr
    );
    // The township, between them, hears of it too; the village reports the
    // break once, however often it checks.
    let at_township = admin_at(
        &t.url("nanhai.guicheng"),
        pw,
        &["audit", "verify", "--hall", V, "--json"],
        &[],
    )
    .await;
    let v: Value = serde_json::from_str(&at_township.stdout).unwrap();
    assert_eq!(v["reported"].as_array().unwrap().len(), 1, "{v}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept = village.store.node_audit_records(Some(V)).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].2.action, "chain_broken");
    assert_eq!(kept[0].2.target, format!("{V}#1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_answers_a_bad_rating_from_the_command_line() {
    let clock = std::sync::Arc::new(node::service::TestClock::at(onewindow_tests::START_MS));
    let hall = start_with(clock.clone()).await;
    let base = hall.node.url();
    // An immediate matter: completed at the window.
    let number = receive(&hall, 1, true).await.remove(0);
    let citizen = onewindow_tests::Api::anonymous(&base);
    citizen
        .post_ok(
            &format!("/api/v1/cases/{number}/rating"),
            &serde_json::json!({"last4": "002X", "score": 4, "channel": "web", "comment": "说明不清楚"}),
        )
        .await;
    // Overdue after fifteen working days: red, as a bad rating.
    clock.advance(30 * 86_400_000);
    let table = admin(&hall, &["warnings", "list"], &[]).await;
    assert!(table.ok, "{}", table.stderr);
    assert!(
        table.stdout.contains("bad rating") && table.stdout.contains(&number),
        "{}",
        table.stdout
    );
    let as_clerk = [("ONEWINDOW_USER", "clerk1")];
    let empty = admin_at(
        &base,
        onewindow_tests::STAFF_PASSWORD,
        &["case", "follow-up", &number, "--answer", " "],
        &as_clerk,
    )
    .await;
    assert!(
        !empty.ok && empty.stderr.contains("empty_field"),
        "{}",
        empty.stderr
    );
    let answered = admin_at(
        &base,
        onewindow_tests::STAFF_PASSWORD,
        &[
            "case",
            "follow-up",
            &number,
            "--answer",
            "已回访，材料说明已改写",
        ],
        &as_clerk,
    )
    .await;
    assert!(answered.ok, "{}", answered.stderr);
    assert!(
        answered.stdout.contains("its follow-up is closed"),
        "{}",
        answered.stdout
    );
    let none = admin(&hall, &["warnings", "list", "--json"], &[])
        .await
        .json();
    assert_eq!(none, serde_json::json!([]));
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_counts_a_period_as_tables_csv_and_json() {
    let hall = start().await;
    receive_cases(&hall, 3).await;
    let r = admin(&hall, &["report", "--json"], &[]).await.json();
    assert_eq!(r["cases"], 3, "{r}");
    assert_eq!(r["immediate"], 0, "{r}");
    assert_eq!(r["immediate_percent"], 0.0, "{r}");
    assert_eq!(r["to"], "2026-11-23", "the period ends today: {r}");
    assert_eq!(r["from"], "2026-10-25", "and is 30 days long: {r}");
    assert_eq!(r["by_tier"][0]["key"], "district", "{r}");
    assert_eq!(r["by_tier"][0]["cases"], 3, "{r}");
    assert_eq!(r["by_hall"][0]["key"], "nanhai", "{r}");
    assert_eq!(r["by_hall"][0]["cases"], 3, "{r}");
    assert_eq!(r["by_matter"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["by_matter"][0]["cases"], 3, "{r}");
    assert_eq!(r["by_state"][0]["key"], "accepted", "{r}");
    assert_eq!(r["ratings"], serde_json::json!([0, 0, 0, 0, 0]), "{r}");
    // A period without these cases counts none.
    let before = admin(
        &hall,
        &[
            "report",
            "--from",
            "2026-01-01",
            "--to",
            "2026-11-22",
            "--json",
        ],
        &[],
    )
    .await
    .json();
    assert_eq!(before["cases"], 0, "{before}");
    assert_eq!(before["immediate_percent"], serde_json::Value::Null);

    let text = admin(&hall, &["report"], &[]).await;
    assert!(text.ok, "{}", text.stderr);
    assert!(
        text.stdout.contains("cases 3, immediate 0 (0.0%)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("HALL"), "{}", text.stdout);
    let csv = admin(&hall, &["report", "--csv"], &[]).await;
    assert!(csv.ok, "{}", csv.stderr);
    let mut lines = csv.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("section,key,name_zh,name_en,cases,immediate")
    );
    assert!(
        csv.stdout
            .lines()
            .any(|l| l.starts_with("hall,nanhai,") && l.ends_with(",3,0")),
        "{}",
        csv.stdout
    );

    for (args, code) in [
        (vec!["report", "--from", "2026-13-01"], "bad_query"),
        (
            vec!["report", "--from", "2025-01-01", "--to", "2026-11-23"],
            "bad_period",
        ),
        (
            vec!["report", "--from", "2026-11-23", "--to", "2026-11-01"],
            "bad_period",
        ),
        (
            vec!["report", "--hall", "foshan.shunde"],
            "hall_out_of_scope",
        ),
    ] {
        let refused = admin(&hall, &args, &[]).await;
        assert!(
            !refused.ok && refused.stderr.contains(code),
            "{args:?}: {}",
            refused.stderr
        );
    }
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_appeals_a_warning_and_the_district_revokes_it() {
    const V: &str = "nanhai.guicheng.xiaping";
    // A running clock: the links' timers need time to pass.
    let clock = std::sync::Arc::new(node::service::StartedClock::at(onewindow_tests::START_MS));
    let t = onewindow_tests::tree_at(&["nanhai", "nanhai.guicheng", V], clock.clone()).await;
    let pw = onewindow_tests::ADMIN_PASSWORD;
    // A clerk at the village receives a committed matter the village
    // decides: the village holds the case.
    let clerk = t.staff(V, "clerk1", "clerk", None).await;
    let cat = clerk.get_ok("/api/v1/catalogue").await;
    let matter = cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["decided_here"] == true && m["immediate"] == false)
        .unwrap()
        .clone();
    let r = clerk
        .post_ok(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&matter, "11010519491231002X"),
        )
        .await;
    let number = r["case_number"].as_str().unwrap().to_owned();
    let at = |id: &str, args: &'static [&'static str]| {
        let url = t.url(id);
        async move { admin_at(&url, pw, args, &[]).await }
    };

    // Days pass untouched until the case is yellow at the village.
    let mut days = 0;
    let row = loop {
        let rows = at(V, &["warnings", "list", "--json"]).await.json();
        if let Some(r) = rows.as_array().unwrap().first() {
            break r.clone();
        }
        days += 1;
        assert!(days < 15, "never yellow");
        clock.advance(86_400_000);
    };
    assert_eq!(row["case_number"], number.as_str(), "{row}");
    let level = row["level"].as_str().unwrap().to_owned();
    assert_eq!(row["status"], "issued", "{row}");

    // The village clerk appeals it from the command line.
    let as_clerk = [("ONEWINDOW_USER", "clerk1")];
    let appealed = admin_at(
        &t.url(V),
        onewindow_tests::STAFF_PASSWORD,
        &[
            "warnings",
            "appeal",
            &number,
            "--level",
            &level,
            "--reason",
            "村服务站停电两天，系统无法登录",
        ],
        &as_clerk,
    )
    .await;
    assert!(appealed.ok, "{}", appealed.stderr);
    assert!(
        appealed.stdout.contains("appealed; the district decides"),
        "{}",
        appealed.stdout
    );
    // It reaches the district, where only the district decides.
    t.eventually(60, "the appeal at the district", || async {
        let rows = at(
            "nanhai",
            &["warnings", "list", "--status", "appealed", "--json"],
        )
        .await
        .json();
        (rows.as_array().unwrap().len() == 1).then_some(())
    })
    .await;
    let township = admin_at(
        &t.url("nanhai.guicheng"),
        pw,
        &[
            "warnings", "decide", &number, "--level", &level, "--revoke", "--reason", "x",
        ],
        &[],
    )
    .await;
    assert!(
        !township.ok && township.stderr.contains("not_the_root"),
        "{}",
        township.stderr
    );
    let decided = admin_at(
        &t.url("nanhai"),
        pw,
        &[
            "warnings",
            "decide",
            &number,
            "--level",
            &level,
            "--revoke",
            "--reason",
            "经核实停电属实，撤销预警",
        ],
        &[],
    )
    .await;
    assert!(decided.ok, "{}", decided.stderr);
    assert!(decided.stdout.contains("is revoked"), "{}", decided.stdout);

    // The village writes the decision into the case; it travels back up.
    for id in [V, "nanhai"] {
        t.eventually(60, "the decision in the case", || async {
            let rows = at(id, &["warnings", "list", "--json"]).await.json();
            let row = rows.as_array().unwrap().first()?.clone();
            (row["status"] == "revoked").then_some(())
        })
        .await;
    }
    // (Sessions last a working day: the clerk logs in again.)
    let clerk =
        onewindow_tests::Api::login(&t.url(V), "clerk1", onewindow_tests::STAFF_PASSWORD).await;
    let rec = clerk
        .get_ok(&format!("/api/v1/cases/{number}/record"))
        .await;
    let last = rec["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"]["type"], "warning_decided", "{last}");
    assert_eq!(last["actor"]["node"], V, "the holder writes it: {last}");
    assert_eq!(last["event"]["decided_by"], "admin@nanhai", "{last}");
    let table = at("nanhai", &["warnings", "list"]).await;
    assert!(table.ok, "{}", table.stderr);
    assert!(
        table.stdout.contains("revoked by admin@nanhai")
            && table
                .stdout
                .contains("0 red, 0 yellow; 0 pending, 0 escalated, 0 appealed, 1 revoked"),
        "{}",
        table.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_case_is_reopened_from_the_command_line() {
    let hall = start().await;
    let number = receive(&hall, 1, true).await.remove(0);
    let empty = admin(&hall, &["case", "reopen", &number, "--reason", " "], &[]).await;
    assert!(
        !empty.ok && empty.stderr.contains("empty_field"),
        "{}",
        empty.stderr
    );
    let done = admin(
        &hall,
        &["case", "reopen", &number, "--reason", "行政复议撤销原决定"],
        &[],
    )
    .await;
    assert!(done.ok, "{}", done.stderr);
    assert!(done.stdout.contains("reopened"), "{}", done.stdout);
    let shown = admin(&hall, &["case", "show", &number, "--json"], &[])
        .await
        .json();
    assert_eq!(shown["view"]["state"], "accepted", "{shown}");
    let again = admin(
        &hall,
        &["case", "reopen", &number, "--reason", "again"],
        &[],
    )
    .await;
    assert!(
        !again.ok && again.stderr.contains("nothing_to_reopen"),
        "{}",
        again.stderr
    );
    let logged = admin(
        &hall,
        &["audit", "actions", "--action", "case_reopened", "--json"],
        &[],
    )
    .await
    .json();
    assert_eq!(logged[0]["target"], number.as_str(), "{logged}");
    assert_eq!(logged[0]["detail"], "行政复议撤销原决定", "{logged}");
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_export_is_checked_without_the_node_holds_no_personal_data_and_names_a_changed_line()
 {
    let hall = start().await;
    let numbers = receive_cases(&hall, 3).await;
    let file = hall.dir.path().join("audit.jsonl");
    let f = file.to_str().unwrap();
    let made = admin(&hall, &["audit", "export", "--out", f], &[]).await;
    assert!(made.ok, "{}", made.stderr);
    assert!(made.stdout.contains("entries of"), "{}", made.stdout);
    let text = std::fs::read_to_string(&file).unwrap();
    // The cases are there, their applicants are not (the personal
    // sections are withheld; their hashes stand in for them).
    assert!(text.contains(&numbers[0]), "{text}");
    let id = "11010519491231002X";
    assert!(
        !text.contains(id) && !text.contains(&hex::encode(id)),
        "the export holds an ID number"
    );

    // Checked by anyone, with no node to ask.
    let nowhere = "http://127.0.0.1:9";
    let ok = admin_at(nowhere, "-", &["audit", "verify", "--file", f], &[]).await;
    assert!(ok.ok, "{}", ok.stderr);
    assert!(ok.stdout.contains(", 0 broken"), "{}", ok.stdout);

    // One entry's body changed in the file: named at its place.
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let i = lines.iter().position(|l| l.contains(&numbers[1])).unwrap();
    let mut e: Value = serde_json::from_str(&lines[i]).unwrap();
    let (origin, seq) = (
        e["origin"].as_str().unwrap().to_owned(),
        e["seq"].as_u64().unwrap(),
    );
    let body = e["body"].as_str().unwrap().to_owned();
    let flipped = if body.ends_with('0') { "1" } else { "0" };
    e["body"] = Value::String(format!("{}{flipped}", &body[..body.len() - 1]));
    lines[i] = e.to_string();
    let changed = hall.dir.path().join("changed.jsonl");
    std::fs::write(&changed, lines.join("\n")).unwrap();
    let bad = admin_at(
        nowhere,
        "-",
        &[
            "audit",
            "verify",
            "--file",
            changed.to_str().unwrap(),
            "--json",
        ],
        &[],
    )
    .await;
    assert!(!bad.ok, "{}", bad.stdout);
    let r: Value = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(r["broken"], 1, "{r}");
    let o = r["origins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["origin"] == origin.as_str())
        .unwrap();
    assert_eq!(o["break"]["seq"], seq, "{o}");
    assert_eq!(o["break"]["kind"], "hash_mismatch", "{o}");

    // The last line cut off: the chain ends before the head the node held.
    let cut = hall.dir.path().join("cut.jsonl");
    std::fs::write(
        &cut,
        text.lines().collect::<Vec<_>>()[..text.lines().count() - 1].join("\n"),
    )
    .unwrap();
    let short = admin_at(
        nowhere,
        "-",
        &["audit", "verify", "--file", cut.to_str().unwrap()],
        &[],
    )
    .await;
    assert!(!short.ok, "{}", short.stdout);
    assert!(short.stdout.contains("(gap)"), "{}", short.stdout);
    assert!(short.stderr.contains("broken in 1 of"), "{}", short.stderr);
    hall.node.stop().await;
}

/// The cases a hall's clerk opens for the move below: one its hall decides
/// (accepted, open), one decided above it (escalated), one waiting for the
/// applicant's corrections; their numbers in that order.
async fn open_cases(clerk: &onewindow_tests::Api) -> [String; 3] {
    let cat = clerk.get_ok("/api/v1/catalogue").await;
    let matters = cat["matters"].as_array().unwrap();
    let pick = |here: bool| {
        matters
            .iter()
            .find(|m| {
                m["decided_here"] == here
                    && m["immediate"] == false
                    && m["co_departments"].as_array().is_none_or(|c| c.is_empty())
            })
            .unwrap()
            .clone()
    };
    let (own, up) = (pick(true), pick(false));
    let person = "11010519491231002X";
    let mut numbers = Vec::new();
    for (m, materials) in [(&own, true), (&up, true), (&own, false)] {
        let mut sub = onewindow_tests::complete_submission(m, person);
        if !materials {
            sub["materials"] = serde_json::json!([]);
        }
        let r = clerk.post_ok("/api/v1/cases", &sub).await;
        let expected = if materials {
            "receipt"
        } else {
            "correction_notice"
        };
        assert_eq!(r["outcome"], expected, "{r}");
        numbers.push(r["case_number"].as_str().unwrap().to_owned());
    }
    numbers.try_into().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_moves_to_another_township_and_its_open_cases_follow_it() {
    const OLD: &str = "nanhai.guicheng.xiaping";
    const NEW: &str = "nanhai.dali.xiaping";
    let t = onewindow_tests::tree_with_ca_at_root(&[
        "nanhai",
        "nanhai.guicheng",
        OLD,
        "nanhai.dali",
        NEW,
    ])
    .await;
    let url = t.url("nanhai");
    let pw = onewindow_tests::ADMIN_PASSWORD;
    let clerk = t.staff(OLD, "xp.li", "clerk", None).await;
    let cases = open_cases(&clerk).await;
    // A clerk the district keeps for the village.
    let kept = admin_at(
        &url,
        pw,
        &[
            "staff",
            "add",
            "--hall",
            OLD,
            "--username",
            "xp.wang",
            "--name",
            "王芳",
            "--role",
            "clerk",
            "--new-password",
            "a-long-password-1",
        ],
        &[],
    )
    .await;
    assert!(kept.ok, "{}", kept.stderr);
    for n in &cases {
        t.eventually(60, "the village's cases at the district", || async {
            t.node("nanhai").node.store.case(n).await.unwrap()
        })
        .await;
    }

    // Refusals first: only the root, never to a hall below, never twice.
    let at_township = admin_at(
        &t.url("nanhai.guicheng"),
        pw,
        &["node", "decommission", OLD, "--to", NEW, "--reason", "x"],
        &[],
    )
    .await;
    assert!(!at_township.ok);
    assert!(
        at_township.stderr.contains("not_the_root"),
        "{}",
        at_township.stderr
    );
    let township = admin_at(
        &url,
        pw,
        &[
            "node",
            "decommission",
            "nanhai.guicheng",
            "--to",
            "nanhai.dali",
            "--reason",
            "x",
        ],
        &[],
    )
    .await;
    assert!(!township.ok);
    assert!(
        township.stderr.contains("hall_has_children"),
        "{}",
        township.stderr
    );

    let moved = admin_at(
        &url,
        pw,
        &[
            "node",
            "move",
            OLD,
            "--to",
            "nanhai.dali",
            "--reason",
            "行政区划调整",
        ],
        &[],
    )
    .await;
    assert!(moved.ok, "{}", moved.stderr);
    assert!(
        moved.stdout.contains(NEW)
            && moved.stdout.contains("enrol --token")
            && moved.stdout.contains("xp.wang"),
        "{}",
        moved.stdout
    );
    // The kept clerk works at the new hall from there. The account is
    // awaited in the hall's store, then used once: logging in again and
    // again until it arrives would lock it (five failures in a row), which
    // a busy machine reaches before the account comes.
    t.eventually(60, "the kept clerk at the new hall", || async {
        t.node(NEW)
            .node
            .store
            .staff("xp.wang")
            .await
            .unwrap()
            .filter(|s| s.active)
    })
    .await;
    onewindow_tests::Api::anonymous(&t.url(NEW))
        .client()
        .login("xp.wang", "a-long-password-1")
        .await
        .expect("the kept clerk logs in at the new hall");
    let again = admin_at(
        &url,
        pw,
        &[
            "node",
            "decommission",
            OLD,
            "--to",
            NEW,
            "--reason",
            "again",
        ],
        &[],
    )
    .await;
    assert!(!again.ok);
    assert!(again.stderr.contains("hall_closed"), "{}", again.stderr);

    // The old hall accepts nothing more once it knows.
    t.eventually(30, "the old hall knows it is closed", || async {
        t.node(OLD).node.is_closed().then_some(())
    })
    .await;
    let cat = clerk.get_ok("/api/v1/catalogue").await;
    let any = cat["matters"].as_array().unwrap()[0].clone();
    let (status, refused) = clerk
        .post(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&any, "11010519491231002X"),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused.contains("hall_closed"), "{refused}");

    // Every open case is served at the new hall, whole: the district's
    // events, the same state, held in the new hall's line.
    for n in &cases {
        let at_new = t
            .eventually(60, "the case at the new hall", || async {
                t.node(NEW).node.store.case(n).await.unwrap()
            })
            .await;
        let at_root = t.node("nanhai").node.store.case(n).await.unwrap().unwrap();
        assert_eq!(at_new.case.window(), NEW);
        assert_eq!(at_new.case, at_root.case, "{n}");
        assert_eq!(at_new.accepting_node, NEW);
        assert_eq!(
            at_new.case.received.accepting_node, OLD,
            "history keeps the old id"
        );
        let holder = at_new.case.holder.clone().unwrap();
        assert!(
            holder == NEW || NEW.starts_with(&format!("{holder}.")),
            "{n} held by {holder}"
        );
        let events = t.node("nanhai").node.store.case_events(n).await.unwrap();
        assert!(
            events
                .iter()
                .filter_map(|e| e.record())
                .any(|r| r.event.kind() == "handed_over"),
            "{n}"
        );
    }
    // The case decided at the village is decided at the new one, and its
    // result handed out there.
    let [own, _, _] = &cases;
    let row = t.node(NEW).node.store.case(own).await.unwrap().unwrap();
    assert_eq!(row.case.holder.as_deref(), Some(NEW));
    let dept = row.case.received.department.clone();
    let a1 = t.staff(NEW, "dl.a1", "approver", Some(&dept)).await;
    let a2 = t.staff(NEW, "dl.a2", "approver", Some(&dept)).await;
    let a3 = t.staff(NEW, "dl.a3", "approver", Some(&dept)).await;
    let applicant = row.case.received.applicant.id_number.clone();
    let act = |who: &onewindow_tests::Api, body: Value| {
        let who = who.clone();
        let path = format!("/api/v1/cases/{own}/actions");
        async move { who.post_ok(&path, &body).await }
    };
    act(&a1, serde_json::json!({"action": "start_handling"})).await;
    act(
        &a1,
        serde_json::json!({"action": "submit_for_review", "opinion": "材料齐全"}),
    )
    .await;
    act(
        &a2,
        serde_json::json!({"action": "pass_review", "opinion": "同意"}),
    )
    .await;
    act(
        &a3,
        serde_json::json!({"action": "decide", "granted": true, "opinion": "准予"}),
    )
    .await;
    act(
        &a3,
        serde_json::json!({"action": "result_ready", "result": "证明一份"}),
    )
    .await;
    let new_clerk = t.staff(NEW, "dl.li", "clerk", None).await;
    let done = act(
        &new_clerk,
        serde_json::json!({"action": "hand_out", "collector": {"by": "in_person", "document": "resident_id", "id_number": applicant, "id_checked": true}}),
    )
    .await;
    assert_eq!(done["state"], "completed", "{done}");
    t.eventually(60, "the completed case at the district", || async {
        t.node("nanhai")
            .node
            .store
            .case(own)
            .await
            .unwrap()
            .filter(|c| c.case.state.as_str() == "completed")
    })
    .await;

    // The old id is revoked once it has handed up what it held, and its
    // history stays at the district.
    t.eventually(60, "the old id revoked", || async {
        let fleet = t.node("nanhai").node.store.oversight_fleet().await.unwrap();
        fleet
            .into_iter()
            .find(|f| f.node_id == OLD && f.revoked_at_ms.is_some())
    })
    .await;
    let audit = admin_at(&url, pw, &["audit", "verify"], &[]).await;
    assert!(audit.ok, "{}{}", audit.stdout, audit.stderr);
    let actions = t
        .node("nanhai")
        .node
        .store
        .audit_actions(None, Some("hall_closed"), 10)
        .await
        .unwrap();
    assert!(actions.iter().any(|(o, _, _)| o == OLD), "{actions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_that_reaches_its_township_two_days_late_is_red_for_late_forwarding() {
    const V: &str = "nanhai.guicheng.xiaping";
    const TOWNSHIP: &str = "nanhai.guicheng";
    let clock = std::sync::Arc::new(node::service::StartedClock::at(onewindow_tests::START_MS));
    let mut t = onewindow_tests::tree_at(&["nanhai", TOWNSHIP, V], clock.clone()).await;
    let url = t.url("nanhai");
    let pw = onewindow_tests::ADMIN_PASSWORD;
    let clerk = t.staff(V, "xp.li", "clerk", None).await;
    let cat = clerk.get_ok("/api/v1/catalogue").await;
    let up = cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["decided_here"] == false
                && m["immediate"] == false
                && m["delegation"]["decide_tiers"]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!("township"))
        })
        .unwrap()
        .clone();
    // One case goes up in time.
    let on_time = clerk
        .post_ok(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&up, "11010519491231002X"),
        )
        .await["case_number"]
        .as_str()
        .unwrap()
        .to_owned();
    t.eventually(60, "the first case at the township", || async {
        t.node(TOWNSHIP).node.store.case(&on_time).await.unwrap()
    })
    .await;
    // The township is off for two days; the village accepts one more.
    t.stop(TOWNSHIP).await;
    let late = clerk
        .post_ok(
            "/api/v1/cases",
            &onewindow_tests::complete_submission(&up, "11010519491231002X"),
        )
        .await["case_number"]
        .as_str()
        .unwrap()
        .to_owned();
    clock.advance(2 * 86_400_000);
    t.restart(TOWNSHIP).await;
    let recorded = t
        .eventually(60, "the late arrival recorded at the township", || async {
            t.node(TOWNSHIP)
                .node
                .store
                .case(&late)
                .await
                .unwrap()
                .and_then(|r| r.case.late_forwarding)
        })
        .await;
    assert_eq!(recorded.from, V);
    assert_eq!(recorded.to, TOWNSHIP);
    assert!(recorded.hours >= 48, "{recorded:?}");
    let in_time = t
        .node(TOWNSHIP)
        .node
        .store
        .case(&on_time)
        .await
        .unwrap()
        .unwrap();
    assert!(in_time.case.late_forwarding.is_none());

    // The district lists it red under its own rule, and only it.
    let rows = t
        .eventually(60, "the warning at the district", || async {
            let rows = admin_at(&url, pw, &["warnings", "list", "--json"], &[])
                .await
                .json();
            // Issued once the village's own report has come up too
            // (pending until the district hears from it).
            rows.as_array()
                .unwrap()
                .iter()
                .any(|r| r["rule"] == "forwarding" && r["status"] == "issued")
                .then_some(rows)
        })
        .await;
    let forwarding: Vec<&Value> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rule"] == "forwarding")
        .collect();
    assert_eq!(forwarding.len(), 1, "{rows}");
    assert_eq!(forwarding[0]["case_number"], late.as_str());
    assert_eq!(forwarding[0]["level"], "red");
    assert_eq!(forwarding[0]["status"], "issued");
    assert_eq!(forwarding[0]["late_forwarding"]["from"], V);
    let table = admin_at(&url, pw, &["warnings", "list"], &[]).await;
    assert!(
        table.stdout.contains("forwarded late") && table.stdout.contains("h late from"),
        "{}",
        table.stdout
    );

    // Standing for more than 5 working days, it is escalated.
    clock.advance(9 * 86_400_000);
    let escalated = admin_at(
        &url,
        pw,
        &["warnings", "list", "--status", "escalated", "--json"],
        &[],
    )
    .await
    .json();
    assert!(
        escalated
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "forwarding" && r["case_number"] == late.as_str()),
        "{escalated}"
    );

    // The township that holds it appeals; the district sees it appealed.
    t.staff(TOWNSHIP, "gc.sup", "supervisor", None).await;
    let appeal = admin_at(
        &t.url(TOWNSHIP),
        onewindow_tests::STAFF_PASSWORD,
        &[
            "warnings",
            "appeal",
            &late,
            "--rule",
            "forwarding",
            "--level",
            "red",
            "--reason",
            "村级网络中断两天，已恢复",
        ],
        &[("ONEWINDOW_USER", "gc.sup")],
    )
    .await;
    assert!(appeal.ok, "{}", appeal.stderr);
    t.eventually(60, "the appeal at the district", || async {
        let rows = admin_at(
            &url,
            pw,
            &["warnings", "list", "--status", "appealed", "--json"],
            &[],
        )
        .await
        .json();
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["rule"] == "forwarding" && r["case_number"] == late.as_str())
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_decommissioned_hands_its_open_cases_to_its_neighbour() {
    const GONE: &str = "nanhai.guicheng.xiaping";
    const HEIR: &str = "nanhai.guicheng.shibei";
    let t = onewindow_tests::tree(&["nanhai", "nanhai.guicheng", GONE, HEIR]).await;
    let url = t.url("nanhai");
    let pw = onewindow_tests::ADMIN_PASSWORD;
    let clerk = t.staff(GONE, "xp.li", "clerk", None).await;
    let cases = open_cases(&clerk).await;
    for n in &cases {
        t.eventually(60, "the village's cases at the district", || async {
            t.node("nanhai").node.store.case(n).await.unwrap()
        })
        .await;
    }
    let closed = admin_at(
        &url,
        pw,
        &[
            "node",
            "decommission",
            GONE,
            "--to",
            HEIR,
            "--reason",
            "并入石北村",
        ],
        &[],
    )
    .await;
    assert!(closed.ok, "{}", closed.stderr);
    assert!(closed.stdout.contains("closed"), "{}", closed.stdout);
    // The township held some of them all along: they reach the neighbour
    // through it, whole, and are served there.
    for n in &cases {
        let at_heir = t
            .eventually(60, "the case at the neighbour", || async {
                t.node(HEIR).node.store.case(n).await.unwrap()
            })
            .await;
        assert_eq!(at_heir.case.window(), HEIR);
        let at_township = t
            .eventually(60, "the handover at the township", || async {
                t.node("nanhai.guicheng")
                    .node
                    .store
                    .case(n)
                    .await
                    .unwrap()
                    .filter(|r| r.case.window() == HEIR)
            })
            .await;
        // The neighbour gets the case with its personal data: the root
        // hands it over once it holds every section.
        assert!(
            !at_heir.case.received.applicant.id_number.is_empty(),
            "{n}: {:?}",
            at_heir.case.received.applicant
        );
        assert_eq!(at_township.case.window(), at_heir.case.window(), "{n}");
    }
    t.eventually(60, "the closed village revoked", || async {
        t.node("nanhai")
            .node
            .store
            .oversight_fleet()
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.node_id == GONE && f.revoked_at_ms.is_some())
    })
    .await;
    let audit = admin_at(
        &url,
        pw,
        &[
            "audit",
            "actions",
            "--action",
            "hall_decommissioned",
            "--json",
        ],
        &[],
    )
    .await;
    assert!(audit.ok, "{}", audit.stderr);
    assert!(audit.stdout.contains("并入石北村"), "{}", audit.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warning_of_a_village_that_is_off_is_pending_until_it_is_heard_from() {
    const V: &str = "nanhai.guicheng.xiaping";
    let clock = std::sync::Arc::new(node::service::StartedClock::at(onewindow_tests::START_MS));
    let mut t = onewindow_tests::tree_at(&["nanhai", "nanhai.guicheng", V], clock.clone()).await;
    let url = t.url("nanhai");
    let pw = onewindow_tests::ADMIN_PASSWORD;
    let clerk = t.staff(V, "xp.li", "clerk", None).await;
    let [own, _, _] = open_cases(&clerk).await;
    let row = t
        .eventually(60, "the village's case at the district", || async {
            t.node("nanhai").node.store.case(&own).await.unwrap()
        })
        .await;
    assert_eq!(row.case.holder.as_deref(), Some(V));
    let due = chrono::NaiveDate::parse_from_str(row.committed_due.as_deref().unwrap(), "%Y-%m-%d")
        .unwrap();
    // The village goes off; two days after its committed due date the
    // case is red at the district, which has not heard from the village
    // since.
    t.stop(V).await;
    let today = t.node("nanhai").node.today();
    clock.advance((due - today).num_days() * 86_400_000 + 2 * 86_400_000);
    let status_of = |rows: &Value| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["case_number"] == own.as_str() && r["rule"] == "deadline")
            .map(|r| {
                (
                    r["level"].clone(),
                    r["status"].clone(),
                    r["responsible_hall"].clone(),
                )
            })
    };
    let rows = admin_at(&url, pw, &["warnings", "list", "--json"], &[])
        .await
        .json();
    assert_eq!(
        status_of(&rows),
        Some((
            serde_json::json!("red"),
            serde_json::json!("pending"),
            serde_json::json!(V)
        )),
        "{rows}"
    );
    // Once the village is heard from again, the warning is issued.
    t.restart(V).await;
    t.eventually(60, "the warning issued", || async {
        let rows = admin_at(&url, pw, &["warnings", "list", "--json"], &[])
            .await
            .json();
        status_of(&rows)
            .filter(|(_, s, _)| *s == "issued")
            .map(drop)
    })
    .await;
}

/// A printed document's seal is checked offline with the root's public key
/// alone: authentic as issued, refused with one character changed or under
/// another federation's root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_documents_seal_is_checked_offline_with_the_roots_key() {
    let t = onewindow_tests::tree(&["nanhai"]).await;
    let base = t.url("nanhai");
    let n = receive_at(&base, onewindow_tests::ADMIN_PASSWORD, 1, false)
        .await
        .remove(0);
    let clerk = onewindow_tests::Api::login(&base, "clerk1", onewindow_tests::STAFF_PASSWORD).await;
    let docs = clerk.get_ok(&format!("/api/v1/cases/{n}/documents")).await;
    let link = docs[0]["verify_url"].as_str().unwrap().to_owned();
    let root = t.signing.1.clone();
    // No node is asked: the URL given points nowhere.
    let nowhere = "http://127.0.0.1:9";
    let run = admin_at(
        nowhere,
        "",
        &["document", "verify", &link, "--root-key", &root, "--json"],
        &[],
    )
    .await;
    assert!(run.ok, "{}", run.stderr);
    let v = run.json();
    assert_eq!(v["verdict"], "authentic");
    assert_eq!(v["case_number"], n.as_str());
    assert_eq!(v["kind"], "receipt");
    assert_eq!(v["issued_by"], "nanhai");

    let seal = docs[0]["seal"].as_str().unwrap();
    let mut chars: Vec<char> = seal.chars().collect();
    let i = chars.len() - 3;
    chars[i] = if chars[i] == 'Q' { 'R' } else { 'Q' };
    let altered: String = chars.into_iter().collect();
    let run = admin_at(
        nowhere,
        "",
        &["document", "verify", &altered, "--root-key", &root],
        &[],
    )
    .await;
    assert!(!run.ok);
    assert!(run.stdout.contains("altered"), "{}", run.stdout);
    assert!(run.stderr.contains("seal_altered"), "{}", run.stderr);

    let (_, other_root) = node::link::signing::generate().unwrap();
    let run = admin_at(
        nowhere,
        "",
        &["document", "verify", seal, "--root-key", &other_root],
        &[],
    )
    .await;
    assert!(!run.ok);
    assert!(run.stderr.contains("seal_not_endorsed"), "{}", run.stderr);
    let run = admin_at(
        nowhere,
        "",
        &["document", "verify", seal, "--root-key", "xyz"],
        &[],
    )
    .await;
    assert!(!run.ok);
    assert!(run.stderr.contains("bad_root_key"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_systems_are_issued_credentials_and_webhooks() {
    let hall = start().await;
    let issued = admin(
        &hall,
        &[
            "feed",
            "credential-add",
            "--name",
            "gongan-sys",
            "--department",
            "gongan",
            "--json",
        ],
        &[],
    )
    .await
    .json();
    assert_eq!(issued["department"], "gongan");
    let token = issued["token"].as_str().unwrap().to_owned();
    // The token reads the feed.
    let feed = reqwest::Client::new()
        .get(format!("{}/api/v1/feed", hall.node.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    // An unknown department is refused with its code.
    let bad = admin(
        &hall,
        &[
            "feed",
            "credential-add",
            "--name",
            "x",
            "--department",
            "nope",
        ],
        &[],
    )
    .await;
    assert!(!bad.ok);
    assert!(bad.stderr.contains("unknown_department"), "{}", bad.stderr);

    // https:// is refused: the node's client has no TLS.
    let https = admin(
        &hall,
        &[
            "feed",
            "subscribe",
            "--credential",
            "gongan-sys",
            "--webhook-url",
            "https://gongan.example/hook",
        ],
        &[],
    )
    .await;
    assert!(!https.ok);
    assert!(
        https.stderr.contains("webhook_https_refused"),
        "{}",
        https.stderr
    );
    let sub = admin(
        &hall,
        &[
            "feed",
            "subscribe",
            "--credential",
            "gongan-sys",
            "--webhook-url",
            "http://127.0.0.1:9/hook",
        ],
        &[],
    )
    .await;
    assert!(sub.ok, "{}", sub.stderr);
    assert!(sub.stdout.contains("secret"), "{}", sub.stdout);
    let subs = admin(&hall, &["feed", "subscriptions", "--json"], &[])
        .await
        .json();
    assert_eq!(subs[0]["url"], "http://127.0.0.1:9/hook");
    assert!(subs[0].get("secret").is_none(), "{subs}");
    // Ended by its id: listed as ended, and not ended twice.
    let id = subs[0]["id"].as_str().unwrap().to_owned();
    let end = admin(&hall, &["feed", "unsubscribe", &id], &[]).await;
    assert!(end.ok, "{}", end.stderr);
    assert!(
        end.stdout.contains(&format!("ended {id}")),
        "{}",
        end.stdout
    );
    let listed = admin(&hall, &["feed", "subscriptions"], &[]).await;
    let line = listed.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("ended "), "{line}");
    let again = admin(&hall, &["feed", "unsubscribe", &id], &[]).await;
    assert!(!again.ok);
    assert!(
        again.stderr.contains("subscription_ended"),
        "{}",
        again.stderr
    );
    let dead = admin(
        &hall,
        &["feed", "deliveries", "--status", "dead", "--json"],
        &[],
    )
    .await
    .json();
    assert_eq!(dead, serde_json::json!([]));
    let replay = admin(&hall, &["feed", "replay", "none"], &[]).await;
    assert!(!replay.ok);
    assert!(
        replay.stderr.contains("unknown_delivery"),
        "{}",
        replay.stderr
    );

    let revoke = admin(&hall, &["feed", "credential-revoke", "gongan-sys"], &[]).await;
    assert!(revoke.ok, "{}", revoke.stderr);
    let list = admin(&hall, &["feed", "credentials"], &[]).await;
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with("gongan-sys"))
        .unwrap();
    assert!(
        !line.trim_end().ends_with('-'),
        "revoked shows a time: {line}"
    );
    let feed = reqwest::Client::new()
        .get(format!("{}/api/v1/feed", hall.node.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), 401);
    hall.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_asks_for_one_cases_personal_data_with_a_reason() {
    let hall = start().await;
    let base = hall.node.url();
    let number = receive(&hall, 1, false).await.remove(0);
    let admin_api = onewindow_tests::Api::login(&base, "admin", PASSWORD).await;
    onewindow_tests::hall::ensure_staff(admin_api.client(), "sup1", "sup1", "supervisor", None)
        .await;
    let as_sup = [("ONEWINDOW_USER", "sup1")];
    let pw = onewindow_tests::STAFF_PASSWORD;
    // The reason is required, by the command and by the node.
    let none = admin_at(&base, pw, &["case", "personal", &number], &as_sup).await;
    assert!(
        !none.ok && none.stderr.contains("--reason"),
        "{}",
        none.stderr
    );
    let empty = admin_at(
        &base,
        pw,
        &["case", "personal", &number, "--reason", " "],
        &as_sup,
    )
    .await;
    assert!(
        !empty.ok && empty.stderr.contains("empty_field"),
        "{}",
        empty.stderr
    );
    // A clerk may not ask.
    let clerk = admin_at(
        &base,
        pw,
        &["case", "personal", &number, "--reason", "核查"],
        &[("ONEWINDOW_USER", "clerk1")],
    )
    .await;
    assert!(
        !clerk.ok && clerk.stderr.contains("wrong_role"),
        "{}",
        clerk.stderr
    );
    let shown = admin_at(
        &base,
        pw,
        &["case", "personal", &number, "--reason", "群众投诉核查"],
        &as_sup,
    )
    .await;
    assert!(shown.ok, "{}", shown.stderr);
    assert!(shown.stdout.contains(&number), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("11010519491231002X"),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("in the audit log"),
        "{}",
        shown.stdout
    );
    // The request, with its reason, is in the audit log.
    let audit = admin_api
        .get_ok("/api/v1/admin/audit/actions?action=personal_data_requested")
        .await;
    assert!(
        audit.to_string().contains("群众投诉核查"),
        "the reason is kept: {audit}"
    );
    hall.node.stop().await;
}
