//! A node that lost the tail of its own log takes it back from its parent
//! before it writes again.
//!
//! A node put back to an older copy of its store (or started on a blank
//! one with its old identity) would otherwise write new entries in places
//! of its own origin that its parent already holds with other contents: the
//! parent refuses them as forks, and case numbers are issued twice. So the
//! node first learns how far its own origin went ([`Recovery`]): from a
//! durable marker it keeps beside its store, and for certain from its
//! parent's Hello (`your_origin_head`). Until it holds that much again it
//! writes nothing of its own, and it asks its parent (its Hello says
//! `recovering`) to send, from its durable cursor and in the parent's
//! order, everything its subtree wrote as well as what is meant for it
//! ([`DownScope::Recovery`]): its own later entries depend on other
//! halls' entries it lost too (a village's case escalated, decided by the
//! township, handed out by the village).

use crate::NodeId;

/// What a parent's down flow carries on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownScope {
    /// What is meant for the child: rules from above and what concerns the
    /// cases of its subtree, less what its subtree wrote.
    Meant,
    /// What is meant for the child, and everything its subtree wrote (its
    /// own origin included): the child is recovering its log.
    Recovery,
}

impl DownScope {
    /// The scope a child's Hello asks for.
    pub fn asked(recovering: bool) -> Self {
        if recovering {
            Self::Recovery
        } else {
            Self::Meant
        }
    }

    /// Does the down flow to `child` carry an entry of `origin`? `meant`
    /// says whether the entry is meant for the child (its down route).
    pub fn carries(self, child: &NodeId, origin: &NodeId, meant: bool) -> bool {
        meant || (self == Self::Recovery && origin.is_in_subtree_of(child))
    }
}

/// What a child does after its parent's Hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloAction {
    /// Nothing of its own is missing: replicate and write as usual.
    Proceed,
    /// Its own log is missing entries the parent holds and this connection
    /// did not ask for them: end it and connect again saying `recovering`.
    Reconnect,
    /// This connection asked for the recovery: receive it.
    Receive,
    /// Nothing is missing after all (or no longer): writing may resume;
    /// end the connection and connect again without `recovering`, so that
    /// the parent stops sending the subtree's entries.
    Recovered,
}

/// A node's knowledge of its own origin's tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// `Some(target)`: the node must hold its own origin up to `target`
    /// before writing again.
    target: Option<u64>,
}

impl Recovery {
    /// At start: the store holds the node's own origin up to `own_head`;
    /// the node's marker says it once wrote up to `marker` (`None`: no
    /// marker). A marker above the store's head means the store was put
    /// back to an older copy: the node recovers before writing.
    pub fn at_start(own_head: u64, marker: Option<u64>) -> Self {
        Self {
            target: marker.filter(|&m| m > own_head),
        }
    }

    /// Must the node hold back its own writes?
    pub fn is_recovering(&self) -> bool {
        self.target.is_some()
    }

    /// The own sequence to reach, while recovering.
    pub fn target(&self) -> Option<u64> {
        self.target
    }

    /// The parent's Hello says it holds the node's own origin up to
    /// `your_origin_head`; the node holds `own_head`; `asked` says whether
    /// this connection's Hello said `recovering`.
    ///
    /// The parent's word is final: the target becomes `your_origin_head`
    /// even when the marker said more (what the parent never received is
    /// lost with the store, and waiting for it would block the hall for
    /// ever).
    pub fn parent_hello(
        &mut self,
        own_head: u64,
        your_origin_head: u64,
        asked: bool,
    ) -> HelloAction {
        if your_origin_head > own_head {
            self.target = Some(your_origin_head);
            if asked {
                HelloAction::Receive
            } else {
                HelloAction::Reconnect
            }
        } else if self.target.take().is_some() || asked {
            HelloAction::Recovered
        } else {
            HelloAction::Proceed
        }
    }

    /// The node now holds its own origin up to `own_head`. Returns true
    /// when that ends the recovery (the node may write again).
    pub fn applied(&mut self, own_head: u64) -> bool {
        match self.target {
            Some(t) if own_head >= t => {
                self.target = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).expect("valid id")
    }

    #[test]
    fn a_recovering_child_is_sent_its_subtree_as_well_as_what_is_meant_for_it() {
        let child = id("r.a");
        let meant = DownScope::asked(false);
        let recovery = DownScope::asked(true);
        assert_eq!((meant, recovery), (DownScope::Meant, DownScope::Recovery));
        for origin in ["r", "r.b"] {
            let o = id(origin);
            assert!(meant.carries(&child, &o, true));
            assert!(!meant.carries(&child, &o, false));
            assert!(recovery.carries(&child, &o, true));
            assert!(!recovery.carries(&child, &o, false), "{origin}");
        }
        for origin in ["r.a", "r.a.x"] {
            let o = id(origin);
            assert!(!meant.carries(&child, &o, false));
            assert!(recovery.carries(&child, &o, false), "{origin}");
        }
        // A sibling whose name starts the same is not in the subtree.
        assert!(!recovery.carries(&child, &id("r.ab"), false));
    }

    #[test]
    fn a_marker_above_the_store_holds_writes_back_from_the_start() {
        assert!(!Recovery::at_start(5, None).is_recovering());
        assert!(!Recovery::at_start(5, Some(5)).is_recovering());
        assert!(!Recovery::at_start(5, Some(3)).is_recovering());
        let r = Recovery::at_start(5, Some(9));
        assert!(r.is_recovering());
        assert_eq!(r.target(), Some(9));
        // A blank store without a marker is a new hall.
        assert!(!Recovery::at_start(0, None).is_recovering());
    }

    #[test]
    fn the_parents_hello_starts_or_ends_a_recovery() {
        // Nothing missing.
        let mut r = Recovery::at_start(5, None);
        assert_eq!(r.parent_hello(5, 5, false), HelloAction::Proceed);
        assert_eq!(r.parent_hello(5, 0, false), HelloAction::Proceed);
        // The parent holds more than the store: reconnect and ask for it.
        assert_eq!(r.parent_hello(5, 8, false), HelloAction::Reconnect);
        assert!(r.is_recovering());
        assert_eq!(r.target(), Some(8));
        // The next connection asks for it and receives it.
        assert_eq!(r.parent_hello(5, 8, true), HelloAction::Receive);
        assert!(!r.applied(7));
        assert!(r.is_recovering());
        assert!(r.applied(8), "the target is reached");
        assert!(!r.is_recovering());
        assert!(!r.applied(9), "ends once");
    }

    #[test]
    fn the_parent_has_the_last_word_on_the_target() {
        // The marker says 9, the parent holds 7: recover up to 7.
        let mut r = Recovery::at_start(5, Some(9));
        assert_eq!(r.parent_hello(5, 7, true), HelloAction::Receive);
        assert_eq!(r.target(), Some(7));
        assert!(r.applied(7));
        // The marker says 9, the parent holds no more than the store: the
        // rest was lost with the store; writing resumes.
        let mut r = Recovery::at_start(5, Some(9));
        assert_eq!(r.parent_hello(5, 5, true), HelloAction::Recovered);
        assert!(!r.is_recovering());
        // A connection that asked for a recovery no longer needed ends, so
        // that the next one asks for the usual scope.
        let mut r = Recovery::at_start(5, None);
        assert_eq!(r.parent_hello(6, 6, true), HelloAction::Recovered);
    }
}
