//! Shared test support: the one test kit, `onewindow-tests`, whose hall
//! builder gives a fresh database per test (SQLite, or PostgreSQL when
//! `ONEWINDOW_TEST_DATABASE` is a `postgres://` URL) and a real node on port 0.

#[allow(unused_imports)] // each suite uses some of them
pub use onewindow_tests::{
    ADMIN_PASSWORD, Client, Reply, STAFF_PASSWORD, START_MS, TestDb, TestNode, catalogue,
    citizen_id, counts, hall_config, init_logs, staff, start, start_with_clock, test_db,
};
