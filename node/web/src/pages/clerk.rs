//! The clerk's window (综合窗口): queue numbers, finding a matter, the cases
//! waiting at this window (corrections, results to hand out), one case with
//! its printable document, hand-out, and the rating tablet.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::context;
use serde::Deserialize;

use super::search;
use super::web::{Ctx, Flash, StaffCtx, StaffForm, cookie};
use crate::domain::case::{Channel, Role, State};
use crate::domain::case_number::CaseNumber;
use crate::error::{HttpStatus, ServiceError as Error};
use crate::store::{CaseSearch, Scope};

pub(super) const WHAT: &str = "action.use_window";
const WINDOW_COOKIE: &str = "ow_window";

/// Query of the clerk's home.
#[derive(Debug, Default, Deserialize)]
pub struct HomeQuery {
    q: Option<String>,
}

/// `GET /clerk`.
pub async fn home(
    StaffCtx(ctx): StaffCtx,
    headers: axum::http::HeaderMap,
    Query(q): Query<HomeQuery>,
) -> Response {
    let me = match ctx.require(&[Role::Clerk], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let node = &ctx.node;
    let query = q.q.unwrap_or_default();
    let cat = node.catalogue();
    let receivable: Vec<_> = cat
        .matters
        .values()
        .filter(|m| node.may_receive(m))
        .collect();
    let hits: Vec<_> = if query.trim().is_empty() {
        Vec::new()
    } else {
        search::find(receivable.iter().copied(), &query, 30)
    }
    .into_iter()
    .map(|m| {
        context! {
            code => m.code, name_zh => m.name_zh, name_en => m.name_en,
            immediate => m.immediate,
        }
    })
    .collect();
    let elsewhere: Vec<_> = received_elsewhere(&ctx, &query, ELSEWHERE)
        .into_iter()
        .map(|(m, at)| context! { code => m.code, name => ctx.pick(&m.name_zh, &m.name_en), at => at })
        .collect();
    // The matters of the trees this one peers with (异地通办 across
    // trees), each on its own form.
    let peers = match node.known_peers().await {
        Ok(p) => p,
        Err(e) => return ctx.error(&e),
    };
    let peer_matters: Vec<_> = peers
        .into_iter()
        .filter(|(_, p)| p.enabled)
        .flat_map(|(tree, p)| {
            p.offer.matters.into_iter().map(move |m| {
                context! { tree => tree.clone(), code => m.code, name_zh => m.name_zh, name_en => m.name_en }
            })
        })
        .collect();
    let tickets = match node.tickets_today().await {
        Ok(t) => t,
        Err(e) => return ctx.error(&e),
    };
    let waiting = tickets.iter().filter(|t| t.status == "waiting").count();
    let mine: Vec<_> = tickets
        .iter()
        .filter(|t| t.status == "called" && t.called_by.as_deref() == Some(me.username.as_str()))
        .collect();
    let id = node.id.to_string();
    let ready = match node.store.results_waiting(&id, 100).await {
        Ok(r) => r,
        Err(e) => return ctx.error(&e.into()),
    };
    // The hall's cases still being handled, here or above.
    let mut s = CaseSearch::new(Scope::All);
    s.states = ["accepted", "handling", "review", "approval", "decided"]
        .map(String::from)
        .to_vec();
    s.accepting_node = Some(id.clone());
    s.limit = 50;
    let open = match node.store.search_cases(&s).await {
        Ok(r) => r,
        Err(e) => return ctx.error(&e.into()),
    };
    let en = ctx.lang == onewindow_i18n::Lang::En;
    let today = node.today();
    let open: Vec<_> = open
        .iter()
        .map(|b| {
            let holder = match b.holder.as_deref() {
                Some(h) if h != id => node.hall_name(h, en),
                _ => ctx.phrase("clerk.this_hall"),
            };
            context! {
                id => b.id,
                matter => cat.matter(&b.matter_code).map_or_else(|| b.matter_code.clone(), |m| ctx.pick(&m.name_zh, &m.name_en)),
                holder => holder,
                elsewhere => b.holder.as_deref().is_some_and(|h| h != id),
                state => b.state,
                due => b.committed_due,
                level => node.live_warning(b, today).as_str(),
            }
        })
        .collect();
    // Where the hall's link to its parent stands (none at the root).
    let link = (node.id.depth() > 0).then(|| {
        context! {
            up => node.uplink_up(),
            since => node.uplink.since_ms(),
            waiting => node.uplink.backlog().unwrap_or(0),
        }
    });
    let mut s = CaseSearch::new(Scope::All);
    s.states = vec!["correction".into()];
    s.accepting_node = Some(id);
    s.limit = 50;
    let corrections = match node.store.search_cases(&s).await {
        Ok(r) => r,
        Err(e) => return ctx.error(&e.into()),
    };
    let name = |code: &str| {
        cat.matter(code)
            .map(|m| ctx.pick(&m.name_zh, &m.name_en))
            .unwrap_or_else(|| code.to_owned())
    };
    let brief = |b: &crate::store::CaseBrief| {
        context! { id => b.id, matter => name(&b.matter_code), received => b.received_at_ms, last4 => b.applicant_last4 }
    };
    let data = context! {
        q => query,
        hits => hits,
        elsewhere => elsewhere,
        peer_matters => peer_matters,
        open => open,
        link => link,
        total_matters => receivable.len(),
        waiting => waiting,
        taken => tickets.len(),
        mine => mine,
        window => cookie(&headers, WINDOW_COOKIE).unwrap_or_else(|| "1".to_owned()),
        ready => ready.iter().map(brief).collect::<Vec<_>>(),
        corrections => corrections.iter().map(brief).collect::<Vec<_>>(),
        recovering => node.own_log.is_recovering(),
    };
    ctx.render(StatusCode::OK, "clerk/home.html", data)
}

/// Query of the matter search.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    #[serde(rename = "for")]
    target: Option<String>,
}

/// Most matters listed as received elsewhere under a search's hits.
const ELSEWHERE: usize = 8;

/// Matters answering a (non-empty) query that this hall does not receive,
/// best first, each with where it is received today: the tiers' halls and
/// the halls named, by name.
pub(super) fn received_elsewhere(
    ctx: &Ctx,
    query: &str,
    limit: usize,
) -> Vec<(crate::domain::catalogue::Matter, String)> {
    if query.trim().is_empty() {
        return Vec::new();
    }
    let node = &ctx.node;
    let cat = node.catalogue();
    let en = ctx.lang == onewindow_i18n::Lang::En;
    search::find(
        cat.matters.values().filter(|m| !node.may_receive(m)),
        query,
        limit,
    )
    .into_iter()
    .map(|m| {
        let rule = m.delegation.on(node.today());
        let places: Vec<String> = ["district", "township", "village"]
            .into_iter()
            .filter(|t| rule.receive_tiers.contains(*t))
            .map(|t| ctx.phrase(&format!("search.at.{t}")))
            .chain(rule.receive_halls.iter().map(|h| node.hall_name(h, en)))
            .collect();
        let at = ctx.phrase_with(
            "search.received_elsewhere",
            &[("halls", &places.join(if en { ", " } else { "、" }))],
        );
        (m.clone(), at)
    })
    .collect()
}

/// `GET /matters/search?q=..&for=clerk|guide`: matters this hall receives,
/// as JSON, for search-as-you-type; then those that answer the query but are
/// received only at other halls (`here` false, `at` says where, `url` is
/// the matter's guide).
pub async fn search_json(ctx: Ctx, Query(q): Query<SearchQuery>) -> Response {
    let node = &ctx.node;
    let cat = node.catalogue();
    let clerk = q.target.as_deref() == Some("clerk");
    let base = if clerk { "/clerk/apply/" } else { "/guide/" };
    let query = q.q.as_deref().unwrap_or("");
    // One hit: received here (`at` none, `url` the form or guide), or
    // elsewhere (`at` says where, `url` the guide).
    let hit = |m: &crate::domain::catalogue::Matter, url: String, at: Option<String>| {
        let mut v = serde_json::json!({
            "code": m.code,
            "name": ctx.pick(&m.name_zh, &m.name_en),
            "immediate": m.immediate,
            "url": url,
            "here": at.is_none(),
        });
        if let Some(at) = at {
            v["at"] = at.into();
        }
        v
    };
    let mut hits: Vec<serde_json::Value> = search::find(
        cat.matters.values().filter(|m| node.may_receive(m)),
        query,
        30,
    )
    .into_iter()
    .map(|m| hit(m, format!("{base}{}", m.code), None))
    .collect();
    hits.extend(
        received_elsewhere(&ctx, query, ELSEWHERE)
            .into_iter()
            .map(|(m, at)| hit(&m, format!("/guide/{}", m.code), Some(at))),
    );
    axum::Json(hits).into_response()
}

/// `POST /clerk/queue/take`: a number for a walk-in or a booked visit.
pub async fn take(form: StaffForm) -> Response {
    let ctx = form.ctx;
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    let code = form.fields.text("booking");
    let code = (!code.is_empty()).then_some(code);
    let flash = match ctx.node.take_ticket(code.as_deref()).await {
        Ok(issued) => match &issued.late {
            None => Flash::ok("flash.ticket_taken", &[("number", &issued.ticket.number)]),
            Some(b) => Flash::ok(
                "flash.ticket_taken_late",
                &[
                    ("number", &issued.ticket.number),
                    ("slot", &crate::service::slot_text(b)),
                ],
            ),
        },
        Err(e) if e.detail.is_none() => Flash::error(&e),
        Err(e) => return ctx.error(&e),
    };
    ctx.redirect("/clerk", Some(flash))
}

/// `POST /clerk/queue/call`: calls the next number to this window.
pub async fn call(form: StaffForm) -> Response {
    let ctx = form.ctx;
    let me = match ctx.require(&[Role::Clerk], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let window = form.fields.text("window");
    let flash = match ctx.node.call_next(&window, &me.username).await {
        Ok(Some(t)) => Flash::ok(
            "flash.ticket_called",
            &[("number", &t.number), ("window", &window)],
        ),
        Ok(None) => Flash::ok("flash.nobody_waiting", &[]),
        Err(e) => return ctx.error(&e),
    };
    let mut res = ctx.redirect("/clerk", Some(flash));
    let w: String = window.chars().filter(char::is_ascii_alphanumeric).collect();
    if let Ok(v) = super::web::set_cookie(WINDOW_COOKIE, &w, 31_536_000).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// What a clerk does with the number called to their window.
#[derive(Clone, Copy)]
enum TicketStep {
    Served,
    NoShow,
    Recall,
}

async fn ticket_step(id: &str, form: StaffForm, step: TicketStep) -> Response {
    let ctx = form.ctx;
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    let Ok(id) = id.parse::<i64>() else {
        return ctx.error(&Error::not_found("unknown_ticket", &[]));
    };
    let done = match step {
        TicketStep::Served => ctx.node.serve_ticket(id).await,
        TicketStep::NoShow => ctx.node.no_show_ticket(id).await,
        TicketStep::Recall => ctx.node.recall_ticket(id).await,
    };
    match done {
        Ok(t) => {
            let window = t.window_no.clone().unwrap_or_default();
            let flash = match step {
                TicketStep::Served => Flash::ok("flash.ticket_served", &[("number", &t.number)]),
                TicketStep::NoShow => Flash::ok("flash.ticket_no_show", &[("number", &t.number)]),
                TicketStep::Recall => Flash::ok(
                    "flash.ticket_called",
                    &[("number", &t.number), ("window", &window)],
                ),
            };
            ctx.redirect("/clerk", Some(flash))
        }
        Err(e) => ctx.error(&e),
    }
}

/// `POST /clerk/queue/{id}/served`.
pub async fn served(Path(id): Path<String>, form: StaffForm) -> Response {
    ticket_step(&id, form, TicketStep::Served).await
}

/// `POST /clerk/queue/{id}/no-show`: the number called did not come.
pub async fn no_show(Path(id): Path<String>, form: StaffForm) -> Response {
    ticket_step(&id, form, TicketStep::NoShow).await
}

/// `POST /clerk/queue/{id}/recall`: calls the number again.
pub async fn recall(Path(id): Path<String>, form: StaffForm) -> Response {
    ticket_step(&id, form, TicketStep::Recall).await
}

/// Query of the case lookup.
#[derive(Debug, Default, Deserialize)]
pub struct FindQuery {
    number: Option<String>,
}

/// `GET /clerk/find?number=..`: goes to a case by its number.
pub async fn find(StaffCtx(ctx): StaffCtx, Query(q): Query<FindQuery>) -> Response {
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    match CaseNumber::parse(q.number.as_deref().unwrap_or("").trim()) {
        Ok(n) => ctx.redirect(&format!("/clerk/cases/{n}"), None),
        Err(e) => ctx.error(&e.into()),
    }
}

/// `GET /clerk/cases/{number}`: the case, its document, and what the window
/// can do next.
pub async fn case(StaffCtx(ctx): StaffCtx, Path(number): Path<String>) -> Response {
    case_page(&ctx, &number, StatusCode::OK, None, None).await
}

/// The clerk's case page; with `confirm`, the hand-out the clerk is asked
/// to confirm (it cannot be undone); with `entry`, the hand-out form as
/// entered, with its problems.
pub(super) async fn case_page(
    ctx: &Ctx,
    number: &str,
    status: StatusCode,
    confirm: Option<minijinja::Value>,
    entry: Option<minijinja::Value>,
) -> Response {
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    let view = match ctx.node.case_for_staff(number).await {
        Ok(v) => v,
        Err(e) => return ctx.error(&e),
    };
    let c = &view.case;
    let here = c.received.accepting_node == ctx.node.id.as_str();
    let can_hand_out = c.state == State::ResultReady && here;
    let handout = entry.or_else(|| {
        can_hand_out.then(|| super::handout::form_view(ctx, &c.received.applicant, None, &[]))
    });
    let collected = c.handed_out.as_ref().map(|h| {
        let t = h.describe();
        super::handout::sentence(&ctx.pick(&t.zh, &t.en))
    });
    let issues: Vec<_> = c
        .correction
        .iter()
        .map(|i| minijinja::Value::from_serialize(i.describe()))
        .collect();
    let data = context! {
        v => view,
        here => here,
        issues => issues,
        can_resubmit => c.state == State::Correction,
        can_hand_out => can_hand_out,
        handout => handout,
        collected => collected,
        can_rate => c.rating.is_none() && matches!(c.state, State::Completed | State::Rejected),
        confirm => confirm,
        online => c.received.intake == crate::domain::attachment::Intake::Online,
        files => super::preapply::case_files(ctx, c),
        can_attach => c.holder.as_deref() == Some(ctx.node.id.as_str()) && !c.state.is_final(),
        attachable => super::preapply::attachable(ctx, c),
    };
    ctx.render(status, "clerk/case.html", data)
}

/// `GET /cases/{number}/document`: the printable A4 outcome document (staff).
pub async fn document(StaffCtx(ctx): StaffCtx, Path(number): Path<String>) -> Response {
    let number = match CaseNumber::parse(&number) {
        Ok(n) => n.to_string(),
        Err(e) => return ctx.error(&e.into()),
    };
    match crate::docs::case_document(&ctx.node, &number, None).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => ctx.error(&e),
    }
}

/// `GET /cases/{number}/documents/{version}`: one issued document as
/// stored (staff).
pub async fn document_version(
    StaffCtx(ctx): StaffCtx,
    Path((number, version)): Path<(String, u64)>,
) -> Response {
    let number = match CaseNumber::parse(&number) {
        Ok(n) => n.to_string(),
        Err(e) => return ctx.error(&e.into()),
    };
    match crate::docs::case_document(&ctx.node, &number, Some(version)).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => ctx.error(&e),
    }
}

/// `GET /clerk/cases/{number}/rate`: the tablet turned to the applicant.
pub async fn rate_page(StaffCtx(ctx): StaffCtx, Path(number): Path<String>) -> Response {
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    let view = match ctx.node.case_for_staff(&number).await {
        Ok(v) => v,
        Err(e) => return ctx.error(&e),
    };
    let data = context! { v => view, done => view.case.rating.is_some() };
    ctx.render(StatusCode::OK, "clerk/rate.html", data)
}

/// `POST /clerk/cases/{number}/rate`: the applicant's score from the tablet.
pub async fn rate(Path(number): Path<String>, form: StaffForm) -> Response {
    let StaffForm { ctx, fields } = form;
    if let Err(r) = ctx.require(&[Role::Clerk], WHAT) {
        return r;
    }
    let row = match ctx.node.case_for_staff(&number).await {
        Ok(v) => v,
        Err(e) => return ctx.error(&e),
    };
    let last4 = row.case.received.applicant.last4().to_owned();
    let score = fields
        .number("score")
        .and_then(|s| u8::try_from(s).ok())
        .unwrap_or(0);
    let comment = fields.text("comment");
    match ctx
        .node
        .rate(&row.number, &last4, score, Channel::HallTablet, comment)
        .await
    {
        Ok(_) => ctx.redirect(&format!("/clerk/cases/{}/rate", row.number), None),
        Err(e) => {
            let data = context! {
                v => row,
                done => false,
                error => ctx.lang.pick(&e.message_zh, &e.message_en),
            };
            ctx.render(e.status(), "clerk/rate.html", data)
        }
    }
}
