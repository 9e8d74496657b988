//! `staff list | add | disable`: staff accounts (administrator only).

use clap::{Subcommand, ValueEnum};
use onewindow_client::Client;
use onewindow_client::types::NewStaff;
use serde_json::json;

use crate::output::{Output, fields, or_dash, table, yes_no};

/// `staff ...`
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Every staff account: username, name, role, department, active.
    List,
    /// Creates a staff account.
    Add {
        /// Login name: 3 to 32 of a-z, 0-9, '.', '_', '-'.
        #[arg(long)]
        username: String,
        /// Name shown on documents.
        #[arg(long)]
        name: String,
        /// Role.
        #[arg(long, value_enum)]
        role: Role,
        /// Department code; required for approvers.
        #[arg(long, value_name = "D")]
        department: Option<String>,
        /// The new account's password (at least 10 characters).
        #[arg(
            long,
            env = "ONEWINDOW_NEW_PASSWORD",
            hide_env_values = true,
            value_name = "PASSWORD"
        )]
        new_password: String,
    },
    /// Deactivates an account and ends its sessions.
    Disable {
        /// The account's login name.
        username: String,
    },
}

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Accepts applications at a window.
    Clerk,
    /// Handles, reviews and decides in a department's back office.
    Approver,
    /// Watches deadlines and supervises.
    Supervisor,
    /// Manages accounts, the catalogue and calendars.
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Clerk => "clerk",
            Self::Approver => "approver",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
        }
    }
}

impl StaffCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::List => {
                let answer = api.staff().await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let all = answer.value;
                let rows: Vec<Vec<String>> = all
                    .into_iter()
                    .map(|s| {
                        vec![
                            s.username,
                            s.display_name,
                            s.role,
                            or_dash(s.department.as_deref()),
                            yes_no(s.active),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &["username", "name", "role", "department", "active"],
                        &rows,
                        &[]
                    )
                );
                Ok(())
            }
            Self::Add {
                username,
                name,
                role,
                department,
                new_password,
            } => {
                let answer = api
                    .create_staff(&NewStaff {
                        username: &username,
                        display_name: &name,
                        role: role.as_str(),
                        department: department.as_deref(),
                        password: &new_password,
                    })
                    .await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let s = answer.value;
                println!("created staff account {}", s.username);
                println!(
                    "{}",
                    fields(&[
                        ("name", s.display_name),
                        ("role", s.role),
                        ("department", or_dash(s.department.as_deref())),
                    ])
                );
                Ok(())
            }
            Self::Disable { username } => {
                api.deactivate_staff(&username).await?;
                if out.json {
                    out.print_json(&json!({"username": username, "active": false}));
                } else {
                    println!("disabled {username}; its sessions have ended");
                }
                Ok(())
            }
        }
    }
}
