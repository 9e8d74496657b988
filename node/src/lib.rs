//! A OneWindow hall node: the catalogue, cases and windows of one hall, on a
//! real store, behind an HTTP API.
//!
//! Start reading at [`server::start`], which opens a [`service::Node`] (the
//! hall's operations over [`domain`] and [`store`]) and serves [`api`].
#![warn(missing_docs)]

pub mod api;
pub use onewindow_service::{config, metrics};
pub mod docs;
pub use onewindow_domain as domain;
pub mod error;
pub mod link;
pub mod pages;
pub mod server;
pub use onewindow_domain::starter;
pub use onewindow_service as service;
pub use onewindow_store as store;
