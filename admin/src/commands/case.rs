//! `case search | show | recall | follow-up`: cases across the node's subtree, one
//! case now and every event in its history, and a case called back to the
//! district.

use clap::{Args, Subcommand};
use onewindow_client::Client;

use crate::output::{Output, china_time, fields, or_dash, table, yes_no};

/// `case ...`
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Cases at the node (at a district or township, its whole subtree),
    /// most urgent first (GET /api/v1/cases).
    Search(SearchArgs),
    /// Calls a case back to the district (supervisor or administrator, at
    /// the root): the hall holding it hands it over when the recall reaches
    /// it; the reason goes into the case's history.
    Recall {
        /// Case number.
        number: String,
        /// Why (required; kept in the case's history).
        #[arg(long)]
        reason: String,
    },
    /// Reopens a completed or terminated case (supervisor or administrator,
    /// at the root): the hall holding it takes it back to "accepted" when
    /// the order reaches it and hands it up to the hall that decides its
    /// matter; its time limits run again from that day. Logged as an audit
    /// record of the district; the reason goes into the case's history.
    Reopen {
        /// Case number.
        number: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Answers a bad rating (4 or 5) of a case: what was found and put
    /// right, due within 15 working days of the rating. Run at the hall
    /// that holds the case (the accepting hall, once the result is handed
    /// out) by a clerk, approver or supervisor there
    /// (POST /api/v1/cases/{number}/actions).
    FollowUp {
        /// Case number.
        number: String,
        /// The answer (required; kept in the case's history).
        #[arg(long)]
        answer: String,
    },
    /// One case's personal data (supervisor): the applicant's name, ID
    /// number and phone, fetched from the hall below where this hall holds
    /// them withheld; the request and its reason are kept in the audit log
    /// (POST /api/v1/cases/{number}/personal).
    Personal {
        /// Case number.
        number: String,
        /// Why (required, 1 to 500 characters; audited).
        #[arg(long)]
        reason: String,
    },
    /// A case's state, warning level and due dates, then its events:
    /// version, time, actor, kind (GET /api/v1/cases/{number}/record).
    Show {
        /// Case number, e.g. NH-20261123-000042-I.
        number: String,
    },
}

/// Filters for `case search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Case numbers that start with this (e.g. NH-20261123).
    #[arg(long, value_name = "PREFIX")]
    number: Option<String>,
    /// The applicant's whole ID number or credit code.
    #[arg(long, value_name = "ID")]
    applicant: Option<String>,
    /// A matter's code.
    #[arg(long, value_name = "CODE")]
    matter: Option<String>,
    /// Accepted at this hall or a hall below it.
    #[arg(long, value_name = "ID")]
    hall: Option<String>,
    /// Held by this hall now.
    #[arg(long, value_name = "ID")]
    holder: Option<String>,
    /// States, comma-separated (e.g. handling,review).
    #[arg(long, value_name = "STATES")]
    state: Option<String>,
    /// Open cases past their committed due date only.
    #[arg(long)]
    overdue: bool,
    /// At most this many (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: u32,
}

impl CaseCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let number = match self {
            Self::Show { number } => number,
            Self::Search(args) => return search(api, out, args).await,
            Self::Recall { number, reason } => return recall(api, out, &number, &reason).await,
            Self::Reopen { number, reason } => {
                let number = number.trim();
                api.reopen(number, reason.trim()).await?;
                if out.json {
                    out.print_json(&serde_json::json!({ "reopened": number }));
                } else {
                    println!(
                        "{number}: reopened; the hall holding it takes it back to accepted when the order reaches it"
                    );
                }
                return Ok(());
            }
            Self::FollowUp { number, answer } => {
                return follow_up(api, out, number.trim(), answer.trim()).await;
            }
            Self::Personal { number, reason } => {
                let answer = api.personal_data(number.trim(), reason.trim()).await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let p = answer.value;
                let a = &p.case.received.applicant;
                println!(
                    "{}",
                    fields(&[
                        ("case", p.case_number.clone()),
                        (
                            "matter",
                            format!(
                                "{} {}",
                                p.case.received.matter_code, p.case.received.matter_name_zh
                            )
                        ),
                        (
                            "applicant",
                            or_dash(Some(a.name.as_str()).filter(|n| !n.is_empty()))
                        ),
                        (
                            "id number",
                            or_dash(Some(a.id_number.as_str()).filter(|n| !n.is_empty()))
                        ),
                        ("phone", or_dash(a.phone.as_deref())),
                        ("fetched", p.fetched.to_string()),
                        ("still withheld", p.withheld.to_string()),
                    ])
                );
                println!(
                    "shown for this request only; the request and its reason are in the audit log"
                );
                return Ok(());
            }
        };
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

async fn search(api: &Client, out: Output, a: SearchArgs) -> anyhow::Result<()> {
    let limit = a.limit.to_string();
    let mut q: Vec<(&str, &str)> = vec![("limit", &limit)];
    for (k, v) in [
        ("number", &a.number),
        ("applicant", &a.applicant),
        ("matter", &a.matter),
        ("hall", &a.hall),
        ("holder", &a.holder),
        ("state", &a.state),
    ] {
        if let Some(v) = v {
            q.push((k, v.trim()));
        }
    }
    if a.overdue {
        q.push(("overdue", "true"));
    }
    let answer = api.cases(&q).await?;
    if out.json {
        out.print_json(&answer.json);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = answer
        .value
        .iter()
        .map(|c| {
            vec![
                c.number.clone(),
                format!(
                    "{} {}",
                    c.case.received.matter_code, c.case.received.matter_name_zh
                ),
                c.case.received.applicant.name.clone(),
                or_dash(Some(&c.case.received.accepting_node)),
                or_dash(c.case.holder.as_deref()),
                c.state.clone(),
                c.warning.clone(),
                or_dash(c.committed_due.as_deref()),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "case",
                "matter",
                "applicant",
                "accepted at",
                "held by",
                "state",
                "warning",
                "committed due"
            ],
            &rows,
            &[],
        )
    );
    println!(
        "{} {}",
        rows.len(),
        if rows.len() == 1 { "case" } else { "cases" }
    );
    Ok(())
}

async fn follow_up(api: &Client, out: Output, number: &str, answer: &str) -> anyhow::Result<()> {
    let view = api
        .act(
            number,
            &serde_json::json!({ "action": "follow_up", "answer": answer }),
        )
        .await?;
    if out.json {
        out.print_json(&view.json);
    } else {
        println!("{number}: the bad rating is answered; its follow-up is closed");
    }
    Ok(())
}

async fn recall(api: &Client, out: Output, number: &str, reason: &str) -> anyhow::Result<()> {
    let number = number.trim();
    api.recall(number, reason.trim()).await?;
    if out.json {
        out.print_json(&serde_json::json!({ "recalled": number }));
    } else {
        println!(
            "{number}: recall sent; the hall holding it hands it over to the district when the recall reaches it"
        );
    }
    Ok(())
}
