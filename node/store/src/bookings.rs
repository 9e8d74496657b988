//! Bookings at this hall (migration 0020): a slot booked with a code, and
//! the check-in that turns it into a booked queue number.
//!
//! The rules (which slots a day has, when a check-in is in time) are the
//! domain's `booking` module's and the service's; the store keeps each
//! step that must not race in one write transaction: a slot's places are
//! counted and the booking inserted together, and a booking is marked
//! `checked_in` and its number issued together, once.

use sqlx::FromRow;

use super::queue::{Ticket, issue};
use super::{Store, StoreError};
use onewindow_domain::booking::status;

/// A booking, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Booking {
    /// The code the citizen was given.
    pub code: String,
    /// The matter booked for.
    pub matter_code: String,
    /// Day, `YYYY-MM-DD`.
    pub day: String,
    /// The slot's start, `HH:MM`.
    pub slot_start: String,
    /// The slot's end, `HH:MM`.
    pub slot_end: String,
    /// The slot's start (ms).
    pub start_ms: i64,
    /// The slot's end (ms).
    pub end_ms: i64,
    /// The applicant's name.
    pub name: String,
    /// The applicant's citizen ID number.
    pub id_number: String,
    /// Its last four characters (the key of a citizen's query).
    pub id_last4: String,
    /// The applicant's phone.
    pub phone: String,
    /// `booked`, `cancelled`, `checked_in` or `no_show`.
    pub status: String,
    /// Booked (ms).
    pub created_at_ms: i64,
    /// Last change of status (ms).
    pub changed_at_ms: i64,
    /// The number taken with it, once checked in.
    pub ticket_id: Option<i64>,
}

/// Outcome of booking a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookOutcome {
    /// Booked.
    Booked(Box<Booking>),
    /// The slot has no place left.
    Full,
    /// The same person has a booking (`booked`, its slot not ended) on
    /// that day already.
    AlreadyBooked,
    /// The code is taken (draw another).
    CodeTaken,
}

/// Places taken in a day's slots: `(slot start, bookings booked or
/// checked in)`.
pub type SlotsTaken = Vec<(String, i64)>;

impl Store {
    /// Books `b` (its status `booked`, made at `created_at_ms`) if its slot
    /// has fewer than `capacity` places taken and its person no other
    /// booking that day still to come.
    pub async fn add_booking(&self, b: &Booking, capacity: i64) -> Result<BookOutcome, StoreError> {
        let mut w = self.write().await?;
        let taken: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM bookings WHERE day = $1 AND slot_start = $2 \
             AND status IN ($3, $4)",
        )
        .bind(&b.day)
        .bind(&b.slot_start)
        .bind(status::BOOKED)
        .bind(status::CHECKED_IN)
        .fetch_one(w.conn())
        .await?;
        if taken >= capacity {
            return Ok(BookOutcome::Full);
        }
        let mine: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM bookings WHERE id_number = $1 AND day = $2 AND status = $3 \
             AND end_ms > $4",
        )
        .bind(&b.id_number)
        .bind(&b.day)
        .bind(status::BOOKED)
        .bind(b.created_at_ms)
        .fetch_one(w.conn())
        .await?;
        if mine > 0 {
            return Ok(BookOutcome::AlreadyBooked);
        }
        let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bookings WHERE code = $1")
            .bind(&b.code)
            .fetch_one(w.conn())
            .await?;
        if used > 0 {
            return Ok(BookOutcome::CodeTaken);
        }
        sqlx::query(
            "INSERT INTO bookings (code, matter_code, day, slot_start, slot_end, start_ms, end_ms, \
             name, id_number, id_last4, phone, status, created_at_ms, changed_at_ms, ticket_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, NULL)",
        )
        .bind(&b.code)
        .bind(&b.matter_code)
        .bind(&b.day)
        .bind(&b.slot_start)
        .bind(&b.slot_end)
        .bind(b.start_ms)
        .bind(b.end_ms)
        .bind(&b.name)
        .bind(&b.id_number)
        .bind(&b.id_last4)
        .bind(&b.phone)
        .bind(status::BOOKED)
        .bind(b.created_at_ms)
        .execute(w.conn())
        .await?;
        let row = sqlx::query("SELECT * FROM bookings WHERE code = $1")
            .bind(&b.code)
            .fetch_one(w.conn())
            .await?;
        let booked = Booking::from_row(&row)?;
        w.commit().await?;
        Ok(BookOutcome::Booked(Box::new(booked)))
    }

    /// One booking.
    pub async fn booking(&self, code: &str) -> Result<Option<Booking>, StoreError> {
        let row = sqlx::query("SELECT * FROM bookings WHERE code = $1")
            .bind(code)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(Booking::from_row).transpose()?)
    }

    /// A day's bookings, by slot and then in the order they were made.
    pub async fn bookings_of_day(&self, day: &str) -> Result<Vec<Booking>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM bookings WHERE day = $1 ORDER BY slot_start, created_at_ms, code",
        )
        .bind(day)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(Booking::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Places taken in each slot of a day that has any.
    pub async fn slots_taken(&self, day: &str) -> Result<SlotsTaken, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT slot_start, COUNT(*) FROM bookings WHERE day = $1 AND status IN ($2, $3) \
             GROUP BY slot_start ORDER BY slot_start",
        )
        .bind(day)
        .bind(status::BOOKED)
        .bind(status::CHECKED_IN)
        .fetch_all(self.pool())
        .await?;
        Ok(rows)
    }

    /// Cancels a booking that is `booked` and whose slot has not ended by
    /// `now_ms`; false when there is none such.
    pub async fn cancel_booking(&self, code: &str, now_ms: i64) -> Result<bool, StoreError> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE bookings SET status = $1, changed_at_ms = $2 \
             WHERE code = $3 AND status = $4 AND end_ms > $2",
        )
        .bind(status::CANCELLED)
        .bind(now_ms)
        .bind(code)
        .bind(status::BOOKED)
        .execute(w.conn())
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(done == 1)
    }

    /// Marks `no_show` every booking still `booked` whose slot ended by
    /// `now_ms`; how many.
    pub async fn mark_no_shows(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut w = self.write().await?;
        let n = sqlx::query(
            "UPDATE bookings SET status = $1, changed_at_ms = $2 WHERE status = $3 AND end_ms <= $2",
        )
        .bind(status::NO_SHOW)
        .bind(now_ms)
        .bind(status::BOOKED)
        .execute(w.conn())
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(n)
    }

    /// Checks a booking in: if it is `booked` and its slot has not ended
    /// by `now_ms`, marks it `checked_in` and issues the day's next booked
    /// number (`B`) with its code, in one transaction; `None` (nothing
    /// written) otherwise. Whether the visitor is in time is the caller's
    /// rule; this is the one way a booked number is made.
    pub async fn check_in(
        &self,
        code: &str,
        day: &str,
        now_ms: i64,
    ) -> Result<Option<Ticket>, StoreError> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE bookings SET status = $1, changed_at_ms = $2 \
             WHERE code = $3 AND status = $4 AND end_ms > $2 AND day = $5",
        )
        .bind(status::CHECKED_IN)
        .bind(now_ms)
        .bind(code)
        .bind(status::BOOKED)
        .bind(day)
        .execute(w.conn())
        .await?
        .rows_affected();
        if done != 1 {
            return Ok(None);
        }
        let t = issue(w.conn(), day, Some(code), now_ms).await?;
        sqlx::query("UPDATE bookings SET ticket_id = $1 WHERE code = $2")
            .bind(t.id)
            .bind(code)
            .execute(w.conn())
            .await?;
        w.commit().await?;
        Ok(Some(t))
    }
}
