//! The hall's web pages: clerk, approver, supervisor and citizen.
//!
//! Pages are rendered on the server from the minijinja templates under
//! `templates/pages/` and a little CSS and JavaScript under `static/`, all
//! embedded in the binary. They call the same service operations as the
//! JSON API (`Node::submit`, `Node::act`, ...), which enforce roles and the
//! case state machine; each page checks the role again before it shows
//! anything. Staff sign in with a session cookie that holds the API's
//! session token; every form that changes something carries a CSRF token
//! ([`web`]). Chinese is the default, with an English switch.
//!
//! Start at [`router`]; [`web`] holds what every page shares.

// A refusal here is a whole rendered page (`Response`), returned once per
// request; boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod apply;
mod approver;
pub mod charts;
mod citizen;
mod clerk;
mod handout;
mod i18n;
mod login;
mod preapply;
mod rating;
pub mod search;
mod stats;
mod supervisor;
mod table;
mod templates;
mod upload;
pub mod web;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::http::header;
use axum::response::Response;
use axum::routing::{get, post};

use crate::AppState;

/// The routes of the pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/lang/{lang}", get(login::switch_lang))
        .route("/admin", get(login::admin))
        .route("/static/app.css", get(login::css))
        .route("/static/app.js", get(login::js))
        // The window.
        .route("/clerk", get(clerk::home))
        .route("/clerk/queue/take", post(clerk::take))
        .route("/clerk/queue/call", post(clerk::call))
        .route("/clerk/queue/{id}/served", post(clerk::served))
        .route("/clerk/queue/{id}/no-show", post(clerk::no_show))
        .route("/clerk/queue/{id}/recall", post(clerk::recall))
        .route("/clerk/find", get(clerk::find))
        .route("/clerk/apply/{code}", get(apply::form).post(apply::submit))
        .route(
            "/clerk/peers/{tree}/apply/{code}",
            get(apply::peer_form).post(apply::peer_submit),
        )
        .route("/clerk/cases/{number}", get(clerk::case))
        .route(
            "/clerk/cases/{number}/resubmit",
            get(apply::resubmit_form).post(apply::resubmit),
        )
        .route("/clerk/cases/{number}/handout", post(handout::hand_out))
        .route(
            "/clerk/cases/{number}/rate",
            get(clerk::rate_page).post(clerk::rate),
        )
        .route("/cases/{number}/document", get(clerk::document))
        .route(
            "/cases/{number}/documents/{version}",
            get(clerk::document_version),
        )
        .route("/matters/search", get(clerk::search_json))
        // The back office.
        .route("/approver", get(approver::queue))
        .route(
            "/approver/cases/{number}",
            get(approver::case).post(approver::act),
        )
        // Supervision.
        .route("/supervisor", get(supervisor::overview))
        .route("/supervisor/search", get(supervisor::search_page))
        .route("/supervisor/stats", get(stats::stats_page))
        .route("/supervisor/fleet", get(stats::fleet_page))
        .route("/supervisor/cases/{number}", get(supervisor::case))
        .route(
            "/supervisor/cases/{number}/appeal",
            post(supervisor::decide_appeal),
        )
        .route(
            "/supervisor/cases/{number}/terminate",
            post(supervisor::terminate),
        )
        .route(
            "/supervisor/cases/{number}/personal",
            post(supervisor::personal),
        )
        .route("/supervisor/export/{table}", get(supervisor::export))
        // The public.
        .route("/progress", get(citizen::progress))
        .route("/rate", get(rating::page).post(rating::rate))
        .route("/verify", get(citizen::verify))
        .route("/guide", get(citizen::guide))
        .route("/guide/{code}", get(citizen::matter))
        .route("/kiosk", get(citizen::kiosk).post(citizen::take))
        .route("/book", get(citizen::book).post(citizen::book_post))
        .route(
            "/preapply",
            get(preapply::page)
                .post(preapply::send)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/clerk/pre-applications", get(preapply::find))
        .route("/clerk/pre-applications/{reference}", get(preapply::show))
        .route(
            "/clerk/pre-applications/{reference}/accept",
            post(preapply::accept),
        )
        .route(
            "/clerk/pre-applications/{reference}/files/{hash}",
            get(preapply::pre_application_file),
        )
        .route(
            "/clerk/cases/{number}/attach",
            post(preapply::attach).layer(DefaultBodyLimit::disable()),
        )
        .route("/cases/{number}/files/{hash}", get(preapply::case_file))
        .route("/book/cancel", post(citizen::book_cancel))
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers on every page: no framing by other sites, scripts and styles
/// from this site only, no caching of staff pages.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        if !h.contains_key(&k) {
            h.insert(k, HeaderValue::from_static(v));
        }
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
    );
    set(h, header::X_FRAME_OPTIONS, "SAMEORIGIN");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::CACHE_CONTROL, "no-store");
    res
}
