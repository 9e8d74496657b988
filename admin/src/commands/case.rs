//! `case show`: one case now and every event in its history.

use clap::Subcommand;
use onewindow_client::Client;

use crate::output::{Output, china_time, fields, or_dash, table, yes_no};

/// `case ...`
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// A case's state, warning level and due dates, then its events:
    /// version, time, actor, kind (GET /api/v1/cases/{number}/record).
    Show {
        /// Case number, e.g. NH-20261123-000042-I.
        number: String,
    },
}

impl CaseCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let Self::Show { number } = self;
        let answer = api.case_record(number.trim()).await?;
        if out.json {
            out.print_json(&answer.json);
            return Ok(());
        }
        let r = answer.value;
        let c = &r.view;
        println!(
            "{}",
            fields(&[
                ("case", c.number.clone()),
                (
                    "matter",
                    format!(
                        "{} {}",
                        c.case.received.matter_code, c.case.received.matter_name_zh
                    )
                ),
                ("applicant", c.case.received.applicant.name.clone()),
                ("state", c.state.clone()),
                ("suspended", yes_no(c.suspended)),
                ("warning", c.warning.clone()),
                ("committed due", or_dash(c.committed_due.as_deref())),
                ("statutory due", or_dash(c.statutory_due.as_deref())),
                ("stage due", or_dash(c.stage_due.as_deref())),
                ("held by", or_dash(c.case.holder.as_deref())),
            ])
        );
        println!();
        let rows: Vec<Vec<String>> = r
            .events
            .iter()
            .map(|e| {
                vec![
                    e.case_version.to_string(),
                    china_time(e.at_ms),
                    format!("{} ({}, {})", e.actor.username, e.actor.role, e.actor.node),
                    e.event.kind.clone(),
                ]
            })
            .collect();
        println!(
            "{}",
            table(&["version", "time", "actor", "kind"], &rows, &[0])
        );
        Ok(())
    }
}
