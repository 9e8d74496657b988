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
            Self::BadRange(_) => "bad_range",
            Self::OutsideSubtree { .. } => "outside_subtree",
            Self::NotAnAncestor { .. } => "not_an_ancestor",
            Self::Chain(ChainError::Gap { .. }) => "origin_gap",
            Self::Chain(ChainError::BrokenChain { .. }) => "broken_chain",
            Self::Chain(_) => "bad_hash",
        }
    }

    /// Is this a sign of a forged or misbehaving peer (a security event)?
    pub fn is_security(&self) -> bool {
        matches!(
            self,
            Self::OutsideSubtree { .. } | Self::NotAnAncestor { .. } | Self::Chain(_)
        )
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
}

fn check_range(batch: &Batch, have: u64) -> Result<(), Refusal> {
    if batch.after > have {
        return Err(Refusal::CursorGap {
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
pub trait UpLookup {
    /// The highest sequence and its hash held for an origin (0 and
    /// [`EntryHash::GENESIS`] when none).
    fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash);
}

impl UpLookup for BTreeMap<NodeId, (u64, EntryHash)> {
    fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash) {
        self.get(origin).copied().unwrap_or((0, EntryHash::GENESIS))
    }
}

/// The parent's side of a child's up flow.
#[derive(Debug, Clone)]
pub struct UpReceiver {
    peer: NodeId,
    have: u64,
}

impl UpReceiver {
    /// For the child `peer`, of whose log `have` is durably held.
    pub fn new(peer: NodeId, have: u64) -> Self {
        Self { peer, have }
    }

    /// The child's log is held up to here.
    pub fn have(&self) -> u64 {
        self.have
    }

    /// Checks a batch against the subtree, each origin's sequence and its
    /// hash chain; entries already held are skipped. Nothing changes until
    /// [`UpReceiver::committed`].
    pub fn check(&self, batch: &Batch, heads: &impl UpLookup) -> Result<Accepted, Refusal> {
        if batch.direction != Direction::Up {
            return Err(Refusal::WrongDirection {
                expected: Direction::Up,
            });
        }
        check_range(batch, self.have)?;
        let mut local: BTreeMap<&NodeId, (u64, EntryHash)> = BTreeMap::new();
        let mut apply = Vec::new();
        for (i, w) in batch.entries.iter().enumerate() {
            let e = &w.entry;
            if !e.origin.is_in_subtree_of(&self.peer) {
                return Err(Refusal::OutsideSubtree {
                    peer: self.peer.clone(),
                    origin: e.origin.clone(),
                });
            }
            e.verify_hash()?;
            let (seq, hash) = match local.get(&e.origin) {
                Some(h) => *h,
                None => heads.origin_head(&e.origin),
            };
            if e.origin_seq <= seq {
                continue;
            }
            e.verify_follows(seq, &hash)?;
            local.insert(&e.origin, (e.origin_seq, e.hash));
            apply.push(i);
        }
        Ok(Accepted {
            apply,
            held: Vec::new(),
            ack_upto: batch.upto.max(self.have),
        })
    }

    /// The accepted entries are durable: returns what to acknowledge.
    pub fn committed(&mut self, accepted: &Accepted) -> u64 {
        self.have = self.have.max(accepted.ack_upto);
        self.have
    }
}

/// What a down-flow receiver needs to know of its store.
pub trait DownLookup {
    /// Is this entry already held?
    fn has(&self, origin: &NodeId, origin_seq: u64) -> bool;
    /// The highest place held in a stream (0 when none).
    fn stream_head(&self, stream: &str) -> u64;
}

/// The child's side of its parent's down flow.
#[derive(Debug, Clone)]
pub struct DownReceiver {
    me: NodeId,
    have: u64,
}

impl DownReceiver {
    /// For this node, of whose parent's log `have` is durably held.
    pub fn new(me: NodeId, have: u64) -> Self {
        Self { me, have }
    }

    /// The parent's log is held up to here.
    pub fn have(&self) -> u64 {
        self.have
    }

    /// Checks authority (every origin is an ancestor) and stream order;
    /// entries already held are skipped, entries that come before their
    /// predecessor are held back and the acknowledgement stops before them.
    pub fn check(&self, batch: &Batch, held: &impl DownLookup) -> Result<Accepted, Refusal> {
        if batch.direction != Direction::Down {
            return Err(Refusal::WrongDirection {
                expected: Direction::Down,
            });
        }
        check_range(batch, self.have)?;
        let mut streams: BTreeMap<&str, u64> = BTreeMap::new();
        let mut apply = Vec::new();
        let mut held_back = Vec::new();
        for (i, w) in batch.entries.iter().enumerate() {
            let e = &w.entry;
            if e.origin == self.me || !self.me.is_in_subtree_of(&e.origin) {
                return Err(Refusal::NotAnAncestor {
                    me: self.me.clone(),
                    origin: e.origin.clone(),
                });
            }
            e.verify_hash()?;
            if held.has(&e.origin, e.origin_seq) {
                continue;
            }
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
        .max(self.have);
        Ok(Accepted {
            apply,
            held: held_back,
            ack_upto,
        })
    }

    /// The accepted entries are durable: returns what to acknowledge.
    pub fn committed(&mut self, accepted: &Accepted) -> u64 {
        self.have = self.have.max(accepted.ack_upto);
        self.have
    }
}
