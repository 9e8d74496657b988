//! The starter data embedded in the binary, so that a new hall needs nothing
//! but the node itself: the catalogue from `configs/catalogue/` and the holiday
//! calendars from `configs/calendar/`.

use crate::calendar::{Calendar, CalendarError, YearCalendar};
use crate::catalogue::{Catalogue, CatalogueError};

/// The catalogue files, in load order.
pub const CATALOGUE_FILES: &[(&str, &str)] = &[
    (
        "00-departments.toml",
        include_str!("../../../configs/catalogue/00-departments.toml"),
    ),
    (
        "10-public-security.toml",
        include_str!("../../../configs/catalogue/10-public-security.toml"),
    ),
    (
        "20-civil-affairs.toml",
        include_str!("../../../configs/catalogue/20-civil-affairs.toml"),
    ),
    (
        "30-social-insurance.toml",
        include_str!("../../../configs/catalogue/30-social-insurance.toml"),
    ),
    (
        "40-medical-insurance.toml",
        include_str!("../../../configs/catalogue/40-medical-insurance.toml"),
    ),
    (
        "50-market-regulation.toml",
        include_str!("../../../configs/catalogue/50-market-regulation.toml"),
    ),
    (
        "60-health.toml",
        include_str!("../../../configs/catalogue/60-health.toml"),
    ),
    (
        "70-housing-land.toml",
        include_str!("../../../configs/catalogue/70-housing-land.toml"),
    ),
    (
        "80-other.toml",
        include_str!("../../../configs/catalogue/80-other.toml"),
    ),
];

/// The holiday calendar files.
pub const CALENDAR_FILES: &[(&str, &str)] = &[(
    "2026.toml",
    include_str!("../../../configs/calendar/2026.toml"),
)];

/// The starter catalogue (version 1 until published).
pub fn catalogue() -> Result<Catalogue, CatalogueError> {
    Catalogue::from_toml_texts(1, CATALOGUE_FILES.iter().copied())
}

/// The starter calendars, one per year.
pub fn calendars() -> Result<Vec<YearCalendar>, CalendarError> {
    CALENDAR_FILES
        .iter()
        .map(|(_, text)| Calendar::from_toml(text))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn listed(dir: &str) -> BTreeSet<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../configs")
            .join(dir);
        std::fs::read_dir(path)
            .expect("configs folder")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect()
    }

    #[test]
    fn every_file_in_configs_is_embedded() {
        let embedded: BTreeSet<String> = CATALOGUE_FILES
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect();
        assert_eq!(listed("catalogue"), embedded);
        let embedded: BTreeSet<String> = CALENDAR_FILES
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect();
        assert_eq!(listed("calendar"), embedded);
    }

    #[test]
    fn the_starter_catalogue_is_valid_and_large_enough() {
        let cat = catalogue().expect("valid starter catalogue");
        assert!(cat.matters.len() >= 60, "{} matters", cat.matters.len());
        let tiers = ["district", "township", "village"];
        for t in tiers {
            let n = cat
                .matters
                .values()
                .filter(|m| m.delegation.receive_tiers.contains(t))
                .count();
            assert!(n > 0, "no matter receivable at {t}");
        }
        let village_decided = cat
            .matters
            .values()
            .filter(|m| m.delegation.decide_tiers.contains("village"))
            .count();
        assert!(village_decided > 0);
        assert!(cat.matters.values().any(|m| m.immediate));
        assert!(cat.matters.values().any(|m| !m.co_departments.is_empty()));
        assert!(cat.matters.values().any(|m| !m.situations.is_empty()));
    }

    #[test]
    fn the_2026_calendar_loads() {
        let years = calendars().expect("valid calendars");
        assert!(years.iter().any(|y| y.year == 2026));
    }

    /// A matter may need two people instead of three; never one, nor more
    /// than three. A catalogue that does not say reads as three and keeps
    /// its canonical text (and so the digest that events name it by).
    #[test]
    #[allow(clippy::unwrap_used)]
    fn distinct_people_is_two_or_three_and_three_when_not_said() {
        use crate::catalogue::{Catalogue, CatalogueError, DISTINCT_PEOPLE};
        let cat = catalogue().unwrap();
        let village = cat.matter("NH-CJ-001").unwrap();
        assert_eq!(village.distinct_people, 2, "the shipped exception");
        assert!(
            cat.matters
                .values()
                .filter(|m| m.code != "NH-CJ-001")
                .all(|m| m.distinct_people == DISTINCT_PEOPLE)
        );
        let json = serde_json::to_string(&cat).unwrap();
        assert_eq!(
            json.matches("\"distinct_people\":2").count(),
            1,
            "only the exception is written"
        );
        assert!(!json.contains("\"distinct_people\":3"));
        let back: Catalogue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cat);
        for bad in [0, 1, 4] {
            let mut c = cat.clone();
            c.matters.get_mut("NH-CJ-001").unwrap().distinct_people = bad;
            let e = c.validate().unwrap_err();
            assert!(
                matches!(&e, CatalogueError::InvalidMatter { matter, problem }
                    if matter == "NH-CJ-001" && problem.contains("must be 2 or 3")),
                "{e}"
            );
        }
        // Loading the files says which matter and why.
        let one: Vec<(&str, String)> = CATALOGUE_FILES
            .iter()
            .map(|(name, t)| {
                (
                    *name,
                    t.replace("distinct_people = 2", "distinct_people = 1"),
                )
            })
            .collect();
        let e =
            Catalogue::from_toml_texts(1, one.iter().map(|(n, t)| (*n, t.as_str()))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "matter NH-CJ-001: distinct_people is 1, but must be 2 or 3: handling, review and \
             decision need three people, or two where the handler may also decide"
        );
    }

    /// Two reversible permits are trust-first in the starter catalogue; a
    /// trust-first matter needs its pledge in both languages and a
    /// post-check of 1 to 60 working days, and is never immediate.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn trust_first_matters_carry_a_pledge_and_a_post_check_limit() {
        let cat = catalogue().unwrap();
        let trusted: Vec<&str> = cat
            .matters
            .values()
            .filter(|m| m.trust_first.is_some())
            .map(|m| m.code.as_str())
            .collect();
        assert_eq!(trusted, ["NH-SC-007", "NH-WJ-001"]);
        let json = serde_json::to_string(&cat).unwrap();
        assert_eq!(json.matches("\"trust_first\"").count(), 2);
        let check = |f: &dyn Fn(&mut crate::catalogue::Matter)| {
            let mut c = cat.clone();
            f(c.matters.get_mut("NH-WJ-001").unwrap());
            c.validate().unwrap_err().to_string()
        };
        assert!(
            check(&|m| m.trust_first.as_mut().unwrap().check_days = 0)
                .contains("check_days is 0, but must be 1 to 60")
        );
        assert!(
            check(&|m| m.trust_first.as_mut().unwrap().check_days = 61)
                .contains("check_days is 61")
        );
        assert!(
            check(&|m| m.trust_first.as_mut().unwrap().pledge_en = " ".into())
                .contains("pledge in both languages")
        );
        assert!(check(&|m| m.immediate = true).contains("immediate"));
    }
}
