//! `feed credential-add | credentials | credential-revoke | subscribe |
//! subscriptions | deliveries | replay`: department systems joined to a
//! node (administrator only). A credential lets one department's own
//! system read the feed of its cases' events at that node and post its
//! staff's actions; a subscription pushes that feed to the system's
//! `http://` webhook, signed; deliveries given up are the dead letters,
//! which `replay` sends again.

use clap::{Subcommand, ValueEnum};
use onewindow_client::Client;
use onewindow_client::types::{NewCredential, NewSubscription};
use serde_json::json;

use crate::output::{Output, china_time, china_time_opt, fields, or_dash, table};

/// `feed ...`
#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Issues a department system's credential at this node; its token is
    /// printed once.
    CredentialAdd {
        /// Its name: 1 to 40 of a-z, 0-9, '-'.
        #[arg(long)]
        name: String,
        /// The department code (of the catalogue's departments).
        #[arg(long, value_name = "D")]
        department: String,
    },
    /// Every credential issued here (never their secrets).
    Credentials,
    /// Revokes a credential: its token is refused and its webhooks stop.
    CredentialRevoke {
        /// The credential's name.
        name: String,
    },
    /// Subscribes a webhook (an http:// URL) for a credential's feed; the
    /// signing secret is printed once.
    Subscribe {
        /// The credential whose feed it carries.
        #[arg(long)]
        credential: String,
        /// Where to POST (http:// only: the node's client has no TLS).
        #[arg(long, value_name = "URL")]
        webhook_url: String,
        /// A feed cursor to start after (the start of the feed if absent).
        #[arg(long)]
        after: Option<String>,
    },
    /// The webhook subscriptions (an ended one says when).
    Subscriptions,
    /// Ends a webhook subscription: nothing more is delivered to it and its
    /// open deliveries are given up.
    Unsubscribe {
        /// The subscription's id (wh-...).
        id: String,
    },
    /// Webhook deliveries, newest first.
    Deliveries {
        /// Which: all, open, or dead (the dead letters).
        #[arg(long, value_enum, default_value = "all")]
        status: Status,
    },
    /// Sends a dead letter again.
    Replay {
        /// The delivery's id.
        id: String,
    },
}

/// Which deliveries to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Status {
    /// Every one.
    All,
    /// Neither delivered nor given up.
    Open,
    /// Given up: the dead letters.
    Dead,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Open => "open",
            Self::Dead => "dead",
        }
    }
}

impl FeedCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::CredentialAdd { name, department } => {
                let answer = api
                    .issue_feed_credential(&NewCredential {
                        name: &name,
                        department: &department,
                    })
                    .await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let c = answer.value;
                println!(
                    "{}",
                    fields(&[
                        ("credential", c.name),
                        ("department", c.department),
                        ("token", c.token),
                    ])
                );
                println!("the token is shown this once: give it to the department's system");
                Ok(())
            }
            Self::Credentials => {
                let answer = api.feed_credentials().await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let rows: Vec<Vec<String>> = answer
                    .value
                    .into_iter()
                    .map(|c| {
                        vec![
                            c.name,
                            c.department,
                            c.node,
                            china_time(c.created_at_ms),
                            china_time_opt(c.revoked_at_ms),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &["name", "department", "node", "issued", "revoked"],
                        &rows,
                        &[]
                    )
                );
                Ok(())
            }
            Self::CredentialRevoke { name } => {
                api.revoke_feed_credential(&name).await?;
                if out.json {
                    out.print_json(&json!({"name": name, "revoked": true}));
                } else {
                    println!("revoked {name}: its token is refused and its webhooks stop");
                }
                Ok(())
            }
            Self::Subscribe {
                credential,
                webhook_url: url,
                after,
            } => {
                let answer = api
                    .subscribe_webhook(&NewSubscription {
                        credential: &credential,
                        url: &url,
                        after: after.as_deref(),
                    })
                    .await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let s = answer.value;
                println!(
                    "{}",
                    fields(&[
                        ("subscription", s.id),
                        ("credential", s.credential),
                        ("url", s.url),
                        ("secret", or_dash(s.secret.as_deref())),
                    ])
                );
                println!(
                    "the secret is shown this once: each POST carries X-OneWindow-Signature: sha256=HMAC-SHA256(secret, \"<X-OneWindow-Timestamp>.<body>\")"
                );
                Ok(())
            }
            Self::Subscriptions => {
                let answer = api.webhooks().await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let rows: Vec<Vec<String>> = answer
                    .value
                    .into_iter()
                    .map(|s| {
                        let state = s.ended_at_ms.map_or_else(
                            || "live".to_owned(),
                            |t| format!("ended {}", china_time_opt(Some(t))),
                        );
                        vec![s.id, s.credential, s.url, s.cursor, state]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &["id", "credential", "url", "queued up to", "state"],
                        &rows,
                        &[]
                    )
                );
                Ok(())
            }
            Self::Unsubscribe { id } => {
                let answer = api.end_webhook(&id).await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                println!(
                    "ended {}: nothing more is delivered to {}, and its open deliveries are given up",
                    answer.value.id, answer.value.url
                );
                Ok(())
            }
            Self::Deliveries { status } => {
                let answer = api.deliveries(status.as_str()).await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let rows: Vec<Vec<String>> = answer
                    .value
                    .into_iter()
                    .map(|d| {
                        vec![
                            d.id,
                            d.status,
                            d.items.to_string(),
                            d.attempts.to_string(),
                            china_time_opt(d.next_attempt_ms),
                            or_dash(d.last_error.as_deref()),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table(
                        &[
                            "id",
                            "status",
                            "items",
                            "attempts",
                            "next attempt",
                            "last error"
                        ],
                        &rows,
                        &[]
                    )
                );
                Ok(())
            }
            Self::Replay { id } => {
                let answer = api.replay_delivery(&id).await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                println!(
                    "{} is queued again ({})",
                    answer.value.id, answer.value.status
                );
                Ok(())
            }
        }
    }
}
