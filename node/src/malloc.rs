//! The allocator of a process that runs halls.
//!
//! **jemalloc** (the `jemalloc` feature, on by default: the release build,
//! run by townships and the district, and `onewindow-deploy`, whose
//! benchmarks and simulation run halls in its own process). It is the
//! global allocator of any binary that links this crate, and its symbols
//! are not prefixed, so it is also the `malloc` of the C code in the
//! process: SQLite's statements copy every bound value and build every
//! record through it. A flat profile of `bench replication` (`perf
//! record`, three halls, 100,000 events) put 31% of the halls' CPU in
//! glibc's `malloc`, `free` and their consolidation of free chunks, in the
//! runtime's threads and SQLite's alike; with jemalloc the halls spend
//! about a quarter less CPU for each event and move about a third more
//! (`docs/sizing.md`).
//!
//! **glibc's allocator, tuned** (built without the feature: the village
//! build, `cargo build --profile village --no-default-features -p
//! onewindow-node`). jemalloc's arenas made each idle village about 4 MB
//! larger (26.8 to 27.1 MB against 22.8 to 23.5) and a linked village
//! with 1,000 cases 32.7 MB against 27.3 (`scripts/village-rss 1000 10`),
//! and a village's memory is what it is short of, not CPU. One of glibc's
//! defaults costs a hall, and it is a tunable read when a process starts,
//! so [`tune`] starts the process once more with it set (unless the
//! environment already sets the threshold, or this is the restarted
//! process).
//!
//! The mmap threshold, fixed at 4 MiB: glibc raises its threshold to the
//! size of every large block freed, up to 32 MiB. A password hash
//! (Argon2id, 19 MiB of memory) therefore comes from the heap from the
//! second hash on and is never given back: one login left a village node
//! 20 MiB larger, three logins 55 MiB. A fixed threshold keeps every block
//! above it an mmap that is returned when freed. It is 4 MiB, not glibc's
//! starting 128 KiB: at 128 KiB the writer's multi-row statements (their
//! texts, their arguments, the rows they return) were an mmap and a munmap,
//! with their page faults, at every commit, and replication cost about a
//! tenth more CPU (`bench replication`).
//!
//! Fast bins stay as they are: without them (`glibc.malloc.mxfast=0`) a
//! hall spent 4% less CPU in all but drained a backlog a tenth slower.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The allocator this build runs: `jemalloc`, or `system` (glibc's,
/// tuned by [`tune`] where it is glibc's).
pub const ALLOCATOR_NAME: &str = if cfg!(all(feature = "jemalloc", not(target_env = "msvc"))) {
    "jemalloc"
} else {
    "system"
};

#[cfg(all(not(feature = "jemalloc"), target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::os::unix::process::CommandExt;

    const TUNABLES: &str = "GLIBC_TUNABLES";
    /// What [`super::tune`] sets.
    pub const SETTINGS: &str = "glibc.malloc.mmap_threshold=4194304";
    /// Set on the restarted process: it never restarts again, even where
    /// glibc drops the tunables (a set-user-id start).
    const RESTARTED: &str = "ONEWINDOW_MALLOC_TUNED";

    pub fn tune() {
        let current = std::env::var(TUNABLES).unwrap_or_default();
        let name = SETTINGS.split('=').next().unwrap_or(SETTINGS);
        if current.contains(name) || std::env::var_os(RESTARTED).is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let value = if current.is_empty() {
            SETTINGS.to_owned()
        } else {
            format!("{current}:{SETTINGS}")
        };
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env(TUNABLES, value)
            .env(RESTARTED, "1")
            .exec();
        // Only a failed exec returns: run on without the tunables.
        eprintln!("could not restart with {TUNABLES} set ({err}); running without it");
    }
}

/// Starts this process again with glibc's allocator's tunables set, once
/// (see the module), in a build without jemalloc. Call it first in
/// `main`, before any thread starts: the process is replaced. With
/// jemalloc, or elsewhere than glibc on Linux, it does nothing.
pub fn tune() {
    #[cfg(all(not(feature = "jemalloc"), target_os = "linux", target_env = "gnu"))]
    glibc::tune();
}

/// The tunables [`tune`] sets, as `GLIBC_TUNABLES` spells them; `None`
/// where it sets none.
pub fn settings() -> Option<&'static str> {
    #[cfg(all(not(feature = "jemalloc"), target_os = "linux", target_env = "gnu"))]
    return Some(glibc::SETTINGS);
    #[cfg(not(all(not(feature = "jemalloc"), target_os = "linux", target_env = "gnu")))]
    None
}
