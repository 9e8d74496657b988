//! Handing a result out at the window (统一窗口出件): the clerk says who
//! collects it, the applicant in person (the ID document checked, its
//! number the applicant's) or a proxy (代领: name, ID number, the written
//! authorisation presented, its reference), sees each problem next to its
//! field, then confirms what will be recorded. Nothing is stored before the
//! confirmation, and nothing on a bad entry.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::clerk::{WHAT, case_page};
use super::web::{Ctx, Fields, Flash, StaffForm};
use crate::domain::case::{Applicant, ApplicantKind, Role};
use crate::domain::handout::{Collector, IdDocument};
use crate::error::ServiceError as Error;
use crate::service::Action;

/// A line of the case's history as a sentence on its own (the phrases are
/// lower case, to be filled into others).
pub(super) fn sentence(line: &str) -> String {
    let mut chars = line.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What the form holds: the collector as entered.
fn collector_from(f: &Fields) -> Collector {
    match f.get("by") {
        Some("proxy") => Collector::Proxy {
            name: f.text("proxy_name"),
            id_number: f.text("proxy_id"),
            authorisation: f.checked("authorisation"),
            reference: f.text("reference"),
        },
        _ => Collector::InPerson {
            document: IdDocument::parse(f.get("document").unwrap_or(""))
                .unwrap_or(IdDocument::ResidentId),
            id_number: f.text("id_number"),
            id_checked: f.checked("id_checked"),
        },
    }
}

/// The hand-out form's state for the page: the choices, what was entered,
/// and each problem's message by field.
pub(super) fn form_view(
    ctx: &Ctx,
    applicant: &Applicant,
    fields: Option<&Fields>,
    errors: &[(&'static str, String)],
) -> minijinja::Value {
    let organisation = applicant.kind == ApplicantKind::Organisation;
    let get = |k: &str| fields.map(|f| f.text(k)).unwrap_or_default();
    let by = match fields.and_then(|f| f.get("by")) {
        Some("proxy") => "proxy",
        Some(_) if !organisation => "in_person",
        _ if organisation => "proxy",
        _ => "in_person",
    };
    let documents: Vec<_> = IdDocument::ALL
        .iter()
        .map(|d| context! { value => d.as_str(), label => ctx.phrase(&format!("id.doc.{}", d.as_str())) })
        .collect();
    let error = |field: &str| {
        errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.clone())
    };
    context! {
        by => by,
        organisation => organisation,
        documents => documents,
        document => fields.and_then(|f| f.get("document")).unwrap_or("resident_id"),
        id_number => get("id_number"),
        id_checked => fields.is_some_and(|f| f.checked("id_checked")),
        proxy_name => get("proxy_name"),
        proxy_id => get("proxy_id"),
        authorisation => fields.is_some_and(|f| f.checked("authorisation")),
        reference => get("reference"),
        errors => context! {
            id_number => error("id_number"),
            id_checked => error("id_checked"),
            proxy_name => error("proxy_name"),
            proxy_id => error("proxy_id"),
            authorisation => error("authorisation"),
            reference => error("reference"),
        },
    }
}

/// `POST /clerk/cases/{number}/handout`: the result leaves the window.
pub async fn hand_out(Path(number): Path<String>, form: StaffForm) -> Response {
    let StaffForm { ctx, fields } = form;
    let me = match ctx.require(&[Role::Clerk], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let view = match ctx.node.case_for_staff(&number).await {
        Ok(v) => v,
        Err(e) => return ctx.error(&e),
    };
    let applicant = &view.case.received.applicant;
    let collector = collector_from(&fields);
    // Every problem at once, each next to its field; nothing is stored.
    let (recipient, collection) = match collector.check(applicant) {
        Ok(ok) => ok,
        Err(problems) => {
            let errors: Vec<_> = problems
                .into_iter()
                .map(|(field, e)| {
                    let e = Error::from(e);
                    (field, ctx.pick(&e.message_zh, &e.message_en))
                })
                .collect();
            let entry = form_view(&ctx, applicant, Some(&fields), &errors);
            return case_page(&ctx, &number, StatusCode::BAD_REQUEST, None, Some(entry)).await;
        }
    };
    // The result leaves the window for good: the clerk confirms who takes
    // it and how they were identified.
    if fields.get("confirm") != Some("1") {
        let said = crate::domain::handout::describe(&recipient, Some(&collection));
        let keep: Vec<_> = [
            "by",
            "document",
            "id_number",
            "id_checked",
            "proxy_name",
            "proxy_id",
            "authorisation",
            "reference",
        ]
        .iter()
        .filter_map(|k| fields.get(k).map(|v| context! { name => k, value => v }))
        .collect();
        let confirm = context! {
            recipient => recipient,
            how => sentence(&ctx.pick(&said.zh, &said.en)),
            keep => keep,
        };
        return case_page(&ctx, &number, StatusCode::OK, Some(confirm), None).await;
    }
    let action = Action::HandOut {
        collector: Some(collector),
        recipient: None,
    };
    match ctx
        .node
        .act(&me.username, me.role, None, &number, action)
        .await
    {
        Ok(v) => ctx.redirect(
            &format!("/clerk/cases/{}", v.number),
            Some(Flash::ok("flash.handed_out", &[])),
        ),
        Err(e) => ctx.redirect(&format!("/clerk/cases/{number}"), Some(Flash::error(&e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn the_form_says_in_person_or_proxy() {
        assert_eq!(
            collector_from(&fields(&[
                ("by", "in_person"),
                ("document", "temporary_id"),
                ("id_number", " 11010519491231002x "),
                ("id_checked", "yes"),
            ])),
            Collector::InPerson {
                document: IdDocument::TemporaryId,
                id_number: "11010519491231002x".into(),
                id_checked: true,
            }
        );
        assert_eq!(
            collector_from(&fields(&[
                ("by", "proxy"),
                ("proxy_name", "李四"),
                ("proxy_id", "110105198001010016"),
            ])),
            Collector::Proxy {
                name: "李四".into(),
                id_number: "110105198001010016".into(),
                authorisation: false,
                reference: String::new(),
            }
        );
    }
}
