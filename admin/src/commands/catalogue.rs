//! `catalogue list | versions | validate | diff | show | export | publish`:
//! the matters this node receives, the catalogue's versions (draft ->
//! published -> retired), and catalogues as files in the shape of
//! `configs/catalogue/`.

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use onewindow_client::Client;
use onewindow_client::types::Limit;
use onewindow_domain::catalogue::Catalogue;
use serde_json::Value;
use std::path::PathBuf;

use crate::catalogue_files::{self, Change};
use crate::output::{Output, china_time_opt, fields, table, yes_no};

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
    /// Checks catalogue files as the node would (no node needed): TOML
    /// files in the shape of configs/catalogue/ (a folder stands for its
    /// *.toml files) or one JSON file. Exits 1 with catalogue_invalid and
    /// the first problem.
    Validate {
        /// Files or folders.
        #[arg(required = true, value_name = "FILES")]
        paths: Vec<PathBuf>,
    },
    /// Every department and matter added, removed or changed from A to B;
    /// each is a version number at the node or a file or folder.
    Diff {
        /// The older catalogue: a version number, a file or a folder.
        a: String,
        /// The newer catalogue: a version number, a file or a folder.
        b: String,
    },
    /// The catalogue in use (or --version N): its departments and matters,
    /// or one matter in full with CODE.
    #[command(disable_version_flag = true)]
    Show {
        /// A matter's code.
        code: Option<String>,
        /// A version other than the one in use.
        #[arg(long, value_name = "N")]
        version: Option<i64>,
    },
    /// Writes the catalogue in use (or --version N) as files in the shape
    /// of configs/catalogue/ into an empty folder, to edit and publish
    /// again; with --json, prints it as JSON instead.
    #[command(disable_version_flag = true)]
    Export {
        /// The folder to write into (created if missing); required
        /// without --json.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// A version other than the one in use.
        #[arg(long, value_name = "N")]
        version: Option<i64>,
    },
}

/// What to publish.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["paths", "file", "version"])))]
pub struct PublishArgs {
    /// Catalogue files in the shape of configs/catalogue/ (a folder stands
    /// for its *.toml files), checked, stored as a draft and published.
    #[arg(value_name = "FILES")]
    paths: Vec<PathBuf>,
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
        match self {
            Self::List | Self::Validate { .. } => false,
            Self::Diff { a, b } => side(a).is_version() || side(b).is_version(),
            _ => true,
        }
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::List => list(api, out).await,
            Self::Versions => versions(api, out).await,
            Self::Publish(p) => publish(api, out, p).await,
            Self::Validate { paths } => validate(out, &paths),
            Self::Diff { a, b } => {
                let (a, b) = (side(&a).load(api).await?, side(&b).load(api).await?);
                print_changes(out, &catalogue_files::diff(&a, &b));
                Ok(())
            }
            Self::Show { code, version } => show(api, out, code, version).await,
            Self::Export { out: dir, version } => export(api, out, dir, version).await,
        }
    }
}

/// One side of a diff.
enum Side {
    Version(i64),
    Path(PathBuf),
}

impl Side {
    fn is_version(&self) -> bool {
        matches!(self, Self::Version(_))
    }

    async fn load(self, api: &Client) -> anyhow::Result<Catalogue> {
        match self {
            Self::Version(v) => catalogue_files::fetch(api, v).await,
            Self::Path(p) => catalogue_files::load(&[p]),
        }
    }
}

/// A number that is not the name of a file is a version.
fn side(s: &str) -> Side {
    let path = PathBuf::from(s);
    match s.parse::<i64>() {
        Ok(v) if !path.exists() => Side::Version(v),
        _ => Side::Path(path),
    }
}

/// The version given, or the one in use.
async fn version_or_in_use(api: &Client, version: Option<i64>) -> anyhow::Result<Catalogue> {
    match version {
        Some(v) => catalogue_files::fetch(api, v).await,
        None => catalogue_files::in_use(api).await,
    }
}

fn validate(out: Output, paths: &[PathBuf]) -> anyhow::Result<()> {
    let cat = catalogue_files::load(paths)?;
    if out.json {
        out.print_json(&serde_json::json!({
            "valid": true,
            "departments": cat.departments.len(),
            "matters": cat.matters.len(),
        }));
    } else {
        println!(
            "valid: {} departments, {} matters",
            cat.departments.len(),
            cat.matters.len()
        );
    }
    Ok(())
}

/// Prints changes as a table (or JSON), with a count.
pub fn print_changes(out: Output, changes: &[Change]) {
    if out.json {
        out.print_json(&serde_json::to_value(changes).unwrap_or_default());
        return;
    }
    if changes.is_empty() {
        println!("no changes");
        return;
    }
    let rows: Vec<Vec<String>> = changes
        .iter()
        .map(|c| {
            vec![
                c.change.to_owned(),
                c.what.to_owned(),
                c.code.clone(),
                c.name_zh.clone(),
                if c.fields.is_empty() {
                    "-".to_owned()
                } else {
                    c.fields.join("\n")
                },
            ]
        })
        .collect();
    println!(
        "{}",
        table(&["change", "what", "code", "name", "fields"], &rows, &[])
    );
    println!(
        "{} {}",
        changes.len(),
        if changes.len() == 1 {
            "change"
        } else {
            "changes"
        }
    );
}

async fn show(
    api: &Client,
    out: Output,
    code: Option<String>,
    version: Option<i64>,
) -> anyhow::Result<()> {
    let cat = version_or_in_use(api, version).await?;
    let Some(code) = code else {
        if out.json {
            out.print_json(&serde_json::to_value(&cat)?);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = cat
            .matters
            .values()
            .map(|m| {
                vec![
                    m.code.clone(),
                    m.name_zh.clone(),
                    m.department.clone(),
                    m.version.to_string(),
                    catalogue_files::delegation_text(&m.delegation),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &["code", "name", "department", "version", "delegation"],
                &rows,
                &[3]
            )
        );
        println!(
            "catalogue version {}: {} departments, {} matters",
            cat.version,
            cat.departments.len(),
            cat.matters.len()
        );
        return Ok(());
    };
    let code = code.trim();
    let Some(m) = cat.matter(code) else {
        return Err(crate::output::Coded::new(
            "unknown_matter",
            format!("catalogue version {} has no matter {code}", cat.version),
        )
        .into());
    };
    if out.json {
        out.print_json(&serde_json::to_value(m)?);
        return Ok(());
    }
    let dept = cat
        .departments
        .get(&m.department)
        .map_or(m.department.clone(), |d| {
            format!("{} ({})", d.name_zh, d.code)
        });
    println!(
        "{}",
        fields(&[
            ("code", m.code.clone()),
            ("name", format!("{} / {}", m.name_zh, m.name_en)),
            ("version", m.version.to_string()),
            ("catalogue", cat.version.to_string()),
            ("department", dept),
            ("immediate", yes_no(m.immediate)),
            (
                "statutory limit",
                limit(&to_limit(&m.statutory_limit), false)
            ),
            (
                "committed limit",
                limit(&to_limit(&m.committed_limit), m.immediate)
            ),
            (
                "delegation",
                catalogue_files::delegation_text(&m.delegation)
            ),
            ("cross-district", yes_no(m.cross_district)),
            ("stages", m.stages.len().to_string()),
        ])
    );
    let rows: Vec<Vec<String>> = m
        .materials
        .iter()
        .map(|x| {
            vec![
                x.code.clone(),
                x.name_zh.clone(),
                serde_json::to_value(x.necessity)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                if x.situations.is_empty() {
                    "-".to_owned()
                } else {
                    x.situations.join(",")
                },
            ]
        })
        .collect();
    println!();
    println!(
        "{}",
        table(&["material", "name", "necessity", "situations"], &rows, &[])
    );
    Ok(())
}

fn to_limit(l: &onewindow_domain::catalogue::Limit) -> Limit {
    Limit {
        n: l.n,
        unit: serde_json::to_value(l.unit)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

async fn export(
    api: &Client,
    out: Output,
    dir: Option<PathBuf>,
    version: Option<i64>,
) -> anyhow::Result<()> {
    if dir.is_none() && !out.json {
        return Err(crate::output::Coded::new(
            "export_needs_folder",
            "give --out DIR to write files, or --json to print the catalogue",
        )
        .into());
    }
    let cat = version_or_in_use(api, version).await?;
    match dir {
        Some(dir) => {
            let files = catalogue_files::export(&cat, &dir)?;
            if out.json {
                out.print_json(&serde_json::json!({
                    "version": cat.version,
                    "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
                }));
            } else {
                for f in &files {
                    println!("{}", f.display());
                }
                println!(
                    "catalogue version {}: {} matters written to {} files",
                    cat.version,
                    cat.matters.len(),
                    files.len()
                );
            }
        }
        None => out.print_json(&serde_json::to_value(&cat)?),
    }
    Ok(())
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
    if !p.paths.is_empty() {
        let cat = catalogue_files::load(&p.paths)?;
        return publish_catalogue(api, out, cat).await;
    }
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

/// Stores a catalogue as a draft and publishes it, listing first what
/// changes from the version in use; refused when nothing changes.
pub async fn publish_catalogue(
    api: &Client,
    out: Output,
    mut cat: Catalogue,
) -> anyhow::Result<()> {
    let before = catalogue_files::in_use(api).await?;
    // A matter whose content changed gets a new matter version (cases name
    // the matter by catalogue version, code and matter version).
    for (code, m) in &mut cat.matters {
        if let Some(old) = before.matters.get(code)
            && m.version <= old.version
        {
            let mut same = m.clone();
            same.version = old.version;
            if &same != old {
                m.version = old.version + 1;
            }
        }
    }
    let changes = catalogue_files::diff(&before, &cat);
    if changes.is_empty() {
        return Err(crate::output::Coded::new(
            "catalogue_unchanged",
            format!(
                "the catalogue is the same as version {} in use; nothing published",
                before.version
            ),
        )
        .into());
    }
    let body = serde_json::to_value(&cat)?;
    let draft = api.create_draft(&body).await?.value;
    let answer = api.publish_version(draft.version).await.with_context(|| {
        format!(
            "draft version {} was stored, but publishing it failed",
            draft.version
        )
    })?;
    if out.json {
        out.print_json(&serde_json::json!({
            "published": answer.json,
            "previous": before.version,
            "changes": changes,
        }));
        return Ok(());
    }
    print_changes(out, &changes);
    let info = answer.value;
    println!(
        "published catalogue version {} (sha256 {}) at {}, replacing version {}; it is now in use",
        info.version,
        sha_prefix(&info.sha256),
        china_time_opt(info.published_at_ms),
        before.version,
    );
    Ok(())
}
