//! What a snapshot records of a run beyond `list_runs`' counts: its current stage and when its
//! last task ended (issue 13). Read-only, one indexed query each.

use super::{Store, StoreError};
use rusqlite::OptionalExtension;

impl Store {
    /// The stage of the first task in plan order that is not done: where the run stands. None
    /// when every task is done.
    pub fn current_stage(&self, run: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT stage FROM tasks WHERE run_id = ?1 AND in_plan = 1 AND state != 'done' ORDER BY seq LIMIT 1",
                [run],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// When the run's last task ended (the store's UTC time), if any has.
    pub fn last_task_end(&self, run: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT MAX(finished_at) FROM tasks WHERE run_id = ?1 AND in_plan = 1",
                [run],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}
