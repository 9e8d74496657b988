//! Topology files: which halls a federation has, where they sit in the tree
//! and where they run.
//!
//! A topology file is TOML (the files in `configs/topologies/` document the
//! format in their heading comment):
//!
//! ```toml
//! [tree]
//! tiers = ["district", "township", "village"]
//! host = "127.0.0.1"            # default host of every node
//!
//! [[node]]
//! id = "nanhai"
//! hall_code = "NH"
//! hall_name_zh = "佛山市南海区行政服务中心"
//! hall_name_en = "Nanhai District Administrative Service Centre"
//!
//! [[node]]
//! id = "nanhai.guicheng"
//! hall_code = "NHGC"
//! hall_name_zh = "桂城街道行政服务中心"
//! hall_name_en = "Guicheng Sub-district Administrative Service Centre"
//! children = 3                  # generates nanhai.guicheng.c01 .. c03
//! child_name_zh = "桂城街道第{n}村（社区）党群服务中心"
//! child_name_en = "Guicheng Village {n} Service Centre"
//! ```
//!
//! [`Topology::parse`] expands generated children, checks the whole tree
//! (one root, every parent present, ids and hall codes valid and unique,
//! no node deeper than the tiers) and orders the nodes parents first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use federation::NodeId;
use serde::Deserialize;

/// Why a topology file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The file cannot be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape.
    #[error("topology file: {0}")]
    Syntax(#[from] toml::de::Error),
    /// The tree it describes is not usable.
    #[error("topology: {0}")]
    Invalid(String),
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    tree: TreeForm,
    #[serde(default, rename = "node")]
    nodes: Vec<NodeForm>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TreeForm {
    tiers: Vec<String>,
    #[serde(default)]
    host: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeForm {
    id: String,
    hall_code: String,
    hall_name_zh: String,
    hall_name_en: String,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    http_port: Option<u16>,
    #[serde(default)]
    quic_port: Option<u16>,
    #[serde(default)]
    children: Option<u32>,
    #[serde(default)]
    child_prefix: Option<String>,
    #[serde(default)]
    child_name_zh: Option<String>,
    #[serde(default)]
    child_name_en: Option<String>,
}

/// One hall of a topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Node id: the dotted path from the root.
    pub id: NodeId,
    /// Tier name (from the node's depth).
    pub tier: String,
    /// Hall code printed in case numbers.
    pub hall_code: String,
    /// Hall name in Chinese.
    pub hall_name_zh: String,
    /// Hall name in English.
    pub hall_name_en: String,
    /// Host the node runs on, as its children and users reach it.
    pub host: String,
    /// Fixed HTTP port, if the file gives one.
    pub http_port: Option<u16>,
    /// Fixed QUIC port, if the file gives one.
    pub quic_port: Option<u16>,
}

/// A whole, checked topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Tier names from the root down.
    pub tiers: Vec<String>,
    /// Every node, parents before children (and otherwise in file order).
    pub nodes: Vec<NodeSpec>,
}

/// The host of nodes that name none.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The most children one `children = N` may generate: their numbers are
/// at most three digits (c001 .. c999), and so are their hall codes' tails.
pub const MAX_CHILDREN: u32 = 999;

/// The most halls one topology may hold, generated children included: a
/// province's tree (about 1,600 townships and 26,000 villages in
/// Guangdong) fits with room to spare, and a file that asks for more is
/// refused before anything is generated rather than filling the memory.
pub const MAX_NODES: usize = 50_000;

impl Topology {
    /// Reads and checks a topology file.
    pub fn load(path: &Path) -> Result<Self, TopologyError> {
        let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and checks a topology from TOML text.
    pub fn parse(text: &str) -> Result<Self, TopologyError> {
        let file: FileForm = toml::from_str(text)?;
        let invalid = |s: String| TopologyError::Invalid(s);
        if file.tree.tiers.is_empty() {
            return Err(invalid("[tree] tiers must name at least one tier".into()));
        }
        let default_host = file.tree.host.unwrap_or_else(|| DEFAULT_HOST.to_owned());
        let mut total = file.nodes.len();
        for n in &file.nodes {
            let count = n.children.unwrap_or(0);
            if count > MAX_CHILDREN {
                return Err(invalid(format!(
                    "{}: children = {count} is more than {MAX_CHILDREN}",
                    n.id
                )));
            }
            total += count as usize;
        }
        if total > MAX_NODES {
            return Err(invalid(format!(
                "the tree would have {total} halls, more than {MAX_NODES}"
            )));
        }
        let mut nodes: Vec<NodeSpec> = Vec::new();
        for n in &file.nodes {
            let id = NodeId::new(n.id.clone()).map_err(|e| invalid(e.to_string()))?;
            let host = n.host.clone().unwrap_or_else(|| default_host.clone());
            let spec = NodeSpec {
                tier: tier_of(&file.tree.tiers, &id)?,
                id: id.clone(),
                hall_code: n.hall_code.clone(),
                hall_name_zh: n.hall_name_zh.clone(),
                hall_name_en: n.hall_name_en.clone(),
                host: host.clone(),
                http_port: n.http_port,
                quic_port: n.quic_port,
            };
            nodes.push(spec);
            let Some(count) = n.children else {
                if n.child_prefix.is_some()
                    || n.child_name_zh.is_some()
                    || n.child_name_en.is_some()
                {
                    return Err(invalid(format!(
                        "{}: child_prefix and child names need children = N",
                        n.id
                    )));
                }
                continue;
            };
            let prefix = n.child_prefix.as_deref().unwrap_or("c");
            let width = if count > 99 { 3 } else { 2 };
            for k in 1..=count {
                let num = format!("{k:0width$}");
                let child = NodeId::new(format!("{}.{prefix}{num}", n.id))
                    .map_err(|e| invalid(e.to_string()))?;
                let name = |pattern: &Option<String>, default: String| {
                    pattern.as_ref().map_or(default, |p| p.replace("{n}", &num))
                };
                nodes.push(NodeSpec {
                    tier: tier_of(&file.tree.tiers, &child)?,
                    id: child.clone(),
                    hall_code: format!("{}{num}", n.hall_code),
                    hall_name_zh: name(
                        &n.child_name_zh,
                        format!("{}第{num}分中心", n.hall_name_zh),
                    ),
                    hall_name_en: name(
                        &n.child_name_en,
                        format!("{} branch {num}", n.hall_name_en),
                    ),
                    host: host.clone(),
                    http_port: None,
                    quic_port: None,
                });
            }
        }
        let topology = Topology {
            tiers: file.tree.tiers,
            nodes: parents_first(nodes),
        };
        topology.check()?;
        Ok(topology)
    }

    fn check(&self) -> Result<(), TopologyError> {
        let invalid = |s: String| Err(TopologyError::Invalid(s));
        let roots: Vec<&NodeSpec> = self.nodes.iter().filter(|n| n.id.depth() == 0).collect();
        if roots.len() != 1 {
            return invalid(format!(
                "exactly one root node is needed, found {}",
                roots.len()
            ));
        }
        let mut ids = BTreeSet::new();
        let mut codes = BTreeMap::new();
        for n in &self.nodes {
            if !ids.insert(n.id.as_str()) {
                return invalid(format!("node {} appears twice", n.id));
            }
            if let Some(p) = n.id.parent()
                && !ids.contains(p.as_str())
            {
                return invalid(format!("node {} has no parent {p} in the file", n.id));
            }
            let hc = &n.hall_code;
            if !(2..=8).contains(&hc.len())
                || !hc
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return invalid(format!(
                    "node {}: hall code {hc:?} must be 2 to 8 characters A-Z, 0-9",
                    n.id
                ));
            }
            if let Some(other) = codes.insert(hc.clone(), n.id.as_str()) {
                return invalid(format!("nodes {other} and {} share hall code {hc}", n.id));
            }
            if n.host.trim().is_empty() {
                return invalid(format!("node {}: empty host", n.id));
            }
        }
        Ok(())
    }

    /// The root node.
    pub fn root(&self) -> &NodeSpec {
        // `check` made sure there is exactly one, and it sorts first.
        &self.nodes[0]
    }

    /// A node by id.
    pub fn node(&self, id: &str) -> Option<&NodeSpec> {
        self.nodes.iter().find(|n| n.id.as_str() == id)
    }

    /// The ids of a node's children, in order.
    pub fn children_of(&self, id: &NodeId) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.id.parent().as_ref() == Some(id))
            .map(|n| n.id.to_string())
            .collect()
    }

    /// How many nodes each tier has, from the root down.
    pub fn tier_counts(&self) -> Vec<(String, usize)> {
        self.tiers
            .iter()
            .enumerate()
            .map(|(depth, t)| {
                let n = self.nodes.iter().filter(|n| n.id.depth() == depth).count();
                (t.clone(), n)
            })
            .collect()
    }
}

fn tier_of(tiers: &[String], id: &NodeId) -> Result<String, TopologyError> {
    tiers.get(id.depth()).cloned().ok_or_else(|| {
        TopologyError::Invalid(format!(
            "node {id} is deeper in the tree than there are tiers ({})",
            tiers.len()
        ))
    })
}

/// A stable sort by depth: parents first, file order otherwise.
fn parents_first(mut nodes: Vec<NodeSpec>) -> Vec<NodeSpec> {
    nodes.sort_by_key(|n| n.id.depth());
    nodes
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const SMALL: &str = r#"
        [tree]
        tiers = ["district", "township", "village"]

        [[node]]
        id = "nanhai.guicheng"
        hall_code = "GC"
        hall_name_zh = "桂城"
        hall_name_en = "Guicheng"
        children = 2
        child_name_zh = "桂城{n}村"

        [[node]]
        id = "nanhai"
        hall_code = "NH"
        hall_name_zh = "南海"
        hall_name_en = "Nanhai"
        host = "10.0.0.1"
    "#;

    #[test]
    fn children_are_generated_and_parents_come_first() {
        let t = Topology::parse(SMALL).unwrap();
        let ids: Vec<&str> = t.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "nanhai",
                "nanhai.guicheng",
                "nanhai.guicheng.c01",
                "nanhai.guicheng.c02"
            ]
        );
        let v = t.node("nanhai.guicheng.c02").unwrap();
        assert_eq!(v.tier, "village");
        assert_eq!(v.hall_code, "GC02");
        assert_eq!(v.hall_name_zh, "桂城02村");
        assert_eq!(v.hall_name_en, "Guicheng branch 02");
        assert_eq!(v.host, DEFAULT_HOST);
        assert_eq!(t.root().host, "10.0.0.1");
        assert_eq!(
            t.children_of(&t.root().id),
            vec!["nanhai.guicheng".to_owned()]
        );
        assert_eq!(
            t.tier_counts(),
            vec![
                ("district".to_owned(), 1),
                ("township".to_owned(), 1),
                ("village".to_owned(), 2)
            ]
        );
    }

    #[test]
    fn broken_trees_are_refused() {
        let bad = |text: &str, needle: &str| {
            let e = Topology::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        };
        let node = |id: &str, code: &str| {
            format!(
                "[[node]]\nid = \"{id}\"\nhall_code = \"{code}\"\nhall_name_zh = \"x\"\nhall_name_en = \"x\"\n"
            )
        };
        let tree = "[tree]\ntiers = [\"district\", \"township\"]\n";
        bad(&format!("{tree}{}", node("a.b", "AB")), "exactly one root");
        bad(
            &format!("{tree}{}{}", node("a", "AA"), node("b", "BB")),
            "exactly one root",
        );
        bad(
            &format!("{tree}{}{}", node("a", "AA"), node("a.b.c", "CC")),
            "deeper",
        );
        bad(
            &format!("{tree}{}{}", node("a", "AA"), node("a.b", "AA")),
            "share hall code",
        );
        bad(&format!("{tree}{}", node("a", "lower")), "hall code");
        bad(
            &format!(
                "{tree}{}{}{}",
                node("a", "AA"),
                node("a.b", "BB"),
                node("a.b", "CC")
            ),
            "twice",
        );
        bad(&format!("{tree}{}", node("A", "AA")), "a-z");
        bad(&format!("{tree}{}extra = 1\n", node("a", "AA")), "unknown");
        // A count that would fill the memory is refused before anything
        // is generated: per node, and over the whole file.
        bad(
            &format!("{tree}{}children = 4000000000\n", node("a", "AA")),
            "more than 999",
        );
        let mut many = format!("{tree}{}", node("a", "AA"));
        for k in 0..60 {
            many.push_str(&node(&format!("a.t{k}"), &format!("T{k}")));
            many.push_str("children = 999\n");
        }
        bad(&many, "more than 50000");
    }

    #[test]
    fn the_shipped_topologies_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/topologies");
        let small = Topology::load(&dir.join("small.toml")).unwrap();
        assert_eq!(small.nodes.len(), 7);
        let nanhai = Topology::load(&dir.join("nanhai.toml")).unwrap();
        let counts: Vec<usize> = nanhai.tier_counts().into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts, [1, 15, 269]);
        let city = Topology::load(&dir.join("foshan.toml")).unwrap();
        let counts: Vec<usize> = city.tier_counts().into_iter().map(|(_, n)| n).collect();
        assert_eq!(counts, [1, 5, 15, 60]);
        let fanin = Topology::load(&dir.join("fanin-200.toml")).unwrap();
        assert_eq!(fanin.nodes.len(), 202);
    }
}
