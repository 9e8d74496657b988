//! Cases: submission at the window, staff views and actions, the public
//! progress query and rating.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::domain::case::{Channel, EventRecord, Role};
use crate::domain::checklist::PresentedMaterial;
use crate::error::{Error, ErrorBody};
use crate::service::documents::{Issued, Verification};
use crate::service::{
    Action, CaseView, DataLookup, DataResult, Outcome, Progress, Submission, SubmissionKey,
};
use crate::store::CaseFilter;

/// Submits an application at the window (clerk): exactly one of receipt,
/// correction notice, non-acceptance decision (or completion for an
/// immediate matter), with its document.
///
/// With an `Idempotency-Key` header, a submission whose answer was lost
/// (the hall was killed, the network dropped) is sent again with the same
/// key: the answer is then the case the first attempt made (200, header
/// `Idempotent-Replayed: true`), never a second case.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), request_body = Submission,
    params(("Idempotency-Key" = Option<String>, Header, description = "1 to 100 of A-Z a-z 0-9 . _ : -; the same key and submission from the same account make one case", max_length = 100, pattern = "^[A-Za-z0-9._:-]{1,100}$")),
    responses((status = 401, body = ErrorBody), (status = 201, body = Outcome), (status = 200, description = "Made before under the same key: that case", body = Outcome),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The key was used for another submission (`submission_key_reused`), or the hall is closed", body = ErrorBody),
        (status = 422, description = "The matter is not delegated here, or a cross-district `deciding_hall` is refused: the matter is not open for it (`not_cross_district`), the hall is not known here (`unknown_deciding_hall`), or no hall of its branch decides the matter (`hall_may_not_decide`); for a hall of a tree this one peers with, that tree is unknown (`unknown_peer`) or disabled (`peer_disabled`)", body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn submit(
    State(node): State<AppState>,
    staff: Staff,
    headers: axum::http::HeaderMap,
    ApiJson(sub): ApiJson<Submission>,
) -> Result<
    (
        StatusCode,
        [(&'static str, &'static str); 1],
        axum::Json<Outcome>,
    ),
    Error,
> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(SubmissionKey::new(v.to_str().unwrap_or_default())?),
    };
    let made = node
        .submit(&staff.record.username, staff.record.role, sub, key.as_ref())
        .await?;
    let (status, replayed) = if made.replayed {
        (StatusCode::OK, "true")
    } else {
        (StatusCode::CREATED, "false")
    };
    Ok((
        status,
        [("idempotent-replayed", replayed)],
        axum::Json(made.outcome),
    ))
}

/// Filters for the case list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated states.
    pub state: Option<String>,
    /// Department code (approvers see only their own anyway).
    pub department: Option<String>,
    /// Matter code.
    pub matter: Option<String>,
    /// Warning level: green, yellow, red.
    pub warning: Option<String>,
    /// Accepted at this hall (node id) or a hall below it.
    pub hall: Option<String>,
    /// Held by this hall (node id) now.
    pub holder: Option<String>,
    /// The applicant's whole ID number or credit code.
    #[param(pattern = "^[0-9A-Za-z]{15,18}$")]
    pub applicant: Option<String>,
    /// Case numbers that start with this.
    pub number: Option<String>,
    /// Only open cases past their committed due date (`true`).
    pub overdue: Option<bool>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// A node id in a query, checked as the federation checks node ids.
fn query_node_id(what: &str, v: Option<String>) -> Result<Option<String>, Error> {
    let Some(v) = v.map(|v| v.trim().to_owned()) else {
        return Ok(None);
    };
    match federation::NodeId::new(&v) {
        Ok(id) => Ok(Some(id.to_string())),
        Err(_) => {
            let detail = format!("{what}: {v:?} is not a hall's node id");
            Err(Error::bad_request("bad_query", &[("detail", &detail)]))
        }
    }
}

/// An applicant's ID number or credit code in a query, normalised.
fn query_applicant(v: Option<String>) -> Result<Option<String>, Error> {
    let Some(v) = v.map(|v| v.trim().to_ascii_uppercase()) else {
        return Ok(None);
    };
    if !(15..=18).contains(&v.len()) || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
        let detail = "applicant: an ID number (18 characters) or credit code";
        return Err(Error::bad_request("bad_query", &[("detail", &detail)]));
    }
    Ok(Some(v))
}

/// Cases at this node, most urgent first (staff): at a district or a
/// township, every case of its subtree. Approvers see their department's
/// cases only.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<CaseView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<axum::Json<Vec<CaseView>>, Error> {
    let department = if staff.record.role == Role::Approver {
        staff.record.department.clone()
    } else {
        q.department
    };
    let applicant = query_applicant(q.applicant)?;
    let filter = CaseFilter {
        states: q
            .state
            .map(|s| {
                s.split(',')
                    .map(|x| x.trim().to_owned())
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        department,
        matter_code: q.matter,
        warning: q.warning,
        hall: query_node_id("hall", q.hall)?,
        held_by: query_node_id("holder", q.holder)?,
        overdue_on: q
            .overdue
            .unwrap_or(false)
            .then(|| node.today().format("%Y-%m-%d").to_string()),
        applicant_digest: applicant.as_deref().and_then(|a| node.id_digest(a)),
        applicant,
        number_prefix: q.number.map(|n| n.trim().to_ascii_uppercase()),
        post_check_open: false,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let rows = node.store.cases(&filter).await?;
    Ok(axum::Json(rows.iter().map(|r| node.case_view(r)).collect()))
}

/// The key of the public progress query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProgressQuery {
    /// The last four characters of the applicant's ID number or credit code.
    pub last4: String,
}

/// Public progress query: status, stage, due date and what to bring next.
#[utoipa::path(get, path = "/api/v1/cases/{number}", tag = "cases",
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$"), ProgressQuery),
    responses((status = 200, body = Progress), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn progress(
    State(node): State<AppState>,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<ProgressQuery>,
) -> Result<axum::Json<Progress>, Error> {
    Ok(axum::Json(node.progress(&number, &q.last4).await?))
}

/// A case with its whole event history (staff).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseRecord {
    /// The case now.
    pub view: CaseView,
    /// Every event, in case-version order.
    pub events: Vec<EventRecord>,
}

/// A case with every event (staff).
#[utoipa::path(get, path = "/api/v1/cases/{number}/record", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")),
    responses((status = 401, body = ErrorBody), (status = 200, body = CaseRecord), (status = 404, body = ErrorBody)))]
pub async fn record(
    State(node): State<AppState>,
    _staff: Staff,
    ApiPath(number): ApiPath<String>,
) -> Result<axum::Json<CaseRecord>, Error> {
    let view = node.case_for_staff(&number).await?;
    // With the records a crossing or handover carries that are not stored
    // here as rows of their own.
    let events = node.case_records(&view.number).await?;
    Ok(axum::Json(CaseRecord { view, events }))
}

/// The printable page of the case's outcome document (staff).
#[utoipa::path(get, path = "/api/v1/cases/{number}/document", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")),
    responses((status = 401, body = ErrorBody), (status = 200, content_type = "text/html", body = String), (status = 404, body = ErrorBody)))]
pub async fn document(
    State(node): State<AppState>,
    _staff: Staff,
    ApiPath(number): ApiPath<String>,
) -> Result<axum::response::Response, Error> {
    let number = crate::domain::case_number::CaseNumber::parse(&number)?.to_string();
    let html = crate::docs::case_document(&node, &number, None).await?;
    Ok(Html(html).into_response())
}

/// The documents issued for a case, as stored in its record: content,
/// hash, the issuing hall's key, the root's endorsement, the signature and
/// the seal its QR code carries (staff).
#[utoipa::path(get, path = "/api/v1/cases/{number}/documents", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<Issued>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn documents(
    State(node): State<AppState>,
    _staff: Staff,
    ApiPath(number): ApiPath<String>,
) -> Result<axum::Json<Vec<Issued>>, Error> {
    let number = crate::domain::case_number::CaseNumber::parse(&number)?.to_string();
    if node.store.case(&number).await?.is_none() {
        return Err(Error::not_found("case_not_found", &[("number", &number)]));
    }
    Ok(axum::Json(node.issued_documents(&number).await?))
}

/// The printable page of one issued document, by the case version of its
/// record: the same bytes at every hall that holds the case (staff).
#[utoipa::path(get, path = "/api/v1/cases/{number}/documents/{version}", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$"),
        ("version" = u64, Path, description = "The case version of the document's record", minimum = 1)),
    responses((status = 401, body = ErrorBody), (status = 200, content_type = "text/html", body = String), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn document_version(
    State(node): State<AppState>,
    _staff: Staff,
    ApiPath((number, version)): ApiPath<(String, u64)>,
) -> Result<axum::response::Response, Error> {
    let number = crate::domain::case_number::CaseNumber::parse(&number)?.to_string();
    let html = crate::docs::case_document(&node, &number, Some(version)).await?;
    Ok(Html(html).into_response())
}

/// The seal to check.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// The seal a document's QR code carries (base64url).
    #[param(max_length = 1024)]
    pub d: String,
}

/// Checks a document's seal (public, no login): its signatures under the
/// root's key and, where this hall holds the case, its record. Shows only
/// what proves the document: its kind, case number, issuing hall, day, the
/// matter and the applicant's name with all but the first character hidden.
#[utoipa::path(get, path = "/api/v1/verify", tag = "cases", params(VerifyQuery),
    responses((status = 200, body = Verification), (status = 400, body = ErrorBody)))]
pub async fn verify(
    State(node): State<AppState>,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> Result<axum::Json<Verification>, Error> {
    if q.d.len() > crate::domain::document::MAX_SEAL_TEXT {
        return Err(Error::bad_request(
            "bad_query",
            &[("detail", &"d: longer than 1024 characters")],
        ));
    }
    Ok(axum::Json(node.verify_seal(&q.d).await?))
}

/// Materials resubmitted after a correction notice.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resubmission {
    /// Situations now selected.
    #[serde(default)]
    pub situations: Vec<String>,
    /// Every material now presented.
    pub materials: Vec<PresentedMaterial>,
}

/// The applicant's earlier granted results, in this hall's subtree, that
/// the checklist of the matter being received accepts in place of a
/// material (clerk; 比对数据、减免材料), newest first. Each result names
/// the materials it replaces; a material is then submitted with
/// `by_data` set to the result's case number. Every lookup is an audit
/// record (`data_lookup`: the clerk, the matter, the ID's last four
/// characters and how many results were shown).
#[utoipa::path(post, path = "/api/v1/data-results", tag = "cases", security(("bearer" = [])), request_body = DataLookup,
    responses((status = 200, body = Vec<DataResult>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "The matter is not received at this hall", body = ErrorBody)))]
pub async fn data_results(
    State(node): State<AppState>,
    staff: Staff,
    ApiJson(q): ApiJson<DataLookup>,
) -> Result<axum::Json<Vec<DataResult>>, Error> {
    Ok(axum::Json(
        node.data_results(&staff.record.username, staff.record.role, &q)
            .await?,
    ))
}

/// Resubmits after a correction notice (clerk): a new outcome document.
#[utoipa::path(post, path = "/api/v1/cases/{number}/resubmit", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")), request_body = Resubmission,
    responses((status = 401, body = ErrorBody), (status = 200, body = Outcome), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn resubmit(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(r): ApiJson<Resubmission>,
) -> Result<axum::Json<Outcome>, Error> {
    Ok(axum::Json(
        node.resubmit(
            &staff.record.username,
            staff.record.role,
            &number,
            r.situations,
            r.materials,
        )
        .await?,
    ))
}

/// A back-office or window action (staff), checked against the state machine
/// and the actor's role and department.
#[utoipa::path(post, path = "/api/v1/cases/{number}/actions", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")), request_body = Action,
    responses((status = 401, body = ErrorBody), (status = 200, body = CaseView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn action(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(a): ApiJson<Action>,
) -> Result<axum::Json<CaseView>, Error> {
    Ok(axum::Json(
        node.act(
            &staff.record.username,
            staff.record.role,
            staff.record.department.clone(),
            &number,
            a,
        )
        .await?,
    ))
}

/// The applicant's rating (好差评).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingInput {
    /// The last four characters of the applicant's identifier.
    pub last4: String,
    /// 1 very satisfied ... 5 very dissatisfied.
    #[schema(minimum = 1, maximum = 5)]
    pub score: u8,
    /// Channel.
    pub channel: Channel,
    /// Comment (at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub comment: String,
}

/// Rates a completed case (public; keyed by the last four ID characters).
#[utoipa::path(post, path = "/api/v1/cases/{number}/rating", tag = "cases",
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")), request_body = RatingInput,
    responses((status = 200, body = Progress), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn rate(
    State(node): State<AppState>,
    ApiPath(number): ApiPath<String>,
    ApiJson(r): ApiJson<RatingInput>,
) -> Result<axum::Json<Progress>, Error> {
    Ok(axum::Json(
        node.rate(&number, &r.last4, r.score, r.channel, r.comment)
            .await?,
    ))
}

/// The applicant's rating with the code of the SMS sent on completion.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsRatingInput {
    /// The 8-digit rating code of the SMS.
    #[schema(pattern = "^[0-9]{8}$")]
    pub code: String,
    /// 1 very satisfied ... 5 very dissatisfied.
    #[schema(minimum = 1, maximum = 5)]
    pub score: u8,
    /// Comment (at most 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub comment: String,
}

/// Rates a completed case with the code of the SMS sent when it was
/// completed (public; channel `sms`). A wrong code is 400 `bad_sms_code`;
/// one rating per case (409 `already_rated`).
#[utoipa::path(post, path = "/api/v1/cases/{number}/rating/sms", tag = "cases",
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")), request_body = SmsRatingInput,
    responses((status = 200, body = Progress), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn rate_by_sms(
    State(node): State<AppState>,
    ApiPath(number): ApiPath<String>,
    ApiJson(r): ApiJson<SmsRatingInput>,
) -> Result<axum::Json<Progress>, Error> {
    Ok(axum::Json(
        node.rate_by_sms(&number, &r.code, r.score, r.comment)
            .await?,
    ))
}

/// Why a case is recalled.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallInput {
    /// Why.
    pub reason: String,
}

/// Recalls a case to the district (supervisor or admin, at the root): the
/// node holding it hands it over when the directive reaches it.
#[utoipa::path(post, path = "/api/v1/cases/{number}/recall", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")), request_body = RecallInput,
    responses((status = 401, body = ErrorBody), (status = 202), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`) or cannot reach its parent", body = ErrorBody)))]
pub async fn recall(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(r): ApiJson<RecallInput>,
) -> Result<StatusCode, Error> {
    staff.require(&[Role::Supervisor, Role::Admin], "action.recall")?;
    node.recall(&number, &r.reason, &staff.record.username)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Why a supervisor asks for a case's personal data.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonalDataInput {
    /// Why (1 to 500 characters), kept in the audit log with the request.
    pub reason: String,
}

/// A supervisor's request for the personal data of one case held at this
/// hall: the request (who, which case, why) is kept in the audit log
/// first, the personal sections this hall holds withheld are fetched from
/// the hall below that keeps them and shown in this answer only (nothing
/// is stored here), and the answer is kept in the audit log too.
#[utoipa::path(post, path = "/api/v1/cases/{number}/personal", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")), request_body = PersonalDataInput,
    responses((status = 200, body = crate::service::personal::PersonalData), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, description = "The hall that keeps the personal data cannot be reached (`personal_data_unreachable`), or the hall is recovering its log", body = ErrorBody)))]
pub async fn personal_data(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(r): ApiJson<PersonalDataInput>,
) -> Result<axum::Json<crate::service::personal::PersonalData>, Error> {
    staff.require(&[Role::Supervisor], "action.personal_data")?;
    Ok(axum::Json(
        node.request_personal_data(&number, &r.reason, &staff.record.username)
            .await?,
    ))
}

/// Reopens a completed or terminated case (supervisor or admin, at the
/// root; `reason` as for a recall): the hall holding it takes it back to
/// `accepted` and hands it up to the hall that decides its matter, with
/// its time limits running again from today (answered 202).
#[utoipa::path(post, path = "/api/v1/cases/{number}/reopen", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number")), request_body = RecallInput,
    responses((status = 202), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reopen(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(r): ApiJson<RecallInput>,
) -> Result<StatusCode, Error> {
    staff.require(&[Role::Supervisor, Role::Admin], "action.reopen")?;
    node.reopen(&number, &r.reason, &staff.record.username)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// What the district decides on an appeal against a warning.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The warning stands.
    Uphold,
    /// The warning is revoked: it no longer counts against the hall.
    Revoke,
}

/// A decision on a hall's appeal against one warning of a case.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppealDecisionInput {
    /// The appealed warning's rule.
    pub rule: crate::domain::case::WarningRule,
    /// Its level (`yellow` or `red`).
    pub level: crate::domain::case::Warning,
    /// Uphold or revoke.
    pub verdict: Verdict,
    /// Why (at most 500 characters).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Decides a hall's appeal against a warning (supervisor or admin, at the
/// root). A case the district holds takes the decision at once; otherwise
/// the decision goes down the case's branch and its holder writes it into
/// the case (answered 202 either way).
#[utoipa::path(post, path = "/api/v1/cases/{number}/warning-decision", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number")), request_body = AppealDecisionInput,
    responses((status = 202), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide_appeal(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    ApiJson(d): ApiJson<AppealDecisionInput>,
) -> Result<StatusCode, Error> {
    staff.require(&[Role::Supervisor, Role::Admin], "action.decide_appeal")?;
    node.decide_appeal(
        &number,
        d.rule,
        d.level,
        matches!(d.verdict, Verdict::Uphold),
        &d.reason,
        &staff.record.username,
    )
    .await?;
    Ok(StatusCode::ACCEPTED)
}
