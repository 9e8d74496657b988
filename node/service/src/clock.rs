//! Time as a dependency: the system clock in production, a settable one in tests.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch (UTC).
    fn now_ms(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct TestClock(AtomicI64);

impl TestClock {
    /// A clock standing at `ms`.
    pub fn at(ms: i64) -> Self {
        Self(AtomicI64::new(ms))
    }

    /// Moves the clock to `ms`.
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A clock that starts at a fixed instant and then runs at the real rate:
/// for tests that need time to pass (sessions, link status, ages) on a
/// known calendar day, whatever the day and hour they run on. A test may
/// move it forward (days passing over a federation whose links keep their
/// timers running); it never goes back.
#[derive(Debug)]
pub struct StartedClock {
    start_ms: i64,
    started: std::time::Instant,
    skipped: AtomicI64,
}

impl StartedClock {
    /// A clock that reads `ms` now.
    pub fn at(ms: i64) -> Self {
        Self {
            start_ms: ms,
            started: std::time::Instant::now(),
            skipped: AtomicI64::new(0),
        }
    }

    /// Moves the clock forward by `ms` (at least 0).
    pub fn advance(&self, ms: i64) {
        self.skipped.fetch_add(ms.max(0), Ordering::SeqCst);
    }
}

impl Clock for StartedClock {
    fn now_ms(&self) -> i64 {
        let ran = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.start_ms
            .saturating_add(ran)
            .saturating_add(self.skipped.load(Ordering::SeqCst))
    }
}

/// The system clock shifted by a fixed offset: every process of a test
/// tree, and each of them again after a restart, reads the same shifted
/// time, so a tree of separate processes runs on a known calendar day.
/// The binary uses it when `ONEWINDOW_CLOCK_OFFSET_MS` is set.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    /// Added to the system time (ms).
    pub offset_ms: i64,
}

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms().saturating_add(self.offset_ms)
    }
}

/// The environment variable that shifts a node's clock (tests and
/// demonstrations only; see [`OffsetClock`]).
pub const CLOCK_OFFSET_ENV: &str = "ONEWINDOW_CLOCK_OFFSET_MS";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_clock_starts_where_told_and_runs() {
        let c = StartedClock::at(1_795_399_200_000);
        let first = c.now_ms();
        assert!(first >= 1_795_399_200_000);
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(c.now_ms() > first);
    }
}
