//! Keeping the snapshot folder's index in step with its files: each new file indexed as it is
//! written, files removed by `prune` forgotten, and `snapshots reindex` rebuilding it all from the
//! JSON files (the source of truth).

use crate::snapshot::Snapshot;
use std::path::Path;

/// Why the index could not be updated (the snapshot file itself stays; `snapshots reindex`
/// rebuilds the index).
#[derive(Debug, thiserror::Error)]
#[error("the snapshot index in {dir} could not be updated: {detail}\n  help: `labtrail snapshots reindex --dir {dir}` rebuilds it from the snapshot files")]
pub struct IndexError {
    /// The snapshot folder.
    pub dir: String,
    /// What went wrong.
    pub detail: String,
}

/// Adds one written snapshot file (its name in `dir`) to the index.
pub fn index_file(dir: &Path, file_name: &str, snap: &Snapshot) -> Result<(), IndexError> {
    let _ = (dir, file_name, snap);
    todo!("lane C")
}

/// Removes files (names in `dir`) that prune deleted from the index.
pub fn forget_files(dir: &Path, file_names: &[String]) -> Result<(), IndexError> {
    let _ = (dir, file_names);
    todo!("lane C")
}

/// What `snapshots reindex` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReindexSummary {
    /// Snapshot files indexed.
    pub indexed: u64,
    /// Files that could not be read, with why (they are left out, never deleted).
    pub skipped: Vec<String>,
}

/// Rebuilds the index from every snapshot file in `dir` (into a new database, renamed over the
/// old one: a crash leaves the old index or the new, never half of one).
pub fn reindex(dir: &Path) -> Result<ReindexSummary, IndexError> {
    let _ = dir;
    todo!("lane C")
}
