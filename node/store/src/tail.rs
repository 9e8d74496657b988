//! The tail of the log just committed, kept in memory so that links send
//! from it instead of reading the store back: a link that keeps up never
//! reads an entry it is sending. A link that is behind (or asks for what
//! has left the tail) reads the store as before.
//!
//! The tail holds every entry of a run of local sequences with no gap,
//! bounded in bytes and in age; it is filled under the store's write
//! lock, in commit order, before the links are woken. The age bound keeps
//! a quiet hall's memory flat: at a hall's everyday rate the byte bound
//! would take hours to fill, and the tail would grow all that time,
//! although a link that keeps up reads an entry within a second of its
//! commit.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// When it was committed.
    at: Instant,
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
    max_age: Duration,
}

impl Tail {
    pub(super) fn new(max_bytes: usize, max_age: Duration) -> Tail {
        Tail {
            inner: Mutex::new(Inner::default()),
            max_bytes,
            max_age,
        }
    }

    /// Adds what a transaction committed at `now` (local sequences
    /// following the last one held), dropping the oldest beyond the byte
    /// bound and those committed longer than the age bound before `now`.
    pub(super) fn push(&self, events: &[StoredEvent], now: Instant) {
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
                at: now,
            });
        }
        let oldest = now.checked_sub(self.max_age);
        while let Some(front) = t.items.front() {
            let stale = oldest.is_some_and(|o| front.at < o);
            if t.bytes <= self.max_bytes && !stale {
                break;
            }
            t.bytes -= front.bytes;
            t.items.pop_front();
        }
    }

    /// The first and last local sequences held, and the bytes they count.
    #[cfg(test)]
    fn held(&self) -> Option<(u64, u64, usize)> {
        let t = self.inner.lock().ok()?;
        Some((
            t.items.front()?.local_seq,
            t.items.back()?.local_seq,
            t.bytes,
        ))
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
        light: bool,
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
                // The case goes with every entry here: on the route up
                // `Store::wire_entries` reads it and takes it off.
                stream: (!item.case_id.is_empty()).then(|| item.case_id.clone()),
                stream_seq: if down { item.case_version } else { 0 },
            };
            let size = super::read_size(light, &w);
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

#[cfg(test)]
mod tests {
    use super::*;
    use federation::{EntryHash, NodeId};
    use onewindow_domain::log::{AuditRecord, LogBody};

    fn event(seq: i64) -> StoredEvent {
        let body = LogBody::Audit(AuditRecord {
            action: "login".into(),
            actor: "clerk".into(),
            role: "clerk".into(),
            target: String::new(),
            detail: String::new(),
            at_ms: 0,
        });
        let origin = NodeId::new("nanhai").expect("id");
        StoredEvent {
            local_seq: seq,
            entry: LogEntry::next(origin, seq as u64 - 1, EntryHash::GENESIS, vec![0u8; 100]),
            body,
            scope: String::new(),
            up: true,
            down: String::new(),
        }
    }

    #[test]
    fn the_tail_drops_what_is_older_than_its_age_bound() {
        let tail = Tail::new(1 << 20, Duration::from_secs(60));
        let t0 = Instant::now();
        tail.push(&[event(1), event(2)], t0);
        tail.push(&[event(3)], t0 + Duration::from_secs(30));
        assert_eq!(tail.held().map(|h| (h.0, h.1)), Some((1, 3)));
        assert!(tail.read(&Route::Up, 0, 3, 10, 1 << 20, false).is_some());
        // A minute and a bit after the first two, only the later ones stay,
        // and a read that needs the dropped ones goes to the store.
        tail.push(&[event(4)], t0 + Duration::from_secs(61));
        assert_eq!(tail.held().map(|h| (h.0, h.1)), Some((3, 4)));
        assert!(tail.read(&Route::Up, 0, 4, 10, 1 << 20, false).is_none());
        let (got, upto) = tail
            .read(&Route::Up, 2, 4, 10, 1 << 20, false)
            .expect("held");
        assert_eq!((got.len(), upto), (2, 4));
    }

    #[test]
    fn the_tail_keeps_within_its_byte_bound() {
        let one = {
            let tail = Tail::new(1 << 20, Duration::from_secs(60));
            tail.push(&[event(1)], Instant::now());
            tail.held().expect("held").2
        };
        let tail = Tail::new(3 * one, Duration::from_secs(60));
        let now = Instant::now();
        tail.push(&(1..=10).map(event).collect::<Vec<_>>(), now);
        let (first, last, bytes) = tail.held().expect("held");
        assert_eq!((first, last), (8, 10));
        assert!(bytes <= 3 * one, "{bytes} > {}", 3 * one);
    }
}
