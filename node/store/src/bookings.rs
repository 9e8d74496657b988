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
    /// When its holder came after the slot ended and took a walk-in's
    /// number (ms); the booking is then a `no_show` (migration 0023).
    pub late_at_ms: Option<i64>,
}

/// Outcome of booking a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookOutcome {
    /// Booked.
    Booked(Box<Booking>),
    /// The slot has no place left.
    Full,
    /// The slot has places, but none left for the matter: the windows
    /// open for it take no more.
    MatterFull,
    /// The same person has a booking (`booked`, its slot not ended) on
    /// that day already.
    AlreadyBooked,
    /// The code is taken (draw another).
    CodeTaken,
}

/// Places taken in a day's slots: `(slot start, matter, bookings booked
/// or checked in)`.
pub type SlotsTaken = Vec<(String, String, i64)>;

/// A period's bookings by status, and how many of the no-shows came late.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookingCounts {
    /// Every booking of the period's days.
    pub booked: i64,
    /// Checked in within the slot.
    pub arrived: i64,
    /// The slot ended without a check-in (late arrivals included).
    pub no_show: i64,
    /// Of the no-shows, those who came after the slot (a walk-in number).
    pub late: i64,
    /// Cancelled by the citizen.
    pub cancelled: i64,
    /// Still to come.
    pub open: i64,
}

/// Queue numbers of a period by channel: booked (`B`) or walk-in (`A`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelWaits {
    /// Numbers taken.
    pub taken: i64,
    /// Numbers called (with a waiting time).
    pub called: i64,
    /// Sum of the waiting times (taken to called, ms).
    pub total_ms: i64,
    /// The longest wait (ms).
    pub max_ms: i64,
}

impl Store {
    /// Books `b` (its status `booked`, made at `created_at_ms`) if its slot
    /// has fewer than `capacity` places taken, fewer than
    /// `matter_capacity` of them by its matter, and its person no other
    /// booking that day still to come.
    pub async fn add_booking(
        &self,
        b: &Booking,
        capacity: i64,
        matter_capacity: i64,
    ) -> Result<BookOutcome, StoreError> {
        let mut w = self.write().await?;
        let taken: Vec<(String, i64)> = sqlx::query_as(
            "SELECT matter_code, COUNT(*) FROM bookings WHERE day = $1 AND slot_start = $2 \
             AND status IN ($3, $4) GROUP BY matter_code",
        )
        .bind(&b.day)
        .bind(&b.slot_start)
        .bind(status::BOOKED)
        .bind(status::CHECKED_IN)
        .fetch_all(w.conn())
        .await?;
        if taken.iter().map(|(_, n)| n).sum::<i64>() >= capacity {
            return Ok(BookOutcome::Full);
        }
        let of_matter = taken
            .iter()
            .find(|(m, _)| *m == b.matter_code)
            .map_or(0, |(_, n)| *n);
        if of_matter >= matter_capacity {
            return Ok(BookOutcome::MatterFull);
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

    /// Places taken in each slot of a day that has any, by matter.
    pub async fn slots_taken(&self, day: &str) -> Result<SlotsTaken, StoreError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT slot_start, matter_code, COUNT(*) FROM bookings WHERE day = $1 \
             AND status IN ($2, $3) GROUP BY slot_start, matter_code ORDER BY slot_start",
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

    /// The ends (ms) of the slots a person booked and did not come to
    /// (late arrivals are not counted), of slots that ended after
    /// `since_ms` and by `now_ms`: stored `no_show`, or still `booked`
    /// and not swept yet.
    pub async fn no_shows_of(
        &self,
        id_number: &str,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT end_ms FROM bookings WHERE id_number = $1 AND end_ms > $2 AND end_ms <= $3 \
             AND late_at_ms IS NULL AND status IN ($4, $5) ORDER BY end_ms",
        )
        .bind(id_number)
        .bind(since_ms)
        .bind(now_ms)
        .bind(status::NO_SHOW)
        .bind(status::BOOKED)
        .fetch_all(self.pool())
        .await?)
    }

    /// Marks a booking whose holder came after its slot ended (at
    /// `now_ms`): `no_show`, with the time it was shown.
    pub async fn mark_late(&self, code: &str, now_ms: i64) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE bookings SET status = $1, changed_at_ms = $2, late_at_ms = $2 \
             WHERE code = $3 AND status IN ($1, $4) AND end_ms <= $2 AND late_at_ms IS NULL",
        )
        .bind(status::NO_SHOW)
        .bind(now_ms)
        .bind(code)
        .bind(status::BOOKED)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The bookings of the days `from_day` to `to_day` (`YYYY-MM-DD`) by
    /// status as of `now_ms` (a `booked` one whose slot ended counts as a
    /// no-show).
    pub async fn booking_counts(
        &self,
        from_day: &str,
        to_day: &str,
        now_ms: i64,
    ) -> Result<BookingCounts, StoreError> {
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT status, CAST(CASE WHEN end_ms <= $3 THEN 1 ELSE 0 END AS BIGINT) AS ended, \
             CAST(CASE WHEN late_at_ms IS NULL THEN 0 ELSE 1 END AS BIGINT) AS late, COUNT(*) \
             FROM bookings WHERE day >= $1 AND day <= $2 GROUP BY 1, 2, 3",
        )
        .bind(from_day)
        .bind(to_day)
        .bind(now_ms)
        .fetch_all(self.pool())
        .await?;
        let mut c = BookingCounts::default();
        for (st, ended, late, n) in rows {
            c.booked += n;
            match st.as_str() {
                status::CHECKED_IN => c.arrived += n,
                status::CANCELLED => c.cancelled += n,
                status::BOOKED if ended == 0 => c.open += n,
                _ => {
                    c.no_show += n;
                    if late == 1 {
                        c.late += n;
                    }
                }
            }
        }
        Ok(c)
    }

    /// This hall's queue numbers of the days `from_day` to `to_day` by
    /// channel: `(booked, walk-in)`.
    pub async fn channel_waits(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<(ChannelWaits, ChannelWaits), StoreError> {
        let rows: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT CAST(CASE WHEN appointment IS NULL THEN 0 ELSE 1 END AS BIGINT) AS booked, \
             COUNT(*), COUNT(wait_ms), CAST(COALESCE(SUM(wait_ms), 0) AS BIGINT), \
             CAST(COALESCE(MAX(wait_ms), 0) AS BIGINT) \
             FROM queue_tickets WHERE day >= $1 AND day <= $2 GROUP BY 1",
        )
        .bind(from_day)
        .bind(to_day)
        .fetch_all(self.pool())
        .await?;
        let mut out = (ChannelWaits::default(), ChannelWaits::default());
        for (booked, taken, called, total_ms, max_ms) in rows {
            let w = ChannelWaits {
                taken,
                called,
                total_ms,
                max_ms,
            };
            if booked == 1 {
                out.0 = w;
            } else {
                out.1 = w;
            }
        }
        Ok(out)
    }
}
