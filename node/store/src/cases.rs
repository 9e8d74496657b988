//! The case read model: one row per case, rewritten on every case event.

use foldhash::HashSet;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, WriteTx, list_placeholders, padded, padded_len};
use onewindow_domain::case::Case;

/// One row of the read model: indexed columns plus the whole [`Case`].
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRow {
    /// Case number.
    pub id: String,
    /// Matter code.
    pub matter_code: String,
    /// Implementing department.
    pub department: String,
    /// Accepting node.
    pub accepting_node: String,
    /// Holder node, if any.
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
    /// Statutory due date, `YYYY-MM-DD`.
    pub statutory_due: Option<String>,
    /// Committed due date.
    pub committed_due: Option<String>,
    /// Current stage due date.
    pub stage_due: Option<String>,
    /// Warning level name.
    pub warning: String,
    /// Case version.
    pub version: i64,
    /// Last change (ms).
    pub updated_at_ms: i64,
    /// An immediate matter.
    pub immediate: bool,
    /// Decision: granted (`Some(true)`), refused, or not decided.
    pub granted: Option<bool>,
    /// The applicant's rating, 1 (very satisfied) to 5.
    pub rating: Option<i64>,
    /// While a bad rating's follow-up is open, the day it is due.
    pub follow_up_due: Option<String>,
    /// While a trust-first result's post-check is open, the day it is due.
    pub post_check_due: Option<String>,
    /// A trust-first result: `pending`, `passed` or `revoked`.
    pub trust: Option<String>,
    /// The case.
    pub case: Box<Case>,
}

/// Filters for listing cases.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only these states.
    pub states: Vec<String>,
    /// Only this department.
    pub department: Option<String>,
    /// Only this matter.
    pub matter_code: Option<String>,
    /// Only this warning level.
    pub warning: Option<String>,
    /// Only cases accepted at this hall or a hall below it.
    pub hall: Option<String>,
    /// Only cases held by this hall now.
    pub held_by: Option<String>,
    /// Only open cases whose committed due date is before this day
    /// (`YYYY-MM-DD`): overdue on it.
    pub overdue_on: Option<String>,
    /// Only this applicant (normalised ID number or credit code).
    pub applicant: Option<String>,
    /// With `applicant`: its keyed digest, which finds the cases whose
    /// applicant is withheld here.
    pub applicant_digest: Option<String>,
    /// Only case numbers that start with this.
    pub number_prefix: Option<String>,
    /// Only trust-first results whose post-check is open.
    pub post_check_open: bool,
    /// At most this many rows.
    pub limit: i64,
}

/// Most case rows per upsert (a power of two, see [`super::statement_runs`]).
pub(super) const ROWS_PER_STATEMENT: usize = 256;

/// How long a submission key is remembered: a client retries within
/// minutes; a week covers a hall that was down over a holiday.
pub const SUBMISSION_KEY_DAYS: i64 = 7;

/// The departments whose parallel sub-case is open, as `|a|b|`, so that a
/// department's open work is found with `LIKE '%|dept|%'`.
pub(super) fn open_subs(case: &Case) -> String {
    let mut s = String::new();
    for (dept, sub) in &case.sub_cases {
        if sub.status == onewindow_domain::case::SubCaseStatus::Open {
            if s.is_empty() {
                s.push('|');
            }
            s.push_str(dept);
            s.push('|');
        }
    }
    s
}

/// The upsert of `rows` case rows, or with `new` the insert of rows of
/// cases not yet held. `body` is no longer written: a case is folded from
/// its events (rows written by earlier releases keep their JSON, unread).
///
/// A new case's row is a plain insert: on SQLite an upsert may end in
/// `ABORT` in its `DO UPDATE` half, so it copies every page it touches
/// into a statement journal first (2.6% of `bench replication`'s CPU, a
/// twentieth of SQLite's threads'), which `INSERT OR FAIL` does not need
/// ([`super::insert_into`]).
pub(super) fn cases_sql(backend: super::Backend, rows: usize, new: bool) -> &'static str {
    let columns = "cases (id, matter_code, department, accepting_node, holder, state, suspended, \
             applicant_last4, received_at_ms, accepted_at_ms, closed_at_ms, statutory_due, committed_due, \
             stage_due, warning, version, updated_at_ms, immediate, granted, rating, open_subs, follow_up_due, appeals, late_forwarding, post_check_due, trust, id_digest, withheld, body)";
    if new {
        return super::statement_text("new_cases", backend, rows, || {
            format!(
                "{} {columns} VALUES {}",
                super::insert_into(backend),
                values_with_empty_body(backend, rows)
            )
        });
    }
    super::statement_text("cases", backend, rows, || {
        format!(
            "{} {columns} VALUES {} \
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, state = excluded.state, \
             suspended = excluded.suspended, accepted_at_ms = excluded.accepted_at_ms, \
             closed_at_ms = excluded.closed_at_ms, statutory_due = excluded.statutory_due, \
             committed_due = excluded.committed_due, stage_due = excluded.stage_due, \
             warning = excluded.warning, version = excluded.version, \
             updated_at_ms = excluded.updated_at_ms, granted = excluded.granted, \
             rating = excluded.rating, open_subs = excluded.open_subs, \
             follow_up_due = excluded.follow_up_due, appeals = excluded.appeals, \
             late_forwarding = excluded.late_forwarding, post_check_due = excluded.post_check_due, \
             trust = excluded.trust, \
             withheld = CASE WHEN excluded.withheld = 1 THEN 1 ELSE cases.withheld END, body = ''",
            super::insert_into(backend),
            values_with_empty_body(backend, rows)
        )
    })
}

/// Binds `chunk`'s rows; a row's `withheld` flag is set when `withheld`
/// names its case (this transaction stores one of its entries withheld)
/// and otherwise left as it was.
pub(super) fn bind_cases<'q>(
    mut q: super::AnyQuery<'q>,
    chunk: &'q [CaseRow],
    withheld: &HashSet<&str>,
) -> super::AnyQuery<'q> {
    for r in chunk {
        q = q
            .bind(r.id.as_str())
            .bind(r.matter_code.as_str())
            .bind(r.department.as_str())
            .bind(r.accepting_node.as_str())
            .bind(r.holder.as_deref())
            .bind(r.state.as_str())
            .bind(i64::from(r.suspended))
            .bind(r.applicant_last4.as_str())
            .bind(r.received_at_ms)
            .bind(r.accepted_at_ms)
            .bind(r.closed_at_ms)
            .bind(r.statutory_due.as_deref())
            .bind(r.committed_due.as_deref())
            .bind(r.stage_due.as_deref())
            .bind(r.warning.as_str())
            .bind(r.version)
            .bind(r.updated_at_ms)
            .bind(i64::from(r.immediate))
            .bind(r.granted.map(i64::from))
            .bind(r.rating)
            .bind(open_subs(&r.case))
            .bind(r.follow_up_due.as_deref())
            .bind(appeals_json(&r.case))
            .bind(
                r.case
                    .late_forwarding
                    .as_ref()
                    .and_then(|l| serde_json::to_string(l).ok()),
            )
            .bind(r.post_check_due.as_deref())
            .bind(r.trust.as_deref())
            .bind(r.case.received.id_digest.as_str())
            .bind(i64::from(withheld.contains(r.id.as_str())));
    }
    q
}

pub(super) async fn flush_cases(
    tx: &mut sqlx::AnyConnection,
    backend: super::Backend,
    rows: &[CaseRow],
    new: bool,
    withheld: &HashSet<&str>,
) -> Result<(), StoreError> {
    for chunk in super::statement_runs(rows, ROWS_PER_STATEMENT) {
        let sql = cases_sql(backend, chunk.len(), new);
        bind_cases(
            super::sized_query(sql, chunk.len() * CASE_VALUES),
            chunk,
            withheld,
        )
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// A case's appeals as stored in the `appeals` column: JSON, or NULL when
/// it has none.
fn appeals_json(case: &Case) -> Option<String> {
    if case.appeals.is_empty() {
        return None;
    }
    serde_json::to_string(&case.appeals).ok()
}

/// The values [`bind_cases`] binds for each row (every column but `body`).
pub(super) const CASE_VALUES: usize = 28;

/// `(?, ..., ?, '')` rows: the bound columns and the empty body.
fn values_with_empty_body(backend: super::Backend, rows: usize) -> String {
    let mut s = String::with_capacity(rows * 110);
    let mut n = 0;
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for _ in 0..CASE_VALUES {
            n += 1;
            super::push_placeholder(&mut s, backend, n);
            s.push_str(", ");
        }
        s.push_str("'')");
    }
    s
}

/// A row's columns (those of [`SELECT`]) with its case.
fn case_row(r: &AnyRow, case: Box<Case>) -> Result<CaseRow, StoreError> {
    let suspended: i64 = r.try_get(6)?;
    let immediate: i64 = r.try_get(17)?;
    let granted: Option<i64> = r.try_get(18)?;
    Ok(CaseRow {
        id: r.try_get(0)?,
        matter_code: r.try_get(1)?,
        department: r.try_get(2)?,
        accepting_node: r.try_get(3)?,
        holder: r.try_get(4)?,
        state: r.try_get(5)?,
        suspended: suspended != 0,
        applicant_last4: r.try_get(7)?,
        received_at_ms: r.try_get(8)?,
        accepted_at_ms: r.try_get(9)?,
        closed_at_ms: r.try_get(10)?,
        statutory_due: r.try_get(11)?,
        committed_due: r.try_get(12)?,
        stage_due: r.try_get(13)?,
        warning: r.try_get(14)?,
        version: r.try_get(15)?,
        updated_at_ms: r.try_get(16)?,
        immediate: immediate != 0,
        granted: granted.map(|g| g != 0),
        rating: r.try_get(19)?,
        follow_up_due: r.try_get(20)?,
        post_check_due: r.try_get(21)?,
        trust: r.try_get(22)?,
        case,
    })
}

const SELECT: &str = "SELECT id, matter_code, department, accepting_node, holder, state, suspended, \
     applicant_last4, received_at_ms, accepted_at_ms, closed_at_ms, statutory_due, committed_due, \
     stage_due, warning, version, updated_at_ms, immediate, granted, rating, follow_up_due, post_check_due, trust FROM cases";

/// The events of these cases, in case and version order.
fn case_events_sql(backend: super::Backend, n: usize) -> String {
    format!(
        "{} WHERE case_id <> '' AND case_id IN ({}) ORDER BY case_id, case_version",
        super::EVENT_COLUMNS,
        list_placeholders(backend, padded_len(n))
    )
}

/// Folds decoded case events (in case and version order) into cases.
fn fold_events(
    events: Vec<super::StoredEvent>,
) -> Result<std::collections::HashMap<String, Case>, StoreError> {
    let mut out: std::collections::HashMap<String, Case> = std::collections::HashMap::new();
    for e in events {
        let onewindow_domain::log::LogBody::Case(rec) = e.body else {
            continue;
        };
        let corrupt = |err: &dyn std::fmt::Display| {
            StoreError::Corrupt(format!(
                "case {} version {}: {err}",
                rec.case_id, rec.case_version
            ))
        };
        match out.get_mut(&rec.case_id) {
            // A crossing back to the window carries what its branch lacks.
            Some(case) => case.catch_up(&rec).map_err(|e| corrupt(&e))?,
            None => {
                // `received`, or a handover or crossing that carries what
                // came before.
                let case = Case::fold([&rec]).map_err(|e| corrupt(&e))?;
                out.insert(rec.case_id.clone(), case);
            }
        }
    }
    Ok(out)
}

/// Pairs rows with their folded cases; a row whose events are missing is
/// a corrupt store.
fn rows_with_cases(
    rows: &[AnyRow],
    mut cases: std::collections::HashMap<String, Case>,
) -> Result<Vec<CaseRow>, StoreError> {
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0)?;
            let case = cases
                .remove(&id)
                .ok_or_else(|| StoreError::Corrupt(format!("case {id} has no events")))?;
            case_row(r, Box::new(case))
        })
        .collect()
}

impl Store {
    /// The cases `holder` holds, accepted at another hall, that wait to be
    /// sent on (accepted, not yet handled) or handed back (result ready):
    /// where a cross-district case waits at the common ancestor of its two
    /// halls.
    pub async fn cases_to_send_on(&self, holder: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM cases WHERE holder = $1 AND accepting_node <> $1 \
             AND state IN ('accepted', 'result_ready') ORDER BY id",
        )
        .bind(holder)
        .fetch_all(self.pool())
        .await?)
    }

    /// The cases with these ids, folded from their events (one query per
    /// 500 ids).
    pub(crate) async fn fold_cases(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Case>, StoreError> {
        let mut events = Vec::new();
        for chunk in ids.chunks(500) {
            let sql = case_events_sql(self.backend(), chunk.len());
            let mut q = sqlx::query(&sql);
            for id in padded(chunk) {
                q = q.bind(*id);
            }
            let rows = q.fetch_all(self.pool()).await?;
            events.extend(self.stored_events(&rows).await?);
        }
        fold_events(events)
    }

    /// Rows of `SELECT` with their cases.
    pub(crate) async fn with_cases(&self, rows: &[AnyRow]) -> Result<Vec<CaseRow>, StoreError> {
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let cases = self.fold_cases(&refs).await?;
        rows_with_cases(rows, cases)
    }

    /// One case's read-model row.
    pub async fn case(&self, id: &str) -> Result<Option<CaseRow>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.with_cases(std::slice::from_ref(&row)).await?.pop())
    }

    /// Cases matching a filter, most urgent first (by committed due date).
    pub async fn cases(&self, f: &CaseFilter) -> Result<Vec<CaseRow>, StoreError> {
        let mut sql = format!("{SELECT} WHERE 1 = 1");
        let mut args: Vec<String> = Vec::new();
        let mut param = |sql: &mut String, v: &str| {
            args.push(v.to_owned());
            sql.push_str(&format!("${}", args.len()));
        };
        if !f.states.is_empty() {
            sql.push_str(" AND state IN (");
            for (i, s) in f.states.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                param(&mut sql, s);
            }
            sql.push(')');
        }
        let last4 = f.applicant.as_ref().map(|a| {
            let n = a.chars().count();
            a.chars().skip(n.saturating_sub(4)).collect::<String>()
        });
        for (col, v) in [
            ("department", &f.department),
            ("matter_code", &f.matter_code),
            ("warning", &f.warning),
            ("holder", &f.held_by),
        ] {
            if let Some(v) = v {
                sql.push_str(&format!(" AND {col} = "));
                param(&mut sql, v);
            }
        }
        if let Some(v) = &last4 {
            sql.push_str(" AND (applicant_last4 = ");
            param(&mut sql, v);
            match &f.applicant_digest {
                Some(d) => {
                    sql.push_str(" OR id_digest = ");
                    param(&mut sql, d);
                    sql.push(')');
                }
                None => sql.push(')'),
            }
        }
        if let Some(h) = &f.hall {
            sql.push_str(" AND (accepting_node = ");
            param(&mut sql, h);
            sql.push_str(" OR accepting_node LIKE ");
            param(&mut sql, &format!("{}.%", super::oversight::like_escape(h)));
            sql.push_str(" ESCAPE '\\')");
        }
        if let Some(p) = &f.number_prefix {
            sql.push_str(" AND id LIKE ");
            param(&mut sql, &format!("{}%", super::oversight::like_escape(p)));
            sql.push_str(" ESCAPE '\\'");
        }
        if f.post_check_open {
            sql.push_str(" AND post_check_due IS NOT NULL");
        }
        if let Some(day) = &f.overdue_on {
            sql.push_str(" AND closed_at_ms IS NULL AND committed_due < ");
            param(&mut sql, day);
        }
        let limit = if f.limit > 0 { f.limit } else { 100 };
        sql.push_str(
            " ORDER BY CASE WHEN committed_due IS NULL THEN 1 ELSE 0 END, committed_due, received_at_ms",
        );
        // With an applicant, the last four characters narrow the rows and
        // the whole ID number is compared on the folded cases.
        if f.applicant.is_none() {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        let mut out = self.with_cases(&rows).await?;
        if let Some(a) = &f.applicant {
            // Where the applicant is withheld, the digest speaks for it.
            let digest = f.applicant_digest.as_deref().unwrap_or_default();
            out.retain(|r| {
                let got = &r.case.received;
                &got.applicant.id_number == a
                    || (got.applicant.id_number.is_empty()
                        && !digest.is_empty()
                        && got.id_digest == digest)
            });
            out.truncate(usize::try_from(limit).unwrap_or(100));
        }
        Ok(out)
    }

    /// Number of cases.
    pub async fn case_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM cases")
            .fetch_one(self.pool())
            .await?)
    }
}

impl WriteTx<'_> {
    /// Reads a case inside the write transaction.
    pub async fn case(&mut self, id: &str) -> Result<Option<CaseRow>, StoreError> {
        Ok(self.cases_by_id(&[id]).await?.remove(id))
    }

    /// The read-model rows of these cases (those held): staged rows, then
    /// those the writer's cache holds ([`crate::CASE_CACHE_ROWS`]), then
    /// the rest in one query per 500 ids, folded from their events.
    pub async fn cases_by_id(
        &mut self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, CaseRow>, StoreError> {
        let mut out = std::collections::HashMap::new();
        let mut wanted: Vec<&str> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for id in ids {
            if !seen.insert(*id) {
                continue;
            }
            if let Some(staged) = self.staged_case(id) {
                out.insert((*id).to_owned(), staged.clone());
            } else if let Some(row) = self.cached_case(id) {
                out.insert((*id).to_owned(), row);
            } else {
                wanted.push(id);
            }
        }
        for chunk in wanted.chunks(500) {
            let list = list_placeholders(self.store.backend(), padded_len(chunk.len()));
            let sql = format!("{SELECT} WHERE id IN ({list})");
            let mut q = sqlx::query(&sql);
            for id in padded(chunk) {
                q = q.bind(*id);
            }
            let rows = q.fetch_all(self.conn()).await?;
            if rows.is_empty() {
                continue;
            }
            let sql = case_events_sql(self.store.backend(), rows.len());
            let ids = rows
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<String>, _>>()?;
            let mut q = sqlx::query(&sql);
            for id in padded(&ids) {
                q = q.bind(id.as_str());
            }
            let events = q.fetch_all(self.conn()).await?;
            let cases = fold_events(self.store.stored_events(&events).await?)?;
            for row in rows_with_cases(&rows, cases)? {
                out.insert(row.id.clone(), row);
            }
        }
        Ok(out)
    }

    /// The case a submission key of `username` made, with the hash of the
    /// request that made it.
    pub async fn submission_key(
        &mut self,
        username: &str,
        key: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT request_hash, case_id FROM submission_keys \
             WHERE username = $1 AND idem_key = $2",
        )
        .bind(username)
        .bind(key)
        .fetch_optional(self.conn())
        .await?;
        Ok(row)
    }

    /// Records that a submission key of `username` made `case_id`, in this
    /// transaction (so with the case, or not at all). Keys older than
    /// [`SUBMISSION_KEY_DAYS`] are forgotten at the same time.
    pub async fn put_submission_key(
        &mut self,
        username: &str,
        key: &str,
        request_hash: &str,
        case_id: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO submission_keys (username, idem_key, request_hash, case_id, at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(username)
        .bind(key)
        .bind(request_hash)
        .bind(case_id)
        .bind(at_ms)
        .execute(self.conn())
        .await?;
        let horizon = at_ms - SUBMISSION_KEY_DAYS * 86_400_000;
        sqlx::query("DELETE FROM submission_keys WHERE at_ms < $1")
            .bind(horizon)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// The next case sequence number of a hall for a day.
    pub async fn next_case_seq(&mut self, hall: &str, day: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO case_sequences (hall, day, last) VALUES ($1, $2, 1) \
             ON CONFLICT (hall, day) DO UPDATE SET last = case_sequences.last + 1 RETURNING last",
        )
        .bind(hall)
        .bind(day)
        .fetch_one(self.conn())
        .await?)
    }
}
