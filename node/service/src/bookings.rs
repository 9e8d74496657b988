//! Bookings at the hall: a citizen books a slot for a matter and gets a
//! code; the code, shown at the kiosk or the window within the slot, gives
//! a booked number (see `queue`). One set of rules for the API and the
//! pages.
//!
//! Only a matter the catalogue marks `bookable` is booked. A slot is one
//! of the day's half hours within `[node] opening_hours`, on a working day
//! of the holiday calendar (a holiday has none, a make-up working day 调休
//! has them), from now to [`BOOKING_DAYS_AHEAD`] days ahead, and takes
//! `[node] slot_capacity` bookings of all matters together, and of one
//! matter `window_capacity` for each window open for it
//! (`booking_windows`, or the matter's own number in `matter_windows`). A
//! person who did not come to `booking_no_show_limit` slots within
//! `booking_no_show_days` may not book for `booking_block_days` after the
//! last of them (`booking_blocked`). A citizen reads or cancels a booking
//! with its code and the last four characters of the ID number; a wrong
//! pair and an unknown code get the same answer. A booking whose slot ended
//! without a check-in reads as `no_show` at once, and is stored so by
//! [`Node::sweep_bookings`] (run by the server every minute).

use onewindow_domain::booking::{
    self, BOOKING_DAYS_AHEAD, CHECK_IN_EARLY_MINUTES, OpeningHours, Slot, status,
};
use onewindow_domain::case::ApplicantKind;
use onewindow_i18n::{Arg, text_args};
use onewindow_store::{BookOutcome, Booking};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::{ApplicantInput, Node};

/// A citizen's booking.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// The matter's code: one this hall receives.
    #[schema(min_length = 1, max_length = 40)]
    pub matter: String,
    /// The day, `YYYY-MM-DD`: a working day from today to 29 days ahead.
    #[schema(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub date: String,
    /// The slot's start, `HH:MM`: one of the day's slots
    /// (`GET /api/v1/bookings/slots`) that has not started.
    #[schema(pattern = r"^\d{2}:\d{2}$")]
    pub start: String,
    /// The applicant's name (not blank, at most 100 characters).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// The applicant's citizen ID number (GB 11643, the check character
    /// must match).
    #[schema(pattern = "^[0-9]{17}[0-9Xx]$")]
    pub id_number: String,
    /// A phone to reach the applicant: 1 to 20 of digits, `+`, `-` and
    /// spaces.
    #[schema(pattern = "^[0-9+ -]{1,20}$", min_length = 1, max_length = 20)]
    pub phone: String,
}

/// A booking as its holder sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BookingView {
    /// The booking code: give it at the kiosk or the window.
    pub code: String,
    /// The matter's code.
    pub matter: String,
    /// The matter's Chinese name.
    pub matter_zh: String,
    /// The matter's English name.
    pub matter_en: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The slot's start, `HH:MM`.
    pub start: String,
    /// The slot's end, `HH:MM`.
    pub end: String,
    /// From when a number can be taken with the code, `HH:MM` (15 minutes
    /// before the start).
    pub check_in_from: String,
    /// `booked`, `cancelled`, `checked_in` or `no_show`.
    pub status: String,
    /// The status in Chinese.
    pub status_zh: String,
    /// The status in English.
    pub status_en: String,
    /// The applicant's name.
    pub name: String,
    /// The applicant's ID number, masked.
    pub id_masked: String,
    /// Booked (ms since the epoch).
    pub created_at_ms: i64,
}

/// One slot of a day, with its free places.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SlotView {
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM`.
    pub end: String,
    /// Places in the slot.
    pub capacity: u32,
    /// Places still free.
    pub free: u32,
    /// It may be booked now: not started, and a place free.
    pub open: bool,
}

/// A day's slots for a matter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DaySlots {
    /// The matter's code.
    pub matter: String,
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// The hall is open that day (a working day of the holiday calendar);
    /// none of its slots otherwise.
    pub working_day: bool,
    /// Bookings are taken for the day: from today to 29 days ahead.
    pub bookable: bool,
    /// The day's slots, in order.
    pub slots: Vec<SlotView>,
}

/// How many times a new code is drawn when the one drawn is taken.
const CODE_DRAWS: usize = 8;

/// "The booking was not found" for a code and the last four characters of
/// an ID that do not go together (the same for an unknown code).
fn not_found() -> Error {
    Error::not_found("booking_not_found", &[])
}

/// A slot's times for messages: `2026-11-23 14:00–14:30`.
pub fn slot_text(b: &Booking) -> String {
    format!("{} {}–{}", b.day, b.slot_start, b.slot_end)
}

/// `HH:MM` of a time in China.
pub(crate) fn clock_text(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms + 8 * 3_600_000)
        .map(|d| d.format("%H:%M").to_string())
        .unwrap_or_default()
}

impl Node {
    /// The hall's opening hours (checked when the configuration is loaded;
    /// the documented default if they do not read).
    pub fn opening_hours(&self) -> OpeningHours {
        OpeningHours::parse(&self.config.node.opening_hours).unwrap_or_else(|_| {
            OpeningHours::parse(crate::config::DEFAULT_OPENING_HOURS)
                .unwrap_or_else(|_| unreachable!("the default opening hours read"))
        })
    }

    /// The day of a request, exactly `YYYY-MM-DD`.
    fn booking_day(date: &str) -> Result<chrono::NaiveDate, Error> {
        let shaped = date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        shaped
            .then(|| chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
            .flatten()
            .ok_or_else(|| Error::bad_request("bad_date", &[]))
    }

    /// Whether `day` is within the days bookings are taken for.
    fn bookable_day(&self, day: chrono::NaiveDate) -> bool {
        let today = self.today();
        day >= today && (day - today).num_days() < i64::try_from(BOOKING_DAYS_AHEAD).unwrap_or(0)
    }

    /// A matter this hall receives and the catalogue marks bookable.
    fn matter_for_booking(&self, code: &str) -> Result<onewindow_domain::catalogue::Matter, Error> {
        let m = self.matter_for_window(code)?;
        if !m.bookable {
            return Err(Error::with_text(
                ErrorKind::Unprocessable,
                "matter_not_bookable",
                text_args(
                    "err.matter_not_bookable",
                    &[("matter", Arg::Each(&m.name_zh, &m.name_en))],
                ),
            ));
        }
        Ok(m)
    }

    /// A matter's places in one slot: `window_capacity` for each window
    /// open for it, never more than the slot's.
    fn matter_capacity(&self, matter: &str) -> u32 {
        let n = &self.config.node;
        n.windows_for(matter)
            .saturating_mul(n.window_capacity)
            .min(n.slot_capacity)
    }

    /// The slots of `date` for `matter`, with their free places.
    pub async fn booking_slots(&self, matter: &str, date: &str) -> Result<DaySlots, Error> {
        let m = self.matter_for_booking(matter.trim())?;
        let day = Self::booking_day(date)?;
        let working_day = self.calendar().is_working_day(day);
        let bookable = self.bookable_day(day);
        let day_text = day.format("%Y-%m-%d").to_string();
        let slots = if working_day {
            let taken = self.store.slots_taken(&day_text).await?;
            let slot_capacity = i64::from(self.config.node.slot_capacity);
            let capacity = self.matter_capacity(&m.code);
            let now = self.now_ms();
            self.opening_hours()
                .slots()
                .into_iter()
                .map(|s| {
                    let start = s.start_text();
                    let in_slot = taken.iter().filter(|(t, _, _)| *t == start);
                    let all: i64 = in_slot.clone().map(|(_, _, n)| n).sum();
                    let mine: i64 = in_slot
                        .filter(|(_, code, _)| *code == m.code)
                        .map(|(_, _, n)| n)
                        .sum();
                    let free = (i64::from(capacity) - mine).min(slot_capacity - all);
                    let free = u32::try_from(free).unwrap_or(0);
                    SlotView {
                        end: s.end_text(),
                        capacity,
                        free,
                        open: bookable && free > 0 && s.on(day).0 > now,
                        start,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(DaySlots {
            matter: m.code,
            date: day_text,
            working_day,
            bookable,
            slots,
        })
    }

    /// Books a slot: the matter must be one this hall receives, the day a
    /// working day within [`BOOKING_DAYS_AHEAD`], the slot one of the
    /// day's that has not started and has a place; the applicant's ID is
    /// checked like the window's, and one person holds one booking a day.
    /// Nothing is stored on a refusal.
    pub async fn book(&self, req: &BookingRequest) -> Result<BookingView, Error> {
        let m = self.matter_for_booking(req.matter.trim())?;
        let day = Self::booking_day(&req.date)?;
        let date = day.format("%Y-%m-%d").to_string();
        if !self.bookable_day(day) {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                "booking_day_out_of_range",
                &[("days", &BOOKING_DAYS_AHEAD)],
            ));
        }
        if !self.calendar().is_working_day(day) {
            return Err(Error::new(
                ErrorKind::Unprocessable,
                "not_working_day",
                &[("date", &date)],
            ));
        }
        let slot: Slot = self
            .opening_hours()
            .slot_at(&req.start)
            .ok_or_else(|| Error::bad_request("unknown_slot", &[("start", &req.start)]))?;
        let (start_ms, end_ms) = slot.on(day);
        let now = self.now_ms();
        if start_ms <= now {
            return Err(Error::new(
                ErrorKind::Conflict,
                "slot_started",
                &[("date", &date), ("start", &slot.start_text())],
            ));
        }
        if req.phone.trim().is_empty() {
            return Err(Error::empty_field("applicant.phone"));
        }
        let applicant = self.check_applicant(&ApplicantInput {
            kind: ApplicantKind::Person,
            id_number: req.id_number.clone(),
            name: req.name.clone(),
            phone: Some(req.phone.trim().to_owned()),
            checksum_override_reason: None,
        })?;
        self.refuse_blocked(&applicant.id_number, now).await?;
        let last4: String = {
            let chars: Vec<char> = applicant.id_number.chars().collect();
            chars[chars.len().saturating_sub(4)..].iter().collect()
        };
        for _ in 0..CODE_DRAWS {
            let b = Booking {
                code: booking::code_from(rand::random()),
                matter_code: m.code.clone(),
                day: date.clone(),
                slot_start: slot.start_text(),
                slot_end: slot.end_text(),
                start_ms,
                end_ms,
                name: applicant.name.clone(),
                id_number: applicant.id_number.clone(),
                id_last4: last4.clone(),
                phone: req.phone.trim().to_owned(),
                status: status::BOOKED.to_owned(),
                created_at_ms: now,
                changed_at_ms: now,
                ticket_id: None,
                late_at_ms: None,
            };
            let capacity = i64::from(self.config.node.slot_capacity);
            let of_matter = i64::from(self.matter_capacity(&m.code));
            match self.store.add_booking(&b, capacity, of_matter).await? {
                BookOutcome::Booked(b) => return Ok(self.booking_view(&b)),
                BookOutcome::Full => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        "slot_full",
                        &[("slot", &slot_text(&b))],
                    ));
                }
                BookOutcome::MatterFull => {
                    return Err(Error::with_text(
                        ErrorKind::Conflict,
                        "matter_slot_full",
                        text_args(
                            "err.matter_slot_full",
                            &[
                                ("slot", Arg::Plain(&slot_text(&b))),
                                ("matter", Arg::Each(&m.name_zh, &m.name_en)),
                                (
                                    "windows",
                                    Arg::Plain(&self.config.node.windows_for(&m.code)),
                                ),
                            ],
                        ),
                    ));
                }
                BookOutcome::AlreadyBooked => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        "already_booked",
                        &[("date", &date)],
                    ));
                }
                BookOutcome::CodeTaken => {}
            }
        }
        Err(Error::storage(&"no free booking code was drawn"))
    }

    /// Refuses a person the hall's rule on repeated no-shows blocks now
    /// (`booking_blocked`, with the count, the days and the day booking
    /// opens again).
    async fn refuse_blocked(&self, id_number: &str, now: i64) -> Result<(), Error> {
        let rule = self.config.node.no_show_rule();
        if rule.limit == 0 {
            return Ok(());
        }
        let ends = self
            .store
            .no_shows_of(id_number, now - rule.lookback_ms(), now)
            .await?;
        match rule.blocked_until(&ends, now) {
            None => Ok(()),
            Some(until) => Err(Error::new(
                ErrorKind::Unprocessable,
                "booking_blocked",
                &[
                    ("n", &rule.limit),
                    ("days", &rule.within_days),
                    (
                        "date",
                        &onewindow_domain::case::china_date(until).format("%Y-%m-%d"),
                    ),
                ],
            )),
        }
    }

    /// A booking, for its holder: its code and the last four characters
    /// of the ID number.
    pub async fn booking(&self, code: &str, last4: &str) -> Result<BookingView, Error> {
        Ok(self.booking_view(&self.held_booking(code, last4).await?))
    }

    /// Cancels a booking, for its holder; only a booking still `booked`
    /// whose slot has not ended can be.
    pub async fn cancel_booking(&self, code: &str, last4: &str) -> Result<BookingView, Error> {
        let b = self.held_booking(code, last4).await?;
        if b.status == status::BOOKED && self.store.cancel_booking(&b.code, self.now_ms()).await? {
            return self.booking(&b.code, last4).await;
        }
        let now = self.booking_view(&self.held_booking(code, last4).await?);
        Err(Error::with_text(
            ErrorKind::Conflict,
            "booking_not_cancellable",
            text_args(
                "err.booking_not_cancellable",
                &[(
                    "status",
                    Arg::Phrase(&format!("booking.status.{}", now.status)),
                )],
            ),
        ))
    }

    /// Marks `no_show` the bookings whose slot ended without a check-in;
    /// how many.
    pub async fn sweep_bookings(&self) -> Result<u64, Error> {
        Ok(self.store.mark_no_shows(self.now_ms()).await?)
    }

    /// A day's bookings (`YYYY-MM-DD`), as stored.
    pub async fn bookings_of_day(&self, day: &str) -> Result<Vec<Booking>, Error> {
        Ok(self.store.bookings_of_day(day).await?)
    }

    /// The booking of `code` if the last four characters of its ID number
    /// are `last4`, its status as of now.
    async fn held_booking(&self, code: &str, last4: &str) -> Result<Booking, Error> {
        let code = booking::normalize_code(code).ok_or_else(not_found)?;
        if last4.chars().count() != 4 {
            return Err(Error::bad_request("bad_last4", &[]));
        }
        let b = self
            .store
            .booking(&code)
            .await?
            .filter(|b| b.id_last4.eq_ignore_ascii_case(last4))
            .ok_or_else(not_found)?;
        Ok(self.as_of_now(b))
    }

    /// A booking with its status as of now: `no_show` once its slot ended
    /// while still `booked` (the sweep stores it so later).
    pub(crate) fn as_of_now(&self, mut b: Booking) -> Booking {
        if b.status == status::BOOKED && b.end_ms <= self.now_ms() {
            status::NO_SHOW.clone_into(&mut b.status);
        }
        b
    }

    /// A booking as its holder sees it.
    pub fn booking_view(&self, b: &Booking) -> BookingView {
        let cat = self.catalogue();
        let m = cat.matter(&b.matter_code);
        let words = onewindow_i18n::text(&format!("booking.status.{}", b.status), &[]);
        BookingView {
            code: b.code.clone(),
            matter: b.matter_code.clone(),
            matter_zh: m.map(|m| m.name_zh.clone()).unwrap_or_default(),
            matter_en: m.map(|m| m.name_en.clone()).unwrap_or_default(),
            date: b.day.clone(),
            start: b.slot_start.clone(),
            end: b.slot_end.clone(),
            check_in_from: clock_text(b.start_ms - CHECK_IN_EARLY_MINUTES * 60_000),
            status: b.status.clone(),
            status_zh: words.zh,
            status_en: words.en,
            name: b.name.clone(),
            id_masked: crate::masked_id(&b.id_number),
            created_at_ms: b.created_at_ms,
        }
    }
}
