//! Online pre-application (网上预审) and the files of materials, on pages:
//! the citizen's phone form (`/preapply`: matter, applicant, situations,
//! the materials they will bring with a photo or PDF of each) and its
//! answer (the reference and every missing material at once); the clerk's
//! look-up by reference or ID number, the pre-application with its files
//! and the originals to check, accepted in one step; a scan attached to a
//! case; and a file shown to this hall's staff, by its hash from the
//! case's events or the pre-application's record.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::upload::{AnonUpload, StaffUpload};
use super::web::{Ctx, Flash, StaffCtx, StaffForm};
use crate::domain::case::{ApplicantKind, Role};
use crate::domain::catalogue::{Matter, Necessity};
use crate::domain::checklist::PresentedMaterial;
use crate::error::{HttpStatus, ServiceError as Error};
use crate::service::files::FileContent;
use crate::service::{ApplicantInput, PreApplicationForm, PreApplicationView};

/// Query of the pre-application page: the matter chosen.
#[derive(Debug, Default, Deserialize)]
pub struct PreApplyQuery {
    matter: Option<String>,
}

/// The matter's situations and materials, for a form.
fn checklist_view(ctx: &Ctx, m: &Matter) -> minijinja::Value {
    let situations: Vec<_> = m
        .situations
        .iter()
        .map(|s| context! { code => s.code, name => ctx.pick(&s.name_zh, &s.name_en) })
        .collect();
    let materials: Vec<_> = m
        .materials
        .iter()
        .map(|x| {
            context! {
                code => x.code,
                name => ctx.pick(&x.name_zh, &x.name_en),
                originals => x.originals,
                copies => x.copies,
                necessity => ctx.phrase(match x.necessity {
                    Necessity::Required => "preapply.required",
                    Necessity::Optional => "preapply.optional",
                    Necessity::Deferrable => "preapply.deferrable",
                }),
                situations => x.situations,
            }
        })
        .collect();
    context! {
        code => m.code,
        name => ctx.pick(&m.name_zh, &m.name_en),
        situations => situations,
        materials => materials,
    }
}

/// What the pre-application page shows: the matters this hall receives,
/// and the chosen one's checklist.
fn form_data(ctx: &Ctx, matter: &str) -> minijinja::Value {
    let node = &ctx.node;
    let cat = node.catalogue();
    let matters: Vec<_> = cat
        .matters
        .values()
        .filter(|m| node.may_receive(m))
        .map(|m| context! { code => m.code, name => ctx.pick(&m.name_zh, &m.name_en) })
        .collect();
    let chosen = cat
        .matter(matter)
        .filter(|m| node.may_receive(m))
        .map(|m| checklist_view(ctx, m));
    context! {
        matters => matters,
        matter => matter,
        chosen => chosen,
        file_hint => ctx.phrase_with(
            "preapply.file_hint",
            &[
                ("mib", &format!("{:.1}", node.config.node.upload_max_bytes as f64 / 1_048_576.0)),
                ("files", &node.config.node.upload_max_files),
            ],
        ),
    }
}

/// `GET /preapply`: choose the matter, then fill the application.
pub async fn page(ctx: Ctx, Query(q): Query<PreApplyQuery>) -> Response {
    let matter = q.matter.unwrap_or_default().trim().to_owned();
    let data = form_data(&ctx, &matter);
    ctx.render_anon_form(StatusCode::OK, "citizen/preapply.html", data)
}

/// `POST /preapply`: sends the pre-application with its files and shows
/// the reference and the checklist's result.
pub async fn send(form: AnonUpload) -> Response {
    let ctx = form.ctx;
    let f = &form.fields;
    let matter = f.text("matter");
    let pre = PreApplicationForm {
        matter: matter.clone(),
        applicant: ApplicantInput {
            kind: if f.text("kind") == "organisation" {
                ApplicantKind::Organisation
            } else {
                ApplicantKind::Person
            },
            id_number: f.text("id_number"),
            name: f.text("name"),
            phone: Some(f.text("phone")).filter(|p| !p.is_empty()),
            checksum_override_reason: None,
        },
        situations: f.all("situation"),
        materials: f.all("material"),
    };
    let uploads = form
        .files
        .iter()
        .map(|p| p.upload(p.field.strip_prefix("file.").unwrap_or(&p.field)))
        .collect();
    match ctx.node.pre_apply(pre.clone(), uploads).await {
        Ok(done) => ctx.render_anon_form(
            StatusCode::CREATED,
            "citizen/preapply.html",
            context! { done => done_view(&ctx, &done) },
        ),
        Err(e) if e.detail.is_none() => {
            let data = form_data(&ctx, &matter);
            // Shown once, above the form (`form_error`); the page's own
            // `error` would repeat it at the top.
            let data = context! {
                form_error => ctx.pick(&e.message_zh, &e.message_en),
                error_field => e.field,
                name => pre.applicant.name,
                id_number => pre.applicant.id_number,
                phone => pre.applicant.phone,
                kind => f.text("kind"),
                picked_situations => pre.situations,
                picked_materials => pre.materials,
                had_files => !form.files.is_empty(),
                ..data
            };
            ctx.render_anon_form(e.status(), "citizen/preapply.html", data)
        }
        Err(e) => ctx.error(&e),
    }
}

/// A pre-application for a page: the view, with the materials' names and
/// the notice's lines in the reader's language.
fn done_view(ctx: &Ctx, p: &PreApplicationView) -> minijinja::Value {
    let matter = ctx.node.catalogue().matter(&p.matter).cloned();
    let name_of = |code: &str| {
        matter
            .as_ref()
            .and_then(|m| m.materials.iter().find(|x| x.code == code))
            .map_or_else(|| code.to_owned(), |x| ctx.pick(&x.name_zh, &x.name_en))
    };
    let notice = if ctx.lang.pick("zh", "en") == "zh" {
        p.notice_zh.clone()
    } else {
        p.notice_en.clone()
    };
    let bring: Vec<String> = p.materials.iter().map(|c| name_of(c)).collect();
    let deferred: Vec<String> = p.deferred.iter().map(|c| name_of(c)).collect();
    let files: Vec<_> = p
        .files
        .iter()
        .map(|f| {
            context! {
                material => name_of(&f.material),
                hash => f.hash,
                short => f.hash[..12].to_owned(),
                size => f.size,
                kind => f.content_type.as_str(),
            }
        })
        .collect();
    context! {
        p => p,
        matter_name => ctx.pick(&p.matter_zh, &p.matter_en),
        notice => notice,
        bring => bring,
        deferred => deferred,
        files => files,
    }
}

/// Query of the clerk's look-up.
#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    q: Option<String>,
}

const WHAT: &str = "action.accept";

/// `GET /clerk/pre-applications`: look up by reference or ID number.
pub async fn find(StaffCtx(ctx): StaffCtx, Query(q): Query<FindQuery>) -> Response {
    if let Err(r) = ctx.require(&[Role::Clerk, Role::Supervisor], WHAT) {
        return r;
    }
    let query = q.q.unwrap_or_default().trim().to_owned();
    if query.is_empty() {
        return ctx.render(
            StatusCode::OK,
            "clerk/preapps.html",
            context! { q => "", searched => false },
        );
    }
    let role = ctx.staff.as_ref().map_or(Role::Citizen, |s| s.role);
    match ctx.node.find_pre_applications(role, &query).await {
        Ok(found) if found.len() == 1 && crate::service::normalize_reference(&query).is_some() => {
            ctx.redirect(&format!("/clerk/pre-applications/{}", found[0].reference), None)
        }
        Ok(found) => {
            let found: Vec<_> = found
                .iter()
                .map(|p| {
                    context! {
                        reference => p.reference,
                        matter => ctx.pick(&p.matter_zh, &p.matter_en),
                        name => p.name,
                        at => p.created_at_ms,
                        complete => p.complete,
                    }
                })
                .collect();
            ctx.render(
                StatusCode::OK,
                "clerk/preapps.html",
                context! { q => query, searched => true, found => found },
            )
        }
        Err(e) if e.detail.is_none() => ctx.render(
            e.status(),
            "clerk/preapps.html",
            context! { q => query, searched => true, search_error => ctx.pick(&e.message_zh, &e.message_en) },
        ),
        Err(e) => ctx.error(&e),
    }
}

/// `GET /clerk/pre-applications/{reference}`: the pre-application, its
/// files, and the originals to check before accepting it.
pub async fn show(StaffCtx(ctx): StaffCtx, Path(reference): Path<String>) -> Response {
    if let Err(r) = ctx.require(&[Role::Clerk, Role::Supervisor], WHAT) {
        return r;
    }
    let role = ctx.staff.as_ref().map_or(Role::Citizen, |s| s.role);
    let p = match ctx.node.pre_application(role, &reference).await {
        Ok(p) => p,
        Err(e) => return ctx.error(&e),
    };
    let matter = ctx.node.catalogue().matter(&p.matter).cloned();
    let rows: Vec<_> = matter
        .as_ref()
        .map(|m| {
            let selected: std::collections::BTreeSet<String> =
                p.situations.iter().cloned().collect();
            m.materials
                .iter()
                .filter(|x| x.applies(&selected))
                .map(|x| {
                    context! {
                        code => x.code,
                        name => ctx.pick(&x.name_zh, &x.name_en),
                        originals => x.originals,
                        copies => x.copies,
                        promised => p.materials.contains(&x.code),
                        files => p.files.iter().filter(|f| f.material == x.code).map(|f| context! {
                            hash => f.hash, short => f.hash[..12].to_owned(), size => f.size, kind => f.content_type.as_str(),
                        }).collect::<Vec<_>>(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let situations: Vec<String> = matter
        .as_ref()
        .map(|m| {
            m.situations
                .iter()
                .filter(|s| p.situations.contains(&s.code))
                .map(|s| ctx.pick(&s.name_zh, &s.name_en))
                .collect()
        })
        .unwrap_or_default();
    let status = ctx.phrase(if p.status == "open" {
        "preapps.status.open"
    } else {
        "preapps.status.accepted"
    });
    let data = context! {
        status => status,
        d => done_view(&ctx, &p),
        rows => rows,
        situations => situations,
        can_accept => p.status == "open" && role == Role::Clerk,
    };
    ctx.render(StatusCode::OK, "clerk/preapp.html", data)
}

/// `POST /clerk/pre-applications/{reference}/accept`: accepts in one
/// step with the originals the clerk checked; on to the case.
pub async fn accept(Path(reference): Path<String>, form: StaffForm) -> Response {
    let ctx = form.ctx;
    let Some(staff) = ctx.staff.clone() else {
        return ctx.error(&Error::unauthenticated());
    };
    let back = format!("/clerk/pre-applications/{reference}");
    let p = match ctx.node.pre_application(staff.role, &reference).await {
        Ok(p) => p,
        Err(e) => return ctx.error(&e),
    };
    let checked = form.fields.all("present");
    let materials: Vec<PresentedMaterial> = ctx
        .node
        .catalogue()
        .matter(&p.matter)
        .map(|m| {
            m.materials
                .iter()
                .filter(|x| checked.contains(&x.code))
                .map(|x| PresentedMaterial {
                    code: x.code.clone(),
                    originals: x.originals,
                    copies: x.copies,
                    electronic: false,
                    problem: None,
                    by_data: None,
                })
                .collect()
        })
        .unwrap_or_default();
    match ctx
        .node
        .accept_pre_application(&staff.username, staff.role, &reference, Some(materials))
        .await
    {
        Ok(made) => {
            let number = made.outcome.case_number.clone();
            ctx.redirect(
                &format!("/clerk/cases/{number}"),
                Some(Flash::ok(
                    "flash.pre_application_accepted",
                    &[("reference", &p.reference), ("number", &number)],
                )),
            )
        }
        Err(e) if e.detail.is_none() => ctx.redirect(&back, Some(Flash::error(&e))),
        Err(e) => ctx.error(&e),
    }
}

/// `GET /clerk/pre-applications/{reference}/files/{hash}`.
pub async fn pre_application_file(
    StaffCtx(ctx): StaffCtx,
    Path((reference, hash)): Path<(String, String)>,
) -> Response {
    let role = ctx.staff.as_ref().map_or(Role::Citizen, |s| s.role);
    match ctx.node.pre_application_file(role, &reference, &hash).await {
        Ok(f) => file_response(f),
        Err(e) => ctx.error(&e),
    }
}

/// `GET /cases/{number}/files/{hash}`: a case's file, for this hall's
/// staff.
pub async fn case_file(
    StaffCtx(ctx): StaffCtx,
    Path((number, hash)): Path<(String, String)>,
) -> Response {
    let role = ctx.staff.as_ref().map_or(Role::Citizen, |s| s.role);
    match ctx.node.case_file(role, &number, &hash).await {
        Ok(f) => file_response(f),
        Err(e) => ctx.error(&e),
    }
}

/// `POST /clerk/cases/{number}/attach`: the clerk attaches a scan of a
/// material; back to the case.
pub async fn attach(Path(number): Path<String>, form: StaffUpload) -> Response {
    let ctx = form.ctx;
    let Some(staff) = ctx.staff.clone() else {
        return ctx.error(&Error::unauthenticated());
    };
    let back = format!("/clerk/cases/{number}");
    let material = form.fields.text("material");
    let Some(file) = form.files.iter().find(|f| f.field == "file") else {
        return ctx.redirect(&back, Some(Flash::error(&Error::empty_field("file"))));
    };
    match ctx
        .node
        .attach(&staff.username, staff.role, &number, file.upload(&material))
        .await
    {
        Ok(_) => ctx.redirect(&back, Some(Flash::ok("flash.attached", &[]))),
        Err(e) if e.detail.is_none() => ctx.redirect(&back, Some(Flash::error(&e))),
        Err(e) => ctx.error(&e),
    }
}

/// A file's answer: its type from the record, never guessed by the
/// browser, never kept by a cache.
fn file_response(f: FileContent) -> Response {
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

/// The files of a case for its page: each with its material's name.
pub(super) fn case_files(ctx: &Ctx, case: &crate::domain::case::Case) -> Vec<minijinja::Value> {
    let matter = ctx
        .node
        .catalogue()
        .matter(&case.received.matter_code)
        .cloned();
    case.attachments
        .iter()
        .map(|a| {
            let name = matter
                .as_ref()
                .and_then(|m| m.materials.iter().find(|x| x.code == a.material))
                .map_or_else(|| a.material.clone(), |x| ctx.pick(&x.name_zh, &x.name_en));
            context! {
                material => name,
                hash => a.hash,
                short => a.hash[..12.min(a.hash.len())].to_owned(),
                size => a.size,
                kind => a.content_type.as_str(),
                source => a.source.as_str(),
            }
        })
        .collect()
}

/// The materials a clerk may attach a scan of, for the case page's form.
pub(super) fn attachable(ctx: &Ctx, case: &crate::domain::case::Case) -> Vec<minijinja::Value> {
    ctx.node
        .catalogue()
        .matter(&case.received.matter_code)
        .map(|m| {
            m.materials
                .iter()
                .map(|x| context! { code => x.code, name => ctx.pick(&x.name_zh, &x.name_en) })
                .collect()
        })
        .unwrap_or_default()
}
