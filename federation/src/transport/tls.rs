//! TLS configuration: ring only, TLS 1.3 only, mutual authentication, and
//! certificate verifiers that remember why they refused.
//!
//! Each connection gets its own rustls configuration carrying its own
//! verifier, and that verifier writes what it saw (the claimed node id, the
//! reason for a refusal) into a slot owned by the connection's task. So the
//! task that reports a refused peer knows exactly what was wrong with *that*
//! peer, without matching error strings or keying anything by address.
//! Building a configuration is cheap: the parsed key, the root store and the
//! WebPKI verifier are shared.

use std::sync::{Arc, Mutex, PoisonError};

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn_proto::HashedConnectionIdGenerator;
use ring::hmac;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, verify_server_cert_signed_by_trust_anchor};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoServerSessionStorage, ParsedCertificate, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};

use super::{SecurityKind, TransportConfig, TransportError};
use crate::NodeId;
use crate::identity::{NodeCredentials, node_id_of};

/// What a verifier saw during one handshake.
#[derive(Debug, Default)]
pub(super) struct Observed {
    /// The node id the peer's certificate names, trusted or not.
    pub claimed: Option<NodeId>,
    /// Why the certificate was refused, if it was.
    pub refusal: Option<(SecurityKind, String)>,
}

/// The per-connection slot a verifier writes into.
#[derive(Debug, Default, Clone)]
pub(super) struct Slot(Arc<Mutex<Observed>>);

impl Slot {
    fn record(&self, claimed: Option<NodeId>, refusal: Option<(SecurityKind, String)>) {
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        seen.claimed = claimed;
        seen.refusal = refusal;
    }

    /// Takes what was recorded.
    pub fn take(&self) -> Observed {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Sorts a rustls error into a kind of security event.
pub(super) fn classify(error: &Error) -> SecurityKind {
    match error {
        Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                SecurityKind::UnknownCa
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                SecurityKind::Expired
            }
            CertificateError::Revoked => SecurityKind::Revoked,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                SecurityKind::WrongNode
            }
            _ => SecurityKind::BadCertificate,
        },
        Error::NoCertificatesPresented => SecurityKind::BadCertificate,
        _ => SecurityKind::HandshakeFailed,
    }
}

/// The label from which the stateless-reset key is derived.
const RESET_KEY_LABEL: &[u8] = b"onewindow/1 quic stateless reset key";
/// The label from which the connection-id key is derived.
const CID_KEY_LABEL: &[u8] = b"onewindow/1 quic connection id key";

/// HMAC-SHA256 keyed by `label` over `secret` (HKDF-Extract with the label
/// as salt): a key for one purpose, from which neither the secret nor the
/// keys for other labels can be learnt.
fn derive(label: &[u8], secret: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, label), secret)
}

/// The endpoint configuration of a server: its stateless-reset key and the
/// key its connection ids are made with are derived from the node's private
/// key, so they are the same after a restart.
///
/// quinn sends a stateless reset for a short-header packet of a connection
/// it does not know only if the connection id passes its generator's check,
/// and only a reset made with the same key matches the token the peer was
/// given. With quinn's defaults (both keys random per endpoint) a restarted
/// server silently drops its predecessor's packets and the children wait for
/// their idle timeout. The connection-id key has its own label because the
/// ids are checked with a non-cryptographic hash, which must reveal nothing
/// of the reset key.
pub(super) fn endpoint_config(
    creds: &NodeCredentials,
) -> Result<quinn::EndpointConfig, TransportError> {
    let (reset, cid_key) = endpoint_keys(creds)?;
    let mut cfg =
        quinn::EndpointConfig::new(Arc::new(hmac::Key::new(hmac::HMAC_SHA256, reset.as_ref())));
    cfg.cid_generator(move || Box::new(HashedConnectionIdGenerator::from_key(cid_key)));
    Ok(cfg)
}

/// The stateless-reset key and the connection-id key of a node's endpoint.
fn endpoint_keys(creds: &NodeCredentials) -> Result<(hmac::Tag, u64), TransportError> {
    let key = creds.key_der()?;
    let reset = derive(RESET_KEY_LABEL, key.secret_der());
    let mut cid_key = [0u8; 8];
    cid_key.copy_from_slice(&derive(CID_KEY_LABEL, key.secret_der()).as_ref()[..8]);
    Ok((reset, u64::from_le_bytes(cid_key)))
}

/// What both sides share: the provider, this node's certificate and key, and
/// the federation roots.
#[derive(Debug)]
pub(super) struct TlsMaterial {
    provider: Arc<CryptoProvider>,
    key: Arc<SingleCertAndKey>,
    roots: Arc<RootCertStore>,
    transport: Arc<quinn::TransportConfig>,
    alpn: &'static [u8],
}

impl TlsMaterial {
    pub fn new(creds: &NodeCredentials, cfg: &TransportConfig) -> Result<Self, TransportError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified =
            CertifiedKey::from_der(vec![creds.cert_der()?], creds.key_der()?, &provider)?;
        let mut roots = RootCertStore::empty();
        for ca in creds.ca_ders()? {
            roots.add(ca)?;
        }
        Ok(Self {
            provider,
            key: Arc::new(SingleCertAndKey::from(certified)),
            roots: Arc::new(roots),
            transport: Arc::new(cfg.quinn()?),
            alpn: cfg.alpn,
        })
    }

    /// A server-side builder for per-connection configurations.
    pub fn server(&self) -> Result<ServerTls, TransportError> {
        let webpki =
            WebPkiClientVerifier::builder_with_provider(self.roots.clone(), self.provider.clone())
                .build()
                .map_err(|e| TransportError::Config(e.to_string()))?;
        // The endpoint needs a default; every connection replaces it.
        let crypto = server_crypto(
            &self.provider,
            &self.key,
            webpki.clone(),
            Slot::default(),
            self.alpn,
        )?;
        let mut base = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        base.transport_config(self.transport.clone());
        Ok(ServerTls {
            provider: self.provider.clone(),
            key: self.key.clone(),
            webpki,
            base,
            alpn: self.alpn,
        })
    }

    /// A client configuration for one connection to `parent`.
    pub fn client(
        &self,
        parent: &NodeId,
        slot: Slot,
    ) -> Result<quinn::ClientConfig, TransportError> {
        let verifier = Arc::new(ParentVerifier {
            expected: parent.clone(),
            roots: self.roots.clone(),
            provider: self.provider.clone(),
            slot,
        });
        let mut tls = rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(self.key.clone());
        tls.alpn_protocols = vec![self.alpn.to_vec()];
        // Every connection checks the certificates afresh.
        tls.resumption = Resumption::disabled();
        let quic =
            QuicClientConfig::try_from(tls).map_err(|e| TransportError::Config(e.to_string()))?;
        let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
        cfg.transport_config(self.transport.clone());
        Ok(cfg)
    }
}

fn server_crypto(
    provider: &Arc<CryptoProvider>,
    key: &Arc<SingleCertAndKey>,
    webpki: Arc<dyn ClientCertVerifier>,
    slot: Slot,
    alpn: &[u8],
) -> Result<QuicServerConfig, TransportError> {
    let verifier = Arc::new(ChildVerifier {
        inner: webpki,
        slot,
    });
    let mut tls = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(key.clone());
    tls.alpn_protocols = vec![alpn.to_vec()];
    // No resumption: a revoked or expired certificate must not ride on an
    // old session.
    tls.session_storage = Arc::new(NoServerSessionStorage {});
    tls.send_tls13_tickets = 0;
    QuicServerConfig::try_from(tls).map_err(|e| TransportError::Config(e.to_string()))
}

/// Builds the server configuration of each incoming connection.
#[derive(Debug)]
pub(super) struct ServerTls {
    provider: Arc<CryptoProvider>,
    key: Arc<SingleCertAndKey>,
    webpki: Arc<dyn ClientCertVerifier>,
    base: quinn::ServerConfig,
    alpn: &'static [u8],
}

impl ServerTls {
    /// The endpoint's default configuration (each connection replaces its
    /// TLS part).
    pub fn base(&self) -> quinn::ServerConfig {
        self.base.clone()
    }

    /// The configuration for one incoming connection, whose verifier writes
    /// into `slot`.
    pub fn for_connection(&self, slot: Slot) -> Result<Arc<quinn::ServerConfig>, TransportError> {
        let mut cfg = self.base.clone();
        cfg.crypto = Arc::new(server_crypto(
            &self.provider,
            &self.key,
            self.webpki.clone(),
            slot,
            self.alpn,
        )?);
        Ok(Arc::new(cfg))
    }
}

/// The server's check of a child's certificate: the WebPKI checks (chain to
/// the federation CA, validity, client-auth usage), then exactly one node id.
#[derive(Debug)]
struct ChildVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    slot: Slot,
}

impl ClientCertVerifier for ChildVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let claimed = node_id_of(end_entity.as_ref());
        let verdict = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
            .map_err(|e| (classify(&e), e.to_string(), e));
        match (verdict, claimed) {
            (Ok(ok), Ok(id)) => {
                self.slot.record(Some(id), None);
                Ok(ok)
            }
            (Ok(_), Err(e)) => {
                self.slot
                    .record(None, Some((SecurityKind::BadCertificate, e.to_string())));
                Err(Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                ))
            }
            (Err((kind, detail, e)), claimed) => {
                self.slot.record(claimed.ok(), Some((kind, detail)));
                Err(e)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The client's check of its parent's certificate: the WebPKI chain checks
/// (federation CA, validity, server-auth usage), then that its one node id is
/// the parent we meant to reach. The DNS name is not consulted: the URI SAN
/// is the identity.
#[derive(Debug)]
struct ParentVerifier {
    expected: NodeId,
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    slot: Slot,
}

impl ParentVerifier {
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), (SecurityKind, String, Error)> {
        let refuse = |e: Error| (classify(&e), e.to_string(), e);
        let parsed = ParsedCertificate::try_from(end_entity).map_err(refuse)?;
        verify_server_cert_signed_by_trust_anchor(
            &parsed,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )
        .map_err(refuse)?;
        let bad = |kind, detail: String| {
            let error = match kind {
                SecurityKind::WrongNode => CertificateError::NotValidForName,
                _ => CertificateError::ApplicationVerificationFailure,
            };
            (kind, detail, Error::InvalidCertificate(error))
        };
        match node_id_of(end_entity.as_ref()) {
            Ok(id) if id == self.expected => Ok(()),
            Ok(id) => Err(bad(
                SecurityKind::WrongNode,
                format!("expected parent {}, certificate names {id}", self.expected),
            )),
            Err(e) => Err(bad(SecurityKind::BadCertificate, e.to_string())),
        }
    }
}

impl ServerCertVerifier for ParentVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let claimed = node_id_of(end_entity.as_ref()).ok();
        match self.check(end_entity, intermediates, now) {
            Ok(()) => {
                self.slot.record(claimed, None);
                Ok(ServerCertVerified::assertion())
            }
            Err((kind, detail, error)) => {
                self.slot.record(claimed, Some((kind, detail)));
                Err(error)
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FederationCa;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn endpoint_keys_follow_the_private_key() {
        let ca = FederationCa::generate("test CA").unwrap();
        let node = NodeId::new("nanhai.guicheng").unwrap();
        let creds = ca.issue_for_days(&node, 30).unwrap();
        let (reset, cid) = endpoint_keys(&creds).unwrap();

        // The same credentials (a restart) give the same keys.
        let (again, cid_again) = endpoint_keys(&creds.clone()).unwrap();
        assert_eq!(reset.as_ref(), again.as_ref());
        assert_eq!(cid, cid_again);
        // The two keys are not the same bytes.
        assert_ne!(&reset.as_ref()[..8], &cid.to_le_bytes()[..]);

        // Another private key (a renewed certificate, another node) gives
        // other keys.
        let renewed = ca.issue_for_days(&node, 30).unwrap();
        assert_ne!(renewed.key_pem, creds.key_pem);
        let (other, other_cid) = endpoint_keys(&renewed).unwrap();
        assert_ne!(reset.as_ref(), other.as_ref());
        assert_ne!(cid, other_cid);
    }
}
