//! Complete submissions for one matter, as a clerk would enter them: the
//! matter is picked from the node's own catalogue and the materials follow
//! its checklist, so every submission earns a receipt.

use anyhow::{Context, anyhow, bail};
use node::domain::catalogue::{Matter, Necessity, Serves};
use node::domain::checklist::PresentedMaterial;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::applicants;

/// `GET /api/v1/catalogue`.
#[derive(Debug, Deserialize)]
pub struct CatalogueView {
    /// Catalogue version.
    pub version: i64,
    /// Matters this hall may receive.
    pub matters: Vec<Guide>,
}

/// One matter as the hall offers it.
#[derive(Debug, Deserialize)]
pub struct Guide {
    /// The matter.
    #[serde(flatten)]
    pub matter: Matter,
    /// This hall decides it.
    pub decided_here: bool,
}

/// What every submission of a run carries; only the applicant changes.
#[derive(Debug, Clone)]
pub struct SubmissionPlan {
    /// Matter code.
    pub matter_code: String,
    /// Matter name (Chinese).
    pub matter_name: String,
    /// The applicants are organisations (the matter serves only them).
    pub organisation: bool,
    /// The materials presented.
    pub materials: Vec<PresentedMaterial>,
    /// The hall of another branch named to decide a cross-district case
    /// (异地通办), if any.
    pub deciding_hall: Option<String>,
}

impl SubmissionPlan {
    /// Picks a committed (not immediate) matter received at `tier` (or the
    /// one named `code`): preferably one decided here and serving persons,
    /// then by code.
    pub fn choose(
        catalogue: &CatalogueView,
        tier: &str,
        code: Option<&str>,
    ) -> anyhow::Result<Self> {
        let guide = match code {
            Some(code) => {
                let g = catalogue
                    .matters
                    .iter()
                    .find(|g| g.matter.code == code)
                    .ok_or_else(|| anyhow!("matter {code} is not received at this hall"))?;
                if g.matter.immediate {
                    bail!("matter {code} is immediate: it completes at the window, no receipt");
                }
                g
            }
            None => catalogue
                .matters
                .iter()
                .filter(|g| !g.matter.immediate && g.matter.delegation.receive_tiers.contains(tier))
                .min_by_key(|g| {
                    (
                        !g.decided_here,
                        g.matter.serves == Serves::Organisation,
                        g.matter.code.clone(),
                    )
                })
                .with_context(|| {
                    format!(
                        "catalogue version {} has no committed matter received at the {tier}",
                        catalogue.version
                    )
                })?,
        };
        Ok(Self::for_matter(&guide.matter))
    }

    /// The complete submission for `m`: every required or deferrable
    /// material that applies whatever the situation, with the originals and
    /// copies its checklist line asks for.
    pub fn for_matter(m: &Matter) -> Self {
        let materials = m
            .materials
            .iter()
            .filter(|x| x.situations.is_empty())
            .filter(|x| matches!(x.necessity, Necessity::Required | Necessity::Deferrable))
            .map(|x| PresentedMaterial {
                code: x.code.clone(),
                originals: x.originals,
                copies: x.copies,
                electronic: false,
                problem: None,
                by_data: None,
            })
            .collect();
        Self {
            matter_code: m.code.clone(),
            matter_name: m.name_zh.clone(),
            organisation: m.serves == Serves::Organisation,
            materials,
            deciding_hall: None,
        }
    }

    /// The submission of applicant `i`, as JSON.
    pub fn submission(&self, i: u64) -> Value {
        let mut v = json!({
            "matter_code": self.matter_code,
            "applicant": applicants::applicant_json(i, self.organisation),
            "materials": self.materials,
        });
        if let (Some(hall), Some(o)) = (&self.deciding_hall, v.as_object_mut()) {
            o.insert("deciding_hall".into(), json!(hall));
        }
        v
    }

    /// `POST /api/v1/cases` of applicant `i` by `clerk` (headers may be
    /// added before it is sent).
    pub fn request(&self, clerk: &onewindow_client::Client, i: u64) -> reqwest::RequestBuilder {
        clerk
            .request(onewindow_client::Method::POST, "/api/v1/cases")
            .header("content-type", "application/json")
            .body(self.body(i))
    }

    /// The submission of applicant `i`, as the request body.
    pub fn body(&self, i: u64) -> Vec<u8> {
        // A `Value` always serialises.
        serde_json::to_vec(&self.submission(i)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use node::domain::checklist::check;
    use std::collections::BTreeSet;

    #[test]
    fn every_starter_matter_gets_a_complete_submission() {
        let cat = node::starter::catalogue().unwrap();
        for m in cat.matters.values() {
            let plan = SubmissionPlan::for_matter(m);
            let result = check(m, &BTreeSet::new(), &plan.materials).unwrap();
            assert!(result.issues.is_empty(), "{}: {:?}", m.code, result.issues);
            assert!(result.deferred.is_empty(), "{}", m.code);
        }
    }

    #[test]
    fn the_choice_is_committed_and_received_at_the_district() {
        let cat = node::starter::catalogue().unwrap();
        let view = CatalogueView {
            version: cat.version,
            matters: cat
                .matters
                .values()
                .map(|m| Guide {
                    matter: m.clone(),
                    decided_here: m.delegation.decide_tiers.contains("district"),
                })
                .collect(),
        };
        let plan = SubmissionPlan::choose(&view, "district", None).unwrap();
        let m = cat.matter(&plan.matter_code).unwrap();
        assert!(!m.immediate);
        assert!(m.delegation.receive_tiers.contains("district"));
        let body: Value = serde_json::from_slice(&plan.body(7)).unwrap();
        assert_eq!(body["matter_code"], plan.matter_code);
        assert_eq!(body["applicant"]["id_number"].as_str().unwrap().len(), 18);
    }
}
