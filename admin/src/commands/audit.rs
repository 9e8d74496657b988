//! `audit verify | export | actions`: the node walks every origin's hash
//! chain in its stored log and names the first break of each; the chains
//! written to a file that anyone checks with `audit verify --file` by the
//! same rules; the staff and administrator actions its log holds.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use federation::audit::ChainWalk;
use federation::{EntryHash, LogEntry, NodeId, Sealed};
use onewindow_client::Client;
use onewindow_client::types::{AuditReport, ChainBreak, ExportedEntry, OriginAudit};

use crate::output::{Output, table};

/// `audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walks every origin's hash chain in the node's stored log and names
    /// the first break of each: a row changed, replaced or deleted since it
    /// was written (GET /api/v1/admin/audit), and the breaks that halls
    /// below found in their own stores and reported up. Exits 1 when any
    /// origin is broken or any break was reported.
    ///
    /// With --file, checks an export made by `audit export` instead, by the
    /// same rules and with no node and no login: every entry's hash from
    /// its content, every chain from sequence 1 to the head the node held.
    Verify {
        /// Only this origin (a hall's node id), e.g. nanhai.guicheng.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
        /// An export to check instead of the node's store.
        #[arg(long, value_name = "FILE", conflicts_with = "hall")]
        file: Option<PathBuf>,
    },
    /// Writes every origin's chain held at the node to a file (JSON lines:
    /// a header with each origin's head, then every entry as stored, with
    /// its personal section withheld, so that the file holds no applicant's
    /// data and still verifies) for a third party to check with
    /// `audit verify --file` (GET /api/v1/admin/audit/export).
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Only this origin (a hall's node id).
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
    },
    /// Staff and administrator actions held at the node (its own and its
    /// subtree's), newest first: logins, logouts, lockouts, account
    /// changes, catalogue and calendar publications, recalls, node
    /// registrations and revocations (GET /api/v1/admin/audit/actions).
    Actions {
        /// Only at this hall or a hall below it.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
        /// Only this action, e.g. login or staff_disabled.
        #[arg(long, value_name = "ACTION")]
        action: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, value_name = "N", default_value_t = 100)]
        limit: u32,
    },
}

impl AuditCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        !matches!(self, Self::Verify { file: Some(_), .. })
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let hall = match self {
            Self::Verify {
                file: Some(file), ..
            } => return verify_file(&file, out),
            Self::Verify { hall, .. } => hall,
            Self::Export { out: file, hall } => return export(api, &file, hall).await,
            Self::Actions {
                hall,
                action,
                limit,
            } => return actions(api, out, hall, action, limit).await,
        };
        let answer = api.audit(hall.as_deref().map(str::trim)).await?;
        if out.json {
            out.print_json(&answer.json);
        }
        report(&answer.value, out)
    }
}

/// Prints an audit (unless JSON was asked for) and fails when it found a
/// break.
fn report(r: &AuditReport, out: Output) -> anyhow::Result<()> {
    if !out.json {
        let rows: Vec<Vec<String>> = r
            .origins
            .iter()
            .map(|o| {
                vec![
                    o.origin.clone(),
                    if o.whole {
                        "whole chain"
                    } else {
                        "entries held"
                    }
                    .to_owned(),
                    o.entries.to_string(),
                    o.head.to_string(),
                    match &o.first_break {
                        None => "ok".to_owned(),
                        Some(b) => format!("BROKEN at #{} ({}): {}", b.seq, b.kind, b.detail),
                    },
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &["origin", "checked as", "entries", "head", "state"],
                &rows,
                &[2, 3]
            )
        );
        println!(
            "{}: {} entries of {} origins checked, {} broken",
            r.node,
            r.entries,
            r.origins.len(),
            r.broken
        );
        if !r.reported.is_empty() {
            let rows: Vec<Vec<String>> = r
                .reported
                .iter()
                .map(|b| {
                    vec![
                        b.hall.clone(),
                        crate::output::china_time(b.at_ms),
                        format!("{}#{}", b.origin, b.seq),
                        format!("BROKEN ({}): {}", b.kind, b.detail),
                    ]
                })
                .collect();
            println!();
            println!("Breaks that halls below found in their own stores:");
            println!(
                "{}",
                table(&["found by", "found at", "entry", "state"], &rows, &[])
            );
        }
    }
    if r.broken > 0 {
        anyhow::bail!(
            "the stored log of {} is broken in {} of {} origins",
            r.node,
            r.broken,
            r.origins.len()
        );
    }
    if let Some(b) = r.reported.first() {
        anyhow::bail!(
            "halls below {} reported {} break(s) in their stored logs, the first by {} at {}#{} ({})",
            r.node,
            r.reported.len(),
            b.hall,
            b.origin,
            b.seq,
            b.kind
        );
    }
    Ok(())
}

/// The first line of an export.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ExportHeader {
    /// Always [`EXPORT_FORMAT`].
    format: String,
    /// The format's version.
    version: u32,
    /// The node the export was made at.
    node: String,
    /// When (ms since the epoch).
    exported_at_ms: i64,
    /// Each origin held, as the node's audit found it then.
    origins: Vec<ExportOrigin>,
}

/// An origin in an export's header.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ExportOrigin {
    origin: String,
    /// Checked as one chain from sequence 1.
    whole: bool,
    /// The highest sequence the node held.
    head: u64,
}

const EXPORT_FORMAT: &str = "onewindow-audit-export";

/// Entries asked for at a time.
const EXPORT_PAGE: u32 = 2000;

async fn export(api: &Client, file: &Path, hall: Option<String>) -> anyhow::Result<()> {
    let audit = api.audit(hall.as_deref().map(str::trim)).await?.value;
    let header = ExportHeader {
        format: EXPORT_FORMAT.to_owned(),
        version: 1,
        node: audit.node.clone(),
        exported_at_ms: chrono::Utc::now().timestamp_millis(),
        origins: audit
            .origins
            .iter()
            .map(|o| ExportOrigin {
                origin: o.origin.clone(),
                whole: o.whole,
                head: o.head,
            })
            .collect(),
    };
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(file)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?,
    );
    writeln!(w, "{}", serde_json::to_string(&header)?)?;
    let mut written = 0u64;
    for o in &header.origins {
        let mut after = 0;
        loop {
            let page = api.audit_export(&o.origin, after, EXPORT_PAGE).await?.value;
            for e in &page {
                writeln!(w, "{}", serde_json::to_string(e)?)?;
                after = e.seq;
                written += 1;
            }
            if page.len() < EXPORT_PAGE as usize {
                break;
            }
        }
    }
    w.flush()?;
    println!(
        "{written} entries of {} origins held at {} written to {}; check it with `onewindow-admin audit verify --file {}`",
        header.origins.len(),
        header.node,
        file.display(),
        file.display()
    );
    if audit.broken > 0 {
        anyhow::bail!(
            "the stored log of {} is broken in {} of {} origins: the export holds the breaks as stored",
            audit.node,
            audit.broken,
            audit.origins.len()
        );
    }
    Ok(())
}

/// An exported entry as the entry it stands for.
fn entry_of(e: &ExportedEntry) -> Result<LogEntry, String> {
    let hash = |h: &Option<String>, what: &str| {
        EntryHash::from_hex(h.as_deref().ok_or_else(|| format!("no {what}"))?)
            .map_err(|e| format!("{what}: {e}"))
    };
    Ok(LogEntry {
        origin: NodeId::new(e.origin.clone()).map_err(|e| e.to_string())?,
        origin_seq: e.seq,
        prev_hash: hash(&e.prev_hash, "previous hash")?,
        hash: hash(&e.hash, "hash")?,
        body: hex::decode(e.body.as_deref().ok_or("no body")?).map_err(|e| format!("body: {e}"))?,
        sealed: match &e.sealed {
            Some(_) => Sealed::Withheld(hash(&e.sealed, "sealed section's hash")?),
            None => Sealed::Empty,
        },
    })
}

/// Checks an export by the node's rules.
fn verify_file(file: &Path, out: Output) -> anyhow::Result<()> {
    let f = std::fs::File::open(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut lines = std::io::BufReader::new(f).lines();
    let first = lines
        .next()
        .ok_or_else(|| anyhow::anyhow!("{} is empty", file.display()))??;
    let header: ExportHeader = serde_json::from_str(&first)
        .ok()
        .filter(|h: &ExportHeader| h.format == EXPORT_FORMAT)
        .ok_or_else(|| anyhow::anyhow!("{} is not an audit export", file.display()))?;
    if header.version != 1 {
        anyhow::bail!(
            "{} is an audit export of version {}; this release reads version 1",
            file.display(),
            header.version
        );
    }
    let mut walks: Vec<(ChainWalk, u64)> = header
        .origins
        .iter()
        .map(|o| (ChainWalk::new(&o.origin, o.whole), o.head))
        .collect();
    let mut last_hash: std::collections::BTreeMap<String, String> = Default::default();
    for (n, line) in lines.enumerate() {
        let line = line?;
        let e: ExportedEntry = serde_json::from_str(&line).map_err(|err| {
            anyhow::anyhow!(
                "{} line {}: not an exported entry: {err}",
                file.display(),
                n + 2
            )
        })?;
        let Some((walk, _)) = walks.iter_mut().find(|(w, _)| w.audit().origin == e.origin) else {
            anyhow::bail!(
                "{} line {}: an entry of {}, an origin the header does not list",
                file.display(),
                n + 2,
                e.origin
            );
        };
        let entry = match &e.unreadable {
            Some(why) => Err(why.clone()),
            None => entry_of(&e),
        };
        match entry {
            Ok(entry) => {
                if walk.step(&entry) {
                    last_hash.insert(e.origin.clone(), entry.hash.to_hex());
                }
            }
            Err(why) => walk.unreadable(e.seq, format!("entry {}#{}: {why}", e.origin, e.seq)),
        }
    }
    let origins: Vec<OriginAudit> = walks
        .into_iter()
        .map(|(mut w, head)| {
            w.ends_before(head);
            let a = w.finish();
            OriginAudit {
                origin: a.origin,
                whole: a.whole,
                entries: a.entries,
                head: a.head,
                first_break: a.first_break.map(|b| ChainBreak {
                    seq: b.seq,
                    kind: b.kind.as_str().to_owned(),
                    detail: b.detail,
                }),
            }
        })
        .collect();
    let r = AuditReport {
        node: header.node.clone(),
        entries: origins.iter().map(|o| o.entries).sum(),
        broken: origins.iter().filter(|o| o.first_break.is_some()).count() as u64,
        origins,
        reported: Vec::new(),
    };
    if out.json {
        out.print_json(&serde_json::to_value(&r)?);
    } else {
        println!(
            "{}: an export of {} made {}",
            file.display(),
            header.node,
            crate::output::china_time(header.exported_at_ms)
        );
        let heads: Vec<String> = r
            .origins
            .iter()
            .filter_map(|o| {
                let h = last_hash.get(&o.origin)?;
                Some(format!("  {}#{} {h}", o.origin, o.head))
            })
            .collect();
        if !heads.is_empty() {
            println!("Last verified entry of each origin (compare with a copy kept elsewhere):");
            println!("{}", heads.join("\n"));
        }
    }
    report(&r, out)
}

async fn actions(
    api: &Client,
    out: Output,
    hall: Option<String>,
    action: Option<String>,
    limit: u32,
) -> anyhow::Result<()> {
    let limit = limit.to_string();
    let mut q: Vec<(&str, &str)> = vec![("limit", &limit)];
    if let Some(h) = &hall {
        q.push(("hall", h.trim()));
    }
    if let Some(a) = &action {
        q.push(("action", a.trim()));
    }
    let answer = api.audit_actions(&q).await?;
    if out.json {
        out.print_json(&answer.json);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = answer
        .value
        .iter()
        .map(|a| {
            vec![
                crate::output::china_time(a.at_ms),
                a.hall.clone(),
                format!(
                    "{} ({})",
                    a.actor,
                    if a.role.is_empty() { "-" } else { &a.role }
                ),
                a.action.clone(),
                crate::output::or_dash(Some(&a.target)),
                crate::output::or_dash(Some(&a.detail)),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &["time", "hall", "actor", "action", "target", "detail"],
            &rows,
            &[]
        )
    );
    println!("{} actions", rows.len());
    Ok(())
}
