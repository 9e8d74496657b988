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

pub use federation::audit::{BreakKind, ChainBreak, ChainWalk, OriginAudit};
use federation::{LogEntry, NodeId};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Store, StoreError};

/// Rows read at a time.
const PAGE: i64 = 5000;

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
            let mut walk = ChainWalk::new(&origin, whole);
            let mut after = 0;
            loop {
                let rows = self.origin_entries(&origin, after, PAGE).await?;
                for (seq, e) in &rows {
                    after = *seq;
                    match e {
                        Ok(e) => {
                            walk.step(e);
                        }
                        Err(err) => {
                            walk.unreadable(*seq, format!("entry {origin}#{seq}: {err}"));
                        }
                    }
                }
                if (rows.len() as i64) < PAGE {
                    break;
                }
            }
            let audit = walk.finish();
            report.entries += audit.entries;
            if audit.first_break.is_some() {
                report.broken += 1;
            }
            report.origins.push(audit);
        }
        Ok(report)
    }

    /// Up to `limit` stored entries of `origin` after sequence `after`, in
    /// sequence order, as the rows are on disk: each entry, or why its row
    /// cannot be read as one (the audit and its export).
    pub async fn origin_entries(
        &self,
        origin: &str,
        after: u64,
        limit: i64,
    ) -> Result<Vec<(u64, Result<LogEntry, String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT local_seq, origin, origin_seq, prev_hash, hash, body, body_bin, sealed, sealed_hash \
             FROM events WHERE origin = $1 AND origin_seq > $2 ORDER BY origin_seq LIMIT $3",
        )
        .bind(origin)
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let seq: i64 = r.try_get(2)?;
            let seq = u64::try_from(seq).unwrap_or(0);
            out.push((
                seq,
                crate::entry_of(r)
                    .map(|(_, e)| e)
                    .map_err(|e| e.to_string()),
            ));
        }
        Ok(out)
    }
}
