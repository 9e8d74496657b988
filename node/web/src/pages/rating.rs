//! The applicant's rating (好差评) from the public: the form under the
//! progress answer (the case number and the ID's last four characters, as
//! the progress query takes them: channel `web`), and the page a
//! document's rating QR code opens (`/rate?n=<number>&k=<key>`: channel
//! `qr_code`), and the same page without a link, which takes the case
//! number and the 8-digit code of the SMS sent on completion (channel
//! `sms`). All post to `/rate` with the pre-login form's CSRF cookie and
//! go through `Node::rate`, `Node::rate_by_link` or `Node::rate_by_sms`,
//! which allow one
//! rating per case whatever the channel. A page shows nothing the
//! progress query would not.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::web::{AnonForm, Ctx};
use crate::domain::case::Channel;
use crate::error::{HttpStatus, ServiceError as Error};

/// Query of the rating page: the QR code's link.
#[derive(Debug, Default, Deserialize)]
pub struct RateQuery {
    n: Option<String>,
    k: Option<String>,
}

/// `GET /rate`: from a QR code, the case it names and the faces to rate
/// it; without a link, the form that takes an SMS's rating code, and
/// where else to rate (the progress page).
pub async fn page(ctx: Ctx, Query(q): Query<RateQuery>) -> Response {
    let number = q.n.unwrap_or_default().trim().to_uppercase();
    let key = q.k.unwrap_or_default().trim().to_owned();
    if number.is_empty() && key.is_empty() {
        return ctx.render_anon_form(StatusCode::OK, "citizen/rate.html", context! {});
    }
    match ctx.node.progress_by_link(&number, &key).await {
        Ok(p) => ctx.render_anon_form(
            StatusCode::OK,
            "citizen/rate.html",
            context! { p => p, number => number, key => key },
        ),
        Err(e) => refused(&ctx, &e, None),
    }
}

/// `POST /rate`: a score (1 to 5) and a comment, keyed by the QR code's
/// link (`k`), by an SMS's rating code (`code`) or by the ID's last four
/// characters (`last4`, from the progress page). Answered with the
/// progress page or the rating page, which say that the case is rated.
pub async fn rate(form: AnonForm) -> Response {
    let ctx = form.ctx;
    let f = &form.fields;
    let number = f.text("number").trim().to_uppercase();
    let score = f
        .number("score")
        .and_then(|s| u8::try_from(s).ok())
        .unwrap_or(0);
    let comment = f.text("comment");
    let key = f.text("k");
    if !key.is_empty() {
        return match ctx.node.rate_by_link(&number, &key, score, comment).await {
            Ok(_) => ctx.redirect(&format!("/rate?n={number}&k={key}"), None),
            Err(e) => {
                let p = ctx.node.progress_by_link(&number, &key).await.ok();
                refused(
                    &ctx,
                    &e,
                    p.map(|p| context! { p => p, number => number, key => key }),
                )
            }
        };
    }
    let code = f.text("code").trim().to_owned();
    if !code.is_empty() {
        return match ctx.node.rate_by_sms(&number, &code, score, comment).await {
            Ok(p) => ctx.render(
                StatusCode::OK,
                "citizen/rate.html",
                context! { p => p, number => number, by_sms => true },
            ),
            Err(e) => refused(&ctx, &e, Some(context! { sms_number => number })),
        };
    }
    let last4 = f.text("last4").trim().to_uppercase();
    let answer = if last4.chars().count() != 4 {
        Err(Error::bad_request("bad_last4", &[]))
    } else {
        ctx.node
            .rate(&number, &last4, score, Channel::Web, comment)
            .await
    };
    match answer {
        Ok(_) => ctx.redirect(
            &format!("/progress?number={number}&last4={last4}#rating"),
            None,
        ),
        Err(e) => refused(&ctx, &e, None),
    }
}

/// The rating page with a refusal; with `again`, the form once more.
fn refused(ctx: &Ctx, e: &Error, again: Option<minijinja::Value>) -> Response {
    let error = ctx.pick(&e.message_zh, &e.message_en);
    let data = match again {
        Some(v) => context! { error => error, ..v },
        None => context! { error => error },
    };
    ctx.render_anon_form(e.status(), "citizen/rate.html", data)
}
