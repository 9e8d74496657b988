//! Online pre-applications at this hall (migration 0022): stored when the
//! citizen sends one, read by the clerk by reference or ID number, and
//! marked accepted in the transaction that stores the case it made, so a
//! pre-application makes one case at most.

use sqlx::FromRow;

use super::{Store, StoreError, WriteTx};

/// `open`: waiting for the window.
pub const OPEN: &str = "open";
/// `accepted`: a clerk made a case of it.
pub const ACCEPTED: &str = "accepted";

/// A pre-application, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PreApplicationRow {
    /// The reference the citizen was given.
    pub reference: String,
    /// The matter applied for.
    pub matter_code: String,
    /// The applicant's ID number (or credit code), as checked.
    pub id_number: String,
    /// [`OPEN`] or [`ACCEPTED`].
    pub status: String,
    /// The application, as the service wrote it (JSON).
    pub body: String,
    /// Sent (ms).
    pub created_at_ms: i64,
    /// Last change of status (ms).
    pub changed_at_ms: i64,
    /// The case it made, once accepted.
    pub case_id: Option<String>,
}

/// The most pre-applications a look-up by ID number lists.
pub const BY_PERSON_MAX: i64 = 20;

impl Store {
    /// Stores a pre-application (status [`OPEN`]); false when its
    /// reference is taken (draw another).
    pub async fn add_pre_application(&self, p: &PreApplicationRow) -> Result<bool, StoreError> {
        let mut w = self.write().await?;
        let used: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM pre_applications WHERE reference = $1")
                .bind(&p.reference)
                .fetch_one(w.conn())
                .await?;
        if used > 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO pre_applications (reference, matter_code, id_number, status, body, \
             created_at_ms, changed_at_ms, case_id) VALUES ($1, $2, $3, $4, $5, $6, $6, NULL)",
        )
        .bind(&p.reference)
        .bind(&p.matter_code)
        .bind(&p.id_number)
        .bind(OPEN)
        .bind(&p.body)
        .bind(p.created_at_ms)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(true)
    }

    /// One pre-application.
    pub async fn pre_application(
        &self,
        reference: &str,
    ) -> Result<Option<PreApplicationRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM pre_applications WHERE reference = $1")
            .bind(reference)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(PreApplicationRow::from_row).transpose()?)
    }

    /// A person's open pre-applications, newest first (at most
    /// [`BY_PERSON_MAX`]).
    pub async fn open_pre_applications_of(
        &self,
        id_number: &str,
    ) -> Result<Vec<PreApplicationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM pre_applications WHERE id_number = $1 AND status = $2 \
             ORDER BY created_at_ms DESC, reference LIMIT $3",
        )
        .bind(id_number)
        .bind(OPEN)
        .bind(BY_PERSON_MAX)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(PreApplicationRow::from_row)
            .collect::<Result<_, _>>()?)
    }
}

impl WriteTx<'_> {
    /// Marks an open pre-application accepted as `case_id`, in this
    /// transaction (so with the case, or not at all); false when it is not
    /// open (accepted already, or unknown).
    pub async fn take_pre_application(
        &mut self,
        reference: &str,
        case_id: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE pre_applications SET status = $1, case_id = $2, changed_at_ms = $3 \
             WHERE reference = $4 AND status = $5",
        )
        .bind(ACCEPTED)
        .bind(case_id)
        .bind(at_ms)
        .bind(reference)
        .bind(OPEN)
        .execute(self.conn())
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}
