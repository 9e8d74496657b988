//! The approver's back office: the work queue of their department (cases in
//! acceptance, handling, review, approval and decided, and the parallel
//! sub-cases their department co-handles), one case with its trace, and the
//! actions the state machine allows. Every action goes through `Node::act`,
//! which checks role, department, state and the three-people rule (the
//! handler does not review; the reviewer, and where the matter needs three
//! people the handler, does not decide); a refusal comes back as a message
//! on the page. The page offers no form that the rule would refuse, and
//! says why instead.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use minijinja::context;

use super::web::{Ctx, Fields, Flash, StaffCtx, StaffForm};
use crate::domain::case::{CaseError, Role, State, SubCaseStatus, SuspensionKind, Warning};
use crate::error::{HttpStatus, ServiceError as Error};
use crate::service::Action;
use crate::store::{CaseBrief, CaseFilter, CaseRow};

const WHAT: &str = "action.approve";

/// The page's line saying why a step of the three-people rule is not
/// this approver's.
fn refusal_phrase(e: &CaseError) -> &'static str {
    match e {
        CaseError::SameStaff => "act.not_reviewer",
        CaseError::OwnHandling { step: "review" } => "act.handled_no_review",
        _ => "act.handled_no_decide",
    }
}

fn row_view(ctx: &Ctx, r: &CaseRow, today: NaiveDate) -> minijinja::Value {
    let level = ctx.node.live_warning(&CaseBrief::from(r), today);
    let c = &r.case;
    let en = ctx.lang == onewindow_i18n::Lang::En;
    context! {
        id => r.id,
        matter => ctx.pick(&c.received.matter_name_zh, &c.received.matter_name_en),
        applicant => c.received.applicant.name,
        from_hall => ctx.node.hall_name(c.window(), en),
        state => r.state,
        suspended => r.suspended,
        due => r.committed_due,
        stage_due => r.stage_due,
        level => if r.committed_due.is_some() { level.as_str() } else { "none" },
        received => r.received_at_ms,
    }
}

/// `GET /approver`: the department's work queue, most urgent first.
pub async fn queue(StaffCtx(ctx): StaffCtx) -> Response {
    let me = match ctx.require(&[Role::Approver], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let dept = me.department.clone().unwrap_or_default();
    let node = &ctx.node;
    let filter = CaseFilter {
        states: ["accepted", "handling", "review", "approval", "decided"]
            .map(str::to_owned)
            .to_vec(),
        department: Some(dept.clone()),
        limit: 1000,
        ..CaseFilter::default()
    };
    let rows = match node.store.cases(&filter).await {
        Ok(r) => r,
        Err(e) => return ctx.error(&e.into()),
    };
    let subs = match node.store.open_sub_cases(&dept, 500).await {
        Ok(r) => r,
        Err(e) => return ctx.error(&e.into()),
    };
    // Trust-first results waiting for their post-check, most urgent first.
    let checks = match node
        .store
        .cases(&CaseFilter {
            department: Some(dept.clone()),
            held_by: Some(node.id.to_string()),
            post_check_open: true,
            limit: 1000,
            ..CaseFilter::default()
        })
        .await
    {
        Ok(r) => r,
        Err(e) => return ctx.error(&e.into()),
    };
    let mut post_checks: Vec<_> = checks
        .iter()
        .filter_map(|r| {
            let (due, level) = node.post_check_warning(&r.case)?;
            Some((due, r, level))
        })
        .collect();
    post_checks.sort_by_key(|(due, r, _)| (*due, r.received_at_ms));
    let post_checks: Vec<_> = post_checks
        .into_iter()
        .map(|(due, r, level)| {
            let c = &r.case;
            context! {
                id => r.id,
                matter => ctx.pick(&c.received.matter_name_zh, &c.received.matter_name_en),
                applicant => c.received.applicant.name,
                issued => c.trust.as_ref().map(|t| t.issued_at_ms),
                due => due.format("%Y-%m-%d").to_string(),
                level => level.as_str(),
            }
        })
        .collect();
    let th = ctx.node.today();
    let mine: Vec<_> = rows
        .iter()
        .filter(|r| r.holder.as_deref() == Some(node.id.as_str()))
        .map(|r| row_view(&ctx, r, th))
        .collect();
    let parallel: Vec<_> = subs
        .iter()
        .filter(|s| s.brief.holder.as_deref() == Some(node.id.as_str()))
        .map(|s| {
            let level = node.live_warning(&s.brief, th);
            context! {
                id => s.brief.id,
                matter => ctx.pick(&s.case.received.matter_name_zh, &s.case.received.matter_name_en),
                state => s.brief.state,
                due => s.brief.committed_due,
                level => level.as_str(),
                lead => s.brief.department,
            }
        })
        .collect();
    let cat = node.catalogue();
    let d = cat.departments.get(&dept);
    let counts = ["accepted", "handling", "review", "approval", "decided"].map(|s| {
        (
            s,
            rows.iter()
                .filter(|r| r.state == s && r.holder.as_deref() == Some(node.id.as_str()))
                .count(),
        )
    });
    let red = mine
        .iter()
        .filter(|v| v.get_attr("level").ok().as_ref().and_then(|l| l.as_str()) == Some("red"))
        .count();
    let data = context! {
        rows => mine,
        parallel => parallel,
        post_checks => post_checks,
        dept_zh => d.map(|d| d.name_zh.clone()),
        dept_en => d.map(|d| d.name_en.clone()),
        counts => counts.iter().map(|(s, n)| context!{ state => s, n => n }).collect::<Vec<_>>(),
        red => red,
    };
    ctx.render(StatusCode::OK, "approver/queue.html", data)
}

async fn render_case(
    ctx: &Ctx,
    number: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    render_case_confirming(ctx, number, status, error, None).await
}

/// The case page; with `confirm`, the decision the approver is asked to
/// confirm before it is made (it cannot be undone).
async fn render_case_confirming(
    ctx: &Ctx,
    number: &str,
    status: StatusCode,
    error: Option<String>,
    confirm: Option<minijinja::Value>,
) -> Response {
    let me = match ctx.require(&[Role::Approver], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let view = match ctx.node.case_for_staff(number).await {
        Ok(v) => v,
        Err(e) => return ctx.error(&e),
    };
    let events = match ctx.node.store.case_events(&view.number).await {
        Ok(e) => e,
        Err(e) => return ctx.error(&e.into()),
    };
    let dept = me.department.clone().unwrap_or_default();
    let c = &view.case;
    let lead = c.received.department == dept;
    let holder_here = c.holder.as_deref() == Some(ctx.node.id.as_str());
    let open_sub = c
        .sub_cases
        .get(&dept)
        .is_some_and(|s| s.status == SubCaseStatus::Open);
    let running = matches!(
        c.state,
        State::Accepted | State::Handling | State::Review | State::Approval
    );
    let th = ctx.node.today();
    let level = ctx
        .node
        .live_warning(&CaseBrief::from(&ctx.node.case_row(c)), th);
    let cat = ctx.node.catalogue();
    let dept_name = |code: &str| {
        cat.departments
            .get(code)
            .map(|d| ctx.pick(&d.name_zh, &d.name_en))
            .unwrap_or_else(|| code.to_owned())
    };
    let subs: Vec<_> = c
        .sub_cases
        .iter()
        .map(|(d, s)| context! { dept => dept_name(d), status => s.status, opinion => s.opinion, by => s.by })
        .collect();
    let trace: Vec<_> = events
        .iter()
        .filter_map(|e| e.record())
        .map(|r| {
            let detail = match &r.event {
                // Who collected it and how their identity was checked.
                crate::domain::case::Event::HandedOut {
                    recipient,
                    collection,
                } => {
                    let t = crate::domain::handout::describe(recipient, collection.as_ref());
                    ctx.pick(&t.zh, &t.en)
                }
                crate::domain::case::Event::Rated {
                    score,
                    channel,
                    comment,
                } => super::supervisor::rated_line(ctx, *score, *channel, comment),
                ev => serde_json::to_value(ev)
                    .ok()
                    .and_then(|v| {
                        ["opinion", "reason", "result", "note", "answer"]
                            .iter()
                            .find_map(|k| v.get(k).and_then(|x| x.as_str()).map(str::to_owned))
                    })
                    .unwrap_or_default(),
            };
            context! {
                kind => r.event.kind(),
                by => r.actor.username,
                role => r.actor.role.as_str(),
                at => r.at_ms,
                detail => detail,
            }
        })
        .collect();
    let kinds = [
        SuspensionKind::Hearing,
        SuspensionKind::Tendering,
        SuspensionKind::Testing,
        SuspensionKind::Quarantine,
        SuspensionKind::Appraisal,
        SuspensionKind::ExpertReview,
        SuspensionKind::Other,
    ];
    let used: u32 = c.extensions.iter().map(|e| e.n).sum();
    let follow_up = c
        .rating
        .as_ref()
        .filter(|r| r.is_bad() && r.follow_up.is_none() && holder_here)
        .map(|r| {
            context! {
                score => r.score,
                comment => r.comment,
                due => c.follow_up_due(&ctx.node.calendar()).map(|d| d.format("%Y-%m-%d").to_string()),
            }
        });
    // The warnings the case has today that this hall may still appeal,
    // and every appeal with its decision.
    let to_appeal: Vec<_> = if holder_here {
        ctx.node
            .live_warnings(c)
            .into_iter()
            .filter(|(rule, level)| c.appeal(*rule, *level).is_none())
            .map(|(rule, level)| {
                let title = ctx.phrase_with(
                    "act.appeal_warning_of",
                    &[
                        ("level", &ctx.phrase(&format!("warn.{}", level.as_str()))),
                        ("rule", &ctx.phrase(&format!("warn_rule.{}", rule.as_str()))),
                    ],
                );
                context! { rule => rule.as_str(), level => level.as_str(), title => title }
            })
            .collect()
    } else {
        Vec::new()
    };
    let appeals = super::supervisor::appeal_lines(ctx, c, false);
    // The case file: what was presented at the window, and what is to
    // follow, named as the checklist names them.
    let matter = cat.matter(&c.received.matter_code);
    let material_name = |code: &str| {
        matter
            .and_then(|m| m.materials.iter().find(|x| x.code == code))
            .map_or_else(|| code.to_owned(), |m| ctx.pick(&m.name_zh, &m.name_en))
    };
    let mut materials: Vec<_> = c
        .received
        .materials
        .iter()
        .map(|p| {
            let state = if c.deferred.contains(&p.code) {
                ctx.phrase("case.material.deferred")
            } else if let Some(problem) = &p.problem {
                problem.clone()
            } else if p.electronic {
                ctx.phrase("case.material.electronic")
            } else {
                ctx.phrase("case.material.received")
            };
            context! {
                code => p.code, name => material_name(&p.code), originals => p.originals,
                copies => p.copies, state => state,
            }
        })
        .collect();
    for d in c
        .deferred
        .iter()
        .filter(|d| !c.received.materials.iter().any(|p| &p.code == *d))
    {
        materials.push(context! {
            code => d, name => material_name(d), originals => 0, copies => 0,
            state => ctx.phrase("case.material.deferred"),
        });
    }
    let applicant = &c.received.applicant;
    // Handling, review and decision by different people: the step this
    // approver may not take on the case, and why.
    let refusal = |r: Result<(), CaseError>| r.err().map(|e| ctx.phrase(refusal_phrase(&e)));
    let review_refusal = (c.state == State::Review)
        .then(|| refusal(c.may_review(&me.username)))
        .flatten();
    let decide_refusal = (c.state == State::Approval)
        .then(|| refusal(c.may_decide(&me.username)))
        .flatten();
    // A trust-first result: the pledge, and the post-check this
    // department makes while it is open.
    let trust = c.trust.as_ref().map(|t| {
        let warning = ctx.node.post_check_warning(c);
        context! {
            pledge => t.pledge,
            issued => t.issued_at_ms,
            status => t.status().as_str(),
            check => t.check,
            due => warning.map(|(d, _)| d.format("%Y-%m-%d").to_string()),
            level => warning.map(|(_, l)| l.as_str()),
            may_check => warning.is_some() && lead && holder_here,
        }
    });
    let data = context! {
        trust => trust,
        confirm => confirm,
        materials => materials,
        files => super::preapply::case_files(ctx, c),
        applicant_id => crate::service::masked_id(&applicant.id_number),
        applicant_phone => applicant.phone,
        to_appeal => to_appeal,
        appeals => appeals,
        follow_up => follow_up,
        v => view,
        level => if view.committed_due.is_some() { level.as_str() } else { "none" },
        lead => lead && holder_here,
        opinion => open_sub && holder_here,
        dept => dept,
        running => running && lead && holder_here,
        suspended => view.suspended,
        review_refusal => review_refusal,
        decide_refusal => decide_refusal,
        subs => subs,
        trace => trace,
        kinds => kinds.iter().map(|k| serde_json::to_value(k).ok()).collect::<Vec<_>>(),
        extension_left => c.received.extension_max.map(|m| m.n.saturating_sub(used)),
        extension_unit => c.received.extension_max.map(|m| m.unit),
        error => error,
        red => level == Warning::Red,
    };
    ctx.render(status, "approver/case.html", data)
}

/// `GET /approver/cases/{number}`.
pub async fn case(StaffCtx(ctx): StaffCtx, Path(number): Path<String>) -> Response {
    render_case(&ctx, &number, StatusCode::OK, None).await
}

fn action_from(f: &Fields) -> Result<Action, Error> {
    let text = |k: &str| f.text(k);
    let yes = |k: &str| f.get(k) == Some("yes");
    let a = match f.get("action").unwrap_or("") {
        "start_handling" => Action::StartHandling,
        "submit_for_review" => Action::SubmitForReview {
            opinion: text("opinion"),
        },
        "pass_review" => Action::PassReview {
            opinion: text("opinion"),
        },
        "send_back" => Action::SendBack {
            reason: text("reason"),
        },
        "decide" => Action::Decide {
            granted: yes("granted"),
            opinion: text("opinion"),
        },
        "result_ready" => Action::ResultReady {
            result: text("result"),
        },
        "opinion" => Action::Opinion {
            department: text("department"),
            approve: yes("approve"),
            opinion: text("opinion"),
        },
        "suspend" => Action::Suspend {
            kind: serde_json::from_value(serde_json::Value::String(text("kind")))
                .map_err(|_| Error::bad_request("bad_kind", &[]))?,
            reason: text("reason"),
        },
        "resume" => Action::Resume { note: text("note") },
        "extend" => Action::Extend {
            n: f.number("n").unwrap_or(0),
            reason: text("reason"),
        },
        "terminate" => Action::Terminate {
            reason: text("reason"),
        },
        "follow_up" => Action::FollowUp {
            answer: text("answer"),
        },
        "pass_post_check" => Action::PassPostCheck { note: text("note") },
        "revoke_result" => Action::RevokeResult {
            reason: text("reason"),
        },
        "appeal_warning" => Action::AppealWarning {
            rule: crate::domain::case::WarningRule::parse(&text("rule"))
                .ok_or_else(|| Error::bad_request("bad_action", &[]))?,
            level: Warning::parse(&text("level"))
                .ok_or_else(|| Error::bad_request("bad_action", &[]))?,
            reason: text("reason"),
        },
        _ => {
            return Err(Error::bad_request("bad_action", &[]));
        }
    };
    Ok(a)
}

fn done_message(a: &Action) -> Flash {
    let key = match a {
        Action::StartHandling => "flash.started_handling",
        Action::SubmitForReview { .. } => "flash.sent_to_review",
        Action::PassReview { .. } => "flash.review_passed",
        Action::SendBack { .. } => "flash.sent_back",
        Action::Decide { granted: true, .. } => "flash.granted",
        Action::Decide { .. } => "flash.refused",
        Action::ResultReady { .. } => "flash.result_sent",
        Action::Opinion { .. } => "flash.opinion_given",
        Action::Suspend { .. } => "flash.suspended",
        Action::Resume { .. } => "flash.resumed",
        Action::Extend { .. } => "flash.extended",
        Action::FollowUp { .. } => "flash.followed_up",
        Action::PassPostCheck { .. } => "flash.post_check_passed",
        Action::RevokeResult { .. } => "flash.result_revoked",
        Action::AppealWarning { .. } => "flash.warning_appealed",
        _ => "flash.done",
    };
    Flash::ok(key, &[])
}

/// `POST /approver/cases/{number}`: one action on the case.
pub async fn act(Path(number): Path<String>, form: StaffForm) -> Response {
    let StaffForm { ctx, fields } = form;
    let me = match ctx.require(&[Role::Approver], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let action = match action_from(&fields) {
        Ok(a) => a,
        Err(e) => {
            return render_case(
                &ctx,
                &number,
                e.status(),
                Some(ctx.pick(&e.message_zh, &e.message_en)),
            )
            .await;
        }
    };
    // A decision cannot be undone: it is shown for confirmation first.
    // (Who may not decide it, its reviewer or its handler, is refused at
    // once.)
    let confirming = matches!(action, Action::Decide { .. }) && fields.get("confirm") != Some("1");
    let may_decide = confirming
        && match ctx.node.case_for_staff(&number).await {
            Ok(v) => v.case.may_decide(&me.username).is_ok(),
            Err(e) => return ctx.error(&e),
        };
    if let Action::Decide { granted, opinion } = &action
        && may_decide
    {
        if opinion.is_empty() {
            let e = Error::empty_field("opinion");
            return render_case(
                &ctx,
                &number,
                e.status(),
                Some(ctx.pick(&e.message_zh, &e.message_en)),
            )
            .await;
        }
        let confirm = context! { granted => granted, opinion => opinion };
        return render_case_confirming(&ctx, &number, StatusCode::OK, None, Some(confirm)).await;
    }
    let flash = done_message(&action);
    match ctx
        .node
        .act(
            &me.username,
            me.role,
            me.department.clone(),
            &number,
            action,
        )
        .await
    {
        Ok(v) => ctx.redirect(&format!("/approver/cases/{}", v.number), Some(flash)),
        Err(e) => {
            render_case(
                &ctx,
                &number,
                e.status(),
                Some(ctx.pick(&e.message_zh, &e.message_en)),
            )
            .await
        }
    }
}
