//! What replication keeps in the store: the head of every origin's chain and
//! the cursors of every link, written in the same transaction as the entries
//! they describe.

use std::collections::BTreeMap;
use std::sync::Arc;

use federation::{EntryHash, NodeId};
use sqlx::Row;

use super::{
    AnyQuery, Backend, Store, StoreError, StoredEvent, list_placeholders, padded, padded_len,
    values_placeholders,
};

/// The head each origin reaches in `events`.
pub(super) fn heads_of(events: &[StoredEvent]) -> BTreeMap<&str, (u64, EntryHash)> {
    let mut heads: BTreeMap<&str, (u64, EntryHash)> = BTreeMap::new();
    for e in events {
        let h = heads
            .entry(e.entry.origin.as_str())
            .or_insert((0, EntryHash::GENESIS));
        if e.entry.origin_seq > h.0 {
            *h = (e.entry.origin_seq, e.entry.hash);
        }
    }
    heads
}

/// The upsert of `rows` origin heads (a head never moves back).
pub(super) fn heads_sql(backend: Backend, rows: usize) -> String {
    format!(
        "INSERT INTO origin_heads (origin, seq, hash) VALUES {} \
         ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, hash = excluded.hash \
         WHERE excluded.seq > origin_heads.seq",
        values_placeholders(backend, rows, 3)
    )
}

pub(super) fn bind_heads<'q>(
    mut q: AnyQuery<'q>,
    heads: &BTreeMap<&str, (u64, EntryHash)>,
) -> AnyQuery<'q> {
    for (origin, (seq, hash)) in heads {
        q = q
            .bind((*origin).to_owned())
            .bind(*seq as i64)
            .bind(hash.to_hex());
    }
    q
}

pub(super) async fn flush_heads(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    events: &[StoredEvent],
) -> Result<(), StoreError> {
    let heads = heads_of(events);
    if heads.is_empty() {
        return Ok(());
    }
    let sql = heads_sql(backend, heads.len());
    bind_heads(sqlx::query(&sql), &heads)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The upsert of one link cursor. A cursor never moves back: a cut batch
/// may acknowledge less than is already held.
pub(super) fn cursor_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "INSERT INTO link_cursors (peer, have, acked) VALUES (?, ?, 0) \
             ON CONFLICT (peer) DO UPDATE SET have = excluded.have WHERE excluded.have > link_cursors.have"
        }
        Backend::Postgres => {
            "INSERT INTO link_cursors (peer, have, acked) VALUES ($1, $2, 0) \
             ON CONFLICT (peer) DO UPDATE SET have = excluded.have WHERE excluded.have > link_cursors.have"
        }
    }
}

pub(super) fn bind_cursor<'q>(q: AnyQuery<'q>, peer: &'q str, have: u64) -> AnyQuery<'q> {
    q.bind(peer).bind(have as i64)
}

pub(super) async fn flush_cursors(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    cursors: &[(String, u64)],
) -> Result<(), StoreError> {
    for (peer, have) in cursors {
        bind_cursor(sqlx::query(cursor_sql(backend)), peer, *have)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl Store {
    /// The head (highest sequence and its hash) of every origin held, as
    /// last committed.
    pub async fn origin_heads(&self) -> Result<BTreeMap<NodeId, (u64, EntryHash)>, StoreError> {
        let cached = self.heads.read().ok().map(|h| Arc::clone(&h));
        match cached {
            Some(h) => Ok((*h).clone()),
            None => self.origin_heads_stored().await,
        }
    }

    /// The heads as the `origin_heads` table holds them.
    pub(super) async fn origin_heads_stored(
        &self,
    ) -> Result<BTreeMap<NodeId, (u64, EntryHash)>, StoreError> {
        let rows = sqlx::query("SELECT origin, seq, hash FROM origin_heads")
            .fetch_all(self.pool())
            .await?;
        let mut out = BTreeMap::new();
        for r in rows {
            let origin: String = r.try_get(0)?;
            let seq: i64 = r.try_get(1)?;
            let hash: String = r.try_get(2)?;
            let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
            out.insert(
                NodeId::new(origin).map_err(|e| corrupt(&e))?,
                (
                    seq as u64,
                    EntryHash::from_hex(&hash).map_err(|e| corrupt(&e))?,
                ),
            );
        }
        Ok(out)
    }

    /// A link's cursors: how much of the peer's log is held here, and how
    /// much of this node's log the peer acknowledged.
    pub async fn link_cursor(&self, peer: &str) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query("SELECT have, acked FROM link_cursors WHERE peer = $1")
            .bind(peer)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => {
                let have: i64 = r.try_get(0)?;
                let acked: i64 = r.try_get(1)?;
                (have as u64, acked as u64)
            }
            None => (0, 0),
        })
    }

    /// Records this process's start as incarnation `id` of this node's log,
    /// whose head is `start_head`, and returns the `keep` incarnations
    /// before it (oldest first, as `(incarnation, start_head)`) and the
    /// lowest start head of those older still, if any.
    pub async fn begin_incarnation(
        &self,
        id: u64,
        start_head: u64,
        now_ms: i64,
        keep: usize,
    ) -> Result<(Vec<(u64, u64)>, Option<u64>), StoreError> {
        let mut w = self.write().await?;
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM incarnations")
            .fetch_one(w.conn())
            .await?
            .try_get(0)?;
        sqlx::query(
            "INSERT INTO incarnations (seq, incarnation, start_head, started_at_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(seq + 1)
        .bind(id as i64)
        .bind(start_head as i64)
        .bind(now_ms)
        .execute(w.conn())
        .await?;
        let rows = sqlx::query(
            "SELECT seq, incarnation, start_head FROM incarnations WHERE seq <= $1 \
             ORDER BY seq DESC LIMIT $2",
        )
        .bind(seq)
        .bind(keep as i64)
        .fetch_all(w.conn())
        .await?;
        let mut earlier = Vec::with_capacity(rows.len());
        let mut oldest = seq + 1;
        for r in rows.iter().rev() {
            let seq: i64 = r.try_get(0)?;
            oldest = oldest.min(seq);
            let i: i64 = r.try_get(1)?;
            let h: i64 = r.try_get(2)?;
            earlier.push((i as u64, h as u64));
        }
        let floor: Option<i64> =
            sqlx::query("SELECT MIN(start_head) FROM incarnations WHERE seq < $1")
                .bind(oldest)
                .fetch_one(w.conn())
                .await?
                .try_get(0)?;
        w.commit().await?;
        Ok((earlier, floor.map(|f| f as u64)))
    }

    /// The incarnation the peer said in its last Hello to this node, if any.
    pub async fn peer_incarnation(&self, peer: &str) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query("SELECT peer_incarnation FROM link_cursors WHERE peer = $1")
            .bind(peer)
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<i64, _>(0)? as u64).filter(|i| *i != 0),
            None => None,
        })
    }

    /// Records the incarnation the peer said in its Hello and, in the same
    /// transaction, sets how much of the peer's log is held when
    /// `reset_have` says so, even lower than before: the peer was put back
    /// to an older copy of its store, so its sequence numbers above that
    /// will name other entries. (Apart, a crash between the two would leave
    /// the new incarnation remembered and the old cursor kept.)
    pub async fn heard_peer(
        &self,
        peer: &str,
        incarnation: u64,
        reset_have: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        if let Some(have) = reset_have {
            sqlx::query(
                "INSERT INTO link_cursors (peer, have, acked) VALUES ($1, $2, 0) \
                 ON CONFLICT (peer) DO UPDATE SET have = excluded.have",
            )
            .bind(peer)
            .bind(have as i64)
            .execute(w.conn())
            .await?;
        }
        if incarnation != 0 {
            sqlx::query(
                "INSERT INTO link_cursors (peer, have, acked, peer_incarnation) VALUES ($1, 0, 0, $2) \
                 ON CONFLICT (peer) DO UPDATE SET peer_incarnation = excluded.peer_incarnation",
            )
            .bind(peer)
            .bind(incarnation as i64)
            .execute(w.conn())
            .await?;
        }
        w.commit().await?;
        Ok(())
    }

    /// Records what the peer acknowledged of this node's log.
    pub async fn set_acked(&self, peer: &str, acked: u64) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO link_cursors (peer, have, acked) VALUES ($1, 0, $2) \
             ON CONFLICT (peer) DO UPDATE SET acked = excluded.acked",
        )
        .bind(peer)
        .bind(acked as i64)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The hashes held at these places: `(origin, from, to)` ranges of
    /// origin sequences, one query each.
    pub async fn held_hashes(
        &self,
        ranges: &[(&str, u64, u64)],
    ) -> Result<std::collections::HashMap<(NodeId, u64), EntryHash>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for (origin, from, to) in ranges {
            let rows = sqlx::query(
                "SELECT origin_seq, hash FROM events WHERE origin = $1 AND origin_seq >= $2 AND origin_seq <= $3",
            )
            .bind(*origin)
            .bind(*from as i64)
            .bind(*to as i64)
            .fetch_all(self.pool())
            .await?;
            let o = NodeId::new(*origin).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            for r in rows {
                let seq: i64 = r.try_get(0)?;
                let hash: String = r.try_get(1)?;
                out.insert(
                    (o.clone(), seq as u64),
                    EntryHash::from_hex(&hash).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
            }
        }
        Ok(out)
    }

    /// The versions held of these cases (0 for a case not held).
    pub async fn case_versions(&self, ids: &[&str]) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut out: BTreeMap<String, u64> = ids.iter().map(|i| ((*i).to_owned(), 0)).collect();
        for chunk in ids.chunks(500) {
            let list = list_placeholders(self.backend(), padded_len(chunk.len()));
            let sql = format!("SELECT id, version FROM cases WHERE id IN ({list})");
            let mut q = sqlx::query(&sql);
            for id in padded(chunk) {
                q = q.bind(*id);
            }
            for r in q.fetch_all(self.pool()).await? {
                let id: String = r.try_get(0)?;
                let v: i64 = r.try_get(1)?;
                out.insert(id, v as u64);
            }
        }
        Ok(out)
    }

    /// Records a security event.
    pub async fn security_event(
        &self,
        at_ms: i64,
        kind: &str,
        peer: Option<&str>,
        remote: Option<&str>,
        detail: &str,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM security_events")
            .fetch_one(w.conn())
            .await?;
        sqlx::query(
            "INSERT INTO security_events (id, at_ms, kind, peer, remote, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(at_ms)
        .bind(kind)
        .bind(peer)
        .bind(remote)
        .bind(detail)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Security events, newest first.
    pub async fn security_events(&self, limit: i64) -> Result<Vec<SecurityRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, at_ms, kind, peer, remote, detail FROM security_events ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}

/// One recorded security event.
#[derive(
    Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema, sqlx::FromRow,
)]
pub struct SecurityRow {
    /// Id.
    pub id: i64,
    /// When (ms).
    pub at_ms: i64,
    /// Kind, e.g. `unknown_ca`, `outside_subtree`, `bad_signature`.
    pub kind: String,
    /// The node concerned.
    pub peer: Option<String>,
    /// Its address.
    pub remote: Option<String>,
    /// What happened.
    pub detail: String,
}

/// How long a fleet row may go unwritten while the status reports say
/// nothing new of it: a report every two seconds from every link rewrote
/// every row of every subtree at every tier, a write transaction per report
/// that the clerks' writes queued behind, to move a "last seen" that the
/// fleet page shows to the minute. Measured on the monotonic clock: a node
/// clock that jumps (a simulated one, or one that NTP steps) does not make
/// every report write.
pub const FLEET_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// What the status reports last wrote of each fleet row, so that a report
/// that says the same again (within the tolerances of the figures that
/// jitter or move with traffic: last seen, clock skew, round trip, the
/// backlog while it is not zero, the acknowledged sequence) writes nothing.
#[derive(Debug, Default)]
pub(crate) struct FleetMemo {
    /// A direct peer's own row, as its reports wrote it.
    pub(crate) seen: std::collections::HashMap<String, Seen>,
    /// Rows of a child's subtree, as its reports wrote them, with when.
    pub(crate) subtree: std::collections::HashMap<
        String,
        (federation::replication::SubtreeNode, std::time::Instant),
    >,
    /// A peer's names, as last written.
    pub(crate) names: std::collections::HashMap<String, (String, String)>,
    /// A child's queue summaries, as last written.
    pub(crate) queues: std::collections::HashMap<String, Vec<federation::replication::QueueDay>>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Seen {
    pub(crate) remote: Option<String>,
    pub(crate) software: String,
    pub(crate) catalogue_version: i64,
    pub(crate) backlog: i64,
    pub(crate) acked: i64,
    pub(crate) skew_ms: i64,
    pub(crate) lag_ms: Option<i64>,
    /// When it was written (monotonic).
    pub(crate) at: std::time::Instant,
}

/// Two readings of a figure that jitters are the same for the fleet.
pub(crate) fn close(a: Option<i64>, b: Option<i64>, tolerance: i64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tolerance.max(a.abs() / 5),
        (a, b) => a == b,
    }
}

/// Two backlogs are the same for the fleet while both are zero or both
/// are not: a link that catches up, or falls behind, is written at once;
/// one that moves entries through is written with the refresh.
fn same_backlog(a: Option<i64>, b: Option<i64>) -> bool {
    a.map(|a| a == 0) == b.map(|b| b == 0)
}

/// The refresh is due for what was written at `then`.
fn stale(then: std::time::Instant, now: std::time::Instant) -> bool {
    now.saturating_duration_since(then) >= FLEET_REFRESH
}

impl Seen {
    pub(crate) fn same(&self, new: &Seen) -> bool {
        self.remote == new.remote
            && self.software == new.software
            && self.catalogue_version == new.catalogue_version
            && same_backlog(Some(self.backlog), Some(new.backlog))
            && close(Some(self.skew_ms), Some(new.skew_ms), 500)
            && close(self.lag_ms, new.lag_ms, 20)
            && !stale(self.at, new.at)
    }
}

/// `node` is below `peer` (and not `peer` itself): a row of `peer`'s
/// subtree that its status report may carry.
pub(crate) fn below(peer: &NodeId, node: &str) -> bool {
    NodeId::new(node).is_ok_and(|id| id != *peer && id.is_in_subtree_of(peer))
}

/// A subtree row says nothing new of what was written at `at`.
pub(crate) fn subtree_same(
    old: &(federation::replication::SubtreeNode, std::time::Instant),
    new: &federation::replication::SubtreeNode,
    now: std::time::Instant,
) -> bool {
    let (o, at) = old;
    o.node == new.node
        && o.connected == new.connected
        && o.software == new.software
        && o.catalogue_version == new.catalogue_version
        && same_backlog(o.backlog, new.backlog)
        && o.cert_not_after_ms == new.cert_not_after_ms
        && o.name_zh == new.name_zh
        && o.name_en == new.name_en
        && close(o.latency_ms, new.latency_ms, 20)
        && close(o.skew_ms, new.skew_ms, 500)
        && (o.last_seen_ms == new.last_seen_ms || !stale(*at, now))
}

impl FleetMemo {
    fn forget(&mut self, node_id: &str) {
        self.seen.remove(node_id);
        self.subtree.remove(node_id);
        self.names.remove(node_id);
    }
}

impl Store {
    pub(crate) fn fleet_memo(&self) -> std::sync::MutexGuard<'_, FleetMemo> {
        match self.fleet_memo.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Records what a link says of a peer (when it connects and when it
    /// goes: always written).
    pub async fn fleet_seen(&self, seen: &PeerSeen<'_>) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        self.fleet_memo().forget(seen.node_id);
        write_seen(&mut w, seen).await?;
        w.commit().await?;
        Ok(())
    }
}

/// What a link says of its peer, as the fleet row keeps it; a figure left
/// `None` keeps what the row held.
#[derive(Debug, Clone)]
pub struct PeerSeen<'a> {
    /// The peer.
    pub node_id: &'a str,
    /// Its link is up.
    pub connected: bool,
    /// Its address.
    pub remote: Option<&'a str>,
    /// What it runs, and the catalogue version it holds.
    pub software: &'a str,
    pub catalogue_version: i64,
    /// What it has not yet had acknowledged, and what it acknowledged.
    pub backlog: Option<i64>,
    pub acked: Option<i64>,
    /// Its clock's skew from this node's (ms).
    pub skew_ms: Option<i64>,
    /// When (ms).
    pub now_ms: i64,
}

pub(crate) async fn write_seen(
    w: &mut crate::WriteTx<'_>,
    s: &PeerSeen<'_>,
) -> Result<(), StoreError> {
    let parent = s.node_id.rsplit_once('.').map(|(p, _)| p.to_owned());
    sqlx::query(
        "INSERT INTO fleet (node_id, parent, connected, remote, last_seen_ms, software, catalogue_version, backlog, acked, skew_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (node_id) DO UPDATE SET connected = excluded.connected, \
         remote = COALESCE(excluded.remote, fleet.remote), last_seen_ms = excluded.last_seen_ms, \
         software = excluded.software, catalogue_version = excluded.catalogue_version, \
         backlog = COALESCE(excluded.backlog, fleet.backlog), acked = COALESCE(excluded.acked, fleet.acked), \
         skew_ms = COALESCE(excluded.skew_ms, fleet.skew_ms)",
    )
    .bind(s.node_id)
    .bind(parent)
    .bind(i64::from(s.connected))
    .bind(s.remote)
    .bind(s.now_ms)
    .bind(s.software)
    .bind(s.catalogue_version)
    .bind(s.backlog)
    .bind(s.acked)
    .bind(s.skew_ms)
    .execute(w.conn())
    .await?;
    Ok(())
}

pub(crate) async fn write_subtree_row(
    w: &mut crate::WriteTx<'_>,
    n: &federation::replication::SubtreeNode,
) -> Result<(), StoreError> {
    let id = NodeId::new(n.node.as_str())
        .map_err(|_| StoreError::Corrupt(format!("node id {:?}", n.node)))?;
    sqlx::query(
        "INSERT INTO fleet (node_id, parent, connected, last_seen_ms, software, catalogue_version, backlog, lag_ms, skew_ms, cert_not_after_ms, name_zh, name_en) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (node_id) DO UPDATE SET parent = excluded.parent, connected = excluded.connected, \
         last_seen_ms = excluded.last_seen_ms, software = excluded.software, \
         catalogue_version = excluded.catalogue_version, backlog = excluded.backlog, \
         lag_ms = excluded.lag_ms, skew_ms = excluded.skew_ms, \
         cert_not_after_ms = COALESCE(excluded.cert_not_after_ms, fleet.cert_not_after_ms), \
         name_zh = COALESCE(excluded.name_zh, fleet.name_zh), name_en = COALESCE(excluded.name_en, fleet.name_en)",
    )
    .bind(id.as_str())
    .bind(id.parent().map(|p| p.to_string()))
    .bind(i64::from(n.connected))
    .bind(n.last_seen_ms)
    .bind(n.software.as_str())
    .bind(n.catalogue_version)
    .bind(n.backlog)
    .bind(n.latency_ms)
    .bind(n.skew_ms)
    .bind(n.cert_not_after_ms)
    .bind(Some(n.name_zh.as_str()).filter(|s| !s.is_empty()))
    .bind(Some(n.name_en.as_str()).filter(|s| !s.is_empty()))
    .execute(w.conn())
    .await?;
    Ok(())
}

pub(crate) async fn write_names_row(
    w: &mut crate::WriteTx<'_>,
    peer: &str,
    name_zh: &str,
    name_en: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE fleet SET name_zh = $2, name_en = $3 WHERE node_id = $1")
        .bind(peer)
        .bind(name_zh)
        .bind(name_en)
        .execute(w.conn())
        .await?;
    Ok(())
}

impl Store {
    /// Records a child's status report: the round trip of its link, and the
    /// rows of its own fleet for the nodes of its subtree (a report of any
    /// other node is left out; their count is returned). Rows of a node
    /// keep what only this node knows of it (registration, revocation,
    /// refusals). Always written ([`Store::status_heard`] is what a link
    /// calls).
    pub async fn fleet_reported(
        &self,
        peer: &str,
        latency_ms: i64,
        subtree: &[federation::replication::SubtreeNode],
    ) -> Result<usize, StoreError> {
        let Ok(peer_id) = NodeId::new(peer) else {
            return Ok(subtree.len());
        };
        let mut w = self.write().await?;
        {
            let mut memo = self.fleet_memo();
            memo.seen.remove(peer);
            for n in subtree {
                memo.subtree.remove(&n.node);
            }
        }
        sqlx::query("UPDATE fleet SET lag_ms = $2 WHERE node_id = $1")
            .bind(peer)
            .bind(latency_ms)
            .execute(w.conn())
            .await?;
        let mut outside = 0;
        for n in subtree {
            if below(&peer_id, &n.node) {
                write_subtree_row(&mut w, n).await?;
            } else {
                outside += 1;
            }
        }
        w.commit().await?;
        Ok(outside)
    }

    /// Records a peer's hall names from its status report (kept when it
    /// sends none).
    pub async fn fleet_named(
        &self,
        peer: &str,
        name_zh: &str,
        name_en: &str,
    ) -> Result<(), StoreError> {
        if name_zh.is_empty() && name_en.is_empty() {
            return Ok(());
        }
        let mut w = self.write().await?;
        self.fleet_memo().names.remove(peer);
        write_names_row(&mut w, peer, name_zh, name_en).await?;
        w.commit().await?;
        Ok(())
    }

    /// Every hall name the fleet holds: (node id, Chinese, English).
    pub async fn hall_names(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT node_id, name_zh, name_en FROM fleet WHERE name_zh IS NOT NULL OR name_en IS NOT NULL",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let zh: Option<String> = r.try_get("name_zh")?;
                let en: Option<String> = r.try_get("name_en")?;
                Ok((
                    r.try_get("node_id")?,
                    zh.unwrap_or_default(),
                    en.unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// What this node reports up of its subtree: its fleet's rows of the
    /// nodes below it.
    pub async fn fleet_subtree(
        &self,
    ) -> Result<Vec<federation::replication::SubtreeNode>, StoreError> {
        let rows = sqlx::query(
            "SELECT node_id, connected, last_seen_ms, software, catalogue_version, backlog, lag_ms, skew_ms, cert_not_after_ms, \
             name_zh, name_en FROM fleet ORDER BY node_id",
        )
        .fetch_all(self.pool())
        .await?;
        let me = &self.node;
        let mut out = Vec::new();
        for r in &rows {
            let node: String = r.try_get("node_id")?;
            if !NodeId::new(node.as_str()).is_ok_and(|n| n != *me && n.is_in_subtree_of(me)) {
                continue;
            }
            let connected: i64 = r.try_get("connected")?;
            let software: Option<String> = r.try_get("software")?;
            let name_zh: Option<String> = r.try_get("name_zh")?;
            let name_en: Option<String> = r.try_get("name_en")?;
            out.push(federation::replication::SubtreeNode {
                node,
                connected: connected != 0,
                last_seen_ms: r.try_get("last_seen_ms")?,
                software: software.unwrap_or_default(),
                catalogue_version: r.try_get("catalogue_version")?,
                backlog: r.try_get("backlog")?,
                latency_ms: r.try_get("lag_ms")?,
                skew_ms: r.try_get("skew_ms")?,
                cert_not_after_ms: r.try_get("cert_not_after_ms")?,
                name_zh: name_zh.unwrap_or_default(),
                name_en: name_en.unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Whether the fleet table knows a node (this node, a child, or a node
    /// of a child's subtree that its status reports named).
    pub async fn fleet_knows(&self, node_id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM fleet WHERE node_id = $1")
            .bind(node_id)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    /// Records the certificate a peer presented: its serial and period
    /// (Unix seconds, as certificates carry them).
    pub async fn fleet_certificate(
        &self,
        node_id: &str,
        serial: &str,
        not_before_s: i64,
        not_after_s: i64,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE fleet SET cert_serial = $1, cert_not_before_ms = $2, cert_not_after_ms = $3 \
             WHERE node_id = $4",
        )
        .bind(serial)
        .bind(not_before_s.saturating_mul(1000))
        .bind(not_after_s.saturating_mul(1000))
        .bind(node_id)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }
}

/// A refusal on a link as its peer's fleet row keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RefusalRecord {
    /// Code of the last refusal.
    pub code: String,
    /// Sessions in a row that ended refused.
    pub count: u32,
    /// When the last one ended (ms).
    pub at_ms: i64,
    /// When this node dials again (ms); only a child knows.
    pub next_attempt_ms: Option<i64>,
    /// The catalogue version entries wait for, for a hold-back.
    pub held_back_catalogue: Option<i64>,
}

impl Store {
    /// A session with `peer` ended refused (`code`): counts one more
    /// refusal in a row in the peer's fleet row and returns the count.
    pub async fn link_refused(
        &self,
        peer: &str,
        code: &str,
        held_back_catalogue: Option<i64>,
        now_ms: i64,
    ) -> Result<u32, StoreError> {
        let parent = peer.rsplit_once('.').map(|(p, _)| p.to_owned());
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO fleet (node_id, parent, connected, last_seen_ms, refusal_code, refusal_count, refused_at_ms, held_back_catalogue) \
             VALUES ($1, $2, 0, $3, $4, 1, $3, $5) \
             ON CONFLICT (node_id) DO UPDATE SET refusal_code = excluded.refusal_code, \
             refusal_count = fleet.refusal_count + 1, refused_at_ms = excluded.refused_at_ms, \
             next_attempt_ms = NULL, held_back_catalogue = excluded.held_back_catalogue",
        )
        .bind(peer)
        .bind(parent)
        .bind(now_ms)
        .bind(code)
        .bind(held_back_catalogue)
        .execute(w.conn())
        .await?;
        let count: i64 = sqlx::query_scalar("SELECT refusal_count FROM fleet WHERE node_id = $1")
            .bind(peer)
            .fetch_one(w.conn())
            .await?;
        w.commit().await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Records when this node dials `peer` again.
    pub async fn link_next_attempt(&self, peer: &str, at_ms: i64) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query("UPDATE fleet SET next_attempt_ms = $2 WHERE node_id = $1")
            .bind(peer)
            .bind(at_ms)
            .execute(w.conn())
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// A session with `peer` made progress: the refusals in a row are over.
    pub async fn link_progressed(&self, peer: &str) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE fleet SET refusal_code = NULL, refusal_count = 0, refused_at_ms = NULL, \
             next_attempt_ms = NULL, held_back_catalogue = NULL WHERE node_id = $1",
        )
        .bind(peer)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The refusals in a row on the link to `peer`; `None` when there are
    /// none.
    pub async fn link_refusal(&self, peer: &str) -> Result<Option<RefusalRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT refusal_code, refusal_count, refused_at_ms, next_attempt_ms, held_back_catalogue \
             FROM fleet WHERE node_id = $1",
        )
        .bind(peer)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        refusal_of(
            r.try_get(0)?,
            r.try_get(1)?,
            r.try_get(2)?,
            r.try_get(3)?,
            r.try_get(4)?,
        )
        .map_or(Ok(None), |x| Ok(Some(x)))
    }
}

/// A fleet row's refusal columns as a record (`None` when not refused).
pub(crate) fn refusal_of(
    code: Option<String>,
    count: i64,
    at_ms: Option<i64>,
    next_attempt_ms: Option<i64>,
    held_back_catalogue: Option<i64>,
) -> Option<RefusalRecord> {
    let code = code?;
    (count > 0).then(|| RefusalRecord {
        code,
        count: u32::try_from(count).unwrap_or(u32::MAX),
        at_ms: at_ms.unwrap_or(0),
        next_attempt_ms,
        held_back_catalogue,
    })
}

/// What the last status report on a link said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// A link is up now.
    pub connected: bool,
    /// Software version of the peer.
    pub software: Option<String>,
    /// Catalogue version the peer uses.
    pub catalogue_version: Option<i64>,
    /// Entries the peer still has to deliver to this node.
    pub backlog: Option<i64>,
    /// The peer's clock minus this node's (ms).
    pub skew_ms: Option<i64>,
    /// Last heard of (ms).
    pub last_seen_ms: Option<i64>,
    /// The refusals in a row on the link, if any.
    pub refusal: Option<RefusalRecord>,
}

impl Store {
    /// The last status of the link to a peer.
    pub async fn link_state(&self, peer: &str) -> Result<Option<LinkState>, StoreError> {
        let row = sqlx::query(
            "SELECT connected, software, catalogue_version, backlog, skew_ms, last_seen_ms, \
             refusal_code, refusal_count, refused_at_ms, next_attempt_ms, held_back_catalogue \
             FROM fleet WHERE node_id = $1",
        )
        .bind(peer)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            let connected: i64 = r.try_get(0)?;
            Ok(LinkState {
                connected: connected != 0,
                software: r.try_get(1)?,
                catalogue_version: r.try_get(2)?,
                backlog: r.try_get(3)?,
                skew_ms: r.try_get(4)?,
                last_seen_ms: r.try_get(5)?,
                refusal: refusal_of(
                    r.try_get(6)?,
                    r.try_get(7)?,
                    r.try_get(8)?,
                    r.try_get(9)?,
                    r.try_get(10)?,
                ),
            })
        })
        .transpose()
    }
}

impl crate::WriteTx<'_> {
    /// Marks a node revoked in the fleet table (with the transaction that
    /// writes or applies the revocation). A node the fleet has not heard of
    /// gets a row, so that the fleet lists it revoked.
    pub async fn fleet_revoked(&mut self, node: &str, at_ms: i64) -> Result<(), StoreError> {
        self.store.fleet_memo().forget(node);
        let parent = node.rsplit_once('.').map(|(p, _)| p.to_owned());
        sqlx::query(
            "INSERT INTO fleet (node_id, parent, connected, revoked_at_ms) VALUES ($1, $2, 0, $3) \
             ON CONFLICT (node_id) DO UPDATE SET revoked_at_ms = excluded.revoked_at_ms, connected = 0",
        )
        .bind(node)
        .bind(parent)
        .bind(at_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}
