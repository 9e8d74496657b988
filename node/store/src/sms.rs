//! The SMS outbox (migration 0024): a message is queued in the
//! transaction that completes its case, and the sender task reads the due
//! ones, then marks each sent or failed (with the next attempt, or none
//! once given up).

use sqlx::FromRow;

use super::{Store, StoreError, WriteTx};

/// A message, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SmsRow {
    /// The message's id (the case number and the case version that
    /// completed it).
    pub id: String,
    /// The case it is about.
    pub case_id: String,
    /// The phone it goes to.
    pub phone: String,
    /// Its text.
    pub body: String,
    /// Queued (ms).
    pub created_at_ms: i64,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the sender tries (again) (ms); none once sent or given up.
    pub next_attempt_ms: Option<i64>,
    /// When the gateway took it (ms).
    pub sent_at_ms: Option<i64>,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// The most messages a listing or a sender's round reads.
pub const SMS_LIST_MAX: i64 = 200;

impl WriteTx<'_> {
    /// Queues a message in this transaction (due at once); a second one
    /// with the same id is ignored.
    pub async fn queue_sms(&mut self, m: &SmsRow) -> Result<(), StoreError> {
        let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sms_outbox WHERE id = $1")
            .bind(&m.id)
            .fetch_one(self.conn())
            .await?;
        if used > 0 {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO sms_outbox (id, case_id, phone, body, created_at_ms, attempts, \
             next_attempt_ms, sent_at_ms, last_error) VALUES ($1, $2, $3, $4, $5, 0, $5, NULL, NULL)",
        )
        .bind(&m.id)
        .bind(&m.case_id)
        .bind(&m.phone)
        .bind(&m.body)
        .bind(m.created_at_ms)
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// Messages due by `now_ms`, oldest first (at most `limit`).
    pub async fn due_sms(&self, now_ms: i64, limit: i64) -> Result<Vec<SmsRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM sms_outbox WHERE sent_at_ms IS NULL AND next_attempt_ms IS NOT NULL \
             AND next_attempt_ms <= $1 ORDER BY next_attempt_ms, id LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(SmsRow::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The outbox, newest first (at most `limit`).
    pub async fn sms_outbox(&self, limit: i64) -> Result<Vec<SmsRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM sms_outbox ORDER BY created_at_ms DESC, id LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(SmsRow::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Marks a message taken by the gateway.
    pub async fn sms_sent(&self, id: &str, at_ms: i64) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE sms_outbox SET attempts = attempts + 1, sent_at_ms = $1, \
             next_attempt_ms = NULL, last_error = NULL WHERE id = $2",
        )
        .bind(at_ms)
        .bind(id)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Records a failed attempt: its error, and the next attempt (none:
    /// given up).
    pub async fn sms_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE sms_outbox SET attempts = attempts + 1, last_error = $1, \
             next_attempt_ms = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(next_attempt_ms)
        .bind(id)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }
}
