//! The node's own log after a recovery: what a child that is recovering is
//! sent, and how the writer resumes once the tail of its own origin is back.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::{Store, StoreError, StoredEvent, values_placeholders};
use onewindow_domain::case_number::CaseNumber;

/// The rows a recovering child is sent: meant for it (`$1` is the child),
/// or written in its subtree (`$2` the child, `$3` [`below_pattern`]).
pub(super) const RECOVER_WHERE: &str =
    "(down IN ('*', $1) OR origin = $2 OR origin LIKE $3 ESCAPE '\\')";

/// `child.%` for LIKE, with the child's own `%`, `_` and `\` escaped.
pub(super) fn below_pattern(child: &str) -> String {
    format!("{}.%", super::oversight::like_escape(child))
}

/// The highest local sequence among `events` written in `child`'s subtree.
pub(super) fn recover_head(child: &str, events: &[StoredEvent]) -> Option<u64> {
    events
        .iter()
        .filter(|e| {
            let o = e.entry.origin.as_str();
            o == child
                || o.strip_prefix(child)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
        .map(|e| e.local_seq as u64)
        .max()
}

impl Store {
    /// Holds back (or lets through again) every entry this node would write
    /// of its own origin: while held, they fail with
    /// [`StoreError::Recovering`]. Set under the writer's lock, so a write
    /// in progress ends before the hold takes effect.
    pub async fn hold_own_writes(&self, held: bool) {
        let _writer = self.write.lock().await;
        self.own_writes_held.store(held, Ordering::SeqCst);
    }

    /// Are this node's own writes held back?
    pub fn own_writes_held(&self) -> bool {
        self.own_writes_held.load(Ordering::SeqCst)
    }

    /// The highest sequence of this node's own origin in the log, whoever
    /// brought it (the writer, or the parent during a recovery).
    pub async fn own_origin_held(&self) -> Result<u64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM origin_heads WHERE origin = $1")
            .bind(self.node.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.map_or(0, |s| s as u64))
    }

    /// Resumes writing after the tail of this node's own origin came back
    /// from its parent: the writer's own sequence and hash become the
    /// log's, the case number sequences of `hall` are raised to the highest
    /// recovered case number of each day (so none is issued twice), and
    /// own writes are let through again. Returns the own head.
    pub async fn resume_own_writes(&self, hall: &str) -> Result<u64, StoreError> {
        let mut g = self.write.lock().await;
        let (seq, hash) = super::own_head_in_log(&self.pool, &self.node).await?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT case_id FROM events WHERE origin = $1 AND case_version = 1")
                .bind(self.node.as_str())
                .fetch_all(&self.pool)
                .await?;
        let mut days: BTreeMap<String, i64> = BTreeMap::new();
        for id in ids {
            if let Ok(n) = CaseNumber::parse(&id)
                && n.hall() == hall
            {
                let day = n.date().format("%Y%m%d").to_string();
                let last = days.entry(day).or_default();
                *last = (*last).max(i64::from(n.seq()));
            }
        }
        if !days.is_empty() {
            let sql = format!(
                "INSERT INTO case_sequences (hall, day, last) VALUES {} \
                 ON CONFLICT (hall, day) DO UPDATE SET last = excluded.last \
                 WHERE excluded.last > case_sequences.last",
                values_placeholders(self.backend, days.len(), 3)
            );
            let mut q = sqlx::query(&sql);
            for (day, last) in &days {
                q = q.bind(hall.to_owned()).bind(day.clone()).bind(*last);
            }
            q.execute(&self.pool).await?;
        }
        if seq > g.own_seq {
            g.own_seq = seq;
            g.own_hash = hash;
        }
        self.own_writes_held.store(false, Ordering::SeqCst);
        Ok(g.own_seq)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_subtree_pattern_escapes_like_wildcards() {
        assert_eq!(super::below_pattern("r.a"), "r.a.%");
        assert_eq!(super::below_pattern("r.a_b"), "r.a\\_b.%");
    }
}
