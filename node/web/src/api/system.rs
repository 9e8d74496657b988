//! Health, catalogue guides, sessions, staff accounts, the queue, metrics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, ClientAddr, Staff};
use crate::domain::case::Role;
use crate::domain::catalogue::Matter;
use crate::error::{Error, ErrorBody};
use crate::service::{LoginOutcome, NewStaff, StaffChange, StaffView};
use crate::store::Ticket;
use onewindow_i18n::Lang;

/// `GET /api/v1/health`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// Node id.
    pub node_id: String,
    /// Tier name.
    pub tier: String,
    /// The tree's tiers from the root down (e.g. district, township,
    /// village): the names a delegation may grant.
    pub tiers: Vec<String>,
    /// Software version.
    pub version: String,
    /// Catalogue version in use.
    pub catalogue_version: i64,
    /// Store backend: `sqlite` or `postgres`.
    pub store: String,
    /// The link to the parent; null at the root.
    pub uplink: Option<UplinkHealth>,
    /// This node's own federation certificate; null for a node that runs
    /// without links.
    pub certificate: Option<CertificateHealth>,
}

/// A node's own certificate and how it stands.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificateHealth {
    /// Serial (lowercase hex).
    pub serial: String,
    /// Valid from (ms since the epoch).
    pub not_before_ms: i64,
    /// Valid until (ms since the epoch).
    pub not_after_ms: i64,
    /// Whole days left (negative once expired).
    pub days_left: i64,
    /// `ok`, `renew` (past two thirds of its life), `expiring` (under 30
    /// days left), `expired` or `not_yet_valid`.
    pub state: String,
    /// The state in words (Chinese).
    pub state_zh: String,
    /// The state in words (English).
    pub state_en: String,
}

impl CertificateHealth {
    fn of(node: &crate::service::Node) -> Option<Self> {
        let c = node.uplink.certificate()?;
        let (nb, na, now) = (
            c.not_before * 1000,
            c.not_after * 1000,
            crate::service::uplink::certificate_now_ms(),
        );
        let words = |lang| crate::service::uplink::certificate_words(lang, nb, na, now);
        Some(Self {
            serial: c.serial,
            not_before_ms: nb,
            not_after_ms: na,
            days_left: crate::service::uplink::certificate_days_left(na, now),
            state: crate::service::uplink::certificate_state(nb, na, now).to_owned(),
            state_zh: words(Lang::Zh),
            state_en: words(Lang::En),
        })
    }
}

/// The link to the parent, as this node sees it (kept in memory: it starts
/// afresh when the node restarts).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UplinkHealth {
    /// Parent node id.
    pub parent: String,
    /// The link to the parent is up.
    pub up: bool,
    /// Entries of this node's up flow the parent has not acknowledged; null
    /// when this node runs without links (no federation credentials).
    pub backlog: Option<u64>,
    /// When the parent last acknowledged, in ms since the epoch; null when
    /// it has not since this node started.
    pub last_ack_ms: Option<i64>,
    /// `up`, `down`, `held_back` (entries wait for a catalogue version) or
    /// `backing_off` (sessions in a row ended refused).
    pub state: String,
    /// The link's state in words (Chinese).
    pub state_zh: String,
    /// The link's state in words (English), e.g. "held back: waiting for
    /// catalogue version 3 (count 1)".
    pub state_en: String,
    /// The refusals in a row on the link, if any.
    pub refusal: Option<crate::store::RefusalRecord>,
    /// When the node dials its parent again while the link is down (ms
    /// since the epoch).
    pub next_attempt_ms: Option<i64>,
    /// This hall is taking back the tail of its own log from its parent
    /// (its store was put back to an older copy): until it is done it
    /// accepts and handles nothing (`hall_recovering`).
    pub recovering: bool,
}

impl UplinkHealth {
    fn of(node: &crate::service::Node, parent: String) -> Self {
        let up = node.uplink_up();
        let refusal = node.uplink.refusal();
        let state = match &refusal {
            Some(r) if r.held_back_catalogue.is_some() => "held_back",
            Some(_) if !up => "backing_off",
            _ if up => "up",
            _ => "down",
        };
        let time = crate::link::state::clock_time;
        let words = |zh: bool| {
            let s = crate::link::state::describe(up, refusal.as_ref(), zh, time);
            if s.is_empty() {
                let lang = if zh { Lang::Zh } else { Lang::En };
                onewindow_i18n::phrase(lang, "link.down").to_owned()
            } else {
                s
            }
        };
        UplinkHealth {
            parent,
            up,
            backlog: node.uplink.backlog(),
            last_ack_ms: node.uplink.last_ack_ms(),
            state: state.to_owned(),
            state_zh: words(true),
            state_en: words(false),
            refusal,
            next_attempt_ms: if up {
                None
            } else {
                node.uplink.next_attempt_ms()
            },
            recovering: node.own_log.is_recovering(),
        }
    }
}

/// Node health and identity.
#[utoipa::path(get, path = "/api/v1/health", tag = "system",
    responses((status = 200, body = Health)))]
pub async fn health(State(node): State<AppState>) -> axum::Json<Health> {
    axum::Json(Health {
        node_id: node.id.to_string(),
        tier: node.tier.clone(),
        tiers: node.config.node.tiers.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        catalogue_version: node.catalogue().version,
        store: match node.store.backend() {
            crate::store::Backend::Sqlite => "sqlite",
            crate::store::Backend::Postgres => "postgres",
        }
        .to_owned(),
        uplink: node
            .id
            .parent()
            .map(|parent| UplinkHealth::of(&node, parent.to_string())),
        certificate: CertificateHealth::of(&node),
    })
}

/// A matter as this hall offers it: the matter's own fields and three more,
/// in one object.
#[derive(Debug, Serialize, Deserialize)]
pub struct MatterGuide {
    /// The matter with its full guide (materials, limits, fees, stages).
    #[serde(flatten)]
    pub matter: Matter,
    /// This hall may decide it (otherwise it goes up the tree).
    pub decided_here: bool,
    /// Implementing department's Chinese name.
    pub department_zh: String,
    /// Implementing department's English name.
    pub department_en: String,
}

// The schema is the matter's, with the three fields added to it. (A
// derived schema is `allOf` the matter's and the three: the matter's
// schema, which refuses unknown fields as a catalogue file must, then
// refuses those three, and no answer would match.)
impl utoipa::ToSchema for MatterGuide {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("MatterGuide")
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <Matter as utoipa::ToSchema>::schemas(schemas);
    }
}

impl utoipa::PartialSchema for MatterGuide {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
        let mut obj = match <Matter as utoipa::PartialSchema>::schema() {
            RefOr::T(Schema::Object(o)) => o,
            _ => ObjectBuilder::new().schema_type(Type::Object).build(),
        };
        obj.description = Some("A matter as this hall offers it.".into());
        let field = |t: Type, d: &str| -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(t)
                .description(Some(d))
                .into()
        };
        for (name, t, d) in [
            (
                "decided_here",
                Type::Boolean,
                "This hall may decide it (otherwise it goes up the tree).",
            ),
            (
                "department_zh",
                Type::String,
                "Implementing department's Chinese name.",
            ),
            (
                "department_en",
                Type::String,
                "Implementing department's English name.",
            ),
        ] {
            obj.properties.insert(name.to_owned(), field(t, d));
            obj.required.push(name.to_owned());
        }
        RefOr::T(Schema::Object(obj))
    }
}

/// The catalogue as this hall may receive it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogueView {
    /// Catalogue version.
    pub version: i64,
    /// Matters this hall may receive.
    pub matters: Vec<MatterGuide>,
}

fn guide(node: &crate::service::Node, m: &Matter) -> MatterGuide {
    let cat = node.catalogue();
    let dept = cat.departments.get(&m.department);
    MatterGuide {
        matter: m.clone(),
        decided_here: node.may_decide(m),
        department_zh: dept.map(|d| d.name_zh.clone()).unwrap_or_default(),
        department_en: dept.map(|d| d.name_en.clone()).unwrap_or_default(),
    }
}

/// Matters this hall may receive, each with its guide.
#[utoipa::path(get, path = "/api/v1/catalogue", tag = "catalogue",
    responses((status = 200, body = CatalogueView)))]
pub async fn catalogue(State(node): State<AppState>) -> axum::Json<CatalogueView> {
    let cat = node.catalogue();
    let matters = cat
        .matters
        .values()
        .filter(|m| node.may_receive(m))
        .map(|m| guide(&node, m))
        .collect();
    axum::Json(CatalogueView {
        version: cat.version,
        matters,
    })
}

/// The trees this hall's tree peers with (异地通办 across trees), as its
/// root published their offers: each tree's matters open for
/// cross-district handling, which a clerk here may accept naming one of
/// its halls as `deciding_hall`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeersView {
    /// One entry per peer tree.
    pub peers: Vec<PeerView>,
}

/// One peer tree's offer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerView {
    /// The tree's root (node id).
    pub root: String,
    /// Whether this tree hands cases to it now (a disabled peer's matters
    /// are refused as `peer_disabled`).
    pub enabled: bool,
    /// Its catalogue version the matters are of.
    pub catalogue_version: i64,
    /// Its matters open for cross-district handling, whole.
    pub matters: Vec<Matter>,
    /// Its halls a clerk may name.
    pub halls: Vec<PeerHall>,
}

/// A hall of a peer tree.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerHall {
    /// Node id.
    pub id: String,
    /// Chinese name (empty when not offered).
    pub name_zh: String,
    /// English name (empty when not offered).
    pub name_en: String,
}

/// The peer trees' matters and halls this hall's clerks may name.
#[utoipa::path(get, path = "/api/v1/peers", tag = "catalogue",
    responses((status = 200, body = PeersView), (status = 500, body = ErrorBody)))]
pub async fn peers(State(node): State<AppState>) -> Result<axum::Json<PeersView>, Error> {
    let peers = node
        .known_peers()
        .await?
        .into_iter()
        .map(|(root, p)| PeerView {
            root,
            enabled: p.enabled,
            catalogue_version: p.offer.catalogue_version,
            matters: p.offer.matters,
            halls: p
                .offer
                .halls
                .iter()
                .map(|h| {
                    let mut parts = h.split('|').map(str::trim);
                    PeerHall {
                        id: parts.next().unwrap_or_default().to_owned(),
                        name_zh: parts.next().unwrap_or_default().to_owned(),
                        name_en: parts.next().unwrap_or_default().to_owned(),
                    }
                })
                .collect(),
        })
        .collect();
    Ok(axum::Json(PeersView { peers }))
}

/// One matter's guide (what to bring), the same source as the clerk's checklist.
#[utoipa::path(get, path = "/api/v1/catalogue/matters/{code}", tag = "catalogue",
    params(("code" = String, Path, description = "Matter code")),
    responses((status = 200, body = MatterGuide), (status = 404, body = ErrorBody)))]
pub async fn matter_guide(
    State(node): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<axum::Json<MatterGuide>, Error> {
    let cat = node.catalogue();
    let m = cat
        .matter(&code)
        .ok_or_else(|| Error::not_found("unknown_matter", &[("code", &code)]))?;
    Ok(axum::Json(guide(&node, m)))
}

/// Login request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Logs in and returns a bearer token. Failed logins are counted per
/// account and per address: past `[auth]`'s limits the account or the
/// address is locked for `lockout_minutes` (429 `login_locked`), even for
/// the right password.
#[utoipa::path(post, path = "/api/v1/session", tag = "staff", request_body = Login,
    responses((status = 200, body = LoginOutcome), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 429, description = "Too many failed logins: the account or the address is locked for now", body = ErrorBody)))]
pub async fn login(
    State(node): State<AppState>,
    ClientAddr(from): ClientAddr,
    ApiJson(l): ApiJson<Login>,
) -> Result<axum::Json<LoginOutcome>, Error> {
    Ok(axum::Json(
        node.login(&l.username, &l.password, from).await?,
    ))
}

/// Who is logged in.
#[utoipa::path(get, path = "/api/v1/session", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = StaffView), (status = 401, body = ErrorBody)))]
pub async fn whoami(staff: Staff) -> axum::Json<StaffView> {
    axum::Json(StaffView::from(&staff.record))
}

/// Logs out (ends the session).
#[utoipa::path(delete, path = "/api/v1/session", tag = "staff", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(State(node): State<AppState>, staff: Staff) -> Result<StatusCode, Error> {
    node.logout(&staff.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whose staff accounts.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StaffQuery {
    /// At the root: a hall below (`*` for every hall below) whose accounts
    /// the root keeps; this hall's own accounts when absent.
    pub hall: Option<String>,
}

/// Staff accounts (admin): this hall's own, or at the root those it keeps
/// for the halls below.
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff", security(("bearer" = [])),
    params(StaffQuery),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<StaffView>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_staff(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<StaffQuery>,
) -> Result<axum::Json<Vec<StaffView>>, Error> {
    staff.require(&[Role::Admin], "action.manage_staff")?;
    Ok(axum::Json(
        node.list_staff(staff.record.role, q.hall.as_deref())
            .await?,
    ))
}

/// Creates a staff account (admin): this hall's own, or at the root one
/// for a hall below (`hall`), which reaches that hall signed down its
/// branch and lets its holder log in there with or without an uplink.
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", security(("bearer" = [])), request_body = NewStaff,
    responses((status = 401, body = ErrorBody), (status = 201, body = StaffView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn create_staff(
    State(node): State<AppState>,
    staff: Staff,
    ApiJson(new): ApiJson<NewStaff>,
) -> Result<(StatusCode, axum::Json<StaffView>), Error> {
    let v = node
        .create_staff(&staff.record.username, staff.record.role, new)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(v)))
}

/// Changes a staff account (admin): name, role, department, password,
/// enabled or disabled, and at the root a move of an account it keeps to
/// another hall below. A new password, role or department, or disabling,
/// ends the account's sessions (at its hall once the change arrives there).
#[utoipa::path(patch, path = "/api/v1/staff/{username}", tag = "staff", security(("bearer" = [])),
    params(("username" = String, Path, description = "Username")), request_body = StaffChange,
    responses((status = 401, body = ErrorBody), (status = 200, body = StaffView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn change_staff(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(username): ApiPath<String>,
    ApiJson(change): ApiJson<StaffChange>,
) -> Result<axum::Json<StaffView>, Error> {
    let v = node
        .change_staff(&staff.record.username, staff.record.role, &username, change)
        .await?;
    Ok(axum::Json(v))
}

/// Deactivates a staff account and ends its sessions (admin).
#[utoipa::path(delete, path = "/api/v1/staff/{username}", tag = "staff", security(("bearer" = [])),
    params(("username" = String, Path, description = "Username"), StaffQuery),
    responses((status = 401, body = ErrorBody), (status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn deactivate_staff(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(username): ApiPath<String>,
    ApiQuery(q): ApiQuery<StaffQuery>,
) -> Result<StatusCode, Error> {
    match q.hall {
        Some(hall) if hall != node.id.as_str() => {
            let change = StaffChange {
                hall: Some(hall),
                active: Some(false),
                ..StaffChange::default()
            };
            node.change_staff(&staff.record.username, staff.record.role, &username, change)
                .await?;
        }
        _ => {
            node.deactivate_staff(&staff.record.username, staff.record.role, &username)
                .await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Taking a number.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeTicket {
    /// The code of a booking at this hall (`POST /api/v1/bookings`),
    /// shown within its slot: a booked number, called first.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 40)]
    pub booking: Option<String>,
}

/// A number issued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedTicket {
    /// The number.
    #[serde(flatten)]
    pub ticket: Ticket,
    /// Waiting numbers that will be called before it.
    pub ahead: usize,
    /// The booking code was shown after its slot ended: the number is a
    /// walk-in's (`A`), and the booking a no-show.
    pub late_booking: bool,
}

/// Takes a queue number (the kiosk; no login). With a booking code: a
/// booked number (`B`) from 15 minutes before the slot to its end; too
/// early is 409 `booking_too_early` (the message gives the slot); after
/// the slot, a walk-in's number with `late_booking`. An unknown code is
/// 404 `unknown_booking`, a cancelled or used one 409.
#[utoipa::path(post, path = "/api/v1/queue/tickets", tag = "queue", request_body = TakeTicket,
    responses((status = 201, body = IssuedTicket), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn take_ticket(
    State(node): State<AppState>,
    ApiJson(t): ApiJson<TakeTicket>,
) -> Result<(StatusCode, axum::Json<IssuedTicket>), Error> {
    let issued = node.take_ticket(t.booking.as_deref()).await?;
    let ahead = node.waiting_ahead(&issued.ticket).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(IssuedTicket {
            ticket: issued.ticket,
            ahead,
            late_booking: issued.late.is_some(),
        }),
    ))
}

/// Today's queue (staff).
#[utoipa::path(get, path = "/api/v1/queue/tickets", tag = "queue", security(("bearer" = [])),
    responses((status = 200, body = Vec<Ticket>), (status = 401, body = ErrorBody)))]
pub async fn list_tickets(
    State(node): State<AppState>,
    _staff: Staff,
) -> Result<axum::Json<Vec<Ticket>>, Error> {
    Ok(axum::Json(node.tickets_today().await?))
}

/// Calling a number to a window.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallNext {
    /// Window number, e.g. `3` (1 to 10 characters).
    #[schema(min_length = 1, max_length = 10)]
    pub window: String,
}

/// Calls the next number to a window (clerk). 204 when nobody waits; 409
/// `window_busy` while the window's called number is still open.
#[utoipa::path(post, path = "/api/v1/queue/call", tag = "queue", security(("bearer" = [])), request_body = CallNext,
    responses((status = 401, body = ErrorBody), (status = 200, body = Ticket), (status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn call_next(
    State(node): State<AppState>,
    staff: Staff,
    ApiJson(c): ApiJson<CallNext>,
) -> Result<axum::response::Response, Error> {
    staff.require(&[Role::Clerk], "action.call_queue")?;
    let called = node.call_next(&c.window, &staff.record.username).await?;
    Ok(match called {
        Some(t) => axum::Json(t).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Marks a called number served (clerk).
#[utoipa::path(post, path = "/api/v1/queue/tickets/{id}/served", tag = "queue", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    responses((status = 401, body = ErrorBody), (status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn serve_ticket(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Ticket>, Error> {
    staff.require(&[Role::Clerk], "action.call_queue")?;
    Ok(axum::Json(node.serve_ticket(id).await?))
}

/// Marks a called number not present (clerk): the window is free again.
#[utoipa::path(post, path = "/api/v1/queue/tickets/{id}/no-show", tag = "queue", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Ticket id")),
    responses((status = 401, body = ErrorBody), (status = 200, body = Ticket), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn no_show_ticket(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<Ticket>, Error> {
    staff.require(&[Role::Clerk], "action.call_queue")?;
    Ok(axum::Json(node.no_show_ticket(id).await?))
}

/// Prometheus text exposition.
pub async fn metrics(State(node): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        node.metrics.render(node.id.as_str(), node.now_ms()),
    )
}
