//! Read-only streaming queries: each row is handed to a callback as it is read, so a report
//! over 10^6 tasks holds one row at a time, never the run (issue 15). The Vec-returning reads
//! ([`Store::tasks`], [`Store::retired_tasks`]) are thin wrappers over [`Store::each_task`]: the
//! `tasks` table has one row decoder, [`task_row`], so a change to how a column is stored lands
//! in one place.

use super::{Store, StoreError, TaskRow, TaskState};
use rusqlite::Row;
use std::collections::HashMap;

/// The columns [`task_row`] decodes, in its order.
const TASK_COLUMNS: &str = "key, seq, stage, label, params, command, workdir, deps, state, attempts, result, reason, finished_at";

/// Which tasks of a run [`Store::each_task`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSet {
    /// The tasks of the run's current plan, optionally only those in one stored state.
    InPlan(Option<TaskState>),
    /// The tasks that left the plan (earlier configurations).
    Retired,
}

/// The one decoder of a `tasks` row selected with [`TASK_COLUMNS`].
fn task_row(r: &Row) -> rusqlite::Result<TaskRow> {
    let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    let state: String = r.get(8)?;
    Ok(TaskRow {
        key: r.get(0)?,
        seq: r.get(1)?,
        stage: r.get(2)?,
        label: r.get(3)?,
        params: json(r.get(4)?).unwrap_or(serde_json::Value::Null),
        command: r.get(5)?,
        workdir: r.get(6)?,
        deps: json(r.get(7)?)
            .and_then(|v: serde_json::Value| serde_json::from_value(v).ok())
            .unwrap_or_default(),
        state: TaskState::parse(&state).unwrap_or(TaskState::Pending),
        attempts: r.get(9)?,
        result: json(r.get(10)?),
        reason: r.get(11)?,
        finished_at: r.get(12)?,
    })
}

/// A done task as `labtrail results` prints it, borrowed from the row being read: its columns
/// as stored (parameters and result as JSON text), none of what results leave out.
#[derive(Debug, Clone, Copy)]
pub struct DoneRow<'r> {
    /// The task key.
    pub key: &'r str,
    /// The stage.
    pub stage: &'r str,
    /// The label.
    pub label: &'r str,
    /// The parameters, a JSON object's text.
    pub params: &'r str,
    /// The result's JSON text, if any.
    pub result: Option<&'r str>,
    /// How many attempts it took.
    pub attempts: u32,
    /// When the successful attempt ended.
    pub finished_at: Option<&'r str>,
}

/// A row of `key, stage, label, params, result, attempts, finished_at` as borrowed text.
fn done_row<'r>(row: &'r rusqlite::Row<'_>) -> rusqlite::Result<DoneRow<'r>> {
    let text = |i| row.get_ref(i).and_then(|v| Ok(v.as_str_or_null()?));
    Ok(DoneRow {
        key: text(0)?.unwrap_or(""),
        stage: text(1)?.unwrap_or(""),
        label: text(2)?.unwrap_or(""),
        params: text(3)?.unwrap_or(""),
        result: text(4)?,
        attempts: row.get(5)?,
        finished_at: text(6)?,
    })
}

/// How many tasks of one stage are in one stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageStateCount {
    /// The stage.
    pub stage: String,
    /// The stored state.
    pub state: TaskState,
    /// How many tasks of the current plan.
    pub tasks: usize,
    /// The plan position of the stage's first task (0 when the run has one stage): stages are
    /// shown in plan order, which is the order of their smallest position.
    pub first_seq: i64,
}

impl Store {
    /// Calls `each` with every task of `set`, in plan order, one decoded row at a time. Stops at
    /// the first error `each` returns, and returns it.
    pub fn each_task<E: From<StoreError>>(
        &self,
        run: &str,
        set: TaskSet,
        mut each: impl FnMut(TaskRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let (in_plan, state) = match set {
            TaskSet::InPlan(state) => (true, state),
            TaskSet::Retired => (false, None),
        };
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE run_id = ?1 AND in_plan = ?2 AND (?3 IS NULL OR state = ?3) ORDER BY seq");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = st
            .query(rusqlite::params![run, in_plan, state.map(|s| s.as_str())])
            .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            each(task_row(row).map_err(|e| self.err(e))?)?;
        }
        Ok(())
    }

    /// Calls `each` with every done task of the run's current plan, in plan order, as borrowed
    /// text: what `results` prints, without the columns it does not (the command, the deps,
    /// ...), nor a copy of those it does (issue 15: reading 10^6 results is mostly this loop).
    pub fn each_done<E: From<StoreError>>(
        &self,
        run: &str,
        mut each: impl FnMut(DoneRow) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT key, stage, label, params, result, attempts, finished_at FROM tasks WHERE run_id = ?1 AND in_plan = 1 AND state = 'done' ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([run]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            each(done_row(row).map_err(|e| self.err(e))?)?;
        }
        Ok(())
    }

    /// Calls `read` with the task `key` of `run` (in its plan or not) as [`Store::each_done`]
    /// reads it, if there is one: one primary-key lookup, for a report that ordered the tasks
    /// itself and reads them back one at a time (`results --sort`).
    pub fn done_by_key<T>(
        &self,
        run: &str,
        key: &str,
        read: impl FnOnce(DoneRow) -> T,
    ) -> Result<Option<T>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT key, stage, label, params, result, attempts, finished_at FROM tasks WHERE run_id = ?1 AND key = ?2",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([run, key]).map_err(|e| self.err(e))?;
        match rows.next().map_err(|e| self.err(e))? {
            Some(row) => Ok(Some(read(done_row(row).map_err(|e| self.err(e))?))),
            None => Ok(None),
        }
    }

    /// Calls `each` with the plan position, stored state and parameters (as stored: a JSON
    /// object's text) of every task of the run's current plan, in no particular order: what
    /// `status` groups by, without decoding the other columns or sorting the tasks.
    pub fn each_task_params<E: From<StoreError>>(
        &self,
        run: &str,
        mut each: impl FnMut(i64, TaskState, &str) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, state, params FROM tasks WHERE run_id = ?1 AND in_plan = 1",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([run]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let text = |i| {
                row.get_ref(i)
                    .and_then(|v| Ok(v.as_str_or_null()?.unwrap_or("")))
                    .map_err(|e| self.err(e))
            };
            let seq = row.get(0).map_err(|e| self.err(e))?;
            let state = TaskState::parse(text(1)?).unwrap_or(TaskState::Pending);
            each(seq, state, text(2)?)?;
        }
        Ok(())
    }

    /// Calls `each` with the plan position, stage, parameters and result (each as stored: JSON
    /// text) of every done task of the run's current plan, in no particular order: a pass
    /// that only looks at the shape of the results (their columns) needs no sort, where plan
    /// order costs SQLite one.
    pub fn each_done_unordered<E: From<StoreError>>(
        &self,
        run: &str,
        mut each: impl FnMut(i64, &str, &str, Option<&str>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT seq, stage, params, result FROM tasks WHERE run_id = ?1 AND in_plan = 1 AND state = 'done'",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([run]).map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let text = |i| {
                row.get_ref(i)
                    .and_then(|v| Ok(v.as_str_or_null()?))
                    .map_err(|e| self.err(e))
            };
            let seq = row.get(0).map_err(|e| self.err(e))?;
            each(
                seq,
                text(1)?.unwrap_or(""),
                text(2)?.unwrap_or(""),
                text(3)?,
            )?;
        }
        Ok(())
    }

    /// How many tasks of the run's current plan are in each stored state, per stage, stages in
    /// plan order: read from `task_counts` (schema 10), a row per stage and state, never a row
    /// per task (issue 15). Only a run of several stages reads its tasks, for their order.
    pub fn stage_state_counts(&self, run: &str) -> Result<Vec<StageStateCount>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT stage, state, n FROM task_counts WHERE run_id = ?1 AND in_plan = 1 AND n > 0 ORDER BY stage, state",
            )
            .map_err(|e| self.err(e))?;
        let mut counts: Vec<StageStateCount> = st
            .query_map([run], |r| {
                let state: String = r.get(1)?;
                Ok(StageStateCount {
                    stage: r.get(0)?,
                    state: TaskState::parse(&state).unwrap_or(TaskState::Pending),
                    tasks: r.get::<_, i64>(2)? as usize,
                    first_seq: 0,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        if counts.iter().any(|c| c.stage != counts[0].stage) {
            let firsts = self.stage_first_seqs(run)?;
            for c in &mut counts {
                c.first_seq = firsts.get(&c.stage).copied().unwrap_or(i64::MAX);
            }
            counts.sort_by_key(|c| c.first_seq);
        }
        Ok(counts)
    }

    /// Each stage's first plan position: a pass over the run's tasks (no index orders them by
    /// stage), which only a run of several stages pays.
    fn stage_first_seqs(&self, run: &str) -> Result<HashMap<String, i64>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT stage, MIN(seq) FROM tasks WHERE run_id = ?1 AND in_plan = 1 GROUP BY stage",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Runs `read` on one snapshot of the store: every query it makes sees the same state, even
    /// while a runner writes (WAL readers see the database as of their first read). What reads
    /// a run twice (the columns, then the rows) relies on it.
    pub fn read_snapshot<T, E: From<StoreError>>(
        &self,
        read: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        // Only read: dropping it rolls back, which ends the snapshot and changes nothing.
        let snapshot = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        // A deferred transaction's snapshot is taken at its first read: take it now.
        snapshot
            .query_row("SELECT COUNT(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(|e| self.err(e))?;
        read()
    }

    /// Tasks of the run's current plan in plan order, optionally only those in `state`.
    pub fn tasks(&self, run: &str, state: Option<TaskState>) -> Result<Vec<TaskRow>, StoreError> {
        self.collect_tasks(run, TaskSet::InPlan(state))
    }

    /// Tasks of the run that are no longer in its plan (earlier configurations).
    pub fn retired_tasks(&self, run: &str) -> Result<Vec<TaskRow>, StoreError> {
        self.collect_tasks(run, TaskSet::Retired)
    }

    fn collect_tasks(&self, run: &str, set: TaskSet) -> Result<Vec<TaskRow>, StoreError> {
        let mut all = Vec::new();
        self.each_task(run, set, |t| {
            all.push(t);
            Ok::<_, StoreError>(())
        })?;
        Ok(all)
    }
}
