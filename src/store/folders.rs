//! Where a run's files go.
//!
//! Layout 2 (labtrail 0.2 on):
//! - `runs/RUN/tasks/KEY/`: the task's own folder (`LABTRAIL_TASK_DIR`), kept across attempts;
//!   labtrail writes nothing in it; a reset moves it aside to `tasks/KEY.reset-N/` (see
//!   `store/reset.rs`);
//! - `runs/RUN/attempts/KEY-...`: each attempt's files, named by a suffix of the task's attempt
//!   prefix (see [`crate::protocol::AttemptFiles`], [`crate::exec::slurm::script::attempt_dir`]);
//! - `runs/RUN/upstream/KEY/STAGE/`: a fan-in task's links to its upstream tasks' folders.
//!
//! Layout 3 (issue 15) is layout 2 with files only when used: a task's folder exists while it
//! runs, and after an attempt only if it holds something (an empty one is removed with `rmdir`,
//! and made again when an attempt or a fan-in task needs it); a `task_dir_kept` record
//! ([`KEPT_TASK_DIR`]) names the attempt after which it held something, so that `check` knows
//! which missing folders are losses. Runs of layout 2 keep every task's folder, as before.
//!
//! Layout 1 (runs made by labtrail 0.1) gave the task `tasks/KEY/work/` and kept each attempt in
//! `tasks/KEY/attempt-N/`. A resumed layout-1 run keeps its tasks' folders, so they find their
//! checkpoints; its new attempts' files go where layout 2 puts them.
//!
//! Keys are hex digests, run ids and stage names are checked names, so no path can leave the
//! store.

use super::{Store, StoreError};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The layout of runs this version creates.
pub const LAYOUT: u32 = 3;

/// The kind of record saying that a task's folder held something after attempt `{"attempt": N}`
/// (layout 3): then its folder missing is a loss, not a folder removed because empty.
pub const KEPT_TASK_DIR: &str = "task_dir_kept";

/// The folders of one run.
#[derive(Debug, Clone)]
pub struct RunFolders {
    run_dir: PathBuf,
    layout: u32,
}

impl RunFolders {
    /// The task's own folder: `LABTRAIL_TASK_DIR`.
    pub fn task_dir(&self, key: &str) -> PathBuf {
        debug_assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        let dir = self.run_dir.join("tasks").join(key);
        if self.layout < 2 {
            dir.join("work")
        } else {
            dir
        }
    }

    /// Where the task's attempt files go: `runs/RUN/attempts/KEY`, to which each attempt adds its
    /// own suffix.
    pub fn attempt_prefix(&self, key: &str) -> PathBuf {
        debug_assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        self.run_dir.join("attempts").join(key)
    }

    /// Whether an attempt's empty task folder is removed once the attempt is over (layout 3 on).
    pub fn removes_empty_task_dirs(&self) -> bool {
        self.layout >= 3
    }

    /// The folder a layout-1 runner made for attempt `number` of a local task, if this run is
    /// one: its existence marks an attempt that runner started.
    pub fn legacy_attempt_dir(&self, key: &str, number: u32) -> Option<PathBuf> {
        (self.layout < 2).then(|| {
            let task = self.run_dir.join("tasks").join(key);
            task.join(format!("attempt-{number}"))
        })
    }

    /// The folder of links to a fan-in task's upstream tasks of stage `stage`:
    /// `runs/RUN/upstream/KEY/STAGE/` (see [`crate::plan::upstream`]).
    pub fn upstream_links(&self, key: &str, stage: &str) -> PathBuf {
        debug_assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        self.run_dir.join("upstream").join(key).join(stage)
    }

    /// Where a reset moves the task's own folder aside the `n`th time: next to it, with
    /// `.reset-N` added (`tasks/KEY.reset-1`; in a layout-1 run `tasks/KEY/work.reset-1`, so that
    /// the attempt folders beside it stay where the history says they are).
    pub fn moved_aside(&self, key: &str, n: u32) -> PathBuf {
        let dir = self.task_dir(key);
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        dir.with_file_name(format!("{name}.reset-{n}"))
    }

    /// `path`, a path inside the run's folder, relative to it: how the store records it, so
    /// that a store that was moved still finds it.
    pub fn relative(&self, path: &Path) -> String {
        let rel = path.strip_prefix(&self.run_dir).unwrap_or(path);
        rel.to_string_lossy().into_owned()
    }

    /// The run's folder, `runs/RUN/`.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The run's folder layout (see the module documentation).
    pub fn layout(&self) -> u32 {
        self.layout
    }

    /// The folders every task's files go in, to create before the first attempt.
    pub fn roots(&self) -> [PathBuf; 2] {
        [self.run_dir.join("tasks"), self.run_dir.join("attempts")]
    }
}

/// What the store records about one run that its folders and the scheduler can be compared
/// with (see `report::check`).
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: String,
    /// `local` or `slurm`.
    pub executor: String,
    pub created_at: String,
    pub folders: RunFolders,
    /// Every task of the run, in the plan or retired.
    pub tasks: Vec<TaskRecord>,
    /// Every attempt of the run.
    pub attempts: Vec<AttemptRecord>,
    /// (task key, attempt) after which the task's folder held something ([`KEPT_TASK_DIR`]).
    pub kept_task_dirs: HashSet<(String, u32)>,
    /// Whether a runner or monitor held the run when it was read ([`Store::run_lock_is_held`]):
    /// then files of attempts it has begun and not yet recorded are expected.
    pub in_progress: bool,
}

/// One task as `check` compares it.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub key: String,
    pub label: String,
    /// The name of the task's stage.
    pub stage: String,
    pub state: super::TaskState,
    /// Whether the task is in the run's current plan (false: retired, it left the plan when a
    /// parameter or the command changed; `reset` and `run` do not reach it).
    pub in_plan: bool,
}

/// One attempt as `check` compares it.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub key: String,
    pub number: u32,
    /// SLURM: the job (`123`, or `123_4` for an array element).
    pub job_id: Option<String>,
    /// Whether the attempt has an outcome.
    pub ended: bool,
    /// Where its standard output goes, as the store resolves it now.
    pub stdout: PathBuf,
}

impl Store {
    /// Every run with its tasks and attempts, oldest first: the rows `check` compares with the
    /// run folders and the scheduler.
    pub fn run_records(&self) -> Result<Vec<RunRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, executor, created_at FROM runs ORDER BY created_at, rowid")
            .map_err(|e| self.err(e))?;
        let runs: Vec<(String, String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let mut tasks = self
            .conn
            .prepare("SELECT key, label, state, in_plan, stage FROM tasks WHERE run_id = ?1 ORDER BY seq")
            .map_err(|e| self.err(e))?;
        let mut attempts = self
            .conn
            .prepare("SELECT task_key, number, job_id, outcome IS NOT NULL, stdout_path FROM attempts WHERE run_id = ?1 ORDER BY task_key, number")
            .map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(runs.len());
        for (id, executor, created_at) in runs {
            let tasks = tasks
                .query_map([&id], |r| {
                    let state: String = r.get(2)?;
                    Ok(TaskRecord {
                        key: r.get(0)?,
                        label: r.get(1)?,
                        state: super::TaskState::parse(&state).unwrap_or(super::TaskState::Pending),
                        in_plan: r.get(3)?,
                        stage: r.get(4)?,
                    })
                })
                .map_err(|e| self.err(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.err(e))?;
            let attempts = attempts
                .query_map([&id], |r| {
                    let (key, number): (String, u32) = (r.get(0)?, r.get(1)?);
                    let stdout =
                        super::paths::attempt_log(&self.dir, &id, &key, number, 0, r.get(4)?);
                    Ok(AttemptRecord {
                        key,
                        number,
                        job_id: r.get(2)?,
                        ended: r.get(3)?,
                        stdout: PathBuf::from(stdout),
                    })
                })
                .map_err(|e| self.err(e))?
                .collect::<Result<_, _>>()
                .map_err(|e| self.err(e))?;
            let folders = self.folders(&id)?;
            let kept_task_dirs = if folders.removes_empty_task_dirs() {
                self.kept_task_dirs(&id)?
            } else {
                HashSet::new()
            };
            out.push(RunRecord {
                folders,
                kept_task_dirs,
                in_progress: self.run_lock_is_held(&id),
                id,
                executor,
                created_at,
                tasks,
                attempts,
            });
        }
        Ok(out)
    }

    /// (task key, attempt) of every [`KEPT_TASK_DIR`] record of run `run`.
    fn kept_task_dirs(&self, run: &str) -> Result<HashSet<(String, u32)>, StoreError> {
        let mut kept = HashSet::new();
        for r in self.records(run, KEPT_TASK_DIR)? {
            let attempt = serde_json::from_str::<serde_json::Value>(&r.json)
                .ok()
                .and_then(|v| v["attempt"].as_u64());
            if let (Some(key), Some(n)) = (r.task_key, attempt) {
                kept.insert((key, n as u32));
            }
        }
        Ok(kept)
    }

    /// The folders of run `run`.
    pub fn folders(&self, run: &str) -> Result<RunFolders, StoreError> {
        let layout = self
            .conn
            .query_row("SELECT layout FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(RunFolders {
            run_dir: self.run_dir(run),
            layout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A moved-aside folder sits next to the task's folder; in a layout-1 run that is inside
    /// `tasks/KEY/`, where the old attempts' folders stay.
    #[test]
    fn moved_aside_names_by_layout() {
        for (layout, want) in [(2, "tasks/ab12.reset-3"), (1, "tasks/ab12/work.reset-3")] {
            let f = RunFolders {
                run_dir: PathBuf::from("/s/runs/r"),
                layout,
            };
            assert_eq!(f.relative(&f.moved_aside("ab12", 3)), want);
        }
    }
}
