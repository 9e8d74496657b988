//! Closing a hall (`node decommission`, and the old place of a hall that
//! moves): its open cases are handed over to another hall, then it is
//! revoked.
//!
//! 1. The district writes a `handover` directive for every node (and a
//!    `hall_decommissioned` audit record); every node records it in
//!    `handovers`.
//! 2. Every node that holds an open case served at the closed hall hands it
//!    up to the district (`transferred`); the closed hall itself accepts
//!    nothing more and, once it holds no such case, writes a `hall_closed`
//!    audit record.
//! 3. The district, holding such a case, writes `handed_over`: the case is
//!    served at the heir from then on and held by the heir's lowest
//!    ancestor-or-self that may do what the case waits for. The event
//!    carries the case's earlier records, so the heir's branch (which never
//!    held the case, and takes from above only what its ancestors wrote)
//!    starts the case from it.
//! 4. When the closed hall's `hall_closed` arrives, the district revokes it.
//!
//! Each step is idempotent and runs again after every batch a node
//! applies and at start ([`Node::obey_handovers`]), so a crash between a
//! directive's commit and its obeying only delays it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use federation::NodeId;
use onewindow_domain::case::{Event, EventRecord, State};
use onewindow_domain::log::{Directive, NODE_ACTOR};
use onewindow_store::Handover;

use crate::Node;
use crate::error::{Error, ErrorKind};

/// The audit action of the district's decision to close a hall.
pub const DECOMMISSIONED: &str = "hall_decommissioned";
/// The audit action of a closed hall that handed up all its cases.
pub const CLOSED: &str = "hall_closed";

impl Node {
    /// At the root: closes `hall` and hands its open cases over to `heir`
    /// (with a reason of 1 to 500 characters; an audit record of the
    /// district). The hall is revoked once it has handed up what it held.
    pub async fn decommission(
        &self,
        hall: &str,
        heir: &str,
        reason: &str,
        by: &str,
    ) -> Result<(), Error> {
        if self.id.depth() != 0 {
            return Err(Error::keyed(
                ErrorKind::Forbidden,
                "not_the_root",
                "err.not_the_root.decommission",
                &[],
            ));
        }
        let reason = crate::directives::order_reason(reason)?;
        let below = |n: &str| {
            NodeId::new(n)
                .ok()
                .filter(|n| *n != self.id && n.is_in_subtree_of(&self.id))
                .ok_or_else(|| Error::bad_request("bad_node_id", &[("node", &n)]))
        };
        let (hall_id, heir_id) = (below(hall)?, below(heir)?);
        if heir_id.is_in_subtree_of(&hall_id) {
            return Err(Error::bad_request(
                "bad_heir",
                &[("hall", &hall), ("heir", &heir)],
            ));
        }
        let fleet = self.store.oversight_fleet().await?;
        let revoked = |n: &str| {
            fleet
                .iter()
                .any(|f| f.node_id == n && f.revoked_at_ms.is_some())
        };
        let handovers = self.store.handovers().await?;
        for n in [hall, heir] {
            if revoked(n) || handovers.iter().any(|h| h.hall == n) {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "hall_closed",
                    &[("hall", &n)],
                ));
            }
        }
        // Every hall the district has heard of: in its fleet, in its log,
        // or registered here.
        let closed = |n: &str| revoked(n) || handovers.iter().any(|h| h.hall == n);
        let mut known: Vec<String> = fleet.iter().map(|f| f.node_id.clone()).collect();
        known.extend(
            self.store
                .origin_heads()
                .await?
                .keys()
                .map(ToString::to_string),
        );
        known.extend(self.store.enrolled_nodes().await?);
        if let Some(child) = known.iter().find(|n| {
            NodeId::new(n.as_str()).is_ok_and(|n| n != hall_id && n.is_in_subtree_of(&hall_id))
                && !closed(n)
        }) {
            return Err(Error::new(
                ErrorKind::Conflict,
                "hall_has_children",
                &[("hall", &hall), ("child", &child)],
            ));
        }
        let detail = format!("{heir}: {reason}");
        let audit = self.audit_record(DECOMMISSIONED, by, hall, &detail).await;
        let mut w = self.store.write().await?;
        w.put_handover(&Handover {
            hall: hall.to_owned(),
            heir: heir.to_owned(),
            reason: reason.to_owned(),
            at_ms: self.now_ms(),
        })
        .await?;
        self.stage_directive(
            &mut w,
            Directive::Handover {
                hall: hall.to_owned(),
                heir: heir.to_owned(),
                reason: reason.to_owned(),
            },
            "",
            by,
        )?;
        w.append_audit(audit)?;
        w.commit().await?;
        self.handovers_known.store(true, Ordering::Relaxed);
        tracing::info!(%hall, %heir, "hall closed; its open cases go to its heir");
        self.obey_handovers().await
    }

    /// Is this hall closed (it accepts no new case)?
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Notes a handover stored with a batch (see [`Node::obey_handovers`]).
    pub(crate) fn note_handover(&self, hall: &str) {
        self.handovers_known.store(true, Ordering::Relaxed);
        if hall == self.id.as_str() {
            self.closed.store(true, Ordering::Relaxed);
        }
    }

    /// Learns at start whether halls closed, and whether this is one.
    pub(crate) async fn load_handovers(&self) -> Result<(), Error> {
        for h in self.store.handovers().await? {
            self.note_handover(&h.hall);
        }
        Ok(())
    }

    /// Carries out every step of the handovers this node knows of that is
    /// its own to take (see the module's page). Cheap when no hall closed.
    pub async fn obey_handovers(&self) -> Result<(), Error> {
        if !self.handovers_known.load(Ordering::Relaxed) {
            return Ok(());
        }
        let handovers = self.store.handovers().await?;
        let by_hall: HashMap<&str, &Handover> =
            handovers.iter().map(|h| (h.hall.as_str(), h)).collect();
        let root = self.id.depth() == 0;
        for (case_id, hall) in self.store.cases_to_hand_over(self.id.as_str()).await? {
            let Some(h) = by_hall.get(hall.as_str()) else {
                continue;
            };
            let done = if root {
                self.hand_over(&case_id, h).await
            } else {
                self.hand_up(&case_id, h).await
            };
            if let Err(e) = done {
                tracing::warn!(case = %case_id, %hall, error = %e, "could not hand a case over");
            }
        }
        if let Some(h) = by_hall.get(self.id.as_str())
            && self
                .store
                .cases_to_hand_over(self.id.as_str())
                .await?
                .is_empty()
            && !self.store.node_wrote(self.id.as_str(), CLOSED).await?
        {
            let record = self.record(CLOSED, NODE_ACTOR, "", &h.heir, &h.reason);
            let mut w = self.store.write().await?;
            w.append_audit(record)?;
            w.commit().await?;
            tracing::info!(heir = %h.heir, "this hall is closed: its open cases are handed up");
        }
        if root {
            let fleet = self.store.oversight_fleet().await?;
            // A closed hall keeps its link until the root holds the
            // personal sections of the cases it served.
            let waiting: Vec<String> = self
                .store
                .withheld_cases("", 1000)
                .await?
                .into_iter()
                .map(|c| c.accepting_node)
                .collect();
            for h in &handovers {
                if waiting.contains(&h.hall) {
                    continue;
                }
                let revoked = fleet
                    .iter()
                    .any(|f| f.node_id == h.hall && f.revoked_at_ms.is_some());
                if !revoked && self.store.node_wrote(&h.hall, CLOSED).await? {
                    self.revoke_node(&h.hall, "", NODE_ACTOR).await?;
                    tracing::info!(hall = %h.hall, "closed hall revoked");
                }
            }
        }
        Ok(())
    }

    /// Below the root: hands a case served at a closed hall up to the
    /// district.
    async fn hand_up(&self, case_id: &str, h: &Handover) -> Result<(), Error> {
        let reason = onewindow_i18n::text(
            "history.handed_up",
            &[("hall", &h.hall.as_str()), ("heir", &h.heir.as_str())],
        )
        .joined();
        let root = self.id.as_str().split('.').next().unwrap_or_default();
        self.write_event_as(
            case_id,
            self.system_actor(),
            Event::Transferred {
                to: root.to_owned(),
                reason,
            },
        )
        .await
        .map(|_| ())
    }

    /// At the root, holding a case served at a closed hall: hands it over
    /// to the heir, with the case's earlier records.
    async fn hand_over(&self, case_id: &str, h: &Handover) -> Result<(), Error> {
        let stored = self.store.case_events(case_id).await?;
        if stored
            .iter()
            .any(|e| matches!(e.entry.sealed, federation::Sealed::Withheld(_)))
        {
            // The heir gets the case whole: its sections come first
            // (`Node::fill_withheld`, which then comes back here).
            tracing::info!(case = %case_id, "a case to hand over waits for its personal sections");
            return Ok(());
        }
        let mut history: Vec<EventRecord> = Vec::with_capacity(stored.len());
        for e in &stored {
            if let Some(r) = e.record() {
                let mut r = r.clone();
                // What an earlier handover carried is in the records
                // before it already.
                if let Event::HandedOver { history, .. } = &mut r.event {
                    history.clear();
                }
                history.push(r);
            }
        }
        let mut w = self.store.write().await?;
        let row = w
            .case(case_id)
            .await?
            .ok_or_else(|| Error::not_found("case_not_found", &[("number", &case_id)]))?;
        let mut case = row.case;
        if case.holder.as_deref() != Some(self.id.as_str())
            || case.state.is_final()
            || case.version != history.len() as u64
        {
            return Ok(());
        }
        // The heir serves the window; what waits for a decision goes to
        // the heir's lowest ancestor-or-self that may decide the matter.
        let holder = match case.state {
            State::Received | State::Correction | State::ResultReady => h.heir.clone(),
            _ => match self.catalogue().matter(&case.received.matter_code) {
                Some(m) => onewindow_domain::policy::decider(
                    m,
                    &h.heir,
                    &self.config.node.tiers,
                    self.today(),
                ),
                None => self.id.to_string(),
            },
        };
        let reason = onewindow_i18n::text(
            "history.handed_over",
            &[
                ("hall", &h.hall.as_str()),
                ("heir", &h.heir.as_str()),
                ("reason", &h.reason.as_str()),
            ],
        )
        .joined();
        let rec = EventRecord {
            case_id: case_id.to_owned(),
            case_version: case.version + 1,
            actor: self.system_actor(),
            at_ms: self.now_ms(),
            event: Event::HandedOver {
                to: h.heir.clone(),
                holder,
                reason,
                history,
            },
        };
        case.apply(&rec)?;
        w.append(rec, &h.heir)?;
        w.put_case(self.case_row(&case));
        w.commit().await?;
        self.metrics.case_event("handed_over");
        Ok(())
    }

    /// Does this entry carry a case's earlier records (a handover, or a
    /// cross-district crossing)? The down flow then takes it in place of
    /// the records before it that this branch never held.
    pub async fn opens_case(&self, e: &federation::LogEntry) -> bool {
        matches!(
            self.decode_entry(e, &HashMap::new()).await,
            Ok(Ok(onewindow_domain::log::LogBody::Case(EventRecord { ref event, .. })))
                if event.carried().is_some_and(|h| !h.is_empty())
        )
    }
}
