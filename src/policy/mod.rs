//! Policy: what happens after an attempt ends. The engines report an [`Outcome`]; only this
//! module decides between done, retry (or restart) and stop. It does no I/O.

mod local;
mod slurm;

pub use crate::outcome::Outcome;
pub use local::{decide, Decision, MAX_BACKOFF};
pub use slurm::{decide_slurm, SlurmDecision};
