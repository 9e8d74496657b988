//! One link session as a state machine: the Hello each way and its checks,
//! what follows from the peer's Hello, and the rules of the running
//! session (acknowledgements, queries, status, refusals).
//!
//! Nothing here reads a socket, a store or the clock: the driver passes in
//! what it read (the link's cursors, the log's head, the time in ms) and
//! gets back messages to send and decisions to carry out. A session goes
//! through three types:
//!
//! 1. [`Handshake`]: this node's Hello ([`Handshake::hello`]) and the check
//!    of the peer's first message ([`Handshake::peer_hello`]);
//! 2. [`Greeted`]: what the peer's Hello decides (a refusal while this
//!    node recovers, the recovery scope, the cursor reset, the clock skew,
//!    the route of the flow this node sends), until [`Greeted::start`];
//! 3. [`Session`]: the running session, which owns the [`Sender`] of the
//!    flow it sends and the [`Receiver`] of the flow it receives, and turns
//!    each message from the peer into a [`Received`] for the driver to act
//!    on, or an [`Ending`].
//!
//! The per-batch path adds nothing to the [`Sender`]'s: a received batch is
//! handed back as it came (moved, not copied), and a batch to send is built
//! from the entries the driver read.

use std::collections::HashMap;

use super::receiver::{Accepted, DownLookup, DownReceiver, Refusal, UpLookup, UpReceiver};
use super::recovery::{DownScope, HelloAction};
use super::sender::{Pacing, ReadRequest, Sender, SenderConfig};
use super::wire::{Batch, Direction, Earlier, Hello, Limits, LinkStatus, Message, WireEntry};
use crate::NodeId;

/// How long the driver waits for the peer's first message (ms).
pub const HELLO_TIMEOUT_MS: i64 = 15_000;
/// A running session sends its status this often (ms).
pub const STATUS_EVERY_MS: i64 = 2_000;
/// An acknowledgement received is made durable at most this often (ms);
/// the last one is made durable when the session ends.
pub const PERSIST_ACK_EVERY_MS: i64 = 500;
/// The refusal code of a parent that turns its children away while it
/// recovers its own log.
pub const HALL_RECOVERING: &str = "hall_recovering";

/// How a frame error read by a session is recorded as a security event:
/// `frame_too_large` for a frame over the budget (the reader's error then
/// starts with that code), `bad_frame` for any other.
pub fn frame_error_kind(error: &str) -> &'static str {
    if error.starts_with("frame_too_large") {
        "frame_too_large"
    } else {
        "bad_frame"
    }
}

/// This node's side of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// This node is the parent: it receives the up flow and sends down.
    Parent,
    /// This node is the child: it sends up and receives the down flow.
    Child,
}

/// What a session is for, known before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// This node's side.
    pub role: Role,
    /// This node.
    pub me: NodeId,
    /// The peer, as its certificate names it.
    pub peer: NodeId,
    /// This node's software version, for the Hello and the status.
    pub software: String,
    /// Bounds on what a peer may send (and so on what this node sends).
    pub limits: Limits,
    /// Largest frame a peer reads (bytes).
    pub max_frame_bytes: usize,
    /// Deepest origin the receiver takes (the tree's tiers - 1).
    pub max_depth: usize,
}

impl SessionConfig {
    /// The sender's limits on this link: batches of at most the peer's
    /// entry bound and half its frame size.
    ///
    /// A QUIC stream is reliable: resending on the same live connection
    /// only duplicates bytes (on a slow link a large batch can take longer
    /// than any fixed timeout). A dead connection is found by QUIC's idle
    /// timeout, and the next connection resends from the receiver's durable
    /// cursor. So the acknowledgement timeout never fires.
    pub fn sender_config(&self) -> SenderConfig {
        let d = SenderConfig::default();
        SenderConfig {
            ack_timeout_ms: i64::MAX / 4,
            max_batch_entries: d.max_batch_entries.min(self.limits.max_entries),
            max_batch_bytes: d.max_batch_bytes.min(self.max_frame_bytes / 2),
            ..d
        }
    }

    /// The flow this node sends.
    pub fn direction(&self) -> Direction {
        match self.role {
            Role::Parent => Direction::Down,
            Role::Child => Direction::Up,
        }
    }
}

/// What the driver read of this node as the session begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalState {
    /// The catalogue version this node holds.
    pub catalogue_version: i64,
    /// Now (ms).
    pub now_ms: i64,
    /// The peer's log durably held here up to this sequence.
    pub have: u64,
    /// The peer durably acknowledged this node's flow up to here.
    pub acked: u64,
    /// The peer's own origin held here up to this sequence.
    pub your_origin_head: u64,
    /// This node's log's highest local sequence.
    pub head: u64,
    /// This node is recovering its own log.
    pub recovering: bool,
    /// This node's log's highest local sequence when its process started.
    pub start_head: u64,
    /// This process's incarnation (drawn at start, never 0).
    pub incarnation: u64,
    /// This node's incarnations before this one, oldest first (at most
    /// [`super::MAX_EARLIER`]), and the lowest start head of those older.
    pub earlier: Vec<Earlier>,
    /// See [`Hello::older_floor`].
    pub older_floor: Option<u64>,
    /// The peer's incarnation this node heard on its last session with it,
    /// if any (kept by the driver across this node's restarts).
    pub peer_incarnation: Option<u64>,
}

/// A rule of the protocol broken by the peer: one security event, and the
/// session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The security event's kind (`hello_mismatch`, `no_hello`,
    /// `second_hello`, `bad_frame`, `frame_too_large`).
    pub kind: &'static str,
    /// The security event's detail.
    pub detail: String,
    /// Send the peer a `Reject` with `kind` as its code and `detail` as its
    /// message, and end the session as refused by this node.
    pub reject: bool,
    /// What the session ends with otherwise.
    pub error: String,
}

impl Violation {
    /// The `Reject` to send, when the violation is refused.
    pub fn reject_message(&self) -> Option<Message> {
        self.reject.then(|| Message::Reject {
            code: self.kind.into(),
            message: self.detail.clone(),
        })
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)
    }
}

impl std::error::Error for Violation {}

/// The opening of a session: this node's Hello, and the check of the
/// peer's first message.
#[derive(Debug, Clone)]
pub struct Handshake {
    cfg: SessionConfig,
    local: LocalState,
}

impl Handshake {
    /// A session configured by `cfg`, for a node in the state `local`.
    pub fn new(cfg: SessionConfig, local: LocalState) -> Self {
        Self { cfg, local }
    }

    /// Does this node's Hello ask for a recovery? Only a child recovering
    /// its own log asks its parent for it.
    pub fn asks_recovery(&self) -> bool {
        self.cfg.role == Role::Child && self.local.recovering
    }

    /// This node's Hello.
    pub fn hello(&self) -> Message {
        Message::Hello(Hello {
            node: self.cfg.me.clone(),
            software: self.cfg.software.clone(),
            catalogue_version: self.local.catalogue_version,
            now_ms: self.local.now_ms,
            have: self.local.have,
            your_origin_head: self.local.your_origin_head,
            head: self.local.head,
            recovering: self.asks_recovery(),
            start_head: self.local.start_head,
            incarnation: self.local.incarnation,
            earlier: self.local.earlier.clone(),
            older_floor: self.local.older_floor,
        })
    }

    /// The peer said nothing that could be read within
    /// [`HELLO_TIMEOUT_MS`]: a Hello violation like any other (a silent
    /// peer, or one that sends its Hello a byte at a time).
    pub fn no_hello_in_time(&self) -> Violation {
        let detail = format!("no Hello within {} s", HELLO_TIMEOUT_MS / 1000);
        Violation {
            kind: "no_hello",
            error: format!("{} did not say hello: {detail}", self.cfg.peer),
            detail,
            reject: false,
        }
    }

    /// Checks the peer's first message (`Err`: the reader's frame error).
    /// It must be a Hello naming the node the certificate names.
    pub fn peer_hello(self, first: Result<Message, String>) -> Result<Greeted, Violation> {
        let peer = &self.cfg.peer;
        match first {
            Ok(Message::Hello(hello)) if hello.node == *peer => {
                let asked = self.asks_recovery();
                Ok(Greeted {
                    cfg: self.cfg,
                    local: self.local.clone(),
                    hello,
                    asked,
                    receiving_recovery: false,
                })
            }
            Ok(Message::Hello(hello)) => {
                let detail = format!("the Hello names {}, the certificate {peer}", hello.node);
                Err(Violation {
                    kind: "hello_mismatch",
                    error: detail.clone(),
                    detail,
                    reject: false,
                })
            }
            Ok(_) => Err(Violation {
                kind: "no_hello",
                detail: "the first message was not a Hello".into(),
                reject: false,
                error: format!("{peer} did not say hello"),
            }),
            Err(e) => Err(Violation {
                kind: frame_error_kind(&e),
                error: format!("{peer} sent a bad frame: {e}"),
                detail: e,
                reject: false,
            }),
        }
    }
}

/// Which of the log's routes the flow this node sends reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFlow {
    /// A child's up flow: its whole log.
    Up,
    /// A parent's down flow to the peer, in this scope.
    Down(DownScope),
}

/// The peer said a good Hello: what it decides, before the flows start.
#[derive(Debug, Clone)]
pub struct Greeted {
    cfg: SessionConfig,
    local: LocalState,
    hello: Hello,
    asked: bool,
    receiving_recovery: bool,
}

impl Greeted {
    /// The peer's Hello.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Did this node's Hello ask for a recovery?
    pub fn asked_recovery(&self) -> bool {
        self.asked
    }

    /// A parent recovering its own log (`recovering`, as it stands now)
    /// turns its child away with this `Reject`: entries from below would
    /// race the recovery's (the same entries come both ways), so the
    /// children wait until the parent has its log.
    pub fn refusal(&self, recovering: bool) -> Option<Message> {
        (self.cfg.role == Role::Parent && recovering).then(|| Message::Reject {
            code: HALL_RECOVERING.into(),
            message: format!("{} is recovering its own log from its parent", self.cfg.me),
        })
    }

    /// A child: what its own log's recovery made of the parent's Hello.
    /// `false`: end this connection; the next asks for the scope this one
    /// did not. `true`: go on, receiving the recovery if `action` says so.
    pub fn recovery(&mut self, action: HelloAction) -> bool {
        match action {
            HelloAction::Proceed => {
                self.receiving_recovery = false;
                true
            }
            HelloAction::Receive => {
                self.receiving_recovery = true;
                true
            }
            HelloAction::Reconnect | HelloAction::Recovered => false,
        }
    }

    /// The peer's log ends below what this node holds of it: the peer was
    /// put back to an older copy of its store, and its sequence numbers
    /// above its head will name new entries. The cursor goes back to the
    /// peer's head (returned; the driver makes it durable), and the peer,
    /// told the old cursor, resumes from its head anyway.
    ///
    /// A peer put back may also have grown past the cursor again before
    /// the two meet (a township's villages resend to it first): its log is
    /// then longer than the cursor but numbered anew above where it
    /// started. So when the peer started again since this node last heard
    /// it (another incarnation), the cursor goes back to the lowest head
    /// the peer started from since: what it held for certain through every
    /// start, the one on a store put back among them. (After a plain
    /// restart that head is at least the cursor: the peer sent only what
    /// it had stored.) The starts since are those after the incarnation
    /// last heard in the peer's list; if that one is not listed (it was
    /// older, or of a copy the peer was put back from), every start the
    /// peer still knows counts.
    ///
    /// Both rules apply together: a peer put back whose log is shorter than
    /// the cursor may still have been numbered anew from lower than its
    /// head (chaos seed 50111: put back twice, the cursor reset only to the
    /// head, and the entries between taken for what was held there).
    pub fn cursor_reset(&self) -> Option<u64> {
        let h = &self.hello;
        let started_since = self
            .local
            .peer_incarnation
            .filter(|seen| h.incarnation != 0 && *seen != h.incarnation);
        let floor =
            started_since.map(
                |seen| match h.earlier.iter().position(|e| e.incarnation == seen) {
                    Some(i) => h.earlier[i + 1..]
                        .iter()
                        .map(|e| e.start_head)
                        .fold(h.start_head, u64::min),
                    None => h
                        .earlier
                        .iter()
                        .map(|e| e.start_head)
                        .chain(h.older_floor)
                        .fold(h.start_head, u64::min),
                },
            );
        let lowest = floor.map_or(h.head, |f| f.min(h.head));
        (lowest < self.local.have).then_some(lowest)
    }

    /// Whether the session must end as soon as the reset cursor is
    /// durable, and the link begin again. The peer's sender resumes from
    /// the cursor this node's Hello announced (clamped to its log's head),
    /// which is above the reset one ([`Greeted::cursor_reset`]). Its next
    /// batch would show the gap and end the session; but when the peer has
    /// nothing more to send, no batch comes, and what it holds between
    /// the two cursors is never sent (chaos seed 90290: a township put
    /// back took two catalogue versions again below its village's old
    /// cursor, and the village stayed on the older version for good). The
    /// next Hello announces the reset cursor.
    pub fn restart_after_reset(&self) -> bool {
        self.cursor_reset().is_some()
    }

    /// The peer's incarnation, for the driver to remember for the next
    /// session with it.
    pub fn peer_incarnation(&self) -> u64 {
        self.hello.incarnation
    }

    /// The peer's clock less this node's (ms), at `now_ms`.
    pub fn skew_ms(&self, now_ms: i64) -> i64 {
        self.hello.now_ms - now_ms
    }

    /// The route of the flow this node sends: a parent's down flow is what
    /// is meant for the child, or its subtree's entries too when the
    /// child's Hello asks for a recovery.
    pub fn send_flow(&self) -> SendFlow {
        match self.cfg.role {
            Role::Child => SendFlow::Up,
            Role::Parent => SendFlow::Down(DownScope::asked(self.hello.recovering)),
        }
    }

    /// The flows start at `now_ms`, over a log (of the send flow's route)
    /// whose head is `head`. The sender resends from what the peer's Hello
    /// says it holds; the receiver starts from this node's cursor (reset
    /// as [`Greeted::cursor_reset`] says).
    pub fn start<Q>(self, now_ms: i64, head: u64) -> Session<Q> {
        let have = self.cursor_reset().unwrap_or(self.local.have);
        // Batches follow the link's learned rate: small on a village's slow
        // link (so the parent forwards events as they come, not in lumps),
        // up to the configured maximum on a fast one.
        let mut sender =
            Sender::new(self.cfg.sender_config(), self.local.acked, head).paced(Pacing::default());
        sender.connected(now_ms, self.hello.have);
        let receiver = match self.cfg.role {
            Role::Parent => Receiver::Up(
                UpReceiver::new(self.cfg.peer.clone(), have)
                    .with_max_depth(self.cfg.max_depth)
                    .announced(self.local.have),
            ),
            Role::Child => Receiver::Down(
                DownReceiver::new(self.cfg.me.clone(), have)
                    .with_max_depth(self.cfg.max_depth)
                    .announced(self.local.have)
                    .recovering(self.receiving_recovery),
            ),
        };
        Session {
            direction: self.cfg.direction(),
            cfg: self.cfg,
            hello: self.hello,
            sender,
            receiver,
            receiving_recovery: self.receiving_recovery,
            last_ack_persist_ms: None,
            next_status_ms: now_ms,
            next_query: 0,
            pending: HashMap::new(),
        }
    }
}

/// The receiver of the flow this node receives.
#[derive(Debug, Clone)]
pub enum Receiver {
    /// A parent's, of its child's up flow.
    Up(UpReceiver),
    /// A child's, of its parent's down flow.
    Down(DownReceiver),
}

impl Receiver {
    /// Does a check need the versions of the streams a batch touches?
    pub fn wants_streams(&self) -> bool {
        matches!(self, Self::Down(_))
    }

    /// Checks a batch (see [`UpReceiver::check`], [`DownReceiver::check`]).
    pub fn check<L: UpLookup + DownLookup>(
        &self,
        batch: &Batch,
        lookup: &L,
    ) -> Result<Accepted, Refusal> {
        match self {
            Self::Up(r) => r.check(batch, lookup),
            Self::Down(r) => r.check(batch, lookup),
        }
    }

    /// What was accepted is durable: returns what to acknowledge.
    pub fn committed(&mut self, accepted: &Accepted) -> u64 {
        match self {
            Self::Up(r) => r.committed(accepted),
            Self::Down(r) => r.committed(accepted),
        }
    }

    /// The peer's log is held up to here.
    pub fn have(&self) -> u64 {
        match self {
            Self::Up(r) => r.have(),
            Self::Down(r) => r.have(),
        }
    }
}

/// The peer acknowledged this node's flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// The acknowledged cursor before.
    pub before: u64,
    /// What the peer acknowledged.
    pub upto: u64,
    /// The acknowledged cursor now.
    pub acked: u64,
    /// Make the acknowledgement durable now, up to here (at most once per
    /// [`PERSIST_ACK_EVERY_MS`]).
    pub persist: Option<u64>,
}

/// What a message from the peer asks of the driver.
#[derive(Debug)]
pub enum Received<Q> {
    /// Nothing (a query from a parent, an answer to no pending question).
    Nothing,
    /// A batch to check, apply and acknowledge ([`Session::ack`]).
    Batch(Batch),
    /// An acknowledgement of this node's flow, already taken by the sender.
    Acked(Acked),
    /// The peer's status, and its clock less this node's (ms).
    Status {
        /// What the peer said.
        status: LinkStatus,
        /// Its clock less this node's.
        skew_ms: i64,
    },
    /// The peer's question, to answer with `Message::Answer` and this id.
    /// A child asks anything the tree answers; a parent's question is
    /// marked, and the driver answers only what a parent may ask of its
    /// child (a file the parent's subtree handles).
    Question {
        /// Correlation id.
        id: u64,
        /// The question.
        body: String,
        /// Asked by the parent (this node is the child on the link).
        from_parent: bool,
    },
    /// The answer to one of this node's questions.
    Answer {
        /// What [`Session::ask`] was given for the question.
        reply: Q,
        /// The answer.
        body: Option<String>,
    },
}

/// Why a session ends at a message from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The peer broke a rule of the protocol.
    Violation(Violation),
    /// The peer refused this node.
    Rejected {
        /// Stable code.
        code: String,
        /// Why.
        message: String,
    },
    /// The peer acknowledged beyond this node's log.
    AckBeyondLog {
        /// The peer.
        peer: NodeId,
        /// What it acknowledged.
        upto: u64,
    },
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Violation(v) => v.fmt(f),
            Self::Rejected { code, message } => write!(f, "the peer refused: {code} {message}"),
            Self::AckBeyondLog { peer, upto } => {
                write!(f, "{peer} acknowledged {upto}, beyond this log")
            }
        }
    }
}

impl std::error::Error for Ending {}

/// The status timer fired: what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTick {
    /// A parent checks that its child is not revoked (and ends the session
    /// if it is).
    pub check_revocation: bool,
    /// The status to send.
    pub status: Message,
}

/// A running session. `Q` is what the driver keeps for each question it
/// asks, handed back with the answer.
#[derive(Debug)]
pub struct Session<Q> {
    cfg: SessionConfig,
    direction: Direction,
    hello: Hello,
    sender: Sender,
    receiver: Receiver,
    receiving_recovery: bool,
    last_ack_persist_ms: Option<i64>,
    next_status_ms: i64,
    next_query: u64,
    pending: HashMap<u64, Q>,
}

impl<Q> Session<Q> {
    /// This node's side.
    pub fn role(&self) -> Role {
        self.cfg.role
    }

    /// The peer.
    pub fn peer(&self) -> &NodeId {
        &self.cfg.peer
    }

    /// The peer's Hello.
    pub fn peer_hello(&self) -> &Hello {
        &self.hello
    }

    /// The flow this node sends.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Is this session a recovery (a child receiving its own log back)?
    pub fn receiving_recovery(&self) -> bool {
        self.receiving_recovery
    }

    /// The sender of this node's flow.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The sender of this node's flow, for what this type does not wrap.
    pub fn sender_mut(&mut self) -> &mut Sender {
        &mut self.sender
    }

    /// The receiver of the peer's flow.
    pub fn receiver_mut(&mut self) -> &mut Receiver {
        &mut self.receiver
    }

    /// What to read from the log and send now, if anything.
    pub fn poll_send(&mut self, now_ms: i64) -> Option<ReadRequest> {
        self.sender.poll_send(now_ms)
    }

    /// The batch answering `req`, with the entries read up to `upto` (moved
    /// into the message). Report it with [`Session::sent`] once written.
    pub fn batch(&self, req: &ReadRequest, upto: u64, entries: Vec<WireEntry>) -> Message {
        Message::Batch(Batch {
            direction: self.direction,
            after: req.after,
            upto,
            entries,
        })
    }

    /// A batch up to `upto` went out in a frame of `bytes` (what the
    /// sender learns the link's rate from).
    pub fn sent(&mut self, now_ms: i64, upto: u64, bytes: usize) {
        self.sender.sent_bytes(now_ms, upto, bytes);
    }

    /// The link's learned rate in bytes a second, once known.
    pub fn rate_bytes_per_s(&self) -> Option<f64> {
        self.sender.rate_bytes_per_s()
    }

    /// The send flow's route grew to `head`.
    pub fn appended(&mut self, now_ms: i64, head: u64) {
        self.sender.appended(now_ms, head);
    }

    /// When to wake next (ms): the sender's timer or the status, whichever
    /// comes first.
    pub fn poll_timeout(&self) -> i64 {
        self.sender
            .poll_timeout()
            .map_or(self.next_status_ms, |t| t.min(self.next_status_ms))
    }

    /// Time passed: the sender's timer.
    pub fn handle_timeout(&mut self, now_ms: i64) {
        self.sender.handle_timeout(now_ms);
    }

    /// The status, when due at `now_ms`: at the start, then every
    /// [`STATUS_EVERY_MS`] (once, however late; at once if the clock went
    /// back past the previous one).
    pub fn poll_status(&mut self, now_ms: i64, catalogue_version: i64) -> Option<StatusTick> {
        let late = now_ms - self.next_status_ms;
        let went_back = now_ms < self.next_status_ms - STATUS_EVERY_MS;
        if late < 0 && !went_back {
            return None;
        }
        self.next_status_ms = if (0..STATUS_EVERY_MS).contains(&late) {
            self.next_status_ms + STATUS_EVERY_MS
        } else {
            now_ms + STATUS_EVERY_MS
        };
        Some(StatusTick {
            check_revocation: self.cfg.role == Role::Parent,
            status: Message::Status(LinkStatus {
                software: self.cfg.software.clone(),
                catalogue_version,
                backlog: self.sender.backlog(),
                acked: self.sender.acked_upto(),
                now_ms,
                subtree: Vec::new(),
                name_zh: String::new(),
                name_en: String::new(),
                queue: Vec::new(),
            }),
        })
    }

    /// The acknowledgement of a received batch whose entries are durable
    /// up to `upto`.
    pub fn ack(&self, batch: &Batch, upto: u64) -> Message {
        Message::Ack {
            direction: batch.direction,
            upto,
        }
    }

    /// A question to the peer: `reply` is handed back with its answer.
    pub fn ask(&mut self, reply: Q, body: String) -> Message {
        self.next_query += 1;
        self.pending.insert(self.next_query, reply);
        Message::Query {
            id: self.next_query,
            body,
        }
    }

    /// Questions asked and not answered yet.
    pub fn pending_questions(&self) -> usize {
        self.pending.len()
    }

    /// A message from the peer at `now_ms` (`Err`: the reader's frame
    /// error): what the driver does with it, or why the session ends.
    pub fn on_message(
        &mut self,
        now_ms: i64,
        message: Result<Message, String>,
    ) -> Result<Received<Q>, Ending> {
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                return Err(Ending::Violation(Violation {
                    kind: frame_error_kind(&e),
                    error: format!("{} sent a bad frame: {e}", self.cfg.peer),
                    detail: e,
                    reject: true,
                }));
            }
        };
        Ok(match message {
            Message::Batch(b) => Received::Batch(b),
            Message::Ack { upto, .. } => {
                let before = self.sender.acked_upto();
                if self.sender.acked(now_ms, upto).is_err() {
                    return Err(Ending::AckBeyondLog {
                        peer: self.cfg.peer.clone(),
                        upto,
                    });
                }
                let persist = self
                    .last_ack_persist_ms
                    .is_none_or(|last| now_ms - last >= PERSIST_ACK_EVERY_MS)
                    .then(|| {
                        self.last_ack_persist_ms = Some(now_ms);
                        upto
                    });
                Received::Acked(Acked {
                    before,
                    upto,
                    acked: self.sender.acked_upto(),
                    persist,
                })
            }
            Message::Status(status) => Received::Status {
                skew_ms: status.now_ms - now_ms,
                status,
            },
            Message::Reject { code, message } => return Err(Ending::Rejected { code, message }),
            Message::Query { id, body } => Received::Question {
                id,
                body,
                from_parent: self.cfg.role == Role::Child,
            },
            Message::Answer { id, body } => match self.pending.remove(&id) {
                Some(reply) => Received::Answer { reply, body },
                None => Received::Nothing,
            },
            Message::Hello(_) => {
                return Err(Ending::Violation(Violation {
                    kind: "second_hello",
                    detail: "a second Hello on a link".into(),
                    reject: false,
                    error: format!("{} said hello twice", self.cfg.peer),
                }));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_790_000_000_000;

    fn id(s: &str) -> NodeId {
        NodeId::new(s).expect("valid id")
    }

    fn cfg(role: Role) -> SessionConfig {
        let (me, peer) = match role {
            Role::Parent => (id("r.a"), id("r.a.x")),
            Role::Child => (id("r.a.x"), id("r.a")),
        };
        SessionConfig {
            role,
            me,
            peer,
            software: "1.2.3".into(),
            limits: Limits::default(),
            max_frame_bytes: 16 << 20,
            max_depth: 2,
        }
    }

    fn local() -> LocalState {
        LocalState {
            catalogue_version: 3,
            now_ms: T0,
            have: 40,
            acked: 10,
            your_origin_head: 7,
            head: 50,
            recovering: false,
            start_head: 45,
            incarnation: 11,
            earlier: vec![Earlier {
                incarnation: 9,
                start_head: 5,
            }],
            older_floor: Some(0),
            peer_incarnation: Some(21),
        }
    }

    fn peer_hello(c: &SessionConfig) -> Hello {
        Hello {
            node: c.peer.clone(),
            software: "1.2.4".into(),
            catalogue_version: 3,
            now_ms: T0 + 250,
            have: 20,
            your_origin_head: 0,
            head: 60,
            recovering: false,
            start_head: 55,
            incarnation: 21,
            earlier: Vec::new(),
            older_floor: None,
        }
    }

    fn greeted(role: Role, edit: impl FnOnce(&mut Hello)) -> Greeted {
        let c = cfg(role);
        let mut h = peer_hello(&c);
        edit(&mut h);
        Handshake::new(c, local())
            .peer_hello(Ok(Message::Hello(h)))
            .expect("a good Hello")
    }

    fn started(role: Role) -> Session<&'static str> {
        greeted(role, |_| {}).start(T0, 50)
    }

    fn violation<T: std::fmt::Debug>(r: Result<T, Violation>) -> Violation {
        r.expect_err("a violation")
    }

    #[test]
    fn our_hello_says_what_the_driver_read() {
        let Message::Hello(h) = Handshake::new(cfg(Role::Child), local()).hello() else {
            panic!("a Hello");
        };
        assert_eq!(
            h,
            Hello {
                node: id("r.a.x"),
                software: "1.2.3".into(),
                catalogue_version: 3,
                now_ms: T0,
                have: 40,
                your_origin_head: 7,
                head: 50,
                recovering: false,
                start_head: 45,
                incarnation: 11,
                earlier: vec![Earlier {
                    incarnation: 9,
                    start_head: 5,
                }],
                older_floor: Some(0),
            }
        );
        // Only a child asks its parent for its own log.
        let recovering = LocalState {
            recovering: true,
            ..local()
        };
        let child = Handshake::new(cfg(Role::Child), recovering.clone());
        assert!(child.asks_recovery());
        assert!(matches!(child.hello(), Message::Hello(h) if h.recovering));
        let parent = Handshake::new(cfg(Role::Parent), recovering);
        assert!(!parent.asks_recovery());
        assert!(matches!(parent.hello(), Message::Hello(h) if !h.recovering));
    }

    #[test]
    fn a_hello_naming_another_node_is_a_mismatch() {
        let c = cfg(Role::Parent);
        let mut h = peer_hello(&c);
        h.node = id("r.a.y");
        let v = violation(Handshake::new(c, local()).peer_hello(Ok(Message::Hello(h))));
        assert_eq!(v.kind, "hello_mismatch");
        assert_eq!(v.detail, "the Hello names r.a.y, the certificate r.a.x");
        assert!(!v.reject);
        assert_eq!(v.reject_message(), None);
    }

    #[test]
    fn a_peer_silent_past_the_hello_time_is_no_hello() {
        let v = Handshake::new(cfg(Role::Parent), local()).no_hello_in_time();
        assert_eq!(v.kind, "no_hello");
        assert_eq!(v.detail, "no Hello within 15 s");
        assert!(!v.reject);
    }

    #[test]
    fn a_first_message_other_than_a_hello_is_no_hello() {
        for first in [
            Message::Ack {
                direction: Direction::Up,
                upto: 1,
            },
            Message::Query {
                id: 1,
                body: "?".into(),
            },
            Message::Batch(Batch {
                direction: Direction::Up,
                after: 0,
                upto: 0,
                entries: Vec::new(),
            }),
        ] {
            let v = violation(Handshake::new(cfg(Role::Parent), local()).peer_hello(Ok(first)));
            assert_eq!(v.kind, "no_hello");
            assert_eq!(v.detail, "the first message was not a Hello");
            assert_eq!(v.to_string(), "r.a.x did not say hello");
        }
    }

    #[test]
    fn a_bad_first_frame_is_recorded_by_its_kind() {
        let v = violation(
            Handshake::new(cfg(Role::Parent), local())
                .peer_hello(Err("frame_too_large: 99 bytes".into())),
        );
        assert_eq!(
            (v.kind, v.detail.as_str()),
            ("frame_too_large", "frame_too_large: 99 bytes")
        );
        let v = violation(
            Handshake::new(cfg(Role::Parent), local())
                .peer_hello(Err("malformed_frame: junk".into())),
        );
        assert_eq!(v.kind, "bad_frame");
        assert!(!v.reject, "no Reject before the Hello");
        assert_eq!(frame_error_kind("over_bound: x"), "bad_frame");
        assert_eq!(frame_error_kind("protocol_version: 9"), "bad_frame");
    }

    #[test]
    fn a_second_hello_ends_the_session() {
        let c = cfg(Role::Parent);
        let mut s = started(Role::Parent);
        let e = s
            .on_message(T0, Ok(Message::Hello(peer_hello(&c))))
            .expect_err("ends");
        let Ending::Violation(v) = e else {
            panic!("a violation: {e:?}");
        };
        assert_eq!(
            (v.kind, v.detail.as_str()),
            ("second_hello", "a second Hello on a link")
        );
        assert!(!v.reject);
        assert_eq!(v.to_string(), "r.a.x said hello twice");
    }

    #[test]
    fn a_bad_frame_in_a_session_is_refused_with_its_kind() {
        let mut s = started(Role::Child);
        let e = s
            .on_message(T0, Err("frame_too_large: 1 GiB".into()))
            .expect_err("ends");
        let Ending::Violation(v) = e else {
            panic!("a violation: {e:?}");
        };
        assert_eq!(v.kind, "frame_too_large");
        assert_eq!(
            v.reject_message(),
            Some(Message::Reject {
                code: "frame_too_large".into(),
                message: "frame_too_large: 1 GiB".into()
            })
        );
        let Err(Ending::Violation(v)) = s.on_message(T0, Err("malformed_frame: x".into())) else {
            panic!("a violation");
        };
        assert_eq!(v.kind, "bad_frame");
        assert!(v.reject);
    }

    #[test]
    fn a_peer_shorter_than_what_is_held_of_it_resets_the_cursor() {
        // Held 40 of the peer; it says its log ends at 30.
        let g = greeted(Role::Parent, |h| h.head = 30);
        assert_eq!(g.cursor_reset(), Some(30));
        assert!(g.restart_after_reset());
        let mut s: Session<()> = g.start(T0, 50);
        let Receiver::Up(r) = s.receiver_mut() else {
            panic!("a parent receives up");
        };
        assert_eq!(r.have(), 30);
        // At or above what is held: no reset.
        for head in [40, 41] {
            let g = greeted(Role::Child, |h| h.head = head);
            assert_eq!(g.cursor_reset(), None, "head {head}");
            assert!(!g.restart_after_reset(), "head {head}");
            let mut s: Session<()> = g.start(T0, 50);
            assert_eq!(s.receiver_mut().have(), 40);
        }
    }

    #[test]
    fn a_peer_started_again_on_a_log_put_back_resets_the_cursor_to_its_start() {
        // Held 40 of the peer. It started again (incarnation 22, not the
        // 21 heard last) on a log that then ended at 30, and has grown to
        // 60 since, numbered anew: the cursor goes back to 30.
        let g = greeted(Role::Parent, |h| {
            h.incarnation = 22;
            h.start_head = 30;
        });
        assert_eq!(g.cursor_reset(), Some(30));
        assert_eq!(g.peer_incarnation(), 22);
        let mut s: Session<()> = g.start(T0, 50);
        assert_eq!(s.receiver_mut().have(), 30);
        // Started again on a whole log (its start at or above the cursor):
        // nothing to go back over.
        let g = greeted(Role::Parent, |h| {
            h.incarnation = 22;
            h.start_head = 40;
        });
        assert_eq!(g.cursor_reset(), None);
        // The same incarnation as before: a link that came back, not a
        // restart; a log longer than its start is its own.
        let g = greeted(Role::Parent, |h| h.start_head = 30);
        assert_eq!(g.cursor_reset(), None);
        // An incarnation not known (a release without it, or this node
        // started since): only a head below the cursor resets it.
        let g = greeted(Role::Parent, |h| {
            h.incarnation = 0;
            h.start_head = 0;
        });
        assert_eq!(g.cursor_reset(), None);
        let c = cfg(Role::Parent);
        let mut h = peer_hello(&c);
        h.incarnation = 22;
        h.start_head = 30;
        let fresh = LocalState {
            peer_incarnation: None,
            ..local()
        };
        let g = match Handshake::new(c, fresh).peer_hello(Ok(Message::Hello(h))) {
            Ok(g) => g,
            Err(v) => panic!("{v}"),
        };
        assert_eq!(g.cursor_reset(), None);
    }

    #[test]
    fn every_start_since_the_incarnation_last_heard_counts() {
        let e = |incarnation, start_head| Earlier {
            incarnation,
            start_head,
        };
        // Held 40 of the peer, last heard as incarnation 21. Since then it
        // was put back and started at 25 (incarnation 30), its villages
        // resent to it, and it started again at 48 (incarnation 31, now):
        // its log is numbered anew from 25, not 48 (chaos seed 50098).
        let g = greeted(Role::Parent, |h| {
            h.incarnation = 31;
            h.start_head = 48;
            h.earlier = vec![e(20, 0), e(21, 30), e(30, 25)];
            h.older_floor = Some(0);
        });
        assert_eq!(g.cursor_reset(), Some(25));
        // Put back twice: its head is below the cursor, and its log was
        // numbered anew from lower still (chaos seed 50111).
        let g = greeted(Role::Parent, |h| {
            h.incarnation = 31;
            h.head = 38;
            h.start_head = 33;
            h.earlier = vec![e(21, 30), e(30, 35)];
        });
        assert_eq!(g.cursor_reset(), Some(33));
        // Starts before the one last heard do not count.
        let g = greeted(Role::Parent, |h| {
            h.incarnation = 31;
            h.start_head = 48;
            h.earlier = vec![e(20, 3), e(21, 30), e(30, 44)];
        });
        assert_eq!(g.cursor_reset(), None);
        // The one last heard is not listed (older than the list, or of a
        // copy the peer was put back from): every start it knows counts,
        // and those older than the list.
        let g = greeted(Role::Parent, |h| {
            h.incarnation = 31;
            h.start_head = 48;
            h.earlier = vec![e(29, 42), e(30, 44)];
            h.older_floor = Some(12);
        });
        assert_eq!(g.cursor_reset(), Some(12));
        let g = greeted(Role::Parent, |h| {
            h.incarnation = 31;
            h.start_head = 48;
            h.earlier = vec![e(29, 42), e(30, 44)];
            h.older_floor = None;
        });
        assert_eq!(g.cursor_reset(), None);
        // The list travels whole; one over the bound is refused when the
        // Hello is read.
        let mut h = peer_hello(&cfg(Role::Parent));
        h.earlier = vec![e(29, 42), e(30, 44)];
        h.older_floor = Some(12);
        let m = Message::Hello(h.clone());
        assert_eq!(Message::decode(&m.encode(), &Limits::default()), Ok(m));
        h.earlier = (0..=crate::replication::MAX_EARLIER as u64)
            .map(|i| e(i + 1, i))
            .collect();
        assert!(matches!(
            Message::decode(&Message::Hello(h).encode(), &Limits::default()),
            Err(crate::replication::WireError::TooLong { .. })
        ));
    }

    #[test]
    fn the_hello_decides_skew_route_sender_and_receiver() {
        let g = greeted(Role::Parent, |_| {});
        assert_eq!(g.skew_ms(T0 + 50), 200);
        assert_eq!(g.send_flow(), SendFlow::Down(DownScope::Meant));
        let g = greeted(Role::Parent, |h| h.recovering = true);
        assert_eq!(g.send_flow(), SendFlow::Down(DownScope::Recovery));
        let g = greeted(Role::Child, |h| h.recovering = true);
        assert_eq!(g.send_flow(), SendFlow::Up);

        // The sender resends from what the peer's Hello says it holds.
        let mut s = started(Role::Parent);
        assert_eq!(s.direction(), Direction::Down);
        assert_eq!(s.sender().acked_upto(), 20);
        assert_eq!(s.poll_send(T0), None, "a batch waits to fill");
        let req = s.poll_send(T0 + 10).expect("the rest of the log goes");
        assert_eq!((req.after, req.upto), (20, 50));
        assert_eq!(
            (req.max_entries, req.max_bytes),
            (1000, Pacing::default().initial_batch_bytes),
            "the default entries; the paced first batch's bytes"
        );
        assert_eq!(
            cfg(Role::Parent).sender_config().max_batch_bytes,
            1 << 20,
            "the default bytes, under the frame bound"
        );
        let Receiver::Up(r) = s.receiver_mut() else {
            panic!("a parent receives up");
        };
        assert_eq!(r.max_depth(), 2);

        // Batches stay under the peer's bounds.
        let small = SessionConfig {
            limits: Limits {
                max_entries: 100,
                ..Limits::default()
            },
            max_frame_bytes: 64 * 1024,
            ..cfg(Role::Child)
        };
        let sc = small.sender_config();
        assert_eq!((sc.max_batch_entries, sc.max_batch_bytes), (100, 32 * 1024));
        assert!(sc.ack_timeout_ms > 1_000_000_000_000, "never on a stream");
    }

    #[test]
    fn a_recovering_parent_turns_its_child_away() {
        let g = greeted(Role::Parent, |_| {});
        assert_eq!(g.refusal(false), None);
        assert_eq!(
            g.refusal(true),
            Some(Message::Reject {
                code: "hall_recovering".into(),
                message: "r.a is recovering its own log from its parent".into()
            })
        );
        // A recovering child is not turned away by anything of its own.
        assert_eq!(greeted(Role::Child, |_| {}).refusal(true), None);
    }

    #[test]
    fn the_recovery_decides_whether_the_child_goes_on() {
        for (action, goes_on, receiving) in [
            (HelloAction::Proceed, true, false),
            (HelloAction::Receive, true, true),
            (HelloAction::Reconnect, false, false),
            (HelloAction::Recovered, false, false),
        ] {
            let mut g = greeted(Role::Child, |_| {});
            assert_eq!(g.recovery(action), goes_on, "{action:?}");
            if goes_on {
                let mut s: Session<()> = g.start(T0, 50);
                assert_eq!(s.receiving_recovery(), receiving);
                let Receiver::Down(r) = s.receiver_mut() else {
                    panic!("a child receives down");
                };
                assert_eq!(r.is_recovering(), receiving);
                assert_eq!(r.max_depth(), 2);
            }
        }
    }

    fn ack(upto: u64) -> Result<Message, String> {
        Ok(Message::Ack {
            direction: Direction::Up,
            upto,
        })
    }

    fn acked(s: &mut Session<&'static str>, now: i64, upto: u64) -> Acked {
        match s.on_message(now, ack(upto)) {
            Ok(Received::Acked(a)) => a,
            other => panic!("an ack: {other:?}"),
        }
    }

    #[test]
    fn acknowledgements_are_persisted_at_most_twice_a_second() {
        let mut s = started(Role::Child);
        let a = acked(&mut s, T0, 25);
        assert_eq!(
            a,
            Acked {
                before: 20,
                upto: 25,
                acked: 25,
                persist: Some(25)
            },
            "the first at once"
        );
        assert_eq!(acked(&mut s, T0 + 100, 30).persist, None);
        assert_eq!(acked(&mut s, T0 + 499, 31).persist, None);
        assert_eq!(acked(&mut s, T0 + 500, 32).persist, Some(32));
        assert_eq!(acked(&mut s, T0 + 999, 33).persist, None);
        let a = acked(&mut s, T0 + 1000, 34);
        assert_eq!((a.before, a.acked, a.persist), (33, 34, Some(34)));
    }

    #[test]
    fn an_ack_beyond_the_log_ends_the_session() {
        let mut s = started(Role::Child);
        let e = s
            .on_message(T0, ack(51))
            .expect_err("beyond the head of 50");
        assert_eq!(
            e,
            Ending::AckBeyondLog {
                peer: id("r.a"),
                upto: 51
            }
        );
        assert_eq!(e.to_string(), "r.a acknowledged 51, beyond this log");
        assert_eq!(s.sender().acked_upto(), 20, "nothing changed");
        assert_eq!(acked(&mut s, T0, 50).acked, 50);
    }

    #[test]
    fn answers_are_matched_to_the_questions_asked() {
        let mut s = started(Role::Child);
        assert_eq!(
            s.ask("first", "q1".into()),
            Message::Query {
                id: 1,
                body: "q1".into()
            }
        );
        assert!(matches!(
            s.ask("second", "q2".into()),
            Message::Query { id: 2, .. }
        ));
        assert_eq!(s.pending_questions(), 2);
        let answer = |id, body: &str| {
            Ok(Message::Answer {
                id,
                body: Some(body.into()),
            })
        };
        match s.on_message(T0, answer(2, "a2")) {
            Ok(Received::Answer { reply, body }) => {
                assert_eq!((reply, body.as_deref()), ("second", Some("a2")));
            }
            other => panic!("the answer to the second: {other:?}"),
        }
        // Answered once; an unknown id is nothing.
        assert!(matches!(
            s.on_message(T0, answer(2, "again")),
            Ok(Received::Nothing)
        ));
        assert!(matches!(
            s.on_message(T0, answer(9, "?")),
            Ok(Received::Nothing)
        ));
        assert_eq!(s.pending_questions(), 1);
        match s.on_message(T0, answer(1, "a1")) {
            Ok(Received::Answer { reply, .. }) => assert_eq!(reply, "first"),
            other => panic!("the answer to the first: {other:?}"),
        }
        assert_eq!(s.pending_questions(), 0);
        assert!(matches!(
            s.ask("third", "q3".into()),
            Message::Query { id: 3, .. }
        ));
    }

    #[test]
    fn questions_are_marked_with_who_asked() {
        let q = || {
            Ok(Message::Query {
                id: 7,
                body: "where is case 1?".into(),
            })
        };
        let mut parent = started(Role::Parent);
        match parent.on_message(T0, q()) {
            Ok(Received::Question {
                id,
                body,
                from_parent,
            }) => {
                assert_eq!((id, body.as_str()), (7, "where is case 1?"));
                assert!(!from_parent, "a child asked its parent");
            }
            other => panic!("a question: {other:?}"),
        }
        let mut child = started(Role::Child);
        match child.on_message(T0, q()) {
            Ok(Received::Question { from_parent, .. }) => {
                assert!(from_parent, "the parent asked its child");
            }
            other => panic!("a question: {other:?}"),
        }
    }

    #[test]
    fn the_status_goes_at_the_start_and_every_two_seconds() {
        // Nothing to send: the status is the only timer.
        let mut s: Session<()> = greeted(Role::Parent, |_| {}).start(T0, 20);
        let tick = s.poll_status(T0, 4).expect("at the start");
        assert!(tick.check_revocation, "a parent checks its child");
        assert_eq!(
            tick.status,
            Message::Status(LinkStatus {
                software: "1.2.3".into(),
                catalogue_version: 4,
                backlog: 0,
                acked: 20,
                now_ms: T0,
                subtree: Vec::new(),
                name_zh: String::new(),
                name_en: String::new(),
                queue: Vec::new(),
            })
        );
        assert!(s.poll_status(T0, 4).is_none());
        assert_eq!(s.poll_timeout(), T0 + 2000);
        assert!(s.poll_status(T0 + 1999, 4).is_none());
        assert!(s.poll_status(T0 + 2000, 4).is_some());
        assert!(s.poll_status(T0 + 2001, 4).is_none());
        assert!(s.poll_status(T0 + 4100, 4).is_some(), "a little late");
        assert_eq!(s.poll_timeout(), T0 + 6000, "keeps its pace");
        // Far behind: once, then two seconds on.
        assert!(s.poll_status(T0 + 20_000, 4).is_some());
        assert!(s.poll_status(T0 + 20_001, 4).is_none());
        assert_eq!(s.poll_timeout(), T0 + 22_000);
        // The clock went back: at once.
        assert!(s.poll_status(T0 + 10_000, 4).is_some());
        assert!(s.poll_status(T0 + 10_001, 4).is_none());
        assert!(s.poll_status(T0 + 12_000, 4).is_some());

        let mut child = started(Role::Child);
        assert_eq!(child.sender().backlog(), 30);
        assert!(!child.poll_status(T0, 4).expect("due").check_revocation);
    }

    #[test]
    fn the_wake_is_the_sooner_of_the_sender_and_the_status() {
        let mut s = started(Role::Parent);
        assert!(s.poll_status(T0, 1).is_some());
        assert_eq!(s.poll_timeout(), T0 + 10, "the sender's delay");
        let req = s.poll_send(T0 + 10).expect("due");
        s.sent(T0 + 10, req.upto, 1000);
        assert_eq!(s.poll_timeout(), T0 + 2000, "nothing to send");
        s.appended(T0 + 15, 51);
        assert_eq!(s.poll_timeout(), T0 + 25, "the sender's delay");
        s.handle_timeout(T0 + 25);
        let req = s.poll_send(T0 + 25).expect("due");
        let Message::Batch(b) = s.batch(&req, 51, Vec::new()) else {
            panic!("a batch");
        };
        assert_eq!((b.direction, b.after, b.upto), (Direction::Down, 50, 51));
    }

    #[test]
    fn a_reject_ends_the_session_and_status_carries_the_skew() {
        let mut s = started(Role::Child);
        match s.on_message(
            T0,
            Ok(Message::Status(LinkStatus {
                software: "9".into(),
                catalogue_version: 1,
                backlog: 2,
                acked: 3,
                now_ms: T0 - 40,
                subtree: Vec::new(),
                name_zh: String::new(),
                name_en: String::new(),
                queue: Vec::new(),
            })),
        ) {
            Ok(Received::Status { status, skew_ms }) => {
                assert_eq!((status.backlog, skew_ms), (2, -40));
            }
            other => panic!("a status: {other:?}"),
        }
        let e = s
            .on_message(
                T0,
                Ok(Message::Reject {
                    code: "fork".into(),
                    message: "at 3".into(),
                }),
            )
            .expect_err("ends");
        assert_eq!(
            e,
            Ending::Rejected {
                code: "fork".into(),
                message: "at 3".into()
            }
        );
    }

    #[test]
    fn a_batch_is_handed_back_and_acknowledged_on_its_flow() {
        let mut s = started(Role::Parent);
        let b = Batch {
            direction: Direction::Up,
            after: 40,
            upto: 40,
            entries: Vec::new(),
        };
        let Ok(Received::Batch(got)) = s.on_message(T0, Ok(Message::Batch(b.clone()))) else {
            panic!("a batch");
        };
        assert_eq!(got, b);
        assert_eq!(
            s.ack(&got, 40),
            Message::Ack {
                direction: Direction::Up,
                upto: 40
            }
        );
        assert!(!s.receiver_mut().wants_streams());
        assert!(started(Role::Child).receiver_mut().wants_streams());
    }
}
