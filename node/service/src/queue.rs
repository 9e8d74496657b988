//! The hall's queue: numbers taken at the kiosk or the window, called to a
//! window, served. One set of rules for the API, the pages and the kiosk.

use onewindow_store::{CallOutcome, ServeOutcome, Ticket};

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

    /// How many waiting numbers will be called before this one, in the
    /// order numbers are called: booked visits first, then by the order
    /// they were taken. (A booked visit that arrives later still goes
    /// before a walk-in; the count is right as of now.)
    pub async fn waiting_ahead(&self, ticket: &Ticket) -> Result<usize, Error> {
        let before = |x: &Ticket| match (x.appointment.is_some(), ticket.appointment.is_some()) {
            (true, false) => true,
            (false, true) => false,
            _ => x.id < ticket.id,
        };
        Ok(self
            .store
            .tickets(&ticket.day)
            .await?
            .iter()
            .filter(|x| x.status == "waiting" && x.id != ticket.id && before(x))
            .count())
    }

    /// Calls the next number to a window, by a clerk; `None` when nobody
    /// waits. A window whose called number is still open is refused
    /// (`window_busy`): it is served or marked not present first. The
    /// waiting time goes to the metrics.
    pub async fn call_next(&self, window: &str, by: &str) -> Result<Option<Ticket>, Error> {
        let window = window.trim();
        if window.is_empty() || window.chars().count() > MAX_WINDOW {
            return Err(Error::bad_request("bad_window", &[]));
        }
        let called = match self
            .store
            .call_next(&self.today_text(), window, by, self.now_ms())
            .await?
        {
            CallOutcome::Called(t) => t,
            CallOutcome::Nobody => return Ok(None),
            CallOutcome::Busy(open) => {
                return Err(Error::new(
                    ErrorKind::Conflict,
                    "window_busy",
                    &[("number", &open.number), ("window", &window)],
                ));
            }
        };
        if let Some(w) = called.wait_ms {
            self.metrics.queue_wait(w);
        }
        Ok(Some(called))
    }

    /// A called number, to call again to its window (the applicant did
    /// not come up yet); refused unless it is called and open.
    pub async fn recall_ticket(&self, id: i64) -> Result<Ticket, Error> {
        closed(match self.store.ticket(id).await? {
            None => ServeOutcome::NotFound,
            Some(t) if t.status == "called" => ServeOutcome::Closed(t),
            Some(t) => ServeOutcome::NotCalled(t),
        })
    }

    /// Marks a called number not present (a no-show); the window is free
    /// for the next one.
    pub async fn no_show_ticket(&self, id: i64) -> Result<Ticket, Error> {
        closed(self.store.no_show_ticket(id, self.now_ms()).await?)
    }

    /// Marks a called number served.
    pub async fn serve_ticket(&self, id: i64) -> Result<Ticket, Error> {
        closed(self.store.serve_ticket(id, self.now_ms()).await?)
    }
}

/// The ticket a step applies to, or why it cannot: unknown, or not called
/// (not open at a window).
fn closed(outcome: ServeOutcome) -> Result<Ticket, Error> {
    match outcome {
        ServeOutcome::Closed(t) => Ok(t),
        ServeOutcome::NotFound => Err(Error::not_found("unknown_ticket", &[])),
        ServeOutcome::NotCalled(t) => Err(Error::new(
            ErrorKind::Conflict,
            "ticket_not_called",
            &[("number", &t.number)],
        )),
    }
}
