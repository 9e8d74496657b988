//! The node's knowledge of its own origin's tail, kept across restarts in
//! a small marker file beside the store (`own-head` in the data
//! directory): the highest own origin sequence the node knows it wrote.
//!
//! The marker is outside the database on purpose: a store put back to an
//! older copy (or a blank one) leaves it as it was, so the node knows at
//! start, before it reaches its parent, that it must take back the tail of
//! its log before writing ([`federation::replication::Recovery`]). The
//! store writes it after every commit that moves the own head, before the
//! next write can begin (`Store::keep_own_marker`): one in-place write and
//! an `fdatasync` per own commit. (It was once saved at most once a second:
//! a hall that crashed, was put back to a copy younger than its marker, and
//! wrote before its parent's Hello reused sequences its parent held.)
//!
//! A blank store with no marker is a new hall: it does not wait for its
//! parent (a new hall whose link is down must still open). A hall put on a
//! blank disk with its old identity and without its marker therefore learns
//! that it had a log only from its parent's first Hello; whatever it wrote
//! before that is refused by the parent as a fork. Keep the marker with the
//! node's identity when moving a hall to a new disk.

use std::path::Path;
use std::sync::Mutex;

use federation::replication::{HelloAction, Recovery};

use onewindow_store::{Store, StoreError};

/// The marker's file name in the data directory.
pub const MARKER: &str = "own-head";

/// A node's own log: whether it is recovering, and its marker.
#[derive(Debug)]
pub struct OwnLog {
    state: Mutex<Recovery>,
    /// The hall code its case numbers carry.
    hall: String,
}

impl OwnLog {
    /// A node that never recovers (the root, or a node without links).
    pub fn none() -> Self {
        Self {
            state: Mutex::new(Recovery::at_start(0, None)),
            hall: String::new(),
        }
    }

    /// Reads the marker in `data_dir` for a node whose store holds its own
    /// origin up to `own_head`, holds the store's own writes back if the
    /// marker says more was written, and has the store keep the marker from
    /// now on.
    pub async fn open(
        data_dir: &Path,
        hall: &str,
        store: &Store,
        own_head: u64,
    ) -> std::io::Result<Self> {
        let path = data_dir.join(MARKER);
        let marker = onewindow_store::read_marker(&path);
        let state = Recovery::at_start(own_head, marker);
        if let Some(target) = state.target() {
            tracing::warn!(
                own_head,
                target,
                "the store holds less of this hall's own log than it wrote: recovering it from the parent before writing"
            );
            store.hold_own_writes(true).await;
        }
        store
            .keep_own_marker(&path, marker.unwrap_or(0).max(own_head))
            .await?;
        Ok(Self {
            state: Mutex::new(state),
            hall: hall.to_owned(),
        })
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
                store.set_own_marker(your_origin_head).await;
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
        // The store sets the marker to the recovered head.
        let own = store.resume_own_writes(&self.hall).await?;
        tracing::info!(own, "the hall's own log is recovered: writing resumes");
        Ok(())
    }
}
