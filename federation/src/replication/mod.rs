//! The replication protocol, without I/O.
//!
//! Nothing here touches a socket, a store or the clock: time is passed in as
//! milliseconds, the log is read and written by the caller, and every decision
//! (what to send, what to apply, what to acknowledge) comes back as data. The
//! thin driver in the node feeds it real QUIC streams and a real store; the
//! simulation tests feed it a lossy simulated network and a simulated clock.
//!
//! On every link there are two flows, each a [`Sender`] on one side and a
//! receiver on the other:
//!
//! - **up** (child to parent): the child's whole log for its subtree. The
//!   parent's [`UpReceiver`] checks each entry's origin is in the child's
//!   subtree, that each origin's sequence has no gap and its hash chain is
//!   unbroken, and skips what it already holds.
//! - **down** (parent to child): the subset of the parent's log meant for the
//!   child (rules from above, results of the child's cases). The child's
//!   [`DownReceiver`] checks each origin is one of its ancestors and applies a
//!   stream's entries (a case's versions) in order, holding back what comes
//!   early.
//!
//! A node that lost the tail of its own log (its store put back to an older
//! copy) takes it back from its parent before writing again: see
//! [`Recovery`] and [`DownScope`].
//!
//! One link session (the Hello each way and its checks, what the peer's
//! Hello decides, acknowledgements, questions, status) is a state machine
//! too: [`Handshake`], then [`Greeted`], then [`Session`], which owns the
//! session's [`Sender`] and [`Receiver`].
//!
//! Cursors count the *sender's* local sequence. A receiver acknowledges a
//! batch only after the caller says it is durable, so an acknowledged entry is
//! never lost; the sender resends everything above the acknowledged cursor
//! after a reconnect or an acknowledgement timeout, and receivers skip what
//! they hold, so each entry takes effect once.

mod receiver;
mod recovery;
mod sender;
mod session;
mod wire;

pub use receiver::{Accepted, DownLookup, DownReceiver, Refusal, UpLookup, UpReceiver};
pub use recovery::{DownScope, HelloAction, Recovery};
pub use sender::{Pacing, ReadRequest, Sender, SenderConfig};
pub use session::{
    Acked, Ending, Greeted, HALL_RECOVERING, HELLO_TIMEOUT_MS, Handshake, LocalState,
    PERSIST_ACK_EVERY_MS, Received, Receiver, Role, STATUS_EVERY_MS, SendFlow, Session,
    SessionConfig, StatusTick, Violation, frame_error_kind,
};
pub use wire::{
    BATCH_OVERHEAD, Batch, Direction, ENTRY_OVERHEAD, Earlier, Hello, Limits, LinkStatus,
    MAX_EARLIER, Message, PROTOCOL_VERSION, QueueDay, SubtreeNode, WireEntry, WireError,
};
