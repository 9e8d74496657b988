//! Data instead of paper (比对数据、减免材料): a material whose checklist
//! line names matters in `by_data` may be replaced by the granted result
//! of such a matter, issued earlier to the same applicant in this hall's
//! subtree.
//!
//! At the window, once the applicant's ID number or credit code is
//! entered, [`Node::data_results`] lists those results (case number,
//! matter, day of the decision, hall) and keeps the lookup as an audit
//! record (`data_lookup`: the clerk, the matter, the ID's last four
//! characters and how many results were shown). The clerk marks a
//! material presented by data with the case number
//! (`PresentedMaterial::by_data`); [`Node::check_by_data`] checks each
//! such reference again when the case is received or the materials are
//! resubmitted, so a reference that is not such a result stores nothing.

use std::collections::BTreeSet;

use onewindow_domain::case::{ApplicantKind, Role, china_date};
use onewindow_domain::case_number::CaseNumber;
use onewindow_domain::catalogue::Matter;
use onewindow_domain::checklist::PresentedMaterial;
use onewindow_domain::ids;
use onewindow_i18n::{Arg, text_args};
use onewindow_store::{CaseFilter, CaseRow};
use serde::{Deserialize, Serialize};

use crate::Node;
use crate::error::{Error, ErrorKind};

/// Most results a lookup lists (the newest first).
const MAX_RESULTS: usize = 50;

/// Most of the applicant's cases read for one lookup.
const MAX_CASES_READ: i64 = 500;

/// A clerk's lookup: which matter is being received, for whom.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataLookup {
    /// The matter being received: its checklist says which results replace
    /// which materials.
    #[schema(min_length = 1, max_length = 40)]
    pub matter: String,
    /// Person (citizen ID number) or organisation (credit code); a person
    /// when absent.
    #[serde(default)]
    pub kind: Option<ApplicantKind>,
    /// The applicant's citizen ID number or unified social credit code
    /// (the check character must match).
    #[schema(pattern = "^[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]{18}$")]
    pub id_number: String,
}

/// An earlier granted result that the matter's checklist accepts in place
/// of a material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataResult {
    /// The earlier case's number: the reference to record.
    pub case_number: String,
    /// Its matter's code.
    pub matter: String,
    /// Its matter's Chinese name.
    pub matter_zh: String,
    /// Its matter's English name.
    pub matter_en: String,
    /// The day it was decided, `YYYY-MM-DD` (China).
    pub decided_on: String,
    /// The hall that accepted it (node id).
    pub hall: String,
    /// That hall's Chinese name.
    pub hall_zh: String,
    /// That hall's English name.
    pub hall_en: String,
    /// The materials of the matter being received that it replaces.
    pub replaces: Vec<String>,
}

/// Whether `hall` is `root` or below it.
fn in_subtree(hall: &str, root: &str) -> bool {
    hall == root
        || hall
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// "Not such a result" for `reference` given for material `m`.
fn not_such_result(m: &onewindow_domain::catalogue::Material, reference: &str) -> Error {
    Error::with_text(
        ErrorKind::Unprocessable,
        "by_data_not_found",
        text_args(
            "err.by_data_not_found",
            &[
                ("material", Arg::Each(&m.name_zh, &m.name_en)),
                ("reference", Arg::Plain(&reference)),
            ],
        ),
    )
}

impl Node {
    /// The earlier granted results of an applicant, in this hall's
    /// subtree, that the checklist of `matter` accepts in place of a
    /// material, newest first; a clerk's lookup, kept as an audit record.
    pub async fn data_results(
        &self,
        username: &str,
        role: Role,
        q: &DataLookup,
    ) -> Result<Vec<DataResult>, Error> {
        if role != Role::Clerk {
            return Err(Error::forbidden("action.accept"));
        }
        let m = self.matter_for_window(q.matter.trim())?;
        let id = applicant_id(q.kind.unwrap_or(ApplicantKind::Person), &q.id_number)?;
        let results = self.granted_results(&m, &id).await?;
        let last4: String = {
            let chars: Vec<char> = id.chars().collect();
            chars[chars.len().saturating_sub(4)..].iter().collect()
        };
        self.audit(
            "data_lookup",
            username,
            role,
            &m.code,
            &format!("ID …{last4}: {} results shown", results.len()),
        )
        .await;
        Ok(results)
    }

    /// [`Node::data_results`] without the role check and the record.
    async fn granted_results(&self, m: &Matter, id: &str) -> Result<Vec<DataResult>, Error> {
        let accepted: BTreeSet<&str> = m
            .materials
            .iter()
            .flat_map(|x| x.by_data.iter().map(String::as_str))
            .collect();
        if accepted.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .store
            .cases(&CaseFilter {
                applicant: Some(id.to_owned()),
                hall: Some(self.id.to_string()),
                limit: MAX_CASES_READ,
                ..CaseFilter::default()
            })
            .await?;
        let mut out: Vec<(i64, DataResult)> = rows
            .iter()
            .filter(|r| r.case.granted == Some(true) && accepted.contains(r.matter_code.as_str()))
            .map(|r| (decided_ms(r), self.data_result(m, r)))
            .collect();
        out.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.case_number.cmp(&b.1.case_number)));
        out.truncate(MAX_RESULTS);
        Ok(out.into_iter().map(|(_, r)| r).collect())
    }

    fn data_result(&self, m: &Matter, r: &CaseRow) -> DataResult {
        let hall = r.accepting_node.clone();
        DataResult {
            case_number: r.id.clone(),
            matter: r.matter_code.clone(),
            matter_zh: r.case.received.matter_name_zh.clone(),
            matter_en: r.case.received.matter_name_en.clone(),
            decided_on: china_date(decided_ms(r)).format("%Y-%m-%d").to_string(),
            hall_zh: self.hall_name(&hall, false),
            hall_en: self.hall_name(&hall, true),
            hall,
            replaces: m
                .materials
                .iter()
                .filter(|x| x.by_data.contains(&r.matter_code))
                .map(|x| x.code.clone())
                .collect(),
        }
    }

    /// The materials with every reference to a result checked: the case
    /// exists here, was granted, is the applicant's (`applicant_id`, as
    /// normalised), was accepted in this hall's subtree, and its matter is
    /// one the material's checklist line names. The references come back
    /// as case numbers in their canonical form.
    pub(crate) async fn check_by_data(
        &self,
        m: &Matter,
        applicant_id: &str,
        materials: &[PresentedMaterial],
    ) -> Result<Vec<PresentedMaterial>, Error> {
        let mut out = materials.to_vec();
        for p in &mut out {
            let Some(reference) = p.by_data.clone() else {
                continue;
            };
            // The checklist refuses a material that takes no data.
            let Some(line) = m.materials.iter().find(|x| x.code == p.code) else {
                continue;
            };
            let reference = reference.trim();
            let number = CaseNumber::parse(reference)
                .map(|n| n.to_string())
                .map_err(|_| not_such_result(line, reference))?;
            let row = self.store.case(&number).await?;
            let fits = row.is_some_and(|r| {
                r.case.granted == Some(true)
                    && r.case.received.applicant.id_number == applicant_id
                    && in_subtree(&r.accepting_node, self.id.as_str())
                    && line.by_data.contains(&r.matter_code)
            });
            if !fits {
                return Err(not_such_result(line, reference));
            }
            p.by_data = Some(number);
        }
        Ok(out)
    }
}

/// When a result was decided (or, for a row without it, last changed).
fn decided_ms(r: &CaseRow) -> i64 {
    r.case.decided_at_ms.unwrap_or(r.updated_at_ms)
}

/// The applicant's identifier as the window normalises it.
fn applicant_id(kind: ApplicantKind, typed: &str) -> Result<String, Error> {
    let on_id = |e: ids::IdError| Error::from(e).on_field("id_number");
    Ok(match kind {
        ApplicantKind::Person => ids::check_citizen_id(typed)
            .map_err(on_id)?
            .number()
            .to_owned(),
        ApplicantKind::Organisation => ids::check_credit_code(typed)
            .map_err(on_id)?
            .code()
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::in_subtree;

    #[test]
    fn a_subtree_is_whole_segments() {
        assert!(in_subtree("nanhai", "nanhai"));
        assert!(in_subtree("nanhai.guicheng", "nanhai"));
        assert!(!in_subtree("nanhaixi", "nanhai"));
        assert!(!in_subtree("nanhai", "nanhai.guicheng"));
    }
}
