//! `onewindow-deploy cert ...`: the certs folder commands over
//! [`onewindow_deploy::certs`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use federation::{CertInfo, NodeId};
use onewindow_deploy::certs::{self, Listed};
use onewindow_table as report;

/// Certificates: a CA, node certificates and keys, and their expiry.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Makes the federation CA: CERTS_DIR/ca.crt, and its private key at
    /// --ca-key (mode 0600; keep it on the district's machine, off the
    /// halls).
    CreateCa(CreateCaArgs),
    /// Issues a node's certificate, signed by the CA of CERTS_DIR/ca.crt
    /// and --ca-key: into CERTS_DIR/node.crt with a key made here
    /// (CERTS_DIR/node.key); or, with --csr, for the key of that request
    /// (made at the hall with create-request; the private key never leaves
    /// it), written beside the request as node.crt with a copy of ca.crt.
    CreateNode(CreateNodeArgs),
    /// At a hall: makes the node's key pair (CERTS_DIR/node.key, which
    /// stays here) and a signing request (CERTS_DIR/node.csr) to take to
    /// whoever holds the CA key.
    CreateRequest(CreateRequestArgs),
    /// Lists the certificates of a certs folder, or of every node of a
    /// bundle, with their expiry and what is wrong with them. Exits 1 if
    /// one is unusable (expired, not signed by the CA beside it, a key
    /// that is not its own).
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct CreateCaArgs {
    /// The certs folder (created if missing).
    #[arg(long, value_name = "DIR")]
    certs_dir: PathBuf,
    /// Where to write the CA's private key.
    #[arg(long, value_name = "FILE")]
    ca_key: PathBuf,
    /// The CA's common name.
    #[arg(long, default_value = "OneWindow federation CA")]
    name: String,
    /// How long the CA is valid: h, d or y (365 days), e.g. 20y.
    #[arg(long, default_value = "20y", value_parser = certs::parse_lifetime)]
    lifetime: Duration,
    /// Replace an existing CA (every certificate it signed stops being
    /// trusted).
    #[arg(long)]
    overwrite: bool,
}

#[derive(Debug, Args)]
pub struct CreateNodeArgs {
    /// The node id, e.g. nanhai.dali.yanbu.
    node: NodeId,
    /// The certs folder holding ca.crt; node.crt and node.key go there
    /// (without --csr).
    #[arg(long, value_name = "DIR")]
    certs_dir: PathBuf,
    /// The CA's private key.
    #[arg(long, value_name = "FILE")]
    ca_key: PathBuf,
    /// Sign this request (node.csr from create-request) instead of making a
    /// key here.
    #[arg(long, value_name = "FILE")]
    csr: Option<PathBuf>,
    /// How long the certificate is valid: h, d or y, e.g. 825d.
    #[arg(long, default_value = "825d", value_parser = certs::parse_lifetime)]
    lifetime: Duration,
    /// Replace an existing node.crt and node.key.
    #[arg(long)]
    overwrite: bool,
}

#[derive(Debug, Args)]
pub struct CreateRequestArgs {
    /// The node id the request names.
    node: NodeId,
    /// The certs folder (created if missing).
    #[arg(long, value_name = "DIR")]
    certs_dir: PathBuf,
    /// Replace an existing node.key.
    #[arg(long)]
    overwrite: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// A certs folder, or a bundle folder (every node's pki folder).
    #[arg(long, value_name = "DIR")]
    certs_dir: PathBuf,
    /// JSON for scripts instead of a table.
    #[arg(long)]
    json: bool,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn date(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map_or_else(
        || unix.to_string(),
        |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn describe(what: &str, path: &std::path::Path, info: &CertInfo) {
    println!(
        "{what} {}: {} (serial {}), valid until {} ({} days)",
        path.display(),
        info.node.as_deref().unwrap_or(&info.common_name),
        info.serial,
        date(info.not_after),
        info.days_left(now())
    );
}

impl CertCommand {
    /// Runs the command; `Ok(false)` is a failure already reported.
    pub fn run(self) -> anyhow::Result<bool> {
        match self {
            Self::CreateCa(a) => {
                let info =
                    certs::create_ca(&a.certs_dir, &a.ca_key, &a.name, a.lifetime, a.overwrite)?;
                describe("wrote", &a.certs_dir.join("ca.crt"), &info);
                println!(
                    "wrote {} (mode 0600): keep it off the halls",
                    a.ca_key.display()
                );
                Ok(true)
            }
            Self::CreateNode(a) => {
                let (path, info) = certs::create_node(
                    &a.certs_dir,
                    &a.ca_key,
                    &a.node,
                    a.csr.as_deref(),
                    a.lifetime,
                    a.overwrite,
                )?;
                describe("wrote", &path, &info);
                match &a.csr {
                    None => println!(
                        "wrote {} (mode 0600)",
                        a.certs_dir.join("node.key").display()
                    ),
                    Some(_) => println!(
                        "wrote {} beside it: give {} back to the hall",
                        path.with_file_name("ca.crt").display(),
                        path.parent()
                            .map_or_else(String::new, |p| p.display().to_string())
                    ),
                }
                Ok(true)
            }
            Self::CreateRequest(a) => {
                let path = certs::create_request(&a.certs_dir, &a.node, a.overwrite)?;
                println!(
                    "wrote {} (mode 0600): it stays here",
                    a.certs_dir.join("node.key").display()
                );
                println!(
                    "wrote {}: have it signed with `onewindow-deploy cert create-node {} --csr node.csr ...` and put the node.crt and ca.crt you get back here",
                    path.display(),
                    a.node
                );
                Ok(true)
            }
            Self::List(a) => {
                let listed = certs::list(&a.certs_dir, now())?;
                if a.json {
                    println!("{}", serde_json::to_string_pretty(&listed)?);
                } else {
                    print_list(&listed);
                }
                Ok(!listed.iter().any(|l| l.unusable))
            }
        }
    }
}

fn print_list(listed: &[Listed]) {
    let headers = [
        "usage", "file", "name", "serial", "issued", "expires", "days", "notes",
    ];
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            let c = l.cert.as_ref();
            vec![
                l.usage.to_owned(),
                l.file.clone(),
                c.map(|c| c.node.clone().unwrap_or_else(|| c.common_name.clone()))
                    .unwrap_or_default(),
                c.map(|c| c.serial.chars().take(8).collect())
                    .unwrap_or_default(),
                c.map(|c| date(c.not_before)).unwrap_or_default(),
                c.map(|c| date(c.not_after)).unwrap_or_default(),
                l.days_left.map(|d| d.to_string()).unwrap_or_default(),
                if l.problems.is_empty() {
                    "ok".to_owned()
                } else {
                    l.problems.join("; ")
                },
            ]
        })
        .collect();
    println!("{}", report::table(&headers, &rows, &[6]));
}
