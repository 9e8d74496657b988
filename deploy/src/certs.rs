//! A certs folder in the shape operators know from CockroachDB's
//! `cockroach cert`: fixed file names in one folder, the CA key kept apart.
//!
//! ```text
//! CERTS/ca.crt     the federation CA certificate (every node trusts it)
//! CERTS/node.crt   this node's certificate, signed by the CA
//! CERTS/node.key   this node's private key (mode 0600)
//! CERTS/node.csr   a signing request, when the key was made here (`create-request`)
//! --ca-key FILE    the CA's private key: on the district's machine only
//! ```
//!
//! The names are those a node reads from its `federation.credentials_dir`,
//! so a certs folder is a node's credentials folder. [`list`] reads a certs
//! folder, or every folder of a bundle, and says what is wrong with each
//! certificate: expired, due for renewal, not signed by the CA beside it,
//! a key that is not its own or that others may read.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use federation::identity::{CA_FILE, CERT_FILE, KEY_FILE};
use federation::{CertInfo, FederationCa, KeyRequest, NodeCredentials, NodeId};
use serde::Serialize;

use crate::bundle::Bundle;

/// File name of a signing request in a certs folder.
pub const REQUEST_FILE: &str = "node.csr";

/// Days before expiry from which `list` warns.
pub const WARN_DAYS: i64 = 30;

/// Reads a lifetime such as `825d`, `19800h` or `20y` (365 days a year);
/// a bare number is days.
pub fn parse_lifetime(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "d"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?}: a whole number and a unit (h, d or y), e.g. 825d"))?;
    let hours = match unit {
        "h" => n,
        "d" => n.saturating_mul(24),
        "y" => n.saturating_mul(365 * 24),
        _ => return Err(format!("{s:?}: the unit is h, d or y, e.g. 825d")),
    };
    if hours == 0 || hours > 100 * 365 * 24 {
        return Err(format!("{s:?}: from 1 hour to 100 years"));
    }
    Ok(Duration::from_secs(hours * 3600))
}

/// Whole days in `lifetime`, at least one.
fn days(lifetime: Duration) -> u32 {
    u32::try_from(lifetime.as_secs().div_ceil(24 * 3600))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Writes `text` to `path`; refuses to replace a file unless `overwrite`.
fn write(path: &Path, text: &str, secret: bool, overwrite: bool) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    options.mode(if secret { 0o600 } else { 0o644 });
    let mut f = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} exists already: pass --overwrite to replace it",
                path.display()
            )
        } else {
            anyhow::anyhow!("writing {}: {e}", path.display())
        }
    })?;
    if secret {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn read(path: &Path, what: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// `cert create-ca`: a new CA: `certs/ca.crt` and its key at `ca_key`.
pub fn create_ca(
    certs: &Path,
    ca_key: &Path,
    name: &str,
    lifetime: Duration,
    overwrite: bool,
) -> anyhow::Result<CertInfo> {
    let cert_path = certs.join(CA_FILE);
    if !overwrite {
        for p in [&cert_path, &ca_key.to_path_buf()] {
            if p.exists() {
                bail!(
                    "{} exists already: pass --overwrite to replace it (every certificate the old CA signed stops being trusted)",
                    p.display()
                );
            }
        }
    }
    let ca = FederationCa::generate_for(name, lifetime).context("generating the CA")?;
    write(ca_key, ca.key_pem(), true, overwrite)?;
    write(&cert_path, ca.cert_pem(), false, overwrite)?;
    Ok(CertInfo::of_pem(ca.cert_pem())?)
}

fn load_ca(certs: &Path, ca_key: &Path) -> anyhow::Result<FederationCa> {
    let cert = read(&certs.join(CA_FILE), "the CA certificate")?;
    let key = read(ca_key, "the CA key")?;
    FederationCa::from_pem(&cert, &key)
        .with_context(|| format!("the CA of {} and {}", certs.display(), ca_key.display()))
}

/// `cert create-node`: a certificate for `node`, signed by the CA of
/// `certs/ca.crt` and `ca_key`. Without `request`, a key is made here and
/// both go into the certs folder (`node.crt`, `node.key`). With `request`
/// (a `node.csr` made at the hall, which keeps its key), the certificate is
/// for the request's key and goes beside the request, with a copy of
/// `ca.crt`: that folder is what goes back to the hall. Returns where the
/// certificate was written and what it says.
pub fn create_node(
    certs: &Path,
    ca_key: &Path,
    node: &NodeId,
    request: Option<&Path>,
    lifetime: Duration,
    overwrite: bool,
) -> anyhow::Result<(PathBuf, CertInfo)> {
    let ca = load_ca(certs, ca_key)?;
    let (out, cert_pem) = match request {
        Some(r) => {
            let pem = read(r, "the signing request")?;
            let cert = ca
                .sign_request(&pem, node, days(lifetime))
                .with_context(|| format!("signing {}", r.display()))?;
            let out = r.parent().unwrap_or(Path::new(".")).to_path_buf();
            if out.join(CA_FILE) != certs.join(CA_FILE) {
                write(&out.join(CA_FILE), ca.cert_pem(), false, true)?;
            }
            (out, cert)
        }
        None => {
            let creds: NodeCredentials = ca
                .issue_for_days(node, days(lifetime))
                .context("issuing the certificate")?;
            if !overwrite && certs.join(CERT_FILE).exists() {
                bail!(
                    "{} exists already: pass --overwrite to replace it",
                    certs.join(CERT_FILE).display()
                );
            }
            write(&certs.join(KEY_FILE), &creds.key_pem, true, overwrite)?;
            (certs.to_path_buf(), creds.cert_pem)
        }
    };
    let path = out.join(CERT_FILE);
    write(&path, &cert_pem, false, overwrite)?;
    Ok((path, CertInfo::of_pem(&cert_pem)?))
}

/// `cert create-request`: the hall's side of enrolment without the CA: a
/// key pair made here (`certs/node.key`, which never leaves) and a signing
/// request (`certs/node.csr`) to take to whoever holds the CA key.
pub fn create_request(certs: &Path, node: &NodeId, overwrite: bool) -> anyhow::Result<PathBuf> {
    let req = KeyRequest::generate(node).context("making the key pair")?;
    if !overwrite && certs.join(KEY_FILE).exists() {
        bail!(
            "{} exists already: pass --overwrite to replace it",
            certs.join(KEY_FILE).display()
        );
    }
    write(&certs.join(KEY_FILE), &req.key_pem, true, overwrite)?;
    let path = certs.join(REQUEST_FILE);
    write(&path, &req.request_pem, false, true)?;
    Ok(path)
}

/// One certificate as `cert list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// `ca` or `node`.
    pub usage: &'static str,
    /// The file, relative to the folder listed.
    pub file: String,
    /// What the certificate says of itself; absent if it does not parse.
    pub cert: Option<CertInfo>,
    /// Whole days left (negative once expired).
    pub days_left: Option<i64>,
    /// What is wrong or due; empty when all is well.
    pub problems: Vec<String>,
    /// Whether a problem makes the certificate unusable now (as opposed to
    /// a warning).
    pub unusable: bool,
}

/// Every certificate under `dir`: a certs folder, or a bundle (its CA and
/// every node's `pki` folder), at Unix time `now`.
pub fn list(dir: &Path, now: i64) -> anyhow::Result<Vec<Listed>> {
    let dir = &std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let mut folders: Vec<PathBuf> = Vec::new();
    // In a bundle, each node's copy of the CA is shown only where it is not
    // the bundle's own.
    let mut bundle_ca: Option<String> = None;
    if dir.join(crate::bundle::MANIFEST).is_file() {
        bundle_ca = std::fs::read_to_string(dir.join("ca").join(CA_FILE)).ok();
        let b = Bundle::load(dir)?;
        folders.push(dir.join("ca"));
        for n in &b.nodes {
            folders.push(b.folder(&n.id)?.join("pki"));
        }
    } else if dir.is_dir() {
        folders.push(dir.to_path_buf());
    } else {
        bail!("{} is not a folder", dir.display());
    }
    let mut out = Vec::new();
    for folder in folders {
        let rel = |f: &str| {
            folder
                .join(f)
                .strip_prefix(dir)
                .map_or_else(|_| folder.join(f), Path::to_path_buf)
                .display()
                .to_string()
        };
        let ca_pem = std::fs::read_to_string(folder.join(CA_FILE)).ok();
        if let Some(pem) = &ca_pem {
            let the_bundles = bundle_ca.as_ref() == Some(pem) && folder != dir.join("ca");
            if !the_bundles {
                let mut row = examine("ca", rel(CA_FILE), pem, None, None, now);
                if bundle_ca.is_some() && folder != dir.join("ca") {
                    row.problems.push("not the bundle's CA".to_owned());
                    row.unusable = true;
                }
                out.push(row);
            }
        }
        if let Ok(pem) = std::fs::read_to_string(folder.join(CERT_FILE)) {
            let key = folder.join(KEY_FILE);
            out.push(examine(
                "node",
                rel(CERT_FILE),
                &pem,
                ca_pem.as_deref(),
                Some(&key),
                now,
            ));
        }
    }
    if out.is_empty() {
        bail!(
            "no certificate in {} (looked for {CA_FILE} and {CERT_FILE})",
            dir.display()
        );
    }
    Ok(out)
}

fn examine(
    usage: &'static str,
    file: String,
    pem: &str,
    ca_pem: Option<&str>,
    key: Option<&Path>,
    now: i64,
) -> Listed {
    let mut problems = Vec::new();
    let mut unusable = false;
    let cert = match CertInfo::of_pem(pem) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(format!("unreadable: {e}"));
            unusable = true;
            None
        }
    };
    if let Some(c) = &cert {
        let left = c.days_left(now);
        if now >= c.not_after {
            problems.push("expired".to_owned());
            unusable = true;
        } else if now < c.not_before {
            problems.push("not valid yet".to_owned());
            unusable = true;
        } else if left < WARN_DAYS {
            problems.push(format!("expires in {left} days"));
        } else if usage == "node" && c.due_for_renewal(now) {
            problems.push("past two thirds of its life: renew".to_owned());
        }
        if usage == "ca" && !c.is_ca {
            problems.push("not a CA certificate".to_owned());
            unusable = true;
        }
        if usage == "node" && c.node.is_none() {
            problems.push("names no node".to_owned());
            unusable = true;
        }
    }
    if let (Some(ca), true) = (ca_pem, cert.is_some()) {
        if !federation::signed_by(pem, ca).unwrap_or(false) {
            problems.push(format!("not signed by {CA_FILE} beside it"));
            unusable = true;
        }
    } else if usage == "node" {
        problems.push(format!("no {CA_FILE} beside it"));
        unusable = true;
    }
    if let Some(key) = key {
        match std::fs::read_to_string(key) {
            Err(_) => {
                problems.push(format!("no {KEY_FILE}"));
                unusable = true;
            }
            Ok(k) => {
                if cert.is_some() && !federation::key_matches(pem, &k).unwrap_or(false) {
                    problems.push(format!("{KEY_FILE} is not this certificate's key"));
                    unusable = true;
                }
                if std::fs::metadata(key).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
                    problems.push(format!("{KEY_FILE} is readable by others (chmod 600)"));
                }
            }
        }
    }
    Listed {
        usage,
        file,
        days_left: cert.as_ref().map(|c| c.days_left(now)),
        cert,
        problems,
        unusable,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lifetimes_read_as_operators_write_them() {
        assert_eq!(parse_lifetime("825d").unwrap().as_secs(), 825 * 86_400);
        assert_eq!(parse_lifetime("825").unwrap().as_secs(), 825 * 86_400);
        assert_eq!(parse_lifetime("48h").unwrap().as_secs(), 48 * 3600);
        assert_eq!(parse_lifetime("20y").unwrap().as_secs(), 20 * 365 * 86_400);
        for bad in ["", "d", "0d", "5w", "-3d", "101y", "1.5d"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
        assert_eq!(days(Duration::from_secs(3600)), 1);
    }
}
