//! `calendar show | publish`: the statutory holidays and make-up working days
//! that deadlines are counted with.

use anyhow::Context;
use clap::Subcommand;
use onewindow_client::Client;
use onewindow_domain::calendar::Calendar;
use std::path::PathBuf;

use crate::output::{Output, table};

/// `calendar ...`
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// The holiday calendars in use, one row per holiday (GET
    /// /api/v1/admin/calendars; no login needed).
    Show,
    /// Publishes (or replaces) one year's holiday calendar from a TOML file
    /// in the shape of configs/calendar/2026.toml; it is checked here first.
    Publish {
        /// The year's calendar, e.g. 2027.toml.
        #[arg(long, value_name = "YEAR.toml")]
        file: PathBuf,
    },
}

/// Days from `from` to `to` inclusive, if both are dates.
fn days_off(from: &str, to: &str) -> String {
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    match (d(from), d(to)) {
        (Some(a), Some(b)) if b >= a => ((b - a).num_days() + 1).to_string(),
        _ => "?".to_owned(),
    }
}

impl CalendarCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        matches!(self, Self::Publish { .. })
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::Show => show(api, out).await,
            Self::Publish { file } => publish(api, out, file).await,
        }
    }
}

async fn show(api: &Client, out: Output) -> anyhow::Result<()> {
    let answer = api.calendars().await?;
    if out.json {
        out.print_json(&answer.json);
        return Ok(());
    }
    let mut years = answer.value;
    years.sort_by_key(|y| y.year);
    let rows: Vec<Vec<String>> = years
        .iter()
        .flat_map(|y| {
            y.holidays.iter().map(move |h| {
                vec![
                    y.year.to_string(),
                    format!("{} {}", h.name_zh, h.name_en),
                    h.from.clone(),
                    h.to.clone(),
                    days_off(&h.from, &h.to),
                    if h.makeup.is_empty() {
                        "-".to_owned()
                    } else {
                        h.makeup.join(", ")
                    },
                ]
            })
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "year",
                "holiday",
                "from",
                "to",
                "days off",
                "make-up working days"
            ],
            &rows,
            &[4],
        )
    );
    for y in &years {
        println!("{}: {}", y.year, y.source);
    }
    Ok(())
}

async fn publish(api: &Client, out: Output, file: PathBuf) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let year =
        Calendar::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let body = serde_json::to_value(&year)?;
    api.put_calendar(&body).await?;
    if out.json {
        out.print_json(&body);
        return Ok(());
    }
    let makeup: usize = year.holidays.iter().map(|h| h.makeup.len()).sum();
    println!(
        "published the {} holiday calendar: {} holidays, {} make-up working days",
        year.year,
        year.holidays.len(),
        makeup
    );
    Ok(())
}
