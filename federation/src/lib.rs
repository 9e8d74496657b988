//! OneWindow federation: who a node is and what its log looks like.
//!
//! This crate knows nodes, logs, cursors and opaque payloads. It knows nothing
//! of matters or cases: an entry's body is bytes to it, covered by the hash
//! chain but never interpreted.
#![warn(missing_docs)]

pub mod log;
pub mod node_id;

pub use log::{ChainError, EntryHash, LogEntry};
pub use node_id::{NodeId, NodeIdError};
