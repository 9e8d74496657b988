//! The district's rules: catalogue versions (draft, published, retired)
//! and holiday calendars.
//!
//! Publishing is one transaction with the directive that announces it: the
//! root never holds a catalogue version or a calendar that its log does not
//! carry to the tree, whatever stops the process in between.

use onewindow_domain::calendar::{Calendar, YearCalendar};
use onewindow_domain::catalogue::Catalogue;
use onewindow_domain::log::Directive;
use onewindow_store::{VersionError, VersionInfo};

use crate::Node;
use crate::error::{Error, ErrorKind};

fn version_error(e: VersionError) -> Error {
    match e {
        VersionError::NotFound(v) => {
            Error::not_found("unknown_catalogue_version", &[("version", &v)])
        }
        VersionError::Frozen(v) => Error::new(
            ErrorKind::Conflict,
            "catalogue_version_frozen",
            &[("version", &v)],
        ),
        VersionError::Store(e) => e.into(),
    }
}

fn check(cat: &Catalogue) -> Result<(), Error> {
    cat.validate()
        .map_err(|e| Error::bad_request("invalid_catalogue", &[("detail", &e)]))
}

impl Node {
    /// Every catalogue version.
    pub async fn catalogue_versions(&self) -> Result<Vec<VersionInfo>, Error> {
        Ok(self.store.catalogue_versions().await?)
    }

    /// One version's summary.
    pub async fn catalogue_version_info(&self, version: i64) -> Result<VersionInfo, Error> {
        self.store
            .catalogue_version_info(version)
            .await?
            .ok_or_else(|| version_error(VersionError::NotFound(version)))
    }

    /// One version's content.
    pub async fn catalogue_version(&self, version: i64) -> Result<Catalogue, Error> {
        self.store
            .catalogue_version(version)
            .await?
            .ok_or_else(|| version_error(VersionError::NotFound(version)))
    }

    /// Stores a new draft, checked; returns its summary (its number is
    /// assigned).
    pub async fn create_catalogue_draft(&self, cat: &Catalogue) -> Result<VersionInfo, Error> {
        check(cat)?;
        let v = self.store.create_draft(cat, self.now_ms()).await?;
        self.catalogue_version_info(v).await
    }

    /// Replaces a draft, checked; a published or retired version is refused.
    pub async fn update_catalogue_draft(&self, version: i64, cat: &Catalogue) -> Result<(), Error> {
        check(cat)?;
        self.store
            .update_draft(version, cat)
            .await
            .map_err(version_error)
    }

    /// Publishes a draft: it becomes the catalogue in use, the previous
    /// version is retired, and (at the root) the signed version is written
    /// to the log in the same transaction. A node below the root that
    /// replicates refuses: only the root publishes.
    pub async fn publish_catalogue(&self, version: i64, by: &str) -> Result<VersionInfo, Error> {
        if self.id.depth() > 0 && !self.config.federation.credentials_dir.is_empty() {
            return Err(Error::keyed(
                ErrorKind::Forbidden,
                "not_the_root",
                "err.not_the_root.publish",
                &[],
            ));
        }
        let mut audit = self
            .audit_record("catalogue_published", by, &version.to_string(), "")
            .await;
        let mut w = self.store.write().await?;
        let cat = w
            .publish_draft(version, self.now_ms())
            .await
            .map_err(version_error)?;
        audit.detail = format!("{} matters", cat.matters.len());
        if let Some(signer) = &self.signer {
            let text = serde_json::to_string(&cat).map_err(|e| Error::storage(&e))?;
            let signature = signer.sign(text.as_bytes());
            self.stage_directive(
                &mut w,
                Directive::CataloguePublished {
                    version: cat.version,
                    catalogue: text,
                    signature,
                },
                "",
                by,
            )?;
        }
        w.append_audit(audit)?;
        w.commit().await?;
        self.set_catalogue(cat);
        tracing::info!(version, %by, "catalogue version published");
        self.catalogue_version_info(version).await
    }

    /// Publishes (or replaces) one year's holiday calendar: checked against
    /// the other years, stored, and (at the root) signed and written to the
    /// log in the same transaction.
    pub async fn publish_calendar(&self, year: &YearCalendar, by: &str) -> Result<(), Error> {
        let invalid =
            |e: &dyn std::fmt::Display| Error::bad_request("invalid_calendar", &[("detail", &e)]);
        year.validate().map_err(|e| invalid(&e))?;
        let mut cal = Calendar::new();
        for y in self.store.calendars().await? {
            if y.year != year.year {
                cal.insert_year(y).map_err(|e| Error::storage(&e))?;
            }
        }
        // A rule the children would refuse must never be signed: it would
        // stop the down flow at every link.
        cal.insert_year(year.clone()).map_err(|e| invalid(&e))?;
        let audit = self
            .audit_record("calendar_published", by, &year.year.to_string(), "")
            .await;
        let mut w = self.store.write().await?;
        w.put_calendar_in(year, self.now_ms()).await?;
        if let Some(signer) = &self.signer {
            let text = serde_json::to_string(year).map_err(|e| Error::storage(&e))?;
            let signature = signer.sign(text.as_bytes());
            self.stage_directive(
                &mut w,
                Directive::CalendarPublished {
                    year: year.year,
                    calendar: text,
                    signature,
                },
                "",
                by,
            )?;
        }
        w.append_audit(audit)?;
        w.commit().await?;
        self.set_calendar(cal);
        Ok(())
    }
}
