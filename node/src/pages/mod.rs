//! The hall's web pages: clerk, approver, supervisor and citizen.

use axum::Router;

use crate::api::AppState;

/// The routes of the pages.
pub fn router() -> Router<AppState> {
    Router::new()
}
