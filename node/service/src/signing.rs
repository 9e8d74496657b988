//! The root's Ed25519 signature over the rules it publishes.

use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// Signing failed or a key does not parse.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// The private key is not PKCS#8 Ed25519 in hex.
    #[error("the signing key is not a PKCS#8 Ed25519 key in hex")]
    BadKey,
    /// Key generation failed.
    #[error("could not generate a key")]
    Generate,
}

/// A new key pair: (PKCS#8 private key hex, public key hex).
pub fn generate() -> Result<(String, String), SigningError> {
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| SigningError::Generate)?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| SigningError::BadKey)?;
    Ok((
        hex::encode(pkcs8.as_ref()),
        hex::encode(pair.public_key().as_ref()),
    ))
}

/// The root's signing key.
pub struct Signer(Ed25519KeyPair);

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer")
    }
}

impl Signer {
    /// From PKCS#8 hex (as written by [`generate`]).
    pub fn from_hex(pkcs8_hex: &str) -> Result<Self, SigningError> {
        let der = hex::decode(pkcs8_hex.trim()).map_err(|_| SigningError::BadKey)?;
        Ed25519KeyPair::from_pkcs8(&der)
            .map(Self)
            .map_err(|_| SigningError::BadKey)
    }

    /// Hex signature over `message`.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.0.sign(message).as_ref())
    }

    /// The signature over `message`, raw (64 bytes).
    pub fn sign_raw(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign(message).as_ref().to_vec()
    }

    /// The public key, raw (32 bytes).
    pub fn public_bytes(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.0.public_key().as_ref())
    }
}

/// Does `signature_hex` sign `message` under `public_hex`?
pub fn verify(public_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let (Ok(public), Ok(sig)) = (hex::decode(public_hex.trim()), hex::decode(signature_hex)) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public)
        .verify(message, &sig)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let (private, public) = generate().expect("key");
        let s = Signer::from_hex(&private).expect("parses");
        assert_eq!(s.public_hex(), public);
        let sig = s.sign(b"catalogue v2");
        assert!(verify(&public, b"catalogue v2", &sig));
        assert!(!verify(&public, b"catalogue v3", &sig));
        let (_, other) = generate().expect("key");
        assert!(!verify(&other, b"catalogue v2", &sig));
        assert!(!verify(&public, b"catalogue v2", "zz"));
        assert!(Signer::from_hex("00ff").is_err());
    }
}
