//! The snapshot file on disk: named `snapshot_YYYYMMDD_HHMMSS.json` by its local time, written to
//! a temporary file in the folder, fsynced, renamed, and the folder fsynced; nothing written when
//! the content is the latest snapshot's; a lock file in the folder so that two login nodes never
//! write the same slot. The folder's `.gitignore` keeps the index, the lock and temporary files
//! out of git.

use super::model::Snapshot;
use std::path::{Path, PathBuf};

/// The file name prefix; files are `snapshot_YYYYMMDD_HHMMSS.json` (a second one within the
/// same second, or in a DST fall-back hour, gets `-2`, `-3`, ... before `.json`).
pub const FILE_PREFIX: &str = "snapshot_";

/// Whether `name` is a snapshot file's name.
pub fn is_snapshot_file(name: &str) -> bool {
    name.starts_with(FILE_PREFIX) && name.ends_with(".json")
}

/// The snapshot files in `dir`, oldest first (by name, which sorts by local time; ties by the
/// timestamp inside are the reader's business).
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let _ = dir;
    todo!("lane A2")
}

/// Reads one snapshot file; the error names the file.
pub fn read(path: &Path) -> Result<Snapshot, SnapshotFileError> {
    let _ = path;
    todo!("lane A2")
}

/// A snapshot file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a snapshot (not JSON, or not this format).
    #[error("{path}: not a labtrail snapshot: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}
