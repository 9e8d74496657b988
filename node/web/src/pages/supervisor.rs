//! The supervisor's pages (电子监察) over the node's subtree (the district
//! over all): cases near (yellow) or past (red) their deadlines, search,
//! one case with its whole trace, and the CSV export of every table.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::search;
use super::stats;
use super::table::{Cell, Row, Table};
use super::web::{Ctx, Flash, StaffCtx, StaffForm, percent};
use crate::domain::case::{Role, Warning, WarningRule, WarningStatus};
use crate::error::{HttpStatus, ServiceError as Error};
use crate::service::Action;
use crate::store::{CaseBrief, CaseSearch};

const WHAT: &str = "action.supervise";
/// Rows of a list shown on a page; the CSV has them all.
pub const PAGE_ROWS: usize = 100;

/// Everything the supervisor pages take in their query strings.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
pub struct SupQuery {
    /// Case number or its beginning.
    pub number: Option<String>,
    /// Applicant's last four characters.
    pub last4: Option<String>,
    /// Matter: code, name or pinyin initials.
    pub matter: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Department code.
    pub department: Option<String>,
    /// Statistics window in days (anything else: the default).
    pub days: Option<String>,
    /// Only cases accepted at this hall or below it (the deadline lists).
    pub hall: Option<String>,
}

impl SupQuery {
    /// The statistics window, if the query names a whole number of days.
    pub fn days_n(&self) -> Option<i64> {
        self.days.as_deref().and_then(|d| d.trim().parse().ok())
    }

    /// The query string that gives this query back.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("number", &self.number),
            ("last4", &self.last4),
            ("matter", &self.matter),
            ("state", &self.state),
            ("department", &self.department),
            ("hall", &self.hall),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", percent(v)));
            }
        }
        if let Some(d) = self.days_n() {
            parts.push(format!("days={d}"));
        }
        parts.join("&")
    }
}

/// The supervisor (or, for the fleet, the administrator) may look.
pub fn allowed(ctx: &Ctx, admin_too: bool) -> Result<(), Response> {
    let roles: &[Role] = if admin_too {
        &[Role::Supervisor, Role::Admin]
    } else {
        &[Role::Supervisor]
    };
    ctx.require(roles, WHAT).map(|_| ())
}

/// A matter's name in the reader's language.
pub fn matter_name(ctx: &Ctx, code: &str) -> String {
    ctx.node
        .catalogue()
        .matter(code)
        .map_or_else(|| code.to_owned(), |m| ctx.pick(&m.name_zh, &m.name_en))
}

/// A department's name in the reader's language.
pub fn dept_name(ctx: &Ctx, code: &str) -> String {
    ctx.node
        .catalogue()
        .departments
        .get(code)
        .map_or_else(|| code.to_owned(), |d| ctx.pick(&d.name_zh, &d.name_en))
}

fn state_label(ctx: &Ctx, s: &str) -> String {
    super::i18n::phrase(ctx.lang, &format!("state.{s}")).to_owned()
}

fn case_headers(ctx: &Ctx) -> Vec<String> {
    ctx.phrases(&[
        "col.case",
        "col.matter",
        "col.department",
        "col.accepting_hall",
        "col.state",
        "col.received",
        "col.committed_due",
        "col.days_left",
        "col.warning",
    ])
}

/// Working days left to a running case's committed due date, in words
/// once it is due.
fn days_left(ctx: &Ctx, b: &CaseBrief, today: chrono::NaiveDate) -> String {
    let running = crate::store::OPEN_STATES.contains(&b.state.as_str()) && !b.suspended;
    match ctx.node.working_days_left(b, today).filter(|_| running) {
        None => String::new(),
        Some(0) => ctx.phrase("days.due_today"),
        Some(n) if n < 0 => ctx.phrase_with("days.overdue", &[("n", &-n)]),
        Some(n) => n.to_string(),
    }
}

fn case_row(ctx: &Ctx, b: &CaseBrief, level: Option<Warning>, today: chrono::NaiveDate) -> Row {
    let level_str = level.map(Warning::as_str);
    Row {
        level: level_str,
        cells: vec![
            Cell::link(b.id.clone(), format!("/supervisor/cases/{}", b.id)),
            matter_name(ctx, &b.matter_code).into(),
            dept_name(ctx, &b.department).into(),
            ctx.node
                .hall_name(&b.accepting_node, ctx.lang == super::web::Lang::En)
                .into(),
            Cell::nowrap(state_label(ctx, &b.state)),
            Cell::nowrap(super::templates::datetime(b.received_at_ms)),
            Cell::nowrap(b.committed_due.clone().unwrap_or_default()),
            days_left(ctx, b, today).into(),
            match level_str {
                Some(l) => Cell::level(super::i18n::phrase(ctx.lang, &format!("warn.{l}")), l),
                None => Cell::default(),
            },
        ],
    }
}

/// Whether a case accepted at `node` is in the hall filter's subtree.
fn in_hall(filter: Option<&str>, node: &str) -> bool {
    match filter.map(str::trim).filter(|h| !h.is_empty()) {
        None => true,
        Some(h) => node == h || node.strip_prefix(h).is_some_and(|r| r.starts_with('.')),
    }
}

/// The halls (accepting nodes) of the running cases on the deadline lists,
/// with how many each has, for the hall filter.
async fn watch_halls(ctx: &Ctx) -> Result<Vec<(String, usize)>, Error> {
    let mut halls: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (b, _) in ctx.node.deadline_watch().await? {
        *halls.entry(b.accepting_node).or_default() += 1;
    }
    Ok(halls.into_iter().collect())
}

/// The two deadline lists and the bad ratings to answer, every row (the
/// page shows the first ones), of the cases accepted at `q.hall` or below
/// it when the query names one.
pub async fn warning_tables(ctx: &Ctx, q: &SupQuery) -> Result<Vec<Table>, Error> {
    let watch = ctx.node.deadline_watch().await?;
    let today = ctx.node.today();
    let hall = q.hall.as_deref();
    let query = q
        .hall
        .as_deref()
        .filter(|h| !h.trim().is_empty())
        .map(|h| format!("?hall={}", percent(h.trim())))
        .unwrap_or_default();
    let follow_ups = ctx.node.follow_up_watch().await?;
    let heard = ctx.node.last_heard().await?;
    let calendar = ctx.node.calendar();
    let mut out = Vec::new();
    // A warning revoked on appeal is listed with its status, uncoloured,
    // and does not count.
    let status = |b: &CaseBrief, rule, w, row: &mut Row| {
        let since = ctx.node.warning_since(b, rule, w);
        let s = ctx.node.warning_status(b, rule, w, since, &heard);
        if s == WarningStatus::Revoked {
            row.level = None;
        }
        row.cells.push(Cell::nowrap(
            ctx.phrase(&format!("warn_status.{}", s.as_str())),
        ));
    };
    for (level, id) in [(Warning::Red, "red"), (Warning::Yellow, "yellow")] {
        let rows: Vec<Row> = watch
            .iter()
            .filter(|(b, w)| *w == level && in_hall(hall, &b.accepting_node))
            .map(|(b, w)| {
                let mut row = case_row(ctx, b, Some(*w), today);
                status(b, WarningRule::Deadline, *w, &mut row);
                row
            })
            .collect();
        let mut headers = case_headers(ctx);
        headers.push(ctx.phrase("col.warning_status"));
        out.push(Table {
            id: id.into(),
            title: ctx.phrase(&format!("supervisor.{id}")),
            headers,
            rows,
            csv: format!("/supervisor/export/{id}{query}"),
            empty: ctx.phrase(&format!("supervisor.{id}_empty")),
            more: None,
        });
    }
    let rows: Vec<Row> = follow_ups
        .iter()
        .filter(|(b, _, _)| in_hall(hall, &b.accepting_node))
        .map(|(b, due, w)| {
            let left = crate::domain::deadline::working_days_left(&calendar, today, *due);
            let l = w.as_str();
            let mut row = Row {
                level: Some(l),
                cells: vec![
                    Cell::link(b.id.clone(), format!("/supervisor/cases/{}", b.id)),
                    matter_name(ctx, &b.matter_code).into(),
                    ctx.node
                        .hall_name(&b.accepting_node, ctx.lang == super::web::Lang::En)
                        .into(),
                    Cell::nowrap(b.rating.map(|r| format!("{r}/5")).unwrap_or_default()),
                    Cell::nowrap(due.format("%Y-%m-%d").to_string()),
                    Cell::nowrap(match left {
                        0 => ctx.phrase("days.due_today"),
                        n if n < 0 => ctx.phrase_with("days.overdue", &[("n", &-n)]),
                        n => n.to_string(),
                    }),
                    Cell::level(super::i18n::phrase(ctx.lang, &format!("warn.{l}")), l),
                ],
            };
            status(b, WarningRule::FollowUp, *w, &mut row);
            row
        })
        .collect();
    out.push(Table {
        id: "follow_up".into(),
        title: ctx.phrase("supervisor.follow_up"),
        headers: ctx.phrases(&[
            "col.case",
            "col.matter",
            "col.accepting_hall",
            "col.rating",
            "col.follow_up_due",
            "col.days_left",
            "col.warning",
            "col.warning_status",
        ]),
        rows,
        csv: format!("/supervisor/export/follow_up{query}"),
        empty: ctx.phrase("supervisor.follow_up_empty"),
        more: None,
    });
    // Cases that reached the hall that decides them late: red while they
    // run.
    let late = ctx.node.forwarding_watch().await?;
    let rows: Vec<Row> = late
        .iter()
        .filter(|b| in_hall(hall, &b.accepting_node))
        .filter_map(|b| {
            let l = b.late_forwarding.as_ref()?;
            let en = ctx.lang == super::web::Lang::En;
            let mut row = Row {
                level: Some("red"),
                cells: vec![
                    Cell::link(b.id.clone(), format!("/supervisor/cases/{}", b.id)),
                    matter_name(ctx, &b.matter_code).into(),
                    ctx.node.hall_name(&l.from, en).into(),
                    ctx.node.hall_name(&l.to, en).into(),
                    Cell::nowrap(ctx.phrase_with("supervisor.hours_late", &[("n", &l.hours)])),
                    Cell::nowrap(
                        onewindow_domain::case::china_date(l.at_ms)
                            .format("%Y-%m-%d")
                            .to_string(),
                    ),
                ],
            };
            status(b, WarningRule::Forwarding, Warning::Red, &mut row);
            Some(row)
        })
        .collect();
    out.push(Table {
        id: "forwarding".into(),
        title: ctx.phrase("supervisor.forwarding"),
        headers: ctx.phrases(&[
            "col.case",
            "col.matter",
            "col.handed_up_by",
            "col.arrived_at",
            "col.late_by",
            "col.recorded",
            "col.warning_status",
        ]),
        rows,
        csv: format!("/supervisor/export/forwarding{query}"),
        empty: ctx.phrase("supervisor.forwarding_empty"),
        more: None,
    });
    Ok(out)
}

fn cut(mut t: Table, ctx: &Ctx) -> Table {
    let n = t.rows.len();
    if n > PAGE_ROWS {
        t.rows.truncate(PAGE_ROWS);
        t.more = Some(ctx.phrase_with("supervisor.more", &[("n", &n), ("shown", &PAGE_ROWS)]));
    }
    t
}

/// `GET /supervisor`: the deadline watch, of every hall or of one
/// (`?hall=ID`, with the halls below it).
pub async fn overview(StaffCtx(ctx): StaffCtx, Query(q): Query<SupQuery>) -> Response {
    if let Err(r) = allowed(&ctx, false) {
        return r;
    }
    let tables = match warning_tables(&ctx, &q).await {
        Ok(t) => t,
        Err(e) => return ctx.error(&e),
    };
    let halls = match watch_halls(&ctx).await {
        Ok(h) => h,
        Err(e) => return ctx.error(&e),
    };
    let chosen = q.hall.clone().unwrap_or_default();
    let hall_listed = halls.iter().any(|(id, _)| *id == chosen);
    let halls: Vec<_> = halls
        .into_iter()
        .map(|(id, n)| context! { selected => id == chosen, id => id, n => n })
        .collect();
    // Warnings revoked on appeal are listed but not counted.
    let counts: Vec<usize> = tables
        .iter()
        .map(|t| t.rows.iter().filter(|r| r.level.is_some()).count())
        .collect();
    let scope = match ctx.node.oversight_scope() {
        crate::store::Scope::All => ctx.phrase("supervisor.every_hall_of_the_district"),
        crate::store::Scope::Subtree(id) => {
            ctx.phrase_with("supervisor.scope_below", &[("id", &id)])
        }
    };
    let data = context! {
        red => counts.first().copied().unwrap_or(0),
        yellow => counts.get(1).copied().unwrap_or(0),
        follow_up => counts.get(2).copied().unwrap_or(0),
        forwarding => counts.get(3).copied().unwrap_or(0),
        tables => tables.into_iter().map(|t| cut(t, &ctx)).collect::<Vec<_>>(),
        scope => scope,
        halls => halls,
        hall_listed => hall_listed,
        hall => chosen,
        today => ctx.node.today().format("%Y-%m-%d").to_string(),
    };
    ctx.render(StatusCode::OK, "supervisor/overview.html", data)
}

/// The search result table for a query.
pub async fn search_table(ctx: &Ctx, q: &SupQuery) -> Result<Table, Error> {
    let mut s = CaseSearch::new(ctx.node.oversight_scope());
    s.number = q.number.clone();
    s.last4 = q.last4.clone();
    if let Some(st) = q.state.as_deref().filter(|s| !s.is_empty()) {
        s.states = vec![st.to_owned()];
    }
    s.department = q.department.clone().filter(|d| !d.is_empty());
    let mut no_matter = false;
    if let Some(m) = q.matter.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        let cat = ctx.node.catalogue();
        s.matter_codes = search::find(cat.matters.values(), m, 50)
            .into_iter()
            .map(|m| m.code.clone())
            .collect();
        no_matter = s.matter_codes.is_empty();
    }
    s.limit = 1000;
    let rows = if no_matter {
        Vec::new()
    } else {
        ctx.node.store.search_cases(&s).await?
    };
    let today = ctx.node.today();
    let query = q.to_query();
    Ok(Table {
        id: "search".into(),
        title: ctx.phrase("supervisor.cases_found"),
        headers: case_headers(ctx),
        rows: rows
            .iter()
            .map(|b| {
                let w = ctx.node.live_warning(b, today);
                let running = crate::store::OPEN_STATES.contains(&b.state.as_str());
                let shown = (running && b.committed_due.is_some()).then_some(w);
                case_row(ctx, b, shown, today)
            })
            .collect(),
        csv: format!("/supervisor/export/search?{query}"),
        empty: ctx.phrase("supervisor.no_case_matches"),
        more: None,
    })
}

/// `GET /supervisor/search`.
pub async fn search_page(StaffCtx(ctx): StaffCtx, Query(q): Query<SupQuery>) -> Response {
    if let Err(r) = allowed(&ctx, false) {
        return r;
    }
    let asked = q
        .to_query()
        .split('&')
        .any(|p| !p.is_empty() && !p.starts_with("days="));
    let table = if asked {
        match search_table(&ctx, &q).await {
            Ok(t) => Some(cut(t, &ctx)),
            Err(e) => return ctx.error(&e),
        }
    } else {
        None
    };
    let cat = ctx.node.catalogue();
    let depts: Vec<_> = cat
        .departments
        .values()
        .map(|d| context! { code => d.code, name => ctx.pick(&d.name_zh, &d.name_en) })
        .collect();
    let states = [
        "received",
        "correction",
        "rejected",
        "accepted",
        "handling",
        "review",
        "approval",
        "decided",
        "result_ready",
        "completed",
        "withdrawn",
        "terminated",
    ];
    let data = context! { q => q, table => table, depts => depts, states => states };
    ctx.render(StatusCode::OK, "supervisor/search.html", data)
}

/// `GET /supervisor/cases/{number}`: one case with its whole trace.
pub async fn case(StaffCtx(ctx): StaffCtx, Path(number): Path<String>) -> Response {
    if let Err(r) = allowed(&ctx, false) {
        return r;
    }
    render_case(&ctx, &number, StatusCode::OK, None, None).await
}

async fn render_case(
    ctx: &Ctx,
    number: &str,
    status: StatusCode,
    error: Option<String>,
    personal: Option<minijinja::Value>,
) -> Response {
    let view = match ctx.node.case_for_staff(number).await {
        Ok(v) => v,
        Err(e) => return ctx.error(&e),
    };
    let events = match ctx.node.store.case_events(&view.number).await {
        Ok(e) => e,
        Err(e) => return ctx.error(&e.into()),
    };
    let trace: Vec<_> = events
        .iter()
        .filter_map(|e| e.record().map(|r| (e, r)))
        .map(|(e, r)| {
            context! {
                seq => e.local_seq,
                kind => r.event.kind(),
                by => r.actor.username,
                role => r.actor.role.as_str(),
                node => r.actor.node,
                at => r.at_ms,
                hash => e.entry.hash.to_hex().chars().take(12).collect::<String>(),
                body => serde_json::to_string(&r.event).unwrap_or_default(),
                detail => match &r.event {
                    crate::domain::case::Event::HandedOut { recipient, collection } => {
                        let t = crate::domain::handout::describe(recipient, collection.as_ref());
                        Some(ctx.pick(&t.zh, &t.en))
                    }
                    crate::domain::case::Event::Rated { score, channel, comment } => {
                        Some(rated_line(ctx, *score, *channel, comment))
                    }
                    _ => None,
                },
            }
        })
        .collect();
    let holder_here = view.case.holder.as_deref() == Some(ctx.node.id.as_str());
    // The hall that decided: the writer of the decision (or of the
    // completion at the window), not the hall holding the case now (after
    // a decision above, the accepting window holds it for hand-out).
    let decided_at = events
        .iter()
        .filter_map(|e| e.record())
        .filter(|r| {
            matches!(
                r.event.kind(),
                "decided" | "completed_at_window" | "trust_issued"
            )
        })
        .map(|r| r.actor.node.clone())
        .next_back();
    // Appeals against the case's warnings; the district decides those
    // still open.
    let appeals = appeal_lines(ctx, &view.case, ctx.node.id.depth() == 0);
    let data = context! {
        appeals => appeals,
        v => view,
        decided_at => decided_at,
        trace => trace,
        can_terminate => holder_here && !view.state.is_final() && view.case.decided_at_ms.is_none(),
        dept => dept_name(ctx, &view.case.received.department),
        error => error,
        personal => personal,
        may_ask_personal => ctx.staff.as_ref().is_some_and(|s| s.role == Role::Supervisor),
    };
    ctx.render(status, "supervisor/case.html", data)
}

/// The case page again, with the error of the action that failed on it.
async fn case_with_error(ctx: &Ctx, number: &str, e: &Error) -> Response {
    let message = ctx.pick(&e.message_zh, &e.message_en);
    render_case(ctx, number, e.status(), Some(message), None).await
}

/// A rating as a case's trace shows it: the score in words, the channel
/// it came from, and the comment.
pub(super) fn rated_line(
    ctx: &Ctx,
    score: u8,
    channel: crate::domain::case::Channel,
    comment: &str,
) -> String {
    let mut line = format!(
        "{} · {}",
        ctx.phrase(&format!("score.{score}")),
        ctx.phrase(&format!("channel.{}", channel.as_str()))
    );
    if !comment.trim().is_empty() {
        line.push_str(" · ");
        line.push_str(comment.trim());
    }
    line
}

/// `POST /supervisor/cases/{number}/terminate`.
pub async fn terminate(Path(number): Path<String>, form: StaffForm) -> Response {
    let StaffForm { ctx, fields } = form;
    let me = match ctx.require(&[Role::Supervisor], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let action = Action::Terminate {
        reason: fields.text("reason"),
    };
    match ctx
        .node
        .act(&me.username, me.role, None, &number, action)
        .await
    {
        Ok(v) => ctx.redirect(
            &format!("/supervisor/cases/{}", v.number),
            Some(Flash::ok("flash.terminated", &[])),
        ),
        Err(e) => case_with_error(&ctx, &number, &e).await,
    }
}

/// `POST /supervisor/cases/{number}/personal`: a supervisor's request,
/// with a reason, for the personal data of one case. The service keeps
/// the request and the answer in the audit log and fetches the sections
/// this hall holds withheld from the hall below that keeps them; the page
/// shows them in this answer only (nothing of them is stored here).
pub async fn personal(Path(number): Path<String>, form: StaffForm) -> Response {
    let StaffForm { ctx, fields } = form;
    let me = match ctx.require(&[Role::Supervisor], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let reason = fields.text("reason");
    match ctx
        .node
        .request_personal_data(&number, &reason, &me.username)
        .await
    {
        Ok(data) => {
            let a = &data.case.received.applicant;
            let shown = context! {
                name => a.name,
                id_number => a.id_number,
                phone => a.phone,
                counts => ctx.phrase_with("sup.personal_counts", &[
                    ("fetched", &data.fetched),
                    ("withheld", &data.withheld),
                ]),
                audited => ctx.phrase_with("sup.personal_audited", &[("reason", &reason.trim())]),
            };
            render_case(&ctx, &number, StatusCode::OK, None, Some(shown)).await
        }
        Err(e) => case_with_error(&ctx, &number, &e).await,
    }
}

/// The appeals against a case's warnings as the case pages list them, each
/// with a form to decide it where `decide` holds and it is undecided.
pub fn appeal_lines(
    ctx: &Ctx,
    case: &crate::domain::case::Case,
    decide: bool,
) -> Vec<minijinja::Value> {
    case.appeals
        .iter()
        .map(|a| {
            let level = ctx.phrase(&format!("warn.{}", a.level.as_str()));
            let rule = ctx.phrase(&format!("warn_rule.{}", a.rule.as_str()));
            let status = a.status().as_str();
            let hall = ctx
                .node
                .hall_name(&a.hall, ctx.lang == super::web::Lang::En);
            context! {
                rule => a.rule.as_str(),
                level => a.level.as_str(),
                title => ctx.phrase_with("case.appeal_title", &[("level", &level), ("rule", &rule)]),
                status => ctx.phrase(&format!("warn_status.{status}")),
                appeal => ctx.phrase_with("case.appeal_by", &[("by", &a.by), ("hall", &hall), ("reason", &a.reason)]),
                decision => a.decision.as_ref().map(|d| ctx.phrase_with(
                    if d.upheld { "case.appeal_upheld" } else { "case.appeal_revoked" },
                    &[("by", &d.by), ("reason", &d.reason)],
                )),
                decide => decide && a.decision.is_none(),
            }
        })
        .collect()
}

/// `POST /supervisor/cases/{number}/appeal`: the district upholds or
/// revokes a hall's appeal against a warning of the case.
pub async fn decide_appeal(Path(number): Path<String>, form: StaffForm) -> Response {
    let StaffForm { ctx, fields } = form;
    let me = match ctx.require(&[Role::Supervisor], WHAT) {
        Ok(s) => s.clone(),
        Err(r) => return r,
    };
    let rule = WarningRule::parse(&fields.text("rule"));
    let level = Warning::parse(&fields.text("level")).filter(|l| *l != Warning::Green);
    let verdict = fields.text("verdict");
    let result = match (rule, level, verdict.as_str()) {
        (Some(rule), Some(level), v @ ("uphold" | "revoke")) => {
            ctx.node
                .decide_appeal(
                    &number,
                    rule,
                    level,
                    v == "uphold",
                    &fields.text("reason"),
                    &me.username,
                )
                .await
        }
        _ => Err(Error::bad_request("bad_action", &[])),
    };
    match result {
        Ok(()) => ctx.redirect(
            &format!("/supervisor/cases/{}", number.trim()),
            Some(Flash::ok("flash.appeal_decided", &[])),
        ),
        Err(e) => case_with_error(&ctx, &number, &e).await,
    }
}

/// `GET /supervisor/export/{table}`: any table of the supervisor pages as
/// CSV, built from the same query as the page.
pub async fn export(
    StaffCtx(ctx): StaffCtx,
    Path(table): Path<String>,
    Query(q): Query<SupQuery>,
) -> Response {
    let fleet = matches!(table.as_str(), "fleet" | "security");
    if let Err(r) = allowed(&ctx, fleet) {
        return r;
    }
    let tables = match table.as_str() {
        "red" | "yellow" | "follow_up" | "forwarding" => warning_tables(&ctx, &q).await,
        "search" => search_table(&ctx, &q).await.map(|t| vec![t]),
        "fleet" | "security" => stats::fleet_tables(&ctx).await,
        t if t.starts_with("stats-") => stats::stats(&ctx, &q).await.map(|s| s.tables),
        _ => Ok(Vec::new()),
    };
    match tables {
        Ok(ts) => match ts.into_iter().find(|t| t.id == table) {
            Some(t) => {
                if let Some(me) = &ctx.staff {
                    let detail = format!("{} rows as CSV", t.rows.len());
                    ctx.node
                        .audit("data_exported", &me.username, me.role, &table, &detail)
                        .await;
                }
                t.csv_response()
            }
            None => ctx.error(&Error::not_found("unknown_table", &[("table", &table)])),
        },
        Err(e) => ctx.error(&e),
    }
}
