//! `warnings list`: running cases near (yellow) or past (red) a deadline
//! today, and bad ratings whose follow-up is near or past its due day,
//! across the node's subtree.

use clap::{Subcommand, ValueEnum};
use onewindow_client::Client;

use crate::output::{Output, or_dash, table};

/// A warning level to list.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Level {
    /// Past a deadline.
    Red,
    /// Near the committed deadline.
    Yellow,
}

/// `warnings ...`
#[derive(Debug, Subcommand)]
pub enum WarningsCommand {
    /// Running cases near (yellow) or past (red) a deadline today, most
    /// urgent first, with the working days left to the committed due date;
    /// then bad ratings whose follow-up is due within 3 working days
    /// (yellow) or overdue (red) (GET /api/v1/admin/warnings).
    List {
        /// Only this level.
        #[arg(long, value_enum)]
        level: Option<Level>,
        /// Only cases accepted at this hall or below it, e.g. nanhai.guicheng.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
    },
}

impl WarningsCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let Self::List { level, hall } = self;
        let level = level.map(|l| match l {
            Level::Red => "red",
            Level::Yellow => "yellow",
        });
        let answer = api.warnings(level, hall.as_deref().map(str::trim)).await?;
        if out.json {
            out.print_json(&answer.json);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = answer
            .value
            .iter()
            .map(|w| {
                let (rule, due) = if w.rule == "follow_up" {
                    ("bad rating", w.follow_up_due.as_deref())
                } else {
                    ("deadline", w.committed_due.as_deref())
                };
                vec![
                    w.level.clone(),
                    rule.to_owned(),
                    w.case_number.clone(),
                    format!("{} {}", w.matter_code, w.matter_name_zh),
                    w.accepting_node.clone(),
                    w.state.clone(),
                    or_dash(due),
                    w.working_days_left
                        .map_or_else(|| "-".to_owned(), |d| d.to_string()),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &[
                    "level",
                    "rule",
                    "case",
                    "matter",
                    "hall",
                    "state",
                    "due",
                    "days left"
                ],
                &rows,
                &[7]
            )
        );
        let red = answer.value.iter().filter(|w| w.level == "red").count();
        println!("{} red, {} yellow", red, answer.value.len() - red);
        Ok(())
    }
}
