//! Stores put back from an older copy, with real processes: a township and
//! then a village are stopped, their store files are replaced by a copy
//! taken earlier, and they are started again while every hall keeps
//! working. What this asks for: the restored hall first takes back from its
//! parent what it had written since the copy (its clerks are told it is
//! recovering), so no case number or origin sequence is issued twice; its
//! parent and its children resend what it lost. Every receipted case
//! reaches the district once, with the same events at every hall that
//! holds it.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use deploy::bundle::{self, BundleOptions, Ports};
use deploy::process::ProcessTree;
use deploy::topology::Topology;
use onewindow_tests::{
    Api, STAFF_PASSWORD, citizen_id, complete_submission, eventually, open_events,
};
use serde_json::{Value, json};

const DISTRICT: &str = "nanhai";
const TOWNSHIP: &str = "nanhai.guicheng";
const VILLAGE: &str = "nanhai.guicheng.xiaping";

fn process_tree(ids: &[&str]) -> (tempfile::TempDir, ProcessTree) {
    let mut text = String::from("[tree]\ntiers = [\"district\", \"township\", \"village\"]\n");
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhall_code = \"RS{i}\"\nhall_name_zh = \"{id} 服务中心\"\nhall_name_en = \"{id} service centre\"\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let opts = BundleOptions {
        ports: Ports::Free,
        cert_days: 2,
        ..BundleOptions::default()
    };
    let b = bundle::make(
        &Topology::parse(&text).unwrap(),
        &dir.path().join("bundle"),
        &opts,
    )
    .unwrap();
    let bin = deploy::binary::node_binary_for_tests().unwrap();
    let mut tree = ProcessTree::new(b, bin);
    tree.start_clocks_at(onewindow_tests::START_MS);
    (dir, tree)
}

async fn staff(tree: &ProcessTree, id: &str, username: &str, role: &str) -> Api {
    let url = tree.url(id).unwrap();
    let password = &tree.bundle().node(id).unwrap().admin_password;
    let admin = Api::login(&url, "admin", password).await;
    let body = json!({"username": username, "display_name": username, "role": role, "password": STAFF_PASSWORD});
    let (status, text) = admin.post("/api/v1/staff", &body).await;
    assert!(status == 201 || status == 409, "{text}");
    Api::login(&url, username, STAFF_PASSWORD).await
}

/// A matter the hall receives and decides itself.
async fn own_matter(hall: &Api) -> Value {
    let cat = hall.get_ok("/api/v1/catalogue").await;
    cat["matters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["decided_here"] == true)
        .unwrap()
        .clone()
}

async fn events(api: &Api, number: &str) -> Option<Vec<Value>> {
    let (status, body) = api.get(&format!("/api/v1/cases/{number}/record")).await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    Some(v["events"].as_array().unwrap().clone())
}

/// Submits `n` cases at a hall; a hall that is recovering answers 503
/// `hall_recovering` and the clerk tries again a moment later. Returns the
/// receipted case numbers.
async fn submit(tree: &ProcessTree, id: &str, matter: &Value, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let body = complete_submission(matter, &next_applicant());
        let number = eventually(90, "a receipt", || async {
            let clerk = Api::login(&tree.url(id).unwrap(), "clerk1", STAFF_PASSWORD).await;
            let (status, text) = clerk.post("/api/v1/cases", &body).await;
            if status == 503 {
                assert!(text.contains("\"hall_recovering\""), "{text}");
                return None;
            }
            assert_eq!(status, 201, "{text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            v["case_number"].as_str().map(str::to_owned)
        })
        .await;
        out.push(number);
    }
    out
}

/// A valid citizen ID number not used before in this test binary.
fn next_applicant() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    citizen_id(&format!("44060519900101{:03}", n % 1000))
}

fn store_files(tree: &ProcessTree, id: &str) -> Vec<PathBuf> {
    let data = tree.bundle().folder(id).unwrap().join("data");
    ["node.db", "node.db-wal", "node.db-shm"]
        .iter()
        .map(|f| data.join(f))
        .collect()
}

/// The store files of an in-process tree's hall.
fn tree_store_files(t: &onewindow_tests::Tree, id: &str) -> Vec<PathBuf> {
    let home = &t.nodes[id].config.node.data_dir;
    ["node.db", "node.db-wal", "node.db-shm"]
        .iter()
        .map(|f| home.join(f))
        .collect()
}

fn copy_store(files: &[PathBuf], to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in files {
        if f.exists() {
            std::fs::copy(f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
}

fn put_back(files: &[PathBuf], from: &Path) {
    for f in files {
        let _ = std::fs::remove_file(f);
        let saved = from.join(f.file_name().unwrap());
        if saved.exists() {
            std::fs::copy(saved, f).unwrap();
        }
    }
}

/// Every case is at the district with the events its accepting hall holds,
/// versions 1, 2, ... without a repeat.
async fn converged(hall: &Api, district: &Api, numbers: &[String]) {
    for n in numbers {
        let here = eventually(120, "the case at its hall", || async {
            events(hall, n).await
        })
        .await;
        let there = eventually(120, "the case at the district", || async {
            let hall_now = events(hall, n).await?;
            events(district, n)
                .await
                .filter(|e| open_events(e) == open_events(&hall_now))
        })
        .await;
        assert!(there.len() >= here.len());
        let versions: Vec<u64> = there
            .iter()
            .map(|e| e["case_version"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = (1..=versions.len() as u64).collect();
        assert_eq!(versions, expected, "case {n} at the district");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_and_a_village_put_back_to_older_copies_heal() {
    tokio::time::timeout(Duration::from_secs(600), async {
        let (dir, mut tree) = process_tree(&[DISTRICT, TOWNSHIP, VILLAGE]);
        tree.start_all().await.unwrap();
        let district = staff(&tree, DISTRICT, "super1", "supervisor").await;
        let town_clerk = staff(&tree, TOWNSHIP, "clerk1", "clerk").await;
        let village_clerk = staff(&tree, VILLAGE, "clerk1", "clerk").await;
        let town_matter = own_matter(&town_clerk).await;
        let village_matter = own_matter(&village_clerk).await;
        let mut town_cases = submit(&tree, TOWNSHIP, &town_matter, 3).await;
        let mut village_cases = submit(&tree, VILLAGE, &village_matter, 3).await;
        converged(&town_clerk, &district, &town_cases).await;
        converged(&village_clerk, &district, &village_cases).await;

        for id in [TOWNSHIP, VILLAGE] {
            // A copy of the hall's store, taken while it is stopped.
            let files = store_files(&tree, id);
            let backup = dir.path().join(format!("backup-{id}"));
            tree.stop(id).await.unwrap();
            copy_store(&files, &backup);
            tree.start(id).await.unwrap();
            // Work goes on after the copy: these are what the copy lacks.
            let town_more = submit(&tree, TOWNSHIP, &town_matter, 3).await;
            let village_more = submit(&tree, VILLAGE, &village_matter, 3).await;
            let town_clerk =
                Api::login(&tree.url(TOWNSHIP).unwrap(), "clerk1", STAFF_PASSWORD).await;
            let village_clerk =
                Api::login(&tree.url(VILLAGE).unwrap(), "clerk1", STAFF_PASSWORD).await;
            converged(&town_clerk, &district, &town_more).await;
            converged(&village_clerk, &district, &village_more).await;
            town_cases.extend(town_more);
            village_cases.extend(village_more);

            // The hall is put back to the copy and started again while its
            // parent is down: its marker tells it that its store lacks
            // entries it wrote, so it receipts nothing until it has them
            // back, and says so.
            let parent = if id == TOWNSHIP { DISTRICT } else { TOWNSHIP };
            tree.stop(id).await.unwrap();
            put_back(&files, &backup);
            tree.stop(parent).await.unwrap();
            tree.start(id).await.unwrap();
            let matter = if id == TOWNSHIP {
                &town_matter
            } else {
                &village_matter
            };
            let clerk = Api::login(&tree.url(id).unwrap(), "clerk1", STAFF_PASSWORD).await;
            let (status, text) = clerk
                .post(
                    "/api/v1/cases",
                    &complete_submission(matter, &next_applicant()),
                )
                .await;
            assert_eq!(status, 503, "{text}");
            let err: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(err["code"], "hall_recovering", "{err}");
            assert!(
                err["message_zh"].as_str().unwrap().contains("恢复"),
                "{err}"
            );
            let health = clerk.get_ok("/api/v1/health").await;
            assert_eq!(health["uplink"]["recovering"], true, "{health}");
            // The parent comes back: the hall takes back its log, then
            // works again; every hall keeps receiving.
            tree.start(parent).await.unwrap();
            eventually(120, "the recovery to end", || async {
                let h = clerk.get_ok("/api/v1/health").await;
                (h["uplink"]["recovering"] == false).then_some(())
            })
            .await;
            let town_after = submit(&tree, TOWNSHIP, &town_matter, 3).await;
            let village_after = submit(&tree, VILLAGE, &village_matter, 3).await;
            town_cases.extend(town_after);
            village_cases.extend(village_after);

            let town_clerk =
                Api::login(&tree.url(TOWNSHIP).unwrap(), "clerk1", STAFF_PASSWORD).await;
            let village_clerk =
                Api::login(&tree.url(VILLAGE).unwrap(), "clerk1", STAFF_PASSWORD).await;
            converged(&town_clerk, &district, &town_cases).await;
            converged(&village_clerk, &district, &village_cases).await;
            // The township holds its villages' cases as the district does.
            converged(&village_clerk, &town_clerk, &village_cases).await;
        }
        // No case number was issued twice.
        let mut all: Vec<&String> = town_cases.iter().chain(village_cases.iter()).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "a case number was issued twice");
        tree.stop_all().await.unwrap();
    })
    .await
    .expect("scenario timed out");
}

async fn submit_four(clerk: &Api, matter: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..4 {
        let id = next_applicant();
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(matter, &id))
            .await;
        out.push(r["case_number"].as_str().unwrap().to_owned());
    }
    out
}

/// Every case is at the township and the district with the entries the
/// village holds.
async fn all_at_district(t: &onewindow_tests::Tree, numbers: &[String]) {
    for n in numbers {
        let here = log_of(t, VILLAGE, n).await.expect("the village holds it");
        eventually(60, "the case at the district", || async {
            log_of(t, DISTRICT, n).await.filter(|l| *l == here)
        })
        .await;
        eventually(60, "the case at the township", || async {
            log_of(t, TOWNSHIP, n).await.filter(|l| *l == here)
        })
        .await;
    }
}

/// The events a node holds of a case, as stored.
async fn log_of(t: &onewindow_tests::Tree, id: &str, number: &str) -> Option<Vec<String>> {
    let events = t.node(id).node.store.case_events(number).await.unwrap();
    (!events.is_empty()).then(|| {
        events
            .iter()
            .map(|e| format!("{}#{} {}", e.entry.origin, e.entry.origin_seq, e.entry.hash))
            .collect()
    })
}

/// A township put back to an older copy of its store, in one process: its
/// village resends from the township's older cursor (instead of being
/// refused with a gap for ever), the district resets its cursor to the
/// township's shorter log, and every case the village receipted reaches
/// the district once with the same entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_put_back_to_an_older_copy_is_resent_what_it_lost() {
    tokio::time::timeout(Duration::from_secs(240), async {
        let mut t = onewindow_tests::tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let matter = own_matter(&clerk).await;
        let mut numbers = Vec::new();
        numbers.extend(submit_four(&clerk, &matter).await);
        all_at_district(&t, &numbers).await;

        let files = tree_store_files(&t, TOWNSHIP);
        let backup = t.dir.path().join("township-backup");
        t.stop(TOWNSHIP).await;
        copy_store(&files, &backup);
        t.restart(TOWNSHIP).await;
        numbers.extend(submit_four(&clerk, &matter).await);
        all_at_district(&t, &numbers).await;

        t.stop(TOWNSHIP).await;
        put_back(&files, &backup);
        t.restart(TOWNSHIP).await;
        numbers.extend(submit_four(&clerk, &matter).await);
        all_at_district(&t, &numbers).await;
    })
    .await
    .expect("scenario timed out");
}

/// A township put back while the district is down, and the district
/// started again after one village has resent to the township and gone on
/// writing while the other is still away: the township's log is longer than
/// the district's cursor again, but numbered anew above its start, so what
/// the district holds up to its cursor is not what the township now holds
/// there; and the township started once more before the district heard it.
/// The district tells so from the township's incarnations: it remembers
/// the one it last heard across its own restart (it once kept it only in
/// memory: chaos seeds 30048 and 30123), and counts every start since, not
/// only the last (chaos seed 50098). Either way the link was refused with
/// `origin_gap` for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_put_back_while_the_district_was_down_is_told_from_its_incarnation() {
    const SIBLING: &str = "nanhai.guicheng.shibei";
    tokio::time::timeout(Duration::from_secs(300), async {
        let mut t = onewindow_tests::tree(&[DISTRICT, TOWNSHIP, VILLAGE, SIBLING]).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let sibling = t.staff(SIBLING, "clerk1", "clerk", None).await;
        let matter = own_matter(&clerk).await;
        let sibling_matter = own_matter(&sibling).await;
        let mut numbers = submit_four(&clerk, &matter).await;
        let mut sibling_numbers = submit_four(&sibling, &sibling_matter).await;
        all_at_district(&t, &numbers).await;
        at_district_from(&t, SIBLING, &sibling_numbers).await;

        let files = tree_store_files(&t, TOWNSHIP);
        let backup = t.dir.path().join("township-backup");
        t.stop(TOWNSHIP).await;
        copy_store(&files, &backup);
        t.restart(TOWNSHIP).await;
        // What the copy lacks: cases of both villages.
        numbers.extend(submit_four(&clerk, &matter).await);
        sibling_numbers.extend(submit_four(&sibling, &sibling_matter).await);
        all_at_district(&t, &numbers).await;
        at_district_from(&t, SIBLING, &sibling_numbers).await;
        let (held, _) = t
            .node(DISTRICT)
            .node
            .store
            .link_cursor(TOWNSHIP)
            .await
            .unwrap();

        t.stop(DISTRICT).await;
        t.stop(SIBLING).await;
        t.stop(TOWNSHIP).await;
        put_back(&files, &backup);
        t.restart(TOWNSHIP).await;
        // One village resends what the township lost of it and writes
        // more, until the township's log is longer than what the district
        // holds of it; the sibling's lost cases come after.
        let mut more = Vec::new();
        for _ in 0..3 {
            more.extend(submit_four(&clerk, &matter).await);
        }
        eventually(
            60,
            "the township's log past the district's cursor",
            || async {
                let head = t.node(TOWNSHIP).node.store.local_head().await;
                let village = log_of(&t, VILLAGE, more.last().unwrap()).await;
                let township = log_of(&t, TOWNSHIP, more.last().unwrap()).await;
                (head > held && village.is_some() && village == township).then_some(())
            },
        )
        .await;
        numbers.extend(more);
        // And the township starts once more before the district hears it:
        // this start's head is past the cursor, the one before was not.
        t.stop(TOWNSHIP).await;
        t.restart(TOWNSHIP).await;
        t.restart(SIBLING).await;
        t.restart(DISTRICT).await;
        all_at_district(&t, &numbers).await;
        at_district_from(&t, SIBLING, &sibling_numbers).await;
        // The township, told the district's old cursor, started above the
        // one the district reset: an honest gap, not a security event.
        let events = t
            .node(DISTRICT)
            .node
            .store
            .security_events(1000)
            .await
            .unwrap();
        let about: Vec<_> = events
            .iter()
            .filter(|e| e.peer.as_deref() == Some(TOWNSHIP))
            .collect();
        assert!(
            about.is_empty(),
            "a township put back is no attack: {about:?}"
        );
    })
    .await
    .expect("scenario timed out");
}

/// Every case is at the district with the entries hall `from` holds.
async fn at_district_from(t: &onewindow_tests::Tree, from: &str, numbers: &[String]) {
    for n in numbers {
        let here = log_of(t, from, n).await.expect("the hall holds it");
        eventually(60, "the case at the district", || async {
            log_of(t, DISTRICT, n).await.filter(|l| *l == here)
        })
        .await;
    }
}

/// A village put back to a copy taken before a case it escalated was
/// decided at the township and handed out at the village: its own later
/// entries (the transfer up, the hand-out) depend on the township's, which
/// it lost too, so it takes back its subtree's entries and what was meant
/// for it in the township's order, then writes again after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_put_back_before_an_escalated_case_recovers_it_in_order() {
    tokio::time::timeout(Duration::from_secs(240), async {
        let mut t = onewindow_tests::tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let cat = clerk.get_ok("/api/v1/catalogue").await;
        let up = onewindow_tests::matter_decided_at(&cat, "township");
        let own = own_matter(&clerk).await;
        let mut numbers = submit_four(&clerk, &own).await;
        all_at_district(&t, &numbers).await;

        // The copy.
        let files = tree_store_files(&t, VILLAGE);
        let backup = t.dir.path().join("village-backup");
        t.stop(VILLAGE).await;
        copy_store(&files, &backup);
        t.restart(VILLAGE).await;

        // After the copy: a case escalated, decided at the township,
        // handed out at the village; and one decided at the village.
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let applicant = next_applicant();
        let r = clerk
            .post_ok("/api/v1/cases", &complete_submission(&up, &applicant))
            .await;
        let n = r["case_number"].as_str().unwrap().to_owned();
        let dept = up["department"].as_str().unwrap();
        let a1 = t.staff(TOWNSHIP, "appr1", "approver", Some(dept)).await;
        let a2 = t.staff(TOWNSHIP, "appr2", "approver", Some(dept)).await;
        let a3 = t.staff(TOWNSHIP, "appr3", "approver", Some(dept)).await;
        eventually(60, "the case at the township", || async {
            log_of(&t, TOWNSHIP, &n).await
        })
        .await;
        let path = format!("/api/v1/cases/{n}/actions");
        a1.post_ok(&path, &json!({"action": "start_handling"}))
            .await;
        a1.post_ok(
            &path,
            &json!({"action": "submit_for_review", "opinion": "材料齐全"}),
        )
        .await;
        a2.post_ok(&path, &json!({"action": "pass_review", "opinion": "同意"}))
            .await;
        a3.post_ok(
            &path,
            &json!({"action": "decide", "granted": true, "opinion": "准予"}),
        )
        .await;
        a3.post_ok(
            &path,
            &json!({"action": "result_ready", "result": "证明一份"}),
        )
        .await;
        eventually(60, "the result at the village", || async {
            let row = t.node(VILLAGE).node.store.case(&n).await.unwrap()?;
            (row.holder.as_deref() == Some(VILLAGE)).then_some(())
        })
        .await;
        let done = clerk
            .post_ok(
                &path,
                &json!({"action": "hand_out", "collector": {"by": "in_person", "document": "resident_id", "id_number": applicant, "id_checked": true}}),
            )
            .await;
        assert_eq!(done["state"], "completed");
        numbers.push(n.clone());
        numbers.extend(submit_four(&clerk, &own).await);
        all_at_district(&t, &numbers).await;

        // Put back: the village recovers, then works again.
        t.stop(VILLAGE).await;
        put_back(&files, &backup);
        t.restart(VILLAGE).await;
        eventually(60, "the recovery to end", || async {
            (!t.node(VILLAGE).node.own_log.is_recovering()).then_some(())
        })
        .await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let row = t.node(VILLAGE).node.store.case(&n).await.unwrap().unwrap();
        assert_eq!(row.state, "completed", "the escalated case came back whole");
        let more = submit_four(&clerk, &own).await;
        for m in &more {
            assert!(!numbers.contains(m), "case number {m} issued twice");
        }
        numbers.extend(more);
        all_at_district(&t, &numbers).await;
    })
    .await
    .expect("scenario timed out");
}

/// A village is killed (SIGKILL) right after a receipt has reached its
/// parent, put back to a copy taken before that receipt, and started while
/// its parent is down. Its marker was written with the commit, so it knows
/// it lacks its own latest entry and receipts nothing until it has taken it
/// back; the parent's copy of that case stays the only one. (A marker saved
/// once a second missed the last second before a kill: the village then
/// issued the same case number and origin sequence again with other
/// contents.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_killed_right_after_a_receipt_and_put_back_writes_nothing_before_it_recovers() {
    tokio::time::timeout(Duration::from_secs(600), async {
        let (dir, mut tree) = process_tree(&[DISTRICT, TOWNSHIP, VILLAGE]);
        tree.start_all().await.unwrap();
        let town = staff(&tree, TOWNSHIP, "super1", "supervisor").await;
        let clerk = staff(&tree, VILLAGE, "clerk1", "clerk").await;
        let matter = own_matter(&clerk).await;
        let mut cases = submit(&tree, VILLAGE, &matter, 2).await;
        converged(&clerk, &town, &cases).await;

        let files = store_files(&tree, VILLAGE);
        let backup = dir.path().join("backup");
        tree.stop(VILLAGE).await.unwrap();
        copy_store(&files, &backup);
        tree.start(VILLAGE).await.unwrap();
        // One more receipt; the village is killed as soon as its parent
        // holds it, well within a second of the commit.
        let last = submit(&tree, VILLAGE, &matter, 1).await;
        let at_parent = std::time::Instant::now();
        while events(&town, &last[0]).await.is_none() {
            assert!(
                at_parent.elapsed() < Duration::from_secs(60),
                "the receipt never reached the township"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tree.kill(VILLAGE).await.unwrap();

        tree.stop(TOWNSHIP).await.unwrap();
        put_back(&files, &backup);
        tree.start(VILLAGE).await.unwrap();
        let clerk = Api::login(&tree.url(VILLAGE).unwrap(), "clerk1", STAFF_PASSWORD).await;
        let (status, text) = clerk
            .post(
                "/api/v1/cases",
                &complete_submission(&matter, &next_applicant()),
            )
            .await;
        assert_eq!(status, 503, "{text}");
        assert!(text.contains("\"hall_recovering\""), "{text}");

        tree.start(TOWNSHIP).await.unwrap();
        let after = submit(&tree, VILLAGE, &matter, 2).await;
        cases.extend(last);
        cases.extend(after);
        let clerk = Api::login(&tree.url(VILLAGE).unwrap(), "clerk1", STAFF_PASSWORD).await;
        let town = Api::login(&tree.url(TOWNSHIP).unwrap(), "super1", STAFF_PASSWORD).await;
        let district = staff(&tree, DISTRICT, "super1", "supervisor").await;
        converged(&clerk, &town, &cases).await;
        converged(&clerk, &district, &cases).await;
        let mut unique = cases.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), cases.len(), "a case number was issued twice");
        tree.stop_all().await.unwrap();
    })
    .await
    .expect("scenario timed out");
}

/// Publishes at the district a catalogue version made from version `from`
/// (one matter renamed); returns the new version.
async fn publish_from(t: &onewindow_tests::Tree, from: i64) -> i64 {
    let admin = Api::login(&t.url(DISTRICT), "admin", onewindow_tests::ADMIN_PASSWORD).await;
    let mut cat = admin
        .get_ok(&format!("/api/v1/admin/catalogue/versions/{from}"))
        .await;
    let code = cat["matters"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    cat["matters"][&code]["name_zh"] = json!(format!("第{}版的事项名称", from + 1));
    cat["matters"][&code]["version"] = json!(from + 1);
    let draft = admin
        .post_ok("/api/v1/admin/catalogue/versions", &cat)
        .await;
    let v = draft["version"].as_i64().unwrap();
    admin
        .post_ok(
            &format!("/api/v1/admin/catalogue/versions/{v}/publish"),
            &json!({}),
        )
        .await;
    v
}

/// The catalogue version a hall uses.
async fn catalogue_version(t: &onewindow_tests::Tree, id: &str) -> i64 {
    let h = Api::anonymous(&t.url(id)).get_ok("/api/v1/health").await;
    h["catalogue_version"].as_i64().unwrap()
}

/// A township put back to an older copy while its village is away takes
/// two catalogue versions from the district again, both below the
/// village's old cursor on the township's log, and nothing after them is
/// meant for the village. The village resets its cursor; the township,
/// told the old one, had nothing above it to send, and the village stayed
/// on the older version for good (chaos seed 90290). Now the village
/// begins the link again, announcing the reset cursor, and is sent both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_village_whose_township_was_put_back_is_sent_again_what_it_held() {
    tokio::time::timeout(Duration::from_secs(240), async {
        let mut t = onewindow_tests::tree(&[DISTRICT, TOWNSHIP, VILLAGE]).await;
        let clerk = t.staff(VILLAGE, "clerk1", "clerk", None).await;
        let matter = own_matter(&clerk).await;
        let numbers = submit_four(&clerk, &matter).await;
        all_at_district(&t, &numbers).await;

        let files = tree_store_files(&t, TOWNSHIP);
        let backup = t.dir.path().join("township-backup");
        t.stop(TOWNSHIP).await;
        copy_store(&files, &backup);
        t.restart(TOWNSHIP).await;
        // After the copy: the village's cases (entries at the township
        // that go up only), then a version meant for every hall, which
        // takes the village's cursor on the township's log past them.
        let more = submit_four(&clerk, &matter).await;
        all_at_district(&t, &more).await;
        let v2 = publish_from(&t, 1).await;
        eventually(60, "the second version at the village", || async {
            (catalogue_version(&t, VILLAGE).await == v2).then_some(())
        })
        .await;

        t.stop(VILLAGE).await;
        t.stop(TOWNSHIP).await;
        put_back(&files, &backup);
        t.restart(TOWNSHIP).await;
        // The township takes the second version again and a third, right
        // after its copy's head: below the village's cursor.
        let v3 = publish_from(&t, v2).await;
        eventually(60, "the third version at the township", || async {
            (catalogue_version(&t, TOWNSHIP).await == v3).then_some(())
        })
        .await;
        t.restart(VILLAGE).await;
        eventually(60, "the third version at the village", || async {
            (catalogue_version(&t, VILLAGE).await == v3).then_some(())
        })
        .await;
        let mut all = numbers;
        all.extend(more);
        all_at_district(&t, &all).await;
    })
    .await
    .expect("scenario timed out");
}
