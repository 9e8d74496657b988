//! A OneWindow hall node: the thin binary crate that starts a hall.
//!
//! The layers are crates, each depending only on those below it:
//! [`domain`] (pure rules), [`store`] (the log and the read model),
//! [`service`] (the hall's operations, applying what links bring, the
//! root's directives), [`link`] (the QUIC driver) and the web face
//! ([`api`], [`pages`], [`docs`]). This crate re-exports them under one name
//! for the binary, the tests and the tools, and holds [`server::start`],
//! which opens a [`service::Node`], starts its links and serves the router.
#![warn(missing_docs)]

pub mod link;
pub mod malloc;
pub mod server;
mod sms;
mod webhooks;

pub use onewindow_domain as domain;
pub use onewindow_domain::starter;
pub use onewindow_service as service;
pub use onewindow_service::{config, metrics};
pub use onewindow_store as store;
pub use onewindow_web::{api, docs, error, pages, router};

/// Names the process id of a supervisor (`onewindow-deploy topology run`)
/// that the node must not outlive: the node stops cleanly, as on SIGTERM,
/// within a second of that process's end, however it ended (kill -9
/// included), so a killed supervisor leaves no orphans.
pub const EXIT_WITH_PARENT_ENV: &str = "ONEWINDOW_EXIT_WITH_PARENT";
