//! The tail of the log just committed, kept in memory so that links send
//! from it instead of reading the store back: a link that keeps up never
//! reads an entry it is sending. A link that is behind (or asks for what
//! has left the tail) reads the store as before.
//!
//! The tail holds every entry of a run of local sequences with no gap,
//! bounded in bytes; it is filled under the store's write lock, in commit
//! order, before the links are woken.

use std::collections::VecDeque;
use std::sync::Mutex;

use federation::LogEntry;
use federation::replication::WireEntry;

use super::{Route, StoredEvent};

/// One committed entry, as a link needs it.
#[derive(Debug)]
struct Item {
    local_seq: u64,
    entry: LogEntry,
    case_id: String,
    case_version: u64,
    up: bool,
    down: String,
    bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Item>,
    bytes: usize,
}

/// The in-memory tail of the log.
#[derive(Debug)]
pub(super) struct Tail {
    inner: Mutex<Inner>,
    max_bytes: usize,
}

impl Tail {
    pub(super) fn new(max_bytes: usize) -> Tail {
        Tail {
            inner: Mutex::new(Inner::default()),
            max_bytes,
        }
    }

    /// Adds what a transaction committed (local sequences following the
    /// last one held), dropping the oldest beyond the byte bound.
    pub(super) fn push(&self, events: &[StoredEvent]) {
        if self.max_bytes == 0 || events.is_empty() {
            return;
        }
        let Ok(mut t) = self.inner.lock() else { return };
        if let (Some(last), Some(first)) = (t.items.back(), events.first())
            && last.local_seq + 1 != first.local_seq as u64
        {
            // Not contiguous (a sequence reused after a failed commit
            // cannot happen, but never serve a gap): start afresh.
            t.items.clear();
            t.bytes = 0;
        }
        for e in events {
            let (case_id, case_version) = match e.record() {
                Some(r) => (r.case_id.clone(), r.case_version),
                None => (String::new(), 0),
            };
            let bytes = e.entry.body.len()
                + e.entry.sealed.bytes().map_or(0, <[u8]>::len)
                + case_id.len()
                + e.down.len()
                + 160;
            t.bytes += bytes;
            t.items.push_back(Item {
                local_seq: e.local_seq as u64,
                entry: e.entry.clone(),
                case_id,
                case_version,
                up: e.up,
                down: e.down.clone(),
                bytes,
            });
        }
        while t.bytes > self.max_bytes {
            match t.items.pop_front() {
                Some(old) => t.bytes -= old.bytes,
                None => break,
            }
        }
    }

    /// The entries of `route` in `(after, upto]`, as
    /// [`super::Store::wire_entries`] returns them; `None` when the tail
    /// does not hold the whole range.
    pub(super) fn read(
        &self,
        route: &Route,
        after: u64,
        upto: u64,
        max_entries: usize,
        max_bytes: usize,
    ) -> Option<(Vec<WireEntry>, u64)> {
        if matches!(route, Route::Recover(_)) {
            // A recovering child's route also takes its subtree's entries:
            // rare, and read from the store.
            return None;
        }
        let t = self.inner.lock().ok()?;
        let first = t.items.front()?.local_seq;
        let last = t.items.back()?.local_seq;
        if after + 1 < first || upto > last {
            return None;
        }
        let start = usize::try_from(after + 1 - first).ok()?;
        let down = matches!(route, Route::Down(_));
        let mut out: Vec<WireEntry> = Vec::new();
        let mut bytes = federation::replication::BATCH_OVERHEAD;
        for item in t.items.range(start..) {
            if item.local_seq > upto {
                break;
            }
            let meant = match route {
                Route::Up => item.up,
                Route::Down(child) => item.down == "*" || item.down == *child,
                Route::Recover(_) => return None,
            };
            if !meant {
                continue;
            }
            let w = WireEntry {
                local_seq: item.local_seq,
                entry: item.entry.clone(),
                stream: (down && !item.case_id.is_empty()).then(|| item.case_id.clone()),
                stream_seq: if down { item.case_version } else { 0 },
            };
            let size = w.approx_bytes();
            if !out.is_empty() && bytes + size > max_bytes {
                let covered = out.last().map_or(after, |e| e.local_seq);
                return Some((out, covered));
            }
            bytes += size;
            out.push(w);
            if out.len() >= max_entries.max(1) {
                return Some((out, item.local_seq));
            }
        }
        Some((out, upto))
    }
}
