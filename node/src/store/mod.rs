//! The store: one portable schema on SQLite (WAL) or PostgreSQL.
//!
//! The backend is picked from the URL scheme and reached through sqlx's `Any`
//! driver, so every query is written once. All writes go through one
//! [`WriteTx`] at a time (a single writer per node): it owns the node's local
//! sequence and its own origin's hash chain, so both stay gap-free, and it
//! batches the events and read-model rows of a transaction into multi-row
//! statements, because a statement costs far more than a row.

mod cases;
mod catalogue;
mod oversight;
mod queue;
mod replica;
mod staff;

pub use cases::{CaseFilter, CaseRow};
pub use catalogue::{VersionError, VersionInfo};
pub use oversight::{
    BriefCase, CHINA_OFFSET_MS, CaseBrief, CaseSearch, CountRow, DAY_MS, DayHallRow, Distribution,
    FleetRow, HANDLING_BOUNDS_MS, OPEN_STATES, Scope, WAIT_BOUNDS_MS,
};
pub use queue::{ServeOutcome, Ticket};
pub use replica::{LinkState, SecurityRow};
pub use staff::{Session, StaffRecord};

use federation::{EntryHash, LogEntry, NodeId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

use crate::domain::case::EventRecord;
use crate::domain::log::{DirectiveRecord, LogBody};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Store failures. Callers map them to a `storage` error without internals.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored document does not parse.
    #[error("stored document: {0}")]
    Json(#[from] serde_json::Error),
    /// The URL names no backend this build knows.
    #[error("database URL must start with sqlite: or postgres:")]
    Scheme,
    /// A stored row breaks an invariant.
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

/// One stored event: a log entry plus its local sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// This node's sequence number for it.
    pub local_seq: i64,
    /// The hash-chained entry; its body is the JSON of an [`EventRecord`].
    pub entry: LogEntry,
    /// The decoded body.
    pub body: LogBody,
    /// Where it may go down the tree: the case's accepting node, or `''`
    /// for every node below.
    pub scope: String,
}

impl StoredEvent {
    /// The case event, if the entry is one.
    pub fn record(&self) -> Option<&EventRecord> {
        self.body.case()
    }
}

#[derive(Debug)]
struct WriteState {
    last_local_seq: i64,
    own_seq: u64,
    own_hash: EntryHash,
    head: tokio::sync::watch::Sender<u64>,
}

/// A handle to the node's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    node: NodeId,
    write: Arc<Mutex<WriteState>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("node", &self.node)
            .finish()
    }
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`.
    pub async fn open(
        url: &str,
        node: NodeId,
        max_connections: u32,
        sqlite_synchronous: &str,
    ) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::Scheme);
        };
        let sync = if sqlite_synchronous == "normal" {
            "NORMAL"
        } else {
            "FULL"
        };
        let pragmas = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;"
        );
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(pragmas.as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        let last_local_seq: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(local_seq), 0) FROM events")
                .fetch_one(&pool)
                .await?;
        let own = sqlx::query(
            "SELECT origin_seq, hash FROM events WHERE origin = $1 ORDER BY origin_seq DESC LIMIT 1",
        )
        .bind(node.as_str())
        .fetch_optional(&pool)
        .await?;
        let (own_seq, own_hash) = match own {
            Some(r) => {
                let seq: i64 = r.try_get(0)?;
                let hash: String = r.try_get(1)?;
                (
                    seq as u64,
                    EntryHash::from_hex(&hash).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                )
            }
            None => (0, EntryHash::GENESIS),
        };
        Ok(Store {
            pool,
            backend,
            node,
            write: Arc::new(Mutex::new(WriteState {
                last_local_seq,
                own_seq,
                own_hash,
                head: tokio::sync::watch::channel(last_local_seq as u64).0,
            })),
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for read queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts the single write transaction; waits for the previous one to end.
    pub async fn write(&self) -> Result<WriteTx<'_>, StoreError> {
        let guard = self.write.lock().await;
        let tx = self.pool.begin().await?;
        let (seq, hash, own) = (guard.last_local_seq, guard.own_hash, guard.own_seq);
        Ok(WriteTx {
            store: self,
            guard,
            tx,
            events: Vec::new(),
            cases: Vec::new(),
            cursors: Vec::new(),
            last_local_seq: seq,
            own_seq: own,
            own_hash: hash,
        })
    }

    /// A value from the node's key/value metadata.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM node_meta WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// The highest local sequence, and a receiver that sees it move.
    pub async fn head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.write.lock().await.head.subscribe()
    }

    /// Events of one case in case-version order.
    pub async fn case_events(&self, case_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT local_seq, origin, origin_seq, prev_hash, hash, body, scope FROM events \
             WHERE case_id = $1 ORDER BY case_version",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_event).collect()
    }

    /// Events with a local sequence above `after`, at most `limit`.
    pub async fn events_after(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.events_between(after, i64::MAX, limit).await
    }

    /// Events with a local sequence in `(after, upto]`, at most `limit`.
    pub async fn events_between(
        &self,
        after: i64,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT local_seq, origin, origin_seq, prev_hash, hash, body, scope FROM events \
             WHERE local_seq > $1 AND local_seq <= $2 ORDER BY local_seq LIMIT $3",
        )
        .bind(after)
        .bind(upto)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_event).collect()
    }

    /// Number of stored events.
    pub async fn event_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?)
    }
}

fn stored_event(r: &AnyRow) -> Result<StoredEvent, StoreError> {
    let origin: String = r.try_get(1)?;
    let seq: i64 = r.try_get(2)?;
    let prev: String = r.try_get(3)?;
    let hash: String = r.try_get(4)?;
    let body: String = r.try_get(5)?;
    let scope: String = r.try_get(6)?;
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let decoded = serde_json::from_str(&body)?;
    Ok(StoredEvent {
        local_seq: r.try_get(0)?,
        entry: LogEntry {
            origin: NodeId::new(origin).map_err(|e| corrupt(&e))?,
            origin_seq: seq as u64,
            prev_hash: EntryHash::from_hex(&prev).map_err(|e| corrupt(&e))?,
            hash: EntryHash::from_hex(&hash).map_err(|e| corrupt(&e))?,
            body,
        },
        body: decoded,
        scope,
    })
}

/// The one write transaction. Events and case rows are buffered and written
/// as multi-row statements on [`WriteTx::commit`]; dropping it rolls back.
pub struct WriteTx<'s> {
    store: &'s Store,
    guard: MutexGuard<'s, WriteState>,
    tx: Transaction<'static, Any>,
    events: Vec<StoredEvent>,
    cases: Vec<CaseRow>,
    cursors: Vec<(String, u64)>,
    last_local_seq: i64,
    own_seq: u64,
    own_hash: EntryHash,
}

impl WriteTx<'_> {
    /// The open transaction, for statements outside the event log.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    /// Appends a case event written by this node to its log; `scope` is the
    /// case's accepting node. Returns the stored event.
    pub fn append(&mut self, record: EventRecord, scope: &str) -> Result<StoredEvent, StoreError> {
        self.append_own(LogBody::Case(record), scope)
    }

    /// Appends a directive written by this node (it goes to every node below).
    pub fn append_directive(&mut self, d: DirectiveRecord) -> Result<StoredEvent, StoreError> {
        self.append_own(LogBody::Directive(d), "")
    }

    /// Appends a directive for one branch: it goes down only towards `scope`.
    pub fn append_directive_to(
        &mut self,
        d: DirectiveRecord,
        scope: &str,
    ) -> Result<StoredEvent, StoreError> {
        self.append_own(LogBody::Directive(d), scope)
    }

    fn append_own(&mut self, body: LogBody, scope: &str) -> Result<StoredEvent, StoreError> {
        let text = serde_json::to_string(&body)?;
        let entry = LogEntry::next(self.store.node.clone(), self.own_seq, self.own_hash, text);
        self.own_seq = entry.origin_seq;
        self.own_hash = entry.hash;
        self.last_local_seq += 1;
        let ev = StoredEvent {
            local_seq: self.last_local_seq,
            entry,
            body,
            scope: scope.to_owned(),
        };
        self.events.push(ev.clone());
        Ok(ev)
    }

    /// Appends an entry written elsewhere, as it came (origin, sequence and
    /// hashes kept); it gets the next local sequence here.
    pub fn append_remote(&mut self, entry: LogEntry, body: LogBody, scope: String) -> StoredEvent {
        self.last_local_seq += 1;
        let ev = StoredEvent {
            local_seq: self.last_local_seq,
            entry,
            body,
            scope,
        };
        self.events.push(ev.clone());
        ev
    }

    /// Records, in this transaction, that the peer's log is held up to `have`.
    pub fn set_have(&mut self, peer: &str, have: u64) {
        self.cursors.retain(|(p, _)| p != peer);
        self.cursors.push((peer.to_owned(), have));
    }

    /// Sets the read-model row of a case (the last one set per case wins).
    pub fn put_case(&mut self, row: CaseRow) {
        self.cases.retain(|c| c.id != row.id);
        self.cases.push(row);
    }

    /// Records staged so far (not yet flushed).
    pub fn staged_events(&self) -> &[StoredEvent] {
        &self.events
    }

    /// Writes everything staged and commits; only then does the node's
    /// sequence advance.
    pub async fn commit(mut self) -> Result<Vec<StoredEvent>, StoreError> {
        flush_events(&mut self.tx, &self.events).await?;
        replica::flush_heads(&mut self.tx, &self.events).await?;
        replica::flush_cursors(&mut self.tx, &self.cursors).await?;
        cases::flush_cases(&mut self.tx, &self.cases).await?;
        self.tx.commit().await?;
        self.guard.last_local_seq = self.last_local_seq;
        self.guard.own_seq = self.own_seq;
        self.guard.own_hash = self.own_hash;
        if !self.events.is_empty() {
            self.guard.head.send_replace(self.last_local_seq as u64);
        }
        Ok(self.events)
    }
}

/// Rows per multi-row INSERT: 12 columns each, well under both backends'
/// bound-parameter limits.
const EVENT_ROWS_PER_STATEMENT: usize = 500;

/// `($1, $2, ...), (...)` for `rows` rows of `cols` columns: positional
/// placeholders that both SQLite and PostgreSQL read. (sqlx's query builder
/// emits `?` for the `Any` driver, which PostgreSQL refuses.)
pub(crate) fn values_placeholders(rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = 0;
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            n += 1;
            if c > 0 {
                s.push_str(", ");
            }
            s.push('$');
            s.push_str(&n.to_string());
        }
        s.push(')');
    }
    s
}

async fn flush_events(
    tx: &mut Transaction<'static, Any>,
    events: &[StoredEvent],
) -> Result<(), StoreError> {
    for chunk in events.chunks(EVENT_ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO events (local_seq, origin, origin_seq, case_id, case_version, kind, actor, at_ms, body, prev_hash, hash, scope) VALUES {}",
            values_placeholders(chunk.len(), 12)
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            let (case_id, version, actor, at) = match &e.body {
                LogBody::Case(r) => (
                    r.case_id.clone(),
                    r.case_version as i64,
                    r.actor.username.clone(),
                    r.at_ms,
                ),
                LogBody::Directive(d) => (String::new(), 0, d.issued_by.clone(), d.at_ms),
            };
            q = q
                .bind(e.local_seq)
                .bind(e.entry.origin.as_str().to_owned())
                .bind(e.entry.origin_seq as i64)
                .bind(case_id)
                .bind(version)
                .bind(e.body.kind())
                .bind(actor)
                .bind(at)
                .bind(e.entry.body.clone())
                .bind(e.entry.prev_hash.to_hex())
                .bind(e.entry.hash.to_hex())
                .bind(e.scope.clone());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_every_value() {
        assert_eq!(
            super::values_placeholders(2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(super::values_placeholders(1, 1), "($1)");
    }
}
