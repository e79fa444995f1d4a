//! A SLURM attempt that wrote nothing leaves no empty log, and a task that keeps nothing leaves
//! no folder (run layout 3, issue 15), by the rules local attempts follow: the wrapper writes
//! both logs (`sbatch` and the shell open them before the task runs), so they are removed once
//! the attempt's end is committed, when they are empty; so is a single job's `slurm.log`.

use super::poll::Batch;
use super::Monitor;
use crate::exec::slurm::script;
use crate::store::{Change, TaskState, TrackedJob};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

impl Monitor<'_> {
    /// After attempt `t` ended, leaving its task in `state`: its logs are queued for removal if
    /// empty (after the poll's commit: until then the success marker and log rules may read
    /// them again, should the monitor crash), and its task's folder is removed if it is empty
    /// and nothing will use it; a folder that holds something is recorded as kept, so that
    /// `check` expects it.
    pub(super) fn tidy_ended(&self, t: &TrackedJob, state: TaskState, b: &mut Batch) {
        if b.cancelled.contains(&t.key) {
            // Its job was cancelled this poll and may still run (COMPLETING, up to KillWait):
            // what it writes on SIGTERM must find its logs and its folder. The folder is
            // recorded as kept, since it may hold a checkpoint by the time the job is gone.
            if self.folders.removes_empty_task_dirs() && self.folders.task_dir(&t.key).exists() {
                b.changes.push(Change::Record {
                    task: Some(t.key.clone()),
                    kind: crate::store::KEPT_TASK_DIR.into(),
                    json: format!("{{\"attempt\":{}}}", t.attempt),
                });
            }
            return;
        }
        // A single job's own log (`sbatch --output`: what the wrapper itself says) too; an
        // array's elements share a name pattern this attempt does not know, and keep theirs.
        let slurm_log =
            script::attempt_file(&self.folders.attempt_prefix(&t.key), t.attempt, "slurm.log");
        b.logs_to_tidy.extend([
            PathBuf::from(&t.stdout),
            PathBuf::from(&t.stderr),
            slurm_log,
        ]);
        if !self.folders.removes_empty_task_dirs() {
            return;
        }
        let Some(&i) = self.index.get(&t.key) else {
            return;
        };
        let task_dir = self.folders.task_dir(&t.key);
        // A restart's job may start before this poll ends, and jobs of downstream tasks are
        // queued before their upstream ends, their `LABTRAIL_UPSTREAM_*` pointing at this
        // folder: then it stays, recorded if it holds something.
        let in_use = state == TaskState::Pending || !self.dependents[i].is_empty();
        let kept = if in_use {
            holds_anything(&task_dir)
        } else {
            !remove_dir_if_empty(&task_dir)
        };
        if kept {
            b.changes.push(Change::Record {
                task: Some(t.key.clone()),
                kind: crate::store::KEPT_TASK_DIR.into(),
                json: format!("{{\"attempt\":{}}}", t.attempt),
            });
        }
    }
}

/// Removes each of `logs` that is an empty regular file. Called once the attempts' ends are
/// committed; a log left behind (a crash in between, an error) is harmless.
pub(super) fn remove_empty_logs(logs: &[PathBuf]) {
    for log in logs {
        if std::fs::symlink_metadata(log).is_ok_and(|m| m.is_file() && m.len() == 0) {
            let _ = std::fs::remove_file(log);
        }
    }
}

/// `rmdir`: atomic, refused for a folder holding anything. True if the folder is gone (or was
/// never made); a folder that could not be removed counts as kept only if it holds anything.
fn remove_dir_if_empty(dir: &Path) -> bool {
    match std::fs::remove_dir(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::NotFound => true,
        Err(_) => !holds_anything(dir),
    }
}

/// Whether folder `dir` has any entry.
fn holds_anything(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}
