//! A hall node run in this process on a scratch database, on 127.0.0.1 with a
//! port the system picks, and stopped and cleaned up afterwards.

use anyhow::Context;
use node::config::Config;
use node::server::{self, RunningNode};
use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::db::{DbChoice, ScratchDb};

/// How to start a hall.
#[derive(Debug, Clone)]
pub struct HallOptions {
    /// Node id, e.g. `nanhai`.
    pub id: String,
    /// The store.
    pub db: DbChoice,
    /// SQLite `synchronous`: `full` or `normal`.
    pub sqlite_synchronous: String,
}

/// A running hall and what it needs to be cleaned up.
#[derive(Debug)]
pub struct Hall {
    /// The node.
    pub node: RunningNode,
    /// The bootstrap administrator's password (made up for this run).
    pub admin_password: String,
    db: ScratchDb,
    _dir: tempfile::TempDir,
}

/// A random password of `len` letters and digits.
pub fn random_password(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

impl Hall {
    /// Creates the scratch database and starts the node on it.
    pub async fn start(opts: &HallOptions) -> anyhow::Result<Hall> {
        let dir = tempfile::Builder::new()
            .prefix("onewindow-deploy-")
            .tempdir()
            .context("creating a temporary folder")?;
        let db = ScratchDb::create(&opts.db, dir.path()).await?;
        let admin_password = random_password(24);
        let mut cfg = Config::default();
        cfg.node.id = opts.id.clone();
        cfg.node.data_dir = dir.path().to_path_buf();
        cfg.http.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        cfg.database.url = db.url.clone();
        cfg.database.sqlite_synchronous = opts.sqlite_synchronous.clone();
        cfg.auth.bootstrap_password = admin_password.clone();
        let started = match cfg.validate() {
            Ok(()) => server::start(cfg).await,
            Err(e) => Err(e.into()),
        };
        match started {
            Ok(node) => Ok(Hall {
                node,
                admin_password,
                db,
                _dir: dir,
            }),
            Err(e) => {
                if let Err(drop_err) = db.remove().await {
                    tracing::warn!(error = %drop_err, "could not drop the scratch database");
                }
                Err(e.context(format!("starting node {}", opts.id)))
            }
        }
    }

    /// The store backend: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.db.backend
    }

    /// The scratch database's name on PostgreSQL.
    pub fn postgres_database(&self) -> Option<&str> {
        self.db.postgres_name()
    }

    /// Stops the node, drops a PostgreSQL database and removes the folder.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.node.stop().await;
        self.db.remove().await
    }
}
