//! `staff list | add | disable | enable | reset-password | role | move`:
//! staff accounts (administrator only). With `--hall ID` at the district
//! (the root), the accounts it keeps for a hall below: each change goes
//! down that hall's branch signed, and the hall takes it as its own
//! account, usable there with or without an uplink.

use clap::{Subcommand, ValueEnum};
use onewindow_client::Client;
use onewindow_client::types::{NewStaff, Staff, StaffChange};
use serde_json::json;

use crate::output::{Output, fields, or_dash, table, yes_no};

/// `staff ...`
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Every staff account: username, name, role, department, active.
    List {
        /// At the district: the accounts it keeps for this hall below
        /// (`*` for every hall below).
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
    },
    /// Creates a staff account.
    Add {
        /// At the district: the hall below where the account works.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
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
        /// At the district: the hall below whose account it is.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
    },
    /// Enables a disabled account again.
    Enable {
        /// The account's login name.
        username: String,
        /// At the district: the hall below whose account it is.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
    },
    /// Sets a new password; the account's sessions end.
    ResetPassword {
        /// The account's login name.
        username: String,
        /// At the district: the hall below whose account it is.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
        /// The new password (at least 10 characters).
        #[arg(
            long,
            env = "ONEWINDOW_NEW_PASSWORD",
            hide_env_values = true,
            value_name = "PASSWORD"
        )]
        new_password: String,
    },
    /// Changes an account's role (and department); its sessions end.
    Role {
        /// The account's login name.
        username: String,
        /// At the district: the hall below whose account it is.
        #[arg(long, value_name = "ID")]
        hall: Option<String>,
        /// The new role.
        #[arg(long, value_enum)]
        role: Role,
        /// Department code; required for approvers.
        #[arg(long, value_name = "D")]
        department: Option<String>,
    },
    /// At the district: moves an account it keeps from one hall below to
    /// another (disabled at the first, enabled at the second).
    Move {
        /// The account's login name.
        username: String,
        /// The hall where it works now.
        #[arg(long, value_name = "ID")]
        hall: String,
        /// The hall it moves to.
        #[arg(long, value_name = "ID")]
        to: String,
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
            Self::List { hall } => {
                let answer = match &hall {
                    Some(h) => api.staff_of(h).await?,
                    None => api.staff().await?,
                };
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
                            or_dash(s.hall.as_deref()),
                            yes_no(s.managed),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &[
                            "username",
                            "name",
                            "role",
                            "department",
                            "active",
                            "hall",
                            "kept by district"
                        ],
                        &rows,
                        &[]
                    )
                );
                Ok(())
            }
            Self::Add {
                hall,
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
                        hall: hall.as_deref(),
                    })
                    .await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                println!("created staff account {}", answer.value.username);
                show(answer.value);
                Ok(())
            }
            Self::Disable { username, hall } => {
                match &hall {
                    Some(h) => {
                        let change = StaffChange {
                            hall: Some(h),
                            active: Some(false),
                            ..StaffChange::default()
                        };
                        api.change_staff(&username, &change).await?;
                    }
                    None => api.deactivate_staff(&username).await?,
                }
                if out.json {
                    out.print_json(&json!({"username": username, "active": false}));
                } else if let Some(h) = hall {
                    println!(
                        "disabled {username} at {h}; its sessions there end once the hall holds the change"
                    );
                } else {
                    println!("disabled {username}; its sessions have ended");
                }
                Ok(())
            }
            Self::Enable { username, hall } => {
                let change = StaffChange {
                    hall: hall.as_deref(),
                    active: Some(true),
                    ..StaffChange::default()
                };
                changed(api, out, &username, &change, "enabled").await
            }
            Self::ResetPassword {
                username,
                hall,
                new_password,
            } => {
                let change = StaffChange {
                    hall: hall.as_deref(),
                    password: Some(&new_password),
                    ..StaffChange::default()
                };
                changed(api, out, &username, &change, "set a new password for").await
            }
            Self::Role {
                username,
                hall,
                role,
                department,
            } => {
                let change = StaffChange {
                    hall: hall.as_deref(),
                    role: Some(role.as_str()),
                    department: department.as_deref(),
                    ..StaffChange::default()
                };
                changed(api, out, &username, &change, "changed the role of").await
            }
            Self::Move { username, hall, to } => {
                let change = StaffChange {
                    hall: Some(&hall),
                    move_to: Some(&to),
                    ..StaffChange::default()
                };
                changed(api, out, &username, &change, "moved").await
            }
        }
    }
}

/// Sends a change and prints the account as it now is.
async fn changed(
    api: &Client,
    out: Output,
    username: &str,
    change: &StaffChange<'_>,
    what: &str,
) -> anyhow::Result<()> {
    let answer = api.change_staff(username, change).await?;
    if out.json {
        out.print_json(&answer.json);
        return Ok(());
    }
    println!("{what} {username}");
    show(answer.value);
    Ok(())
}

/// An account's fields, one a line.
fn show(s: Staff) {
    println!(
        "{}",
        fields(&[
            ("name", s.display_name),
            ("role", s.role),
            ("department", or_dash(s.department.as_deref())),
            ("active", yes_no(s.active)),
            ("hall", or_dash(s.hall.as_deref())),
        ])
    );
}
