//! The node's links: the driver (`onewindow-link`) and, from the service,
//! what applying a batch, the link state, the root's signing key and a
//! restored node's recovery are.

pub use onewindow_link::*;
pub use onewindow_service::uplink::{Registry, Uplink};
pub use onewindow_service::{Query, QuerySender, apply, link_state as state, recovery, signing};
