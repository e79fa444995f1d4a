//! Executors run attempts and report how they ended. They never decide what happens next: that
//! is [`crate::policy`]'s job.

pub mod local;
pub mod slurm;
