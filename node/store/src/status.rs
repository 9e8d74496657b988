//! A peer's status report as the fleet keeps it: one transaction, and
//! only what it says anew (see [`crate::replica::FleetMemo`]).

use federation::NodeId;

use crate::replica::{
    PeerSeen, Seen, below, subtree_same, write_names_row, write_seen, write_subtree_row,
};
use crate::{Store, StoreError};

/// One status report heard from a peer on a link.
#[derive(Debug)]
pub struct StatusHeard<'a> {
    /// The peer.
    pub peer: &'a str,
    /// Its address.
    pub remote: Option<&'a str>,
    /// What it runs, and the catalogue version it holds.
    pub software: &'a str,
    pub catalogue_version: i64,
    /// What it has not yet had acknowledged, and what it acknowledged.
    pub backlog: i64,
    pub acked: i64,
    /// Its clock's skew from this node's (ms).
    pub skew_ms: i64,
    /// Its hall names (kept when empty).
    pub name_zh: &'a str,
    pub name_en: &'a str,
    /// From a child: the link's round trip (ms), its subtree's rows and its
    /// subtree's queue waits.
    pub child: Option<(
        i64,
        &'a [federation::replication::SubtreeNode],
        &'a [federation::replication::QueueDay],
    )>,
    /// When (ms), as this node's clock reads.
    pub now_ms: i64,
    /// When, on the monotonic clock ([`crate::FLEET_REFRESH`] is measured
    /// on it).
    pub at: std::time::Instant,
}

impl Store {
    /// Records a peer's status report in one transaction: its own row, its
    /// names and, from a child, its subtree's rows and queue waits (a row
    /// or summary of any node outside that subtree is left out; their
    /// count is returned). What says nothing new of what the reports last
    /// wrote is not written again until [`crate::FLEET_REFRESH`] has passed; a report
    /// that says nothing new writes nothing.
    pub async fn status_heard(&self, s: &StatusHeard<'_>) -> Result<usize, StoreError> {
        let seen = Seen {
            remote: s.remote.map(str::to_owned),
            software: s.software.to_owned(),
            catalogue_version: s.catalogue_version,
            backlog: s.backlog,
            acked: s.acked,
            skew_ms: s.skew_ms,
            lag_ms: s.child.map(|c| c.0),
            at: s.at,
        };
        let names = (!s.name_zh.is_empty() || !s.name_en.is_empty())
            .then(|| (s.name_zh.to_owned(), s.name_en.to_owned()));
        let mut outside = 0;
        let mut rows = Vec::new();
        let mut queue = None;
        let (write_seen_row, write_names) = {
            let memo = self.fleet_memo();
            let write_seen_row = memo.seen.get(s.peer).is_none_or(|o| !o.same(&seen));
            let write_names = names
                .as_ref()
                .is_some_and(|n| memo.names.get(s.peer) != Some(n));
            if let Some((_, subtree, q)) = s.child {
                let peer_id = NodeId::new(s.peer).ok();
                for n in subtree {
                    if !peer_id.as_ref().is_some_and(|p| below(p, &n.node)) {
                        outside += 1;
                    } else if memo
                        .subtree
                        .get(&n.node)
                        .is_none_or(|o| !subtree_same(o, n, s.at))
                    {
                        rows.push(n);
                    }
                }
                let (good, bad) = crate::oversight::queue_inside(s.peer, q);
                outside += bad;
                if memo.queues.get(s.peer) != Some(&good) {
                    queue = Some(good);
                }
            }
            (write_seen_row, write_names)
        };
        if !write_seen_row && !write_names && rows.is_empty() && queue.is_none() {
            return Ok(outside);
        }
        let mut w = self.write().await?;
        if write_seen_row {
            let row = PeerSeen {
                node_id: s.peer,
                connected: true,
                remote: s.remote,
                software: s.software,
                catalogue_version: s.catalogue_version,
                backlog: Some(s.backlog),
                acked: Some(s.acked),
                skew_ms: Some(s.skew_ms),
                now_ms: s.now_ms,
            };
            write_seen(&mut w, &row).await?;
        }
        // The child link's round trip, with the row it belongs to.
        if let Some(lag) = seen.lag_ms.filter(|_| write_seen_row) {
            sqlx::query("UPDATE fleet SET lag_ms = $2 WHERE node_id = $1")
                .bind(s.peer)
                .bind(lag)
                .execute(w.conn())
                .await?;
        }
        if let Some((zh, en)) = names.as_ref().filter(|_| write_names) {
            write_names_row(&mut w, s.peer, zh, en).await?;
        }
        for n in &rows {
            write_subtree_row(&mut w, n).await?;
        }
        if let Some(q) = &queue {
            crate::oversight::write_queue_days(&mut w, q).await?;
        }
        w.commit().await?;
        let mut memo = self.fleet_memo();
        if write_seen_row {
            memo.seen.insert(s.peer.to_owned(), seen);
        }
        if let Some(n) = names.filter(|_| write_names) {
            memo.names.insert(s.peer.to_owned(), n);
        }
        for n in rows {
            memo.subtree.insert(n.node.clone(), (n.clone(), s.at));
        }
        if let Some(q) = queue {
            memo.queues.insert(s.peer.to_owned(), q);
        }
        Ok(outside)
    }
}
