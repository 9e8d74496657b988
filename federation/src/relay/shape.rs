//! Link shapes: what one direction of a link does to the datagrams crossing it.
//!
//! A shape is written the way `tc netem` users and our benchmark flags write
//! it: comma-separated `key=value` settings, for example
//! `loss=5%,rtt=300ms,rate=1mbit,dup=1%,jitter=10ms`. [`LinkShape::parse`]
//! reads that syntax and `Display` writes it back in a canonical order.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What one direction of a link does to datagrams.
///
/// The default is a perfect link: nothing lost, duplicated or delayed, no
/// bandwidth cap. Faults apply in this order: blackhole, loss, duplication,
/// the bandwidth queue (each copy separately), then delay and jitter.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkShape {
    /// Probability, from 0 to 1, that a datagram is lost.
    pub loss: f64,
    /// Probability, from 0 to 1, that a datagram that was not lost is
    /// delivered twice.
    pub duplicate: f64,
    /// One-way delay added to every datagram in this direction.
    pub delay: Duration,
    /// Each datagram's delay is drawn uniformly from `delay ± jitter` (never
    /// below zero), so datagrams may overtake one another.
    pub jitter: Duration,
    /// Bandwidth cap in bits per second of UDP payload; `None` for no cap
    /// (`Some(0)` counts as no cap too). Datagrams wait in a queue that holds
    /// at most one second of traffic or 1 MiB, whichever is smaller; a
    /// datagram that finds the queue fuller than that is dropped.
    pub rate_bps: Option<u64>,
    /// Drop every datagram, including those already delayed in the link.
    pub blackhole: bool,
}

/// Why a string is not a link shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// A key other than loss, dup, rtt, delay, jitter, rate or blackhole.
    #[error(
        "unknown link setting {0:?}: expected loss, dup, rtt, delay, jitter, rate or blackhole"
    )]
    UnknownKey(String),
    /// A key without `=value` that needs one.
    #[error("link setting {0:?} needs a value, as in loss=5%")]
    MissingValue(String),
    /// An empty setting, as in `loss=5%,,rtt=10ms`.
    #[error("empty link setting in {0:?}")]
    Empty(String),
    /// The same setting twice, or both `rtt` and `delay`.
    #[error("link setting {0:?} repeats an earlier one")]
    Repeated(String),
    /// A value that does not fit its key.
    #[error("bad link setting {part:?}: {reason}")]
    BadValue {
        /// The offending `key=value`.
        part: String,
        /// What was expected.
        reason: &'static str,
    },
}

impl LinkShape {
    /// A perfect link (the default).
    pub fn perfect() -> Self {
        Self::default()
    }

    /// True when the shape does nothing to datagrams.
    pub fn is_perfect(&self) -> bool {
        *self == Self::default()
    }

    /// Parses `loss=5%,rtt=300ms,rate=1mbit,dup=1%,jitter=10ms`.
    ///
    /// Keys (case-insensitive, each at most once, in any order):
    /// - `loss`, `dup` (or `duplicate`): a percentage from 0 to 100, with or
    ///   without `%`; `loss=5` is 5 %.
    /// - `rtt`: a round-trip time; each direction gets half of it as delay.
    /// - `delay`: a one-way delay (instead of `rtt`).
    /// - `jitter`: added to each direction's delay as a uniform `±jitter`.
    /// - `rate`: bits per second with a unit `bit`, `kbit`, `mbit` or `gbit`
    ///   (powers of 1000, `/s` allowed, as in `mbit/s`); decimals allowed.
    /// - `blackhole` (or `blackhole=on|off|true|false`): drop everything.
    ///
    /// Times take a unit `ns`, `us`, `ms` or `s` and may have decimals
    /// (`1.5s`). The empty string and `perfect` give a perfect link.
    pub fn parse(text: &str) -> Result<Self, ShapeError> {
        let text = text.trim();
        let mut shape = Self::default();
        if text.is_empty() || text.eq_ignore_ascii_case("perfect") {
            return Ok(shape);
        }
        let mut seen: Vec<&'static str> = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(ShapeError::Empty(text.to_owned()));
            }
            let (key, value) = match part.split_once('=') {
                Some((key, value)) => (key.trim(), Some(value.trim())),
                None => (part, None),
            };
            let raw_key = key.to_ascii_lowercase();
            let key = match raw_key.as_str() {
                "loss" => "loss",
                "dup" | "duplicate" => "dup",
                "rtt" | "delay" => "delay",
                "jitter" => "jitter",
                "rate" => "rate",
                "blackhole" => "blackhole",
                _ => return Err(ShapeError::UnknownKey(part.to_owned())),
            };
            if seen.contains(&key) {
                return Err(ShapeError::Repeated(part.to_owned()));
            }
            seen.push(key);
            if key == "blackhole" {
                shape.blackhole = match value.map(str::to_ascii_lowercase).as_deref() {
                    None | Some("on" | "true" | "yes" | "1") => true,
                    Some("off" | "false" | "no" | "0") => false,
                    Some(_) => {
                        return Err(bad(
                            part,
                            "expected blackhole, blackhole=on or blackhole=off",
                        ));
                    }
                };
                continue;
            }
            let value = match value {
                Some(value) if !value.is_empty() => value,
                _ => return Err(ShapeError::MissingValue(part.to_owned())),
            };
            match key {
                "loss" => shape.loss = parse_percent(value).ok_or_else(|| bad(part, PERCENT))?,
                "dup" => {
                    shape.duplicate = parse_percent(value).ok_or_else(|| bad(part, PERCENT))?;
                }
                "delay" => {
                    let time = parse_duration(value).ok_or_else(|| bad(part, TIME))?;
                    shape.delay = if raw_key == "rtt" { time / 2 } else { time };
                }
                "jitter" => shape.jitter = parse_duration(value).ok_or_else(|| bad(part, TIME))?,
                _ => shape.rate_bps = Some(parse_rate(value).ok_or_else(|| bad(part, RATE))?),
            }
        }
        Ok(shape)
    }
}

const PERCENT: &str = "expected a percentage from 0 to 100, such as 5% or 0.5";
const TIME: &str = "expected a time with a unit ns, us, ms or s, such as 300ms or 1.5s";
const RATE: &str = "expected a positive rate in bits per second with a unit bit, kbit, mbit or gbit, such as 1mbit or 500kbit";

fn bad(part: &str, reason: &'static str) -> ShapeError {
    ShapeError::BadValue {
        part: part.to_owned(),
        reason,
    }
}

/// `5%` or `5` as 0.05.
fn parse_percent(value: &str) -> Option<f64> {
    let number = value.strip_suffix('%').unwrap_or(value).trim();
    let percent: f64 = number.parse().ok()?;
    (percent.is_finite() && (0.0..=100.0).contains(&percent)).then_some(percent / 100.0)
}

/// Splits `1.5mbit` into `(1.5, "mbit")`; the number must be finite and not
/// negative.
fn split_number(value: &str) -> Option<(f64, &str)> {
    let at = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(at);
    let number: f64 = number.parse().ok()?;
    number.is_finite().then_some((number, unit.trim()))
}

fn parse_duration(value: &str) -> Option<Duration> {
    let (number, unit) = split_number(value)?;
    let nanos_per_unit = match unit.to_ascii_lowercase().as_str() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    let nanos = (number * nanos_per_unit).round();
    // u64 nanoseconds cover 584 years; anything beyond is a typo.
    (nanos < u64::MAX as f64).then(|| Duration::from_nanos(nanos as u64))
}

fn parse_rate(value: &str) -> Option<u64> {
    let (number, unit) = split_number(value)?;
    let unit = unit.to_ascii_lowercase();
    let bits_per_unit = match unit.strip_suffix("/s").unwrap_or(&unit) {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        _ => return None,
    };
    let bps = (number * bits_per_unit).round();
    (bps >= 1.0 && bps < u64::MAX as f64).then_some(bps as u64)
}

impl FromStr for LinkShape {
    type Err = ShapeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for LinkShape {
    /// Writes the shape in the syntax [`LinkShape::parse`] reads, in the
    /// order loss, dup, rtt, jitter, rate, blackhole, leaving out what is
    /// perfect; a perfect link is `perfect`. The delay is written as
    /// `rtt=` twice the one-way delay.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_perfect() {
            return f.write_str("perfect");
        }
        let mut parts: Vec<String> = Vec::new();
        if self.loss != 0.0 {
            parts.push(format!("loss={}", Percent(self.loss)));
        }
        if self.duplicate != 0.0 {
            parts.push(format!("dup={}", Percent(self.duplicate)));
        }
        if !self.delay.is_zero() {
            parts.push(match self.delay.checked_mul(2) {
                Some(rtt) => format!("rtt={}", Time(rtt)),
                None => format!("delay={}", Time(self.delay)),
            });
        }
        if !self.jitter.is_zero() {
            parts.push(format!("jitter={}", Time(self.jitter)));
        }
        if let Some(bps) = self.rate_bps.filter(|&bps| bps > 0) {
            parts.push(format!("rate={}", Rate(bps)));
        }
        if self.blackhole {
            parts.push("blackhole".to_owned());
        }
        f.write_str(&parts.join(","))
    }
}

/// A probability written as a percentage, rounded to a millionth of a percent
/// so that `7%` does not come back as `7.000000000000001%`.
struct Percent(f64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", (self.0 * 100.0 * 1e6).round() / 1e6)
    }
}

/// A duration in the largest of s, ms, us and ns that holds it exactly.
struct Time(Duration);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        match nanos {
            n if n % 1_000_000_000 == 0 => write!(f, "{}s", n / 1_000_000_000),
            n if n % 1_000_000 == 0 => write!(f, "{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => write!(f, "{}us", n / 1_000),
            n => write!(f, "{n}ns"),
        }
    }
}

/// A rate in the largest of gbit, mbit, kbit and bit that holds it exactly.
struct Rate(u64);

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            b if b % 1_000_000_000 == 0 => write!(f, "{}gbit", b / 1_000_000_000),
            b if b % 1_000_000 == 0 => write!(f, "{}mbit", b / 1_000_000),
            b if b % 1_000 == 0 => write!(f, "{}kbit", b / 1_000),
            b => write!(f, "{b}bit"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_the_benchmark_syntax() {
        let shape = LinkShape::parse("loss=5%,rtt=300ms,rate=1mbit,dup=1%,jitter=10ms").unwrap();
        assert_eq!(
            shape,
            LinkShape {
                loss: 0.05,
                duplicate: 0.01,
                delay: ms(150),
                jitter: ms(10),
                rate_bps: Some(1_000_000),
                blackhole: false,
            }
        );
    }

    #[test]
    fn displays_canonically_and_round_trips() {
        let cases = [
            (
                "loss=5%,rtt=300ms,rate=1mbit,dup=1%,jitter=10ms",
                "loss=5%,dup=1%,rtt=300ms,jitter=10ms,rate=1mbit",
            ),
            ("loss=7", "loss=7%"),
            ("loss=0.5%", "loss=0.5%"),
            ("LOSS=100%", "loss=100%"),
            ("delay=150ms", "rtt=300ms"),
            ("rtt=1.5s", "rtt=1500ms"),
            ("rtt=2s", "rtt=2s"),
            ("rtt=1ms", "rtt=1ms"),
            ("delay=250us", "rtt=500us"),
            ("jitter=3ns", "jitter=3ns"),
            ("rate=1.5mbit", "rate=1500kbit"),
            ("rate=10gbit/s", "rate=10gbit"),
            ("rate=56kbit", "rate=56kbit"),
            ("rate=1234bit", "rate=1234bit"),
            ("blackhole", "blackhole"),
            ("blackhole=off", "perfect"),
            ("loss=0%", "perfect"),
            ("", "perfect"),
            ("perfect", "perfect"),
            (" loss = 1% , rtt = 20ms ", "loss=1%,rtt=20ms"),
        ];
        for (input, canonical) in cases {
            let shape = LinkShape::parse(input).unwrap();
            assert_eq!(shape.to_string(), canonical, "display of {input:?}");
            assert_eq!(
                LinkShape::parse(canonical).unwrap(),
                shape,
                "reparse of {canonical:?}"
            );
        }
    }

    #[test]
    fn display_round_trips_every_percent() {
        for percent in 0..=100 {
            let shape = LinkShape {
                loss: f64::from(percent) / 100.0,
                ..LinkShape::default()
            };
            assert_eq!(LinkShape::parse(&shape.to_string()).unwrap(), shape);
        }
    }

    #[test]
    fn odd_one_way_delays_survive_display() {
        let shape = LinkShape {
            delay: Duration::from_nanos(1_000_001),
            ..LinkShape::default()
        };
        assert_eq!(shape.to_string(), "rtt=2000002ns");
        assert_eq!(LinkShape::parse(&shape.to_string()).unwrap(), shape);
    }

    #[test]
    fn from_str_matches_parse() {
        let shape: LinkShape = "rtt=10ms".parse().unwrap();
        assert_eq!(shape.delay, ms(5));
    }

    #[test]
    fn rejects_bad_input_naming_the_part() {
        let cases: [(&str, ShapeError); 14] = [
            ("speed=1mbit", ShapeError::UnknownKey("speed=1mbit".into())),
            ("loss", ShapeError::MissingValue("loss".into())),
            ("loss=", ShapeError::MissingValue("loss=".into())),
            (
                "loss=1%,,rtt=1ms",
                ShapeError::Empty("loss=1%,,rtt=1ms".into()),
            ),
            ("loss=1%,loss=2%", ShapeError::Repeated("loss=2%".into())),
            (
                "rtt=10ms,delay=5ms",
                ShapeError::Repeated("delay=5ms".into()),
            ),
            ("loss=101%", bad("loss=101%", PERCENT)),
            ("loss=-1%", bad("loss=-1%", PERCENT)),
            ("dup=lots", bad("dup=lots", PERCENT)),
            ("rtt=300", bad("rtt=300", TIME)),
            ("jitter=5min", bad("jitter=5min", TIME)),
            ("rate=1kbps", bad("rate=1kbps", RATE)),
            ("rate=0mbit", bad("rate=0mbit", RATE)),
            (
                "blackhole=maybe",
                bad(
                    "blackhole=maybe",
                    "expected blackhole, blackhole=on or blackhole=off",
                ),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(LinkShape::parse(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn errors_read_well() {
        let error = LinkShape::parse("loss=5%,rate=fast").unwrap_err();
        assert_eq!(
            error.to_string(),
            "bad link setting \"rate=fast\": expected a positive rate in bits per second with a unit bit, kbit, mbit or gbit, such as 1mbit or 500kbit"
        );
    }
}
