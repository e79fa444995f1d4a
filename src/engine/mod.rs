//! The two engines, a pair: each takes a run's plan, drives its attempts, applies
//! [`crate::policy`] to how they ended and writes every change to the [`crate::store`] before it
//! reports it.
//!
//! - [`local`]: a loop over a pool of worker threads on this machine (`labtrail run`);
//! - [`slurm`]: a monitor that submits jobs and reconciles the store with the scheduler at each
//!   poll (`labtrail run` with `executor = "slurm"`, `labtrail monitor`).
//!
//! Neither imports the other. What both need lives below them: the task contract in
//! [`crate::protocol`], process and scheduler-command mechanics in [`crate::exec`], decisions in
//! [`crate::policy`], the outcome vocabulary in [`crate::outcome`].

pub mod local;
pub mod slurm;
