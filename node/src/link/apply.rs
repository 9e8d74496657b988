//! Applying what a link brought: case events are folded into the read model
//! under the same rules as local writes, plus the one-writer rule; directives
//! from above change the rules only when the root's signature holds.

use federation::replication::{Accepted, Batch};

use super::signing;
use crate::domain::case::{Case, Event, EventRecord, Role};
use crate::domain::catalogue::Catalogue;
use crate::domain::log::{Directive, DirectiveRecord, LogBody};
use crate::service::Node;
use crate::store::{StoreError, WriteTx};

/// Why a batch could not be applied. The batch is refused as a whole and
/// nothing of it is stored.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An entry breaks the rules: a security matter.
    #[error("entry {origin}#{seq}: {problem}")]
    Forged {
        /// Origin.
        origin: String,
        /// Sequence.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
}

/// What applying a batch changed beyond the log.
#[derive(Debug, Default)]
pub struct Applied {
    /// A newer catalogue version to switch to once committed.
    pub catalogue: Option<Catalogue>,
    /// Cases this node must hand over on a recall: (case, to, reason).
    pub recalls: Vec<(String, String, String)>,
    /// Directives refused for a bad signature (kept out of the store).
    pub bad_signatures: Vec<String>,
    /// Nodes or certificate serials revoked by the root.
    pub revoked: Vec<String>,
    /// A calendar year changed.
    pub calendar_changed: bool,
}

impl Node {
    /// Applies the accepted entries of a batch from `peer` and records that
    /// the peer's log is held up to the acknowledgement, in one transaction.
    pub async fn apply_batch(
        &self,
        peer: &str,
        batch: &Batch,
        accepted: &Accepted,
    ) -> Result<Applied, ApplyError> {
        let mut applied = Applied::default();
        let mut w = self.store.write().await?;
        for &i in &accepted.apply {
            let we = &batch.entries[i];
            let e = &we.entry;
            let forged = |problem: String| ApplyError::Forged {
                origin: e.origin.to_string(),
                seq: e.origin_seq,
                problem,
            };
            let body: LogBody = serde_json::from_str(&e.body)
                .map_err(|err| forged(format!("the body does not parse: {err}")))?;
            match body {
                LogBody::Case(rec) => {
                    if we.stream.as_deref() != Some(rec.case_id.as_str())
                        || we.stream_seq != rec.case_version
                    {
                        return Err(forged("the stream does not match the case event".into()));
                    }
                    if rec.actor.node != e.origin.as_str() {
                        return Err(forged("a case event must be written by its origin".into()));
                    }
                    let scope = self.fold_remote(&mut w, &rec).await.map_err(|p| match p {
                        FoldError::Store(s) => ApplyError::Store(s),
                        FoldError::Rule(p) => forged(p),
                    })?;
                    w.append_remote(e.clone(), LogBody::Case(rec), scope);
                }
                LogBody::Directive(d) => {
                    if let Err(problem) = self.check_directive(&mut w, &d, &mut applied).await? {
                        applied
                            .bad_signatures
                            .push(format!("{}#{}: {problem}", e.origin, e.origin_seq));
                        continue;
                    }
                    w.append_remote(e.clone(), LogBody::Directive(d), String::new());
                }
            }
        }
        w.set_have(peer, accepted.ack_upto);
        w.commit().await?;
        Ok(applied)
    }

    /// Folds a remote case event into the case; returns the case's scope.
    async fn fold_remote(
        &self,
        w: &mut WriteTx<'_>,
        rec: &EventRecord,
    ) -> Result<String, FoldError> {
        let existing = w.case(&rec.case_id).await.map_err(FoldError::Store)?;
        let case = match existing {
            None => {
                let case = Case::start(rec).map_err(|e| FoldError::Rule(e.to_string()))?;
                if case.received.accepting_node != rec.actor.node {
                    return Err(FoldError::Rule(
                        "a case is received only at its accepting hall".into(),
                    ));
                }
                case
            }
            Some(row) => {
                let mut case = row.case;
                if case.holder.as_deref() != Some(rec.actor.node.as_str()) {
                    return Err(FoldError::Rule(format!(
                        "{} wrote case {} held by {}",
                        rec.actor.node,
                        case.id,
                        case.holder.as_deref().unwrap_or("nobody")
                    )));
                }
                case.apply(rec)
                    .map_err(|e| FoldError::Rule(e.to_string()))?;
                case
            }
        };
        let scope = case.received.accepting_node.clone();
        w.put_case(self.case_row(&case));
        Ok(scope)
    }

    /// Checks a directive; `Ok(Err(..))` when it must be left out (bad
    /// signature), `Ok(Ok(()))` when it may be stored.
    async fn check_directive(
        &self,
        w: &mut WriteTx<'_>,
        d: &DirectiveRecord,
        applied: &mut Applied,
    ) -> Result<Result<(), String>, StoreError> {
        let key = &self.config.federation.root_public_key;
        match &d.directive {
            Directive::CataloguePublished {
                version,
                catalogue,
                signature,
            } => {
                if !signing::verify(key, catalogue.as_bytes(), signature) {
                    return Ok(Err(format!(
                        "catalogue version {version}: the root's signature does not hold"
                    )));
                }
                let Ok(cat) = serde_json::from_str::<Catalogue>(catalogue) else {
                    return Ok(Err(format!("catalogue version {version} does not parse")));
                };
                if cat.version != *version || cat.validate().is_err() {
                    return Ok(Err(format!("catalogue version {version} is not valid")));
                }
                if *version > self.catalogue().version {
                    w.install_published(&cat, catalogue, d.at_ms).await?;
                    applied.catalogue = Some(cat);
                }
                Ok(Ok(()))
            }
            Directive::CalendarPublished {
                year,
                calendar,
                signature,
            } => {
                if !signing::verify(key, calendar.as_bytes(), signature) {
                    return Ok(Err(format!(
                        "calendar {year}: the root's signature does not hold"
                    )));
                }
                let Ok(y) = serde_json::from_str::<crate::domain::calendar::YearCalendar>(calendar)
                else {
                    return Ok(Err(format!("calendar {year} does not parse")));
                };
                if y.year != *year || y.validate().is_err() {
                    return Ok(Err(format!("calendar {year} is not valid")));
                }
                w.put_calendar_in(&y, d.at_ms).await?;
                applied.calendar_changed = true;
                Ok(Ok(()))
            }
            Directive::NodeRevoked {
                node,
                serial,
                signature,
            } => {
                let msg = format!("{node}\n{serial}");
                if !signing::verify(key, msg.as_bytes(), signature) {
                    return Ok(Err(format!(
                        "revocation of {node}: the root's signature does not hold"
                    )));
                }
                applied.revoked.push(if serial.is_empty() {
                    node.clone()
                } else {
                    serial.clone()
                });
                Ok(Ok(()))
            }
            Directive::Recall {
                case_id,
                to,
                reason,
            } => {
                if let Some(row) = w.case(case_id).await?
                    && row.case.holder.as_deref() == Some(self.id.as_str())
                    && to != self.id.as_str()
                {
                    applied
                        .recalls
                        .push((case_id.clone(), to.clone(), reason.clone()));
                }
                Ok(Ok(()))
            }
        }
    }

    /// Obeys a recall: the holder hands the case over.
    pub async fn obey_recall(
        &self,
        case_id: &str,
        to: &str,
        reason: &str,
    ) -> Result<(), crate::error::Error> {
        let actor = crate::domain::case::Actor {
            username: "system".into(),
            role: Role::Supervisor,
            node: self.id.to_string(),
            department: None,
        };
        self.write_event_as(
            case_id,
            actor,
            Event::Transferred {
                to: to.to_owned(),
                reason: format!("调回上级：{reason} / recalled: {reason}"),
            },
        )
        .await
        .map(|_| ())
    }
}

enum FoldError {
    Store(StoreError),
    Rule(String),
}
