//! The store: one portable schema on SQLite (WAL) or PostgreSQL.
//!
//! The backend is picked from the URL scheme and reached through sqlx's `Any`
//! driver, so every query is written once. All writes go through one
//! [`WriteTx`] at a time (a single writer per node): it owns the node's local
//! sequence and its own origin's hash chain, so both stay gap-free, and it
//! batches the events and read-model rows of a transaction into multi-row
//! statements, because a statement costs far more than a row.

mod audit;
mod bookings;
mod cases;
mod catalogue;
mod enrolment;
mod feed;
mod handover;
mod oversight;
mod own;
mod peering;
mod personal;
mod preapps;
mod queue;
mod replica;
mod sms;
mod staff;
mod status;
mod tail;

pub use audit::{AuditReport, BreakKind, ChainBreak, OriginAudit, ReportedBreak};
pub use bookings::{BookOutcome, Booking, BookingCounts, ChannelWaits, SlotsTaken};
pub use cases::{CaseFilter, CaseRow, SUBMISSION_KEY_DAYS};
pub use catalogue::{VersionError, VersionInfo};
pub use enrolment::TokenRow;
pub use feed::{CredentialRow, DeliveryFilter, DeliveryRow, FEED_LIST_MAX, SubscriptionRow};
pub use handover::Handover;
pub use oversight::{
    BriefCase, CHINA_OFFSET_MS, CaseBrief, CaseSearch, CountRow, DAY_MS, DayHallRow, Distribution,
    FleetRow, HANDLING_BOUNDS_MS, OPEN_STATES, PeriodFigures, Scope, WAIT_BOUNDS_MS,
};
pub use own::read_marker;
pub use peering::{OutboxRow, PeerCatalogueRow};
pub use personal::{Filled, KeptSection, WithheldCase};
pub use preapps::{
    ACCEPTED as PRE_APPLICATION_ACCEPTED, OPEN as PRE_APPLICATION_OPEN, PreApplicationRow,
};
pub use queue::{CallOutcome, ServeOutcome, Ticket};
pub use replica::{FLEET_REFRESH, LinkState, PeerSeen, RefusalRecord, SecurityRow};
pub use sms::{SMS_LIST_MAX, SmsRow};
pub use staff::{Session, StaffRecord};
pub use status::StatusHeard;

use federation::{EntryHash, LogEntry, NodeId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

use federation::Sealed;
use federation::replication::WireEntry;
use onewindow_domain::case::EventRecord;
use onewindow_domain::codec::{self, Book, DecodeError};
use onewindow_domain::log::{DirectiveRecord, LogBody};
use std::collections::HashMap;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// An entry to write is larger than a link can carry in one frame.
    #[error("an entry of {size} bytes is over the {max}-byte limit of a log entry")]
    EntryTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// An entry could not be encoded (a bug in the caller).
    #[error("encoding an entry: {0}")]
    Encode(String),
    /// The node is taking back the tail of its own log from its parent and
    /// writes nothing of its own until it holds it.
    #[error("the node is recovering its own log from its parent")]
    Recovering,
}

impl StoreError {
    /// The database refused a row whose key it holds already (a unique
    /// constraint or a primary key).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

/// The largest entry (body and sealed section) the log takes: a batch of
/// one must fit in a frame.
pub const MAX_ENTRY: usize = federation::transport::MAX_FRAME - 64 * 1024;

/// Which way a link reads the log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Route {
    /// To the parent: what this node's subtree wrote.
    Up,
    /// To one child: rules for every node below and what concerns cases of
    /// that child's subtree, less what the child's subtree wrote.
    Down(String),
    /// To one child that is recovering its own log: what [`Route::Down`]
    /// sends and everything the child's subtree wrote
    /// (`federation::replication::DownScope::Recovery`).
    Recover(String),
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
    /// Goes to the parent.
    pub up: bool,
    /// Goes down: `*` for every child, a child's id, or `''`.
    pub down: String,
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
    /// The highest local sequence meant for each route, for the links that
    /// watch one: a link is woken only by what is meant for it.
    routes: HashMap<Route, tokio::sync::watch::Sender<u64>>,
    /// The own-head marker outside the database, when one is kept
    /// ([`Store::keep_own_marker`]); written under this lock.
    marker: Option<Arc<own::Marker>>,
    /// A commit began and did not finish in this process: its caller was
    /// dropped (a clerk's request given up, a link closed) or it failed,
    /// perhaps after the database took it. What is held here may then lag
    /// the database, so the next writer reads it again
    /// ([`Store::settle`]).
    in_doubt: bool,
    /// The writer's own SQLite connection (see [`TxConn`]); `None` on
    /// PostgreSQL, and after it failed.
    own_conn: Option<sqlx::AnyConnection>,
    /// A transaction on `own_conn` began and neither committed nor rolled
    /// back: the next one rolls it back first.
    rollback_pending: bool,
    /// The read-model rows of the cases written last, as committed
    /// ([`CASE_CACHE_ROWS`]).
    case_cache: hashlink::LruCache<String, CaseRow>,
}

/// How many case rows the writer keeps as it committed them, so that the
/// next event of a case is folded onto its row without reading the row and
/// every event of the case again (two queries and a fold of the case's
/// whole history, for every write and every applied batch that touches a
/// case). Only the writer writes the read model, so what it committed stays
/// true; a write outside the read model's rows (a personal section filled
/// in or withheld, a column set on its own) and a commit that did not
/// finish here empty the cache.
pub const CASE_CACHE_ROWS: usize = 1024;

/// A transaction that writes more case rows than this (a link's bulk
/// batch, a catch-up) leaves them out of the cache, and drops what it held
/// of them: moving hundreds of new cases through the cache at every batch
/// cost a catch-up a sixth of its speed in copies and allocations, for
/// rows that are rarely read again soon.
const CASE_CACHE_TX_ROWS: usize = 64;

impl WriteState {
    /// Ends a transaction given up on the writer's own connection, if any.
    /// Its `ROLLBACK` runs after whatever that transaction had sent (a
    /// `COMMIT` whose caller was dropped may still land first, and then
    /// the `ROLLBACK` finds no transaction: that is no failure). A
    /// connection left unusable fails the next `BEGIN`, and the writer
    /// goes on with pooled connections.
    async fn end_given_up(&mut self) {
        if !self.rollback_pending {
            return;
        }
        self.rollback_pending = false;
        if let Some(conn) = self.own_conn.as_mut()
            && let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await
        {
            tracing::debug!(error = %e, "no write given up to roll back");
        }
    }
}

/// The connection a write transaction runs on.
///
/// On SQLite the writer keeps one connection of its own, out of the pool
/// ([`WriteState::own_conn`]): a pooled connection answered a ping on
/// every return to the pool (a round trip to its thread per transaction),
/// and as the pool handed out its connections in turn, each began with a
/// page cache that the others' commits had made stale, and read its pages
/// again. The writer's own connection is the only one that writes, so its
/// cache stays true. A transaction on it that is given up (dropped before
/// its commit) is rolled back when the next one begins
/// ([`WriteState::rollback_pending`]); nothing else writes meanwhile, and
/// readers do not wait for it. On PostgreSQL a pooled connection is tested
/// when taken (a fail-over may have lost its server), and the transaction
/// is sqlx's.
enum TxConn {
    Pool(Transaction<'static, Any>),
    Own,
}

fn tx_conn<'a>(tx: &'a mut TxConn, state: &'a mut WriteState) -> &'a mut sqlx::AnyConnection {
    match tx {
        TxConn::Pool(tx) => tx,
        TxConn::Own => state
            .own_conn
            .as_mut()
            .expect("the writer's own connection is held while its transaction is open"),
    }
}

/// The catalogue versions this node holds, for writing and reading
/// format-2 bodies (which name a matter instead of copying it). Published
/// versions never change, so what is loaded stays true.
#[derive(Debug, Default)]
struct Books {
    digests: std::sync::RwLock<HashMap<i64, u64>>,
    loaded: std::sync::RwLock<HashMap<i64, Book>>,
}

impl Books {
    fn digest(&self, version: i64) -> Option<u64> {
        self.digests.read().ok()?.get(&version).copied()
    }

    fn book(&self, version: i64) -> Option<Book> {
        self.loaded.read().ok()?.get(&version).cloned()
    }

    fn note(&self, version: i64, digest: u64) {
        if let Ok(mut d) = self.digests.write() {
            d.insert(version, digest);
        }
    }

    fn put(&self, version: i64, book: Book) {
        if let Ok(mut l) = self.loaded.write() {
            // A small cache: a tree uses a few versions at a time.
            if l.len() >= 8 {
                l.clear();
            }
            l.insert(version, book);
        }
    }
}

/// A handle to the node's database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    node: NodeId,
    write: Arc<Mutex<WriteState>>,
    books: Arc<Books>,
    /// The head of every origin held, as committed (loaded at open, moved
    /// by every commit), so that a batch's checks read no table.
    heads: Arc<std::sync::RwLock<Arc<OriginHeads>>>,
    /// The log's tail just committed, for links to send from.
    tail: Arc<tail::Tail>,
    /// Own entries are refused ([`StoreError::Recovering`]) while set.
    own_writes_held: Arc<std::sync::atomic::AtomicBool>,
    /// Batches read for the links (see [`Store::link_reads`]).
    link_reads: Arc<LinkReads>,
    /// Personal sections go up whole, whatever the case
    /// ([`Store::send_personal_up`]).
    personal_up_always: Arc<std::sync::atomic::AtomicBool>,
    /// Cases known to need no personal section above this node.
    local_cases: Arc<personal::LocalCases>,
    /// What status reports last wrote of the fleet's rows.
    fleet_memo: Arc<std::sync::Mutex<replica::FleetMemo>>,
    /// Each commit is flushed to disk before it returns (PostgreSQL, or
    /// SQLite with `synchronous = full`); the own-head marker follows suit.
    durable_commits: bool,
}

/// An entry's size as a reader counts it against a batch's bytes: on the
/// route up where personal sections are withheld by case (`light`),
/// without its section, which mostly stays here, and without its case
/// (the flow up has no streams). Counted whole, a batch read by its stored
/// size carried a tenth of its bytes once withheld: ten times the batches,
/// each with its fsync at the parent. [`Store::wire_entries`] then trims
/// to the bytes it really sends.
pub(crate) fn read_size(light: bool, w: &WireEntry) -> usize {
    if light {
        w.approx_bytes() - w.entry.sealed.len() - w.stream.as_ref().map_or(0, String::len)
    } else {
        w.approx_bytes()
    }
}

/// Batches read for the links: from the tail in memory, and from the
/// database (a link that fell behind the tail).
#[derive(Debug, Default)]
struct LinkReads {
    from_tail: std::sync::atomic::AtomicU64,
    from_store: std::sync::atomic::AtomicU64,
}

/// Every origin's head: highest sequence held and its hash.
pub type OriginHeads = std::collections::BTreeMap<NodeId, (u64, EntryHash)>;

/// Bytes of recently committed entries kept in memory for the links.
const TAIL_BYTES: usize = 4 << 20;
/// How long a committed entry stays in that tail: a link that keeps up
/// reads it within a second; one further behind reads the store.
const TAIL_AGE: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("node", &self.node)
            .finish()
    }
}

/// Whether the database at `url` is a PostgreSQL standby (in recovery):
/// nothing can be written there until it is promoted. Always false for
/// SQLite.
pub async fn is_standby(url: &str) -> Result<bool, StoreError> {
    use sqlx::Connection;
    if url.starts_with("sqlite:") {
        return Ok(false);
    }
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(standby)
}

impl Store {
    /// Opens (creating if needed) and migrates the store at `url`.
    pub async fn open(
        url: &str,
        node: NodeId,
        max_connections: u32,
        sqlite_synchronous: &str,
        sqlite_cache_kib: u32,
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
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA cache_size = -{};",
            sqlite_cache_kib.max(64)
        );
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            // An SQLite connection is a file handle that never goes stale,
            // and its ping is a round trip to the connection's thread that
            // cost every transaction and query a second wake-up. A
            // PostgreSQL connection may have lost its server (a fail-over),
            // so it is still tested.
            .test_before_acquire(backend == Backend::Postgres)
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
        let (own_seq, own_hash) = own_head_in_log(&pool, &node).await?;
        let store = Store {
            pool,
            backend,
            node,
            write: Arc::new(Mutex::new(WriteState {
                last_local_seq,
                own_seq,
                own_hash,
                head: tokio::sync::watch::channel(last_local_seq as u64).0,
                routes: HashMap::new(),
                marker: None,
                in_doubt: false,
                own_conn: None,
                rollback_pending: false,
                case_cache: hashlink::LruCache::new(CASE_CACHE_ROWS),
            })),
            books: Arc::new(Books::default()),
            heads: Arc::new(std::sync::RwLock::new(Arc::new(OriginHeads::new()))),
            tail: Arc::new(tail::Tail::new(TAIL_BYTES, TAIL_AGE)),
            own_writes_held: Arc::default(),
            link_reads: Arc::default(),
            personal_up_always: Arc::default(),
            local_cases: Arc::default(),
            fleet_memo: Arc::default(),
            durable_commits: backend == Backend::Postgres || sync == "FULL",
        };
        let heads = store.origin_heads_stored().await?;
        if let Ok(mut h) = store.heads.write() {
            *h = Arc::new(heads);
        }
        store.load_digests().await?;
        store.route_old_rows().await?;
        store.empty_old_case_bodies().await?;
        if backend == Backend::Sqlite {
            let conn = store.pool.acquire().await?.detach();
            store.write.lock().await.own_conn = Some(conn);
        }
        Ok(store)
    }

    /// Reads the writer's state again from the database after a commit
    /// that did not finish here ([`WriteState::in_doubt`]): the last local
    /// sequence, the own head, every origin's head and the published
    /// book, and wakes every link (what that commit wrote, if the database
    /// took it, is read from the store; the tail starts afresh at the next
    /// commit, which does not follow on from it).
    async fn settle(&self, g: &mut WriteState) -> Result<(), StoreError> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(local_seq), 0) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let (own_seq, own_hash) = own_head_in_log(&self.pool, &self.node).await?;
        let heads = self.origin_heads_stored().await?;
        self.load_digests().await?;
        if last != g.last_local_seq {
            tracing::warn!(
                held = g.last_local_seq,
                stored = last,
                "a commit given up midway had reached the database; the writer goes on from it"
            );
        }
        if own_seq > g.own_seq
            && let Some(marker) = &g.marker
        {
            own::write_marker(marker, own_seq).await;
        }
        if let Ok(mut h) = self.heads.write() {
            *h = Arc::new(heads);
        }
        g.last_local_seq = last;
        g.own_seq = own_seq;
        g.own_hash = own_hash;
        g.case_cache.clear();
        self.local_cases.clear();
        let head = u64::try_from(last).unwrap_or(0);
        g.head.send_replace(head);
        for tx in g.routes.values() {
            tx.send_if_modified(|h| {
                let grew = head > *h;
                *h = (*h).max(head);
                grew
            });
        }
        g.in_doubt = false;
        Ok(())
    }

    async fn load_digests(&self) -> Result<(), StoreError> {
        let published: Option<i64> =
            sqlx::query_scalar("SELECT version FROM catalogue_versions WHERE state = 'published'")
                .fetch_optional(&self.pool)
                .await?;
        if let Some(v) = published {
            self.load_book(v).await?;
        }
        Ok(())
    }

    /// Fills the routing columns of rows stored before they existed.
    async fn route_old_rows(&self) -> Result<(), StoreError> {
        loop {
            let rows = sqlx::query(
                "SELECT local_seq, origin, scope FROM events WHERE routed = 0 ORDER BY local_seq LIMIT 1000",
            )
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.pool.begin().await?;
            for r in &rows {
                let seq: i64 = r.try_get(0)?;
                let origin: String = r.try_get(1)?;
                let scope: String = r.try_get(2)?;
                let origin = NodeId::new(origin).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let from_below = origin
                    .as_str()
                    .strip_prefix(self.node.as_str())
                    .is_some_and(|rest| rest.starts_with('.'));
                let from = from_below
                    .then(|| child_branch(&self.node, origin.as_str()))
                    .flatten()
                    .map(|c| c.to_string());
                let (up, down) = routing(&self.node, &origin, &scope, from.as_deref());
                sqlx::query(
                    "UPDATE events SET up = $1, down = $2, routed = 1 WHERE local_seq = $3",
                )
                .bind(i64::from(up))
                .bind(down)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
    }

    /// Rows of the case read model written by earlier releases carry the
    /// case as JSON; a case is now folded from its events, so the JSON is
    /// dropped, after the departments with an open sub-case are taken from
    /// it for `open_subs`.
    async fn empty_old_case_bodies(&self) -> Result<(), StoreError> {
        loop {
            let rows = sqlx::query(
                "SELECT id, state, body FROM cases WHERE body <> '' ORDER BY id LIMIT 1000",
            )
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.pool.begin().await?;
            for r in &rows {
                let id: String = r.try_get(0)?;
                let state: String = r.try_get(1)?;
                let body: String = r.try_get(2)?;
                let subs = if matches!(state.as_str(), "handling" | "review" | "approval") {
                    let case: onewindow_domain::case::Case = serde_json::from_str(&body)?;
                    cases::open_subs(&case)
                } else {
                    String::new()
                };
                sqlx::query("UPDATE cases SET open_subs = $1, body = '' WHERE id = $2")
                    .bind(subs)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
    }

    /// Makes sure a catalogue version is loaded for reading bodies that
    /// name it; `false` when this node does not hold it.
    pub async fn load_book(&self, version: i64) -> Result<bool, StoreError> {
        if self.books.book(version).is_some() {
            return Ok(true);
        }
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM catalogue_versions WHERE version = $1 AND state <> 'draft'",
        )
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        let Some(body) = body else { return Ok(false) };
        let cat: onewindow_domain::catalogue::Catalogue = serde_json::from_str(&body)?;
        let digest = codec::catalogue_digest(&cat);
        self.books.note(version, digest);
        self.books.put(
            version,
            Book {
                digest,
                catalogue: Arc::new(cat),
            },
        );
        Ok(true)
    }

    /// A catalogue version already loaded.
    pub fn book(&self, version: i64) -> Option<Book> {
        self.books.book(version)
    }

    /// Reads a body, loading the catalogue version it names if needed.
    /// `Err(DecodeError::MissingCatalogue)` when the version is not held.
    pub async fn decode_body(
        &self,
        entry: &LogEntry,
    ) -> Result<Result<LogBody, DecodeError>, StoreError> {
        let books = Arc::clone(&self.books);
        let decode = || {
            codec::decode(
                &entry.body,
                entry.sealed.bytes(),
                entry.origin.as_str(),
                |v| books.book(v),
            )
        };
        match decode() {
            Err(DecodeError::MissingCatalogue { version }) => {
                if self.load_book(version).await? {
                    Ok(decode())
                } else {
                    Ok(Err(DecodeError::MissingCatalogue { version }))
                }
            }
            other => Ok(other),
        }
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
        let own = {
            let mut g = self.write.lock().await;
            g.end_given_up().await;
            g.own_conn.take()
        };
        if let Some(conn) = own {
            use sqlx::Connection;
            let _ = conn.close().await;
        }
        self.pool.close().await;
    }

    /// Starts the single write transaction; waits for the previous one to end.
    pub async fn write(&self) -> Result<WriteTx<'_>, StoreError> {
        let mut guard = self.write.lock().await;
        // First, so that a commit given up has landed or not before the
        // writer's state is read again.
        guard.end_given_up().await;
        if guard.in_doubt {
            self.settle(&mut guard).await?;
        }
        let tx = match guard.own_conn.as_mut() {
            Some(conn) => match sqlx::query("BEGIN").execute(&mut *conn).await {
                Ok(_) => {
                    guard.rollback_pending = true;
                    TxConn::Own
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the writer's connection failed; the writer goes on with pooled connections");
                    if let Some(conn) = guard.own_conn.take() {
                        use sqlx::Connection;
                        let _ = conn.close_hard().await;
                    }
                    TxConn::Pool(self.pool.begin().await?)
                }
            },
            None => TxConn::Pool(self.pool.begin().await?),
        };
        let (seq, hash, own) = (guard.last_local_seq, guard.own_hash, guard.own_seq);
        Ok(WriteTx {
            store: self,
            guard,
            tx,
            events: Vec::new(),
            cases: Vec::new(),
            new_cases: Vec::new(),
            case_index: foldhash::HashMap::default(),
            cursors: Vec::new(),
            digests: Vec::new(),
            last_local_seq: seq,
            own_seq: own,
            own_hash: hash,
        })
    }

    /// Batches read for the links so far: `(from the tail in memory, from
    /// the database)`.
    pub fn link_reads(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let r = &self.link_reads;
        (r.from_tail.load(Relaxed), r.from_store.load(Relaxed))
    }

    /// This node's own origin: the highest sequence written and its hash.
    pub async fn own_head(&self) -> (u64, EntryHash) {
        let g = self.write.lock().await;
        (g.own_seq, g.own_hash)
    }

    /// The highest local sequence stored.
    pub async fn local_head(&self) -> u64 {
        self.write.lock().await.last_local_seq as u64
    }

    /// The highest local sequence meant for a route, and a receiver that
    /// sees it move (woken only by entries meant for that route).
    pub async fn route_head(
        &self,
        route: &Route,
    ) -> Result<tokio::sync::watch::Receiver<u64>, StoreError> {
        let mut guard = self.write.lock().await;
        if let Some(tx) = guard.routes.get(route) {
            return Ok(tx.subscribe());
        }
        let head: Option<i64> = match route {
            Route::Up => {
                sqlx::query_scalar(
                    "SELECT local_seq FROM events WHERE up = 1 ORDER BY local_seq DESC LIMIT 1",
                )
                .fetch_optional(&self.pool)
                .await?
            }
            Route::Down(child) => {
                sqlx::query_scalar(DOWN_HEAD)
                    .bind(child.as_str())
                    .fetch_optional(&self.pool)
                    .await?
            }
            Route::Recover(child) => {
                sqlx::query_scalar(&format!(
                    "SELECT local_seq FROM events WHERE {} ORDER BY local_seq DESC LIMIT 1",
                    own::RECOVER_WHERE
                ))
                .bind(child.as_str())
                .bind(child.as_str())
                .bind(own::below_pattern(child))
                .fetch_optional(&self.pool)
                .await?
            }
        };
        let (tx, rx) = tokio::sync::watch::channel(head.unwrap_or(0) as u64);
        guard.routes.insert(route.clone(), tx);
        Ok(rx)
    }

    /// The entries of a route in `(after, upto]`, ready for the wire, at
    /// most `max_entries` and (but for the first) `max_bytes`; and the
    /// highest local sequence the result covers. On the route up, the
    /// personal sections the parent has no need of are withheld
    /// (`personal`).
    pub async fn wire_entries(
        &self,
        route: &Route,
        after: u64,
        upto: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<(Vec<WireEntry>, u64), StoreError> {
        if *route != Route::Up {
            return self
                .route_entries(route, after, upto, max_entries, max_bytes, false)
                .await;
        }
        let light = !self
            .personal_up_always
            .load(std::sync::atomic::Ordering::Relaxed);
        // The readers count entries up the tree without their personal
        // sections (`read_size`); those that go whole may make the batch
        // larger than its bytes, and what does not fit then waits for the
        // next batch.
        let (mut entries, mut covered) = self
            .route_entries(route, after, upto, max_entries, max_bytes, light)
            .await?;
        // The readers name each entry's case; up the tree it decides what
        // is withheld and is then taken off (the flow up has no streams).
        self.withhold_up(&mut entries).await?;
        for e in &mut entries {
            e.stream = None;
        }
        let mut bytes = federation::replication::BATCH_OVERHEAD;
        let mut keep = entries.len();
        for (i, e) in entries.iter().enumerate() {
            let size = e.approx_bytes();
            if i > 0 && bytes + size > max_bytes {
                keep = i;
                break;
            }
            bytes += size;
        }
        if keep < entries.len() {
            entries.truncate(keep);
            covered = entries.last().map_or(after, |e| e.local_seq);
        }
        Ok((entries, covered))
    }

    /// [`Store::wire_entries`] as stored, from the tail or the database,
    /// each entry with its case as its stream (whatever the route).
    async fn route_entries(
        &self,
        route: &Route,
        after: u64,
        upto: u64,
        max_entries: usize,
        max_bytes: usize,
        light: bool,
    ) -> Result<(Vec<WireEntry>, u64), StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(hit) = self
            .tail
            .read(route, after, upto, max_entries, max_bytes, light)
        {
            self.link_reads.from_tail.fetch_add(1, Relaxed);
            return Ok(hit);
        }
        self.link_reads.from_store.fetch_add(1, Relaxed);
        let cols = WIRE_COLUMNS;
        let limit = max_entries.max(1) as i64;
        let rows = match route {
            Route::Up => {
                sqlx::query(&format!(
                    "{cols} WHERE local_seq > $1 AND local_seq <= $2 AND up = 1 ORDER BY local_seq LIMIT $3"
                ))
                .bind(after as i64)
                .bind(upto as i64)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
            }
            Route::Down(child) => {
                sqlx::query(&down_route_sql())
                .bind(after as i64)
                .bind(upto as i64)
                .bind(limit)
                .bind(child.as_str())
                .fetch_all(&self.pool)
                .await?
            }
            Route::Recover(child) => {
                sqlx::query(&format!(
                    "{cols} WHERE local_seq > $1 AND local_seq <= $2 AND {} ORDER BY local_seq LIMIT $3",
                    own::RECOVER_WHERE.replace("$1", "$4").replace("$2", "$5").replace("$3", "$6")
                ))
                .bind(after as i64)
                .bind(upto as i64)
                .bind(limit)
                .bind(child.as_str())
                .bind(child.as_str())
                .bind(own::below_pattern(child))
                .fetch_all(&self.pool)
                .await?
            }
        };
        let down = matches!(route, Route::Down(_) | Route::Recover(_));
        let mut out = Vec::with_capacity(rows.len());
        let mut bytes = federation::replication::BATCH_OVERHEAD;
        let mut covered = upto;
        let full = rows.len() as i64 == limit;
        for r in &rows {
            let (local_seq, entry) = entry_of(r)?;
            let case_id: String = r.try_get(9)?;
            let case_version: i64 = r.try_get(10)?;
            let w = WireEntry {
                local_seq: local_seq as u64,
                entry,
                stream: (!case_id.is_empty()).then_some(case_id),
                stream_seq: if down { case_version as u64 } else { 0 },
            };
            let size = read_size(light, &w);
            if !out.is_empty() && bytes + size > max_bytes {
                covered = out.last().map_or(after, |e: &WireEntry| e.local_seq);
                return Ok((out, covered));
            }
            bytes += size;
            out.push(w);
        }
        if full {
            covered = out.last().map_or(upto, |e| e.local_seq);
        }
        Ok((out, covered))
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

    /// Keeps at most `rows` (at least one) case rows in the writer's cache
    /// ([`CASE_CACHE_ROWS`] until this is called); the least recently
    /// written go first.
    pub async fn set_case_cache_rows(&self, rows: usize) {
        self.write.lock().await.case_cache.set_capacity(rows.max(1));
    }

    /// How many case rows the writer's cache holds now.
    pub async fn cached_case_rows(&self) -> usize {
        self.write.lock().await.case_cache.len()
    }

    /// The highest local sequence, and a receiver that sees it move.
    pub async fn head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.write.lock().await.head.subscribe()
    }

    /// Events of one case in case-version order.
    pub async fn case_events(&self, case_id: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(&format!("{EVENT_COLUMNS} {CASE_EVENTS_WHERE}"))
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        self.stored_events(&rows).await
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
        let rows = sqlx::query(&format!(
            "{EVENT_COLUMNS} WHERE local_seq > $1 AND local_seq <= $2 ORDER BY local_seq LIMIT $3"
        ))
        .bind(after)
        .bind(upto)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        self.stored_events(&rows).await
    }

    /// Staff and administrator actions held here (this node's and its
    /// subtree's), newest first: of `hall` and the halls below it when
    /// given, of one action when given, at most `limit`.
    pub async fn audit_actions(
        &self,
        hall: Option<&str>,
        action: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, u64, onewindow_domain::log::AuditRecord)>, StoreError> {
        self.audit_records(hall, action, None, limit).await
    }

    /// The audit records that nodes wrote by themselves
    /// ([`onewindow_domain::log::NODE_ACTOR`]: the breaks their own checks
    /// found in their stored logs), of `hall` and the halls below it when
    /// given, newest first. They are few, so all are read.
    pub async fn node_audit_records(
        &self,
        hall: Option<&str>,
    ) -> Result<Vec<(String, u64, onewindow_domain::log::AuditRecord)>, StoreError> {
        self.audit_records(hall, None, Some(onewindow_domain::log::NODE_ACTOR), 100_000)
            .await
    }

    async fn audit_records(
        &self,
        hall: Option<&str>,
        action: Option<&str>,
        actor: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, u64, onewindow_domain::log::AuditRecord)>, StoreError> {
        let mut sql = format!("{EVENT_COLUMNS} WHERE kind = 'audit'");
        if hall.is_some() {
            sql.push_str(" AND (origin = $1 OR origin LIKE $2 ESCAPE '\\')");
        }
        if actor.is_some() {
            let n = if hall.is_some() { 3 } else { 1 };
            sql.push_str(&format!(" AND actor = ${n}"));
        }
        sql.push_str(" ORDER BY local_seq DESC");
        // Filtering by action reads the bodies: take more rows than asked.
        let rows_wanted = if action.is_some() {
            limit.saturating_mul(20)
        } else {
            limit
        };
        sql.push_str(&format!(" LIMIT {}", rows_wanted.clamp(1, 100_000)));
        let mut q = sqlx::query(&sql);
        if let Some(h) = hall {
            q = q
                .bind(h.to_owned())
                .bind(format!("{}.%", oversight::like_escape(h)));
        }
        if let Some(a) = actor {
            q = q.bind(a.to_owned());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for e in self.stored_events(&rows).await? {
            if let LogBody::Audit(a) = e.body
                && action.is_none_or(|x| x == a.action)
            {
                out.push((e.entry.origin.to_string(), e.entry.origin_seq, a));
            }
        }
        out.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(out)
    }

    /// Number of stored events.
    pub async fn event_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?)
    }
}

pub(crate) const EVENT_COLUMNS: &str = "SELECT local_seq, origin, origin_seq, prev_hash, hash, body, body_bin, sealed, sealed_hash, scope, up, down FROM events";

/// The entry of a row that starts with the columns of [`EVENT_COLUMNS`]
/// (up to `sealed_hash`): a row with no section bytes but a section hash
/// holds its entry with the section withheld.
pub(crate) fn entry_of(r: &AnyRow) -> Result<(i64, LogEntry), StoreError> {
    let origin: String = r.try_get(1)?;
    let seq: i64 = r.try_get(2)?;
    let prev: String = r.try_get(3)?;
    let hash: String = r.try_get(4)?;
    let text: String = r.try_get(5)?;
    let bin: Option<Vec<u8>> = r.try_get(6)?;
    let sealed: Option<Vec<u8>> = r.try_get(7)?;
    let sealed_hash: Option<String> = r.try_get(8)?;
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let sealed = match (sealed, sealed_hash) {
        (None, Some(h)) if !h.is_empty() => {
            Sealed::Withheld(EntryHash::from_hex(&h).map_err(|e| corrupt(&e))?)
        }
        (bytes, _) => Sealed::open(bytes.unwrap_or_default()),
    };
    Ok((
        r.try_get(0)?,
        LogEntry {
            origin: NodeId::new(origin).map_err(|e| corrupt(&e))?,
            origin_seq: seq as u64,
            prev_hash: EntryHash::from_hex(&prev).map_err(|e| corrupt(&e))?,
            hash: EntryHash::from_hex(&hash).map_err(|e| corrupt(&e))?,
            body: bin.unwrap_or_else(|| text.into_bytes()),
            sealed,
        },
    ))
}

impl Store {
    pub(crate) async fn stored_events(
        &self,
        rows: &[AnyRow],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (local_seq, entry) = entry_of(r)?;
            let body = self.decode_body(&entry).await?.map_err(|e| {
                StoreError::Corrupt(format!("{}#{}: {e}", entry.origin, entry.origin_seq))
            })?;
            let up: i64 = r.try_get(10)?;
            out.push(StoredEvent {
                local_seq,
                entry,
                body,
                scope: r.try_get(9)?,
                up: up != 0,
                down: r.try_get(11)?,
            });
        }
        Ok(out)
    }
}

/// The highest entry of `node`'s own origin in the log, and its hash.
async fn own_head_in_log(pool: &AnyPool, node: &NodeId) -> Result<(u64, EntryHash), StoreError> {
    let own = sqlx::query(
        "SELECT origin_seq, hash FROM events WHERE origin = $1 ORDER BY origin_seq DESC LIMIT 1",
    )
    .bind(node.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(match own {
        Some(r) => {
            let seq: i64 = r.try_get(0)?;
            let hash: String = r.try_get(1)?;
            (
                seq as u64,
                EntryHash::from_hex(&hash).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            )
        }
        None => (0, EntryHash::GENESIS),
    })
}

/// The child of `me` whose subtree holds `node`, if `node` is strictly
/// below `me`.
pub fn child_branch(me: &NodeId, node: &str) -> Option<NodeId> {
    let rest = node.strip_prefix(me.as_str())?.strip_prefix('.')?;
    let first = rest.split('.').next()?;
    NodeId::new(format!("{me}.{first}")).ok()
}

/// Where an entry goes from this node: `(up, down)`. `from_child` is the
/// child whose link brought it (`None` for this node's own entries and
/// for what came from the parent).
pub fn routing(
    me: &NodeId,
    origin: &NodeId,
    scope: &str,
    from_child: Option<&str>,
) -> (bool, String) {
    let up = origin.is_in_subtree_of(me);
    let down = if scope.is_empty() {
        if origin.is_in_subtree_of(me) && origin != me {
            // Only the root writes rules for every node; nothing from below
            // is sent to every child.
            String::new()
        } else {
            "*".to_owned()
        }
    } else {
        match child_branch(me, scope) {
            // Never back to the branch that wrote it, and only what that
            // branch takes from above: what its ancestors wrote (a case
            // handed over to another branch reaches it only through what
            // the district writes).
            Some(c)
                if Some(c.as_str()) != from_child
                    && !origin.is_in_subtree_of(&c)
                    && c.is_in_subtree_of(origin) =>
            {
                c.to_string()
            }
            _ => String::new(),
        }
    };
    (up, down)
}

/// The one write transaction. Events and case rows are buffered and written
/// as multi-row statements on [`WriteTx::commit`]; dropping it rolls back.
pub struct WriteTx<'s> {
    store: &'s Store,
    guard: MutexGuard<'s, WriteState>,
    tx: TxConn,
    events: Vec<StoredEvent>,
    /// Case rows to upsert.
    cases: Vec<CaseRow>,
    /// Rows of cases not held before this transaction, to insert
    /// ([`WriteTx::put_new_case`]).
    new_cases: Vec<CaseRow>,
    /// Where each staged case is: in `new_cases` (`true`) or `cases`.
    case_index: foldhash::HashMap<String, (bool, usize)>,
    cursors: Vec<(String, u64)>,
    digests: Vec<(i64, u64)>,
    last_local_seq: i64,
    own_seq: u64,
    own_hash: EntryHash,
}

impl WriteTx<'_> {
    /// Records that a catalogue version with this digest is held once the
    /// transaction commits.
    pub(crate) fn note_catalogue(&mut self, version: i64, digest: u64) {
        self.digests.push((version, digest));
    }

    /// The digest of a catalogue version held (or being installed here).
    fn digest(&self, version: i64) -> Option<u64> {
        self.digests
            .iter()
            .rev()
            .find(|(v, _)| *v == version)
            .map(|(_, d)| *d)
            .or_else(|| self.store.books.digest(version))
    }

    /// The open transaction, for statements outside the event log.
    pub fn conn(&mut self) -> &mut sqlx::AnyConnection {
        tx_conn(&mut self.tx, &mut self.guard)
    }

    /// Appends a case event written by this node to its log; `scope` is the
    /// case's accepting node. Returns the stored event.
    pub fn append(&mut self, record: EventRecord, scope: &str) -> Result<&StoredEvent, StoreError> {
        self.append_own(LogBody::Case(record), scope)
    }

    /// Appends a directive written by this node (it goes to every node below).
    pub fn append_directive(&mut self, d: DirectiveRecord) -> Result<&StoredEvent, StoreError> {
        self.append_own(LogBody::Directive(d), "")
    }

    /// Appends a directive for one branch: it goes down only towards `scope`.
    pub fn append_directive_to(
        &mut self,
        d: DirectiveRecord,
        scope: &str,
    ) -> Result<&StoredEvent, StoreError> {
        self.append_own(LogBody::Directive(d), scope)
    }

    /// Appends a staff or administrator action of this node: it goes up
    /// to the root and never down (its scope is this node itself).
    pub fn append_audit(
        &mut self,
        a: onewindow_domain::log::AuditRecord,
    ) -> Result<&StoredEvent, StoreError> {
        let me = self.store.node.to_string();
        self.append_own(LogBody::Audit(a), &me)
    }

    fn append_own(&mut self, body: LogBody, scope: &str) -> Result<&StoredEvent, StoreError> {
        if self.store.own_writes_held() {
            return Err(StoreError::Recovering);
        }
        let me = self.store.node.clone();
        let enc =
            codec::encode(&body, me.as_str(), |v| self.digest(v)).map_err(StoreError::Encode)?;
        let size = enc.body.len() + enc.personal.len();
        if size > MAX_ENTRY {
            return Err(StoreError::EntryTooLarge {
                size,
                max: MAX_ENTRY,
            });
        }
        let entry = LogEntry::next_sealed(
            me.clone(),
            self.own_seq,
            self.own_hash,
            enc.body,
            Sealed::open(enc.personal),
        );
        self.own_seq = entry.origin_seq;
        self.own_hash = entry.hash;
        self.last_local_seq += 1;
        let (up, down) = routing(&me, &me, scope, None);
        // Returned by reference: most callers want nothing of it, and
        // returning a copy cost every own write a copy of its entry and
        // of its decoded body.
        self.events.push(StoredEvent {
            local_seq: self.last_local_seq,
            entry,
            body,
            scope: scope.to_owned(),
            up,
            down,
        });
        Ok(self.events.last().expect("just pushed"))
    }

    /// Appends an entry written elsewhere, as it came (origin, sequence and
    /// hashes kept); it gets the next local sequence here. `from_child` is
    /// the child whose link brought it (`None` from the parent).
    pub fn append_remote(
        &mut self,
        entry: LogEntry,
        body: LogBody,
        scope: String,
        from_child: Option<&str>,
    ) {
        self.last_local_seq += 1;
        let (up, down) = routing(&self.store.node, &entry.origin, &scope, from_child);
        self.events.push(StoredEvent {
            local_seq: self.last_local_seq,
            entry,
            body,
            scope,
            up: up && from_child.is_some(),
            down,
        });
    }

    /// Records, in this transaction, that the peer's log is held up to `have`.
    pub fn set_have(&mut self, peer: &str, have: u64) {
        self.cursors.retain(|(p, _)| p != peer);
        self.cursors.push((peer.to_owned(), have));
    }

    /// Makes room for `new` more rows of new cases and `held` more of
    /// cases held (a batch that touches many).
    pub fn reserve_cases(&mut self, new: usize, held: usize) {
        self.case_index.reserve(new + held);
        self.new_cases.reserve(new);
        self.cases.reserve(held);
    }

    /// Sets the read-model row of a case (the last one set per case wins).
    pub fn put_case(&mut self, row: CaseRow) {
        self.stage_case(row, false);
    }

    /// Sets the row of a case that this store did not hold when the
    /// transaction began (its first event, a case read and not found):
    /// it is inserted, not upserted, which on SQLite spares the statement
    /// journal of an upsert. Put a case held already this way and the
    /// commit fails, whole.
    pub fn put_new_case(&mut self, row: CaseRow) {
        self.stage_case(row, true);
    }

    /// Stages a case's row; one staged already keeps its place (a case new
    /// to the store stays new whatever follows it in the transaction).
    fn stage_case(&mut self, row: CaseRow, new: bool) {
        match self.case_index.get(&row.id) {
            Some(&(true, i)) => self.new_cases[i] = row,
            Some(&(false, i)) => self.cases[i] = row,
            None => {
                let rows = if new {
                    &mut self.new_cases
                } else {
                    &mut self.cases
                };
                self.case_index.insert(row.id.clone(), (new, rows.len()));
                rows.push(row);
            }
        }
    }

    /// A case staged in this transaction.
    fn staged_case(&self, id: &str) -> Option<&CaseRow> {
        self.case_index.get(id).map(|&(new, i)| {
            if new {
                &self.new_cases[i]
            } else {
                &self.cases[i]
            }
        })
    }

    /// A case's row as last committed, if the writer's cache holds it.
    pub(crate) fn cached_case(&mut self, id: &str) -> Option<CaseRow> {
        self.guard.case_cache.get(id).cloned()
    }

    /// Empties the writer's cache of case rows: this transaction writes
    /// what a row or its fold depends on outside [`WriteTx::put_case`].
    pub(crate) fn forget_cached_cases(&mut self) {
        self.guard.case_cache.clear();
    }

    /// Records staged so far (not yet flushed).
    pub fn staged_events(&self) -> &[StoredEvent] {
        &self.events
    }

    /// Writes everything staged and commits; only then does the node's
    /// sequence advance.
    pub async fn commit(mut self) -> Result<Vec<StoredEvent>, StoreError> {
        let backend = self.store.backend;
        // Cleared below once this process holds what the database took;
        // a commit dropped or failed in between leaves it set.
        self.guard.in_doubt = true;
        let withheld = withheld_cases_of(&self.events);
        // Cases with an entry stored withheld whose row this transaction
        // does not write (none that the service writes; kept right anyway).
        let unstaged: Vec<&str> = withheld
            .iter()
            .copied()
            .filter(|id| !self.case_index.contains_key(*id))
            .collect();
        let (forget, keep) = personal::LocalCases::plan(
            &self.store.node,
            &self.events,
            &self.new_cases,
            &self.cases,
        );
        self.store.local_cases.forget(forget.into_iter());
        let one_trip = matches!(self.tx, TxConn::Own)
            && self.events.len() <= ONE_TRIP_ROWS
            && self.cases.len() + self.new_cases.len() <= ONE_TRIP_ROWS
            && unstaged.is_empty();
        let conn = tx_conn(&mut self.tx, &mut self.guard);
        if one_trip {
            let cases = [&self.new_cases[..], &self.cases[..]];
            commit_in_one(conn, &self.events, &self.cursors, cases, &withheld).await?;
            self.guard.rollback_pending = false;
        } else {
            flush_events(conn, backend, &self.events).await?;
            replica::flush_heads(conn, backend, &self.events).await?;
            replica::flush_cursors(conn, backend, &self.cursors).await?;
            cases::flush_cases(conn, backend, &self.new_cases, true, &withheld).await?;
            cases::flush_cases(conn, backend, &self.cases, false, &withheld).await?;
            for id in unstaged {
                sqlx::query("UPDATE cases SET withheld = 1 WHERE id = $1")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        match self.tx {
            _ if one_trip => {}
            TxConn::Pool(tx) => tx.commit().await?,
            TxConn::Own => {
                let conn =
                    self.guard.own_conn.as_mut().expect(
                        "the writer's own connection is held while its transaction is open",
                    );
                // Failed, it is rolled back when the next one begins.
                sqlx::query("COMMIT").execute(&mut *conn).await?;
                self.guard.rollback_pending = false;
            }
        }
        if self.own_seq > self.guard.own_seq
            && let Some(marker) = &self.guard.marker
        {
            // Before the writer's lock is let go: no later own entry can
            // commit while the marker still shows less.
            own::write_marker(marker, self.own_seq).await;
        }
        self.store.local_cases.keep(keep);
        self.guard.last_local_seq = self.last_local_seq;
        self.guard.own_seq = self.own_seq;
        self.guard.own_hash = self.own_hash;
        let rows = self.new_cases.drain(..).chain(self.cases.drain(..));
        if self.case_index.len() <= CASE_CACHE_TX_ROWS {
            for row in rows {
                self.guard.case_cache.insert(row.id.clone(), row);
            }
        } else {
            for row in rows {
                self.guard.case_cache.remove(&row.id);
            }
        }
        for (v, d) in self.digests.drain(..) {
            self.store.books.note(v, d);
        }
        if !self.events.is_empty() {
            if let Ok(mut h) = self.store.heads.write() {
                let heads = Arc::make_mut(&mut h);
                for e in &self.events {
                    let held = heads
                        .entry(e.entry.origin.clone())
                        .or_insert((0, EntryHash::GENESIS));
                    if e.entry.origin_seq > held.0 {
                        *held = (e.entry.origin_seq, e.entry.hash);
                    }
                }
            }
            self.store
                .tail
                .push(&self.events, std::time::Instant::now());
        }
        if !self.events.is_empty() {
            self.guard.head.send_replace(self.last_local_seq as u64);
            let mut up = None;
            let mut all = None;
            let mut down: HashMap<&str, u64> = HashMap::new();
            let recover = |c: &str| own::recover_head(c, &self.events);
            for e in &self.events {
                let seq = e.local_seq as u64;
                if e.up {
                    up = Some(seq);
                }
                match e.down.as_str() {
                    "" => {}
                    "*" => all = Some(seq),
                    c => {
                        down.insert(c, seq);
                    }
                }
            }
            for (route, tx) in &self.guard.routes {
                let seq = match route {
                    Route::Up => up,
                    Route::Down(c) => down.get(c.as_str()).copied().max(all),
                    Route::Recover(c) => down.get(c.as_str()).copied().max(all).max(recover(c)),
                };
                if let Some(seq) = seq {
                    tx.send_if_modified(|h| {
                        let grew = seq > *h;
                        *h = (*h).max(seq);
                        grew
                    });
                }
            }
        }
        self.guard.in_doubt = false;
        Ok(self.events)
    }
}

/// Most rows per multi-row INSERT (a power of two, see [`statement_runs`]):
/// 17 columns each, well under both backends' bound-parameter limits (SQLite
/// 32,766, PostgreSQL 65,535).
const EVENT_ROWS_PER_STATEMENT: usize = 512;

/// Splits `rows` into runs for multi-row statements: runs of `max` (a power
/// of two) while that many are left, then one run of each smaller power of
/// two the rest needs. A statement's text depends on its row count, and
/// sqlx keeps a prepared statement per text: with any count allowed, a
/// batch of 513 and one of 514 each prepared a statement of thousands of
/// parameters anew; with these counts a connection prepares each at most
/// once.
pub(crate) fn statement_runs<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    debug_assert!(max.is_power_of_two());
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some(run)
    })
}

/// `($1, $2, ...), (...)` for `rows` rows of `cols` columns on PostgreSQL,
/// `(?, ?, ...), (...)` on SQLite. (sqlx's query builder emits `?` for the
/// `Any` driver, which PostgreSQL refuses; and SQLite looks up every
/// numbered parameter by name, which makes a statement of thousands of
/// `$N` cost quadratic time, so SQLite gets anonymous ones.)
pub(crate) fn values_placeholders(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = 0;
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            n += 1;
            if c > 0 {
                s.push_str(", ");
            }
            push_placeholder(&mut s, backend, n);
        }
        s.push(')');
    }
    s
}

/// The keys of an `IN` list as they are bound: `keys`, then the last key
/// again up to the next power of two. sqlx prepares a statement for each
/// text, so a list of any length prepared a new statement for nearly
/// every batch (and pushed the ones in use out of the connection's cache);
/// with these lengths a connection prepares each at most once, as
/// [`statement_runs`] does for inserts. A key twice in an `IN` list
/// changes nothing. Bind every key this yields, and
/// [`list_placeholders`] of [`padded_len`] of them.
pub(crate) fn padded<T>(keys: &[T]) -> impl Iterator<Item = &T> {
    let pad = padded_len(keys.len()) - keys.len();
    keys.iter().chain(keys.last().into_iter().cycle().take(pad))
}

/// How many keys [`padded`] yields for `n`.
pub(crate) fn padded_len(n: usize) -> usize {
    if n == 0 { 0 } else { n.next_power_of_two() }
}

/// `$1, $2, ...` (PostgreSQL) or `?, ?, ...` (SQLite) for an `IN` list.
pub(crate) fn list_placeholders(backend: Backend, n: usize) -> String {
    let mut s = String::with_capacity(n * 4);
    for i in 1..=n {
        if i > 1 {
            s.push_str(", ");
        }
        push_placeholder(&mut s, backend, i);
    }
    s
}

/// `INSERT INTO` for a multi-row statement of the commit. On SQLite it is
/// `INSERT OR FAIL INTO`: a statement that may change many rows and may end
/// in `ABORT` copies every page it touches into a statement journal first,
/// to undo itself alone; a commit that fails is rolled back whole, so the
/// copies were never used (7% of the connection thread's time in
/// `bench replication`). An upsert still journals for its `DO UPDATE`
/// half, whose `NOT NULL` checks keep `ABORT`.
pub(crate) fn insert_into(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "INSERT OR FAIL INTO",
        Backend::Postgres => "INSERT INTO",
    }
}

pub(crate) fn push_placeholder(s: &mut String, backend: Backend, n: usize) {
    match backend {
        Backend::Sqlite => s.push('?'),
        Backend::Postgres => {
            s.push('$');
            s.push_str(&n.to_string());
        }
    }
}

/// A statement being built for the `Any` driver.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// A statement with room for `values` bound values. The driver's list of
/// values began empty and doubled as it grew, copying itself a dozen
/// times for a multi-row statement of thousands of values.
pub(crate) fn sized_query(sql: &str, values: usize) -> AnyQuery<'_> {
    let mut args = sqlx::any::AnyArguments::default();
    sqlx::Arguments::reserve(&mut args, values, 0);
    sqlx::query_with(sql, args)
}

/// The values [`bind_events`] binds for each event.
const EVENT_VALUES: usize = 18;

/// The columns of an entry read for the wire.
const WIRE_COLUMNS: &str = "SELECT local_seq, origin, origin_seq, prev_hash, hash, body, body_bin, sealed, sealed_hash, case_id, case_version FROM events";

/// A case's events in order. `case_id <> ''` lets the planner use
/// `events_case`, which is partial (`WHERE case_id <> ''`): a bound value
/// does not show that the index applies, and without the term every call
/// walked the whole log, at a district for every action on a case (by the
/// 40th day of the Nanhai year, 500,000 page reads a second).
const CASE_EVENTS_WHERE: &str = "WHERE case_id <> '' AND case_id = $1 ORDER BY case_version";

/// The last entry of a child's route down: one search of `events_down` for
/// each of its two values, as in [`down_route_sql`].
const DOWN_HEAD: &str = "SELECT local_seq FROM events WHERE down <> '' AND down = '*' UNION ALL \
     SELECT local_seq FROM events WHERE down <> '' AND down = $1 ORDER BY local_seq DESC LIMIT 1";

/// A child's route down in `($1, $2]`, at most `$3`, the child `$4`.
fn down_route_sql() -> String {
    format!(
        "{WIRE_COLUMNS} WHERE {DOWN_ROUTE} AND down = '*' UNION ALL {WIRE_COLUMNS} WHERE {DOWN_ROUTE} AND down = $4 \
         ORDER BY local_seq LIMIT $3"
    )
}

/// The reads made for every action on a case and every batch a link
/// sends, each of which must search an index rather than walk a table
/// whose size grows with the log: `(name, SQL)`, for a test that asks
/// SQLite for their plans.
#[doc(hidden)]
pub fn indexed_reads() -> Vec<(&'static str, String)> {
    let (needed_cases, needed_events) =
        personal::needed_above_sql(Backend::Sqlite, 4, "nanhai.guicheng".len());
    vec![
        (
            "case_events",
            format!("{EVENT_COLUMNS} {CASE_EVENTS_WHERE}"),
        ),
        ("down_head", DOWN_HEAD.to_owned()),
        ("down_route", down_route_sql()),
        ("withheld_cases", personal::WITHHELD_CASES.to_owned()),
        ("needed_above_cases", needed_cases),
        ("needed_above_events", needed_events),
    ]
}

/// The range of a child's route down, for each of the two values of
/// `down` that are meant for it (`'*'` and the child): written as two
/// searches of the index `events_down (down, local_seq)` merged in
/// `local_seq` order, which stop at the `LIMIT`. With `down IN ('*', $4)`
/// the planner walked every entry of the range by `local_seq` instead (the
/// index is partial, `WHERE down <> ''`, and a bound value does not show
/// that it applies): at a district, a township's down flow is a small
/// share of its log, and these walks read the whole district's log again,
/// 260,000 pages a second by the simulation's 40th day, more every day.
const DOWN_ROUTE: &str = "down <> '' AND local_seq > $1 AND local_seq <= $2";

/// The multi-row insert of `rows` events.
fn events_sql(backend: Backend, rows: usize) -> &'static str {
    statement_text("events", backend, rows, || {
        format!(
            "{} events (local_seq, origin, origin_seq, case_id, case_version, kind, actor, at_ms, body, prev_hash, hash, scope, body_bin, sealed, sealed_hash, up, down, routed) VALUES {}",
            insert_into(backend),
            values_placeholders(backend, rows, EVENT_VALUES)
        )
    })
}

/// The text of a multi-row statement of the commit, made once in the
/// process for each statement, backend and row count, and kept. Every
/// commit made its texts again (the largest, 512 events, is 47 KB), at
/// every tier for every batch. The row counts are those of
/// [`statement_runs`], powers of two up to a bound, so the texts kept are
/// a few dozen.
pub(crate) fn statement_text(
    statement: &'static str,
    backend: Backend,
    rows: usize,
    make: impl FnOnce() -> String,
) -> &'static str {
    type Texts = std::sync::RwLock<HashMap<(&'static str, Backend, usize), &'static str>>;
    static TEXTS: std::sync::OnceLock<Texts> = std::sync::OnceLock::new();
    debug_assert!(rows.is_power_of_two(), "{statement}: {rows} rows");
    let texts = TEXTS.get_or_init(Texts::default);
    let key = (statement, backend, rows);
    if let Some(text) = texts.read().ok().and_then(|t| t.get(&key).copied()) {
        return text;
    }
    let made: &'static str = Box::leak(make().into_boxed_str());
    match texts.write() {
        Ok(mut t) => t.entry(key).or_insert(made),
        Err(_) => made,
    }
}

/// Binds the values of [`events_sql`] for `chunk`, by reference: the
/// statement copies them once.
fn bind_events<'q>(mut q: AnyQuery<'q>, chunk: &'q [StoredEvent]) -> AnyQuery<'q> {
    for e in chunk {
        let (case_id, version, actor, at) = match &e.body {
            LogBody::Case(r) => (
                r.case_id.as_str(),
                r.case_version as i64,
                r.actor.username.as_str(),
                r.at_ms,
            ),
            LogBody::Directive(d) => ("", 0, d.issued_by.as_str(), d.at_ms),
            LogBody::Audit(a) => ("", 0, a.actor.as_str(), a.at_ms),
        };
        let format1 = federation::log::is_format1(&e.entry.body);
        // A withheld section keeps its hash and no bytes.
        let (sealed, sealed_hash) = match &e.entry.sealed {
            Sealed::Empty => (None, None),
            Sealed::Open(b) => (Some(b.as_slice()), None),
            Sealed::Withheld(h) => (None, Some(h.to_hex())),
        };
        q = q
            .bind(e.local_seq)
            .bind(e.entry.origin.as_str())
            .bind(e.entry.origin_seq as i64)
            .bind(case_id)
            .bind(version)
            .bind(e.body.kind())
            .bind(actor)
            .bind(at);
        q = if format1 {
            q.bind(String::from_utf8_lossy(&e.entry.body).into_owned())
                .bind(e.entry.prev_hash.to_hex())
                .bind(e.entry.hash.to_hex())
                .bind(e.scope.as_str())
                .bind(None::<&[u8]>)
        } else {
            q.bind("")
                .bind(e.entry.prev_hash.to_hex())
                .bind(e.entry.hash.to_hex())
                .bind(e.scope.as_str())
                .bind(Some(e.entry.body.as_slice()))
        };
        q = q
            .bind(sealed)
            .bind(sealed_hash)
            .bind(i64::from(e.up))
            .bind(e.down.as_str())
            .bind(1i64);
    }
    q
}

async fn flush_events(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    events: &[StoredEvent],
) -> Result<(), StoreError> {
    for chunk in statement_runs(events, EVENT_ROWS_PER_STATEMENT) {
        let sql = events_sql(backend, chunk.len());
        bind_events(sized_query(sql, chunk.len() * EVENT_VALUES), chunk)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The cases of which `events` store an entry withheld (the case row's
/// `withheld` flag, migration 0031). Every case entry a transaction stores
/// comes with its case's row ([`WriteTx::put_case`]), so the flag is
/// written with the row.
fn withheld_cases_of(events: &[StoredEvent]) -> foldhash::HashSet<&str> {
    events
        .iter()
        .filter(|e| matches!(e.entry.sealed, Sealed::Withheld(_)))
        .filter_map(|e| match &e.body {
            LogBody::Case(r) => Some(r.case_id.as_str()),
            _ => None,
        })
        .collect()
}

/// Most events and case rows a commit writes in one round trip
/// ([`commit_in_one`]): small enough that the statement texts it makes stay
/// few (each is prepared once per connection).
const ONE_TRIP_ROWS: usize = 8;

/// Writes a small transaction's rows and commits it in one round trip to
/// the SQLite connection's thread: every statement in one text, their
/// values bound in order (anonymous `?` take the values one after another
/// across the statements), then `COMMIT`. Each statement was a round trip
/// of its own, with a wake-up of the connection's thread and one of the
/// caller's: four or five for a clerk's action or a small batch. A failed
/// statement stops the rest, `COMMIT` included, and the transaction is
/// rolled back as any unfinished one is.
async fn commit_in_one(
    conn: &mut sqlx::AnyConnection,
    events: &[StoredEvent],
    cursors: &[(String, u64)],
    // Rows of cases new to the store, then the rest.
    cases: [&[cases::CaseRow]; 2],
    withheld: &foldhash::HashSet<&str>,
) -> Result<(), StoreError> {
    let backend = Backend::Sqlite;
    let heads = replica::heads_of(events);
    let mut sql = String::new();
    for chunk in statement_runs(events, EVENT_ROWS_PER_STATEMENT) {
        sql.push_str(events_sql(backend, chunk.len()));
        sql.push_str("; ");
    }
    if !heads.is_empty() {
        sql.push_str(&replica::heads_sql(backend, heads.len()));
        sql.push_str("; ");
    }
    for _ in cursors {
        sql.push_str(replica::cursor_sql(backend));
        sql.push_str("; ");
    }
    for (rows, new) in cases.into_iter().zip([true, false]) {
        for chunk in statement_runs(rows, cases::ROWS_PER_STATEMENT) {
            sql.push_str(cases::cases_sql(backend, chunk.len(), new));
            sql.push_str("; ");
        }
    }
    sql.push_str("COMMIT");
    let values = events.len() * EVENT_VALUES
        + heads.len() * 3
        + cursors.len() * 2
        + (cases[0].len() + cases[1].len()) * cases::CASE_VALUES;
    let mut q = sized_query(&sql, values);
    for chunk in statement_runs(events, EVENT_ROWS_PER_STATEMENT) {
        q = bind_events(q, chunk);
    }
    q = replica::bind_heads(q, &heads);
    for (peer, have) in cursors {
        q = replica::bind_cursor(q, peer, *have);
    }
    for rows in cases {
        for chunk in statement_runs(rows, cases::ROWS_PER_STATEMENT) {
            q = cases::bind_cases(q, chunk, withheld);
        }
    }
    q.execute(&mut *conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_statement_text_is_made_once_and_kept() {
        use super::Backend::{Postgres, Sqlite};
        let first = super::statement_text("test", Sqlite, 4, || "made".to_owned());
        let again = super::statement_text("test", Sqlite, 4, || unreachable!("made again"));
        assert!(std::ptr::eq(first, again));
        // Another backend or row count is another text.
        assert_eq!(
            super::statement_text("test", Postgres, 4, || "pg".into()),
            "pg"
        );
        assert_eq!(
            super::statement_text("test", Sqlite, 8, || "eight".into()),
            "eight"
        );
        assert_eq!(
            super::statement_text("test", Sqlite, 4, || "other".into()),
            "made"
        );
        assert!(super::events_sql(Sqlite, 2).ends_with("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        assert!(super::events_sql(Postgres, 1).ends_with("$17, $18)"));
    }

    #[test]
    fn placeholders_number_every_value() {
        use super::Backend::{Postgres, Sqlite};
        assert_eq!(
            super::values_placeholders(Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(super::values_placeholders(Postgres, 1, 1), "($1)");
        assert_eq!(super::values_placeholders(Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(super::list_placeholders(Postgres, 3), "$1, $2, $3");
        assert_eq!(super::list_placeholders(Sqlite, 2), "?, ?");
    }

    #[test]
    fn in_lists_are_padded_to_a_power_of_two_with_the_last_key() {
        let keys = ["a", "b", "c", "d", "e"];
        let got: Vec<&&str> = super::padded(&keys).collect();
        assert_eq!(got, [&"a", &"b", &"c", &"d", &"e", &"e", &"e", &"e"]);
        assert_eq!(super::padded_len(5), 8);
        assert_eq!(super::padded(&keys[..4]).count(), 4);
        assert_eq!(super::padded(&keys[..1]).count(), 1);
        assert_eq!(super::padded(&keys[..0]).count(), 0);
        assert_eq!(super::padded_len(0), 0);
        assert_eq!(super::padded_len(500), 512);
    }

    #[test]
    fn statement_runs_take_few_row_counts_and_every_row_once() {
        let rows: Vec<u32> = (0..1300).collect();
        let runs: Vec<&[u32]> = super::statement_runs(&rows, 512).collect();
        let sizes: Vec<usize> = runs.iter().map(|r| r.len()).collect();
        assert_eq!(sizes, vec![512, 512, 256, 16, 4]);
        let again: Vec<u32> = runs.concat();
        assert_eq!(again, rows);
        assert_eq!(super::statement_runs(&rows[..0], 512).count(), 0);
        assert_eq!(
            super::statement_runs(&rows[..513], 512)
                .map(<[u32]>::len)
                .collect::<Vec<_>>(),
            vec![512, 1]
        );
    }
}
