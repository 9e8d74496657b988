//! The federation as separate `onewindow-node` processes, made from a
//! topology bundle the way `onewindow-deploy topology run` makes them, and
//! faults an operator meets: a hall's server killed with SIGKILL mid-stream
//! and started again, and an uplink that drops every packet for a while.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use deploy::bundle::{self, BundleOptions, Ports};
use deploy::process::ProcessTree;
use deploy::topology::Topology;
use federation::relay::{LinkShape, Relay};
use onewindow_tests::{
    Api, STAFF_PASSWORD, citizen_id, complete_submission, eventually, open_events,
};
use serde_json::{Value, json};

const DISTRICT: &str = "nanhai";
const TOWNSHIP: &str = "nanhai.guicheng";
const VILLAGE: &str = "nanhai.guicheng.xiaping";
const SIBLING: &str = "nanhai.guicheng.shibei";

/// A topology of the given nodes (a district, a township, villages).
fn topology(ids: &[&str]) -> Topology {
    let mut text = String::from("[tree]\ntiers = [\"district\", \"township\", \"village\"]\n");
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhall_code = \"PT{i}\"\nhall_name_zh = \"{id} 服务中心\"\nhall_name_en = \"{id} service centre\"\n"
        ));
    }
    Topology::parse(&text).unwrap()
}

/// A bundle of `ids` on free ports in a fresh folder, as processes not yet
/// started.
fn process_tree(ids: &[&str]) -> (tempfile::TempDir, ProcessTree) {
    let dir = tempfile::tempdir().unwrap();
    let opts = BundleOptions {
        ports: Ports::Free,
        cert_days: 2,
        ..BundleOptions::default()
    };
    let b = bundle::make(&topology(ids), &dir.path().join("bundle"), &opts).unwrap();
    let bin = deploy::binary::node_binary_for_tests().unwrap();
    let mut tree = ProcessTree::new(b, bin);
    tree.start_clocks_at(onewindow_tests::START_MS);
    (dir, tree)
}

/// Logs in as the node's administrator and creates a staff member; returns
/// their client.
async fn staff(tree: &ProcessTree, id: &str, username: &str, role: &str) -> Api {
    let url = tree.url(id).unwrap();
    let password = &tree.bundle().node(id).unwrap().admin_password;
    let admin = Api::login(&url, "admin", password).await;
    let body = json!({"username": username, "display_name": username, "role": role, "password": STAFF_PASSWORD});
    let (status, text) = admin.post("/api/v1/staff", &body).await;
    assert!(status == 201 || status == 409, "{text}");
    Api::login(&url, username, STAFF_PASSWORD).await
}

/// A matter the village receives and decides itself.
async fn own_matter(village: &Api) -> Value {
    let cat = village.get_ok("/api/v1/catalogue").await;
    cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["decided_here"] == true)
        .unwrap()
        .clone()
}

/// The events of a case at a node, if it holds the case.
async fn events(api: &Api, number: &str) -> Option<Vec<Value>> {
    let (status, body) = api.get(&format!("/api/v1/cases/{number}/record")).await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    Some(v["events"].as_array().unwrap().clone())
}

/// Waits until the district holds every case with the events the village
/// holds, and checks that its versions run 1, 2, ... k without a repeat.
async fn assert_converged(village: &Api, district: &Api, numbers: &[String]) {
    for n in numbers {
        let here = events(village, n)
            .await
            .expect("the village holds its case");
        let there = eventually(120, "the case at the district", || async {
            events(district, n)
                .await
                .filter(|e| open_events(e) == open_events(&here))
        })
        .await;
        let versions: Vec<u64> = there
            .iter()
            .map(|e| e["case_version"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = (1..=versions.len() as u64).collect();
        assert_eq!(versions, expected, "case {n} at the district");
    }
}

async fn with_timeout<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(300), f)
        .await
        .expect("scenario timed out");
}

/// What the submitting clerk saw.
struct Submitted {
    /// Case numbers answered with 201.
    created: Vec<String>,
    /// Requests that got no answer (the village was down).
    unanswered: usize,
}

/// Submits `count` cases one after another, reporting progress; a request
/// that gets no answer (the village is down) counts as unanswered and the
/// clerk tries the next applicant a moment later.
async fn submit_stream(
    base: String,
    matter: Value,
    count: usize,
    pause: Duration,
    progress: tokio::sync::watch::Sender<usize>,
) -> Submitted {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token = token(&base, "clerk1").await;
    let mut out = Submitted {
        created: Vec::new(),
        unanswered: 0,
    };
    for i in 0..count {
        let body = complete_submission(&matter, &citizen_id(&format!("44060519900101{i:03}")));
        let res = http
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        match res {
            Ok(r) if r.status() == 201 => {
                let v: Value = r.json().await.unwrap();
                out.created
                    .push(v["case_number"].as_str().unwrap().to_owned());
            }
            Ok(r) => {
                let status = r.status();
                panic!("submission {i}: {status} {}", r.text().await.unwrap());
            }
            Err(_) => {
                out.unanswered += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        progress.send_replace(i + 1);
        tokio::time::sleep(pause).await;
    }
    out
}

/// A session token of a staff member.
async fn token(base: &str, username: &str) -> String {
    let (status, body) = Api::anonymous(base)
        .post(
            "/api/v1/session",
            &json!({"username": username, "password": STAFF_PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["token"].as_str().unwrap().to_owned()
}

async fn wait_for_progress(rx: &mut tokio::sync::watch::Receiver<usize>, at_least: usize) {
    rx.wait_for(|n| *n >= at_least)
        .await
        .expect("the clerk stopped early");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_halls_lose_nothing_the_window_was_told_and_apply_nothing_twice() {
    with_timeout(async {
        let (_dir, mut tree) = process_tree(&[DISTRICT, TOWNSHIP, VILLAGE, SIBLING]);
        tree.start_all().await.unwrap();
        let clerk = staff(&tree, VILLAGE, "clerk1", "clerk").await;
        let village_sup = staff(&tree, VILLAGE, "sup1", "supervisor").await;
        let district_sup = staff(&tree, DISTRICT, "sup1", "supervisor").await;
        let matter = own_matter(&clerk).await;

        let (tx, mut rx) = tokio::sync::watch::channel(0usize);
        let stream = tokio::spawn(submit_stream(
            clerk.base.clone(),
            matter,
            200,
            Duration::ZERO,
            tx,
        ));

        // The township dies mid-stream, with part of the village's log
        // applied and acknowledged and part in flight, and comes back.
        wait_for_progress(&mut rx, 40).await;
        tree.kill(TOWNSHIP).await.unwrap();
        wait_for_progress(&mut rx, 90).await;
        tree.start(TOWNSHIP).await.unwrap();
        // Then the village itself dies under the clerk's hands.
        wait_for_progress(&mut rx, 130).await;
        tree.kill(VILLAGE).await.unwrap();
        tree.start(VILLAGE).await.unwrap();

        let submitted = stream.await.unwrap();
        assert!(
            submitted.created.len() >= 150,
            "only {} of 200 were accepted ({} unanswered)",
            submitted.created.len(),
            submitted.unanswered
        );
        assert_converged(&village_sup, &district_sup, &submitted.created).await;

        // The district lists every one of them, each once.
        let listed = district_sup.get_ok("/api/v1/cases?limit=1000").await;
        let mut numbers: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["number"].as_str())
            .collect();
        let all = numbers.len();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), all, "a case is listed twice at the district");
        for n in &submitted.created {
            assert!(numbers.contains(&n.as_str()), "{n} is not listed");
        }
        tree.stop_all().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_uplink_queues_cases_that_drain_when_it_returns() {
    with_timeout(async {
        let (_dir, mut tree) = process_tree(&[DISTRICT, TOWNSHIP, VILLAGE]);
        // The village reaches its township only through the relay.
        let township_quic = tree.bundle().node(TOWNSHIP).unwrap().quic_listen;
        let relay = Relay::start(
            ([127, 0, 0, 1], 0).into(),
            township_quic,
            LinkShape::perfect(),
            LinkShape::perfect(),
        )
        .await
        .unwrap();
        tree.bundle()
            .set_parent_addr(VILLAGE, &relay.local_addr().to_string())
            .unwrap();
        tree.start_all().await.unwrap();
        let clerk = staff(&tree, VILLAGE, "clerk1", "clerk").await;
        let village_sup = staff(&tree, VILLAGE, "sup1", "supervisor").await;
        let district_sup = staff(&tree, DISTRICT, "sup1", "supervisor").await;
        let matter = own_matter(&clerk).await;
        let submit = |i: usize| {
            let (clerk, matter) = (clerk.clone(), matter.clone());
            async move {
                let body =
                    complete_submission(&matter, &citizen_id(&format!("44060519850505{i:03}")));
                let r = clerk.post_ok("/api/v1/cases", &body).await;
                r["case_number"].as_str().unwrap().to_owned()
            }
        };

        // The link works through the relay.
        let first = submit(0).await;
        // Every process runs on the tree's clock, not on today's date: the
        // case number carries the tree's day (2026-11-23, China time).
        assert!(first.contains("20261123"), "{first}");
        assert_converged(&village_sup, &district_sup, std::slice::from_ref(&first)).await;
        assert!(relay.stats().up.forwarded_packets > 0);

        relay.set_blackhole(true);
        let cut = std::time::Instant::now();
        let mut queued = Vec::new();
        for i in 1..=20 {
            queued.push(submit(i).await);
        }
        for n in &queued {
            assert!(
                events(&district_sup, n).await.is_none(),
                "{n} crossed a blackholed link"
            );
        }
        // The village has tried to send them, into the void.
        eventually(
            60,
            "the village's batch dropped by the blackhole",
            || async { (relay.stats().up.dropped_packets > 0).then_some(()) },
        )
        .await;
        // Nothing comes back: the village closes the connection once
        // nothing has come for six seconds and says its link is down (QUIC
        // alone would have kept it open until its 30 s idle timeout, and
        // resumed only at its next backed-off probe).
        let village = onewindow_client::Client::new(&tree.url(VILLAGE).unwrap()).unwrap();
        eventually(30, "the village sees its link down", || async {
            let h = village.health().await.ok()?;
            (!h.uplink.as_ref()?.up).then_some(())
        })
        .await;
        assert!(
            cut.elapsed() < Duration::from_secs(20),
            "the link was still up {:?} into the blackhole",
            cut.elapsed()
        );
        relay.set_blackhole(false);
        assert_converged(&village_sup, &district_sup, &queued).await;
        tree.stop_all().await.unwrap();
    })
    .await;
}

/// Copies a folder and what it holds.
fn copy_folder(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_folder(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Whether a node answers its health check as `id`.
async fn answers_as(url: &str, id: &str) -> bool {
    let client = onewindow_client::Client::new(url).unwrap();
    client.health().await.is_ok_and(|h| h.node_id == id)
}

/// A free port on loopback (UDP for QUIC, or TCP).
fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// The district on PostgreSQL with a synchronous hot standby, and a second
/// district process on the standby's side that waits while its database is
/// in recovery. Mid-stream of village cases the district's process and its
/// primary database are killed with SIGKILL; the standby is promoted, the
/// second process takes over, the township finds it among its parent's
/// addresses, and the district holds every case the village receipted,
/// each once, while the village's window never stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_district_fails_over_to_its_standby_and_loses_no_receipted_case() {
    with_timeout(async {
        let pg = std::sync::Arc::new(
            tokio::task::spawn_blocking(onewindow_tests::pg::PgPair::start)
                .await
                .unwrap()
                .unwrap(),
        );
        pg.sql(&pg.primary, "postgres", "CREATE DATABASE onewindow")
            .unwrap();
        pg.make_synchronous().unwrap();

        let (dir, mut tree) = process_tree(&[DISTRICT, TOWNSHIP, VILLAGE]);
        let bundle = tree.bundle().clone();
        let mut first = bundle.config(DISTRICT).unwrap();
        first.database.url = pg.primary.url("onewindow");
        bundle.write_config(DISTRICT, &first).unwrap();
        // The second district process: the same identity (certificate, CA
        // and signing keys, configuration) on the standby's database and,
        // as on another server, its own addresses.
        let second_dir = dir.path().join("district-standby");
        copy_folder(&bundle.folder(DISTRICT).unwrap(), &second_dir);
        let mut second = first.clone();
        second.database.url = pg.standby.url("onewindow");
        second.http.listen = format!("127.0.0.1:{}", free_port(false)).parse().unwrap();
        second.federation.listen = format!("127.0.0.1:{}", free_port(true)).parse().unwrap();
        std::fs::write(
            second_dir.join(deploy::bundle::CONFIG_FILE),
            toml::to_string(&second).unwrap(),
        )
        .unwrap();
        let second_url = format!("http://{}", second.http.listen);
        bundle
            .set_parent_addr(
                TOWNSHIP,
                &format!("{},{}", first.federation.listen, second.federation.listen),
            )
            .unwrap();

        tree.start_all().await.unwrap();
        let mut standby = tree.command_in(&second_dir).unwrap().spawn().unwrap();
        // It waits while its database is in recovery, and says so.
        let log = second_dir.join(deploy::bundle::LOG_FILE);
        eventually(60, "the standby district says it waits", || async {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("standby")
                .then_some(())
        })
        .await;
        assert!(!answers_as(&second_url, DISTRICT).await, "the standby serves before promotion");
        assert!(standby.try_wait().unwrap().is_none(), "the standby district ended");

        let clerk = staff(&tree, VILLAGE, "clerk1", "clerk").await;
        let village_sup = staff(&tree, VILLAGE, "sup1", "supervisor").await;
        let district_admin = Api::login(
            &tree.url(DISTRICT).unwrap(),
            "admin",
            &bundle.node(DISTRICT).unwrap().admin_password,
        )
        .await;
        let body = json!({"username": "sup1", "display_name": "sup1", "role": "supervisor", "password": STAFF_PASSWORD});
        let (status, text) = district_admin.post("/api/v1/staff", &body).await;
        assert_eq!(status, 201, "{text}");
        let matter = own_matter(&clerk).await;

        let (tx, mut rx) = tokio::sync::watch::channel(0usize);
        let stream = tokio::spawn(submit_stream(
            clerk.base.clone(),
            matter,
            120,
            Duration::from_millis(250),
            tx,
        ));
        // Some of the village's cases have reached the district.
        let district_sup = Api::login(&tree.url(DISTRICT).unwrap(), "sup1", STAFF_PASSWORD).await;
        wait_for_progress(&mut rx, 20).await;
        eventually(60, "cases at the district before the failure", || async {
            let listed = district_sup.get_ok("/api/v1/cases?limit=1000").await;
            (listed.as_array().unwrap().len() >= 5).then_some(())
        })
        .await;

        // The district's server dies: its process and its database.
        tree.kill(DISTRICT).await.unwrap();
        pg.kill_primary().unwrap();
        let killed_at = *rx.borrow();
        let promoting = std::sync::Arc::clone(&pg);
        tokio::task::spawn_blocking(move || promoting.promote())
            .await
            .unwrap()
            .unwrap();
        eventually(60, "the standby district serves", || async {
            answers_as(&second_url, DISTRICT).await.then_some(())
        })
        .await;

        let submitted = stream.await.unwrap();
        assert!(killed_at < 120, "the stream ended before the failure");
        assert_eq!(submitted.unanswered, 0, "the village's window stopped");
        assert_eq!(submitted.created.len(), 120);
        let district_sup = Api::login(&second_url, "sup1", STAFF_PASSWORD).await;
        assert_converged(&village_sup, &district_sup, &submitted.created).await;
        // Each once, and nothing else: the promoted database holds exactly
        // the receipted cases.
        let held = pg
            .sql(&pg.standby, "onewindow", "SELECT string_agg(id, ',' ORDER BY id) FROM cases")
            .unwrap();
        let mut receipted = submitted.created.clone();
        receipted.sort();
        assert_eq!(held, receipted.join(","), "cases at the promoted district");
        assert!(
            std::fs::read_to_string(tree.log_path(TOWNSHIP).unwrap())
                .unwrap()
                .contains("the parent answers at another of its addresses"),
            "the township did not move to the second address"
        );
        let _ = standby.kill().await;
        tree.stop_all().await.unwrap();
    })
    .await;
}

/// A small generator for the moments of the kills, seeded from the clock
/// (or `ONEWINDOW_KILL_SEED`) and printed, so that a failing run can be
/// replayed.
struct Moments(u64);

impl Moments {
    fn seeded() -> Self {
        let seed = std::env::var("ONEWINDOW_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("kill moments from ONEWINDOW_KILL_SEED={seed}");
        Self(seed)
    }

    /// The next pause, between `lo` and `hi` milliseconds.
    fn next_ms(&mut self, lo: u64, hi: u64) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo + 1)
    }
}

/// One submission sent until it is answered, with its key each time: the
/// case number and whether the answer was a replay of an earlier attempt.
async fn submit_until_answered(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
    body: &Value,
) -> (String, bool) {
    loop {
        let res = http
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await;
        match res {
            Ok(r) if r.status() == 201 || r.status() == 200 => {
                let replayed = r.status() == 200;
                assert_eq!(
                    r.headers()
                        .get("idempotent-replayed")
                        .and_then(|v| v.to_str().ok()),
                    Some(if replayed { "true" } else { "false" })
                );
                let v: Value = r.json().await.unwrap();
                return (v["case_number"].as_str().unwrap().to_owned(), replayed);
            }
            // The hall is starting again.
            Ok(r) if r.status() == 503 => {}
            Ok(r) => {
                let status = r.status();
                panic!("{key}: {status} {}", r.text().await.unwrap());
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hall_killed_during_acceptance_never_loses_a_receipt_nor_makes_a_case_twice() {
    with_timeout(async {
        let (_dir, mut tree) = process_tree(&[DISTRICT]);
        tree.start_all().await.unwrap();
        let clerk = staff(&tree, DISTRICT, "clerk1", "clerk").await;
        let sup = staff(&tree, DISTRICT, "sup1", "supervisor").await;
        let matter = own_matter(&clerk).await;
        let base = clerk.base.clone();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let count = 600;
        let bodies: Vec<Value> = (0..count)
            .map(|i| complete_submission(&matter, &citizen_id(&format!("44060519900202{i:03}"))))
            .collect();

        // The clerk submits one after another; an unanswered submission is
        // sent again with its key until it is answered. Meanwhile the
        // hall is killed with SIGKILL at random moments and started again.
        let (tx, mut rx) = tokio::sync::watch::channel(0usize);
        // Sessions are stored: one login serves through the kills.
        let token = token(&base, "clerk1").await;
        let clerk_task = {
            let (http, base, bodies, token) =
                (http.clone(), base.clone(), bodies.clone(), token.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                for (i, body) in bodies.iter().enumerate() {
                    answers.push(
                        submit_until_answered(&http, &base, &token, &format!("window1-{i}"), body)
                            .await,
                    );
                    tx.send_replace(i + 1);
                }
                answers
            })
        };
        let mut moments = Moments::seeded();
        let mut kills = 0;
        while *rx.borrow() < count - 10 {
            tokio::time::sleep(Duration::from_millis(moments.next_ms(5, 50))).await;
            if *rx.borrow() >= count - 10 {
                break;
            }
            let at = *rx.borrow();
            let t = std::time::Instant::now();
            tree.kill(DISTRICT).await.unwrap();
            kills += 1;
            tree.start(DISTRICT).await.unwrap();
            eprintln!(
                "kill {kills} at {at} submissions, back after {:?}",
                t.elapsed()
            );
            if rx.changed().await.is_err() {
                break;
            }
        }
        let answers = clerk_task.await.unwrap();
        assert!(kills >= 10, "only {kills} kills happened");
        let replays = answers.iter().filter(|(_, r)| *r).count();
        eprintln!("{count} submissions, {kills} kills, {replays} answered by a replay");

        // Every receipt the clerk holds is a stored case, each its own.
        let mut numbers: Vec<&str> = answers.iter().map(|(n, _)| n.as_str()).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), count, "two submissions got the same case");
        let listed = sup.get_ok("/api/v1/cases?limit=1000").await;
        let mut stored: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["number"].as_str())
            .collect();
        stored.sort_unstable();
        // Nothing more was stored than the clerk was told: no submission
        // made a second case however often it was sent.
        assert_eq!(stored, numbers, "the stored cases are not the receipts");

        // Sent once more, a submission is answered with its case, and the
        // same key with another applicant is refused.
        let (n, replayed) =
            submit_until_answered(&http, &base, &token, "window1-0", &bodies[0]).await;
        assert_eq!((n.as_str(), replayed), (answers[0].0.as_str(), true));
        let r = http
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "window1-0")
            .json(&bodies[1])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "submission_key_reused");
        tree.stop_all().await.unwrap();
    })
    .await;
}

/// A node runs the allocator of its build (`node::malloc`): with jemalloc
/// it starts once, as it was started; on glibc's allocator it starts itself
/// again with the tunables set, and its running process has them in its
/// environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_runs_the_allocator_of_its_build() {
    with_timeout(async {
        let (_dir, mut tree) = process_tree(&[DISTRICT]);
        tree.start_all().await.unwrap();
        assert!(answers_as(&tree.url(DISTRICT).unwrap(), DISTRICT).await);
        let pid = tree.pid(DISTRICT).unwrap();
        // What the process was started with. glibc cuts its copy of the
        // tunables there at each ':' as it reads them, so each setting is
        // looked for on its own.
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        let entries: Vec<&str> = environ.split('\0').collect();
        let restarted = entries.contains(&"ONEWINDOW_MALLOC_TUNED=1");
        match node::malloc::settings() {
            None => assert!(
                !restarted,
                "a node on {} started itself again: {environ}",
                node::malloc::ALLOCATOR_NAME
            ),
            Some(settings) => {
                assert!(restarted, "the node did not start itself again: {environ}");
                let tunables = entries
                    .iter()
                    .position(|v| v.starts_with("GLIBC_TUNABLES="))
                    .unwrap_or_else(|| panic!("the node runs with no GLIBC_TUNABLES: {environ}"));
                for setting in settings.split(':') {
                    assert!(
                        entries[tunables..].iter().any(|v| v.contains(setting)),
                        "the node's GLIBC_TUNABLES lack {setting}: {environ}"
                    );
                }
            }
        }
        tree.stop_all().await.unwrap();
    })
    .await;
}

/// `topology run --village-node-bin`: the villages run the village build
/// and the other halls the binary the tree was made with, and a village on
/// its own build links to its township as any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn villages_run_their_own_build() {
    with_timeout(async {
        let (dir, mut tree) = process_tree(&[DISTRICT, TOWNSHIP, VILLAGE]);
        // Another file than the one the others run, as the village build is.
        let village_bin = dir.path().join("village").join("onewindow-node");
        std::fs::create_dir_all(village_bin.parent().unwrap()).unwrap();
        let own_bin = tree.binary_of(DISTRICT).unwrap().to_path_buf();
        std::fs::copy(&own_bin, &village_bin).unwrap();
        tree.set_village_node_bin(village_bin.clone());
        assert_eq!(tree.binary_of(VILLAGE).unwrap(), village_bin);
        assert_eq!(tree.binary_of(TOWNSHIP).unwrap(), own_bin);
        tree.start_all().await.unwrap();
        let exe =
            |id: &str| std::fs::read_link(format!("/proc/{}/exe", tree.pid(id).unwrap())).unwrap();
        assert_eq!(exe(VILLAGE), village_bin.canonicalize().unwrap());
        assert_eq!(exe(TOWNSHIP), own_bin.canonicalize().unwrap());
        assert_eq!(exe(DISTRICT), own_bin.canonicalize().unwrap());
        let client = onewindow_client::Client::new(&tree.url(VILLAGE).unwrap()).unwrap();
        eventually(60, "the village's uplink up", || async {
            let health = client.health().await.ok()?;
            health.uplink.as_ref().filter(|u| u.up).map(|_| ())
        })
        .await;
        tree.stop_all().await.unwrap();
    })
    .await;
}
