//! labtrail: crash-proof, resumable, accountable experiment grids.
//!
//! Data flows one way: experiment file ([`spec`]) → [`plan`] → [`store`] ← executors
//! ([`exec`]) → reports. The store is the only owner of persistent state.

pub mod cli;
pub mod exec;
pub mod monitor;
pub mod plan;
pub mod policy;
pub mod report;
pub mod runner;
pub mod spec;
pub mod store;
