//! The hall's queue: numbers taken at the kiosk or the window, called to a
//! window, served. One set of rules for the API, the pages and the kiosk.

use onewindow_store::{ServeOutcome, Ticket};

use crate::Node;
use crate::error::{Error, ErrorKind};

/// The longest appointment reference and window number accepted.
const MAX_APPOINTMENT: usize = 40;
const MAX_WINDOW: usize = 10;

impl Node {
    fn today_text(&self) -> String {
        self.today().format("%Y-%m-%d").to_string()
    }

    /// Takes today's next number; `appointment` is a booked visit's
    /// reference (booked numbers are called first), `None` for a walk-in.
    pub async fn take_ticket(&self, appointment: Option<&str>) -> Result<Ticket, Error> {
        let appointment = appointment.map(str::trim);
        if appointment.is_some_and(|a| a.is_empty() || a.chars().count() > MAX_APPOINTMENT) {
            return Err(Error::bad_request("bad_appointment", &[]));
        }
        Ok(self
            .store
            .take_ticket(&self.today_text(), appointment, self.now_ms())
            .await?)
    }

    /// Today's numbers, in the order they were taken.
    pub async fn tickets_today(&self) -> Result<Vec<Ticket>, Error> {
        Ok(self.store.tickets(&self.today_text()).await?)
    }

    /// How many numbers taken before this one still wait.
    pub async fn waiting_ahead(&self, ticket: &Ticket) -> Result<usize, Error> {
        Ok(self
            .store
            .tickets(&ticket.day)
            .await?
            .iter()
            .filter(|x| x.status == "waiting" && x.id < ticket.id)
            .count())
    }

    /// Calls the next number to a window, by a clerk; `None` when nobody
    /// waits. The waiting time goes to the metrics.
    pub async fn call_next(&self, window: &str, by: &str) -> Result<Option<Ticket>, Error> {
        let window = window.trim();
        if window.is_empty() || window.chars().count() > MAX_WINDOW {
            return Err(Error::bad_request("bad_window", &[]));
        }
        let called = self
            .store
            .call_next(&self.today_text(), window, by, self.now_ms())
            .await?;
        if let Some(w) = called.as_ref().and_then(|t| t.wait_ms) {
            self.metrics.queue_wait(w);
        }
        Ok(called)
    }

    /// Marks a called number served.
    pub async fn serve_ticket(&self, id: i64) -> Result<Ticket, Error> {
        match self.store.serve_ticket(id, self.now_ms()).await? {
            ServeOutcome::Served(t) => Ok(t),
            ServeOutcome::NotFound => Err(Error::not_found("unknown_ticket", &[])),
            ServeOutcome::NotCalled(t) => Err(Error::new(
                ErrorKind::Conflict,
                "ticket_not_called",
                &[("number", &t.number)],
            )),
        }
    }
}
