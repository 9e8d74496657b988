//! Staff accounts and their sessions.

use sqlx::Row;

use super::{Store, StoreError};
use onewindow_domain::case::Role;

/// A staff account as stored (the password hash is argon2 PHC text).
#[derive(Debug, Clone, PartialEq)]
pub struct StaffRecord {
    /// Login name.
    pub username: String,
    /// Name shown on documents.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Department, for approvers.
    pub department: Option<String>,
    /// argon2 hash.
    pub password_hash: String,
    /// May log in.
    pub active: bool,
}

/// A live session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The staff member.
    pub staff: StaffRecord,
    /// Expiry (ms).
    pub expires_at_ms: i64,
}

fn parse_role(s: &str) -> Result<Role, StoreError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("unknown role {s}")))
}

fn staff_row(r: &sqlx::any::AnyRow) -> Result<StaffRecord, StoreError> {
    let role: String = r.try_get("role")?;
    let active: i64 = r.try_get("active")?;
    Ok(StaffRecord {
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: parse_role(&role)?,
        department: r.try_get("department")?,
        password_hash: r.try_get("password_hash")?,
        active: active != 0,
    })
}

impl Store {
    /// Creates an account; `Ok(false)` if the username is taken.
    pub async fn create_staff(&self, s: &StaffRecord, now_ms: i64) -> Result<bool, StoreError> {
        let mut w = self.write().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT username FROM staff WHERE username = $1")
                .bind(&s.username)
                .fetch_optional(w.conn())
                .await?;
        if exists.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO staff (username, display_name, role, department, password_hash, active, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.username)
        .bind(&s.display_name)
        .bind(s.role.as_str())
        .bind(&s.department)
        .bind(&s.password_hash)
        .bind(i64::from(s.active))
        .bind(now_ms)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(true)
    }

    /// One account.
    pub async fn staff(&self, username: &str) -> Result<Option<StaffRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM staff WHERE username = $1")
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(staff_row).transpose()
    }

    /// Every account.
    pub async fn all_staff(&self) -> Result<Vec<StaffRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM staff ORDER BY username")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(staff_row).collect()
    }

    /// Number of accounts.
    pub async fn staff_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM staff")
            .fetch_one(self.pool())
            .await?)
    }

    /// Deactivates an account and ends its sessions; `Ok(false)` if unknown.
    pub async fn deactivate_staff(&self, username: &str) -> Result<bool, StoreError> {
        let mut w = self.write().await?;
        let n = sqlx::query("UPDATE staff SET active = 0 WHERE username = $1")
            .bind(username)
            .execute(w.conn())
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM sessions WHERE username = $1")
            .bind(username)
            .execute(w.conn())
            .await?;
        w.commit().await?;
        Ok(n > 0)
    }

    /// Stores a session under the hash of its token.
    pub async fn create_session(
        &self,
        token_hash: &str,
        username: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(w.conn())
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, username, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(username)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The live session for a token hash, with its active staff member.
    pub async fn session(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT s.expires_at_ms AS expires_at_ms, f.* FROM sessions s JOIN staff f ON f.username = s.username \
             WHERE s.token_hash = $1 AND s.expires_at_ms > $2 AND f.active = 1",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Session {
                expires_at_ms: r.try_get("expires_at_ms")?,
                staff: staff_row(&r)?,
            })
        })
        .transpose()
    }

    /// Ends a session.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(w.conn())
            .await?;
        w.commit().await?;
        Ok(())
    }
}
