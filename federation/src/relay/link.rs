//! The fault model of one direction of a link, without I/O.
//!
//! Given a datagram's arrival time, its size and the current [`LinkShape`],
//! [`LinkModel::admit`] decides whether the datagram is lost, whether it is
//! duplicated, and when each copy leaves the link. Time is passed in and the
//! randomness comes from a seedable generator, so the model is tested without
//! sockets or clocks.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::shape::LinkShape;

/// The most a bandwidth queue holds, whatever the rate.
pub(crate) const MAX_QUEUE_BYTES: u128 = 1 << 20;

/// What happens to one copy of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Leaves the link at this time.
    Release(Instant),
    /// Lost at random.
    Lost,
    /// Dropped by a blackhole.
    Blackholed,
    /// Dropped because the bandwidth queue was full.
    Overflow,
}

#[cfg(test)]
impl Fate {
    /// The release time, if the copy leaves the link.
    pub(crate) fn release(self) -> Option<Instant> {
        match self {
            Fate::Release(at) => Some(at),
            _ => None,
        }
    }
}

/// What happens to a datagram: its own fate, and the fate of a second copy
/// when the link duplicated it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    pub(crate) original: Fate,
    pub(crate) duplicate: Option<Fate>,
}

/// One direction of a link: a random generator and the time the bandwidth
/// queue drains.
pub(crate) struct LinkModel {
    rng: StdRng,
    busy_until: Option<Instant>,
}

impl LinkModel {
    /// A model whose random choices follow `seed`.
    pub(crate) fn seeded(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            busy_until: None,
        }
    }

    /// A model seeded from the operating system.
    pub(crate) fn from_entropy() -> Self {
        Self {
            rng: StdRng::from_entropy(),
            busy_until: None,
        }
    }

    /// Decides the fate of a datagram of `len` bytes that reached the link at
    /// `now`. Arrival times should not go backwards by much; the queue treats
    /// an early arrival as arriving when the queue drains.
    pub(crate) fn admit(&mut self, shape: &LinkShape, now: Instant, len: usize) -> Admission {
        if shape.blackhole {
            return Admission {
                original: Fate::Blackholed,
                duplicate: None,
            };
        }
        if self.chance(shape.loss) {
            return Admission {
                original: Fate::Lost,
                duplicate: None,
            };
        }
        let duplicated = self.chance(shape.duplicate);
        let original = self.transmit(shape, now, len);
        let duplicate = duplicated.then(|| self.transmit(shape, now, len));
        Admission {
            original,
            duplicate,
        }
    }

    /// True with probability `p`; never for 0 or NaN, always for 1 or more.
    fn chance(&mut self, p: f64) -> bool {
        if p >= 1.0 {
            true
        } else if p > 0.0 {
            self.rng.gen_range(0.0..1.0) < p
        } else {
            false
        }
    }

    /// Queues one copy behind the bandwidth cap and adds the delay.
    fn transmit(&mut self, shape: &LinkShape, now: Instant, len: usize) -> Fate {
        let mut departs = now;
        if let Some(rate) = shape.rate_bps.filter(|&rate| rate > 0) {
            let rate = u128::from(rate);
            let starts = self.busy_until.map_or(now, |busy| busy.max(now));
            let backlog_bytes = (starts - now).as_nanos() * rate / 8 / 1_000_000_000;
            let limit = (rate / 8).min(MAX_QUEUE_BYTES);
            if backlog_bytes > limit {
                return Fate::Overflow;
            }
            let sending = len as u128 * 8 * 1_000_000_000 / rate;
            match starts.checked_add(nanos(sending)) {
                Some(done) => departs = done,
                None => return Fate::Overflow,
            }
            self.busy_until = Some(departs);
        }
        match departs.checked_add(self.sample_delay(shape)) {
            Some(at) => Fate::Release(at),
            // A delay past the end of time: the datagram never arrives.
            None => Fate::Lost,
        }
    }

    /// `delay ± jitter`, uniformly, never below zero.
    fn sample_delay(&mut self, shape: &LinkShape) -> Duration {
        if shape.jitter.is_zero() {
            return shape.delay;
        }
        let jitter = shape.jitter.as_nanos().min(u128::from(u64::MAX / 2)) as i128;
        let offset = self.rng.gen_range(-jitter..=jitter);
        let delay = shape.delay.as_nanos() as i128 + offset;
        nanos(delay.max(0) as u128)
    }
}

/// Nanoseconds as a duration, saturating at `u64::MAX` nanoseconds.
fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn perfect_link_releases_at_once() {
        let mut model = LinkModel::seeded(1);
        let now = Instant::now();
        let admission = model.admit(&LinkShape::default(), now, 1200);
        assert_eq!(
            admission,
            Admission {
                original: Fate::Release(now),
                duplicate: None
            }
        );
    }

    #[test]
    fn blackhole_and_total_loss_drop_everything() {
        let mut model = LinkModel::seeded(1);
        let now = Instant::now();
        let blackhole = LinkShape {
            blackhole: true,
            ..LinkShape::default()
        };
        let lossy = LinkShape {
            loss: 1.0,
            duplicate: 1.0,
            ..LinkShape::default()
        };
        for _ in 0..100 {
            assert_eq!(model.admit(&blackhole, now, 10).original, Fate::Blackholed);
            assert_eq!(
                model.admit(&lossy, now, 10),
                Admission {
                    original: Fate::Lost,
                    duplicate: None
                }
            );
        }
    }

    #[test]
    fn loss_is_roughly_the_probability_and_follows_the_seed() {
        let shape = LinkShape {
            loss: 0.25,
            ..LinkShape::default()
        };
        let now = Instant::now();
        let run = |seed| {
            let mut model = LinkModel::seeded(seed);
            (0..10_000)
                .map(|_| model.admit(&shape, now, 10).original == Fate::Lost)
                .collect::<Vec<_>>()
        };
        let first = run(42);
        assert_eq!(first, run(42));
        assert_ne!(first, run(43));
        let lost = first.iter().filter(|&&lost| lost).count();
        assert!((2_200..2_800).contains(&lost), "{lost} of 10000 lost");
    }

    #[test]
    fn duplicates_both_leave() {
        let mut model = LinkModel::seeded(1);
        let now = Instant::now();
        let shape = LinkShape {
            duplicate: 1.0,
            delay: ms(5),
            ..LinkShape::default()
        };
        let admission = model.admit(&shape, now, 10);
        assert_eq!(admission.original, Fate::Release(now + ms(5)));
        assert_eq!(admission.duplicate, Some(Fate::Release(now + ms(5))));
    }

    #[test]
    fn rate_serialises_datagrams() {
        let mut model = LinkModel::seeded(1);
        let now = Instant::now();
        // 1000 bytes at 1 Mbit/s take 8 ms.
        let shape = LinkShape {
            rate_bps: Some(1_000_000),
            delay: ms(100),
            ..LinkShape::default()
        };
        for i in 1..=10 {
            let at = model.admit(&shape, now, 1000).original.release();
            assert_eq!(at, Some(now + ms(100 + 8 * i)));
        }
        // Once the queue has drained, a datagram goes straight through.
        let later = now + ms(1000);
        assert_eq!(
            model.admit(&shape, later, 1000).original.release(),
            Some(later + ms(108))
        );
    }

    #[test]
    fn rate_queue_holds_one_second_then_drops_the_tail() {
        let mut model = LinkModel::seeded(1);
        let now = Instant::now();
        // One second at 1 Mbit/s is 125 000 bytes: 126 datagrams of 1000 bytes
        // find a backlog of at most 125 000 bytes.
        let shape = LinkShape {
            rate_bps: Some(1_000_000),
            ..LinkShape::default()
        };
        let fates: Vec<Fate> = (0..200)
            .map(|_| model.admit(&shape, now, 1000).original)
            .collect();
        assert!(fates[..126].iter().all(|fate| fate.release().is_some()));
        assert!(fates[126..].iter().all(|fate| *fate == Fate::Overflow));
        // Half a second later half the backlog has drained.
        let later = now + ms(500);
        let accepted = (0..200)
            .filter(|_| {
                model
                    .admit(&shape, later, 1000)
                    .original
                    .release()
                    .is_some()
            })
            .count();
        assert_eq!(accepted, 62);
    }

    #[test]
    fn fast_queues_stop_at_one_mebibyte() {
        let mut model = LinkModel::seeded(1);
        let now = Instant::now();
        let shape = LinkShape {
            rate_bps: Some(1_000_000_000),
            ..LinkShape::default()
        };
        let accepted = (0..2000)
            .filter(|_| model.admit(&shape, now, 1000).original.release().is_some())
            .count();
        assert_eq!(accepted, 1049);
    }

    #[test]
    fn jitter_stays_within_bounds_and_reorders() {
        let mut model = LinkModel::seeded(7);
        let now = Instant::now();
        let shape = LinkShape {
            delay: ms(10),
            jitter: ms(20),
            ..LinkShape::default()
        };
        let releases: Vec<Instant> = (0..1000)
            .filter_map(|_| model.admit(&shape, now, 10).original.release())
            .collect();
        assert_eq!(releases.len(), 1000);
        assert!(releases.iter().all(|&at| at >= now && at <= now + ms(30)));
        assert!(releases.iter().any(|&at| at < now + ms(5)));
        assert!(releases.iter().any(|&at| at > now + ms(25)));
        assert!(releases.windows(2).any(|pair| pair[1] < pair[0]));
    }

    #[test]
    fn huge_delays_do_not_panic() {
        let mut model = LinkModel::seeded(1);
        let shape = LinkShape {
            delay: Duration::MAX,
            jitter: Duration::MAX,
            rate_bps: Some(1),
            ..LinkShape::default()
        };
        let _ = model.admit(&shape, Instant::now(), 65_000);
        let _ = model.admit(&shape, Instant::now(), 65_000);
    }
}
