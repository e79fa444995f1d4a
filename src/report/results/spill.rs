//! Task keys sorted by a byte key in a temporary SQLite database (issue 15): `results --sort`
//! of a large run holds neither the keys nor the cells. SQLite's sorter keeps a few MB in
//! memory and spills the rest to temporary files; the sorted keys are then read back as many
//! times as a writer needs, one at a time.
//!
//! The database is SQLite's private temporary file (an empty file name), on its own
//! connection, deleted when closed: the user's store is never written to, and may be
//! read-only.

use crate::store::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;

/// The page cache of the temporary database, in KiB (SQLite's default): also the sorter's
/// in-memory run size before it spills.
const CACHE_KIB: u32 = 2000;

/// Keys being sorted, then sorted ([`Spill::finish`]).
pub struct Spill {
    conn: Connection,
}

/// Where a temporary database lives, to name in an error.
fn temp_dir() -> PathBuf {
    std::env::var_os("SQLITE_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::sqlite(&temp_dir(), e)
}

impl Spill {
    /// An empty temporary database, ready for [`Spill::add`].
    pub fn new() -> Result<Spill, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags("", flags).map_err(err)?;
        // Nothing here outlives the process: no journal, no sync. temp_store FILE keeps the
        // sorter's runs on disk whatever the build's default.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;
             PRAGMA cache_size = -{CACHE_KIB};
             CREATE TABLE unsorted (sort BLOB NOT NULL, key TEXT NOT NULL);
             CREATE TABLE sorted (key TEXT NOT NULL);
             BEGIN;"
        ))
        .map_err(err)?;
        Ok(Spill { conn })
    }

    /// Adds the task `key` to sort by `sort` (unique per task: [`super::sort_key::encode`]).
    pub fn add(&mut self, sort: &[u8], key: &str) -> Result<(), StoreError> {
        let mut st = self
            .conn
            .prepare_cached("INSERT INTO unsorted (sort, key) VALUES (?1, ?2)")
            .map_err(err)?;
        st.execute(rusqlite::params![sort, key]).map_err(err)?;
        Ok(())
    }

    /// Sorts the keys added, once: [`Spill::each_key`] then reads them in that order.
    pub fn finish(&mut self) -> Result<(), StoreError> {
        // Rowids follow the insertion, which follows the ORDER BY: reading `sorted` by rowid
        // is a plain scan, however many times a writer reads it.
        self.conn
            .execute_batch(
                "INSERT INTO sorted (key) SELECT key FROM unsorted ORDER BY sort; COMMIT;",
            )
            .map_err(err)
    }

    /// Calls `each` with every key, in sorted order.
    pub fn each_key<E: From<StoreError>>(
        &self,
        mut each: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut st = self
            .conn
            .prepare_cached("SELECT key FROM sorted ORDER BY rowid")
            .map_err(err)?;
        let mut rows = st.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let key = row.get_ref(0).and_then(|v| Ok(v.as_str()?)).map_err(err)?;
            each(key)?;
        }
        Ok(())
    }
}
