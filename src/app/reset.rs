//! `reset`: which tasks of a run are made pending again, under the run's lock.

use super::UsageError;
use crate::store::{RunLock, Store, TaskState};

/// The tasks a reset names.
#[derive(Debug, Clone, Default)]
pub struct ResetRequest {
    /// Keys, key prefixes, labels or `name=value` filters.
    pub tasks: Vec<String>,
    /// Every failed or blocked task.
    pub failed: bool,
    /// Every task.
    pub all: bool,
}

/// Makes the tasks `req` names pending again (their history is kept), with the run's lock held
/// so that no runner is changing them meanwhile. Returns how many changed.
pub fn reset(store: &mut Store, run: &str, req: &ResetRequest) -> anyhow::Result<usize> {
    if req.tasks.is_empty() && !req.failed && !req.all {
        return Err(UsageError(
            "name the tasks to reset, or use --failed or --all (see `labtrail reset --help`)"
                .into(),
        )
        .into());
    }
    let _lock = RunLock::acquire(&store.run_dir(run), run)?;
    let mut keys = Vec::new();
    for q in &req.tasks {
        keys.extend(store.find_tasks(run, q)?.into_iter().map(|t| t.key));
    }
    if req.failed || req.all {
        for t in store.tasks(run, None)? {
            if req.all || matches!(t.state, TaskState::Failed | TaskState::Blocked) {
                keys.push(t.key);
            }
        }
    }
    keys.sort();
    keys.dedup();
    Ok(store.reset(run, &keys)?)
}
