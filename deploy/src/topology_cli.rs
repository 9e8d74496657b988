//! `topology bundle` and `topology run`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::signal::unix::{Signal, SignalKind, signal};

use anyhow::Context;
use clap::{Args, Subcommand};

use onewindow_deploy::binary::find_node_binary;
use onewindow_deploy::bundle::{self, Bundle, BundleOptions, Ports};
use onewindow_deploy::process::{ProcessTree, log_tail};
use onewindow_deploy::topology::Topology;

use onewindow_table as report;

/// `topology ...`
#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Turns a topology file into deployment bundles.
    ///
    /// Creates, in DIR: a federation CA (ca/ca.crt and ca/ca.key, which
    /// stays off the nodes), the root's signing key, and per node a folder
    /// nodes/<id>/ with its certificate and key (pki/), config.toml (every
    /// key: id, tiers, hall code and names, data folder, HTTP and QUIC listen
    /// addresses, parent address, children, credentials folder, the root's
    /// public key, the signing key file at the root only, the SQLite store
    /// and the first administrator's password) and a systemd unit
    /// onewindow-node.service. Paths in config.toml are relative to the
    /// node's folder. bundle.json lists every node with its URL and password.
    Bundle(BundleArgs),
    /// Runs a whole topology on this machine, one process per node.
    ///
    /// Bundles the topology into DIR unless DIR holds its bundle already
    /// (then the nodes keep their stores), starts every node as a separate
    /// onewindow-node process (parents first, each answering
    /// GET /api/v1/health before the next tier starts), prints each node's
    /// id, tier, URL and administrator password, and runs until Ctrl-C, when
    /// it stops the nodes. Each node's output goes to nodes/<id>/node.log.
    Run(RunArgs),
}

/// Options for making a bundle (`topology run` uses them only when it
/// makes one).
#[derive(Debug, Args)]
pub struct PortArgs {
    /// First HTTP port: the k-th node on a host gets this plus k (unless the
    /// topology fixes its port).
    #[arg(long, default_value_t = 18000, value_name = "PORT")]
    pub http_base: u16,
    /// First QUIC (federation) port, counted the same way.
    #[arg(long, default_value_t = 19000, value_name = "PORT")]
    pub quic_base: u16,
    /// SQLite `synchronous` for every node: full or normal.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    pub sqlite_synchronous: String,
    /// Node certificates' validity in days.
    #[arg(long, default_value_t = 825, value_name = "DAYS")]
    pub cert_days: u32,
}

/// Options of `topology bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// The topology file (see configs/topologies/).
    pub file: PathBuf,
    /// The folder to write; it must not hold a bundle already.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub ports: PortArgs,
    /// Where each node's folder is installed on its server (the systemd
    /// unit's working directory).
    #[arg(long, default_value = "/var/lib/onewindow", value_name = "PATH")]
    pub install_dir: PathBuf,
    /// Where onewindow-node is installed on the servers (for the unit).
    #[arg(
        long,
        default_value = "/usr/local/bin/onewindow-node",
        value_name = "PATH"
    )]
    pub unit_node_bin: PathBuf,
}

/// Options of `topology run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The topology file (see configs/topologies/).
    pub file: PathBuf,
    /// The bundle folder; default: data/<file name without .toml>.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The onewindow-node binary; default: the one beside this program.
    #[arg(long, env = "ONEWINDOW_NODE_BIN", value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// The binary the villages run (the village build, optimised for size
    /// and on glibc's allocator: `cargo build --profile village
    /// --no-default-features -p onewindow-node`); default: the same as the
    /// others.
    #[arg(long, env = "ONEWINDOW_VILLAGE_NODE_BIN", value_name = "PATH")]
    pub village_node_bin: Option<PathBuf>,
    #[command(flatten)]
    pub ports: PortArgs,
    /// Seconds each node may take to answer its health check.
    #[arg(long, default_value_t = 120, value_name = "S")]
    pub start_timeout: u64,
}

impl TopologyCommand {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<bool> {
        match self {
            Self::Bundle(a) => bundle_cmd(a).map(|()| true),
            Self::Run(a) => run_cmd(a).await,
        }
    }
}

fn options(p: &PortArgs) -> BundleOptions {
    BundleOptions {
        ports: Ports::Base {
            http: p.http_base,
            quic: p.quic_base,
        },
        cert_days: p.cert_days,
        sqlite_synchronous: p.sqlite_synchronous.clone(),
        ..BundleOptions::default()
    }
}

fn bundle_cmd(a: BundleArgs) -> anyhow::Result<()> {
    let topology = Topology::load(&a.file)?;
    let opts = BundleOptions {
        install_dir: a.install_dir.clone(),
        unit_node_bin: a.unit_node_bin.clone(),
        ..options(&a.ports)
    };
    let b = bundle::make(&topology, &a.out, &opts)?;
    print_nodes(&b, false);
    let counts: Vec<String> = topology
        .tier_counts()
        .iter()
        .map(|(t, n)| format!("{n} {t}"))
        .collect();
    println!(
        "bundled {} nodes ({}) into {}; keep {} off the nodes",
        b.nodes.len(),
        counts.join(", "),
        b.dir.display(),
        b.dir.join("ca/ca.key").display()
    );
    Ok(())
}

async fn run_cmd(a: RunArgs) -> anyhow::Result<bool> {
    let topology = Topology::load(&a.file)?;
    let dir = a.dir.clone().unwrap_or_else(|| default_dir(&a.file));
    let bundle = if Bundle::exists(&dir) {
        let b = Bundle::load(&dir)?;
        anyhow::ensure!(
            b.matches(&topology),
            "{} holds a bundle of other nodes than {}; choose another --dir",
            dir.display(),
            a.file.display()
        );
        eprintln!("using the bundle in {}", b.dir.display());
        b
    } else {
        let b = bundle::make(&topology, &dir, &options(&a.ports))?;
        eprintln!("bundled {} nodes into {}", b.nodes.len(), b.dir.display());
        b
    };
    let node_bin = find_node_binary(a.node_bin.as_deref())?;
    let mut tree = ProcessTree::new(bundle, node_bin.clone());
    tree.start_timeout = Duration::from_secs(a.start_timeout);
    let villages = match &a.village_node_bin {
        Some(p) => {
            let bin = find_node_binary(Some(p))?;
            let also = format!(" (villages with {})", bin.display());
            tree.set_village_node_bin(bin);
            also
        }
        None => String::new(),
    };
    eprintln!(
        "starting {} nodes with {}{villages}",
        tree.bundle().nodes.len(),
        node_bin.display()
    );
    let started = Instant::now();
    let mut stop = StopSignals::new()?;
    let up = tokio::select! {
        r = tree.start_all() => r,
        s = stop.recv() => Err(anyhow::anyhow!("interrupted by {s}")),
    };
    if let Err(e) = up {
        eprintln!("stopping the nodes that started");
        tree.stop_all().await?;
        return Err(e);
    }
    print_nodes(tree.bundle(), true);
    println!(
        "{} nodes up in {:.1} s; logs in {}/nodes/<id>/node.log; Ctrl-C (or SIGTERM) stops them",
        tree.bundle().nodes.len(),
        started.elapsed().as_secs_f64(),
        tree.bundle().dir.display()
    );
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            s = stop.recv() => {
                eprintln!("{s} received");
                break;
            }
            _ = check.tick() => {
                for (id, status) in tree.reap_exited() {
                    let log = tree.log_path(&id)?;
                    eprintln!("node {id} exited ({status}); the end of {}:\n{}", log.display(), log_tail(&log, 10));
                }
            }
        }
    }
    eprintln!("stopping {} nodes", tree.bundle().nodes.len());
    tree.stop_all().await?;
    Ok(true)
}

/// The signals that stop `topology run` cleanly: Ctrl-C (SIGINT), SIGTERM
/// (systemd, a container runtime, CI) and SIGHUP (the terminal closed).
/// SIGKILL cannot be caught; the nodes notice that their parent is gone
/// ([`node::EXIT_WITH_PARENT_ENV`]).
struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl StopSignals {
    fn new() -> anyhow::Result<Self> {
        let listen = |kind: SignalKind| signal(kind).context("listening for signals");
        Ok(Self {
            int: listen(SignalKind::interrupt())?,
            term: listen(SignalKind::terminate())?,
            hup: listen(SignalKind::hangup())?,
        })
    }

    /// The name of the next stop signal.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

/// `data/<file stem>`.
fn default_dir(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "topology".to_owned());
    Path::new("data").join(stem)
}

fn print_nodes(b: &Bundle, with_passwords: bool) {
    let mut headers = vec!["node", "tier", "url", "hall"];
    if with_passwords {
        headers.push("admin password");
    }
    let rows: Vec<Vec<String>> = b
        .nodes
        .iter()
        .map(|n| {
            let mut row = vec![
                n.id.clone(),
                n.tier.clone(),
                n.url.clone(),
                n.hall_name_zh.clone(),
            ];
            if with_passwords {
                row.push(n.admin_password.clone());
            }
            row
        })
        .collect();
    println!("{}", report::table(&headers, &rows, &[]));
}
