//! A bundle's nodes as separate `onewindow-node` processes on this machine.
//!
//! [`ProcessTree`] starts each node with its folder as the working directory
//! and its output appended to `node.log` there, waits until it answers
//! `GET /api/v1/health`, and can stop it (SIGTERM), kill it (SIGKILL) and
//! start it again on the same ports and store. Every node runs in its own
//! process group, so a Ctrl-C at the terminal reaches only the program that
//! owns the tree, which then stops the nodes itself. Dropping the tree kills
//! whatever still runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::bundle::{Bundle, LOG_FILE};

/// How long a node may take to answer its health check after starting.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopped node may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Nodes of one tier started at the same time.
const START_CONCURRENCY: usize = 16;

/// The nodes of a bundle, each a child process.
#[derive(Debug)]
pub struct ProcessTree {
    bundle: Bundle,
    node_bin: PathBuf,
    /// The binary the villages (nodes with no children) run, when they run
    /// their own build; else they run `node_bin`.
    village_node_bin: Option<PathBuf>,
    children: BTreeMap<String, Child>,
    http: reqwest::Client,
    /// How long [`ProcessTree::start`] waits for a node's health check.
    pub start_timeout: Duration,
    /// The nodes' clock offset (ms), when their clocks are shifted.
    clock_offset_ms: Option<i64>,
    /// One node's clock set apart from the others' (ms), as a hall whose
    /// machine clock is wrong.
    skews: BTreeMap<String, i64>,
    /// Nodes stop when this process ends, however it ends (see
    /// [`node::EXIT_WITH_PARENT_ENV`]); on unless turned off.
    pub exit_with_parent: bool,
}

impl ProcessTree {
    /// A tree of the bundle's nodes, none started, run with `node_bin`.
    pub fn new(bundle: Bundle, node_bin: PathBuf) -> Self {
        Self {
            bundle,
            node_bin,
            village_node_bin: None,
            children: BTreeMap::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            start_timeout: DEFAULT_START_TIMEOUT,
            clock_offset_ms: None,
            skews: BTreeMap::new(),
            exit_with_parent: true,
        }
    }

    /// Every node started from now on (and again after a restart) runs
    /// on a clock that reads `start_ms` now and then runs at the real rate,
    /// whatever the day and hour: for tests on a known calendar day.
    pub fn start_clocks_at(&mut self, start_ms: i64) {
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
        )
        .unwrap_or(i64::MAX);
        self.clock_offset_ms = Some(start_ms.saturating_sub(now));
    }

    /// Node `id`, when started from now on, runs `skew_ms` ahead of the
    /// others' clock (behind when negative); 0 puts it back in step.
    pub fn skew_clock(&mut self, id: &str, skew_ms: i64) {
        if skew_ms == 0 {
            self.skews.remove(id);
        } else {
            self.skews.insert(id.to_owned(), skew_ms);
        }
    }

    /// Villages (the nodes with no children) started from now on run
    /// `bin`, the village build (`cargo build --profile village
    /// --no-default-features`: optimised for size, on glibc's allocator); the other nodes go on running the binary the tree was
    /// made with.
    pub fn set_village_node_bin(&mut self, bin: PathBuf) {
        self.village_node_bin = Some(bin);
    }

    /// The binary node `id` runs.
    pub fn binary_of(&self, id: &str) -> anyhow::Result<&Path> {
        let node = self.bundle.node(id)?;
        Ok(match &self.village_node_bin {
            Some(bin) if node.is_village() => bin,
            _ => &self.node_bin,
        })
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// A node's base URL, e.g. `http://127.0.0.1:18000`.
    pub fn url(&self, id: &str) -> anyhow::Result<String> {
        Ok(self.bundle.node(id)?.url.clone())
    }

    /// A node's log file.
    pub fn log_path(&self, id: &str) -> anyhow::Result<PathBuf> {
        Ok(self.bundle.folder(id)?.join(LOG_FILE))
    }

    /// The process id of a running node.
    pub fn pid(&self, id: &str) -> Option<u32> {
        self.children.get(id).and_then(Child::id)
    }

    /// Whether the node's process is running (it may not answer yet).
    pub fn is_running(&mut self, id: &str) -> bool {
        match self.children.get_mut(id) {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Nodes whose process has ended on its own since it was started, with
    /// how it ended; they are forgotten (start them again to bring them back).
    pub fn reap_exited(&mut self) -> Vec<(String, ExitStatus)> {
        let mut gone = Vec::new();
        for (id, c) in &mut self.children {
            if let Ok(Some(status)) = c.try_wait() {
                gone.push((id.clone(), status));
            }
        }
        for (id, _) in &gone {
            self.children.remove(id);
        }
        gone
    }

    /// Starts every node, tier by tier from the root down (the nodes of one
    /// tier a few at a time), each answering its health check before the
    /// next tier starts.
    pub async fn start_all(&mut self) -> anyhow::Result<()> {
        for tier in self.bundle.tiers_of_nodes() {
            for group in tier.chunks(START_CONCURRENCY) {
                for id in group {
                    self.spawn(id)?;
                }
                // They start side by side; waiting on them in turn costs no
                // more than the slowest.
                for id in group {
                    self.wait_healthy(id).await?;
                }
            }
        }
        Ok(())
    }

    /// Starts one node and waits until it answers its health check.
    pub async fn start(&mut self, id: &str) -> anyhow::Result<()> {
        self.spawn(id)?;
        self.wait_healthy(id).await
    }

    /// Starts one node's process without waiting for it.
    pub fn spawn(&mut self, id: &str) -> anyhow::Result<()> {
        if self.is_running(id) {
            bail!("node {id} is already running");
        }
        let folder = self.bundle.folder(id)?;
        let bin = self.binary_of(id)?.to_path_buf();
        let mut command = self.command_with(&bin, &folder)?;
        if let Some(skew) = self.skews.get(id) {
            let offset = self.clock_offset_ms.unwrap_or(0).saturating_add(*skew);
            command.env(node::service::CLOCK_OFFSET_ENV, offset.to_string());
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {} for {id}", bin.display()))?;
        self.children.insert(id.to_owned(), child);
        Ok(())
    }

    /// The command that runs the node whose folder is `folder` (its
    /// configuration `node.toml` there, its output appended to the folder's
    /// log), as [`ProcessTree::spawn`] runs a node of the bundle: for a
    /// second process of a hall (a standby) in a folder of its own.
    pub fn command_in(&self, folder: &Path) -> anyhow::Result<Command> {
        self.command_with(&self.node_bin, folder)
    }

    fn command_with(&self, bin: &Path, folder: &Path) -> anyhow::Result<Command> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(folder.join(LOG_FILE))
            .with_context(|| format!("opening the log in {}", folder.display()))?;
        let mut command = Command::new(bin);
        if let Some(offset) = self.clock_offset_ms {
            command.env(node::service::CLOCK_OFFSET_ENV, offset.to_string());
        } else {
            command.env_remove(node::service::CLOCK_OFFSET_ENV);
        }
        if self.exit_with_parent {
            command.env(node::EXIT_WITH_PARENT_ENV, std::process::id().to_string());
        } else {
            command.env_remove(node::EXIT_WITH_PARENT_ENV);
        }
        command
            .arg("--config")
            .arg(folder.join(crate::bundle::CONFIG_FILE))
            .arg("start")
            .current_dir(folder)
            .env_remove("ONEWINDOW_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true);
        Ok(command)
    }

    /// Waits until a started node answers `GET /api/v1/health` as itself;
    /// fails if its process ends first or [`ProcessTree::start_timeout`]
    /// passes, quoting the end of its log.
    pub async fn wait_healthy(&mut self, id: &str) -> anyhow::Result<()> {
        let url = self.url(id)?;
        let client = onewindow_client::Client::with_http(self.http.clone(), &url)?;
        let deadline = tokio::time::Instant::now() + self.start_timeout;
        loop {
            if let Ok(health) = client.health().await
                && health.node_id == id
            {
                return Ok(());
            }
            let alive = self.is_running(id);
            if !alive || tokio::time::Instant::now() >= deadline {
                let why = if alive {
                    format!("did not answer at {url} within {:?}", self.start_timeout)
                } else {
                    "exited".to_owned()
                };
                bail!(
                    "node {id} {why}; the end of {}:\n{}",
                    self.log_path(id)?.display(),
                    log_tail(&self.log_path(id)?, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops a node with SIGTERM and waits for it to exit (SIGKILL after
    /// ten seconds). Its store and ports stay for a restart.
    pub async fn stop(&mut self, id: &str) -> anyhow::Result<()> {
        let Some(mut child) = self.children.remove(id) else {
            return Ok(());
        };
        signal(&child, Signal::SIGTERM);
        // A node frozen with SIGSTOP handles the SIGTERM once it goes on.
        signal(&child, Signal::SIGCONT);
        match tokio::time::timeout(STOP_GRACE, child.wait()).await {
            Ok(r) => {
                r.with_context(|| format!("waiting for {id} to exit"))?;
            }
            Err(_) => {
                tracing::warn!(node = id, "did not stop on SIGTERM; killing it");
                child.kill().await?;
            }
        }
        Ok(())
    }

    /// Kills a node with SIGKILL (as a power cut or `kill -9` would) and
    /// reaps it.
    pub async fn kill(&mut self, id: &str) -> anyhow::Result<()> {
        let Some(mut child) = self.children.remove(id) else {
            bail!("node {id} is not running");
        };
        child
            .kill()
            .await
            .with_context(|| format!("killing {id}"))?;
        Ok(())
    }

    /// Freezes a running node with SIGSTOP, as a hung machine or a process
    /// stuck in the kernel would be: its sockets stay open and its peers
    /// hear nothing. [`ProcessTree::resume`] lets it go on.
    pub fn pause(&mut self, id: &str) -> anyhow::Result<()> {
        let Some(child) = self.children.get(id) else {
            bail!("node {id} is not running");
        };
        signal(child, Signal::SIGSTOP);
        Ok(())
    }

    /// Lets a node frozen by [`ProcessTree::pause`] go on (SIGCONT); a node
    /// that is not frozen is not affected.
    pub fn resume(&mut self, id: &str) -> anyhow::Result<()> {
        if let Some(child) = self.children.get(id) {
            signal(child, Signal::SIGCONT);
        }
        Ok(())
    }

    /// Stops a node (SIGTERM) and starts it again.
    pub async fn restart(&mut self, id: &str) -> anyhow::Result<()> {
        self.stop(id).await?;
        self.start(id).await
    }

    /// Stops every running node, the leaves first: SIGTERM to each tier,
    /// then waits for all of it.
    pub async fn stop_all(&mut self) -> anyhow::Result<()> {
        let tiers = self.bundle.tiers_of_nodes();
        for tier in tiers.iter().rev() {
            let mut stopping = Vec::new();
            for id in tier {
                if let Some(child) = self.children.remove(id) {
                    signal(&child, Signal::SIGTERM);
                    stopping.push((id.clone(), child));
                }
            }
            for (id, mut child) in stopping {
                if tokio::time::timeout(STOP_GRACE, child.wait())
                    .await
                    .is_err()
                {
                    tracing::warn!(node = %id, "did not stop on SIGTERM; killing it");
                    child.kill().await?;
                }
            }
        }
        Ok(())
    }
}

/// Sends a signal to a child that may have exited already.
fn signal(child: &Child, sig: Signal) {
    if let Some(pid) = child.id()
        && let Ok(pid) = i32::try_from(pid)
    {
        // ESRCH: it is gone already, which is what was wanted.
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// The last `n` lines of a log file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
