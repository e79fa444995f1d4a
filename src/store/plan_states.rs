//! The states of a synced plan's tasks without reading every task: a finished run of 10^6
//! tasks is almost all done, and the not-done ones are in the index `tasks_not_done` (issue 15:
//! reading every row of `tasks`, labels and commands included, was a third of a no-op resume).

use super::{Store, StoreError, TaskState};
use rusqlite::OptionalExtension;

/// The run's not-done tasks of its plan, read from their partial index. Named, because without
/// statistics SQLite prefers the primary key, which reads every task of the run.
const NOT_DONE_INDEXED: &str = "SELECT seq, key, state FROM tasks INDEXED BY tasks_not_done
    WHERE run_id = ?1 AND in_plan = 1 AND state <> 'done'";

impl Store {
    /// The state of each task of the plan whose hash is `plan_hash`, of `len` tasks, whose key at
    /// position `i` is `key_at(i)`, by plan position, if `run` is synced with that plan: its
    /// recorded hash is `plan_hash` and it has `len` tasks in its plan (`task_counts`). Then each
    /// task is stored at its plan position, and every task not in `tasks_not_done` is done, so
    /// only those are read. `None` when that does not hold (a plan not synced, a store older
    /// than schema 10, a row not at its position): [`Store::plan_task_states`] reads them all.
    pub fn synced_plan_states<'k>(
        &self,
        run: &str,
        plan_hash: &str,
        len: usize,
        key_at: impl Fn(usize) -> &'k [u8],
    ) -> Result<Option<Vec<TaskState>>, StoreError> {
        // One read transaction: the hash, the counts and the rows are of one moment.
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        if self.plan_hash(run)?.as_deref() != Some(plan_hash) {
            return Ok(None);
        }
        let in_plan: Option<i64> = tx
            .query_row(
                "SELECT SUM(n) FROM task_counts WHERE run_id = ?1 AND in_plan = 1",
                [run],
                |r| r.get(0),
            )
            .optional()
            .ok()
            .flatten()
            .flatten();
        if in_plan.and_then(|n| usize::try_from(n).ok()) != Some(len) {
            return Ok(None);
        }
        // Without the index (an older store, opened to read) the answer comes from the full read.
        let Ok(mut st) = tx.prepare_cached(NOT_DONE_INDEXED) else {
            return Ok(None);
        };
        let mut rows = st.query([run]).map_err(|e| self.err(e))?;
        let mut out = vec![TaskState::Done; len];
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let seq = r.get::<_, i64>(0).map_err(|e| self.err(e))?;
            let key = r.get_ref(1).map_err(|e| self.err(e))?;
            let key = key.as_bytes().unwrap_or_default();
            match usize::try_from(seq)
                .ok()
                .filter(|&i| i < len && key_at(i) == key)
            {
                Some(i) => {
                    out[i] = super::tasks::stored_state(r.get_ref(2).map_err(|e| self.err(e))?)
                }
                None => return Ok(None),
            }
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Store, TaskState};

    use crate::store::test_plan::plan_of as rows;

    /// Issue 15: a synced plan's states come from the not-done rows alone, the same as from
    /// every row; a plan that is not the synced one, or of another length, gets no answer.
    #[test]
    fn synced_states_read_only_what_is_not_done() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&tmp.path().join(".labtrail"), true).unwrap();
        store.create_run("r", "exp", "exp.toml", "").unwrap();
        let plan = ["aa", "bb", "cc", "dd"];
        store.sync_plan("r", "h1", || rows(&plan)).unwrap();
        store
            .conn
            .execute_batch(
                "UPDATE tasks SET state = 'done' WHERE key IN ('aa', 'cc');
                 UPDATE tasks SET state = 'failed', attempts = 1 WHERE key = 'dd';",
            )
            .unwrap();
        let key_at = |i: usize| plan[i].as_bytes();
        let fast = store.synced_plan_states("r", "h1", 4, key_at).unwrap();
        let all: Vec<TaskState> = store
            .plan_task_states("r", 4, key_at)
            .unwrap()
            .into_iter()
            .map(|s| s.0)
            .collect();
        use TaskState::*;
        assert_eq!(all, [Done, Pending, Done, Failed]);
        assert_eq!(fast.as_deref(), Some(all.as_slice()));
        assert_eq!(
            store.synced_plan_states("r", "h2", 4, key_at).unwrap(),
            None
        );
        assert_eq!(
            store.synced_plan_states("r", "h1", 5, key_at).unwrap(),
            None
        );
        // A not-done row that is not at its position: the full read answers.
        let moved = ["aa", "dd", "cc", "bb"];
        let at = |i: usize| moved[i].as_bytes();
        assert_eq!(store.synced_plan_states("r", "h1", 4, at).unwrap(), None);
    }
}
