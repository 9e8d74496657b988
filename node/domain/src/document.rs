//! Issued documents as records, and the seal printed in their QR code.
//!
//! A document (receipt, correction notice, non-acceptance decision,
//! completion notice, result notice) is written once, when it is issued, as
//! an [`IssuedDocument`] in the case's log ([`crate::case::Event::DocumentIssued`]):
//! its content as the issuing hall rendered it, the SHA-256 of that content,
//! and the hall's Ed25519 signature. It travels with the case's other events
//! and is shown from that record at every hall, forever; a later state of the
//! case makes a new document, never an edit.
//!
//! The [`Seal`] is what the QR code carries (base64url, after `?d=` in the
//! link to a hall's public verify page): the case number, the kind, the day,
//! the issuing hall, the content hash, the hall's document key, the root's
//! endorsement of that key and the hall's signature. With nothing but the
//! root's public key, anyone can check a seal offline ([`Seal::verify`]); a
//! hall that holds the case can also check that the content is the one in
//! its record.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The seal format written now.
pub const SEAL_VERSION: u8 = 1;
/// What a hall signs before a seal's fields (domain separation).
const SEAL_CONTEXT: &[u8] = b"onewindow document seal v1\n";
/// Longest case number or node id a seal carries.
const MAX_NAME: usize = 128;
/// Longest seal text accepted (base64url).
pub const MAX_SEAL_TEXT: usize = 1024;

/// The kinds of issued document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// 受理回执
    Receipt,
    /// 材料补正通知书
    CorrectionNotice,
    /// 不予受理决定书
    NonAcceptance,
    /// 办结通知（即办件）
    Completion,
    /// 办理结果通知书（准予或不予许可）
    Result,
    /// 撤销决定书: a trust-first result revoked after its post-check.
    Revocation,
}

impl DocKind {
    /// Every kind, in code order.
    pub const ALL: [Self; 6] = [
        Self::Receipt,
        Self::CorrectionNotice,
        Self::NonAcceptance,
        Self::Completion,
        Self::Result,
        Self::Revocation,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::CorrectionNotice => "correction_notice",
            Self::NonAcceptance => "non_acceptance",
            Self::Completion => "completion",
            Self::Result => "result",
            Self::Revocation => "revocation",
        }
    }

    /// Its code in the log and in a seal.
    pub fn code(self) -> u8 {
        match self {
            Self::Receipt => 1,
            Self::CorrectionNotice => 2,
            Self::NonAcceptance => 3,
            Self::Completion => 4,
            Self::Result => 5,
            Self::Revocation => 6,
        }
    }

    /// The kind of a code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Is this the answer to an acceptance decision (what the window hands
    /// over when it receives a case)?
    pub fn is_acceptance(self) -> bool {
        !matches!(self, Self::Result | Self::Revocation)
    }
}

/// A document as issued: the record in the case's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedDocument {
    /// Which document.
    pub kind: DocKind,
    /// The day it was issued (China time).
    pub issued_on: NaiveDate,
    /// The content as the issuing hall rendered it (JSON text; personal).
    pub content: String,
    /// SHA-256 of `content`.
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub hash: Vec<u8>,
    /// The issuing hall's document key (Ed25519 public key).
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub key: Vec<u8>,
    /// The root's signature over [`endorsement_text`] of that key (empty
    /// when the hall's key was not endorsed).
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub endorsement: Vec<u8>,
    /// The hall's signature over the seal's signed part.
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub signature: Vec<u8>,
}

impl IssuedDocument {
    /// The seal of this document, issued at `node` for case `case_id`.
    pub fn seal(&self, case_id: &str, node: &str) -> Seal {
        Seal {
            case_id: case_id.to_owned(),
            kind: self.kind,
            issued_on: self.issued_on,
            node: node.to_owned(),
            hash: self.hash.clone(),
            key: self.key.clone(),
            endorsement: self.endorsement.clone(),
            signature: self.signature.clone(),
        }
    }

    /// Does the content match its hash?
    pub fn content_intact(&self) -> bool {
        content_hash(&self.content) == self.hash
    }

    /// A short reference: the first 8 bytes of the hash, hex.
    pub fn reference(&self) -> String {
        hex::encode(&self.hash[..self.hash.len().min(8)])
    }
}

/// SHA-256 of a document's content.
pub fn content_hash(content: &str) -> Vec<u8> {
    Sha256::digest(content.as_bytes()).to_vec()
}

/// What the root signs to endorse a hall's document key.
pub fn endorsement_text(node: &str, key: &[u8]) -> Vec<u8> {
    format!("onewindow document key v1\n{node}\n{}", hex::encode(key)).into_bytes()
}

/// The fields of a document that its QR code carries, signed by the hall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// Case number.
    pub case_id: String,
    /// Which document.
    pub kind: DocKind,
    /// Day of issue.
    pub issued_on: NaiveDate,
    /// The issuing hall's node id.
    pub node: String,
    /// SHA-256 of the content.
    pub hash: Vec<u8>,
    /// The hall's document key.
    pub key: Vec<u8>,
    /// The root's endorsement of the key (may be empty).
    pub endorsement: Vec<u8>,
    /// The hall's signature over [`Seal::signed_part`].
    pub signature: Vec<u8>,
}

/// Why a seal does not check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Not a seal: bad base64, truncated, an unknown version or kind.
    #[error("not a document seal")]
    Malformed,
    /// The hall's key is not endorsed by this federation's root.
    #[error("the issuing hall's key is not endorsed by the root")]
    NotEndorsed,
    /// The hall's signature does not match the seal's fields: altered or
    /// forged.
    #[error("the signature does not match: the document was altered or forged")]
    BadSignature,
}

fn days(d: NaiveDate) -> i32 {
    i32::try_from(d.signed_duration_since(NaiveDate::default()).num_days()).unwrap_or(0)
}

impl Seal {
    /// What the hall signs: the context, then every field but the key, the
    /// endorsement and the signature.
    pub fn signed_part(&self) -> Vec<u8> {
        let mut b = SEAL_CONTEXT.to_vec();
        b.push(SEAL_VERSION);
        b.push(self.kind.code());
        b.extend_from_slice(&days(self.issued_on).to_be_bytes());
        put_name(&mut b, &self.case_id);
        put_name(&mut b, &self.node);
        b.extend_from_slice(&self.hash);
        b
    }

    /// The seal as the QR code's `d` parameter (base64url).
    pub fn encode(&self) -> String {
        let mut b = vec![SEAL_VERSION, self.kind.code()];
        b.extend_from_slice(&days(self.issued_on).to_be_bytes());
        put_name(&mut b, &self.case_id);
        put_name(&mut b, &self.node);
        b.extend_from_slice(&self.hash);
        b.extend_from_slice(&self.key);
        b.push(u8::try_from(self.endorsement.len()).unwrap_or(0));
        if self.endorsement.len() <= usize::from(u8::MAX) {
            b.extend_from_slice(&self.endorsement);
        }
        b.extend_from_slice(&self.signature);
        URL_SAFE_NO_PAD.encode(b)
    }

    /// Reads a seal from its text (as [`Seal::encode`] writes it).
    pub fn decode(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_SEAL_TEXT {
            return Err(SealError::Malformed);
        }
        let b = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| SealError::Malformed)?;
        let mut r = Reader(&b);
        if r.byte()? != SEAL_VERSION {
            return Err(SealError::Malformed);
        }
        let kind = DocKind::from_code(r.byte()?).ok_or(SealError::Malformed)?;
        let d = i32::from_be_bytes(r.take(4)?.try_into().map_err(|_| SealError::Malformed)?);
        let issued_on = NaiveDate::default()
            .checked_add_signed(chrono::Duration::days(i64::from(d)))
            .ok_or(SealError::Malformed)?;
        let case_id = r.name()?;
        let node = r.name()?;
        let hash = r.take(32)?.to_vec();
        let key = r.take(32)?.to_vec();
        let n = usize::from(r.byte()?);
        let endorsement = r.take(n)?.to_vec();
        let signature = r.take(64)?.to_vec();
        if !r.0.is_empty() {
            return Err(SealError::Malformed);
        }
        Ok(Self {
            case_id,
            kind,
            issued_on,
            node,
            hash,
            key,
            endorsement,
            signature,
        })
    }

    /// Checks the seal with nothing but the root's public key: the root
    /// endorsed the hall's key for this hall, and that key signed these
    /// fields.
    pub fn verify(&self, root_key: &[u8]) -> Result<(), SealError> {
        if self.endorsement.is_empty()
            || UnparsedPublicKey::new(&ED25519, root_key)
                .verify(&endorsement_text(&self.node, &self.key), &self.endorsement)
                .is_err()
        {
            return Err(SealError::NotEndorsed);
        }
        self.verify_signature()
    }

    /// Checks only the hall's signature under the key the seal carries.
    pub fn verify_signature(&self) -> Result<(), SealError> {
        UnparsedPublicKey::new(&ED25519, &self.key)
            .verify(&self.signed_part(), &self.signature)
            .map_err(|_| SealError::BadSignature)
    }
}

fn put_name(b: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(MAX_NAME)];
    b.push(u8::try_from(bytes.len()).unwrap_or(0));
    b.extend_from_slice(bytes);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SealError> {
        if self.0.len() < n {
            return Err(SealError::Malformed);
        }
        let (a, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(a)
    }

    fn byte(&mut self) -> Result<u8, SealError> {
        Ok(self.take(1)?[0])
    }

    fn name(&mut self) -> Result<String, SealError> {
        let n = usize::from(self.byte()?);
        if n > MAX_NAME {
            return Err(SealError::Malformed);
        }
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| SealError::Malformed)
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn pair() -> Ed25519KeyPair {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
    }

    fn sealed(root: &Ed25519KeyPair, hall: &Ed25519KeyPair) -> Seal {
        let key = hall.public_key().as_ref().to_vec();
        let mut s = Seal {
            case_id: "XPH-20261123-000001-7".into(),
            kind: DocKind::Receipt,
            issued_on: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            node: "nanhai.guicheng.xiaping".into(),
            hash: content_hash("{}"),
            endorsement: root
                .sign(&endorsement_text("nanhai.guicheng.xiaping", &key))
                .as_ref()
                .to_vec(),
            key,
            signature: Vec::new(),
        };
        s.signature = hall.sign(&s.signed_part()).as_ref().to_vec();
        s
    }

    #[test]
    fn a_seal_round_trips_and_verifies_with_only_the_root_key() {
        let (root, hall) = (pair(), pair());
        let s = sealed(&root, &hall);
        let text = s.encode();
        assert!(text.len() < 400, "{} characters", text.len());
        let back = Seal::decode(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.verify(root.public_key().as_ref()), Ok(()));
    }

    #[test]
    fn an_altered_or_forged_seal_is_refused() {
        let (root, hall) = (pair(), pair());
        let s = sealed(&root, &hall);
        let rk = root.public_key().as_ref();
        // Another case number under the same signature.
        let mut t = s.clone();
        t.case_id = "XPH-20261123-000002-5".into();
        assert_eq!(t.verify(rk), Err(SealError::BadSignature));
        // Another content hash.
        let mut t = s.clone();
        t.hash[0] ^= 1;
        assert_eq!(t.verify(rk), Err(SealError::BadSignature));
        // Another hall claiming the key.
        let mut t = s.clone();
        t.node = "nanhai.guicheng".into();
        assert_eq!(t.verify(rk), Err(SealError::NotEndorsed));
        // A key the root never endorsed, signing for itself.
        let forger = pair();
        let mut t = s.clone();
        t.key = forger.public_key().as_ref().to_vec();
        t.signature = forger.sign(&t.signed_part()).as_ref().to_vec();
        assert_eq!(t.verify(rk), Err(SealError::NotEndorsed));
        assert_eq!(t.verify_signature(), Ok(()));
        // Another federation's root.
        assert_eq!(
            s.verify(pair().public_key().as_ref()),
            Err(SealError::NotEndorsed)
        );
        // A changed character of the text.
        let text = s.encode();
        let mut chars: Vec<char> = text.chars().collect();
        let i = 12;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let altered: String = chars.into_iter().collect();
        assert!(Seal::decode(&altered).map_or(true, |x| x.verify(rk).is_err()));
    }

    #[test]
    fn garbage_is_not_a_seal() {
        for t in ["", "%%%", "AAAA", &"A".repeat(MAX_SEAL_TEXT + 1)] {
            assert_eq!(Seal::decode(t), Err(SealError::Malformed), "{t:?}");
        }
        let (root, hall) = (pair(), pair());
        let mut text = sealed(&root, &hall).encode();
        text.push_str("AA");
        assert_eq!(Seal::decode(&text), Err(SealError::Malformed));
    }

    #[test]
    fn kinds_have_stable_codes() {
        for k in DocKind::ALL {
            assert_eq!(DocKind::from_code(k.code()), Some(k));
        }
        assert_eq!(DocKind::from_code(0), None);
        assert_eq!(DocKind::Result.as_str(), "result");
    }
}
