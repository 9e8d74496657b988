//! The domain: catalogue, checklist, cases, deadlines and identifiers.
//!
//! Everything here is pure: no store, no clock, no network. The service layer
//! (`crate::service`) feeds it the time and persists what it returns.

pub mod calendar;
pub mod case;
pub mod case_number;
pub mod catalogue;
pub mod checklist;
pub mod codec;
pub mod deadline;
pub mod ids;
pub mod log;
