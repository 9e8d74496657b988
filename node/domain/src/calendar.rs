//! The working-day calendar: statutory holidays and make-up working days.
//!
//! In China the State Council publishes, each November or December, the
//! holidays of the coming year and the weekend days that become working days
//! to compensate (调休). Weekday arithmetic alone is therefore wrong: the
//! calendar is data. A [`YearCalendar`] holds one year's notice and is read
//! from a TOML file such as `configs/calendar/2026.toml`:
//!
//! ```toml
//! year = 2026
//! source = "国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04)"
//!
//! [[holidays]]
//! name_zh = "元旦"
//! name_en = "New Year's Day"
//! from = 2026-01-01
//! to = 2026-01-03        # inclusive
//! makeup = [2026-01-04]
//! ```
//!
//! Dates may be written as TOML local dates (as above) or as strings
//! (`"2026-01-01"`); both read the same. Serialising writes strings, which
//! read back unchanged.
//!
//! A [`Calendar`] collects several years. [`Calendar::is_working_day`] answers
//! for any date: a make-up day is a working day, a holiday is not, any other
//! day is a working day from Monday to Friday. A year without a published
//! calendar falls back to that weekday rule; [`Calendar::has_year`] tells the
//! caller so that it can warn.
//!
//! A notice may reach back into the last days of the previous year (the 2023
//! notice made 2022-12-31 a holiday; the 2012 notice made 2011-12-31 a
//! working day), so a year's dates may lie in the year itself or in the last
//! [`SPILLOVER_DAYS`] days of December of the year before.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// How many days at the end of December of the previous year a year's
/// notice may cover (for a New Year holiday that starts on 30 or 31
/// December, or a make-up working day just before New Year).
pub const SPILLOVER_DAYS: u32 = 7;

/// One holiday of a year's notice: the days off and the make-up working days
/// that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    /// Chinese name, e.g. `国庆节`.
    pub name_zh: String,
    /// English name, e.g. `National Day`.
    pub name_en: String,
    /// First day off.
    #[serde(deserialize_with = "de_date")]
    pub from: NaiveDate,
    /// Last day off (inclusive).
    #[serde(deserialize_with = "de_date")]
    pub to: NaiveDate,
    /// Weekend days that are working days because of this holiday (调休).
    #[serde(default, deserialize_with = "de_dates")]
    pub makeup: Vec<NaiveDate>,
}

impl Holiday {
    /// The days off, from `from` to `to` inclusive (empty if `to < from`).
    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(move |d| *d <= self.to)
    }
}

/// One year's published holiday arrangement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearCalendar {
    /// The calendar year this notice is for.
    pub year: i32,
    /// Where the arrangement comes from (the notice's title and date).
    pub source: String,
    /// The holidays of the year, each with its make-up working days.
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

impl YearCalendar {
    /// Reads a year's calendar from TOML text and checks it
    /// (see [`YearCalendar::validate`]).
    pub fn from_toml(text: &str) -> Result<Self, CalendarError> {
        let year: YearCalendar =
            toml::from_str(text).map_err(|e| CalendarError::Parse(e.to_string()))?;
        year.validate()?;
        Ok(year)
    }

    /// Writes the calendar as TOML text (dates as strings), which
    /// [`YearCalendar::from_toml`] reads back unchanged.
    pub fn to_toml(&self) -> Result<String, CalendarError> {
        toml::to_string(self).map_err(|e| CalendarError::Parse(e.to_string()))
    }

    /// Checks the calendar: every date lies in the year (or in the last
    /// [`SPILLOVER_DAYS`] days of the year before), every holiday ends on or
    /// after its first day, every make-up day is a Saturday or a Sunday, and
    /// no date is both a holiday and a make-up day.
    pub fn validate(&self) -> Result<(), CalendarError> {
        self.day_map().map(|_| ())
    }

    /// The first date a calendar for `year` may mention.
    fn first_allowed(year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year - 1, 12, 31)
            .and_then(|d| d.checked_sub_days(Days::new(u64::from(SPILLOVER_DAYS - 1))))
    }

    fn check_in_year(&self, date: NaiveDate) -> Result<(), CalendarError> {
        let last = NaiveDate::from_ymd_opt(self.year, 12, 31);
        let first = Self::first_allowed(self.year);
        match (first, last) {
            (Some(first), Some(last)) if first <= date && date <= last => Ok(()),
            _ => Err(CalendarError::OutsideYear {
                year: self.year,
                date,
            }),
        }
    }

    /// Every date this calendar overrides, with its kind, after validation.
    fn day_map(&self) -> Result<BTreeMap<NaiveDate, Override>, CalendarError> {
        let mut map = BTreeMap::new();
        for h in &self.holidays {
            self.check_in_year(h.from)?;
            self.check_in_year(h.to)?;
            if h.to < h.from {
                return Err(CalendarError::Reversed {
                    from: h.from,
                    to: h.to,
                });
            }
            for d in h.days() {
                map.insert(d, Override::Holiday);
            }
        }
        for h in &self.holidays {
            for &d in &h.makeup {
                self.check_in_year(d)?;
                if !is_weekend(d) {
                    return Err(CalendarError::MakeupNotWeekend(d));
                }
                if map.get(&d) == Some(&Override::Holiday) {
                    return Err(CalendarError::BothHolidayAndMakeup(d));
                }
                map.insert(d, Override::Makeup);
            }
        }
        Ok(map)
    }
}

/// What a calendar says about a date that differs from the weekday rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Override {
    Holiday,
    Makeup,
}

/// The kind of a day, as the calendar sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Monday to Friday, not a holiday: a working day.
    Weekday,
    /// Saturday or Sunday, not a make-up day: a day off.
    Weekend,
    /// A statutory holiday: a day off.
    Holiday,
    /// A weekend day made a working day (调休).
    Makeup,
}

impl DayKind {
    /// Whether a day of this kind is a working day.
    pub fn is_working(self) -> bool {
        matches!(self, DayKind::Weekday | DayKind::Makeup)
    }
}

/// Why a calendar was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The TOML text could not be read or written.
    #[error("calendar file is not valid: {0}")]
    Parse(String),
    /// A date lies outside the calendar's year.
    #[error("date {date} lies outside the calendar year {year}")]
    OutsideYear {
        /// The calendar's year.
        year: i32,
        /// The offending date.
        date: NaiveDate,
    },
    /// A holiday ends before it starts.
    #[error("holiday from {from} to {to} ends before it starts")]
    Reversed {
        /// First day as written.
        from: NaiveDate,
        /// Last day as written.
        to: NaiveDate,
    },
    /// A make-up working day that is not a Saturday or Sunday.
    #[error("make-up working day {0} is not a Saturday or Sunday")]
    MakeupNotWeekend(NaiveDate),
    /// A date that is both a holiday and a make-up working day.
    #[error("date {0} is both a holiday and a make-up working day")]
    BothHolidayAndMakeup(NaiveDate),
    /// Two years' calendars disagree about a date (this can only happen in
    /// the days of December that a following year's notice may cover).
    #[error("the calendars of {year} and {other_year} disagree about {date}")]
    Conflict {
        /// The year being inserted.
        year: i32,
        /// The year already present.
        other_year: i32,
        /// The date they disagree about.
        date: NaiveDate,
    },
}

/// The working-day calendar over several years.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    years: BTreeMap<i32, YearCalendar>,
    /// Every date that differs from the weekday rule, over all years,
    /// with the year whose notice said so.
    overrides: BTreeMap<NaiveDate, (Override, i32)>,
}

impl Calendar {
    /// An empty calendar: every year falls back to the weekday rule.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one year's calendar from TOML text; see
    /// [`YearCalendar::from_toml`].
    pub fn from_toml(text: &str) -> Result<YearCalendar, CalendarError> {
        YearCalendar::from_toml(text)
    }

    /// Reads one year's calendar from TOML text and inserts it.
    pub fn load_toml(&mut self, text: &str) -> Result<i32, CalendarError> {
        let year = YearCalendar::from_toml(text)?;
        let y = year.year;
        self.insert_year(year)?;
        Ok(y)
    }

    /// A calendar holding the given years; fails on the first refused one.
    pub fn from_years<I>(years: I) -> Result<Self, CalendarError>
    where
        I: IntoIterator<Item = YearCalendar>,
    {
        let mut cal = Self::new();
        for y in years {
            cal.insert_year(y)?;
        }
        Ok(cal)
    }

    /// Adds a year, replacing a calendar already held for the same year.
    ///
    /// Refuses (and leaves the calendar unchanged) a year that fails
    /// [`YearCalendar::validate`] or that disagrees with another year held
    /// about a date both mention.
    pub fn insert_year(&mut self, year: YearCalendar) -> Result<(), CalendarError> {
        let days = year.day_map()?;
        let mut overrides: BTreeMap<NaiveDate, (Override, i32)> = self
            .overrides
            .iter()
            .filter(|(_, (_, y))| *y != year.year)
            .map(|(d, v)| (*d, *v))
            .collect();
        for (d, kind) in days {
            match overrides.get(&d) {
                Some((other, other_year)) if *other != kind => {
                    return Err(CalendarError::Conflict {
                        year: year.year,
                        other_year: *other_year,
                        date: d,
                    });
                }
                Some(_) => {}
                None => {
                    overrides.insert(d, (kind, year.year));
                }
            }
        }
        self.overrides = overrides;
        self.years.insert(year.year, year);
        Ok(())
    }

    /// Removes a year's calendar, returning it if it was held.
    pub fn remove_year(&mut self, year: i32) -> Option<YearCalendar> {
        let removed = self.years.remove(&year)?;
        self.overrides.retain(|_, (_, y)| *y != year);
        // A date that two years both mentioned stays with the other year.
        for other in self.years.values() {
            if let Ok(days) = other.day_map() {
                for (d, kind) in days {
                    self.overrides.entry(d).or_insert((kind, other.year));
                }
            }
        }
        Some(removed)
    }

    /// Whether a calendar has been published for `year`.
    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The years held, in ascending order.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// The calendar held for `year`, if any.
    pub fn year(&self, year: i32) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    /// The kind of day `d` is.
    pub fn day_kind(&self, d: NaiveDate) -> DayKind {
        match self.overrides.get(&d) {
            Some((Override::Holiday, _)) => DayKind::Holiday,
            Some((Override::Makeup, _)) => DayKind::Makeup,
            None if is_weekend(d) => DayKind::Weekend,
            None => DayKind::Weekday,
        }
    }

    /// Whether `d` is a working day: a make-up day is, a holiday is not,
    /// otherwise Monday to Friday are. A year without a calendar uses the
    /// weekday rule alone.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.day_kind(d).is_working()
    }

    /// The holiday whose days off or make-up days include `d`, if any.
    pub fn holiday_of(&self, d: NaiveDate) -> Option<&Holiday> {
        let (_, year) = self.overrides.get(&d)?;
        self.years
            .get(year)?
            .holidays
            .iter()
            .find(|h| (h.from <= d && d <= h.to) || h.makeup.contains(&d))
    }

    /// The first date on or after `d` that the calendar overrides (holiday
    /// or make-up day), if any.
    pub(crate) fn next_override_from(&self, d: NaiveDate) -> Option<NaiveDate> {
        self.overrides.range(d..).next().map(|(k, _)| *k)
    }

    /// The net change that overrides in `after < d <= to` make to the
    /// weekday count: +1 per make-up day, -1 per holiday on a weekday.
    pub(crate) fn override_adjustment(&self, after: NaiveDate, to: NaiveDate) -> i64 {
        if to <= after {
            return 0;
        }
        self.overrides
            .range((Bound::Excluded(after), Bound::Included(to)))
            .map(|(d, (kind, _))| match kind {
                Override::Makeup if is_weekend(*d) => 1,
                Override::Holiday if !is_weekend(*d) => -1,
                _ => 0,
            })
            .sum()
    }
}

/// Whether `d` is a Saturday or a Sunday.
pub fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Reads a date from a string (`"2026-01-01"`) or a TOML local date.
fn de_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    FlexDate::deserialize(deserializer).map(|f| f.0)
}

/// Reads a list of dates, each as in [`de_date`].
fn de_dates<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<NaiveDate>, D::Error> {
    Vec::<FlexDate>::deserialize(deserializer).map(|v| v.into_iter().map(|f| f.0).collect())
}

/// A date that reads from a string or from a TOML local date (which the TOML
/// reader hands over as a one-entry map holding the date's text).
struct FlexDate(NaiveDate);

impl<'de> Deserialize<'de> for FlexDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FlexDateVisitor)
    }
}

struct FlexDateVisitor;

impl FlexDateVisitor {
    fn parse<E: serde::de::Error>(text: &str) -> Result<FlexDate, E> {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(FlexDate)
            .map_err(|_| E::custom(format!("`{text}` is not a date of the form YYYY-MM-DD")))
    }
}

impl<'de> serde::de::Visitor<'de> for FlexDateVisitor {
    type Value = FlexDate;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a date YYYY-MM-DD")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FlexDate, E> {
        Self::parse(v)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<FlexDate, A::Error> {
        let Some((_key, text)) = map.next_entry::<String, String>()? else {
            return Err(serde::de::Error::custom(
                "expected a date, found an empty table",
            ));
        };
        if map.next_key::<serde::de::IgnoredAny>()?.is_some() {
            return Err(serde::de::Error::custom("expected a date, found a table"));
        }
        Self::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const Y2026: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/calendar/2026.toml"
    ));

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn cal2026() -> Calendar {
        let mut c = Calendar::new();
        c.load_toml(Y2026).unwrap();
        c
    }

    fn holiday(from: NaiveDate, to: NaiveDate, makeup: Vec<NaiveDate>) -> Holiday {
        Holiday {
            name_zh: "假日".into(),
            name_en: "Holiday".into(),
            from,
            to,
            makeup,
        }
    }

    #[test]
    fn file_2026_loads() {
        let c = cal2026();
        assert!(c.has_year(2026));
        assert!(!c.has_year(2025));
        assert_eq!(c.years(), vec![2026]);
        let y = c.year(2026).unwrap();
        assert_eq!(y.holidays.len(), 7);
        assert!(y.source.contains("2026"));
    }

    #[test]
    fn file_2026_days() {
        let c = cal2026();
        // New Year: Jan 1-3 off, Sunday Jan 4 working.
        assert!(!c.is_working_day(date(2026, 1, 1)));
        assert!(!c.is_working_day(date(2026, 1, 3)));
        assert!(c.is_working_day(date(2026, 1, 4)));
        assert_eq!(c.day_kind(date(2026, 1, 4)), DayKind::Makeup);
        assert!(c.is_working_day(date(2026, 1, 5)));
        // Spring Festival: Feb 15-23 off, Sat Feb 14 and Sat Feb 28 working.
        assert!(c.is_working_day(date(2026, 2, 14)));
        assert!(!c.is_working_day(date(2026, 2, 16)));
        assert_eq!(c.day_kind(date(2026, 2, 16)), DayKind::Holiday);
        assert!(!c.is_working_day(date(2026, 2, 23)));
        assert!(c.is_working_day(date(2026, 2, 24)));
        assert!(c.is_working_day(date(2026, 2, 28)));
        assert!(!c.is_working_day(date(2026, 3, 1)));
        // Qingming: Apr 4-6 off, Apr 7 working.
        assert!(!c.is_working_day(date(2026, 4, 6)));
        assert!(c.is_working_day(date(2026, 4, 7)));
        // Labour Day: May 1-5 off, Sat May 9 working.
        assert!(!c.is_working_day(date(2026, 5, 5)));
        assert!(c.is_working_day(date(2026, 5, 6)));
        assert!(c.is_working_day(date(2026, 5, 9)));
        // Dragon Boat: Jun 19-21; Mid-Autumn: Sep 25-27.
        assert!(!c.is_working_day(date(2026, 6, 19)));
        assert!(!c.is_working_day(date(2026, 9, 25)));
        // National Day: Oct 1-7 off; Sun Sep 20 and Sat Oct 10 working.
        assert!(c.is_working_day(date(2026, 9, 20)));
        assert!(!c.is_working_day(date(2026, 10, 1)));
        assert!(!c.is_working_day(date(2026, 10, 7)));
        assert!(c.is_working_day(date(2026, 10, 8)));
        assert!(c.is_working_day(date(2026, 10, 10)));
        assert!(!c.is_working_day(date(2026, 10, 11)));
        // An ordinary weekend and weekday.
        assert!(!c.is_working_day(date(2026, 3, 7)));
        assert!(c.is_working_day(date(2026, 3, 9)));
    }

    #[test]
    fn file_2026_counts() {
        let c = cal2026();
        let y = c.year(2026).unwrap();
        let off: usize = y.holidays.iter().map(|h| h.days().count()).sum();
        let makeup: usize = y.holidays.iter().map(|h| h.makeup.len()).sum();
        assert_eq!(off, 3 + 9 + 3 + 5 + 3 + 3 + 7);
        assert_eq!(makeup, 6);
        let working = date(2026, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == 2026)
            .filter(|d| c.is_working_day(*d))
            .count();
        // 261 weekdays in 2026, less 19 holidays on weekdays, plus 6 make-up days.
        assert_eq!(working, 248);
    }

    #[test]
    fn holiday_names() {
        let c = cal2026();
        assert_eq!(
            c.holiday_of(date(2026, 10, 3)).unwrap().name_en,
            "National Day"
        );
        assert_eq!(c.holiday_of(date(2026, 9, 20)).unwrap().name_zh, "国庆节");
        assert!(c.holiday_of(date(2026, 9, 21)).is_none());
    }

    #[test]
    fn no_calendar_means_weekdays() {
        let c = cal2026();
        assert!(c.is_working_day(date(2027, 1, 1))); // a Friday
        assert!(!c.is_working_day(date(2027, 1, 2))); // a Saturday
        let empty = Calendar::new();
        assert!(empty.is_working_day(date(2026, 1, 1)));
        assert!(!empty.is_working_day(date(2026, 1, 4)));
        assert!(empty.years().is_empty());
    }

    #[test]
    fn toml_round_trip() {
        let y = Calendar::from_toml(Y2026).unwrap();
        let text = y.to_toml().unwrap();
        let back = YearCalendar::from_toml(&text).unwrap();
        assert_eq!(y, back);
        let json = serde_json::to_string(&y).unwrap();
        assert!(json.contains("\"2026-01-01\""));
        let back: YearCalendar = serde_json::from_str(&json).unwrap();
        assert_eq!(y, back);
    }

    #[test]
    fn string_and_native_dates_read_the_same() {
        let native = "year = 2026\nsource = \"s\"\n[[holidays]]\nname_zh = \"元旦\"\nname_en = \"New Year's Day\"\nfrom = 2026-01-01\nto = 2026-01-03\nmakeup = [2026-01-04]\n";
        let strings = native
            .replace("2026-01-01", "\"2026-01-01\"")
            .replace("2026-01-03", "\"2026-01-03\"")
            .replace("2026-01-04", "\"2026-01-04\"");
        let a = YearCalendar::from_toml(native).unwrap();
        let b = YearCalendar::from_toml(&strings).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.holidays[0].makeup, vec![date(2026, 1, 4)]);
    }

    #[test]
    fn bad_files_refused() {
        let cases = [
            "year = 2026\nsource = \"s\"\n[[holidays]]\nname_zh = \"a\"\nname_en = \"a\"\nfrom = 2026-01-01T10:00:00\nto = 2026-01-03\n",
            "year = 2026\nsource = \"s\"\n[[holidays]]\nname_zh = \"a\"\nname_en = \"a\"\nfrom = \"2026-02-30\"\nto = 2026-01-03\n",
            "year = 2026\nsource = \"s\"\n[[holidays]]\nname_zh = \"a\"\nname_en = \"a\"\nform = 2026-01-01\nto = 2026-01-03\n",
            "year = 2026\n[[holidays]]\nname_zh = \"a\"\nname_en = \"a\"\nfrom = 2026-01-01\nto = 2026-01-03\n",
            "year = 2026\nsource = \"s\"\n[[holidays]]\nname_zh = \"a\"\nname_en = \"a\"\nfrom = 2026-01-01\nto = 2026-01-03\nmakeup = [1]\n",
            "not toml at all [",
        ];
        for text in cases {
            assert!(
                matches!(YearCalendar::from_toml(text), Err(CalendarError::Parse(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn validation() {
        let base = |holidays| YearCalendar {
            year: 2026,
            source: "test".into(),
            holidays,
        };
        // Outside the year.
        let y = base(vec![holiday(date(2025, 1, 1), date(2025, 1, 2), vec![])]);
        assert!(matches!(
            y.validate(),
            Err(CalendarError::OutsideYear { year: 2026, .. })
        ));
        let y = base(vec![holiday(date(2026, 12, 31), date(2027, 1, 1), vec![])]);
        assert!(matches!(
            y.validate(),
            Err(CalendarError::OutsideYear { .. })
        ));
        let y = base(vec![holiday(
            date(2026, 5, 1),
            date(2026, 5, 2),
            vec![date(2027, 1, 2)],
        )]);
        assert!(matches!(
            y.validate(),
            Err(CalendarError::OutsideYear { .. })
        ));
        // The last days of the year before are allowed, earlier ones are not.
        let y = base(vec![holiday(date(2025, 12, 31), date(2026, 1, 1), vec![])]);
        assert!(y.validate().is_ok());
        let y = base(vec![holiday(
            date(2026, 1, 1),
            date(2026, 1, 1),
            vec![date(2025, 12, 27)],
        )]);
        assert!(y.validate().is_ok());
        let y = base(vec![holiday(date(2025, 12, 24), date(2026, 1, 1), vec![])]);
        assert!(matches!(
            y.validate(),
            Err(CalendarError::OutsideYear { .. })
        ));
        // Reversed.
        let y = base(vec![holiday(date(2026, 1, 3), date(2026, 1, 1), vec![])]);
        assert!(matches!(y.validate(), Err(CalendarError::Reversed { .. })));
        // Make-up day on a weekday.
        let y = base(vec![holiday(
            date(2026, 1, 1),
            date(2026, 1, 3),
            vec![date(2026, 1, 5)],
        )]);
        assert_eq!(
            y.validate(),
            Err(CalendarError::MakeupNotWeekend(date(2026, 1, 5)))
        );
        // Both holiday and make-up, within one holiday and across two.
        let y = base(vec![holiday(
            date(2026, 1, 1),
            date(2026, 1, 4),
            vec![date(2026, 1, 4)],
        )]);
        assert_eq!(
            y.validate(),
            Err(CalendarError::BothHolidayAndMakeup(date(2026, 1, 4)))
        );
        let y = base(vec![
            holiday(date(2026, 1, 1), date(2026, 1, 3), vec![date(2026, 2, 14)]),
            holiday(date(2026, 2, 14), date(2026, 2, 16), vec![]),
        ]);
        assert_eq!(
            y.validate(),
            Err(CalendarError::BothHolidayAndMakeup(date(2026, 2, 14)))
        );
        // A refused year leaves the calendar unchanged.
        let mut c = cal2026();
        let before = c.clone();
        assert!(c.insert_year(y).is_err());
        assert_eq!(c, before);
    }

    #[test]
    fn insert_replace_remove() {
        let mut c = cal2026();
        let mut y = c.year(2026).unwrap().clone();
        y.holidays.retain(|h| h.name_en != "National Day");
        c.insert_year(y).unwrap();
        assert_eq!(c.years(), vec![2026]);
        assert!(c.is_working_day(date(2026, 10, 8)));
        assert!(c.is_working_day(date(2026, 10, 1)));
        assert!(!c.is_working_day(date(2026, 10, 10)));
        assert!(c.remove_year(2026).is_some());
        assert!(c.remove_year(2026).is_none());
        assert!(!c.has_year(2026));
        assert!(c.is_working_day(date(2026, 1, 1)));
    }

    #[test]
    fn years_that_disagree() {
        let y2025 = YearCalendar {
            year: 2025,
            source: "t".into(),
            holidays: vec![holiday(
                date(2025, 12, 29),
                date(2025, 12, 29),
                vec![date(2025, 12, 27)],
            )],
        };
        let y2026 = YearCalendar {
            year: 2026,
            source: "t".into(),
            holidays: vec![holiday(date(2025, 12, 27), date(2026, 1, 1), vec![])],
        };
        let mut c = Calendar::from_years([y2025.clone()]).unwrap();
        assert!(matches!(
            c.insert_year(y2026),
            Err(CalendarError::Conflict {
                year: 2026,
                other_year: 2025,
                ..
            })
        ));
        // A following year may cover the last days of December on its own.
        let y2026 = YearCalendar {
            year: 2026,
            source: "t".into(),
            holidays: vec![holiday(date(2025, 12, 31), date(2026, 1, 1), vec![])],
        };
        c.insert_year(y2026).unwrap();
        assert!(!c.is_working_day(date(2025, 12, 31)));
        assert!(!c.is_working_day(date(2025, 12, 29)));
        c.remove_year(2026);
        assert!(c.is_working_day(date(2025, 12, 31)));
        assert!(!c.is_working_day(date(2025, 12, 29)));
        assert!(c.is_working_day(date(2025, 12, 27)));
    }

    #[test]
    fn adjustment_counts() {
        let c = cal2026();
        // Spring Festival window: Feb 14 (make-up, +1), Feb 16-20 and 23
        // holidays on weekdays (-6), Feb 28 (make-up, +1).
        assert_eq!(
            c.override_adjustment(date(2026, 1, 31), date(2026, 2, 28)),
            -4
        );
        assert_eq!(
            c.override_adjustment(date(2026, 2, 14), date(2026, 2, 28)),
            -5
        );
        assert_eq!(
            c.override_adjustment(date(2026, 2, 28), date(2026, 2, 1)),
            0
        );
        assert_eq!(c.next_override_from(date(2026, 12, 1)), None);
        assert_eq!(
            c.next_override_from(date(2026, 1, 5)),
            Some(date(2026, 2, 14))
        );
    }
}
