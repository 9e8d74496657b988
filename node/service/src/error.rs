//! The one error type of the hall's operations.
//!
//! Every refusal carries a stable machine `code`, its message in Chinese and
//! in English from the one phrase table (`err.<code>`, see `onewindow-i18n`),
//! and its [`ErrorKind`]; the HTTP API and the pages translate the
//! kind into a status. Internals (SQL, file paths) are logged where the
//! error is turned into a response, never sent. Every service operation
//! validates before it writes, and writes in one transaction, so an error
//! means nothing was stored.

use onewindow_domain::case::CaseError;
use onewindow_domain::case_number::CaseNumberError;
use onewindow_domain::checklist::ChecklistError;
use onewindow_domain::ids::IdError;
use onewindow_i18n::{Arg, Text, text, text_args};
use onewindow_store::StoreError;
use std::fmt::Display;

/// What kind of refusal an error is, for whoever reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or breaks a rule of the input.
    Invalid,
    /// No session, or an expired one.
    Unauthenticated,
    /// The role or the hall may not do this.
    Forbidden,
    /// What was named does not exist.
    NotFound,
    /// The state of what was named does not allow it now.
    Conflict,
    /// Well-formed, but refused on its content.
    Unprocessable,
    /// Too many attempts; try later.
    TooMany,
    /// The request is larger than the hall takes.
    TooLarge,
    /// The hall cannot serve this now (recovering, no uplink).
    Unavailable,
    /// The store failed; nothing was saved.
    Storage,
}

/// An error of a hall's operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of refusal.
    pub kind: ErrorKind,
    /// Stable machine code, e.g. `unknown_matter`.
    pub code: &'static str,
    /// Chinese message.
    pub message_zh: String,
    /// English message.
    pub message_en: String,
    /// What went wrong inside (a storage failure's cause), for the log
    /// only: never sent.
    pub detail: Option<String>,
    /// The form field the error is about, where one is (a page shows the
    /// message next to it).
    pub field: Option<&'static str>,
}

/// `text` with its first letter in upper case.
fn sentence(text: String) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => text,
    }
}

impl Error {
    /// An error with its message in both languages. The English message is
    /// a sentence: it starts with a capital letter, whatever the phrase
    /// starts with (phrases are written to be filled into others too).
    pub fn with_text(kind: ErrorKind, code: &'static str, message: Text) -> Self {
        Self {
            kind,
            code,
            message_zh: message.zh,
            message_en: sentence(message.en),
            detail: None,
            field: None,
        }
    }

    /// The error `code`, its message the phrase `err.<code>` with its slots
    /// filled from `args`.
    pub fn new(kind: ErrorKind, code: &'static str, args: &[(&str, &dyn Display)]) -> Self {
        Self::keyed(kind, code, &format!("err.{code}"), args)
    }

    /// The error `code` with the message of phrase `key` (one of the
    /// causes `err.<code>.<cause>` of a code).
    pub fn keyed(
        kind: ErrorKind,
        code: &'static str,
        key: &str,
        args: &[(&str, &dyn Display)],
    ) -> Self {
        Self::with_text(kind, code, text(key, args))
    }

    /// The same error, about the form field `field`.
    #[must_use]
    pub fn on_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    /// Invalid input, with a code.
    pub fn bad_request(code: &'static str, args: &[(&str, &dyn Display)]) -> Self {
        Self::new(ErrorKind::Invalid, code, args)
    }

    /// A required field left empty (`empty_field`), named in words by its
    /// phrase `field.<field>` ("请填写理由" / "Please enter the reason").
    pub fn empty_field(field: &str) -> Self {
        Self::with_text(
            ErrorKind::Invalid,
            "empty_field",
            text_args(
                "err.empty_field",
                &[("field", Arg::Phrase(&format!("field.{field}")))],
            ),
        )
    }

    /// Not found.
    pub fn not_found(code: &'static str, args: &[(&str, &dyn Display)]) -> Self {
        Self::new(ErrorKind::NotFound, code, args)
    }

    /// No or an expired session.
    pub fn unauthenticated() -> Self {
        Self::new(ErrorKind::Unauthenticated, "unauthenticated", &[])
    }

    /// The role may not do `action` (a phrase key `action.*`).
    pub fn forbidden(action: &str) -> Self {
        Self::with_text(
            ErrorKind::Forbidden,
            "wrong_role",
            text_args("err.wrong_role", &[("what", Arg::Phrase(action))]),
        )
    }

    /// Unavailable while the hall is taking back the tail of its log from its
    /// parent (its store was put back to an older copy): it issues nothing
    /// until then.
    pub fn recovering() -> Self {
        Self::new(ErrorKind::Unavailable, "hall_recovering", &[])
    }

    /// A storage failure; the detail goes to the log only.
    pub fn storage(e: &dyn Display) -> Self {
        let mut err = Self::new(ErrorKind::Storage, "storage", &[]);
        err.detail = Some(e.to_string());
        err
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message_en)
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Recovering => Self::recovering(),
            StoreError::EntryTooLarge { size, max } => Self::new(
                ErrorKind::Unprocessable,
                "entry_too_large",
                &[("size", &size), ("max", &max)],
            ),
            e => Self::storage(&e),
        }
    }
}

impl From<IdError> for Error {
    fn from(e: IdError) -> Self {
        Self::with_text(ErrorKind::Invalid, e.code(), e.message())
    }
}

impl From<CaseNumberError> for Error {
    fn from(e: CaseNumberError) -> Self {
        Self::with_text(ErrorKind::Invalid, e.code(), e.message())
    }
}

impl From<ChecklistError> for Error {
    fn from(e: ChecklistError) -> Self {
        Self::with_text(ErrorKind::Invalid, e.code(), e.message())
    }
}

impl From<CaseError> for Error {
    fn from(e: CaseError) -> Self {
        let kind = match e {
            CaseError::WrongRole { .. }
            | CaseError::WrongDepartment { .. }
            | CaseError::SameStaff
            | CaseError::OwnHandling { .. } => ErrorKind::Forbidden,
            CaseError::Empty(_)
            | CaseError::Rating(_)
            | CaseError::CollectionMissing
            | CaseError::IdNotChecked
            | CaseError::IdMismatch
            | CaseError::InPersonOrganisation
            | CaseError::NoAuthorisation
            | CaseError::BadId(_)
            | CaseError::TooLong { .. } => ErrorKind::Invalid,
            _ => ErrorKind::Conflict,
        };
        Self::with_text(kind, e.code(), e.message())
    }
}

#[cfg(test)]
mod tests {
    /// English messages read as sentences; Chinese ones are left as they are.
    #[test]
    fn english_messages_start_with_a_capital() {
        use super::{Error, ErrorKind};
        let e = Error::new(
            ErrorKind::Conflict,
            "ticket_not_called",
            &[("number", &"A001")],
        );
        assert!(e.message_en.starts_with("Ticket A001"), "{}", e.message_en);
        assert!(e.message_zh.starts_with("A001"), "{}", e.message_zh);
        assert_eq!(super::sentence("ünicode".into()), "Ünicode");
        assert_eq!(super::sentence(String::new()), "");
        assert_eq!(super::sentence("42 left".into()), "42 left");
    }

    /// Every error code and phrase key the service's code names is in the
    /// phrase table, in both languages.
    #[test]
    fn every_key_the_code_asks_for_is_here() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut asked =
            onewindow_i18n::check::keys_asked_in(&dir, &["err.", "action.", "doc.", "history."]);
        let codes = codes_in(&dir);
        assert!(codes.len() > 30, "the scan found the codes {codes:?}");
        asked.extend(codes.iter().map(|c| format!("err.{c}")));
        let missing = onewindow_i18n::check::missing(&asked);
        assert!(missing.is_empty(), "not in the phrase table: {missing:?}");
    }

    /// The codes of `Error::new(kind, "code"`, `bad_request("code"` and
    /// `not_found("code"` in the sources under `dir`: the first string
    /// literal after the opening, when no `)` comes before it.
    fn codes_in(dir: &std::path::Path) -> Vec<String> {
        let mut codes = Vec::new();
        for f in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{e}")) {
            let src = std::fs::read_to_string(f.unwrap_or_else(|e| panic!("{e}")).path())
                .unwrap_or_default();
            // The code, not its tests (this scan's own examples).
            let src = src.split("#[cfg(test)]").next().unwrap_or_default();
            for open in ["Error::new(", "bad_request(", "not_found(", "Self::new("] {
                for part in src.split(open).skip(1) {
                    let (Some(q), p) = (part.find('"'), part.find(')')) else {
                        continue;
                    };
                    if p.is_some_and(|p| p < q) {
                        continue;
                    }
                    if let Some(code) = part[q + 1..].split('"').next()
                        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    {
                        codes.push(code.to_owned());
                    }
                }
            }
        }
        codes.sort();
        codes.dedup();
        codes
    }
}
