//! A store written by the previous release (every log entry in format 1,
//! JSON text), opened by this one: every entry reads back, the hash chain
//! still verifies, the cases keep their states, the old rows get routing, and
//! what this release writes (format 2) chains onto the old entries.
//!
//! The fixture is `tests/fixtures/format1.sqlite`, made by
//! `tests/fixtures/make-format1.sh` with the binaries of commit b7abc00 (see
//! `tests/fixtures/README.md`). Always SQLite: the fixture is an SQLite file.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use federation::log::{is_format1, verify_chain};
use federation::{EntryHash, LogEntry, NodeId};
use onewindow_node::domain::case::Case;
use onewindow_node::domain::log::{Directive, DirectiveRecord, LogBody};
use onewindow_node::link::signing;
use onewindow_node::server;
use onewindow_node::store::{CaseFilter, Store, StoredEvent};
use serde_json::json;
use sqlx::{Connection, Row};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/format1.sqlite");
const PUBLIC_KEY: &str = include_str!("fixtures/root-public-key.txt");
/// The fixture's node: a standalone district.
const NODE: &str = "nanhai";
/// Entries in the fixture's log (all of origin `nanhai`, sequence 1..=27).
const OLD_ENTRIES: usize = 27;
const STAFF_PASSWORD: &str = "fixture-staff-password";

/// The fixture's cases by matter (case numbers carry the day the fixture was
/// made): its state and its event kinds in order.
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "NH-GA-003",
        "completed",
        &["received", "completed_at_window", "rated"],
    ),
    (
        "NH-CL-001",
        "result_ready",
        &[
            "received",
            "accepted",
            "handling_started",
            "opinion_given",
            "submitted_for_review",
            "review_passed",
            "decided",
            "result_ready",
        ],
    ),
    (
        "NH-RS-010",
        "handling",
        &[
            "received",
            "correction_notified",
            "resubmitted",
            "accepted",
            "handling_started",
            "suspended",
            "resumed",
        ],
    ),
    ("NH-GA-006", "rejected", &["received", "not_accepted"]),
];
/// NH-MZ-011 has two cases: one waiting for correction (catalogue version 1)
/// and one accepted under version 2.
const MZ_011: &str = "NH-MZ-011";

/// A copy of the fixture in a fresh folder, and its URL.
fn copy_fixture() -> (tempfile::TempDir, String) {
    common::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.db");
    std::fs::copy(FIXTURE, &path).expect("the fixture tests/fixtures/format1.sqlite");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    (dir, url)
}

fn node_id() -> NodeId {
    NodeId::new(NODE).unwrap()
}

async fn open(url: &str) -> Store {
    match Store::open(url, node_id(), 4, "full", 1024).await {
        Ok(s) => s,
        Err(e) => panic!("this release cannot open the previous release's store: {e}"),
    }
}

/// Every stored event, in local order.
async fn all_events(store: &Store) -> Vec<StoredEvent> {
    match store.events_after(0, 1000).await {
        Ok(e) => e,
        Err(e) => panic!("events_after(0, 1000) on the previous release's store: {e}"),
    }
}

/// The entries of each origin, in origin sequence order.
fn by_origin(events: &[StoredEvent]) -> BTreeMap<String, Vec<LogEntry>> {
    let mut out: BTreeMap<String, Vec<LogEntry>> = BTreeMap::new();
    for e in events {
        out.entry(e.entry.origin.to_string())
            .or_default()
            .push(e.entry.clone());
    }
    for entries in out.values_mut() {
        entries.sort_by_key(|e| e.origin_seq);
    }
    out
}

async fn scalar(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_fixture_is_a_store_of_the_previous_release() {
    let (_dir, url) = copy_fixture();
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let migrated: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(migrated, 3, "written before migration 0004");
    let columns: Vec<String> = sqlx::query("PRAGMA table_info(events)")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("name"))
        .collect();
    for new in ["body_bin", "sealed", "up", "down", "routed"] {
        assert!(!columns.iter().any(|c| c == new), "{new} in {columns:?}");
    }
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM events ORDER BY local_seq")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(bodies.len(), OLD_ENTRIES);
    for b in &bodies {
        assert!(is_format1(b.as_bytes()), "not format 1: {}", &b[..40]);
        serde_json::from_str::<serde_json::Value>(b).unwrap();
    }
    conn.close().await.unwrap();
}

#[tokio::test]
async fn every_format1_entry_reads_back_and_the_chain_verifies() {
    let (_dir, url) = copy_fixture();
    let store = open(&url).await;

    // Every entry, in local order, as it was written.
    let events = all_events(&store).await;
    assert_eq!(events.len(), OLD_ENTRIES);
    assert_eq!(store.event_count().await.unwrap(), OLD_ENTRIES as i64);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.local_seq, i as i64 + 1);
        assert!(
            is_format1(&e.entry.body),
            "local #{} not format 1",
            e.local_seq
        );
        assert!(
            e.entry.sealed.is_empty(),
            "a format-1 entry has no sealed section"
        );
        e.entry.verify_hash().unwrap();
    }
    let raw_kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM events ORDER BY local_seq")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds, raw_kinds,
        "each body decodes to the kind it was stored as"
    );

    // Each origin's chain, from genesis.
    let chains = by_origin(&events);
    assert_eq!(chains.keys().collect::<Vec<_>>(), vec![NODE]);
    for (origin, entries) in &chains {
        let (seq, _) = verify_chain(0, EntryHash::GENESIS, entries)
            .unwrap_or_else(|e| panic!("chain of {origin}: {e}"));
        assert_eq!(seq, entries.len() as u64);
    }

    // The directives: catalogue version 2, the 2026 calendar, a revocation,
    // each still carrying a signature that verifies.
    let key = PUBLIC_KEY.trim();
    let directives: Vec<&DirectiveRecord> = events
        .iter()
        .filter_map(|e| match &e.body {
            LogBody::Directive(d) => Some(d),
            LogBody::Case(_) | LogBody::Audit(_) => None,
        })
        .collect();
    assert_eq!(directives.len(), 3);
    for d in &directives {
        assert_eq!(d.issued_by, "admin");
        match &d.directive {
            Directive::CataloguePublished {
                version,
                catalogue,
                signature,
            } => {
                assert_eq!(*version, 2);
                assert!(signing::verify(key, catalogue.as_bytes(), signature));
            }
            Directive::CalendarPublished {
                year,
                calendar,
                signature,
            } => {
                assert_eq!(*year, 2026);
                assert!(signing::verify(key, calendar.as_bytes(), signature));
            }
            Directive::NodeRevoked {
                node,
                serial,
                signature,
            } => {
                assert_eq!(node, "nanhai.guicheng");
                assert!(signing::verify(
                    key,
                    format!("{node}\n{serial}").as_bytes(),
                    signature
                ));
            }
            other => panic!("unexpected directive {other:?}"),
        }
    }

    // The cases: each one's events in order, folding to the state stored.
    let rows = store
        .cases(&CaseFilter {
            limit: 100,
            ..CaseFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(store.case_count().await.unwrap(), 6);
    let mut case_entries = 0;
    for row in &rows {
        let evs = store
            .case_events(&row.id)
            .await
            .unwrap_or_else(|e| panic!("case_events({}): {e}", row.id));
        case_entries += evs.len();
        let records: Vec<_> = evs.iter().map(|e| e.record().unwrap().clone()).collect();
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.case_id, row.id);
            assert_eq!(r.case_version, i as u64 + 1);
        }
        // The same entries as read in local order.
        for e in &evs {
            assert_eq!(&events[e.local_seq as usize - 1], e);
        }
        let folded = Case::fold(&records).unwrap_or_else(|e| panic!("{}: {e}", row.id));
        assert_eq!(folded.state.as_str(), row.state, "{}", row.id);
        assert_eq!(folded.version as i64, row.version);
        assert_eq!(row.case.state, folded.state);
        let by_id = store.case(&row.id).await.unwrap().unwrap();
        assert_eq!(by_id.state, row.state);
        let kinds: Vec<&str> = evs.iter().map(|e| e.body.kind()).collect();
        if row.matter_code == MZ_011 {
            match row.state.as_str() {
                "correction" => assert_eq!(kinds, ["received", "correction_notified"]),
                "accepted" => {
                    assert_eq!(kinds, ["received", "accepted"]);
                    assert_eq!(row.case.received.catalogue_version, 2);
                    assert_eq!(row.case.received.committed_limit.n, 10);
                }
                s => panic!("{}: state {s}", row.id),
            }
            continue;
        }
        let (_, state, want) = CASES
            .iter()
            .find(|(m, _, _)| *m == row.matter_code)
            .unwrap_or_else(|| panic!("unexpected matter {}", row.matter_code));
        assert_eq!(row.state, *state, "{}", row.id);
        assert_eq!(kinds, *want, "{}", row.id);
        assert_eq!(row.case.received.catalogue_version, 1, "{}", row.id);
    }
    assert_eq!(case_entries + directives.len(), OLD_ENTRIES);
    store.close().await;
}

#[tokio::test]
async fn opening_routes_the_old_rows() {
    let (_dir, url) = copy_fixture();
    let store = open(&url).await;
    assert_eq!(
        scalar(&store, "SELECT COUNT(*) FROM events WHERE routed = 0").await,
        0
    );
    // Every migration in the store crate ran, the newest last.
    assert_eq!(
        scalar(&store, "SELECT MAX(version) FROM _sqlx_migrations").await,
        newest_migration()
    );
    // The read model's JSON copies of the cases are dropped: a case is
    // folded from its events (the other tests here read them that way).
    assert_eq!(
        scalar(&store, "SELECT COUNT(*) FROM cases WHERE body <> ''").await,
        0
    );
    assert!(scalar(&store, "SELECT COUNT(*) FROM cases").await > 0);
    // A district's own entries: case events stay here (the cases are its
    // own), directives go to every child; nothing goes up from the root but
    // what it wrote itself.
    for e in all_events(&store).await {
        assert!(e.up, "local #{}", e.local_seq);
        let want = match e.body {
            LogBody::Directive(_) => "*",
            LogBody::Case(_) | LogBody::Audit(_) => "",
        };
        assert_eq!(e.down, want, "local #{} ({})", e.local_seq, e.body.kind());
    }
    assert_eq!(
        scalar(&store, "SELECT COUNT(*) FROM events WHERE up = 1").await,
        OLD_ENTRIES as i64
    );
    store.close().await;
    // Opening again finds nothing left to route and changes nothing.
    let again = open(&url).await;
    assert_eq!(
        scalar(&again, "SELECT COUNT(*) FROM events WHERE routed = 0").await,
        0
    );
    assert_eq!(all_events(&again).await.len(), OLD_ENTRIES);
    again.close().await;
}

/// The version of the newest migration file in the store crate, read from
/// the folder itself so that adding a migration does not break this test.
fn newest_migration() -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("store/migrations");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|f| {
            let name = f.ok()?.file_name().into_string().ok()?;
            name.split('_').next()?.parse::<i64>().ok()
        })
        .max()
        .expect("at least one migration")
}

/// The old entries of the fixture's origin: (last sequence, last hash).
async fn old_head(url: &str) -> (u64, EntryHash) {
    let store = open(url).await;
    let events = all_events(&store).await;
    store.close().await;
    let last = events.last().unwrap();
    assert_eq!(last.entry.origin_seq, OLD_ENTRIES as u64);
    (last.entry.origin_seq, last.entry.hash)
}

/// Checks the whole log after new entries: old ones untouched, new ones in
/// format 2 chained onto them. Returns the new entries.
async fn check_log_after(store: &Store, old_seq: u64, old_hash: EntryHash) -> Vec<StoredEvent> {
    let events = all_events(store).await;
    let (old, new) = events.split_at(OLD_ENTRIES);
    assert!(old.iter().all(|e| is_format1(&e.entry.body)));
    assert_eq!(old.last().unwrap().entry.hash, old_hash);
    assert!(!new.is_empty(), "nothing new was written");
    let first = &new[0].entry;
    assert_eq!(first.origin.as_str(), NODE);
    assert_eq!(first.origin_seq, old_seq + 1);
    assert_eq!(
        first.prev_hash, old_hash,
        "the first new entry's prev_hash is the hash of the last format-1 entry"
    );
    for e in new {
        assert_eq!(
            e.entry.body.first(),
            Some(&2),
            "a new entry's body is format 2, not JSON: {:?}",
            &e.entry.body[..e.entry.body.len().min(16)]
        );
        assert!(!is_format1(&e.entry.body));
        assert!(
            serde_json::from_slice::<serde_json::Value>(&e.entry.body).is_err(),
            "a new body parses as JSON"
        );
    }
    for (origin, entries) in by_origin(&events) {
        let (seq, _) = verify_chain(0, EntryHash::GENESIS, &entries)
            .unwrap_or_else(|e| panic!("old and new entries of {origin} in one chain: {e}"));
        assert_eq!(seq, entries.len() as u64);
    }
    assert_eq!(
        scalar(store, "SELECT COUNT(*) FROM events WHERE routed = 0").await,
        0
    );
    new.to_vec()
}

#[tokio::test]
async fn a_new_case_chains_format2_entries_onto_the_format1_log() {
    let (dir, url) = copy_fixture();
    let (old_seq, old_hash) = old_head(&url).await;

    let cfg = common::hall_config(NODE, &url, dir.path());
    let clock = std::sync::Arc::new(onewindow_node::service::StartedClock::at(common::START_MS));
    let node = server::start_with_clock(cfg, clock)
        .await
        .expect("a node starts on the old store");
    let http = common::Client::new(node.url());
    let clerk = http.login("wang.fang", STAFF_PASSWORD).await;

    // The catalogue in use is still version 2, published by the old release.
    let health = http.get("/api/v1/health").await.ok();
    assert_eq!(health["catalogue_version"], 2);

    let r = clerk
        .post(
            "/api/v1/cases",
            &json!({
                "matter_code": "NH-GA-003",
                "applicant": {"kind": "person", "id_number": "440605199007153278", "name": "陈晓敏", "phone": "13800138000"},
                "materials": [
                    {"code": "M01", "originals": 1},
                    {"code": "M02", "originals": 1},
                    {"code": "M03", "originals": 1}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["outcome"], "completion", "{}", r.text);
    let number = r.body["case_number"].as_str().unwrap().to_owned();

    let store = &node.node.store;
    let new = check_log_after(store, old_seq, old_hash).await;
    // The clerk's login (an audit record), then the case's two events and
    // the completion notice issued with them.
    let kinds: Vec<&str> = new.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "audit",
            "received",
            "completed_at_window",
            "document_issued"
        ]
    );
    assert!(
        new[1..]
            .iter()
            .all(|e| e.record().is_some_and(|r| r.case_id == number))
    );
    let evs = store.case_events(&number).await.unwrap();
    let kinds: Vec<&str> = evs.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds,
        ["received", "completed_at_window", "document_issued"]
    );
    let row = store.case(&number).await.unwrap().unwrap();
    assert_eq!(row.state, "completed");
    assert_eq!(row.case.received.catalogue_version, 2);
    assert_eq!(store.case_count().await.unwrap(), 7);
    // The old cases still answer the public progress query.
    for (number, last4, state) in old_numbers(store).await {
        let p = http
            .get(&format!("/api/v1/cases/{number}?last4={last4}"))
            .await
            .ok();
        assert_eq!(p["state"], state.as_str(), "{number}");
    }
    node.stop().await;

    // After a restart both formats read back, in one chain.
    let store = open(&url).await;
    let again = check_log_after(&store, old_seq, old_hash).await;
    assert_eq!(again, new);
    store.close().await;
}

/// (number, last four of the applicant's id, state) of the fixture's cases.
async fn old_numbers(store: &Store) -> Vec<(String, String, String)> {
    sqlx::query("SELECT id, applicant_last4, state FROM cases WHERE id IN (SELECT case_id FROM events WHERE body <> '') ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The fixture's case of a matter in a state.
async fn old_case(store: &Store, matter: &str, state: &str) -> String {
    sqlx::query_scalar("SELECT id FROM cases WHERE matter_code = $1 AND state = $2")
        .bind(matter)
        .bind(state)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn old_cases_go_on_in_format2() {
    let (dir, url) = copy_fixture();
    let (old_seq, old_hash) = old_head(&url).await;
    let cfg = common::hall_config(NODE, &url, dir.path());
    let clock = std::sync::Arc::new(onewindow_node::service::StartedClock::at(common::START_MS));
    let node = server::start_with_clock(cfg, clock)
        .await
        .expect("a node starts on the old store");
    let http = common::Client::new(node.url());
    let clerk = http.login("wang.fang", STAFF_PASSWORD).await;
    let he = http.login("he.li", STAFF_PASSWORD).await;
    let liu = http.login("liu.yang", STAFF_PASSWORD).await;
    let store = &node.node.store;

    // Result ready under the old release: handed out now.
    let ready = old_case(store, "NH-CL-001", "result_ready").await;
    let v = clerk
        .post(
            &format!("/api/v1/cases/{ready}/actions"),
            &json!({"action": "hand_out", "collector": {"by": "proxy", "name": "李桂英", "id_number": "110105198001010016", "authorisation": true}}),
        )
        .await
        .ok();
    assert_eq!(v["state"], "completed");
    // Accepted under catalogue version 2: handling starts.
    let accepted = old_case(store, MZ_011, "accepted").await;
    let v = he
        .post(
            &format!("/api/v1/cases/{accepted}/actions"),
            &json!({"action": "start_handling"}),
        )
        .await
        .ok();
    assert_eq!(v["state"], "handling");
    // In handling: on to review.
    let handling = old_case(store, "NH-RS-010", "handling").await;
    let v = liu
        .post(
            &format!("/api/v1/cases/{handling}/actions"),
            &json!({"action": "submit_for_review", "opinion": "符合领取条件"}),
        )
        .await
        .ok();
    assert_eq!(v["state"], "review");
    // Waiting for correction (catalogue version 1, since retired): the
    // materials come in and the case is accepted.
    let correction = old_case(store, MZ_011, "correction").await;
    let v = clerk
        .post(
            &format!("/api/v1/cases/{correction}/resubmit"),
            &json!({"situations": [], "materials": [
                {"code": "M01", "originals": 1},
                {"code": "M02", "originals": 1, "copies": 1},
                {"code": "M03", "copies": 1}
            ]}),
        )
        .await
        .ok();
    assert_eq!(v["outcome"], "receipt");

    check_log_after(store, old_seq, old_hash).await;
    for (id, state) in [
        (&ready, "completed"),
        (&accepted, "handling"),
        (&handling, "review"),
        (&correction, "accepted"),
    ] {
        let evs = store.case_events(id).await.unwrap();
        assert!(is_format1(&evs[0].entry.body), "{id} began in format 1");
        assert_eq!(evs.last().unwrap().entry.body.first(), Some(&2));
        let records: Vec<_> = evs.iter().map(|e| e.record().unwrap().clone()).collect();
        let folded = Case::fold(&records).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(folded.state.as_str(), state, "{id}");
        assert_eq!(store.case(id).await.unwrap().unwrap().state, state, "{id}");
    }
    node.stop().await;
}
