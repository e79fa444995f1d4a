//! labtrail: crash-proof, resumable, accountable experiment grids.
//!
//! Data flows one way: experiment file ([`spec`]) → [`plan`] → [`store`] ← executors
//! ([`exec`]) → reports. The store is the only owner of persistent state.

pub mod plan;
pub mod store;
pub mod spec;
