//! `onewindow-node`: runs one hall node.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

use std::sync::Arc;

use onewindow_node::EXIT_WITH_PARENT_ENV;
use onewindow_node::config::{Config, DEFAULT_TOML};
use onewindow_node::service::{CLOCK_OFFSET_ENV, OffsetClock};

/// A OneWindow hall node (一窗通办).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML). Without one: a standalone district node
    /// with an SQLite file under ./data and the starter catalogue.
    #[arg(long, env = "ONEWINDOW_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print every configuration key with its documentation and default.
    DefaultConfig,
    /// Start the node (the default).
    Start,
    /// Enrol this hall: make its key pair here, have its first certificate
    /// signed by the node that issued the token (`onewindow-admin node
    /// register` there), and write node.key, node.crt and ca.crt into the
    /// configured `federation.credentials_dir`. The private key never leaves
    /// this machine.
    Enrol {
        /// The one-time token (owe1-...).
        #[arg(long)]
        token: String,
        /// The HTTP address of the node that issued it, e.g.
        /// http://10.1.0.1:8080.
        #[arg(long)]
        url: String,
        /// Replace a certificate that is there already.
        #[arg(long)]
        force: bool,
    },
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt().with_env_filter(filter);
    if cfg.log.format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

fn main() -> anyhow::Result<()> {
    onewindow_node::malloc::tune();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::DefaultConfig) = cli.command {
        print!("{DEFAULT_TOML}");
        return Ok(());
    }
    let cfg = Config::load(cli.config.as_deref())?;
    if let Some(Command::Enrol { token, url, force }) = cli.command {
        return enrol(&cfg, &token, &url, force).await;
    }
    init_logging(&cfg);
    // Ctrl-C and SIGTERM (systemd, kill) both stop the node cleanly; so
    // does the end of the supervising process that asked to be outlived by
    // none of its nodes (`topology run`, even when it is killed with -9).
    // The handlers are in place before the node starts: a SIGTERM that
    // comes right after "is serving" (a supervisor's quick stop) stops it
    // cleanly instead of killing it by the signal's default action.
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let parent = exit_with_parent()?;
    let running = match std::env::var(CLOCK_OFFSET_ENV) {
        Ok(v) => {
            let offset_ms: i64 = v.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "{CLOCK_OFFSET_ENV} must be a whole number of milliseconds, not {v:?}"
                )
            })?;
            tracing::warn!(offset_ms, "the clock is shifted by {CLOCK_OFFSET_ENV}");
            onewindow_node::server::start_with_clock(cfg, Arc::new(OffsetClock { offset_ms }))
                .await?
        }
        Err(_) => onewindow_node::server::start(cfg).await?,
    };
    println!(
        "OneWindow node {} ({}) is serving at {}",
        running.node.id,
        running.node.tier,
        running.url()
    );
    println!(
        "  API: {}/api/v1/health   OpenAPI: {}/api/v1/openapi.json",
        running.url(),
        running.url()
    );
    if let Some(addr) = running.links.as_ref().and_then(|l| l.listen_addr) {
        println!("  federation: listening for children at {addr}");
    }
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = term.recv() => {}
        () = parent_gone(parent) => {
            println!("the supervising process {} ended", parent.unwrap_or_default());
        }
    }
    println!("stopping");
    running.stop().await;
    Ok(())
}

/// The process id named by [`EXIT_WITH_PARENT_ENV`], which must be this
/// process's parent now.
fn exit_with_parent() -> anyhow::Result<Option<u32>> {
    let Ok(v) = std::env::var(EXIT_WITH_PARENT_ENV) else {
        return Ok(None);
    };
    let pid: u32 = v
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{EXIT_WITH_PARENT_ENV} must be a process id, not {v:?}"))?;
    if std::os::unix::process::parent_id() != pid {
        anyhow::bail!("{EXIT_WITH_PARENT_ENV} names {pid}, which is no longer this node's parent");
    }
    Ok(Some(pid))
}

/// Ends when this process's parent is no longer `parent` (it exited and
/// the process was handed to another); never without one.
async fn parent_gone(parent: Option<u32>) {
    let Some(pid) = parent else {
        return std::future::pending().await;
    };
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
    loop {
        tick.tick().await;
        if std::os::unix::process::parent_id() != pid {
            return;
        }
    }
}

/// `onewindow-node enrol`: see [`Command::Enrol`].
async fn enrol(cfg: &Config, token: &str, url: &str, force: bool) -> anyhow::Result<()> {
    use anyhow::{Context, bail};
    use federation::enrolment::EnrolmentToken;
    use federation::identity::{CERT_FILE, der_of_pem};
    use federation::{CertInfo, KeyRequest, NodeCredentials};

    let dir = std::path::Path::new(&cfg.federation.credentials_dir);
    if cfg.federation.credentials_dir.is_empty() {
        bail!("federation.credentials_dir is not set: the certificate has nowhere to go");
    }
    if dir.join(CERT_FILE).exists() && !force {
        bail!(
            "{} exists already: this hall is enrolled (pass --force to replace it)",
            dir.join(CERT_FILE).display()
        );
    }
    let token = EnrolmentToken::parse(token)?;
    let node = cfg.node_id();
    let request = KeyRequest::generate(&node)?;
    // The hall's document key, made here too; the root endorses it.
    let (document_key, _) = onewindow_service::documents::DocumentKey::signer(cfg)?;
    let document_key = hex::encode(document_key.public_bytes());
    let body = serde_json::json!({
        "token_id": token.id,
        "node": node.as_str(),
        "request_pem": request.request_pem,
        "document_key": document_key,
        "mac": token.mac(&format!("{}\n{document_key}", request.request_pem)),
    });
    let endpoint = format!("{}/api/v1/enrolment", url.trim_end_matches('/'));
    let res = reqwest::Client::new()
        .post(&endpoint)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("reaching {endpoint}"))?;
    let status = res.status();
    let answer: serde_json::Value = res
        .json()
        .await
        .with_context(|| format!("reading the answer of {endpoint}"))?;
    if !status.is_success() {
        let text = |k: &str| answer[k].as_str().unwrap_or_default().to_owned();
        bail!(
            "enrolment refused ({status}, {}): {} / {}",
            text("code"),
            text("message_zh"),
            text("message_en")
        );
    }
    let field = |k: &str| {
        answer[k]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("the answer has no {k}"))
    };
    let (cert_pem, ca_pem) = (field("cert_pem")?, field("ca_pem")?);
    // The answer must come from the CA the token names, for this node and
    // the key made here.
    if !token.names_ca(&der_of_pem(&ca_pem)?) {
        bail!("the CA certificate that came back is not the one the token names");
    }
    let info = CertInfo::of_pem(&cert_pem)?;
    if info.node.as_deref() != Some(node.as_str())
        || !federation::signed_by(&cert_pem, &ca_pem)?
        || !federation::key_matches(&cert_pem, &request.key_pem)?
    {
        bail!("the certificate that came back is not the CA's for this node and its new key");
    }
    NodeCredentials {
        node: node.clone(),
        cert_pem,
        key_pem: request.key_pem,
        ca_pem,
    }
    .to_files(dir)?;
    if let Some(e) = answer["document_key_endorsement"].as_str() {
        let file = cfg
            .node
            .data_dir
            .join(onewindow_service::documents::ENDORSEMENT_FILE);
        std::fs::write(&file, e).with_context(|| format!("writing {}", file.display()))?;
        println!(
            "the root endorsed this hall's document key ({})",
            file.display()
        );
    } else {
        println!(
            "this hall's document key is not endorsed (enrolled below the root): its documents are signed, but verifiers report the key as not endorsed"
        );
    }
    let until = chrono::DateTime::from_timestamp(info.not_after, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    println!(
        "enrolled {node}: certificate {} valid until {until}, in {} (node.key made here, mode 0600)",
        info.serial,
        dir.display()
    );
    println!("start the node: onewindow-node --config <its config> start");
    Ok(())
}
