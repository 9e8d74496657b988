//! Latency samples and their summary: throughput and nearest-rank
//! percentiles.

use std::time::Duration;

/// Latencies of the requests of one timed run.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    /// Takes the samples in any order.
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self { sorted: samples }
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The nearest-rank percentile `p` (0 < p <= 100): the smallest sample
    /// that at least p% of the samples do not exceed. Zero without samples.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.sorted.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.sorted[rank.clamp(1, n) - 1]
    }

    /// The largest sample.
    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

/// Milliseconds with a fraction, for reports.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let l = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(l.len(), 100);
        assert_eq!(l.percentile(50.0), Duration::from_millis(50));
        assert_eq!(l.percentile(90.0), Duration::from_millis(90));
        assert_eq!(l.percentile(99.0), Duration::from_millis(99));
        assert_eq!(l.percentile(100.0), Duration::from_millis(100));
        assert_eq!(l.max(), Duration::from_millis(100));
        let one = Latencies::new(vec![Duration::from_millis(7)]);
        assert_eq!(one.percentile(50.0), Duration::from_millis(7));
        assert_eq!(one.percentile(99.0), Duration::from_millis(7));
        assert_eq!(Latencies::default().percentile(50.0), Duration::ZERO);
    }
}
