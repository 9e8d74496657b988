//! Extractors: the staff session behind a bearer token, and JSON / path /
//! query extraction that fails in the API's own error shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use super::AppState;
use crate::domain::case::Role;
use crate::error::{Error, ErrorKind, ServiceError};
use crate::store::StaffRecord;

/// JSON body; a malformed one is a `bad_json` error. Every body of the API
/// is a JSON object: an array is refused too (serde would otherwise read a
/// struct's fields from it in order, and `[]` would pass for a body whose
/// fields are all optional).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Error;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Error> {
        let axum::Json(v) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        if !v.is_object() {
            let detail = "the body must be a JSON object";
            return Err(Error::bad_request("bad_json", &[("detail", &detail)]));
        }
        serde_json::from_value(v)
            .map(ApiJson)
            .map_err(|e| Error::bad_request("bad_json", &[("detail", &e)]))
    }
}

/// Path parameters; a malformed one is a `bad_path` error.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Error))]
pub struct ApiPath<T>(pub T);

/// Query parameters; a malformed one is a `bad_query` error.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Error))]
pub struct ApiQuery<T>(pub T);

/// The largest request body a JSON route reads (axum's default limit).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

impl From<JsonRejection> for Error {
    fn from(r: JsonRejection) -> Self {
        if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            return Error(ServiceError::new(
                ErrorKind::TooLarge,
                "body_too_large",
                &[("max", &MAX_BODY)],
            ));
        }
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

/// A department system, from `Authorization: Bearer <its credential's
/// token>` (never a staff session's).
#[derive(Debug, Clone)]
pub struct System(pub crate::service::feed::SystemCaller);

impl FromRequestParts<AppState> for System {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, node: &AppState) -> Result<Self, Error> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error(ServiceError::new(
                    ErrorKind::Unauthenticated,
                    "unknown_credential",
                    &[],
                ))
            })?;
        Ok(System(node.system_caller(token).await?))
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
