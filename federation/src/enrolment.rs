//! Enrolment tokens: how a new hall gets its first certificate without its
//! private key ever leaving it.
//!
//! The node that holds the federation CA (normally the district) issues a
//! token for one node id: `owe1-<id>-<secret>-<ca>`, a 64-bit token id, a
//! 128-bit secret and the first 128 bits of the SHA-256 of the CA
//! certificate (DER), all in hex. The hall makes its key pair, and sends
//! its signing request with the token id and an HMAC-SHA256 of the request
//! under the secret: the secret itself never travels, so a token seen on
//! the wire is of no use, and a request that was altered is refused. The
//! hall checks the answer against the CA fingerprint in its token: a
//! certificate from another CA, or not for its key, is refused. A token
//! works once and expires.

use std::fmt;

use rand::RngCore;
use ring::hmac;
use sha2::{Digest, Sha256};

/// The prefix and version of a token's text.
const PREFIX: &str = "owe1";

/// A token as its text carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrolmentToken {
    /// Names the token at the issuing node (hex, 16 characters).
    pub id: String,
    /// The secret the request's MAC is keyed with.
    pub secret: [u8; 16],
    /// The first 16 bytes of the SHA-256 of the CA certificate (DER).
    pub ca_fingerprint: [u8; 16],
}

impl fmt::Debug for EnrolmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnrolmentToken")
            .field("id", &self.id)
            .field("secret", &"[secret]")
            .field("ca_fingerprint", &hex::encode(self.ca_fingerprint))
            .finish()
    }
}

/// A token's text that does not read.
#[derive(Debug, thiserror::Error)]
#[error("not an enrolment token (owe1-<16 hex>-<32 hex>-<32 hex>)")]
pub struct BadToken;

impl EnrolmentToken {
    /// A new token for the CA whose certificate (DER) is `ca_der`.
    pub fn generate(ca_der: &[u8]) -> Self {
        let mut id = [0u8; 8];
        let mut secret = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut id);
        rand::thread_rng().fill_bytes(&mut secret);
        Self {
            id: hex::encode(id),
            secret,
            ca_fingerprint: ca_fingerprint(ca_der),
        }
    }

    /// Reads a token's text (surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Self, BadToken> {
        let mut parts = text.trim().split('-');
        let (Some(PREFIX), Some(id), Some(secret), Some(ca), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(BadToken);
        };
        let bytes16 = |s: &str| -> Result<[u8; 16], BadToken> {
            let v = hex::decode(s).map_err(|_| BadToken)?;
            v.try_into().map_err(|_| BadToken)
        };
        if id.len() != 16 || hex::decode(id).is_err() {
            return Err(BadToken);
        }
        Ok(Self {
            id: id.to_ascii_lowercase(),
            secret: bytes16(secret)?,
            ca_fingerprint: bytes16(ca)?,
        })
    }

    /// The MAC of a signing request (PEM) under this token's secret (hex).
    pub fn mac(&self, request_pem: &str) -> String {
        mac_with(&self.secret, request_pem)
    }

    /// Whether the CA certificate (DER) is the one this token names.
    pub fn names_ca(&self, ca_der: &[u8]) -> bool {
        ca_fingerprint(ca_der) == self.ca_fingerprint
    }
}

impl fmt::Display for EnrolmentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}-{}-{}-{}",
            self.id,
            hex::encode(self.secret),
            hex::encode(self.ca_fingerprint)
        )
    }
}

/// The first 16 bytes of the SHA-256 of a CA certificate (DER).
pub fn ca_fingerprint(ca_der: &[u8]) -> [u8; 16] {
    let digest = Sha256::digest(ca_der);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// HMAC-SHA256 of `request_pem` under `secret`, in hex.
pub fn mac_with(secret: &[u8], request_pem: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hex::encode(hmac::sign(&key, request_pem.as_bytes()).as_ref())
}

/// Whether `mac_hex` is the MAC of `request_pem` under `secret`, compared
/// in constant time.
pub fn mac_matches(secret: &[u8], request_pem: &str, mac_hex: &str) -> bool {
    let Ok(tag) = hex::decode(mac_hex.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, request_pem.as_bytes(), &tag).is_ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_reads_back_and_keys_its_mac() {
        let t = EnrolmentToken::generate(b"the CA certificate");
        let text = t.to_string();
        assert_eq!(text.len(), 4 + 1 + 16 + 1 + 32 + 1 + 32);
        let back = EnrolmentToken::parse(&format!("  {text}\n")).unwrap();
        assert_eq!(back, t);
        assert!(!format!("{t:?}").contains(&hex::encode(t.secret)));
        let mac = t.mac("REQUEST");
        assert!(mac_matches(&t.secret, "REQUEST", &mac));
        assert!(!mac_matches(&t.secret, "REQUEST2", &mac));
        assert!(!mac_matches(&[0; 16], "REQUEST", &mac));
        assert!(!mac_matches(&t.secret, "REQUEST", "zz"));
        assert!(t.names_ca(b"the CA certificate"));
        assert!(!t.names_ca(b"another CA"));
        for bad in [
            "",
            "owe1",
            "owe2-0011223344556677-00112233445566778899aabbccddeeff-00112233445566778899aabbccddeeff",
            "owe1-00112233-00112233445566778899aabbccddeeff-00112233445566778899aabbccddeeff",
            "owe1-0011223344556677-0011-00112233445566778899aabbccddeeff",
            "owe1-0011223344556677-00112233445566778899aabbccddeeff-00112233445566778899aabbccddeeff-x",
            "owe1-001122334455667g-00112233445566778899aabbccddeeff-00112233445566778899aabbccddeeff",
        ] {
            assert!(EnrolmentToken::parse(bad).is_err(), "{bad}");
        }
    }
}
