//! The case read model: one row per case, rewritten on every case event.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Store, StoreError, WriteTx};
use crate::domain::case::Case;

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
    /// The case.
    pub case: Case,
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
    /// At most this many rows.
    pub limit: i64,
}

const ROWS_PER_STATEMENT: usize = 200;

pub(super) async fn flush_cases(
    tx: &mut Transaction<'static, Any>,
    backend: super::Backend,
    rows: &[CaseRow],
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO cases (id, matter_code, department, accepting_node, holder, state, suspended, \
             applicant_last4, received_at_ms, accepted_at_ms, closed_at_ms, statutory_due, committed_due, \
             stage_due, warning, version, updated_at_ms, immediate, granted, rating, body) VALUES {} \
             ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, state = excluded.state, \
             suspended = excluded.suspended, accepted_at_ms = excluded.accepted_at_ms, \
             closed_at_ms = excluded.closed_at_ms, statutory_due = excluded.statutory_due, \
             committed_due = excluded.committed_due, stage_due = excluded.stage_due, \
             warning = excluded.warning, version = excluded.version, \
             updated_at_ms = excluded.updated_at_ms, granted = excluded.granted, \
             rating = excluded.rating, body = excluded.body",
            super::values_placeholders(backend, chunk.len(), 21)
        );
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(r.id.clone())
                .bind(r.matter_code.clone())
                .bind(r.department.clone())
                .bind(r.accepting_node.clone())
                .bind(r.holder.clone())
                .bind(r.state.clone())
                .bind(i64::from(r.suspended))
                .bind(r.applicant_last4.clone())
                .bind(r.received_at_ms)
                .bind(r.accepted_at_ms)
                .bind(r.closed_at_ms)
                .bind(r.statutory_due.clone())
                .bind(r.committed_due.clone())
                .bind(r.stage_due.clone())
                .bind(r.warning.clone())
                .bind(r.version)
                .bind(r.updated_at_ms)
                .bind(i64::from(r.immediate))
                .bind(r.granted.map(i64::from))
                .bind(r.rating)
                .bind(serde_json::to_string(&r.case)?);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

fn case_row(r: &AnyRow) -> Result<CaseRow, StoreError> {
    let body: String = r.try_get("body")?;
    let suspended: i64 = r.try_get("suspended")?;
    let immediate: i64 = r.try_get("immediate")?;
    let granted: Option<i64> = r.try_get("granted")?;
    Ok(CaseRow {
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
        version: r.try_get("version")?,
        updated_at_ms: r.try_get("updated_at_ms")?,
        immediate: immediate != 0,
        granted: granted.map(|g| g != 0),
        rating: r.try_get("rating")?,
        case: serde_json::from_str(&body)?,
    })
}

const SELECT: &str = "SELECT id, matter_code, department, accepting_node, holder, state, suspended, \
     applicant_last4, received_at_ms, accepted_at_ms, closed_at_ms, statutory_due, committed_due, \
     stage_due, warning, version, updated_at_ms, immediate, granted, rating, body FROM cases";

impl Store {
    /// One case's read-model row.
    pub async fn case(&self, id: &str) -> Result<Option<CaseRow>, StoreError> {
        let row = sqlx::query(&format!("{SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(case_row).transpose()
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
        for (col, v) in [
            ("department", &f.department),
            ("matter_code", &f.matter_code),
            ("warning", &f.warning),
        ] {
            if let Some(v) = v {
                sql.push_str(&format!(" AND {col} = "));
                param(&mut sql, v);
            }
        }
        let limit = if f.limit > 0 { f.limit } else { 100 };
        sql.push_str(&format!(
            " ORDER BY CASE WHEN committed_due IS NULL THEN 1 ELSE 0 END, committed_due, received_at_ms LIMIT {limit}"
        ));
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a.as_str());
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(case_row).collect()
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
        if let Some(staged) = self.cases.iter().find(|c| c.id == id) {
            return Ok(Some(staged.clone()));
        }
        let row = sqlx::query(&format!("{SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(case_row).transpose()
    }

    /// The read-model rows of these cases (those held), in one query per
    /// 500 ids; staged rows win.
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
            if let Some(staged) = self.cases.iter().find(|c| c.id == *id) {
                out.insert((*id).to_owned(), staged.clone());
            } else {
                wanted.push(id);
            }
        }
        for chunk in wanted.chunks(500) {
            let list = super::list_placeholders(self.store.backend(), chunk.len());
            let sql = format!("{SELECT} WHERE id IN ({list})");
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for r in q.fetch_all(&mut *self.tx).await? {
                let row = case_row(&r)?;
                out.insert(row.id.clone(), row);
            }
        }
        Ok(out)
    }

    /// The next case sequence number of a hall for a day.
    pub async fn next_case_seq(&mut self, hall: &str, day: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO case_sequences (hall, day, last) VALUES ($1, $2, 1) \
             ON CONFLICT (hall, day) DO UPDATE SET last = case_sequences.last + 1 RETURNING last",
        )
        .bind(hall)
        .bind(day)
        .fetch_one(&mut *self.tx)
        .await?)
    }
}
