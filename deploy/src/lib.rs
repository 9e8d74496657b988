//! Running OneWindow topologies: topology files, deployment bundles and
//! nodes as separate processes on one machine.
//!
//! A [`topology::Topology`] (a TOML file under `configs/topologies/`) says
//! which halls a federation has; [`bundle::make`] turns it into a folder per
//! node with certificates, configuration and a systemd unit;
//! [`process::ProcessTree`] runs those folders as `onewindow-node` processes
//! (found by [`binary`]), which is what `onewindow-deploy topology run` and
//! the process-level federation tests use.
#![warn(missing_docs)]

pub mod binary;
pub mod bundle;
pub mod certs;
pub mod process;
pub mod topology;
