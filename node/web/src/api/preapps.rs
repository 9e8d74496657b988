//! Online pre-applications (网上预审) and the files of materials: a
//! citizen sends a pre-application with its files (no login); the clerk
//! finds it by reference or ID number and accepts it in one step; the
//! clerk attaches a scan to a case; this hall's staff read a case's or a
//! pre-application's file by its hash. A file travels as base64 in the
//! JSON body; its type is read from its content.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Staff};
use crate::domain::checklist::PresentedMaterial;
use crate::error::{Error, ErrorBody, ErrorKind, ServiceError};
use crate::service::files::{FileContent, Upload};
use crate::service::{ApplicantInput, CaseView, Outcome, PreApplicationForm, PreApplicationView};

/// A file in a request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileInput {
    /// The code of the material it shows, in the matter's checklist.
    #[schema(min_length = 1, max_length = 40)]
    pub material: String,
    /// The media type the sender claims (`image/jpeg`, `image/png`,
    /// `application/pdf`); when given, the content must be of that type
    /// (`upload_type_mismatch`). The type is read from the content either
    /// way: only JPEG, PNG and PDF are taken (`upload_type_refused`).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub content_type: Option<String>,
    /// The file's bytes, base64 (standard alphabet, padded).
    pub content: String,
}

impl FileInput {
    fn upload(self) -> Result<Upload, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.content.trim())
            .map_err(|_| Error::bad_request("bad_file_content", &[]))?;
        Ok(Upload {
            material: self.material,
            declared: self.content_type,
            bytes,
        })
    }
}

/// A pre-application sent online.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreApplicationRequest {
    /// The matter's code: one this hall receives.
    #[schema(min_length = 1, max_length = 40)]
    pub matter: String,
    /// The applicant.
    pub applicant: ApplicantInput,
    /// Situations (情形) that apply.
    #[serde(default)]
    pub situations: Vec<String>,
    /// The codes of the materials the applicant will bring.
    #[serde(default)]
    pub materials: Vec<String>,
    /// Photos or PDFs of materials (at most `[node] upload_max_files`,
    /// each at most `[node] upload_max_bytes`).
    #[serde(default)]
    pub files: Vec<FileInput>,
}

/// Reads a JSON object of at most `limit` bytes (the upload routes take
/// more than the API's usual body).
async fn json_within<T: serde::de::DeserializeOwned>(body: Body, limit: usize) -> Result<T, Error> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        Error(ServiceError::new(
            ErrorKind::TooLarge,
            "body_too_large",
            &[("max", &limit)],
        ))
    })?;
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::bad_request("bad_json", &[("detail", &e)]))?;
    if !v.is_object() {
        let detail = "the body must be a JSON object";
        return Err(Error::bad_request("bad_json", &[("detail", &detail)]));
    }
    serde_json::from_value(v).map_err(|e| Error::bad_request("bad_json", &[("detail", &e)]))
}

/// The largest body an upload route reads: its files in base64 and the
/// rest of the form.
pub fn upload_body_limit(node: &crate::service::Node, files: u32) -> usize {
    let per_file = usize::try_from(node.config.node.upload_max_bytes).unwrap_or(usize::MAX);
    let files = usize::try_from(files.max(1)).unwrap_or(1);
    per_file.saturating_mul(files).saturating_mul(4) / 3 + 64 * 1024
}

/// Sends a pre-application (no login): the answer carries the reference
/// to give at the window and the checklist's result at once (every
/// material missing, in one notice). Files are checked before anything is
/// kept: a file over the size limit is 413 `upload_too_large`, too many
/// 413 `too_many_files`, one that is not a JPEG, PNG or PDF by its content
/// 422 `upload_type_refused`, one whose content is not the type it claims
/// 422 `upload_type_mismatch`.
#[utoipa::path(post, path = "/api/v1/pre-applications", tag = "cases", request_body = PreApplicationRequest,
    responses((status = 201, body = PreApplicationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The hall is closed", body = ErrorBody),
        (status = 413, description = "A file or the body is too large, or there are too many files", body = ErrorBody),
        (status = 422, description = "A file's type is refused or is not what it claims, or the matter is not received here", body = ErrorBody)))]
pub async fn pre_apply(
    State(node): State<AppState>,
    body: Body,
) -> Result<(StatusCode, axum::Json<PreApplicationView>), Error> {
    let limit = upload_body_limit(&node, node.config.node.upload_max_files);
    let req: PreApplicationRequest = json_within(body, limit).await?;
    let uploads = req
        .files
        .into_iter()
        .map(FileInput::upload)
        .collect::<Result<Vec<_>, _>>()?;
    let form = PreApplicationForm {
        matter: req.matter,
        applicant: req.applicant,
        situations: req.situations,
        materials: req.materials,
    };
    Ok((
        StatusCode::CREATED,
        axum::Json(node.pre_apply(form, uploads).await?),
    ))
}

/// What the clerk looks for.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FindQuery {
    /// A reference (`YS` and 8 characters) or the applicant's ID number
    /// or credit code.
    #[param(min_length = 1, max_length = 40)]
    pub q: String,
}

/// Finds pre-applications (clerk, supervisor): the one of a reference, or
/// the open ones of an ID number, newest first.
#[utoipa::path(get, path = "/api/v1/pre-applications", tag = "cases", security(("bearer" = [])),
    params(FindQuery),
    responses((status = 401, body = ErrorBody), (status = 200, body = Vec<PreApplicationView>), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn find(
    State(node): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<FindQuery>,
) -> Result<axum::Json<Vec<PreApplicationView>>, Error> {
    Ok(axum::Json(
        node.find_pre_applications(staff.record.role, &q.q).await?,
    ))
}

/// One pre-application (clerk, supervisor), with the whole applicant.
#[utoipa::path(get, path = "/api/v1/pre-applications/{reference}", tag = "cases", security(("bearer" = [])),
    params(("reference" = String, Path, description = "The reference: `YS` and 8 of 2-9 and A-Z without I and O", max_length = 20)),
    responses((status = 401, body = ErrorBody), (status = 200, body = PreApplicationView), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(reference): ApiPath<String>,
) -> Result<axum::Json<PreApplicationView>, Error> {
    Ok(axum::Json(
        node.pre_application(staff.record.role, &reference).await?,
    ))
}

/// The clerk's acceptance of a pre-application.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptPreApplication {
    /// The materials as presented at the window, originals checked; when
    /// left out, those pre-applied with the originals and copies the
    /// checklist asks.
    #[serde(default)]
    pub materials: Option<Vec<PresentedMaterial>>,
}

/// Accepts a pre-application in one step (clerk): the case is made as at
/// the window (receipt, correction notice or completion, with its
/// document), its `received` event says it came online, and its files are
/// the case's `attached` events. One already accepted is 409
/// `pre_application_taken`.
#[utoipa::path(post, path = "/api/v1/pre-applications/{reference}/accept", tag = "cases", security(("bearer" = [])),
    params(("reference" = String, Path, description = "The reference", max_length = 20)), request_body = AcceptPreApplication,
    responses((status = 401, body = ErrorBody), (status = 201, body = Outcome), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Accepted already, or the hall is closed", body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`)", body = ErrorBody)))]
pub async fn accept(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(reference): ApiPath<String>,
    ApiJson(a): ApiJson<AcceptPreApplication>,
) -> Result<(StatusCode, axum::Json<Outcome>), Error> {
    let made = node
        .accept_pre_application(
            &staff.record.username,
            staff.record.role,
            &reference,
            a.materials,
        )
        .await?;
    Ok((StatusCode::CREATED, axum::Json(made.outcome)))
}

/// A file sent with a pre-application (this hall's clerks, approvers and
/// supervisors), by its hash among the pre-application's files.
#[utoipa::path(get, path = "/api/v1/pre-applications/{reference}/files/{hash}", tag = "cases", security(("bearer" = [])),
    params(("reference" = String, Path, description = "The reference", max_length = 20),
        ("hash" = String, Path, description = "The file's SHA-256, 64 lowercase hex digits", pattern = "^[0-9a-f]{64}$")),
    responses((status = 401, body = ErrorBody), (status = 200, description = "The file, as its content type", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "application/pdf"))),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn pre_application_file(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath((reference, hash)): ApiPath<(String, String)>,
) -> Result<Response, Error> {
    let f = node
        .pre_application_file(staff.record.role, &reference, &hash)
        .await?;
    Ok(file_response(f))
}

/// A scan attached at the window.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachRequest {
    /// The file.
    pub file: FileInput,
}

/// Attaches a scan (or a file) of one of the case's materials (clerk, at
/// the hall that holds the case): the case's `attached` event carries the
/// file's hash, size, type and material. Refusals are those of a
/// pre-application's files, and the case's (`not_holder`, a closed case).
#[utoipa::path(post, path = "/api/v1/cases/{number}/attachments", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$")),
    request_body = AttachRequest,
    responses((status = 401, body = ErrorBody), (status = 201, body = CaseView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, description = "The file or the body is too large", body = ErrorBody),
        (status = 422, description = "The file's type is refused or is not what it claims", body = ErrorBody),
        (status = 503, description = "The hall is recovering its log (`hall_recovering`)", body = ErrorBody)))]
pub async fn attach(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath(number): ApiPath<String>,
    body: Body,
) -> Result<(StatusCode, axum::Json<CaseView>), Error> {
    let limit = upload_body_limit(&node, 1);
    let req: AttachRequest = json_within(body, limit).await?;
    let upload = req.file.upload()?;
    let view = node
        .attach(&staff.record.username, staff.record.role, &number, upload)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// A case's file (this hall's clerks, approvers and supervisors), by its
/// hash among the case's `attached` events; 404 `attachment_not_here`
/// when it was attached at another hall and is not kept here.
#[utoipa::path(get, path = "/api/v1/cases/{number}/attachments/{hash}", tag = "cases", security(("bearer" = [])),
    params(("number" = String, Path, description = "Case number `HALL-YYYYMMDD-NNNNNN-C` (letters in either case) with a matching check character", pattern = "^[A-Za-z0-9]{2,8}-[0-9]{8}-[0-9]{6}-[A-Za-z0-9]$"),
        ("hash" = String, Path, description = "The file's SHA-256, 64 lowercase hex digits", pattern = "^[0-9a-f]{64}$")),
    responses((status = 401, body = ErrorBody), (status = 200, description = "The file, as its content type", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "application/pdf"))),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn case_file(
    State(node): State<AppState>,
    staff: Staff,
    ApiPath((number, hash)): ApiPath<(String, String)>,
) -> Result<Response, Error> {
    let f = node.case_file(staff.record.role, &number, &hash).await?;
    Ok(file_response(f))
}

/// A file's answer: its type from the record, never guessed by the
/// browser, and never kept by a shared cache.
pub fn file_response(f: FileContent) -> Response {
    (
        [
            (header::CONTENT_TYPE, f.content_type.mime()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "private, no-store"),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        f.bytes,
    )
        .into_response()
}
