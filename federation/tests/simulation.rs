//! The replication core driven through a simulated tree and network: links
//! break and come back, messages are delayed, duplicated and delivered late
//! across reconnects, nodes crash and lose what was not yet durable, and a
//! node is now and then restored from an older copy of its store, all on a
//! simulated clock. Many seeds a run; after the faults stop every invariant
//! of the design must hold.
//!
//! `ONEWINDOW_SIM_SEEDS=n` runs seeds `0..n` (default [`DEFAULT_SEEDS`]);
//! `ONEWINDOW_SIM_SEED=s` runs seed `s` alone, and a failing seed prints the
//! command that does so.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use onewindow_federation::replication::{
    Accepted, Batch, Direction, DownLookup, DownReceiver, Sender, SenderConfig, UpLookup,
    UpReceiver, WireEntry,
};
use onewindow_federation::{EntryHash, LogEntry, NodeId, log::verify_chain};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const IDS: [&str; 6] = ["r", "r.a", "r.b", "r.a.x", "r.a.y", "r.b.z"];

/// Seeds a run when `ONEWINDOW_SIM_SEEDS` is not set: about 15 s in a debug
/// build on two cores (10,000 seeds took 13 minutes in debug, 2 in release,
/// on two busy cores).
const DEFAULT_SEEDS: u64 = 200;

#[derive(Clone)]
struct Stored {
    local_seq: u64,
    entry: LogEntry,
    stream: Option<String>,
    stream_seq: u64,
}

/// What a node holds, derived from its log in the same transactions.
#[derive(Default)]
struct Held {
    heads: BTreeMap<NodeId, (u64, EntryHash)>,
    streams: BTreeMap<String, u64>,
    hashes: HashMap<(NodeId, u64), EntryHash>,
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

impl DownLookup for Held {
    fn has(&self, origin: &NodeId, origin_seq: u64) -> bool {
        self.heads.get(origin).is_some_and(|h| h.0 >= origin_seq)
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
    /// The committed log, by local sequence. `None` is a received entry lost
    /// to a restore: its number is not reused, since the peers count this
    /// node's log by it.
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
    /// place written again after a crash is another entry (a fork, if the
    /// lost one had left the node).
    writes: u64,
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
            senders: BTreeMap::new(),
            up_rx: BTreeMap::new(),
            down_rx: None,
        }
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

    /// Writes one own entry: mostly to one of this node's streams, sometimes
    /// a rule with no stream.
    fn write(&mut self, rng: &mut StdRng) {
        let (seq, hash) = self.own();
        let stream = rng
            .gen_ratio(4, 5)
            .then(|| format!("{}/s{}", self.id, rng.gen_range(0..4)));
        let stream_seq = stream
            .as_ref()
            .map_or(0, |s| self.held.streams.get(s).copied().unwrap_or(0) + 1);
        self.writes += 1;
        let body = format!("{}#{} w{}", self.id, seq + 1, self.writes);
        let entry = LogEntry::next(self.id.clone(), seq, hash, body);
        self.store(entry, stream, stream_seq);
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

    /// A crash: what was not durable is gone. Returns how many entries.
    fn lose_unsynced(&mut self) -> usize {
        let lost = self.log.len() - self.synced;
        self.log.truncate(self.synced);
        self.have.clone_from(&self.synced_have);
        self.unsynced_acks.clear();
        self.rebuild();
        lost
    }

    /// Restored from the backup: every cursor and every received entry go
    /// back to it. Own entries are kept (a node that lost its own entries
    /// would write other ones in their places, forking its own chain: a
    /// different recovery), and lost entries leave holes, so the local
    /// numbering the peers count by stays as it was. Returns how many
    /// entries were lost.
    fn restore(&mut self) -> usize {
        let mut lost = self.lose_unsynced();
        let from = self.backup.len.min(self.log.len());
        for slot in &mut self.log[from..] {
            if slot.as_ref().is_some_and(|s| s.entry.origin != self.id) {
                *slot = None;
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
        if peer.is_in_subtree_of(&self.id) {
            // Down: what comes from this node or above it.
            self.id.is_in_subtree_of(&e.entry.origin)
        } else {
            // Up: what comes from this node's subtree.
            e.entry.origin.is_in_subtree_of(&self.id)
        }
    }
}

/// What travels on a simulated link (the wire encoding is not simulated).
#[derive(Clone)]
enum Msg {
    /// Opening: the sender's durable cursor of the peer's log.
    Hello {
        have: u64,
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
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, o: Self) {
        self.refusals += o.refusals;
        self.lost_to_crashes += o.lost_to_crashes;
        self.lost_to_restores += o.lost_to_restores;
        self.rewound += o.rewound;
        self.cuts += o.cuts;
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
        self.links[li].up = true;
        self.links[li].conn += 1;
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
        self.nodes[c].down_rx =
            Some(DownReceiver::new(child_id.clone(), child_have).with_max_depth(2));
        self.nodes[p].up_rx.insert(
            child_id.clone(),
            UpReceiver::new(child_id, parent_have).with_max_depth(2),
        );
        self.send(li, true, Msg::Hello { have: child_have });
        self.send(li, false, Msg::Hello { have: parent_have });
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
        // after the next connection is up.
        let conn = l.conn;
        l.to_parent
            .retain(|m| m.conn != conn || rng.gen_ratio(1, 10));
        l.to_child
            .retain(|m| m.conn != conn || rng.gen_ratio(1, 10));
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
    }

    /// A crash (power loss): what was committed but not durable is lost.
    fn crash(&mut self, n: usize) {
        self.stop(n);
        self.seen.lost_to_crashes += self.nodes[n].lose_unsynced();
    }

    /// The node's store is replaced by its older backup.
    fn restore(&mut self, n: usize) {
        self.stop(n);
        self.seen.lost_to_restores += self.nodes[n].restore();
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
    }

    fn deliver(&mut self, li: usize, to_parent: bool, m: InFlight) {
        let (c, p) = (self.links[li].child, self.links[li].parent);
        let (me, peer) = if to_parent { (p, c) } else { (c, p) };
        let peer_id = self.nodes[peer].id.clone();
        let current = m.conn == self.links[li].conn && self.links[li].up;
        let now = self.now;
        match m.msg {
            Msg::Hello { have } => {
                if current && let Some(s) = self.nodes[me].senders.get_mut(&peer_id) {
                    if have < s.acked_upto() {
                        self.seen.rewound += 1;
                    }
                    s.connected(now, have);
                }
            }
            Msg::Ack { upto } => {
                if current && let Some(s) = self.nodes[me].senders.get_mut(&peer_id) {
                    s.acked(now, upto).unwrap();
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
                assert!(!refusal.is_security(), "honest nodes refused: {refusal}");
                self.seen.refusals += 1;
                self.break_link(li);
                return;
            }
            Some(Ok(a)) => a,
        };
        // Now and then the node refuses an entry the check accepted (as the
        // node does a directive whose signature fails; here the refusal
        // passes, like a key not yet loaded): it takes the batch only up to
        // that entry, acknowledges that much and refuses the link.
        let cut = (self.faults && !acc.apply.is_empty() && self.rng.gen_ratio(1, 40))
            .then(|| acc.apply[self.rng.gen_range(0..acc.apply.len())]);
        let acc = match cut {
            Some(i) => {
                self.seen.cuts += 1;
                acc.truncate_before(b, i)
            }
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

    fn step(&mut self) {
        self.now += 1;
        if self.faults {
            if self.rng.gen_ratio(1, 3) {
                let n = self.rng.gen_range(0..self.nodes.len());
                let mut rng = StdRng::seed_from_u64(self.rng.r#gen());
                self.nodes[n].write(&mut rng);
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
                    && n.senders
                        .values()
                        .all(|s| s.is_connected() && s.backlog() == 0)
            })
    }

    fn check_invariants(&self, seed: u64) {
        let root = &self.nodes[0];
        let none = (0, EntryHash::GENESIS);
        for n in &self.nodes {
            // 1. Nothing is lost: the root holds every origin's whole chain.
            assert_eq!(
                root.held.heads.get(&n.id).copied().unwrap_or(none),
                n.own(),
                "seed {seed}: the root misses entries of {}",
                n.id
            );
            // 4. Convergence: each node holds the whole chain of every node in
            // its subtree and of every ancestor, and nothing of the others.
            for other in &self.nodes {
                let should = other.id.is_in_subtree_of(&n.id) || n.id.is_in_subtree_of(&other.id);
                let held = n.held.heads.get(&other.id).copied().unwrap_or(none);
                if should {
                    assert_eq!(
                        held,
                        other.own(),
                        "seed {seed}: {} holds {}",
                        n.id,
                        other.id
                    );
                } else {
                    assert_eq!(
                        held.0, 0,
                        "seed {seed}: {} holds unrelated {}",
                        n.id, other.id
                    );
                }
            }
            // 2. Nothing twice; each origin in order with an unbroken chain.
            let mut seen = BTreeSet::new();
            let mut by_origin: BTreeMap<&NodeId, Vec<LogEntry>> = BTreeMap::new();
            for e in n.log.iter().flatten() {
                assert!(
                    seen.insert((e.entry.origin.clone(), e.entry.origin_seq)),
                    "seed {seed}: duplicate in {}",
                    n.id
                );
                by_origin
                    .entry(&e.entry.origin)
                    .or_default()
                    .push(e.entry.clone());
            }
            for (origin, entries) in by_origin {
                verify_chain(0, EntryHash::GENESIS, &entries)
                    .unwrap_or_else(|e| panic!("seed {seed}: {} chain of {origin}: {e}", n.id));
            }
            // Streams: applied in order (checked at every store) and complete.
            for (stream, v) in &n.held.streams {
                let writer = stream.split('/').next().unwrap_or_default();
                let w = self.nodes.iter().find(|x| x.id.as_str() == writer).unwrap();
                assert_eq!(
                    Some(v),
                    w.held.streams.get(stream),
                    "seed {seed}: {} stream {stream}",
                    n.id
                );
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
    }
}
