//! The store: the only owner of persistent state.
//!
//! A store is a `.labtrail/` folder holding one SQLite database (`synchronous=FULL`; WAL on a
//! local disk, a rollback journal on a network filesystem: see [`filesystem`]) and the
//! files of every run: each task's own folder (`runs/RUN/tasks/KEY/`) and its attempts' logs
//! (`runs/RUN/attempts/KEY-...`). Every state change is one transaction, committed before
//! anything reports it.

mod busy;
mod changes;
mod create;
mod error;
mod fault;
pub mod filesystem;
mod folders;
mod gone;
mod inputs;
mod jobs;
mod lock;
mod lock_try;
mod migrate;
mod mountinfo;
mod paths;
mod queries;
mod records;
mod repair;
mod reset;
mod runs;
pub mod schema;
mod store_lock;
mod tasks;

pub use changes::Change;
pub use create::{NewRun, RunCreated};
pub use error::StoreError;
pub use folders::{AttemptRecord, RunFolders, RunRecord, TaskRecord};
pub use inputs::InputDigestRow;
pub use jobs::{JobChange, Submission, TrackedJob};
pub use lock::RunLock;
pub use records::RecordRow;
pub use reset::{MoveSettled, ResetTask, TaskDirFate, TaskDirMove, TaskDirs};
pub use runs::RunSummary;
pub use tasks::{
    AttemptRow, EventRow, NewTask, OpenAttempt, PlanRows, TaskRow, TaskState, INPUTS_RECORD,
};

use rusqlite::{Connection, OpenFlags};
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
    /// The store lock, held shared while the store is open: no repair replaces the database
    /// under an open store (see `store_lock`). Declared after `conn`: released after it closes.
    _store_lock: Option<nix::fcntl::Flock<std::fs::File>>,
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

    /// Opens the store folder `dir`, creating it if `create`. Checks the database's integrity and
    /// brings its schema up to date; a damaged database is copied aside and reported.
    pub fn open(dir: &Path, create: bool) -> Result<Store, StoreError> {
        // Absolute, because tasks receive it (LABTRAIL_STORE) and run in other folders.
        let dir = &std::path::absolute(dir).map_err(|e| StoreError::io(dir, e))?;
        let db_path = dir.join(DB_FILE);
        if dir.exists() && !dir.is_dir() {
            return Err(StoreError::NotAFolder {
                path: dir.to_path_buf(),
            });
        }
        // Waits while a repair runs, and settles one a crash interrupted (see `store_lock`).
        let mut store_lock = store_lock::hold_shared(dir)?;
        // SQLite reads an empty file as a new database: if this store already has runs, an empty
        // database is a truncated one, and must not silently become a fresh store.
        let len = std::fs::metadata(&db_path).map(|m| m.len()).ok();
        if len == Some(0) && dir.join("runs").is_dir() {
            let backup = dir.join(format!("{DB_FILE}.damaged-empty"));
            let _ = std::fs::copy(&db_path, &backup);
            return Err(StoreError::Corrupt {
                path: db_path,
                backup,
                detail: "the file is empty (truncated), but the store has runs".into(),
            });
        }
        if len.is_none() {
            if !create {
                return Err(StoreError::NotFound {
                    start: dir.to_path_buf(),
                });
            }
            std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
            store_lock = store_lock::hold_shared(dir)?;
        }
        let conn = Connection::open_with_flags(
            &db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
        .map_err(|e| StoreError::sqlite(&db_path, e))?;
        // Refuse a newer schema before changing anything: switching to WAL rewrites the header.
        // (A file that cannot even be read is reported as damaged below.)
        if let Ok(found) = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0)) {
            if found > schema::CURRENT_VERSION {
                return Err(StoreError::TooNew {
                    path: db_path,
                    found,
                    supported: schema::CURRENT_VERSION,
                });
            }
        }
        let mut store = Store {
            dir: dir.to_path_buf(),
            db_path,
            conn,
            _store_lock: store_lock,
        };
        if let Err(detail) = store.check_health() {
            let backup = store.keep_damaged_copy()?;
            return Err(StoreError::Corrupt {
                path: store.db_path.clone(),
                backup,
                detail,
            });
        }
        store.prepare_for_writing()?;
        Ok(store)
    }

    /// Configures the connection and runs SQLite's quick integrity check; `Err` describes damage.
    fn check_health(&self) -> Result<(), String> {
        let c = &self.conn;
        let describe = |e: rusqlite::Error| e.to_string();
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(describe)?;
        filesystem::apply_journal_mode(c, &self.dir).map_err(describe)?;
        c.pragma_update(None, "synchronous", "FULL")
            .map_err(describe)?;
        let verdict: String = c
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(describe)?;
        if verdict != "ok" {
            return Err(format!("integrity check failed: {verdict}"));
        }
        Ok(())
    }

    fn keep_damaged_copy(&self) -> Result<PathBuf, StoreError> {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S").to_string();
        let backup = self.dir.join(format!("{DB_FILE}.damaged-{stamp}"));
        std::fs::copy(&self.db_path, &backup).map_err(|e| StoreError::io(&backup, e))?;
        for suffix in ["-wal", "-shm"] {
            let side = PathBuf::from(format!("{}{suffix}", self.db_path.display()));
            if side.exists() {
                let _ = std::fs::copy(&side, format!("{}{suffix}", backup.display()));
            }
        }
        Ok(backup)
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
        Ok(problems)
    }
}
