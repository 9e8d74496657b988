//! Node identities: dotted paths from the root of the tree.
//!
//! `nanhai` is the district, `nanhai.guicheng` a township under it,
//! `nanhai.guicheng.xiaping` a village. An id never changes: every event
//! carries its origin's id forever. The subtree test is a prefix test on whole
//! segments.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A validated node id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

/// Why a string is not a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeIdError {
    /// Empty id or empty segment (`a..b`, leading or trailing dot).
    #[error("node id {0:?} has an empty segment")]
    EmptySegment(String),
    /// A segment holds something other than `a-z`, `0-9` and `-`.
    #[error("node id {0:?} may only hold a-z, 0-9 and - in dot-separated segments")]
    BadCharacter(String),
    /// Longer than 255 bytes.
    #[error("node id {0:?} is longer than 255 characters")]
    TooLong(String),
}

impl NodeId {
    /// Parses and validates an id.
    pub fn new(s: impl Into<String>) -> Result<Self, NodeIdError> {
        let s = s.into();
        if s.len() > 255 {
            return Err(NodeIdError::TooLong(s));
        }
        for seg in s.split('.') {
            if seg.is_empty() {
                return Err(NodeIdError::EmptySegment(s));
            }
            if !seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                || seg.starts_with('-')
            {
                return Err(NodeIdError::BadCharacter(s));
            }
        }
        Ok(Self(s))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Depth in the tree: the root is 0.
    pub fn depth(&self) -> usize {
        self.0.bytes().filter(|&b| b == b'.').count()
    }

    /// The parent's id, or `None` for a root.
    pub fn parent(&self) -> Option<NodeId> {
        self.0.rfind('.').map(|i| NodeId(self.0[..i].to_owned()))
    }

    /// Is `self` in the subtree rooted at `root` (itself included)?
    pub fn is_in_subtree_of(&self, root: &NodeId) -> bool {
        root.subtree_names(&self.0)
    }

    /// Does `id` name this node or one below it (`id` itself, or `id`, a
    /// dot and more)? Asked of a stored name, `id` need not be valid.
    pub fn subtree_names(&self, id: &str) -> bool {
        id.strip_prefix(self.0.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    }

    /// Ancestors from the parent up to the root.
    pub fn ancestors(&self) -> impl Iterator<Item = NodeId> + '_ {
        std::iter::successors(self.parent(), NodeId::parent)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for NodeId {
    type Error = NodeIdError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> String {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).expect("valid id")
    }

    #[test]
    fn subtree_is_a_prefix_test_on_whole_segments() {
        let district = id("nanhai");
        let town = id("nanhai.guicheng");
        let village = id("nanhai.guicheng.xiaping");
        assert!(village.is_in_subtree_of(&town));
        assert!(village.is_in_subtree_of(&district));
        assert!(town.is_in_subtree_of(&town));
        assert!(!town.is_in_subtree_of(&village));
        assert!(!id("nanhai2").is_in_subtree_of(&district));
        assert!(!id("nanhai.guichengx").is_in_subtree_of(&town));
        // The same test of a stored name, which need not be valid.
        assert!(town.subtree_names("nanhai.guicheng.Not Valid"));
        assert!(!town.subtree_names("nanhai.guichengx"));
        assert!(!town.subtree_names(""));
    }

    #[test]
    fn parents_and_ancestors() {
        let v = id("nanhai.guicheng.xiaping");
        assert_eq!(v.parent(), Some(id("nanhai.guicheng")));
        assert_eq!(v.depth(), 2);
        assert_eq!(
            v.ancestors().collect::<Vec<_>>(),
            vec![id("nanhai.guicheng"), id("nanhai")]
        );
        assert_eq!(id("nanhai").parent(), None);
    }

    #[test]
    fn bad_ids_are_refused() {
        for bad in ["", "a..b", ".a", "a.", "Nanhai", "a b", "a.-b", "南海"] {
            assert!(NodeId::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(NodeId::new("x".repeat(256)).is_err());
        assert!(serde_json::from_str::<NodeId>("\"a..b\"").is_err());
    }
}
