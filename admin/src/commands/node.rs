//! `node status [ID] | list | peers | register | revoke | decommission |
//! move`: who the node is and what it runs, one hall of its subtree, the
//! whole subtree, the trees it peers with, and halls joining, leaving and
//! moving in the tree.

use clap::Subcommand;
use onewindow_client::Client;

use crate::output::{Output, fields};

/// `node ...`
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Node id, tier, software version, catalogue version in use, store
    /// backend, the state of the link to the parent and of the node's own
    /// certificate (GET /api/v1/health; no login needed). With ID, one hall
    /// of the subtree as the fleet knows it (administrator or supervisor).
    Status {
        /// A hall of this node's subtree, e.g. nanhai.guicheng.xiaping.
        id: Option<String>,
    },
    /// This node and every node of its subtree: link, last seen, software
    /// and catalogue version, backlog, link round trip, clock skew,
    /// certificate expiry (GET /api/v1/admin/fleet).
    List,
    /// The trees this node's tree peers with (异地通办 across trees), as
    /// its root published their offers: enabled or not, their matters open
    /// for cross-district handling and the halls a clerk may name (GET
    /// /api/v1/peers; no login needed).
    Peers,
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
    /// Revokes a hall for the whole tree (administrator, at the root): its
    /// links are refused everywhere from the moment the revocation arrives;
    /// what it sent before stays. With --serial, only that certificate.
    Revoke {
        /// The hall's node id.
        node: String,
        /// One certificate serial (hex) instead of every certificate.
        #[arg(long, value_name = "HEX")]
        serial: Option<String>,
    },
    /// Closes a hall (administrator, at the root): it accepts no new case,
    /// its open cases are handed over to the hall given with --to (through
    /// the district, with their whole history; the result of each is handed
    /// out there), and it is revoked once it has handed up what it held.
    /// What it did stays in every store.
    Decommission {
        /// The hall that closes.
        node: String,
        /// The hall that takes over its open cases.
        #[arg(long, value_name = "HALL")]
        to: String,
        /// Why (1 to 500 characters; kept in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Moves a hall under another parent (administrator, at the root): the
    /// hall gets a new id under PARENT (registered here, with a one-time
    /// enrolment token for its new key and certificate), its open cases go
    /// to the new id, the staff accounts the district keeps for it move
    /// there, and the old id is closed and then revoked; its history stays
    /// under the old id.
    Move {
        /// The hall's node id now.
        node: String,
        /// Its new parent.
        #[arg(long, value_name = "PARENT")]
        to: String,
        /// Its last id segment under the new parent (default: as now).
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
        /// Why (1 to 500 characters; kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

impl NodeCommand {
    /// Whether the command needs a staff session.
    pub fn needs_login(&self) -> bool {
        matches!(
            self,
            Self::Register { .. }
                | Self::List
                | Self::Revoke { .. }
                | Self::Decommission { .. }
                | Self::Move { .. }
                | Self::Status { id: Some(_) }
        )
    }

    /// Runs the command.
    pub async fn run(self, api: &Client, out: Output) -> anyhow::Result<()> {
        match self {
            Self::Peers => {
                let answer = api.peers().await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let rows: Vec<Vec<String>> = answer
                    .value
                    .peers
                    .into_iter()
                    .map(|p| {
                        let matters: Vec<String> = p
                            .matters
                            .iter()
                            .map(|m| format!("{} {}", m.code, m.name_zh))
                            .collect();
                        let halls: Vec<String> = p
                            .halls
                            .iter()
                            .map(|h| {
                                if h.name_zh.is_empty() {
                                    h.id.clone()
                                } else {
                                    format!("{} {}", h.id, h.name_zh)
                                }
                            })
                            .collect();
                        vec![
                            p.root,
                            crate::output::yes_no(p.enabled),
                            p.catalogue_version.to_string(),
                            matters.join("; "),
                            halls.join("; "),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    crate::output::table(
                        &["tree", "enabled", "catalogue", "matters", "halls"],
                        &rows,
                        &[]
                    )
                );
                Ok(())
            }
            Self::List => {
                let answer = api.fleet().await?;
                if out.json {
                    out.print_json(&answer.json);
                    return Ok(());
                }
                let when = |ms: Option<i64>, f: &str| {
                    ms.and_then(chrono::DateTime::from_timestamp_millis)
                        .map(|d| d.format(f).to_string())
                        .unwrap_or_else(|| "-".into())
                };
                let num = |v: Option<i64>| v.map_or_else(|| "-".into(), |v| v.to_string());
                let rows: Vec<Vec<String>> = answer
                    .value
                    .into_iter()
                    .map(|n| {
                        vec![
                            n.node_id,
                            if n.name_zh.is_empty() {
                                "-".into()
                            } else {
                                n.name_zh
                            },
                            n.tier,
                            if n.revoked_at_ms.is_some() {
                                "revoked".into()
                            } else if n.connected {
                                "up".into()
                            } else {
                                "down".into()
                            },
                            when(n.last_seen_ms, "%Y-%m-%d %H:%M UTC"),
                            n.software.unwrap_or_else(|| "-".into()),
                            num(n.catalogue_version),
                            num(n.backlog),
                            num(n.latency_ms),
                            num(n.skew_ms),
                            when(n.cert_not_after_ms, "%Y-%m-%d"),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    crate::output::table(
                        &[
                            "node",
                            "hall",
                            "tier",
                            "link",
                            "last seen",
                            "software",
                            "catalogue",
                            "backlog",
                            "rtt ms",
                            "skew ms",
                            "certificate until",
                        ],
                        &rows,
                        &[]
                    )
                );
                Ok(())
            }
            Self::Status { id: Some(id) } => hall_status(api, out, id.trim()).await,
            Self::Revoke { node, serial } => {
                let node = node.trim();
                api.revoke_node(node, serial.as_deref().unwrap_or_default().trim())
                    .await?;
                if out.json {
                    out.print_json(&serde_json::json!({ "revoked": node, "serial": serial }));
                } else {
                    println!(
                        "{node}: revoked{}; its links are refused at every hall the revocation reaches",
                        serial
                            .map(|s| format!(" (certificate {s})"))
                            .unwrap_or_default()
                    );
                }
                Ok(())
            }
            Self::Decommission { node, to, reason } => {
                let (node, to) = (node.trim(), to.trim());
                api.decommission_node(node, to, &reason).await?;
                if out.json {
                    out.print_json(&serde_json::json!({ "closed": node, "heir": to }));
                } else {
                    println!(
                        "{node}: closed; its open cases go to {to} through the district, and it is revoked once it has handed up what it holds"
                    );
                }
                Ok(())
            }
            Self::Move {
                node,
                to,
                name,
                reason,
            } => {
                let node = node.trim();
                let name = match name.as_deref().map(str::trim) {
                    Some(n) => n.to_owned(),
                    None => node.rsplit('.').next().unwrap_or_default().to_owned(),
                };
                let new_id = format!("{}.{name}", to.trim());
                if new_id == node {
                    return Err(crate::output::Coded::new(
                        "same_place",
                        format!("{node} is already under {}", to.trim()),
                    )
                    .into());
                }
                let answer = api.register_node(&new_id).await?;
                api.decommission_node(node, &new_id, &reason).await?;
                // The accounts the district keeps for the hall go with it.
                let mut staff = Vec::new();
                for s in api.staff_of(node).await?.value {
                    if s.active && s.hall.as_deref() == Some(node) {
                        let change = onewindow_client::types::StaffChange {
                            hall: Some(node),
                            move_to: Some(&new_id),
                            ..Default::default()
                        };
                        api.change_staff(&s.username, &change).await?;
                        staff.push(s.username);
                    }
                }
                let t = answer.value;
                if out.json {
                    out.print_json(&serde_json::json!({
                        "moved": node,
                        "node": t.node,
                        "token": t.token,
                        "expires_ms": t.expires_ms,
                        "staff": staff,
                    }));
                    return Ok(());
                }
                let until = token_until(t.expires_ms);
                println!(
                    "{}",
                    fields(&[
                        ("old id", node.to_owned()),
                        ("new id", t.node.clone()),
                        ("token", t.token.clone()),
                        ("usable until", until),
                        (
                            "staff moved",
                            if staff.is_empty() {
                                "-".to_owned()
                            } else {
                                staff.join(", ")
                            },
                        ),
                    ])
                );
                println!(
                    "{node} is closed: its open cases go to {} through the district, and it is revoked once it has handed up what it holds.",
                    t.node
                );
                println!(
                    "At the hall, with a new data folder and its new configuration: onewindow-node --config <file> enrol --token {} --url {}",
                    t.token,
                    api.base()
                );
                Ok(())
            }
            Self::Status { id: None } => {
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
                let until = token_until(t.expires_ms);
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

/// When an enrolment token stops working, in UTC.
fn token_until(expires_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(expires_ms)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// One hall of the subtree as the fleet knows it.
async fn hall_status(api: &Client, out: Output, id: &str) -> anyhow::Result<()> {
    let answer = api.fleet().await?;
    let Some(i) = answer.value.iter().position(|n| n.node_id == id) else {
        return Err(crate::output::Coded::new(
            "unknown_hall",
            format!("{id} is not a hall of this node's subtree that it has heard from"),
        )
        .into());
    };
    if out.json {
        out.print_json(&answer.json[i]);
        return Ok(());
    }
    let n = &answer.value[i];
    let when = |ms: Option<i64>| crate::output::china_time_opt(ms);
    let num = |v: Option<i64>, unit: &str| v.map_or_else(|| "-".into(), |v| format!("{v}{unit}"));
    println!(
        "{}",
        fields(&[
            ("node", n.node_id.clone()),
            ("hall", format!("{} / {}", n.name_zh, n.name_en)),
            ("tier", n.tier.clone()),
            ("parent", n.parent.clone().unwrap_or_else(|| "-".into())),
            (
                "link",
                if n.revoked_at_ms.is_some() {
                    format!("revoked {}", when(n.revoked_at_ms))
                } else if n.connected {
                    "up".into()
                } else {
                    "down".into()
                }
            ),
            ("last seen", when(n.last_seen_ms)),
            ("software", n.software.clone().unwrap_or_else(|| "-".into())),
            ("catalogue", num(n.catalogue_version, "")),
            ("backlog", num(n.backlog, " entries")),
            ("round trip", num(n.latency_ms, " ms")),
            ("clock skew", num(n.skew_ms, " ms")),
            ("certificate until", when(n.cert_not_after_ms)),
            (
                "refusals",
                n.refusal_code.clone().unwrap_or_else(|| "-".into())
            ),
        ])
    );
    Ok(())
}
