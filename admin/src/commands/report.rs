//! `report`: cases, times and ratings of a period for the node's subtree
//! or one hall's below it, as tables, CSV or JSON.

use clap::Args;
use onewindow_client::Client;
use onewindow_client::types::{Report, ReportCount, TimeSummary};

use crate::output::{Output, table};

/// `report ...`
#[derive(Debug, Args)]
pub struct ReportCommand {
    /// First day, YYYY-MM-DD (China time); 29 days before --to when left
    /// out.
    #[arg(long, value_name = "DAY")]
    from: Option<String>,
    /// Last day, included; today when left out.
    #[arg(long, value_name = "DAY")]
    to: Option<String>,
    /// Only cases accepted at this hall or below it, e.g. nanhai.guicheng.
    #[arg(long, value_name = "ID")]
    hall: Option<String>,
    /// One CSV table on standard output (section, key, names, cases,
    /// immediate), for a spreadsheet.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
}

impl ReportCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command (GET /api/v1/admin/report).
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        for (k, v) in [("from", &self.from), ("to", &self.to), ("hall", &self.hall)] {
            if let Some(v) = v {
                query.push((k, v.trim()));
            }
        }
        let answer = api.report(&query).await?;
        if out.json {
            out.print_json(&answer.json);
        } else if self.csv {
            print!("{}", csv(&answer.value)?);
        } else {
            print_tables(&answer.value);
        }
        Ok(())
    }
}

fn sections(r: &Report) -> [(&'static str, &[ReportCount]); 5] {
    [
        ("tier", &r.by_tier),
        ("matter", &r.by_matter),
        ("department", &r.by_department),
        ("hall", &r.by_hall),
        ("state", &r.by_state),
    ]
}

/// A duration in days, hours or minutes, as a person reads it.
fn span(ms: i64) -> String {
    let minutes = ms as f64 / 60_000.0;
    if minutes < 60.0 {
        format!("{minutes:.1} min")
    } else if minutes < 24.0 * 60.0 {
        format!("{:.1} h", minutes / 60.0)
    } else {
        format!("{:.1} days", minutes / (24.0 * 60.0))
    }
}

fn times(what: &str, t: &TimeSummary) -> String {
    match (t.mean_ms, t.max_ms) {
        (Some(mean), Some(max)) => format!(
            "{what}: {}, mean {}, longest {}",
            t.count,
            span(mean),
            span(max)
        ),
        _ => format!("{what}: none"),
    }
}

fn share(p: Option<f64>) -> String {
    p.map_or_else(|| "-".to_owned(), |p| format!("{p:.1}%"))
}

fn print_tables(r: &Report) {
    println!(
        "{}: {} to {}, cases accepted at {} and the halls below it",
        r.node, r.from, r.to, r.hall
    );
    println!(
        "cases {}, immediate {} ({})",
        r.cases,
        r.immediate,
        share(r.immediate_percent)
    );
    println!("{}", times("closed after acceptance", &r.handling));
    println!("{}", times("queue numbers served", &r.waiting));
    let scores: Vec<String> = r
        .ratings
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{}: {n}", i + 1))
        .collect();
    println!(
        "ratings {} (1 very satisfied .. 5 very dissatisfied); satisfied {}; bad {}",
        scores.join(", "),
        share(r.satisfied_percent),
        r.bad_ratings
    );
    for (name, rows) in sections(r) {
        println!();
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|c| {
                let mut row = vec![c.key.clone()];
                if !c.name_zh.is_empty() {
                    row[0] = format!("{} {}", c.key, c.name_zh);
                }
                row.push(c.cases.to_string());
                if name != "state" {
                    row.push(c.immediate.to_string());
                }
                row
            })
            .collect();
        let headers: &[&str] = if name == "state" {
            &[name, "cases"]
        } else {
            &[name, "cases", "immediate"]
        };
        if body.is_empty() {
            println!("{name}: no cases");
        } else {
            println!("{}", table(headers, &body, &[1, 2]));
        }
    }
}

fn csv(r: &Report) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["section", "key", "name_zh", "name_en", "cases", "immediate"])?;
    w.write_record([
        "period",
        &format!("{}..{}", r.from, r.to),
        "",
        "",
        &r.cases.to_string(),
        &r.immediate.to_string(),
    ])?;
    for (name, rows) in sections(r) {
        for c in rows {
            w.write_record([
                name,
                &c.key,
                &c.name_zh,
                &c.name_en,
                &c.cases.to_string(),
                &c.immediate.to_string(),
            ])?;
        }
    }
    for (i, n) in r.ratings.iter().enumerate() {
        w.write_record(["rating", &(i + 1).to_string(), "", "", &n.to_string(), ""])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
