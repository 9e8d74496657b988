//! Cross-district handling (异地通办): a case accepted in one branch of the
//! tree for a hall of another (the applicant's home district) goes up to
//! the two halls' lowest common ancestor and down to the hall that decides
//! it; its result comes back the same way to the window that accepted it.
//!
//! 1. The accepting hall writes `transferred` to the common ancestor in the
//!    transaction that accepts the case (`Node::escalate`, by
//!    [`policy::route`]); the case's `received` names the hall
//!    (`Received::decided_at`).
//! 2. The common ancestor, once the case arrives, writes `crossed`
//!    ([`Node::obey_crossing`]): the deciding hall holds the case from then
//!    on, and the event carries the case's records before it, since the
//!    other branch takes from above only what its ancestors wrote. Its
//!    scope is the deciding hall, so the log routes it down that branch.
//! 3. The deciding hall decides as for any case; its hand-back
//!    ([`policy::hand_back`]) goes up to the common ancestor, which writes
//!    `crossed` again, towards the window this time, with the records the
//!    window's branch lacks. The window hands the result out.
//!
//! Each step is written by the case's holder, so the one-writer rule holds
//! throughout, and every record still goes up to the root. Step 2 runs
//! after the batch that brings the case, and again at start
//! ([`Node::obey_crossings`]) for a case a stop left waiting.

use onewindow_domain::case::{Event, EventRecord};
use onewindow_domain::policy;

use crate::Node;
use crate::error::Error;

impl Node {
    /// Is this a case that, handed to this node, it sends on down: a
    /// cross-district case, or a result handed back to it from another
    /// branch than its window's (a holder there hands it to the common
    /// ancestor, [`policy::hand_back`])?
    pub(crate) fn sends_on(&self, case: &onewindow_domain::case::Case) -> bool {
        let me = self.id.as_str();
        case.received.decided_at.is_some()
            || (case.state == onewindow_domain::case::State::ResultReady
                && case.window() != me
                && policy::is_within(case.window(), me))
    }

    /// The records of a case as this node holds them, each once (what a
    /// handover or crossing carried is in the records before it); `None`
    /// when some of its personal sections are withheld here.
    async fn case_history(&self, case_id: &str) -> Result<Option<Vec<EventRecord>>, Error> {
        let stored = self.store.case_events(case_id).await?;
        if stored
            .iter()
            .any(|e| matches!(e.entry.sealed, federation::Sealed::Withheld(_)))
        {
            return Ok(None);
        }
        let mut history: Vec<EventRecord> = Vec::with_capacity(stored.len());
        for e in &stored {
            if let Some(r) = e.record() {
                let mut r = r.clone();
                if let Event::HandedOver { history, .. } | Event::Crossed { history, .. } =
                    &mut r.event
                {
                    history.clear();
                }
                history.push(r);
            }
        }
        Ok(Some(history))
    }

    /// Does the result of `case`, held here, go back down to its window
    /// only as a crossing ([`Node::obey_crossing`]), because the window's
    /// branch lacks some of its records? A plain hand-back would leave
    /// that branch a case whose versions jump (its link would hold them
    /// back for good).
    pub(crate) async fn hands_back_across(
        &self,
        case_id: &str,
        case: &onewindow_domain::case::Case,
    ) -> Result<bool, Error> {
        let me = self.id.as_str();
        // A result for a window of another tree goes across from the root.
        if case.state == onewindow_domain::case::State::ResultReady && self.peer_of(case).is_some()
        {
            return Ok(true);
        }
        // Only a cross-district case has records in another branch: every
        // other result is handed back as it always was, with no read of
        // its events.
        if case.received.decided_at.is_none()
            || case.state != onewindow_domain::case::State::ResultReady
            || !matches!(policy::route(me, case.window()), Some(policy::Hop::Down(_)))
        {
            return Ok(false);
        }
        Ok(match self.case_history(case_id).await? {
            Some(history) => policy::branch_lacks(&history, me, case.window()),
            None => false,
        })
    }

    /// Sends on every cross-district case that waits here (a stop came
    /// between the batch that handed it to this node and
    /// [`Node::obey_crossing`]). Run at start.
    pub async fn obey_crossings(&self) -> Result<(), Error> {
        for case_id in self.store.cases_to_send_on(self.id.as_str()).await? {
            self.obey_crossing(&case_id).await?;
        }
        Ok(())
    }

    /// At the common ancestor of a cross-district case's two branches,
    /// holding it: sends it on down, to the hall that decides it while it
    /// waits for a decision, to its window once its result is ready. Does
    /// nothing when this node does not hold the case, the case is closed,
    /// or this node is where it goes. Idempotent: a second call finds the
    /// case held elsewhere.
    pub async fn obey_crossing(&self, case_id: &str) -> Result<(), Error> {
        // A case for another tree goes across a peering from the root.
        if let Some(row) = self.store.case(case_id).await?
            && row.case.holder.as_deref() == Some(self.id.as_str())
            && let Some(peer) = self.peer_of(&row.case)
        {
            return self.cross_to_peer(case_id, &peer).await;
        }
        let waits = self
            .store
            .case(case_id)
            .await?
            .is_some_and(|row| self.sends_on(&row.case));
        if !waits {
            return Ok(());
        }
        let Some(history) = self.case_history(case_id).await? else {
            // The other branch gets the case whole. Every hall on the way up
            // sends the sections of a case held outside its subtree, so this
            // is not expected; the case stays here to be handled.
            tracing::warn!(case = %case_id, "a cross-district case arrived without its personal sections");
            return Ok(());
        };
        let mut w = self.store.write().await?;
        let Some(row) = w.case(case_id).await? else {
            return Ok(());
        };
        let mut case = row.case;
        if case.holder.as_deref() != Some(self.id.as_str())
            || case.state.is_final()
            || case.version != history.len() as u64
        {
            return Ok(());
        }
        let to = if case.state == onewindow_domain::case::State::ResultReady {
            // A result handed here from within the window's branch or above
            // it (a recall, say) is not this node's to send on.
            if !policy::branch_lacks(&history, self.id.as_str(), case.window()) {
                return Ok(());
            }
            case.window().to_owned()
        } else {
            let Some(named) = case.received.decided_at.as_deref() else {
                return Ok(());
            };
            let Some(matter) = self.catalogue().matter(&case.received.matter_code).cloned() else {
                return Ok(());
            };
            match policy::cross_decider(
                &matter,
                &case.received.accepting_node,
                named,
                &self.config.node.tiers,
                self.today(),
            ) {
                Some(to) => to,
                // The delegation changed since: the case is decided on
                // this node's way as any other.
                None => return Ok(()),
            }
        };
        let Some(rec) = policy::crossing(
            &case,
            &history,
            self.id.as_str(),
            &to,
            &self.system_actor(),
            self.now_ms(),
        ) else {
            return Ok(());
        };
        case.apply(&rec)?;
        let scope = match &rec.event {
            Event::Crossed { holder, .. } => holder.clone(),
            _ => case.window().to_owned(),
        };
        let kind = rec.event.kind();
        w.append(rec, &scope)?;
        w.put_case(self.case_row(&case));
        w.commit().await?;
        self.metrics.case_event(kind);
        tracing::info!(case = %case_id, %to, "cross-district case sent on down");
        Ok(())
    }
}
