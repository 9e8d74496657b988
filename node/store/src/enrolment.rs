//! Enrolment tokens (migration 0009).

use sqlx::Row;

use super::{Store, StoreError};

/// A token as the issuing node keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Token id (hex).
    pub token_id: String,
    /// The node it is for.
    pub node_id: String,
    /// The secret (hex) that keys the request's MAC.
    pub secret: String,
    /// Issued (ms).
    pub created_ms: i64,
    /// Who issued it.
    pub created_by: String,
    /// Not valid from (ms).
    pub expires_ms: i64,
    /// Used (ms), once.
    pub used_ms: Option<i64>,
}

impl Store {
    /// Records a new token.
    pub async fn create_enrolment_token(&self, t: &TokenRow) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO enrolment_tokens (token_id, node_id, secret, created_ms, created_by, expires_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.token_id)
        .bind(&t.node_id)
        .bind(&t.secret)
        .bind(t.created_ms)
        .bind(&t.created_by)
        .bind(t.expires_ms)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// The token named `token_id`, if any.
    pub async fn enrolment_token(&self, token_id: &str) -> Result<Option<TokenRow>, StoreError> {
        let row = sqlx::query(
            "SELECT token_id, node_id, secret, created_ms, created_by, expires_ms, used_ms \
             FROM enrolment_tokens WHERE token_id = $1",
        )
        .bind(token_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(TokenRow {
                token_id: r.try_get("token_id")?,
                node_id: r.try_get("node_id")?,
                secret: r.try_get("secret")?,
                created_ms: r.try_get("created_ms")?,
                created_by: r.try_get("created_by")?,
                expires_ms: r.try_get("expires_ms")?,
                used_ms: r.try_get("used_ms")?,
            })
        })
        .transpose()
    }

    /// Every node enrolled here (a token of this node's used), by id.
    pub async fn enrolled_nodes(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT node_id FROM enrolment_tokens WHERE used_ms IS NOT NULL ORDER BY node_id",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Marks a token used, once: false if it was used already.
    pub async fn use_enrolment_token(
        &self,
        token_id: &str,
        now_ms: i64,
        serial: &str,
    ) -> Result<bool, StoreError> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE enrolment_tokens SET used_ms = $1, used_serial = $2 \
             WHERE token_id = $3 AND used_ms IS NULL",
        )
        .bind(now_ms)
        .bind(serial)
        .bind(token_id)
        .execute(w.conn())
        .await?
        .rows_affected();
        w.commit().await?;
        Ok(done == 1)
    }
}
