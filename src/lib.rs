//! labtrail: crash-proof, resumable, accountable experiment grids.
//!
//! Data flows one way:
//!
//! ```text
//! experiment file ──> spec ──> plan ──> store <── engines (local, slurm) ──> report
//!                                         ^                                 (read-only)
//!                                         └── app: selects, locks, recovers, syncs, dispatches
//! ```
//!
//! | module | what it owns |
//! |---|---|
//! | [`spec`] | parsing and validating the experiment file; errors that point at file:line |
//! | [`plan`] | expanding a spec into tasks with content-derived keys, in a pinned order |
//! | [`store`] | every byte of persistent state: the SQLite database and the run folders |
//! | [`protocol`] | the task contract: the `LABTRAIL_*` environment, result, metrics, exit record |
//! | [`outcome`] | how an attempt ended: one vocabulary, stored by name |
//! | [`provenance`] | what a run captures about its code, host, Python, GPUs, data, and what attempts leave |
//! | [`policy`] | what happens after an attempt (done, retry, restart, stop); no I/O |
//! | [`exec`] | mechanics only: starting and signalling processes, finding what they leave running, timed commands, SLURM scripts |
//! | [`engine`] | the two engines, [`engine::local`] and [`engine::slurm`] |
//! | [`app`] | the application layer: what a `run` or `monitor` invocation does, without the CLI |
//! | [`report`] | read-only models behind `status`, `results`, `events`, `tasks`, `list`, `logs` |
//! | [`snapshot`] | `labtrail snapshot`: the snapshot file's format, collecting it (scheduler, flags, disks, stores), writing it, retention rules |
//! | [`progress`] | what a run shows while it works: a bar or one line per event |
//! | [`cli`] | parsing arguments and printing; no SQL and no decisions |

pub mod app;
pub mod cli;
pub mod engine;
pub mod exec;
pub mod outcome;
pub mod plan;
pub mod policy;
pub mod progress;
pub mod protocol;
pub mod provenance;
pub mod report;
pub mod snapshot;
pub mod spec;
pub mod store;
