//! The key scheme of each run, and remembered digests of declared input files (a cache: see
//! [`crate::plan::inputs`]).

use super::{Store, StoreError};
use rusqlite::params;

/// A digest remembered for a file, valid while its size, modification time and inode are these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDigestRow {
    /// The file's absolute path.
    pub path: String,
    pub size: i64,
    /// Modification time in nanoseconds since the epoch.
    pub mtime_ns: i64,
    pub inode: i64,
    pub digest: String,
}

/// The key scheme new runs are created with (see [`crate::plan::KeyScheme`]).
pub(super) const NEW_RUN_KEY_SCHEME: i64 = 2;

impl Store {
    /// The number of the key scheme the run was created with: 1 for runs made before labtrail
    /// 0.4, 2 since.
    pub fn key_scheme(&self, run: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT key_scheme FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Every remembered input digest.
    pub fn input_digests(&self) -> Result<Vec<InputDigestRow>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT path, size, mtime_ns, inode, digest FROM input_digests")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(InputDigestRow {
                    path: r.get(0)?,
                    size: r.get(1)?,
                    mtime_ns: r.get(2)?,
                    inode: r.get(3)?,
                    digest: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Remembers these digests (replacing what was remembered for their paths), in one
    /// transaction.
    pub fn remember_input_digests(&mut self, rows: &[InputDigestRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        {
            let mut put = tx
                .prepare("INSERT OR REPLACE INTO input_digests (path, size, mtime_ns, inode, digest) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(e)?;
            for r in rows {
                put.execute(params![r.path, r.size, r.mtime_ns, r.inode, r.digest])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }
}
