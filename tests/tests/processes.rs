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
use onewindow_tests::{Api, STAFF_PASSWORD, citizen_id, complete_submission, eventually};
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
            events(district, n).await.filter(|e| *e == here)
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
        let stream = tokio::spawn(submit_stream(clerk.base.clone(), matter, 200, tx));

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
        relay.set_blackhole(false);
        assert_converged(&village_sup, &district_sup, &queued).await;
        tree.stop_all().await.unwrap();
    })
    .await;
}
