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
                Ok(r.get::<_, bool>(2)?
                    .then(|| Ok::<_, rusqlite::Error>((stored_state(r.get_ref(0)?), r.get(1)?)))
                    .transpose()?)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(row.flatten())
    }
}
