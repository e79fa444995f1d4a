//! Keeping the snapshot folder's index in step with its files: each new file indexed as it is
//! written, files removed by `prune` forgotten, and `snapshots reindex` rebuilding it all from the
//! JSON files (the source of truth). Queries open it through [`open_current`], which catches up
//! with files written since (or rebuilds a missing or damaged index) first.

pub use super::snapshots_index_fresh::{open_current, Freshness};
use super::snapshots_index_rows::{file_stamp, file_stamps, read_rows, rows};
use crate::snapshot::Snapshot;
use crate::store::snapshot_index::{
    name_order, FileStamp, IndexDbError, SnapshotIndex, SnapshotRows, INDEX_FILE,
};
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

impl IndexError {
    fn new(dir: &Path, detail: impl std::fmt::Display) -> IndexError {
        IndexError {
            dir: dir.display().to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Adds one written snapshot file (its name in `dir`) to the index. A folder without an index
/// yet, or a file older than the newest indexed one, gets the index rebuilt instead.
pub fn index_file(dir: &Path, file_name: &str, snap: &Snapshot) -> Result<(), IndexError> {
    let path = dir.join(INDEX_FILE);
    if !path.exists() {
        return reindex(dir).map(|_| ());
    }
    let rows =
        rows(file_name, snap).map_err(|e| IndexError::new(dir, format!("{file_name}: {e}")))?;
    let mut index = SnapshotIndex::open(&path, false).map_err(|e| IndexError::new(dir, e))?;
    match index.insert(&rows) {
        Ok(_) => {
            let stamp = file_stamp(dir, file_name).into_iter().collect::<Vec<_>>();
            index
                .record_files(&stamp)
                .map_err(|e| IndexError::new(dir, e))
        }
        Err(IndexDbError::OutOfOrder { .. }) => reindex(dir).map(|_| ()),
        Err(e) => Err(IndexError::new(dir, e)),
    }
}

/// Removes files (names in `dir`) that prune deleted from the index. No index: nothing to do.
pub fn forget_files(dir: &Path, file_names: &[String]) -> Result<(), IndexError> {
    let path = dir.join(INDEX_FILE);
    if !path.exists() {
        return Ok(());
    }
    let mut index = SnapshotIndex::open(&path, false).map_err(|e| IndexError::new(dir, e))?;
    index
        .forget(file_names)
        .map_err(|e| IndexError::new(dir, e))?;
    Ok(())
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
    let stamps = file_stamps(dir).map_err(|e| IndexError::new(dir, e))?;
    let temp = dir.join(format!("{INDEX_FILE}.tmp-{}", std::process::id()));
    let result = fill(dir, &temp, &stamps);
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    let summary = result?;
    let fail = |e: std::io::Error| IndexError::new(dir, e);
    let placed = std::fs::File::open(&temp)
        .and_then(|f| f.sync_all())
        .and_then(|_| std::fs::rename(&temp, dir.join(INDEX_FILE)));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temp);
        return Err(fail(e));
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail)?;
    Ok(summary)
}

/// Fills a new database at `temp` from the files, in time order: by name (which is time
/// order) unless a timestamp says otherwise, then again sorted by timestamp.
pub(super) fn fill(
    dir: &Path,
    temp: &Path,
    stamps: &[FileStamp],
) -> Result<ReindexSummary, IndexError> {
    let fail = |e: IndexDbError| IndexError::new(dir, e);
    let _ = std::fs::remove_file(temp);
    let mut index = SnapshotIndex::open(temp, true).map_err(fail)?;
    index.fast_fill().map_err(fail)?;
    index.record_files(stamps).map_err(fail)?;
    let mut summary = ReindexSummary::default();
    let mut order: Vec<(i64, String, String)> = Vec::with_capacity(stamps.len());
    let mut sorted = true;
    let mut batch: Vec<SnapshotRows> = Vec::new();
    for (name, _, _) in stamps {
        match read_rows(dir, name) {
            Ok(rows) => {
                let key = (rows.snapshot.epoch, name_order(name), name.clone());
                sorted &= order.last().is_none_or(|last| *last <= key);
                order.push(key);
                if sorted {
                    batch.push(rows);
                    if batch.len() >= 1000 {
                        summary.indexed += index.insert_batch(&batch).map_err(fail)? as u64;
                        batch.clear();
                    }
                }
            }
            Err(why) => {
                index.record_skipped(name, &why).map_err(fail)?;
                summary
                    .skipped
                    .push(format!("{}: {why}", dir.join(name).display()));
            }
        }
    }
    summary.indexed += index.insert_batch(&batch).map_err(fail)? as u64;
    if !sorted {
        // A DST fall-back hour or another host's clock: names and instants disagree.
        order.sort();
        summary.indexed = 0;
        drop(index);
        let mut index = SnapshotIndex::open(temp, false).map_err(fail)?;
        index.fast_fill().map_err(fail)?;
        index.clear_snapshots().map_err(fail)?;
        for chunk in order.chunks(1000) {
            let mut batch = Vec::with_capacity(chunk.len());
            for (_, _, name) in chunk {
                batch.push(read_rows(dir, name).map_err(|e| IndexError::new(dir, e))?);
            }
            summary.indexed += index.insert_batch(&batch).map_err(fail)? as u64;
        }
    }
    Ok(summary)
}
