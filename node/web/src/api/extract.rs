//! Extractors: the staff session behind a bearer token, and JSON / path /
//! query extraction that fails in the API's own error shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use super::AppState;
use crate::domain::case::Role;
use crate::error::Error;
use crate::store::StaffRecord;

/// JSON body; a malformed one is a `bad_json` error.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(Error))]
pub struct ApiJson<T>(pub T);

/// Path parameters; a malformed one is a `bad_path` error.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct ApiPath<T>(pub T);

/// Query parameters; a malformed one is a `bad_query` error.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for Error {
    fn from(r: JsonRejection) -> Self {
        Error::bad_request("bad_json", &[("detail", &r.body_text())])
    }
}

impl From<PathRejection> for Error {
    fn from(r: PathRejection) -> Self {
        Error::bad_request("bad_path", &[("detail", &r.body_text())])
    }
}

impl From<QueryRejection> for Error {
    fn from(r: QueryRejection) -> Self {
        Error::bad_request("bad_query", &[("detail", &r.body_text())])
    }
}

/// A logged-in staff member, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Staff {
    /// The account.
    pub record: StaffRecord,
    /// The raw token (for logout).
    pub token: String,
}

impl Staff {
    /// Refuses unless the staff member has one of `roles`.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), Error> {
        if roles.contains(&self.record.role) {
            Ok(())
        } else {
            Err(Error::forbidden(what))
        }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, node: &AppState) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(Error::unauthenticated)?;
        let session = node.session(token).await?;
        Ok(Staff {
            record: session.staff,
            token: token.to_owned(),
        })
    }
}

/// The address a request came from (the TCP peer), where the server was
/// started with connection info; `None` in a router driven without it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
