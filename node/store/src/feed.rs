//! Department systems' feeds (migration 0025): the credentials a
//! department's own system uses, the events of its department's cases in
//! the log's local order, and the webhook subscriptions with their
//! deliveries. None of it is a log entry; it stays at the hall.

use sqlx::FromRow;

use super::{Store, StoreError, StoredEvent, WriteTx};

/// A department system's credential, as stored (its secret only as a hash).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CredentialRow {
    /// Its name (unique at the node).
    pub name: String,
    /// The department whose cases it reads and acts on.
    pub department: String,
    /// The node that issued it.
    pub node: String,
    /// SHA-256 of the whole token, hex.
    pub secret_hash: String,
    /// Issued (ms).
    pub created_at_ms: i64,
    /// The administrator who issued it.
    pub created_by: String,
    /// Revoked (ms); none while it is good.
    pub revoked_at_ms: Option<i64>,
}

/// A webhook subscription, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SubscriptionRow {
    /// Its id.
    pub id: String,
    /// The credential whose feed it carries.
    pub credential: String,
    /// Where deliveries are POSTed (`http://`).
    pub url: String,
    /// The key of the deliveries' HMAC-SHA256 signatures.
    pub secret: String,
    /// The local sequence up to which the feed is in deliveries.
    pub queued_seq: i64,
    /// Subscribed (ms).
    pub created_at_ms: i64,
    /// The administrator who subscribed it.
    pub created_by: String,
    /// Ended (ms): never delivered to again (migration 0027).
    pub ended_at_ms: Option<i64>,
    /// The administrator who ended it.
    pub ended_by: Option<String>,
}

/// One delivery of a batch of feed items, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeliveryRow {
    /// Its id: the subscription's and the batch's last local sequence.
    pub id: String,
    /// The subscription it is for.
    pub subscription: String,
    /// The batch holds the feed's items after this local sequence...
    pub after_seq: i64,
    /// ...up to this one.
    pub upto_seq: i64,
    /// How many items it carries.
    pub items: i64,
    /// The JSON body, as sent each time.
    pub body: String,
    /// Made (ms).
    pub created_at_ms: i64,
    /// Attempts so far.
    pub attempts: i64,
    /// The next attempt (ms); none once delivered or dead.
    pub next_attempt_ms: Option<i64>,
    /// When the receiver took it (ms).
    pub delivered_at_ms: Option<i64>,
    /// When it was given up and became a dead letter (ms).
    pub dead_at_ms: Option<i64>,
    /// The last failed attempt's error.
    pub last_error: Option<String>,
}

/// Which deliveries a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryFilter {
    /// Every one.
    All,
    /// Neither delivered nor dead.
    Open,
    /// The dead letters.
    Dead,
}

/// The most rows a listing reads.
pub const FEED_LIST_MAX: i64 = 500;

impl Store {
    /// One credential by name.
    pub async fn feed_credential(&self, name: &str) -> Result<Option<CredentialRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM feed_credentials WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(CredentialRow::from_row).transpose()?)
    }

    /// Every credential, by name.
    pub async fn feed_credentials(&self) -> Result<Vec<CredentialRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM feed_credentials ORDER BY name LIMIT $1")
            .bind(FEED_LIST_MAX)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(CredentialRow::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The events of `department`'s cases with a local sequence above
    /// `after`, in local order, at most `limit`. Local sequences are given
    /// by the one writer and committed in order, so no event appears later
    /// below a sequence already read.
    pub async fn department_events(
        &self,
        department: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.local_seq, e.origin, e.origin_seq, e.prev_hash, e.hash, e.body, e.body_bin, \
             e.sealed, e.sealed_hash, e.scope, e.up, e.down FROM events e \
             JOIN cases c ON c.id = e.case_id \
             WHERE c.department = $1 AND e.local_seq > $2 ORDER BY e.local_seq LIMIT $3",
        )
        .bind(department)
        .bind(after)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        self.stored_events(&rows).await
    }

    /// Every subscription, oldest first.
    pub async fn feed_subscriptions(&self) -> Result<Vec<SubscriptionRow>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM feed_subscriptions ORDER BY created_at_ms, id LIMIT $1")
                .bind(FEED_LIST_MAX)
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .iter()
            .map(SubscriptionRow::from_row)
            .collect::<Result<_, _>>()?)
    }

    /// One subscription.
    pub async fn feed_subscription(&self, id: &str) -> Result<Option<SubscriptionRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM feed_subscriptions WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(SubscriptionRow::from_row).transpose()?)
    }

    /// The subscription's first open delivery in feed order (neither
    /// delivered nor dead), due or not.
    pub async fn open_delivery(
        &self,
        subscription: &str,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM feed_deliveries WHERE subscription = $1 AND delivered_at_ms IS NULL \
             AND dead_at_ms IS NULL ORDER BY upto_seq LIMIT 1",
        )
        .bind(subscription)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(DeliveryRow::from_row).transpose()?)
    }

    /// One delivery.
    pub async fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let row = sqlx::query("SELECT * FROM feed_deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(DeliveryRow::from_row).transpose()?)
    }

    /// Deliveries, newest first (at most [`FEED_LIST_MAX`]).
    pub async fn deliveries(&self, filter: DeliveryFilter) -> Result<Vec<DeliveryRow>, StoreError> {
        let only = match filter {
            DeliveryFilter::All => "",
            DeliveryFilter::Open => "WHERE delivered_at_ms IS NULL AND dead_at_ms IS NULL",
            DeliveryFilter::Dead => "WHERE dead_at_ms IS NOT NULL",
        };
        let rows = sqlx::query(&format!(
            "SELECT * FROM feed_deliveries {only} ORDER BY created_at_ms DESC, id LIMIT $1"
        ))
        .bind(FEED_LIST_MAX)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(DeliveryRow::from_row)
            .collect::<Result<_, _>>()?)
    }
}

/// Writes of the feed's tables go through the node's one writer, as every
/// write does: on SQLite a write beside it would end the snapshot of its
/// transaction under it.
impl WriteTx<'_> {
    /// Stores a new credential; false when one of that name exists.
    pub async fn add_feed_credential(&mut self, c: &CredentialRow) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO feed_credentials (name, department, node, secret_hash, created_at_ms, \
             created_by, revoked_at_ms) VALUES ($1, $2, $3, $4, $5, $6, NULL) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&c.name)
        .bind(&c.department)
        .bind(&c.node)
        .bind(&c.secret_hash)
        .bind(c.created_at_ms)
        .bind(&c.created_by)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Revokes a credential that is good; false when there is none such.
    pub async fn revoke_feed_credential(
        &mut self,
        name: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE feed_credentials SET revoked_at_ms = $1 WHERE name = $2 AND revoked_at_ms IS NULL",
        )
        .bind(at_ms)
        .bind(name)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a new subscription.
    pub async fn add_feed_subscription(&mut self, s: &SubscriptionRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO feed_subscriptions (id, credential, url, secret, queued_seq, \
             created_at_ms, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.id)
        .bind(&s.credential)
        .bind(&s.url)
        .bind(&s.secret)
        .bind(s.queued_seq)
        .bind(s.created_at_ms)
        .bind(&s.created_by)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Stores a new delivery and moves its subscription's `queued_seq` to
    /// the delivery's last sequence, both in this transaction; false
    /// (nothing stored) when the subscription had moved from
    /// `d.after_seq`.
    pub async fn queue_delivery(&mut self, d: &DeliveryRow) -> Result<bool, StoreError> {
        let moved = sqlx::query(
            "UPDATE feed_subscriptions SET queued_seq = $1 WHERE id = $2 AND queued_seq = $3",
        )
        .bind(d.upto_seq)
        .bind(&d.subscription)
        .bind(d.after_seq)
        .execute(self.conn())
        .await?;
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO feed_deliveries (id, subscription, after_seq, upto_seq, items, body, \
             created_at_ms, attempts, next_attempt_ms, delivered_at_ms, dead_at_ms, last_error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7, NULL, NULL, NULL)",
        )
        .bind(&d.id)
        .bind(&d.subscription)
        .bind(d.after_seq)
        .bind(d.upto_seq)
        .bind(d.items)
        .bind(&d.body)
        .bind(d.created_at_ms)
        .execute(self.conn())
        .await?;
        Ok(true)
    }

    /// Marks a delivery taken by its receiver.
    pub async fn delivery_done(&mut self, id: &str, at_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE feed_deliveries SET attempts = attempts + 1, delivered_at_ms = $1, \
             next_attempt_ms = NULL WHERE id = $2",
        )
        .bind(at_ms)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Records a failed attempt: its error, and the next attempt, or the
    /// moment it became a dead letter.
    pub async fn delivery_failed(
        &mut self,
        id: &str,
        error: &str,
        next_attempt_ms: Option<i64>,
        dead_at_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE feed_deliveries SET attempts = attempts + 1, last_error = $1, \
             next_attempt_ms = $2, dead_at_ms = $3 WHERE id = $4",
        )
        .bind(error)
        .bind(next_attempt_ms)
        .bind(dead_at_ms)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Ends a subscription that is live and gives up its open
    /// deliveries (dead, with `last_error` saying why); false when there
    /// is no live subscription of that id.
    pub async fn end_feed_subscription(
        &mut self,
        id: &str,
        by: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE feed_subscriptions SET ended_at_ms = $1, ended_by = $2 \
             WHERE id = $3 AND ended_at_ms IS NULL",
        )
        .bind(at_ms)
        .bind(by)
        .bind(id)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE feed_deliveries SET dead_at_ms = $1, next_attempt_ms = NULL, \
             last_error = 'subscription ended' \
             WHERE subscription = $2 AND delivered_at_ms IS NULL AND dead_at_ms IS NULL",
        )
        .bind(at_ms)
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(true)
    }

    /// Puts a dead letter of a live subscription back to be delivered at
    /// `now_ms` (its attempts start again) and returns it as it now stands,
    /// read in this transaction (the sender may take it as soon as this
    /// commits); `None` when it is not a dead letter or its subscription
    /// has ended.
    pub async fn replay_delivery(
        &mut self,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<DeliveryRow>, StoreError> {
        let done = sqlx::query(
            "UPDATE feed_deliveries SET dead_at_ms = NULL, attempts = 0, next_attempt_ms = $1 \
             WHERE id = $2 AND dead_at_ms IS NOT NULL AND subscription IN \
             (SELECT id FROM feed_subscriptions WHERE ended_at_ms IS NULL)",
        )
        .bind(now_ms)
        .bind(id)
        .execute(self.conn())
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT * FROM feed_deliveries WHERE id = $1")
            .bind(id)
            .fetch_one(self.conn())
            .await?;
        Ok(Some(DeliveryRow::from_row(&row)?))
    }
}
