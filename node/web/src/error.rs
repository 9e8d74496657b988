//! Errors at the HTTP boundary: the service's [`ServiceError`] with the
//! status its kind maps to.
//!
//! Every refusal carries a stable machine `code` and a message in Chinese and
//! in English; the body is [`ErrorBody`]. A storage failure's cause is logged
//! here, when the error becomes a response, and never sent.

use std::ops::Deref;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::case::CaseError;
use crate::domain::case_number::CaseNumberError;
use crate::domain::checklist::ChecklistError;
use crate::domain::ids::IdError;
pub use crate::service::error::{Error as ServiceError, ErrorKind};
use crate::store::StoreError;

/// The HTTP status of each kind of refusal.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Storage => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status of a service error.
pub trait HttpStatus {
    /// The HTTP status it is reported with.
    fn status(&self) -> StatusCode;
}

impl HttpStatus for ServiceError {
    fn status(&self) -> StatusCode {
        status_of(self.kind)
    }
}

/// An error as the API and the pages report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub ServiceError);

/// The JSON body of an error response.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine code.
    pub code: String,
    /// Chinese message.
    pub message_zh: String,
    /// English message.
    pub message_en: String,
}

impl Error {
    /// 400 with a code.
    pub fn bad_request(code: &'static str, args: &[(&str, &dyn std::fmt::Display)]) -> Self {
        Self(ServiceError::bad_request(code, args))
    }

    /// 404.
    pub fn not_found(code: &'static str, args: &[(&str, &dyn std::fmt::Display)]) -> Self {
        Self(ServiceError::not_found(code, args))
    }

    /// 401: no or expired session.
    pub fn unauthenticated() -> Self {
        Self(ServiceError::unauthenticated())
    }

    /// 403: the role may not do `action` (a phrase key `action.*`).
    pub fn forbidden(action: &str) -> Self {
        Self(ServiceError::forbidden(action))
    }

    /// 500 for a storage failure.
    pub fn storage(e: &dyn std::fmt::Display) -> Self {
        Self(ServiceError::storage(e))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.0.status()
    }

    /// Logs what went wrong inside, if anything: once, where the error
    /// becomes a response or a page.
    pub fn log(&self) {
        if let Some(detail) = &self.0.detail {
            tracing::error!(code = self.0.code, error = %detail, "request failed");
        }
    }
}

impl Deref for Error {
    type Target = ServiceError;
    fn deref(&self) -> &ServiceError {
        &self.0
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let body = ErrorBody {
            code: self.0.code.to_owned(),
            message_zh: self.0.message_zh,
            message_en: self.0.message_en,
        };
        (status, Json(body)).into_response()
    }
}

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Self {
        Self(e)
    }
}

macro_rules! through_service {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Self(ServiceError::from(e))
            }
        }
    )*};
}

through_service!(
    StoreError,
    IdError,
    CaseNumberError,
    ChecklistError,
    CaseError
);
