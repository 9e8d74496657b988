//! Identifiers with check characters: the citizen ID number and the unified
//! social credit code.
//!
//! - Citizen ID number (公民身份号码, GB 11643-1999): 17 digits and a check
//!   character (`0`-`9` or `X`). Digits 7-14 are the birth date `YYYYMMDD`.
//! - Unified social credit code (统一社会信用代码, GB 32100-2015): 18
//!   characters from `0123456789ABCDEFGHJKLMNPQRTUWXY`, the last one a check
//!   character. Some codes really issued fail the check;
//!   [`check_credit_code_with_override`] accepts them and records it.
//!
//! Input is trimmed, lowercase letters are read as uppercase and full-width
//! digits and letters (as typed by Chinese input methods) as their ASCII
//! forms. A bad number is refused with an [`IdError`] that has a stable
//! machine code ([`IdError::code`]) and messages in English (`Display`) and
//! Chinese ([`IdError::message_zh`]).

use std::borrow::Cow;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::SchemaType};

/// The number of characters of both identifiers.
pub const ID_LEN: usize = 18;

/// Weights of the first 17 digits of a citizen ID number.
const CITIZEN_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// The check character for each weighted sum mod 11.
const CITIZEN_CHECK: &[u8; 11] = b"10X98765432";

/// The characters of a credit code; a character's value is its index.
const CREDIT_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of the first 17 characters of a credit code.
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Which identifier an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// Citizen ID number (公民身份号码).
    CitizenId,
    /// Unified social credit code (统一社会信用代码).
    CreditCode,
}

impl IdKind {
    fn name_en(self) -> &'static str {
        match self {
            IdKind::CitizenId => "citizen ID number",
            IdKind::CreditCode => "unified social credit code",
        }
    }
}

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not 18 characters long.
    #[error("{} must be {expected} characters long, found {found}", kind.name_en())]
    Length {
        /// Which identifier.
        kind: IdKind,
        /// The required length.
        expected: usize,
        /// The length found (in characters, after trimming).
        found: usize,
    },
    /// A character that may not stand at its position.
    #[error("{}: character {position} ('{found}') is not allowed there", kind.name_en())]
    Charset {
        /// Which identifier.
        kind: IdKind,
        /// 1-based position of the character.
        position: usize,
        /// The character found.
        found: char,
    },
    /// The check character does not match the rest.
    #[error(
        "{}: check character is '{found}' but should be '{expected}'; the number was probably mistyped",
        kind.name_en()
    )]
    Checksum {
        /// Which identifier.
        kind: IdKind,
        /// The check character the first 17 characters call for.
        expected: char,
        /// The check character found.
        found: char,
    },
    /// The birth date in a citizen ID number is not a possible date.
    #[error("citizen ID number: birth date {digits} is not a possible date")]
    BirthDate {
        /// Digits 7-14 of the number.
        digits: String,
    },
}

impl IdError {
    /// A stable machine code: `id_length`, `id_charset`, `id_checksum` or
    /// `id_birth_date`.
    pub fn code(&self) -> &'static str {
        match self {
            IdError::Length { .. } => "id_length",
            IdError::Charset { .. } => "id_charset",
            IdError::Checksum { .. } => "id_checksum",
            IdError::BirthDate { .. } => "id_birth_date",
        }
    }

    /// Which identifier the error is about.
    pub fn kind(&self) -> IdKind {
        match self {
            IdError::Length { kind, .. }
            | IdError::Charset { kind, .. }
            | IdError::Checksum { kind, .. } => *kind,
            IdError::BirthDate { .. } => IdKind::CitizenId,
        }
    }

    /// The message in both languages (`err.<code>`), for the window and
    /// the citizen.
    pub fn message(&self) -> onewindow_i18n::Text {
        use onewindow_i18n::{Arg, text_args};
        let id = |kind: &IdKind| match kind {
            IdKind::CitizenId => Arg::Phrase("id.citizen"),
            IdKind::CreditCode => Arg::Phrase("id.credit_code"),
        };
        match self {
            IdError::Length {
                kind,
                expected,
                found,
            } => text_args(
                "err.id_length",
                &[
                    ("id", id(kind)),
                    ("expected", Arg::Plain(expected)),
                    ("found", Arg::Plain(found)),
                ],
            ),
            IdError::Charset {
                kind,
                position,
                found,
            } => text_args(
                "err.id_charset",
                &[
                    ("id", id(kind)),
                    ("position", Arg::Plain(position)),
                    ("found", Arg::Plain(found)),
                ],
            ),
            IdError::Checksum {
                kind,
                expected,
                found,
            } => text_args(
                "err.id_checksum",
                &[
                    ("id", id(kind)),
                    ("expected", Arg::Plain(expected)),
                    ("found", Arg::Plain(found)),
                ],
            ),
            IdError::BirthDate { digits } => {
                onewindow_i18n::text("err.id_birth_date", &[("digits", digits)])
            }
        }
    }
}

/// A checked citizen ID number. Serialises as the 18-character string;
/// deserialising checks it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CitizenId {
    number: String,
    birth_date: NaiveDate,
}

impl CitizenId {
    /// The normalised number (uppercase `X`).
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The normalised number (uppercase `X`); same as [`CitizenId::as_str`].
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The birth date (digits 7-14).
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The administrative division code of registration (digits 1-6).
    pub fn region_code(&self) -> &str {
        self.number.get(..6).unwrap_or_default()
    }

    /// The last four characters, for display and matching.
    pub fn last4(&self) -> &str {
        self.number.get(ID_LEN - 4..).unwrap_or_default()
    }

    /// The number with the birth date and sequence hidden:
    /// `110105********002X`.
    pub fn masked(&self) -> String {
        format!("{}********{}", self.region_code(), self.last4())
    }
}

impl TryFrom<String> for CitizenId {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, IdError> {
        check_citizen_id(&s)
    }
}

impl From<CitizenId> for String {
    fn from(id: CitizenId) -> String {
        id.number
    }
}

impl utoipa::PartialSchema for CitizenId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .description(Some(
                "Citizen ID number (GB 11643): 17 digits and a check character",
            ))
            .min_length(Some(ID_LEN))
            .max_length(Some(ID_LEN))
            .pattern(Some("^[0-9]{17}[0-9X]$"))
            .examples([serde_json::json!("11010519491231002X")])
            .into()
    }
}

impl ToSchema for CitizenId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CitizenId")
    }
}

/// A checked unified social credit code.
///
/// Serialises as `{"code": "...", "checksum_overridden": false}`;
/// deserialises from that form (checking the code again, and its check
/// character unless `checksum_overridden` is true) or from the plain code
/// string (always fully checked).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "CreditCodeRepr")]
pub struct CreditCode {
    /// The normalised code (uppercase).
    #[schema(example = "91350100M000100Y43")]
    code: String,
    /// True when the code was accepted although its check character does
    /// not match (see [`check_credit_code_with_override`]).
    checksum_overridden: bool,
}

impl CreditCode {
    /// The normalised code.
    pub fn as_str(&self) -> &str {
        &self.code
    }

    /// The normalised code; same as [`CreditCode::as_str`].
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Whether the code was accepted although its check character fails.
    pub fn checksum_overridden(&self) -> bool {
        self.checksum_overridden
    }

    /// The registration authority code (character 1).
    pub fn authority(&self) -> char {
        self.code.chars().next().unwrap_or('0')
    }

    /// The administrative division code (characters 3-8).
    pub fn region_code(&self) -> &str {
        self.code.get(2..8).unwrap_or_default()
    }

    /// The last four characters, for display and matching.
    pub fn last4(&self) -> &str {
        self.code.get(ID_LEN - 4..).unwrap_or_default()
    }
}

/// The serialised forms a [`CreditCode`] is read from.
#[derive(Deserialize)]
#[serde(untagged)]
enum CreditCodeRepr {
    Plain(String),
    Full {
        code: String,
        #[serde(default)]
        checksum_overridden: bool,
    },
}

impl TryFrom<CreditCodeRepr> for CreditCode {
    type Error = IdError;

    fn try_from(repr: CreditCodeRepr) -> Result<Self, IdError> {
        match repr {
            CreditCodeRepr::Plain(code)
            | CreditCodeRepr::Full {
                code,
                checksum_overridden: false,
            } => check_credit_code(&code),
            CreditCodeRepr::Full {
                code,
                checksum_overridden: true,
            } => check_credit_code_with_override(&code),
        }
    }
}

/// Trims, upper-cases and maps full-width digits and letters to ASCII.
fn normalise(s: &str) -> Vec<char> {
    s.trim()
        .chars()
        .map(|c| match c {
            '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn check_length(kind: IdKind, chars: &[char]) -> Result<(), IdError> {
    if chars.len() == ID_LEN {
        Ok(())
    } else {
        Err(IdError::Length {
            kind,
            expected: ID_LEN,
            found: chars.len(),
        })
    }
}

/// The check character for the first 17 digits of a citizen ID number, or
/// `None` if `first17` is not 17 ASCII digits.
pub fn citizen_id_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(CITIZEN_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CITIZEN_CHECK
        .get((sum % 11) as usize)
        .map(|b| char::from(*b))
}

/// Checks a citizen ID number: length, characters, check character and
/// birth date (a real date, year 1900 or later).
pub fn check_citizen_id(s: &str) -> Result<CitizenId, IdError> {
    let kind = IdKind::CitizenId;
    let chars = normalise(s);
    check_length(kind, &chars)?;
    for (i, c) in chars.iter().enumerate() {
        let ok = c.is_ascii_digit() || (i == ID_LEN - 1 && *c == 'X');
        if !ok {
            return Err(IdError::Charset {
                kind,
                position: i + 1,
                found: *c,
            });
        }
    }
    let number: String = chars.iter().collect();
    let (first17, found) = number.split_at(ID_LEN - 1);
    let expected = citizen_id_check_char(first17).ok_or(IdError::Length {
        kind,
        expected: ID_LEN,
        found: chars.len(),
    })?;
    let found = found.chars().next().unwrap_or(' ');
    if expected != found {
        return Err(IdError::Checksum {
            kind,
            expected,
            found,
        });
    }
    let digits = number.get(6..14).unwrap_or_default();
    let birth_date = NaiveDate::parse_from_str(digits, "%Y%m%d")
        .ok()
        .filter(|d| d >= &NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN))
        .ok_or_else(|| IdError::BirthDate {
            digits: digits.to_owned(),
        })?;
    Ok(CitizenId { number, birth_date })
}

/// As [`check_citizen_id`], and also refuses a birth date after `today`.
pub fn check_citizen_id_on(s: &str, today: NaiveDate) -> Result<CitizenId, IdError> {
    let id = check_citizen_id(s)?;
    if id.birth_date > today {
        return Err(IdError::BirthDate {
            digits: id.birth_date.format("%Y%m%d").to_string(),
        });
    }
    Ok(id)
}

fn credit_value(c: char) -> Option<u32> {
    let b = u8::try_from(c).ok()?;
    CREDIT_CHARSET
        .iter()
        .position(|x| *x == b)
        .and_then(|p| u32::try_from(p).ok())
}

/// The check character for the first 17 characters of a credit code, or
/// `None` if `first17` is not 17 characters of the code's alphabet
/// (uppercase).
pub fn credit_code_check_char(first17: &str) -> Option<char> {
    let values: Vec<u32> = first17.chars().map(credit_value).collect::<Option<_>>()?;
    if values.len() != 17 {
        return None;
    }
    let sum: u32 = values.iter().zip(CREDIT_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    CREDIT_CHARSET.get(check as usize).map(|b| char::from(*b))
}

/// Checks length and characters; returns the normalised code and whether
/// the check character matches (with the expected one).
fn credit_code_parts(s: &str) -> Result<(String, char, char), IdError> {
    let kind = IdKind::CreditCode;
    let chars = normalise(s);
    check_length(kind, &chars)?;
    if let Some((i, c)) = chars
        .iter()
        .enumerate()
        .find(|(_, c)| credit_value(**c).is_none())
    {
        return Err(IdError::Charset {
            kind,
            position: i + 1,
            found: *c,
        });
    }
    let code: String = chars.iter().collect();
    let (first17, found) = code.split_at(ID_LEN - 1);
    let expected = credit_code_check_char(first17).ok_or(IdError::Length {
        kind,
        expected: ID_LEN,
        found: chars.len(),
    })?;
    let found = found.chars().next().unwrap_or(' ');
    Ok((code, expected, found))
}

/// Checks a unified social credit code: length, characters and check
/// character.
pub fn check_credit_code(s: &str) -> Result<CreditCode, IdError> {
    let (code, expected, found) = credit_code_parts(s)?;
    if expected != found {
        return Err(IdError::Checksum {
            kind: IdKind::CreditCode,
            expected,
            found,
        });
    }
    Ok(CreditCode {
        code,
        checksum_overridden: false,
    })
}

/// Accepts a credit code whose check character does not match, for the
/// real codes that fail the check. Length and characters are still
/// checked. The result records `checksum_overridden: true` when the check
/// character fails (false when it happens to match); the caller must log
/// who overrode and why.
pub fn check_credit_code_with_override(s: &str) -> Result<CreditCode, IdError> {
    let (code, expected, found) = credit_code_parts(s)?;
    Ok(CreditCode {
        code,
        checksum_overridden: expected != found,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    const CITIZEN: &str = "11010519491231002X";
    const CREDIT: &str = "91350100M000100Y43";

    /// Every ASCII character a person might type instead of another.
    fn replacements() -> impl Iterator<Item = char> {
        ('0'..='9')
            .chain('A'..='Z')
            .chain('a'..='z')
            .chain([' ', '-', '.', '*', 'Ｏ'])
    }

    fn replace(s: &str, i: usize, c: char) -> String {
        s.chars()
            .enumerate()
            .map(|(j, x)| if j == i { c } else { x })
            .collect()
    }

    #[test]
    fn citizen_test_value() {
        let id = check_citizen_id(CITIZEN).unwrap();
        assert_eq!(id.as_str(), CITIZEN);
        assert_eq!(id.number(), CITIZEN);
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.last4(), "002X");
        assert_eq!(id.region_code(), "110105");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(citizen_id_check_char("11010519491231002"), Some('X'));
    }

    #[test]
    fn citizen_lowercase_whitespace_fullwidth() {
        let id = check_citizen_id(" 11010519491231002x\n").unwrap();
        assert_eq!(id.as_str(), CITIZEN);
        let id = check_citizen_id("１１０１０５１９４９１２３１００２ｘ").unwrap();
        assert_eq!(id.as_str(), CITIZEN);
    }

    #[test]
    fn citizen_every_substitution_caught() {
        let mut tried = 0;
        for i in 0..ID_LEN {
            let original = CITIZEN.chars().nth(i).unwrap();
            for c in replacements() {
                if c.to_ascii_uppercase() == original {
                    continue;
                }
                let s = replace(CITIZEN, i, c);
                let err = check_citizen_id(&s).unwrap_err();
                let allowed =
                    c.is_ascii_digit() || (i == ID_LEN - 1 && c.eq_ignore_ascii_case(&'X'));
                let trimmed_away = c == ' ' && (i == 0 || i == ID_LEN - 1);
                let expected = if trimmed_away {
                    "id_length"
                } else if allowed {
                    "id_checksum"
                } else {
                    "id_charset"
                };
                assert_eq!(err.code(), expected, "{s}");
                tried += 1;
            }
        }
        assert!(tried > 18 * 60);
    }

    #[test]
    fn citizen_errors() {
        let e = check_citizen_id("1101051949123100").unwrap_err();
        assert_eq!(
            e,
            IdError::Length {
                kind: IdKind::CitizenId,
                expected: 18,
                found: 16
            }
        );
        assert_eq!(e.code(), "id_length");
        assert!(e.message().zh.contains("18位"));
        let e = check_citizen_id("1101051949123100X2").unwrap_err();
        assert_eq!(
            e,
            IdError::Charset {
                kind: IdKind::CitizenId,
                position: 17,
                found: 'X'
            }
        );
        assert!(e.to_string().contains("character 17"));
        assert!(e.message().zh.contains("第17位"));
        let e = check_citizen_id("110105194912310021").unwrap_err();
        assert_eq!(
            e,
            IdError::Checksum {
                kind: IdKind::CitizenId,
                expected: 'X',
                found: '1'
            }
        );
        assert!(e.to_string().contains("mistyped"));
        assert!(e.message().zh.contains("校验位"));
        assert_eq!(e.kind(), IdKind::CitizenId);
        assert_eq!(check_citizen_id("").unwrap_err().code(), "id_length");
        assert_eq!(
            check_citizen_id("一一〇一〇五一九四九一二三一〇〇二X")
                .unwrap_err()
                .code(),
            "id_charset"
        );
    }

    fn with_birth(digits: &str) -> String {
        let first17 = format!("110105{digits}002");
        let check = citizen_id_check_char(&first17).unwrap();
        format!("{first17}{check}")
    }

    #[test]
    fn citizen_birth_date() {
        for bad in ["19490231", "19491301", "19490000", "18991231", "20230229"] {
            let e = check_citizen_id(&with_birth(bad)).unwrap_err();
            assert_eq!(e.code(), "id_birth_date", "{bad}");
            assert_eq!(
                e,
                IdError::BirthDate {
                    digits: bad.to_owned()
                }
            );
            assert!(e.message().zh.contains(bad));
        }
        for good in ["19000101", "20000229", "20240229"] {
            assert!(check_citizen_id(&with_birth(good)).is_ok(), "{good}");
        }
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert!(check_citizen_id_on(&with_birth("20260301"), today).is_ok());
        let e = check_citizen_id_on(&with_birth("20260302"), today).unwrap_err();
        assert_eq!(e.code(), "id_birth_date");
        assert!(check_citizen_id(&with_birth("20260302")).is_ok());
    }

    #[test]
    fn citizen_serde() {
        let id = check_citizen_id("11010519491231002x").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{CITIZEN}\""));
        let back: CitizenId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<CitizenId>("\"110105194912310021\"").is_err());
    }

    #[test]
    fn credit_test_value() {
        let code = check_credit_code(CREDIT).unwrap();
        assert_eq!(code.as_str(), CREDIT);
        assert_eq!(code.code(), CREDIT);
        assert_eq!(code.last4(), "0Y43");
        assert!(!code.checksum_overridden());
        assert_eq!(code.authority(), '9');
        assert_eq!(code.region_code(), "350100");
        assert_eq!(credit_code_check_char("91350100M000100Y4"), Some('3'));
        let lower = check_credit_code(" 91350100m000100y43 ").unwrap();
        assert_eq!(lower, code);
    }

    #[test]
    fn credit_every_substitution_caught() {
        for i in 0..ID_LEN {
            let original = CREDIT.chars().nth(i).unwrap();
            for c in replacements() {
                if c.to_ascii_uppercase() == original {
                    continue;
                }
                let s = replace(CREDIT, i, c);
                let err = check_credit_code(&s).unwrap_err();
                let trimmed_away = c == ' ' && (i == 0 || i == ID_LEN - 1);
                let expected = if trimmed_away {
                    "id_length"
                } else if credit_value(c.to_ascii_uppercase()).is_some() {
                    "id_checksum"
                } else {
                    "id_charset"
                };
                assert_eq!(err.code(), expected, "{s}");
                assert_eq!(err.kind(), IdKind::CreditCode);
            }
        }
    }

    #[test]
    fn credit_errors_and_override() {
        let e = check_credit_code("91350100M000100Y4I").unwrap_err();
        assert_eq!(
            e,
            IdError::Charset {
                kind: IdKind::CreditCode,
                position: 18,
                found: 'I'
            }
        );
        assert!(e.message().zh.starts_with("统一社会信用代码"));
        let bad = "91350100M000100Y44";
        let e = check_credit_code(bad).unwrap_err();
        assert_eq!(
            e,
            IdError::Checksum {
                kind: IdKind::CreditCode,
                expected: '3',
                found: '4'
            }
        );
        let code = check_credit_code_with_override(bad).unwrap();
        assert!(code.checksum_overridden());
        assert_eq!(code.as_str(), bad);
        let code = check_credit_code_with_override(CREDIT).unwrap();
        assert!(!code.checksum_overridden());
        assert_eq!(
            check_credit_code_with_override("91350100M000100Y4")
                .unwrap_err()
                .code(),
            "id_length"
        );
        assert_eq!(
            check_credit_code_with_override("91350100M000100O43")
                .unwrap_err()
                .code(),
            "id_charset"
        );
    }

    #[test]
    fn credit_serde() {
        let code = check_credit_code(CREDIT).unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(
            json,
            r#"{"code":"91350100M000100Y43","checksum_overridden":false}"#
        );
        assert_eq!(serde_json::from_str::<CreditCode>(&json).unwrap(), code);
        assert_eq!(
            serde_json::from_str::<CreditCode>("\"91350100m000100y43\"").unwrap(),
            code
        );
        let bad = check_credit_code_with_override("91350100M000100Y44").unwrap();
        let json = serde_json::to_string(&bad).unwrap();
        assert_eq!(serde_json::from_str::<CreditCode>(&json).unwrap(), bad);
        assert!(serde_json::from_str::<CreditCode>("\"91350100M000100Y44\"").is_err());
        assert!(serde_json::from_str::<CreditCode>(r#"{"code":"91350100M000100Y44"}"#).is_err());
        assert!(
            serde_json::from_str::<CreditCode>(
                r#"{"code":"91350100M00010","checksum_overridden":true}"#
            )
            .is_err()
        );
    }

    #[test]
    fn schemas() {
        use utoipa::PartialSchema;
        let s = serde_json::to_string(&CitizenId::schema()).unwrap();
        assert!(s.contains("string"));
        let s = serde_json::to_string(&CreditCode::schema()).unwrap();
        assert!(s.contains("checksum_overridden"));
    }

    fn credit_char() -> impl Strategy<Value = char> {
        (0usize..31).prop_map(|i| char::from(CREDIT_CHARSET[i]))
    }

    proptest! {
        #[test]
        fn generated_credit_codes(
            body in prop::collection::vec(credit_char(), 17),
            pos in 0usize..18,
            repl in credit_char(),
        ) {
            let first17: String = body.iter().collect();
            let code = format!("{first17}{}", credit_code_check_char(&first17).unwrap());
            prop_assert!(check_credit_code(&code).is_ok());
            let changed = replace(&code, pos, repl);
            prop_assert_eq!(check_credit_code(&changed).is_ok(), changed == code);
        }

        #[test]
        fn generated_citizen_ids(
            region in 110_000u32..660_000,
            days in 0i64..45_000,
            seq in 0u32..1000,
            pos in 0usize..18,
            repl in 0u32..11,
        ) {
            let birth = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
            let first17 = format!("{region}{}{seq:03}", birth.format("%Y%m%d"));
            let number = format!("{first17}{}", citizen_id_check_char(&first17).unwrap());
            let id = check_citizen_id(&number).unwrap();
            prop_assert_eq!(id.birth_date(), birth);
            let c = if repl == 10 { 'X' } else { char::from_digit(repl, 10).unwrap() };
            let changed = replace(&number, pos, c);
            prop_assert_eq!(check_citizen_id(&changed).is_ok(), changed == number);
        }
    }
}
