//! Personal sections a hall holds withheld, fetched from below when the
//! hall comes to hold the case.
//!
//! A case event's personal section goes up the tree only as far as a hall
//! that accepts, holds or held the case (`onewindow_store`'s `personal`
//! module decides, per entry, on the link up). A hall that comes to hold a
//! case later (an escalation, a recall, a transfer, a hand-over) holds the
//! sections of what was written before withheld. It asks for them with a
//! link question ([`SectionsAsk`]) that goes towards the case's accepting
//! hall, down (or up, then down) the tree like a file's question
//! (`fetch`), and is answered by the first hall on the way that holds them
//! whole. The answer is checked section by section against the hash that
//! the entry's hash covers (stored with the withheld row): a section whose
//! hash differs is refused and nothing of it is kept.
//!
//! A hall answers only for a hall that handles the case (it wrote one of
//! its events, holds it, or had it transferred or handed over to it). A
//! link speaks only for its own subtree, as for files.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use onewindow_domain::case::Event;
use onewindow_domain::log::LogBody;
use serde::{Deserialize, Serialize};

use crate::Node;
use crate::error::Error;

/// The most entries one question names.
pub const PLACES_PER_ASK: usize = 32;
/// The most section bytes one answer carries (in base64, in JSON, it stays
/// under the link's bound on an answer, 64 KiB).
pub const ANSWER_BYTES: usize = 40 * 1024;

/// A question for the personal sections of a case's entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionsAsk {
    /// The case.
    pub case_id: String,
    /// The hall that accepted it, towards which the question goes.
    pub at: String,
    /// The hall that asks.
    pub by: String,
    /// The entries, as `(origin, origin sequence)`.
    pub places: Vec<(String, u64)>,
    /// Asked for a supervisor's request at `by`, a hall above the
    /// answering one, to be shown and not kept (absent in the questions of
    /// a hall that holds the case).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub supervise: bool,
}

/// A case with the personal sections fetched for one supervisor's request
/// (shown, not kept).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonalData {
    /// The case number.
    pub case_number: String,
    /// The case, folded from its events with the sections fetched.
    pub case: onewindow_domain::case::Case,
    /// Sections fetched from below for this request.
    pub fetched: usize,
    /// Sections still withheld (none came for them).
    pub withheld: usize,
}

/// One entry's personal section, in answer to a [`SectionsAsk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// The entry's origin.
    pub origin: String,
    /// Its origin sequence.
    pub seq: u64,
    /// The section's bytes, in base64.
    pub data: String,
}

impl Node {
    /// Does any hall above this one always take personal data (`[privacy]
    /// personal_data_at` names it or its tier)?
    pub(crate) fn personal_data_above(&self) -> bool {
        let named = &self.config.privacy.personal_data_at;
        let mut hall = self.id.parent();
        while let Some(h) = hall {
            let tier = self.config.node.tiers.get(h.depth());
            if named.iter().any(|n| n == h.as_str() || Some(n) == tier) {
                return true;
            }
            hall = h.parent();
        }
        false
    }

    /// The keyed digest of an applicant's ID number (HMAC-SHA256 under
    /// `[privacy] id_digest_key`, hex; the number trimmed and in capitals);
    /// `None` without a key.
    pub fn id_digest(&self, id_number: &str) -> Option<String> {
        let key = hex::decode(self.config.privacy.id_digest_key.trim()).ok()?;
        if key.is_empty() {
            return None;
        }
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let number = id_number.trim().to_ascii_uppercase();
        Some(hex::encode(
            ring::hmac::sign(&key, number.as_bytes()).as_ref(),
        ))
    }

    /// Passes a question for sections towards the case's accepting hall:
    /// down when it is below this one, up otherwise (never back up what
    /// came from the parent).
    pub(crate) async fn ask_for_sections(
        &self,
        ask: &SectionsAsk,
        from_parent: bool,
    ) -> Option<String> {
        self.ask_towards(&ask.at, &crate::Query::Sections(ask.clone()), from_parent)
            .await
    }

    /// Answers a question for sections from `peer`: from this hall's store
    /// when it holds them whole, or passed on towards the accepting hall.
    /// `None` is the refusal.
    pub(crate) async fn answer_sections(
        &self,
        peer: &federation::NodeId,
        from_parent: bool,
        ask: &SectionsAsk,
    ) -> Option<String> {
        let by = federation::NodeId::new(ask.by.clone()).ok()?;
        federation::NodeId::new(ask.at.clone()).ok()?;
        if !self.speaks_for(peer, &by, from_parent)
            || ask.places.is_empty()
            || ask.places.len() > PLACES_PER_ASK
        {
            tracing::warn!(%peer, by = %ask.by, case = %ask.case_id,
                "refused a question for personal sections outside the asking link's subtree");
            return None;
        }
        match self.sections_for(ask).await {
            Ok(Some(sections)) => serde_json::to_string(&sections).ok(),
            Ok(None) => self.ask_for_sections(ask, from_parent).await,
            Err(e) => {
                tracing::warn!(%peer, by = %ask.by, case = %ask.case_id, code = e.code,
                    "refused a question for personal sections");
                None
            }
        }
    }

    /// The sections asked for, when this hall holds every one of them
    /// whole (`None` when not: the question goes on), for a hall that
    /// handles the case.
    async fn sections_for(&self, ask: &SectionsAsk) -> Result<Option<Vec<Section>>, Error> {
        let held = self
            .store
            .sealed_sections(&ask.case_id, &ask.places)
            .await
            .map_err(|e| Error::storage(&e))?;
        if held.len() < ask.places.len() && ask.at != self.id.as_str() {
            return Ok(None);
        }
        let events = self
            .store
            .case_events(&ask.case_id)
            .await
            .map_err(|e| Error::storage(&e))?;
        // A supervisor's request comes from a hall above this one.
        let mut handles = ask.supervise
            && federation::NodeId::new(ask.by.clone())
                .is_ok_and(|by| self.id.is_in_subtree_of(&by) && by != self.id);
        for e in &events {
            let LogBody::Case(rec) = &e.body else {
                continue;
            };
            handles |= rec.actor.node == ask.by;
            match &rec.event {
                Event::Transferred { to, .. } => handles |= *to == ask.by,
                Event::HandedOver { to, holder, .. } => {
                    handles |= *to == ask.by || *holder == ask.by;
                }
                Event::Crossed { holder, .. } => handles |= *holder == ask.by,
                _ => {}
            }
        }
        if !handles {
            return Err(Error::not_found("case_not_found", &[]));
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        for (origin, seq, data) in held {
            if !out.is_empty() && bytes + data.len() > ANSWER_BYTES {
                break;
            }
            if data.len() > ANSWER_BYTES {
                tracing::warn!(case = %ask.case_id, %origin, seq,
                    "a personal section too large for one answer is not sent");
                continue;
            }
            bytes += data.len();
            out.push(Section {
                origin,
                seq,
                data: B64.encode(&data),
            });
        }
        Ok(Some(out))
    }

    /// Asks the hall below that keeps a case's applicant section whether
    /// `last4` ends the applicant's identifier (a progress query where the
    /// section is withheld): `false` when it does not, or no answer came.
    pub(crate) async fn last4_checked_below(&self, number: &str, at: &str, last4: &str) -> bool {
        let q = crate::Query::Last4 {
            number: number.to_owned(),
            last4: last4.trim().to_owned(),
            at: at.to_owned(),
        };
        match onewindow_store::child_branch(&self.id, at) {
            Some(child) => self.ask_down(child.as_str(), &q).await.as_deref() == Some("true"),
            None => false,
        }
    }

    /// Answers whether `last4` ends a case's applicant identifier: from
    /// this hall's row when it holds the section, or passed down towards
    /// the accepting hall `at`. Only a parent asks.
    pub(crate) async fn answer_last4(
        &self,
        from_parent: bool,
        number: &str,
        last4: &str,
        at: &str,
    ) -> Option<String> {
        if !from_parent || last4.chars().count() != 4 {
            return None;
        }
        let row = self.store.case(number).await.ok()??;
        if row.applicant_last4.is_empty() {
            return self
                .last4_checked_below(number, at, last4)
                .await
                .then(|| "true".to_owned());
        }
        row.applicant_last4
            .eq_ignore_ascii_case(last4)
            .then(|| "true".to_owned())
    }

    /// Fetches the withheld sections of one case this hall holds from the
    /// hall below that has them, and fills them in; the number filled.
    /// `personal_data_unreachable` when none came (the link is down, or
    /// nobody answered).
    pub async fn fetch_sections(&self, case_id: &str, at: &str) -> Result<usize, Error> {
        let unreachable = || {
            Error::new(
                crate::error::ErrorKind::Unavailable,
                "personal_data_unreachable",
                &[],
            )
        };
        let mut total = 0;
        loop {
            let places = self
                .store
                .withheld_entries(case_id)
                .await
                .map_err(|e| Error::storage(&e))?;
            if places.is_empty() {
                break;
            }
            let ask = SectionsAsk {
                case_id: case_id.to_owned(),
                at: at.to_owned(),
                by: self.id.to_string(),
                places: places.into_iter().take(PLACES_PER_ASK).collect(),
                supervise: false,
            };
            let answer = self
                .ask_for_sections(&ask, false)
                .await
                .ok_or_else(unreachable)?;
            let sections: Vec<Section> =
                serde_json::from_str(&answer).map_err(|_| unreachable())?;
            let mut given = Vec::with_capacity(sections.len());
            for s in sections {
                if !ask
                    .places
                    .iter()
                    .any(|(o, q)| *o == s.origin && *q == s.seq)
                {
                    continue;
                }
                if let Ok(bytes) = B64.decode(&s.data) {
                    given.push((s.origin, s.seq, bytes));
                }
            }
            let filled = self.fill_sections(case_id, &given).await?;
            self.metrics.sections_filled(filled.filled as u64);
            if filled.refused > 0 {
                tracing::warn!(case = %case_id, %at, refused = filled.refused,
                    "refused personal sections whose hash is not the entry's");
                self.metrics.sections_refused(filled.refused as u64);
            }
            if filled.filled == 0 {
                return Err(unreachable());
            }
            total += filled.filled;
        }
        Ok(total)
    }

    /// Puts sections of a case's entries in place (each checked against
    /// its stored hash) and the case row's last four characters with them.
    pub async fn fill_sections(
        &self,
        case_id: &str,
        sections: &[(String, u64, Vec<u8>)],
    ) -> Result<onewindow_store::Filled, Error> {
        let mut tx = self.store.write().await.map_err(|e| Error::storage(&e))?;
        let filled = tx
            .fill_sealed(case_id, sections)
            .await
            .map_err(|e| Error::storage(&e))?;
        tx.commit().await.map_err(|e| Error::storage(&e))?;
        if filled.filled > 0
            && let Some(row) = self
                .store
                .case(case_id)
                .await
                .map_err(|e| Error::storage(&e))?
        {
            let last4 = row.case.received.applicant.last4().to_owned();
            if !last4.is_empty() && last4 != row.applicant_last4 {
                let mut tx = self.store.write().await.map_err(|e| Error::storage(&e))?;
                tx.set_applicant_last4(case_id, &last4)
                    .await
                    .map_err(|e| Error::storage(&e))?;
                tx.commit().await.map_err(|e| Error::storage(&e))?;
            }
        }
        Ok(filled)
    }

    /// One round over at most [`FILL_CASES`] of the open cases this hall
    /// holds whose sections it holds withheld, in case order after the
    /// last one the round before tried (from the first again once none is
    /// left after it): fetches each; the number of sections filled. A case
    /// whose sections do not come is tried again when the rounds come
    /// round to it.
    pub async fn fill_withheld(self: &Arc<Self>) -> Result<usize, Error> {
        let after = self
            .fill_after
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        let mut cases = self
            .store
            .withheld_cases(&after, FILL_CASES)
            .await
            .map_err(|e| Error::storage(&e))?;
        if cases.is_empty() && !after.is_empty() {
            cases = self
                .store
                .withheld_cases("", FILL_CASES)
                .await
                .map_err(|e| Error::storage(&e))?;
        }
        if let (Some(last), Ok(mut a)) = (cases.last(), self.fill_after.lock()) {
            a.clone_from(&last.case_id);
        }
        let mut total = 0;
        for c in cases {
            match self.fetch_sections(&c.case_id, &c.accepting_node).await {
                Ok(n) => {
                    tracing::info!(case = %c.case_id, sections = n,
                        "fetched the personal sections of a case this hall holds");
                    total += n;
                }
                Err(e) => tracing::info!(case = %c.case_id, code = e.code,
                    "the personal sections of a case this hall holds did not come yet"),
            }
        }
        if total > 0
            && let Err(e) = self.obey_handovers().await
        {
            // A case handed over waits for its sections.
            tracing::warn!(error = %e, "could not carry out a handover");
        }
        Ok(total)
    }
}

/// Cases a round of [`Node::fill_withheld`] asks about at most.
pub const FILL_CASES: i64 = 100;

/// The audit actions of a supervisor's request for a case's personal data.
pub const REQUESTED: &str = "personal_data_requested";
/// The audit action of its answer.
pub const SHOWN: &str = "personal_data_shown";

impl Node {
    /// A supervisor's request (`by`, with `reason`, 1 to 500 characters)
    /// for the personal data of case `number` held here: the request is
    /// kept in the audit log before anything is asked, the sections this
    /// hall holds withheld are fetched from below, checked against their
    /// hashes and folded into the case for this answer only (nothing is
    /// stored), and the answer is kept in the audit log too.
    pub async fn request_personal_data(
        &self,
        number: &str,
        reason: &str,
        by: &str,
    ) -> Result<PersonalData, Error> {
        let reason = crate::order_reason(reason)?;
        let number = onewindow_domain::case_number::CaseNumber::parse(number)?.to_string();
        let row = self
            .store
            .case(&number)
            .await?
            .ok_or_else(|| Error::not_found("case_not_found", &[("number", &number)]))?;
        let rec = self.audit_record(REQUESTED, by, &number, reason).await;
        let mut w = self.store.write().await?;
        w.append_audit(rec)?;
        w.commit().await?;
        let mut events = self.store.case_events(&number).await?;
        let places: Vec<(String, u64)> = events
            .iter()
            .filter(|e| matches!(e.entry.sealed, federation::Sealed::Withheld(_)))
            .map(|e| (e.entry.origin.to_string(), e.entry.origin_seq))
            .collect();
        let mut fetched = 0;
        for chunk in places.chunks(PLACES_PER_ASK) {
            let ask = SectionsAsk {
                case_id: number.clone(),
                at: row.accepting_node.clone(),
                by: self.id.to_string(),
                places: chunk.to_vec(),
                supervise: true,
            };
            let Some(answer) = self.ask_for_sections(&ask, false).await else {
                break;
            };
            let Ok(sections) = serde_json::from_str::<Vec<Section>>(&answer) else {
                break;
            };
            for s in sections {
                let Ok(bytes) = B64.decode(&s.data) else {
                    continue;
                };
                let open = federation::Sealed::open(bytes);
                let Some(e) = events
                    .iter_mut()
                    .find(|e| e.entry.origin.as_str() == s.origin && e.entry.origin_seq == s.seq)
                else {
                    continue;
                };
                if matches!(e.entry.sealed, federation::Sealed::Withheld(h) if h == open.digest())
                    && !open.is_empty()
                {
                    e.entry.sealed = open;
                    fetched += 1;
                } else {
                    self.metrics.sections_refused(1);
                }
            }
        }
        let mut records = Vec::with_capacity(events.len());
        for e in &events {
            let body = self
                .store
                .decode_body(&e.entry)
                .await?
                .map_err(|err| Error::storage(&err))?;
            if let LogBody::Case(r) = body {
                records.push(r);
            }
        }
        let case = onewindow_domain::case::Case::fold(&records).map_err(|e| Error::storage(&e))?;
        let withheld = places.len() - fetched;
        let detail = format!("{fetched} of {} sections", places.len());
        let rec = self.audit_record(SHOWN, by, &number, &detail).await;
        let mut w = self.store.write().await?;
        w.append_audit(rec)?;
        w.commit().await?;
        if !places.is_empty() && fetched == 0 {
            return Err(Error::new(
                crate::error::ErrorKind::Unavailable,
                "personal_data_unreachable",
                &[],
            ));
        }
        Ok(PersonalData {
            case_number: number,
            case,
            fetched,
            withheld,
        })
    }
}

/// The audit action of a purge of personal sections past their retention.
pub const PURGED: &str = "personal_data_purged";

/// The most sections one purge reads at once.
const PURGE_BATCH: i64 = 1000;

impl Node {
    /// Does this hall keep personal data for good (`[privacy]
    /// personal_data_at` names it or its tier)?
    pub fn keeps_personal_data(&self) -> bool {
        self.config
            .privacy
            .personal_data_at
            .iter()
            .any(|n| n == self.id.as_str() || n == &self.tier)
    }

    /// Purges the personal sections of the cases closed longer ago than
    /// their matter's retention (`[privacy] retention_days`,
    /// `retention_matters`): each entry keeps its section's hash and still
    /// verifies. A purge that removes any writes one audit record
    /// (`personal_data_purged`, actor `(node)`, the count in its detail).
    /// Nothing is purged at a hall that keeps personal data for good.
    /// Returns the number of sections purged.
    pub async fn purge_personal(&self) -> Result<usize, Error> {
        if self.keeps_personal_data() {
            return Ok(0);
        }
        const DAY_MS: i64 = 86_400_000;
        let now = self.now_ms();
        let privacy = &self.config.privacy;
        let shortest = privacy
            .retention_matters
            .iter()
            .filter_map(|e| e.rsplit_once(':'))
            .filter_map(|(_, d)| d.trim().parse::<u32>().ok())
            .fold(privacy.retention_days, u32::min);
        let mut total = 0;
        let mut cases = std::collections::HashSet::new();
        loop {
            let kept = self
                .store
                .kept_sections(now - i64::from(shortest) * DAY_MS, PURGE_BATCH)
                .await?;
            let due: Vec<_> = kept
                .iter()
                .filter(|k| {
                    let days = privacy.retention_days_of(&k.matter_code);
                    k.closed_at_ms < now - i64::from(days) * DAY_MS
                })
                .cloned()
                .collect();
            if due.is_empty() {
                break;
            }
            cases.extend(due.iter().map(|k| k.case_id.clone()));
            total += due.len();
            let mut w = self.store.write().await?;
            w.purge_sections(&due).await?;
            w.commit().await?;
            if due.len() < kept.len() || kept.len() < usize::try_from(PURGE_BATCH).unwrap_or(0) {
                break;
            }
        }
        if total > 0 {
            let detail = format!("{total} sections of {} cases", cases.len());
            let rec = self.record(PURGED, onewindow_domain::log::NODE_ACTOR, "", "", &detail);
            let mut w = self.store.write().await?;
            w.append_audit(rec)?;
            w.commit().await?;
            tracing::info!(
                sections = total,
                cases = cases.len(),
                "purged personal data past its retention"
            );
        }
        Ok(total)
    }
}
