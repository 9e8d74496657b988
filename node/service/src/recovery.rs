//! The node's knowledge of its own origin's tail, kept across restarts in
//! a small marker file beside the store (`own-head` in the data
//! directory): the highest own origin sequence the node knows it wrote.
//!
//! The marker is outside the database on purpose: a store put back to an
//! older copy (or a blank one) leaves it as it was, so the node knows at
//! start, before it reaches its parent, that it must take back the tail of
//! its log before writing ([`federation::replication::Recovery`]). It is
//! written after commits at most once a second and when the node stops,
//! so it costs the write path nothing; what it misses (the last second
//! before a crash) the parent's Hello still shows.
//!
//! A blank store with no marker is a new hall: it does not wait for its
//! parent (a new hall whose link is down must still open). A hall put on a
//! blank disk with its old identity and without its marker therefore learns
//! that it had a log only from its parent's first Hello; whatever it wrote
//! before that is refused by the parent as a fork. Keep the marker with the
//! node's identity when moving a hall to a new disk.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use federation::replication::{HelloAction, Recovery};

use onewindow_store::{Store, StoreError};

/// The marker's file name in the data directory.
pub const MARKER: &str = "own-head";

/// A node's own log: whether it is recovering, and its marker.
#[derive(Debug)]
pub struct OwnLog {
    /// `None`: no marker is kept (the node has no parent to recover from).
    path: Option<PathBuf>,
    state: Mutex<Recovery>,
    /// The value the marker holds.
    saved: AtomicU64,
    /// The hall code its case numbers carry.
    hall: String,
}

impl OwnLog {
    /// A node that never recovers (the root, or a node without links).
    pub fn none() -> Self {
        Self {
            path: None,
            state: Mutex::new(Recovery::at_start(0, None)),
            saved: AtomicU64::new(0),
            hall: String::new(),
        }
    }

    /// Reads the marker in `data_dir` for a node whose store holds its own
    /// origin up to `own_head`, and holds the store's own writes back if the
    /// marker says more was written.
    pub async fn open(data_dir: &Path, hall: &str, store: &Store, own_head: u64) -> Self {
        let path = data_dir.join(MARKER);
        let marker = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok());
        let state = Recovery::at_start(own_head, marker);
        if let Some(target) = state.target() {
            tracing::warn!(
                own_head,
                target,
                "the store holds less of this hall's own log than it wrote: recovering it from the parent before writing"
            );
            store.hold_own_writes(true).await;
        }
        Self {
            path: Some(path),
            state: Mutex::new(state),
            saved: AtomicU64::new(marker.unwrap_or(0)),
            hall: hall.to_owned(),
        }
    }

    /// Is the node recovering its own log (its own writes held back)?
    pub fn is_recovering(&self) -> bool {
        self.lock().is_recovering()
    }

    /// The own sequence to reach, while recovering.
    pub fn target(&self) -> Option<u64> {
        self.lock().target()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recovery> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The parent's Hello: decides what the session does, and holds own
    /// writes back when a recovery starts.
    pub async fn parent_hello(
        &self,
        store: &Store,
        your_origin_head: u64,
        asked: bool,
    ) -> Result<HelloAction, StoreError> {
        let own = store.own_origin_held().await?;
        let action = self.lock().parent_hello(own, your_origin_head, asked);
        match action {
            HelloAction::Reconnect | HelloAction::Receive => {
                if !store.own_writes_held() {
                    tracing::warn!(
                        own,
                        parent_holds = your_origin_head,
                        "the parent holds more of this hall's own log than its store: recovering it before writing"
                    );
                }
                store.hold_own_writes(true).await;
                self.write_marker(your_origin_head);
            }
            HelloAction::Recovered => self.finish(store).await?,
            HelloAction::Proceed => {}
        }
        Ok(action)
    }

    /// Entries came from the parent: returns true when they ended the
    /// recovery (writing has resumed).
    pub async fn applied(&self, store: &Store) -> Result<bool, StoreError> {
        if !self.is_recovering() {
            return Ok(false);
        }
        let own = store.own_origin_held().await?;
        if self.lock().applied(own) {
            self.finish(store).await?;
            return Ok(true);
        }
        Ok(false)
    }

    async fn finish(&self, store: &Store) -> Result<(), StoreError> {
        let own = store.resume_own_writes(&self.hall).await?;
        // The marker follows the log, even down: what the parent never
        // received was lost with the store.
        self.write_marker(own);
        tracing::info!(own, "the hall's own log is recovered: writing resumes");
        Ok(())
    }

    /// Writes the marker if the store's own head grew beyond it.
    pub async fn save(&self, store: &Store) {
        if self.path.is_none() || self.is_recovering() {
            return;
        }
        let (own, _) = store.own_head().await;
        if own > self.saved.load(Ordering::SeqCst) {
            self.write_marker(own);
        }
    }

    fn write_marker(&self, value: u64) {
        let Some(path) = &self.path else { return };
        let tmp = path.with_extension("tmp");
        let result = (|| -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(format!("{value}\n").as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            if let Some(dir) = path.parent()
                && let Ok(d) = std::fs::File::open(dir)
            {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        match result {
            Ok(()) => self.saved.store(value, Ordering::SeqCst),
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "writing the own-log marker")
            }
        }
    }
}
