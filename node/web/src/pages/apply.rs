//! The clerk's checklist form: a matter's materials under the selected
//! situations, what the applicant presented (originals, copies, electronic,
//! a problem found, or presented by data: an earlier result of the
//! applicant's that the checklist accepts in its place, looked up from the
//! ID number with the form's lookup button), and the submission that
//! issues one document. The same form, prefilled, takes the materials
//! again after a correction notice.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use std::collections::BTreeMap;

use super::web::{Ctx, Fields, Flash, StaffCtx, StaffForm};
use crate::domain::case::{ApplicantKind, Role};
use crate::domain::catalogue::{Matter, Serves};
use crate::domain::checklist::PresentedMaterial;
use crate::error::{ErrorKind, HttpStatus, ServiceError as Error};
use crate::service::{ApplicantInput, DataLookup, DataResult, Submission, SubmissionKey};
use onewindow_i18n::Arg;

const WHAT: &str = "action.accept";

fn unknown_matter(code: &str) -> Error {
    Error::not_found("unknown_matter", &[("code", &code)])
}

/// What the presented-materials rows of the form say.
pub fn presented(matter: &Matter, f: &Fields) -> Vec<PresentedMaterial> {
    let mut out = Vec::new();
    for m in &matter.materials {
        let c = &m.code;
        let have = f.checked(&format!("have_{c}"));
        let orig = f.number(&format!("orig_{c}"));
        let copies = f.number(&format!("copy_{c}"));
        let electronic = f.checked(&format!("elec_{c}"));
        let problem = f.text(&format!("prob_{c}"));
        let by_data = f.text(&format!("data_{c}"));
        let any = have
            || orig.is_some_and(|n| n > 0)
            || copies.is_some_and(|n| n > 0)
            || electronic
            || !problem.is_empty()
            || !by_data.is_empty();
        if !any {
            continue;
        }
        let (originals, copies) = match (orig, copies) {
            (None, None) if have && by_data.is_empty() => (m.originals, m.copies),
            (o, c) => (o.unwrap_or(0), c.unwrap_or(0)),
        };
        out.push(PresentedMaterial {
            code: c.clone(),
            originals,
            copies,
            electronic,
            problem: (!problem.is_empty()).then_some(problem),
            by_data: (!by_data.is_empty()).then_some(by_data),
        });
    }
    out
}

/// The form's fields for materials already presented (a resubmission).
fn prefill(materials: &[PresentedMaterial]) -> BTreeMap<String, String> {
    let mut vals = BTreeMap::new();
    for p in materials {
        let c = &p.code;
        vals.insert(format!("have_{c}"), "1".to_owned());
        vals.insert(format!("orig_{c}"), p.originals.to_string());
        vals.insert(format!("copy_{c}"), p.copies.to_string());
        if p.electronic {
            vals.insert(format!("elec_{c}"), "1".to_owned());
        }
        if let Some(pr) = &p.problem {
            vals.insert(format!("prob_{c}"), pr.clone());
        }
        if let Some(r) = &p.by_data {
            vals.insert(format!("data_{c}"), r.clone());
        }
    }
    vals
}

fn fields_map(f: &Fields) -> BTreeMap<String, String> {
    let mut vals = BTreeMap::new();
    for (k, v) in &f.0 {
        if k != "csrf" && k != "sit" {
            vals.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    vals
}

struct FormPage<'a> {
    matter: &'a Matter,
    action: String,
    mode: &'static str,
    vals: BTreeMap<String, String>,
    sits: Vec<String>,
    case: Value,
    error: Option<String>,
    /// The field the error is about: the page shows it there.
    error_field: Option<&'static str>,
    /// The applicant's earlier results that replace materials, once looked
    /// up.
    results: Option<Vec<DataResult>>,
    /// A matter of a tree this one peers with: that tree's root and the
    /// halls it offers, one of which must decide.
    peer: Option<(String, Vec<(String, String)>)>,
}

fn render_form(ctx: &Ctx, status: StatusCode, p: FormPage<'_>) -> Response {
    let node = &ctx.node;
    let cat = node.catalogue();
    let dept = cat.departments.get(&p.matter.department);
    let kind = p
        .vals
        .get("kind")
        .cloned()
        .unwrap_or_else(|| match p.matter.serves {
            Serves::Organisation => "organisation".to_owned(),
            _ => "person".to_owned(),
        });
    // Each material that a result may replace, with the results (looked
    // up, or a reference the form carries) it can be presented by.
    let by_data: BTreeMap<&str, Vec<(String, String)>> = p
        .matter
        .materials
        .iter()
        .filter(|m| !m.by_data.is_empty())
        .map(|m| {
            let mut options: Vec<(String, String)> = p
                .results
                .iter()
                .flatten()
                .filter(|r| r.replaces.contains(&m.code))
                .map(|r| {
                    // The results table beside it gives the matter and
                    // the hall.
                    let label = format!("{} · {}", r.case_number, r.decided_on);
                    (r.case_number.clone(), label)
                })
                .collect();
            if let Some(v) = p
                .vals
                .get(&format!("data_{}", m.code))
                .filter(|v| !v.is_empty())
                && !options.iter().any(|(n, _)| n == v)
            {
                options.push((v.clone(), v.clone()));
            }
            (m.code.as_str(), options)
        })
        .collect();
    let data = context! {
        matter => p.matter,
        by_data => by_data,
        results => p.results,
        action => p.action,
        mode => p.mode,
        vals => p.vals,
        sits => p.sits,
        kind => kind,
        case => p.case,
        // An error about one field is shown next to it, not above the form.
        error => p.error.clone().filter(|_| p.error_field.is_none()),
        field_error => p.error.filter(|_| p.error_field.is_some()),
        error_field => p.error_field,
        decided_here => p.peer.is_none() && node.may_decide(p.matter),
        // A cross-district matter may be sent to a hall of another
        // branch of the tree (异地通办): the halls known here.
        deciding_halls => match &p.peer {
            Some((_, halls)) => halls.clone(),
            None if p.matter.cross_district => deciding_halls(node, ctx.lang == onewindow_i18n::Lang::En),
            None => Vec::new(),
        },
        peer_label => p.peer.as_ref().map(|(tree, _)| ctx.phrase_with("apply.peer_hall", &[("tree", tree)])),
        // A form shown again after a refusal keeps its key: the refused
        // attempt stored nothing, and a double click still makes one case.
        submission_key => p.vals.get("submission_key").cloned().unwrap_or_else(super::web::new_submission_key),
        dept_zh => dept.map(|d| d.name_zh.clone()),
        dept_en => dept.map(|d| d.name_en.clone()),
    };
    ctx.render(status, "clerk/apply.html", data)
}

/// The halls outside this hall's branch that the clerk may name to decide
/// a cross-district case: `[node] tree_halls` and the halls named in the
/// fleet's status reports, as (node id, name), by id.
fn deciding_halls(node: &onewindow_service::Node, en: bool) -> Vec<(String, String)> {
    use onewindow_domain::policy::is_within;
    let me = node.id.as_str();
    let mut ids: Vec<String> = node
        .config
        .node
        .tree_hall_entries()
        .into_iter()
        .map(|(id, ..)| id.to_owned())
        .collect();
    ids.extend(node.hall_names().keys().cloned());
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .filter(|h| !is_within(me, h) && !is_within(h, me))
        .map(|h| {
            let name = node.hall_name(&h, en);
            (h, name)
        })
        .collect()
}

/// `GET /clerk/apply/{code}`: the empty checklist form for a matter.
pub async fn form(StaffCtx(ctx): StaffCtx, Path(code): Path<String>) -> Response {
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    let cat = ctx.node.catalogue();
    let Some(matter) = cat.matter(&code).filter(|m| ctx.node.may_receive(m)) else {
        return ctx.error(&unknown_matter(&code));
    };
    render_form(
        &ctx,
        StatusCode::OK,
        FormPage {
            matter,
            action: format!("/clerk/apply/{}", matter.code),
            mode: "apply",
            vals: BTreeMap::new(),
            sits: Vec::new(),
            case: Value::UNDEFINED,
            error: None,
            error_field: None,
            results: None,
            peer: None,
        },
    )
}

/// The matter `code` that the peer tree `tree` offers, as this hall's root
/// published it (enabled), and the halls it offers as (id, name).
async fn peer_offer(
    ctx: &Ctx,
    tree: &str,
    code: &str,
) -> Result<(Matter, (String, Vec<(String, String)>)), Error> {
    let known = ctx.node.known_peers().await?;
    let en = ctx.lang == onewindow_i18n::Lang::En;
    known
        .into_iter()
        .filter(|(id, p)| id == tree && p.enabled)
        .find_map(|(id, p)| {
            let m = p.offer.matters.iter().find(|m| m.code == code)?.clone();
            let halls = p
                .offer
                .halls
                .iter()
                .map(|h| {
                    let mut parts = h.split('|').map(str::trim);
                    let hall = parts.next().unwrap_or_default().to_owned();
                    let (zh, e) = (
                        parts.next().unwrap_or_default(),
                        parts.next().unwrap_or_default(),
                    );
                    let name = match (en, zh, e) {
                        (true, _, e) if !e.is_empty() => e.to_owned(),
                        (_, zh, _) if !zh.is_empty() => zh.to_owned(),
                        _ => hall.clone(),
                    };
                    (hall, name)
                })
                .collect();
            Some((m, (id, halls)))
        })
        .ok_or_else(|| unknown_matter(code))
}

/// `GET /clerk/peers/{tree}/apply/{code}`: the checklist form for a matter
/// a tree this one peers with opens for cross-district handling.
pub async fn peer_form(
    StaffCtx(ctx): StaffCtx,
    Path((tree, code)): Path<(String, String)>,
) -> Response {
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    let (matter, peer) = match peer_offer(&ctx, &tree, &code).await {
        Ok(p) => p,
        Err(e) => return ctx.error(&e),
    };
    render_form(
        &ctx,
        StatusCode::OK,
        FormPage {
            matter: &matter,
            action: format!("/clerk/peers/{tree}/apply/{}", matter.code),
            mode: "apply",
            vals: BTreeMap::new(),
            sits: Vec::new(),
            case: Value::UNDEFINED,
            error: None,
            error_field: None,
            results: None,
            peer: Some(peer),
        },
    )
}

/// `POST /clerk/peers/{tree}/apply/{code}`: submits a case of a peer
/// tree's matter, as [`submit`] does.
pub async fn peer_submit(Path((tree, code)): Path<(String, String)>, form: StaffForm) -> Response {
    let (matter, peer) = match peer_offer(&form.ctx, &tree, &code).await {
        Ok(p) => p,
        Err(e) => return form.ctx.error(&e),
    };
    let action = format!("/clerk/peers/{tree}/apply/{}", matter.code);
    submit_matter(form, &matter, action, Some(peer)).await
}

/// `POST /clerk/apply/{code}`: submits; on success shows the case and its
/// document, otherwise the form again with the message and every field kept.
pub async fn submit(Path(code): Path<String>, form: StaffForm) -> Response {
    let cat = form.ctx.node.catalogue();
    let Some(matter) = cat.matter(&code) else {
        return form.ctx.error(&unknown_matter(&code));
    };
    let action = format!("/clerk/apply/{}", matter.code);
    submit_matter(form, matter, action, None).await
}

async fn submit_matter(
    form: StaffForm,
    matter: &Matter,
    action: String,
    peer: Option<(String, Vec<(String, String)>)>,
) -> Response {
    let StaffForm { ctx, fields } = form;
    let staff = match ctx.require(&[Role::Clerk], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    if peer.is_none() && fields.get("decision") == Some("lookup") {
        return lookup(&ctx, &staff, matter, &fields).await;
    }
    let reject = fields.get("decision") == Some("reject");
    // A non-acceptance decision cannot be undone: the clerk sees the form
    // again with the reason to check and a button that confirms it.
    if reject && fields.get("confirm") != Some("1") {
        let mut vals = fields_map(&fields);
        let error = if fields.text("reject_reason").is_empty() {
            let e = Error::empty_field("non_acceptance_reason");
            Some(ctx.lang.pick(&e.message_zh, &e.message_en).to_owned())
        } else {
            vals.insert("confirm_reject".into(), "1".into());
            None
        };
        let status = if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        return render_form(
            &ctx,
            status,
            FormPage {
                matter,
                action: action.clone(),
                mode: "apply",
                vals,
                sits: fields.all("sit"),
                case: Value::UNDEFINED,
                error_field: error.as_ref().map(|_| "reject_reason"),
                error,
                results: None,
                peer: peer.clone(),
            },
        );
    }
    let kind = if fields.get("kind") == Some("organisation") {
        ApplicantKind::Organisation
    } else {
        ApplicantKind::Person
    };
    let override_reason = fields.text("override_reason");
    let phone = fields.text("phone");
    let deciding_hall = fields.text("deciding_hall");
    let sub = Submission {
        matter_code: matter.code.clone(),
        applicant: ApplicantInput {
            kind,
            id_number: fields.text("id_number"),
            name: fields.text("name"),
            phone: (!phone.is_empty()).then_some(phone),
            checksum_override_reason: (!override_reason.is_empty()).then_some(override_reason),
        },
        situations: fields.all("sit"),
        materials: presented(matter, &fields),
        non_acceptance_reason: reject.then(|| fields.text("reject_reason")),
        pledge_signed: !reject && fields.get("pledge_signed") == Some("1"),
        deciding_hall: (!deciding_hall.is_empty()).then_some(deciding_hall),
    };
    let result = if sub.applicant.name.is_empty() {
        Err(Error::keyed(
            ErrorKind::Invalid,
            "empty_field",
            "err.empty_field.applicant_name",
            &[],
        )
        .on_field("name"))
    } else {
        match fields.get("submission_key").filter(|k| !k.is_empty()) {
            Some(k) => match SubmissionKey::new(k) {
                Ok(key) => {
                    ctx.node
                        .submit(&staff.username, staff.role, sub, Some(&key))
                        .await
                }
                Err(e) => Err(e),
            },
            None => {
                ctx.node
                    .submit(&staff.username, staff.role, sub, None)
                    .await
            }
        }
        .map(|made| made.outcome)
    };
    match result {
        Ok(out) => {
            let title = crate::service::kind_title(out.outcome);
            ctx.redirect(
                &format!("/clerk/cases/{}", out.case_number),
                Some(Flash::ok_text(onewindow_i18n::text_args(
                    "flash.document_issued_case",
                    &[
                        ("document", Arg::Each(&title.zh, &title.en)),
                        ("number", Arg::Plain(&out.case_number)),
                    ],
                ))),
            )
        }
        Err(e) => render_form(
            &ctx,
            e.status(),
            FormPage {
                matter,
                action: action.clone(),
                mode: "apply",
                vals: fields_map(&fields),
                sits: fields.all("sit"),
                case: Value::UNDEFINED,
                error: Some(ctx.lang.pick(&e.message_zh, &e.message_en).to_owned()),
                error_field: e.field,
                results: None,
                peer,
            },
        ),
    }
}

/// The form's lookup button: the applicant's earlier results that the
/// checklist accepts in place of materials, listed on the form again with
/// every field kept (the lookup is an audit record).
async fn lookup(
    ctx: &Ctx,
    staff: &crate::store::StaffRecord,
    matter: &Matter,
    fields: &Fields,
) -> Response {
    let kind = if fields.get("kind") == Some("organisation") {
        ApplicantKind::Organisation
    } else {
        ApplicantKind::Person
    };
    let q = DataLookup {
        matter: matter.code.clone(),
        kind: Some(kind),
        id_number: fields.text("id_number"),
    };
    let (status, results, error, error_field) =
        match ctx.node.data_results(&staff.username, staff.role, &q).await {
            Ok(r) => (StatusCode::OK, Some(r), None, None),
            Err(e) => (
                e.status(),
                None,
                Some(ctx.lang.pick(&e.message_zh, &e.message_en).to_owned()),
                e.field.or(Some("id_number")),
            ),
        };
    render_form(
        ctx,
        status,
        FormPage {
            matter,
            action: format!("/clerk/apply/{}", matter.code),
            mode: "apply",
            vals: fields_map(fields),
            sits: fields.all("sit"),
            case: Value::UNDEFINED,
            error,
            error_field,
            results,
            peer: None,
        },
    )
}

async fn correction_case(
    ctx: &Ctx,
    number: &str,
) -> Result<(crate::store::CaseRow, Matter), Response> {
    let view = ctx
        .node
        .case_for_staff(number)
        .await
        .map_err(|e| ctx.error(&e))?;
    let row = ctx
        .node
        .store
        .case(&view.number)
        .await
        .map_err(|e| ctx.error(&e.into()))?
        .ok_or_else(|| ctx.error(&unknown_matter(number)))?;
    let matter = ctx
        .node
        .catalogue()
        .matter(&row.matter_code)
        .cloned()
        .ok_or_else(|| ctx.error(&unknown_matter(&row.matter_code)))?;
    Ok((row, matter))
}

fn case_summary(row: &crate::store::CaseRow) -> Value {
    let c = &row.case;
    context! {
        number => row.id,
        applicant => c.received.applicant.name,
        last4 => row.applicant_last4,
        issues => c.correction.iter().map(|i| minijinja::Value::from_serialize(i.describe())).collect::<Vec<_>>(),
    }
}

/// `GET /clerk/cases/{number}/resubmit`: the checklist again, prefilled.
pub async fn resubmit_form(StaffCtx(ctx): StaffCtx, Path(number): Path<String>) -> Response {
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    let (row, matter) = match correction_case(&ctx, &number).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    render_form(
        &ctx,
        StatusCode::OK,
        FormPage {
            matter: &matter,
            action: format!("/clerk/cases/{}/resubmit", row.id),
            mode: "resubmit",
            vals: prefill(&row.case.materials),
            sits: row.case.situations.clone(),
            case: case_summary(&row),
            error: None,
            error_field: None,
            results: None,
            peer: None,
        },
    )
}

/// `POST /clerk/cases/{number}/resubmit`: a new outcome document.
pub async fn resubmit(Path(number): Path<String>, form: StaffForm) -> Response {
    let StaffForm { ctx, fields } = form;
    let staff = match ctx.require(&[Role::Clerk], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let (row, matter) = match correction_case(&ctx, &number).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let materials = presented(&matter, &fields);
    match ctx
        .node
        .resubmit(
            &staff.username,
            staff.role,
            &row.id,
            fields.all("sit"),
            materials,
        )
        .await
    {
        Ok(out) => {
            let title = crate::service::kind_title(out.outcome);
            ctx.redirect(
                &format!("/clerk/cases/{}", out.case_number),
                Some(Flash::ok_text(onewindow_i18n::text_args(
                    "flash.document_issued",
                    &[("document", Arg::Each(&title.zh, &title.en))],
                ))),
            )
        }
        Err(e) => render_form(
            &ctx,
            e.status(),
            FormPage {
                matter: &matter,
                action: format!("/clerk/cases/{}/resubmit", row.id),
                mode: "resubmit",
                vals: fields_map(&fields),
                sits: fields.all("sit"),
                case: case_summary(&row),
                error: Some(ctx.lang.pick(&e.message_zh, &e.message_en).to_owned()),
                error_field: e.field,
                results: None,
                peer: None,
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn presented_rows_default_to_what_the_checklist_asks() {
        let cat = onewindow_domain::starter::catalogue().unwrap();
        let m = cat.matter("NH-GA-005").unwrap();
        let f = Fields(vec![
            ("have_M01".into(), "1".into()),
            ("elec_M02".into(), "1".into()),
            ("orig_M04".into(), "0".into()),
            ("prob_M04".into(), "未签名".into()),
        ]);
        let p = presented(m, &f);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].code, "M01");
        assert_eq!(p[0].originals, 1);
        assert!(p[1].electronic);
        assert_eq!(p[2].problem.as_deref(), Some("未签名"));
        let back = prefill(&p);
        assert_eq!(back.get("orig_M01").map(String::as_str), Some("1"));
    }
}
