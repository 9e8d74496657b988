//! The domain of a OneWindow hall: catalogue, checklist, cases, deadlines,
//! identifiers, the holiday calendar and the log's body format.
//!
//! Everything here is pure: no store, no clock, no network, no async
//! runtime. The service layer (`onewindow-service`) feeds it the time and
//! persists what it returns.
#![warn(missing_docs)]

pub mod attachment;
pub mod booking;
pub mod calendar;
pub mod case;
pub mod case_number;
pub mod catalogue;
pub mod checklist;
pub mod codec;
pub mod collection;
pub mod deadline;
pub mod document;
pub mod handout;
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

    /// An empty field is named in words in both languages, never by its
    /// key (every name the domain passes to `CaseError::Empty`).
    #[test]
    fn an_empty_field_is_named_in_words() {
        let src = include_str!("case.rs");
        let names: Vec<&str> = src
            .split("CaseError::Empty(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(names.len() >= 5, "{names:?}");
        for name in names {
            let t = CaseError::Empty(Box::leak(name.to_owned().into_boxed_str())).message();
            assert!(
                !t.zh.contains("field.") && !t.en.contains("field."),
                "{name}: {t:?}"
            );
            assert!(
                t.zh.starts_with("请填写") && t.en.starts_with("Please enter"),
                "{t:?}"
            );
        }
        let t = CaseError::Empty("reason").message();
        assert_eq!(
            (t.zh.as_str(), t.en.as_str()),
            ("请填写理由", "Please enter the reason")
        );
    }
}
