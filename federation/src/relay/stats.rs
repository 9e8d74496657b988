//! What a relay has done: counters per direction, and their snapshots.

use std::sync::atomic::{AtomicU64, Ordering};

/// What one direction of the relay has done so far.
///
/// Every datagram read from a socket counts as received; a duplicate adds one
/// copy. Each copy is eventually either forwarded or dropped, so once the
/// link is idle `received + duplicated == forwarded + dropped`, in packets and
/// in bytes; [`DirStats::in_flight`] is the difference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Datagrams read from the sending side.
    pub received_packets: u64,
    /// Bytes of those datagrams (UDP payload).
    pub received_bytes: u64,
    /// Copies sent on to the receiving side.
    pub forwarded_packets: u64,
    /// Bytes of those copies.
    pub forwarded_bytes: u64,
    /// Copies dropped: loss, blackhole, a full queue or a failed send.
    pub dropped_packets: u64,
    /// Bytes of those copies.
    pub dropped_bytes: u64,
    /// The part of `dropped_packets` dropped because a queue was full.
    pub overflow_packets: u64,
    /// Extra copies made by duplication.
    pub duplicated_packets: u64,
    /// Bytes of those extra copies.
    pub duplicated_bytes: u64,
}

impl DirStats {
    /// Copies received or duplicated but neither forwarded nor dropped yet:
    /// they wait in the link's delay or bandwidth queue.
    pub fn in_flight(&self) -> u64 {
        (self.received_packets + self.duplicated_packets)
            .saturating_sub(self.forwarded_packets + self.dropped_packets)
    }
}

/// What the relay has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// From the children to the upstream.
    pub up: DirStats,
    /// From the upstream to the children.
    pub down: DirStats,
    /// Client addresses that currently hold an upstream mapping.
    pub clients: usize,
}

/// The live counters behind [`DirStats`].
#[derive(Default)]
pub(super) struct Counters {
    received_packets: AtomicU64,
    received_bytes: AtomicU64,
    forwarded_packets: AtomicU64,
    forwarded_bytes: AtomicU64,
    dropped_packets: AtomicU64,
    dropped_bytes: AtomicU64,
    overflow_packets: AtomicU64,
    duplicated_packets: AtomicU64,
    duplicated_bytes: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::SeqCst);
}

impl Counters {
    pub(super) fn received(&self, len: usize) {
        add(&self.received_packets, 1);
        add(&self.received_bytes, len);
    }

    pub(super) fn forwarded(&self, len: usize) {
        add(&self.forwarded_packets, 1);
        add(&self.forwarded_bytes, len);
    }

    pub(super) fn dropped(&self, len: usize) {
        add(&self.dropped_packets, 1);
        add(&self.dropped_bytes, len);
    }

    pub(super) fn overflowed(&self, len: usize) {
        self.dropped(len);
        add(&self.overflow_packets, 1);
    }

    pub(super) fn duplicated(&self, len: usize) {
        add(&self.duplicated_packets, 1);
        add(&self.duplicated_bytes, len);
    }

    /// Reads the outcomes before the arrivals, so that a copy counted as
    /// forwarded or dropped is always also counted as received.
    pub(super) fn snapshot(&self) -> DirStats {
        let load = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        let forwarded_packets = load(&self.forwarded_packets);
        let forwarded_bytes = load(&self.forwarded_bytes);
        let dropped_packets = load(&self.dropped_packets);
        let dropped_bytes = load(&self.dropped_bytes);
        let overflow_packets = load(&self.overflow_packets);
        DirStats {
            forwarded_packets,
            forwarded_bytes,
            dropped_packets,
            dropped_bytes,
            overflow_packets,
            duplicated_packets: load(&self.duplicated_packets),
            duplicated_bytes: load(&self.duplicated_bytes),
            received_packets: load(&self.received_packets),
            received_bytes: load(&self.received_bytes),
        }
    }
}
