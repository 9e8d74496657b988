//! What the node knows of its links, kept in memory for the health
//! endpoint and the link driver: the uplink's state, the registered
//! children and the revoked certificates. The driver (`onewindow-link`)
//! moves bytes and reports here; the service reads.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

/// What a child knows of its link to the parent, kept in memory for the
/// health endpoint: the dialer says whether the link is up, the session
/// what the parent acknowledged and when.
#[derive(Debug, Default)]
pub struct Uplink {
    up: AtomicBool,
    /// When the link last came up or went down (ms since the epoch; 0:
    /// not since this process started).
    since_ms: AtomicI64,
    acked: AtomicU64,
    /// When the parent last acknowledged (ms since the epoch; 0: not since
    /// this process started).
    last_ack_ms: AtomicI64,
    /// The head of the up route, once the link has been started.
    head: Mutex<Option<tokio::sync::watch::Receiver<u64>>>,
    /// The refusals in a row on the link, if any.
    refusal: Mutex<Option<onewindow_store::RefusalRecord>>,
    /// When the dialer tries again while the link is down (ms; 0: not
    /// waiting).
    next_attempt_ms: AtomicI64,
    /// This node's own certificate, once the links have read it.
    certificate: Mutex<Option<federation::CertInfo>>,
}

impl Uplink {
    /// This node's own certificate, if it runs linked.
    pub fn certificate(&self) -> Option<federation::CertInfo> {
        self.certificate.lock().ok()?.clone()
    }

    /// Records this node's own certificate.
    pub fn set_certificate(&self, cert: federation::CertInfo) {
        if let Ok(mut c) = self.certificate.lock() {
            *c = Some(cert);
        }
    }

    /// Is the link to the parent up?
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::SeqCst)
    }

    /// Records whether the link is up, at `now_ms`; the time is kept only
    /// when the state changes (or is first known).
    pub fn set_up(&self, up: bool, now_ms: i64) {
        let was = self.up.swap(up, Ordering::SeqCst);
        if was != up || self.since_ms.load(Ordering::SeqCst) == 0 {
            self.since_ms.store(now_ms, Ordering::SeqCst);
        }
    }

    /// Since when the link has been in its current state (ms since the
    /// epoch), once known.
    pub fn since_ms(&self) -> Option<i64> {
        Some(self.since_ms.load(Ordering::SeqCst)).filter(|&t| t > 0)
    }

    /// Entries of the up route the parent has not acknowledged; `None` when
    /// the link has not been started.
    pub fn backlog(&self) -> Option<u64> {
        let head = self.head.lock().ok()?.as_ref().map(|h| *h.borrow())?;
        Some(head.saturating_sub(self.acked.load(Ordering::SeqCst)))
    }

    /// What the parent holds of the up flow, as last known.
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// When the parent last acknowledged, in ms since the epoch.
    pub fn last_ack_ms(&self) -> Option<i64> {
        Some(self.last_ack_ms.load(Ordering::SeqCst)).filter(|&t| t > 0)
    }

    /// Follows the up route's head, from the durable acknowledged cursor.
    pub fn track(&self, head: tokio::sync::watch::Receiver<u64>, acked: u64) {
        self.acked.store(acked, Ordering::SeqCst);
        if let Ok(mut h) = self.head.lock() {
            *h = Some(head);
        }
    }

    /// The parent holds the up flow up to `acked` (its Hello, or an Ack).
    pub fn set_acked(&self, acked: u64) {
        self.acked.store(acked, Ordering::SeqCst);
    }

    /// The parent acknowledged at `now_ms`.
    pub fn ack_at(&self, now_ms: i64) {
        self.last_ack_ms.store(now_ms, Ordering::SeqCst);
    }

    /// The refusals in a row on the link (with the hold-back, if that is
    /// what it is); `None` when the last session made progress.
    pub fn refusal(&self) -> Option<onewindow_store::RefusalRecord> {
        self.refusal.lock().ok()?.clone()
    }

    /// Records the refusals in a row on the link (`None`: none).
    pub fn set_refusal(&self, r: Option<onewindow_store::RefusalRecord>) {
        if let Ok(mut g) = self.refusal.lock() {
            *g = r;
        }
    }

    /// When the dialer tries again, while it waits (ms since the epoch).
    pub fn next_attempt_ms(&self) -> Option<i64> {
        Some(self.next_attempt_ms.load(Ordering::SeqCst)).filter(|&t| t > 0)
    }

    /// Records when the dialer tries again (ms; 0: not waiting).
    pub fn set_next_attempt(&self, at_ms: i64) {
        self.next_attempt_ms.store(at_ms, Ordering::SeqCst);
        if let Ok(mut g) = self.refusal.lock()
            && let Some(r) = g.as_mut()
        {
            r.next_attempt_ms = Some(at_ms).filter(|&t| t > 0);
        }
    }
}

/// Registered children and revoked certificates.
#[derive(Debug, Default)]
pub struct Registry {
    children: RwLock<BTreeSet<String>>,
    revoked: RwLock<BTreeSet<String>>,
}

impl Registry {
    /// Revokes a node (every certificate) or one certificate serial.
    pub fn revoke(&self, node_or_serial: &str) {
        if let Ok(mut r) = self.revoked.write() {
            r.insert(node_or_serial.to_owned());
        }
    }

    /// Registers a child: it may connect (unless revoked).
    pub fn register(&self, child: &str) {
        if let Ok(mut c) = self.children.write() {
            c.insert(child.to_owned());
        }
    }

    /// Is this node a registered child?
    pub fn is_registered(&self, node: &str) -> bool {
        self.children
            .read()
            .map(|c| c.contains(node))
            .unwrap_or(false)
    }

    /// Is this node, or this certificate, revoked?
    pub fn is_revoked(&self, node: &str, serial: &str) -> bool {
        self.revoked
            .read()
            .map(|r| r.contains(node) || r.contains(serial))
            .unwrap_or(true)
    }
}

/// The time certificates are judged by: the machine's real clock, as TLS
/// judges them, not the node's business clock (which tests and
/// demonstrations may shift).
pub fn certificate_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Days before expiry from which a certificate is shown as expiring.
pub const CERT_WARN_DAYS: i64 = 30;

/// How a certificate stands at `now_ms`: `expired`, `not_yet_valid`,
/// `expiring` (under [`CERT_WARN_DAYS`] left), `renew` (past two thirds of
/// its life) or `ok`.
pub fn certificate_state(not_before_ms: i64, not_after_ms: i64, now_ms: i64) -> &'static str {
    let life = not_after_ms - not_before_ms;
    if now_ms >= not_after_ms {
        "expired"
    } else if now_ms < not_before_ms {
        "not_yet_valid"
    } else if not_after_ms - now_ms < CERT_WARN_DAYS * 86_400_000 {
        "expiring"
    } else if now_ms >= not_before_ms + life / 3 * 2 {
        "renew"
    } else {
        "ok"
    }
}

/// Whole days a certificate has left at `now_ms` (negative once expired).
pub fn certificate_days_left(not_after_ms: i64, now_ms: i64) -> i64 {
    (not_after_ms - now_ms).div_euclid(86_400_000)
}

/// A certificate's state in words: `cert.<state>` with the days left.
pub fn certificate_words(
    lang: onewindow_i18n::Lang,
    not_before_ms: i64,
    not_after_ms: i64,
    now_ms: i64,
) -> String {
    let state = certificate_state(not_before_ms, not_after_ms, now_ms);
    let days = certificate_days_left(not_after_ms, now_ms);
    onewindow_i18n::phrase_with(lang, &format!("cert.{state}"), &[("days", &days)])
}

#[cfg(test)]
mod cert_tests {
    use super::*;

    #[test]
    fn a_certificate_is_due_at_two_thirds_and_warns_in_its_last_month() {
        const DAY: i64 = 86_400_000;
        let (nb, na) = (0, 825 * DAY);
        assert_eq!(certificate_state(nb, na, -1), "not_yet_valid");
        assert_eq!(certificate_state(nb, na, 10 * DAY), "ok");
        assert_eq!(certificate_state(nb, na, 549 * DAY), "ok");
        assert_eq!(certificate_state(nb, na, 550 * DAY), "renew");
        assert_eq!(certificate_state(nb, na, 796 * DAY), "expiring");
        assert_eq!(certificate_state(nb, na, 825 * DAY), "expired");
        assert_eq!(
            certificate_words(onewindow_i18n::Lang::En, nb, na, 800 * DAY),
            "expires in 25 days"
        );
        assert_eq!(
            certificate_words(onewindow_i18n::Lang::Zh, nb, na, 10 * DAY),
            "有效，剩 815 天"
        );
    }
}
