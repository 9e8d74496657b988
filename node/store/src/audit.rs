//! The audit of the stored log: every origin's hash chain walked from the
//! rows as they are on disk, naming the first break per origin.
//!
//! A node holds the whole log of its own origin and of every origin in its
//! subtree (a link applies them contiguously from sequence 1), so those are
//! checked as chains: each entry's hash recomputed from its content, each
//! sequence the one after the last, each previous hash the last one's
//! hash. Of an ancestor's origin it holds only the entries routed to it
//! (directives, its own cases' events written above), so each of those is
//! checked alone, and linked to the entry before it where that one is held.

use federation::{EntryHash, LogEntry, NodeId};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Store, StoreError};

/// Rows read at a time.
const PAGE: i64 = 5000;

/// What kind of break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChainBreak {
    /// The entry's origin sequence.
    pub seq: u64,
    /// What is wrong.
    pub kind: BreakKind,
    /// In words (English).
    pub detail: String,
}

/// One origin as the audit found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OriginAudit {
    /// The origin (a node id).
    pub origin: String,
    /// Whether this node holds its whole log (itself and its subtree), so
    /// that it was checked as one chain from sequence 1.
    pub whole: bool,
    /// Entries held (all are read; the checks stop at the first break).
    pub entries: u64,
    /// The highest sequence held.
    pub head: u64,
    /// The first break, if any.
    #[serde(rename = "break")]
    pub first_break: Option<ChainBreak>,
}

/// The audit of a node's stored log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditReport {
    /// The node that checked.
    pub node: String,
    /// Entries checked in all.
    pub entries: u64,
    /// Origins with a break.
    pub broken: u64,
    /// Every origin checked, in id order.
    pub origins: Vec<OriginAudit>,
    /// Breaks that halls below found in their own stored logs, in their
    /// own hash chains (a row changed by hand at a village after its
    /// entries came up is seen there, not here), oldest first.
    #[serde(default)]
    pub reported: Vec<ReportedBreak>,
}

/// A break that a hall's own check found in its stored log, and wrote in
/// its hash chain as an audit record (`chain_broken`) that came up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportedBreak {
    /// The hall whose check found it.
    pub hall: String,
    /// The record's place in that hall's hash chain.
    pub record_seq: u64,
    /// The broken origin (the hall itself, or a hall below it whose
    /// entries it holds).
    pub origin: String,
    /// The broken entry's origin sequence.
    pub seq: u64,
    /// What is wrong (`hash_mismatch`, `broken_chain`, `gap`,
    /// `unreadable`).
    pub kind: String,
    /// In words (English).
    pub detail: String,
    /// When the hall found it (ms since the epoch).
    pub at_ms: i64,
}

impl ReportedBreak {
    /// The target of a `chain_broken` record: `origin#seq`.
    pub fn target(origin: &str, seq: u64) -> String {
        format!("{origin}#{seq}")
    }

    /// The detail of a `chain_broken` record: `kind: words`.
    pub fn detail_of(b: &ChainBreak) -> String {
        format!("{}: {}", b.kind, b.detail)
    }

    /// Reads a `chain_broken` record kept by `hall` at `record_seq`; `None`
    /// when it is not one.
    pub fn read(
        hall: &str,
        record_seq: u64,
        a: &onewindow_domain::log::AuditRecord,
    ) -> Option<Self> {
        if a.action != "chain_broken" {
            return None;
        }
        let (origin, seq) = a.target.rsplit_once('#')?;
        let seq = seq.parse().ok()?;
        let (kind, detail) = a.detail.split_once(": ").unwrap_or((a.detail.as_str(), ""));
        Some(ReportedBreak {
            hall: hall.to_owned(),
            record_seq,
            origin: origin.to_owned(),
            seq,
            kind: kind.to_owned(),
            detail: detail.to_owned(),
            at_ms: a.at_ms,
        })
    }
}

/// The walk of one origin.
struct Walk {
    audit: OriginAudit,
    last: Option<(u64, EntryHash)>,
}

impl Walk {
    fn new(origin: &str, whole: bool) -> Self {
        Walk {
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

    /// Checks the next entry; false once the origin has broken (later
    /// entries are still counted, and the head is the highest held).
    fn step(&mut self, e: &LogEntry) -> bool {
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
}

impl Store {
    /// Walks the stored log of every origin (or of `only`) and names the
    /// first break of each. Reads in pages; takes no write lock.
    pub async fn audit(&self, only: Option<&str>) -> Result<AuditReport, StoreError> {
        let origins: Vec<String> = match only {
            Some(o) => vec![o.to_owned()],
            None => {
                sqlx::query_scalar("SELECT DISTINCT origin FROM events ORDER BY origin")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        let mut report = AuditReport {
            node: self.node.to_string(),
            entries: 0,
            broken: 0,
            origins: Vec::with_capacity(origins.len()),
            reported: Vec::new(),
        };
        for origin in origins {
            let whole = NodeId::new(origin.clone())
                .map(|o| o.is_in_subtree_of(&self.node))
                .unwrap_or(false);
            let mut walk = Walk::new(&origin, whole);
            let mut after = 0i64;
            loop {
                let rows = sqlx::query(
                    "SELECT local_seq, origin, origin_seq, prev_hash, hash, body, body_bin, sealed \
                     FROM events WHERE origin = $1 AND origin_seq > $2 ORDER BY origin_seq LIMIT $3",
                )
                .bind(origin.as_str())
                .bind(after)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await?;
                for r in &rows {
                    let seq: i64 = r.try_get(2)?;
                    after = seq;
                    match crate::entry_of(r) {
                        Ok((_, e)) => {
                            walk.step(&e);
                        }
                        Err(err) => {
                            walk.audit.entries += 1;
                            walk.audit.head = seq as u64;
                            if walk.audit.first_break.is_none() {
                                walk.broke(
                                    seq as u64,
                                    BreakKind::Unreadable,
                                    format!("entry {origin}#{seq}: {err}"),
                                );
                            }
                        }
                    }
                }
                if (rows.len() as i64) < PAGE {
                    break;
                }
            }
            report.entries += walk.audit.entries;
            if walk.audit.first_break.is_some() {
                report.broken += 1;
            }
            report.origins.push(walk.audit);
        }
        Ok(report)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use federation::Sealed;

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
        let mut w = Walk::new(entries[0].origin.as_str(), whole);
        for e in entries {
            w.step(e);
        }
        w.audit
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
