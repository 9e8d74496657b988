//! Deployment bundles: everything each node of a topology needs, on disk.
//!
//! [`make`] creates a federation CA, a certificate per node, the root's
//! signing key and, per node, a folder that is complete on its own:
//!
//! ```text
//! DIR/bundle.json                 the manifest (ports, URLs, admin passwords; mode 0600)
//! DIR/ca/ca.crt, ca.key           the federation CA: keep ca.key off the nodes
//! DIR/nodes/<id>/config.toml      every node configuration key (mode 0600)
//! DIR/nodes/<id>/onewindow-node.service   a systemd unit
//! DIR/nodes/<id>/pki/             node.crt, node.key, ca.crt
//! DIR/nodes/<id>/data/            the SQLite store, once the node has run
//! DIR/nodes/<id>/root-signing.key the root's signing key (root only)
//! ```
//!
//! Paths inside `config.toml` are relative to the node's folder (a node
//! reads a configuration's relative paths against the file's folder, from
//! whatever working directory it starts in): the same folder works on this
//! machine (`topology run`) and copied to `--install-dir` on a hall's server.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use federation::FederationCa;
use node::config::Config;
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};

use crate::topology::{NodeSpec, Topology};

/// The manifest's file name in a bundle folder.
pub const MANIFEST: &str = "bundle.json";
/// A node's configuration file in its folder.
pub const CONFIG_FILE: &str = "config.toml";
/// A node's systemd unit in its folder.
pub const UNIT_FILE: &str = "onewindow-node.service";
/// The root's signing key file in the root's folder.
pub const SIGNING_KEY_FILE: &str = "root-signing.key";
/// File name of a hall's document key in its folder.
pub const DOCUMENT_KEY_FILE: &str = "document.key";
/// Where a node's output goes when it runs on this machine.
pub const LOG_FILE: &str = "node.log";
/// Case rows a village's writer keeps (`database.case_cache_rows`; 1,024
/// elsewhere): each holds a whole case, a few KiB, and a village's day of
/// a few dozen cases needs far fewer.
pub const VILLAGE_CASE_CACHE_ROWS: u32 = 128;
/// SQLite page cache of each of a village's connections, in KiB
/// (`database.sqlite_cache_kib`; 1,024 elsewhere). A village's store is a
/// few MB a year; with four connections of 1 MiB each, a village grew by
/// 4 MB in ten idle minutes as the caches filled.
pub const VILLAGE_SQLITE_CACHE_KIB: u32 = 256;

/// How nodes get their ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// The k-th node on a host gets `http + k` and `quic + k`, unless the
    /// topology fixes a port.
    Base {
        /// First HTTP port.
        http: u16,
        /// First QUIC port.
        quic: u16,
    },
    /// Ports free right now on 127.0.0.1, below the system's ephemeral
    /// range and not handed out before by this process (for tests and
    /// chaos runs, which must not use fixed ports).
    Free,
}

/// How to make a bundle.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// Port assignment.
    pub ports: Ports,
    /// Where a node's folder is installed on its server (the units'
    /// working directory).
    pub install_dir: PathBuf,
    /// Where the `onewindow-node` binary is installed on the servers.
    pub unit_node_bin: PathBuf,
    /// Validity of node certificates, in days.
    pub cert_days: u32,
    /// SQLite `synchronous` for every node: `full` or `normal`.
    pub sqlite_synchronous: String,
    /// The nodes' log filter.
    pub log_filter: String,
}

impl Default for BundleOptions {
    fn default() -> Self {
        Self {
            ports: Ports::Base {
                http: 18000,
                quic: 19000,
            },
            install_dir: PathBuf::from("/var/lib/onewindow"),
            unit_node_bin: PathBuf::from("/usr/local/bin/onewindow-node"),
            cert_days: 825,
            sqlite_synchronous: "full".to_owned(),
            log_filter: "info".to_owned(),
        }
    }
}

/// One node of a bundle, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundledNode {
    /// Node id.
    pub id: String,
    /// Tier name.
    pub tier: String,
    /// Hall code.
    pub hall_code: String,
    /// Hall name in Chinese.
    pub hall_name_zh: String,
    /// Hall name in English.
    pub hall_name_en: String,
    /// The node's folder, relative to the bundle folder.
    pub folder: String,
    /// Host the node runs on.
    pub host: String,
    /// The HTTP API's base URL.
    pub url: String,
    /// HTTP listen address.
    pub http_listen: SocketAddr,
    /// QUIC listen address (bound only by nodes with children).
    pub quic_listen: SocketAddr,
    /// Where children dial this node: `host:port`.
    pub quic_addr: String,
    /// The parent's id.
    pub parent: Option<String>,
    /// The children's ids.
    pub children: Vec<String>,
    /// The first administrator's password (`admin`).
    pub admin_password: String,
}

impl BundledNode {
    /// Whether the node is a village's: a hall with no halls below it. It
    /// gets a small machine's configuration and runs the village build.
    pub fn is_village(&self) -> bool {
        self.children.is_empty()
    }
}

/// A bundle on disk: its folder and its manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// The bundle folder (not stored; set when made or loaded).
    #[serde(skip)]
    pub dir: PathBuf,
    /// Tier names from the root down.
    pub tiers: Vec<String>,
    /// The root's public key (hex), in every node's configuration.
    pub root_public_key: String,
    /// Every node, parents first.
    pub nodes: Vec<BundledNode>,
}

impl Bundle {
    /// Reads the manifest of the bundle in `dir`.
    pub fn load(dir: &Path) -> anyhow::Result<Bundle> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut b: Bundle =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        b.dir = absolute(dir)?;
        Ok(b)
    }

    /// Whether `dir` holds a bundle.
    pub fn exists(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file()
    }

    /// A node by id.
    pub fn node(&self, id: &str) -> anyhow::Result<&BundledNode> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .with_context(|| format!("the bundle has no node {id}"))
    }

    /// A node's folder (absolute).
    pub fn folder(&self, id: &str) -> anyhow::Result<PathBuf> {
        Ok(self.dir.join(&self.node(id)?.folder))
    }

    /// A node's configuration file (absolute).
    pub fn config_path(&self, id: &str) -> anyhow::Result<PathBuf> {
        Ok(self.folder(id)?.join(CONFIG_FILE))
    }

    /// A node's configuration as written.
    pub fn config(&self, id: &str) -> anyhow::Result<Config> {
        let path = self.config_path(id)?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Rewrites a node's configuration.
    pub fn write_config(&self, id: &str, config: &Config) -> anyhow::Result<()> {
        let node = self.node(id)?;
        write_private(
            &self.config_path(id)?,
            &config_text(node, config)?,
            "the configuration",
        )
    }

    /// Points a node at another parent address (a relay, say) from its next
    /// start on.
    pub fn set_parent_addr(&self, id: &str, addr: &str) -> anyhow::Result<()> {
        let mut c = self.config(id)?;
        c.federation.parent_addr = addr.to_owned();
        self.write_config(id, &c)
    }

    /// Node ids by depth: the root's tier first.
    pub fn tiers_of_nodes(&self) -> Vec<Vec<String>> {
        let mut by_depth: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for n in &self.nodes {
            let depth = n.id.matches('.').count();
            by_depth.entry(depth).or_default().push(n.id.clone());
        }
        by_depth.into_values().collect()
    }

    /// Does the bundle hold exactly the topology's nodes?
    pub fn matches(&self, topology: &Topology) -> bool {
        let mine: BTreeSet<&str> = self.nodes.iter().map(|n| n.id.as_str()).collect();
        let theirs: BTreeSet<&str> = topology.nodes.iter().map(|n| n.id.as_str()).collect();
        mine == theirs
    }
}

/// A random password of `len` letters and digits.
pub fn random_password(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Makes a bundle for `topology` in `dir`, which must not hold one yet.
pub fn make(topology: &Topology, dir: &Path, opts: &BundleOptions) -> anyhow::Result<Bundle> {
    if Bundle::exists(dir) {
        bail!(
            "{} already holds a bundle (its CA and keys would be lost); choose another folder",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = absolute(dir)?;
    let ports = assign_ports(topology, opts.ports)?;

    let ca = FederationCa::generate("OneWindow federation CA")
        .context("generating the federation CA")?;
    let ca_dir = dir.join("ca");
    std::fs::create_dir_all(&ca_dir)?;
    write_public(&ca_dir.join("ca.crt"), ca.cert_pem())?;
    write_private(&ca_dir.join("ca.key"), ca.key_pem(), "the CA key")?;
    let (signing_private, signing_public) =
        node::link::signing::generate().context("generating the root's signing key")?;

    let mut nodes = Vec::with_capacity(topology.nodes.len());
    for spec in &topology.nodes {
        let (http_port, quic_port) = ports[spec.id.as_str()];
        let listen_ip = listen_ip(&spec.host);
        let parent = spec.id.parent().map(|p| p.to_string());
        nodes.push(BundledNode {
            id: spec.id.to_string(),
            tier: spec.tier.clone(),
            hall_code: spec.hall_code.clone(),
            hall_name_zh: spec.hall_name_zh.clone(),
            hall_name_en: spec.hall_name_en.clone(),
            folder: format!("nodes/{}", spec.id),
            host: spec.host.clone(),
            url: format!("http://{}", host_port(&spec.host, http_port)),
            http_listen: SocketAddr::new(listen_ip, http_port),
            quic_listen: SocketAddr::new(listen_ip, quic_port),
            quic_addr: host_port(&spec.host, quic_port),
            parent,
            children: topology.children_of(&spec.id),
            admin_password: random_password(20),
        });
    }
    let bundle = Bundle {
        dir: dir.clone(),
        tiers: topology.tiers.clone(),
        root_public_key: signing_public,
        nodes,
    };
    // The tree's key for the digests of applicants' ID numbers: one for
    // every hall, kept only in their configurations.
    let id_digest_key = hex::encode(rand::random::<[u8; 32]>());
    for (spec, bn) in topology.nodes.iter().zip(&bundle.nodes) {
        let folder = dir.join(&bn.folder);
        std::fs::create_dir_all(folder.join("data"))
            .with_context(|| format!("creating {}", folder.display()))?;
        ca.issue_for_days(&spec.id, opts.cert_days)
            .and_then(|c| c.to_files(&folder.join("pki")))
            .with_context(|| format!("issuing the certificate of {}", spec.id))?;
        let parent_addr = match &bn.parent {
            Some(p) => bundle.node(p)?.quic_addr.clone(),
            None => String::new(),
        };
        let is_root = spec.id.depth() == 0;
        if is_root {
            write_private(
                &folder.join(SIGNING_KEY_FILE),
                &signing_private,
                "the signing key",
            )?;
        }
        // The hall's document key, made here with the rest of its keys,
        // and the root's endorsement of it.
        let (doc_private, _) =
            node::link::signing::generate().context("generating a document key")?;
        write_private(
            &folder.join(DOCUMENT_KEY_FILE),
            &doc_private,
            "the document key",
        )?;
        let root_signer = node::link::signing::Signer::from_hex(&signing_private)
            .context("reading the root's signing key")?;
        let doc_public = node::link::signing::Signer::from_hex(&doc_private)
            .context("reading the document key")?
            .public_bytes();
        let endorsement = hex::encode(root_signer.sign_raw(
            &node::domain::document::endorsement_text(spec.id.as_str(), &doc_public),
        ));
        let mut config = node_config(
            spec,
            bn,
            &bundle.tiers,
            &bundle.root_public_key,
            &parent_addr,
            opts,
        );
        config.node.document_key_file = DOCUMENT_KEY_FILE.to_owned();
        config.node.document_key_endorsement = endorsement;
        config.privacy.id_digest_key.clone_from(&id_digest_key);
        config.node.tree_halls = deciding_halls(topology, &spec.id);
        config
            .validate()
            .with_context(|| format!("the configuration of {}", spec.id))?;
        bundle.write_config(&bn.id, &config)?;
        write_public(&folder.join(UNIT_FILE), &systemd_unit(bn, opts))?;
    }
    let manifest = serde_json::to_string_pretty(&bundle)?;
    write_private(&dir.join(MANIFEST), &manifest, "the manifest")?;
    Ok(bundle)
}

/// The halls a clerk at `hall` may name to decide a cross-district case
/// (`[node] tree_halls`): those of the topology between the root and the
/// lowest tier (districts and townships in a city), outside `hall`'s
/// branch, each as `ID|中文名|English name`.
fn deciding_halls(topology: &Topology, hall: &federation::NodeId) -> Vec<String> {
    let lowest = topology.tiers.len().saturating_sub(1);
    topology
        .nodes
        .iter()
        .filter(|n| n.id.depth() > 0 && n.id.depth() < lowest)
        .filter(|n| !n.id.is_in_subtree_of(hall) && !hall.is_in_subtree_of(&n.id))
        .map(|n| {
            let clean = |s: &str| s.replace(['|', ','], " ");
            format!(
                "{}|{}|{}",
                n.id,
                clean(&n.hall_name_zh),
                clean(&n.hall_name_en)
            )
        })
        .collect()
}

/// The configuration of one node of a bundle: paths relative to its folder.
fn node_config(
    spec: &NodeSpec,
    bn: &BundledNode,
    tiers: &[String],
    root_public_key: &str,
    parent_addr: &str,
    opts: &BundleOptions,
) -> Config {
    let mut c = Config::default();
    c.node.id = spec.id.to_string();
    c.node.tiers = tiers.to_vec();
    c.node.hall_code = spec.hall_code.clone();
    c.node.hall_name_zh = spec.hall_name_zh.clone();
    c.node.hall_name_en = spec.hall_name_en.clone();
    c.node.data_dir = PathBuf::from("data");
    c.http.listen = bn.http_listen;
    c.federation.listen = bn.quic_listen;
    c.federation.parent_addr = parent_addr.to_owned();
    c.federation.credentials_dir = "pki".to_owned();
    c.federation.children = bn.children.clone();
    c.federation.root_public_key = root_public_key.to_owned();
    if spec.id.depth() == 0 {
        c.federation.signing_key_file = SIGNING_KEY_FILE.to_owned();
    }
    c.database.url = "sqlite://data/node.db?mode=rwc".to_owned();
    // A village's hall has a few windows and a few dozen cases a day; the
    // district serves many. Every connection's page cache and every cached
    // case row is memory a village's small machine keeps.
    if bn.is_village() {
        c.database.max_connections = 2;
        c.database.sqlite_cache_kib = VILLAGE_SQLITE_CACHE_KIB;
        c.database.case_cache_rows = VILLAGE_CASE_CACHE_ROWS;
    } else {
        c.database.max_connections = 8;
    }
    c.database.sqlite_synchronous = opts.sqlite_synchronous.clone();
    c.auth.bootstrap_password = bn.admin_password.clone();
    c.log.filter = opts.log_filter.clone();
    c
}

fn config_text(node: &BundledNode, config: &Config) -> anyhow::Result<String> {
    let body = toml::to_string(config).context("writing the configuration")?;
    Ok(format!(
        "# OneWindow node {} ({}): {} / {}\n\
         # Made by onewindow-deploy. Every key is documented by `onewindow-node default-config`.\n\
         # Relative paths are this folder's, whatever the working directory.\n\
         # auth.bootstrap_password is the first administrator's password: change it after the first login.\n\n{body}",
        node.id, node.tier, node.hall_name_zh, node.hall_name_en
    ))
}

fn systemd_unit(node: &BundledNode, opts: &BundleOptions) -> String {
    let dir = opts.install_dir.display();
    let bin = opts.unit_node_bin.display();
    format!(
        "# OneWindow hall node {id} ({tier}): {zh}\n\
         #\n\
         # Install on the hall's server: copy this folder's contents to {dir},\n\
         # {build} to {bin}, create the user, then\n\
         #   useradd --system --home {dir} onewindow && chown -R onewindow: {dir}\n\
         #   cp {dir}/{unit} /etc/systemd/system/\n\
         #   systemctl daemon-reload && systemctl enable --now onewindow-node\n\
         \n\
         [Unit]\n\
         Description=OneWindow hall node {id} ({en})\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         User=onewindow\n\
         Group=onewindow\n\
         WorkingDirectory={dir}\n\
         ExecStart={bin} --config {dir}/{config} start\n\
         # The node shuts down cleanly on SIGINT (its store is safe on any signal).\n\
         KillSignal=SIGINT\n\
         TimeoutStopSec=30\n\
         Restart=always\n\
         RestartSec=2\n\
         LimitNOFILE=65536\n\
         NoNewPrivileges=true\n\
         PrivateTmp=true\n\
         ProtectSystem=strict\n\
         ProtectHome=true\n\
         ReadWritePaths={dir}\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        id = node.id,
        build = if node.is_village() {
            "the village build of onewindow-node (smaller; `cargo build --profile village\n\
             # --no-default-features -p onewindow-node` makes\n\
             # target/village/onewindow-node)"
        } else {
            "the release build of onewindow-node (target/release/onewindow-node)"
        },
        tier = node.tier,
        zh = node.hall_name_zh,
        en = node.hall_name_en,
        unit = UNIT_FILE,
        config = CONFIG_FILE,
    )
}

/// Free ports are drawn below the system's ephemeral range, one after
/// another from a random start. A port the system hands out for `bind(0)`
/// or an outgoing socket comes from that range, so between a bundle being
/// made and its node binding the port, another tree's client socket or
/// relay could take it (a chaos run of six trees at once saw `Address
/// already in use`); and a port drawn here is not drawn again until the
/// whole range has gone round, so a hall killed and started again finds
/// its port still unused by any other tree of this process.
const FREE_FROM: u16 = 15_000;

/// The lowest ephemeral port (`/proc/sys/net/ipv4/ip_local_port_range`),
/// 32768 where that cannot be read.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// The next port to try, cycling over `FREE_FROM..ephemeral_low()`; `None`
/// when that range is empty on this system.
fn next_free_candidate() -> Option<u16> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let high = ephemeral_low();
    if high <= FREE_FROM + 100 {
        return None;
    }
    let span = u32::from(high - FREE_FROM);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        rand::thread_rng().gen_range(0..span),
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    let k = NEXT.fetch_add(1, Ordering::SeqCst) % span;
    u16::try_from(u32::from(FREE_FROM) + k).ok()
}

/// A socket bound by `bind` on a free port of 127.0.0.1 (see
/// [`FREE_FROM`]), or on one the system picks if none of a thousand tried is.
fn bind_free<S>(bind: impl Fn(u16) -> std::io::Result<S>) -> std::io::Result<S> {
    for _ in 0..1_000 {
        let Some(port) = next_free_candidate() else {
            break;
        };
        if let Ok(s) = bind(port) {
            return Ok(s);
        }
    }
    bind(0)
}

fn free_tcp() -> std::io::Result<TcpListener> {
    bind_free(|port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)))
}

fn free_udp() -> std::io::Result<UdpSocket> {
    bind_free(|port| UdpSocket::bind((Ipv4Addr::LOCALHOST, port)))
}

/// HTTP and QUIC ports per node id.
fn assign_ports(topology: &Topology, ports: Ports) -> anyhow::Result<BTreeMap<String, (u16, u16)>> {
    let mut out = BTreeMap::new();
    match ports {
        Ports::Free => {
            // Hold every socket until all are picked, so none repeats.
            let mut held = Vec::new();
            for n in &topology.nodes {
                let (tcp, udp) = (free_tcp()?, free_udp()?);
                let pair = (tcp.local_addr()?.port(), udp.local_addr()?.port());
                out.insert(n.id.to_string(), pair);
                held.push((tcp, udp));
            }
        }
        Ports::Base { http, quic } => {
            let mut next: BTreeMap<&str, u32> = BTreeMap::new();
            let mut used: BTreeSet<(String, &str, u16)> = BTreeSet::new();
            for n in &topology.nodes {
                let k = next.entry(n.host.as_str()).or_insert(0);
                let pick = |fixed: Option<u16>, base: u16| -> anyhow::Result<u16> {
                    match fixed {
                        Some(p) => Ok(p),
                        None => u16::try_from(u32::from(base) + *k).with_context(|| {
                            format!("node {}: ports from {base} run past 65535", n.id)
                        }),
                    }
                };
                let pair = (pick(n.http_port, http)?, pick(n.quic_port, quic)?);
                *k += 1;
                for (proto, port) in [("http", pair.0), ("quic", pair.1)] {
                    if !used.insert((n.host.clone(), proto, port)) {
                        bail!(
                            "node {}: {proto} port {port} on {} is taken by another node",
                            n.id,
                            n.host
                        );
                    }
                }
                out.insert(n.id.to_string(), pair);
            }
        }
    }
    Ok(out)
}

/// Where a node on `host` listens: that address if it is a loopback
/// address (one machine), otherwise every address.
fn listen_ip(host: &str) -> IpAddr {
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => ip,
        Ok(IpAddr::V6(_)) => IpAddr::from([0u16; 8]),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// `host:port`, with brackets around an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("[{host}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))
}

fn write_public(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Writes a file only its owner may read.
fn write_private(path: &Path, text: &str, what: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {what} to {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {what} to {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn small() -> Topology {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/topologies/small.toml");
        Topology::load(&path).unwrap()
    }

    #[test]
    fn free_ports_lie_below_the_ephemeral_range_and_do_not_repeat() {
        let low = ephemeral_low();
        let mut seen = BTreeSet::new();
        let mut held = Vec::new();
        for _ in 0..50 {
            let (tcp, udp) = (free_tcp().unwrap(), free_udp().unwrap());
            for port in [
                tcp.local_addr().unwrap().port(),
                udp.local_addr().unwrap().port(),
            ] {
                if low > FREE_FROM + 100 {
                    assert!((FREE_FROM..low).contains(&port), "port {port}");
                }
                assert!(seen.insert(port), "port {port} handed out twice");
            }
            held.push((tcp, udp));
        }
    }

    #[test]
    fn a_bundle_holds_a_working_configuration_per_node() {
        let dir = tempfile::tempdir().unwrap();
        let b = make(&small(), dir.path(), &BundleOptions::default()).unwrap();
        assert_eq!(b.nodes.len(), 7);
        let loaded = Bundle::load(dir.path()).unwrap();
        assert_eq!(loaded.nodes, b.nodes);
        assert!(loaded.matches(&small()));

        let root = b.node("nanhai").unwrap();
        assert_eq!(root.url, "http://127.0.0.1:18000");
        assert_eq!(root.quic_addr, "127.0.0.1:19000");
        let c = b.config("nanhai").unwrap();
        c.validate().unwrap();
        assert_eq!(c.federation.signing_key_file, SIGNING_KEY_FILE);
        assert_eq!(c.federation.children, ["nanhai.guicheng", "nanhai.dali"]);
        assert_eq!(c.auth.bootstrap_password, root.admin_password);
        let folder = b.folder("nanhai").unwrap();
        let key = std::fs::read_to_string(folder.join(SIGNING_KEY_FILE)).unwrap();
        assert!(node::link::signing::Signer::from_hex(&key).is_ok());

        let v = b.config("nanhai.dali.yanbu").unwrap();
        assert_eq!(v.node.hall_code, "NHDLYB");
        assert_eq!(v.tier(), "village");
        assert_eq!(
            v.federation.parent_addr,
            b.node("nanhai.dali").unwrap().quic_addr
        );
        assert!(v.federation.signing_key_file.is_empty());
        assert_eq!(v.federation.root_public_key, b.root_public_key);
        // A village keeps fewer connections, smaller page caches and fewer
        // case rows than the halls above it.
        assert_eq!(v.database.max_connections, 2);
        assert_eq!(v.database.sqlite_cache_kib, VILLAGE_SQLITE_CACHE_KIB);
        assert_eq!(v.database.case_cache_rows, VILLAGE_CASE_CACHE_ROWS);
        assert_eq!(c.database.max_connections, 8);
        assert_eq!(
            c.database.case_cache_rows,
            Config::default().database.case_cache_rows
        );
        // The halls a clerk may name for a cross-district case: the other
        // township, not its own or the district.
        assert_eq!(
            v.node.tree_halls,
            [
                "nanhai.guicheng|南海区桂城街道行政服务中心|Guicheng Sub-district Administrative Service Centre"
            ]
        );
        // One digest key for the whole tree.
        assert_eq!(v.privacy.id_digest_key.len(), 64);
        assert_eq!(v.privacy.id_digest_key, c.privacy.id_digest_key);
        let creds = federation::NodeCredentials::from_files(
            &b.folder("nanhai.dali.yanbu").unwrap().join("pki"),
        )
        .unwrap();
        assert_eq!(creds.node.as_str(), "nanhai.dali.yanbu");
        let unit = std::fs::read_to_string(b.folder("nanhai.dali.yanbu").unwrap().join(UNIT_FILE))
            .unwrap();
        assert!(unit.contains(
            "ExecStart=/usr/local/bin/onewindow-node --config /var/lib/onewindow/config.toml start"
        ));
        // A village is told to install the village build, a township the
        // release build.
        assert!(
            unit.contains("the village build of onewindow-node"),
            "{unit}"
        );
        assert!(unit.contains("--no-default-features"), "{unit}");
        let township =
            std::fs::read_to_string(b.folder("nanhai.dali").unwrap().join(UNIT_FILE)).unwrap();
        assert!(
            township.contains("the release build of onewindow-node"),
            "{township}"
        );

        // A second bundle into the same folder would lose the CA.
        assert!(make(&small(), dir.path(), &BundleOptions::default()).is_err());
        // The parent address can be pointed elsewhere.
        b.set_parent_addr("nanhai.dali.yanbu", "127.0.0.1:9")
            .unwrap();
        assert_eq!(
            b.config("nanhai.dali.yanbu")
                .unwrap()
                .federation
                .parent_addr,
            "127.0.0.1:9"
        );
    }

    #[test]
    fn ports_count_per_host_and_collisions_are_refused() {
        let t = Topology::parse(
            r#"
            [tree]
            tiers = ["a", "b"]
            [[node]]
            id = "r"
            hall_code = "RR"
            hall_name_zh = "r"
            hall_name_en = "r"
            host = "10.0.0.1"
            [[node]]
            id = "r.x"
            hall_code = "XX"
            hall_name_zh = "x"
            hall_name_en = "x"
            host = "10.0.0.2"
            [[node]]
            id = "r.y"
            hall_code = "YY"
            hall_name_zh = "y"
            hall_name_en = "y"
            host = "10.0.0.2"
            http_port = 8080
            "#,
        )
        .unwrap();
        let p = assign_ports(
            &t,
            Ports::Base {
                http: 8080,
                quic: 7443,
            },
        );
        let e = p.unwrap_err().to_string();
        assert!(e.contains("http port 8080 on 10.0.0.2"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let t = Topology::parse(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/topologies/small.toml"),
            )
            .unwrap()
            .replace("host = \"127.0.0.1\"", "host = \"hall.example\""),
        )
        .unwrap();
        let opts = BundleOptions {
            ports: Ports::Base {
                http: 8080,
                quic: 7443,
            },
            ..BundleOptions::default()
        };
        let b = make(&t, dir.path(), &opts).unwrap();
        let v = b.node("nanhai.guicheng").unwrap();
        assert_eq!(v.http_listen.to_string(), "0.0.0.0:8081");
        assert_eq!(v.quic_addr, "hall.example:7444");
    }
}
