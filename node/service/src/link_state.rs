//! What a link's sessions came to: refusals in a row, the wait before the
//! next attempt, and entries held back for a catalogue version.
//!
//! A session that ends refused (this node sent a `Reject`, or received one)
//! counts one more refusal in a row in the peer's fleet row; a session that
//! made progress (a batch acknowledged either way, or a clean period with no
//! refusal) ends the run. The dialer waits longer after each refusal in a
//! row ([`refused_delay`]), so a peer that refuses every batch is not
//! dialed again and again.

use onewindow_i18n::{Lang, phrase, phrase_with};
use std::time::Duration;

use federation::transport::Backoff;

use crate::Node;
use onewindow_store::RefusalRecord;

/// The refusal code of a batch cut at an entry whose catalogue version is
/// not held yet.
pub const CATALOGUE_MISSING: &str = "catalogue_missing";

/// A session ended by a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Stable code (`fork`, `broken_chain`, `catalogue_missing`, ...).
    pub code: String,
    /// What the refusing side said.
    pub message: String,
    /// The peer refused (a `Reject` received); otherwise this node did.
    pub by_peer: bool,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let who = if self.by_peer {
            "the peer refused"
        } else {
            "refused the peer's"
        };
        write!(f, "{who} batch: {} {}", self.code, self.message)
    }
}

impl std::error::Error for Refused {}

impl Refused {
    /// This node refused the peer.
    pub fn sent(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            by_peer: false,
        }
    }

    /// The peer refused this node.
    pub fn received(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            by_peer: true,
        }
    }

    /// For a hold-back: the catalogue version the entries wait for.
    pub fn held_back_catalogue(&self) -> Option<i64> {
        (self.code == CATALOGUE_MISSING)
            .then(|| parse_catalogue_missing(&self.message))
            .flatten()
    }
}

/// The message of a [`CATALOGUE_MISSING`] refusal; the version in it is read
/// back by [`parse_catalogue_missing`] on either side of the link.
pub fn catalogue_missing_message(version: i64, acked: u64) -> String {
    format!("catalogue version {version} is not held here yet; entries after {acked} wait for it")
}

/// The catalogue version named by a [`catalogue_missing_message`].
pub fn parse_catalogue_missing(message: &str) -> Option<i64> {
    message
        .strip_prefix("catalogue version ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// How a frame error read by the session is recorded as a security event
/// (the protocol's rule, [`federation::replication::frame_error_kind`]).
pub fn frame_error_kind(error: &str) -> &'static str {
    federation::replication::frame_error_kind(error)
}

/// The wait after `refusals` refusals in a row (at least 1), for `jitter`
/// in `[0, 1)`: between half and all of `min(max, base * 2^refusals)`.
pub fn refused_delay(base: Duration, max: Duration, refusals: u32, jitter: f64) -> Duration {
    Backoff::new(base, max).delay(refusals, jitter)
}

/// A link's cursors when a session began, to tell afterwards whether it
/// made progress.
#[derive(Debug, Clone, Copy)]
pub struct SessionStart {
    cursor: (u64, u64),
    at_ms: i64,
}

/// Notes where a session with `peer` begins.
pub async fn session_starts(node: &Node, peer: &str) -> SessionStart {
    SessionStart {
        cursor: node.store.link_cursor(peer).await.unwrap_or((0, 0)),
        at_ms: node.now_ms(),
    }
}

/// What a session came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It ended refused; the refusals in a row so far.
    Refused {
        /// How it was refused.
        refusal: Refused,
        /// Refusals in a row, this one included.
        count: u32,
        /// When it was recorded (ms).
        at_ms: i64,
    },
    /// A batch was acknowledged either way, or it ran clean long enough.
    Progressed,
    /// Neither (the connection dropped early).
    Nothing,
}

/// Records what a session with `peer` came to in the peer's fleet row and
/// the link metrics.
pub async fn session_ended(
    node: &Node,
    peer: &str,
    start: SessionStart,
    result: &anyhow::Result<()>,
) -> Ended {
    let now = node.now_ms();
    let refusal = result
        .as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<Refused>())
        .cloned();
    if let Some(refusal) = refusal {
        let held = refusal.held_back_catalogue();
        let count = match node
            .store
            .link_refused(peer, &refusal.code, held, now)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(peer, error = %e, "recording a refusal");
                1
            }
        };
        node.metrics.link_refusals_in_a_row(peer, count);
        if let Some(v) = held {
            // The holding side counted it as it cut the batch.
            if refusal.by_peer {
                node.metrics.link_held_back(peer, v);
            } else {
                node.metrics.link_waiting_for_catalogue(peer, Some(v));
            }
        }
        if count > 1 {
            tracing::warn!(
                peer,
                code = refusal.code,
                count,
                "the link was refused again"
            );
        }
        return Ended::Refused {
            refusal,
            count,
            at_ms: now,
        };
    }
    let cursor = node.store.link_cursor(peer).await.unwrap_or(start.cursor);
    let clean = now - start.at_ms >= ms(node.config.federation.clean_session_ms);
    if cursor.0 > start.cursor.0 || cursor.1 > start.cursor.1 || clean {
        cleared(node, peer).await;
        Ended::Progressed
    } else {
        Ended::Nothing
    }
}

fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The refusals in a row with `peer` are over.
async fn cleared(node: &Node, peer: &str) {
    node.metrics.link_refusals_in_a_row(peer, 0);
    node.metrics.link_waiting_for_catalogue(peer, None);
    if let Err(e) = node.store.link_progressed(peer).await {
        tracing::error!(peer, error = %e, "recording a link's progress");
    }
    if node.id.parent().is_some_and(|p| p.as_str() == peer) {
        node.uplink.set_refusal(None);
    }
}

/// Within a session: clears the peer's refusals in a row at the first sign
/// of progress, once, so that a hold-back shows as cleared as soon as the
/// held entries apply.
#[derive(Debug)]
pub struct Progress {
    peer: String,
    started_ms: i64,
    done: bool,
}

impl Progress {
    /// For a session with `peer` that begins now.
    pub fn new(node: &Node, peer: &str) -> Self {
        Self {
            peer: peer.to_owned(),
            started_ms: node.now_ms(),
            done: false,
        }
    }

    /// A batch was acknowledged (by this node or the peer), moving the
    /// cursor from `before` to `upto`.
    pub async fn acked(&mut self, node: &Node, before: u64, upto: u64) {
        if !self.done && upto > before {
            self.done = true;
            cleared(node, &self.peer).await;
        }
    }

    /// The status timer: a session up this long with no refusal is
    /// progress.
    pub async fn tick(&mut self, node: &Node) {
        if !self.done
            && node.now_ms() - self.started_ms >= ms(node.config.federation.clean_session_ms)
        {
            self.done = true;
            cleared(node, &self.peer).await;
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS` in China time, for when a link is dialed again.
pub fn clock_time(ms: i64) -> String {
    let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!());
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The link's state in words, for pages and the command line: connected,
/// held back, or backing off after a refusal.
pub fn describe(
    connected: bool,
    refusal: Option<&RefusalRecord>,
    zh: bool,
    fmt_time: impl Fn(i64) -> String,
) -> String {
    let lang = if zh { Lang::Zh } else { Lang::En };
    let Some(r) = refusal else {
        return if connected {
            phrase(lang, "link.connected").to_owned()
        } else {
            String::new()
        };
    };
    if let Some(v) = r.held_back_catalogue {
        return phrase_with(
            lang,
            "link.held_back",
            &[("version", &v), ("count", &r.count)],
        );
    }
    match r.next_attempt_ms {
        Some(t) => phrase_with(
            lang,
            "link.backing_off",
            &[
                ("code", &r.code),
                ("count", &r.count),
                ("until", &fmt_time(t)),
            ],
        ),
        None => phrase_with(
            lang,
            "link.refused",
            &[("code", &r.code), ("count", &r.count)],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_version_is_read_back_from_the_message() {
        let m = catalogue_missing_message(7, 42);
        assert_eq!(parse_catalogue_missing(&m), Some(7));
        assert_eq!(
            Refused::received(CATALOGUE_MISSING, m.clone()).held_back_catalogue(),
            Some(7)
        );
        assert_eq!(Refused::received("fork", m).held_back_catalogue(), None);
        assert_eq!(parse_catalogue_missing("something else"), None);
    }

    #[test]
    fn the_wait_doubles_with_each_refusal_up_to_the_maximum() {
        let (base, max) = (Duration::from_millis(200), Duration::from_secs(300));
        let mut last = Duration::ZERO;
        for k in 1..=10 {
            let lo = refused_delay(base, max, k, 0.0);
            let hi = refused_delay(base, max, k, 0.999_999);
            assert!(lo > last, "refusal {k}: {lo:?} after {last:?}");
            assert!(hi < base * 2u32.pow(k));
            last = hi;
        }
        assert_eq!(refused_delay(base, max, 40, 0.0), max / 2);
        assert!(refused_delay(base, max, 40, 0.999) < max);
    }

    #[test]
    fn the_state_is_told_in_both_languages() {
        let r = RefusalRecord {
            code: "fork".into(),
            count: 3,
            at_ms: 1,
            next_attempt_ms: Some(5),
            held_back_catalogue: None,
        };
        let t = |ms: i64| format!("T{ms}");
        assert_eq!(
            describe(false, Some(&r), false, t),
            "backing off until T5 after refusal fork (count 3)"
        );
        assert!(describe(false, Some(&r), true, t).contains("连续 3 次"));
        let held = RefusalRecord {
            code: CATALOGUE_MISSING.into(),
            held_back_catalogue: Some(4),
            ..r
        };
        assert!(
            describe(true, Some(&held), false, t)
                .starts_with("held back: waiting for catalogue version 4")
        );
        assert!(describe(true, Some(&held), true, t).contains("等待目录版本 4"));
        assert_eq!(describe(true, None, false, t), "connected");
    }
}
