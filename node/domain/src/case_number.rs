//! Case numbers: accepting hall, date, daily sequence and a check character.
//!
//! Printed as `{HALL}-{YYYYMMDD}-{SEQ:06}-{C}`, e.g. `NHGC-20261123-000042-I`:
//!
//! - `HALL`: the accepting hall's code, 2 to 8 characters `A`-`Z`, `0`-`9`;
//! - `YYYYMMDD`: the date of acceptance;
//! - `SEQ`: the hall's sequence for that day, 1 to 999999;
//! - `C`: a check character (`0`-`9`, `A`-`Z`) computed over `HALL` +
//!   `YYYYMMDD` + `SEQ` without the hyphens.
//!
//! The check catches every single mistyped character and every swap of two
//! neighbouring characters, anywhere in any case number, so that a progress
//! query with a mistyped number is refused instead of showing somebody
//! else's case. It is the Damm scheme over a totally anti-symmetric
//! quasigroup of order 36: the 36 characters `0`-`9`, `A`-`Z` (value = index)
//! are pairs (h, l) = (v / 9, v % 9) and
//! `x * y = (2·h(x) + h(y) in GF(4), 2·l(x) + l(y) mod 9)`. Because each
//! row and column of that table is a permutation, a substituted character
//! always changes the result; because `(c * x) * y != (c * y) * x` whenever
//! `x != y`, a swapped pair always does (the tests check the whole table).
//! ISO/IEC 7064 MOD 37,36 was not used: it lets about 0.16% of neighbour
//! swaps through (e.g. `...123456` and `...213456` after the same prefix
//! can share a check character).
//!
//! Parsing accepts lowercase letters and surrounding whitespace and requires
//! the hyphens. Errors have a stable code ([`CaseNumberError::code`]):
//! `case_number_format` or `case_number_check`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

/// Shortest hall code.
pub const HALL_MIN_LEN: usize = 2;
/// Longest hall code.
pub const HALL_MAX_LEN: usize = 8;
/// Largest daily sequence number.
pub const MAX_SEQ: u32 = 999_999;

/// The 36 characters of the check system; a character's value is its index.
const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Why a case number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseNumberError {
    /// The hall code is not 2 to 8 characters A-Z, 0-9.
    #[error("hall code must be 2 to 8 letters A-Z or digits, found `{0}`")]
    Hall(String),
    /// The date's year does not have four digits.
    #[error("date {0} cannot be written as YYYYMMDD")]
    Date(NaiveDate),
    /// The sequence is not 1 to 999999.
    #[error("sequence must be 1 to 999999, found {0}")]
    Sequence(u32),
    /// The text is not of the form `HALL-YYYYMMDD-NNNNNN-C`.
    #[error("not a case number of the form HALL-YYYYMMDD-NNNNNN-C: {0}")]
    Format(&'static str),
    /// The check character does not match: the number was mistyped.
    #[error("case number check character does not match: the number was probably mistyped")]
    Check,
}

impl CaseNumberError {
    /// A stable machine code: `case_number_check` when the check character
    /// does not match, `case_number_format` otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            CaseNumberError::Check => "case_number_check",
            _ => "case_number_format",
        }
    }

    /// The message in both languages (`err.<code>[.<cause>]`), for the
    /// window, terminal or web page.
    pub fn message(&self) -> onewindow_i18n::Text {
        use onewindow_i18n::text;
        match self {
            CaseNumberError::Hall(h) => text("err.case_number_format.hall", &[("hall", h)]),
            CaseNumberError::Date(d) => text("err.case_number_format.date", &[("date", d)]),
            CaseNumberError::Sequence(n) => text("err.case_number_format.sequence", &[("seq", n)]),
            CaseNumberError::Format(_) => text("err.case_number_format", &[]),
            CaseNumberError::Check => text("err.case_number_check", &[]),
        }
    }
}

/// A case number. Ordered by hall, date and sequence. Serialises as its
/// printed form; deserialising parses and checks it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseNumber {
    hall: String,
    date: NaiveDate,
    seq: u32,
}

impl CaseNumber {
    /// A case number for `hall` (upper-cased), `date` and `seq`.
    pub fn new(hall: &str, date: NaiveDate, seq: u32) -> Result<Self, CaseNumberError> {
        let hall = hall.to_ascii_uppercase();
        if !valid_hall(&hall) {
            return Err(CaseNumberError::Hall(hall));
        }
        if !(0..=9999).contains(&date.year()) {
            return Err(CaseNumberError::Date(date));
        }
        if !(1..=MAX_SEQ).contains(&seq) {
            return Err(CaseNumberError::Sequence(seq));
        }
        Ok(Self { hall, date, seq })
    }

    /// Parses a printed case number; see [`FromStr`].
    pub fn parse(s: &str) -> Result<Self, CaseNumberError> {
        s.parse()
    }

    /// The accepting hall's code.
    pub fn hall(&self) -> &str {
        &self.hall
    }

    /// The date of acceptance.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// The hall's sequence number for that day.
    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// The characters the check character is computed over.
    fn payload(&self) -> String {
        format!(
            "{}{:04}{:02}{:02}{:06}",
            self.hall,
            self.date.year(),
            self.date.month(),
            self.date.day(),
            self.seq
        )
    }

    /// The check character.
    pub fn check_char(&self) -> char {
        // The payload holds only A-Z and 0-9, so a check character exists.
        check_char(&self.payload()).unwrap_or('0')
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{:04}{:02}{:02}-{:06}-{}",
            self.hall,
            self.date.year(),
            self.date.month(),
            self.date.day(),
            self.seq,
            self.check_char()
        )
    }
}

impl FromStr for CaseNumber {
    type Err = CaseNumberError;

    /// Parses `HALL-YYYYMMDD-NNNNNN-C`: surrounding whitespace is ignored,
    /// lowercase letters are read as uppercase, the hyphens are required
    /// and the check character must match.
    fn from_str(s: &str) -> Result<Self, CaseNumberError> {
        let s = s.trim().to_ascii_uppercase();
        if !s.is_ascii() {
            return Err(CaseNumberError::Format("only letters, digits and hyphens"));
        }
        let parts: Vec<&str> = s.split('-').collect();
        let [hall, date, seq, check] = parts.as_slice() else {
            return Err(CaseNumberError::Format(
                "expected four parts joined by hyphens",
            ));
        };
        if !valid_hall(hall) {
            return Err(CaseNumberError::Format(
                "the hall code must be 2 to 8 letters or digits",
            ));
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CaseNumberError::Format(
                "the date must be 8 digits YYYYMMDD",
            ));
        }
        let date = NaiveDate::parse_from_str(date, "%Y%m%d")
            .map_err(|_| CaseNumberError::Format("the date is not a real date"))?;
        if seq.len() != 6 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CaseNumberError::Format("the sequence must be 6 digits"));
        }
        let seq: u32 = seq
            .parse()
            .map_err(|_| CaseNumberError::Format("the sequence must be 6 digits"))?;
        let mut check_chars = check.chars();
        let (Some(check), None) = (check_chars.next(), check_chars.next()) else {
            return Err(CaseNumberError::Format(
                "the check character must be one letter or digit",
            ));
        };
        if value(check).is_none() {
            return Err(CaseNumberError::Format(
                "the check character must be one letter or digit",
            ));
        }
        let number = CaseNumber::new(hall, date, seq)?;
        if number.check_char() != check {
            return Err(CaseNumberError::Check);
        }
        Ok(number)
    }
}

impl Serialize for CaseNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CaseNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for CaseNumber {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .description(Some(
                "Case number HALL-YYYYMMDD-NNNNNN-C with a check character",
            ))
            .pattern(Some("^[A-Z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Z0-9]$"))
            .examples([serde_json::json!("NHGC-20261123-000042-I")])
            .into()
    }
}

impl ToSchema for CaseNumber {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CaseNumber")
    }
}

fn valid_hall(hall: &str) -> bool {
    (HALL_MIN_LEN..=HALL_MAX_LEN).contains(&hall.len())
        && hall
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// The value (0-35) of `0`-`9`, `A`-`Z`.
fn value(c: char) -> Option<u32> {
    c.to_digit(36).filter(|_| !c.is_ascii_lowercase())
}

/// Multiplication by the generator `x` of GF(4) = GF(2)[x]/(x² + x + 1),
/// elements written as 2-bit polynomials.
const GF4_TIMES_X: [u32; 4] = [0, 2, 3, 1];

/// The quasigroup operation on values 0-35.
fn op(x: u32, y: u32) -> u32 {
    let h = GF4_TIMES_X[(x / 9 % 4) as usize] ^ (y / 9 % 4);
    let l = (2 * (x % 9) + y % 9) % 9;
    h * 9 + l
}

/// The interim value after folding `text` (None on a character outside
/// `0`-`9`, `A`-`Z`).
fn fold(text: &str) -> Option<u32> {
    text.chars().try_fold(0, |acc, c| Some(op(acc, value(c)?)))
}

/// The check character of `payload` (characters `0`-`9`, `A`-`Z`), or
/// `None` if it holds any other character: the character `c` with
/// `fold(payload) * c = 0`.
pub fn check_char(payload: &str) -> Option<char> {
    let i = fold(payload)?;
    let h = GF4_TIMES_X[(i / 9 % 4) as usize];
    let l = (9 - (2 * (i % 9)) % 9) % 9;
    ALPHABET.get((h * 9 + l) as usize).map(|b| char::from(*b))
}

/// Whether `text` (payload followed by its check character) passes the
/// check.
pub fn verify(text: &str) -> bool {
    !text.is_empty() && fold(text) == Some(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn sample() -> CaseNumber {
        CaseNumber::new("NHGC", date(2026, 11, 23), 42).unwrap()
    }

    fn alnum() -> impl Iterator<Item = char> {
        ('0'..='9').chain('A'..='Z')
    }

    #[test]
    fn prints_and_parses() {
        let n = sample();
        let printed = n.to_string();
        assert!(printed.starts_with("NHGC-20261123-000042-"));
        assert_eq!(printed, "NHGC-20261123-000042-I");
        assert_eq!(CaseNumber::parse(&printed).unwrap(), n);
        assert_eq!(
            CaseNumber::parse(&format!("  {}\n", printed.to_lowercase())).unwrap(),
            n
        );
        assert_eq!(n.hall(), "NHGC");
        assert_eq!(n.date(), date(2026, 11, 23));
        assert_eq!(n.seq(), 42);
        assert!(verify(&printed.replace('-', "")));
        let lower = CaseNumber::new("nh01", date(2026, 1, 5), 999_999).unwrap();
        assert_eq!(lower.hall(), "NH01");
        assert!(lower.to_string().starts_with("NH01-20260105-999999-"));
    }

    #[test]
    fn known_check_values() {
        assert_eq!(sample().to_string(), "NHGC-20261123-000042-I");
        assert_eq!(check_char(""), Some('0'));
        assert_eq!(check_char("0"), Some('0'));
        assert_eq!(check_char("1"), Some('7'));
        assert!(verify("17"));
        assert!(verify("0"));
        assert!(!verify(""));
        assert_eq!(check_char("a"), None);
        assert_eq!(check_char("A-"), None);
        assert!(!verify("NHGC-"));
    }

    /// Every row and every column of the operation table is a permutation
    /// of 0-35: a single substituted character always changes the result.
    #[test]
    fn table_is_latin_square() {
        for a in 0..36 {
            let mut row: Vec<u32> = (0..36).map(|y| op(a, y)).collect();
            let mut col: Vec<u32> = (0..36).map(|x| op(x, a)).collect();
            row.sort_unstable();
            col.sort_unstable();
            let all: Vec<u32> = (0..36).collect();
            assert_eq!(row, all);
            assert_eq!(col, all);
        }
    }

    /// `(c * x) * y != (c * y) * x` for every interim value `c` and every
    /// `x != y`: a swap of two neighbours always changes the result, in any
    /// number (including a swap with the check character).
    #[test]
    fn table_is_totally_anti_symmetric() {
        for c in 0..36 {
            for x in 0..36 {
                for y in 0..36 {
                    if x != y {
                        assert_ne!(op(op(c, x), y), op(op(c, y), x), "{c} {x} {y}");
                    }
                }
            }
        }
    }

    #[test]
    fn new_refuses() {
        let d = date(2026, 11, 23);
        for hall in ["", "N", "NHGCNHGCN", "NH-G", "南海", "NH G"] {
            let e = CaseNumber::new(hall, d, 1).unwrap_err();
            assert!(matches!(e, CaseNumberError::Hall(_)), "{hall}");
            assert_eq!(e.code(), "case_number_format");
        }
        assert_eq!(
            CaseNumber::new("NHGC", d, 0).unwrap_err(),
            CaseNumberError::Sequence(0)
        );
        assert_eq!(
            CaseNumber::new("NHGC", d, 1_000_000).unwrap_err(),
            CaseNumberError::Sequence(1_000_000)
        );
        let far = date(10_000, 1, 1);
        assert_eq!(
            CaseNumber::new("NHGC", far, 1).unwrap_err(),
            CaseNumberError::Date(far)
        );
        assert!(CaseNumber::new("NHGC", date(-1, 1, 1), 1).is_err());
        assert!(CaseNumber::new("NH", d, 1).is_ok());
        assert!(CaseNumber::new("NHGCNHGC", d, 1).is_ok());
    }

    #[test]
    fn parse_refuses_format() {
        let good = sample().to_string();
        let c = good.chars().last().unwrap();
        let bad = [
            String::new(),
            "NHGC".into(),
            good.replace('-', ""),
            good.replacen('-', "", 1),
            good.replacen('-', " ", 1),
            good.replacen('-', "—", 1),
            format!("{good}-"),
            format!("-{good}"),
            format!("NHGC-2026112-000042-{c}"),
            format!("NHGC-202611233-000042-{c}"),
            format!("NHGC-20261131-000042-{c}"),
            format!("NHGC-20261123-42-{c}"),
            format!("NHGC-20261123-0000042-{c}"),
            format!("NHGC-20261123-+00042-{c}"),
            "NHGC-20261123-000042-".into(),
            "NHGC-20261123-000042-77".into(),
            "NHGC-20261123-000042-*".into(),
            format!("N-20261123-000042-{c}"),
            format!("NHGC_-20261123-000042-{c}"),
            format!("ＮHGC-20261123-000042-{c}"),
        ];
        for s in &bad {
            let e = CaseNumber::parse(s).unwrap_err();
            assert_eq!(e.code(), "case_number_format", "{s}: {e}");
            assert!(e.message().zh.contains("编号") || e.message().zh.contains("序号"));
        }
        let e = CaseNumber::parse("NHGC-20261123-000000-0").unwrap_err();
        assert_eq!(e, CaseNumberError::Sequence(0));
        assert_eq!(e.code(), "case_number_format");
    }

    #[test]
    fn parse_refuses_wrong_check() {
        let good = sample().to_string();
        let c = good.chars().last().unwrap();
        for other in alnum().filter(|x| *x != c) {
            let s = format!("{}{other}", &good[..good.len() - 1]);
            let e = CaseNumber::parse(&s).unwrap_err();
            assert_eq!(e, CaseNumberError::Check);
            assert_eq!(e.code(), "case_number_check");
            assert!(e.message().zh.contains("校验"));
            assert!(e.to_string().contains("mistyped"));
        }
    }

    /// Every substitution of one character by another alphanumeric, in the
    /// printed number: each is refused.
    #[test]
    fn every_substitution_caught() {
        let printed = sample().to_string();
        let chars: Vec<char> = printed.chars().collect();
        let mut checked = 0;
        for (i, original) in chars.iter().enumerate() {
            if *original == '-' {
                continue;
            }
            for c in alnum().filter(|c| c != original) {
                let mut v = chars.clone();
                v[i] = c;
                let s: String = v.iter().collect();
                assert!(CaseNumber::parse(&s).is_err(), "{s} accepted");
                // In lowercase too.
                assert!(
                    CaseNumber::parse(&s.to_lowercase()).is_err(),
                    "{s} accepted"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 19 * 35);
    }

    /// Every swap of two neighbouring distinct characters in the printed
    /// number (hyphens included): each is refused.
    #[test]
    fn every_adjacent_transposition_caught() {
        let printed = sample().to_string();
        let chars: Vec<char> = printed.chars().collect();
        let mut checked = 0;
        for i in 0..chars.len() - 1 {
            if chars[i] == chars[i + 1] {
                continue;
            }
            let mut v = chars.clone();
            v.swap(i, i + 1);
            let s: String = v.iter().collect();
            assert!(CaseNumber::parse(&s).is_err(), "{s} accepted");
            checked += 1;
        }
        assert!(checked > 10);
    }

    /// The check system itself, over the unhyphenated payload plus check
    /// character of many numbers: every substitution and every adjacent
    /// transposition of distinct characters fails the check.
    #[test]
    fn check_system_exhaustive() {
        let halls = ["NHGC", "NH", "ZZZZZZZZ", "GZ01", "A1B2C3", "00", "9Z"];
        let dates = [date(2026, 11, 23), date(2026, 1, 1), date(2099, 12, 31)];
        let seqs = [1, 42, 99_999, 123_456, 999_999, 700_007];
        for hall in halls {
            for d in dates {
                for seq in seqs {
                    let n = CaseNumber::new(hall, d, seq).unwrap();
                    let text = n.to_string().replace('-', "");
                    assert!(verify(&text));
                    let chars: Vec<char> = text.chars().collect();
                    for i in 0..chars.len() {
                        for c in alnum().filter(|c| *c != chars[i]) {
                            let mut v = chars.clone();
                            v[i] = c;
                            let s: String = v.iter().collect();
                            assert!(!verify(&s), "substitution {s} passes");
                        }
                        if i + 1 < chars.len() && chars[i] != chars[i + 1] {
                            let mut v = chars.clone();
                            v.swap(i, i + 1);
                            let s: String = v.iter().collect();
                            assert!(!verify(&s), "transposition {s} passes");
                        }
                    }
                }
            }
        }
    }

    /// Every pair of distinct characters, swapped at every place of a
    /// payload: the check fails.
    #[test]
    fn all_pairs_transposed() {
        let alphabet: Vec<char> = alnum().collect();
        for &a in &alphabet {
            for &b in &alphabet {
                if a == b {
                    continue;
                }
                for prefix in ["", "N", "NHGC2026", "NHGC20261123000"] {
                    for suffix in ["", "7", "00042"] {
                        let good = format!("{prefix}{a}{b}{suffix}");
                        let check = check_char(&good).unwrap();
                        let swapped = format!("{prefix}{b}{a}{suffix}{check}");
                        assert!(!verify(&swapped), "{swapped}");
                    }
                }
                // A swap of the last payload character with the check.
                let good = format!("NHGC{a}");
                if check_char(&good) == Some(b) {
                    assert!(!verify(&format!("NHGC{b}{a}")));
                }
            }
        }
    }

    #[test]
    fn serde_as_string() {
        let n = sample();
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, format!("\"{n}\""));
        assert_eq!(serde_json::from_str::<CaseNumber>(&json).unwrap(), n);
        let lower = json.to_lowercase();
        assert_eq!(serde_json::from_str::<CaseNumber>(&lower).unwrap(), n);
        assert!(serde_json::from_str::<CaseNumber>("\"NHGC-20261123-000042-#\"").is_err());
        assert!(serde_json::from_str::<CaseNumber>("42").is_err());
        let s = serde_json::to_string(&<CaseNumber as utoipa::PartialSchema>::schema()).unwrap();
        assert!(s.contains("pattern"));
    }

    #[test]
    fn ordering() {
        let a = CaseNumber::new("NHGC", date(2026, 11, 23), 2).unwrap();
        let b = CaseNumber::new("NHGC", date(2026, 11, 23), 10).unwrap();
        let c = CaseNumber::new("NHGC", date(2026, 11, 24), 1).unwrap();
        assert!(a < b && b < c);
    }

    proptest! {
        #[test]
        fn round_trip(
            hall in "[A-Z0-9]{2,8}",
            days in 0i64..36_500,
            seq in 1u32..=MAX_SEQ,
        ) {
            let d = date(2000, 1, 1) + chrono::Duration::days(days);
            let n = CaseNumber::new(&hall, d, seq).unwrap();
            let printed = n.to_string();
            prop_assert_eq!(CaseNumber::parse(&printed).unwrap(), n);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = CaseNumber::parse(&s);
        }

        #[test]
        fn near_misses_refused(
            hall in "[A-Z0-9]{2,8}",
            days in 0i64..36_500,
            seq in 1u32..=MAX_SEQ,
            pos in 0usize..30,
            repl in "[A-Z0-9]",
        ) {
            let d = date(2000, 1, 1) + chrono::Duration::days(days);
            let printed = CaseNumber::new(&hall, d, seq).unwrap().to_string();
            let chars: Vec<char> = printed.chars().collect();
            let pos = pos % chars.len();
            let repl = repl.chars().next().unwrap();
            prop_assume!(chars[pos] != '-' && chars[pos] != repl);
            let mut v = chars.clone();
            v[pos] = repl;
            let s: String = v.iter().collect();
            prop_assert!(CaseNumber::parse(&s).is_err());
        }
    }
}
