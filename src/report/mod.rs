//! Read-only models over the store: what the reporting commands show, computed once here so the
//! CLI only parses arguments and prints.
//!
//! Each model is loaded from an open [`Store`](crate::store::Store) and never writes to it. The
//! models hold the decisions a reader of a run cares about (how tasks are grouped and counted,
//! why a task will run or be skipped, which CSV columns a set of results has); the CLI decides
//! only how they look on a terminal. `archive` and `diff` will land here too.
//!
//! | module | behind |
//! |---|---|
//! | [`status`] | `labtrail status`: counts overall, per stage and per group |
//! | [`explain`] | `labtrail status --explain` and `labtrail run --dry-run`: why each task runs |
//! | [`results`] | `labtrail results`: one record per done task, and a writer per format |
//! | [`events`] | `labtrail events`: the run's append-only event log |
//! | [`runs`] | `labtrail list`: the runs in the store and how far each is |

pub mod events;
pub mod explain;
pub mod results;
pub mod runs;
pub mod status;

#[cfg(test)]
mod fixture;
