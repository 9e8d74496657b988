//! Log entries and their hash chain.
//!
//! Every node numbers what it writes in one origin sequence, 1, 2, 3, ...
//! Each entry carries the hash of the previous entry of the same origin, and
//! its own hash covers the origin, the sequence, the previous hash and the
//! opaque body. A receiver that holds an origin's entries can therefore tell a
//! gap, a reordering or an altered body.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

use crate::NodeId;

/// A SHA-256 hash, shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntryHash(pub [u8; 32]);

impl EntryHash {
    /// The hash that precedes an origin's first entry.
    pub const GENESIS: EntryHash = EntryHash([0; 32]);

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses lowercase or uppercase hex of 64 digits.
    pub fn from_hex(s: &str) -> Result<Self, ChainError> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| ChainError::BadHash(s.to_owned()))?;
        Ok(Self(out))
    }
}

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..12])
    }
}

impl fmt::Display for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for EntryHash {
    type Error = ChainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::from_hex(&s)
    }
}

impl From<EntryHash> for String {
    fn from(h: EntryHash) -> String {
        h.to_hex()
    }
}

/// One entry of an origin's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The node that wrote the entry.
    pub origin: NodeId,
    /// Its place in the origin's sequence, from 1.
    pub origin_seq: u64,
    /// Hash of the origin's previous entry ([`EntryHash::GENESIS`] for seq 1).
    pub prev_hash: EntryHash,
    /// Hash of this entry.
    pub hash: EntryHash,
    /// The opaque body.
    pub body: String,
}

/// What is wrong with an entry or a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// Not 64 hex digits.
    #[error("{0:?} is not a SHA-256 hash in hex")]
    BadHash(String),
    /// The stored hash does not match the content.
    #[error("entry {origin}#{seq}: hash does not match its content")]
    HashMismatch {
        /// Origin.
        origin: NodeId,
        /// Sequence.
        seq: u64,
    },
    /// The sequence does not follow the previous one.
    #[error("entry {origin}#{seq}: expected sequence {expected}")]
    Gap {
        /// Origin.
        origin: NodeId,
        /// Sequence found.
        seq: u64,
        /// Sequence expected.
        expected: u64,
    },
    /// The previous hash does not match the previous entry's hash.
    #[error("entry {origin}#{seq}: previous hash does not match")]
    BrokenChain {
        /// Origin.
        origin: NodeId,
        /// Sequence.
        seq: u64,
    },
}

/// Computes an entry's hash from its parts.
pub fn entry_hash(origin: &NodeId, origin_seq: u64, prev: &EntryHash, body: &str) -> EntryHash {
    let mut h = Sha256::new();
    h.update(b"onewindow-log-v1\0");
    h.update((origin.as_str().len() as u64).to_be_bytes());
    h.update(origin.as_str().as_bytes());
    h.update(origin_seq.to_be_bytes());
    h.update(prev.0);
    h.update((body.len() as u64).to_be_bytes());
    h.update(body.as_bytes());
    EntryHash(h.finalize().into())
}

impl LogEntry {
    /// Makes the entry that follows `prev_seq`/`prev_hash` of `origin`.
    pub fn next(origin: NodeId, prev_seq: u64, prev_hash: EntryHash, body: String) -> Self {
        let origin_seq = prev_seq + 1;
        let hash = entry_hash(&origin, origin_seq, &prev_hash, &body);
        Self {
            origin,
            origin_seq,
            prev_hash,
            hash,
            body,
        }
    }

    /// Checks that the stored hash matches the content.
    pub fn verify_hash(&self) -> Result<(), ChainError> {
        if entry_hash(&self.origin, self.origin_seq, &self.prev_hash, &self.body) == self.hash {
            Ok(())
        } else {
            Err(ChainError::HashMismatch {
                origin: self.origin.clone(),
                seq: self.origin_seq,
            })
        }
    }

    /// Checks that this entry directly follows one with `prev_seq` and `prev_hash`.
    pub fn verify_follows(&self, prev_seq: u64, prev_hash: &EntryHash) -> Result<(), ChainError> {
        self.verify_hash()?;
        if self.origin_seq != prev_seq + 1 {
            return Err(ChainError::Gap {
                origin: self.origin.clone(),
                seq: self.origin_seq,
                expected: prev_seq + 1,
            });
        }
        if &self.prev_hash != prev_hash {
            return Err(ChainError::BrokenChain {
                origin: self.origin.clone(),
                seq: self.origin_seq,
            });
        }
        Ok(())
    }
}

/// Verifies a run of one origin's entries, starting after `(seq, hash)`.
pub fn verify_chain<'a>(
    mut seq: u64,
    mut hash: EntryHash,
    entries: impl IntoIterator<Item = &'a LogEntry>,
) -> Result<(u64, EntryHash), ChainError> {
    for e in entries {
        e.verify_follows(seq, &hash)?;
        seq = e.origin_seq;
        hash = e.hash;
    }
    Ok((seq, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain(n: usize) -> Vec<LogEntry> {
        let origin = NodeId::new("nanhai.guicheng").expect("valid");
        let mut out: Vec<LogEntry> = Vec::new();
        for i in 0..n {
            let (seq, hash) = out
                .last()
                .map_or((0, EntryHash::GENESIS), |e| (e.origin_seq, e.hash));
            out.push(LogEntry::next(
                origin.clone(),
                seq,
                hash,
                format!("body {i}"),
            ));
        }
        out
    }

    #[test]
    fn a_fresh_chain_verifies() {
        let c = chain(5);
        assert_eq!(
            verify_chain(0, EntryHash::GENESIS, &c)
                .expect("valid chain")
                .0,
            5
        );
    }

    #[test]
    fn gap_is_detected() {
        let mut c = chain(4);
        c.remove(2);
        assert!(matches!(
            verify_chain(0, EntryHash::GENESIS, &c),
            Err(ChainError::Gap {
                seq: 4,
                expected: 3,
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn any_altered_body_breaks_the_chain(n in 1usize..12, at in 0usize..12, extra in "[a-z]{1,4}") {
            let mut c = chain(n);
            let at = at % n;
            c[at].body.push_str(&extra);
            prop_assert!(verify_chain(0, EntryHash::GENESIS, &c).is_err());
        }

        #[test]
        fn hex_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let h = EntryHash(bytes);
            prop_assert_eq!(EntryHash::from_hex(&h.to_hex()).expect("hex"), h);
        }
    }
}
