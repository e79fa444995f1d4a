//! What the freshness check compares: the files the index has read (with their size and
//! mtime then) and the folder's mtime when they last matched the folder.

use super::{FileStamp, IndexDbError, SnapshotIndex};
use rusqlite::{params, OptionalExtension};
use std::collections::HashMap;

const FOLDER_MTIME: &str = "folder_mtime_ns";

impl SnapshotIndex {
    /// Records files as read now (indexed or skipped), in one transaction.
    pub fn record_files(&mut self, files: &[FileStamp]) -> Result<(), IndexDbError> {
        let path = self.path.clone();
        let sql = |source| IndexDbError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO files(file, size, mtime_ns) VALUES (?1, ?2, ?3)",
                )
                .map_err(sql)?;
            for (file, size, mtime) in files {
                st.execute(params![file, *size as i64, mtime])
                    .map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// The files read, by name, with their size and mtime then.
    pub fn known_files(&self) -> Result<HashMap<String, (u64, i64)>, IndexDbError> {
        let rows = self.all("SELECT file, size, mtime_ns FROM files", [], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        Ok(rows
            .into_iter()
            .map(|(f, s, m)| (f, (s.max(0) as u64, m)))
            .collect())
    }

    /// The skipped files with their size and mtime when they were read (a fixed one is seen
    /// even when the folder's mtime did not move).
    pub fn skipped_stamps(&self) -> Result<Vec<FileStamp>, IndexDbError> {
        self.all(
            "SELECT f.file, f.size, f.mtime_ns FROM files f JOIN skipped s ON s.file = f.file",
            [],
            |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64, r.get(2)?)),
        )
    }

    /// The folder's mtime when its files last matched the index.
    pub fn folder_mtime(&self) -> Result<Option<i64>, IndexDbError> {
        self.conn
            .query_row(
                "SELECT value FROM meta WHERE key = ?1",
                [FOLDER_MTIME],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// Records the folder's mtime at which its files matched the index.
    pub fn set_folder_mtime(&self, mtime_ns: i64) -> Result<(), IndexDbError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
                params![FOLDER_MTIME, mtime_ns],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }
}
