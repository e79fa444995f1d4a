//! The index's tables. Bumping [`VERSION`] makes old indexes unreadable to queries, which then
//! rebuild them from the files.

use rusqlite::Connection;

/// The schema version, stored in `PRAGMA user_version`.
pub const VERSION: i64 = 2;

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL UNIQUE,
    ts TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    host TEXT NOT NULL,
    scheduler TEXT NOT NULL,
    running INTEGER NOT NULL,
    pending INTEGER NOT NULL,
    other INTEGER NOT NULL,
    ended INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    active_experiments INTEGER NOT NULL,
    disk_bytes INTEGER NOT NULL,
    -- spans this snapshot opened (kind flag) and jobs that started, ended or changed in it
    new_flags INTEGER NOT NULL DEFAULT 0,
    job_changes INTEGER NOT NULL DEFAULT 0,
    -- the file name as it sorts among files of the same second (`-2` after the plain one)
    ord TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_epoch ON snapshots(epoch, ord);
CREATE TABLE IF NOT EXISTS spans (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    sig TEXT NOT NULL,
    experiment TEXT,
    first_snap INTEGER NOT NULL,
    last_snap INTEGER NOT NULL,
    first_epoch INTEGER NOT NULL,
    last_epoch INTEGER NOT NULL,
    first_ts TEXT NOT NULL,
    last_ts TEXT NOT NULL,
    data TEXT NOT NULL,
    -- the first sighting, for what a snapshot inside the span saw (`--at`): `data` is the last
    first_data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_key ON spans(kind, key, first_epoch);
CREATE INDEX IF NOT EXISTS spans_last_snap ON spans(last_snap);
CREATE INDEX IF NOT EXISTS spans_first_snap ON spans(first_snap);
CREATE INDEX IF NOT EXISTS spans_time ON spans(kind, last_epoch, first_epoch);
CREATE INDEX IF NOT EXISTS spans_experiment ON spans(experiment, kind, first_epoch);
-- files in the folder that are not snapshots: counted so that the freshness check (file count,
-- newest name) does not see them as new every time
CREATE TABLE IF NOT EXISTS skipped (
    file TEXT PRIMARY KEY,
    reason TEXT NOT NULL
);
-- every file indexed or skipped, with its size and mtime when it was read: a file renamed,
-- removed, rewritten or fixed since is seen by comparing the folder's listing with this
CREATE TABLE IF NOT EXISTS files (
    file TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL
);
-- the folder's mtime when the files were last found to match (the cheap check)
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// Creates the tables of a new database; refuses one of another version.
pub fn ensure(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == VERSION {
        return Ok(());
    }
    if version != 0 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "index schema {version}, this labtrail reads {VERSION}"
            )),
        ));
    }
    conn.execute_batch(TABLES)?;
    conn.pragma_update(None, "user_version", VERSION)
}
