//! Checking a hash chain of log entries: each entry's hash recomputed from
//! its content, each sequence the one after the last, each previous hash
//! the last one's hash. The node's audit walks its stored rows with it, and
//! `onewindow-admin audit verify --file` an exported copy, so a third party
//! checks an export by the same rules as the node its store.

use serde::{Deserialize, Serialize};

use crate::log::{EntryHash, LogEntry};

/// What kind of break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// The stored hash is not the hash of the stored content: a row was
    /// changed after it was written.
    HashMismatch,
    /// The previous hash is not the hash of the entry before: an entry
    /// before it was changed, or replaced.
    BrokenChain,
    /// Sequences are missing before this one: rows were deleted.
    Gap,
    /// The row cannot be read as an entry (a hash that is not hex, a bad
    /// origin).
    Unreadable,
}

impl BreakKind {
    /// The stable name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HashMismatch => "hash_mismatch",
            Self::BrokenChain => "broken_chain",
            Self::Gap => "gap",
            Self::Unreadable => "unreadable",
        }
    }
}

impl std::fmt::Display for BreakKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first break of an origin's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct ChainBreak {
    /// The entry's origin sequence.
    pub seq: u64,
    /// What is wrong.
    pub kind: BreakKind,
    /// In words (English).
    pub detail: String,
}

/// One origin as the audit found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct OriginAudit {
    /// The origin (a node id).
    pub origin: String,
    /// Whether the whole log of the origin is held (the checking node
    /// itself and its subtree), so that it was checked as one chain from
    /// sequence 1.
    pub whole: bool,
    /// Entries held (all are read; the checks stop at the first break).
    pub entries: u64,
    /// The highest sequence held.
    pub head: u64,
    /// The first break, if any.
    #[serde(rename = "break")]
    pub first_break: Option<ChainBreak>,
}

/// The walk of one origin's entries in sequence order.
#[derive(Debug)]
pub struct ChainWalk {
    audit: OriginAudit,
    last: Option<(u64, EntryHash)>,
}

impl ChainWalk {
    /// A walk of `origin`: from sequence 1 when `whole`; otherwise each
    /// entry is checked alone, and linked to the entry before it where
    /// that one is held.
    pub fn new(origin: &str, whole: bool) -> Self {
        ChainWalk {
            audit: OriginAudit {
                origin: origin.to_owned(),
                whole,
                entries: 0,
                head: 0,
                first_break: None,
            },
            last: if whole {
                Some((0, EntryHash::GENESIS))
            } else {
                None
            },
        }
    }

    fn broke(&mut self, seq: u64, kind: BreakKind, detail: String) {
        self.audit.first_break = Some(ChainBreak { seq, kind, detail });
    }

    /// Counts an entry that cannot be read as one; the first break if
    /// none came before.
    pub fn unreadable(&mut self, seq: u64, detail: String) {
        self.audit.entries += 1;
        self.audit.head = seq;
        if self.audit.first_break.is_none() {
            self.broke(seq, BreakKind::Unreadable, detail);
        }
    }

    /// Checks the next entry; false once the origin has broken (later
    /// entries are still counted, and the head is the highest held).
    pub fn step(&mut self, e: &LogEntry) -> bool {
        self.audit.entries += 1;
        self.audit.head = e.origin_seq;
        if self.audit.first_break.is_some() {
            return false;
        }
        if e.verify_hash().is_err() {
            self.broke(
                e.origin_seq,
                BreakKind::HashMismatch,
                format!(
                    "entry {}#{}: the stored hash is not the hash of the stored content",
                    e.origin, e.origin_seq
                ),
            );
            return false;
        }
        if let Some((seq, hash)) = self.last {
            if e.origin_seq <= seq {
                self.broke(
                    e.origin_seq,
                    BreakKind::BrokenChain,
                    format!(
                        "entry {}#{} comes after #{seq}: out of order or twice",
                        e.origin, e.origin_seq
                    ),
                );
                return false;
            }
            if e.origin_seq > seq + 1 && self.audit.whole {
                self.broke(
                    e.origin_seq,
                    BreakKind::Gap,
                    format!(
                        "entry {}#{} follows #{seq}: {} entries are missing",
                        e.origin,
                        e.origin_seq,
                        e.origin_seq - seq - 1
                    ),
                );
                return false;
            }
            if e.origin_seq == seq + 1 && e.prev_hash != hash {
                self.broke(
                    e.origin_seq,
                    BreakKind::BrokenChain,
                    format!(
                        "entry {}#{}: its previous hash is not the hash of #{seq}",
                        e.origin, e.origin_seq
                    ),
                );
                return false;
            }
        }
        self.last = Some((e.origin_seq, e.hash));
        true
    }

    /// Marks the chain cut short: the checking node held entries up to
    /// `head`, but the walk ended before it (a break unless one came
    /// before).
    pub fn ends_before(&mut self, head: u64) {
        if self.audit.first_break.is_none() && head > self.audit.head {
            let last = self.audit.head;
            self.broke(
                last + 1,
                BreakKind::Gap,
                format!(
                    "the entries of {} end at #{last}; the node held them to #{head}",
                    self.audit.origin
                ),
            );
        }
    }

    /// The hash of the last entry that verified, if any.
    pub fn last_hash(&self) -> Option<EntryHash> {
        self.last.map(|(_, h)| h)
    }

    /// What the walk found.
    pub fn finish(self) -> OriginAudit {
        self.audit
    }

    /// What the walk found so far.
    pub fn audit(&self) -> &OriginAudit {
        &self.audit
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{NodeId, Sealed};

    fn chain(origin: &str, n: u64) -> Vec<LogEntry> {
        let id = NodeId::new(origin).unwrap();
        let mut out: Vec<LogEntry> = Vec::new();
        for seq in 1..=n {
            let prev = out.last().map(|e| e.hash).unwrap_or(EntryHash::GENESIS);
            out.push(LogEntry::assemble(
                id.clone(),
                seq,
                prev,
                format!("\x02entry {seq}").into_bytes(),
                Sealed::open(vec![seq as u8]),
            ));
        }
        out
    }

    fn walk(entries: &[LogEntry], whole: bool) -> OriginAudit {
        let mut w = ChainWalk::new(entries[0].origin.as_str(), whole);
        for e in entries {
            w.step(e);
        }
        w.finish()
    }

    #[test]
    fn a_whole_chain_passes_and_each_kind_of_break_is_named_at_its_entry() {
        let good = chain("nanhai.a", 5);
        let a = walk(&good, true);
        assert_eq!((a.entries, a.head, a.first_break), (5, 5, None));

        let mut changed = good.clone();
        changed[2].body = b"\x02entry 3, altered".to_vec();
        let a = walk(&changed, true);
        // Counted to the end, broken at the first change.
        assert_eq!((a.entries, a.head), (5, 5));
        let b = a.first_break.unwrap();
        assert_eq!((b.seq, b.kind), (3, BreakKind::HashMismatch));

        let mut deleted = good.clone();
        deleted.remove(1);
        let b = walk(&deleted, true).first_break.unwrap();
        assert_eq!((b.seq, b.kind), (3, BreakKind::Gap));

        // A row replaced whole (new content, its own hash recomputed).
        let mut replaced = good.clone();
        replaced[1] = LogEntry::assemble(
            replaced[1].origin.clone(),
            2,
            replaced[0].hash,
            b"\x02forged".to_vec(),
            Sealed::open(vec![]),
        );
        let b = walk(&replaced, true).first_break.unwrap();
        assert_eq!((b.seq, b.kind), (3, BreakKind::BrokenChain));

        // A chain that does not start at 1 is missing its start.
        let b = walk(&good[2..], true).first_break.unwrap();
        assert_eq!((b.seq, b.kind), (3, BreakKind::Gap));

        // An entry twice (a copied line of an export).
        let mut twice = good.clone();
        twice.insert(2, good[1].clone());
        let b = walk(&twice, true).first_break.unwrap();
        assert_eq!((b.seq, b.kind), (2, BreakKind::BrokenChain));

        // A chain cut short of the head the node held.
        let mut w = ChainWalk::new("nanhai.a", true);
        for e in &good[..3] {
            w.step(e);
        }
        w.ends_before(5);
        let b = w.finish().first_break.unwrap();
        assert_eq!((b.seq, b.kind), (4, BreakKind::Gap));
    }

    #[test]
    fn an_ancestors_entries_are_checked_alone_and_linked_where_adjacent() {
        let good = chain("nanhai", 6);
        let held = vec![good[1].clone(), good[4].clone(), good[5].clone()];
        assert_eq!(walk(&held, false).first_break, None);
        let mut changed = held.clone();
        changed[0].sealed = Sealed::open(vec![9, 9]);
        let b = walk(&changed, false).first_break.unwrap();
        assert_eq!((b.seq, b.kind), (2, BreakKind::HashMismatch));
    }
}
