//! Failed logins, counted per account and per address: after too many
//! within the window, the account (or the address) is locked for the rest
//! of a lockout, whatever password comes next, and no password is checked
//! while it lasts. Pure bookkeeping with the time passed in; the service
//! records each lockout as a security event.
//!
//! Counts live in memory: a restart forgets them (an attacker cannot
//! restart a hall). The table is bounded: past [`MAX_KEYS`] keys, those
//! whose window has ended go first, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Most accounts and addresses remembered at once.
pub const MAX_KEYS: usize = 10_000;

/// Longest account name kept as a key (longer ones are cut).
const MAX_NAME: usize = 64;

/// What is counted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A username (as typed, cut to 64 characters), whether or not it exists.
    Account(String),
    /// The address a request came from.
    Address(IpAddr),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Account(a) => write!(f, "account {a}"),
            Key::Address(ip) => write!(f, "address {ip}"),
        }
    }
}

/// The limits (from `[auth]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures of one account within the window that lock it.
    pub account_failures: u32,
    /// Failures from one address within the window that lock it.
    pub address_failures: u32,
    /// The window and the lockout, in ms.
    pub lockout_ms: i64,
}

/// A lockout in force or just begun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    /// What is locked.
    pub key: Key,
    /// Until when (ms).
    pub until_ms: i64,
    /// The failures that caused it.
    pub failures: u32,
}

#[derive(Debug, Clone, Copy)]
struct Count {
    /// Start of the current window.
    since_ms: i64,
    failures: u32,
    /// Locked until then (0: not locked).
    locked_until_ms: i64,
}

/// The counts of one node.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: Limits,
    counts: Mutex<HashMap<Key, Count>>,
}

impl LoginThrottle {
    /// Empty counts under these limits.
    pub fn new(limits: Limits) -> Self {
        LoginThrottle {
            limits,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, from: Option<IpAddr>) -> impl Iterator<Item = Key> {
        let name: String = username.chars().take(MAX_NAME).collect();
        std::iter::once(Key::Account(name)).chain(from.map(Key::Address))
    }

    /// The lockout, if any, that refuses a login of `username` from `from`
    /// now (the one that lasts longest).
    pub fn locked(&self, username: &str, from: Option<IpAddr>, now_ms: i64) -> Option<Lockout> {
        let counts = self.counts.lock().ok()?;
        Self::keys(username, from)
            .filter_map(|k| {
                let c = counts.get(&k)?;
                (c.locked_until_ms > now_ms).then_some(Lockout {
                    until_ms: c.locked_until_ms,
                    failures: c.failures,
                    key: k,
                })
            })
            .max_by_key(|l| l.until_ms)
    }

    /// Counts a failed login; returns the lockouts it began.
    pub fn failed(&self, username: &str, from: Option<IpAddr>, now_ms: i64) -> Vec<Lockout> {
        let Ok(mut counts) = self.counts.lock() else {
            return Vec::new();
        };
        let lim = self.limits;
        let mut begun = Vec::new();
        for key in Self::keys(username, from) {
            if !counts.contains_key(&key) && counts.len() >= MAX_KEYS {
                make_room(&mut counts, now_ms, lim.lockout_ms);
            }
            let c = counts.entry(key.clone()).or_insert(Count {
                since_ms: now_ms,
                failures: 0,
                locked_until_ms: 0,
            });
            if c.locked_until_ms > now_ms {
                continue;
            }
            if now_ms - c.since_ms >= lim.lockout_ms || c.locked_until_ms != 0 {
                // A new window: the old one ended, or its lockout did.
                *c = Count {
                    since_ms: now_ms,
                    failures: 0,
                    locked_until_ms: 0,
                };
            }
            c.failures += 1;
            let limit = match key {
                Key::Account(_) => lim.account_failures,
                Key::Address(_) => lim.address_failures,
            };
            if c.failures >= limit {
                c.locked_until_ms = now_ms + lim.lockout_ms;
                begun.push(Lockout {
                    key,
                    until_ms: c.locked_until_ms,
                    failures: c.failures,
                });
            }
        }
        begun
    }

    /// A login of `username` succeeded: its account starts afresh (the
    /// address keeps its count, so one good account does not clear a
    /// guesser's record).
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut counts) = self.counts.lock() {
            let name: String = username.chars().take(MAX_NAME).collect();
            counts.remove(&Key::Account(name));
        }
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.counts.lock().map(|c| c.len()).unwrap_or(0)
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops the keys whose window and lockout have ended; if none has, the
/// oldest tenth.
fn make_room(counts: &mut HashMap<Key, Count>, now_ms: i64, window_ms: i64) {
    counts.retain(|_, c| c.locked_until_ms > now_ms || now_ms - c.since_ms < window_ms);
    if counts.len() >= MAX_KEYS {
        let mut ages: Vec<(i64, Key)> = counts
            .iter()
            .filter(|(_, c)| c.locked_until_ms <= now_ms)
            .map(|(k, c)| (c.since_ms, k.clone()))
            .collect();
        ages.sort_by_key(|(since, _)| *since);
        for (_, k) in ages.into_iter().take(MAX_KEYS / 10) {
            counts.remove(&k);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(Limits {
            account_failures: 3,
            address_failures: 5,
            lockout_ms: 15 * MIN,
        })
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn an_account_locks_after_its_limit_and_opens_after_the_lockout() {
        let t = throttle();
        assert!(t.failed("clerk", ip(1), 0).is_empty());
        assert!(t.failed("clerk", ip(2), MIN).is_empty());
        assert_eq!(t.locked("clerk", ip(3), MIN), None);
        let begun = t.failed("clerk", ip(3), 2 * MIN);
        assert_eq!(begun.len(), 1);
        assert_eq!(begun[0].key, Key::Account("clerk".into()));
        assert_eq!(begun[0].until_ms, 17 * MIN);
        // Locked from any address, other accounts not.
        let l = t.locked("clerk", ip(9), 3 * MIN).expect("locked");
        assert_eq!(l.until_ms, 17 * MIN);
        assert_eq!(t.locked("other", ip(9), 3 * MIN), None);
        // Failures while locked neither extend nor add a lockout.
        assert!(t.failed("clerk", ip(4), 4 * MIN).is_empty());
        assert_eq!(t.locked("clerk", None, 4 * MIN).unwrap().until_ms, 17 * MIN);
        assert_eq!(t.locked("clerk", None, 17 * MIN), None);
        // After the lockout the count starts again.
        assert!(t.failed("clerk", ip(1), 18 * MIN).is_empty());
        assert_eq!(t.locked("clerk", None, 18 * MIN), None);
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_lock() {
        let t = throttle();
        for k in 0..10 {
            assert!(t.failed("clerk", None, k * 16 * MIN).is_empty());
        }
        assert_eq!(t.locked("clerk", None, 161 * MIN), None);
    }

    #[test]
    fn an_address_locks_after_failures_on_many_accounts() {
        let t = throttle();
        for k in 0..4 {
            assert!(t.failed(&format!("user{k}"), ip(7), k).is_empty());
        }
        let begun = t.failed("user4", ip(7), 4);
        assert_eq!(begun.len(), 1);
        assert_eq!(begun[0].key, Key::Address(IpAddr::from([10, 0, 0, 7])));
        // Every account is refused from there, even one never tried.
        assert!(t.locked("admin", ip(7), 5).is_some());
        assert_eq!(t.locked("admin", ip(8), 5), None);
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let t = throttle();
        t.failed("clerk", ip(1), 0);
        t.failed("clerk", ip(1), 1);
        t.succeeded("clerk");
        assert!(t.failed("clerk", ip(1), 2).is_empty());
        assert!(t.failed("clerk", ip(1), 3).is_empty());
        // The address has four failures; the fifth locks it.
        assert_eq!(t.failed("clerk", ip(1), 4).len(), 2);
    }

    #[test]
    fn the_table_stays_bounded() {
        let t = throttle();
        for k in 0..(MAX_KEYS as i64 + 500) {
            t.failed(&format!("u{k}"), None, k);
        }
        assert!(t.len() <= MAX_KEYS, "{} keys", t.len());
        // A long name is one key, cut.
        let long = "x".repeat(10_000);
        t.failed(&long, None, 0);
        assert!(t.len() <= MAX_KEYS);
    }
}
