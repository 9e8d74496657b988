//! Time limits: when a case is due, and how many working days remain.
//!
//! The rules (Administrative Licensing Law art. 82 and 45):
//!
//! - counting starts on the day after the start date (acceptance);
//! - a limit in working days counts only working days of the
//!   [`Calendar`](super::calendar::Calendar), which knows the statutory
//!   holidays and the weekend days made working days (调休);
//! - time spent in special procedures (hearings, testing, expert review, ...)
//!   is not counted: each suspension is an [`Interval`], and a day `d` is
//!   paused when `from <= d < to`;
//! - an approved extension adds units to the limit;
//! - a limit in calendar days that ends on a day off ends instead on the
//!   next working day.
//!
//! [`due`] is a pure function of these inputs; the caller recomputes it on
//! every case event. It is fast for any input: it walks only the calendar's
//! holidays and make-up days and the suspension boundaries, and counts the
//! plain weeks in between arithmetically.

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::Calendar;

/// The unit of a time limit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Working days (工作日): skips weekends and statutory holidays, counts
    /// make-up working days.
    WorkingDays,
    /// Calendar days (自然日): every day counts; a limit that ends on a day off
    /// ends on the next working day.
    CalendarDays,
}

/// A suspension of the clock (中止): the days `from <= d < to` are not
/// counted. `to = None` means the suspension is still open.
///
/// An interval with `to <= from` pauses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Interval {
    /// First paused day.
    pub from: NaiveDate,
    /// First day counted again (the day the case resumed), or `None` while
    /// the suspension is open.
    pub to: Option<NaiveDate>,
}

impl Interval {
    /// A closed suspension: `from <= d < to` paused.
    pub fn closed(from: NaiveDate, to: NaiveDate) -> Self {
        Self { from, to: Some(to) }
    }

    /// An open suspension, starting on `from`.
    pub fn open(from: NaiveDate) -> Self {
        Self { from, to: None }
    }

    /// Whether the suspension is still open.
    pub fn is_open(&self) -> bool {
        self.to.is_none()
    }

    /// Whether day `d` is paused by this suspension.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && self.to.is_none_or(|t| d < t)
    }
}

/// The result of [`due`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Due {
    /// The due date: the day on which the last unit of the limit falls.
    /// `None` while an open suspension has stopped the clock before the
    /// limit ran out (the due date is not known yet).
    pub date: Option<NaiveDate>,
    /// Years with no published calendar that the computation had to look
    /// at; their days were judged by the weekday rule alone, so the date may
    /// be wrong. Ascending, no duplicates.
    pub missing_years: Vec<i32>,
}

impl Due {
    /// Whether the clock is stopped by an open suspension.
    pub fn is_stopped(&self) -> bool {
        self.date.is_none()
    }

    /// Whether the computation relied on the weekday rule for a year
    /// without a published calendar.
    pub fn is_approximate(&self) -> bool {
        !self.missing_years.is_empty()
    }
}

/// The due date of a time limit of `n` units plus `extension` units,
/// counted from the day after `start`, skipping the days paused by
/// `suspensions`.
///
/// - A day counts if it is not paused and, for
///   [`TimeUnit::WorkingDays`], it is a working day of `calendar`.
/// - The due date is the day on which the last counted unit falls;
///   `n + extension == 0` gives `start`.
/// - For [`TimeUnit::CalendarDays`], a last day that is not a working day
///   moves forward to the next working day (suspensions play no part in
///   that move).
/// - Suspensions may overlap, come in any order, lie before `start` (they
///   then change nothing) or be empty. An open suspension gives
///   `date: None` only if it starts before the limit runs out; one that
///   starts later leaves the (passed) due date as it is.
/// - A limit that would end beyond the last date that can be represented
///   gives [`NaiveDate::MAX`].
pub fn due(
    start: NaiveDate,
    n: u32,
    unit: TimeUnit,
    calendar: &Calendar,
    suspensions: &[Interval],
    extension: u32,
) -> Due {
    let total = u64::from(n) + u64::from(extension);
    if total == 0 {
        return Due {
            date: Some(start),
            missing_years: Vec::new(),
        };
    }
    let Some(first) = start.succ_opt() else {
        return Due {
            date: Some(NaiveDate::MAX),
            missing_years: Vec::new(),
        };
    };
    match count(first, total, unit, calendar, &merge(suspensions)) {
        Counted::Stopped(at) => {
            let missing_years = match (unit, at.pred_opt()) {
                (TimeUnit::WorkingDays, Some(last)) if last >= first => {
                    missing_years(calendar, first, last)
                }
                _ => Vec::new(),
            };
            Due {
                date: None,
                missing_years,
            }
        }
        Counted::Last(last) => match unit {
            TimeUnit::WorkingDays => Due {
                date: Some(last),
                missing_years: missing_years(calendar, first, last),
            },
            TimeUnit::CalendarDays => {
                let mut end = last;
                while !calendar.is_working_day(end) {
                    match end.succ_opt() {
                        Some(next) => end = next,
                        None => break,
                    }
                }
                Due {
                    date: Some(end),
                    missing_years: missing_years(calendar, last, end),
                }
            }
        },
    }
}

/// The number of working days `d` with `from < d <= to`; if `to < from`, the
/// negative of the number with `to < d <= from`. Zero when equal.
///
/// With `from` = today and `to` = the due date, this is the number of
/// working days left; negative when the due date has passed. Suspensions
/// are not considered.
pub fn working_days_between(calendar: &Calendar, from: NaiveDate, to: NaiveDate) -> i64 {
    if to < from {
        return -working_days_between(calendar, to, from);
    }
    let weekdays =
        weekdays_before(to.num_days_from_ce()) - weekdays_before(from.num_days_from_ce());
    weekdays + calendar.override_adjustment(from, to)
}

/// Working days left from `today` to `due`, as the deadline lists show
/// them: 0 on the due day, and once the due day has passed, minus the
/// working days since, but never 0: on the Sunday after a Friday due day
/// it is -1, so that "due today" is never shown for a day already past.
pub fn working_days_left(calendar: &Calendar, today: NaiveDate, due: NaiveDate) -> i64 {
    let n = working_days_between(calendar, today, due);
    if due < today { n.min(-1) } else { n }
}

/// Warning level (电子监察).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    /// On time.
    Green,
    /// Near the committed deadline.
    Yellow,
    /// Past a deadline, or a stage over its norm.
    Red,
}

impl Warning {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::Yellow => "yellow",
            Self::Red => "red",
        }
    }

    /// From its stable name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "green" => Some(Self::Green),
            "yellow" => Some(Self::Yellow),
            "red" => Some(Self::Red),
            _ => None,
        }
    }
}

/// The share (percent) of a committed limit, at its end, in which a
/// running case is yellow, where the matter does not set its own.
pub const YELLOW_PERCENT: u32 = 20;

/// How many units of a committed limit of `n` units, at its end, make a
/// case yellow: `percent` of the limit rounded down, and never fewer than
/// one (the due day itself). A 2-day limit is yellow on its due day only;
/// a 20-working-day limit in its last 4 working days.
pub fn yellow_units(n: u32, percent: u32) -> u32 {
    (u64::from(n) * u64::from(percent.min(100)) / 100).max(1) as u32
}

/// The last due date that makes a running case yellow on `today`, for a
/// committed limit of `n` units of `unit` and a yellow share of `percent`:
/// a due date on which the last [`yellow_units`] units have begun. For
/// working days, the units counted are working days after today up to the
/// due day (weekends and holidays between do not count); for calendar
/// days, days.
pub fn yellow_horizon(
    calendar: &Calendar,
    today: NaiveDate,
    n: u32,
    unit: TimeUnit,
    percent: u32,
) -> NaiveDate {
    let ahead = i64::from(yellow_units(n, percent)) - 1;
    match unit {
        TimeUnit::CalendarDays => today + chrono::Days::new(ahead as u64),
        TimeUnit::WorkingDays => {
            let mut last = today;
            for d in today.iter_days().take(400) {
                if working_days_between(calendar, today, d) <= ahead {
                    last = d;
                } else {
                    break;
                }
            }
            last
        }
    }
}

/// The one warning rule (电子监察), for the case itself, the read model's
/// lists and the pages: red once any due date (`dues`: statutory, committed,
/// a stage's) has passed; yellow when the committed due date falls on or
/// before `horizon` ([`yellow_horizon`] of the case's committed limit);
/// green otherwise. Only for a case
/// still running and not suspended: the caller says green for the others.
pub fn warning_level(
    dues: [Option<NaiveDate>; 3],
    committed: Option<NaiveDate>,
    today: NaiveDate,
    horizon: NaiveDate,
) -> Warning {
    if dues.iter().flatten().any(|due| *due < today) {
        Warning::Red
    } else if committed.is_some_and(|due| due <= horizon) {
        Warning::Yellow
    } else {
        Warning::Green
    }
}

/// How counting ended.
enum Counted {
    /// The last unit fell on this day.
    Last(NaiveDate),
    /// An open suspension stopped the clock on this day.
    Stopped(NaiveDate),
}

/// A paused stretch `from <= d < to` (`None`: open).
type Span = (NaiveDate, Option<NaiveDate>);

/// Sorts the suspensions and merges overlapping or touching ones into
/// disjoint spans; drops empty ones.
fn merge(suspensions: &[Interval]) -> Vec<Span> {
    let mut spans: Vec<Span> = suspensions
        .iter()
        .filter(|s| s.to.is_none_or(|t| t > s.from))
        .map(|s| (s.from, s.to))
        .collect();
    spans.sort_by_key(|s| s.0);
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for (from, to) in spans {
        if let Some(last) = merged.last_mut() {
            match last.1 {
                None => continue,
                Some(last_to) if from <= last_to => {
                    last.1 = to.map(|t| t.max(last_to));
                    continue;
                }
                Some(_) => {}
            }
        }
        merged.push((from, to));
    }
    merged
}

/// Counts `total` (> 0) units from day `d` on (inclusive).
fn count(
    mut d: NaiveDate,
    mut remaining: u64,
    unit: TimeUnit,
    calendar: &Calendar,
    spans: &[Span],
) -> Counted {
    let mut i = 0;
    loop {
        // Skip the spans that ended on or before `d`.
        while spans.get(i).is_some_and(|s| s.1.is_some_and(|to| to <= d)) {
            i += 1;
        }
        let next_span = match spans.get(i) {
            Some(&(from, to)) if from <= d => match to {
                None => return Counted::Stopped(d),
                Some(to) => {
                    d = to;
                    continue;
                }
            },
            Some(&(from, _)) => Some(from),
            None => None,
        };
        let next_override = match unit {
            TimeUnit::WorkingDays => calendar.next_override_from(d),
            TimeUnit::CalendarDays => None,
        };
        if next_override == Some(d) {
            if calendar.is_working_day(d) {
                remaining -= 1;
                if remaining == 0 {
                    return Counted::Last(d);
                }
            }
            match d.succ_opt() {
                Some(next) => d = next,
                None => return Counted::Last(NaiveDate::MAX),
            }
            continue;
        }
        // Days from `d` up to `end` (exclusive) follow the plain rule.
        let end = match (next_span, next_override) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let available = end.map(|e| match unit {
            TimeUnit::WorkingDays => {
                weekdays_before(e.num_days_from_ce() - 1)
                    - weekdays_before(d.num_days_from_ce() - 1)
            }
            TimeUnit::CalendarDays => (e - d).num_days(),
        });
        match (end, available) {
            (Some(e), Some(avail)) if (avail.max(0) as u64) < remaining => {
                remaining -= avail.max(0) as u64;
                d = e;
            }
            _ => {
                let last = match unit {
                    TimeUnit::WorkingDays => nth_weekday(d, remaining),
                    TimeUnit::CalendarDays => d.checked_add_days(Days::new(remaining - 1)),
                };
                return Counted::Last(last.unwrap_or(NaiveDate::MAX));
            }
        }
    }
}

/// The number of Mondays-to-Fridays in the `n` days that start with Monday
/// 0001-01-01 (`n` may be negative: then minus the count before it).
fn weekdays_before(n: i32) -> i64 {
    let n = i64::from(n);
    n.div_euclid(7) * 5 + n.rem_euclid(7).min(5)
}

/// The `k`-th (k >= 1) Monday-to-Friday on or after `d`.
fn nth_weekday(d: NaiveDate, k: u64) -> Option<NaiveDate> {
    let wd = u64::from(d.weekday().num_days_from_monday());
    // Move to a weekday; `idx` is its place in its week (Monday = 0).
    let (base, idx) = if wd >= 5 {
        (d.checked_add_days(Days::new(7 - wd))?, 0)
    } else {
        (d, wd)
    };
    let target = idx + (k - 1);
    let offset = (target / 5) * 7 + target % 5 - idx;
    base.checked_add_days(Days::new(offset))
}

/// The years from `from` to `to` (inclusive) without a published calendar.
fn missing_years(calendar: &Calendar, from: NaiveDate, to: NaiveDate) -> Vec<i32> {
    (from.year()..=to.year())
        .filter(|y| !calendar.has_year(*y))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::Weekday;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    const Y2026: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/calendar/2026.toml"
    ));

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn cal() -> &'static Calendar {
        static CAL: OnceLock<Calendar> = OnceLock::new();
        CAL.get_or_init(|| {
            let mut c = Calendar::new();
            c.load_toml(Y2026).unwrap();
            c
        })
    }

    fn wd(start: NaiveDate, n: u32) -> Option<NaiveDate> {
        due(start, n, TimeUnit::WorkingDays, cal(), &[], 0).date
    }

    /// Day-by-day reference implementation.
    fn naive_due(
        start: NaiveDate,
        n: u32,
        unit: TimeUnit,
        calendar: &Calendar,
        suspensions: &[Interval],
        extension: u32,
    ) -> Option<NaiveDate> {
        let mut remaining = n + extension;
        if remaining == 0 {
            return Some(start);
        }
        let mut d = start;
        loop {
            d = d.succ_opt().unwrap();
            let paused = suspensions.iter().any(|s| s.contains(d));
            if paused {
                if suspensions.iter().any(|s| s.contains(d) && s.is_open()) {
                    return None;
                }
                continue;
            }
            let counts = match unit {
                TimeUnit::WorkingDays => calendar.is_working_day(d),
                TimeUnit::CalendarDays => true,
            };
            if counts {
                remaining -= 1;
                if remaining == 0 {
                    break;
                }
            }
        }
        if unit == TimeUnit::CalendarDays {
            while !calendar.is_working_day(d) {
                d = d.succ_opt().unwrap();
            }
        }
        Some(d)
    }

    fn naive_between(calendar: &Calendar, from: NaiveDate, to: NaiveDate) -> i64 {
        let (a, b, sign) = if to < from {
            (to, from, -1)
        } else {
            (from, to, 1)
        };
        let n = a
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= b)
            .filter(|d| calendar.is_working_day(*d))
            .count();
        sign * i64::try_from(n).unwrap()
    }

    #[test]
    fn time_unit_serde() {
        assert_eq!(
            serde_json::to_string(&TimeUnit::WorkingDays).unwrap(),
            "\"working_days\""
        );
        assert_eq!(
            serde_json::from_str::<TimeUnit>("\"calendar_days\"").unwrap(),
            TimeUnit::CalendarDays
        );
        let due = Due {
            date: None,
            missing_years: vec![2027],
        };
        let json = serde_json::to_string(&due).unwrap();
        assert_eq!(json, r#"{"date":null,"missing_years":[2027]}"#);
        let i = Interval::closed(date(2026, 3, 4), date(2026, 3, 6));
        let json = serde_json::to_string(&i).unwrap();
        assert_eq!(json, r#"{"from":"2026-03-04","to":"2026-03-06"}"#);
        assert_eq!(serde_json::from_str::<Interval>(&json).unwrap(), i);
    }

    #[test]
    fn days_left_are_negative_from_the_day_after_the_due_day_even_over_a_weekend() {
        // Friday 2026-12-25 due.
        let due = date(2026, 12, 25);
        assert_eq!(working_days_left(cal(), date(2026, 12, 24), due), 1);
        assert_eq!(working_days_left(cal(), due, due), 0);
        // Saturday and Sunday: no working day has passed, but it is past.
        assert_eq!(working_days_between(cal(), date(2026, 12, 27), due), 0);
        assert_eq!(working_days_left(cal(), date(2026, 12, 26), due), -1);
        assert_eq!(working_days_left(cal(), date(2026, 12, 27), due), -1);
        assert_eq!(working_days_left(cal(), date(2026, 12, 28), due), -1);
        assert_eq!(working_days_left(cal(), date(2026, 12, 29), due), -2);
    }

    #[test]
    fn mid_autumn_and_national_day() {
        // Thu Sep 24 + 5: Sep 25-27 off, Sep 28, 29, 30, Oct 1-7 off, Oct 8, 9.
        assert_eq!(wd(date(2026, 9, 24), 5), Some(date(2026, 10, 9)));
        assert_eq!(wd(date(2026, 9, 24), 3), Some(date(2026, 9, 30)));
        assert_eq!(wd(date(2026, 9, 24), 4), Some(date(2026, 10, 8)));
        // Oct 10 is a make-up Saturday.
        assert_eq!(wd(date(2026, 9, 24), 6), Some(date(2026, 10, 10)));
        assert_eq!(wd(date(2026, 9, 24), 7), Some(date(2026, 10, 12)));
        // From Fri Sep 18: Sun Sep 20 (make-up) 1, Sep 21-24 2-5, Sep 28-30
        // 6-8, Oct 8-10 9-11, Oct 12-16 12-16, Oct 19-22 17-20.
        assert_eq!(wd(date(2026, 9, 18), 1), Some(date(2026, 9, 20)));
        assert_eq!(wd(date(2026, 9, 18), 20), Some(date(2026, 10, 22)));
        assert_eq!(
            working_days_between(cal(), date(2026, 9, 24), date(2026, 10, 9)),
            5
        );
        assert_eq!(
            working_days_between(cal(), date(2026, 10, 9), date(2026, 9, 24)),
            -5
        );
        assert_eq!(
            working_days_between(cal(), date(2026, 10, 9), date(2026, 10, 9)),
            0
        );
    }

    #[test]
    fn spring_festival() {
        // Fri Feb 13 + 1: Sat Feb 14 is a make-up working day.
        assert_eq!(wd(date(2026, 2, 13), 1), Some(date(2026, 2, 14)));
        // + 2: Feb 15-23 off, Tue Feb 24.
        assert_eq!(wd(date(2026, 2, 13), 2), Some(date(2026, 2, 24)));
        // Accepted on the make-up Saturday itself: the count starts Sunday.
        assert_eq!(wd(date(2026, 2, 14), 1), Some(date(2026, 2, 24)));
        // Feb 24-27 are 1-4, Sat Feb 28 is 5.
        assert_eq!(wd(date(2026, 2, 23), 5), Some(date(2026, 2, 28)));
        assert_eq!(wd(date(2026, 2, 23), 6), Some(date(2026, 3, 2)));
        // Twenty working days from Feb 1: Feb 2-6 (5), Feb 9-13 (10), Feb 14
        // (11), Feb 24-27 (15), Feb 28 (16), Mar 2-5 (20).
        assert_eq!(wd(date(2026, 2, 1), 20), Some(date(2026, 3, 5)));
    }

    #[test]
    fn zero_limit_is_start() {
        let d = date(2026, 10, 3);
        for unit in [TimeUnit::WorkingDays, TimeUnit::CalendarDays] {
            let due = due(d, 0, unit, cal(), &[Interval::open(date(2026, 1, 1))], 0);
            assert_eq!(due.date, Some(d));
            assert!(due.missing_years.is_empty());
        }
    }

    #[test]
    fn calendar_days_roll_forward() {
        let cd = |start, n| due(start, n, TimeUnit::CalendarDays, cal(), &[], 0).date;
        // Sep 24 + 7 = Oct 1, a holiday: the period ends on Oct 8.
        assert_eq!(cd(date(2026, 9, 24), 7), Some(date(2026, 10, 8)));
        // Mon Mar 2 + 5 = Sat Mar 7: ends Mon Mar 9.
        assert_eq!(cd(date(2026, 3, 2), 5), Some(date(2026, 3, 9)));
        // Oct 3 + 7 = Sat Oct 10, a make-up working day: stays.
        assert_eq!(cd(date(2026, 10, 3), 7), Some(date(2026, 10, 10)));
        // A working day stays.
        assert_eq!(cd(date(2026, 3, 2), 3), Some(date(2026, 3, 5)));
        // Thirty days from Jan 16 = Feb 15, in the Spring Festival: Feb 24.
        assert_eq!(cd(date(2026, 1, 16), 30), Some(date(2026, 2, 24)));
    }

    #[test]
    fn suspensions_and_extension() {
        let s = date(2026, 3, 2); // Monday
        assert_eq!(wd(s, 5), Some(date(2026, 3, 9)));
        let run = |susp: &[Interval], ext| due(s, 5, TimeUnit::WorkingDays, cal(), susp, ext).date;
        // Mar 4 and 5 paused: Mar 3, 6, 9, 10, 11.
        let stop = [Interval::closed(date(2026, 3, 4), date(2026, 3, 6))];
        assert_eq!(run(&stop, 0), Some(date(2026, 3, 11)));
        // The same, split, overlapping and out of order.
        let split = [
            Interval::closed(date(2026, 3, 5), date(2026, 3, 6)),
            Interval::closed(date(2026, 3, 4), date(2026, 3, 5)),
            Interval::closed(date(2026, 3, 4), date(2026, 3, 6)),
            Interval::closed(date(2026, 3, 5), date(2026, 3, 4)),
        ];
        assert_eq!(run(&split, 0), Some(date(2026, 3, 11)));
        // Before the start: no effect.
        let before = [Interval::closed(date(2026, 2, 1), date(2026, 3, 2))];
        assert_eq!(run(&before, 0), Some(date(2026, 3, 9)));
        // Straddling the start: Mar 3 paused.
        let straddle = [Interval::closed(date(2026, 3, 1), date(2026, 3, 4))];
        assert_eq!(run(&straddle, 0), Some(date(2026, 3, 10)));
        // Open: the clock is stopped.
        let open = [Interval::open(date(2026, 3, 4))];
        assert_eq!(run(&open, 0), None);
        let open_first = [Interval::open(date(2026, 3, 1))];
        assert_eq!(run(&open_first, 0), None);
        // Open, but starting after the limit ran out: the date stands.
        let late = [Interval::open(date(2026, 3, 20))];
        assert_eq!(run(&late, 0), Some(date(2026, 3, 9)));
        // An open suspension inside a closed one that it outlasts.
        let nested = [
            Interval::closed(date(2026, 3, 4), date(2026, 3, 30)),
            Interval::open(date(2026, 3, 5)),
        ];
        assert_eq!(run(&nested, 0), None);
        // Extension: 5 + 3 = Mar 3-6, 9-12.
        assert_eq!(run(&[], 3), Some(date(2026, 3, 12)));
        assert_eq!(run(&stop, 3), Some(date(2026, 3, 16)));
    }

    #[test]
    fn suspension_over_national_day() {
        // Suspended from Sep 28 to Oct 12: of the remaining units none fall
        // before Oct 12. Sep 24 + 5: Oct 12, 13, 14, 15, 16.
        let susp = [Interval::closed(date(2026, 9, 28), date(2026, 10, 12))];
        let d = due(date(2026, 9, 24), 5, TimeUnit::WorkingDays, cal(), &susp, 0);
        assert_eq!(d.date, Some(date(2026, 10, 16)));
        assert!(d.missing_years.is_empty());
    }

    #[test]
    fn missing_years_reported() {
        // Dec 29, 30, 31, Fri Jan 1 2027 (weekday rule), Mon Jan 4.
        let d = due(date(2026, 12, 28), 5, TimeUnit::WorkingDays, cal(), &[], 0);
        assert_eq!(d.date, Some(date(2027, 1, 4)));
        assert_eq!(d.missing_years, vec![2027]);
        assert!(d.is_approximate());
        // Dec 31 2025 (1), Jan 1-3 off, Sun Jan 4 (2), Mon Jan 5 (3).
        let d = due(date(2025, 12, 30), 3, TimeUnit::WorkingDays, cal(), &[], 0);
        assert_eq!(d.date, Some(date(2026, 1, 5)));
        assert_eq!(d.missing_years, vec![2025]);
        let d = due(date(2026, 3, 1), 5, TimeUnit::WorkingDays, cal(), &[], 0);
        assert!(d.missing_years.is_empty());
        // Calendar days consult the calendar only for the last day.
        let d = due(
            date(2025, 12, 30),
            10,
            TimeUnit::CalendarDays,
            cal(),
            &[],
            0,
        );
        assert_eq!(d.date, Some(date(2026, 1, 9)));
        assert!(d.missing_years.is_empty());
        let d = due(date(2026, 12, 30), 3, TimeUnit::CalendarDays, cal(), &[], 0);
        assert_eq!(d.date, Some(date(2027, 1, 4)));
        assert_eq!(d.missing_years, vec![2027]);
        // Stopped: the years looked at before the stop.
        let susp = [Interval::open(date(2027, 1, 5))];
        let d = due(
            date(2026, 12, 20),
            30,
            TimeUnit::WorkingDays,
            cal(),
            &susp,
            0,
        );
        assert_eq!(d.date, None);
        assert!(d.is_stopped());
        assert_eq!(d.missing_years, vec![2027]);
        let empty = Calendar::new();
        let d = due(date(2025, 12, 1), 60, TimeUnit::WorkingDays, &empty, &[], 0);
        assert_eq!(d.missing_years, vec![2025, 2026]);
    }

    #[test]
    fn extremes_do_not_panic() {
        let empty = Calendar::new();
        for unit in [TimeUnit::WorkingDays, TimeUnit::CalendarDays] {
            for c in [cal(), &empty] {
                let d = due(date(2026, 1, 1), u32::MAX, unit, c, &[], u32::MAX);
                assert_eq!(d.date, Some(NaiveDate::MAX));
                let d = due(NaiveDate::MAX, 1, unit, c, &[], 0);
                assert_eq!(d.date, Some(NaiveDate::MAX));
                let d = due(NaiveDate::MIN, 1, unit, c, &[], 0);
                assert!(d.date.is_some());
                let susp = [Interval::closed(NaiveDate::MIN, NaiveDate::MAX)];
                let d = due(date(2026, 1, 1), 3, unit, c, &susp, 0);
                assert_eq!(d.date, Some(NaiveDate::MAX));
            }
        }
        // A large but representable limit.
        let d = due(
            date(2026, 1, 1),
            1_000_000,
            TimeUnit::WorkingDays,
            &empty,
            &[],
            0,
        );
        let end = d.date.unwrap();
        assert_eq!(
            working_days_between(&empty, date(2026, 1, 1), end),
            1_000_000
        );
        assert!(!working_days_between(cal(), NaiveDate::MIN, NaiveDate::MAX).is_negative());
    }

    #[test]
    fn weekday_helpers() {
        let mon = date(2026, 3, 2);
        assert_eq!(mon.weekday(), Weekday::Mon);
        assert_eq!(nth_weekday(mon, 1), Some(mon));
        assert_eq!(nth_weekday(mon, 5), Some(date(2026, 3, 6)));
        assert_eq!(nth_weekday(mon, 6), Some(date(2026, 3, 9)));
        assert_eq!(nth_weekday(date(2026, 3, 7), 1), Some(date(2026, 3, 9)));
        assert_eq!(nth_weekday(date(2026, 3, 8), 6), Some(date(2026, 3, 16)));
        assert_eq!(nth_weekday(date(2026, 3, 6), 2), Some(date(2026, 3, 9)));
        assert_eq!(date(1, 1, 1).weekday(), Weekday::Mon);
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        // 2025-10-01 .. 2027-03-31: crosses years with and without calendar.
        (0u64..547).prop_map(|k| date(2025, 10, 1).checked_add_days(Days::new(k)).unwrap())
    }

    fn any_interval() -> impl Strategy<Value = Interval> {
        (any_date(), prop::option::weighted(0.9, 0u64..40)).prop_map(|(from, len)| Interval {
            from,
            to: len.map(|l| from.checked_add_days(Days::new(l)).unwrap()),
        })
    }

    fn any_unit() -> impl Strategy<Value = TimeUnit> {
        prop_oneof![Just(TimeUnit::WorkingDays), Just(TimeUnit::CalendarDays)]
    }

    fn later(a: Option<NaiveDate>, b: Option<NaiveDate>) -> bool {
        // None (stopped) is later than any date.
        match (a, b) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => b >= a,
        }
    }

    proptest! {
        #[test]
        fn matches_day_by_day(
            start in any_date(),
            n in 0u32..80,
            ext in 0u32..10,
            unit in any_unit(),
            susp in prop::collection::vec(any_interval(), 0..4),
            empty in any::<bool>(),
        ) {
            let c = if empty { Calendar::new() } else { cal().clone() };
            let fast = due(start, n, unit, &c, &susp, ext);
            prop_assert_eq!(fast.date, naive_due(start, n, unit, &c, &susp, ext));
        }

        #[test]
        fn never_before_start(
            start in any_date(),
            n in 0u32..80,
            ext in 0u32..10,
            unit in any_unit(),
            susp in prop::collection::vec(any_interval(), 0..4),
        ) {
            if let Some(d) = due(start, n, unit, cal(), &susp, ext).date {
                prop_assert!(d >= start);
                if n + ext > 0 {
                    prop_assert!(d > start);
                }
            }
        }

        #[test]
        fn working_days_add_up(start in any_date(), n in 0u32..120, ext in 0u32..10) {
            let d = due(start, n, TimeUnit::WorkingDays, cal(), &[], ext).date.unwrap();
            prop_assert_eq!(working_days_between(cal(), start, d), i64::from(n + ext));
            prop_assert_eq!(working_days_between(cal(), d, start), -i64::from(n + ext));
            if n + ext > 0 {
                prop_assert!(cal().is_working_day(d));
            }
        }

        #[test]
        fn calendar_days_end_on_working_day(start in any_date(), n in 1u32..120) {
            let d = due(start, n, TimeUnit::CalendarDays, cal(), &[], 0).date.unwrap();
            prop_assert!(cal().is_working_day(d));
            prop_assert!((d - start).num_days() >= i64::from(n));
        }

        #[test]
        fn suspension_never_makes_it_earlier(
            start in any_date(),
            n in 0u32..80,
            unit in any_unit(),
            susp in prop::collection::vec(any_interval(), 0..3),
            extra in any_interval(),
        ) {
            let before = due(start, n, unit, cal(), &susp, 0).date;
            let mut more = susp.clone();
            more.push(extra);
            let after = due(start, n, unit, cal(), &more, 0).date;
            prop_assert!(later(before, after), "{:?} then {:?}", before, after);
        }

        #[test]
        fn suspension_on_days_off_changes_nothing(
            start in any_date(),
            n in 0u32..80,
            probe in any_date(),
            skip in 0u64..5,
            take in 1u64..5,
        ) {
            // The run of days off that starts at or after `probe`.
            let first_off = probe.iter_days().find(|d| !cal().is_working_day(*d)).unwrap();
            let run: Vec<NaiveDate> = first_off
                .iter_days()
                .take_while(|d| !cal().is_working_day(*d))
                .collect();
            let len = run.len() as u64;
            let from = skip.min(len - 1);
            let to = (from + take).min(len);
            let s = Interval::closed(
                run[usize::try_from(from).unwrap()],
                first_off.checked_add_days(Days::new(to)).unwrap(),
            );
            let plain = due(start, n, TimeUnit::WorkingDays, cal(), &[], 0);
            let with = due(start, n, TimeUnit::WorkingDays, cal(), &[s], 0);
            prop_assert_eq!(plain.date, with.date);
        }

        #[test]
        fn monotonic_in_n(
            start in any_date(),
            n in 0u32..80,
            unit in any_unit(),
            susp in prop::collection::vec(any_interval(), 0..3),
        ) {
            let a = due(start, n, unit, cal(), &susp, 0).date;
            let b = due(start, n + 1, unit, cal(), &susp, 0).date;
            prop_assert!(later(a, b));
            let c = due(start, n, unit, cal(), &susp, 1).date;
            prop_assert_eq!(b, c);
        }

        #[test]
        fn between_matches_day_by_day(a in any_date(), b in any_date(), empty in any::<bool>()) {
            let c = if empty { Calendar::new() } else { cal().clone() };
            prop_assert_eq!(working_days_between(&c, a, b), naive_between(&c, a, b));
            prop_assert_eq!(working_days_between(&c, a, b), -working_days_between(&c, b, a));
        }

        #[test]
        fn weekday_helpers_agree(start in any_date(), k in 1u64..100) {
            let fast = nth_weekday(start, k).unwrap();
            let slow = start
                .iter_days()
                .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
                .nth(usize::try_from(k - 1).unwrap())
                .unwrap();
            prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn the_yellow_share_scales_with_the_limit_and_is_never_less_than_the_due_day() {
        assert_eq!(yellow_units(2, YELLOW_PERCENT), 1);
        assert_eq!(yellow_units(5, YELLOW_PERCENT), 1);
        assert_eq!(yellow_units(10, YELLOW_PERCENT), 2);
        assert_eq!(yellow_units(20, YELLOW_PERCENT), 4);
        assert_eq!(yellow_units(60, YELLOW_PERCENT), 12);
        assert_eq!(yellow_units(20, 50), 10);
        assert_eq!(yellow_units(0, YELLOW_PERCENT), 1);
        assert_eq!(yellow_units(u32::MAX, 500), u32::MAX);
    }

    #[test]
    fn the_yellow_horizon_skips_weekends_and_holidays() {
        let wd = TimeUnit::WorkingDays;
        // A 2-working-day limit is yellow on its due day only.
        assert_eq!(
            yellow_horizon(cal(), date(2026, 9, 23), 2, wd, 20),
            date(2026, 9, 23)
        );
        // 15 working days at 20%: the last 3. From Thursday 2026-09-24 the
        // holiday from Friday 09-25 to Sunday 09-27 does not count; Monday
        // 09-28 is the first working day after today and Tuesday the
        // second, so a case due on Tuesday 09-29 is yellow, one due on
        // Wednesday is not.
        assert_eq!(
            yellow_horizon(cal(), date(2026, 9, 24), 15, wd, 20),
            date(2026, 9, 29)
        );
        // Friday 2026-10-09: Saturday 10-10 is a make-up working day.
        assert_eq!(
            yellow_horizon(cal(), date(2026, 10, 9), 15, wd, 20),
            date(2026, 10, 12)
        );
        // Calendar days count every day.
        assert_eq!(
            yellow_horizon(cal(), date(2026, 10, 9), 30, TimeUnit::CalendarDays, 20),
            date(2026, 10, 14)
        );
        for d in date(2026, 1, 1).iter_days().take(365) {
            for n in [1, 2, 5, 10, 20, 60] {
                let ahead = i64::from(yellow_units(n, YELLOW_PERCENT)) - 1;
                let h = yellow_horizon(cal(), d, n, wd, YELLOW_PERCENT);
                assert!(working_days_between(cal(), d, h) <= ahead);
                assert!(working_days_between(cal(), d, h.succ_opt().unwrap()) > ahead);
            }
        }
    }

    #[test]
    fn a_two_day_certificate_is_green_on_the_day_it_is_accepted() {
        // Accepted on Monday 2026-11-23, due Wednesday 11-25.
        let accepted = date(2026, 11, 23);
        let due_on = due(accepted, 2, TimeUnit::WorkingDays, cal(), &[], 0)
            .date
            .unwrap();
        assert_eq!(due_on, date(2026, 11, 25));
        let level = |today| {
            let h = yellow_horizon(cal(), today, 2, TimeUnit::WorkingDays, YELLOW_PERCENT);
            warning_level([None, Some(due_on), None], Some(due_on), today, h)
        };
        assert_eq!(level(accepted), Warning::Green);
        assert_eq!(level(date(2026, 11, 24)), Warning::Green);
        assert_eq!(level(date(2026, 11, 25)), Warning::Yellow);
        assert_eq!(level(date(2026, 11, 26)), Warning::Red);
    }

    #[test]
    fn one_warning_rule_red_past_any_due_date_yellow_within_the_horizon() {
        let today = date(2026, 10, 9);
        let horizon = date(2026, 10, 13);
        // (any horizon: the rule takes it as given)
        let due = |d| Some(date(2026, 10, d));
        // Past any due date: red, whichever it is.
        for i in 0..3 {
            let mut dues = [due(20); 3];
            dues[i] = due(8);
            assert_eq!(warning_level(dues, due(20), today, horizon), Warning::Red);
        }
        // Due today is not yet past.
        assert_eq!(
            warning_level([due(9), due(9), None], due(9), today, horizon),
            Warning::Yellow
        );
        assert_eq!(
            warning_level([due(20), due(13), None], due(13), today, horizon),
            Warning::Yellow
        );
        assert_eq!(
            warning_level([due(20), due(14), None], due(14), today, horizon),
            Warning::Green
        );
        assert_eq!(
            warning_level([None, None, None], None, today, horizon),
            Warning::Green
        );
    }
}
