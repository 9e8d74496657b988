//! Queue numbers: take, call to a window, mark served or not present.
//!
//! Numbers restart every day: `A001` for walk-ins, `B001` for visitors
//! who booked and checked in within their slot (`bookings`), which are
//! called first. Waiting time (taken to called) is
//! recorded on the ticket. A window has at most one number open (called,
//! not yet served or marked not present).

use sqlx::FromRow;

use super::{Store, StoreError};

/// A queue ticket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Ticket {
    /// Ticket id.
    pub id: i64,
    /// Day, `YYYY-MM-DD`.
    pub day: String,
    /// Number shown to the citizen, e.g. `A007`.
    pub number: String,
    /// The booking code of a booked number (`B`); none for a walk-in.
    pub appointment: Option<String>,
    /// `waiting`, `called`, `served` or `no_show` (called and not
    /// present).
    pub status: String,
    /// Taken (ms).
    pub taken_at_ms: i64,
    /// Called (ms).
    pub called_at_ms: Option<i64>,
    /// Window it was called to.
    pub window_no: Option<String>,
    /// Clerk who called it.
    pub called_by: Option<String>,
    /// Served (ms).
    pub served_at_ms: Option<i64>,
    /// Waiting time (ms), once called.
    pub wait_ms: Option<i64>,
}

fn ticket(r: &sqlx::any::AnyRow) -> Result<Ticket, StoreError> {
    Ok(Ticket::from_row(r)?)
}

/// Outcome of closing a ticket (served, or not present).
#[derive(Debug, Clone, PartialEq)]
pub enum ServeOutcome {
    /// Done: the ticket as closed (`served` or `no_show`).
    Closed(Ticket),
    /// No such ticket.
    NotFound,
    /// The ticket is not in the `called` state.
    NotCalled(Ticket),
}

/// Outcome of calling the next number to a window.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome {
    /// This number is called to the window.
    Called(Ticket),
    /// Nobody waits.
    Nobody,
    /// The window still has this number open: it must be served or marked
    /// not present first.
    Busy(Ticket),
}

/// Issues the next number of the day in the open write transaction.
pub(crate) async fn issue(
    conn: &mut sqlx::AnyConnection,
    day: &str,
    booking: Option<&str>,
    now_ms: i64,
) -> Result<Ticket, StoreError> {
    let prefix = if booking.is_some() { "B" } else { "A" };
    let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM queue_tickets")
        .fetch_one(&mut *conn)
        .await?;
    let like = format!("{prefix}%");
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM queue_tickets WHERE day = $1 AND number LIKE $2")
            .bind(day)
            .bind(&like)
            .fetch_one(&mut *conn)
            .await?;
    let number = format!("{prefix}{:03}", count + 1);
    sqlx::query(
        "INSERT INTO queue_tickets (id, day, number, appointment, status, taken_at_ms) \
         VALUES ($1, $2, $3, $4, 'waiting', $5)",
    )
    .bind(id)
    .bind(day)
    .bind(&number)
    .bind(booking)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?;
    let t = sqlx::query("SELECT * FROM queue_tickets WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    ticket(&t)
}

impl Store {
    /// Issues the next walk-in number of the day (`A`). A booked number
    /// (`B`) comes only from a booking checked in ([`Store::check_in`]).
    pub async fn take_ticket(&self, day: &str, now_ms: i64) -> Result<Ticket, StoreError> {
        let mut w = self.write().await?;
        let t = issue(w.conn(), day, None, now_ms).await?;
        w.commit().await?;
        Ok(t)
    }

    /// Calls the next waiting number (booked numbers first) to a window,
    /// unless the window still has a number open.
    pub async fn call_next(
        &self,
        day: &str,
        window_no: &str,
        clerk: &str,
        now_ms: i64,
    ) -> Result<CallOutcome, StoreError> {
        let mut w = self.write().await?;
        let open = sqlx::query(
            "SELECT * FROM queue_tickets WHERE day = $1 AND window_no = $2 AND status = 'called' \
             ORDER BY id LIMIT 1",
        )
        .bind(day)
        .bind(window_no)
        .fetch_optional(w.conn())
        .await?;
        if let Some(open) = open {
            return Ok(CallOutcome::Busy(ticket(&open)?));
        }
        let next = sqlx::query(
            "SELECT * FROM queue_tickets WHERE day = $1 AND status = 'waiting' \
             ORDER BY CASE WHEN appointment IS NULL THEN 1 ELSE 0 END, id LIMIT 1",
        )
        .bind(day)
        .fetch_optional(w.conn())
        .await?;
        let Some(next) = next else {
            return Ok(CallOutcome::Nobody);
        };
        let t = ticket(&next)?;
        sqlx::query(
            "UPDATE queue_tickets SET status = 'called', called_at_ms = $1, window_no = $2, called_by = $3, \
             wait_ms = $4 WHERE id = $5",
        )
        .bind(now_ms)
        .bind(window_no)
        .bind(clerk)
        .bind(now_ms - t.taken_at_ms)
        .bind(t.id)
        .execute(w.conn())
        .await?;
        let row = sqlx::query("SELECT * FROM queue_tickets WHERE id = $1")
            .bind(t.id)
            .fetch_one(w.conn())
            .await?;
        let t = ticket(&row)?;
        w.commit().await?;
        Ok(CallOutcome::Called(t))
    }

    /// Marks a called ticket served.
    pub async fn serve_ticket(&self, id: i64, now_ms: i64) -> Result<ServeOutcome, StoreError> {
        self.close_ticket(id, "served", now_ms).await
    }

    /// Marks a called ticket not present (a no-show); the time is kept as
    /// its closing time.
    pub async fn no_show_ticket(&self, id: i64, now_ms: i64) -> Result<ServeOutcome, StoreError> {
        self.close_ticket(id, "no_show", now_ms).await
    }

    async fn close_ticket(
        &self,
        id: i64,
        status: &'static str,
        now_ms: i64,
    ) -> Result<ServeOutcome, StoreError> {
        let mut w = self.write().await?;
        let row = sqlx::query("SELECT * FROM queue_tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(w.conn())
            .await?;
        let Some(row) = row else {
            return Ok(ServeOutcome::NotFound);
        };
        let t = ticket(&row)?;
        if t.status != "called" {
            return Ok(ServeOutcome::NotCalled(t));
        }
        sqlx::query("UPDATE queue_tickets SET status = $1, served_at_ms = $2 WHERE id = $3")
            .bind(status)
            .bind(now_ms)
            .bind(id)
            .execute(w.conn())
            .await?;
        let row = sqlx::query("SELECT * FROM queue_tickets WHERE id = $1")
            .bind(id)
            .fetch_one(w.conn())
            .await?;
        let t = ticket(&row)?;
        w.commit().await?;
        Ok(ServeOutcome::Closed(t))
    }

    /// One ticket.
    pub async fn ticket(&self, id: i64) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query("SELECT * FROM queue_tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(ticket).transpose()
    }

    /// Tickets of a day, in order.
    pub async fn tickets(&self, day: &str) -> Result<Vec<Ticket>, StoreError> {
        let rows = sqlx::query("SELECT * FROM queue_tickets WHERE day = $1 ORDER BY id")
            .bind(day)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(ticket).collect()
    }
}
