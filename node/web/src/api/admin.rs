//! Catalogue versions (draft -> published -> retired) and holiday calendars.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::domain::calendar::YearCalendar;
use crate::domain::case::{Role, WarningRule, WarningStatus};
use crate::domain::catalogue::Catalogue;
use crate::error::{Error, ErrorBody};
use crate::store::VersionInfo;

const WHAT: &str = "action.manage_catalogue";

/// Every catalogue version (admin).
#[utoipa::path(get, path = "/api/v1/admin/catalogue/versions", tag = "admin", security(("bearer" = [])),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<VersionInfo>), (status = 403, body = ErrorBody)))]
pub async fn list_versions(
    State(node): State<AppState>,
    staff: Staff,
) -> Result<axum::Json<Vec<VersionInfo>>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], WHAT)?;
    Ok(axum::Json(node.catalogue_versions().await?))
}

/// Stores a new draft version (admin); its number is assigned.
#[utoipa::path(post, path = "/api/v1/admin/catalogue/versions", tag = "admin", security(("bearer" = [])), request_body = Catalogue,
    responses((status = 401, body = ErrorBody), (status = 201, body = VersionInfo), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_draft(
    State(node): State<AppState>,
    staff: Staff,
    ApiJson(cat): ApiJson<Catalogue>,
) -> Result<(StatusCode, axum::Json<VersionInfo>), Error> {
    staff.require(&[Role::Admin], WHAT)?;
    let info = node.create_catalogue_draft(&cat).await?;
    Ok((StatusCode::CREATED, axum::Json(info)))
}

/// One version's content (admin).
#[utoipa::path(get, path = "/api/v1/admin/catalogue/versions/{version}", tag = "admin", security(("bearer" = [])),
    params(("version" = i64, Path, description = "Version")),
    responses((status = 401, body = ErrorBody), (status = 200, body = Catalogue), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_version(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(version): ApiPath<i64>,
) -> Result<axum::Json<Catalogue>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], WHAT)?;
    Ok(axum::Json(node.catalogue_version(version).await?))
}

/// Replaces a draft (admin); a published or retired version is refused.
#[utoipa::path(put, path = "/api/v1/admin/catalogue/versions/{version}", tag = "admin", security(("bearer" = [])),
    params(("version" = i64, Path, description = "Version")), request_body = Catalogue,
    responses((status = 401, body = ErrorBody), (status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update_draft(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(version): ApiPath<i64>,
    ApiJson(cat): ApiJson<Catalogue>,
) -> Result<StatusCode, Error> {
    staff.require(&[Role::Admin], WHAT)?;
    node.update_catalogue_draft(version, &cat).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Publishes a draft (admin): it becomes the catalogue in use and the
/// previous published version is retired.
#[utoipa::path(post, path = "/api/v1/admin/catalogue/versions/{version}/publish", tag = "admin", security(("bearer" = [])),
    params(("version" = i64, Path, description = "Version")),
    responses((status = 401, body = ErrorBody), (status = 200, body = VersionInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn publish(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(version): ApiPath<i64>,
) -> Result<axum::Json<VersionInfo>, Error> {
    staff.require(&[Role::Admin], WHAT)?;
    let info = node
        .publish_catalogue(version, &staff.record.username)
        .await?;
    Ok(axum::Json(info))
}

/// The holiday calendars in use.
#[utoipa::path(get, path = "/api/v1/admin/calendars", tag = "admin",
    responses((status = 200, body = Vec<YearCalendar>)))]
pub async fn calendars(
    State(node): State<AppState>,
) -> Result<axum::Json<Vec<YearCalendar>>, Error> {
    Ok(axum::Json(node.store.calendars().await?))
}

/// Publishes (or replaces) one year's holiday calendar (admin).
#[utoipa::path(put, path = "/api/v1/admin/calendars", tag = "admin", security(("bearer" = [])), request_body = YearCalendar,
    responses((status = 401, body = ErrorBody), (status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn put_calendar(
    State(node): State<AppState>,
    staff: Staff,
    ApiJson(year): ApiJson<YearCalendar>,
) -> Result<StatusCode, Error> {
    staff.require(&[Role::Admin], "action.publish_calendar")?;
    node.publish_calendar(&year, &staff.record.username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A revocation.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// One certificate serial (hex); empty or absent: every certificate of the node.
    #[serde(default)]
    pub serial: String,
}

/// Revokes a node for the whole tree (admin, at the root): its links are
/// refused everywhere from the moment the revocation arrives.
#[utoipa::path(post, path = "/api/v1/admin/nodes/{node}/revoke", tag = "admin", security(("bearer" = [])),
    params(("node" = String, Path, description = "Node id")), request_body = Revocation,
    responses((status = 401, body = ErrorBody), (status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn revoke_node(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(target): ApiPath<String>,
    ApiJson(r): ApiJson<Revocation>,
) -> Result<StatusCode, Error> {
    staff.require(&[Role::Admin], "action.revoke_nodes")?;
    node.revoke_node(&target, r.serial.trim(), &staff.record.username)
        .await?;
    tracing::warn!(node = %target, by = %staff.record.username, "node revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Closing a hall: who takes over its open cases, and why.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decommission {
    /// The hall that serves the closed hall's open cases from now on.
    #[schema(min_length = 1, max_length = 200)]
    pub to: String,
    /// Why (1 to 500 characters).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Closes a hall (admin, at the root): it accepts nothing more, its open
/// cases are handed over to `to` (through the district, with their history),
/// and once it has handed up what it held it is revoked for the whole tree.
/// Also the second half of moving a hall: register its new id under the new
/// parent, then decommission the old id with the new one as heir.
#[utoipa::path(post, path = "/api/v1/admin/nodes/{node}/decommission", tag = "admin", security(("bearer" = [])),
    params(("node" = String, Path, description = "Node id of the hall that closes")), request_body = Decommission,
    responses((status = 401, body = ErrorBody), (status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The hall or its heir is closed or revoked (`hall_closed`), or halls below it are still open (`hall_has_children`)", body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`)", body = ErrorBody)))]
pub async fn decommission_node(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(target): ApiPath<String>,
    ApiJson(d): ApiJson<Decommission>,
) -> Result<StatusCode, Error> {
    staff.require(&[Role::Admin], "action.revoke_nodes")?;
    node.decommission(&target, d.to.trim(), &d.reason, &staff.record.username)
        .await?;
    tracing::warn!(node = %target, heir = %d.to, by = %staff.record.username, "hall decommissioned");
    Ok(StatusCode::NO_CONTENT)
}

/// Security events at this node, newest first.
#[utoipa::path(get, path = "/api/v1/admin/security-events", tag = "admin", security(("bearer" = [])),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<crate::store::SecurityRow>), (status = 403, body = ErrorBody)))]
pub async fn security_events(
    State(node): State<AppState>,
    staff: Staff,
) -> Result<axum::Json<Vec<crate::store::SecurityRow>>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], "action.view_security")?;
    Ok(axum::Json(node.store.security_events(1000).await?))
}

/// The SMS outbox of this hall, newest first (at most 200): each
/// completion text with its attempts, next attempt and last error
/// (supervisor, admin).
#[utoipa::path(get, path = "/api/v1/admin/sms", tag = "admin", security(("bearer" = [])),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<crate::service::sms::SmsMessage>), (status = 403, body = ErrorBody)))]
pub async fn sms_outbox(
    State(node): State<AppState>,
    staff: Staff,
) -> Result<axum::Json<Vec<crate::service::sms::SmsMessage>>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], "action.supervise")?;
    Ok(axum::Json(node.sms_outbox().await?))
}

/// Which warnings to list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WarningsQuery {
    /// Only this level: `red` or `yellow` (both when absent).
    pub level: Option<crate::domain::case::Warning>,
    /// Only cases accepted at this hall or below it (a node id).
    pub hall: Option<String>,
    /// Only warnings of this status: `issued`, `pending`, `escalated`, `appealed` or `revoked`.
    pub status: Option<WarningStatus>,
}

/// A case near (yellow) or past (red) a deadline today: a running case's
/// (`rule` `deadline`), or a bad rating's follow-up (`rule` `follow_up`).
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct WarningRow {
    /// Case number.
    pub case_number: String,
    /// Which rule: `deadline` (the case's statutory, committed or stage
    /// limit), `follow_up` (a bad rating to answer within 15 working
    /// days) or `forwarding` (the case reached the hall that decides it
    /// late; red while it runs).
    #[schema(pattern = "^(deadline|follow_up|forwarding)$")]
    pub rule: String,
    /// `red` or `yellow`, by the one warning rule, today.
    pub level: crate::domain::case::Warning,
    /// Matter code.
    pub matter_code: String,
    /// Matter name (Chinese).
    pub matter_name_zh: String,
    /// Matter name (English).
    pub matter_name_en: String,
    /// Implementing department's code.
    pub department: String,
    /// The hall that accepted it.
    pub accepting_node: String,
    /// The hall that holds it now.
    pub holder: Option<String>,
    /// State.
    pub state: String,
    /// Committed due date.
    pub committed_due: Option<String>,
    /// Statutory due date.
    pub statutory_due: Option<String>,
    /// The current stage's due date.
    pub stage_due: Option<String>,
    /// Working days from today to the committed due date, or to the
    /// follow-up's due day (0 on the due day, negative once past).
    pub working_days_left: Option<i64>,
    /// The day a bad rating's follow-up is due (rule `follow_up`).
    pub follow_up_due: Option<String>,
    /// How late the case reached the hall that decides it (rule
    /// `forwarding`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late_forwarding: Option<crate::domain::case::LateForwarding>,
    /// The first day the warning held at this level (China time).
    pub since: String,
    /// Where it stands: `issued`; `pending` (the responsible hall has not
    /// been heard from since the warning arose); `escalated` (red and
    /// standing for more than 5 working days); `appealed`; `revoked`.
    pub status: WarningStatus,
    /// The hall it is held against: the one that holds the case, or for
    /// `forwarding` the one that handed it up late.
    pub responsible_hall: String,
    /// The responsible hall's appeal and the district's decision, if any.
    pub appeal: Option<crate::domain::case::WarningAppeal>,
}

/// Running cases near (yellow) or past (red) a deadline today, across
/// this node's subtree (the district: every hall), most urgent first; then
/// bad ratings whose follow-up is due within its last 3 working days
/// (yellow) or overdue (red), earliest first (admin, supervisor).
#[utoipa::path(get, path = "/api/v1/admin/warnings", tag = "admin", security(("bearer" = [])),
    params(WarningsQuery),
    responses((status = 200, body = Vec<WarningRow>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn warnings(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<WarningsQuery>,
) -> Result<axum::Json<Vec<WarningRow>>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], "action.supervise")?;
    let hall = match q.hall.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => Some(
            federation::NodeId::new(h)
                .map_err(|_| Error::bad_request("bad_origin", &[("origin", &h)]))?,
        ),
        None => None,
    };
    let today = node.today();
    let cat = node.catalogue();
    let wanted = |b: &crate::store::CaseBrief, w: crate::domain::case::Warning, _rule| {
        q.level.is_none_or(|l| l == w)
            && hall.as_ref().is_none_or(|h| {
                federation::NodeId::new(b.accepting_node.clone())
                    .is_ok_and(|n| n.is_in_subtree_of(h))
            })
    };
    let calendar = node.calendar();
    let heard = node.last_heard().await?;
    let row = |b: crate::store::CaseBrief, w, rule: WarningRule, left: Option<i64>| {
        let m = cat.matter(&b.matter_code);
        let appeal = b.appeal(rule, w).cloned();
        let since = node.warning_since(&b, rule, w);
        WarningRow {
            since: since.format("%Y-%m-%d").to_string(),
            status: node.warning_status(&b, rule, w, since, &heard),
            responsible_hall: crate::service::Node::responsible_hall(&b, rule),
            appeal,
            working_days_left: left,
            case_number: b.id,
            rule: rule.as_str().to_owned(),
            level: w,
            matter_name_zh: m.map(|m| m.name_zh.clone()).unwrap_or_default(),
            matter_name_en: m.map(|m| m.name_en.clone()).unwrap_or_default(),
            matter_code: b.matter_code,
            department: b.department,
            accepting_node: b.accepting_node,
            holder: b.holder,
            state: b.state,
            committed_due: b.committed_due,
            statutory_due: b.statutory_due,
            stage_due: b.stage_due,
            // Only a closed case has one: none on a running case's row.
            follow_up_due: b.follow_up_due,
            late_forwarding: None,
        }
    };
    let mut rows: Vec<WarningRow> = node
        .deadline_watch()
        .await?
        .into_iter()
        .filter(|(b, w)| wanted(b, *w, WarningRule::Deadline))
        .map(|(b, w)| {
            let left = node.working_days_left(&b, today);
            row(b, w, WarningRule::Deadline, left)
        })
        .collect();
    let follow_ups: Vec<WarningRow> = node
        .follow_up_watch()
        .await?
        .into_iter()
        .filter(|(b, _, w)| wanted(b, *w, WarningRule::FollowUp))
        .map(|(b, due, w)| {
            let left = crate::domain::deadline::working_days_left(&calendar, today, due);
            row(b, w, WarningRule::FollowUp, Some(left))
        })
        .collect();
    rows.extend(follow_ups);
    let red = crate::domain::case::Warning::Red;
    let late: Vec<WarningRow> = node
        .forwarding_watch()
        .await?
        .into_iter()
        .filter(|b| wanted(b, red, WarningRule::Forwarding))
        .map(|b| {
            let late = b.late_forwarding.clone();
            let mut r = row(b, red, WarningRule::Forwarding, None);
            r.late_forwarding = late;
            r
        })
        .collect();
    rows.extend(late);
    rows.retain(|r| q.status.is_none_or(|s| s == r.status));
    Ok(axum::Json(rows))
}

/// The period and hall of a report.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// First day, `YYYY-MM-DD` (China time); 29 days before `to` when
    /// absent.
    pub from: Option<String>,
    /// Last day, included; today when absent.
    pub to: Option<String>,
    /// Only cases accepted at this hall or below it (a node id at or below
    /// this node).
    pub hall: Option<String>,
}

/// A report over a period (at most 366 days) for this node's subtree or
/// one hall's below it: cases by tier, matter, department, hall and state
/// now, the immediate share, handling and queue waiting times, ratings
/// (admin, supervisor).
#[utoipa::path(get, path = "/api/v1/admin/report", tag = "admin", security(("bearer" = [])),
    params(ReportQuery),
    responses((status = 200, body = crate::service::report::Report), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn report(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<axum::Json<crate::service::report::Report>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], "action.supervise")?;
    let day = |name: &str, v: Option<&str>| -> Result<Option<chrono::NaiveDate>, Error> {
        match v.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| {
                    let detail = format!("{name}={v}: a day is YYYY-MM-DD");
                    Error::bad_request("bad_query", &[("detail", &detail)])
                }),
        }
    };
    let to = day("to", q.to.as_deref())?.unwrap_or_else(|| node.today());
    let from = day("from", q.from.as_deref())?.unwrap_or(to - chrono::Duration::days(29));
    let hall = match q.hall.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        Some(h) => Some(
            federation::NodeId::new(h)
                .map_err(|_| Error::bad_request("bad_origin", &[("origin", &h)]))?,
        ),
        None => None,
    };
    Ok(axum::Json(node.report(from, to, hall.as_ref()).await?))
}

/// Which origin to audit.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this origin (a node id); every origin held when absent.
    pub origin: Option<String>,
}

/// Walks every origin's hash chain in this node's stored log (or one
/// origin's) and names the first break of each: a row changed (its hash is
/// not the hash of its content), a row replaced (the next entry's previous
/// hash does not match), or rows deleted (a gap). The node's own origin and
/// its subtree's are checked as whole chains from sequence 1; an
/// ancestor's entries, of which a node holds only those routed to it,
/// entry by entry. `reported` lists the breaks that halls below found in
/// their own stores (each node checks its own from time to time and sends
/// what it finds up as a `chain_broken` audit record): a row changed by
/// hand at a village after its entries came up (admin, supervisor).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = crate::store::AuditReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<axum::Json<crate::store::AuditReport>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], "action.audit_log")?;
    let origin = match q.origin.as_deref().map(str::trim) {
        Some(o) => Some(
            federation::NodeId::new(o)
                .map_err(|_| Error::bad_request("bad_origin", &[("origin", &o)]))?,
        ),
        None => None,
    };
    let origin = origin.as_ref().map(federation::NodeId::as_str);
    let mut report = node.store.audit(origin).await?;
    report.reported = node.reported_breaks(origin).await?;
    if report.broken > 0 || !report.reported.is_empty() {
        tracing::error!(
            broken = report.broken,
            reported = report.reported.len(),
            by = %staff.record.username,
            "the audit found broken chains in the stored log"
        );
    }
    Ok(axum::Json(report))
}

/// Which entries of the stored log to export.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// The origin (a node id) whose entries to export.
    pub origin: String,
    /// Only entries after this sequence (0 when absent).
    pub after: Option<u64>,
    /// At most this many (default 1000, at most 5000).
    pub limit: Option<i64>,
}

/// One stored entry of the log as exported for a third party: its place,
/// hashes and open body, with the personal section withheld (its hash
/// stands in for it, so the entry still verifies).
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ExportedEntry {
    /// The origin (a node id).
    pub origin: String,
    /// Its place in the origin's chain.
    pub seq: u64,
    /// The previous entry's hash (hex), absent when the row is unreadable.
    pub prev_hash: Option<String>,
    /// The entry's hash as stored (hex).
    pub hash: Option<String>,
    /// The open body as stored (hex).
    pub body: Option<String>,
    /// The hash of the withheld personal section (hex); absent when the
    /// entry has none.
    pub sealed: Option<String>,
    /// The body as read, without personal data (for reading; the hashes
    /// cover `body`).
    pub event: Option<serde_json::Value>,
    /// Why the row cannot be read as an entry.
    pub unreadable: Option<String>,
}

/// Stored entries of one origin, in sequence order, for an audit export
/// that a third party checks with `onewindow-admin audit verify --file`:
/// each as stored, with its personal section withheld, so that the export
/// holds no applicant's data and still verifies (admin, supervisor).
#[utoipa::path(get, path = "/api/v1/admin/audit/export", tag = "admin", security(("bearer" = [])),
    params(ExportQuery),
    responses((status = 200, body = Vec<ExportedEntry>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit_export(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<axum::Json<Vec<ExportedEntry>>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], "action.audit_log")?;
    let origin = q.origin.trim();
    federation::NodeId::new(origin)
        .map_err(|_| Error::bad_request("bad_origin", &[("origin", &origin)]))?;
    let rows = node
        .store
        .origin_entries(
            origin,
            q.after.unwrap_or(0),
            q.limit.unwrap_or(1000).clamp(1, 5000),
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (seq, row) in rows {
        out.push(match row {
            Ok(e) => {
                let e = e.withheld();
                let event = match node.store.decode_body(&e).await? {
                    Ok(body) => serde_json::to_value(&body).ok(),
                    Err(_) => None,
                };
                ExportedEntry {
                    origin: origin.to_owned(),
                    seq,
                    prev_hash: Some(e.prev_hash.to_hex()),
                    hash: Some(e.hash.to_hex()),
                    body: Some(hex::encode(&e.body)),
                    sealed: (!e.sealed.is_empty()).then(|| e.sealed.digest().to_hex()),
                    event,
                    unreadable: None,
                }
            }
            Err(why) => ExportedEntry {
                origin: origin.to_owned(),
                seq,
                prev_hash: None,
                hash: None,
                body: None,
                sealed: None,
                event: None,
                unreadable: Some(why),
            },
        });
    }
    Ok(axum::Json(out))
}

/// Which staff and administrator actions to list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActionsQuery {
    /// Only actions at this hall (node id) or a hall below it.
    pub hall: Option<String>,
    /// Only this action (`login`, `logout`, `login_lockout`,
    /// `staff_created`, `staff_changed`, `staff_disabled`,
    /// `catalogue_published`, `calendar_published`, `case_recalled`,
    /// `node_registered`, `node_revoked`, `data_exported`, `chain_broken`,
    /// `warning_decided`, `case_reopened`, `hall_decommissioned`,
    /// `hall_closed`, `data_lookup`, `personal_data_requested`,
    /// `personal_data_shown`).
    pub action: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// A staff or administrator action as the log keeps it.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditAction {
    /// The hall where it was done.
    pub hall: String,
    /// Its place in that hall's hash chain.
    pub seq: u64,
    /// What was done.
    pub action: String,
    /// Who (username at that hall).
    pub actor: String,
    /// The actor's role then.
    pub role: String,
    /// What it was done to.
    pub target: String,
    /// Why, or what changed.
    pub detail: String,
    /// When (ms since the epoch).
    pub at_ms: i64,
}

/// Staff and administrator actions held at this node (its own and its
/// subtree's: each hall's actions travel up in its hash chain), newest
/// first (admin, supervisor).
#[utoipa::path(get, path = "/api/v1/admin/audit/actions", tag = "admin", security(("bearer" = [])),
    params(ActionsQuery),
    responses((status = 200, body = Vec<AuditAction>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit_actions(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<ActionsQuery>,
) -> Result<axum::Json<Vec<AuditAction>>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], "action.audit_log")?;
    let hall = match q.hall.as_deref().map(str::trim) {
        Some(h) => Some(
            federation::NodeId::new(h)
                .map_err(|_| Error::bad_request("bad_node_id", &[("node", &h)]))?,
        ),
        None => None,
    };
    let action = q.action.as_deref().map(str::trim);
    if let Some(a) = action
        && !crate::domain::log::AUDIT_ACTIONS.contains(&a)
    {
        let detail = format!(
            "action: {a:?} is not one of {}",
            crate::domain::log::AUDIT_ACTIONS.join(", ")
        );
        return Err(Error::bad_request("bad_query", &[("detail", &detail)]));
    }
    let rows = node
        .store
        .audit_actions(
            hall.as_ref().map(federation::NodeId::as_str),
            action,
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
        .await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|(hall, seq, a)| AuditAction {
                hall,
                seq,
                action: a.action,
                actor: a.actor,
                role: a.role,
                target: a.target,
                detail: a.detail,
                at_ms: a.at_ms,
            })
            .collect(),
    ))
}

/// A node to register.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The new node's id, below this node.
    pub node: String,
}

/// Registers a new hall (admin): a one-time enrolment token for it, usable
/// for 24 hours. The node holding the federation CA registers any node
/// below it; any other node its own children only, and admits them on its
/// links once they enrol. The hall runs
/// `onewindow-node enrol --token TOKEN --url URL-OF-THIS-NODE`.
#[utoipa::path(post, path = "/api/v1/admin/enrolments", tag = "admin", security(("bearer" = [])),
    request_body = Registration,
    responses((status = 401, body = ErrorBody), (status = 201, body = crate::service::enrolment::IssuedToken), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn register_node(
    State(node): State<AppState>,
    staff: Staff,
    ApiJson(r): ApiJson<Registration>,
) -> Result<
    (
        StatusCode,
        axum::Json<crate::service::enrolment::IssuedToken>,
    ),
    Error,
> {
    staff.require(&[Role::Admin], "action.register_nodes")?;
    let issued = node
        .issue_enrolment_token(r.node.trim(), &staff.record.username)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(issued)))
}

/// A new hall's enrolment (no login: the token's MAC over the request is
/// the proof): its first certificate, for the key it made itself.
#[utoipa::path(post, path = "/api/v1/enrolment", tag = "system",
    request_body = crate::service::enrolment::EnrolRequest,
    responses((status = 200, body = crate::service::enrolment::Enrolled), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn enrol(
    State(node): State<AppState>,
    ApiJson(r): ApiJson<crate::service::enrolment::EnrolRequest>,
) -> Result<axum::Json<crate::service::enrolment::Enrolled>, Error> {
    Ok(axum::Json(node.enrol(&r, None).await?))
}

/// One node of this node's subtree as its fleet knows it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FleetNode {
    /// Node id.
    pub node_id: String,
    /// Hall name in Chinese (empty until its status report has come).
    pub name_zh: String,
    /// Hall name in English.
    pub name_en: String,
    /// Tier name.
    pub tier: String,
    /// Parent node id.
    pub parent: Option<String>,
    /// A link to it is up (as its parent sees it).
    pub connected: bool,
    /// Revoked (ms since the epoch).
    pub revoked_at_ms: Option<i64>,
    /// Last heard of (ms since the epoch).
    pub last_seen_ms: Option<i64>,
    /// Software version.
    pub software: Option<String>,
    /// Catalogue version in use.
    pub catalogue_version: Option<i64>,
    /// Entries it still has to send up.
    pub backlog: Option<i64>,
    /// Round trip of its link to its parent (ms).
    pub latency_ms: Option<i64>,
    /// Its clock against its parent's (ms).
    pub skew_ms: Option<i64>,
    /// When its certificate expires (ms since the epoch).
    pub cert_not_after_ms: Option<i64>,
    /// The code of the refusals in a row on its link, if any.
    pub refusal_code: Option<String>,
}

/// This node and every node of its subtree, as the status reports up the
/// tree tell it: link, last seen, software and catalogue version, backlog,
/// link round trip, clock skew, certificate expiry (admin, supervisor).
#[utoipa::path(get, path = "/api/v1/admin/fleet", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = Vec<FleetNode>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn fleet(
    State(node): State<AppState>,
    staff: Staff,
) -> Result<axum::Json<Vec<FleetNode>>, Error> {
    staff.require(&[Role::Admin, Role::Supervisor], "action.supervise")?;
    let names = node.hall_names();
    let rows = node
        .store
        .oversight_fleet()
        .await?
        .into_iter()
        .map(|f| {
            let (name_zh, name_en) = names.get(&f.node_id).cloned().unwrap_or_default();
            FleetNode {
                tier: node.tier_of(&f.node_id),
                name_zh,
                name_en,
                parent: f.parent,
                connected: f.connected || f.node_id == node.id.as_str(),
                revoked_at_ms: f.revoked_at_ms,
                last_seen_ms: f.last_seen_ms,
                software: f.software,
                catalogue_version: f.catalogue_version,
                backlog: f.backlog,
                latency_ms: f.lag_ms,
                skew_ms: f.skew_ms,
                cert_not_after_ms: f.cert_not_after_ms,
                refusal_code: f.refusal.map(|r| r.code),
                node_id: f.node_id,
            }
        })
        .collect::<Vec<_>>();
    let mut rows = rows;
    if !rows.iter().any(|r| r.node_id == node.id.as_str()) {
        rows.insert(
            0,
            FleetNode {
                node_id: node.id.to_string(),
                name_zh: node.config.node.hall_name_zh.clone(),
                name_en: node.config.node.hall_name_en.clone(),
                tier: node.tier.clone(),
                parent: node.id.parent().map(|p| p.to_string()),
                connected: true,
                revoked_at_ms: None,
                last_seen_ms: Some(node.now_ms()),
                software: Some(env!("CARGO_PKG_VERSION").to_owned()),
                catalogue_version: Some(node.catalogue().version),
                backlog: None,
                latency_ms: None,
                skew_ms: None,
                cert_not_after_ms: None,
                refusal_code: None,
            },
        );
    }
    Ok(axum::Json(rows))
}
