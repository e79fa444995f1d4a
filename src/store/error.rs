//! Store errors. Each names the file or run it is about and says what to do.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no labtrail store in {start} or any folder above it\n  help: run `labtrail run EXPERIMENT.toml` first; name the experiment file (`labtrail status EXPERIMENT.toml`) to read the store next to it, or point at a store with --store PATH")]
    NotFound { start: PathBuf },

    #[error("the store database {path} is damaged: {detail}\n  a copy of the damaged file was kept at {backup}\n  help: run `labtrail check --repair` to move it aside and rebuild the store from every record that can still be read")]
    Corrupt {
        path: PathBuf,
        backup: PathBuf,
        detail: String,
    },

    /// Damaged, and no copy could be kept beside it (a read-only folder).
    #[error("the store database {path} is damaged: {detail}\n  no copy of it could be kept: {why}\n  help: copy the whole store folder somewhere you can write and run `labtrail check --repair` there (or ask its owner to)")]
    CorruptNoCopy {
        path: PathBuf,
        detail: String,
        why: String,
    },

    #[error("the store {path} has schema version {found}, newer than this labtrail understands (up to {supported})\n  help: upgrade labtrail; nothing was changed")]
    TooNew {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    #[error("the disk holding {path} is full; the change was rolled back and nothing was half-written\n  help: free some space and run the same command again")]
    DiskFull { path: PathBuf },

    /// A store folder with runs but no database: it was deleted or moved away, and a new empty
    /// one would hide every run the folder holds.
    #[error("the store {dir} has runs (runs/) but no database {db}: it was deleted or moved away; nothing was written\n  help: put the database back (or run with --store PATH where it went); to start over, move the store folder aside first")]
    DatabaseMissing { dir: PathBuf, db: PathBuf },

    /// The database file was deleted, moved or replaced while labtrail had it open: what it
    /// would write now lands in a file no one can open again (see `store::gone`).
    #[error("the store database {path} is no longer the file labtrail opened: {how}; the last {unsaved} change(s) were not saved, and nothing after them will be\n  help: if the store was moved, run the same command with --store NEW_PLACE to resume there (the tasks whose changes were lost run again); if it was deleted, the same command starts a new store; a database put back from a copy holds only what the copy held")]
    Gone {
        path: PathBuf,
        how: String,
        unsaved: usize,
    },

    #[error("run `{id}` is not in the store {store}{}", known_runs(.known))]
    RunNotFound {
        id: String,
        store: PathBuf,
        known: Vec<String>,
    },

    #[error(
        "the store {store} has no runs yet\n  help: start one with `labtrail run EXPERIMENT.toml`"
    )]
    NoRuns { store: PathBuf },

    #[error("task `{query}` matches no task of run `{run}`\n  help: use a label, a stage name, or a key (or its prefix) from `labtrail tasks`, or a filter like `rep=stats` or `stage=train`")]
    TaskNotFound { query: String, run: String },

    #[error("run `{run}` is already being run by PID {pid} on host {host} (since {since})\n  help: wait for it, stop it (kill {pid}), or start a separate run with --fresh")]
    Locked {
        run: String,
        pid: u32,
        host: String,
        since: String,
    },

    /// The run's lock is held, but its file does not name the holder: it took the lock and has
    /// not written its name yet, or could not. No PID to give (issue 10, review: "kill 0"
    /// would signal the user's whole process group).
    #[error("run `{run}` is already being run by another process, which has not written its name in {lock_file} yet\n  help: wait for it, or start a separate run with --fresh; `labtrail status` names the runner once it has")]
    LockedByUnknown { run: String, lock_file: PathBuf },

    /// The lock file says a process on another host took the run's lock and never released it
    /// cleanly; from here nothing tells whether it still runs (issue 10).
    #[error("run `{run}` was locked by PID {pid} on host {host} (since {since}), and that lock was never released cleanly; from this host ({here}) labtrail cannot tell whether that process still runs: it may have crashed, or run on with locks {here} does not see\n  help: check on {host} first (`ssh {host} ps -p {pid}`; for a SLURM run, also its monitor); once it is gone, take the run over with --force (`labtrail run EXPERIMENT.toml --force`, `labtrail monitor --force`)")]
    LockedElsewhere {
        run: String,
        pid: u32,
        host: String,
        since: String,
        here: String,
    },

    /// The filesystem refused a lock for another reason than a holder: it has no locks, its lock
    /// service did not answer, no permission (issue 10).
    #[error("cannot lock {path}: {errno}; the store is on {filesystem}\n  help: {}", super::lock_try::unavailable_help(*.errno))]
    LockUnavailable {
        path: PathBuf,
        filesystem: String,
        errno: nix::errno::Errno,
    },

    /// `check --repair` while a process has the store open (issue 10).
    #[error("cannot repair the store {store} now: {holder}\n  help: let it finish or stop it, then run `labtrail check --repair` again; nothing was changed")]
    RepairRefused { store: PathBuf, holder: String },

    /// A repair whose rebuilt database failed the store's own check: nothing was replaced.
    #[error("the repair of {path} could not build a database that passes the store's own check: {detail}\n  nothing was replaced; the database is as it was\n  help: this is a bug in labtrail's repair; please report it with a copy of {path}")]
    RepairFailed { path: PathBuf, detail: String },

    /// A command started while `check --repair` rebuilds the store, and it did not end in time.
    #[error("the store {store} is being repaired (`labtrail check --repair`), still after {waited_s} s\n  help: wait for the repair to end, then run the command again")]
    RepairUnderway { store: PathBuf, waited_s: u64 },

    /// A record (see `Store::records`) whose document is not valid JSON.
    #[error("a `{kind}` record is not valid JSON: {detail}; nothing of its batch was written\n  help: this is a bug in labtrail or the code that made the record; please report it")]
    InvalidRecord { kind: String, detail: String },

    #[error("the store {path} is a file, not a folder\n  help: move the file away, or point at another store folder with --store PATH")]
    NotAFolder { path: PathBuf },

    /// SQLite found damage while reading (SQLITE_CORRUPT, SQLITE_NOTADB) after the open.
    #[error("the store database {path} is damaged: {detail}\n  help: `labtrail check` shows the damage; `labtrail check --repair` rebuilds the store from every record that can still be read")]
    DamagedRead { path: PathBuf, detail: String },

    /// Another connection held the database longer than the busy timeout. Not damage.
    #[error("the store database {path} is busy: another process kept it locked for more than {waited}\n  help: wait for the other process (another labtrail command, a runner committing) to finish, then run the same command again; nothing was changed")]
    Busy { path: PathBuf, waited: String },

    /// The store cannot be written here (read-only mount, another user's folder). Not damage.
    #[error("the store {path} cannot be written here: {detail}\n  help: this command changes the store: run it as the store's owner, or on a copy of the store in a folder you can write; reading commands (status, list, tasks, results, logs, events, check) work as it is")]
    ReadOnly { path: PathBuf, detail: String },

    /// A writer stopped in the middle of a commit (a hot rollback journal), and this command
    /// may not write the store to roll its change back. Not damage.
    #[error("cannot read the store database {path} here: a command that was writing it stopped in the middle of a change (its journal {path}-journal is left), and this command may not write the store folder to roll that change back\n  help: the store is not damaged: run a command that writes it (such as `labtrail run EXPERIMENT`, which resumes the run) as a user who may write the store folder, then read it again; nothing was changed")]
    HotJournal { path: PathBuf },

    /// SQLite could not open the database file (permissions, a vanished folder). Not damage.
    #[error("cannot open the store database {path}: {detail}\n  help: check that the file and its folder exist and that you may read them (`ls -ld {path}`); nothing was changed")]
    CannotOpen { path: PathBuf, detail: String },

    /// The operating system failed a read or write of the database. Not damage as such.
    #[error("the system failed to read or write the store database {path}: {detail}\n  help: the disk or file system reported an error (see `dmesg`); once it works again, run the same command again; the database was not judged damaged")]
    IoFailed { path: PathBuf, detail: String },

    // The cause is part of the message, and deliberately not an error `source`: a chain printed
    // with `{:#}` would say it twice.
    #[error("store {path}: {cause}")]
    Sqlite {
        path: PathBuf,
        cause: rusqlite::Error,
    },

    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
}

fn known_runs(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(
            "\n  help: known runs: {} (see `labtrail list`)",
            known.join(", ")
        )
    }
}

/// Whether an SQLite error carries a message other than SQLite's standard one for its code.
fn has_own_message(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, Some(m)) => {
            // SAFETY: sqlite3_errstr returns a static, NUL-terminated string for any code.
            let standard =
                unsafe { std::ffi::CStr::from_ptr(rusqlite::ffi::sqlite3_errstr(f.extended_code)) };
            standard.to_str() != Ok(m.as_str())
        }
        _ => false,
    }
}

impl StoreError {
    /// Wraps an SQLite error, turning a full disk, and a commit refused because the database is
    /// gone, into their own clear errors.
    pub fn sqlite(path: &std::path::Path, source: rusqlite::Error) -> StoreError {
        if super::gone::refused_commit(&source) {
            return super::gone::gone(path, 1);
        }
        use rusqlite::ErrorCode as C;
        if let rusqlite::Error::SqliteFailure(e, _) = &source {
            let (path, detail) = (path.to_path_buf(), source.to_string());
            match e.code {
                C::DiskFull => return StoreError::DiskFull { path },
                // SQLite's own wording only: a message of labtrail's (the filesystem's journal
                // mode that cannot be left yet) says more than this variant would.
                C::DatabaseBusy | C::DatabaseLocked if !has_own_message(&source) => {
                    return StoreError::Busy {
                        path,
                        waited: format!("{:.1} s", super::busy_timeout().as_secs_f64()),
                    }
                }
                C::ReadOnly => return StoreError::ReadOnly { path, detail },
                C::CannotOpen => return StoreError::CannotOpen { path, detail },
                C::SystemIoFailure => return StoreError::IoFailed { path, detail },
                C::DatabaseCorrupt | C::NotADatabase => {
                    return StoreError::DamagedRead { path, detail }
                }
                _ => {}
            }
        }
        StoreError::Sqlite {
            path: path.to_path_buf(),
            cause: source,
        }
    }

    /// Wraps an I/O error with its path.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> StoreError {
        if source.raw_os_error() == Some(libc::ENOSPC) {
            return StoreError::DiskFull {
                path: path.to_path_buf(),
            };
        }
        StoreError::Io {
            path: path.to_path_buf(),
            cause: source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The binary prints errors with `{:#}`, the whole chain: a cause says itself once.
    #[test]
    fn a_cause_is_printed_once() {
        let e = StoreError::io(
            std::path::Path::new("/s"),
            std::io::Error::from_raw_os_error(libc::EEXIST),
        );
        let text = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(text.matches("os error 17").count(), 1, "{text}");
    }
}
