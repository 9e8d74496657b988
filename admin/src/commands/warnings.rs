//! `warnings list`: running cases near (yellow) or past (red) a deadline
//! today, and bad ratings whose follow-up is near or past its due day,
//! across the node's subtree, each with its status; `warnings appeal`: the
//! hall that holds a case appeals one of its warnings; `warnings decide`:
//! the district upholds or revokes the appeal.

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

/// The rule that raised a warning.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Rule {
    /// A running case's deadline.
    Deadline,
    /// A bad rating's follow-up.
    FollowUp,
    /// A case that reached the hall that decides it late.
    Forwarding,
}

impl Rule {
    fn as_str(self) -> &'static str {
        match self {
            Self::Deadline => "deadline",
            Self::FollowUp => "follow_up",
            Self::Forwarding => "forwarding",
        }
    }
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Self::Red => "red",
            Self::Yellow => "yellow",
        }
    }
}

/// A warning's status to list.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Status {
    /// Counts against the hall (not appealed, or upheld).
    Issued,
    /// Appealed, not decided yet.
    Appealed,
    /// Revoked on appeal.
    Revoked,
    /// Red and standing for more than 5 working days.
    Escalated,
    /// The responsible hall has not been heard from since it arose.
    Pending,
}

/// `warnings ...`
#[derive(Debug, Subcommand)]
pub enum WarningsCommand {
    /// Running cases near (yellow) or past (red) a deadline today, most
    /// urgent first, with the working days left to the committed due date;
    /// then bad ratings whose follow-up is due within 3 working days
    /// (yellow) or overdue (red); then running cases that reached the hall
    /// that decides them late (red) (GET /api/v1/admin/warnings).
    List {
        /// Only this level.
        #[arg(long, value_enum)]
        level: Option<Level>,
        /// Only cases accepted at this hall or below it, e.g. nanhai.guicheng.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
        /// Only warnings of this status.
        #[arg(long, value_enum)]
        status: Option<Status>,
    },
    /// At the hall that holds the case: appeal one of its warnings today,
    /// with the reason (POST /api/v1/cases/{number}/actions, action
    /// `appeal_warning`). The district decides.
    Appeal {
        /// Case number.
        number: String,
        /// The rule that raised the warning.
        #[arg(long, value_enum, default_value = "deadline")]
        rule: Rule,
        /// The warning's level today.
        #[arg(long, value_enum)]
        level: Level,
        /// Why the warning is wrong.
        #[arg(long)]
        reason: String,
    },
    /// At the district: uphold or revoke a hall's appeal, with the reason
    /// (POST /api/v1/cases/{number}/warning-decision). The decision reaches
    /// the hall that holds the case and is written into the case there.
    Decide {
        /// Case number.
        number: String,
        /// The rule of the appealed warning.
        #[arg(long, value_enum, default_value = "deadline")]
        rule: Rule,
        /// Its level.
        #[arg(long, value_enum)]
        level: Level,
        /// The warning stands.
        #[arg(long, conflicts_with = "revoke", required_unless_present = "revoke")]
        uphold: bool,
        /// The warning is revoked: it no longer counts against the hall.
        #[arg(long)]
        revoke: bool,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

impl WarningsCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let (level, hall, status) = match self {
            Self::List {
                level,
                hall,
                status,
            } => (level, hall, status),
            Self::Appeal {
                number,
                rule,
                level,
                reason,
            } => {
                let number = number.trim();
                let view = api
                    .act(
                        number,
                        &serde_json::json!({
                            "action": "appeal_warning",
                            "rule": rule.as_str(),
                            "level": level.as_str(),
                            "reason": reason.trim(),
                        }),
                    )
                    .await?;
                if out.json {
                    out.print_json(&view.json);
                } else {
                    println!(
                        "{number}: the {} {} warning is appealed; the district decides",
                        level.as_str(),
                        rule.as_str()
                    );
                }
                return Ok(());
            }
            Self::Decide {
                number,
                rule,
                level,
                uphold,
                reason,
                ..
            } => {
                let number = number.trim();
                let verdict = if uphold { "uphold" } else { "revoke" };
                api.decide_appeal(
                    number,
                    rule.as_str(),
                    level.as_str(),
                    verdict,
                    reason.trim(),
                )
                .await?;
                if out.json {
                    out.print_json(&serde_json::json!({
                        "case_number": number, "rule": rule.as_str(),
                        "level": level.as_str(), "verdict": verdict,
                    }));
                } else {
                    println!(
                        "{number}: the appeal against the {} {} warning is {}; the hall that holds the case records it when the decision reaches it",
                        level.as_str(),
                        rule.as_str(),
                        if uphold { "upheld" } else { "revoked" }
                    );
                }
                return Ok(());
            }
        };
        let level = level.map(Level::as_str);
        let status = status.map(|s| match s {
            Status::Issued => "issued",
            Status::Appealed => "appealed",
            Status::Revoked => "revoked",
            Status::Escalated => "escalated",
            Status::Pending => "pending",
        });
        let answer = api
            .warnings(level, hall.as_deref().map(str::trim), status)
            .await?;
        if out.json {
            out.print_json(&answer.json);
            return Ok(());
        }
        let rows: Vec<Vec<String>> = answer
            .value
            .iter()
            .map(|w| {
                let late = w
                    .late_forwarding
                    .as_ref()
                    .map(|l| format!("{} h late from {}", l.hours, l.from));
                let (rule, due) = match w.rule.as_str() {
                    "follow_up" => ("bad rating", w.follow_up_due.as_deref()),
                    "forwarding" => ("forwarded late", late.as_deref()),
                    _ => ("deadline", w.committed_due.as_deref()),
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
                    or_dash(Some(w.since.as_str()).filter(|s| !s.is_empty())),
                    w.status.clone(),
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
                    "days left",
                    "since",
                    "status"
                ],
                &rows,
                &[7]
            )
        );
        for w in &answer.value {
            let Some(a) = &w.appeal else { continue };
            println!(
                "{} {} {}: appealed by {} at {}: {}",
                w.case_number, w.level, w.rule, a.by, a.hall, a.reason
            );
            if let Some(d) = &a.decision {
                println!(
                    "  {} by {}: {}",
                    if d.upheld { "upheld" } else { "revoked" },
                    d.by,
                    d.reason
                );
            }
        }
        let counting = |level: &str| {
            answer
                .value
                .iter()
                .filter(|w| w.level == level && w.status != "revoked")
                .count()
        };
        let status = |s: &str| answer.value.iter().filter(|w| w.status == s).count();
        println!(
            "{} red, {} yellow; {} pending, {} escalated, {} appealed, {} revoked",
            counting("red"),
            counting("yellow"),
            status("pending"),
            status("escalated"),
            status("appealed"),
            status("revoked")
        );
        Ok(())
    }
}
