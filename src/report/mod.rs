//! Read-only models over the store: what the reporting commands show, computed once here so the
//! CLI only parses arguments and prints.
//!
//! Each model is loaded from an open [`Store`](crate::store::Store) and never writes to it. The
//! models hold the decisions a reader of a run cares about (how tasks are grouped and counted,
//! why a task will run or be skipped, which CSV columns a set of results has); the CLI decides
//! only how they look on a terminal.
//!
//! | module | behind |
//! |---|---|
//! | [`status`] | `labtrail status`: counts overall, per stage and per group |
//! | [`status_groups`] | `labtrail status`: the counts per group of parameter values, in one pass |
//! | [`status_end`] | `labtrail status --watch`: whether the run has come to an end |
//! | [`explain`] | `labtrail status --explain` and `labtrail run --dry-run`: why each task runs |
//! | [`results`] | `labtrail results`: one record per done task, and a writer per format |
//! | [`events`] | `labtrail events`: the run's append-only event log |
//! | [`tasks`] | `labtrail tasks`: selected tasks and their attempt histories |
//! | [`task_command`] | `labtrail tasks TASK --command`: a shell snippet that runs a task again |
//! | [`runs`] | `labtrail list`: the runs in the store and how far each is |
//! | [`logs`] | `labtrail logs`: which attempt's files to print, and following them |
//! | [`check`], [`check_folders`], [`check_scheduler`] | `labtrail check`: the records against the run folders and the scheduler |
//! | [`archive`] | `labtrail archive`: one run with its provenance, as Markdown, JSON or HTML |
//! | [`diff`] | `labtrail diff`: what differs between two runs |
//! | [`metrics`] | `labtrail metrics`: a task's metric stream and its summary per key |
//! | [`runner`] | whether a run's local runner is gone: its `running` tasks are shown interrupted |

pub mod archive;
pub mod check;
mod check_capped;
pub mod check_folders;
mod check_job_origin;
pub mod check_scheduler;
pub mod diff;
pub mod events;
pub mod explain;
pub mod logs;
pub mod metrics;
pub mod results;
pub mod runner;
pub mod runs;
pub mod snapshots;
pub mod status;
pub mod status_end;
pub mod status_groups;
pub mod task_command;
pub mod tasks;

#[cfg(test)]
mod fixture;

use crate::store::StoreError;

/// A question the store cannot answer as asked: the store failed, or the question names
/// something that is not there or is ambiguous. Apart from [`QueryError::Store`], these are
/// mistakes of the person asking (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The store could not answer (also: no such run, no such task).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A task state name that does not exist.
    #[error(
        "unknown state `{0}`: use one of pending, running, done, failed, interrupted, blocked"
    )]
    UnknownState(String),
    /// A task query that must name one task matches several. Never resolved by picking one:
    /// the asker names one (`labtrail logs` lists them all).
    #[error("`{query}` matches {} tasks (e.g. {}, {}); name one by key or label", matches.len(), matches[0].1, matches[1].1)]
    Ambiguous {
        /// The query as given.
        query: String,
        /// Key and label of every task it matches (at least two), in plan order.
        matches: Vec<(String, String)>,
    },
    /// An attempt number the task does not have.
    #[error("task {label} has no attempt {number} (it has {count})")]
    NoSuchAttempt {
        /// The task label.
        label: String,
        /// The attempt asked for.
        number: u32,
        /// How many attempts it has.
        count: usize,
    },
    /// `--key` names a key the attempt's metrics do not have.
    #[error("task {label} attempt {attempt} has no metric `{key}`{}", if known.is_empty() { " (it wrote no metrics)".to_string() } else { format!("; its keys: {}", known.join(", ")) })]
    NoSuchMetric {
        /// The task label.
        label: String,
        /// The attempt shown.
        attempt: u32,
        /// The key asked for.
        key: String,
        /// The keys it has, in the order they first appear.
        known: Vec<String>,
    },
    /// The task has no attempt at all.
    #[error("task {label} has not run yet")]
    NotRunYet {
        /// The task label.
        label: String,
    },
}
