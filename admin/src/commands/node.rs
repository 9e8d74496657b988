//! `node status`: who the node is and what it runs.

use clap::Subcommand;
use onewindow_client::Client;

use crate::output::{Output, fields};

/// `node ...`
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Node id, tier, software version, catalogue version in use, store
    /// backend, the state of the link to the parent and of the node's own
    /// certificate (GET /api/v1/health; no login needed).
    Status,
    /// Registers a new hall: prints a one-time enrolment token, usable for
    /// 24 hours, for the hall's `onewindow-node enrol --token TOKEN --url
    /// URL`. At the district (which holds the federation CA) for any hall
    /// below it; at a township for its own villages, which it then admits
    /// without a line in its configuration.
    /// The hall makes its own key; its parent must list it in
    /// `federation.children`.
    Register {
        /// The new hall's node id, e.g. nanhai.dali.newvillage.
        node: String,
    },
}

impl NodeCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        matches!(self, Self::Register { .. })
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::Status => {
                let answer = api.health().await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let h = answer.value;
                let mut rows = vec![
                    ("node", h.node_id),
                    ("tier", h.tier),
                    ("version", h.version),
                    ("catalogue", h.catalogue_version.to_string()),
                    ("store", h.store),
                ];
                if let Some(u) = h.uplink {
                    rows.push(("parent", u.parent));
                    rows.push(("uplink", u.state_en));
                }
                if let Some(c) = h.certificate {
                    let until = chrono::DateTime::from_timestamp_millis(c.not_after_ms)
                        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default();
                    rows.push((
                        "certificate",
                        format!("{}; valid until {until}; serial {}", c.state_en, c.serial),
                    ));
                }
                println!("{}", fields(&rows));
                Ok(())
            }
            Self::Register { node } => {
                let answer = api.register_node(&node).await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let t = answer.value;
                let until = chrono::DateTime::from_timestamp_millis(t.expires_ms)
                    .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default();
                println!(
                    "{}",
                    fields(&[
                        ("node", t.node.clone()),
                        ("token", t.token.clone()),
                        ("usable until", until),
                    ])
                );
                println!(
                    "At the hall, with its configuration: onewindow-node --config <file> enrol --token {} --url {}",
                    t.token,
                    api.base()
                );
                Ok(())
            }
        }
    }
}
