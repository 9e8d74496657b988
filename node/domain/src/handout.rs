//! Who collected a result at the window, and how their identity was
//! checked (统一窗口出件).
//!
//! A result is collected either by the applicant in person, whose identity
//! document the clerk checks (the number on it must be the applicant's; the
//! record keeps the document's kind and the number's last four characters,
//! since the whole number is in the case already), or by a proxy (代领) who
//! presents the applicant's written authorisation (授权委托书): the record
//! keeps the proxy's name and citizen ID number, that the authorisation was
//! presented, and its reference when it has one. What the clerk enters is a
//! [`Collector`]; [`Collector::check`] compares it with the case's applicant
//! and gives the [`Collection`] that [`crate::case::Event::HandedOut`]
//! records. A hand-out written before this was recorded has no
//! `Collection`: it reads "ID check not recorded".

use serde::{Deserialize, Serialize};

use crate::case::{Applicant, ApplicantKind, CaseError};
pub use crate::collection::{Collection, IdDocument, describe};
use crate::ids;

/// What the clerk enters when a result is handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum Collector {
    /// The applicant collects it in person.
    InPerson {
        /// The document shown.
        document: IdDocument,
        /// The number on it, as the clerk reads it: must be the
        /// applicant's.
        id_number: String,
        /// The clerk checked the document against the person.
        id_checked: bool,
    },
    /// A proxy collects it for the applicant.
    Proxy {
        /// The proxy's name.
        name: String,
        /// The proxy's citizen ID number.
        id_number: String,
        /// The applicant's written authorisation was presented.
        authorisation: bool,
        /// The authorisation's reference, if any.
        #[serde(default)]
        reference: String,
    },
}

/// Most characters of a proxy's name and of an authorisation's reference.
pub const MAX_TEXT: usize = 100;

/// One problem with what the clerk entered: the form field it belongs to
/// and the error.
pub type Problem = (&'static str, CaseError);

impl Collector {
    /// Compares what was entered with the case's applicant: the name of
    /// who collected the result and how, or every problem found (each with
    /// the form field it belongs to: `id_number`, `id_checked`,
    /// `proxy_name`, `proxy_id`, `authorisation`, `reference`).
    pub fn check(&self, applicant: &Applicant) -> Result<(String, Collection), Vec<Problem>> {
        let mut problems = Vec::new();
        let out = match self {
            Collector::InPerson {
                document,
                id_number,
                id_checked,
            } => {
                let entered = normalise(id_number);
                if applicant.kind == ApplicantKind::Organisation {
                    problems.push(("id_number", CaseError::InPersonOrganisation));
                } else if entered.is_empty() {
                    problems.push(("id_number", CaseError::Empty("id_number")));
                } else if entered != applicant.id_number.to_uppercase() {
                    problems.push(("id_number", CaseError::IdMismatch));
                }
                if !id_checked {
                    problems.push(("id_checked", CaseError::IdNotChecked));
                }
                (
                    applicant.name.clone(),
                    Collection::InPerson {
                        document: *document,
                        id_last4: applicant.last4().to_owned(),
                    },
                )
            }
            Collector::Proxy {
                name,
                id_number,
                authorisation,
                reference,
            } => {
                let name = name.trim();
                if name.is_empty() {
                    problems.push(("proxy_name", CaseError::Empty("proxy_name")));
                } else if name.chars().count() > MAX_TEXT {
                    problems.push((
                        "proxy_name",
                        CaseError::TooLong {
                            field: "proxy_name",
                            max: MAX_TEXT,
                        },
                    ));
                }
                let entered = normalise(id_number);
                let id = if entered.is_empty() {
                    problems.push(("proxy_id", CaseError::Empty("proxy_id")));
                    String::new()
                } else {
                    match ids::check_citizen_id(&entered) {
                        Ok(id) => id.as_str().to_owned(),
                        Err(e) => {
                            problems.push(("proxy_id", CaseError::BadId(e)));
                            String::new()
                        }
                    }
                };
                if !authorisation {
                    problems.push(("authorisation", CaseError::NoAuthorisation));
                }
                let reference = reference.trim();
                if reference.chars().count() > MAX_TEXT {
                    problems.push((
                        "reference",
                        CaseError::TooLong {
                            field: "reference",
                            max: MAX_TEXT,
                        },
                    ));
                }
                (
                    name.to_owned(),
                    Collection::Proxy {
                        id_number: id,
                        authorisation: *authorisation,
                        reference: reference.to_owned(),
                    },
                )
            }
        };
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

/// An ID number as typed: without spaces, the check character in upper case.
fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::case::check_written;

    const ID: &str = "11010519491231002X";

    fn applicant(kind: ApplicantKind) -> Applicant {
        Applicant {
            kind,
            id_number: ID.into(),
            name: "张三".into(),
            phone: None,
            checksum_overridden: false,
            checksum_override_reason: None,
        }
    }

    fn codes(problems: &[Problem]) -> Vec<(&'static str, &'static str)> {
        problems.iter().map(|(f, e)| (*f, e.code())).collect()
    }

    #[test]
    fn in_person_the_number_must_be_the_applicants_and_checked() {
        let a = applicant(ApplicantKind::Person);
        let ok = Collector::InPerson {
            document: IdDocument::ResidentId,
            id_number: " 11010519491231002x ".into(),
            id_checked: true,
        };
        let (name, c) = ok.check(&a).expect("the applicant's own number");
        assert_eq!(name, "张三");
        assert_eq!(
            c,
            Collection::InPerson {
                document: IdDocument::ResidentId,
                id_last4: "002X".into()
            }
        );
        assert_eq!(check_written(&name, Some(&c), &a), Ok(()));
        let wrong = Collector::InPerson {
            document: IdDocument::ResidentId,
            id_number: "110105194912310021".into(),
            id_checked: false,
        };
        assert_eq!(
            codes(&wrong.check(&a).unwrap_err()),
            [
                ("id_number", "id_mismatch"),
                ("id_checked", "id_not_checked")
            ]
        );
        let org = applicant(ApplicantKind::Organisation);
        assert_eq!(
            codes(&ok.check(&org).unwrap_err()),
            [("id_number", "in_person_organisation")]
        );
    }

    #[test]
    fn a_proxy_needs_a_name_a_valid_number_and_the_authorisation() {
        let a = applicant(ApplicantKind::Person);
        let ok = Collector::Proxy {
            name: " 李四 ".into(),
            id_number: "110105198001010016".into(),
            authorisation: true,
            reference: "委托书 2026-17".into(),
        };
        let (name, c) = ok.check(&a).expect("a proxy with authorisation");
        assert_eq!(name, "李四");
        assert_eq!(check_written(&name, Some(&c), &a), Ok(()));
        let bad = Collector::Proxy {
            name: " ".into(),
            id_number: "110105198001010011".into(),
            authorisation: false,
            reference: String::new(),
        };
        assert_eq!(
            codes(&bad.check(&a).unwrap_err()),
            [
                ("proxy_name", "empty_field"),
                ("proxy_id", "id_checksum"),
                ("authorisation", "authorisation_missing")
            ]
        );
    }

    #[test]
    fn a_hand_out_written_without_an_identity_check_is_refused() {
        let a = applicant(ApplicantKind::Person);
        assert_eq!(
            check_written("张三", None, &a).unwrap_err().code(),
            "handout_identity_missing"
        );
        let wrong_last4 = Collection::InPerson {
            document: IdDocument::ResidentId,
            id_last4: "0021".into(),
        };
        assert_eq!(
            check_written("张三", Some(&wrong_last4), &a),
            Err(CaseError::IdMismatch)
        );
    }

    #[test]
    fn the_history_says_who_collected_it_and_how() {
        let t = describe("张三", None);
        assert!(t.zh.contains("张三") && t.zh.contains("未记录"), "{t:?}");
        assert!(t.en.contains("ID check not recorded"), "{t:?}");
        let t = describe(
            "张三",
            Some(&Collection::InPerson {
                document: IdDocument::ResidentId,
                id_last4: "002X".into(),
            }),
        );
        assert!(
            t.zh.contains("居民身份证") && t.zh.contains("002X"),
            "{t:?}"
        );
        let t = describe(
            "李四",
            Some(&Collection::Proxy {
                id_number: "110105198001010016".into(),
                authorisation: true,
                reference: "R-17".into(),
            }),
        );
        assert!(t.zh.contains("代领") && t.zh.contains("R-17"), "{t:?}");
        assert!(
            !t.en.contains("198001010016"),
            "the number is masked: {t:?}"
        );
        for d in IdDocument::ALL {
            assert_eq!(IdDocument::from_code(d.code()), Some(d));
            assert_eq!(IdDocument::parse(d.as_str()), Some(d));
        }
    }
}
