//! How the collector of a result proved who they are, as a hand-out
//! records it ([`crate::case::Event::HandedOut`]), and how that reads in a
//! case's history. What the clerk enters, and its checks, are in
//! [`crate::handout`].

use serde::{Deserialize, Serialize};

use crate::ids;

/// The identity document the applicant showed in person; each bears the
/// citizen ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdDocument {
    /// 居民身份证
    ResidentId,
    /// 临时居民身份证
    TemporaryId,
    /// 居民户口簿
    HouseholdRegister,
}

impl IdDocument {
    /// Every kind, in the order the window offers them.
    pub const ALL: [IdDocument; 3] = [
        IdDocument::ResidentId,
        IdDocument::TemporaryId,
        IdDocument::HouseholdRegister,
    ];

    /// Stable name (the phrase `id.doc.<name>` names it in words).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResidentId => "resident_id",
            Self::TemporaryId => "temporary_id",
            Self::HouseholdRegister => "household_register",
        }
    }

    /// From its stable name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// Its number in the log's format (0 is "none").
    pub fn code(self) -> i32 {
        match self {
            Self::ResidentId => 1,
            Self::TemporaryId => 2,
            Self::HouseholdRegister => 3,
        }
    }

    /// From its number in the log's format.
    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.code() == code)
    }
}

/// How the collector of a result proved who they are, as recorded in
/// [`crate::case::Event::HandedOut`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Collection {
    /// The applicant in person: the clerk checked the document, and the
    /// number on it is the applicant's.
    InPerson {
        /// The document checked.
        document: IdDocument,
        /// The last four characters of its number.
        id_last4: String,
    },
    /// A proxy (代领) with the applicant's written authorisation.
    Proxy {
        /// The proxy's citizen ID number.
        id_number: String,
        /// The authorisation (授权委托书) was presented.
        authorisation: bool,
        /// The authorisation's reference (number or note), if any.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        reference: String,
    },
}

/// How a hand-out reads in a case's history, in both languages: who
/// collected it and how their identity was checked.
pub fn describe(recipient: &str, collection: Option<&Collection>) -> onewindow_i18n::Text {
    use onewindow_i18n::{Arg, text, text_args};
    match collection {
        None => text("history.collected_unchecked", &[("name", &recipient)]),
        Some(Collection::InPerson { document, id_last4 }) => text_args(
            "history.collected_in_person",
            &[
                ("name", Arg::Plain(&recipient)),
                (
                    "document",
                    Arg::Phrase(match document {
                        IdDocument::ResidentId => "id.doc.resident_id",
                        IdDocument::TemporaryId => "id.doc.temporary_id",
                        IdDocument::HouseholdRegister => "id.doc.household_register",
                    }),
                ),
                ("last4", Arg::Plain(id_last4)),
            ],
        ),
        Some(Collection::Proxy {
            id_number,
            reference,
            ..
        }) => {
            let id = ids::check_citizen_id(id_number)
                .map(|id| id.masked())
                .unwrap_or_else(|_| id_number.clone());
            if reference.is_empty() {
                text(
                    "history.collected_by_proxy",
                    &[("name", &recipient), ("id", &id)],
                )
            } else {
                text(
                    "history.collected_by_proxy_ref",
                    &[("name", &recipient), ("id", &id), ("reference", reference)],
                )
            }
        }
    }
}
