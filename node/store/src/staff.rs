//! Staff accounts and their sessions.

use sqlx::Row;

use super::{Store, StoreError, WriteTx};
use onewindow_domain::case::Role;
use onewindow_domain::log::StaffAccount;

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
    /// Kept by the root (a `staff_account` directive wrote it here).
    pub managed: bool,
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
    let managed: i64 = r.try_get("managed")?;
    Ok(StaffRecord {
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: parse_role(&role)?,
        department: r.try_get("department")?,
        password_hash: r.try_get("password_hash")?,
        active: active != 0,
        managed: managed != 0,
    })
}

fn tree_staff_row(r: &sqlx::any::AnyRow) -> Result<StaffAccount, StoreError> {
    let role: String = r.try_get("role")?;
    let active: i64 = r.try_get("active")?;
    Ok(StaffAccount {
        hall: r.try_get("hall")?,
        username: r.try_get("username")?,
        display_name: r.try_get("display_name")?,
        role: parse_role(&role)?,
        department: r.try_get("department")?,
        password_hash: r.try_get("password_hash")?,
        active: active != 0,
    })
}

impl WriteTx<'_> {
    /// Opens a session in this transaction (expired ones are cleared), so
    /// that the login's audit record commits with it.
    pub async fn create_session(
        &mut self,
        token_hash: &str,
        username: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE expires_at_ms <= $1")
            .bind(now_ms)
            .execute(self.conn())
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, username, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(username)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Ends a session in this transaction.
    pub async fn delete_session(&mut self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// At the root: records an account kept for a hall below (the
    /// directive that announces it is staged in the same transaction).
    pub async fn put_tree_staff(
        &mut self,
        a: &StaffAccount,
        now_ms: i64,
        by: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tree_staff (hall, username, display_name, role, department, password_hash, active, updated_at_ms, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (hall, username) DO UPDATE SET display_name = excluded.display_name, role = excluded.role, \
             department = excluded.department, password_hash = excluded.password_hash, active = excluded.active, \
             updated_at_ms = excluded.updated_at_ms, updated_by = excluded.updated_by",
        )
        .bind(&a.hall)
        .bind(&a.username)
        .bind(&a.display_name)
        .bind(a.role.as_str())
        .bind(&a.department)
        .bind(&a.password_hash)
        .bind(i64::from(a.active))
        .bind(now_ms)
        .bind(by)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// At the hall: takes an account the root keeps for it, replacing a
    /// local one of the same name. Its sessions end when it is disabled or
    /// its password, role or department changed. Returns whether sessions
    /// were ended.
    pub async fn take_staff_account(
        &mut self,
        a: &StaffAccount,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let old = sqlx::query("SELECT * FROM staff WHERE username = $1")
            .bind(&a.username)
            .fetch_optional(self.conn())
            .await?;
        let old = old.as_ref().map(staff_row).transpose()?;
        sqlx::query(
            "INSERT INTO staff (username, display_name, role, department, password_hash, active, created_at_ms, managed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1) \
             ON CONFLICT (username) DO UPDATE SET display_name = excluded.display_name, role = excluded.role, \
             department = excluded.department, password_hash = excluded.password_hash, active = excluded.active, managed = 1",
        )
        .bind(&a.username)
        .bind(&a.display_name)
        .bind(a.role.as_str())
        .bind(&a.department)
        .bind(&a.password_hash)
        .bind(i64::from(a.active))
        .bind(now_ms)
        .execute(self.conn())
        .await?;
        let end = old.is_some_and(|o| {
            !a.active
                || o.password_hash != a.password_hash
                || o.role != a.role
                || o.department != a.department
        });
        if end {
            sqlx::query("DELETE FROM sessions WHERE username = $1")
                .bind(&a.username)
                .execute(self.conn())
                .await?;
        }
        Ok(end)
    }

    /// Changes an account of this hall in place; its sessions end when
    /// `end_sessions`. `Ok(false)` if there is no such account.
    pub async fn update_staff(
        &mut self,
        s: &StaffRecord,
        end_sessions: bool,
    ) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE staff SET display_name = $2, role = $3, department = $4, password_hash = $5, active = $6 \
             WHERE username = $1",
        )
        .bind(&s.username)
        .bind(&s.display_name)
        .bind(s.role.as_str())
        .bind(&s.department)
        .bind(&s.password_hash)
        .bind(i64::from(s.active))
        .execute(self.conn())
        .await?
        .rows_affected();
        if n > 0 && end_sessions {
            sqlx::query("DELETE FROM sessions WHERE username = $1")
                .bind(&s.username)
                .execute(self.conn())
                .await?;
        }
        Ok(n > 0)
    }
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

    /// At the root: the accounts kept for halls below, of one hall or of
    /// every hall.
    pub async fn tree_staff(&self, hall: Option<&str>) -> Result<Vec<StaffAccount>, StoreError> {
        let rows = match hall {
            Some(h) => {
                sqlx::query("SELECT * FROM tree_staff WHERE hall = $1 ORDER BY username")
                    .bind(h)
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM tree_staff ORDER BY hall, username")
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(tree_staff_row).collect()
    }

    /// At the root: one account kept for a hall below.
    pub async fn tree_staff_one(
        &self,
        hall: &str,
        username: &str,
    ) -> Result<Option<StaffAccount>, StoreError> {
        let row = sqlx::query("SELECT * FROM tree_staff WHERE hall = $1 AND username = $2")
            .bind(hall)
            .bind(username)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(tree_staff_row).transpose()
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
        w.create_session(token_hash, username, now_ms, expires_at_ms)
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
        w.delete_session(token_hash).await?;
        w.commit().await?;
        Ok(())
    }
}
