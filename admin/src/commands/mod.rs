//! One module per noun; each has its verbs as a clap subcommand and runs
//! them against a [`Client`](crate::client::Client).

pub mod audit;
pub mod calendar;
pub mod case;
pub mod catalogue;
pub mod delegation;
pub mod document;
pub mod feed;
pub mod node;
pub mod report;
pub mod staff;
pub mod warnings;
