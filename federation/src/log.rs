//! Log entries and their hash chain.
//!
//! Every node numbers what it writes in one origin sequence, 1, 2, 3, ...
//! Each entry carries the hash of the previous entry of the same origin, and
//! its own hash covers the origin, the sequence, the previous hash and the
//! opaque body. A receiver that holds an origin's entries can therefore tell a
//! gap, a reordering or an altered body.

use sha2::{Digest, Sha256};
use std::fmt;

use crate::NodeId;

/// A SHA-256 hash, shown as lowercase hex.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct EntryHash(pub [u8; 32]);

impl EntryHash {
    /// The hash that precedes an origin's first entry.
    pub const GENESIS: EntryHash = EntryHash([0; 32]);

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        // Into a buffer of its final size: `hex::encode` pushes one char
        // at a time, and this runs for every entry a store writes.
        let mut buf = [0u8; 64];
        hex::encode_to_slice(self.0, &mut buf).unwrap_or_default();
        String::from_utf8(buf.to_vec()).unwrap_or_default()
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

/// The part of an entry that may be withheld above the tiers that need it
/// (a case event's personal data). The entry's hash covers the section's own
/// hash, so an entry whose section was withheld still verifies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sealed {
    /// The section's bytes (empty when the entry has none).
    #[default]
    Empty,
    /// The section's bytes.
    Open(Vec<u8>),
    /// The section was withheld; its hash stands in for it.
    Withheld(EntryHash),
}

impl Sealed {
    /// Wraps bytes: none is [`Sealed::Empty`].
    pub fn open(bytes: Vec<u8>) -> Self {
        if bytes.is_empty() {
            Self::Empty
        } else {
            Self::Open(bytes)
        }
    }

    /// The bytes, if present.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Empty => Some(&[]),
            Self::Open(b) => Some(b),
            Self::Withheld(_) => None,
        }
    }

    /// Is there no section at all?
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// The hash that the entry's hash covers: all zeros for no section.
    pub fn digest(&self) -> EntryHash {
        match self {
            Self::Empty => EntryHash::GENESIS,
            Self::Open(b) => {
                let mut h = Sha256::new();
                h.update(b"onewindow-sealed-v2\0");
                h.update(b);
                EntryHash(h.finalize().into())
            }
            Self::Withheld(h) => *h,
        }
    }

    /// The same section, withheld.
    pub fn withhold(&self) -> Self {
        match self {
            Self::Empty => Self::Empty,
            other => Self::Withheld(other.digest()),
        }
    }

    /// Bytes held (0 when withheld).
    pub fn len(&self) -> usize {
        self.bytes().map_or(0, <[u8]>::len)
    }
}

/// One entry of an origin's log.
///
/// Two formats share the chain. A body whose first byte is `{` is a
/// format-1 entry (JSON text, no sealed section, hashed as format 1 always
/// was), written by the first releases and kept as it was. Every other body
/// begins with its format byte (2 today) and is hashed by the format-2 rule,
/// which also covers the sealed section's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The node that wrote the entry.
    pub origin: NodeId,
    /// Its place in the origin's sequence, from 1.
    pub origin_seq: u64,
    /// Hash of the origin's previous entry ([`EntryHash::GENESIS`] for seq 1).
    pub prev_hash: EntryHash,
    /// Hash of this entry.
    pub hash: EntryHash,
    /// The open body, opaque to this crate.
    pub body: Vec<u8>,
    /// The sealed section.
    pub sealed: Sealed,
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

/// Is this body a format-1 (JSON text) body?
pub fn is_format1(body: &[u8]) -> bool {
    body.first() == Some(&b'{')
}

/// Computes an entry's hash from its parts.
pub fn entry_hash(
    origin: &NodeId,
    origin_seq: u64,
    prev: &EntryHash,
    body: &[u8],
    sealed: &Sealed,
) -> EntryHash {
    let mut h = Sha256::new();
    let format1 = is_format1(body) && sealed.is_empty();
    h.update(if format1 {
        &b"onewindow-log-v1\0"[..]
    } else {
        &b"onewindow-log-v2\0"[..]
    });
    h.update((origin.as_str().len() as u64).to_be_bytes());
    h.update(origin.as_str().as_bytes());
    h.update(origin_seq.to_be_bytes());
    h.update(prev.0);
    h.update((body.len() as u64).to_be_bytes());
    h.update(body);
    if !format1 {
        h.update(sealed.digest().0);
    }
    EntryHash(h.finalize().into())
}

impl LogEntry {
    /// Makes the entry that follows `prev_seq`/`prev_hash` of `origin`.
    pub fn next(
        origin: NodeId,
        prev_seq: u64,
        prev_hash: EntryHash,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        Self::next_sealed(origin, prev_seq, prev_hash, body.into(), Sealed::Empty)
    }

    /// Makes the entry that follows, with a sealed section.
    pub fn next_sealed(
        origin: NodeId,
        prev_seq: u64,
        prev_hash: EntryHash,
        body: Vec<u8>,
        sealed: Sealed,
    ) -> Self {
        let origin_seq = prev_seq + 1;
        Self::assemble(origin, origin_seq, prev_hash, body, sealed)
    }

    /// Builds an entry from its parts, computing its hash (what a receiver
    /// does with an entry off the wire, where the hash is never sent).
    pub fn assemble(
        origin: NodeId,
        origin_seq: u64,
        prev_hash: EntryHash,
        body: Vec<u8>,
        sealed: Sealed,
    ) -> Self {
        let hash = entry_hash(&origin, origin_seq, &prev_hash, &body, &sealed);
        Self {
            origin,
            origin_seq,
            prev_hash,
            hash,
            body,
            sealed,
        }
    }

    /// Checks that the stored hash matches the content.
    pub fn verify_hash(&self) -> Result<(), ChainError> {
        if entry_hash(
            &self.origin,
            self.origin_seq,
            &self.prev_hash,
            &self.body,
            &self.sealed,
        ) == self.hash
        {
            Ok(())
        } else {
            Err(ChainError::HashMismatch {
                origin: self.origin.clone(),
                seq: self.origin_seq,
            })
        }
    }

    /// Checks that this entry directly follows one with `prev_seq` and
    /// `prev_hash` (its own hash is checked by [`LogEntry::verify_hash`]).
    pub fn verify_follows(&self, prev_seq: u64, prev_hash: &EntryHash) -> Result<(), ChainError> {
        self.verify_hash()?;
        self.verify_link(prev_seq, prev_hash)
    }

    /// Checks only the link to the previous entry: sequence and previous
    /// hash. For entries whose hash was computed from their content (off
    /// the wire), this is the whole check.
    pub fn verify_link(&self, prev_seq: u64, prev_hash: &EntryHash) -> Result<(), ChainError> {
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

    /// The same entry with its sealed section withheld: it still verifies.
    pub fn withheld(&self) -> Self {
        Self {
            sealed: self.sealed.withhold(),
            ..self.clone()
        }
    }

    /// Bytes of body and sealed section.
    pub fn payload_len(&self) -> usize {
        self.body.len() + self.sealed.len()
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

    #[test]
    fn format1_entries_keep_the_hash_they_were_written_with() {
        // Computed by the first release's `entry_hash` for this entry.
        let origin = NodeId::new("nanhai.guicheng").expect("valid");
        let e = LogEntry::next(origin, 0, EntryHash::GENESIS, r#"{"a":1}"#);
        assert_eq!(
            e.hash.to_hex(),
            "16e6a1b938921125ebd197ccaafcb97f568431b0e4b20bd795743b78610292b2"
        );
    }

    #[test]
    fn a_withheld_section_still_verifies_and_an_altered_one_does_not() {
        let origin = NodeId::new("nanhai.guicheng.xiaping").expect("valid");
        let e = LogEntry::next_sealed(
            origin,
            0,
            EntryHash::GENESIS,
            vec![2, 1, 2, 3],
            Sealed::open(b"applicant".to_vec()),
        );
        e.verify_hash().expect("as written");
        let w = e.withheld();
        assert!(w.sealed.bytes().is_none());
        w.verify_hash().expect("withheld keeps the hash");
        assert_eq!(w.hash, e.hash);
        let mut altered = e.clone();
        altered.sealed = Sealed::open(b"someone else".to_vec());
        assert!(altered.verify_hash().is_err());
        // A format-2 body with no sealed section is not hashed as format 1.
        let plain = LogEntry::next(e.origin.clone(), 0, EntryHash::GENESIS, vec![2u8, 9]);
        let other = LogEntry::next_sealed(
            e.origin.clone(),
            0,
            EntryHash::GENESIS,
            vec![2u8, 9],
            Sealed::open(vec![1]),
        );
        assert_ne!(plain.hash, other.hash);
    }

    proptest! {
        #[test]
        fn any_altered_body_breaks_the_chain(n in 1usize..12, at in 0usize..12, extra in "[a-z]{1,4}") {
            let mut c = chain(n);
            let at = at % n;
            c[at].body.extend_from_slice(extra.as_bytes());
            prop_assert!(verify_chain(0, EntryHash::GENESIS, &c).is_err());
        }

        #[test]
        fn hex_round_trips(bytes in proptest::array::uniform32(any::<u8>())) {
            let h = EntryHash(bytes);
            prop_assert_eq!(EntryHash::from_hex(&h.to_hex()).expect("hex"), h);
        }
    }
}
