//! The web face of a OneWindow hall: the HTTP API under `/api/v1` (with its
//! OpenAPI document and `/metrics`), the staff and citizens' pages, and the
//! printable documents, over the hall's services.
//!
//! [`api`] and [`pages`] do not know each other: both take [`AppState`] and
//! report [`error::Error`]; [`router`] mounts them side by side.
#![warn(missing_docs)]

pub mod api;
pub mod docs;
pub mod error;
pub mod pages;

use std::sync::Arc;

use axum::Router;
use axum::middleware;

use onewindow_domain as domain;
use onewindow_service as service;
use onewindow_store as store;

/// What the pages need of the link state.
mod link {
    pub use onewindow_service::link_state as state;
}

/// Shared state of every handler.
pub type AppState = Arc<service::Node>;

/// The whole HTTP application of a node.
pub fn router(node: AppState) -> Router {
    let (api, doc) = api::api_router();
    let doc = Arc::new(doc);
    Router::new()
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(move || {
                let doc = Arc::clone(&doc);
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/metrics", axum::routing::get(api::metrics))
        .merge(pages::router())
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&node),
            api::count_requests,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(node)
}
