//! Catalogue versions and holiday calendars in the store.
//!
//! A version moves draft -> published -> retired. Only a draft's body can be
//! replaced; the UPDATE that does so names `state = 'draft'` in its WHERE
//! clause, so a published body is never rewritten.

use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use onewindow_domain::calendar::YearCalendar;
use onewindow_domain::catalogue::Catalogue;

/// A catalogue version's summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct VersionInfo {
    /// Version number.
    pub version: i64,
    /// `draft`, `published` or `retired`.
    pub state: String,
    /// Created (ms).
    pub created_at_ms: i64,
    /// Published (ms).
    pub published_at_ms: Option<i64>,
    /// Retired (ms).
    pub retired_at_ms: Option<i64>,
    /// SHA-256 of the body.
    pub sha256: String,
}

/// What can go wrong with a catalogue version change.
#[derive(Debug, thiserror::Error)]
pub enum VersionError {
    /// No such version.
    #[error("catalogue version {0} does not exist")]
    NotFound(i64),
    /// Not a draft any more.
    #[error("catalogue version {0} is not a draft and cannot change")]
    Frozen(i64),
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for VersionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

fn digest(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

impl super::WriteTx<'_> {
    /// Publishes a draft inside this transaction and retires the version
    /// published before it; the caller may write the directive that
    /// announces it in the same transaction.
    pub async fn publish_draft(
        &mut self,
        version: i64,
        now_ms: i64,
    ) -> Result<Catalogue, VersionError> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM catalogue_versions WHERE version = $1 AND state = 'draft'",
        )
        .bind(version)
        .fetch_optional(self.conn())
        .await?;
        let Some(body) = body else {
            return Err(self.store.version_problem(version).await);
        };
        sqlx::query("UPDATE catalogue_versions SET state = 'retired', retired_at_ms = $1 WHERE state = 'published'")
            .bind(now_ms)
            .execute(self.conn())
            .await?;
        sqlx::query("UPDATE catalogue_versions SET state = 'published', published_at_ms = $1 WHERE version = $2")
            .bind(now_ms)
            .bind(version)
            .execute(self.conn())
            .await?;
        let cat: Catalogue = serde_json::from_str(&body).map_err(StoreError::from)?;
        self.note_catalogue(version, onewindow_domain::codec::catalogue_digest(&cat));
        Ok(cat)
    }

    /// Stores (or replaces) one year's calendar inside this transaction.
    pub async fn put_calendar_in(
        &mut self,
        year: &YearCalendar,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(year)?;
        sqlx::query(
            "INSERT INTO calendars (year, updated_at_ms, body) VALUES ($1, $2, $3) \
             ON CONFLICT (year) DO UPDATE SET updated_at_ms = excluded.updated_at_ms, body = excluded.body",
        )
        .bind(i64::from(year.year))
        .bind(now_ms)
        .bind(body)
        .execute(self.conn())
        .await?;
        Ok(())
    }
    /// Installs a version published by the root (received signed from
    /// above) as this node's published version, retiring the one before.
    pub async fn install_published(
        &mut self,
        cat: &Catalogue,
        body: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE catalogue_versions SET state = 'retired', retired_at_ms = $1 \
             WHERE state = 'published' AND version <> $2",
        )
        .bind(now_ms)
        .bind(cat.version)
        .execute(self.conn())
        .await?;
        sqlx::query(
            "INSERT INTO catalogue_versions (version, state, created_at_ms, published_at_ms, sha256, body) \
             VALUES ($1, 'published', $2, $2, $3, $4) \
             ON CONFLICT (version) DO UPDATE SET state = 'published', published_at_ms = excluded.published_at_ms, \
             sha256 = excluded.sha256, body = excluded.body",
        )
        .bind(cat.version)
        .bind(now_ms)
        .bind(digest(body))
        .bind(body)
        .execute(self.conn())
        .await?;
        self.note_catalogue(cat.version, onewindow_domain::codec::catalogue_digest(cat));
        Ok(())
    }
}

impl Store {
    /// Stores a new draft; its version number is one above the highest.
    pub async fn create_draft(&self, cat: &Catalogue, now_ms: i64) -> Result<i64, StoreError> {
        let mut w = self.write().await?;
        let next: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) + 1 FROM catalogue_versions")
                .fetch_one(w.conn())
                .await?;
        let mut cat = cat.clone();
        cat.version = next;
        let body = serde_json::to_string(&cat)?;
        sqlx::query(
            "INSERT INTO catalogue_versions (version, state, created_at_ms, sha256, body) VALUES ($1, 'draft', $2, $3, $4)",
        )
        .bind(next)
        .bind(now_ms)
        .bind(digest(&body))
        .bind(body)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(next)
    }

    /// Replaces a draft's body.
    pub async fn update_draft(&self, version: i64, cat: &Catalogue) -> Result<(), VersionError> {
        let mut cat = cat.clone();
        cat.version = version;
        let body = serde_json::to_string(&cat).map_err(StoreError::from)?;
        let mut w = self.write().await?;
        let done = sqlx::query(
            "UPDATE catalogue_versions SET body = $1, sha256 = $2 WHERE version = $3 AND state = 'draft'",
        )
        .bind(&body)
        .bind(digest(&body))
        .bind(version)
        .execute(w.conn())
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.version_problem(version).await);
        }
        w.commit().await?;
        Ok(())
    }

    async fn version_problem(&self, version: i64) -> VersionError {
        match self.catalogue_version_info(version).await {
            Ok(Some(_)) => VersionError::Frozen(version),
            Ok(None) => VersionError::NotFound(version),
            Err(e) => VersionError::Store(e),
        }
    }

    /// Publishes a draft and retires the version published before it.
    pub async fn publish(&self, version: i64, now_ms: i64) -> Result<Catalogue, VersionError> {
        let mut w = self.write().await?;
        let cat = w.publish_draft(version, now_ms).await?;
        w.commit().await?;
        Ok(cat)
    }

    /// The published catalogue, if any.
    pub async fn published_catalogue(&self) -> Result<Option<Catalogue>, StoreError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM catalogue_versions WHERE state = 'published'")
                .fetch_optional(self.pool())
                .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// Any version's body.
    pub async fn catalogue_version(&self, version: i64) -> Result<Option<Catalogue>, StoreError> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM catalogue_versions WHERE version = $1")
                .bind(version)
                .fetch_optional(self.pool())
                .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// One version's summary.
    pub async fn catalogue_version_info(
        &self,
        version: i64,
    ) -> Result<Option<VersionInfo>, StoreError> {
        Ok(self
            .catalogue_versions()
            .await?
            .into_iter()
            .find(|v| v.version == version))
    }

    /// Every version's summary, oldest first.
    pub async fn catalogue_versions(&self) -> Result<Vec<VersionInfo>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT version, state, created_at_ms, published_at_ms, retired_at_ms, sha256 \
             FROM catalogue_versions ORDER BY version",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Stores (or replaces) one year's holiday calendar.
    pub async fn put_calendar(&self, year: &YearCalendar, now_ms: i64) -> Result<(), StoreError> {
        let body = serde_json::to_string(year)?;
        let mut w = self.write().await?;
        sqlx::query(
            "INSERT INTO calendars (year, updated_at_ms, body) VALUES ($1, $2, $3) \
             ON CONFLICT (year) DO UPDATE SET updated_at_ms = excluded.updated_at_ms, body = excluded.body",
        )
        .bind(i64::from(year.year))
        .bind(now_ms)
        .bind(body)
        .execute(w.conn())
        .await?;
        w.commit().await?;
        Ok(())
    }

    /// Every stored year's calendar.
    pub async fn calendars(&self) -> Result<Vec<YearCalendar>, StoreError> {
        let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM calendars ORDER BY year")
            .fetch_all(self.pool())
            .await?;
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(StoreError::from))
            .collect()
    }
}
