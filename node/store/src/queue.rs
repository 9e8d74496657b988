//! Queue numbers: take, call to a window, mark served.
//!
//! Numbers restart every day: `A001` for walk-ins, `B001` for booked
//! appointments, which are called first. Waiting time (taken to called) is
//! recorded on the ticket.

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
    /// Appointment reference, for booked visits.
    pub appointment: Option<String>,
    /// `waiting`, `called` or `served`.
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

/// Outcome of marking a ticket served.
#[derive(Debug, Clone, PartialEq)]
pub enum ServeOutcome {
    /// Done.
    Served(Ticket),
    /// No such ticket.
    NotFound,
    /// The ticket is not in the `called` state.
    NotCalled(Ticket),
}

impl Store {
    /// Issues the next number of the day.
    pub async fn take_ticket(
        &self,
        day: &str,
        appointment: Option<&str>,
        now_ms: i64,
    ) -> Result<Ticket, StoreError> {
        let prefix = if appointment.is_some() { "B" } else { "A" };
        let mut w = self.write().await?;
        let id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM queue_tickets")
            .fetch_one(w.conn())
            .await?;
        let like = format!("{prefix}%");
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM queue_tickets WHERE day = $1 AND number LIKE $2",
        )
        .bind(day)
        .bind(&like)
        .fetch_one(w.conn())
        .await?;
        let number = format!("{prefix}{:03}", count + 1);
        sqlx::query(
            "INSERT INTO queue_tickets (id, day, number, appointment, status, taken_at_ms) \
             VALUES ($1, $2, $3, $4, 'waiting', $5)",
        )
        .bind(id)
        .bind(day)
        .bind(&number)
        .bind(appointment)
        .bind(now_ms)
        .execute(w.conn())
        .await?;
        let t = sqlx::query("SELECT * FROM queue_tickets WHERE id = $1")
            .bind(id)
            .fetch_one(w.conn())
            .await?;
        let t = ticket(&t)?;
        w.commit().await?;
        Ok(t)
    }

    /// Calls the next waiting number (appointments first) to a window.
    pub async fn call_next(
        &self,
        day: &str,
        window_no: &str,
        clerk: &str,
        now_ms: i64,
    ) -> Result<Option<Ticket>, StoreError> {
        let mut w = self.write().await?;
        let next = sqlx::query(
            "SELECT * FROM queue_tickets WHERE day = $1 AND status = 'waiting' \
             ORDER BY CASE WHEN appointment IS NULL THEN 1 ELSE 0 END, id LIMIT 1",
        )
        .bind(day)
        .fetch_optional(w.conn())
        .await?;
        let Some(next) = next else {
            return Ok(None);
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
        Ok(Some(t))
    }

    /// Marks a called ticket served.
    pub async fn serve_ticket(&self, id: i64, now_ms: i64) -> Result<ServeOutcome, StoreError> {
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
        sqlx::query("UPDATE queue_tickets SET status = 'served', served_at_ms = $1 WHERE id = $2")
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
        Ok(ServeOutcome::Served(t))
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
