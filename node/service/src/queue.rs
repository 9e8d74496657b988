//! The hall's queue: numbers taken at the kiosk or the window, called to a
//! window, served. One set of rules for the API, the pages and the kiosk.
//!
//! A booked number (`B`) comes only from a booking checked in within its
//! slot (`bookings`); booked numbers are called before walk-ins (`A`).

use onewindow_domain::booking::{Arrival, arrival, normalize_code, status};
use onewindow_store::{Booking, CallOutcome, ServeOutcome, Ticket};

use crate::Node;
use crate::bookings::{clock_text, slot_text};
use crate::error::{Error, ErrorKind};

/// The longest window number accepted.
const MAX_WINDOW: usize = 10;

/// A number issued, and what the kiosk or the window tells its holder.
#[derive(Debug, Clone, PartialEq)]
pub struct Issued {
    /// The number.
    pub ticket: Ticket,
    /// A booking shown after its slot ended: the number is a walk-in's,
    /// and this is the booking it did not count for.
    pub late: Option<Booking>,
}

impl Node {
    fn today_text(&self) -> String {
        self.today().format("%Y-%m-%d").to_string()
    }

    /// Takes today's next number. Without a booking code, a walk-in's
    /// (`A`). With one, a booked number (`B`, called before walk-ins) only
    /// if the code is a booking of this hall that is `booked` and now is
    /// within its check-in (from `booking::CHECK_IN_EARLY_MINUTES` before the
    /// slot's start to its end); the booking is then `checked_in` and the
    /// number records its code. An unknown code, or a booking cancelled or
    /// used, is refused; one shown too early is refused with its slot's
    /// time; one shown after its slot ended gets a walk-in's number
    /// ([`Issued::late`]) and is a no-show. A refusal stores nothing.
    pub async fn take_ticket(&self, booking: Option<&str>) -> Result<Issued, Error> {
        let day = self.today_text();
        let Some(typed) = booking else {
            let ticket = self.store.take_ticket(&day, self.now_ms()).await?;
            return Ok(Issued { ticket, late: None });
        };
        let unknown = || Error::not_found("unknown_booking", &[]);
        let code = normalize_code(typed).ok_or_else(unknown)?;
        let b = self.store.booking(&code).await?.ok_or_else(unknown)?;
        refuse_used(&b)?;
        let now = self.now_ms();
        match arrival(b.start_ms, b.end_ms, now) {
            Arrival::Early { from_ms } => Err(Error::new(
                ErrorKind::Conflict,
                "booking_too_early",
                &[("slot", &slot_text(&b)), ("from", &clock_text(from_ms))],
            )),
            Arrival::InSlot => match self.store.check_in(&code, &day, now).await? {
                Some(ticket) => Ok(Issued { ticket, late: None }),
                // Checked in meanwhile (or its day is not today).
                None => {
                    let b = self.store.booking(&code).await?.ok_or_else(unknown)?;
                    refuse_used(&b)?;
                    Err(unknown())
                }
            },
            Arrival::Late => {
                self.store.mark_late(&code, now).await?;
                let ticket = self.store.take_ticket(&day, now).await?;
                let late = Some(self.as_of_now(b));
                Ok(Issued { ticket, late })
            }
        }
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

/// Refuses a booking that was cancelled or has its number already.
fn refuse_used(b: &Booking) -> Result<(), Error> {
    match b.status.as_str() {
        status::CANCELLED => Err(Error::new(ErrorKind::Conflict, "booking_cancelled", &[])),
        status::CHECKED_IN => Err(Error::new(ErrorKind::Conflict, "booking_used", &[])),
        _ => Ok(()),
    }
}
