//! Spacing of reconnection attempts.

use std::time::Duration;

use rand::Rng;

/// Exponential backoff with *equal jitter*.
///
/// Attempt `n` (from 0) has the ceiling `min(max, base * 2^n)`, and waits a
/// delay in `[ceiling / 2, ceiling)`: half the ceiling for sure, the other
/// half scaled by the jitter. Equal rather than full jitter because a
/// reconnecting child should never retry at once (full jitter can draw
/// zero), while hundreds of villages that lost the same uplink still spread
/// out over the second half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first attempt.
    pub base: Duration,
    /// The largest ceiling.
    pub max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    /// 500 ms, doubling, up to 30 s.
    fn default() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Backoff {
    /// A backoff that has made no attempt yet.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            attempt: 0,
        }
    }

    /// The ceiling of attempt `attempt`: `min(max, base * 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay before attempt `attempt`, for `jitter` in `[0, 1)` (values
    /// outside are clamped; NaN counts as 0).
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = ceiling - half;
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        let extra = Duration::try_from_secs_f64(spread.as_secs_f64() * jitter)
            .unwrap_or(spread)
            .min(spread);
        half + extra
    }

    /// The delay before the next attempt, drawing the jitter from `rng`.
    pub fn next<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Duration {
        let delay = self.delay(self.attempt, rng.r#gen::<f64>());
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over (after a connection that held).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn delay_stays_within_half_ceiling_and_ceiling() {
        let b = Backoff::new(ms(500), ms(30_000));
        for attempt in 0..200 {
            let ceiling = b.ceiling(attempt);
            assert!(ceiling <= b.max);
            for jitter in [0.0, 0.25, 0.5, 0.999_999] {
                let d = b.delay(attempt, jitter);
                assert!(d >= ceiling / 2, "attempt {attempt} jitter {jitter}: {d:?}");
                assert!(d < ceiling, "attempt {attempt} jitter {jitter}: {d:?}");
            }
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = Backoff::new(ms(500), ms(30_000));
        assert_eq!(b.ceiling(0), ms(500));
        assert_eq!(b.ceiling(1), ms(1_000));
        assert_eq!(b.ceiling(5), ms(16_000));
        assert_eq!(b.ceiling(6), ms(30_000));
        assert_eq!(b.ceiling(u32::MAX), ms(30_000));
        assert_eq!(b.delay(0, 0.0), ms(250));
        assert_eq!(b.delay(u32::MAX, 0.0), ms(15_000));
    }

    #[test]
    fn odd_inputs_stay_in_bounds() {
        let b = Backoff::new(ms(500), ms(30_000));
        assert_eq!(b.delay(0, f64::NAN), ms(250));
        assert_eq!(b.delay(0, -3.0), ms(250));
        assert_eq!(b.delay(0, 7.0), ms(500));
        let huge = Backoff::new(Duration::MAX, Duration::MAX);
        assert!(huge.delay(3, 0.999) <= Duration::MAX);
        let capped_below_base = Backoff::new(ms(1_000), ms(100));
        assert_eq!(capped_below_base.ceiling(0), ms(100));
    }

    #[test]
    fn next_advances_and_reset_starts_over() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = Backoff::new(ms(100), ms(1_000));
        let mut previous_ceiling = Duration::ZERO;
        for attempt in 0..10 {
            let d = b.next(&mut rng);
            let ceiling = b.ceiling(attempt);
            assert!(d >= ceiling / 2 && d < ceiling);
            assert!(ceiling >= previous_ceiling);
            previous_ceiling = ceiling;
        }
        assert_eq!(b.attempts(), 10);
        b.reset();
        assert_eq!(b.attempts(), 0);
        assert!(b.next(&mut rng) < ms(100));
    }
}
