//! A PostgreSQL primary and its hot standby, made for one test: two
//! clusters of this machine's PostgreSQL in a temporary folder, each on its
//! own loopback port, the standby streaming from the primary and, once
//! [`PgPair::make_synchronous`] has run, confirming every commit before
//! the primary acknowledges it. The test can kill the primary with SIGKILL
//! and promote the standby, as a district's IT officer would after losing
//! the primary's server.
//!
//! The server programs are found under `/usr/lib/postgresql/<version>/bin`
//! (the newest) or in `ONEWINDOW_PG_BIN`. PostgreSQL refuses to run as
//! root, so when the test runs as root every server command runs as the
//! `postgres` user (which the Debian package makes).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// One server of the pair.
#[derive(Debug)]
pub struct PgServer {
    /// Its data folder.
    pub data: PathBuf,
    /// Its loopback port.
    pub port: u16,
    /// Its server log.
    pub log: PathBuf,
}

impl PgServer {
    /// A `postgres://` URL of database `db` on this server.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The process id of its postmaster, while it runs.
    pub fn pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

/// A primary and its standby.
#[derive(Debug)]
pub struct PgPair {
    _root: tempfile::TempDir,
    bin: PathBuf,
    /// The server written to (until it is killed).
    pub primary: PgServer,
    /// The hot standby (the primary after [`PgPair::promote`]).
    pub standby: PgServer,
    run_as_postgres: bool,
}

/// The folder of this machine's PostgreSQL server programs.
pub fn server_programs() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("ONEWINDOW_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL's server programs are not installed (/usr/lib/postgresql); `apt-get install postgresql`, or set ONEWINDOW_PG_BIN")?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .context("no initdb under /usr/lib/postgresql/*/bin")
}

/// A free TCP port on loopback.
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl PgPair {
    /// Makes and starts both servers; the standby streams from the primary
    /// (asynchronously until [`PgPair::make_synchronous`]).
    pub fn start() -> anyhow::Result<PgPair> {
        let bin = server_programs()?;
        let root = tempfile::Builder::new().prefix("ow-pg-").tempdir()?;
        let run_as_postgres = is_root();
        let run = root.path().join("run");
        std::fs::create_dir(&run)?;
        let server = |name: &str| -> anyhow::Result<PgServer> {
            use std::os::unix::fs::PermissionsExt;
            let data = root.path().join(name);
            std::fs::create_dir(&data)?;
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))?;
            if run_as_postgres {
                chown_to_postgres(&data)?;
            }
            Ok(PgServer {
                data,
                port: free_port()?,
                log: run.join(format!("{name}.log")),
            })
        };
        let (primary, standby) = (server("primary")?, server("standby")?);
        if run_as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))?;
            chown_to_postgres(&run)?;
        }
        let pair = PgPair {
            bin,
            primary,
            standby,
            _root: root,
            run_as_postgres,
        };
        let primary = pair.primary.data.to_string_lossy().into_owned();
        pair.server_command(
            "initdb",
            &[
                "-D",
                &primary,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-N",
            ],
        )?;
        let conf = format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nwal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nshared_buffers = 32MB\nmax_connections = 60\n",
            pair.primary.port,
            run.display()
        );
        append(&pair.primary.data.join("postgresql.conf"), &conf)?;
        pair.pg_ctl(&pair.primary, "start")?;
        let standby = pair.standby.data.to_string_lossy().into_owned();
        let port = pair.primary.port.to_string();
        pair.server_command(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &standby,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        )?;
        append(
            &pair.standby.data.join("postgresql.conf"),
            &format!("\nport = {}\n", pair.standby.port),
        )?;
        pair.pg_ctl(&pair.standby, "start")?;
        pair.wait_streaming(Duration::from_secs(60))?;
        Ok(pair)
    }

    /// Runs SQL on a server's database `db` (psql, unaligned, tuples only)
    /// and returns what it printed.
    pub fn sql(&self, server: &PgServer, db: &str, sql: &str) -> anyhow::Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-v", "ON_ERROR_STOP=1", "-Atc", sql, &server.url(db)])
            .output()
            .context("running psql")?;
        if !out.status.success() {
            bail!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// From now on the primary acknowledges a commit only once the standby
    /// has it on disk: a promoted standby then holds every commit that any
    /// client was told of.
    pub fn make_synchronous(&self) -> anyhow::Result<()> {
        self.sql(
            &self.primary,
            "postgres",
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
        )?;
        self.sql(&self.primary, "postgres", "SELECT pg_reload_conf()")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = self.sql(
                &self.primary,
                "postgres",
                "SELECT string_agg(sync_state, ',') FROM pg_stat_replication",
            )?;
            if state == "sync" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the standby did not become synchronous: {state:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the primary's postmaster with SIGKILL (its server dies); its
    /// backends end when they notice.
    pub fn kill_primary(&self) -> anyhow::Result<()> {
        let pid = self.primary.pid().context("the primary is not running")?;
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -KILL {pid} failed");
        }
        Ok(())
    }

    /// Promotes the standby and waits until it takes writes.
    pub fn promote(&self) -> anyhow::Result<()> {
        self.pg_ctl(&self.standby, "promote")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.sql(&self.standby, "postgres", "SELECT pg_is_in_recovery()")? != "f" {
            if Instant::now() > deadline {
                bail!("the standby is still in recovery after promotion");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    fn wait_streaming(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let n = self.sql(
                &self.primary,
                "postgres",
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            )?;
            if n == "1" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the standby does not stream from the primary");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pg_ctl(&self, server: &PgServer, action: &str) -> anyhow::Result<()> {
        let data = server.data.to_string_lossy().into_owned();
        let log = server.log.to_string_lossy().into_owned();
        match action {
            "start" => self.server_command("pg_ctl", &["-D", &data, "-l", &log, "-w", "start"]),
            other => self.server_command("pg_ctl", &["-D", &data, "-w", other]),
        }
        .map(drop)
    }

    /// Runs one of the server programs (as `postgres` when this is root).
    fn server_command(&self, program: &str, args: &[&str]) -> anyhow::Result<String> {
        let path = self.bin.join(program);
        let mut cmd = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        // The folder a server program starts in must be one it may read.
        cmd.args(args).current_dir("/");
        let out = cmd
            .output()
            .with_context(|| format!("running {}", path.display()))?;
        if !out.status.success() {
            bail!(
                "{program} {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        for server in [&self.primary, &self.standby] {
            if server.pid().is_some() {
                let data = server.data.to_string_lossy().into_owned();
                let _ = self.server_command("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
            }
        }
    }
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn chown_to_postgres(path: &Path) -> anyhow::Result<()> {
    let id = |flag: &str| -> anyhow::Result<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .context("the user postgres does not exist (install PostgreSQL's server package)")
    };
    std::os::unix::fs::chown(path, Some(id("-u")?), Some(id("-g")?))?;
    Ok(())
}
