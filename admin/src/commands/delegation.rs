//! `delegation grant | revoke`: who may receive or decide a matter, changed
//! by a new catalogue version under the hood (the matter's version goes up,
//! the change is listed, the version is signed and flows down the tree).

use clap::{ArgGroup, Args, Subcommand};
use onewindow_client::Client;
use onewindow_domain::catalogue::DelegationRule;

use crate::catalogue_files::{self, rule_text};
use crate::output::{Coded, Output};

/// `delegation ...`
#[derive(Debug, Subcommand)]
pub enum DelegationCommand {
    /// Lets a tier or a named hall receive (--receive) or decide
    /// (--decide) a matter, at once or from a date.
    Grant(Change),
    /// Takes receiving or deciding a matter from a tier or a named hall,
    /// at once or from a date. Cases already accepted finish where they
    /// are.
    Revoke(Change),
}

/// One change of a matter's delegation.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("who").required(true).args(["tier", "hall"])))]
#[command(group(ArgGroup::new("power").required(true).args(["receive", "decide"])))]
pub struct Change {
    /// The matter's code, e.g. NH-GA-003.
    matter: String,
    /// A tier of the tree: district, township or village.
    #[arg(long, value_name = "TIER")]
    tier: Option<String>,
    /// One hall by its node id, e.g. nanhai.guicheng.xiaping.
    #[arg(long, value_name = "ID")]
    hall: Option<String>,
    /// Receiving the matter at the window.
    #[arg(long)]
    receive: bool,
    /// Deciding it.
    #[arg(long)]
    decide: bool,
    /// The first day (China time, YYYY-MM-DD) the change applies; at once
    /// when absent.
    #[arg(long, value_name = "DATE")]
    from: Option<chrono::NaiveDate>,
}

impl DelegationCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        true
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        let (grant, c) = match self {
            Self::Grant(c) => (true, c),
            Self::Revoke(c) => (false, c),
        };
        change(api, out, grant, c).await
    }
}

/// A tier name or a node id: lowercase letters, digits, `-` and `_`, in
/// dot-separated parts for a node id.
fn well_formed(s: &str, dotted: bool) -> bool {
    !s.is_empty()
        && s.split('.').count() <= if dotted { 8 } else { 1 }
        && s.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        })
}

/// The rule with the change made; whether it changed anything.
fn apply(rule: &mut DelegationRule, c: &Change, grant: bool) -> bool {
    let set = match (&c.tier, c.receive) {
        (Some(_), true) => &mut rule.receive_tiers,
        (Some(_), false) => &mut rule.decide_tiers,
        (None, true) => &mut rule.receive_halls,
        (None, false) => &mut rule.decide_halls,
    };
    let name = c
        .tier
        .clone()
        .or_else(|| c.hall.clone())
        .unwrap_or_default();
    if grant {
        set.insert(name)
    } else {
        set.remove(&name)
    }
}

async fn change(api: &Client, out: Output, grant: bool, c: Change) -> anyhow::Result<()> {
    let who = c.tier.as_deref().or(c.hall.as_deref()).unwrap_or_default();
    if !well_formed(who, c.hall.is_some()) {
        return Err(Coded::new(
            if c.hall.is_some() {
                "bad_node_id"
            } else {
                "unknown_tier"
            },
            format!("{who:?} is not a tier name or a hall's node id"),
        )
        .into());
    }
    if let Some(t) = &c.tier {
        // The tiers of the tree, as the node's configuration names them.
        let tiers = api.health().await?.value.tiers;
        if !tiers.is_empty() && !tiers.contains(t) {
            return Err(Coded::new(
                "unknown_tier",
                format!(
                    "the tree has no tier {t}; its tiers are {}",
                    tiers.join(", ")
                ),
            )
            .into());
        }
    }
    let mut cat = catalogue_files::in_use(api).await?;
    let code = c.matter.trim().to_owned();
    let Some(m) = cat.matters.get_mut(&code) else {
        return Err(Coded::new(
            "unknown_matter",
            format!("catalogue version {} has no matter {code}", cat.version),
        )
        .into());
    };
    let mut rule = match c.from {
        Some(day) => m.delegation.on(day),
        None => m.delegation.current(),
    };
    let before = rule.clone();
    if !apply(&mut rule, &c, grant) {
        let verb = if c.receive { "receive" } else { "decide" };
        let state = if grant {
            "already may"
        } else {
            "already may not"
        };
        if !out.json {
            println!(
                "{code} {}: {who} {state} {verb} it ({}); nothing published",
                m.name_zh,
                rule_text(&before)
            );
        } else {
            out.print_json(&serde_json::json!({ "changed": false, "matter": code }));
        }
        return Ok(());
    }
    m.delegation = m.delegation.changed(rule, c.from);
    m.version += 1;
    crate::commands::catalogue::publish_catalogue(api, out, cat).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_and_node_ids_are_checked_before_anything_is_sent() {
        assert!(well_formed("village", false));
        assert!(!well_formed("nanhai.guicheng", false));
        assert!(well_formed("nanhai.guicheng.xiaping", true));
        assert!(!well_formed("Nanhai", true));
        assert!(!well_formed("nanhai..x", true));
        assert!(!well_formed("", false));
    }
}
