//! Pages for the public: the progress query (case number and the last four
//! characters of the ID), the matter guide (what to bring, from the same
//! catalogue as the clerk's checklist) and the ticket kiosk.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::search;
use super::web::{AnonForm, Ctx};
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
            ctx.render(StatusCode::OK, "citizen/progress.html", data)
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

/// `POST /kiosk`: issues the next number.
pub async fn take(form: AnonForm) -> Response {
    let ctx = form.ctx;
    let appt = form.fields.text("appointment");
    let appt = (!appt.is_empty()).then_some(appt);
    match ctx.node.take_ticket(appt.as_deref()).await {
        Ok(t) => {
            let ahead = ctx.node.waiting_ahead(&t).await.unwrap_or(0);
            ctx.render_anon_form(
                StatusCode::OK,
                "citizen/kiosk.html",
                context! { ticket => t, ahead => ahead },
            )
        }
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
