//! Node identity: the federation CA and the certificates it issues.
//!
//! One CA per federation signs one certificate per node. A node's id is carried
//! in its certificate three times: as the URI `onewindow://node/<id>` in the
//! subject alternative names (the authoritative one, read by [`node_id_of`]),
//! as a DNS name `<id>` beside it (node ids are valid DNS names, so ordinary TLS
//! tooling can check it too), and as the subject's common name. Every
//! certificate gets a random serial, which is what a revocation list names.
//!
//! Each node certificate is valid for both TLS client and server
//! authentication: a node is the server for its children and the client of its
//! parent.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use x509_parser::extensions::GeneralName;

use crate::{NodeId, NodeIdError};

/// The scheme and path that prefix a node id in a certificate's URI SAN.
pub const NODE_URI_PREFIX: &str = "onewindow://node/";

/// File name of a node's certificate in a credentials folder.
pub const CERT_FILE: &str = "node.crt";
/// File name of a node's private key in a credentials folder (mode 0600).
pub const KEY_FILE: &str = "node.key";
/// File name of the federation CA certificate in a credentials folder.
pub const CA_FILE: &str = "ca.crt";
/// A renewed key being put in place.
const KEY_NEW: &str = "node.key.new";
/// A renewed certificate being put in place.
const CERT_NEW: &str = "node.crt.new";

/// How long a CA made by [`FederationCa::generate`] is valid.
const CA_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);
/// How far back `not_before` is set for new certificates, to tolerate clocks
/// that run a little behind.
const CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// What went wrong while making, reading or storing an identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// rcgen could not build or sign a certificate or key.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// Not a well-formed X.509 certificate (DER) or PEM block.
    #[error("unreadable certificate: {0}")]
    Unreadable(String),
    /// Not a well-formed private key.
    #[error("unreadable private key: {0}")]
    BadKey(String),
    /// The certificate has no `onewindow://node/` URI in its SAN.
    #[error("certificate names no node (no {NODE_URI_PREFIX} URI in its SAN)")]
    NoNodeId,
    /// The certificate names more than one node.
    #[error("certificate names several nodes: {0:?}")]
    SeveralNodeIds(Vec<String>),
    /// The URI names something that is not a valid node id.
    #[error("certificate names an invalid node id: {0}")]
    BadNodeId(#[from] NodeIdError),
    /// The CA's private key is not the key of the CA certificate.
    #[error("the CA key does not belong to the CA certificate")]
    KeyMismatch,
    /// A signing request that does not parse or whose signature is wrong.
    #[error("unusable certificate signing request: {0}")]
    BadRequest(String),
    /// A signing request that names another node than the one it is for.
    #[error("the signing request names {named}, not {wanted}")]
    RequestForOtherNode {
        /// The node the request names.
        named: String,
        /// The node it was to be signed for.
        wanted: String,
    },
    /// `not_after` is not later than `not_before`.
    #[error("validity period is empty: not_after is not after not_before")]
    EmptyValidity,
    /// Reading or writing a credentials file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The federation's certificate authority: it signs every node certificate.
///
/// It lives where nodes are registered (the district, or the machine that
/// prepares deployment bundles); nodes hold only its certificate.
pub struct FederationCa {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for FederationCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FederationCa")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[secret]")
            .finish()
    }
}

impl FederationCa {
    /// Makes a new self-signed CA named `name` (its subject common name),
    /// valid from an hour ago for twenty years.
    pub fn generate(name: &str) -> Result<Self, IdentityError> {
        Self::generate_for(name, CA_VALIDITY)
    }

    /// Makes a new self-signed CA named `name`, valid from an hour ago for
    /// `lifetime`.
    pub fn generate_for(name: &str, lifetime: Duration) -> Result<Self, IdentityError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "OneWindow federation");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = SystemTime::now();
        params.not_before = (now - CLOCK_SKEW).into();
        params.not_after = (now + lifetime).into();
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA from its certificate and private key (PEM); the key must
    /// be the certificate's.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, IdentityError> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| IdentityError::BadKey(e.to_string()))?;
        if !key_matches(cert_pem, key_pem)? {
            return Err(IdentityError::KeyMismatch);
        }
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)
            .map_err(|e| IdentityError::Unreadable(e.to_string()))?;
        Ok(Self {
            cert_pem: cert_pem.to_owned(),
            key_pem: key_pem.to_owned(),
            issuer,
        })
    }

    /// The CA certificate (PEM): what every node trusts.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA private key (PKCS#8 PEM). Keep it off the nodes.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Issues a certificate and a fresh key for `node`, valid from
    /// `not_before` until `not_after`.
    ///
    /// A period in the past is allowed (it makes an expired certificate, which
    /// tests need); an empty one is not.
    pub fn issue(
        &self,
        node: &NodeId,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<NodeCredentials, IdentityError> {
        let key = KeyPair::generate()?;
        let params = node_params(node, not_before, not_after)?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(NodeCredentials {
            node: node.clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            ca_pem: self.cert_pem.clone(),
        })
    }

    /// Signs a node's certificate signing request (PEM, PKCS#10) for
    /// `node`, valid for `days` days from an hour ago: the node made its key
    /// pair itself, and the private key never leaves it. Only the request's
    /// public key is used; names, usages and validity are this CA's, and a
    /// request that names another node (in its common name or a node URI)
    /// is refused. Returns the certificate (PEM).
    pub fn sign_request(
        &self,
        request_pem: &str,
        node: &NodeId,
        days: u32,
    ) -> Result<String, IdentityError> {
        let request = rcgen::CertificateSigningRequestParams::from_pem(request_pem)
            .map_err(|e| IdentityError::BadRequest(e.to_string()))?;
        let named = request_names(&request.params);
        if let Some(other) = named.iter().find(|n| *n != node.as_str()) {
            return Err(IdentityError::RequestForOtherNode {
                named: other.clone(),
                wanted: node.to_string(),
            });
        }
        let now = SystemTime::now();
        let lifetime = Duration::from_secs(u64::from(days) * 24 * 3600);
        let params = node_params(node, now - CLOCK_SKEW, now + lifetime)?;
        Ok(params.signed_by(&request.public_key, &self.issuer)?.pem())
    }

    /// Issues a certificate for `node` valid from an hour ago for `days` days.
    pub fn issue_for_days(
        &self,
        node: &NodeId,
        days: u32,
    ) -> Result<NodeCredentials, IdentityError> {
        let now = SystemTime::now();
        let days = Duration::from_secs(u64::from(days) * 24 * 3600);
        self.issue(node, now - CLOCK_SKEW, now + days)
    }
}

/// A node's new key pair and a signing request for it: what a hall makes
/// itself to enrol (see [`FederationCa::sign_request`]).
pub struct KeyRequest {
    /// The private key (PKCS#8 PEM): it stays where it was made.
    pub key_pem: String,
    /// The certificate signing request (PKCS#10 PEM).
    pub request_pem: String,
}

impl fmt::Debug for KeyRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRequest")
            .field("key_pem", &"[secret]")
            .field("request_pem", &self.request_pem)
            .finish()
    }
}

impl KeyRequest {
    /// Makes a key pair and a request naming `node`.
    pub fn generate(node: &NodeId) -> Result<Self, IdentityError> {
        let key = KeyPair::generate()?;
        // The names only: usages and validity are the CA's to set.
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node.as_str());
        params.distinguished_name = dn;
        params.subject_alt_names =
            vec![SanType::URI(format!("{NODE_URI_PREFIX}{node}").try_into()?)];
        let request = params.serialize_request(&key)?;
        Ok(Self {
            key_pem: key.serialize_pem(),
            request_pem: request.pem()?,
        })
    }
}

impl KeyRequest {
    /// The node a signing request (PKCS#10 PEM) names, once it parses:
    /// `None` if it names none; refused if it names two.
    pub fn node_of(request_pem: &str) -> Result<Option<NodeId>, IdentityError> {
        let request = rcgen::CertificateSigningRequestParams::from_pem(request_pem)
            .map_err(|e| IdentityError::BadRequest(e.to_string()))?;
        let mut names = request_names(&request.params);
        names.dedup();
        match names.as_slice() {
            [] => Ok(None),
            [one] => NodeId::new(one.clone())
                .map(Some)
                .map_err(|e| IdentityError::BadRequest(e.to_string())),
            [first, other, ..] => Err(IdentityError::RequestForOtherNode {
                named: other.clone(),
                wanted: first.clone(),
            }),
        }
    }
}

/// Whether a certificate carries the public key of a signing request: the
/// certificate was made for that request.
pub fn request_key_matches(cert_pem: &str, request_pem: &str) -> Result<bool, IdentityError> {
    let request = rcgen::CertificateSigningRequestParams::from_pem(request_pem)
        .map_err(|e| IdentityError::BadRequest(e.to_string()))?;
    let der = first_cert(cert_pem)?;
    Ok(parse(der.as_ref())?
        .public_key()
        .subject_public_key
        .data
        .as_ref()
        == rcgen::PublicKeyData::der_bytes(&request.public_key))
}

/// The node names a signing request carries: its common name and its
/// node URIs.
fn request_names(params: &CertificateParams) -> Vec<String> {
    let mut names: Vec<String> = params
        .subject_alt_names
        .iter()
        .filter_map(|san| match san {
            SanType::URI(uri) => uri
                .as_str()
                .strip_prefix(NODE_URI_PREFIX)
                .map(str::to_owned),
            _ => None,
        })
        .collect();
    match params.distinguished_name.get(&DnType::CommonName) {
        Some(rcgen::DnValue::Utf8String(cn)) => names.push(cn.clone()),
        Some(rcgen::DnValue::PrintableString(cn)) => names.push(cn.as_str().to_owned()),
        // A name this CA cannot read is no name of the node's.
        Some(other) => names.push(format!("{other:?}")),
        None => {}
    }
    names
}

/// The certificate of a node: its names, both TLS usages, and the period.
fn node_params(
    node: &NodeId,
    not_before: SystemTime,
    not_after: SystemTime,
) -> Result<CertificateParams, IdentityError> {
    if not_after <= not_before {
        return Err(IdentityError::EmptyValidity);
    }
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, node.as_str());
    dn.push(DnType::OrganizationName, "OneWindow federation");
    params.distinguished_name = dn;
    params.subject_alt_names = vec![
        SanType::URI(format!("{NODE_URI_PREFIX}{node}").try_into()?),
        SanType::DnsName(node.as_str().try_into()?),
    ];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    params.serial_number = Some(random_serial());
    Ok(params)
}

/// A 128-bit random serial, positive and without a leading zero byte, so
/// that its hex form is the same however it is read back.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    if bytes[0] == 0 {
        bytes[0] = 1;
    }
    SerialNumber::from_slice(&bytes)
}

/// What a node holds to prove who it is and to check its peers: its
/// certificate and key, and the federation CA certificate (all PEM).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCredentials {
    /// The node the certificate names.
    pub node: NodeId,
    /// The node's certificate (PEM).
    pub cert_pem: String,
    /// The node's private key (PKCS#8 PEM).
    pub key_pem: String,
    /// The federation CA certificate (PEM).
    pub ca_pem: String,
}

impl fmt::Debug for NodeCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeCredentials")
            .field("node", &self.node)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[secret]")
            .field("ca_pem", &self.ca_pem)
            .finish()
    }
}

impl NodeCredentials {
    /// Writes `node.crt`, `node.key` (mode 0600) and `ca.crt` into `dir`,
    /// creating it if needed.
    pub fn to_files(&self, dir: &Path) -> Result<(), IdentityError> {
        fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        write_file(&dir.join(CERT_FILE), &self.cert_pem, false)?;
        write_file(&dir.join(KEY_FILE), &self.key_pem, true)?;
        write_file(&dir.join(CA_FILE), &self.ca_pem, false)?;
        Ok(())
    }

    /// Replaces the certificate and key in `dir` with these (a renewal),
    /// so that a crash at any point leaves a matching pair: both are
    /// written as `.new` files first, then renamed key first;
    /// [`NodeCredentials::from_files`] finishes a replacement a crash cut
    /// short.
    pub fn replace_files(&self, dir: &Path) -> Result<(), IdentityError> {
        let (key_new, cert_new) = (dir.join(KEY_NEW), dir.join(CERT_NEW));
        write_file(&key_new, &self.key_pem, true)?;
        write_file(&cert_new, &self.cert_pem, false)?;
        sync_dir(dir)?;
        fs::rename(&key_new, dir.join(KEY_FILE)).map_err(|e| io_error(&key_new, e))?;
        fs::rename(&cert_new, dir.join(CERT_FILE)).map_err(|e| io_error(&cert_new, e))?;
        sync_dir(dir)
    }

    /// Finishes a [`NodeCredentials::replace_files`] that a crash cut
    /// short: a complete new certificate whose key is the new key (or, once
    /// that was renamed, the current key) is renamed into place; anything
    /// else left over is dropped.
    fn roll_forward(dir: &Path) -> Result<(), IdentityError> {
        let (key_new, cert_new) = (dir.join(KEY_NEW), dir.join(CERT_NEW));
        let Ok(cert) = fs::read_to_string(&cert_new) else {
            // The certificate is written second: a new key alone is not used.
            let _ = fs::remove_file(&key_new);
            return Ok(());
        };
        let key = fs::read_to_string(&key_new)
            .or_else(|_| fs::read_to_string(dir.join(KEY_FILE)))
            .unwrap_or_default();
        if key_matches(&cert, &key).unwrap_or(false) {
            if key_new.exists() {
                fs::rename(&key_new, dir.join(KEY_FILE)).map_err(|e| io_error(&key_new, e))?;
            }
            fs::rename(&cert_new, dir.join(CERT_FILE)).map_err(|e| io_error(&cert_new, e))?;
            sync_dir(dir)?;
        } else {
            let _ = fs::remove_file(&cert_new);
            let _ = fs::remove_file(&key_new);
        }
        Ok(())
    }

    /// Reads the files [`NodeCredentials::to_files`] writes. The node id is
    /// read from the certificate, and the key must parse.
    pub fn from_files(dir: &Path) -> Result<Self, IdentityError> {
        Self::roll_forward(dir)?;
        let read = |name: &str| {
            let path = dir.join(name);
            fs::read_to_string(&path).map_err(|source| io_error(&path, source))
        };
        let cert_pem = read(CERT_FILE)?;
        let key_pem = read(KEY_FILE)?;
        let ca_pem = read(CA_FILE)?;
        let node = node_id_of(first_cert(&cert_pem)?.as_ref())?;
        let creds = Self {
            node,
            cert_pem,
            key_pem,
            ca_pem,
        };
        creds.key_der()?;
        creds.ca_ders()?;
        Ok(creds)
    }

    /// The node certificate in DER.
    pub fn cert_der(&self) -> Result<CertificateDer<'static>, IdentityError> {
        first_cert(&self.cert_pem)
    }

    /// The private key in DER.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, IdentityError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| IdentityError::BadKey(e.to_string()))
    }

    /// The CA certificates (normally one) in DER.
    pub fn ca_ders(&self) -> Result<Vec<CertificateDer<'static>>, IdentityError> {
        let certs = CertificateDer::pem_slice_iter(self.ca_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| IdentityError::Unreadable(e.to_string()))?;
        if certs.is_empty() {
            return Err(IdentityError::Unreadable("no CA certificate".into()));
        }
        Ok(certs)
    }

    /// The serial of the node certificate (lowercase hex), as revocation lists
    /// name it.
    pub fn serial(&self) -> Result<String, IdentityError> {
        serial_of(self.cert_der()?.as_ref())
    }
}

/// The DER of the first certificate of a PEM text.
pub fn der_of_pem(pem: &str) -> Result<Vec<u8>, IdentityError> {
    Ok(first_cert(pem)?.as_ref().to_vec())
}

fn first_cert(pem: &str) -> Result<CertificateDer<'static>, IdentityError> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| IdentityError::Unreadable(e.to_string()))
}

fn io_error(path: &Path, source: std::io::Error) -> IdentityError {
    IdentityError::Io {
        path: path.to_owned(),
        source,
    }
}

fn sync_dir(dir: &Path) -> Result<(), IdentityError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}

fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), IdentityError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| io_error(path, e))?;
    // `mode` applies only when the file is created: tighten an existing one.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error(path, e))
}

fn parse(cert_der: &[u8]) -> Result<x509_parser::certificate::X509Certificate<'_>, IdentityError> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| IdentityError::Unreadable(e.to_string()))?;
    Ok(cert)
}

/// The node a certificate (DER) names: its single `onewindow://node/<id>`
/// URI SAN. A certificate that names no node, or several, is refused.
///
/// This only reads the certificate; it does not check who signed it.
pub fn node_id_of(cert_der: &[u8]) -> Result<NodeId, IdentityError> {
    let cert = parse(cert_der)?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| IdentityError::Unreadable(e.to_string()))?;
    let mut ids: Vec<&str> = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::URI(uri) => uri.strip_prefix(NODE_URI_PREFIX),
            _ => None,
        })
        .collect();
    match ids.len() {
        0 => Err(IdentityError::NoNodeId),
        1 => Ok(NodeId::new(ids.remove(0))?),
        _ => Err(IdentityError::SeveralNodeIds(
            ids.into_iter().map(str::to_owned).collect(),
        )),
    }
}

/// What an operator is shown of a certificate (`cert list`, the fleet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    /// The subject's common name.
    pub common_name: String,
    /// The node its `onewindow://node/` URI names, if it names one.
    pub node: Option<String>,
    /// Whether it is a CA certificate.
    pub is_ca: bool,
    /// Serial number, lowercase hex.
    pub serial: String,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

impl CertInfo {
    /// Reads a certificate (DER).
    pub fn of(cert_der: &[u8]) -> Result<Self, IdentityError> {
        let cert = parse(cert_der)?;
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or_default()
            .to_owned();
        let validity = cert.validity();
        Ok(Self {
            common_name,
            node: node_id_of(cert_der).ok().map(|n| n.to_string()),
            is_ca: cert.is_ca(),
            serial: serial_of(cert_der)?,
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
        })
    }

    /// Reads the first certificate of a PEM text.
    pub fn of_pem(pem: &str) -> Result<Self, IdentityError> {
        Self::of(first_cert(pem)?.as_ref())
    }

    /// Whole days left at Unix time `now` (negative once expired).
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(24 * 3600)
    }

    /// Whether `now` is past two thirds of its life: the time to renew.
    pub fn due_for_renewal(&self, now: i64) -> bool {
        let life = self.not_after - self.not_before;
        now >= self.not_before + life / 3 * 2
    }
}

/// Whether the certificate `cert_pem` carries a valid signature of the CA
/// certificate `ca_pem` (the signature only: not the period or the names).
pub fn signed_by(cert_pem: &str, ca_pem: &str) -> Result<bool, IdentityError> {
    let cert_der = first_cert(cert_pem)?;
    let ca_der = first_cert(ca_pem)?;
    let ca = parse(ca_der.as_ref())?;
    Ok(parse(cert_der.as_ref())?
        .verify_signature(Some(ca.public_key()))
        .is_ok())
}

/// Whether the certificate `cert_der` (DER, as a peer presented it) carries
/// a valid signature of one of the CA certificates in `ca_pem` (the
/// signature only).
pub fn der_signed_by(cert_der: &[u8], ca_pem: &str) -> Result<bool, IdentityError> {
    let cert = parse(cert_der)?;
    for ca_der in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        let ca_der = ca_der.map_err(|e| IdentityError::Unreadable(e.to_string()))?;
        let ca = parse(ca_der.as_ref())?;
        if cert.verify_signature(Some(ca.public_key())).is_ok() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the private key `key_pem` is the key of the certificate
/// `cert_pem`.
pub fn key_matches(cert_pem: &str, key_pem: &str) -> Result<bool, IdentityError> {
    let key = KeyPair::from_pem(key_pem).map_err(|e| IdentityError::BadKey(e.to_string()))?;
    let der = first_cert(cert_pem)?;
    Ok(parse(der.as_ref())?.public_key().raw == key.subject_public_key_info().as_slice())
}

/// The serial number of a certificate (DER) in lowercase hex, without
/// leading zero bytes.
pub fn serial_of(cert_der: &[u8]) -> Result<String, IdentityError> {
    let cert = parse(cert_der)?;
    let raw = cert.raw_serial();
    let first = raw
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    Ok(hex::encode(&raw[first..]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    #[test]
    fn a_request_names_its_node_and_its_certificate_carries_its_key() {
        let ca = FederationCa::generate("test CA").unwrap();
        let node = id("nanhai.guicheng.xiaping");
        let req = KeyRequest::generate(&node).unwrap();
        assert_eq!(
            KeyRequest::node_of(&req.request_pem).unwrap(),
            Some(node.clone())
        );
        assert!(KeyRequest::node_of("not a request").is_err());
        let cert = ca.sign_request(&req.request_pem, &node, 30).unwrap();
        assert!(request_key_matches(&cert, &req.request_pem).unwrap());
        let other = KeyRequest::generate(&node).unwrap();
        assert!(!request_key_matches(&cert, &other.request_pem).unwrap());
    }

    #[test]
    fn issued_certificate_names_its_node() {
        let ca = FederationCa::generate("test CA").unwrap();
        let node = id("nanhai.guicheng.xiaping");
        let creds = ca.issue_for_days(&node, 30).unwrap();
        let der = creds.cert_der().unwrap();
        assert_eq!(node_id_of(der.as_ref()).unwrap(), node);
        let serial = serial_of(der.as_ref()).unwrap();
        assert_eq!(serial.len(), 32);
        let other = ca.issue_for_days(&node, 30).unwrap();
        assert_ne!(
            serial_of(other.cert_der().unwrap().as_ref()).unwrap(),
            serial
        );
    }

    #[test]
    fn ca_reloaded_from_pem_issues_certificates() {
        let ca = FederationCa::generate("test CA").unwrap();
        let again = FederationCa::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
        let creds = again.issue_for_days(&id("nanhai"), 1).unwrap();
        assert_eq!(creds.ca_pem, ca.cert_pem());
        assert_eq!(creds.node, id("nanhai"));
    }

    #[test]
    fn empty_validity_is_refused() {
        let ca = FederationCa::generate("test CA").unwrap();
        let now = SystemTime::now();
        assert!(matches!(
            ca.issue(&id("nanhai"), now, now),
            Err(IdentityError::EmptyValidity)
        ));
    }

    #[test]
    fn credentials_round_trip_through_files() {
        let ca = FederationCa::generate("test CA").unwrap();
        let creds = ca.issue_for_days(&id("nanhai.guicheng"), 30).unwrap();
        let dir = tempfile::tempdir().unwrap();
        creds.to_files(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(NodeCredentials::from_files(dir.path()).unwrap(), creds);
        let json = serde_json::to_string(&creds).unwrap();
        assert_eq!(
            serde_json::from_str::<NodeCredentials>(&json).unwrap(),
            creds
        );
        assert!(!format!("{creds:?}").contains("PRIVATE KEY"));
    }
    #[test]
    fn a_signing_request_is_signed_for_its_node_only() {
        let ca = FederationCa::generate("test CA").unwrap();
        let node = id("nanhai.dali.yanbu");
        let req = KeyRequest::generate(&node).unwrap();
        assert!(!format!("{req:?}").contains("PRIVATE KEY"));
        let cert = ca.sign_request(&req.request_pem, &node, 30).unwrap();
        let info = CertInfo::of_pem(&cert).unwrap();
        assert_eq!(info.node.as_deref(), Some("nanhai.dali.yanbu"));
        assert!(!info.is_ca);
        assert!((29..=30).contains(&info.days_left(now())));
        // The certificate is the hall's key's, and the CA's signature.
        assert!(key_matches(&cert, &req.key_pem).unwrap());
        assert!(signed_by(&cert, ca.cert_pem()).unwrap());
        let other_ca = FederationCa::generate("other CA").unwrap();
        assert!(!signed_by(&cert, other_ca.cert_pem()).unwrap());
        // The hall's files are a node's credentials.
        let creds = NodeCredentials {
            node: node.clone(),
            cert_pem: cert,
            key_pem: req.key_pem.clone(),
            ca_pem: ca.cert_pem().to_owned(),
        };
        let dir = tempfile::tempdir().unwrap();
        creds.to_files(dir.path()).unwrap();
        assert_eq!(NodeCredentials::from_files(dir.path()).unwrap().node, node);
        // A request is signed only for the node it names.
        let e = ca
            .sign_request(&req.request_pem, &id("nanhai.dali"), 30)
            .unwrap_err();
        assert!(
            matches!(&e, IdentityError::RequestForOtherNode { named, .. } if named == "nanhai.dali.yanbu"),
            "{e}"
        );
        // A request whose signature is broken is refused.
        // (one letter of the signature, the last base64 line, changed)
        let mut lines: Vec<String> = req.request_pem.lines().map(str::to_owned).collect();
        let sig = lines.len() - 2;
        let flipped = if lines[sig].starts_with('A') {
            "B"
        } else {
            "A"
        };
        lines[sig].replace_range(0..1, flipped);
        let broken = lines.join("\n");
        assert!(matches!(
            ca.sign_request(&broken, &node, 30),
            Err(IdentityError::BadRequest(_))
        ));
        assert!(matches!(
            ca.sign_request("not a request", &node, 30),
            Err(IdentityError::BadRequest(_))
        ));
    }

    #[test]
    fn a_ca_key_must_be_its_certificates() {
        let ca = FederationCa::generate("test CA").unwrap();
        let other = FederationCa::generate("other CA").unwrap();
        assert!(matches!(
            FederationCa::from_pem(ca.cert_pem(), other.key_pem()),
            Err(IdentityError::KeyMismatch)
        ));
        let info = CertInfo::of_pem(ca.cert_pem()).unwrap();
        assert!(info.is_ca);
        assert_eq!(info.common_name, "test CA");
        assert_eq!(info.node, None);
    }

    #[test]
    fn a_renewal_cut_short_by_a_crash_leaves_a_matching_pair() {
        let ca = FederationCa::generate("test CA").unwrap();
        let node = id("nanhai.dali.yanbu");
        let old = ca.issue_for_days(&node, 30).unwrap();
        let new = ca.issue_for_days(&node, 825).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let reset = || {
            for f in [KEY_NEW, CERT_NEW] {
                let _ = fs::remove_file(d.join(f));
            }
            old.to_files(d).unwrap();
        };
        // Whole: the new pair.
        reset();
        new.replace_files(d).unwrap();
        assert_eq!(NodeCredentials::from_files(d).unwrap(), new);
        // Cut after the new key only was written: the old pair.
        reset();
        write_file(&d.join(KEY_NEW), &new.key_pem, true).unwrap();
        assert_eq!(NodeCredentials::from_files(d).unwrap(), old);
        assert!(!d.join(KEY_NEW).exists());
        // Cut before the renames: rolled forward.
        reset();
        write_file(&d.join(KEY_NEW), &new.key_pem, true).unwrap();
        write_file(&d.join(CERT_NEW), &new.cert_pem, false).unwrap();
        assert_eq!(NodeCredentials::from_files(d).unwrap(), new);
        // Cut between the renames (the key is new, the certificate old):
        // rolled forward.
        reset();
        write_file(&d.join(KEY_FILE), &new.key_pem, true).unwrap();
        write_file(&d.join(CERT_NEW), &new.cert_pem, false).unwrap();
        assert_eq!(NodeCredentials::from_files(d).unwrap(), new);
        // A new certificate that is not the key's is dropped.
        reset();
        write_file(&d.join(CERT_NEW), &new.cert_pem, false).unwrap();
        assert_eq!(NodeCredentials::from_files(d).unwrap(), old);
        assert!(!d.join(CERT_NEW).exists());
    }

    #[test]
    fn renewal_is_due_at_two_thirds_of_the_life() {
        let info = CertInfo {
            common_name: "n".into(),
            node: Some("n".into()),
            is_ca: false,
            serial: "01".into(),
            not_before: 0,
            not_after: 300,
        };
        assert!(!info.due_for_renewal(199));
        assert!(info.due_for_renewal(200));
        assert_eq!(info.days_left(301), -1);
    }

    fn now() -> i64 {
        i64::try_from(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
    }
}
