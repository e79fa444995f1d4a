//! The application layer: what one `labtrail run` or `labtrail monitor` invocation does, as a
//! library a test can drive without the binary. It selects the run, takes its lock, recovers
//! what an earlier invocation left, brings the store's task list in line with the plan and
//! hands the run to an engine; it returns what happened as data, and [`crate::cli`] prints it.
//!
//! - [`select`]: the experiment, the run to work on (new, latest, named), its lock;
//! - [`local`]: a run on this machine's worker pool;
//! - [`slice`]: the tasks `run --only` / `--exclude` work on;
//! - [`slurm`]: a SLURM run: retries, the monitor in the foreground or detached;
//! - [`reset`]: tasks made pending again;
//! - [`read`]: the store and run a reading command works on;
//! - [`recorded`]: where a run's experiment file is now.

pub mod explain;
pub mod local;
pub mod read;
pub mod recorded;
pub mod reset;
pub mod select;
pub mod slice;
pub mod slurm;
pub mod snapshot;
pub mod snapshots_index;
pub mod snapshots_index_fresh;
pub mod snapshots_index_rows;
pub mod snapshots_prune;

pub use select::{Experiment, LockedRun, RunChoice};

/// A command-line mistake the parser could not catch (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
