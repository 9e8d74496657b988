//! Forms that carry files (`multipart/form-data`): the citizen's
//! pre-application and the clerk's scan. The fields are read as a plain
//! form's; each file is read up to one byte past `[node]
//! upload_max_bytes` (the service refuses it then, with the limit in its
//! message), and the whole body is bounded, so a page never holds more
//! than the limits allow. CSRF is checked as for the other forms: the
//! session's token for staff, the double-submit cookie before login.

use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::response::Response;

use super::web::{CSRF_FIELD, Ctx, Fields, csrf_token, login_redirect, safe_next, same};
use crate::AppState;
use crate::error::ServiceError as Error;
use crate::service::files::Upload;

/// A file field of a form.
#[derive(Debug, Clone)]
pub struct FilePart {
    /// The field's name.
    pub field: String,
    /// The media type the browser declared.
    pub content_type: Option<String>,
    /// The bytes (at most one past the limit).
    pub bytes: Vec<u8>,
}

impl FilePart {
    /// The upload for the service, as showing `material`.
    pub fn upload(&self, material: &str) -> Upload {
        Upload {
            material: material.to_owned(),
            declared: self.content_type.clone(),
            bytes: self.bytes.clone(),
        }
    }
}

/// A form with files, posted before login (the pre-application).
#[derive(Debug)]
pub struct AnonUpload {
    /// The request.
    pub ctx: Ctx,
    /// The text fields.
    pub fields: Fields,
    /// The files chosen (an empty file input is left out).
    pub files: Vec<FilePart>,
}

/// A form with files, posted by logged-in staff (a scan).
#[derive(Debug)]
pub struct StaffUpload {
    /// The request.
    pub ctx: Ctx,
    /// The text fields.
    pub fields: Fields,
    /// The files chosen.
    pub files: Vec<FilePart>,
}

/// The most bytes a text field of an upload form holds.
const TEXT_MAX: usize = 16 * 1024;

async fn read(
    req: Request,
    node: &AppState,
    ctx: &Ctx,
) -> Result<(Fields, Vec<FilePart>), Response> {
    let bad = |detail: &dyn std::fmt::Display| {
        ctx.error(&Error::bad_request("bad_form", &[("detail", detail)]))
    };
    let mut mp = Multipart::from_request(req, node)
        .await
        .map_err(|e| bad(&e.body_text()))?;
    let per_file = usize::try_from(node.config.node.upload_max_bytes).unwrap_or(usize::MAX);
    let files_max = usize::try_from(node.config.node.upload_max_files.max(1)).unwrap_or(1);
    let total_max = per_file.saturating_add(1).saturating_mul(files_max) + 256 * 1024;
    let (mut fields, mut files, mut total) = (Vec::new(), Vec::new(), 0usize);
    while let Some(mut field) = mp.next_field().await.map_err(|e| bad(&e.body_text()))? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let content_type = field.content_type().map(str::to_owned);
        let keep = if is_file { per_file + 1 } else { TEXT_MAX };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| bad(&e.body_text()))? {
            total += chunk.len();
            if total > total_max {
                return Err(ctx.error(&Error::new(
                    crate::error::ErrorKind::TooLarge,
                    "body_too_large",
                    &[("max", &total_max)],
                )));
            }
            let room = keep.saturating_sub(bytes.len());
            bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        if is_file {
            if !bytes.is_empty() {
                files.push(FilePart {
                    field: name,
                    content_type,
                    bytes,
                });
            }
        } else {
            let text = String::from_utf8(bytes).map_err(|_| bad(&"a field is not UTF-8"))?;
            fields.push((name, text));
        }
    }
    Ok((Fields(fields), files))
}

impl FromRequest<AppState> for AnonUpload {
    type Rejection = Response;

    async fn from_request(req: Request, node: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Ok(ctx) = Ctx::from_request_parts(&mut parts, node).await;
        let (fields, files) = read(Request::from_parts(parts, body), node, &ctx).await?;
        let ok = match (&ctx.form_token, fields.get(CSRF_FIELD)) {
            (Some(c), Some(f)) => same(c, f),
            _ => false,
        };
        if !ok {
            return Err(ctx.csrf_refused());
        }
        Ok(AnonUpload { ctx, fields, files })
    }
}

impl FromRequest<AppState> for StaffUpload {
    type Rejection = Response;

    async fn from_request(req: Request, node: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Ok(ctx) = Ctx::from_request_parts(&mut parts, node).await;
        let Some(token) = ctx.token.clone() else {
            let mut ctx = ctx;
            ctx.path = safe_next("/clerk");
            return Err(login_redirect(&ctx));
        };
        let (fields, files) = read(Request::from_parts(parts, body), node, &ctx).await?;
        if !same(fields.get(CSRF_FIELD).unwrap_or(""), &csrf_token(&token)) {
            return Err(ctx.csrf_refused());
        }
        Ok(StaffUpload { ctx, fields, files })
    }
}
