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
    /// The issue as a sentence in Chinese, for the printed notice.
    pub fn describe_zh(&self) -> String {
        match &self.issue {
            IssueKind::Missing => format!("缺少《{}》", self.name_zh),
            IssueKind::TooFewCopies { need, got } => {
                format!("《{}》复印件应提交{need}份，实际{got}份", self.name_zh)
            }
            IssueKind::OriginalMissing { need, got } => {
                format!("《{}》应出示原件{need}份，实际{got}份", self.name_zh)
            }
            IssueKind::Faulty { problem } => format!("《{}》不符合要求：{problem}", self.name_zh),
        }
    }

    /// The issue as a sentence in English.
    pub fn describe_en(&self) -> String {
        match &self.issue {
            IssueKind::Missing => format!("{} is missing", self.name_en),
            IssueKind::TooFewCopies { need, got } => {
                format!("{}: {need} copies required, {got} presented", self.name_en)
            }
            IssueKind::OriginalMissing { need, got } => {
                format!("{}: {need} originals required, {got} shown", self.name_en)
            }
            IssueKind::Faulty { problem } => format!("{}: {problem}", self.name_en),
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
        // An electronic presentation (shared data, e-licence) stands in for
        // paper originals and copies.
        if p.electronic {
            if m.form == MaterialForm::Paper {
                issues.push(issue(IssueKind::Faulty {
                    problem: "须提交纸质材料 / must be presented on paper".to_owned(),
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
