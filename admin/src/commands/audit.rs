//! `audit verify`: the node walks every origin's hash chain in its stored
//! log and names the first break of each.

use clap::Subcommand;
use onewindow_client::Client;

use crate::output::{Output, table};

/// `audit ...`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walks every origin's hash chain in the node's stored log and names
    /// the first break of each: a row changed, replaced or deleted since it
    /// was written (GET /api/v1/admin/audit). Exits 1 when any origin is
    /// broken.
    Verify {
        /// Only this origin (a hall's node id), e.g. nanhai.guicheng.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
    },
}

impl AuditCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let Self::Verify { hall } = self;
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
        }
        if r.broken > 0 {
            anyhow::bail!(
                "the stored log of {} is broken in {} of {} origins",
                r.node,
                r.broken,
                r.origins.len()
            );
        }
        Ok(())
    }
}
