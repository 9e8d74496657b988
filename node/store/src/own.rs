//! The node's own log after a recovery: what a child that is recovering is
//! sent, and how the writer resumes once the tail of its own origin is back.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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

/// The own-head marker: a small file outside the database that holds the
/// highest own origin sequence this node knows it wrote. A store put back
/// to an older copy leaves it as it was, so the node knows at start that it
/// must take the tail of its log back before writing. The store writes it
/// after every commit that moves its own head, before the writer's lock is
/// let go; the file keeps a fixed length, so each write is one in-place
/// write, and an `fdatasync` when the store's commits are themselves made
/// durable one by one (PostgreSQL, SQLite with `synchronous = full`). With
/// SQLite's `normal` a commit survives the process but not the machine,
/// and so does the marker: an `fdatasync` for each of them cost every own
/// commit a disk flush that the commit itself did not make.
#[derive(Debug)]
pub(crate) struct Marker {
    path: PathBuf,
    file: std::sync::Mutex<std::fs::File>,
    sync: bool,
}

/// Bytes of the marker: the number right-aligned in 20 characters, and a
/// newline (a `u64` has at most 20 digits).
const MARKER_LEN: usize = 21;

impl Marker {
    /// Writes `value` to a new file at `path` (through a temporary file, so
    /// a crash leaves the old marker or the new one) and keeps it open.
    fn create(path: &Path, value: u64, sync: bool) -> std::io::Result<Marker> {
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(marker_text(value).as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent()
            && let Ok(d) = std::fs::File::open(dir)
        {
            d.sync_all()?;
        }
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        Ok(Marker {
            path: path.to_owned(),
            file: std::sync::Mutex::new(file),
            sync,
        })
    }

    fn write(&self, value: u64) -> std::io::Result<()> {
        let f = match self.file.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        f.write_all_at(marker_text(value).as_bytes(), 0)?;
        if self.sync { f.sync_data() } else { Ok(()) }
    }
}

fn marker_text(value: u64) -> String {
    let text = format!("{value:>20}\n");
    debug_assert_eq!(text.len(), MARKER_LEN);
    text
}

/// Reads a marker file: `None` when there is none (or it cannot be read).
pub fn read_marker(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
}

/// Writes `value` to the marker off the async threads; a failure is logged
/// (what was committed stays committed).
pub(crate) async fn write_marker(marker: &Arc<Marker>, value: u64) {
    // Without a flush it is one small write into the page cache: done here.
    let result = if marker.sync {
        let m = Arc::clone(marker);
        tokio::task::spawn_blocking(move || m.write(value)).await
    } else {
        Ok(marker.write(value))
    };
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, path = %marker.path.display(), "writing the own-head marker")
        }
        Err(e) => tracing::error!(error = %e, "writing the own-head marker"),
    }
}

impl Store {
    /// Keeps the own-head marker at `path` from now on: writes `value` (at
    /// least the own head the store holds) and then, after every commit
    /// that moves the own head, the new head.
    pub async fn keep_own_marker(&self, path: &Path, value: u64) -> std::io::Result<()> {
        let mut g = self.write.lock().await;
        let marker = Marker::create(path, value.max(g.own_seq), self.durable_commits)?;
        g.marker = Some(Arc::new(marker));
        Ok(())
    }

    /// Sets the own-head marker to `value`, even below what it holds: a
    /// recovery learns from the parent what the log's head really is.
    pub async fn set_own_marker(&self, value: u64) {
        let g = self.write.lock().await;
        if let Some(m) = &g.marker {
            write_marker(m, value).await;
        }
    }

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
            g.end_given_up().await;
            match g.own_conn.as_mut() {
                Some(conn) => q.execute(&mut *conn).await?,
                None => q.execute(&self.pool).await?,
            };
        }
        if seq > g.own_seq {
            g.own_seq = seq;
            g.own_hash = hash;
        }
        // The marker follows the log, even down: what the parent never
        // received was lost with the store.
        if let Some(m) = &g.marker {
            write_marker(m, g.own_seq).await;
        }
        self.own_writes_held.store(false, Ordering::SeqCst);
        Ok(g.own_seq)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(clippy::unwrap_used)]
    fn the_marker_keeps_its_length_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("own-head");
        std::fs::write(&path, "7\n").unwrap();
        assert_eq!(super::read_marker(&path), Some(7));
        let m = super::Marker::create(&path, 123_456, true).unwrap();
        assert_eq!(super::read_marker(&path), Some(123_456));
        m.write(u64::MAX).unwrap();
        assert_eq!(super::read_marker(&path), Some(u64::MAX));
        m.write(9).unwrap();
        assert_eq!(super::read_marker(&path), Some(9));
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            super::MARKER_LEN as u64
        );
    }

    #[test]
    fn the_subtree_pattern_escapes_like_wildcards() {
        assert_eq!(super::below_pattern("r.a"), "r.a.%");
        assert_eq!(super::below_pattern("r.a_b"), "r.a\\_b.%");
    }
}
