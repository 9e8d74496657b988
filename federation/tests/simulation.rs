//! The replication core driven through a simulated tree and network: links
//! break and come back, messages are delayed, duplicated and delivered late
//! across reconnects, nodes crash and lose what was not yet durable, and a
//! node is now and then restored from an older copy of its store, all on a
//! simulated clock. Many seeds a run; after the faults stop every invariant
//! of the design must hold.
//!
//! What the nodes write is cases and rules. A case is a stream named after
//! its accepting hall (`r.a.x/c3`); its versions are written in turn by the
//! accepting hall (odd ones) and by one of its ancestors (even ones: a
//! township deciding a village's case), each only once it holds the one
//! before. An entry's scope is its case's accepting hall, and a parent
//! sends a child only what is meant for it: rules from the root, and the
//! versions written above for cases accepted in the child's subtree, never
//! a sibling branch's. A case's versions must apply in order everywhere,
//! at the accepting hall above all (a `DownReceiver` holds back what comes
//! early; an up flow is cut before a version whose predecessor has not
//! come down yet, as the node's apply refuses it).
//!
//! A restore puts the node's whole store back, its own entries included;
//! its marker of its own head (kept outside the store, like the node's
//! `own-head` file; here saved at every sync, so never behind what left
//! the node) survives, so the production [`Recovery`] holds its
//! writes back while its Hello says `recovering` and the parent's down flow
//! ([`DownScope::Recovery`]) brings back the tail of its own log and its
//! subtree's; a recovering parent turns its children away. An own entry
//! lost that had reached no one (not even the parent) is lost for good and
//! counted apart. Restores outside what production covers (see
//! `ARCHITECTURE.md`: own entries that reached a child or another node but
//! not the parent durably, or a parent put back while a child recovers from
//! it) are not made; the run counts them. Checked throughout: no node ever
//! writes an own sequence another node holds with another hash (no fork),
//! and at the end nothing acknowledged is lost and every node holds exactly
//! what is meant for it.
//!
//! `ONEWINDOW_SIM_SEEDS=n` runs seeds `0..n` (default [`DEFAULT_SEEDS`]);
//! `ONEWINDOW_SIM_SEED=s` runs seed `s` alone, and a failing seed prints the
//! command that does so.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use onewindow_federation::replication::{
    Accepted, Batch, Direction, DownLookup, DownReceiver, DownScope, HelloAction, Recovery,
    Refusal, Sender, SenderConfig, UpLookup, UpReceiver, WireEntry,
};
use onewindow_federation::{EntryHash, LogEntry, NodeId, log::verify_chain};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const IDS: [&str; 6] = ["r", "r.a", "r.b", "r.a.x", "r.a.y", "r.b.z"];

/// Seeds a run when `ONEWINDOW_SIM_SEEDS` is not set: about 15 s in a debug
/// build on two cores (10,000 seeds took 13 minutes in debug, 2 to 3 in
/// release, on two busy cores).
const DEFAULT_SEEDS: u64 = 200;

/// A case is closed after this many versions.
const CASE_VERSIONS: u64 = 4;

/// A hall accepts a new case only while fewer than this many of its cases
/// are open.
const OPEN_CASES: usize = 12;

/// The accepting hall of a case stream (`r.a.x/c3`): the entry's scope.
fn scope_of(stream: &str) -> &str {
    stream.split('/').next().unwrap_or_default()
}

/// Is `node` (a dotted path) `root` or below it?
fn within(node: &str, root: &str) -> bool {
    node == root || (node.starts_with(root) && node.as_bytes().get(root.len()) == Some(&b'.'))
}

/// Who writes `version` of a case: the accepting hall the odd ones, one of
/// its ancestors (by a hash of the case and version) the even ones.
fn writer_of(stream: &str, version: u64) -> &str {
    let scope = scope_of(stream);
    let ancestors = scope.matches('.').count();
    if version % 2 == 1 || ancestors == 0 {
        return scope;
    }
    let h = stream.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) ^ version.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let (cut, _) = scope
        .match_indices('.')
        .nth((h % ancestors as u64) as usize)
        .unwrap_or_default();
    &scope[..cut]
}

#[derive(Clone)]
struct Stored {
    local_seq: u64,
    entry: LogEntry,
    stream: Option<String>,
    stream_seq: u64,
}

impl Stored {
    /// Where it may go down: its case's accepting hall (`None`: a rule,
    /// for every node).
    fn scope(&self) -> Option<&str> {
        self.stream.as_deref().map(scope_of)
    }
}

/// What a node holds, derived from its log in the same transactions.
#[derive(Default)]
struct Held {
    heads: BTreeMap<NodeId, (u64, EntryHash)>,
    streams: BTreeMap<String, u64>,
    hashes: HashMap<(NodeId, u64), EntryHash>,
    /// Open cases whose next version is this node's to write.
    turns: BTreeSet<String>,
    /// The highest case number this node accepted.
    last_case: u64,
    /// Cases accepted here and not closed yet.
    own_open: usize,
}

impl Held {
    fn add(&mut self, me: &NodeId, s: &Stored) {
        if let Some(name) = &s.stream {
            let h = self.streams.entry(name.clone()).or_default();
            assert_eq!(
                s.stream_seq,
                *h + 1,
                "{me}: stream {name} applied out of order"
            );
            *h = s.stream_seq;
            if s.stream_seq < CASE_VERSIONS && writer_of(name, s.stream_seq + 1) == me.as_str() {
                self.turns.insert(name.clone());
            } else {
                self.turns.remove(name);
            }
            if scope_of(name) == me.as_str() {
                if let Some(n) = name.rsplit("/c").next().and_then(|n| n.parse().ok()) {
                    self.last_case = self.last_case.max(n);
                }
                if s.stream_seq == 1 {
                    self.own_open += 1;
                }
                if s.stream_seq == CASE_VERSIONS {
                    self.own_open -= 1;
                }
            }
        }
        let e = &s.entry;
        let prev = self
            .heads
            .get(&e.origin)
            .copied()
            .unwrap_or((0, EntryHash::GENESIS));
        assert!(
            e.origin_seq > prev.0,
            "{me}: {}#{} applied twice",
            e.origin,
            e.origin_seq
        );
        self.heads.insert(e.origin.clone(), (e.origin_seq, e.hash));
        self.hashes.insert((e.origin.clone(), e.origin_seq), e.hash);
    }
}

/// A store that answers every held entry's hash (the fork check below the
/// head as well as at it).
impl UpLookup for Held {
    fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash) {
        self.heads
            .get(origin)
            .copied()
            .unwrap_or((0, EntryHash::GENESIS))
    }
    fn held_hash(&self, origin: &NodeId, seq: u64) -> Option<EntryHash> {
        self.hashes.get(&(origin.clone(), seq)).copied()
    }
}

/// A node holds only some of an ancestor's entries (those meant for it), so
/// `has` asks for the entry itself, not for the origin's head.
impl DownLookup for Held {
    fn has(&self, origin: &NodeId, origin_seq: u64) -> bool {
        self.hashes.contains_key(&(origin.clone(), origin_seq))
    }
    fn stream_head(&self, stream: &str) -> u64 {
        self.streams.get(stream).copied().unwrap_or(0)
    }
    fn held_hash(&self, origin: &NodeId, origin_seq: u64) -> Option<EntryHash> {
        self.hashes.get(&(origin.clone(), origin_seq)).copied()
    }
    fn origin_head(&self, origin: &NodeId) -> (u64, EntryHash) {
        UpLookup::origin_head(self, origin)
    }
}

/// An older copy of a node's durable state.
#[derive(Clone, Default)]
struct Backup {
    /// The log's length then.
    len: usize,
    /// The cursors then.
    have: BTreeMap<NodeId, u64>,
}

/// An acknowledgement waiting for its batch to be durable.
struct PendingAck {
    li: usize,
    to_parent: bool,
    conn: u64,
    upto: u64,
}

struct Node {
    id: NodeId,
    /// The committed log, by local sequence. `None` is an entry lost to a
    /// restore: its number is not reused, since the peers count this node's
    /// log by it.
    log: Vec<Option<Stored>>,
    /// How much of the log is durable: a crash loses the rest.
    synced: usize,
    held: Held,
    /// Per peer: the peer's log held up to here, committed ...
    have: BTreeMap<NodeId, u64>,
    /// ... and durable (what a Hello carries).
    synced_have: BTreeMap<NodeId, u64>,
    /// Sent once what they acknowledge is durable, on the connection that
    /// brought it (if it is still up).
    unsynced_acks: Vec<PendingAck>,
    backup: Backup,
    /// Own entries ever written, lost or not: every body differs, so an own
    /// place written again after a loss is another entry (a fork, if the
    /// lost one had left the node).
    writes: u64,
    /// The production state of the node's own log: are its writes held back
    /// until its parent has given back the tail it lost?
    recovery: Recovery,
    /// The own head the node knows it wrote, kept outside the store (the
    /// `own-head` file): a restore leaves it as it was.
    marker: u64,
    /// The connection to the parent that carries the recovery.
    recovery_conn: Option<u64>,
    /// The highest own sequence the parent acknowledged (and still holds):
    /// never lost. (The simulation's record, not the node's.)
    acked_own: u64,
    /// The own sequence the parent held durably when the node was last put
    /// back: the recovery must take it back. (The simulation's record.)
    must_recover: u64,
    /// Per child: what the down flow carries on its connection.
    down_scope: BTreeMap<NodeId, DownScope>,
    /// Senders per peer (to the parent: up flow; to a child: down flow).
    senders: BTreeMap<NodeId, Sender>,
    up_rx: BTreeMap<NodeId, UpReceiver>,
    down_rx: Option<DownReceiver>,
}

impl Node {
    fn new(id: &str) -> Self {
        Self {
            id: NodeId::new(id).unwrap(),
            log: Vec::new(),
            synced: 0,
            held: Held::default(),
            have: BTreeMap::new(),
            synced_have: BTreeMap::new(),
            unsynced_acks: Vec::new(),
            backup: Backup::default(),
            writes: 0,
            recovery: Recovery::at_start(0, None),
            marker: 0,
            recovery_conn: None,
            acked_own: 0,
            must_recover: 0,
            down_scope: BTreeMap::new(),
            senders: BTreeMap::new(),
            up_rx: BTreeMap::new(),
            down_rx: None,
        }
    }

    fn is_root(&self) -> bool {
        self.id.depth() == 0
    }

    /// What the senders may send: only what is durable leaves the node.
    fn durable_head(&self) -> u64 {
        self.synced as u64
    }

    fn own(&self) -> (u64, EntryHash) {
        self.held
            .heads
            .get(&self.id)
            .copied()
            .unwrap_or((0, EntryHash::GENESIS))
    }

    /// The highest sequence of `origin` in the durable part of the log.
    fn durable_head_of(&self, origin: &NodeId) -> u64 {
        self.log[..self.synced]
            .iter()
            .flatten()
            .filter(|s| &s.entry.origin == origin)
            .map(|s| s.entry.origin_seq)
            .max()
            .unwrap_or(0)
    }

    fn store(&mut self, entry: LogEntry, stream: Option<String>, stream_seq: u64) {
        let s = Stored {
            local_seq: self.log.len() as u64 + 1,
            entry,
            stream,
            stream_seq,
        };
        self.held.add(&self.id, &s);
        self.log.push(Some(s));
    }

    /// Writes one own entry, unless the node is recovering its own log (the
    /// store refuses own writes then) or has nothing to write: a rule (the
    /// root only), a new case accepted here (at most [`OPEN_CASES`] open),
    /// or the next version of a case whose turn is this node's. Returns
    /// `Err` when held back, `Ok(None)` when idle, else the sequence
    /// written.
    fn write(&mut self, rng: &mut StdRng) -> Result<Option<u64>, ()> {
        if self.recovery.is_recovering() {
            return Err(());
        }
        let (seq, hash) = self.own();
        let me = self.id.as_str();
        let (stream, stream_seq) = if self.is_root() && rng.gen_ratio(1, 4) {
            (None, 0)
        } else {
            let turns: Vec<&String> = self.held.turns.iter().collect();
            let room = self.held.own_open < OPEN_CASES;
            if room && (turns.is_empty() || rng.gen_ratio(1, 3)) {
                (Some(format!("{me}/c{}", self.held.last_case + 1)), 1)
            } else if turns.is_empty() {
                return Ok(None);
            } else {
                let s = turns[rng.gen_range(0..turns.len())];
                (Some(s.clone()), self.held.streams[s] + 1)
            }
        };
        self.writes += 1;
        let body = format!("{}#{} w{}", self.id, seq + 1, self.writes);
        let entry = LogEntry::next(self.id.clone(), seq, hash, body);
        self.store(entry, stream, stream_seq);
        Ok(Some(seq + 1))
    }

    /// Everything committed becomes durable; returns the acknowledgements
    /// that may now go.
    fn sync(&mut self) -> Vec<PendingAck> {
        self.synced = self.log.len();
        self.synced_have.clone_from(&self.have);
        std::mem::take(&mut self.unsynced_acks)
    }

    fn rebuild(&mut self) {
        let mut held = Held::default();
        for s in self.log.iter().flatten() {
            held.add(&self.id, s);
        }
        self.held = held;
    }

    /// The node starts (again): its recovery state comes from its store and
    /// its marker. The root has no parent to recover from and keeps no
    /// marker.
    fn start(&mut self) {
        self.recovery = if self.is_root() {
            Recovery::at_start(0, None)
        } else {
            Recovery::at_start(self.own().0, Some(self.marker))
        };
    }

    /// A crash: what was not durable is gone. Returns how many entries.
    fn lose_unsynced(&mut self) -> usize {
        let lost = self.log.len() - self.synced;
        self.log.truncate(self.synced);
        self.have.clone_from(&self.synced_have);
        self.unsynced_acks.clear();
        self.rebuild();
        lost
    }

    /// Restored from the backup: every entry after it (own ones included)
    /// and every cursor go back to it. Lost entries leave holes, so the
    /// local numbering the peers count by stays as it was. Returns how many
    /// entries were lost.
    fn restore(&mut self) -> usize {
        let mut lost = self.lose_unsynced();
        let from = self.backup.len.min(self.log.len());
        for slot in &mut self.log[from..] {
            if slot.take().is_some() {
                lost += 1;
            }
        }
        self.have.clone_from(&self.backup.have);
        self.synced_have.clone_from(&self.backup.have);
        self.rebuild();
        lost
    }

    /// Is this entry of the log meant for `peer`?
    fn meant_for(&self, peer: &NodeId, e: &Stored) -> bool {
        let origin = &e.entry.origin;
        if peer.is_in_subtree_of(&self.id) {
            // Down: rules from here or above, and what was written outside
            // the child's subtree for a case accepted inside it; while the
            // child recovers, what its subtree wrote as well.
            let meant = match e.scope() {
                None => self.id.is_in_subtree_of(origin),
                Some(scope) => within(scope, peer.as_str()) && !origin.is_in_subtree_of(peer),
            };
            self.down_scope
                .get(peer)
                .copied()
                .unwrap_or(DownScope::Meant)
                .carries(peer, origin, meant)
        } else {
            // Up: what comes from this node's subtree.
            origin.is_in_subtree_of(&self.id)
        }
    }
}

/// What travels on a simulated link (the wire encoding is not simulated).
#[derive(Clone)]
enum Msg {
    /// Opening: the sender's durable cursor of the peer's log, how far it
    /// holds the peer's own origin, and (from a child) whether it asks for
    /// the tail of its own log.
    Hello {
        have: u64,
        your_origin_head: u64,
        recovering: bool,
    },
    Batch(Batch),
    /// Everything up to `upto` of the flow is durable at the receiver.
    Ack {
        upto: u64,
    },
}

struct InFlight {
    at: i64,
    conn: u64,
    msg: Msg,
}

struct Link {
    child: usize,
    parent: usize,
    up: bool,
    conn: u64,
    /// The child's Hello on this connection said `recovering`.
    asked: bool,
    to_parent: VecDeque<InFlight>,
    to_child: VecDeque<InFlight>,
    reconnect_at: i64,
}

/// What a run went through, summed over seeds to show the faults happened.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    /// Batches refused (honestly: late deliveries across reconnects).
    refusals: usize,
    /// Entries lost by crashes (committed, not yet durable).
    lost_to_crashes: usize,
    /// Entries lost by restores from an older copy.
    lost_to_restores: usize,
    /// Hellos whose cursor was below what the sender had seen acknowledged
    /// (a restored receiver): the sender went back to it.
    rewound: usize,
    /// Batches cut before an entry the receiving node refused.
    cuts: usize,
    /// Restores not made: outside what production covers (an own entry
    /// lost that another node holds but the parent does not hold durably,
    /// or a parent put back while a child recovers from it).
    restores_not_covered: usize,
    /// Own entries lost to restores ...
    own_lost: usize,
    /// ... of which the parent never held (never acknowledged: lost for
    /// good, allowed).
    own_lost_unacked: usize,
    /// Recoveries begun (a node restarted holding less than its marker, or
    /// told so by its parent's Hello) ...
    recoveries_started: usize,
    /// ... and ended (writing resumed).
    recoveries_completed: usize,
    /// Own entries taken back from the parent's down flow.
    own_recovered: usize,
    /// Entries of the node's subtree (but its own) taken back likewise.
    subtree_recovered: usize,
    /// Connections a recovering child ended because the recovery scope
    /// changed (`HelloAction::Reconnect` or `Recovered`).
    scope_reconnects: usize,
    /// Children's connections a recovering parent refused (`hall_recovering`).
    children_refused: usize,
    /// Own writes refused while recovering.
    writes_held: usize,
    /// Case versions written above a node for a case of its subtree,
    /// applied from its down flow ...
    scoped_down: usize,
    /// ... of them at the case's accepting hall.
    scoped_at_hall: usize,
    /// Down-flow entries held back (they came before their predecessor).
    held_back: usize,
    /// Up-flow batches cut before a case version whose predecessor had not
    /// come down yet.
    order_cuts: usize,
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, o: Self) {
        self.refusals += o.refusals;
        self.lost_to_crashes += o.lost_to_crashes;
        self.lost_to_restores += o.lost_to_restores;
        self.rewound += o.rewound;
        self.cuts += o.cuts;
        self.restores_not_covered += o.restores_not_covered;
        self.own_lost += o.own_lost;
        self.own_lost_unacked += o.own_lost_unacked;
        self.recoveries_started += o.recoveries_started;
        self.recoveries_completed += o.recoveries_completed;
        self.own_recovered += o.own_recovered;
        self.subtree_recovered += o.subtree_recovered;
        self.scope_reconnects += o.scope_reconnects;
        self.children_refused += o.children_refused;
        self.writes_held += o.writes_held;
        self.scoped_down += o.scoped_down;
        self.scoped_at_hall += o.scoped_at_hall;
        self.held_back += o.held_back;
        self.order_cuts += o.order_cuts;
    }
}

struct World {
    rng: StdRng,
    now: i64,
    nodes: Vec<Node>,
    links: Vec<Link>,
    faults: bool,
    seen: Seen,
}

fn cfg() -> SenderConfig {
    SenderConfig {
        max_batch_entries: 7,
        max_batch_bytes: 4096,
        max_delay_ms: 3,
        max_in_flight: 20,
        ack_timeout_ms: 400,
    }
}

impl World {
    fn new(seed: u64) -> Self {
        let nodes: Vec<Node> = IDS.iter().map(|i| Node::new(i)).collect();
        let mut links = Vec::new();
        for (c, n) in nodes.iter().enumerate() {
            if let Some(p) = n.id.parent() {
                let parent = nodes.iter().position(|x| x.id == p).unwrap();
                links.push(Link {
                    child: c,
                    parent,
                    up: false,
                    conn: 0,
                    asked: false,
                    to_parent: VecDeque::new(),
                    to_child: VecDeque::new(),
                    reconnect_at: 0,
                });
            }
        }
        Self {
            rng: StdRng::seed_from_u64(seed),
            now: 0,
            nodes,
            links,
            faults: true,
            seen: Seen::default(),
        }
    }

    fn parent_link(&self, n: usize) -> Option<usize> {
        self.links.iter().position(|l| l.child == n)
    }

    fn send(&mut self, li: usize, to_parent: bool, msg: Msg) {
        let d = if self.faults {
            self.rng.gen_range(1..40)
        } else {
            1
        };
        let l = &mut self.links[li];
        let q = if to_parent {
            &mut l.to_parent
        } else {
            &mut l.to_child
        };
        // In order within a connection, like a QUIC stream.
        let at = q.back().map_or(0, |m| m.at).max(self.now + d);
        q.push_back(InFlight {
            at,
            conn: l.conn,
            msg,
        });
    }

    fn connect(&mut self, li: usize) {
        let (c, p) = (self.links[li].child, self.links[li].parent);
        // A child that is recovering its own log asks its parent for it.
        let asked = self.nodes[c].recovery.is_recovering();
        let l = &mut self.links[li];
        l.up = true;
        l.conn += 1;
        l.asked = asked;
        let child_id = self.nodes[c].id.clone();
        let parent_id = self.nodes[p].id.clone();
        // Each side says what it holds durably of the other's log, and
        // receives from there.
        let child_have = self.nodes[c]
            .synced_have
            .get(&parent_id)
            .copied()
            .unwrap_or(0);
        let parent_have = self.nodes[p]
            .synced_have
            .get(&child_id)
            .copied()
            .unwrap_or(0);
        let (head_c, head_p) = (self.nodes[c].durable_head(), self.nodes[p].durable_head());
        self.nodes[c]
            .senders
            .entry(parent_id.clone())
            .or_insert_with(|| Sender::new(cfg(), 0, head_c));
        self.nodes[p]
            .senders
            .entry(child_id.clone())
            .or_insert_with(|| Sender::new(cfg(), 0, head_p));
        // The tree is three tiers deep: depth 2 at most.
        self.nodes[c].down_rx = Some(
            DownReceiver::new(child_id.clone(), child_have)
                .with_max_depth(2)
                .recovering(asked),
        );
        self.nodes[p].up_rx.insert(
            child_id.clone(),
            UpReceiver::new(child_id.clone(), parent_have).with_max_depth(2),
        );
        let child_hello = Msg::Hello {
            have: child_have,
            your_origin_head: UpLookup::origin_head(&self.nodes[c].held, &parent_id).0,
            recovering: asked,
        };
        let parent_hello = Msg::Hello {
            have: parent_have,
            your_origin_head: UpLookup::origin_head(&self.nodes[p].held, &child_id).0,
            recovering: false,
        };
        self.send(li, true, child_hello);
        self.send(li, false, parent_hello);
    }

    fn break_link(&mut self, li: usize) {
        if !self.links[li].up {
            return;
        }
        let (c, p) = (self.links[li].child, self.links[li].parent);
        let (cid, pid) = (self.nodes[c].id.clone(), self.nodes[p].id.clone());
        if let Some(s) = self.nodes[c].senders.get_mut(&pid) {
            s.disconnected();
        }
        if let Some(s) = self.nodes[p].senders.get_mut(&cid) {
            s.disconnected();
        }
        let rng = &mut self.rng;
        let l = &mut self.links[li];
        l.up = false;
        l.reconnect_at = self.now + rng.gen_range(5..200);
        // Most in-flight messages die with the connection; some arrive late,
        // after the next connection is up. (Not those of a recovery's
        // connection: its down flow carries what the next one's receiver
        // refuses, and a real connection's messages never cross to another.)
        let conn = l.conn;
        let late = if l.asked { 0 } else { 1 };
        l.to_parent
            .retain(|m| m.conn != conn || rng.gen_ratio(late, 10));
        l.to_child
            .retain(|m| m.conn != conn || rng.gen_ratio(late, 10));
    }

    /// The node's process dies: its links break and what it had in memory
    /// is gone.
    fn stop(&mut self, n: usize) {
        for li in 0..self.links.len() {
            if self.links[li].child == n || self.links[li].parent == n {
                self.break_link(li);
            }
        }
        let node = &mut self.nodes[n];
        node.senders.clear();
        node.up_rx.clear();
        node.down_rx = None;
        node.down_scope.clear();
        node.recovery_conn = None;
    }

    /// A crash (power loss): what was committed but not durable is lost.
    fn crash(&mut self, n: usize) {
        self.stop(n);
        self.seen.lost_to_crashes += self.nodes[n].lose_unsynced();
        self.start(n);
    }

    /// The process starts again.
    fn start(&mut self, n: usize) {
        let was = self.nodes[n].recovery.is_recovering();
        self.nodes[n].start();
        match (was, self.nodes[n].recovery.is_recovering()) {
            (false, true) => self.seen.recoveries_started += 1,
            // What it was recovering had become durable before the crash.
            (true, false) => self.seen.recoveries_completed += 1,
            _ => {}
        }
    }

    /// The node's store is replaced by its older backup, own entries and
    /// all; its marker stays. Not made when production does not cover it.
    fn restore(&mut self, n: usize) {
        let me = self.nodes[n].id.clone();
        // A parent put back while a child recovers from it would give back
        // less than the child lost.
        let child_recovering = self
            .links
            .iter()
            .any(|l| l.parent == n && self.nodes[l.child].recovery.is_recovering());
        // The own entries the restore loses, and who else holds them.
        let node = &self.nodes[n];
        let from = node.backup.len.min(node.log.len());
        let lost_own: Vec<u64> = node.log[from..]
            .iter()
            .flatten()
            .filter(|s| s.entry.origin == me)
            .map(|s| s.entry.origin_seq)
            .collect();
        let parent = self.parent_link(n).map(|li| self.links[li].parent);
        let (parent_durable, parent_holds) = parent.map_or((0, 0), |p| {
            (
                self.nodes[p].durable_head_of(&me),
                UpLookup::origin_head(&self.nodes[p].held, &me).0,
            )
        });
        // Production takes back only what the parent holds: an own entry
        // that reached another node (a child, say) but is not durable at
        // the parent would be written again with other contents.
        let elsewhere_only = lost_own.iter().any(|&seq| {
            seq > parent_durable
                && self.nodes.iter().enumerate().any(|(m, other)| {
                    m != n
                        && Some(m) != parent
                        && other.held.hashes.contains_key(&(me.clone(), seq))
                })
        });
        if child_recovering || elsewhere_only {
            self.seen.restores_not_covered += 1;
            return;
        }
        // What the parent acknowledged it holds durably (acknowledged only
        // once durable; a restore of the parent withdraws its
        // acknowledgements).
        assert!(
            self.nodes[n].acked_own <= parent_durable,
            "{me}: own #{} acknowledged, not durable at the parent",
            self.nodes[n].acked_own
        );
        for &seq in &lost_own {
            self.seen.own_lost += 1;
            if seq > parent_holds {
                // Reached no one: lost for good.
                assert!(
                    seq > self.nodes[n].acked_own,
                    "{me}#{seq}: acknowledged and lost"
                );
                self.seen.own_lost_unacked += 1;
            }
        }
        let node = &mut self.nodes[n];
        node.must_recover = parent_durable.min(node.own().0);
        self.stop(n);
        // The process was down while its store was put back: nothing it
        // sent arrives after.
        for l in &mut self.links {
            if l.child == n || l.parent == n {
                l.to_parent.clear();
                l.to_child.clear();
            }
        }
        self.seen.lost_to_restores += self.nodes[n].restore();
        // The children's acknowledgements from this node go back to what it
        // still holds.
        for li in 0..self.links.len() {
            if self.links[li].parent == n {
                let c = self.links[li].child;
                let cid = self.nodes[c].id.clone();
                let still = self.nodes[n].durable_head_of(&cid);
                let a = &mut self.nodes[c].acked_own;
                *a = (*a).min(still);
            }
        }
        self.start(n);
    }

    /// The recovery of node `n` is over: its writer resumes from the log and
    /// the marker follows the log (even down).
    fn finish_recovery(&mut self, n: usize) {
        let node = &mut self.nodes[n];
        node.marker = node.own().0;
        node.recovery_conn = None;
        self.seen.recoveries_completed += 1;
    }

    /// The node's store makes what it committed durable; the
    /// acknowledgements waiting for it go out.
    fn sync(&mut self, n: usize) {
        let acks = self.nodes[n].sync();
        if self.faults && self.rng.gen_ratio(1, 25) {
            let node = &mut self.nodes[n];
            node.backup = Backup {
                len: node.synced,
                have: node.synced_have.clone(),
            };
        }
        for a in acks {
            let l = &self.links[a.li];
            if l.up && l.conn == a.conn {
                self.send(a.li, a.to_parent, Msg::Ack { upto: a.upto });
            }
        }
        let node = &mut self.nodes[n];
        if !node.recovery.is_recovering() {
            // The store writes the marker with every commit that moves
            // the own head (here: every sync).
            if !node.is_root() {
                node.marker = node.marker.max(node.own().0);
            }
            return;
        }
        // Entries came on the recovery's connection: do they end it?
        let Some(li) = self.parent_link(n) else {
            return;
        };
        let l = &self.links[li];
        if !(l.up && self.nodes[n].recovery_conn == Some(l.conn)) {
            return;
        }
        let own = self.nodes[n].own().0;
        if self.nodes[n].recovery.applied(own) {
            self.finish_recovery(n);
            // The next connection asks for the usual scope.
            self.break_link(li);
        }
    }

    fn deliver(&mut self, li: usize, to_parent: bool, m: InFlight) {
        let (c, p) = (self.links[li].child, self.links[li].parent);
        let (me, peer) = if to_parent { (p, c) } else { (c, p) };
        let peer_id = self.nodes[peer].id.clone();
        let current = m.conn == self.links[li].conn && self.links[li].up;
        let now = self.now;
        match m.msg {
            Msg::Hello {
                have,
                your_origin_head,
                recovering,
            } => {
                if !current {
                    return;
                }
                if to_parent {
                    // The child's Hello. A recovering parent turns its
                    // children away: their entries would race the recovery's.
                    if self.nodes[me].recovery.is_recovering() {
                        self.seen.children_refused += 1;
                        self.break_link(li);
                        return;
                    }
                    self.nodes[me]
                        .down_scope
                        .insert(peer_id.clone(), DownScope::asked(recovering));
                } else {
                    // The parent's Hello: does the child miss its own entries?
                    let asked = self.links[li].asked;
                    let node = &mut self.nodes[me];
                    let was = node.recovery.is_recovering();
                    let own = node.own().0;
                    match node.recovery.parent_hello(own, your_origin_head, asked) {
                        HelloAction::Proceed => {}
                        HelloAction::Receive => {
                            node.marker = your_origin_head;
                            node.recovery_conn = Some(self.links[li].conn);
                        }
                        HelloAction::Reconnect => {
                            node.marker = your_origin_head;
                            if !was {
                                self.seen.recoveries_started += 1;
                            }
                            self.seen.scope_reconnects += 1;
                            self.break_link(li);
                            return;
                        }
                        HelloAction::Recovered => {
                            if was {
                                self.finish_recovery(me);
                            }
                            self.seen.scope_reconnects += 1;
                            self.break_link(li);
                            return;
                        }
                    }
                }
                if let Some(s) = self.nodes[me].senders.get_mut(&peer_id) {
                    if have < s.acked_upto() {
                        self.seen.rewound += 1;
                    }
                    s.connected(now, have);
                }
            }
            Msg::Ack { upto } => {
                if current && let Some(s) = self.nodes[me].senders.get_mut(&peer_id) {
                    s.acked(now, upto).unwrap();
                    if !to_parent {
                        // The parent holds the child's log up to `upto`
                        // durably: its own entries there are acknowledged.
                        let node = &mut self.nodes[me];
                        let end = (upto as usize).min(node.log.len());
                        if let Some(seq) = node.log[..end]
                            .iter()
                            .rev()
                            .flatten()
                            .find(|s| s.entry.origin == node.id)
                            .map(|s| s.entry.origin_seq)
                        {
                            node.acked_own = node.acked_own.max(seq);
                        }
                    }
                }
            }
            Msg::Batch(b) => self.receive(li, me, &peer_id, to_parent, &b),
        }
    }

    fn receive(&mut self, li: usize, me: usize, peer: &NodeId, up: bool, b: &Batch) {
        let conn = self.links[li].conn;
        let node = &self.nodes[me];
        let verdict: Option<Result<Accepted, _>> = if up {
            node.up_rx.get(peer).map(|r| r.check(b, &node.held))
        } else {
            node.down_rx.as_ref().map(|r| r.check(b, &node.held))
        };
        let acc = match verdict {
            None => return,
            Some(Err(refusal)) => {
                // Only a batch of an earlier connection, delivered late
                // (which QUIC never does, but this network may), is
                // refused between honest nodes.
                assert!(
                    matches!(
                        refusal,
                        Refusal::CursorGap { .. } | Refusal::Replayed { .. } | Refusal::BadRange(_)
                    ),
                    "honest nodes refused: {refusal}"
                );
                self.seen.refusals += 1;
                self.break_link(li);
                return;
            }
            Some(Ok(a)) => a,
        };
        self.seen.held_back += acc.held.len();
        // An up flow may bring a case version whose predecessor, written
        // above, has not come down again since this node was put back: the
        // node applies no case event out of order, so the batch is cut
        // there (and comes again on the next connection).
        let mut order_cut = None;
        if up {
            let mut heads: BTreeMap<&str, u64> = BTreeMap::new();
            for &i in &acc.apply {
                let w = &b.entries[i];
                if let Some(st) = w.stream.as_deref() {
                    let h = heads
                        .get(st)
                        .copied()
                        .unwrap_or_else(|| node.held.stream_head(st));
                    if w.stream_seq != h + 1 {
                        order_cut = Some(i);
                        break;
                    }
                    heads.insert(st, w.stream_seq);
                }
            }
        }
        // Now and then the node refuses an entry the check accepted (as the
        // node does a directive whose signature fails; here the refusal
        // passes, like a key not yet loaded): it takes the batch only up to
        // that entry, acknowledges that much and refuses the link.
        let mut cut = (self.faults && !acc.apply.is_empty() && self.rng.gen_ratio(1, 40))
            .then(|| acc.apply[self.rng.gen_range(0..acc.apply.len())]);
        if cut.is_some() {
            self.seen.cuts += 1;
        }
        if let Some(o) = order_cut {
            self.seen.order_cuts += 1;
            cut = Some(cut.map_or(o, |c| c.min(o)));
        }
        let acc = match cut {
            Some(i) => acc.truncate_before(b, i),
            None => acc,
        };
        let copies = if self.faults && self.rng.gen_ratio(1, 30) {
            2
        } else {
            1
        };
        let node = &mut self.nodes[me];
        for &i in &acc.apply {
            let w: &WireEntry = &b.entries[i];
            if !up {
                if w.entry.origin == node.id {
                    self.seen.own_recovered += 1;
                } else if w.entry.origin.is_in_subtree_of(&node.id) {
                    self.seen.subtree_recovered += 1;
                } else if let Some(st) = w.stream.as_deref() {
                    self.seen.scoped_down += 1;
                    if scope_of(st) == node.id.as_str() {
                        self.seen.scoped_at_hall += 1;
                    }
                }
            }
            node.store(w.entry.clone(), w.stream.clone(), w.stream_seq);
        }
        let upto = if up {
            node.up_rx.get_mut(peer).map(|r| r.committed(&acc))
        } else {
            node.down_rx.as_mut().map(|r| r.committed(&acc))
        }
        .unwrap();
        // Committed with the entries; durable, and acknowledged, at the next
        // sync.
        node.have.insert(peer.clone(), upto);
        for _ in 0..copies {
            node.unsynced_acks.push(PendingAck {
                li,
                to_parent: !up,
                conn,
                upto,
            });
        }
        if cut.is_some() {
            self.break_link(li);
        }
    }

    fn pump_senders(&mut self) {
        for li in 0..self.links.len() {
            if !self.links[li].up {
                continue;
            }
            for to_parent in [true, false] {
                let (c, p) = (self.links[li].child, self.links[li].parent);
                let (me, peer) = if to_parent { (c, p) } else { (p, c) };
                let peer_id = self.nodes[peer].id.clone();
                let now = self.now;
                let node = &mut self.nodes[me];
                let Some(s) = node.senders.get_mut(&peer_id) else {
                    continue;
                };
                s.handle_timeout(now);
                let Some(req) = s.poll_send(now) else {
                    continue;
                };
                assert!(req.upto <= node.durable_head(), "sends what is not durable");
                let mut entries = Vec::new();
                let mut upto = req.upto;
                for (e, local_seq) in node.log[req.after as usize..req.upto as usize]
                    .iter()
                    .zip(req.after + 1..)
                {
                    if entries.len() == req.max_entries {
                        upto = local_seq - 1;
                        break;
                    }
                    if let Some(e) = e
                        && node.meant_for(&peer_id, e)
                    {
                        entries.push(WireEntry {
                            local_seq: e.local_seq,
                            entry: e.entry.clone(),
                            stream: e.stream.clone(),
                            stream_seq: e.stream_seq,
                        });
                    }
                }
                if let Some(s) = node.senders.get_mut(&peer_id) {
                    s.sent(now, upto);
                }
                let direction = if to_parent {
                    Direction::Up
                } else {
                    Direction::Down
                };
                let batch = Msg::Batch(Batch {
                    direction,
                    after: req.after,
                    upto,
                    entries,
                });
                if self.faults && self.rng.gen_ratio(1, 25) {
                    self.send(li, to_parent, batch.clone());
                }
                self.send(li, to_parent, batch);
            }
        }
    }

    /// Node `n` writes an entry (unless it is recovering; if it has nothing
    /// to write, the next node that has does); no other node may hold
    /// another entry in that place of its origin.
    fn write(&mut self, n: usize) {
        let mut rng = StdRng::seed_from_u64(self.rng.r#gen());
        let len = self.nodes.len();
        let mut written = None;
        for n in (n..n + len).map(|i| i % len) {
            match self.nodes[n].write(&mut rng) {
                Ok(Some(seq)) => {
                    written = Some((n, seq));
                    break;
                }
                Ok(None) => {}
                Err(()) => {
                    self.seen.writes_held += 1;
                    return;
                }
            }
        }
        let Some((n, seq)) = written else { return };
        let me = &self.nodes[n];
        let key = (me.id.clone(), seq);
        let hash = me.held.hashes[&key];
        for other in &self.nodes {
            if let Some(h) = other.held.hashes.get(&key) {
                assert_eq!(
                    *h, hash,
                    "{}#{seq} forked: written again while {} holds another",
                    me.id, other.id
                );
            }
        }
    }

    fn step(&mut self) {
        self.now += 1;
        if self.faults {
            if self.rng.gen_ratio(1, 3) {
                let n = self.rng.gen_range(0..self.nodes.len());
                self.write(n);
            }
            if self.rng.gen_ratio(1, 150) {
                let li = self.rng.gen_range(0..self.links.len());
                self.break_link(li);
            }
            if self.rng.gen_ratio(1, 400) {
                let n = self.rng.gen_range(0..self.nodes.len());
                self.crash(n);
            }
            if self.rng.gen_ratio(1, 1000) {
                let n = self.rng.gen_range(0..self.nodes.len());
                self.restore(n);
            }
        }
        // Stores sync now and then while the faults last, at every step after.
        for n in 0..self.nodes.len() {
            if !self.faults || self.rng.gen_ratio(1, 4) {
                self.sync(n);
            }
        }
        let now = self.now;
        for n in &mut self.nodes {
            let h = n.durable_head();
            for s in n.senders.values_mut() {
                s.appended(now, h);
            }
        }
        for li in 0..self.links.len() {
            if !self.links[li].up && self.now >= self.links[li].reconnect_at {
                self.connect(li);
            }
        }
        self.pump_senders();
        for li in 0..self.links.len() {
            for to_parent in [true, false] {
                loop {
                    let l = &mut self.links[li];
                    let q = if to_parent {
                        &mut l.to_parent
                    } else {
                        &mut l.to_child
                    };
                    if q.front().is_none_or(|m| m.at > now) {
                        break;
                    }
                    let Some(m) = q.pop_front() else { break };
                    self.deliver(li, to_parent, m);
                }
            }
        }
    }

    fn quiet(&self) -> bool {
        self.links
            .iter()
            .all(|l| l.up && l.to_parent.is_empty() && l.to_child.is_empty())
            && self.nodes.iter().all(|n| {
                n.synced == n.log.len()
                    && n.unsynced_acks.is_empty()
                    && !n.recovery.is_recovering()
                    && n.senders
                        .values()
                        .all(|s| s.is_connected() && s.backlog() == 0)
            })
    }

    fn check_invariants(&self, seed: u64) {
        let root = &self.nodes[0];
        let none = (0, EntryHash::GENESIS);
        // Each node's own entries: (sequence, hash, scope).
        let own: Vec<Vec<(u64, EntryHash, Option<&str>)>> = self
            .nodes
            .iter()
            .map(|n| {
                n.log
                    .iter()
                    .flatten()
                    .filter(|s| s.entry.origin == n.id)
                    .map(|s| (s.entry.origin_seq, s.entry.hash, s.scope()))
                    .collect()
            })
            .collect();
        for n in &self.nodes {
            // 1. Nothing is lost: the root holds every origin's whole chain,
            // and no node lost an own entry its parent acknowledged.
            assert_eq!(
                root.held.heads.get(&n.id).copied().unwrap_or(none),
                n.own(),
                "seed {seed}: the root misses entries of {}",
                n.id
            );
            assert!(
                n.own().0 >= n.acked_own,
                "seed {seed}: {} lost own entries its parent acknowledged (up to #{})",
                n.id,
                n.acked_own
            );
            assert!(
                n.own().0 >= n.must_recover,
                "seed {seed}: {} did not take back its own entries up to #{} from its parent",
                n.id,
                n.must_recover
            );
            // 2. Nothing twice; each origin in order; the chains of its
            // subtree whole, and of an ancestor exactly what is meant for
            // this node: its rules and what it wrote for cases accepted in
            // this node's subtree, never a sibling branch's.
            let mut seen = BTreeSet::new();
            let mut by_origin: BTreeMap<&NodeId, Vec<&LogEntry>> = BTreeMap::new();
            for e in n.log.iter().flatten() {
                assert!(
                    seen.insert((&e.entry.origin, e.entry.origin_seq)),
                    "seed {seed}: duplicate in {}",
                    n.id
                );
                by_origin.entry(&e.entry.origin).or_default().push(&e.entry);
            }
            for (o, other) in self.nodes.iter().enumerate() {
                let entries = by_origin.get(&other.id).map_or(&[][..], Vec::as_slice);
                if other.id.is_in_subtree_of(&n.id) {
                    // 3. Convergence: the whole chain of its subtree.
                    verify_chain(0, EntryHash::GENESIS, entries.iter().copied()).unwrap_or_else(
                        |e| panic!("seed {seed}: {} chain of {}: {e}", n.id, other.id),
                    );
                    let held = n.held.heads.get(&other.id).copied().unwrap_or(none);
                    assert_eq!(
                        held,
                        other.own(),
                        "seed {seed}: {} holds {}",
                        n.id,
                        other.id
                    );
                } else if n.id.is_in_subtree_of(&other.id) {
                    let meant: Vec<(u64, EntryHash)> = own[o]
                        .iter()
                        .filter(|(_, _, scope)| scope.is_none_or(|s| within(s, n.id.as_str())))
                        .map(|&(seq, hash, _)| (seq, hash))
                        .collect();
                    let held: Vec<(u64, EntryHash)> =
                        entries.iter().map(|e| (e.origin_seq, e.hash)).collect();
                    assert_eq!(
                        held, meant,
                        "seed {seed}: {} holds other entries of {} than meant for it",
                        n.id, other.id
                    );
                    for e in entries {
                        e.verify_hash().unwrap();
                    }
                } else {
                    assert!(
                        entries.is_empty(),
                        "seed {seed}: {} holds unrelated {}",
                        n.id,
                        other.id
                    );
                }
            }
            // 4. Cases: held only at the accepting hall and its ancestors,
            // applied in order (checked at every store) and complete there.
            for (stream, v) in &n.held.streams {
                let hall = scope_of(stream);
                assert!(
                    within(hall, n.id.as_str()),
                    "seed {seed}: {} holds case {stream}",
                    n.id
                );
                let h = self.nodes.iter().find(|x| x.id.as_str() == hall).unwrap();
                assert_eq!(
                    Some(v),
                    h.held.streams.get(stream),
                    "seed {seed}: {} case {stream}",
                    n.id
                );
            }
            for (stream, v) in n.held.streams.iter() {
                if scope_of(stream) != n.id.as_str() {
                    continue;
                }
                for a in n.id.ancestors() {
                    let anc = self.nodes.iter().find(|x| x.id == a).unwrap();
                    assert_eq!(
                        anc.held.streams.get(stream),
                        Some(v),
                        "seed {seed}: {a} case {stream}"
                    );
                }
            }
        }
    }
}

/// Runs one seed; returns the entries at the root and what the run went
/// through.
fn run(seed: u64) -> (usize, Seen) {
    let mut w = World::new(seed);
    for _ in 0..3000 {
        w.step();
    }
    // The faults stop: every link comes back and stays up.
    w.faults = false;
    for l in &mut w.links {
        l.reconnect_at = l.reconnect_at.min(w.now);
    }
    for _ in 0..50_000 {
        w.step();
        if w.quiet() {
            break;
        }
    }
    assert!(w.quiet(), "seed {seed}: did not settle");
    w.check_invariants(seed);
    (w.nodes[0].log.iter().flatten().count(), w.seen)
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
    )
}

/// Runs one seed; if it fails, says how to run it alone.
fn run_reporting(seed: u64) -> (usize, Seen) {
    let out = catch_unwind(AssertUnwindSafe(|| {
        let (entries, seen) = run(seed);
        assert!(
            entries > 500,
            "seed {seed}: only {entries} entries reached the root"
        );
        (entries, seen)
    }));
    out.unwrap_or_else(|panic| {
        eprintln!(
            "\nseed {seed} failed; to run it alone:\n    \
             ONEWINDOW_SIM_SEED={seed} cargo test -p onewindow-federation --test simulation\n"
        );
        resume_unwind(panic)
    })
}

#[test]
fn many_seeds_converge_with_nothing_lost_or_doubled() {
    if let Some(seed) = env_u64("ONEWINDOW_SIM_SEED") {
        let (entries, seen) = run_reporting(seed);
        eprintln!("seed {seed}: {entries} entries at the root, {seen:?}");
        return;
    }
    let seeds = env_u64("ONEWINDOW_SIM_SEEDS").unwrap_or(DEFAULT_SEEDS);
    let started = std::time::Instant::now();
    let mut seen = Seen::default();
    for seed in 0..seeds {
        seen += run_reporting(seed).1;
    }
    eprintln!("{seeds} seeds in {:?}: {seen:?}", started.elapsed());
    if seeds >= 20 {
        // The faults must have reached what they are there to test.
        assert!(seen.refusals > 0, "late deliveries were never refused");
        assert!(seen.lost_to_crashes > 0, "no crash lost anything");
        assert!(seen.lost_to_restores > 0, "no restore lost anything");
        assert!(seen.rewound > 0, "no sender met a restored receiver");
        assert!(seen.cuts > 0, "no batch was cut");
        assert!(seen.recoveries_completed > 0, "no recovery completed");
        assert_eq!(
            seen.recoveries_started, seen.recoveries_completed,
            "a recovery never ended"
        );
        assert!(seen.own_recovered > 0, "no own entry was taken back");
        assert!(
            seen.subtree_recovered > 0,
            "no subtree entry was taken back"
        );
        assert!(
            seen.own_lost_unacked > 0,
            "no restore lost an own entry for good"
        );
        assert!(
            seen.children_refused > 0,
            "no recovering parent turned a child away"
        );
        assert!(seen.writes_held > 0, "no write was held back by a recovery");
        assert!(
            seen.scoped_at_hall > 0,
            "no case result came down to its hall"
        );
    }
}
