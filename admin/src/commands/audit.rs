//! `audit verify | actions`: the node walks every origin's hash chain in
//! its stored log and names the first break of each; the staff and
//! administrator actions its log holds.

use clap::Subcommand;
use onewindow_client::Client;

use crate::output::{Output, table};

/// `audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walks every origin's hash chain in the node's stored log and names
    /// the first break of each: a row changed, replaced or deleted since it
    /// was written (GET /api/v1/admin/audit), and the breaks that halls
    /// below found in their own stores and reported up. Exits 1 when any
    /// origin is broken or any break was reported.
    Verify {
        /// Only this origin (a hall's node id), e.g. nanhai.guicheng.
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
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let hall = match self {
            Self::Verify { hall } => hall,
            Self::Actions {
                hall,
                action,
                limit,
            } => return actions(api, out, hall, action, limit).await,
        };
        let answer = api.audit(hall.as_deref().map(str::trim)).await?;
        let r = &answer.value;
        if out.json {
            out.print_json(&answer.json);
        } else {
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
