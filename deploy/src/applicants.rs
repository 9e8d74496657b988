//! Made-up applicants with valid identifiers, one per index.
//!
//! Every generated identifier passes the node's own checks: a citizen ID
//! number (GB 11643) with a real birth date and the right check character, or
//! a unified social credit code (GB 32100) whose organisation code part also
//! carries a correct GB 11714 check character. The check characters come from
//! [`node::domain::ids`], so the generator and the node agree by
//! construction. Different indexes give different identifiers (up to
//! [`DISTINCT`] of them), so that a load test does not submit the same
//! applicant over and over.

use chrono::{Days, NaiveDate};
use node::domain::ids::{citizen_id_check_char, credit_code_check_char};
use serde_json::{Value, json};

/// Region code of Nanhai District, Foshan (440605).
const REGION: &str = "440605";

/// How many distinct identifiers of each kind the generator yields before it
/// repeats: 1000 sequence numbers on each of 18,000 birth dates.
pub const DISTINCT: u64 = 1000 * BIRTH_DAYS;

/// Birth dates run from 1950-01-01 over this many days (into 1999).
const BIRTH_DAYS: u64 = 18_000;

const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
const GIVEN: [&str; 10] = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "婷"];

/// The citizen ID number of applicant `i`: region 440605, a birth date from
/// 1950 on, a three-digit sequence and the check character.
pub fn citizen_id(i: u64) -> String {
    let i = i % DISTINCT;
    let birth = NaiveDate::from_ymd_opt(1950, 1, 1)
        .and_then(|d| d.checked_add_days(Days::new(i / 1000)))
        .unwrap_or_default();
    let first17 = format!("{REGION}{}{:03}", birth.format("%Y%m%d"), i % 1000);
    // 17 ASCII digits always have a check character.
    let check = citizen_id_check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The unified social credit code of organisation `i`: registered by market
/// regulation (`9`) as an enterprise (`1`) in region 440605, with a GB 11714
/// organisation code and the GB 32100 check character.
pub fn credit_code(i: u64) -> String {
    let body = format!("{:08}", i % 100_000_000);
    let org = format!("{body}{}", org_code_check_char(&body));
    let first17 = format!("91{REGION}{org}");
    let check = credit_code_check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// The GB 11714 check character of an 8-character organisation code body
/// (digits and capital letters, `A` = 10 ... `Z` = 35).
fn org_code_check_char(body: &str) -> char {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(36).unwrap_or(0) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from_digit(n, 10).unwrap_or('0'),
    }
}

/// A person's name for applicant `i`.
pub fn person_name(i: u64) -> String {
    let s = SURNAMES[(i % 10) as usize];
    let g = GIVEN[((i / 10) % 10) as usize];
    format!("{s}{g}")
}

/// A mobile number for applicant `i`.
pub fn phone(i: u64) -> String {
    format!("138{:08}", i % 100_000_000)
}

/// The `applicant` object of a submission: a person, or an organisation when
/// `organisation` is set.
pub fn applicant_json(i: u64, organisation: bool) -> Value {
    if organisation {
        json!({
            "kind": "organisation",
            "id_number": credit_code(i),
            "name": format!("佛山市南海区测试{i}有限公司"),
            "phone": phone(i),
        })
    } else {
        json!({
            "kind": "person",
            "id_number": citizen_id(i),
            "name": person_name(i),
            "phone": phone(i),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use node::domain::ids::{check_citizen_id, check_credit_code};
    use std::collections::HashSet;

    #[test]
    fn citizen_ids_are_valid_and_distinct() {
        let mut seen = HashSet::new();
        for i in (0..5000).chain([DISTINCT - 1, 123_456_789]) {
            let id = citizen_id(i);
            check_citizen_id(&id).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert!(seen.insert(id));
        }
        assert_eq!(&citizen_id(0)[6..14], "19500101");
        assert_eq!(&citizen_id(1000)[6..14], "19500102");
    }

    #[test]
    fn credit_codes_are_valid_and_distinct() {
        let mut seen = HashSet::new();
        for i in 0..5000 {
            let c = credit_code(i);
            check_credit_code(&c).unwrap_or_else(|e| panic!("{c}: {e}"));
            assert!(seen.insert(c));
        }
    }

    #[test]
    fn the_organisation_code_check_matches_a_known_code() {
        // 91350100M000100Y43 carries the organisation code M000100Y4.
        assert_eq!(org_code_check_char("M000100Y"), '4');
        assert_eq!(org_code_check_char("12345678"), '8');
        assert_eq!(&credit_code(0)[..8], "91440605");
    }
}
