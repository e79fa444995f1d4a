//! What a SLURM monitor keeps between polls (issue 15): at 10^5 tracked jobs, reading every
//! tracked attempt and task state from the store took a third of each poll. The monitor holds
//! the run's lock, so the store changes only by its own writes, which it knows; these reads let
//! it refresh just the tasks it wrote, and the stamp tells it whether anything else wrote.

use super::jobs::{tracked_of_row, TRACKED};
use super::tasks::stored_state;
use super::{Store, StoreError, TaskState, TrackedJob};
use rusqlite::{params, OptionalExtension};

/// A mark of the database's content as this connection knows it: equal marks mean no write
/// between them, by this connection (SQLite's count of rows it changed) or by any other
/// (`PRAGMA data_version`, which moves when another connection commits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteStamp {
    /// Rows changed by this connection since it opened.
    pub own: u64,
    /// Commits by other connections, as `data_version` counts them.
    pub others: i64,
}

impl Store {
    /// The database's [`WriteStamp`] now.
    pub fn write_stamp(&self) -> Result<WriteStamp, StoreError> {
        let others = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        Ok(WriteStamp {
            own: self.conn.total_changes(),
            others,
        })
    }

    /// [`Store::tracked_jobs`] of task `key` alone, by attempt number.
    pub fn tracked_jobs_of(&self, run: &str, key: &str) -> Result<Vec<TrackedJob>, StoreError> {
        let sql = format!("{TRACKED} AND task_key = ?2 ORDER BY number");
        let mut st = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![run, key], |r| tracked_of_row(&self.dir, r))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// [`Store::task_states`] of task `key` alone: None when the run's plan does not have it.
    pub fn task_state_of(
        &self,
        run: &str,
        key: &str,
    ) -> Result<Option<(TaskState, u32)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT state, attempts, in_plan FROM tasks WHERE run_id = ?1 AND key = ?2",
            )
            .map_err(|e| self.err(e))?;
        let row = st
            .query_row(params![run, key], |r| {
                let in_plan: bool = r.get(2)?;
                Ok(in_plan.then_some((stored_state(r.get_ref(0)?), r.get(1)?)))
            })
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first attempt of task `key`, submitted as job `job`.
    fn submit(key: &str, job: &str) -> crate::store::JobChange {
        crate::store::JobChange::Submitted {
            key: key.into(),
            attempt: 1,
            job_id: job.into(),
            host: "login".into(),
            stdout: "out.log".into(),
            stderr: "err.log".into(),
            time_limit_s: None,
            mem_mb: None,
            how: crate::store::Submission::Submitted,
        }
    }

    /// The stamp moves with this connection's writes and with another connection's commit, and
    /// not with reads: a monitor must never keep what another writer changed.
    #[test]
    fn write_stamp_sees_own_and_other_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".labtrail");
        let mut a = Store::open(&path, true).unwrap();
        a.create_run("r", "exp", "exp.toml", "").unwrap();
        let s0 = a.write_stamp().unwrap();
        a.tracked_jobs("r").unwrap();
        a.task_states("r").unwrap();
        assert_eq!(a.write_stamp().unwrap(), s0, "reads do not move the stamp");
        a.set_executor("r", "slurm").unwrap();
        let s1 = a.write_stamp().unwrap();
        assert_ne!(s1, s0, "an own write moves it");
        let mut b = Store::open(&path, true).unwrap();
        b.set_executor("r", "local").unwrap();
        let s2 = a.write_stamp().unwrap();
        assert_eq!(s2.own, s1.own);
        assert_ne!(s2, s1, "another connection's commit moves it");
        assert_eq!(b.executor("r").unwrap(), "local");
    }

    /// Issue 15: the state changes of a commit share one prepared statement; each still lands
    /// on its own attempt, in order with the changes around it (a requeue between two of them,
    /// the attempt it opens changed after it).
    #[test]
    fn state_changes_land_on_their_own_attempts() {
        use crate::store::JobChange;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        store.create_run("r", "exp", "exp.toml", "").unwrap();
        store
            .sync_plan("r", "h", || {
                crate::store::test_plan::plan_of(&["aa", "bb", "cc"])
            })
            .unwrap();
        let state = |key: &str, attempt: u32, s: &str, node: Option<&str>, at: Option<&str>| {
            JobChange::State {
                key: key.into(),
                attempt,
                state: s.into(),
                node: node.map(Into::into),
                started_at: at.map(Into::into),
            }
        };
        let jobs = [submit("aa", "7"), submit("bb", "8"), submit("cc", "9")];
        store.apply_all("r", &[], &jobs).unwrap();
        let jobs = [state("cc", 1, "RUNNING", Some("n3"), Some("T3"))];
        store.apply_all("r", &[], &jobs).unwrap();
        let jobs = [
            state("aa", 1, "RUNNING", Some("n1"), Some("T1")),
            JobChange::LogOffset {
                key: "bb".into(),
                attempt: 1,
                out: 5,
                err: 6,
            },
            state("bb", 1, "PENDING", None, None),
            JobChange::Superseded {
                key: "aa".into(),
                attempt: 1,
                outcome: crate::outcome::Outcome::Requeued,
                reason: "requeued".into(),
                job_id: "7".into(),
                host: "login".into(),
                stdout: "out2.log".into(),
                stderr: "err2.log".into(),
                restarts: 1,
            },
            state("aa", 2, "RUNNING", Some("n2"), Some("T2")),
            // A known node and start are kept when squeue gives none.
            state("cc", 1, "COMPLETING", None, None),
        ];
        store.apply_all("r", &[], &jobs).unwrap();
        let mut st = store
            .conn
            .prepare(
                "SELECT task_key || '/' || number, scheduler_state, node, started_at, outcome, log_offset
                 FROM attempts ORDER BY task_key, number",
            )
            .unwrap();
        type Row = (String, String, Option<String>, String, Option<String>, i64);
        let rows: Vec<Row> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let some = |s: &str| Some(s.to_string());
        let at = |s: &str| s.to_string();
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(
            rows[0],
            (
                at("aa/1"),
                at("RUNNING"),
                some("n1"),
                at("T1"),
                some("requeued"),
                0
            )
        );
        assert_eq!(
            rows[1],
            (at("aa/2"), at("RUNNING"), some("n2"), at("T2"), None, 0)
        );
        assert_eq!(
            (&rows[2].0[..], &rows[2].1[..], &rows[2].2),
            ("bb/1", "PENDING", &None)
        );
        assert_eq!(rows[2].5, 5, "bb's log offset");
        assert_ne!(rows[2].3, "T1", "bb's start is its submission's");
        assert_eq!(
            rows[3],
            (at("cc/1"), at("COMPLETING"), some("n3"), at("T3"), None, 0)
        );
    }

    /// Issue 15: a monitor's full read of its tracked jobs comes from the partial index
    /// `attempts_open`, not from a scan of every attempt of the run (the primary key SQLite
    /// chose without statistics), and a store without the index is still read.
    #[test]
    fn tracked_jobs_are_read_from_the_open_attempts_index() {
        use super::super::jobs::TRACKED_INDEXED;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        let plan = crate::store::test_plan::query_plan(&store.conn, TRACKED_INDEXED, ["r"]);
        assert!(
            plan[0].contains("INDEX attempts_open"),
            "the attempts are not read from their index: {plan:?}"
        );
        store.create_run("r", "exp", "exp.toml", "").unwrap();
        store
            .sync_plan("r", "h", || crate::store::test_plan::plan_of(&["aa", "bb"]))
            .unwrap();
        store
            .apply_all("r", &[], &[submit("bb", "7"), submit("aa", "8")])
            .unwrap();
        let read = store.tracked_jobs("r").unwrap();
        let ids: Vec<&str> = read.iter().map(|t| t.job_id.as_str()).collect();
        assert_eq!(ids, ["8", "7"], "by task key");
        // The scan by primary key gives the same rows in the same order, unsorted, with an
        // ended attempt among them (issue 15).
        let plan = crate::store::test_plan::query_plan(
            &store.conn,
            &format!("{} ORDER BY task_key, number", super::super::jobs::TRACKED),
            ["r"],
        );
        assert!(
            plan[0].contains("PRIMARY KEY") && !plan.iter().any(|p| p.contains("TEMP B-TREE")),
            "not a scan in key order: {plan:?}"
        );
        assert_eq!(store.tracked_jobs_scanned("r").unwrap(), read);
        store
            .conn
            .execute_batch("UPDATE attempts SET outcome = 'success' WHERE task_key = 'bb'")
            .unwrap();
        let open = store.tracked_jobs("r").unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(store.tracked_jobs_scanned("r").unwrap(), open);
        store
            .conn
            .execute_batch("UPDATE attempts SET outcome = NULL WHERE task_key = 'bb'")
            .unwrap();
        store
            .conn
            .execute_batch("DROP INDEX attempts_open")
            .unwrap();
        store.conn.flush_prepared_statement_cache();
        assert_eq!(store.tracked_jobs("r").unwrap(), read);
    }
}
