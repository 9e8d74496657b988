//! The node's own check of its stored log, and what the halls below found
//! in theirs.
//!
//! A parent holds its children's entries as they came up, so a row
//! changed by hand in a village's store after its entries were sent is
//! not seen in the district's copy. Every node therefore walks its own
//! stored log from time to time (`[audit] self_check_secs`) and writes
//! each break it finds, once, as a `chain_broken` audit record in its own
//! hash chain; the record travels up like every audit record, and the
//! audit at the district lists it beside its own walk.

use std::collections::HashSet;

use onewindow_domain::log::NODE_ACTOR;
use onewindow_store::ReportedBreak;

use crate::Node;
use crate::error::Error;

impl Node {
    /// Walks this node's stored log and writes each break not reported
    /// before as a `chain_broken` audit record (actor
    /// [`NODE_ACTOR`], target `origin#seq`). Returns the breaks newly
    /// reported.
    pub async fn check_stored_log(&self) -> Result<Vec<ReportedBreak>, Error> {
        let report = self.store.audit(None).await?;
        if report.broken == 0 {
            return Ok(Vec::new());
        }
        let me = self.id.as_str();
        let known: HashSet<String> = self
            .store
            .node_audit_records(Some(me))
            .await?
            .into_iter()
            .filter(|(hall, _, a)| hall == me && a.action == "chain_broken")
            .map(|(_, _, a)| a.target)
            .collect();
        let mut found = Vec::new();
        for o in &report.origins {
            let Some(b) = &o.first_break else { continue };
            let target = ReportedBreak::target(&o.origin, b.seq);
            if known.contains(&target) {
                continue;
            }
            tracing::error!(
                origin = %o.origin,
                seq = b.seq,
                kind = %b.kind,
                detail = %b.detail,
                "this node's check found its stored log broken; the break is reported up"
            );
            let rec = self.record(
                "chain_broken",
                NODE_ACTOR,
                "system",
                &target,
                &ReportedBreak::detail_of(b),
            );
            let mut w = self.store.write().await?;
            let kept = w.append_audit(rec.clone())?.entry.origin_seq;
            w.commit().await?;
            found.extend(ReportedBreak::read(me, kept, &rec));
        }
        Ok(found)
    }

    /// The breaks that halls below this node found in their own stored
    /// logs (of `origin` only, when given), oldest first. This node's own
    /// breaks are not among them: its own walk finds those.
    pub async fn reported_breaks(&self, origin: Option<&str>) -> Result<Vec<ReportedBreak>, Error> {
        let me = self.id.as_str();
        let mut out: Vec<ReportedBreak> = self
            .store
            .node_audit_records(Some(me))
            .await?
            .iter()
            .filter(|(hall, _, _)| hall != me)
            .filter_map(|(hall, seq, a)| ReportedBreak::read(hall, *seq, a))
            .filter(|b| origin.is_none_or(|o| b.origin == o))
            .collect();
        out.reverse();
        Ok(out)
    }
}
