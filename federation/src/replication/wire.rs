//! What travels on a link.

use serde::{Deserialize, Serialize};

use crate::{LogEntry, NodeId};

/// Which flow a batch or an acknowledgement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Child to parent.
    Up,
    /// Parent to child.
    Down,
}

/// One log entry as sent on a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEntry {
    /// The sender's local sequence number of the entry.
    pub local_seq: u64,
    /// The entry itself.
    pub entry: LogEntry,
    /// The ordering stream (a case), if the entry belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Its place in the stream, from 1.
    #[serde(default)]
    pub stream_seq: u64,
}

/// A batch of entries: everything of the sender's log in `(after, upto]`
/// that is meant for the receiver (possibly nothing: a batch may only move
/// the cursor over entries the flow leaves out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Which flow.
    pub direction: Direction,
    /// The sender's local sequence this batch starts after.
    pub after: u64,
    /// The sender's local sequence this batch covers up to.
    pub upto: u64,
    /// The entries, in the sender's local order.
    pub entries: Vec<WireEntry>,
}

impl Batch {
    /// Approximate size in bytes, for batch limits.
    pub fn approx_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(WireEntry::approx_bytes)
            .sum::<usize>()
            + 64
    }
}

impl WireEntry {
    /// Approximate size in bytes.
    pub fn approx_bytes(&self) -> usize {
        self.entry.body.len()
            + self.entry.origin.as_str().len()
            + self.stream.as_ref().map_or(0, String::len)
            + 200
    }
}

/// The first message each side sends on a new connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The sender's node id (also proven by its certificate).
    pub node: NodeId,
    /// Software version.
    pub software: String,
    /// Catalogue version in use.
    pub catalogue_version: i64,
    /// The sender's clock (ms), for skew.
    pub now_ms: i64,
    /// The highest local sequence *of the peer* that the sender holds
    /// durably on this link: the peer resumes sending after it.
    pub have: u64,
}

/// A status report on a link, sent periodically by each side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// Software version.
    pub software: String,
    /// Catalogue version in use.
    pub catalogue_version: i64,
    /// Entries the sender still has to deliver on this link.
    pub backlog: u64,
    /// The highest of the sender's entries the peer acknowledged.
    pub acked: u64,
    /// The sender's clock (ms).
    pub now_ms: i64,
}

/// Every message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// Opening.
    Hello(Hello),
    /// Entries.
    Batch(Batch),
    /// Everything up to `upto` of the flow is durable at the receiver.
    Ack {
        /// Which flow.
        direction: Direction,
        /// Sender's local sequence.
        upto: u64,
    },
    /// Periodic status.
    Status(LinkStatus),
    /// The receiver refuses a batch; the link closes.
    Reject {
        /// Stable code.
        code: String,
        /// Why.
        message: String,
    },
    /// A question passed up the tree (opaque to this crate).
    Query {
        /// Correlation id.
        id: u64,
        /// The question.
        body: String,
    },
    /// The answer to a [`Message::Query`].
    Answer {
        /// Correlation id.
        id: u64,
        /// The answer, if any.
        body: Option<String>,
    },
}
