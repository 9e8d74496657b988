//! Pages for the public: the progress query (case number and the last four
//! characters of the ID), the matter guide (what to bring, from the same
//! catalogue as the clerk's checklist), the ticket kiosk (with a booking
//! code, a booked number) and booking a slot.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::search;
use super::web::{AnonForm, Ctx};
use crate::domain::booking::BOOKING_DAYS_AHEAD;
use crate::domain::case::State;
use crate::error::{HttpStatus, ServiceError as Error};

/// Query of the progress page.
#[derive(Debug, Default, Deserialize)]
pub struct ProgressQuery {
    number: Option<String>,
    last4: Option<String>,
}

/// The stages a citizen sees, in order.
const STEPS: [&str; 6] = [
    "received",
    "accepted",
    "handling",
    "review",
    "approval",
    "completed",
];

fn step_of(s: State) -> usize {
    match s {
        State::Received | State::Correction | State::Rejected => 0,
        State::Accepted => 1,
        State::Handling => 2,
        State::Review => 3,
        State::Approval => 4,
        State::Decided | State::ResultReady => 5,
        State::Completed | State::Withdrawn | State::Terminated => 6,
    }
}

/// `GET /progress`: the form, and the answer when both fields are given.
pub async fn progress(ctx: Ctx, Query(q): Query<ProgressQuery>) -> Response {
    let number = q.number.unwrap_or_default().trim().to_uppercase();
    let last4 = q.last4.unwrap_or_default().trim().to_uppercase();
    if number.is_empty() && last4.is_empty() {
        return ctx.render(
            StatusCode::OK,
            "citizen/progress.html",
            context! { number => "", last4 => "" },
        );
    }
    let answer = if last4.chars().count() != 4 {
        Err(Error::bad_request("bad_last4", &[]))
    } else {
        ctx.node.progress(&number, &last4).await
    };
    match answer {
        Ok(p) => {
            let step = step_of(p.state);
            let data = context! {
                number => number,
                last4 => last4,
                p => p,
                step => step,
                steps => STEPS,
                done => step >= STEPS.len(),
                ended => matches!(p.state, State::Rejected | State::Withdrawn | State::Terminated),
            };
            // The answer holds the rating form (a pre-login form).
            ctx.render_anon_form(StatusCode::OK, "citizen/progress.html", data)
        }
        Err(e) => {
            let data = context! {
                number => number,
                last4 => last4,
                error => ctx.lang.pick(&e.message_zh, &e.message_en),
            };
            ctx.render(e.status(), "citizen/progress.html", data)
        }
    }
}

/// Query of the guide.
#[derive(Debug, Default, Deserialize)]
pub struct GuideQuery {
    q: Option<String>,
}

/// `GET /guide`: the matters this hall receives, searchable.
pub async fn guide(ctx: Ctx, Query(q): Query<GuideQuery>) -> Response {
    let node = &ctx.node;
    let cat = node.catalogue();
    let query = q.q.unwrap_or_default();
    let hits: Vec<_> = search::find(
        cat.matters.values().filter(|m| node.may_receive(m)),
        &query,
        500,
    )
    .into_iter()
    .map(|m| {
        let d = cat.departments.get(&m.department);
        context! {
            code => m.code, name_zh => m.name_zh, name_en => m.name_en,
            immediate => m.immediate, visits => m.visits,
            dept_zh => d.map(|d| d.name_zh.clone()), dept_en => d.map(|d| d.name_en.clone()),
        }
    })
    .collect();
    ctx.render(
        StatusCode::OK,
        "citizen/guide.html",
        context! { q => query, hits => hits },
    )
}

/// `GET /guide/{code}`: one matter's guide.
pub async fn matter(ctx: Ctx, Path(code): Path<String>) -> Response {
    let node = &ctx.node;
    let cat = node.catalogue();
    let Some(m) = cat.matter(&code) else {
        return ctx.error(&Error::not_found("unknown_matter", &[("code", &code)]));
    };
    let d = cat.departments.get(&m.department);
    let co: Vec<_> = m
        .co_departments
        .iter()
        .filter_map(|c| cat.departments.get(c))
        .map(|d| ctx.pick(&d.name_zh, &d.name_en))
        .collect();
    let data = context! {
        m => m,
        dept_zh => d.map(|d| d.name_zh.clone()),
        dept_en => d.map(|d| d.name_en.clone()),
        co => co,
        received_here => node.may_receive(m),
        decided_here => node.may_decide(m),
    };
    ctx.render(StatusCode::OK, "citizen/matter.html", data)
}

/// `GET /kiosk`: take a queue number.
pub async fn kiosk(ctx: Ctx) -> Response {
    ctx.render_anon_form(StatusCode::OK, "citizen/kiosk.html", context! {})
}

/// `POST /kiosk`: issues the next number: a walk-in's, or with a booking
/// code shown within its slot a booked one (an empty code is refused). A refused code is shown on the
/// kiosk in its language, with the code kept to correct it.
pub async fn take(form: AnonForm) -> Response {
    let ctx = form.ctx;
    // The walk-in's button sends no code; the booking form always sends
    // one, and an empty one is refused rather than taken for a walk-in.
    let code = form.fields.text("booking");
    let typed = form.fields.get("booking").map(|_| code.as_str());
    match ctx.node.take_ticket(typed).await {
        Ok(issued) => {
            let ahead = ctx.node.waiting_ahead(&issued.ticket).await.unwrap_or(0);
            let late = issued.late.as_ref().map(|b| {
                onewindow_i18n::phrase_with(
                    ctx.lang,
                    "kiosk.late",
                    &[("slot", &crate::service::slot_text(b))],
                )
            });
            let booked = issued.ticket.appointment.is_some();
            ctx.render_anon_form(
                StatusCode::OK,
                "citizen/kiosk.html",
                context! { ticket => issued.ticket, ahead => ahead, late => late, booked => booked },
            )
        }
        Err(e) if e.detail.is_none() => ctx.render_anon_form(
            e.status(),
            "citizen/kiosk.html",
            context! { error => ctx.pick(&e.message_zh, &e.message_en), booking => code },
        ),
        Err(e) => ctx.error(&e),
    }
}

/// Query of the verify page.
#[derive(Debug, Default, Deserialize)]
pub struct VerifyQuery {
    d: Option<String>,
}

/// `GET /verify`: checks a document's seal (what its QR code links to).
/// Public: no login; shows only what proves the document.
pub async fn verify(ctx: Ctx, Query(q): Query<VerifyQuery>) -> Response {
    let seal = q.d.unwrap_or_default().trim().to_owned();
    if seal.is_empty() {
        return ctx.render(
            StatusCode::OK,
            "citizen/verify.html",
            context! { seal => "" },
        );
    }
    match ctx.node.verify_seal(&seal).await {
        Ok(v) => {
            let message = match (v.verdict.as_str(), v.held_here) {
                ("authentic", false) => "verify.authentic_not_held".to_owned(),
                (verdict, _) => format!("verify.{verdict}"),
            };
            let data = context! {
                seal => seal,
                v => v,
                message => message,
                root => ctx.node.config.federation.root_public_key.trim(),
            };
            ctx.render(StatusCode::OK, "citizen/verify.html", data)
        }
        Err(e) => ctx.error(&e),
    }
}

/// Query of the booking page: the matter and the day whose slots to show.
#[derive(Debug, Default, Deserialize)]
pub struct BookQuery {
    matter: Option<String>,
    date: Option<String>,
}

/// What the booking page shows: the matters, the chosen matter and day,
/// and that day's slots.
async fn book_page(ctx: &Ctx, matter: &str, date: &str) -> (minijinja::Value, Option<Error>) {
    let node = &ctx.node;
    let cat = node.catalogue();
    let matters: Vec<_> = cat
        .matters
        .values()
        .filter(|m| m.bookable && node.may_receive(m))
        .map(|m| context! { code => m.code, name => ctx.pick(&m.name_zh, &m.name_en) })
        .collect();
    let today = node.today();
    let last = today
        .checked_add_days(chrono::Days::new(BOOKING_DAYS_AHEAD - 1))
        .unwrap_or(today);
    let (slots, error) = if matter.is_empty() || date.is_empty() {
        (None, None)
    } else {
        match node.booking_slots(matter, date).await {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        }
    };
    let out_of_range = onewindow_i18n::phrase_with(
        ctx.lang,
        "book.out_of_range",
        &[("days", &BOOKING_DAYS_AHEAD)],
    );
    let data = context! {
        matters => matters,
        matter => matter,
        date => if date.is_empty() { today.format("%Y-%m-%d").to_string() } else { date.to_owned() },
        min => today.format("%Y-%m-%d").to_string(),
        max => last.format("%Y-%m-%d").to_string(),
        slots => slots,
        out_of_range => out_of_range,
    };
    (data, error)
}

/// `GET /book`: choose the matter and the day, then see the day's slots
/// with their free places and book one.
pub async fn book(ctx: Ctx, Query(q): Query<BookQuery>) -> Response {
    let matter = q.matter.unwrap_or_default().trim().to_owned();
    let date = q.date.unwrap_or_default().trim().to_owned();
    let (data, error) = book_page(&ctx, &matter, &date).await;
    match error {
        None => ctx.render_anon_form(StatusCode::OK, "citizen/book.html", data),
        Some(e) => {
            let error = ctx.pick(&e.message_zh, &e.message_en);
            let data = context! { error => error, ..data };
            ctx.render_anon_form(e.status(), "citizen/book.html", data)
        }
    }
}

/// `POST /book`: books the chosen slot and shows the code.
pub async fn book_post(form: AnonForm) -> Response {
    let ctx = form.ctx;
    let f = &form.fields;
    let req = crate::service::BookingRequest {
        matter: f.text("matter"),
        date: f.text("date"),
        start: f.text("start"),
        name: f.text("name"),
        id_number: f.text("id_number"),
        phone: f.text("phone"),
    };
    if req.start.is_empty() {
        let e = Error::empty_field("slot");
        return book_refused(&ctx, &req, &e).await;
    }
    match ctx.node.book(&req).await {
        Ok(b) => {
            let keep = onewindow_i18n::phrase_with(
                ctx.lang,
                "book.keep",
                &[
                    ("date", &b.date),
                    ("from", &b.check_in_from),
                    ("end", &b.end),
                ],
            );
            ctx.render_anon_form(
                StatusCode::CREATED,
                "citizen/book.html",
                context! { done => b, keep => keep },
            )
        }
        Err(e) if e.detail.is_none() => book_refused(&ctx, &req, &e).await,
        Err(e) => ctx.error(&e),
    }
}

/// `POST /book/cancel`: cancels a booking with its code and the last four
/// characters of the ID number, and shows it cancelled; a refusal is
/// shown on the booking page with what was typed kept.
pub async fn book_cancel(form: AnonForm) -> Response {
    let ctx = form.ctx;
    let f = &form.fields;
    let (code, last4) = (f.text("code"), f.text("last4"));
    match ctx.node.cancel_booking(&code, &last4).await {
        Ok(b) => {
            let (data, _) = book_page(&ctx, "", "").await;
            let data = context! { cancelled => b, ..data };
            ctx.render_anon_form(StatusCode::OK, "citizen/book.html", data)
        }
        Err(e) if e.detail.is_none() => {
            let (data, _) = book_page(&ctx, "", "").await;
            let data = context! {
                cancel_error => ctx.pick(&e.message_zh, &e.message_en),
                cancel_code => code, cancel_last4 => last4,
                ..data
            };
            ctx.render_anon_form(e.status(), "citizen/book.html", data)
        }
        Err(e) => ctx.error(&e),
    }
}

/// The booking page again after a refusal: the message, the day's slots
/// as they are now, and what was entered.
async fn book_refused(ctx: &Ctx, req: &crate::service::BookingRequest, e: &Error) -> Response {
    let (data, _) = book_page(ctx, &req.matter, &req.date).await;
    let data = context! {
        error => ctx.pick(&e.message_zh, &e.message_en),
        start => req.start, name => req.name, id_number => req.id_number, phone => req.phone,
        ..data
    };
    ctx.render_anon_form(e.status(), "citizen/book.html", data)
}
