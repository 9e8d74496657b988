//! What travels on a link, and how it is encoded.
//!
//! A frame's payload is one [`Message`]: a protocol byte
//! ([`PROTOCOL_VERSION`]) followed by a Protocol Buffers message (prost).
//! Protocol Buffers were chosen for the field numbers: a later release adds
//! fields under new numbers and an older node skips what it does not know,
//! so a tree can run two releases during an upgrade. Integers are varints,
//! names are never repeated: a batch lists each origin once and its entries
//! refer to it by index.
//!
//! Hashes never travel: a receiver computes each entry's hash from its
//! content (one SHA-256 per entry, the only time it is computed), and an
//! entry's previous hash is sent only where it does not follow from the
//! entry before it in the same batch. A forged hash therefore cannot be
//! sent at all; a forged previous hash breaks the chain check.
//!
//! Every string and list a peer sends is bounded ([`Limits`]); a message
//! over a bound is refused whole, before anything of it is used.

use prost::Message as _;

use crate::log::Sealed;
use crate::{EntryHash, LogEntry, NodeId};

/// The protocol's first byte of every frame. Version 1 was JSON (a frame
/// starting with `{`).
pub const PROTOCOL_VERSION: u8 = 2;

/// Which flow a batch or an acknowledgement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Child to parent.
    Up,
    /// Parent to child.
    Down,
}

/// One log entry as sent on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEntry {
    /// The sender's local sequence number of the entry.
    pub local_seq: u64,
    /// The entry itself.
    pub entry: LogEntry,
    /// The ordering stream (a case), if the entry belongs to one. Sent on
    /// the down flow only, where the receiver orders by it.
    pub stream: Option<String>,
    /// Its place in the stream, from 1.
    pub stream_seq: u64,
}

/// A batch of entries: everything of the sender's log in `(after, upto]`
/// that is meant for the receiver (possibly nothing: a batch may only move
/// the cursor over entries the flow leaves out).
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Bytes a batch costs beyond its entries, and an entry beyond its payload
/// (an upper bound of the encoding's overhead).
pub const BATCH_OVERHEAD: usize = 64;
/// See [`BATCH_OVERHEAD`].
pub const ENTRY_OVERHEAD: usize = 96;

impl Batch {
    /// An upper bound of the encoded size, for batch limits.
    pub fn approx_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(WireEntry::approx_bytes)
            .sum::<usize>()
            + BATCH_OVERHEAD
    }
}

impl WireEntry {
    /// An upper bound of the encoded size of this entry in a batch.
    pub fn approx_bytes(&self) -> usize {
        self.entry.payload_len()
            + self.entry.origin.as_str().len()
            + self.stream.as_ref().map_or(0, String::len)
            + ENTRY_OVERHEAD
    }
}

/// The first message each side sends on a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The highest sequence of the *peer's own origin* that the sender
    /// holds: a peer that lost the tail of its own log (restored from an
    /// older copy) learns from it what to recover before writing.
    pub your_origin_head: u64,
    /// The sender's own highest local sequence: a receiver that holds more
    /// of the sender's log than this (the sender was restored from an
    /// older copy) resets its cursor to it.
    pub head: u64,
    /// A child that lost the tail of its own log asks its parent for it:
    /// the parent's down flow on this connection then carries, from the
    /// child's cursor, everything its subtree wrote as well as what is
    /// meant for it ([`super::DownScope::Recovery`]). Always false from a
    /// parent.
    pub recovering: bool,
    /// The sender's own highest local sequence when its process started:
    /// what of its log it held for certain then. A log put back to an
    /// older copy is numbered anew from there, and may have grown past the
    /// receiver's cursor again before they meet.
    pub start_head: u64,
    /// Drawn anew each time the sender's process starts (0: unknown, from
    /// a release without it). A receiver that heard another incarnation
    /// before knows the sender started again since its cursor moved.
    pub incarnation: u64,
    /// The sender's incarnations before this one, oldest first, at most
    /// [`MAX_EARLIER`]: a receiver that last heard one of them knows every
    /// start since, and so the lowest head the log may have been numbered
    /// anew from (two starts since it last heard, the first on a store put
    /// back, the second a plain restart: the second's `start_head` alone
    /// is above where the log was numbered anew).
    pub earlier: Vec<Earlier>,
    /// The lowest `start_head` of the sender's incarnations older than
    /// those in `earlier`, if there are any: for a receiver that last heard
    /// one not listed.
    pub older_floor: Option<u64>,
}

/// One of a sender's earlier incarnations, as its Hello lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Earlier {
    /// The incarnation.
    pub incarnation: u64,
    /// The log's head when it started.
    pub start_head: u64,
}

/// The most earlier incarnations a Hello lists (and a receiver accepts).
pub const MAX_EARLIER: usize = 32;

/// A status report on a link, sent periodically by each side.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// From a child: what it knows of the nodes of its subtree (not of
    /// itself), so that every tier's fleet holds its whole subtree. Empty
    /// from a parent.
    pub subtree: Vec<SubtreeNode>,
    /// The sender's hall name in Chinese (empty when not given).
    pub name_zh: String,
    /// The sender's hall name in English.
    pub name_en: String,
    /// From a child: queue waiting times of its hall and of the halls
    /// below it, summarised per hall, day and bucket, for the last days.
    pub queue: Vec<QueueDay>,
}

/// One hall's queue numbers called on one day whose waits fell in one
/// bucket: how many, their sum and their longest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueDay {
    /// The hall (node id).
    pub hall: String,
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// The bucket (the receiver's and sender's bounds are the same release's).
    pub bucket: u32,
    /// Numbers called.
    pub n: i64,
    /// Sum of their waits (ms).
    pub total_ms: i64,
    /// The longest wait (ms).
    pub max_ms: i64,
}

/// One node of a child's subtree as the child's fleet holds it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubtreeNode {
    /// Node id.
    pub node: String,
    /// A link to it is up (as its parent sees it).
    pub connected: bool,
    /// When its parent last heard of it (ms, the reporting node's clock).
    pub last_seen_ms: Option<i64>,
    /// Its software version.
    pub software: String,
    /// Its catalogue version.
    pub catalogue_version: Option<i64>,
    /// Entries it still has to send up.
    pub backlog: Option<i64>,
    /// Round trip of its link to its parent (ms).
    pub latency_ms: Option<i64>,
    /// Its clock against its parent's (ms).
    pub skew_ms: Option<i64>,
    /// When the certificate it last presented expires (ms).
    pub cert_not_after_ms: Option<i64>,
    /// Its hall name in Chinese (empty when not known).
    pub name_zh: String,
    /// Its hall name in English.
    pub name_en: String,
}

/// Every message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Bounds on what a peer may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest node id, software version or refusal code.
    pub max_name: usize,
    /// Longest refusal message.
    pub max_text: usize,
    /// Longest query or answer.
    pub max_query: usize,
    /// Most entries in one batch.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_name: 128,
            max_text: 2048,
            max_query: 64 * 1024,
            max_entries: 10_000,
        }
    }
}

/// Why a frame could not be read as a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The frame is empty.
    #[error("empty frame")]
    Empty,
    /// The peer speaks another protocol version.
    #[error("the peer speaks protocol version {0}, this node {PROTOCOL_VERSION}")]
    Version(u8),
    /// The payload is not a valid message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A string or list is over its bound.
    #[error("{what} is over its bound of {max}")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// The bound.
        max: usize,
    },
}

impl WireError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty | Self::Malformed(_) => "malformed_frame",
            Self::Version(_) => "protocol_version",
            Self::TooLong { .. } => "over_bound",
        }
    }
}

mod pb {
    //! The Protocol Buffers messages, field numbers fixed forever.
    #![allow(missing_docs)]

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Frame {
        #[prost(oneof = "Msg", tags = "1, 2, 3, 4, 5, 6, 7")]
        pub msg: Option<Msg>,
    }

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Msg {
        #[prost(message, tag = "1")]
        Hello(Hello),
        #[prost(message, tag = "2")]
        Batch(Batch),
        #[prost(message, tag = "3")]
        Ack(Ack),
        #[prost(message, tag = "4")]
        Status(Status),
        #[prost(message, tag = "5")]
        Reject(Reject),
        #[prost(message, tag = "6")]
        Query(Query),
        #[prost(message, tag = "7")]
        Answer(Answer),
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Hello {
        #[prost(string, tag = "1")]
        pub node: String,
        #[prost(string, tag = "2")]
        pub software: String,
        #[prost(int64, tag = "3")]
        pub catalogue_version: i64,
        #[prost(int64, tag = "4")]
        pub now_ms: i64,
        #[prost(uint64, tag = "5")]
        pub have: u64,
        #[prost(uint64, tag = "6")]
        pub your_origin_head: u64,
        #[prost(uint64, tag = "7")]
        pub head: u64,
        #[prost(bool, tag = "8")]
        pub recovering: bool,
        #[prost(uint64, tag = "9")]
        pub start_head: u64,
        #[prost(uint64, tag = "10")]
        pub incarnation: u64,
        #[prost(message, repeated, tag = "11")]
        pub earlier: Vec<Earlier>,
        #[prost(uint64, optional, tag = "12")]
        pub older_floor: Option<u64>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Earlier {
        #[prost(uint64, tag = "1")]
        pub incarnation: u64,
        #[prost(uint64, tag = "2")]
        pub start_head: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Batch {
        #[prost(bool, tag = "1")]
        pub down: bool,
        #[prost(uint64, tag = "2")]
        pub after: u64,
        #[prost(uint64, tag = "3")]
        pub upto: u64,
        #[prost(string, repeated, tag = "4")]
        pub origins: Vec<String>,
        #[prost(message, repeated, tag = "5")]
        pub entries: Vec<Entry>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Entry {
        #[prost(uint64, tag = "1")]
        pub local_seq: u64,
        /// Index into the batch's origins.
        #[prost(uint32, tag = "2")]
        pub origin: u32,
        #[prost(uint64, tag = "3")]
        pub origin_seq: u64,
        /// Empty when the entry follows the batch's previous entry of the
        /// same origin.
        #[prost(bytes = "vec", tag = "4")]
        pub prev_hash: Vec<u8>,
        #[prost(bytes = "vec", tag = "5")]
        pub body: Vec<u8>,
        #[prost(bytes = "vec", tag = "6")]
        pub sealed: Vec<u8>,
        /// Set when the sealed section is withheld.
        #[prost(bytes = "vec", tag = "7")]
        pub sealed_hash: Vec<u8>,
        #[prost(string, optional, tag = "8")]
        pub stream: Option<String>,
        #[prost(uint64, tag = "9")]
        pub stream_seq: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Ack {
        #[prost(bool, tag = "1")]
        pub down: bool,
        #[prost(uint64, tag = "2")]
        pub upto: u64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        #[prost(string, tag = "1")]
        pub software: String,
        #[prost(int64, tag = "2")]
        pub catalogue_version: i64,
        #[prost(uint64, tag = "3")]
        pub backlog: u64,
        #[prost(uint64, tag = "4")]
        pub acked: u64,
        #[prost(int64, tag = "5")]
        pub now_ms: i64,
        #[prost(message, repeated, tag = "6")]
        pub subtree: Vec<SubtreeNode>,
        #[prost(string, tag = "7")]
        pub name_zh: String,
        #[prost(string, tag = "8")]
        pub name_en: String,
        #[prost(message, repeated, tag = "9")]
        pub queue: Vec<QueueDay>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct QueueDay {
        #[prost(string, tag = "1")]
        pub hall: String,
        #[prost(string, tag = "2")]
        pub day: String,
        #[prost(uint32, tag = "3")]
        pub bucket: u32,
        #[prost(int64, tag = "4")]
        pub n: i64,
        #[prost(int64, tag = "5")]
        pub total_ms: i64,
        #[prost(int64, tag = "6")]
        pub max_ms: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct SubtreeNode {
        #[prost(string, tag = "1")]
        pub node: String,
        #[prost(bool, tag = "2")]
        pub connected: bool,
        #[prost(int64, optional, tag = "3")]
        pub last_seen_ms: Option<i64>,
        #[prost(string, tag = "4")]
        pub software: String,
        #[prost(int64, optional, tag = "5")]
        pub catalogue_version: Option<i64>,
        #[prost(int64, optional, tag = "6")]
        pub backlog: Option<i64>,
        #[prost(int64, optional, tag = "7")]
        pub latency_ms: Option<i64>,
        #[prost(int64, optional, tag = "8")]
        pub skew_ms: Option<i64>,
        #[prost(int64, optional, tag = "9")]
        pub cert_not_after_ms: Option<i64>,
        #[prost(string, tag = "10")]
        pub name_zh: String,
        #[prost(string, tag = "11")]
        pub name_en: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Reject {
        #[prost(string, tag = "1")]
        pub code: String,
        #[prost(string, tag = "2")]
        pub message: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Query {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(string, tag = "2")]
        pub body: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Answer {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(string, optional, tag = "2")]
        pub body: Option<String>,
    }
}

fn hash_bytes(h: &EntryHash) -> Vec<u8> {
    h.0.to_vec()
}

fn hash_from(b: &[u8]) -> Result<EntryHash, WireError> {
    <[u8; 32]>::try_from(b)
        .map(EntryHash)
        .map_err(|_| WireError::Malformed("a hash is not 32 bytes".into()))
}

fn bounded(what: &'static str, s: &str, max: usize) -> Result<(), WireError> {
    if s.len() > max {
        Err(WireError::TooLong { what, max })
    } else {
        Ok(())
    }
}

fn encode_batch(b: &Batch) -> pb::Batch {
    let mut origins: Vec<String> = Vec::new();
    let mut index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    // The last entry of each origin in this batch: (seq, hash).
    let mut last: std::collections::HashMap<u32, (u64, EntryHash)> =
        std::collections::HashMap::new();
    let mut entries = Vec::with_capacity(b.entries.len());
    for w in &b.entries {
        let e = &w.entry;
        let o = *index.entry(e.origin.as_str()).or_insert_with(|| {
            origins.push(e.origin.to_string());
            (origins.len() - 1) as u32
        });
        let follows = last
            .get(&o)
            .is_some_and(|&(s, h)| s + 1 == e.origin_seq && h == e.prev_hash);
        last.insert(o, (e.origin_seq, e.hash));
        let (sealed, sealed_hash) = match &e.sealed {
            Sealed::Empty => (Vec::new(), Vec::new()),
            Sealed::Open(b) => (b.clone(), Vec::new()),
            Sealed::Withheld(h) => (Vec::new(), hash_bytes(h)),
        };
        entries.push(pb::Entry {
            local_seq: w.local_seq,
            origin: o,
            origin_seq: e.origin_seq,
            prev_hash: if follows {
                Vec::new()
            } else {
                hash_bytes(&e.prev_hash)
            },
            body: e.body.clone(),
            sealed,
            sealed_hash,
            stream: w.stream.clone(),
            stream_seq: w.stream_seq,
        });
    }
    pb::Batch {
        down: b.direction == Direction::Down,
        after: b.after,
        upto: b.upto,
        origins,
        entries,
    }
}

fn decode_batch(b: pb::Batch, limits: &Limits) -> Result<Batch, WireError> {
    if b.entries.len() > limits.max_entries {
        return Err(WireError::TooLong {
            what: "a batch's entries",
            max: limits.max_entries,
        });
    }
    if b.origins.len() > b.entries.len() {
        return Err(WireError::Malformed("more origins than entries".into()));
    }
    let origins = b
        .origins
        .into_iter()
        .map(|o| {
            bounded("an origin", &o, limits.max_name)?;
            NodeId::new(o).map_err(|e| WireError::Malformed(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut last: Vec<Option<(u64, EntryHash)>> = vec![None; origins.len()];
    let mut entries = Vec::with_capacity(b.entries.len());
    for e in b.entries {
        let o = e.origin as usize;
        let origin = origins
            .get(o)
            .ok_or_else(|| WireError::Malformed("origin index out of range".into()))?
            .clone();
        let prev_hash = if e.prev_hash.is_empty() {
            match last[o] {
                Some((s, h)) if s + 1 == e.origin_seq => h,
                _ => {
                    return Err(WireError::Malformed(
                        "an entry without a previous hash follows no entry of its origin".into(),
                    ));
                }
            }
        } else {
            hash_from(&e.prev_hash)?
        };
        let sealed = if !e.sealed_hash.is_empty() {
            if !e.sealed.is_empty() {
                return Err(WireError::Malformed(
                    "a sealed section both present and withheld".into(),
                ));
            }
            Sealed::Withheld(hash_from(&e.sealed_hash)?)
        } else {
            Sealed::open(e.sealed)
        };
        if let Some(s) = &e.stream {
            bounded("a stream name", s, limits.max_name)?;
        }
        let entry = LogEntry::assemble(origin, e.origin_seq, prev_hash, e.body, sealed);
        last[o] = Some((entry.origin_seq, entry.hash));
        entries.push(WireEntry {
            local_seq: e.local_seq,
            entry,
            stream: e.stream,
            stream_seq: e.stream_seq,
        });
    }
    Ok(Batch {
        direction: if b.down {
            Direction::Down
        } else {
            Direction::Up
        },
        after: b.after,
        upto: b.upto,
        entries,
    })
}

fn dir(down: bool) -> Direction {
    if down { Direction::Down } else { Direction::Up }
}

impl Message {
    /// The frame payload: protocol byte, then the message.
    pub fn encode(&self) -> Vec<u8> {
        let msg = match self {
            Self::Hello(h) => pb::Msg::Hello(pb::Hello {
                node: h.node.to_string(),
                software: h.software.clone(),
                catalogue_version: h.catalogue_version,
                now_ms: h.now_ms,
                have: h.have,
                your_origin_head: h.your_origin_head,
                head: h.head,
                recovering: h.recovering,
                start_head: h.start_head,
                incarnation: h.incarnation,
                earlier: h
                    .earlier
                    .iter()
                    .map(|e| pb::Earlier {
                        incarnation: e.incarnation,
                        start_head: e.start_head,
                    })
                    .collect(),
                older_floor: h.older_floor,
            }),
            Self::Batch(b) => pb::Msg::Batch(encode_batch(b)),

            Self::Ack { direction, upto } => pb::Msg::Ack(pb::Ack {
                down: *direction == Direction::Down,
                upto: *upto,
            }),
            Self::Status(s) => pb::Msg::Status(pb::Status {
                software: s.software.clone(),
                catalogue_version: s.catalogue_version,
                backlog: s.backlog,
                acked: s.acked,
                now_ms: s.now_ms,
                subtree: s
                    .subtree
                    .iter()
                    .map(|n| pb::SubtreeNode {
                        node: n.node.clone(),
                        connected: n.connected,
                        last_seen_ms: n.last_seen_ms,
                        software: n.software.clone(),
                        catalogue_version: n.catalogue_version,
                        backlog: n.backlog,
                        latency_ms: n.latency_ms,
                        skew_ms: n.skew_ms,
                        cert_not_after_ms: n.cert_not_after_ms,
                        name_zh: n.name_zh.clone(),
                        name_en: n.name_en.clone(),
                    })
                    .collect(),
                name_zh: s.name_zh.clone(),
                name_en: s.name_en.clone(),
                queue: s
                    .queue
                    .iter()
                    .map(|q| pb::QueueDay {
                        hall: q.hall.clone(),
                        day: q.day.clone(),
                        bucket: q.bucket,
                        n: q.n,
                        total_ms: q.total_ms,
                        max_ms: q.max_ms,
                    })
                    .collect(),
            }),
            Self::Reject { code, message } => pb::Msg::Reject(pb::Reject {
                code: code.clone(),
                message: message.clone(),
            }),
            Self::Query { id, body } => pb::Msg::Query(pb::Query {
                id: *id,
                body: body.clone(),
            }),
            Self::Answer { id, body } => pb::Msg::Answer(pb::Answer {
                id: *id,
                body: body.clone(),
            }),
        };
        let frame = pb::Frame { msg: Some(msg) };
        let mut out = Vec::with_capacity(frame.encoded_len() + 1);
        out.push(PROTOCOL_VERSION);
        frame.encode_raw(&mut out);
        out
    }

    /// Reads a frame payload; every bound of `limits` is checked and every
    /// entry's hash computed.
    pub fn decode(payload: &[u8], limits: &Limits) -> Result<Message, WireError> {
        let (&version, rest) = payload.split_first().ok_or(WireError::Empty)?;
        if version != PROTOCOL_VERSION {
            return Err(WireError::Version(if version == b'{' {
                1
            } else {
                version
            }));
        }
        let frame = pb::Frame::decode(rest).map_err(|e| WireError::Malformed(e.to_string()))?;
        let msg = frame
            .msg
            .ok_or_else(|| WireError::Malformed("no message".into()))?;
        Ok(match msg {
            pb::Msg::Hello(h) => {
                bounded("the node id", &h.node, limits.max_name)?;
                bounded("the software version", &h.software, limits.max_name)?;
                if h.earlier.len() > MAX_EARLIER {
                    return Err(WireError::TooLong {
                        what: "a Hello's earlier incarnations",
                        max: MAX_EARLIER,
                    });
                }
                Self::Hello(Hello {
                    node: NodeId::new(h.node).map_err(|e| WireError::Malformed(e.to_string()))?,
                    software: h.software,
                    catalogue_version: h.catalogue_version,
                    now_ms: h.now_ms,
                    have: h.have,
                    your_origin_head: h.your_origin_head,
                    head: h.head,
                    recovering: h.recovering,
                    start_head: h.start_head,
                    incarnation: h.incarnation,
                    earlier: h
                        .earlier
                        .into_iter()
                        .map(|e| Earlier {
                            incarnation: e.incarnation,
                            start_head: e.start_head,
                        })
                        .collect(),
                    older_floor: h.older_floor,
                })
            }
            pb::Msg::Batch(b) => Self::Batch(decode_batch(b, limits)?),

            pb::Msg::Ack(a) => Self::Ack {
                direction: dir(a.down),
                upto: a.upto,
            },
            pb::Msg::Status(s) => {
                bounded("the software version", &s.software, limits.max_name)?;
                if s.subtree.len() > limits.max_entries {
                    return Err(WireError::TooLong {
                        what: "a status's subtree",
                        max: limits.max_entries,
                    });
                }
                let mut subtree = Vec::with_capacity(s.subtree.len());
                for n in s.subtree {
                    bounded("a node id", &n.node, limits.max_name)?;
                    bounded("a software version", &n.software, limits.max_name)?;
                    bounded("a hall name", &n.name_zh, limits.max_name)?;
                    bounded("a hall name", &n.name_en, limits.max_name)?;
                    subtree.push(SubtreeNode {
                        node: n.node,
                        connected: n.connected,
                        last_seen_ms: n.last_seen_ms,
                        software: n.software,
                        catalogue_version: n.catalogue_version,
                        backlog: n.backlog,
                        latency_ms: n.latency_ms,
                        skew_ms: n.skew_ms,
                        cert_not_after_ms: n.cert_not_after_ms,
                        name_zh: n.name_zh,
                        name_en: n.name_en,
                    });
                }
                bounded("a hall name", &s.name_zh, limits.max_name)?;
                bounded("a hall name", &s.name_en, limits.max_name)?;
                if s.queue.len() > limits.max_entries {
                    return Err(WireError::TooLong {
                        what: "a status's queue summary",
                        max: limits.max_entries,
                    });
                }
                let mut queue = Vec::with_capacity(s.queue.len());
                for q in s.queue {
                    bounded("a node id", &q.hall, limits.max_name)?;
                    bounded("a day", &q.day, limits.max_name)?;
                    queue.push(QueueDay {
                        hall: q.hall,
                        day: q.day,
                        bucket: q.bucket,
                        n: q.n,
                        total_ms: q.total_ms,
                        max_ms: q.max_ms,
                    });
                }
                Self::Status(LinkStatus {
                    software: s.software,
                    catalogue_version: s.catalogue_version,
                    backlog: s.backlog,
                    acked: s.acked,
                    now_ms: s.now_ms,
                    subtree,
                    name_zh: s.name_zh,
                    name_en: s.name_en,
                    queue,
                })
            }
            pb::Msg::Reject(r) => {
                bounded("a refusal code", &r.code, limits.max_name)?;
                bounded("a refusal message", &r.message, limits.max_text)?;
                Self::Reject {
                    code: r.code,
                    message: r.message,
                }
            }
            pb::Msg::Query(q) => {
                bounded("a query", &q.body, limits.max_query)?;
                Self::Query {
                    id: q.id,
                    body: q.body,
                }
            }
            pb::Msg::Answer(a) => {
                if let Some(b) = &a.body {
                    bounded("an answer", b, limits.max_query)?;
                }
                Self::Answer {
                    id: a.id,
                    body: a.body,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn node(s: &str) -> NodeId {
        NodeId::new(s).unwrap()
    }

    fn chain(origin: &str, n: u64) -> Vec<LogEntry> {
        let mut out: Vec<LogEntry> = Vec::new();
        for i in 0..n {
            let (seq, hash) = out
                .last()
                .map_or((0, EntryHash::GENESIS), |e| (e.origin_seq, e.hash));
            out.push(LogEntry::next_sealed(
                node(origin),
                seq,
                hash,
                vec![2, i as u8, 7, 7],
                if i % 2 == 0 {
                    Sealed::open(vec![9; 5])
                } else {
                    Sealed::Empty
                },
            ));
        }
        out
    }

    #[test]
    fn a_batch_round_trips_with_hashes_computed_not_sent() {
        let a = chain("nanhai.guicheng.xiaping", 4);
        let mut b = chain("nanhai.guicheng", 3);
        b[2] = b[2].withheld();
        let mut entries = Vec::new();
        for (i, e) in a.iter().chain(b.iter()).enumerate() {
            entries.push(WireEntry {
                local_seq: i as u64 + 11,
                entry: e.clone(),
                stream: (i == 1).then(|| "case-1".to_owned()),
                stream_seq: u64::from(i == 1),
            });
        }
        let batch = Batch {
            direction: Direction::Up,
            after: 10,
            upto: 20,
            entries,
        };
        let bytes = Message::Batch(batch.clone()).encode();
        // No entry's own hash is on the wire, and only the first entry of
        // each origin carries a previous hash (both GENESIS here).
        assert!(
            !bytes.windows(32).any(|w| w == a[2].hash.0),
            "a hash was sent"
        );
        let back = Message::decode(&bytes, &Limits::default()).unwrap();
        assert_eq!(back, Message::Batch(batch));
    }

    #[test]
    fn a_forged_body_gets_another_hash_and_so_breaks_the_chain() {
        let a = chain("nanhai.guicheng.xiaping", 2);
        let mut forged = a[0].clone();
        forged.body.push(1);
        // Whatever hash the sender holds for the altered entry never
        // travels: the receiver computes it, and the next entry, which names
        // the original's hash, no longer follows.
        forged.hash = EntryHash::GENESIS;
        let batch = Batch {
            direction: Direction::Up,
            after: 0,
            upto: 2,
            entries: vec![
                WireEntry {
                    local_seq: 1,
                    entry: forged,
                    stream: None,
                    stream_seq: 0,
                },
                WireEntry {
                    local_seq: 2,
                    entry: a[1].clone(),
                    stream: None,
                    stream_seq: 0,
                },
            ],
        };
        let back = match Message::decode(&Message::Batch(batch).encode(), &Limits::default()) {
            Ok(Message::Batch(b)) => b,
            other => panic!("{other:?}"),
        };
        assert_ne!(back.entries[0].entry.hash, a[0].hash);
        assert!(
            back.entries[1]
                .entry
                .verify_link(1, &back.entries[0].entry.hash)
                .is_err()
        );
    }

    #[test]
    fn bounds_and_versions_are_refused() {
        let hello = Message::Hello(Hello {
            node: node("nanhai.guicheng"),
            software: "x".repeat(4 << 20),
            catalogue_version: 1,
            now_ms: 0,
            have: 0,
            your_origin_head: 0,
            head: 0,
            recovering: false,
            start_head: 0,
            incarnation: 0,
            earlier: Vec::new(),
            older_floor: None,
        });
        assert!(matches!(
            Message::decode(&hello.encode(), &Limits::default()),
            Err(WireError::TooLong { .. })
        ));
        assert_eq!(
            Message::decode(br#"{"type":"hello"}"#, &Limits::default()),
            Err(WireError::Version(1))
        );
        assert!(matches!(
            Message::decode(&[PROTOCOL_VERSION, 0xff, 0xff], &Limits::default()),
            Err(WireError::Malformed(_))
        ));
        let many = Batch {
            direction: Direction::Up,
            after: 0,
            upto: 3,
            entries: chain("nanhai.guicheng.xiaping", 3)
                .into_iter()
                .enumerate()
                .map(|(i, entry)| WireEntry {
                    local_seq: i as u64 + 1,
                    entry,
                    stream: None,
                    stream_seq: 0,
                })
                .collect(),
        };
        let tight = Limits {
            max_entries: 2,
            ..Limits::default()
        };
        assert!(matches!(
            Message::decode(&Message::Batch(many).encode(), &tight),
            Err(WireError::TooLong { .. })
        ));
    }

    #[test]
    fn a_status_carries_the_subtree_within_bounds() {
        let village = SubtreeNode {
            node: "nanhai.guicheng.xiaping".into(),
            connected: true,
            last_seen_ms: Some(7),
            software: "0.1.0".into(),
            catalogue_version: Some(3),
            backlog: Some(0),
            latency_ms: Some(12),
            skew_ms: None,
            cert_not_after_ms: Some(99),
            name_zh: "夏平村党群服务中心".into(),
            name_en: "Xiaping Village Service Centre".into(),
        };
        let status = |subtree: Vec<SubtreeNode>| {
            Message::Status(LinkStatus {
                software: "0.1.0".into(),
                catalogue_version: 3,
                backlog: 1,
                acked: 2,
                now_ms: 5,
                subtree,
                name_zh: "桂城街道行政服务中心".into(),
                name_en: String::new(),
                queue: vec![QueueDay {
                    hall: "nanhai.guicheng.xiaping".into(),
                    day: "2026-11-23".into(),
                    bucket: 1,
                    n: 4,
                    total_ms: 1_800_000,
                    max_ms: 540_000,
                }],
            })
        };
        let two = status(vec![village.clone(), SubtreeNode::default()]);
        assert_eq!(
            Message::decode(&two.encode(), &Limits::default()),
            Ok(two.clone())
        );
        let tight = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        assert!(matches!(
            Message::decode(&two.encode(), &tight),
            Err(WireError::TooLong { .. })
        ));
        let long = status(vec![SubtreeNode {
            node: "x".repeat(200),
            ..village
        }]);
        assert!(matches!(
            Message::decode(&long.encode(), &Limits::default()),
            Err(WireError::TooLong { .. })
        ));
    }

    #[test]
    fn an_entry_that_claims_to_follow_nothing_is_malformed() {
        let a = chain("nanhai.guicheng.xiaping", 3);
        let mut frame = pb::Batch {
            down: false,
            after: 0,
            upto: 3,
            origins: vec!["nanhai.guicheng.xiaping".into()],
            entries: Vec::new(),
        };
        frame.entries.push(pb::Entry {
            local_seq: 3,
            origin: 0,
            origin_seq: 3,
            prev_hash: Vec::new(),
            body: a[2].body.clone(),
            ..pb::Entry::default()
        });
        assert!(matches!(
            decode_batch(frame, &Limits::default()),
            Err(WireError::Malformed(_))
        ));
    }
}
