//! `node status`: who the node is and what it runs.

use clap::Subcommand;
use onewindow_client::Client;

use crate::output::{Output, fields};

/// `node ...`
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Node id, tier, software version, catalogue version in use and store
    /// backend (GET /api/v1/health; no login needed).
    Status,
}

impl NodeCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        false
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
                println!(
                    "{}",
                    fields(&[
                        ("node", h.node_id),
                        ("tier", h.tier),
                        ("version", h.version),
                        ("catalogue", h.catalogue_version.to_string()),
                        ("store", h.store),
                    ])
                );
                Ok(())
            }
        }
    }
}
