//! The attempts a runner left open, and recovery's marking of them as interrupted; both read
//! from partial indexes, named (issue 15).

use super::changes::event;
use super::tasks::OpenAttempt;
use super::{now, Store, StoreError};
use crate::outcome::Outcome;
use rusqlite::params;
use std::collections::HashMap;

impl Store {
    /// The attempts of `run` recorded as started and never as ended.
    pub fn open_attempts(&self, run: &str) -> Result<Vec<OpenAttempt>, StoreError> {
        open_attempts(&self.conn, run).map_err(|e| self.err(e))
    }

    /// Marks every attempt still recorded as running as interrupted (the runner that started it is
    /// gone), with the metric lines `metrics` holds for it (by key and attempt number), and returns
    /// them as (key, attempt, pid, host).
    pub fn interrupt_running(
        &mut self,
        run: &str,
        reason: &str,
        metrics: &HashMap<(String, u32), Vec<String>>,
    ) -> Result<Vec<OpenAttempt>, StoreError> {
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let open = open_attempts(&tx, run).map_err(e)?;
        let t = now();
        for a in &open {
            tx.execute("UPDATE attempts SET outcome = ?6, reason = ?4, ended_at = ?5 WHERE run_id = ?1 AND task_key = ?2 AND number = ?3",
                params![run, a.key, a.number, reason, t, Outcome::Interrupted]).map_err(e)?;
            let lines = metrics.get(&(a.key.clone(), a.number));
            for (i, line) in lines.into_iter().flatten().enumerate() {
                tx.execute("INSERT OR REPLACE INTO metrics (run_id, task_key, attempt, line, record) VALUES (?1,?2,?3,?4,?5)",
                    params![run, a.key, a.number, i as i64 + 1, line]).map_err(e)?;
            }
            event(&tx, run, Some(&a.key), &t, "interrupted", Some(reason)).map_err(e)?;
        }
        tx.execute(INTERRUPT_RUNNING_INDEXED, params![run, reason])
            .or_else(|_| tx.execute(INTERRUPT_RUNNING, params![run, reason]))
            .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(open)
    }
}

/// A run's running tasks made interrupted, found in the partial index `tasks_not_done`: SQLite
/// chose the primary key, a read of every task of the run (10% of a no-op resume of 10^6
/// tasks, issue 15).
const INTERRUPT_RUNNING_INDEXED: &str = "UPDATE tasks INDEXED BY tasks_not_done SET state = 'interrupted', reason = ?2 WHERE run_id = ?1 AND state = 'running' AND state <> 'done'";

/// [`INTERRUPT_RUNNING_INDEXED`] for a store without the index.
const INTERRUPT_RUNNING: &str =
    "UPDATE tasks SET state = 'interrupted', reason = ?2 WHERE run_id = ?1 AND state = 'running'";

/// The open attempts of a run, read from the partial index `attempts_open`. Named, because
/// without statistics SQLite prefers the primary key, which covers the columns and so looks
/// cheaper, and reads every attempt of the run: 0.25 s at 10^6 attempts, three times per
/// resume (issue 15).
const OPEN_ATTEMPTS_INDEXED: &str = "SELECT task_key, number, pid, host FROM attempts INDEXED BY attempts_open WHERE run_id = ?1 AND outcome IS NULL";

/// [`OPEN_ATTEMPTS_INDEXED`] for a store without the index (schema 9 or older, opened to read).
const OPEN_ATTEMPTS: &str =
    "SELECT task_key, number, pid, host FROM attempts WHERE run_id = ?1 AND outcome IS NULL";

/// The attempts of `run` recorded as started and never as ended.
fn open_attempts(conn: &rusqlite::Connection, run: &str) -> rusqlite::Result<Vec<OpenAttempt>> {
    // An error other than a missing index comes back from the second prepare as well.
    let mut st = conn
        .prepare_cached(OPEN_ATTEMPTS_INDEXED)
        .or_else(|_| conn.prepare_cached(OPEN_ATTEMPTS))?;
    let rows = st.query_map([run], |r| {
        Ok(OpenAttempt {
            key: r.get(0)?,
            number: r.get(1)?,
            pid: r.get(2)?,
            host: r.get(3)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TaskState;

    use crate::store::test_plan::plan_of as rows;

    /// Issue 15: the open attempts are read from `attempts_open`, not by a scan of the run's
    /// attempts (SQLite chose the primary key); a store without the index still answers.
    #[test]
    fn open_attempts_are_read_from_their_index() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(".labtrail"), true).unwrap();
        let plan = crate::store::test_plan::query_plan(&store.conn, OPEN_ATTEMPTS_INDEXED, ["r"]);
        assert!(
            plan.len() == 1 && plan[0].contains("INDEX attempts_open"),
            "{plan:?}"
        );
        let plan: String = store
            .conn
            .query_row(
                &format!("EXPLAIN QUERY PLAN {INTERRUPT_RUNNING_INDEXED}"),
                ["r", "why"],
                |r| r.get(3),
            )
            .unwrap();
        assert!(plan.contains("INDEX tasks_not_done (run_id=?)"), "{plan}");
        // The running task is found there and made interrupted.
        let mut store = store;
        store.create_run("r", "exp", "exp.toml", "").unwrap();
        store.sync_plan("r", "h", || rows(&["aa", "bb"])).unwrap();
        store
            .conn
            .execute("UPDATE tasks SET state = 'running' WHERE key = 'bb'", [])
            .unwrap();
        store
            .interrupt_running("r", "why", &HashMap::new())
            .unwrap();
        let states = store.plan_task_states("r", 2, |i| ["aa", "bb"][i].as_bytes());
        use TaskState::*;
        assert_eq!(states.unwrap(), [(Pending, 0), (Interrupted, 0)]);
        let old = rusqlite::Connection::open_in_memory().unwrap();
        old.execute_batch(
            "CREATE TABLE attempts (run_id TEXT, task_key TEXT, number INTEGER, pid INTEGER, host TEXT, outcome TEXT);
             INSERT INTO attempts VALUES ('r', 'k', 1, 7, 'h', NULL), ('r', 'k0', 1, 6, 'h', 'ok');",
        )
        .unwrap();
        let open = open_attempts(&old, "r").unwrap();
        assert_eq!(
            (open.len(), open[0].key.as_str(), open[0].pid),
            (1, "k", Some(7))
        );
    }
}
