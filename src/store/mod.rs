//! The store: the only owner of persistent state.
//!
//! A store is a `.labtrail/` folder holding one SQLite database (`synchronous=FULL`; WAL on a
//! local disk, a rollback journal on a network filesystem: see [`filesystem`]) and the
//! files of every run: each task's own folder (`runs/RUN/tasks/KEY/`) and its attempts' logs
//! (`runs/RUN/attempts/KEY-...`). Every state change is one transaction, committed before
//! anything reports it. Commands that only read open it read-only ([`Access`], see `open`), so
//! that they work where it cannot be written; a WAL left by an unclean stop is checked for
//! damage before SQLite replays it (`unclean`, [`wal`]).

mod blobs;
mod busy;
mod changes;
mod create;
mod damaged_copy;
mod data_digests;
mod error;
mod event_log;
pub(crate) mod fault;
pub mod filesystem;
mod folders;
mod gone;
mod inputs;
mod jobs;
mod journal;
mod lock;
mod lock_try;
mod migrate;
mod mountinfo;
mod open;
mod open_attempts;
mod param_summary;
mod paths;
mod plan_states;
mod queries;
mod records;
mod repair;
mod reset;
mod runs;
pub mod schema;
pub mod snapshot_index;
mod snapshot_runs;
mod store_lock;
mod stream;
mod submissions;
mod tasks;
#[cfg(test)]
mod test_plan;
mod tracked;
mod unclean;
pub mod wal;

pub use changes::Change;
pub use create::{NewRun, RunCreated};
pub use data_digests::DataDigestRow;
pub use error::StoreError;
pub use folders::{AttemptRecord, RunFolders, RunRecord, TaskRecord, KEPT_TASK_DIR};
pub use gone::StoreWatch;
pub use inputs::InputDigestRow;
pub use jobs::{Cancelling, JobChange, RestartBasis, Submission, TrackedJob};
pub use lock::RunLock;
pub(crate) use open::busy_timeout;
pub use open::Access;
pub use param_summary::{ParamFacts, VALUES_CAP};
pub use records::RecordRow;
pub use reset::{MoveSettled, ResetTask, TaskDirFate, TaskDirMove, TaskDirs};
pub use runs::RunSummary;
pub use stream::{DoneRow, StageStateCount, TaskSet};
pub use submissions::{SubmissionRow, SubmissionState};
pub use tasks::{
    AttemptRow, EventRow, NewTask, OpenAttempt, PlanRows, TaskRow, TaskState, INPUTS_RECORD,
};
pub use tracked::WriteStamp;
pub use unclean::{WAL_DAMAGE_RECORD, WAL_DAMAGE_REPAIRED_RECORD};

use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// Name of the store folder.
pub const STORE_DIR: &str = ".labtrail";
/// Name of the database inside the store folder.
pub const DB_FILE: &str = "labtrail.db";

/// An open store.
pub struct Store {
    dir: PathBuf,
    db_path: PathBuf,
    conn: Connection,
    access: Access,
    /// A damaged WAL found by this open (see `unclean`), as recorded.
    wal_finding: Option<serde_json::Value>,
    _here: unclean::OpenHere,
    /// The store lock, held shared while the store is open: no repair replaces the database
    /// under an open store (see `store_lock`). Declared after `conn`: released after it closes.
    _store_lock: Option<nix::fcntl::Flock<std::fs::File>>,
    /// The watch on the database and its folder, for a store opened to write (see `gone`).
    watch: gone::StoreWatch,
}

/// Current time as RFC 3339 with a UTC offset, the format of every timestamp in the store.
pub fn now() -> String {
    format_time(std::time::SystemTime::now())
}

/// `at` as the store writes times: UTC, RFC 3339, milliseconds.
pub fn format_time(at: std::time::SystemTime) -> String {
    let at = jiff::Timestamp::try_from(at).unwrap_or_else(|_| jiff::Timestamp::now());
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Store {
    /// Finds the store like git finds `.git`: in `start` or the nearest folder above it.
    pub fn discover(start: &Path) -> Result<PathBuf, StoreError> {
        let abs = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
        abs.ancestors()
            .map(|d| d.join(STORE_DIR))
            .find(|d| d.join(DB_FILE).is_file())
            .ok_or(StoreError::NotFound { start: abs })
    }

    /// The store folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// Folder of one run.
    pub fn run_dir(&self, run: &str) -> PathBuf {
        self.dir.join("runs").join(run)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.db_path, e)
    }

    /// SQLite's full integrity check plus labtrail's own invariants; returns the problems found.
    pub fn check(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let mut st = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        for r in rows {
            let r = r.map_err(|e| self.err(e))?;
            if r != "ok" {
                problems.push(format!("sqlite: {r}"));
            }
        }
        problems.extend(self.invariant_violations()?);
        problems.extend(self.wal_damage_problems()?);
        Ok(problems)
    }
}
