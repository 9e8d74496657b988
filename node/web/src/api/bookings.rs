//! Bookings (public, no login): a day's free slots, booking one, reading
//! and cancelling it with its code and the last four characters of the ID
//! number. The code is what the kiosk takes for a booked number.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use crate::error::{Error, ErrorBody};
use crate::service::{BookingRequest, BookingView, DaySlots};

/// Which day's slots.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    /// The matter's code: one this hall receives.
    pub matter: String,
    /// The day, `YYYY-MM-DD`.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}$")]
    pub date: String,
}

/// A day's slots for a matter, each with its free places. A day that is
/// not a working day has none; a day beyond the booking range has its
/// slots, none open.
#[utoipa::path(get, path = "/api/v1/bookings/slots", tag = "bookings",
    params(SlotsQuery),
    responses((status = 200, body = DaySlots), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "The matter is not received at this hall", body = ErrorBody)))]
pub async fn slots(
    State(node): State<AppState>,
    ApiQuery(q): ApiQuery<SlotsQuery>,
) -> Result<axum::Json<DaySlots>, Error> {
    Ok(axum::Json(node.booking_slots(&q.matter, &q.date).await?))
}

/// Books a slot for a matter (no login). The answer carries the booking
/// code, to give at the kiosk within the slot. A full slot is 409
/// `slot_full`; one person holds one booking a day (`already_booked`).
#[utoipa::path(post, path = "/api/v1/bookings", tag = "bookings", request_body = BookingRequest,
    responses((status = 201, body = BookingView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The slot is full or has started, or the person has a booking that day", body = ErrorBody),
        (status = 422, description = "Not a working day, beyond the booking range, or a matter not received here", body = ErrorBody)))]
pub async fn book(
    State(node): State<AppState>,
    ApiJson(req): ApiJson<BookingRequest>,
) -> Result<(StatusCode, axum::Json<BookingView>), Error> {
    Ok((StatusCode::CREATED, axum::Json(node.book(&req).await?)))
}

/// The key of a booking: the last four characters of the ID number.
#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BookingKey {
    /// The last four characters of the applicant's ID number.
    #[param(min_length = 4, max_length = 4)]
    #[schema(min_length = 4, max_length = 4)]
    pub last4: String,
}

/// A booking, for its holder. An unknown code and a wrong `last4` get the
/// same 404 `booking_not_found`, so codes cannot be probed.
#[utoipa::path(get, path = "/api/v1/bookings/{code}", tag = "bookings",
    params(("code" = String, Path, description = "Booking code: 8 of 2-9 and A-Z without I and O (either case)"), BookingKey),
    responses((status = 200, body = BookingView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(node): State<AppState>,
    ApiPath(code): ApiPath<String>,
    ApiQuery(k): ApiQuery<BookingKey>,
) -> Result<axum::Json<BookingView>, Error> {
    Ok(axum::Json(node.booking(&code, &k.last4).await?))
}

/// Cancels a booking, for its holder: only one still `booked` whose slot
/// has not ended (409 `booking_not_cancellable` otherwise).
#[utoipa::path(post, path = "/api/v1/bookings/{code}/cancel", tag = "bookings", request_body = BookingKey,
    params(("code" = String, Path, description = "Booking code")),
    responses((status = 200, body = BookingView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(node): State<AppState>,
    ApiPath(code): ApiPath<String>,
    ApiJson(k): ApiJson<BookingKey>,
) -> Result<axum::Json<BookingView>, Error> {
    Ok(axum::Json(node.cancel_booking(&code, &k.last4).await?))
}
