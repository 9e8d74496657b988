//! The domain of a OneWindow hall: catalogue, checklist, cases, deadlines,
//! identifiers, the holiday calendar and the log's body format.
//!
//! Everything here is pure: no store, no clock, no network, no async
//! runtime. The service layer (`onewindow-service`) feeds it the time and
//! persists what it returns.
#![warn(missing_docs)]

pub mod calendar;
pub mod case;
pub mod case_number;
pub mod catalogue;
pub mod checklist;
pub mod codec;
pub mod deadline;
pub mod ids;
pub mod log;
pub mod policy;
pub mod starter;

#[cfg(test)]
mod phrase_tests {
    use crate::case::{CaseError, State};
    use crate::checklist::ChecklistError;

    /// Every phrase the domain names is in the one phrase table, and the
    /// messages of its errors are found (a missing key would show as
    /// itself).
    #[test]
    fn every_key_the_domain_asks_for_is_here() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let asked = onewindow_i18n::check::keys_asked_in(
            &dir,
            &["err.", "doc.", "history.", "applicant.", "id."],
        );
        assert!(asked.len() > 20, "the scan found {asked:?}");
        let missing = onewindow_i18n::check::missing(&asked);
        assert!(missing.is_empty(), "not in the phrase table: {missing:?}");
        let errors = [
            ChecklistError::UnknownMaterial("M1".into()).message(),
            ChecklistError::UnknownSituation("S1".into()).message(),
            ChecklistError::DuplicateMaterial("M1".into()).message(),
            CaseError::SameStaff.message(),
        ];
        for t in errors {
            assert!(
                !t.zh.starts_with("err.") && !t.en.starts_with("err."),
                "{t:?}"
            );
        }
        assert_eq!(State::Completed.label_zh(), "已办结");
    }
}
