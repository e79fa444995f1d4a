//! `reset`: which tasks of a run are made pending again, under the run's lock, and what happens
//! to their own folders.
//!
//! A reset means "run again from scratch": each task's folder (`LABTRAIL_TASK_DIR`) is moved
//! aside, kept, so that the next attempt does not resume from an old checkpoint; with
//! `keep_task_dir` the named tasks' folders stay and their next attempts continue from them.
//! Tasks downstream of a reset task read what it wrote, so they are reset with it, unless
//! `only`, and always from scratch: their upstream will write new output, and a checkpoint made
//! from the old one would skip the work (a training "resuming" at its last step).

use super::UsageError;
use crate::engine::local;
use crate::store::{RunLock, Store, TaskDirFate, TaskDirs, TaskRow, TaskState};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// The tasks a reset names, and how.
#[derive(Debug, Clone, Default)]
pub struct ResetRequest {
    /// Keys, key prefixes, labels or `name=value` filters.
    pub tasks: Vec<String>,
    /// Every failed or blocked task.
    pub failed: bool,
    /// Every task.
    pub all: bool,
    /// Only the tasks named, not those downstream of them.
    pub only: bool,
    /// Leave the named tasks' own folders in place: their next attempts continue from them.
    /// Downstream tasks' folders are moved aside regardless.
    pub keep_task_dir: bool,
}

/// One task a reset made pending.
#[derive(Debug, Clone)]
pub struct ResetTask {
    pub key: String,
    pub label: String,
    /// What happened to its own folder.
    pub dir: TaskDirFate,
}

/// What a reset did.
#[derive(Debug, Clone, Default)]
pub struct ResetReport {
    /// The tasks the request named, in plan order.
    pub named: Vec<ResetTask>,
    /// The tasks reset because they are downstream of a named one, in plan order.
    pub downstream: Vec<ResetTask>,
    /// Attempts a runner that is gone left running: stopped and recorded as interrupted first,
    /// as `labtrail run` would.
    pub recovered: usize,
    /// Folder moves an earlier, interrupted reset left unfinished, finished first.
    pub settled: usize,
}

/// Makes the tasks `req` names, and unless `req.only` every task downstream of them, pending
/// again (their history is kept), with the run's lock held so that no runner is changing them
/// meanwhile (a live runner makes this fail with [`crate::store::StoreError::Locked`]). Their
/// own folders are moved aside, except the named ones' with `req.keep_task_dir`. A task recorded as running whose
/// runner is gone is recovered first on a local run; one that may still run (a SLURM job) is
/// refused, and then nothing changes.
pub fn reset(store: &mut Store, run: &str, req: &ResetRequest) -> anyhow::Result<ResetReport> {
    if req.tasks.is_empty() && !req.failed && !req.all {
        return Err(UsageError(
            "name the tasks to reset, or use --failed or --all (see `labtrail reset --help`)"
                .into(),
        )
        .into());
    }
    let _lock = RunLock::acquire(store, run)?;
    let settled = store.settle_task_dir_moves(run)?.len();
    let mut tasks = store.tasks(run, None)?;
    let named = named_keys(store, run, req, &tasks)?;
    let downstream = if req.only {
        HashSet::new()
    } else {
        downstream_of(&named, &tasks)
    };
    let is_running = |t: &&TaskRow| {
        t.state == TaskState::Running && (named.contains(&t.key) || downstream.contains(&t.key))
    };
    let mut recovered = 0;
    if tasks.iter().any(|t| is_running(&t)) && store.executor(run)? == "local" {
        // The lock is ours, so the runner of these attempts is gone: recover them as `run` would,
        // and as `run` does, not those opened on another host, which may still run there.
        if let Some(elsewhere) = super::local::running_elsewhere(store, run)? {
            return Err(elsewhere.into());
        }
        let grace = super::slurm::stored_spec(store, run).map_or(DEFAULT_GRACE, |s| s.run.grace);
        recovered = local::recover(store, run, grace)?.interrupted;
        tasks = store.tasks(run, None)?;
    }
    let running: Vec<&str> = tasks
        .iter()
        .filter(is_running)
        .map(|t| t.label.as_str())
        .collect();
    if !running.is_empty() {
        return Err(UsageError(format!(
            "{} of run `{run}` may still be running ({}): on another host, or as a SLURM job; nothing was reset\n  help: wait for it to end (for a SLURM run, `labtrail monitor --run {run}` records its end), then reset it",
            plural(running.len(), "task"),
            list(&running, 5)
        ))
        .into());
    }
    let order: Vec<String> = tasks
        .iter()
        .filter(|t| named.contains(&t.key) || downstream.contains(&t.key))
        .map(|t| t.key.clone())
        .collect();
    let dirs = |key: &str| {
        if req.keep_task_dir && named.contains(key) {
            TaskDirs::Keep
        } else {
            TaskDirs::MoveAside
        }
    };
    let done = store.reset_tasks(run, &order, &dirs)?;
    let labels: HashMap<&str, &str> = tasks
        .iter()
        .map(|t| (t.key.as_str(), t.label.as_str()))
        .collect();
    let mut report = ResetReport {
        recovered,
        settled,
        ..Default::default()
    };
    for t in done {
        let task = ResetTask {
            label: labels
                .get(t.key.as_str())
                .copied()
                .unwrap_or_default()
                .into(),
            key: t.key,
            dir: t.dir,
        };
        if named.contains(&task.key) {
            report.named.push(task);
        } else {
            report.downstream.push(task);
        }
    }
    Ok(report)
}

/// Grace before SIGKILL when a reset stops what a dead runner left, if the run's experiment
/// text cannot be read for its own `[run] grace`.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

fn named_keys(
    store: &Store,
    run: &str,
    req: &ResetRequest,
    tasks: &[TaskRow],
) -> anyhow::Result<HashSet<String>> {
    let mut keys = HashSet::new();
    for q in &req.tasks {
        keys.extend(store.find_tasks(run, q)?.into_iter().map(|t| t.key));
    }
    for t in tasks {
        if req.all || (req.failed && matches!(t.state, TaskState::Failed | TaskState::Blocked)) {
            keys.insert(t.key.clone());
        }
    }
    Ok(keys)
}

/// Every task that waits, directly or through others, for one of `named`, `named` left out.
pub fn downstream_of(named: &HashSet<String>, tasks: &[TaskRow]) -> HashSet<String> {
    let mut waiting_for: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in tasks {
        for dep in &t.deps {
            waiting_for.entry(dep.as_str()).or_default().push(&t.key);
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<&str> = named.iter().map(String::as_str).collect();
    while let Some(key) = queue.pop_front() {
        for &next in waiting_for.get(key).into_iter().flatten() {
            if !named.contains(next) && seen.insert(next.to_string()) {
                queue.push_back(next);
            }
        }
    }
    seen
}

/// `n thing` or `n things`.
pub fn plural(n: usize, thing: &str) -> String {
    format!("{n} {thing}{}", if n == 1 { "" } else { "s" })
}

/// The first `max` items, comma-separated, and how many more there are.
pub fn list(items: &[&str], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s.push_str(&format!(" and {} more", items.len() - max));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(key: &str, deps: &[&str]) -> TaskRow {
        TaskRow {
            key: key.into(),
            seq: 0,
            stage: "s".into(),
            label: key.into(),
            params: serde_json::Value::Null,
            command: String::new(),
            workdir: ".".into(),
            deps: deps.iter().map(|d| d.to_string()).collect(),
            state: TaskState::Done,
            attempts: 1,
            result: None,
            reason: None,
            finished_at: None,
        }
    }

    /// Downstream is transitive, through fan-out and fan-in, and leaves out the named tasks and
    /// what is upstream or beside them.
    #[test]
    fn downstream_is_the_transitive_closure_of_waiters() {
        let tasks = [
            task("prep", &[]),
            task("other", &[]),
            task("t1", &["prep"]),
            task("t2", &["prep"]),
            task("t3", &["other"]),
            task("eval", &["t1", "t2", "t3"]),
            task("plot", &["eval"]),
        ];
        let named = |keys: &[&str]| keys.iter().map(|k| k.to_string()).collect();
        let mut got: Vec<String> = downstream_of(&named(&["prep"]), &tasks)
            .into_iter()
            .collect();
        got.sort();
        assert_eq!(got, ["eval", "plot", "t1", "t2"]);
        let mut got: Vec<String> = downstream_of(&named(&["t1", "eval"]), &tasks)
            .into_iter()
            .collect();
        got.sort();
        assert_eq!(got, ["plot"]);
        assert!(downstream_of(&named(&["plot"]), &tasks).is_empty());
        assert_eq!(list(&["a", "b", "c"], 2), "a, b and 1 more");
    }
}
