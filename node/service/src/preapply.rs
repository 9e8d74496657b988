//! Online pre-application (网上预审): a citizen fills a matter's
//! application from a phone (the applicant, the situations, which
//! materials they will bring, and photos or PDFs of them) and gets a
//! reference and the checklist's result at once: every material missing,
//! in one notice (一次性告知). At the window a clerk opens it by the
//! reference or the applicant's ID number, checks the originals and
//! accepts it in one step: the case is made as at the window
//! ([`Node::submit`]), its `received` event says it came online, its
//! files are `attached` events, and the pre-application is marked
//! accepted in the same transaction, so it makes one case at most.
//!
//! Pre-applications stay at the hall (like bookings): they are not log
//! entries. Their files are kept like scans ([`crate::files`]) and shown
//! only to this hall's staff.

use std::collections::BTreeSet;

use onewindow_domain::attachment::{self, Attachment, ContentType, Source};
use onewindow_domain::case::{Applicant, Role};
use onewindow_domain::checklist::{self, CheckResult, MaterialIssue, PresentedMaterial};
use onewindow_domain::{booking, ids};
use onewindow_store::{PRE_APPLICATION_OPEN, PreApplicationRow};
use serde::{Deserialize, Serialize};

use crate::cases::Intake;
use crate::error::{Error, ErrorKind};
use crate::files::{FileContent, Upload, not_attached};
use crate::{ApplicantInput, Node, Submission, Submitted};

/// What a citizen fills in online.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreApplicationForm {
    /// The matter's code: one this hall receives.
    #[schema(min_length = 1, max_length = 40)]
    pub matter: String,
    /// The applicant (a credit code whose check character fails is not
    /// taken online: `checksum_override_reason` is ignored).
    pub applicant: ApplicantInput,
    /// Situations (情形) that apply.
    #[serde(default)]
    pub situations: Vec<String>,
    /// The codes of the materials the applicant will bring (originals and
    /// copies as the checklist asks).
    #[serde(default)]
    pub materials: Vec<String>,
}

/// A file sent with a pre-application, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileRef {
    /// The material's code.
    pub material: String,
    /// SHA-256 of the content, hex.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
    /// The type its content shows.
    pub content_type: ContentType,
}

/// What is stored as the pre-application's body.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    applicant: Applicant,
    situations: Vec<String>,
    materials: Vec<String>,
    files: Vec<FileRef>,
}

/// A pre-application, with the checklist's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PreApplicationView {
    /// The reference: give it (or the ID number) at the window.
    pub reference: String,
    /// The matter's code.
    pub matter: String,
    /// The matter's Chinese name.
    pub matter_zh: String,
    /// The matter's English name.
    pub matter_en: String,
    /// `open` (waiting for the window) or `accepted`.
    pub status: String,
    /// The applicant's name.
    pub name: String,
    /// The applicant's ID number, masked.
    pub id_masked: String,
    /// The whole applicant: for this hall's staff only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicant: Option<Applicant>,
    /// Situations selected.
    pub situations: Vec<String>,
    /// The materials the applicant will bring.
    pub materials: Vec<String>,
    /// The files sent with it.
    pub files: Vec<FileRef>,
    /// Nothing is missing: bring the materials listed.
    pub complete: bool,
    /// Every material missing, at once.
    pub issues: Vec<MaterialIssue>,
    /// The notice's lines in Chinese.
    pub notice_zh: Vec<String>,
    /// The notice's lines in English.
    pub notice_en: Vec<String>,
    /// Deferrable (容缺) materials not listed: accepted, to follow later.
    pub deferred: Vec<String>,
    /// Sent (ms since the epoch).
    pub created_at_ms: i64,
    /// The case it made, once accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<String>,
}

/// The prefix of a reference (预审), before 8 characters of a booking
/// code's alphabet.
pub const REFERENCE_PREFIX: &str = "YS";

/// A reference as typed (spaces, dashes and case forgiven), if it can be
/// one.
pub fn normalize_reference(typed: &str) -> Option<String> {
    let t: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let rest = t.strip_prefix(REFERENCE_PREFIX)?;
    booking::normalize_code(rest).map(|c| format!("{REFERENCE_PREFIX}{c}"))
}

/// The roles that open pre-applications at this hall.
const STAFF: [Role; 2] = [Role::Clerk, Role::Supervisor];

/// How many times a new reference is drawn when the one drawn is taken.
const DRAWS: usize = 8;

fn not_found() -> Error {
    Error::not_found("pre_application_not_found", &[])
}

impl Node {
    /// Takes a citizen's pre-application with its files (no login): every
    /// check first (the matter, the applicant as at the window, the
    /// situations and materials, the files' count, size and type), then
    /// the files are kept and the pre-application stored. The answer
    /// carries the reference and the checklist's result.
    pub async fn pre_apply(
        &self,
        form: PreApplicationForm,
        uploads: Vec<Upload>,
    ) -> Result<PreApplicationView, Error> {
        if self.is_closed() {
            return Err(Error::new(
                ErrorKind::Conflict,
                "hall_closed",
                &[("hall", &self.id)],
            ));
        }
        let matter = self.matter_for_window(form.matter.trim())?;
        let mut input = form.applicant;
        input.checksum_override_reason = None;
        let applicant = self.check_applicant(&input)?;
        let situations: Vec<String> = form
            .situations
            .iter()
            .map(|s| s.trim().to_owned())
            .collect();
        let materials: Vec<String> = form.materials.iter().map(|s| s.trim().to_owned()).collect();
        check(&matter, &situations, &materials)?;
        let max = self.config.node.upload_max_files;
        if uploads.len() > usize::try_from(max).unwrap_or(usize::MAX) {
            return Err(
                Error::new(ErrorKind::TooLarge, "too_many_files", &[("max", &max)])
                    .on_field("file"),
            );
        }
        let mut checked = Vec::with_capacity(uploads.len());
        for u in &uploads {
            let material = u.material.trim();
            if !matter.materials.iter().any(|m| m.code == material) {
                return Err(
                    Error::bad_request("unknown_material", &[("code", &material)]).on_field("file"),
                );
            }
            checked.push(self.check_upload(u)?);
        }
        for (c, u) in checked.iter().zip(&uploads) {
            self.keep_file(c, &u.bytes).await?;
        }
        let files = checked
            .into_iter()
            .zip(&uploads)
            .map(|(c, u)| FileRef {
                material: u.material.trim().to_owned(),
                hash: c.hash,
                size: c.size,
                content_type: c.content_type,
            })
            .collect();
        let stored = Stored {
            applicant,
            situations,
            materials,
            files,
        };
        let body = serde_json::to_string(&stored).map_err(|e| Error::storage(&e))?;
        let now = self.now_ms();
        for _ in 0..DRAWS {
            let row = PreApplicationRow {
                reference: format!("{REFERENCE_PREFIX}{}", booking::code_from(rand::random())),
                matter_code: matter.code.clone(),
                id_number: stored.applicant.id_number.clone(),
                status: PRE_APPLICATION_OPEN.to_owned(),
                body: body.clone(),
                created_at_ms: now,
                changed_at_ms: now,
                case_id: None,
            };
            if self.store.add_pre_application(&row).await? {
                return self.pre_application_view(&row, false);
            }
        }
        Err(Error::storage(&"no free pre-application reference"))
    }

    /// Pre-applications for the clerk: the one of a reference, or the open
    /// ones of an ID number (a citizen ID or credit code).
    pub async fn find_pre_applications(
        &self,
        role: Role,
        query: &str,
    ) -> Result<Vec<PreApplicationView>, Error> {
        if !STAFF.contains(&role) {
            return Err(Error::forbidden("action.accept"));
        }
        if let Some(reference) = normalize_reference(query) {
            let row = self
                .store
                .pre_application(&reference)
                .await?
                .ok_or_else(not_found)?;
            return Ok(vec![self.pre_application_view(&row, true)?]);
        }
        let id = ids::check_citizen_id(query)
            .map(|c| c.number().to_owned())
            .or_else(|_| ids::check_credit_code(query).map(|c| c.code().to_owned()))
            .map_err(|_| Error::bad_request("bad_pre_application_query", &[]).on_field("q"))?;
        self.store
            .open_pre_applications_of(&id)
            .await?
            .iter()
            .map(|r| self.pre_application_view(r, true))
            .collect()
    }

    /// One pre-application, for the clerk.
    pub async fn pre_application(
        &self,
        role: Role,
        reference: &str,
    ) -> Result<PreApplicationView, Error> {
        if !STAFF.contains(&role) {
            return Err(Error::forbidden("action.accept"));
        }
        let row = self.pre_application_row(reference).await?;
        self.pre_application_view(&row, true)
    }

    async fn pre_application_row(&self, reference: &str) -> Result<PreApplicationRow, Error> {
        let reference = normalize_reference(reference).ok_or_else(not_found)?;
        self.store
            .pre_application(&reference)
            .await?
            .ok_or_else(not_found)
    }

    /// The clerk accepts a pre-application in one step, having checked the
    /// originals: `materials` is what was presented at the window (the
    /// materials pre-applied with the checklist's originals and copies when
    /// `None`). The case records that it came online and carries the
    /// files; the outcome is the window's (receipt, correction notice, or
    /// completion). An accepted one is `pre_application_taken`.
    pub async fn accept_pre_application(
        &self,
        username: &str,
        role: Role,
        reference: &str,
        materials: Option<Vec<PresentedMaterial>>,
    ) -> Result<Submitted, Error> {
        if role != Role::Clerk {
            return Err(Error::forbidden("action.accept"));
        }
        let row = self.pre_application_row(reference).await?;
        if row.status != PRE_APPLICATION_OPEN {
            return Err(taken(&row));
        }
        let stored = stored(&row)?;
        let matter = self.matter_for_window(&row.matter_code)?;
        let materials = materials.unwrap_or_else(|| {
            stored
                .materials
                .iter()
                .filter_map(|code| matter.materials.iter().find(|m| &m.code == code))
                .map(|m| PresentedMaterial {
                    code: m.code.clone(),
                    originals: m.originals,
                    copies: m.copies,
                    electronic: false,
                    problem: None,
                    by_data: None,
                })
                .collect()
        });
        let a = &stored.applicant;
        let sub = Submission {
            matter_code: row.matter_code.clone(),
            applicant: ApplicantInput {
                kind: a.kind,
                id_number: a.id_number.clone(),
                name: a.name.clone(),
                phone: a.phone.clone(),
                checksum_override_reason: None,
            },
            situations: stored.situations.clone(),
            materials,
            non_acceptance_reason: None,
            // A pledge is signed at the window, not online.
            pledge_signed: false,
            deciding_hall: None,
        };
        let attachments = stored
            .files
            .iter()
            .map(|f| Attachment {
                material: f.material.clone(),
                hash: f.hash.clone(),
                size: f.size,
                content_type: f.content_type,
                source: Source::Online,
            })
            .collect();
        let intake = Intake {
            channel: attachment::Intake::Online,
            attachments,
            pre_application: Some(row.reference.clone()),
        };
        self.submit_with(username, role, sub, None, intake).await
    }

    /// A file sent with a pre-application, for this hall's staff: looked
    /// up by hash among the pre-application's files.
    pub async fn pre_application_file(
        &self,
        role: Role,
        reference: &str,
        hash: &str,
    ) -> Result<FileContent, Error> {
        if !STAFF.contains(&role) && role != Role::Approver {
            return Err(Error::forbidden("action.view_files"));
        }
        let row = self.pre_application_row(reference).await?;
        let stored = stored(&row)?;
        let f = stored
            .files
            .iter()
            .find(|f| f.hash == hash)
            .ok_or_else(not_attached)?;
        Ok(FileContent {
            content_type: f.content_type,
            bytes: self.read_file(&f.hash).await?,
        })
    }

    fn pre_application_view(
        &self,
        row: &PreApplicationRow,
        staff: bool,
    ) -> Result<PreApplicationView, Error> {
        let stored = stored(row)?;
        let matter = self.catalogue().matter(&row.matter_code).cloned();
        let (name_zh, name_en) = matter
            .as_ref()
            .map_or((row.matter_code.clone(), row.matter_code.clone()), |m| {
                (m.name_zh.clone(), m.name_en.clone())
            });
        let result = matter
            .as_ref()
            .and_then(|m| check(m, &stored.situations, &stored.materials).ok())
            .unwrap_or(CheckResult {
                issues: Vec::new(),
                deferred: Vec::new(),
            });
        let lines: Vec<_> = result.issues.iter().map(MaterialIssue::describe).collect();
        Ok(PreApplicationView {
            reference: row.reference.clone(),
            matter: row.matter_code.clone(),
            matter_zh: name_zh,
            matter_en: name_en,
            status: row.status.clone(),
            name: stored.applicant.name.clone(),
            id_masked: crate::masked_id(&stored.applicant.id_number),
            applicant: staff.then(|| stored.applicant.clone()),
            situations: stored.situations,
            materials: stored.materials,
            files: stored.files,
            complete: result.issues.is_empty(),
            notice_zh: lines.iter().map(|t| t.zh.clone()).collect(),
            notice_en: lines.iter().map(|t| t.en.clone()).collect(),
            issues: result.issues,
            deferred: result.deferred,
            created_at_ms: row.created_at_ms,
            case_number: row.case_id.clone(),
        })
    }
}

/// The checklist's result for the materials an applicant will bring (the
/// originals and copies the checklist asks for each).
fn check(
    matter: &onewindow_domain::catalogue::Matter,
    situations: &[String],
    materials: &[String],
) -> Result<CheckResult, Error> {
    let selected: BTreeSet<String> = situations.iter().cloned().collect();
    let presented: Vec<PresentedMaterial> = materials
        .iter()
        .map(|code| {
            let m = matter.materials.iter().find(|m| &m.code == code);
            PresentedMaterial {
                code: code.clone(),
                originals: m.map_or(0, |m| m.originals),
                copies: m.map_or(0, |m| m.copies),
                electronic: false,
                problem: None,
                by_data: None,
            }
        })
        .collect();
    Ok(checklist::check(matter, &selected, &presented)?)
}

fn stored(row: &PreApplicationRow) -> Result<Stored, Error> {
    serde_json::from_str(&row.body).map_err(|e| Error::storage(&e))
}

fn taken(row: &PreApplicationRow) -> Error {
    Error::new(
        ErrorKind::Conflict,
        "pre_application_taken",
        &[("reference", &row.reference)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_is_read_as_typed() {
        assert_eq!(
            normalize_reference("ys-abcd 2345").as_deref(),
            Some("YSABCD2345")
        );
        assert_eq!(normalize_reference("ABCD2345"), None);
        assert_eq!(normalize_reference("YSABCD234O"), None);
        assert_eq!(normalize_reference("11010519491231002X"), None);
    }
}
