//! The receiving sides of the two flows.

use std::collections::BTreeMap;

use super::wire::{Batch, Direction};
use crate::{ChainError, EntryHash, NodeId};

/// Why a batch is refused. The link closes; what was refused is not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The batch came on the wrong flow.
    #[error("expected a {expected:?} batch")]
    WrongDirection {
        /// The flow this receiver serves.
        expected: Direction,
    },
    /// The batch starts above what the receiver holds: entries are missing.
    #[error("batch starts after {after} but only {have} is held")]
    CursorGap {
        /// Batch start.
        after: u64,
        /// Held.
        have: u64,
        /// An honest sender could have started there: at the cursor this
        /// receiver announced in its Hello before it reset it lower (the
        /// peer was put back), or right after a batch of this session
        /// whose tail was held back. A gap above both is a batch sent out
        /// of order.
        expected: bool,
    },
    /// The batch starts below what the receiver holds: a sender starts
    /// from the receiver's cursor (its Hello) and goes on from its own last
    /// batch, so a batch that starts lower is one played back.
    #[error("batch starts after {after} but {have} is already held: a replay")]
    Replayed {
        /// Batch start.
        after: u64,
        /// Held.
        have: u64,
    },
    /// Local sequences out of the batch's range or order.
    #[error("entry {0} is outside the batch range or out of order")]
    BadRange(u64),
    /// An entry's origin is outside the sending child's subtree (up flow).
    #[error("entry from {origin} is outside the subtree of {peer}")]
    OutsideSubtree {
        /// The child.
        peer: NodeId,
        /// The entry's origin.
        origin: NodeId,
    },
    /// An entry's origin is not an ancestor of the receiver (down flow).
    #[error("entry from {origin} is not from an ancestor of {me}")]
    NotAnAncestor {
        /// The receiver.
        me: NodeId,
        /// The entry's origin.
        origin: NodeId,
    },
    /// An entry has the origin and sequence of one already held but not its
    /// hash: the origin's log has forked (two different entries claim the
    /// same place), or the sender altered what it relays.
    #[error("entry {origin}#{seq} differs from the one held: the log forked")]
    Fork {
        /// The entry's origin.
        origin: NodeId,
        /// Its sequence.
        seq: u64,
    },
    /// An entry's origin is deeper than the tree has tiers.
    #[error("entry from {origin} is deeper than the tree's maximum depth {max}")]
    TooDeep {
        /// The entry's origin.
        origin: NodeId,
        /// The tree's maximum depth (tiers - 1).
        max: usize,
    },
    /// A hash, gap or chain problem in an origin's sequence.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl Refusal {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongDirection { .. } => "wrong_direction",
            Self::CursorGap { .. } => "cursor_gap",
            Self::Replayed { .. } => "replayed_batch",
            Self::BadRange(_) => "bad_range",
            Self::OutsideSubtree { .. } => "outside_subtree",
            Self::NotAnAncestor { .. } => "not_an_ancestor",
            Self::Fork { .. } => "fork",
            Self::TooDeep { .. } => "too_deep",
            Self::Chain(ChainError::Gap { .. }) => "origin_gap",
            Self::Chain(ChainError::BrokenChain { .. }) => "broken_chain",
            Self::Chain(_) => "bad_hash",
        }
    }

    /// Is this a sign of a forged or misbehaving peer (a security event)?
    /// Every refusal is, but an expected cursor gap: once one closes the
    /// link, the next connection starts from the receiver's cursor.
    pub fn is_security(&self) -> bool {
        !matches!(self, Self::CursorGap { expected: true, .. })
    }
}

/// What a receiver accepted from a batch: the entries to apply (indexes into
/// the batch, in order) and what to acknowledge once they are durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Indexes of entries to apply, in order.
    pub apply: Vec<usize>,
    /// Indexes of entries held back (down flow: they came before their
    /// predecessor in the stream); they are not acknowledged and will come
    /// again.
    pub held: Vec<usize>,
    /// Acknowledge up to here once the applied entries are durable.
    pub ack_upto: u64,
    /// Where the batch ended: the sender goes on from here.
    pub offered: u64,
}

impl Accepted {
    /// Cuts the batch at `index` (an index into `batch.entries`): the entry
    /// there is one the caller refuses after the check (a directive whose
    /// signature fails, say). The result applies only the accepted entries
    /// before it, keeps held back only those before it, and acknowledges only
    /// up to the local sequence just before it, so neither it nor anything
    /// after it is acknowledged: the sender will offer them again.
    ///
    /// The policy is **refuse the batch from that point**, never "leave the
    /// entry out and go on". Going on would store the same origin's next
    /// entry after a hole in its chain; every ancestor would then have to
    /// accept the hole, that is trust a tombstone written by whichever node
    /// left the entry out, and the chain would no longer prove that nothing
    /// is missing. Refusing from that point keeps every stored chain whole:
    /// the link stalls at the refused entry, so the branch that produced it
    /// wedges alone (its sender keeps offering it and is refused each time)
    /// while the rest of the tree goes on. The caller commits what the
    /// result applies, acknowledges `ack_upto` and should then refuse the
    /// link (its later batches would start above the acknowledgement).
    ///
    /// An `index` at or beyond the end of the batch changes nothing. The
    /// acknowledgement is never raised; it may come out below the receiver's
    /// cursor when the refused entry lies below it, and `committed` never
    /// moves a receiver's cursor back.
    pub fn truncate_before(&self, batch: &Batch, index: usize) -> Accepted {
        let Some(cut) = batch.entries.get(index) else {
            return self.clone();
        };
        Accepted {
            apply: self.apply.iter().copied().filter(|&i| i < index).collect(),
            held: self.held.iter().copied().filter(|&i| i < index).collect(),
            ack_upto: self.ack_upto.min(cut.local_seq.saturating_sub(1)),
            offered: self.offered,
        }
    }
}

/// Where a receiver stands on its peer's log: what it holds durably, what
/// it announced in its Hello and where the last batch of this session
/// ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    have: u64,
    announced: u64,
    offered: u64,
}

impl Cursor {
    fn new(have: u64) -> Self {
        Self {
            have,
            announced: have,
            offered: have,
        }
    }

    fn committed(&mut self, accepted: &Accepted) -> u64 {
        self.have = self.have.max(accepted.ack_upto);
        self.offered = self.offered.max(accepted.offered);
        self.have
    }
}

fn check_range(batch: &Batch, cursor: &Cursor) -> Result<(), Refusal> {
    let have = cursor.have;
    if batch.after > have {
        return Err(Refusal::CursorGap {
            after: batch.after,
            have,
            expected: batch.after <= cursor.announced.max(cursor.offered),
        });
    }
    if batch.after < have {
        return Err(Refusal::Replayed {
            after: batch.after,
            have,
        });
    }
    let mut last = batch.after;
    for e in &batch.entries {
        if e.local_seq <= last || e.local_seq > batch.upto {
            return Err(Refusal::BadRange(e.local_seq));
        }
        last = e.local_seq;
    }
    if batch.upto < batch.after {
        return Err(Refusal::BadRange(batch.upto));
    }
    Ok(())
}

/// What an up-flow receiver needs to know of its store.
///
/// A check asks [`UpLookup::origin_head`] once per origin of the batch and
/// [`UpLookup::held_hash`] only for entries below their origin's head (a
/// resend of what is held), so an implementation can answer both from what
/// it loaded for the whole batch in one query.
pub trait UpLookup {
    /// The highest sequence and its hash held for an origin (0 and
    /// [`EntryHash::GENESIS`] when none).
    fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash);

    /// The hash of the entry held at `seq` of `origin`. `None` means not
    /// held or not known: the entry is then skipped as held without the fork
    /// check. The default knows only the head (from
    /// [`UpLookup::origin_head`]); a store that can answer below it should.
    fn held_hash(&self, origin: &NodeId, seq: u64) -> Option<EntryHash> {
        let (head, hash) = self.origin_head(origin);
        (seq > 0 && seq == head).then_some(hash)
    }
}

/// Origin heads only: forks are found at the head, entries below it are
/// skipped unchecked ([`UpLookup::held_hash`]'s default).
impl UpLookup for BTreeMap<NodeId, (u64, EntryHash)> {
    fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash) {
        self.get(origin).copied().unwrap_or((0, EntryHash::GENESIS))
    }
}

fn check_depth(origin: &NodeId, max: usize) -> Result<(), Refusal> {
    if origin.depth() > max {
        return Err(Refusal::TooDeep {
            origin: origin.clone(),
            max,
        });
    }
    Ok(())
}

fn check_same(e: &crate::LogEntry, held: Option<EntryHash>) -> Result<(), Refusal> {
    match held {
        Some(h) if h != e.hash => Err(Refusal::Fork {
            origin: e.origin.clone(),
            seq: e.origin_seq,
        }),
        _ => Ok(()),
    }
}

/// The parent's side of a child's up flow.
#[derive(Debug, Clone)]
pub struct UpReceiver {
    peer: NodeId,
    cursor: Cursor,
    max_depth: usize,
}

impl UpReceiver {
    /// For the child `peer`, of whose log `have` is durably held. Origins of
    /// any depth are taken until [`UpReceiver::with_max_depth`].
    pub fn new(peer: NodeId, have: u64) -> Self {
        Self {
            peer,
            cursor: Cursor::new(have),
            max_depth: usize::MAX,
        }
    }

    /// Refuses entries whose origin is deeper than `max` (the tree's number
    /// of tiers - 1; the root is depth 0) with [`Refusal::TooDeep`].
    #[must_use]
    pub fn with_max_depth(mut self, max: usize) -> Self {
        self.max_depth = max;
        self
    }

    /// The deepest origin taken.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// This node's Hello announced `cursor` before it reset its cursor
    /// lower ([`super::Greeted::cursor_reset`]): the peer starts there,
    /// and the gap that follows is expected ([`Refusal::CursorGap`]).
    #[must_use]
    pub fn announced(mut self, cursor: u64) -> Self {
        self.cursor.announced = self.cursor.announced.max(cursor);
        self
    }

    /// The child's log is held up to here.
    pub fn have(&self) -> u64 {
        self.cursor.have
    }

    /// Checks a batch against the subtree, the tree's depth, each origin's
    /// sequence and its hash chain; entries already held are skipped, unless
    /// their hash differs from the held one ([`Refusal::Fork`]). Nothing
    /// changes until [`UpReceiver::committed`].
    pub fn check(&self, batch: &Batch, heads: &impl UpLookup) -> Result<Accepted, Refusal> {
        if batch.direction != Direction::Up {
            return Err(Refusal::WrongDirection {
                expected: Direction::Up,
            });
        }
        check_range(batch, &self.cursor)?;
        // Per origin: the head in the store, and the head with this batch.
        let mut stored: BTreeMap<&NodeId, (u64, EntryHash)> = BTreeMap::new();
        let mut local: BTreeMap<&NodeId, (u64, EntryHash)> = BTreeMap::new();
        // What this batch applies, for entries that come twice in it.
        let mut new: BTreeMap<(&NodeId, u64), EntryHash> = BTreeMap::new();
        let mut apply = Vec::new();
        for (i, w) in batch.entries.iter().enumerate() {
            let e = &w.entry;
            if !e.origin.is_in_subtree_of(&self.peer) {
                return Err(Refusal::OutsideSubtree {
                    peer: self.peer.clone(),
                    origin: e.origin.clone(),
                });
            }
            check_depth(&e.origin, self.max_depth)?;
            e.verify_hash()?;
            let head = *stored
                .entry(&e.origin)
                .or_insert_with(|| heads.origin_head(&e.origin));
            let (seq, hash) = local.get(&e.origin).copied().unwrap_or(head);
            if e.origin_seq <= seq {
                let held = if let Some(h) = new.get(&(&e.origin, e.origin_seq)) {
                    Some(*h)
                } else if e.origin_seq == head.0 && head.0 > 0 {
                    Some(head.1)
                } else {
                    heads.held_hash(&e.origin, e.origin_seq)
                };
                check_same(e, held)?;
                continue;
            }
            e.verify_follows(seq, &hash)?;
            local.insert(&e.origin, (e.origin_seq, e.hash));
            new.insert((&e.origin, e.origin_seq), e.hash);
            apply.push(i);
        }
        Ok(Accepted {
            apply,
            held: Vec::new(),
            ack_upto: batch.upto.max(self.cursor.have),
            offered: batch.upto,
        })
    }

    /// The accepted entries are durable: returns what to acknowledge.
    pub fn committed(&mut self, accepted: &Accepted) -> u64 {
        self.cursor.committed(accepted)
    }
}

/// What a down-flow receiver needs to know of its store.
pub trait DownLookup {
    /// Is this entry already held?
    fn has(&self, origin: &NodeId, origin_seq: u64) -> bool;
    /// The highest place held in a stream (0 when none).
    fn stream_head(&self, stream: &str) -> u64;
    /// The hash of the held entry at `origin_seq` of `origin`, asked only
    /// for entries [`DownLookup::has`] says are held, so that one with
    /// another hash is refused as a [`Refusal::Fork`]. `None` means not
    /// known: the entry is skipped unchecked. The default knows nothing, so
    /// a store should answer it (for every entry of a batch in one query).
    fn held_hash(&self, origin: &NodeId, origin_seq: u64) -> Option<EntryHash> {
        let _ = (origin, origin_seq);
        None
    }
    /// The highest sequence and its hash held for an origin (0 and
    /// [`EntryHash::GENESIS`] when none). Asked only while recovering
    /// ([`DownReceiver::recovering`]), for the origins of the receiver's
    /// own subtree, whose chains are then checked as an up flow's are.
    fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash);
}

/// The child's side of its parent's down flow.
#[derive(Debug, Clone)]
pub struct DownReceiver {
    me: NodeId,
    cursor: Cursor,
    max_depth: usize,
    recovering: bool,
}

impl DownReceiver {
    /// For this node, of whose parent's log `have` is durably held. Origins
    /// of any depth are taken until [`DownReceiver::with_max_depth`].
    pub fn new(me: NodeId, have: u64) -> Self {
        Self {
            me,
            cursor: Cursor::new(have),
            max_depth: usize::MAX,
            recovering: false,
        }
    }

    /// Refuses entries whose origin is deeper than `max` (the tree's number
    /// of tiers - 1; the root is depth 0) with [`Refusal::TooDeep`].
    #[must_use]
    pub fn with_max_depth(mut self, max: usize) -> Self {
        self.max_depth = max;
        self
    }

    /// The deepest origin taken.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// This node's Hello announced `cursor` before it reset its cursor
    /// lower ([`super::Greeted::cursor_reset`]): the peer starts there,
    /// and the gap that follows is expected ([`Refusal::CursorGap`]).
    #[must_use]
    pub fn announced(mut self, cursor: u64) -> Self {
        self.cursor.announced = self.cursor.announced.max(cursor);
        self
    }

    /// A receiver that asked its parent for the tail of its own log (its
    /// Hello said `recovering`): besides what comes from its ancestors it
    /// takes what its own subtree wrote, this node's own origin included,
    /// as the parent holds it. Those entries are checked as an up flow
    /// checks them: each origin's sequence without a gap and its hash chain
    /// unbroken from what is held ([`DownLookup::origin_head`]).
    #[must_use]
    pub fn recovering(mut self, recovering: bool) -> Self {
        self.recovering = recovering;
        self
    }

    /// Does this receiver take its own subtree's entries?
    pub fn is_recovering(&self) -> bool {
        self.recovering
    }

    /// The parent's log is held up to here.
    pub fn have(&self) -> u64 {
        self.cursor.have
    }

    /// Checks authority (every origin is an ancestor, within the tree's
    /// depth) and stream order; entries already held are skipped unless
    /// their hash differs from the held one ([`Refusal::Fork`]), entries that
    /// come before their predecessor are held back and the acknowledgement
    /// stops before them.
    pub fn check(&self, batch: &Batch, held: &impl DownLookup) -> Result<Accepted, Refusal> {
        if batch.direction != Direction::Down {
            return Err(Refusal::WrongDirection {
                expected: Direction::Down,
            });
        }
        check_range(batch, &self.cursor)?;
        let mut streams: BTreeMap<&str, u64> = BTreeMap::new();
        // Entries seen in this batch (applied or held back), for entries that
        // come twice in it.
        let mut seen: BTreeMap<(&NodeId, u64), EntryHash> = BTreeMap::new();
        // While recovering: the head of each of this subtree's origins with
        // what this batch takes so far.
        let mut own: BTreeMap<&NodeId, (u64, EntryHash)> = BTreeMap::new();
        let mut apply = Vec::new();
        let mut held_back = Vec::new();
        for (i, w) in batch.entries.iter().enumerate() {
            let e = &w.entry;
            let from_below = e.origin.is_in_subtree_of(&self.me);
            if (from_below && !self.recovering)
                || (!from_below && !self.me.is_in_subtree_of(&e.origin))
            {
                return Err(Refusal::NotAnAncestor {
                    me: self.me.clone(),
                    origin: e.origin.clone(),
                });
            }
            check_depth(&e.origin, self.max_depth)?;
            e.verify_hash()?;
            if let Some(h) = seen.get(&(&e.origin, e.origin_seq)) {
                check_same(e, Some(*h))?;
                continue;
            }
            if held.has(&e.origin, e.origin_seq) {
                check_same(e, held.held_hash(&e.origin, e.origin_seq))?;
                continue;
            }
            if from_below {
                let (seq, hash) = *own
                    .entry(&e.origin)
                    .or_insert_with(|| held.origin_head(&e.origin));
                // Held back entries are not taken, so what follows them
                // is not checked against them: it is held back too.
                if held_back.is_empty() {
                    e.verify_link(seq, &hash)?;
                    own.insert(&e.origin, (e.origin_seq, e.hash));
                }
            }
            seen.insert((&e.origin, e.origin_seq), e.hash);
            if let Some(stream) = w.stream.as_deref() {
                let head = *streams
                    .entry(stream)
                    .or_insert_with(|| held.stream_head(stream));
                if w.stream_seq <= head {
                    continue;
                }
                if w.stream_seq > head + 1 || !held_back.is_empty() {
                    held_back.push(i);
                    continue;
                }
                streams.insert(stream, w.stream_seq);
            } else if !held_back.is_empty() {
                held_back.push(i);
                continue;
            }
            apply.push(i);
        }
        let ack_upto = match held_back.first() {
            Some(&i) => batch.entries[i].local_seq - 1,
            None => batch.upto,
        }
        .max(self.cursor.have);
        Ok(Accepted {
            apply,
            held: held_back,
            ack_upto,
            offered: batch.upto,
        })
    }

    /// The accepted entries are durable: returns what to acknowledge.
    pub fn committed(&mut self, accepted: &Accepted) -> u64 {
        self.cursor.committed(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogEntry;
    use crate::replication::WireEntry;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).expect("valid id")
    }

    /// `n` entries of `origin`, their bodies tagged with `tag`.
    fn chain(origin: &str, n: u64, tag: &str) -> Vec<LogEntry> {
        let mut out: Vec<LogEntry> = Vec::new();
        for _ in 0..n {
            let (seq, hash) = out
                .last()
                .map_or((0, EntryHash::GENESIS), |e| (e.origin_seq, e.hash));
            out.push(LogEntry::next(
                id(origin),
                seq,
                hash,
                format!("{tag} {origin}#{}", seq + 1),
            ));
        }
        out
    }

    fn wire(local_seq: u64, entry: &LogEntry) -> WireEntry {
        WireEntry {
            local_seq,
            entry: entry.clone(),
            stream: None,
            stream_seq: 0,
        }
    }

    fn in_stream(local_seq: u64, entry: &LogEntry, stream: &str, stream_seq: u64) -> WireEntry {
        WireEntry {
            stream: Some(stream.to_owned()),
            stream_seq,
            ..wire(local_seq, entry)
        }
    }

    fn batch(direction: Direction, after: u64, upto: u64, entries: Vec<WireEntry>) -> Batch {
        Batch {
            direction,
            after,
            upto,
            entries,
        }
    }

    /// Every entry in the batch, numbered from `after + 1`.
    fn run(direction: Direction, after: u64, entries: &[&LogEntry]) -> Batch {
        let wires: Vec<WireEntry> = entries
            .iter()
            .zip(after + 1..)
            .map(|(e, l)| wire(l, e))
            .collect();
        batch(direction, after, after + entries.len() as u64, wires)
    }

    fn heads(held: &[&LogEntry]) -> BTreeMap<NodeId, (u64, EntryHash)> {
        held.iter()
            .map(|e| (e.origin.clone(), (e.origin_seq, e.hash)))
            .collect()
    }

    /// A store that knows every entry it holds.
    #[derive(Default)]
    struct Store {
        entries: BTreeMap<(NodeId, u64), EntryHash>,
        streams: BTreeMap<String, u64>,
    }

    impl Store {
        fn holding(held: &[&LogEntry]) -> Self {
            Self {
                entries: held
                    .iter()
                    .map(|e| ((e.origin.clone(), e.origin_seq), e.hash))
                    .collect(),
                streams: BTreeMap::new(),
            }
        }
    }

    impl UpLookup for Store {
        fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash) {
            self.entries
                .iter()
                .filter(|((o, _), _)| o == origin)
                .map(|((_, s), h)| (*s, *h))
                .next_back()
                .unwrap_or((0, EntryHash::GENESIS))
        }
        fn held_hash(&self, origin: &NodeId, seq: u64) -> Option<EntryHash> {
            self.entries.get(&(origin.clone(), seq)).copied()
        }
    }

    impl DownLookup for Store {
        fn has(&self, origin: &NodeId, origin_seq: u64) -> bool {
            self.entries.contains_key(&(origin.clone(), origin_seq))
        }
        fn stream_head(&self, stream: &str) -> u64 {
            self.streams.get(stream).copied().unwrap_or(0)
        }
        fn held_hash(&self, origin: &NodeId, origin_seq: u64) -> Option<EntryHash> {
            self.entries.get(&(origin.clone(), origin_seq)).copied()
        }
        fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash) {
            UpLookup::origin_head(self, origin)
        }
    }

    /// `has` only, as a store that does not answer hashes.
    struct HasOnly(Store);

    impl DownLookup for HasOnly {
        fn has(&self, origin: &NodeId, origin_seq: u64) -> bool {
            self.0.has(origin, origin_seq)
        }
        fn stream_head(&self, stream: &str) -> u64 {
            self.0.stream_head(stream)
        }
        fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash) {
            UpLookup::origin_head(&self.0, origin)
        }
    }

    #[test]
    fn a_batch_below_the_cursor_is_a_replay() {
        let a = chain("r.a.x", 3, "one");
        let rx = UpReceiver::new(id("r.a"), 3);
        let b = run(Direction::Up, 0, &[&a[0], &a[1], &a[2]]);
        let err = rx.check(&b, &heads(&[&a[2]])).expect_err("a replay");
        assert_eq!(err, Refusal::Replayed { after: 0, have: 3 });
        assert_eq!(err.code(), "replayed_batch");
        assert!(err.is_security());
        let down = DownReceiver::new(id("r.a"), 3);
        let err = down
            .check(&run(Direction::Down, 2, &[&a[2]]), &Store::default())
            .expect_err("a replay");
        assert_eq!(err.code(), "replayed_batch");
    }

    #[test]
    fn a_gap_is_expected_only_where_an_honest_sender_could_start() {
        let a = chain("r.a.x", 6, "one");
        // Sent out of order: the second batch first. A security event.
        let rx = UpReceiver::new(id("r.a"), 2);
        let err = rx
            .check(&run(Direction::Up, 4, &[&a[4]]), &heads(&[&a[1]]))
            .expect_err("a gap");
        assert_eq!(
            err,
            Refusal::CursorGap {
                after: 4,
                have: 2,
                expected: false
            }
        );
        assert!(err.is_security());
        // The Hello announced 4, then the cursor was reset to 2 (the child
        // was put back): the child starts at 4, as it was told.
        let rx = UpReceiver::new(id("r.a"), 2).announced(4);
        let err = rx
            .check(&run(Direction::Up, 4, &[&a[4]]), &heads(&[&a[1]]))
            .expect_err("a gap");
        assert!(!err.is_security(), "{err:?}");
        // Above what was announced: not honest.
        let err = rx
            .check(&run(Direction::Up, 5, &[&a[5]]), &heads(&[&a[1]]))
            .expect_err("a gap");
        assert!(err.is_security());
        // A down flow that held back the tail of a batch acknowledges
        // below it; the parent's next batch starts where that one ended.
        let mut down = DownReceiver::new(id("r.a.x"), 2);
        let tail = Accepted {
            apply: vec![],
            held: vec![0],
            ack_upto: 2,
            offered: 5,
        };
        assert_eq!(down.committed(&tail), 2);
        let err = down
            .check(&run(Direction::Down, 5, &[&a[5]]), &Store::default())
            .expect_err("a gap");
        assert!(!err.is_security(), "{err:?}");
        let err = down
            .check(&run(Direction::Down, 6, &[&a[5]]), &Store::default())
            .expect_err("a gap");
        assert!(err.is_security());
    }

    #[test]
    fn a_resend_of_held_entries_is_skipped() {
        // The cursor was reset (the child was put back) below entries that
        // are held: they come again and are skipped.
        let a = chain("r.a.x", 3, "one");
        let rx = UpReceiver::new(id("r.a"), 0);
        let b = run(Direction::Up, 0, &[&a[0], &a[1], &a[2]]);
        let acc = rx.check(&b, &heads(&[&a[2]])).expect("accepted");
        assert_eq!((acc.apply, acc.ack_upto), (vec![], 3));
        let acc = rx
            .check(&b, &Store::holding(&[&a[0], &a[1], &a[2]]))
            .expect("accepted");
        assert!(acc.apply.is_empty());
    }

    #[test]
    fn an_entry_that_differs_from_the_held_head_is_a_fork() {
        let held = chain("r.a.x", 3, "one");
        let other = chain("r.a.x", 4, "two");
        let rx = UpReceiver::new(id("r.a"), 0);
        // The child offers another #3 (and a #4 that follows it).
        let b = run(Direction::Up, 0, &[&other[2], &other[3]]);
        let err = rx.check(&b, &heads(&[&held[2]])).expect_err("a fork");
        assert_eq!(
            err,
            Refusal::Fork {
                origin: id("r.a.x"),
                seq: 3
            }
        );
        assert_eq!(err.code(), "fork");
        assert!(err.is_security());
    }

    #[test]
    fn an_entry_that_differs_below_the_head_is_a_fork_when_the_store_knows_it() {
        let held = chain("r.a.x", 3, "one");
        let other = chain("r.a.x", 2, "two");
        let rx = UpReceiver::new(id("r.a"), 0);
        let b = run(Direction::Up, 0, &[&other[1]]);
        // Origin heads alone cannot tell below the head: skipped unchecked.
        let acc = rx.check(&b, &heads(&[&held[2]])).expect("unknown below");
        assert!(acc.apply.is_empty());
        // A store that answers below the head refuses it.
        let err = rx
            .check(&b, &Store::holding(&[&held[0], &held[1], &held[2]]))
            .expect_err("a fork");
        assert_eq!(
            err,
            Refusal::Fork {
                origin: id("r.a.x"),
                seq: 2
            }
        );
        // The held entry itself is still skipped.
        let b = run(Direction::Up, 0, &[&held[1]]);
        assert!(
            rx.check(&b, &Store::holding(&[&held[0], &held[1], &held[2]]))
                .expect("the same entry")
                .apply
                .is_empty()
        );
    }

    #[test]
    fn two_entries_for_one_place_in_a_batch_are_a_fork() {
        let one = chain("r.a", 2, "one");
        let two = chain("r.a", 2, "two");
        let rx = UpReceiver::new(id("r.a"), 0);
        let b = run(Direction::Up, 0, &[&one[0], &one[1], &two[1]]);
        assert_eq!(
            rx.check(&b, &heads(&[])),
            Err(Refusal::Fork {
                origin: id("r.a"),
                seq: 2
            })
        );
        // The same entry twice is only skipped the second time.
        let b = run(Direction::Up, 0, &[&one[0], &one[1], &one[1]]);
        assert_eq!(rx.check(&b, &heads(&[])).expect("ok").apply, vec![0, 1]);
    }

    #[test]
    fn origins_deeper_than_the_tree_are_refused_on_the_up_flow() {
        let deep = chain("r.a.x.q", 1, "one");
        let b = run(Direction::Up, 0, &[&deep[0]]);
        let rx = UpReceiver::new(id("r.a"), 0);
        assert_eq!(rx.max_depth(), usize::MAX);
        assert_eq!(rx.check(&b, &heads(&[])).expect("unbounded").apply, vec![0]);
        let rx = rx.with_max_depth(2);
        let err = rx.check(&b, &heads(&[])).expect_err("too deep");
        assert_eq!(
            err,
            Refusal::TooDeep {
                origin: id("r.a.x.q"),
                max: 2
            }
        );
        assert_eq!(err.code(), "too_deep");
        assert!(err.is_security());
        let ok = chain("r.a.x", 1, "one");
        let b = run(Direction::Up, 0, &[&ok[0]]);
        assert_eq!(
            rx.check(&b, &heads(&[])).expect("at the depth").apply,
            vec![0]
        );
    }

    #[test]
    fn a_held_entry_that_differs_on_the_down_flow_is_a_fork() {
        let held = chain("r", 2, "one");
        let other = chain("r", 2, "two");
        let rx = DownReceiver::new(id("r.a"), 0);
        let store = Store::holding(&[&held[0], &held[1]]);
        let b = run(Direction::Down, 0, &[&held[0], &other[1]]);
        let err = rx.check(&b, &store).expect_err("a fork");
        assert_eq!(
            err,
            Refusal::Fork {
                origin: id("r"),
                seq: 2
            }
        );
        assert!(err.is_security());
        // The same entries are skipped.
        let b = run(Direction::Down, 0, &[&held[0], &held[1]]);
        let acc = rx.check(&b, &store).expect("held");
        assert_eq!((acc.apply.len(), acc.ack_upto), (0, 2));
        // A lookup that answers no hashes cannot tell: skipped unchecked.
        let b = run(Direction::Down, 0, &[&other[1]]);
        assert!(
            rx.check(&b, &HasOnly(store))
                .expect("unknown")
                .apply
                .is_empty()
        );
        // Twice in one batch with two hashes.
        let b = run(Direction::Down, 0, &[&held[0], &other[0]]);
        assert_eq!(
            rx.check(&b, &Store::default()),
            Err(Refusal::Fork {
                origin: id("r"),
                seq: 1
            })
        );
        let b = run(Direction::Down, 0, &[&held[0], &held[0]]);
        assert_eq!(rx.check(&b, &Store::default()).expect("ok").apply, vec![0]);
    }

    #[test]
    fn origins_deeper_than_the_tree_are_refused_on_the_down_flow() {
        let parent = chain("r.a.x", 1, "one");
        let b = run(Direction::Down, 0, &[&parent[0]]);
        let rx = DownReceiver::new(id("r.a.x.q"), 0);
        assert_eq!(
            rx.check(&b, &Store::default()).expect("unbounded").apply,
            vec![0]
        );
        assert_eq!(
            rx.clone().with_max_depth(1).check(&b, &Store::default()),
            Err(Refusal::TooDeep {
                origin: id("r.a.x"),
                max: 1
            })
        );
        assert!(rx.with_max_depth(2).check(&b, &Store::default()).is_ok());
    }

    #[test]
    fn a_batch_cut_before_a_refused_entry_applies_and_acknowledges_only_what_precedes_it() {
        let x = chain("r.a.x", 3, "one");
        let y = chain("r.a.y", 2, "one");
        let mut rx = UpReceiver::new(id("r.a"), 10);
        // Local sequences 11..=16 of which 13 is left out of the up flow.
        let b = batch(
            Direction::Up,
            10,
            16,
            vec![
                wire(11, &x[0]),
                wire(12, &y[0]),
                wire(14, &x[1]),
                wire(15, &y[1]),
                wire(16, &x[2]),
            ],
        );
        let acc = rx.check(&b, &heads(&[])).expect("accepted");
        assert_eq!((acc.apply.clone(), acc.ack_upto), (vec![0, 1, 2, 3, 4], 16));
        // The caller refuses r.a.x#2 (index 2, local 14): nothing from it on
        // is applied, not even r.a.y#2, and the acknowledgement stops at 13.
        let cut = acc.truncate_before(&b, 2);
        assert_eq!(cut.apply, vec![0, 1]);
        assert_eq!(cut.ack_upto, 13);
        assert_eq!(rx.committed(&cut), 13);
        // The sender resends from 13; the refused entry comes first again.
        let again = batch(Direction::Up, 13, 16, b.entries[2..].to_vec());
        let held = heads(&[&x[0], &y[0]]);
        let acc = rx.check(&again, &held).expect("resent");
        assert_eq!(acc.apply, vec![0, 1, 2]);
        assert_eq!(acc.truncate_before(&again, 0).apply, Vec::<usize>::new());
        assert_eq!(acc.truncate_before(&again, 0).ack_upto, 13);
        // Cutting at or beyond the end changes nothing.
        assert_eq!(acc.truncate_before(&again, 3), acc);
        // Cutting never raises the acknowledgement, nor moves the cursor back.
        let low = Accepted {
            apply: vec![],
            held: vec![],
            ack_upto: 12,
            offered: 16,
        };
        assert_eq!(low.truncate_before(&b, 4).ack_upto, 12);
        assert_eq!(rx.committed(&low), 13);
    }

    #[test]
    fn a_cut_on_the_down_flow_keeps_only_what_is_held_back_before_it() {
        let r = chain("r", 4, "one");
        let rx = DownReceiver::new(id("r.a"), 0);
        // Stream s: #2 comes before #1, so #2 and what follows are held back.
        let b = batch(
            Direction::Down,
            0,
            5,
            vec![
                wire(1, &r[0]),
                in_stream(2, &r[1], "s", 2),
                in_stream(3, &r[2], "s", 1),
                wire(5, &r[3]),
            ],
        );
        let acc = rx.check(&b, &Store::default()).expect("accepted");
        assert_eq!(
            (acc.apply.clone(), acc.held.clone(), acc.ack_upto),
            (vec![0], vec![1, 2, 3], 1)
        );
        let cut = acc.truncate_before(&b, 2);
        assert_eq!((cut.apply, cut.held, cut.ack_upto), (vec![0], vec![1], 1));
        // A cut before the first held-back entry lowers the acknowledgement.
        let b = run(Direction::Down, 0, &[&r[0], &r[1], &r[2]]);
        let acc = rx.check(&b, &Store::default()).expect("accepted");
        let cut = acc.truncate_before(&b, 1);
        assert_eq!((cut.apply, cut.held, cut.ack_upto), (vec![0], vec![], 1));
    }

    #[test]
    fn a_recovering_receiver_takes_its_subtrees_entries_in_chain_order() {
        let root = chain("r", 2, "one");
        let mine = chain("r.a", 3, "one");
        let below = chain("r.a.x", 2, "one");
        let sibling = chain("r.b", 1, "one");
        // The receiver holds r.a#1 (its store was put back); the parent
        // sends its subtree's entries with what is meant for it.
        let store = Store::holding(&[&mine[0]]);
        let b = run(
            Direction::Down,
            0,
            &[
                &root[0], &mine[0], &below[0], &mine[1], &root[1], &below[1], &mine[2],
            ],
        );
        let plain = DownReceiver::new(id("r.a"), 0);
        assert!(!plain.is_recovering());
        assert_eq!(
            plain.check(&b, &store),
            Err(Refusal::NotAnAncestor {
                me: id("r.a"),
                origin: id("r.a"),
            }),
            "without asking, its own origin is refused"
        );
        let rx = DownReceiver::new(id("r.a"), 0).recovering(true);
        assert!(rx.is_recovering());
        let acc = rx.check(&b, &store).expect("accepted");
        assert_eq!(acc.apply, vec![0, 2, 3, 4, 5, 6], "r.a#1 is held");
        assert_eq!(acc.ack_upto, 7);
        // Another hall's entries are still refused.
        let b = run(Direction::Down, 0, &[&sibling[0]]);
        assert_eq!(
            rx.check(&b, &store),
            Err(Refusal::NotAnAncestor {
                me: id("r.a"),
                origin: id("r.b"),
            })
        );
        // A gap in its own origin is refused as on an up flow.
        let b = run(Direction::Down, 0, &[&mine[2]]);
        let err = rx.check(&b, &store).expect_err("a gap");
        assert_eq!(err.code(), "origin_gap");
        // So is an entry that does not follow the held one.
        let other = chain("r.a", 2, "two");
        let b = run(Direction::Down, 0, &[&other[1]]);
        assert_eq!(
            rx.check(&b, &store).expect_err("broken").code(),
            "broken_chain"
        );
        // And a held place with another hash is a fork.
        let b = run(Direction::Down, 0, &[&other[0]]);
        assert_eq!(rx.check(&b, &store).expect_err("fork").code(), "fork");
    }

    #[test]
    fn a_recovering_receiver_holds_back_after_a_stream_gap_without_a_chain_check() {
        let mine = chain("r.a", 3, "one");
        let rx = DownReceiver::new(id("r.a"), 0).recovering(true);
        // Stream s: version 2 comes first; all that follows is held back.
        let b = batch(
            Direction::Down,
            0,
            3,
            vec![
                in_stream(1, &mine[0], "s", 2),
                in_stream(2, &mine[1], "t", 1),
                in_stream(3, &mine[2], "s", 1),
            ],
        );
        let acc = rx.check(&b, &Store::default()).expect("accepted");
        assert_eq!(
            (acc.apply, acc.held, acc.ack_upto),
            (vec![], vec![0, 1, 2], 0)
        );
    }
}
