//! Tasks, attempts and events: the state that makes resume exact.

use super::{Store, StoreError};
use crate::outcome::Outcome;
use std::collections::HashMap;

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Never run, reset, or waiting for a retry.
    Pending,
    /// An attempt is running.
    Running,
    /// Finished successfully; its result is stored. Never run again unless reset.
    Done,
    /// Its last attempt failed and no retry is left in this invocation.
    Failed,
    /// Stopped by a signal or a runner crash; run again on resume.
    Interrupted,
    /// An upstream task failed; runs again on resume once the upstream succeeds.
    Blocked,
}

impl TaskState {
    /// All states, in display order.
    pub const ALL: [TaskState; 6] = [
        Self::Done,
        Self::Running,
        Self::Pending,
        Self::Interrupted,
        Self::Failed,
        Self::Blocked,
    ];

    /// The name stored in the database and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
            Self::Blocked => "blocked",
        }
    }

    /// Parses a stored or user-given state name.
    pub fn parse(s: &str) -> Option<TaskState> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One task of a plan, as [`Store::sync_plan`] writes it: plain values, worked out by the plan
/// (`plan::Plan::store_rows`). The store adds what is its own: state, attempts, results.
#[derive(Debug, Clone)]
pub struct NewTask<'a> {
    /// The task's content key.
    pub key: &'a str,
    /// Name of the task's stage.
    pub stage: &'a str,
    /// The readable name shown to users (`rep=stats,layers=all`, `train/rep=stats`).
    pub label: String,
    /// Parameter values by name, in grid order.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The command, placeholders substituted.
    pub command: String,
    /// The stage's working directory, as the experiment file gives it.
    pub workdir: &'a str,
    /// The environment the experiment declares for this task, resolved, in declared order.
    pub env: Vec<(String, String)>,
    /// Keys of the tasks this one waits for.
    pub deps: Vec<&'a str>,
}

/// A whole plan as the store records it: the experiment file it came from and its tasks.
pub struct PlanRows<'a> {
    /// The experiment file's path, as shown to users.
    pub spec_path: String,
    /// The experiment file's text, kept so that a run can be explained later (secrets that no
    /// task runs with redacted: see [`crate::spec::Spec::text_to_record`]).
    pub spec_text: std::borrow::Cow<'a, str>,
    /// Every task of the plan, in plan order (a task's position is its `seq`). Made one at a
    /// time as they are written, so that a plan of millions of tasks is never held twice.
    pub tasks: Box<dyn Iterator<Item = NewTask<'a>> + 'a>,
    /// The declared inputs' digests the keys were made with, as JSON (see
    /// [`crate::plan::Inputs::to_json`]), if the experiment declares any: recorded with the run (a record of kind
    /// [`INPUTS_RECORD`]) so that its plan can be expanded again exactly as synced.
    pub inputs: Option<String>,
}

/// The kind of the records that keep the input digests a run's plan was synced with.
pub const INPUTS_RECORD: &str = "inputs";

/// One task as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TaskRow {
    pub key: String,
    pub seq: i64,
    pub stage: String,
    pub label: String,
    pub params: serde_json::Value,
    pub command: String,
    pub workdir: String,
    pub deps: Vec<String>,
    pub state: TaskState,
    pub attempts: u32,
    pub result: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub finished_at: Option<String>,
}

/// One attempt as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttemptRow {
    pub task_key: String,
    pub number: u32,
    pub host: String,
    pub pid: Option<u32>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub outcome: Option<Outcome>,
    pub reason: Option<String>,
    pub stdout_path: String,
    pub stderr_path: String,
    pub max_rss_kb: Option<i64>,
    pub user_cpu_s: Option<f64>,
    pub sys_cpu_s: Option<f64>,
    /// SLURM: the job id (`123` or `123_4` for an array element).
    pub job_id: Option<String>,
    /// SLURM: the node the job ran on.
    pub node: Option<String>,
    /// SLURM: the last state squeue showed (PENDING, RUNNING, ...).
    pub scheduler_state: Option<String>,
    /// SLURM: when the job was submitted.
    pub submitted_at: Option<String>,
    /// Whether the row says all of the attempt's resource use (a local attempt `wait4` measured,
    /// recorded by schema 9 or later): no `task_resources` record was written for it when the
    /// sampler saw nothing more, so a reader that finds none uses `max_rss_kb` and the CPU times.
    #[serde(skip)]
    pub resources_in_row: bool,
}

/// One entry of the append-only event log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRow {
    pub id: i64,
    pub task_key: Option<String>,
    pub at: String,
    pub kind: String,
    pub detail: Option<String>,
}

/// An attempt that was recorded as started but never as ended.
#[derive(Debug, Clone)]
pub struct OpenAttempt {
    pub key: String,
    pub number: u32,
    pub pid: Option<u32>,
    pub host: String,
}

impl Store {
    /// Makes the run's stored task list match a plan whose hash is `plan_hash`: new tasks are
    /// added as pending, tasks no longer in the plan are kept (with their results) but leave the
    /// plan. Returns the number of tasks added and retired.
    ///
    /// When the run's recorded hash is `plan_hash`, nothing is done and `rows` is not called: a
    /// resume of an unchanged plan does not build a row per task.
    pub fn sync_plan<'a>(
        &mut self,
        run: &str,
        plan_hash: &str,
        rows: impl FnOnce() -> PlanRows<'a>,
    ) -> Result<(usize, usize), StoreError> {
        if self.plan_hash(run)?.as_deref() == Some(plan_hash) {
            return Ok((0, 0));
        }
        let rows = rows();
        if let Some(json) = &rows.inputs {
            super::records::check_json(INPUTS_RECORD, json)?;
        }
        let mut existing: HashMap<String, bool> = {
            let mut st = self
                .conn
                .prepare("SELECT key, in_plan FROM tasks WHERE run_id = ?1")
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map([run], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
                })
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let counts =
            super::create::write_plan(&tx, run, plan_hash, rows, &mut existing).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(counts)
    }

    /// State and attempt count of every task in the run's plan.
    pub fn task_states(&self, run: &str) -> Result<HashMap<String, (TaskState, u32)>, StoreError> {
        // A scan of the primary key is cheaper than the state index plus a lookup per task.
        let mut st = self
            .conn
            .prepare_cached("SELECT key, state, attempts, in_plan FROM tasks WHERE run_id = ?1")
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([run]).map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            if !r.get::<_, bool>(3).map_err(|e| self.err(e))? {
                continue;
            }
            let state = stored_state(r.get_ref(1).map_err(|e| self.err(e))?);
            out.insert(
                r.get::<_, String>(0).map_err(|e| self.err(e))?,
                (state, r.get::<_, u32>(2).map_err(|e| self.err(e))?),
            );
        }
        Ok(out)
    }

    /// State and attempt count of each task of a plan of `len` tasks whose key at position `i`
    /// is `key_at(i)` (its text's bytes), by plan position: 8 bytes a task, no key held (issue 15: the map of
    /// [`Store::task_states`] took ~100 bytes a task, and a runner built it twice). A task the
    /// store does not have is pending with no attempt.
    ///
    /// A synced plan's tasks are stored at their plan positions (`seq`), so each row is placed by
    /// its `seq` once its key is checked there; rows that do not match (a plan not synced yet)
    /// are placed by key.
    pub fn plan_task_states<'k>(
        &self,
        run: &str,
        len: usize,
        key_at: impl Fn(usize) -> &'k [u8],
    ) -> Result<Vec<(TaskState, u32)>, StoreError> {
        // A scan of the primary key is cheaper than the state index plus a lookup per task.
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, key, state, attempts, in_plan FROM tasks WHERE run_id = ?1",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([run]).map_err(|e| self.err(e))?;
        let mut out = vec![(TaskState::Pending, 0); len];
        let mut misplaced: Vec<(Vec<u8>, (TaskState, u32))> = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            if !r.get::<_, bool>(4).map_err(|e| self.err(e))? {
                continue;
            }
            let standing = (
                stored_state(r.get_ref(2).map_err(|e| self.err(e))?),
                r.get::<_, u32>(3).map_err(|e| self.err(e))?,
            );
            let seq = r.get::<_, i64>(0).map_err(|e| self.err(e))?;
            let key = r.get_ref(1).map_err(|e| self.err(e))?;
            let key = key.as_bytes().unwrap_or_default();
            match usize::try_from(seq)
                .ok()
                .filter(|&i| i < len && key_at(i) == key)
            {
                Some(i) => out[i] = standing,
                None => misplaced.push((key.to_vec(), standing)),
            }
        }
        if !misplaced.is_empty() {
            let position: HashMap<&[u8], usize> = (0..len).map(|i| (key_at(i), i)).collect();
            for (key, standing) in misplaced {
                if let Some(&i) = position.get(key.as_slice()) {
                    out[i] = standing;
                }
            }
        }
        Ok(out)
    }
}

/// A stored state; an unknown one (a newer labtrail's) is taken as pending.
pub(super) fn stored_state(v: rusqlite::types::ValueRef<'_>) -> TaskState {
    v.as_str()
        .ok()
        .and_then(TaskState::parse)
        .unwrap_or(TaskState::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(key: &'a str, deps: &'a [String]) -> NewTask<'a> {
        NewTask {
            key,
            stage: "main",
            label: format!("k={key}"),
            params: serde_json::json!({ "k": key }).as_object().unwrap().clone(),
            command: "echo".into(),
            workdir: ".",
            env: Vec::new(),
            deps: deps.iter().map(String::as_str).collect(),
        }
    }

    fn rows(tasks: Vec<NewTask>) -> PlanRows {
        PlanRows {
            spec_path: "exp.toml".into(),
            spec_text: "text".into(),
            tasks: Box::new(tasks.into_iter()),
            inputs: None,
        }
    }

    /// The rows are written as given, and a plan with the recorded hash is not even built.
    #[test]
    fn sync_writes_rows_and_skips_an_unchanged_plan() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&tmp.path().join(".labtrail"), true).unwrap();
        store.create_run("r", "exp", "exp.toml", "").unwrap();
        let on_aa = ["aa".to_string()];
        let first = || rows(vec![row("aa", &[]), row("bb", &on_aa)]);
        assert_eq!(store.sync_plan("r", "h1", first).unwrap(), (2, 0));
        let tasks = store.tasks("r", None).unwrap();
        assert_eq!(tasks.len(), 2);
        assert_eq!(
            (tasks[1].key.as_str(), tasks[1].seq, tasks[1].label.as_str()),
            ("bb", 1, "k=bb")
        );
        assert_eq!(tasks[1].params, serde_json::json!({ "k": "bb" }));
        assert_eq!(tasks[1].deps, ["aa"]);
        assert_eq!(
            store.run_spec("r").unwrap(),
            ("exp.toml".into(), "text".into())
        );

        let unchanged = store.sync_plan("r", "h1", || unreachable!("rows of an unchanged plan"));
        assert_eq!(unchanged.unwrap(), (0, 0));

        let second = || rows(vec![row("cc", &[]), row("aa", &[])]);
        assert_eq!(store.sync_plan("r", "h2", second).unwrap(), (1, 1));
        let keys: Vec<String> = store
            .tasks("r", None)
            .unwrap()
            .into_iter()
            .map(|t| t.key)
            .collect();
        assert_eq!(keys, ["cc", "aa"]);
        assert_eq!(store.retired_tasks("r").unwrap()[0].key, "bb");
    }

    /// Issue 15: states come by plan position; a retired task is not among them, a task the
    /// store lacks is pending, and a row whose position is not the plan's is placed by its key.
    #[test]
    fn plan_task_states_come_by_plan_position() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&tmp.path().join(".labtrail"), true).unwrap();
        store.create_run("r", "exp", "exp.toml", "").unwrap();
        let first = || rows(vec![row("aa", &[]), row("bb", &[]), row("cc", &[])]);
        store.sync_plan("r", "h1", first).unwrap();
        store
            .conn
            .execute(
                "UPDATE tasks SET state = 'done', attempts = 2 WHERE key = 'cc'",
                [],
            )
            .unwrap();
        let second = || rows(vec![row("cc", &[]), row("aa", &[])]);
        store.sync_plan("r", "h2", second).unwrap();
        let plan = ["cc", "aa", "dd"];
        let states = store
            .plan_task_states("r", 3, |i| plan[i].as_bytes())
            .unwrap();
        use TaskState::*;
        assert_eq!(states, [(Done, 2), (Pending, 0), (Pending, 0)]);
        // The plan before the sync: its positions are not the stored ones.
        let unsynced = ["bb", "aa", "cc"];
        let states = store
            .plan_task_states("r", 3, |i| unsynced[i].as_bytes())
            .unwrap();
        assert_eq!(states, [(Pending, 0), (Pending, 0), (Done, 2)]);
    }
}
