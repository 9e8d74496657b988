//! Scratch databases: a fresh store for one run, removed afterwards.
//!
//! `sqlite` gives an SQLite file in a temporary folder; a `postgres://` URL
//! names a server and a database the run may connect to in order to create
//! others (usually `postgres`): the run creates its own database there and
//! drops it at the end.

use anyhow::{Context, bail};
use sqlx::Connection;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Which backend to run on, as given with `--db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbChoice {
    /// An SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server behind this URL.
    Postgres(String),
}

impl FromStr for DbChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "sqlite" {
            Ok(Self::Sqlite)
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self::Postgres(s.to_owned()))
        } else {
            Err("expected `sqlite` or a postgres:// URL".to_owned())
        }
    }
}

impl fmt::Display for DbChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite => f.write_str("sqlite"),
            Self::Postgres(_) => f.write_str("postgres"),
        }
    }
}

/// A database made for one run.
#[derive(Debug)]
pub struct ScratchDb {
    /// The URL the node should open.
    pub url: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// For PostgreSQL: the URL the database was created through, and its name.
    created: Option<(String, String)>,
}

impl ScratchDb {
    /// Creates a fresh database; an SQLite file goes into `dir`.
    pub async fn create(choice: &DbChoice, dir: &Path) -> anyhow::Result<Self> {
        match choice {
            DbChoice::Sqlite => Ok(Self {
                url: format!("sqlite://{}?mode=rwc", dir.join("node.db").display()),
                backend: "sqlite",
                created: None,
            }),
            DbChoice::Postgres(admin_url) => {
                let name = scratch_name();
                let url = with_database(admin_url, &name)?;
                let mut conn = sqlx::PgConnection::connect(admin_url)
                    .await
                    .with_context(|| format!("connecting to {}", redact(admin_url)))?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .with_context(|| format!("creating database {name}"))?;
                conn.close().await.ok();
                tracing::info!(database = %name, "created scratch database");
                Ok(Self {
                    url,
                    backend: "postgres",
                    created: Some((admin_url.clone(), name)),
                })
            }
        }
    }

    /// The scratch database's name on PostgreSQL.
    pub fn postgres_name(&self) -> Option<&str> {
        self.created.as_ref().map(|(_, n)| n.as_str())
    }

    /// Drops a PostgreSQL database (an SQLite file goes with its folder).
    pub async fn remove(self) -> anyhow::Result<()> {
        let Some((admin_url, name)) = self.created else {
            return Ok(());
        };
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .with_context(|| format!("connecting to {}", redact(&admin_url)))?;
        // WITH (FORCE) (PostgreSQL 13+) ends connections a pool left behind.
        let forced = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
        if forced.is_err() {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut conn)
                .await
                .with_context(|| format!("dropping database {name}"))?;
        }
        conn.close().await.ok();
        tracing::info!(database = %name, "dropped scratch database");
        Ok(())
    }
}

/// `onewindow_bench_<pid>_<unix seconds>`: unique per run, and a plain
/// identifier that needs no quoting.
fn scratch_name() -> String {
    // Several runs of one process (chaos schedules side by side) make
    // databases in the same second: a counter keeps them apart.
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("onewindow_bench_{}_{secs}_{n}", std::process::id())
}

/// The same server URL with another database name (query kept).
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let mut u = reqwest::Url::parse(url).with_context(|| format!("bad URL {}", redact(url)))?;
    if u.cannot_be_a_base() {
        bail!("bad PostgreSQL URL {}", redact(url));
    }
    u.set_path(&format!("/{name}"));
    Ok(u.to_string())
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn choices_parse() {
        assert_eq!("sqlite".parse::<DbChoice>(), Ok(DbChoice::Sqlite));
        assert!(matches!(
            "postgres://postgres@127.0.0.1:5432/postgres".parse::<DbChoice>(),
            Ok(DbChoice::Postgres(_))
        ));
        assert!("mysql://x".parse::<DbChoice>().is_err());
    }

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "x").unwrap(),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(redact("postgres://u:p@h/db"), "postgres://u:***@h/db");
        assert!(scratch_name().starts_with("onewindow_bench_"));
    }
}
