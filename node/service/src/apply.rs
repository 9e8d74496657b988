//! Applying what a link brought: case events are folded into the read model
//! under the same rules as local writes, plus the one-writer rule; directives
//! from above change the rules only when the root's signature holds.

use std::collections::HashMap;

use federation::replication::{Accepted, Batch, Direction};

use super::signing;
use crate::Node;
use onewindow_domain::case::{Case, Event, EventRecord, Role, Warning, WarningRule};
use onewindow_domain::catalogue::Catalogue;
use onewindow_domain::codec::{self, Book, DecodeError};
use onewindow_domain::log::{Directive, DirectiveRecord, LogBody};
use onewindow_store::{StoreError, WriteTx};

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
    /// The district's decisions on appeals against warnings of cases this
    /// node holds, to write into those cases.
    pub decisions: Vec<AppealDecided>,
    /// Cases this node holds that the district reopens: (case, reason).
    pub reopens: Vec<(String, String)>,
    /// Cases handed up to this node that arrived late: (case, the hall
    /// that handed it up, hours).
    pub late: Vec<(String, String, u32)>,
    /// Cross-district cases handed to this node as the common ancestor of
    /// their two branches, to send on down ([`Node::obey_crossing`]).
    pub crossings: Vec<String>,
    /// Directives refused for a bad signature (kept out of the store).
    pub bad_signatures: Vec<String>,
    /// Nodes or certificate serials revoked by the root.
    pub revoked: Vec<String>,
    /// This node's children registered at the root (admitted from now on).
    pub registered: Vec<String>,
    /// A calendar year changed.
    pub calendar_changed: bool,
    /// Where the batch was cut: the index of the first entry not applied
    /// and why. Nothing from that entry on was stored, and the
    /// acknowledgement stops before it: an entry is never stored after one
    /// of its batch that was left out, so no origin's chain has a hole.
    pub cut: Option<(usize, Cut)>,
    /// The acknowledgement: `accepted.ack_upto`, or less when cut.
    pub ack_upto: u64,
    /// A write transaction was committed (false when nothing was new).
    pub committed: bool,
}

/// A decision on a warning's appeal that the holder writes into its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppealDecided {
    /// Case number.
    pub case_id: String,
    /// The appealed warning's rule.
    pub rule: WarningRule,
    /// Its level.
    pub level: Warning,
    /// Upheld or revoked.
    pub upheld: bool,
    /// Why.
    pub reason: String,
    /// Who decided, `username@node`.
    pub decided_by: String,
}

/// Why a batch was cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// The entry names a catalogue version this node does not hold yet; it
    /// will come again once the version has arrived.
    MissingCatalogue(i64),
    /// The entry breaks a rule (a security matter): the link is refused.
    Refused {
        /// Stable code.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// The cases a batch touches, by number, as folded so far.
///
/// Boxed: a case is about 1.4 KB, and each was moved whole into the map,
/// out of it and into its row (`memmove` was a tenth of `bench
/// replication`'s CPU).
type CaseMap = foldhash::HashMap<String, Box<Case>>;

impl Node {
    /// Applies the accepted entries of a batch from `peer` and records that
    /// the peer's log is held up to the acknowledgement, in one transaction.
    ///
    /// Every case the batch touches is read in one query and folded in
    /// memory; the events and the new read-model rows are written as
    /// multi-row statements on commit. A batch that brings nothing new
    /// costs no transaction.
    ///
    /// A case whose first entry in the batch is its `received` event is
    /// not read: the store cannot hold its row unless it holds that entry
    /// already, and the receiver passes on only entries it does not hold.
    /// Its row is inserted as new, so a peer that sends a `received` for a
    /// case held here fails the commit as a whole (the case's row and its
    /// `(case, version)` are unique); the batch is then applied again,
    /// reading every case it touches, and refused as it always was. That
    /// read found nothing for most of a batch, and on PostgreSQL the
    /// planner took a list of 512 case numbers over a few tens of
    /// thousands of rows for a whole scan of the table: 3.3 ms a read, a
    /// seventh of a district's apply under `bench replication`.
    pub async fn apply_batch(
        &self,
        peer: &str,
        batch: &Batch,
        accepted: &Accepted,
    ) -> Result<Applied, ApplyError> {
        match self.apply_once(peer, batch, accepted, false).await {
            Err(ApplyError::Store(e)) if e.is_unique_violation() => {
                tracing::debug!(peer, error = %e, "a case presumed new is held: applying the batch again, reading every case");
                self.apply_once(peer, batch, accepted, true).await
            }
            other => other,
        }
    }

    /// One attempt of [`Node::apply_batch`]; with `read_all`, every case
    /// the batch touches is read, those it starts included.
    async fn apply_once(
        &self,
        peer: &str,
        batch: &Batch,
        accepted: &Accepted,
        read_all: bool,
    ) -> Result<Applied, ApplyError> {
        let mut applied = Applied {
            ack_upto: accepted.ack_upto,
            ..Applied::default()
        };
        let from_child = (batch.direction == Direction::Up).then_some(peer);
        // Decode first: what cannot be read cuts the batch before it.
        let mut bodies: Vec<(usize, LogBody)> = Vec::with_capacity(accepted.apply.len());
        let mut local_books: HashMap<i64, Book> = HashMap::new();
        for &i in &accepted.apply {
            let e = &batch.entries[i].entry;
            match self.decode_entry(e, &local_books).await? {
                Ok(body) => {
                    if let LogBody::Directive(DirectiveRecord {
                        directive: Directive::CataloguePublished { catalogue, .. },
                        ..
                    }) = &body
                        && let Ok(cat) = serde_json::from_str::<Catalogue>(catalogue)
                    {
                        let digest = codec::catalogue_digest(&cat);
                        local_books.insert(
                            cat.version,
                            Book {
                                digest,
                                catalogue: std::sync::Arc::new(cat),
                            },
                        );
                    }
                    bodies.push((i, body));
                }
                Err(DecodeError::MissingCatalogue { version }) => {
                    applied.cut = Some((i, Cut::MissingCatalogue(version)));
                    break;
                }
                Err(err) => {
                    applied.cut = Some((
                        i,
                        Cut::Refused {
                            code: "forged_entry",
                            detail: format!("entry {}#{}: {err}", e.origin, e.origin_seq),
                        },
                    ));
                    break;
                }
            }
        }
        let mut w = self.store.write().await?;
        // Every case the batch touches, and those it starts (their first
        // entry in it is `received`) unless every case is to be read.
        let mut all: foldhash::HashSet<&str> = foldhash::HashSet::default();
        let mut starts: foldhash::HashSet<&str> = foldhash::HashSet::default();
        for r in bodies.iter().filter_map(|(_, b)| b.case()) {
            let id = r.case_id.as_str();
            if all.insert(id)
                && !read_all
                && r.case_version == 1
                && matches!(r.event, Event::Received(_))
            {
                starts.insert(id);
            }
        }
        let ids: Vec<&str> = all.difference(&starts).copied().collect();
        // Room for every case the batch touches, new ones included.
        let mut cases: CaseMap = CaseMap::with_capacity_and_hasher(all.len(), Default::default());
        cases.extend(
            w.cases_by_id(&ids)
                .await?
                .into_iter()
                .map(|(id, row)| (id, row.case)),
        );
        // Each case touched, in order, and whether the store held it
        // before (one it did not is inserted, not upserted).
        let mut touched: Vec<(String, bool)> = Vec::with_capacity(ids.len());
        let mut seen: foldhash::HashSet<String> =
            foldhash::HashSet::with_capacity_and_hasher(ids.len(), Default::default());
        let mut stored = 0usize;
        for (i, body) in bodies {
            let we = &batch.entries[i];
            let e = &we.entry;
            let refuse = |code: &'static str, detail: String| {
                Some((
                    i,
                    Cut::Refused {
                        code,
                        detail: format!("entry {}#{}: {detail}", e.origin, e.origin_seq),
                    },
                ))
            };
            match body {
                LogBody::Case(rec) => {
                    if batch.direction == Direction::Down
                        && (we.stream.as_deref() != Some(rec.case_id.as_str())
                            || we.stream_seq != rec.case_version)
                    {
                        applied.cut = refuse(
                            "forged_entry",
                            "the stream does not match the case event".into(),
                        );
                        break;
                    }
                    let held = cases.contains_key(&rec.case_id);
                    match fold(&mut cases, &rec, batch.direction == Direction::Down) {
                        Ok(scope) => {
                            if batch.direction == Direction::Up
                                && let Some(hours) = self.arrived_late(&rec)
                            {
                                applied.late.push((
                                    rec.case_id.clone(),
                                    rec.actor.node.clone(),
                                    hours,
                                ));
                            }
                            if matches!(&rec.event, Event::Transferred { to, .. } if to == self.id.as_str())
                                && cases.get(&rec.case_id).is_some_and(|c| self.sends_on(c))
                            {
                                applied.crossings.push(rec.case_id.clone());
                            }
                            if seen.insert(rec.case_id.clone()) {
                                touched.push((rec.case_id.clone(), held));
                            }
                            w.append_remote(e.clone(), LogBody::Case(rec), scope, from_child);
                            stored += 1;
                        }
                        Err(problem) => {
                            applied.cut = refuse("forged_entry", problem);
                            break;
                        }
                    }
                }
                LogBody::Directive(d) => {
                    // Only the root writes directives: none travels up, and
                    // one from any other origin is forged.
                    if batch.direction == Direction::Up || e.origin.depth() != 0 {
                        applied.cut = refuse(
                            "directive_not_from_root",
                            format!("a {} directive not written by the root", d.directive.kind()),
                        );
                        break;
                    }
                    if let Err(problem) = self.check_directive(&mut w, &d, &mut applied).await? {
                        applied
                            .bad_signatures
                            .push(format!("{}#{}: {problem}", e.origin, e.origin_seq));
                        applied.cut = refuse("bad_signature", problem);
                        break;
                    }
                    w.append_remote(e.clone(), LogBody::Directive(d), String::new(), from_child);
                    stored += 1;
                }
                LogBody::Audit(a) => {
                    // A hall's actions travel up only (a hall taking
                    // back its own log after a restore gets its subtree's
                    // from its parent).
                    if batch.direction == Direction::Down && !e.origin.is_in_subtree_of(&self.id) {
                        applied.cut = refuse(
                            "audit_from_above",
                            format!("a {} action sent down", a.action),
                        );
                        break;
                    }
                    let scope = e.origin.to_string();
                    w.append_remote(e.clone(), LogBody::Audit(a), scope, from_child);
                    stored += 1;
                }
            }
        }
        if let Some((i, _)) = &applied.cut {
            applied.ack_upto = accepted.truncate_before(batch, *i).ack_upto;
        }
        let new = touched.iter().filter(|(_, held)| !held).count();
        w.reserve_cases(new, touched.len() - new);
        for (id, held) in touched {
            if let Some(case) = cases.remove(&id) {
                let row = self.case_row_owned(case);
                if held {
                    w.put_case(row);
                } else {
                    w.put_new_case(row);
                }
            }
        }
        if stored == 0 && applied.catalogue.is_none() && !applied.calendar_changed {
            // Nothing new: the acknowledgement needs no fsync; the cursor is
            // written with the next batch that brings something.
            drop(w);
            return Ok(applied);
        }
        w.set_have(peer, applied.ack_upto);
        w.commit().await?;
        applied.committed = true;
        Ok(applied)
    }

    pub(crate) async fn decode_entry(
        &self,
        e: &federation::LogEntry,
        local: &HashMap<i64, Book>,
    ) -> Result<Result<LogBody, DecodeError>, StoreError> {
        let read = || {
            codec::decode(&e.body, e.sealed.bytes(), e.origin.as_str(), |v| {
                local.get(&v).cloned().or_else(|| self.store.book(v))
            })
        };
        match read() {
            Err(DecodeError::MissingCatalogue { version }) if !local.contains_key(&version) => {
                if self.store.load_book(version).await? {
                    Ok(read())
                } else {
                    Ok(Err(DecodeError::MissingCatalogue { version }))
                }
            }
            other => Ok(other),
        }
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
                let Ok(y) =
                    serde_json::from_str::<onewindow_domain::calendar::YearCalendar>(calendar)
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
                if serial.is_empty() {
                    w.fleet_revoked(node, d.at_ms).await?;
                }
                applied.revoked.push(if serial.is_empty() {
                    node.clone()
                } else {
                    serial.clone()
                });
                Ok(Ok(()))
            }
            Directive::NodeRegistered { node, signature } => {
                let msg = onewindow_domain::log::registration_text(node);
                if !signing::verify(key, msg.as_bytes(), signature) {
                    return Ok(Err(format!(
                        "registration of {node}: the root's signature does not hold"
                    )));
                }
                if federation::NodeId::new(node.clone())
                    .is_ok_and(|n| n.parent().as_ref() == Some(&self.id))
                {
                    applied.registered.push(node.clone());
                }
                Ok(Ok(()))
            }
            Directive::StaffAccount { account, signature } => {
                let msg = onewindow_domain::log::staff_text(account);
                if !signing::verify(key, msg.as_bytes(), signature) {
                    return Ok(Err(format!(
                        "staff account {} at {}: the root's signature does not hold",
                        account.username, account.hall
                    )));
                }
                if account.hall == self.id.as_str() {
                    let ended = w.take_staff_account(account, self.now_ms()).await?;
                    tracing::info!(username = %account.username, active = account.active,
                        sessions_ended = ended, "staff account from the district taken");
                }
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
            Directive::PeerCatalogue { .. } => self.keep_peer_catalogue(w, d).await,
            Directive::Handover { hall, heir, reason } => {
                w.put_handover(&onewindow_store::Handover {
                    hall: hall.clone(),
                    heir: heir.clone(),
                    reason: reason.clone(),
                    at_ms: d.at_ms,
                })
                .await?;
                self.note_handover(hall);
                Ok(Ok(()))
            }
            Directive::Reopen { case_id, reason } => {
                if let Some(row) = w.case(case_id).await?
                    && row.case.holder.as_deref() == Some(self.id.as_str())
                {
                    applied.reopens.push((case_id.clone(), reason.clone()));
                }
                Ok(Ok(()))
            }
            Directive::WarningDecision {
                case_id,
                rule,
                level,
                upheld,
                reason,
            } => {
                if let Some(row) = w.case(case_id).await?
                    && row.case.holder.as_deref() == Some(self.id.as_str())
                {
                    applied.decisions.push(AppealDecided {
                        case_id: case_id.clone(),
                        rule: *rule,
                        level: *level,
                        upheld: *upheld,
                        reason: reason.clone(),
                        decided_by: format!(
                            "{}@{}",
                            d.issued_by,
                            self.id.as_str().split('.').next().unwrap_or_default()
                        ),
                    });
                }
                Ok(Ok(()))
            }
        }
    }

    /// The actor of what this node writes into a case on an order of the
    /// district.
    pub(crate) fn system_actor(&self) -> onewindow_domain::case::Actor {
        onewindow_domain::case::Actor {
            username: "system".into(),
            role: Role::Supervisor,
            node: self.id.to_string(),
            department: None,
        }
    }

    /// A case handed up to this node from below, arriving more than
    /// `[audit] late_forwarding_hours` after it was written: the hours.
    fn arrived_late(&self, rec: &EventRecord) -> Option<u32> {
        let Event::Transferred { to, .. } = &rec.event else {
            return None;
        };
        if to != self.id.as_str() {
            return None;
        }
        let hours = (self.now_ms() - rec.at_ms) / 3_600_000;
        (hours >= i64::from(self.config.audit.late_forwarding_hours))
            .then(|| u32::try_from(hours).unwrap_or(u32::MAX))
    }

    /// Records in a case handed up to this node that it arrived late.
    pub async fn obey_late(
        &self,
        case_id: &str,
        from: &str,
        hours: u32,
    ) -> Result<(), crate::error::Error> {
        self.write_event_as(
            case_id,
            self.system_actor(),
            Event::ForwardedLate {
                from: from.to_owned(),
                hours,
            },
        )
        .await
        .map(|_| ())
    }

    /// Writes the district's decision on an appeal into a case this node
    /// holds.
    pub async fn obey_decision(&self, d: &AppealDecided) -> Result<(), crate::error::Error> {
        let actor = self.system_actor();
        self.write_event_as(
            &d.case_id,
            actor,
            Event::WarningDecided {
                rule: d.rule,
                level: d.level,
                upheld: d.upheld,
                reason: d.reason.clone(),
                decided_by: d.decided_by.clone(),
            },
        )
        .await
        .map(|_| ())
    }

    /// Obeys the district's reopening of a case this node holds: the case
    /// goes back to `accepted` here, and up again to the hall that decides
    /// its matter.
    pub async fn obey_reopen(
        &self,
        case_id: &str,
        reason: &str,
    ) -> Result<(), crate::error::Error> {
        let actor = self.system_actor();
        self.write_event_as(
            case_id,
            actor,
            Event::Reopened {
                reason: reason.to_owned(),
            },
        )
        .await
        .map(|_| ())
    }

    /// Obeys a recall: the holder hands the case over.
    pub async fn obey_recall(
        &self,
        case_id: &str,
        to: &str,
        reason: &str,
    ) -> Result<(), crate::error::Error> {
        let actor = self.system_actor();
        let reason = onewindow_i18n::text("history.recalled", &[("reason", &reason)]).joined();
        self.write_event_as(
            case_id,
            actor,
            Event::Transferred {
                to: to.to_owned(),
                reason,
            },
        )
        .await
        .map(|_| ())
    }
}

/// Folds a remote case event into the batch's cases under the rules every
/// case's history keeps (`Case::replay`: the same as a local write but for
/// the rules of what is written now, such as the three people, which the
/// writing hall checked), plus the one-writer rule; returns the case's
/// scope.
fn fold(cases: &mut CaseMap, rec: &EventRecord, from_above: bool) -> Result<String, String> {
    // Only the district hands a case over (`service::handover`).
    if matches!(rec.event, Event::HandedOver { .. }) && rec.actor.node.contains('.') {
        return Err(format!(
            "{} handed over case {}",
            rec.actor.node, rec.case_id
        ));
    }
    // A crossing goes down towards the hall that holds the case from now
    // on; every other event towards the hall that serves it.
    let scope = |case: &Case| match &rec.event {
        Event::Crossed { holder, .. } => holder.clone(),
        _ => case.window().to_owned(),
    };
    match cases.get_mut(&rec.case_id) {
        // A case handed over or sent across to this branch starts here from
        // the records its handover or crossing carries, written by the hall
        // above while it held it. From below, every case starts with
        // `received`: a parent holds all that its subtree wrote.
        None if from_above && rec.event.carried().is_some_and(|h| !h.is_empty()) => {
            let Some(history) = rec.event.carried() else {
                return Err("not a handover".into());
            };
            let before = Case::fold(history).map_err(|e| e.to_string())?;
            if before.holder.as_deref() != Some(rec.actor.node.as_str()) {
                return Err(format!(
                    "{} handed over case {} held by {}",
                    rec.actor.node,
                    before.id,
                    before.holder.as_deref().unwrap_or("nobody")
                ));
            }
            let case = Case::fold([rec]).map_err(|e| e.to_string())?;
            let scope = scope(&case);
            cases.insert(rec.case_id.clone(), Box::new(case));
            Ok(scope)
        }
        None => {
            let case = Case::start(rec).map_err(|e| e.to_string())?;
            if case.received.accepting_node != rec.actor.node {
                return Err("a case is received only at its accepting hall".into());
            }
            let scope = case.received.accepting_node.clone();
            cases.insert(rec.case_id.clone(), Box::new(case));
            Ok(scope)
        }
        Some(case) => {
            if case.holder.as_deref() != Some(rec.actor.node.as_str()) {
                return Err(format!(
                    "{} wrote case {} held by {}",
                    rec.actor.node,
                    case.id,
                    case.holder.as_deref().unwrap_or("nobody")
                ));
            }
            // Apply to a copy: a refused event leaves the case as it was.
            // A crossing from above brings what this branch lacks of it.
            let mut next = case.clone();
            if from_above {
                next.catch_up(rec)
            } else {
                next.replay(rec)
            }
            .map_err(|e| e.to_string())?;
            *case = next;
            Ok(scope(case))
        }
    }
}
