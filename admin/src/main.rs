//! `onewindow-admin`: the district administrator's command line over a
//! node's HTTP API.
//!
//! Commands go noun then verb (`staff add`, `catalogue publish`). People get
//! aligned tables; `--json` prints the API's own JSON for scripts. A command
//! that needs a session logs in first and logs out when done. A refusal from
//! the API prints its stable code and both messages and exits with status 1.
//!
//! It speaks to the node through `onewindow-client`, whose answer types read
//! only the fields shown, so it keeps working against a node that has added
//! fields; `--json` prints the JSON the node sent.

mod catalogue_files;
mod commands;
mod output;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use commands::audit::AuditCommand;
use commands::calendar::CalendarCommand;
use commands::case::CaseCommand;
use commands::catalogue::CatalogueCommand;
use commands::delegation::DelegationCommand;
use commands::document::DocumentCommand;
use commands::feed::FeedCommand;
use commands::node::NodeCommand;
use commands::report::ReportCommand;
use commands::staff::StaffCommand;
use commands::warnings::WarningsCommand;
use onewindow_client::{ApiError, Client};
use output::Output;

/// The district administrator's command line for OneWindow (一窗通办).
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    /// The node's base URL.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "ONEWINDOW_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// Staff username to log in as.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "ONEWINDOW_USER",
        default_value = "admin"
    )]
    user: String,
    /// Password to log in with.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "ONEWINDOW_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
    /// File holding the password (its first line); wins over --password.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "ONEWINDOW_PASSWORD_FILE",
        value_name = "FILE"
    )]
    password_file: Option<PathBuf>,
    /// Print JSON for scripts instead of tables (errors too, on stderr).
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The node itself.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Matters and catalogue versions.
    #[command(subcommand)]
    Catalogue(CatalogueCommand),
    /// Which tiers and halls may receive and decide a matter.
    #[command(subcommand)]
    Delegation(DelegationCommand),
    /// Statutory holidays and make-up working days.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Cases.
    #[command(subcommand)]
    Case(CaseCommand),
    /// Department systems: credentials, webhooks and their deliveries.
    #[command(subcommand)]
    Feed(FeedCommand),
    /// Issued documents: check a printed one's seal offline.
    #[command(subcommand)]
    Document(DocumentCommand),
    /// The stored log's hash chains.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Cases near or past their deadlines.
    #[command(subcommand)]
    Warnings(WarningsCommand),
    /// Cases, times and ratings of a period, as tables, CSV or JSON.
    Report(ReportCommand),
}

impl Command {
    fn needs_login(&self) -> bool {
        match self {
            Self::Node(c) => c.needs_login(),
            Self::Catalogue(c) => c.needs_login(),
            Self::Delegation(c) => c.needs_login(),
            Self::Calendar(c) => c.needs_login(),
            Self::Staff(c) => c.needs_login(),
            Self::Case(c) => c.needs_login(),
            Self::Feed(c) => c.needs_login(),
            Self::Document(c) => c.needs_login(),
            Self::Audit(c) => c.needs_login(),
            Self::Warnings(c) => c.needs_login(),
            Self::Report(c) => c.needs_login(),
        }
    }

    async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::Node(c) => c.run(api, out).await,
            Self::Catalogue(c) => c.run(api, out).await,
            Self::Delegation(c) => c.run(api, out).await,
            Self::Calendar(c) => c.run(api, out).await,
            Self::Staff(c) => c.run(api, out).await,
            Self::Case(c) => c.run(api, out).await,
            Self::Feed(c) => c.run(api, out).await,
            Self::Document(c) => c.run(api, out).await,
            Self::Audit(c) => c.run(api, out).await,
            Self::Warnings(c) => c.run(api, out).await,
            Self::Report(c) => c.run(api, out).await,
        }
    }
}

impl Cli {
    fn password(&self) -> anyhow::Result<String> {
        if let Some(f) = &self.password_file {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading the password file {}", f.display()))?;
            return Ok(text.lines().next().unwrap_or_default().to_owned());
        }
        self.password.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "{} needs a password: give --password, --password-file, ONEWINDOW_PASSWORD or ONEWINDOW_PASSWORD_FILE",
                self.user
            )
        })
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Output { json: cli.json };
    let api = Client::new(&cli.url).context("--url")?;
    if !cli.command.needs_login() {
        return cli.command.run(&api, out).await;
    }
    let password = cli.password()?;
    let session = api.login(&cli.user, &password).await?;
    let result = cli.command.run(&session, out).await;
    if let Err(e) = session.logout().await {
        eprintln!("warning: could not log out: {e}");
    }
    result
}

/// Prints an error: the API's code and both messages when it refused.
fn report(e: &anyhow::Error, json: bool) {
    let refusal = |c: &(dyn std::error::Error + 'static)| -> Option<ApiError> {
        c.downcast_ref::<onewindow_client::Error>()
            .and_then(onewindow_client::Error::api)
            .cloned()
    };
    let api = e.chain().find_map(refusal);
    let context: Vec<String> = e
        .chain()
        .take_while(|c| refusal(*c).is_none())
        .map(ToString::to_string)
        .collect();
    match (api, json) {
        (Some(a), true) => {
            let mut v = serde_json::to_value(&a).unwrap_or_default();
            if !context.is_empty() {
                v["context"] = serde_json::Value::String(context.join(": "));
            }
            eprintln!("{}", serde_json::json!({ "error": v }));
        }
        (Some(a), false) => {
            if context.is_empty() {
                eprintln!("error: {} (HTTP {})", a.code, a.status);
            } else {
                eprintln!(
                    "error: {}: {} (HTTP {})",
                    context.join(": "),
                    a.code,
                    a.status
                );
            }
            eprintln!("  {}", a.message_zh);
            eprintln!("  {}", a.message_en);
        }
        (None, true) => {
            let code = e
                .chain()
                .find_map(|c| c.downcast_ref::<output::Coded>())
                .map(|c| c.code);
            eprintln!(
                "{}",
                serde_json::json!({ "error": { "code": code, "message": format!("{e:#}") } })
            );
        }
        (None, false) => eprintln!("error: {e:#}"),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, json);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
