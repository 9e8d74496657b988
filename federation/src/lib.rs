//! OneWindow federation: who a node is and what its log looks like.
//!
//! This crate knows nodes, logs, cursors and opaque payloads. It knows nothing
//! of matters or cases: an entry's body is bytes to it, covered by the hash
//! chain but never interpreted.
#![warn(missing_docs)]

pub mod audit;
#[cfg(feature = "net")]
pub mod enrolment;
#[cfg(feature = "net")]
pub mod identity;
pub mod log;
pub mod node_id;
pub mod peering;
#[cfg(feature = "net")]
pub mod relay;
pub mod replication;
#[cfg(feature = "net")]
pub mod transport;

#[cfg(feature = "net")]
pub use identity::der_signed_by;
#[cfg(feature = "net")]
pub use identity::{
    CertInfo, FederationCa, IdentityError, KeyRequest, NodeCredentials, key_matches, node_id_of,
    serial_of, signed_by,
};
pub use log::{ChainError, EntryHash, LogEntry, Sealed};
pub use node_id::{NodeId, NodeIdError};
#[cfg(feature = "net")]
pub use transport::{
    Backoff, Client, FrameError, FramedStream, PeerConnection, PeerPolicy, Refusal, SecurityEvent,
    SecurityKind, Server, TransportConfig, TransportError,
};
