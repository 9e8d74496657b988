//! Department systems: their credentials and webhooks (administrator,
//! under `/api/v1/admin/feed`), the feed they read and the actions they
//! post (under `/api/v1/feed`, with the system's own bearer token).

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Staff, System};
use crate::domain::case::Role;
use crate::error::{Error, ErrorBody};
use crate::service::feed::{FeedCredential, FeedPage, IssuedCredential};
use crate::service::webhooks::{Delivery, Subscription};
use crate::service::{Action, CaseView};
use crate::store::DeliveryFilter;

const WHAT: &str = "action.manage_feeds";

/// A credential to issue.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    /// Its name: 1 to 40 of `a-z`, `0-9`, `-`.
    #[schema(pattern = "^[a-z0-9-]{1,40}$")]
    pub name: String,
    /// The department (a code of the catalogue's departments).
    pub department: String,
}

/// Issues a department system's credential at this node (admin): its
/// token is in the answer, once.
#[utoipa::path(post, path = "/api/v1/admin/feed/credentials", tag = "feed", security(("bearer" = [])), request_body = NewCredential,
    responses((status = 401, body = ErrorBody), (status = 201, body = IssuedCredential), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn issue_credential(
    State(node): State<AppState>,
    staff: Staff,
    ApiJson(c): ApiJson<NewCredential>,
) -> Result<(StatusCode, axum::Json<IssuedCredential>), Error> {
    staff.require(&[Role::Admin], WHAT)?;
    let issued = node
        .issue_feed_credential(&c.name, &c.department, &staff.record.username)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(issued)))
}

/// The department systems' credentials issued here (admin; never their
/// secrets).
#[utoipa::path(get, path = "/api/v1/admin/feed/credentials", tag = "feed", security(("bearer" = [])),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<FeedCredential>), (status = 403, body = ErrorBody)))]
pub async fn credentials(
    State(node): State<AppState>,
    staff: Staff,
) -> Result<axum::Json<Vec<FeedCredential>>, Error> {
    staff.require(&[Role::Admin], WHAT)?;
    Ok(axum::Json(node.feed_credentials().await?))
}

/// Revokes a credential (admin): its token is refused from now on and its
/// webhooks stop.
#[utoipa::path(post, path = "/api/v1/admin/feed/credentials/{name}/revoke", tag = "feed", security(("bearer" = [])),
    params(("name" = String, Path, description = "The credential's name")),
    responses((status = 401, body = ErrorBody), (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn revoke_credential(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, Error> {
    staff.require(&[Role::Admin], WHAT)?;
    node.revoke_feed_credential(&name, &staff.record.username)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook to subscribe.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// The credential whose feed it carries.
    pub credential: String,
    /// Where to POST: `http://` only (the node's HTTP client has no TLS;
    /// `https://` is refused with `webhook_https_refused`).
    pub url: String,
    /// A feed cursor to start after; the start of the feed when absent.
    #[serde(default)]
    pub after: Option<String>,
}

/// Subscribes a webhook for a credential's feed (admin): the answer
/// carries the signing secret, once. Each delivery is a POST of
/// `WebhookBody` with `X-OneWindow-Timestamp` and
/// `X-OneWindow-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">`.
#[utoipa::path(post, path = "/api/v1/admin/feed/subscriptions", tag = "feed", security(("bearer" = [])), request_body = NewSubscription,
    responses((status = 401, body = ErrorBody), (status = 201, body = Subscription), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn subscribe(
    State(node): State<AppState>,
    staff: Staff,
    ApiJson(s): ApiJson<NewSubscription>,
) -> Result<(StatusCode, axum::Json<Subscription>), Error> {
    staff.require(&[Role::Admin], WHAT)?;
    let made = node
        .subscribe_webhook(
            &s.credential,
            &s.url,
            s.after.as_deref(),
            &staff.record.username,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(made)))
}

/// The webhook subscriptions (admin; never their secrets).
#[utoipa::path(get, path = "/api/v1/admin/feed/subscriptions", tag = "feed", security(("bearer" = [])),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<Subscription>), (status = 403, body = ErrorBody)))]
pub async fn subscriptions(
    State(node): State<AppState>,
    staff: Staff,
) -> Result<axum::Json<Vec<Subscription>>, Error> {
    staff.require(&[Role::Admin], WHAT)?;
    Ok(axum::Json(node.webhook_subscriptions().await?))
}

/// Ends a webhook subscription (admin): nothing more is delivered to it,
/// its open deliveries are given up (never replayed), and it stays listed
/// with when and by whom it was ended.
#[utoipa::path(post, path = "/api/v1/admin/feed/subscriptions/{id}/end", tag = "feed", security(("bearer" = [])),
    params(("id" = String, Path, description = "The subscription's id")),
    responses((status = 401, body = ErrorBody), (status = 200, body = Subscription), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn end_subscription(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<Subscription>, Error> {
    staff.require(&[Role::Admin], WHAT)?;
    Ok(axum::Json(
        node.end_webhook(&id, &staff.record.username).await?,
    ))
}

/// Which deliveries to list.
#[derive(Debug, Default, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Every one.
    #[default]
    All,
    /// Neither delivered nor given up.
    Open,
    /// The dead letters.
    Dead,
}

/// Which deliveries to list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// `all` (when absent), `open` or `dead`.
    #[param(inline)]
    pub status: Option<DeliveryStatus>,
}

/// The webhook deliveries, newest first (admin; at most 500): each with
/// its attempts, next attempt and last error; `status=dead` lists the dead
/// letters.
#[utoipa::path(get, path = "/api/v1/admin/feed/deliveries", tag = "feed", security(("bearer" = [])),
    params(DeliveriesQuery),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<Delivery>), (status = 403, body = ErrorBody)))]
pub async fn deliveries(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<axum::Json<Vec<Delivery>>, Error> {
    staff.require(&[Role::Admin], WHAT)?;
    let filter = match q.status.unwrap_or_default() {
        DeliveryStatus::All => DeliveryFilter::All,
        DeliveryStatus::Open => DeliveryFilter::Open,
        DeliveryStatus::Dead => DeliveryFilter::Dead,
    };
    Ok(axum::Json(node.webhook_deliveries(filter).await?))
}

/// Replays a dead letter (admin): it is delivered again, its attempts
/// counted anew.
#[utoipa::path(post, path = "/api/v1/admin/feed/deliveries/{id}/replay", tag = "feed", security(("bearer" = [])),
    params(("id" = String, Path, description = "The delivery's id")),
    responses((status = 401, body = ErrorBody), (status = 200, body = Delivery), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn replay(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<Delivery>, Error> {
    staff.require(&[Role::Admin], WHAT)?;
    Ok(axum::Json(
        node.replay_delivery(&id, &staff.record.username).await?,
    ))
}

/// Where to read the feed from.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The cursor of an earlier page (`next`, or an item's `cursor`); the
    /// start of the feed when absent. A cursor is this node's only.
    pub after: Option<String>,
    /// Items in the page: 1 to `[feed] page_max` (500 by default);
    /// `[feed] page_default` (100) when absent.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The feed of a department system (its credential as the bearer token):
/// the events of its department's cases held at this node, in the node's
/// order, from a cursor. Each event's `id` is the same every time; a page
/// read again from an older cursor gives the same events again.
#[utoipa::path(get, path = "/api/v1/feed", tag = "feed", security(("bearer" = [])),
    params(FeedQuery),
    responses((status = 401, body = ErrorBody), (status = 200, body = FeedPage), (status = 400, body = ErrorBody)))]
pub async fn feed(
    State(node): State<AppState>,
    system: System,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<axum::Json<FeedPage>, Error> {
    Ok(axum::Json(
        node.feed_page(&system.0, q.after.as_deref(), q.limit)
            .await?,
    ))
}

/// An action of a department system's staff on a case of its department
/// (its credential as the bearer token), as the department's approver:
/// the same rules as the approver's own, recorded as `system:<name>`.
#[utoipa::path(post, path = "/api/v1/feed/cases/{number}/actions", tag = "feed", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")), request_body = Action,
    responses((status = 401, body = ErrorBody), (status = 200, body = CaseView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, description = "The hall is recovering its log (`hall_recovering`)", body = ErrorBody)))]
pub async fn action(
    State(node): State<AppState>,
    system: System,
    ApiPath(number): ApiPath<String>,
    ApiJson(a): ApiJson<Action>,
) -> Result<axum::Json<CaseView>, Error> {
    Ok(axum::Json(node.system_act(&system.0, &number, a).await?))
}
