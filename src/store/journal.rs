//! A hot rollback journal (issue 10, review): in rollback mode (a network filesystem, see
//! `filesystem`) a writer killed in the middle of a commit leaves `labtrail.db-journal`, holding
//! the pages as they were before the change, while the database file may already hold some of
//! the uncommitted ones. Only after the journal is rolled back (written back into the database
//! and removed) does the file show the last committed state; SQLite does so on the first read of
//! any connection that may write, never on a read-only one (SQLITE_READONLY_ROLLBACK).
//!
//! Rolling back is a recovery, not a change: it restores what was committed, as any normal open
//! of the database would. So the commands that only read do it when they can write the folder
//! (opening the database to write just for that), and so does a repair before it judges the
//! database. A journal is never ignored (`immutable=1` reads the half-written file) and never
//! removed without a copy.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// Whether a non-empty `-journal` lies beside `db` (an empty one, or none, holds nothing to roll
/// back).
pub(crate) fn present(db: &Path) -> bool {
    std::fs::metadata(super::unclean::side(db, "-journal")).is_ok_and(|m| m.len() > 0)
}

/// Whether `e` is SQLite refusing a read-only read because a hot journal must be rolled back.
pub(crate) fn needs_rollback(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK)
}

/// Rolls back a hot journal of `db`: opens it to write (never creating it) and reads its first
/// page, which makes SQLite roll the journal back under its exclusive lock. Does nothing to a
/// journal that is not hot (its writer is alive and holds its lock). Fails, leaving the journal
/// as it is, where this process may not write the database or its folder.
pub(crate) fn roll_back(db: &Path) -> rusqlite::Result<()> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(super::open::busy_timeout())?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(())
}
