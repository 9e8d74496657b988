//! The HTTP API under `/api/v1`, JSON in and out, plus `/metrics`.
//!
//! Every route is registered through utoipa-axum's `routes!`, which adds the
//! handler's `#[utoipa::path]` to the OpenAPI document at the same time, so
//! the document served at `/api/v1/openapi.json` cannot leave a route out.
//! Extractor failures (bad JSON, bad path) answer in the same error shape as
//! everything else.

mod admin;
mod bookings;
mod cases;
mod extract;
mod feed;
mod preapps;
mod system;

pub use extract::{ApiJson, ClientAddr, Staff, System};
pub use system::metrics;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::Error;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OneWindow node API",
        description = "The HTTP API of a OneWindow hall node (一窗通办): catalogue, queue, acceptance, back office, progress query. Errors carry a stable `code` and messages in Chinese and English.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "system", description = "Health and metadata"),
        (name = "catalogue", description = "Matters and their guides"),
        (name = "queue", description = "Queue numbers"),
        (name = "bookings", description = "Booked visits: slots, bookings, their codes"),
        (name = "cases", description = "Acceptance, back office, progress"),
        (name = "staff", description = "Accounts and sessions"),
        (name = "admin", description = "Catalogue versions and calendars"),
        (name = "feed", description = "Department systems: their credentials, the feed of case events, their actions, webhooks"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The refusals every operation of a kind may answer, added to each
/// operation's own: a body that is not the JSON its schema asks for is 400
/// `bad_json`, and one over [`extract::MAX_BODY`] 413 `body_too_large`; a
/// path or query parameter that does not parse is 400 (`bad_path`,
/// `bad_query`); an operation that needs a session answers 401 without one.
/// Each carries the error body.
struct CommonRefusals;

impl utoipa::Modify for CommonRefusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::response::ResponseBuilder;
        use utoipa::openapi::{ContentBuilder, Ref};
        let refusal = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| refusal(description).into());
                };
                let (body, params, secured) = (
                    op.request_body.is_some(),
                    op.parameters.as_ref().is_some_and(|p| !p.is_empty()),
                    op.security.is_some(),
                );
                if body || params {
                    add("400", "The request is not valid (`code` says why)");
                }
                if body {
                    add("413", "The body is too large (`body_too_large`)");
                }
                if secured {
                    add("401", "No session, or an expired one (`unauthenticated`)");
                }
            }
        }
    }
}

/// The API routes and their OpenAPI document.
pub fn api_router() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(system::health))
        .routes(routes!(system::catalogue))
        .routes(routes!(system::matter_guide))
        .routes(routes!(system::peers))
        .routes(routes!(system::login, system::whoami, system::logout))
        .routes(routes!(system::list_staff, system::create_staff))
        .routes(routes!(system::deactivate_staff, system::change_staff))
        .routes(routes!(system::take_ticket, system::list_tickets))
        .routes(routes!(system::call_next))
        .routes(routes!(system::serve_ticket))
        .routes(routes!(system::no_show_ticket))
        .routes(routes!(bookings::book))
        .routes(routes!(bookings::slots))
        .routes(routes!(bookings::get))
        .routes(routes!(bookings::cancel))
        .routes(routes!(cases::submit, cases::list))
        .routes(routes!(cases::progress))
        .routes(routes!(cases::record))
        .routes(routes!(cases::document))
        .routes(routes!(cases::documents))
        .routes(routes!(cases::document_version))
        .routes(routes!(cases::verify))
        .routes(routes!(cases::resubmit))
        .routes(routes!(cases::data_results))
        .routes(routes!(cases::action))
        .routes(routes!(cases::rate))
        .routes(routes!(cases::rate_by_sms))
        .routes(routes!(cases::recall))
        .routes(routes!(cases::personal_data))
        .routes(routes!(cases::decide_appeal))
        .routes(routes!(cases::reopen))
        .routes(routes!(preapps::pre_apply, preapps::find))
        .routes(routes!(preapps::get))
        .routes(routes!(preapps::accept))
        .routes(routes!(preapps::pre_application_file))
        .routes(routes!(preapps::attach))
        .routes(routes!(preapps::case_file))
        .routes(routes!(admin::list_versions, admin::create_draft))
        .routes(routes!(admin::get_version, admin::update_draft))
        .routes(routes!(admin::publish))
        .routes(routes!(admin::calendars, admin::put_calendar))
        .routes(routes!(admin::revoke_node))
        .routes(routes!(admin::decommission_node))
        .routes(routes!(admin::register_node))
        .routes(routes!(admin::enrol))
        .routes(routes!(admin::security_events))
        .routes(routes!(admin::sms_outbox))
        .routes(routes!(admin::audit))
        .routes(routes!(admin::audit_actions))
        .routes(routes!(admin::audit_export))
        .routes(routes!(admin::warnings))
        .routes(routes!(admin::report))
        .routes(routes!(admin::fleet))
        .routes(routes!(feed::issue_credential, feed::credentials))
        .routes(routes!(feed::revoke_credential))
        .routes(routes!(feed::subscribe, feed::subscriptions))
        .routes(routes!(feed::end_subscription))
        .routes(routes!(feed::deliveries))
        .routes(routes!(feed::replay))
        .routes(routes!(feed::feed))
        .routes(routes!(feed::action))
        .split_for_parts();
    // After the routes: a modifier of `ApiDoc` runs before they are added.
    let mut doc = doc;
    utoipa::Modify::modify(&CommonRefusals, &mut doc);
    (router, doc)
}

/// The answer for a route that does not exist.
pub async fn not_found() -> Error {
    Error::not_found("route_not_found", &[])
}

/// Counts every request in the metrics, by method and status.
pub async fn count_requests(State(node): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let res = next.run(req).await;
    node.metrics.http_request(&method, res.status().as_u16());
    res
}
