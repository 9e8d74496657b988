//! Bookings at a hall: the day's slots from the opening hours, the
//! booking code, and when a booked visitor may take a number.
//!
//! A hall's day is cut into slots of [`SLOT_MINUTES`] within its opening
//! hours (`[node] opening_hours`, e.g. `09:00-12:00,13:30-17:30`); a slot
//! is booked on a working day of the holiday calendar. A booked visitor
//! checks in at the kiosk or the window from [`CHECK_IN_EARLY_MINUTES`]
//! before the slot's start to its end ([`arrival`]); earlier is refused,
//! later is a walk-in.

use chrono::{NaiveDate, NaiveTime, TimeZone};

/// Length of a slot (minutes).
pub const SLOT_MINUTES: u32 = 30;

/// How long before its slot's start a booked visitor may check in
/// (minutes).
pub const CHECK_IN_EARLY_MINUTES: i64 = 15;

/// How many days ahead (today included as day 0) a slot may be booked.
pub const BOOKING_DAYS_AHEAD: u64 = 30;

/// The characters of a booking code: digits and capital letters without
/// 0, O, 1 and I, which are read one for the other.
pub const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Characters in a booking code (40 random bits).
pub const CODE_LEN: usize = 8;

/// The states of a booking.
pub mod status {
    /// Booked, not yet come.
    pub const BOOKED: &str = "booked";
    /// Cancelled by the citizen.
    pub const CANCELLED: &str = "cancelled";
    /// Came within the slot and took a booked number.
    pub const CHECKED_IN: &str = "checked_in";
    /// The slot ended without a check-in.
    pub const NO_SHOW: &str = "no_show";
}

/// One slot of a day: `[start, end)`, local (China) time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Start.
    pub start: NaiveTime,
    /// End.
    pub end: NaiveTime,
}

impl Slot {
    /// The start as `HH:MM`.
    pub fn start_text(&self) -> String {
        self.start.format("%H:%M").to_string()
    }

    /// The end as `HH:MM`.
    pub fn end_text(&self) -> String {
        self.end.format("%H:%M").to_string()
    }

    /// Start and end on `day`, in ms since the epoch.
    pub fn on(&self, day: NaiveDate) -> (i64, i64) {
        (china_ms(day, self.start), china_ms(day, self.end))
    }
}

/// The hall's opening hours: periods of a working day, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours(Vec<(NaiveTime, NaiveTime)>);

impl OpeningHours {
    /// Reads `HH:MM-HH:MM` periods separated by commas, each ending after
    /// it starts and after the one before it ends.
    pub fn parse(text: &str) -> Result<Self, String> {
        let time = |s: &str| {
            NaiveTime::parse_from_str(s.trim(), "%H:%M")
                .map_err(|_| format!("{:?} is not a time HH:MM", s.trim()))
        };
        let mut periods: Vec<(NaiveTime, NaiveTime)> = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (a, b) = part
                .split_once('-')
                .ok_or_else(|| format!("{:?} is not a period HH:MM-HH:MM", part.trim()))?;
            let (a, b) = (time(a)?, time(b)?);
            if b <= a {
                return Err(format!("{:?} ends before it starts", part.trim()));
            }
            if periods.last().is_some_and(|&(_, end)| a < end) {
                return Err(format!(
                    "{:?} starts before the period before it ends",
                    part.trim()
                ));
            }
            periods.push((a, b));
        }
        if periods.is_empty() {
            return Err("no period given".to_owned());
        }
        Ok(Self(periods))
    }

    /// The day's slots: whole slots of [`SLOT_MINUTES`] from the start of
    /// each period (a period's remainder shorter than a slot is none).
    pub fn slots(&self) -> Vec<Slot> {
        let len = chrono::Duration::minutes(i64::from(SLOT_MINUTES));
        let mut slots = Vec::new();
        for &(open, close) in &self.0 {
            let mut start = open;
            loop {
                let (end, wrapped) = start.overflowing_add_signed(len);
                if wrapped != 0 || end > close {
                    break;
                }
                slots.push(Slot { start, end });
                start = end;
            }
        }
        slots
    }

    /// The slot that starts at `start` (`HH:MM`), if the day has one.
    pub fn slot_at(&self, start: &str) -> Option<Slot> {
        self.slots().into_iter().find(|s| s.start_text() == start)
    }
}

/// A local (China, UTC+8) time on a day, in ms since the epoch.
pub fn china_ms(day: NaiveDate, t: NaiveTime) -> i64 {
    const CHINA: chrono::FixedOffset = match chrono::FixedOffset::east_opt(8 * 3600) {
        Some(tz) => tz,
        None => panic!("UTC+8 is a valid offset"),
    };
    CHINA
        .from_local_datetime(&day.and_time(t))
        .single()
        .map_or(0, |d| d.timestamp_millis())
}

/// When a booked visitor arrives, against the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Before the check-in opens, which is at `from_ms`.
    Early {
        /// When the check-in opens.
        from_ms: i64,
    },
    /// Within the check-in: a booked number.
    InSlot,
    /// After the slot's end: a walk-in.
    Late,
}

/// Whether `now_ms` is within the check-in of a slot `[start_ms,
/// end_ms)`: from [`CHECK_IN_EARLY_MINUTES`] before the start to the end.
pub fn arrival(start_ms: i64, end_ms: i64, now_ms: i64) -> Arrival {
    let from_ms = start_ms - CHECK_IN_EARLY_MINUTES * 60_000;
    if now_ms < from_ms {
        Arrival::Early { from_ms }
    } else if now_ms < end_ms {
        Arrival::InSlot
    } else {
        Arrival::Late
    }
}

/// The hall's rule on repeated no-shows (`[node] booking_no_show_limit`,
/// `booking_no_show_days`, `booking_block_days`): `limit` no-shows within
/// `within_days` keep a person from booking for `block_days` after the
/// last of them. A limit of 0 is no rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoShowRule {
    /// No-shows that block (0: never).
    pub limit: u32,
    /// The days within which they count.
    pub within_days: u32,
    /// The days a person is blocked after the no-show that reached the
    /// limit.
    pub block_days: u32,
}

impl NoShowRule {
    /// How far back (ms before now) a no-show can still matter.
    pub fn lookback_ms(&self) -> i64 {
        (i64::from(self.within_days) + i64::from(self.block_days)) * DAY_MS
    }

    /// Until when (ms) a person whose no-shows ended at `no_shows` (slot
    /// ends, ms, any order) is blocked, if that is after `now_ms`: the
    /// latest no-show that had `limit` no-shows (itself included) within
    /// `within_days` before it, plus `block_days`.
    pub fn blocked_until(&self, no_shows: &[i64], now_ms: i64) -> Option<i64> {
        if self.limit == 0 {
            return None;
        }
        let mut ends: Vec<i64> = no_shows.iter().copied().filter(|&e| e <= now_ms).collect();
        ends.sort_unstable();
        let need = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let window = i64::from(self.within_days) * DAY_MS;
        ends.iter()
            .enumerate()
            .filter(|&(i, &end)| i + 1 >= need && end - ends[i + 1 - need] <= window)
            .map(|(_, &end)| end + i64::from(self.block_days) * DAY_MS)
            .max()
            .filter(|&until| until > now_ms)
    }
}

/// A day in ms.
const DAY_MS: i64 = 86_400_000;

/// A booking code from random bytes (each byte picks a character).
pub fn code_from(random: [u8; CODE_LEN]) -> String {
    random
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b % 32)]))
        .collect()
}

/// A booking code as typed (spaces and dashes left out, letters in either
/// case), or `None` if it cannot be one.
pub fn normalize_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    #[test]
    fn slots_are_whole_half_hours_within_each_period() {
        let h = OpeningHours::parse("09:00-12:00, 13:30-17:45").unwrap();
        let slots = h.slots();
        assert_eq!(slots.len(), 6 + 8);
        assert_eq!(
            slots[0],
            Slot {
                start: t("09:00"),
                end: t("09:30")
            }
        );
        assert_eq!(slots[5].end_text(), "12:00");
        assert_eq!(slots[6].start_text(), "13:30");
        assert_eq!(slots.last().unwrap().end_text(), "17:30");
        assert!(h.slot_at("09:30").is_some());
        assert!(h.slot_at("09:15").is_none());
        assert!(h.slot_at("12:00").is_none());
        assert!(h.slot_at("nine").is_none());
    }

    #[test]
    fn opening_hours_that_cannot_be_are_refused() {
        for bad in [
            "",
            "9-12",
            "12:00-09:00",
            "09:00-12:00,11:00-13:00",
            "09:00",
        ] {
            assert!(OpeningHours::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn check_in_opens_a_quarter_before_the_slot_and_ends_with_it() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let (s, e) = Slot {
            start: t("14:00"),
            end: t("14:30"),
        }
        .on(day);
        assert_eq!(e - s, 30 * 60_000);
        // 14:00 in China is 06:00 UTC.
        assert_eq!(s, 1_795_413_600_000);
        let open = s - CHECK_IN_EARLY_MINUTES * 60_000;
        assert_eq!(arrival(s, e, open - 1), Arrival::Early { from_ms: open });
        assert_eq!(arrival(s, e, open), Arrival::InSlot);
        assert_eq!(arrival(s, e, e - 1), Arrival::InSlot);
        assert_eq!(arrival(s, e, e), Arrival::Late);
    }

    #[test]
    fn codes_use_the_unambiguous_alphabet_and_read_back() {
        let code = code_from([0, 1, 31, 32, 255, 7, 8, 9]);
        assert_eq!(code.len(), CODE_LEN);
        assert!(!code.contains(['0', 'O', '1', 'I']));
        assert_eq!(normalize_code(&code.to_lowercase()), Some(code.clone()));
        assert_eq!(
            normalize_code(&format!(" {}-{} ", &code[..4], &code[4..])),
            Some(code)
        );
        assert_eq!(normalize_code("ABCD0EFG"), None);
        assert_eq!(normalize_code("ABCDEFG"), None);
        assert_eq!(normalize_code("预约码预约码预约"), None);
    }

    #[test]
    fn repeated_no_shows_block_booking_for_a_while_after_the_last() {
        const D: i64 = DAY_MS;
        let rule = NoShowRule {
            limit: 3,
            within_days: 30,
            block_days: 14,
        };
        let now = 100 * D;
        // Two no-shows are not three.
        assert_eq!(rule.blocked_until(&[now - 5 * D, now - 2 * D], now), None);
        // Three within 30 days: blocked 14 days after the third.
        let three = [now - 20 * D, now - 2 * D, now - 10 * D];
        assert_eq!(rule.blocked_until(&three, now), Some(now + 12 * D));
        // Three spread over more than 30 days do not count together.
        assert_eq!(
            rule.blocked_until(&[now - 40 * D, now - 9 * D, now - 2 * D], now),
            None
        );
        // The block ends.
        assert_eq!(rule.blocked_until(&three, now + 12 * D), None);
        // No rule.
        let none = NoShowRule { limit: 0, ..rule };
        assert_eq!(none.blocked_until(&three, now), None);
        assert_eq!(rule.lookback_ms(), 44 * D);
    }
}
