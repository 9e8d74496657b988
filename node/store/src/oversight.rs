//! Read queries for oversight (电子监察): deadline watch lists, case search,
//! volume and time statistics, and the fleet table.
//!
//! These read only the indexed columns of the `cases` read model (never the
//! JSON body, except where a caller needs the whole case), group in SQL, and
//! bucket days with BIGINT arithmetic (`(ms + 8 h) / 1 day` is the China
//! day), so the same text runs on SQLite and PostgreSQL.

use federation::replication::QueueDay;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{CaseRow, Store, StoreError};
use onewindow_domain::case::Case;

/// Which cases an overseer sees: all of them (the root), or those accepted
/// in the subtree of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every case in the store.
    All,
    /// Cases accepted by this node or a node below it.
    Subtree(String),
}

/// Milliseconds from UTC to China time (UTC+8).
pub const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// The open (running) states in which deadlines are watched.
pub const OPEN_STATES: [&str; 4] = ["accepted", "handling", "review", "approval"];

/// A case's indexed columns, without the body.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseBrief {
    /// Case number.
    pub id: String,
    /// Matter code.
    pub matter_code: String,
    /// Implementing department.
    pub department: String,
    /// Accepting node.
    pub accepting_node: String,
    /// Holder node.
    pub holder: Option<String>,
    /// State name.
    pub state: String,
    /// Suspended.
    pub suspended: bool,
    /// Last four characters of the applicant's identifier.
    pub applicant_last4: String,
    /// Received (ms).
    pub received_at_ms: i64,
    /// Accepted (ms).
    pub accepted_at_ms: Option<i64>,
    /// Closed (ms).
    pub closed_at_ms: Option<i64>,
    /// Statutory due date.
    pub statutory_due: Option<String>,
    /// Committed due date.
    pub committed_due: Option<String>,
    /// Stage due date.
    pub stage_due: Option<String>,
    /// Warning level as stored at the last event.
    pub warning: String,
    /// An immediate matter.
    pub immediate: bool,
    /// Decision.
    pub granted: Option<bool>,
    /// Rating 1..5.
    pub rating: Option<i64>,
    /// While a bad rating's follow-up is open, the day it is due.
    pub follow_up_due: Option<String>,
    /// Appeals against the case's warnings, with their decisions.
    pub appeals: Vec<onewindow_domain::case::WarningAppeal>,
    /// How late it reached the hall that decides it, if late.
    pub late_forwarding: Option<onewindow_domain::case::LateForwarding>,
}

impl CaseBrief {
    /// The appeal against the `rule` warning at `level`, if any.
    pub fn appeal(
        &self,
        rule: onewindow_domain::case::WarningRule,
        level: onewindow_domain::case::Warning,
    ) -> Option<&onewindow_domain::case::WarningAppeal> {
        self.appeals
            .iter()
            .find(|a| a.rule == rule && a.level == level)
    }
}

impl From<&CaseRow> for CaseBrief {
    fn from(r: &CaseRow) -> Self {
        CaseBrief {
            id: r.id.clone(),
            matter_code: r.matter_code.clone(),
            department: r.department.clone(),
            accepting_node: r.accepting_node.clone(),
            holder: r.holder.clone(),
            state: r.state.clone(),
            suspended: r.suspended,
            applicant_last4: r.applicant_last4.clone(),
            received_at_ms: r.received_at_ms,
            accepted_at_ms: r.accepted_at_ms,
            closed_at_ms: r.closed_at_ms,
            statutory_due: r.statutory_due.clone(),
            committed_due: r.committed_due.clone(),
            stage_due: r.stage_due.clone(),
            warning: r.warning.clone(),
            immediate: r.immediate,
            granted: r.granted,
            rating: r.rating,
            follow_up_due: r.follow_up_due.clone(),
            appeals: r.case.appeals.clone(),
            late_forwarding: r.case.late_forwarding.clone(),
        }
    }
}

const BRIEF: &str = "SELECT id, matter_code, department, accepting_node, holder, state, suspended, \
     applicant_last4, received_at_ms, accepted_at_ms, closed_at_ms, statutory_due, committed_due, \
     stage_due, warning, immediate, granted, rating, follow_up_due, appeals, late_forwarding FROM cases";

fn brief(r: &AnyRow) -> Result<CaseBrief, StoreError> {
    let suspended: i64 = r.try_get("suspended")?;
    let immediate: i64 = r.try_get("immediate")?;
    let granted: Option<i64> = r.try_get("granted")?;
    Ok(CaseBrief {
        id: r.try_get("id")?,
        matter_code: r.try_get("matter_code")?,
        department: r.try_get("department")?,
        accepting_node: r.try_get("accepting_node")?,
        holder: r.try_get("holder")?,
        state: r.try_get("state")?,
        suspended: suspended != 0,
        applicant_last4: r.try_get("applicant_last4")?,
        received_at_ms: r.try_get("received_at_ms")?,
        accepted_at_ms: r.try_get("accepted_at_ms")?,
        closed_at_ms: r.try_get("closed_at_ms")?,
        statutory_due: r.try_get("statutory_due")?,
        committed_due: r.try_get("committed_due")?,
        stage_due: r.try_get("stage_due")?,
        warning: r.try_get("warning")?,
        immediate: immediate != 0,
        granted: granted.map(|g| g != 0),
        rating: r.try_get("rating")?,
        follow_up_due: r.try_get("follow_up_due")?,
        appeals: {
            let json: Option<String> = r.try_get("appeals")?;
            json.and_then(|j| serde_json::from_str(&j).ok())
                .unwrap_or_default()
        },
        late_forwarding: {
            let json: Option<String> = r.try_get("late_forwarding")?;
            json.and_then(|j| serde_json::from_str(&j).ok())
        },
    })
}

/// A WHERE clause under construction with `$N` placeholders and text binds.
#[derive(Debug, Default)]
struct Where {
    sql: String,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

impl Where {
    /// Only running cases (of the open states).
    fn open(&mut self) {
        self.one_of(
            "state",
            &OPEN_STATES
                .map(str::to_owned)
                .into_iter()
                .collect::<Vec<_>>(),
        );
    }

    fn next(&self) -> String {
        format!("${}", self.args.len() + 1)
    }

    fn text(&mut self, v: &str) -> String {
        let p = self.next();
        self.args.push(Arg::Text(v.to_owned()));
        p
    }

    fn int(&mut self, v: i64) -> String {
        let p = self.next();
        self.args.push(Arg::Int(v));
        p
    }

    fn and(&mut self, clause: &str) {
        self.sql.push_str(if self.sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(clause);
    }

    fn scope(&mut self, scope: &Scope) {
        if let Scope::Subtree(id) = scope {
            let a = self.text(id);
            let b = self.text(&format!("{}.%", like_escape(id)));
            self.and(&format!(
                "(accepting_node = {a} OR accepting_node LIKE {b} ESCAPE '\\')"
            ));
        }
    }

    fn one_of(&mut self, col: &str, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let ps: Vec<String> = values.iter().map(|v| self.text(v)).collect();
        self.and(&format!("{col} IN ({})", ps.join(", ")));
    }

    fn received_between(&mut self, from_ms: i64, to_ms: i64) {
        let a = self.int(from_ms);
        let b = self.int(to_ms);
        self.and(&format!("received_at_ms >= {a} AND received_at_ms < {b}"));
    }

    fn query<'q>(
        &'q self,
        sql: &'q str,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let mut q = sqlx::query(sql);
        for a in &self.args {
            q = match a {
                Arg::Text(s) => q.bind(s.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// What to search cases by; every given field must match.
#[derive(Debug, Clone)]
pub struct CaseSearch {
    /// Whose cases.
    pub scope: Scope,
    /// Case number, or its beginning.
    pub number: Option<String>,
    /// Last four characters of the applicant's identifier.
    pub last4: Option<String>,
    /// Any of these matters (empty: any matter).
    pub matter_codes: Vec<String>,
    /// Any of these states (empty: any state).
    pub states: Vec<String>,
    /// Only this department.
    pub department: Option<String>,
    /// Only cases accepted by this node.
    pub accepting_node: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

impl CaseSearch {
    /// A search of `scope` with no other condition.
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            number: None,
            last4: None,
            matter_codes: Vec::new(),
            states: Vec::new(),
            department: None,
            accepting_node: None,
            limit: 200,
        }
    }
}

/// One row of a grouped count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CountRow {
    /// The group: a matter code, a department code or a hall.
    pub key: String,
    /// Cases.
    pub cases: i64,
    /// Of which immediate matters.
    pub immediate: i64,
}

/// Cases received per China day and accepting hall.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DayHallRow {
    /// Days since 1970-01-01 in China time.
    pub day: i64,
    /// Accepting node.
    pub hall: String,
    /// Cases.
    pub cases: i64,
    /// Of which immediate matters.
    pub immediate: i64,
}

/// The figures of a period ([`Store::period_figures`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodFigures {
    /// Cases by China day and accepting hall.
    pub by_day: Vec<DayHallRow>,
    /// By matter, busiest first.
    pub by_matter: Vec<CountRow>,
    /// By department, busiest first.
    pub by_department: Vec<CountRow>,
    /// Acceptance to closing.
    pub handling: Distribution,
    /// Ratings by score 1..5.
    pub ratings: [i64; 5],
    /// By state now.
    pub states: Vec<(String, i64)>,
    /// Queue waiting times.
    pub waits: Distribution,
    /// Trust-first results by where they stand now (`pending`, `passed`,
    /// `revoked`).
    pub trust: Vec<(String, i64)>,
}

/// A distribution over fixed buckets, with totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Distribution {
    /// Count per bucket, in bucket order.
    pub buckets: Vec<i64>,
    /// Number of values.
    pub count: i64,
    /// Sum of the values (ms).
    pub total_ms: i64,
    /// Largest value (ms).
    pub max_ms: i64,
}

/// Upper bounds (exclusive, ms) of the handling-time buckets; a last bucket
/// holds everything longer.
pub const HANDLING_BOUNDS_MS: [i64; 6] = [
    3_600_000,
    DAY_MS,
    3 * DAY_MS,
    7 * DAY_MS,
    15 * DAY_MS,
    30 * DAY_MS,
];

/// Upper bounds (exclusive, ms) of the queue waiting-time buckets.
pub const WAIT_BOUNDS_MS: [i64; 5] = [
    5 * 60_000,
    10 * 60_000,
    15 * 60_000,
    30 * 60_000,
    60 * 60_000,
];

fn bucket_case(expr: &str, bounds: &[i64]) -> String {
    let mut s = String::from("CAST(CASE");
    for (i, b) in bounds.iter().enumerate() {
        s.push_str(&format!(" WHEN {expr} < {b} THEN {i}"));
    }
    s.push_str(&format!(" ELSE {} END AS BIGINT)", bounds.len()));
    s
}

async fn distribution(
    store: &Store,
    expr: &str,
    bounds: &[i64],
    from: &str,
    w: &Where,
) -> Result<Distribution, StoreError> {
    let sql = format!(
        "SELECT {} AS b, COUNT(*) AS n, CAST(SUM({expr}) AS BIGINT) AS total, CAST(MAX({expr}) AS BIGINT) AS top \
         FROM {from}{} GROUP BY 1",
        bucket_case(expr, bounds),
        w.sql
    );
    let rows = w.query(&sql).fetch_all(store.pool()).await?;
    let mut d = Distribution {
        buckets: vec![0; bounds.len() + 1],
        ..Distribution::default()
    };
    for r in rows {
        let b: i64 = r.try_get("b")?;
        let n: i64 = r.try_get("n")?;
        let total: Option<i64> = r.try_get("total")?;
        let top: Option<i64> = r.try_get("top")?;
        if let Some(slot) = usize::try_from(b).ok().and_then(|b| d.buckets.get_mut(b)) {
            *slot += n;
        }
        d.count += n;
        d.total_ms += total.unwrap_or(0);
        d.max_ms = d.max_ms.max(top.unwrap_or(0));
    }
    Ok(d)
}

/// A node as the fleet table knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FleetRow {
    /// Node id.
    pub node_id: String,
    /// Parent node id.
    pub parent: Option<String>,
    /// Revoked (ms).
    pub revoked_at_ms: Option<i64>,
    /// A link is up.
    pub connected: bool,
    /// Last heard of (ms).
    pub last_seen_ms: Option<i64>,
    /// Software version.
    pub software: Option<String>,
    /// Catalogue version in use.
    pub catalogue_version: Option<i64>,
    /// Entries not yet acknowledged upstream.
    pub backlog: Option<i64>,
    /// Replication lag (ms).
    pub lag_ms: Option<i64>,
    /// Clock skew against this node (ms).
    pub skew_ms: Option<i64>,
    /// The refusals in a row on the link, if any.
    pub refusal: Option<super::replica::RefusalRecord>,
    /// The serial of the certificate the peer last presented.
    pub cert_serial: Option<String>,
    /// Its period (ms since the epoch).
    pub cert_not_before_ms: Option<i64>,
    /// Its end (ms since the epoch).
    pub cert_not_after_ms: Option<i64>,
}

/// A case with its read-model columns, for work queues.
#[derive(Debug, Clone, PartialEq)]
pub struct BriefCase {
    /// Columns.
    pub brief: CaseBrief,
    /// The whole case.
    pub case: Case,
}

impl Store {
    /// Cases matching a search, newest first.
    pub async fn search_cases(&self, s: &CaseSearch) -> Result<Vec<CaseBrief>, StoreError> {
        let mut w = Where::default();
        w.scope(&s.scope);
        if let Some(n) = s.number.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            let n = n.to_uppercase();
            let p = w.text(&format!("{}%", like_escape(&n)));
            w.and(&format!("id LIKE {p} ESCAPE '\\'"));
        }
        if let Some(l) = s.last4.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            let p = w.text(&l.to_uppercase());
            w.and(&format!("applicant_last4 = {p}"));
        }
        w.one_of("matter_code", &s.matter_codes);
        w.one_of("state", &s.states);
        if let Some(d) = &s.department {
            let p = w.text(d);
            w.and(&format!("department = {p}"));
        }
        if let Some(a) = &s.accepting_node {
            let p = w.text(a);
            w.and(&format!("accepting_node = {p}"));
        }
        let limit = s.limit.clamp(1, 10_000);
        let sql = format!(
            "{BRIEF}{} ORDER BY received_at_ms DESC, id LIMIT {limit}",
            w.sql
        );
        let rows = w.query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(brief).collect()
    }

    /// Open, running cases that are near or past a deadline: committed due on
    /// or before `horizon`, any due date before `today`, or a stored warning.
    /// Suspended cases (clock stopped) are left out. Most urgent first.
    pub async fn deadline_watch(
        &self,
        scope: &Scope,
        today: &str,
        horizon: &str,
    ) -> Result<Vec<CaseBrief>, StoreError> {
        let mut w = Where::default();
        w.open();
        w.and("suspended = 0");
        let h = w.text(horizon);
        let t = w.text(today);
        w.and(&format!(
            "(committed_due <= {h} OR statutory_due < {t} OR stage_due < {t} OR warning <> 'green')"
        ));
        w.scope(scope);
        let sql = format!("{BRIEF}{} ORDER BY committed_due, received_at_ms", w.sql);
        let rows = w.query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(brief).collect()
    }

    /// Running cases that reached the hall that decides them late, the
    /// latest arrivals first.
    pub async fn forwarding_watch(&self, scope: &Scope) -> Result<Vec<CaseBrief>, StoreError> {
        let mut w = Where::default();
        w.open();
        w.and("late_forwarding IS NOT NULL");
        w.scope(scope);
        let sql = format!("{BRIEF}{} ORDER BY received_at_ms DESC", w.sql);
        let rows = w.query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(brief).collect()
    }

    /// Cases whose bad rating's follow-up is open and due on or before
    /// `horizon`, earliest due first.
    pub async fn follow_up_watch(
        &self,
        scope: &Scope,
        horizon: &str,
    ) -> Result<Vec<CaseBrief>, StoreError> {
        let mut w = Where::default();
        let h = w.text(horizon);
        w.and(&format!(
            "follow_up_due IS NOT NULL AND follow_up_due <= {h}"
        ));
        w.scope(scope);
        let sql = format!("{BRIEF}{} ORDER BY follow_up_due, received_at_ms", w.sql);
        let rows = w.query(&sql).fetch_all(self.pool()).await?;
        rows.iter().map(brief).collect()
    }

    /// Cases whose follow-up is open but whose row has no due day: rated
    /// before the due day was kept (migration 0013), to fill in. Answered
    /// ones (a `followed_up` event) are left out, so that a node does not
    /// read them again at every start.
    pub async fn follow_ups_to_fill(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM cases WHERE rating >= 4 AND follow_up_due IS NULL \
             AND state IN ('completed', 'rejected') AND NOT EXISTS \
             (SELECT 1 FROM events e WHERE e.case_id <> '' AND e.case_id = cases.id AND e.kind = 'followed_up')",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Every figure of a period that the statistics and the report show:
    /// cases received in `[from_ms, to_ms)` in `scope` by day and hall, by
    /// matter, by department, their handling times, ratings and states now,
    /// and the queue waiting times of the days `from_day..=to_day` at the
    /// halls within `within` (all held when `None`).
    pub async fn period_figures(
        &self,
        scope: &Scope,
        (from_ms, to_ms): (i64, i64),
        (from_day, to_day): (&str, &str),
        within: Option<&str>,
    ) -> Result<PeriodFigures, StoreError> {
        let (by_day, by_matter, by_department, handling, ratings, states, waits, trust) = tokio::try_join!(
            self.volume_by_day_and_hall(scope, from_ms, to_ms),
            self.volume_by(scope, from_ms, to_ms, false),
            self.volume_by(scope, from_ms, to_ms, true),
            self.handling_times(scope, from_ms, to_ms),
            self.rating_counts(scope, from_ms, to_ms),
            self.state_counts(scope, from_ms, to_ms),
            self.queue_waits_within(from_day, to_day, within),
            self.trust_counts(scope, from_ms, to_ms),
        )?;
        Ok(PeriodFigures {
            by_day,
            by_matter,
            by_department,
            handling,
            ratings,
            states,
            waits,
            trust,
        })
    }

    /// Cases received per China day and accepting hall in `[from_ms, to_ms)`.
    pub async fn volume_by_day_and_hall(
        &self,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<DayHallRow>, StoreError> {
        let mut w = Where::default();
        w.received_between(from_ms, to_ms);
        w.scope(scope);
        let sql = format!(
            "SELECT (received_at_ms + {CHINA_OFFSET_MS}) / {DAY_MS} AS d, accepting_node, COUNT(*) AS n, \
             CAST(SUM(immediate) AS BIGINT) AS imm FROM cases{} GROUP BY 1, 2 ORDER BY 1, 2",
            w.sql
        );
        let rows = w.query(&sql).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(DayHallRow {
                    day: r.try_get("d")?,
                    hall: r.try_get("accepting_node")?,
                    cases: r.try_get("n")?,
                    immediate: r.try_get::<Option<i64>, _>("imm")?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// Cases received in `[from_ms, to_ms)` per matter (`by_department`
    /// false) or per department, largest first.
    pub async fn volume_by(
        &self,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
        by_department: bool,
    ) -> Result<Vec<CountRow>, StoreError> {
        let col = if by_department {
            "department"
        } else {
            "matter_code"
        };
        let mut w = Where::default();
        w.received_between(from_ms, to_ms);
        w.scope(scope);
        let sql = format!(
            "SELECT {col} AS k, COUNT(*) AS n, CAST(SUM(immediate) AS BIGINT) AS imm FROM cases{} \
             GROUP BY 1 ORDER BY 2 DESC, 1",
            w.sql
        );
        let rows = w.query(&sql).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(CountRow {
                    key: r.try_get("k")?,
                    cases: r.try_get("n")?,
                    immediate: r.try_get::<Option<i64>, _>("imm")?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// How long completed cases received in `[from_ms, to_ms)` took from
    /// receipt to completion, in the buckets of [`HANDLING_BOUNDS_MS`].
    pub async fn handling_times(
        &self,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Distribution, StoreError> {
        let mut w = Where::default();
        w.received_between(from_ms, to_ms);
        w.and("state = 'completed' AND closed_at_ms IS NOT NULL");
        w.scope(scope);
        distribution(
            self,
            "(closed_at_ms - received_at_ms)",
            &HANDLING_BOUNDS_MS,
            "cases",
            &w,
        )
        .await
    }

    /// Ratings 1..5 of cases received in `[from_ms, to_ms)`: index 0 holds
    /// the count of score 1.
    pub async fn rating_counts(
        &self,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<[i64; 5], StoreError> {
        let mut w = Where::default();
        w.received_between(from_ms, to_ms);
        w.and("rating IS NOT NULL");
        w.scope(scope);
        let sql = format!(
            "SELECT rating, COUNT(*) AS n FROM cases{} GROUP BY 1",
            w.sql
        );
        let mut out = [0; 5];
        for r in w.query(&sql).fetch_all(self.pool()).await? {
            let score: i64 = r.try_get("rating")?;
            let n: i64 = r.try_get("n")?;
            if let Some(slot) = usize::try_from(score - 1).ok().and_then(|i| out.get_mut(i)) {
                *slot += n;
            }
        }
        Ok(out)
    }

    /// Cases received in `[from_ms, to_ms)` per state.
    pub async fn state_counts(
        &self,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut w = Where::default();
        w.received_between(from_ms, to_ms);
        w.scope(scope);
        let sql = format!(
            "SELECT state, COUNT(*) AS n FROM cases{} GROUP BY 1 ORDER BY 2 DESC, 1",
            w.sql
        );
        w.query(&sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    /// Trust-first results received in `[from_ms, to_ms)` by where they
    /// stand now (`pending`, `passed`, `revoked`); other cases are left out.
    pub async fn trust_counts(
        &self,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut w = Where::default();
        w.received_between(from_ms, to_ms);
        w.scope(scope);
        let sql = format!(
            "SELECT trust, COUNT(*) AS n FROM cases{} GROUP BY 1 ORDER BY 1",
            w.sql
        );
        let mut out = Vec::new();
        for r in w.query(&sql).fetch_all(self.pool()).await? {
            let trust: Option<String> = r.try_get("trust")?;
            if let Some(t) = trust {
                out.push((t, r.try_get("n")?));
            }
        }
        Ok(out)
    }

    /// Waiting times (taken to called) of the queue numbers of the days
    /// `from_day..=to_day` (`YYYY-MM-DD`), in the buckets of
    /// [`WAIT_BOUNDS_MS`]: this hall's, and those the halls below reported.
    pub async fn queue_waits(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<Distribution, StoreError> {
        self.queue_waits_within(from_day, to_day, None).await
    }

    /// [`Store::queue_waits`] of the halls in the subtree of `within` only,
    /// when given.
    pub async fn queue_waits_within(
        &self,
        from_day: &str,
        to_day: &str,
        within: Option<&str>,
    ) -> Result<Distribution, StoreError> {
        let in_subtree = |hall: &str| {
            within.is_none_or(|w| {
                hall == w || hall.strip_prefix(w).is_some_and(|r| r.starts_with('.'))
            })
        };
        let me = self.node.as_str();
        let mut w = Where::default();
        let a = w.text(from_day);
        let b = w.text(to_day);
        w.and(&format!(
            "day >= {a} AND day <= {b} AND wait_ms IS NOT NULL"
        ));
        if !in_subtree(me) {
            w.and("1 = 0");
        }
        let mut d = distribution(self, "wait_ms", &WAIT_BOUNDS_MS, "queue_tickets", &w).await?;
        for q in self.queue_days_held(from_day, to_day).await? {
            if q.hall == me || !in_subtree(&q.hall) {
                continue;
            }
            if let Some(slot) = usize::try_from(q.bucket)
                .ok()
                .and_then(|b| d.buckets.get_mut(b))
            {
                *slot += q.n;
                d.count += q.n;
                d.total_ms += q.total_ms;
                d.max_ms = d.max_ms.max(q.max_ms);
            }
        }
        Ok(d)
    }

    /// The reported queue summaries held for the days `from_day..=to_day`.
    async fn queue_days_held(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<QueueDay>, StoreError> {
        let rows = sqlx::query(
            "SELECT hall, day, bucket, n, total_ms, max_ms FROM queue_days WHERE day >= $1 AND day <= $2",
        )
        .bind(from_day)
        .bind(to_day)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let bucket: i64 = r.try_get("bucket")?;
                Ok(QueueDay {
                    hall: r.try_get("hall")?,
                    day: r.try_get("day")?,
                    bucket: u32::try_from(bucket).unwrap_or(u32::MAX),
                    n: r.try_get("n")?,
                    total_ms: r.try_get("total_ms")?,
                    max_ms: r.try_get("max_ms")?,
                })
            })
            .collect()
    }

    /// What this node reports up of queue waits on `days`: its own hall's
    /// numbers, summarised, and what its halls below reported.
    pub async fn queue_report(&self, days: &[String]) -> Result<Vec<QueueDay>, StoreError> {
        let (Some(from), Some(to)) = (days.iter().min(), days.iter().max()) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT day, {} AS b, COUNT(*) AS n, CAST(SUM(wait_ms) AS BIGINT) AS total, \
             CAST(MAX(wait_ms) AS BIGINT) AS top FROM queue_tickets \
             WHERE day >= $1 AND day <= $2 AND wait_ms IS NOT NULL GROUP BY day, 2",
            bucket_case("wait_ms", &WAIT_BOUNDS_MS)
        );
        let rows = sqlx::query(&sql)
            .bind(from.as_str())
            .bind(to.as_str())
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let b: i64 = r.try_get("b")?;
            let total: Option<i64> = r.try_get("total")?;
            let top: Option<i64> = r.try_get("top")?;
            out.push(QueueDay {
                hall: self.node.to_string(),
                day: r.try_get("day")?,
                bucket: u32::try_from(b).unwrap_or(u32::MAX),
                n: r.try_get("n")?,
                total_ms: total.unwrap_or(0),
                max_ms: top.unwrap_or(0),
            });
        }
        let me = self.node.as_str();
        out.extend(
            self.queue_days_held(from, to)
                .await?
                .into_iter()
                .filter(|q| q.hall != me && days.contains(&q.day)),
        );
        Ok(out)
    }

    /// Takes a child's queue summaries: those of halls in its subtree
    /// (itself included) replace what is held of each (hall, day) they
    /// name; any other is left out (their count is returned).
    pub async fn queue_reported(
        &self,
        peer: &str,
        queue: &[QueueDay],
    ) -> Result<usize, StoreError> {
        let (good, outside) = queue_inside(peer, queue);
        if good.is_empty() {
            return Ok(outside);
        }
        let mut w = self.write().await?;
        write_queue_days(&mut w, &good).await?;
        w.commit().await?;
        Ok(outside)
    }

    /// Cases whose result waits at this accepting node's window, oldest first.
    pub async fn results_waiting(
        &self,
        accepting_node: &str,
        limit: i64,
    ) -> Result<Vec<CaseBrief>, StoreError> {
        let sql = format!(
            "{BRIEF} WHERE state = 'result_ready' AND accepting_node = $1 ORDER BY received_at_ms LIMIT {}",
            limit.clamp(1, 10_000)
        );
        let rows = sqlx::query(&sql)
            .bind(accepting_node)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(brief).collect()
    }

    /// Cases in the back office (handling, review, approval) where
    /// `department` co-handles and its sub-case is still open.
    pub async fn open_sub_cases(
        &self,
        department: &str,
        limit: i64,
    ) -> Result<Vec<BriefCase>, StoreError> {
        let pattern = format!("%|{}|%", like_escape(department));
        let sql = format!(
            "{BRIEF} WHERE state IN ('handling', 'review', 'approval') AND department <> $1 \
             AND open_subs LIKE $2 ESCAPE '\\' ORDER BY committed_due, received_at_ms LIMIT {}",
            limit.clamp(1, 10_000)
        );
        let rows = sqlx::query(&sql)
            .bind(department)
            .bind(pattern)
            .fetch_all(self.pool())
            .await?;
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut cases = self.fold_cases(&refs).await?;
        let mut out = Vec::new();
        for r in &rows {
            let id: String = r.try_get("id")?;
            let case = cases
                .remove(&id)
                .ok_or_else(|| StoreError::Corrupt(format!("case {id} has no events")))?;
            let open = case
                .sub_cases
                .get(department)
                .is_some_and(|s| s.status == onewindow_domain::case::SubCaseStatus::Open);
            if open {
                out.push(BriefCase {
                    brief: brief(r)?,
                    case,
                });
            }
        }
        Ok(out)
    }

    /// The fleet table, by node id.
    pub async fn oversight_fleet(&self) -> Result<Vec<FleetRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT node_id, parent, revoked_at_ms, connected, last_seen_ms, software, \
             catalogue_version, backlog, lag_ms, skew_ms, refusal_code, refusal_count, \
             refused_at_ms, next_attempt_ms, held_back_catalogue, cert_serial, \
             cert_not_before_ms, cert_not_after_ms FROM fleet ORDER BY node_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let connected: i64 = r.try_get("connected")?;
                Ok(FleetRow {
                    node_id: r.try_get("node_id")?,
                    parent: r.try_get("parent")?,
                    revoked_at_ms: r.try_get("revoked_at_ms")?,
                    connected: connected != 0,
                    last_seen_ms: r.try_get("last_seen_ms")?,
                    software: r.try_get("software")?,
                    catalogue_version: r.try_get("catalogue_version")?,
                    backlog: r.try_get("backlog")?,
                    lag_ms: r.try_get("lag_ms")?,
                    skew_ms: r.try_get("skew_ms")?,
                    refusal: super::replica::refusal_of(
                        r.try_get("refusal_code")?,
                        r.try_get("refusal_count")?,
                        r.try_get("refused_at_ms")?,
                        r.try_get("next_attempt_ms")?,
                        r.try_get("held_back_catalogue")?,
                    ),
                    cert_serial: r.try_get("cert_serial")?,
                    cert_not_before_ms: r.try_get("cert_not_before_ms")?,
                    cert_not_after_ms: r.try_get("cert_not_after_ms")?,
                })
            })
            .collect()
    }
}

/// Of a child's queue summaries, those of halls in its subtree (itself
/// included) with a day, bucket and count that make sense, and how many
/// others there were.
pub(crate) fn queue_inside(peer: &str, queue: &[QueueDay]) -> (Vec<QueueDay>, usize) {
    let Ok(peer_id) = federation::NodeId::new(peer) else {
        return (Vec::new(), queue.len());
    };
    let ok = |q: &QueueDay| {
        federation::NodeId::new(q.hall.as_str()).is_ok_and(|h| h.is_in_subtree_of(&peer_id))
            && chrono::NaiveDate::parse_from_str(&q.day, "%Y-%m-%d").is_ok()
            && usize::try_from(q.bucket).is_ok_and(|b| b <= WAIT_BOUNDS_MS.len())
            && q.n >= 0
    };
    let good: Vec<QueueDay> = queue.iter().filter(|q| ok(q)).cloned().collect();
    let outside = queue.len() - good.len();
    (good, outside)
}

/// Writes a child's queue summaries: each replaces what is held of its
/// (hall, day).
pub(crate) async fn write_queue_days(
    w: &mut crate::WriteTx<'_>,
    good: &[QueueDay],
) -> Result<(), StoreError> {
    let mut cleared: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
    for q in good {
        if cleared.insert((q.hall.as_str(), q.day.as_str())) {
            sqlx::query("DELETE FROM queue_days WHERE hall = $1 AND day = $2")
                .bind(q.hall.as_str())
                .bind(q.day.as_str())
                .execute(w.conn())
                .await?;
        }
    }
    for q in good {
        sqlx::query(
            "INSERT INTO queue_days (hall, day, bucket, n, total_ms, max_ms) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (hall, day, bucket) DO UPDATE SET n = excluded.n, total_ms = excluded.total_ms, max_ms = excluded.max_ms",
        )
        .bind(q.hall.as_str())
        .bind(q.day.as_str())
        .bind(i64::from(q.bucket))
        .bind(q.n)
        .bind(q.total_ms)
        .bind(q.max_ms)
        .execute(w.conn())
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("a_b%c\\"), "a\\_b\\%c\\\\");
    }

    #[test]
    fn buckets_are_bigint_cases() {
        assert_eq!(
            bucket_case("x", &[1, 2]),
            "CAST(CASE WHEN x < 1 THEN 0 WHEN x < 2 THEN 1 ELSE 2 END AS BIGINT)"
        );
    }

    #[test]
    fn scope_binds_the_node_and_its_subtree() {
        let mut w = Where::default();
        w.scope(&Scope::Subtree("nanhai.gui_cheng".into()));
        assert!(w.sql.contains("accepting_node = $1"));
        assert!(w.sql.contains("LIKE $2"));
        assert_eq!(w.args.len(), 2);
        let mut w = Where::default();
        w.scope(&Scope::All);
        assert!(w.sql.is_empty());
    }
}
