//! The domain of a OneWindow hall: catalogue, checklist, cases, deadlines,
//! identifiers, the holiday calendar and the log's body format.
//!
//! Everything here is pure: no store, no clock, no network, no async
//! runtime. The service layer (`onewindow-service`) feeds it the time and
//! persists what it returns.
#![warn(missing_docs)]

pub mod calendar;
pub mod case;
pub mod case_number;
pub mod catalogue;
pub mod checklist;
pub mod codec;
pub mod deadline;
pub mod ids;
pub mod log;
pub mod policy;
pub mod starter;
