//! `catalogue list | versions | publish`: the matters this node receives, and
//! the catalogue's versions (draft -> published -> retired).

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use onewindow_client::Client;
use onewindow_client::types::Limit;
use serde_json::Value;
use std::path::PathBuf;

use crate::output::{Output, china_time_opt, table, yes_no};

/// `catalogue ...`
#[derive(Debug, Subcommand)]
pub enum CatalogueCommand {
    /// Matters this node receives: code, name, department, immediate,
    /// committed time limit, decided here (GET /api/v1/catalogue; no login
    /// needed). --json prints the whole catalogue with every guide.
    List,
    /// Every catalogue version with its state, times and SHA-256 prefix
    /// (administrator or supervisor).
    Versions,
    /// Publishes a catalogue: a new one from a JSON file (stored as a draft,
    /// then published), or an existing draft by its version. The published
    /// version becomes the one in use; the previous one is retired.
    #[command(disable_version_flag = true)]
    Publish(PublishArgs),
}

/// What to publish.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["file", "version"])))]
pub struct PublishArgs {
    /// A whole catalogue as JSON (the shape GET
    /// /api/v1/admin/catalogue/versions/{version} returns); its version
    /// number is assigned by the node.
    #[arg(long, value_name = "FILE.json")]
    file: Option<PathBuf>,
    /// An existing draft version.
    #[arg(long, value_name = "N")]
    version: Option<i64>,
}

fn limit(l: &Limit, immediate: bool) -> String {
    if immediate && l.n == 0 {
        return "-".to_owned();
    }
    let unit = match l.unit.as_str() {
        "working_days" => "working days",
        "calendar_days" => "calendar days",
        other => other,
    };
    format!("{} {unit}", l.n)
}

fn sha_prefix(s: &str) -> String {
    s.chars().take(12).collect()
}

impl CatalogueCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        !matches!(self, Self::List)
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::List => list(api, out).await,
            Self::Versions => versions(api, out).await,
            Self::Publish(p) => publish(api, out, p).await,
        }
    }
}

async fn list(api: &Client, out: Output) -> anyhow::Result<()> {
    let answer = api.catalogue().await?;
    if out.json {
        out.print_json(&answer.json);
        return Ok(());
    }
    let cat = answer.value;
    let rows: Vec<Vec<String>> = cat
        .matters
        .iter()
        .map(|m| {
            vec![
                m.code.clone(),
                m.name_zh.clone(),
                if m.department_zh.is_empty() {
                    m.department.clone()
                } else {
                    m.department_zh.clone()
                },
                yes_no(m.immediate),
                limit(&m.committed_limit, m.immediate),
                yes_no(m.decided_here),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "code",
                "name",
                "department",
                "immediate",
                "committed limit",
                "decided here"
            ],
            &rows,
            &[],
        )
    );
    println!(
        "catalogue version {}: {} matters received here",
        cat.version,
        rows.len()
    );
    Ok(())
}

async fn versions(api: &Client, out: Output) -> anyhow::Result<()> {
    let answer = api.catalogue_versions().await?;
    if out.json {
        out.print_json(&answer.json);
        return Ok(());
    }
    let all = answer.value;
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|i| {
            vec![
                i.version.to_string(),
                i.state.clone(),
                china_time_opt(Some(i.created_at_ms)),
                china_time_opt(i.published_at_ms),
                china_time_opt(i.retired_at_ms),
                sha_prefix(&i.sha256),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "version",
                "state",
                "created",
                "published",
                "retired",
                "sha256"
            ],
            &rows,
            &[0],
        )
    );
    Ok(())
}

async fn publish(api: &Client, out: Output, p: PublishArgs) -> anyhow::Result<()> {
    let (version, drafted) = match (p.file, p.version) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let body: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let draft = api.create_draft(&body).await?.value;
            if !out.json {
                println!(
                    "stored {} as draft version {}",
                    file.display(),
                    draft.version
                );
            }
            (draft.version, true)
        }
        (None, Some(v)) => (v, false),
        (None, None) => anyhow::bail!("give --file or --version"),
    };
    let answer = api.publish_version(version).await.with_context(|| {
        if drafted {
            format!("draft version {version} was stored, but publishing it failed")
        } else {
            format!("publishing version {version}")
        }
    })?;
    if out.json {
        out.print_json(&answer.json);
        return Ok(());
    }
    let info = answer.value;
    println!(
        "published catalogue version {} (sha256 {}) at {}; it is now in use",
        info.version,
        sha_prefix(&info.sha256),
        china_time_opt(info.published_at_ms),
    );
    Ok(())
}
