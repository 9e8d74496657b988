//! The store, backend-neutral: the same tests run against SQLite by default
//! and against PostgreSQL when `ONEWINDOW_TEST_DATABASE` is a postgres URL.
#![allow(clippy::unwrap_used)]

mod common;

use federation::{EntryHash, NodeId, log::verify_chain};
use onewindow_node::domain::case::{
    Actor, Applicant, ApplicantKind, Case, Event, EventRecord, Received, Role,
};
use onewindow_node::store::{BookOutcome, Booking, CaseFilter, CaseRow, PeerSeen, Store};

async fn open(url: &str) -> Store {
    open_as(url, "nanhai.guicheng").await
}

/// Opens the store of hall `id`.
async fn open_as(url: &str, id: &str) -> Store {
    Store::open(url, NodeId::new(id).unwrap(), 4, "normal", 1024)
        .await
        .unwrap()
}

/// Opens a store holding the starter catalogue as its published version 1:
/// a received event names its matter in a version the store holds.
async fn open_with_catalogue(url: &str) -> Store {
    open_with_catalogue_as(url, "nanhai.guicheng").await
}

/// [`open_with_catalogue`] for hall `id`.
async fn open_with_catalogue_as(url: &str, id: &str) -> Store {
    let store = open_as(url, id).await;
    if store.published_catalogue().await.unwrap().is_none() {
        let cat = onewindow_node::starter::catalogue().unwrap();
        let v = store.create_draft(&cat, 0).await.unwrap();
        store.publish(v, 0).await.unwrap();
    }
    store
}

fn actor() -> Actor {
    Actor {
        username: "clerk1".into(),
        role: Role::Clerk,
        node: "nanhai.guicheng".into(),
        department: None,
    }
}

fn received(case_id: &str) -> EventRecord {
    let cat = onewindow_node::starter::catalogue().unwrap();
    let matter = cat.matters.values().next().unwrap();
    EventRecord {
        case_id: case_id.into(),
        case_version: 1,
        actor: actor(),
        at_ms: 1_790_000_000_000,
        event: Event::Received(std::sync::Arc::new(Received::from_matter(
            matter,
            1,
            Applicant {
                kind: ApplicantKind::Person,
                id_number: "11010519491231002X".into(),
                name: "张三".into(),
                phone: None,
                checksum_overridden: false,
                checksum_override_reason: None,
            },
            vec![],
            vec![],
            "nanhai.guicheng".into(),
        ))),
    }
}

fn row(case: &Case, state: &str) -> CaseRow {
    CaseRow {
        id: case.id.clone(),
        matter_code: "T".into(),
        department: "a".into(),
        accepting_node: "nanhai.guicheng".into(),
        holder: Some("nanhai.guicheng".into()),
        state: state.into(),
        suspended: false,
        applicant_last4: "002X".into(),
        received_at_ms: case.received_at_ms,
        accepted_at_ms: None,
        closed_at_ms: None,
        statutory_due: None,
        committed_due: Some("2026-10-09".into()),
        stage_due: None,
        warning: "green".into(),
        version: case.version as i64,
        updated_at_ms: case.received_at_ms,
        immediate: false,
        granted: None,
        rating: None,
        follow_up_due: None,
        post_check_due: None,
        trust: None,
        case: Box::new(case.clone()),
    }
}

/// A rule for every child: an (empty) holiday calendar for `year`.
fn calendar_rule(year: i32) -> onewindow_node::domain::log::DirectiveRecord {
    use onewindow_node::domain::log::{Directive, DirectiveRecord};
    DirectiveRecord {
        directive: Directive::CalendarPublished {
            year,
            calendar: "{}".into(),
            signature: String::new(),
        },
        issued_by: "admin".into(),
        at_ms: 0,
    }
}

/// Writes `n` new cases, each with its received event, in one transaction.
async fn write_cases(store: &Store, prefix: &str, n: usize) {
    let mut w = store.write().await.unwrap();
    for i in 0..n {
        let rec = received(&format!("{prefix}-{i}"));
        let case = Case::start(&rec).unwrap();
        w.append(rec, "nanhai.guicheng").unwrap();
        w.put_case(row(&case, "received"));
    }
    w.commit().await.unwrap();
}

#[tokio::test]
async fn every_pooled_sqlite_connection_has_the_configured_page_cache() {
    let db = common::test_db().await;
    if !db.url.starts_with("sqlite:") {
        return; // PostgreSQL's memory is the server's own.
    }
    let store = Store::open(
        &db.url,
        NodeId::new("nanhai.guicheng").unwrap(),
        3,
        "normal",
        512,
    )
    .await
    .unwrap();
    // Hold all three connections at once, so each one is asked.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(store.pool().acquire().await.unwrap());
    }
    for conn in &mut held {
        let kib: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(kib, -512, "a negative cache_size is in KiB");
    }
}

/// A write given up before its commit (a clerk's request dropped, an
/// error midway) leaves nothing, and holds up neither readers nor the next
/// write: on SQLite the writer's own connection rolls it back when the
/// next write begins.
#[tokio::test]
async fn a_write_given_up_before_its_commit_leaves_nothing_and_holds_up_no_one() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    let before = store.event_count().await.unwrap();
    for round in 0..3 {
        let mut w = store.write().await.unwrap();
        assert_eq!(
            w.next_case_seq("GC", "20261123").await.unwrap(),
            1,
            "round {round}"
        );
        drop(w);
    }
    // Readers do not wait for it (nothing writes beside the writer).
    let started = std::time::Instant::now();
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM case_sequences")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(held, 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let mut w = store.write().await.unwrap();
    assert_eq!(w.next_case_seq("XX", "20261123").await.unwrap(), 1);
    assert_eq!(w.next_case_seq("XX", "20261123").await.unwrap(), 2);
    w.commit().await.unwrap();
    let mut w = store.write().await.unwrap();
    assert_eq!(w.next_case_seq("GC", "20261123").await.unwrap(), 1);
    w.commit().await.unwrap();
    let mut w = store.write().await.unwrap();
    assert_eq!(
        w.next_case_seq("GC", "20261123").await.unwrap(),
        2,
        "the commit held"
    );
    assert_eq!(w.next_case_seq("XX", "20261123").await.unwrap(), 3);
    w.commit().await.unwrap();
    write_cases(&store, "D", 3).await;
    assert_eq!(store.event_count().await.unwrap(), before + 3);
}

/// A commit whose caller is dropped after the database took it (a clerk's
/// request given up, a link closed while a batch was written) left the
/// writer's sequence behind the database: every later write was refused
/// with a unique-constraint error until the process restarted (chaos seed
/// 100093: a village refused every batch from its township as `storage`).
/// The next write now reads the writer's state again.
#[tokio::test]
async fn a_commit_dropped_after_the_database_took_it_leaves_the_next_writes_whole() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "A", 1).await;
    let stored = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE case_id LIKE 'B-%'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        n
    };
    // Polled by hand, and dropped unobserved as soon as the database holds
    // the entries. (A commit that finished within one poll has nothing to
    // show; then try again with other cases. A statement can finish within
    // the poll that sends it, so each attempt writes a few hundred cases:
    // the statements that write them do not.)
    let mut dropped_after_commit = false;
    for attempt in 0..20 {
        let held = stored().await;
        let mut w = store.write().await.unwrap();
        for i in 0..300 {
            let rec = received(&format!("B-{attempt}-{i}"));
            let case = Case::start(&rec).unwrap();
            w.append(rec, "nanhai.guicheng").unwrap();
            w.put_case(row(&case, "received"));
        }
        let mut commit = Box::pin(w.commit());
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(r) = commit.as_mut().poll(&mut cx) {
                r.unwrap();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            if stored().await > held {
                drop(commit);
                dropped_after_commit = true;
                break;
            }
        }
        if dropped_after_commit {
            break;
        }
    }
    assert!(
        dropped_after_commit,
        "no commit was caught between its parts"
    );
    write_cases(&store, "C", 2).await;
    let events = store.events_after(0, 100_000).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.local_seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let entries: Vec<_> = events.iter().map(|e| e.entry.clone()).collect();
    verify_chain(0, EntryHash::GENESIS, &entries).expect("one unbroken chain");
    assert_eq!(store.local_head().await, seqs.len() as u64);
}

#[tokio::test]
async fn migrations_run_once_and_reopening_continues_the_chain() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "A", 3).await;
    store.close().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "B", 2).await;
    let events = store.events_after(0, 100).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.local_seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let entries: Vec<_> = events.iter().map(|e| e.entry.clone()).collect();
    let (last, _) = verify_chain(0, EntryHash::GENESIS, &entries).expect("one unbroken chain");
    assert_eq!(last, 5);
}

#[tokio::test]
async fn a_dropped_transaction_stores_nothing_and_reuses_no_sequence() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "A", 1).await;
    {
        let mut w = store.write().await.unwrap();
        let rec = received("X-1");
        let case = Case::start(&rec).unwrap();
        w.append(rec, "nanhai.guicheng").unwrap();
        w.put_case(row(&case, "received"));
        let _ = w.next_case_seq("NH", "20261123").await.unwrap();
        // dropped without commit
    }
    assert_eq!(store.event_count().await.unwrap(), 1);
    assert!(store.case("X-1").await.unwrap().is_none());
    write_cases(&store, "B", 1).await;
    let events = store.events_after(0, 10).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.local_seq).collect::<Vec<_>>(),
        [1, 2]
    );
    let entries: Vec<_> = events.iter().map(|e| e.entry.clone()).collect();
    verify_chain(0, EntryHash::GENESIS, &entries).expect("the rolled-back entry left no hole");
    let mut w = store.write().await.unwrap();
    assert_eq!(
        w.next_case_seq("NH", "20261123").await.unwrap(),
        1,
        "the rolled-back number is reused"
    );
}

#[tokio::test]
async fn large_transactions_are_written_in_multi_row_batches() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    // More rows than one statement takes, for both events and cases.
    write_cases(&store, "BIG", 1234).await;
    assert_eq!(store.event_count().await.unwrap(), 1234);
    assert_eq!(store.case_count().await.unwrap(), 1234);
    let after = store.events_after(1200, 100).await.unwrap();
    assert_eq!(after.len(), 34);
    assert_eq!(after[0].record().unwrap().case_id, "BIG-1200");
}

#[tokio::test]
async fn a_case_row_set_twice_in_one_transaction_keeps_the_last() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    let mut w = store.write().await.unwrap();
    let rec = received("C-1");
    let case = Case::start(&rec).unwrap();
    w.append(rec, "nanhai.guicheng").unwrap();
    w.put_case(row(&case, "received"));
    w.put_case(row(&case, "accepted"));
    assert_eq!(w.case("C-1").await.unwrap().unwrap().state, "accepted");
    w.commit().await.unwrap();
    // And an upsert over a stored row.
    let mut w = store.write().await.unwrap();
    w.put_case(row(&case, "handling"));
    w.commit().await.unwrap();
    let r = store.case("C-1").await.unwrap().unwrap();
    assert_eq!(r.state, "handling");
    assert_eq!(*r.case, case);
    let listed = store
        .cases(&CaseFilter {
            states: vec!["handling".into(), "review".into()],
            department: Some("a".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let none = store
        .cases(&CaseFilter {
            states: vec!["review".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn a_new_case_row_is_inserted_and_one_held_already_fails_the_commit_whole() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    // Enough rows for the multi-row path as well as the one-trip commit.
    for n in [1usize, 40] {
        let mut w = store.write().await.unwrap();
        for i in 0..n {
            let rec = received(&format!("N{n}-{i}"));
            let case = Case::start(&rec).unwrap();
            w.append(rec, "nanhai.guicheng").unwrap();
            w.put_new_case(row(&case, "received"));
            // Set again in the same transaction: still one new row, the last.
            w.put_case(row(&case, "accepted"));
        }
        w.commit().await.unwrap();
        for i in 0..n {
            let r = store.case(&format!("N{n}-{i}")).await.unwrap().unwrap();
            assert_eq!(r.state, "accepted");
            assert_eq!(r.committed_due.as_deref(), Some("2026-10-09"));
        }
    }
    assert_eq!(store.case_count().await.unwrap(), 41);
    // A later event of a held case upserts its row.
    let held = store.case("N40-7").await.unwrap().unwrap().case;
    let mut w = store.write().await.unwrap();
    w.put_case(row(&held, "handling"));
    w.commit().await.unwrap();
    assert_eq!(
        store.case("N40-7").await.unwrap().unwrap().state,
        "handling"
    );
    // A row put as new for a case the store holds fails the commit, and
    // nothing of it is kept: not the new case beside it, nor the entry.
    let before = store.event_count().await.unwrap();
    for n in [1usize, 40] {
        let mut w = store.write().await.unwrap();
        let rec = received(&format!("late-{n}"));
        let case = Case::start(&rec).unwrap();
        w.append(rec, "nanhai.guicheng").unwrap();
        w.put_new_case(row(&case, "received"));
        for i in 0..n {
            let held = store.case(&format!("N40-{i}")).await.unwrap().unwrap();
            w.put_new_case(row(&held.case, "refused"));
        }
        // Said as a key held already: a batch applied with its new cases
        // presumed new is applied again reading them on this error.
        let err = w.commit().await.unwrap_err();
        assert!(err.is_unique_violation(), "{n} rows: {err}");
        assert!(store.case(&format!("late-{n}")).await.unwrap().is_none());
        assert_eq!(store.event_count().await.unwrap(), before);
        assert_eq!(
            store.case("N40-0").await.unwrap().unwrap().state,
            "accepted"
        );
    }
    // The writer goes on.
    write_cases(&store, "after", 2).await;
    assert_eq!(store.case_count().await.unwrap(), 43);
}

#[tokio::test]
async fn a_commit_that_fails_midway_keeps_none_of_its_rows_and_the_next_goes_on() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "F", 1).await;
    let before = store.event_count().await.unwrap();
    // A new case, then an event its case already holds: the insert of the
    // two fails at the second row, after the first.
    let mut w = store.write().await.unwrap();
    let rec = received("F-new");
    let case = Case::start(&rec).unwrap();
    w.append(rec, "nanhai.guicheng").unwrap();
    w.put_case(row(&case, "received"));
    w.append(received("F-0"), "nanhai.guicheng").unwrap();
    let err = w.commit().await.unwrap_err();
    assert!(err.is_unique_violation(), "{err}");
    assert_eq!(store.event_count().await.unwrap(), before);
    assert!(store.case("F-new").await.unwrap().is_none());
    // The writer goes on from what the store holds.
    write_cases(&store, "G", 2).await;
    assert_eq!(store.event_count().await.unwrap(), before + 2);
    assert!(store.case("G-1").await.unwrap().is_some());
    let entries: Vec<_> = store
        .events_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry)
        .collect();
    verify_chain(0, EntryHash::GENESIS, &entries).expect("the failed commit left no hole");
}

/// A case's row as the writer reads it.
async fn held_row(store: &Store, id: &str) -> CaseRow {
    let mut w = store.write().await.unwrap();
    w.case(id).await.unwrap().unwrap()
}

#[tokio::test]
async fn the_writer_folds_onto_the_rows_it_committed_and_forgets_them_when_written_beside() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "K", 3).await;
    // What the writer holds is what a fresh reader folds from the store.
    let mut w = store.write().await.unwrap();
    let mut r = w.case("K-1").await.unwrap().unwrap();
    r.state = "accepted".into();
    w.put_case(r);
    w.commit().await.unwrap();
    let held = held_row(&store, "K-1").await;
    let fresh = store.case("K-1").await.unwrap().unwrap();
    assert_eq!(held, fresh);
    assert_eq!(held.state, "accepted");
    // The writer reads its own rows, not the table: a row changed behind
    // its back is not seen...
    sqlx::query("UPDATE cases SET state = 'changed' WHERE id IN ('K-0', 'K-1')")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(held_row(&store, "K-0").await.state, "received");
    // ... nor one put in a transaction that never committed ...
    let mut w = store.write().await.unwrap();
    let mut r = w.case("K-2").await.unwrap().unwrap();
    r.state = "dropped".into();
    w.put_case(r);
    drop(w);
    assert_eq!(held_row(&store, "K-2").await.state, "received");
    // ... until the writer writes beside the rows (a column set on its
    // own, as the personal sections' purge does): then the table is read.
    let mut w = store.write().await.unwrap();
    w.set_applicant_last4("K-2", "").await.unwrap();
    assert_eq!(w.case("K-0").await.unwrap().unwrap().state, "changed");
    assert_eq!(w.case("K-1").await.unwrap().unwrap().state, "changed");
    w.commit().await.unwrap();
    // A bulk transaction leaves its rows out of the cache and drops what it
    // held of them: never a row older than the store's.
    let mut w = store.write().await.unwrap();
    let mut r = w.case("K-2").await.unwrap().unwrap();
    r.state = "small".into();
    w.put_case(r);
    w.commit().await.unwrap();
    assert_eq!(held_row(&store, "K-2").await.state, "small");
    let mut w = store.write().await.unwrap();
    let mut r = w.case("K-2").await.unwrap().unwrap();
    r.state = "bulk".into();
    w.put_case(r);
    for i in 0..100 {
        let rec = received(&format!("B-{i}"));
        let case = Case::start(&rec).unwrap();
        w.append(rec, "nanhai.guicheng").unwrap();
        w.put_case(row(&case, "received"));
    }
    w.commit().await.unwrap();
    assert_eq!(held_row(&store, "K-2").await.state, "bulk");
}

/// The writer keeps at most the case rows it was given room for, the last
/// written; the others are read and folded from the store as before.
#[tokio::test]
async fn the_writer_keeps_no_more_case_rows_than_it_is_given_room_for() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "A", 10).await;
    assert_eq!(store.cached_case_rows().await, 10);
    store.set_case_cache_rows(4).await;
    assert_eq!(store.cached_case_rows().await, 4);
    write_cases(&store, "C", 6).await;
    assert_eq!(store.cached_case_rows().await, 4);
    // A row no longer cached is still the store's, read whole.
    let fresh = store.case("A-0").await.unwrap().unwrap();
    assert_eq!(held_row(&store, "A-0").await, fresh);
    assert_eq!(store.cached_case_rows().await, 4);
}

#[tokio::test]
async fn cases_are_found_by_hall_subtree_holder_applicant_number_and_overdue() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    let mut w = store.write().await.unwrap();
    // (number, accepting hall, applicant, committed due, closed)
    let cases = [
        (
            "A_1",
            "nanhai.guicheng.xiaping",
            "11010519491231002X",
            "2026-11-20",
            false,
        ),
        (
            "AB2",
            "nanhai.guicheng",
            "11010519501231002X",
            "2026-11-30",
            false,
        ),
        (
            "AB3",
            "nanhai.guichengx",
            "11010519491231002X",
            "2026-11-01",
            true,
        ),
        (
            "C%4",
            "nanhai.dali",
            "44060219800101001X",
            "2026-11-01",
            false,
        ),
    ];
    for (id, hall, applicant, due, closed) in cases {
        let mut rec = received(id);
        if let Event::Received(r) = &mut rec.event {
            let r = std::sync::Arc::make_mut(r);
            r.applicant.id_number = applicant.into();
        }
        let case = Case::start(&rec).unwrap();
        w.append(rec, hall).unwrap();
        let mut r = row(&case, "handling");
        r.accepting_node = hall.into();
        r.holder = Some(hall.into());
        r.applicant_last4 = applicant[14..].into();
        r.committed_due = Some(due.into());
        r.closed_at_ms = closed.then_some(1_790_000_100_000);
        w.put_case(r);
    }
    w.commit().await.unwrap();
    let found = |f: CaseFilter| {
        let store = &store;
        async move {
            let mut ids: Vec<String> = store
                .cases(&CaseFilter { limit: 100, ..f })
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect();
            ids.sort();
            ids
        }
    };
    // A hall and the halls below it, not a sibling whose id starts the same.
    let guicheng = found(CaseFilter {
        hall: Some("nanhai.guicheng".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(guicheng, ["AB2", "A_1"]);
    let held = found(CaseFilter {
        held_by: Some("nanhai.guicheng".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(held, ["AB2"]);
    // The whole ID number, not only its last four characters.
    let applicant = found(CaseFilter {
        applicant: Some("11010519491231002X".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(applicant, ["AB3", "A_1"]);
    // `_` and `%` in a number prefix match themselves.
    let prefix = found(CaseFilter {
        number_prefix: Some("A_".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(prefix, ["A_1"]);
    let percent = found(CaseFilter {
        number_prefix: Some("C%".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(percent, ["C%4"]);
    // Overdue on 2026-11-23: open and due before it.
    let overdue = found(CaseFilter {
        overdue_on: Some("2026-11-23".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(overdue, ["A_1", "C%4"]);
}

#[tokio::test]
async fn case_numbers_count_per_hall_and_day() {
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let mut w = store.write().await.unwrap();
    assert_eq!(w.next_case_seq("NH", "20261123").await.unwrap(), 1);
    assert_eq!(w.next_case_seq("NH", "20261123").await.unwrap(), 2);
    assert_eq!(w.next_case_seq("GC", "20261123").await.unwrap(), 1);
    assert_eq!(w.next_case_seq("NH", "20261124").await.unwrap(), 1);
    w.commit().await.unwrap();
    let mut w = store.write().await.unwrap();
    assert_eq!(w.next_case_seq("NH", "20261123").await.unwrap(), 3);
}

#[tokio::test]
async fn catalogue_versions_move_draft_published_retired_and_freeze() {
    use onewindow_node::store::VersionError;
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let cat = onewindow_node::starter::catalogue().unwrap();
    let v1 = store.create_draft(&cat, 1).await.unwrap();
    let mut changed = cat.clone();
    changed.matters.pop_first();
    store.update_draft(v1, &changed).await.unwrap();
    let published = store.publish(v1, 2).await.unwrap();
    assert_eq!(published.matters.len(), cat.matters.len() - 1);
    assert_eq!(published.version, v1);
    assert!(matches!(
        store.update_draft(v1, &cat).await,
        Err(VersionError::Frozen(_))
    ));
    assert!(matches!(
        store.publish(v1, 3).await,
        Err(VersionError::Frozen(_))
    ));
    assert!(matches!(
        store.update_draft(99, &cat).await,
        Err(VersionError::NotFound(99))
    ));
    let v2 = store.create_draft(&cat, 4).await.unwrap();
    store.publish(v2, 5).await.unwrap();
    let infos = store.catalogue_versions().await.unwrap();
    assert_eq!(
        infos.iter().map(|i| i.state.as_str()).collect::<Vec<_>>(),
        ["retired", "published"]
    );
    assert_eq!(infos[0].retired_at_ms, Some(5));
    // The retired version's body is what was published, unchanged.
    assert_eq!(
        store.catalogue_version(v1).await.unwrap().unwrap(),
        published
    );
    assert_eq!(
        store.published_catalogue().await.unwrap().unwrap().version,
        v2
    );
}

#[tokio::test]
async fn sessions_expire_and_die_with_their_account() {
    use onewindow_node::store::StaffRecord;
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let s = StaffRecord {
        username: "clerk1".into(),
        display_name: "王".into(),
        role: Role::Clerk,
        department: None,
        password_hash: "x".into(),
        active: true,
        managed: false,
    };
    assert!(store.create_staff(&s, 0).await.unwrap());
    assert!(
        !store.create_staff(&s, 0).await.unwrap(),
        "usernames are unique"
    );
    store.create_session("h1", "clerk1", 0, 1000).await.unwrap();
    assert_eq!(store.session("h1", 999).await.unwrap().unwrap().staff, s);
    assert!(store.session("h1", 1000).await.unwrap().is_none());
    store.create_session("h2", "clerk1", 0, 5000).await.unwrap();
    assert!(store.deactivate_staff("clerk1").await.unwrap());
    assert!(store.session("h2", 10).await.unwrap().is_none());
}

#[tokio::test]
async fn an_account_from_the_root_replaces_the_local_one_and_ends_its_sessions_when_it_changes() {
    use onewindow_node::domain::log::StaffAccount;
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let mut a = StaffAccount {
        hall: "nanhai.guicheng.xiaping".into(),
        username: "xp.li".into(),
        display_name: "李".into(),
        role: Role::Clerk,
        department: None,
        password_hash: "h1".into(),
        active: true,
    };
    let take = |a: StaffAccount| {
        let store = store.clone();
        async move {
            let mut w = store.write().await.unwrap();
            let ended = w.take_staff_account(&a, 5).await.unwrap();
            w.commit().await.unwrap();
            ended
        }
    };
    assert!(
        !take(a.clone()).await,
        "a new account has no session to end"
    );
    let held = store.staff("xp.li").await.unwrap().unwrap();
    assert!(held.managed && held.active && held.password_hash == "h1");
    store.create_session("t1", "xp.li", 0, 1000).await.unwrap();
    a.display_name = "李文".into();
    assert!(!take(a.clone()).await, "a new name ends no session");
    assert!(store.session("t1", 10).await.unwrap().is_some());
    a.password_hash = "h2".into();
    assert!(take(a.clone()).await, "a new password ends the sessions");
    assert!(store.session("t1", 10).await.unwrap().is_none());
    store.create_session("t2", "xp.li", 0, 1000).await.unwrap();
    a.active = false;
    assert!(take(a.clone()).await);
    assert!(store.session("t2", 10).await.unwrap().is_none());
    assert!(!store.staff("xp.li").await.unwrap().unwrap().active);
}

#[tokio::test]
async fn queue_numbers_restart_each_day() {
    let db = common::test_db().await;
    let store = open(&db.url).await;
    assert_eq!(
        store.take_ticket("2026-11-23", 0).await.unwrap().number,
        "A001"
    );
    // A booked number comes from a booking checked in, and only once.
    let b = booking("K7M2PQ9X", "2026-11-23", "09:00", "11010519491231002X");
    assert!(matches!(
        store.add_booking(&b, 4, 4).await.unwrap(),
        BookOutcome::Booked(_)
    ));
    let booked = store
        .check_in("K7M2PQ9X", "2026-11-23", 0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(booked.number, "B001");
    assert_eq!(booked.appointment.as_deref(), Some("K7M2PQ9X"));
    assert_eq!(
        store.check_in("K7M2PQ9X", "2026-11-23", 0).await.unwrap(),
        None
    );
    let held = store.booking("K7M2PQ9X").await.unwrap().unwrap();
    assert_eq!(
        (held.status.as_str(), held.ticket_id),
        ("checked_in", Some(booked.id))
    );
    assert_eq!(
        store.take_ticket("2026-11-23", 0).await.unwrap().number,
        "A002"
    );
    assert_eq!(
        store.take_ticket("2026-11-24", 0).await.unwrap().number,
        "A001"
    );
    use onewindow_node::store::CallOutcome;
    let CallOutcome::Called(called) = store
        .call_next("2026-11-23", "1", "clerk1", 60_000)
        .await
        .unwrap()
    else {
        panic!("nobody called")
    };
    assert_eq!(
        (called.number.as_str(), called.wait_ms),
        ("B001", Some(60_000))
    );
    // Window 1 has B001 open; window 2 takes the next.
    assert_eq!(
        store
            .call_next("2026-11-23", "1", "clerk1", 61_000)
            .await
            .unwrap(),
        CallOutcome::Busy(called.clone())
    );
    let CallOutcome::Called(next) = store
        .call_next("2026-11-23", "2", "clerk2", 61_000)
        .await
        .unwrap()
    else {
        panic!("nobody called")
    };
    assert_eq!(next.number, "A001");
    assert!(matches!(
        store.no_show_ticket(called.id, 62_000).await.unwrap(),
        onewindow_node::store::ServeOutcome::Closed(t) if t.status == "no_show"
    ));
    let CallOutcome::Called(third) = store
        .call_next("2026-11-23", "1", "clerk1", 63_000)
        .await
        .unwrap()
    else {
        panic!("nobody called")
    };
    assert_eq!(third.number, "A002");
    assert_eq!(
        store
            .call_next("2026-11-23", "3", "clerk3", 64_000)
            .await
            .unwrap(),
        CallOutcome::Nobody
    );
}

#[tokio::test]
async fn a_link_reads_batches_bounded_in_bytes_and_an_entry_over_a_frame_is_refused() {
    use onewindow_node::domain::log::{Directive, DirectiveRecord};
    use onewindow_node::store::{MAX_ENTRY, Route, StoreError};
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "B", 50).await;
    let head = *store.route_head(&Route::Up).await.unwrap().borrow();
    assert!(head >= 50);
    let (all, covered) = store
        .wire_entries(&Route::Up, 0, head, 1000, 1 << 20)
        .await
        .unwrap();
    assert_eq!(covered, head);
    assert_eq!(all.len() as u64, head, "every entry goes up");
    let one = all[0].approx_bytes();
    // Room for about three entries: the batch stops there, and says how
    // far it covers so the next one starts after it.
    let (some, upto) = store
        .wire_entries(&Route::Up, 0, head, 1000, 3 * one + 100)
        .await
        .unwrap();
    assert!(!some.is_empty() && some.len() < 5, "{} entries", some.len());
    assert_eq!(upto, some.last().unwrap().local_seq);
    let (rest, _) = store
        .wire_entries(&Route::Up, upto, head, 1000, 1 << 20)
        .await
        .unwrap();
    assert_eq!(some.len() + rest.len(), all.len());
    // Nothing of this node goes down to a child it does not have.
    let (down, _) = store
        .wire_entries(
            &Route::Down("nanhai.guicheng.x".into()),
            0,
            head,
            1000,
            1 << 20,
        )
        .await
        .unwrap();
    assert!(down.is_empty());

    // An entry larger than a frame can carry is refused when written, and
    // nothing of its transaction is stored.
    let before = store.event_count().await.unwrap();
    let mut w = store.write().await.unwrap();
    let huge = w.append_directive(DirectiveRecord {
        directive: Directive::CalendarPublished {
            year: 2030,
            calendar: "x".repeat(MAX_ENTRY + 1),
            signature: String::new(),
        },
        issued_by: "admin".into(),
        at_ms: 0,
    });
    assert!(
        matches!(huge, Err(StoreError::EntryTooLarge { .. })),
        "{huge:?}"
    );
    drop(w);
    assert_eq!(store.event_count().await.unwrap(), before);
}

/// Every batch of `route` from 0 to `head` at `max_bytes` each: each
/// within its bytes (but for a lone entry), the next starting after what
/// the last covered.
async fn batches(
    store: &Store,
    route: &onewindow_node::store::Route,
    head: u64,
    max_bytes: usize,
) -> Vec<Vec<federation::replication::WireEntry>> {
    let mut out = Vec::new();
    let mut after = 0;
    while after < head {
        let (b, covered) = store
            .wire_entries(route, after, head, 10_000, max_bytes)
            .await
            .unwrap();
        assert!(covered > after, "a batch moves on");
        let bytes: usize = b.iter().map(|e| e.approx_bytes()).sum();
        assert!(b.len() == 1 || bytes <= max_bytes, "{bytes} > {max_bytes}");
        assert_eq!(b.last().map(|e| e.local_seq), Some(covered));
        after = covered;
        out.push(b);
    }
    out
}

/// The hashes of the entries read for the parent whose personal sections
/// go whole, after local sequence 0.
async fn whole_up(store: &Store) -> Vec<EntryHash> {
    use onewindow_node::store::Route;
    let head = *store.route_head(&Route::Up).await.unwrap().borrow();
    let (sent, _) = store
        .wire_entries(&Route::Up, 0, head, 10_000, 1 << 20)
        .await
        .unwrap();
    sent.iter()
        .filter(|w| matches!(w.entry.sealed, federation::Sealed::Open(_)))
        .map(|w| w.entry.hash)
        .collect()
}

/// Up the tree, the sections of a case started here go whole as soon as a
/// hall above holds the case or has written an event of it, and stay
/// withheld while it stays in the subtree: from the store that wrote them
/// (which keeps the cases it started in memory and reads the store only
/// for the others) as from the same store opened afresh.
#[tokio::test]
async fn a_case_that_a_hall_above_holds_or_wrote_to_sends_its_sections_up_whole() {
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    let mut w = store.write().await.unwrap();
    let mut hashes = std::collections::HashMap::new();
    for id in ["L-1", "L-2", "L-3"] {
        let rec = received(id);
        let case = Case::start(&rec).unwrap();
        hashes.insert(id, w.append(rec, "nanhai.guicheng").unwrap().entry.hash);
        w.put_new_case(row(&case, "received"));
    }
    w.commit().await.unwrap();
    assert_eq!(whole_up(&store).await, [], "no hall above needs them yet");

    // The district comes to hold L-2.
    let mut given = store.case("L-2").await.unwrap().unwrap();
    given.holder = Some("nanhai".into());
    let mut w = store.write().await.unwrap();
    w.put_case(given);
    w.commit().await.unwrap();
    assert_eq!(whole_up(&store).await, [hashes["L-2"]]);

    // The district writes an event of L-3, which comes down.
    let district_db = common::test_db().await;
    let district = open_as(&district_db.url, "nanhai").await;
    let mut dw = district.write().await.unwrap();
    let mut rec = received("L-3");
    rec.case_version = 2;
    rec.actor.node = "nanhai".into();
    rec.event = Event::HandlingStarted;
    let from_above = dw.append(rec, "nanhai.guicheng").unwrap().clone();
    let mut w = store.write().await.unwrap();
    w.append_remote(from_above.entry, from_above.body, from_above.scope, None);
    w.commit().await.unwrap();
    let expected = vec![hashes["L-2"], hashes["L-3"]];
    assert_eq!(whole_up(&store).await, expected);
    assert_eq!(
        whole_up(&open(&db.url).await).await,
        expected,
        "read afresh"
    );
}

/// A batch for the parent is filled by what it sends: the personal
/// sections it withholds do not count, so a batch of entries whose
/// materials' details stay below carries as many entries as its bytes
/// hold once they are withheld; sections that go whole still keep it
/// within its bytes.
#[tokio::test]
async fn a_batch_for_the_parent_is_filled_by_what_it_sends_once_sections_are_withheld() {
    use onewindow_node::domain::checklist::PresentedMaterial;
    use onewindow_node::store::Route;
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    let cat = onewindow_node::starter::catalogue().unwrap();
    let matter = cat
        .matters
        .values()
        .max_by_key(|m| m.materials.len())
        .unwrap();
    let mut w = store.write().await.unwrap();
    for i in 0..120 {
        let mut rec = received(&format!("P-{i}"));
        if let Event::Received(r) = &mut rec.event {
            let r = std::sync::Arc::make_mut(r);
            r.matter_code.clone_from(&matter.code);
            r.materials = matter
                .materials
                .iter()
                .map(|m| PresentedMaterial {
                    code: m.code.clone(),
                    originals: m.originals,
                    copies: m.copies,
                    electronic: false,
                    problem: None,
                    by_data: None,
                })
                .collect();
        }
        let case = Case::start(&rec).unwrap();
        w.append(rec, "nanhai.guicheng").unwrap();
        w.put_case(row(&case, "received"));
    }
    w.commit().await.unwrap();
    let head = *store.route_head(&Route::Up).await.unwrap().borrow();
    let (withheld, _) = store
        .wire_entries(&Route::Up, 0, head, 10_000, 1 << 20)
        .await
        .unwrap();
    store.send_personal_up(true);
    let (whole, _) = store
        .wire_entries(&Route::Up, 0, head, 10_000, 1 << 20)
        .await
        .unwrap();
    let (light, heavy) = (withheld[0].approx_bytes(), whole[0].approx_bytes());
    assert!(
        matches!(withheld[0].entry.sealed, federation::Sealed::Withheld(_)),
        "nothing above needs the section"
    );
    // Ten of them whole would not fit where ten withheld do.
    assert!(heavy > light + light / 5, "{heavy} stored, {light} sent");
    let max_bytes = 10 * light + federation::replication::BATCH_OVERHEAD;

    // Whole, a batch holds what its bytes hold of whole entries.
    let parts = batches(&store, &Route::Up, head, max_bytes).await;
    let seqs: Vec<u64> = parts.iter().flatten().map(|e| e.local_seq).collect();
    assert_eq!(seqs, whole.iter().map(|e| e.local_seq).collect::<Vec<_>>());
    assert!(parts[0].len() < 10, "{} whole entries", parts[0].len());

    // Withheld, ten entries a batch: what goes on the wire fills it.
    store.send_personal_up(false);
    let parts = batches(&store, &Route::Up, head, max_bytes).await;
    assert_eq!(parts[0].len(), 10, "{} withheld entries", parts[0].len());
    let sent: Vec<_> = parts.into_iter().flatten().collect();
    assert_eq!(sent, withheld, "the same entries, each once, in order");
    // From the store as from the tail.
    let (cold, _) = open(&db.url)
        .await
        .wire_entries(&Route::Up, 0, head, 10_000, max_bytes)
        .await
        .unwrap();
    assert_eq!(cold.len(), 10);
}

#[tokio::test]
async fn a_link_reads_the_same_batches_from_the_tail_in_memory_as_from_the_store() {
    use onewindow_node::store::Route;
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    write_cases(&store, "T", 30).await;
    let mut w = store.write().await.unwrap();
    for year in [2031, 2032] {
        w.append_directive(calendar_rule(year)).unwrap();
    }
    w.commit().await.unwrap();
    write_cases(&store, "U", 10).await;
    // A second handle on the same database holds no tail: it reads rows.
    let cold = open(&db.url).await;
    let head = store.local_head().await;
    let one = store
        .wire_entries(&Route::Up, 0, head, 1, 1 << 20)
        .await
        .unwrap()
        .0[0]
        .approx_bytes();
    let routes = [Route::Up, Route::Down("nanhai.guicheng.x".into())];
    for route in &routes {
        for (after, upto, max_entries, max_bytes) in [
            (0, head, 1000, 1 << 20),
            (0, head, 7, 1 << 20),
            (5, head - 3, 1000, 1 << 20),
            (0, head, 1000, 4 * one + 10),
            (29, head, 1000, 1 << 20),
            (head, head, 1000, 1 << 20),
        ] {
            let hot = store
                .wire_entries(route, after, upto, max_entries, max_bytes)
                .await
                .unwrap();
            let rows = cold
                .wire_entries(route, after, upto, max_entries, max_bytes)
                .await
                .unwrap();
            assert_eq!(
                hot, rows,
                "{route:?} ({after}, {upto}] {max_entries} {max_bytes}"
            );
        }
    }
    // Directives go down to every child; case events of this node's own
    // cases do not.
    let (down, _) = store
        .wire_entries(&routes[1], 0, head, 1000, 1 << 20)
        .await
        .unwrap();
    assert_eq!(down.len(), 2);
}

/// A child's route down is the entries meant for it and the rules for
/// every child, in log order, whichever of the two a batch's limit cuts
/// through; its head is the last of them; read from the tail in memory and
/// from the rows alike.
#[tokio::test]
async fn a_childs_route_down_is_its_entries_and_the_rules_for_all_in_log_order() {
    use onewindow_node::store::Route;
    let db = common::test_db().await;
    let store = open_with_catalogue(&db.url).await;
    let (x, y) = ("nanhai.guicheng.x", "nanhai.guicheng.y");
    let empty = *store
        .route_head(&Route::Down(y.into()))
        .await
        .unwrap()
        .borrow();
    assert_eq!(empty, 0, "nothing is meant for a child yet");
    let mut n = 0;
    for round in 0..6 {
        let mut w = store.write().await.unwrap();
        for (i, scope) in [x, y, "nanhai.guicheng", x, y, y].iter().enumerate() {
            n += 1;
            let rec = received(&format!("D-{round}-{i}"));
            let case = Case::start(&rec).unwrap();
            w.append(rec, scope).unwrap();
            w.put_case(row(&case, "received"));
        }
        if round % 2 == 1 {
            w.append_directive(calendar_rule(2040 + round)).unwrap();
        }
        w.commit().await.unwrap();
    }
    // The rows themselves say which entries are meant for x.
    let all = store.events_after(0, 1000).await.unwrap();
    let meant: Vec<u64> = all
        .iter()
        .filter(|e| e.down == "*" || e.down == x)
        .map(|e| e.local_seq as u64)
        .collect();
    assert_eq!(meant.len(), 6 * 2 + 3, "{n} case entries and 3 rules");
    assert!(all.iter().any(|e| e.down == y), "and some for y");
    let head = store.local_head().await;
    let cold = open(&db.url).await;
    for s in [&store, &cold] {
        let route_head = *s.route_head(&Route::Down(x.into())).await.unwrap().borrow();
        assert_eq!(route_head, *meant.last().unwrap());
        for max_entries in [1, 2, 3, 5, 1000] {
            let mut got = Vec::new();
            let mut after = 0;
            while after < head {
                let (batch, covered) = s
                    .wire_entries(&Route::Down(x.into()), after, head, max_entries, 1 << 20)
                    .await
                    .unwrap();
                assert!(batch.len() <= max_entries);
                assert!(covered > after, "a read moves on");
                got.extend(batch.iter().map(|w| w.local_seq));
                after = covered;
            }
            assert_eq!(got, meant, "{max_entries} at a time");
        }
    }
}

/// The text in column `col` of every row `sql` gives (SQLite's plans and
/// pragmas).
async fn text_column(store: &Store, sql: &str, col: usize) -> Vec<String> {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String, _>(col).unwrap())
        .collect()
}

/// The reads made for every action on a case and every batch a link sends
/// search an index: none walks `events` or `cases`, whose size grows with
/// the log (a partial index is used only when the query shows that it
/// applies, and a bound value does not).
#[tokio::test]
async fn the_reads_of_every_action_and_batch_search_an_index() {
    // PostgreSQL plans a small table as a scan whatever its indexes.
    let Some((_db, store)) = sqlite_store().await else {
        return;
    };
    for (name, sql) in onewindow_node::store::indexed_reads() {
        let plan = text_column(&store, &format!("EXPLAIN QUERY PLAN {sql}"), 3).await;
        assert!(
            plan.iter().any(|l| l.starts_with("SEARCH")),
            "{name}: {plan:?}"
        );
        assert!(
            !plan.iter().any(|l| l.starts_with("SCAN")),
            "{name} walks a table: {plan:?}"
        );
    }
}

/// No index on the two tables that every case and every entry is written
/// to begins with a value that is random for each row (a digest or a
/// hash, or the last characters of an ID number): each new row would land
/// on a leaf page of its own, written whole to the write-ahead log at
/// every commit and again at the checkpoint, at every tier. The index of
/// applicants' digests did that, used by no read, and halved
/// `bench replication` once its cases carried digests.
#[tokio::test]
async fn no_index_of_the_log_or_the_cases_is_keyed_by_a_random_value() {
    // One schema for both: the same migrations make it.
    let Some((_db, store)) = sqlite_store().await else {
        return;
    };
    let random = [
        "id_digest",
        "applicant_last4",
        "hash",
        "prev_hash",
        "sealed_hash",
    ];
    let mut seen = 0;
    for table in ["events", "cases"] {
        let indexes = index_names(&store, table).await;
        assert!(!indexes.is_empty(), "{table} has no index");
        for index in indexes {
            // Its columns in order (`seqno`), each named in column 2.
            let columns = text_column(&store, &format!("PRAGMA index_info({index})"), 2).await;
            let first = columns.first().cloned().unwrap_or_default();
            assert!(
                !random.contains(&first.as_str()),
                "{index} on {table} begins with {first}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 8, "only {seen} indexes looked at");
}

/// A store of the tests' database when it is SQLite (the schema's tests
/// ask SQLite itself); `None` on PostgreSQL.
async fn sqlite_store() -> Option<(common::TestDb, Store)> {
    let db = common::test_db().await;
    if !db.url.starts_with("sqlite:") {
        return None;
    }
    let store = open(&db.url).await;
    Some((db, store))
}

/// The names of `table`'s indexes on SQLite, sorted.
async fn index_names(store: &Store, table: &str) -> Vec<String> {
    let mut names = text_column(store, &format!("PRAGMA index_list({table})"), 1).await;
    names.sort();
    names
}

/// Every index of the log and of the cases is written for each event at
/// every tier the event reaches (each of the case's adds 0.4 to 1.6 µs to
/// a new case's row of about 10, `ARCHITECTURE.md`): these are all there
/// are. One added makes this fail, so that it is added for a reader a user
/// waits on; one whose reader has gone is dropped (migration 0032 dropped
/// `cases_open`).
#[tokio::test]
async fn the_log_and_the_cases_carry_only_the_indexes_their_readers_need() {
    // One schema for both: the same migrations make it.
    let Some((_db, store)) = sqlite_store().await else {
        return;
    };
    assert_eq!(
        index_names(&store, "cases").await,
        [
            "cases_accepting",
            "cases_follow_up",
            "cases_post_check",
            "cases_stats",
            "cases_withheld",
            "cases_work",
            // The primary key.
            "sqlite_autoindex_cases_1",
        ]
    );
    assert_eq!(
        index_names(&store, "events").await,
        [
            "events_case",
            "events_down",
            // The primary key, and `(origin, origin_seq)`.
            "sqlite_autoindex_events_1",
            "sqlite_autoindex_events_2",
        ]
    );
}

/// A hall put back to a blank store writes nothing of its own until the
/// tail of its log is back from its parent, which sends a recovering child
/// its whole subtree's entries; the writer then resumes after the recovered
/// head, and case numbers after the recovered ones.
#[tokio::test]
async fn a_recovering_hall_is_sent_its_subtree_and_writes_after_what_came_back() {
    use federation::LogEntry;
    use onewindow_node::domain::case_number::CaseNumber;
    use onewindow_node::domain::log::LogBody;
    use onewindow_node::store::{Route, StoreError};
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let number = |seq| CaseNumber::new("GC", day, seq).unwrap().to_string();
    // The hall's log: three cases of one day, numbered 1 to 3.
    let first = common::test_db().await;
    let hall = open_with_catalogue(&first.url).await;
    {
        let mut w = hall.write().await.unwrap();
        for seq in 1..=3 {
            let rec = received(&number(seq));
            let case = Case::start(&rec).unwrap();
            w.append(rec, "nanhai.guicheng").unwrap();
            w.put_case(row(&case, "received"));
        }
        w.commit().await.unwrap();
    }
    let own = hall.events_after(0, 10).await.unwrap();
    assert_eq!(own.len(), 3);

    // The parent holds them, a village's entry below the hall, and entries
    // of two other townships (one whose name starts like the hall's).
    let parent_db = common::test_db().await;
    let parent = Store::open(
        &parent_db.url,
        NodeId::new("nanhai").unwrap(),
        4,
        "normal",
        1024,
    )
    .await
    .unwrap();
    let child = "nanhai.guicheng".to_owned();
    let mut recover_head = parent
        .route_head(&Route::Recover(child.clone()))
        .await
        .unwrap();
    assert_eq!(*recover_head.borrow_and_update(), 0);
    let other = |origin: &str, case: &str| {
        (
            LogEntry::next(
                NodeId::new(origin).unwrap(),
                0,
                EntryHash::GENESIS,
                format!("{origin} {case}"),
            ),
            LogBody::Case(received(case)),
        )
    };
    {
        let mut w = parent.write().await.unwrap();
        let (e, b) = other("nanhai.shishan", "S-1");
        w.append_remote(e, b, "nanhai.shishan".into(), Some("nanhai.shishan"));
        for ev in &own {
            w.append_remote(
                ev.entry.clone(),
                ev.body.clone(),
                ev.scope.clone(),
                Some("nanhai.guicheng"),
            );
        }
        let (e, b) = other("nanhai.guichengbei", "B-1");
        w.append_remote(
            e,
            b,
            "nanhai.guichengbei".into(),
            Some("nanhai.guichengbei"),
        );
        let (e, b) = other("nanhai.guicheng.xiaping", "X-1");
        w.append_remote(
            e,
            b,
            "nanhai.guicheng.xiaping".into(),
            Some("nanhai.guicheng"),
        );
        w.commit().await.unwrap();
    }
    assert_eq!(
        *recover_head.borrow_and_update(),
        6,
        "the recovering route is woken by the subtree's entries"
    );
    let (down, _) = parent
        .wire_entries(&Route::Down(child.clone()), 0, 6, 1000, 1 << 20)
        .await
        .unwrap();
    assert!(
        down.is_empty(),
        "the usual route leaves out what the subtree wrote"
    );
    let (sent, covered) = parent
        .wire_entries(&Route::Recover(child.clone()), 0, 6, 1000, 1 << 20)
        .await
        .unwrap();
    assert_eq!(covered, 6);
    let origins: Vec<String> = sent
        .iter()
        .map(|w| format!("{}#{}", w.entry.origin, w.entry.origin_seq))
        .collect();
    assert_eq!(
        origins,
        [
            "nanhai.guicheng#1",
            "nanhai.guicheng#2",
            "nanhai.guicheng#3",
            "nanhai.guicheng.xiaping#1"
        ]
    );
    assert!(
        sent.iter().all(|w| w.stream.is_some() && w.stream_seq == 1),
        "case events travel down in their streams"
    );

    // The hall on a blank store, recovering: its own writes are refused.
    let second = common::test_db().await;
    let restored = open_with_catalogue(&second.url).await;
    restored.hold_own_writes(true).await;
    assert!(restored.own_writes_held());
    {
        let mut w = restored.write().await.unwrap();
        assert!(matches!(
            w.append(received(&number(1)), "nanhai.guicheng"),
            Err(StoreError::Recovering)
        ));
    }
    assert_eq!(restored.event_count().await.unwrap(), 0);
    // What the parent sent comes back as it was.
    {
        let mut w = restored.write().await.unwrap();
        for ev in &own {
            w.append_remote(ev.entry.clone(), ev.body.clone(), ev.scope.clone(), None);
            w.put_case(row(&Case::start(ev.record().unwrap()).unwrap(), "received"));
        }
        w.commit().await.unwrap();
    }
    assert_eq!(restored.own_origin_held().await.unwrap(), 3);
    assert_eq!(restored.resume_own_writes("GC").await.unwrap(), 3);
    assert!(!restored.own_writes_held());
    // The next own entry follows the recovered head, and the next case
    // number of the day follows the recovered ones.
    let mut w = restored.write().await.unwrap();
    assert_eq!(w.next_case_seq("GC", "20261123").await.unwrap(), 4);
    let ev = w.append(received(&number(4)), "nanhai.guicheng").unwrap();
    assert_eq!(ev.entry.origin_seq, 4);
    assert_eq!(ev.entry.prev_hash, own[2].entry.hash);
    assert!(ev.up, "a new entry goes up");
    w.commit().await.unwrap();
    let back = restored.events_after(0, 10).await.unwrap();
    assert!(back[..3].iter().all(|e| !e.up), "the parent holds these");
}

#[tokio::test]
async fn a_childs_status_report_adds_its_subtree_and_nothing_outside_it() {
    use federation::replication::SubtreeNode;
    let db = common::test_db().await;
    let store = open(&db.url).await;
    store
        .fleet_seen(&PeerSeen {
            node_id: "nanhai.guicheng",
            connected: true,
            remote: None,
            software: "0.1.0",
            catalogue_version: 1,
            backlog: None,
            acked: None,
            skew_ms: None,
            now_ms: 5,
        })
        .await
        .unwrap();
    let row = |node: &str| SubtreeNode {
        node: node.into(),
        connected: true,
        last_seen_ms: Some(4),
        software: "0.1.0".into(),
        catalogue_version: Some(1),
        backlog: Some(3),
        latency_ms: Some(40),
        skew_ms: Some(-2),
        cert_not_after_ms: Some(1000),
        name_zh: format!("{node} 中心"),
        name_en: String::new(),
    };
    let outside = store
        .fleet_reported(
            "nanhai.guicheng",
            12,
            &[
                row("nanhai.guicheng.xiaping"),
                row("nanhai.dali.yanbu"),
                row("nanhai.guicheng"),
                row("nanhai"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(outside, 3, "a sibling, the child itself and its parent");
    let fleet = store.oversight_fleet().await.unwrap();
    let ids: Vec<&str> = fleet.iter().map(|r| r.node_id.as_str()).collect();
    assert_eq!(ids, ["nanhai.guicheng", "nanhai.guicheng.xiaping"]);
    assert_eq!(fleet[0].lag_ms, Some(12), "the child's link round trip");
    assert_eq!(fleet[1].parent.as_deref(), Some("nanhai.guicheng"));
    assert_eq!(fleet[1].lag_ms, Some(40));
    assert_eq!(fleet[1].backlog, Some(3));
    assert_eq!(fleet[1].cert_not_after_ms, Some(1000));
    store
        .fleet_named("nanhai.guicheng", "桂城", "Guicheng")
        .await
        .unwrap();
    let mut names = store.hall_names().await.unwrap();
    names.sort();
    assert_eq!(
        names,
        [
            ("nanhai.guicheng".into(), "桂城".into(), "Guicheng".into()),
            (
                "nanhai.guicheng.xiaping".into(),
                "nanhai.guicheng.xiaping 中心".into(),
                String::new()
            ),
        ]
    );
}

#[tokio::test]
async fn a_status_report_that_says_nothing_new_writes_nothing_until_last_seen_is_stale() {
    use federation::replication::{QueueDay, SubtreeNode};
    use onewindow_store::{FLEET_REFRESH, StatusHeard};
    use std::time::{Duration, Instant};
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let peer = "nanhai.guicheng";
    let v = "nanhai.guicheng.xiaping";
    let row = |last_seen: i64, backlog: i64, latency: i64| SubtreeNode {
        node: v.into(),
        connected: true,
        last_seen_ms: Some(last_seen),
        software: "0.1.0".into(),
        catalogue_version: Some(1),
        backlog: Some(backlog),
        latency_ms: Some(latency),
        skew_ms: Some(3),
        cert_not_after_ms: Some(1000),
        name_zh: "夏平".into(),
        name_en: String::new(),
    };
    let queue = |n: i64| {
        vec![QueueDay {
            hall: v.into(),
            day: "2026-11-23".into(),
            bucket: 0,
            n,
            total_ms: n * 1000,
            max_ms: 1000,
        }]
    };
    // The node's clock (ms) and the monotonic clock move apart: the
    // refresh is measured on the monotonic one.
    let start = Instant::now();
    let ahead = std::cell::Cell::new(0i64);
    let heard = |now: i64, backlog: u64, sub: Vec<SubtreeNode>, q: Vec<QueueDay>| {
        let store = store.clone();
        let at = start + Duration::from_millis(u64::try_from(now - 1_000_000).unwrap());
        let now_ms = now + ahead.get();
        async move {
            store
                .status_heard(&StatusHeard {
                    peer,
                    remote: Some("127.0.0.1:1"),
                    software: "0.1.0",
                    catalogue_version: 1,
                    backlog: backlog as i64,
                    acked: 7,
                    skew_ms: 40,
                    name_zh: "桂城",
                    name_en: "Guicheng",
                    child: Some((12, &sub, &q)),
                    now_ms,
                    at,
                })
                .await
                .unwrap()
        }
    };
    let fleet = || async {
        let f = store.oversight_fleet().await.unwrap();
        let get = |id: &str| f.iter().find(|r| r.node_id == id).cloned().unwrap();
        (get(peer), get(v))
    };
    let t0 = 1_000_000;
    assert_eq!(heard(t0, 0, vec![row(t0 - 5, 2, 30)], queue(3)).await, 0);
    let (p, c) = fleet().await;
    assert_eq!(
        (p.last_seen_ms, p.lag_ms, p.backlog),
        (Some(t0), Some(12), Some(0))
    );
    assert_eq!((c.last_seen_ms, c.backlog), (Some(t0 - 5), Some(2)));
    // The same again two seconds later, with a child seen again and a
    // round trip a few milliseconds off: nothing is written.
    sqlx::query("DELETE FROM queue_days")
        .execute(store.pool())
        .await
        .unwrap();
    heard(t0 + 2000, 0, vec![row(t0 + 1995, 2, 33)], queue(3)).await;
    let (p, c) = fleet().await;
    assert_eq!(p.last_seen_ms, Some(t0), "the peer's row is as it was");
    assert_eq!(c.last_seen_ms, Some(t0 - 5), "the child's row is as it was");
    assert_eq!(c.lag_ms, Some(30));
    let waits = store.queue_waits("2026-11-23", "2026-11-23").await.unwrap();
    assert_eq!(
        waits.count, 0,
        "the same queue summaries are not written again"
    );
    // A backlog that moves while it is not zero waits for the refresh,
    // even with the node's clock an hour on (a simulated clock jumps).
    ahead.set(3_600_000);
    heard(t0 + 3000, 0, vec![row(t0 + 2995, 7, 33)], queue(3)).await;
    ahead.set(0);
    let (p, c) = fleet().await;
    assert_eq!(
        p.last_seen_ms,
        Some(t0),
        "an hour on the node's clock alone"
    );
    assert_eq!(c.backlog, Some(2), "2 -> 7 waits");
    // What changed is written at once: the peer's backlog leaving zero,
    // the child's backlog reaching zero, a new queue summary.
    heard(t0 + 4000, 5, vec![row(t0 + 3995, 0, 33)], queue(4)).await;
    let (p, c) = fleet().await;
    assert_eq!((p.last_seen_ms, p.backlog), (Some(t0 + 4000), Some(5)));
    assert_eq!((c.last_seen_ms, c.backlog), (Some(t0 + 3995), Some(0)));
    let waits = store.queue_waits("2026-11-23", "2026-11-23").await.unwrap();
    assert_eq!(waits.count, 4);
    // The peer's backlog moves on (5 -> 8): nothing is written.
    heard(t0 + 6000, 8, vec![row(t0 + 5995, 0, 33)], queue(4)).await;
    let (p, _) = fleet().await;
    assert_eq!((p.last_seen_ms, p.backlog), (Some(t0 + 4000), Some(5)));
    // Nothing new, but the refresh has passed: written.
    let later = t0 + 4000 + i64::try_from(FLEET_REFRESH.as_millis()).unwrap();
    heard(later, 9, vec![row(later - 5, 9, 33)], queue(4)).await;
    let (p, c) = fleet().await;
    assert_eq!((p.last_seen_ms, p.backlog), (Some(later), Some(9)));
    assert_eq!((c.last_seen_ms, c.backlog), (Some(later - 5), Some(9)));
    // A link that goes (always written) and comes back: the next report is
    // written whole, whatever the last one said.
    store
        .fleet_seen(&PeerSeen {
            node_id: peer,
            connected: false,
            remote: None,
            software: "0.1.0",
            catalogue_version: 1,
            backlog: None,
            acked: None,
            skew_ms: None,
            now_ms: later + 1,
        })
        .await
        .unwrap();
    assert!(!fleet().await.0.connected);
    heard(later + 2, 5, vec![row(later - 5, 9, 33)], queue(4)).await;
    let (p, _) = fleet().await;
    assert!(p.connected, "connected again at the next report");
    assert_eq!(p.last_seen_ms, Some(later + 2));
    // A row of a node outside the child's subtree is counted and left out.
    let outside = heard(
        later + 3,
        5,
        vec![
            row(later, 9, 33),
            SubtreeNode {
                node: "nanhai.dali".into(),
                ..row(later, 1, 1)
            },
        ],
        queue(4),
    )
    .await;
    assert_eq!(outside, 1);
    assert!(
        store
            .oversight_fleet()
            .await
            .unwrap()
            .iter()
            .all(|r| r.node_id != "nanhai.dali")
    );
}

#[tokio::test]
async fn queue_summaries_from_a_child_replace_each_day_and_count_in_the_waits() {
    use federation::replication::QueueDay;
    // The store is the township's; its village reports.
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let q = |hall: &str, day: &str, bucket: u32, n: i64| QueueDay {
        hall: hall.into(),
        day: day.into(),
        bucket,
        n,
        total_ms: n * 60_000,
        max_ms: 90_000,
    };
    let v = "nanhai.guicheng.xiaping";
    let outside = store
        .queue_reported(
            v,
            &[
                q(v, "2026-11-23", 0, 4),
                q(v, "2026-11-23", 2, 1),
                q("nanhai.guicheng", "2026-11-23", 0, 2),
                q("nanhai.guicheng.shibei", "2026-11-23", 0, 9),
                q(v, "not a day", 0, 1),
                q(v, "2026-11-23", 99, 1),
            ],
        )
        .await
        .unwrap();
    assert_eq!(outside, 4, "its parent, a sibling, a bad day, a bad bucket");
    let d = store.queue_waits("2026-11-23", "2026-11-23").await.unwrap();
    assert_eq!(d.count, 5);
    assert_eq!(d.buckets[0], 4);
    assert_eq!(d.buckets[2], 1);
    assert_eq!(d.total_ms, 5 * 60_000);
    assert_eq!(d.max_ms, 90_000);
    // A later report of the same hall and day replaces it whole.
    store
        .queue_reported(v, &[q(v, "2026-11-23", 1, 5)])
        .await
        .unwrap();
    let d = store.queue_waits("2026-11-23", "2026-11-23").await.unwrap();
    assert_eq!(d.count, 5);
    assert_eq!(d.buckets, [0, 5, 0, 0, 0, 0]);
    // Of one hall's subtree (a report's --hall): the village's, or none.
    let of = |within: &'static str| {
        let store = &store;
        async move {
            store
                .queue_waits_within("2026-11-23", "2026-11-23", Some(within))
                .await
                .unwrap()
                .count
        }
    };
    assert_eq!(of(v).await, 5);
    assert_eq!(of("nanhai.guicheng").await, 5);
    assert_eq!(of("nanhai.guicheng.xiapingcun").await, 0);
    assert_eq!(of("nanhai.guicheng.shibei").await, 0);
    // What goes further up: the summaries held, of the days asked for.
    let up = store.queue_report(&["2026-11-23".into()]).await.unwrap();
    assert_eq!(up, [q(v, "2026-11-23", 1, 5)]);
    assert!(
        store
            .queue_report(&["2026-11-24".into()])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_peers_incarnation_and_its_cursor_reset_outlive_a_reopen() {
    let db = common::test_db().await;
    let store = open(&db.url).await;
    assert_eq!(store.peer_incarnation("nanhai").await.unwrap(), None);
    store.set_acked("nanhai", 7).await.unwrap();
    // Heard without a reset: the cursor stays.
    store.heard_peer("nanhai", 41, None).await.unwrap();
    assert_eq!(store.peer_incarnation("nanhai").await.unwrap(), Some(41));
    assert_eq!(store.link_cursor("nanhai").await.unwrap(), (0, 7));
    // An incarnation of u64's upper half round-trips through BIGINT.
    let big = u64::MAX - 5;
    store
        .heard_peer("nanhai.guicheng.xiaping", big, Some(3))
        .await
        .unwrap();
    store.close().await;

    let store = open(&db.url).await;
    assert_eq!(store.peer_incarnation("nanhai").await.unwrap(), Some(41));
    assert_eq!(
        store
            .peer_incarnation("nanhai.guicheng.xiaping")
            .await
            .unwrap(),
        Some(big)
    );
    assert_eq!(
        store.link_cursor("nanhai.guicheng.xiaping").await.unwrap(),
        (3, 0)
    );
    // Another incarnation with a reset below the cursor: both in one go,
    // the acknowledgement kept; 0 (a peer that does not say) is not kept.
    store.heard_peer("nanhai", 42, Some(0)).await.unwrap();
    store.heard_peer("nanhai", 0, None).await.unwrap();
    assert_eq!(store.peer_incarnation("nanhai").await.unwrap(), Some(42));
    assert_eq!(store.link_cursor("nanhai").await.unwrap(), (0, 7));
}

#[tokio::test]
async fn each_start_is_kept_as_an_incarnation_and_the_earlier_ones_are_listed() {
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let (earlier, floor) = store.begin_incarnation(11, 0, 1, 2).await.unwrap();
    assert_eq!((earlier, floor), (vec![], None));
    store.begin_incarnation(12, 40, 2, 2).await.unwrap();
    store.close().await;
    let store = open(&db.url).await;
    let (earlier, floor) = store.begin_incarnation(13, 25, 3, 2).await.unwrap();
    assert_eq!(earlier, [(11, 0), (12, 40)]);
    assert_eq!(floor, None);
    // Past the number kept: the oldest fall into the floor.
    let (earlier, floor) = store
        .begin_incarnation(u64::MAX - 1, 50, 4, 2)
        .await
        .unwrap();
    assert_eq!(earlier, [(12, 40), (13, 25)]);
    assert_eq!(floor, Some(0));
    let (earlier, floor) = store.begin_incarnation(15, 60, 5, 2).await.unwrap();
    assert_eq!(earlier, [(13, 25), (u64::MAX - 1, 50)]);
    assert_eq!(floor, Some(0));
}

/// A booking of the 30-minute slot at `start` on `day` (its bounds as
/// numbers of minutes from 0, which is all the store compares).
fn booking(code: &str, day: &str, start: &str, id: &str) -> Booking {
    let (h, m) = start.split_once(':').unwrap();
    let from: i64 = h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap();
    Booking {
        code: code.into(),
        matter_code: "NH-GA-005".into(),
        day: day.into(),
        slot_start: start.into(),
        slot_end: format!("{:02}:{:02}", (from + 30) / 60, (from + 30) % 60),
        start_ms: from * 60_000,
        end_ms: (from + 30) * 60_000,
        name: "张三".into(),
        id_number: id.into(),
        id_last4: id[id.len() - 4..].into(),
        phone: "13800000000".into(),
        status: "booked".into(),
        created_at_ms: 0,
        changed_at_ms: 0,
        ticket_id: None,
        late_at_ms: None,
    }
}

#[tokio::test]
async fn a_slot_takes_its_capacity_a_person_one_booking_a_day_and_ended_slots_are_no_shows() {
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let ids = [
        "11010519491231002X",
        "110105194912310037",
        "110105194912310045",
    ];
    for (i, id) in ids.iter().take(2).enumerate() {
        let b = booking(
            &format!("AAAA222{}", ['B', 'C'][i]),
            "2026-11-23",
            "09:00",
            id,
        );
        assert!(matches!(
            store.add_booking(&b, 2, 2).await.unwrap(),
            BookOutcome::Booked(ref got) if got.code == b.code && got.status == "booked"
        ));
    }
    // The slot is full at 2; the next slot is not.
    let third = booking("AAAA2229", "2026-11-23", "09:00", ids[2]);
    assert_eq!(
        store.add_booking(&third, 2, 2).await.unwrap(),
        BookOutcome::Full
    );
    assert!(store.booking("AAAA2229").await.unwrap().is_none());
    // One booking a day for a person; another day is free.
    let again = booking("AAAA2228", "2026-11-23", "09:30", ids[0]);
    assert_eq!(
        store.add_booking(&again, 2, 2).await.unwrap(),
        BookOutcome::AlreadyBooked
    );
    let other_day = booking("AAAA2228", "2026-11-24", "09:30", ids[0]);
    assert!(matches!(
        store.add_booking(&other_day, 2, 2).await.unwrap(),
        BookOutcome::Booked(_)
    ));
    // A code is never given twice.
    let same_code = booking("AAAA2228", "2026-11-24", "10:00", ids[2]);
    assert_eq!(
        store.add_booking(&same_code, 2, 2).await.unwrap(),
        BookOutcome::CodeTaken
    );
    assert_eq!(
        store.slots_taken("2026-11-23").await.unwrap(),
        vec![("09:00".to_owned(), "NH-GA-005".to_owned(), 2)]
    );
    // A cancelled booking frees its place, and cannot be cancelled or
    // checked in again.
    assert!(store.cancel_booking("AAAA222C", 0).await.unwrap());
    assert!(!store.cancel_booking("AAAA222C", 0).await.unwrap());
    assert_eq!(
        store.check_in("AAAA222C", "2026-11-23", 0).await.unwrap(),
        None
    );
    assert!(matches!(
        store.add_booking(&third, 2, 2).await.unwrap(),
        BookOutcome::Booked(_)
    ));
    // The 09:00 slot ends at 570 minutes: its bookings still `booked` are
    // no-shows then, not before; a no-show is not checked in.
    let end = 570 * 60_000;
    // Once that slot ended, its person may book a later one of the day.
    let mut later = booking("AAAA222D", "2026-11-23", "10:00", ids[0]);
    later.created_at_ms = end;
    assert!(matches!(
        store.add_booking(&later, 2, 2).await.unwrap(),
        BookOutcome::Booked(_)
    ));
    assert_eq!(store.mark_no_shows(end - 1).await.unwrap(), 0);
    assert_eq!(store.mark_no_shows(end).await.unwrap(), 2);
    let day = store.bookings_of_day("2026-11-23").await.unwrap();
    let status: Vec<_> = day
        .iter()
        .map(|b| (b.code.as_str(), b.status.as_str()))
        .collect();
    assert_eq!(
        status,
        [
            ("AAAA2229", "no_show"),
            ("AAAA222B", "no_show"),
            ("AAAA222C", "cancelled"),
            ("AAAA222D", "booked")
        ]
    );
    assert_eq!(
        store
            .check_in("AAAA222B", "2026-11-23", end - 1)
            .await
            .unwrap(),
        None
    );
    assert!(store.tickets("2026-11-23").await.unwrap().is_empty());
    assert_eq!(
        store.booking("AAAA2228").await.unwrap().unwrap().status,
        "booked"
    );
}

/// What a peer tree offers replaces what it offered before, and a case
/// handed across stays to send until the peer acknowledges it, across a
/// reopening of the store; a second hand-over of the same version is one.
#[tokio::test]
async fn a_peers_offer_is_kept_once_and_a_case_handed_across_waits_for_its_acknowledgement() {
    use onewindow_node::store::PeerCatalogueRow;
    let db = common::test_db().await;
    let store = open(&db.url).await;
    let row = |enabled: bool, offer: &str| PeerCatalogueRow {
        peer: "liwan".into(),
        enabled,
        offer: offer.into(),
        peer_signature: "ab".into(),
        at_ms: 1,
    };
    let mut w = store.write().await.unwrap();
    w.put_peer_catalogue(&row(true, "{\"a\":1}")).await.unwrap();
    w.put_peer_catalogue(&row(false, "{\"a\":2}"))
        .await
        .unwrap();
    w.put_peer_outbox("liwan", "N1", 3, 10).await.unwrap();
    w.put_peer_outbox("liwan", "N1", 3, 11).await.unwrap();
    w.put_peer_outbox("liwan", "N2", 5, 12).await.unwrap();
    w.put_peer_outbox("other", "N3", 2, 13).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(
        store.peer_catalogues().await.unwrap(),
        vec![row(false, "{\"a\":2}")]
    );
    let waiting = |rows: Vec<onewindow_node::store::OutboxRow>| {
        rows.into_iter()
            .map(|r| (r.case_id, r.version))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        waiting(store.peer_outbox("liwan").await.unwrap()),
        vec![("N1".to_owned(), 3), ("N2".to_owned(), 5)]
    );
    let mut w = store.write().await.unwrap();
    w.ack_peer_outbox("liwan", "N1", 3, 20).await.unwrap();
    w.commit().await.unwrap();
    store.close().await;
    let store = open(&db.url).await;
    assert_eq!(
        waiting(store.peer_outbox("liwan").await.unwrap()),
        vec![("N2".to_owned(), 5)]
    );
    assert_eq!(
        waiting(store.peer_outbox("other").await.unwrap()),
        vec![("N3".to_owned(), 2)]
    );
}

/// Writes a case row in a transaction of its own.
async fn put_row(store: &Store, row: CaseRow) {
    let mut w = store.write().await.unwrap();
    w.put_case(row);
    w.commit().await.unwrap();
}

/// Writes `row` again, closed at `closed_at_ms` (or open).
async fn put_closed(store: &Store, row: CaseRow, closed_at_ms: Option<i64>) {
    put_row(
        store,
        CaseRow {
            closed_at_ms,
            ..row
        },
    )
    .await;
}

/// The cases the look for withheld sections takes after `after`.
async fn withheld(store: &Store, after: &str) -> Vec<String> {
    let cases = store.withheld_cases(after, 10).await.unwrap();
    cases.into_iter().map(|c| c.case_id).collect()
}

/// The look for withheld personal sections finds the open cases this hall
/// holds with a section withheld here, and only those: the flag is set
/// when a batch stores an entry withheld, kept when the case's row is
/// written again, cleared when the last section is filled, set again by a
/// purge (for a case that is reopened), and set on the cases of a store
/// written before the flag by the migration that adds it.
#[tokio::test]
async fn withheld_cases_are_the_open_ones_held_here_with_a_section_withheld() {
    use federation::Sealed;
    let child_id = "nanhai.guicheng.xiaping";
    let (db, child_db) = (common::test_db().await, common::test_db().await);
    let child = open_with_catalogue_as(&child_db.url, child_id).await;
    let store = open_with_catalogue(&db.url).await;
    let mut w = child.write().await.unwrap();
    for id in ["W-1", "W-2", "W-3", "W-4"] {
        let mut rec = received(id);
        rec.actor.node = child_id.into();
        if let Event::Received(r) = &mut rec.event {
            let r = std::sync::Arc::make_mut(r);
            r.accepting_node = child_id.into();
        }
        w.append(rec, child_id).unwrap();
    }
    w.commit().await.unwrap();
    let sent = child.events_after(0, 10).await.unwrap();
    let sections: Vec<(String, u64, Vec<u8>)> = sent
        .iter()
        .map(|e| {
            let bytes = e.entry.sealed.bytes().unwrap().to_vec();
            assert!(!bytes.is_empty(), "a received event has a personal section");
            (e.entry.origin.to_string(), e.entry.origin_seq, bytes)
        })
        .collect();
    // W-1 and W-4 are held here, W-2 below, W-3 here but closed; W-4's
    // entry comes whole.
    let mut w = store.write().await.unwrap();
    for ev in &sent {
        let mut entry = ev.entry.clone();
        let id = ev.record().unwrap().case_id.clone();
        if id != "W-4" {
            entry.sealed = Sealed::Withheld(entry.sealed.digest());
        }
        w.append_remote(entry, ev.body.clone(), ev.scope.clone(), Some(child_id));
        let mut r = row(&Case::start(ev.record().unwrap()).unwrap(), "received");
        r.accepting_node = child_id.into();
        if id == "W-2" {
            r.holder = Some(child_id.into());
        }
        if id == "W-3" {
            r.closed_at_ms = Some(1_790_000_000_000);
        }
        w.put_case(r);
    }
    w.commit().await.unwrap();
    assert_eq!(withheld(&store, "").await, ["W-1"]);
    // Written again without a withheld entry, the row keeps its flag.
    let w1 = store.case("W-1").await.unwrap().unwrap();
    put_row(
        &store,
        CaseRow {
            state: "accepted".into(),
            ..w1.clone()
        },
    )
    .await;
    assert_eq!(withheld(&store, "").await, ["W-1"]);
    assert!(withheld(&store, "W-1").await.is_empty());
    // Reopened, the closed case is looked for too.
    let w3 = store.case("W-3").await.unwrap().unwrap();
    put_closed(&store, w3, None).await;
    assert_eq!(withheld(&store, "").await, ["W-1", "W-3"]);
    assert_eq!(withheld(&store, "W-1").await, ["W-3"]);

    // Filled, W-1 is no longer looked for.
    let mut w = store.write().await.unwrap();
    let filled = w.fill_sealed("W-1", &sections[..1]).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(filled.filled, 1);
    assert_eq!(withheld(&store, "").await, ["W-3"]);

    // Closed and purged, then reopened: looked for again.
    put_closed(&store, w1.clone(), Some(1_790_000_000_000)).await;
    let kept = store.kept_sections(1_790_000_000_001, 10).await.unwrap();
    assert_eq!(
        kept.iter().map(|k| k.case_id.as_str()).collect::<Vec<_>>(),
        ["W-1"]
    );
    let mut w = store.write().await.unwrap();
    w.purge_sections(&kept).await.unwrap();
    w.commit().await.unwrap();
    assert_eq!(withheld(&store, "").await, ["W-3"]);
    put_closed(&store, w1, None).await;
    assert_eq!(withheld(&store, "").await, ["W-1", "W-3"]);

    // A store as the release before the flag left it: the migration that
    // adds the flag sets it from the log.
    for sql in [
        "DROP INDEX cases_withheld",
        "ALTER TABLE cases DROP COLUMN withheld",
        "DELETE FROM _sqlx_migrations WHERE version = 31",
    ] {
        sqlx::query(sql).execute(store.pool()).await.unwrap();
    }
    drop(store);
    let store = open_with_catalogue(&db.url).await;
    assert_eq!(withheld(&store, "").await, ["W-1", "W-3"]);
}

/// Up the tree a case's personal section goes whole only when a hall
/// outside this node's subtree accepts the case, holds it, or wrote one of
/// its events held here; every other section goes withheld. A hall whose
/// id begins with this node's, without the dot, is outside.
#[tokio::test]
async fn sections_go_up_whole_only_for_cases_a_hall_outside_the_subtree_touches() {
    use federation::Sealed;
    use onewindow_node::store::Route;
    let me = "nanhai.guicheng";
    let (db, district_db) = (common::test_db().await, common::test_db().await);
    let store = open_with_catalogue(&db.url).await;
    let district = open_with_catalogue_as(&district_db.url, "nanhai").await;
    // (case, accepting hall, holder), each with its received event here.
    let cases = [
        ("L", me, Some(me)),
        (
            "B",
            "nanhai.guicheng.xiaping",
            Some("nanhai.guicheng.xiaping"),
        ),
        ("N", me, None),
        ("H", me, Some("nanhai")),
        ("S", "nanhai.guichengxi", Some(me)),
        ("E", me, Some(me)),
    ];
    let mut w = store.write().await.unwrap();
    for (id, accepting, holder) in cases {
        let rec = received(id);
        let mut r = row(&Case::start(&rec).unwrap(), "received");
        r.accepting_node = accepting.into();
        r.holder = holder.map(Into::into);
        w.append(rec, me).unwrap();
        w.put_case(r);
    }
    w.commit().await.unwrap();
    // An event of E written at the district, come down.
    let mut w = district.write().await.unwrap();
    let mut rec = received("E");
    rec.case_version = 2;
    rec.actor.node = "nanhai".into();
    rec.event = Event::HandlingStarted;
    w.append(rec, "nanhai").unwrap();
    w.commit().await.unwrap();
    let from_above = district.events_after(0, 10).await.unwrap();
    let e2 = from_above
        .iter()
        .find(|e| e.record().is_some_and(|r| r.case_id == "E"))
        .unwrap();
    let mut w = store.write().await.unwrap();
    w.append_remote(e2.entry.clone(), e2.body.clone(), e2.scope.clone(), None);
    w.commit().await.unwrap();

    let case_of: std::collections::HashMap<u64, String> = store
        .events_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| Some((e.local_seq as u64, e.record()?.case_id.clone())))
        .collect();
    let head = *store.route_head(&Route::Up).await.unwrap().borrow();
    let (sent, _) = store
        .wire_entries(&Route::Up, 0, head, 1000, 1 << 20)
        .await
        .unwrap();
    let mut whole: Vec<&str> = sent
        .iter()
        .filter(|e| matches!(e.entry.sealed, Sealed::Open(_)))
        .map(|e| case_of[&e.local_seq].as_str())
        .collect();
    whole.sort_unstable();
    assert_eq!(whole, ["E", "H", "S"]);
    assert_eq!(
        sent.len(),
        cases.len(),
        "the district's event of E goes back down only"
    );
    assert!(
        sent.iter()
            .filter(|e| ["L", "B", "N"].contains(&case_of[&e.local_seq].as_str()))
            .all(|e| matches!(e.entry.sealed, Sealed::Withheld(_)))
    );
}
