//! Remembered hashes of `[archive] data` files (a cache, see [`crate::provenance::data`]): valid
//! while a file's device, inode, size and modification time are those remembered. Losing a row
//! only costs reading that file again.

use super::{Store, StoreError};
use rusqlite::params;

/// A data file's hash and newline count, and the identity they were taken at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDigestRow {
    /// The file's absolute path.
    pub path: String,
    pub dev: i64,
    pub inode: i64,
    pub size: i64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// blake3 of the content (hex).
    pub blake3: String,
    pub lines: i64,
}

impl Store {
    /// The remembered rows of files whose path starts with `prefix`.
    pub fn data_digests_under(&self, prefix: &str) -> Result<Vec<DataDigestRow>, StoreError> {
        // The paths starting with `prefix` are those in [prefix, prefix + U+10FFFF).
        let end = format!("{prefix}\u{10FFFF}");
        let mut st = self
            .conn
            .prepare("SELECT path, dev, inode, size, mtime_ns, blake3, lines FROM data_digests WHERE path >= ?1 AND path < ?2")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![prefix, end], |r| {
                Ok(DataDigestRow {
                    path: r.get(0)?,
                    dev: r.get(1)?,
                    inode: r.get(2)?,
                    size: r.get(3)?,
                    mtime_ns: r.get(4)?,
                    blake3: r.get(5)?,
                    lines: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Remembers these rows (replacing those of the same paths), in one transaction.
    pub fn remember_data_digests(&mut self, rows: &[DataDigestRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut put = tx
                .prepare("INSERT OR REPLACE INTO data_digests (path, dev, inode, size, mtime_ns, blake3, lines) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .map_err(e)?;
            for r in rows {
                put.execute(params![
                    r.path, r.dev, r.inode, r.size, r.mtime_ns, r.blake3, r.lines
                ])
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }
}
