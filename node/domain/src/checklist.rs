//! Checking presented materials against a matter's checklist.
//!
//! One pass finds every problem at once, so that a correction notice lists
//! them all (一次性告知): missing required materials, too few copies, missing
//! originals, and materials the clerk marked faulty.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::catalogue::{MaterialForm, Matter, Necessity};

/// A material as presented at the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresentedMaterial {
    /// Material code from the matter's checklist.
    pub code: String,
    /// Originals shown.
    #[serde(default)]
    pub originals: u32,
    /// Copies handed in.
    #[serde(default)]
    pub copies: u32,
    /// Presented electronically (e-licence or shared data) instead of on paper.
    #[serde(default)]
    pub electronic: bool,
    /// What the clerk found wrong with it, if anything (expired, illegible, ...).
    #[serde(default)]
    pub problem: Option<String>,
    /// Presented by data: the number of an earlier case of the same
    /// applicant whose granted result the checklist accepts in place of
    /// this material ([`crate::catalogue::Material::by_data`]); the
    /// applicant brings nothing for it. Left out of the JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 40)]
    pub by_data: Option<String>,
}

/// What is wrong with one material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IssueKind {
    /// Not presented at all.
    Missing,
    /// Fewer copies than the checklist asks for.
    TooFewCopies {
        /// Copies required.
        need: u32,
        /// Copies presented.
        got: u32,
    },
    /// Fewer originals than the checklist asks for.
    OriginalMissing {
        /// Originals required.
        need: u32,
        /// Originals presented.
        got: u32,
    },
    /// Presented but faulty.
    Faulty {
        /// The clerk's finding.
        problem: String,
    },
}

/// One line of a correction notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MaterialIssue {
    /// Material code.
    pub code: String,
    /// Material name in Chinese.
    pub name_zh: String,
    /// Material name in English.
    pub name_en: String,
    /// What is wrong.
    pub issue: IssueKind,
}

impl MaterialIssue {
    /// The issue as a sentence in both languages, for the printed notice.
    pub fn describe(&self) -> onewindow_i18n::Text {
        use onewindow_i18n::{Arg, text_args};
        let material = ("material", Arg::Each(&self.name_zh, &self.name_en));
        match &self.issue {
            IssueKind::Missing => text_args("doc.line.missing", &[material]),
            IssueKind::TooFewCopies { need, got } => text_args(
                "doc.line.too_few_copies",
                &[
                    material,
                    ("need", Arg::Plain(need)),
                    ("got", Arg::Plain(got)),
                ],
            ),
            IssueKind::OriginalMissing { need, got } => text_args(
                "doc.line.original_missing",
                &[
                    material,
                    ("need", Arg::Plain(need)),
                    ("got", Arg::Plain(got)),
                ],
            ),
            IssueKind::Faulty { problem } => text_args(
                "doc.line.faulty",
                &[material, ("problem", Arg::Plain(problem))],
            ),
        }
    }
}

/// The result of a checklist check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckResult {
    /// Every problem found; empty means the materials are complete.
    pub issues: Vec<MaterialIssue>,
    /// Deferrable (容缺) materials not yet presented: accepted, to follow later.
    pub deferred: Vec<String>,
}

/// Input that does not fit the matter at all (a bad request, not a notice).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecklistError {
    /// A material code the matter does not list.
    #[error("material {0} is not on this matter's checklist")]
    UnknownMaterial(String),
    /// A situation code the matter does not list.
    #[error("situation {0} is not defined for this matter")]
    UnknownSituation(String),
    /// The same material presented twice.
    #[error("material {0} is listed twice")]
    DuplicateMaterial(String),
    /// A material marked presented by data that no earlier result
    /// replaces (its checklist line names no matter in `by_data`).
    #[error("material {0} cannot be presented by data")]
    NotByData(String),
}

impl ChecklistError {
    /// The error's stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ChecklistError::UnknownMaterial(_) => "unknown_material",
            ChecklistError::UnknownSituation(_) => "unknown_situation",
            ChecklistError::DuplicateMaterial(_) => "duplicate_material",
            ChecklistError::NotByData(_) => "material_not_by_data",
        }
    }

    /// The message in both languages (`err.<code>`).
    pub fn message(&self) -> onewindow_i18n::Text {
        match self {
            ChecklistError::UnknownMaterial(c)
            | ChecklistError::UnknownSituation(c)
            | ChecklistError::DuplicateMaterial(c)
            | ChecklistError::NotByData(c) => {
                onewindow_i18n::text(&format!("err.{}", self.code()), &[("code", c)])
            }
        }
    }
}

/// Checks presented materials against the checklist, under the selected situations.
pub fn check(
    matter: &Matter,
    situations: &BTreeSet<String>,
    presented: &[PresentedMaterial],
) -> Result<CheckResult, ChecklistError> {
    for s in situations {
        if !matter.situations.iter().any(|x| &x.code == s) {
            return Err(ChecklistError::UnknownSituation(s.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    for p in presented {
        if !matter.materials.iter().any(|m| m.code == p.code) {
            return Err(ChecklistError::UnknownMaterial(p.code.clone()));
        }
        if !seen.insert(p.code.as_str()) {
            return Err(ChecklistError::DuplicateMaterial(p.code.clone()));
        }
        let by_data_accepted = matter
            .materials
            .iter()
            .any(|m| m.code == p.code && !m.by_data.is_empty());
        if p.by_data.is_some() && !by_data_accepted {
            return Err(ChecklistError::NotByData(p.code.clone()));
        }
    }
    let mut issues = Vec::new();
    let mut deferred = Vec::new();
    for m in matter.materials.iter().filter(|m| m.applies(situations)) {
        let issue = |issue| MaterialIssue {
            code: m.code.clone(),
            name_zh: m.name_zh.clone(),
            name_en: m.name_en.clone(),
            issue,
        };
        let Some(p) = presented.iter().find(|p| p.code == m.code) else {
            match m.necessity {
                Necessity::Required => issues.push(issue(IssueKind::Missing)),
                Necessity::Deferrable => deferred.push(m.code.clone()),
                Necessity::Optional => {}
            }
            continue;
        };
        if let Some(problem) = p.problem.as_ref().filter(|s| !s.trim().is_empty()) {
            issues.push(issue(IssueKind::Faulty {
                problem: problem.clone(),
            }));
            continue;
        }
        // A result presented by data is the material itself: nothing is
        // brought, on paper or otherwise.
        if p.by_data.is_some() {
            continue;
        }
        // An electronic presentation (shared data, e-licence) stands in for
        // paper originals and copies.
        if p.electronic {
            if m.form == MaterialForm::Paper {
                issues.push(issue(IssueKind::Faulty {
                    problem: onewindow_i18n::text("history.paper_only", &[]).joined(),
                }));
            }
            continue;
        }
        if p.originals < m.originals {
            issues.push(issue(IssueKind::OriginalMissing {
                need: m.originals,
                got: p.originals,
            }));
        }
        if p.copies < m.copies {
            issues.push(issue(IssueKind::TooFewCopies {
                need: m.copies,
                got: p.copies,
            }));
        }
    }
    Ok(CheckResult { issues, deferred })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    fn matter() -> Matter {
        let cat = crate::starter::catalogue().expect("starter catalogue");
        // Any matter with situations whose materials depend on them.
        cat.matters
            .values()
            .find(|m| m.materials.iter().any(|x| !x.situations.is_empty()))
            .cloned()
            .expect("a matter with situations")
    }

    fn full(m: &Matter, selected: &BTreeSet<String>) -> Vec<PresentedMaterial> {
        m.materials
            .iter()
            .filter(|x| x.applies(selected))
            .map(|x| PresentedMaterial {
                code: x.code.clone(),
                originals: x.originals,
                copies: x.copies,
                electronic: false,
                problem: None,
                by_data: None,
            })
            .collect()
    }

    #[test]
    fn a_complete_set_has_no_issues_and_every_problem_is_listed_at_once() {
        let m = matter();
        let none = BTreeSet::new();
        let ok = check(&m, &none, &full(&m, &none)).expect("valid input");
        assert!(ok.issues.is_empty(), "{:?}", ok.issues);
        assert!(ok.deferred.is_empty());
        // Nothing presented: every required material is missing, in one list.
        let required = m
            .materials
            .iter()
            .filter(|x| x.applies(&none) && x.necessity == Necessity::Required)
            .count();
        let empty = check(&m, &none, &[]).expect("valid input");
        assert_eq!(empty.issues.len(), required);
        assert!(empty.issues.iter().all(|i| i.issue == IssueKind::Missing));
    }

    #[test]
    fn a_situation_adds_its_materials() {
        let m = matter();
        let s = m
            .materials
            .iter()
            .find(|x| !x.situations.is_empty() && x.necessity == Necessity::Required)
            .map(|x| x.situations[0].clone());
        let Some(s) = s else { return };
        let none = BTreeSet::new();
        let selected: BTreeSet<String> = [s].into();
        let r = check(&m, &selected, &full(&m, &none)).expect("valid input");
        assert!(
            !r.issues.is_empty(),
            "the situation's materials are missing"
        );
        let r = check(&m, &selected, &full(&m, &selected)).expect("valid input");
        assert!(r.issues.is_empty());
    }

    #[test]
    fn electronic_stands_in_for_paper_unless_paper_is_required() {
        let text = r#"
            [[departments]]
            code = "d"
            name_zh = "部门"
            name_en = "Dept"
            [[matters]]
            code = "X"
            name_zh = "事项"
            name_en = "Matter"
            kind = "permit"
            department = "d"
            exercise_level = 4
            serves = "person"
            immediate = true
            statutory_limit = { n = 1, unit = "working_days" }
            committed_limit = { n = 0, unit = "working_days" }
            stages = []
            delegation = { receive_tiers = ["district"], decide_tiers = ["district"] }
            [[matters.materials]]
            code = "P"
            name_zh = "纸质"
            name_en = "Paper"
            necessity = "required"
            form = "paper"
            originals = 1
            [[matters.materials]]
            code = "E"
            name_zh = "任意"
            name_en = "Either"
            necessity = "required"
            copies = 2
            [[matters.materials]]
            code = "D"
            name_zh = "容缺"
            name_en = "Deferrable"
            necessity = "deferrable"
        "#;
        let cat = Catalogue::from_toml_texts(1, [("x.toml", text)]).expect("parses");
        let m = cat.matter("X").expect("matter");
        let p = |code: &str, electronic, copies| PresentedMaterial {
            code: code.into(),
            originals: 0,
            copies,
            electronic,
            problem: None,
            by_data: None,
        };
        let r = check(m, &BTreeSet::new(), &[p("P", true, 0), p("E", true, 0)]).expect("valid");
        assert_eq!(r.issues.len(), 1);
        assert_eq!(r.issues[0].code, "P");
        assert!(matches!(r.issues[0].issue, IssueKind::Faulty { .. }));
        assert_eq!(r.deferred, ["D"]);
        let r = check(m, &BTreeSet::new(), &[p("P", false, 0), p("E", false, 1)]).expect("valid");
        assert_eq!(
            r.issues.iter().map(|i| i.issue.clone()).collect::<Vec<_>>(),
            [
                IssueKind::OriginalMissing { need: 1, got: 0 },
                IssueKind::TooFewCopies { need: 2, got: 1 }
            ]
        );
        assert!(matches!(
            check(m, &BTreeSet::new(), &[p("Q", false, 0)]),
            Err(ChecklistError::UnknownMaterial(_))
        ));
    }

    #[test]
    fn a_material_presented_by_data_counts_only_where_the_checklist_accepts_it() {
        let cat = crate::starter::catalogue().expect("starter catalogue");
        // 离婚登记: the marriage certificate (M02) may be the result of the
        // marriage registration; the agreement (M03) may not.
        let m = cat.matter("NH-MZ-008").expect("divorce registration");
        let cert = m.materials.iter().find(|x| x.code == "M02").expect("M02");
        assert_eq!(cert.by_data, ["NH-MZ-007"]);
        let none = BTreeSet::new();
        let mut presented: Vec<PresentedMaterial> = full(m, &none)
            .into_iter()
            .filter(|p| p.code != "M02")
            .collect();
        let missing = check(m, &none, &presented).expect("valid input");
        assert!(missing.issues.iter().any(|i| i.code == "M02"));
        presented.push(PresentedMaterial {
            code: "M02".into(),
            originals: 0,
            copies: 0,
            electronic: false,
            problem: None,
            by_data: Some("44060520260105001X".into()),
        });
        let ok = check(m, &none, &presented).expect("valid input");
        assert!(ok.issues.is_empty(), "{:?}", ok.issues);
        let other = presented.iter_mut().find(|p| p.code == "M03").expect("M03");
        other.by_data = Some("44060520260105001X".into());
        assert_eq!(
            check(m, &none, &presented),
            Err(ChecklistError::NotByData("M03".into()))
        );
    }
}
