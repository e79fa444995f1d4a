//! Bringing the folder's index up to date before a query answers.
//!
//! The cheap check is the folder's mtime: adding, removing or renaming a file moves it, so
//! when it has not moved since the files last matched, the index is current (the few skipped
//! files are stat'ed too, so that one fixed in place is read). When it has moved, the listing
//! (names, sizes, mtimes) is compared with what the index read: new files are added in time
//! order (by their instant, not their name, so two hosts' offsets in one folder do not force
//! a rebuild); a file removed, renamed, rewritten or fixed gets the index rebuilt. An index
//! that cannot be kept in the folder (not writable) is built in a temporary place instead.

use super::snapshots_index::{fill, reindex, IndexError};
use super::snapshots_index_rows::{file_stamp, file_stamps, mtime_ns, read_rows};
use crate::store::snapshot_index::{name_order, IndexDbError, SnapshotIndex, INDEX_FILE};
use std::path::Path;

/// A folder mtime this recent is not trusted yet: on a coarse clock a file added within the
/// same tick would not move it.
const SETTLE_NS: i64 = 2_000_000_000;

/// What [`open_current`] had to do before the index answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freshness {
    /// The index was missing, damaged or did not match the files, and was rebuilt.
    pub rebuilt: bool,
    /// Files written since the index was last updated, added now.
    pub added: u64,
    /// Files skipped now (not snapshots), with why.
    pub skipped: Vec<String>,
    /// The folder is not writable: the index was built in a temporary place for this query.
    pub temporary: bool,
}

/// Opens the folder's index for a query, first catching up with the files (see the module
/// comment); a missing, damaged or mismatched index is rebuilt.
pub fn open_current(dir: &Path) -> Result<(SnapshotIndex, Freshness), IndexError> {
    if !dir.is_dir() {
        return Err(IndexError {
            dir: dir.display().to_string(),
            detail: format!(
                "no snapshot folder {} (take one with `labtrail snapshot --dir {}`, or name the folder with --dir)",
                dir.display(),
                dir.display()
            ),
        });
    }
    let path = dir.join(INDEX_FILE);
    let mut fresh = Freshness::default();
    if path.exists() {
        if let Some(index) = catch_up(dir, &path, &mut fresh) {
            return Ok((index, fresh));
        }
        fresh = Freshness::default();
    }
    rebuild(dir, fresh)
}

/// Rebuilds the index in the folder, or (not writable) in a temporary file opened and then
/// unlinked, so nothing is left behind.
pub fn rebuild(dir: &Path, mut fresh: Freshness) -> Result<(SnapshotIndex, Freshness), IndexError> {
    fresh.rebuilt = true;
    fresh.added = 0;
    let summary = match reindex(dir) {
        Ok(summary) => summary,
        Err(e) if !folder_writable(dir) => {
            let _ = e;
            return temporary(dir, fresh);
        }
        Err(e) => return Err(e),
    };
    fresh.skipped = summary.skipped;
    let index = SnapshotIndex::open(&dir.join(INDEX_FILE), false).map_err(|e| IndexError {
        dir: dir.display().to_string(),
        detail: e.to_string(),
    })?;
    Ok((index, fresh))
}

/// Whether this process may create files in `dir`.
pub fn folder_writable(dir: &Path) -> bool {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok()
}

fn temporary(dir: &Path, mut fresh: Freshness) -> Result<(SnapshotIndex, Freshness), IndexError> {
    let fail = |e: &dyn std::fmt::Display| IndexError {
        dir: dir.display().to_string(),
        detail: e.to_string(),
    };
    let stamps = file_stamps(dir).map_err(|e| fail(&e))?;
    let temp = std::env::temp_dir().join(format!(
        "labtrail-snapshot-index-{}-{}.db",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let built = fill(dir, &temp, &stamps).and_then(|summary| {
        let index = SnapshotIndex::open(&temp, false).map_err(|e| fail(&e))?;
        Ok((summary, index))
    });
    // The open connection keeps the data; the name goes now, whatever happened.
    let _ = std::fs::remove_file(&temp);
    let (summary, index) = built?;
    fresh.skipped = summary.skipped;
    fresh.temporary = true;
    Ok((index, fresh))
}

/// The index brought up to date by adding the new files; none when only a rebuild will do
/// (or the index cannot be read or written).
fn catch_up(dir: &Path, path: &Path, fresh: &mut Freshness) -> Option<SnapshotIndex> {
    let mut index = SnapshotIndex::open(path, false).ok()?;
    let folder = std::fs::metadata(dir).ok().map(|m| mtime_ns(&m));
    if folder.is_some() && index.folder_mtime().ok()? == folder {
        for (name, size, mtime) in index.skipped_stamps().ok()? {
            if file_stamp(dir, &name) != Some((name, size, mtime)) {
                return None;
            }
        }
        return Some(index);
    }
    let listing = file_stamps(dir).ok()?;
    let known = index.known_files().ok()?;
    let mut matched = 0;
    let mut new = Vec::new();
    for stamp in listing {
        match known.get(&stamp.0) {
            Some(&(size, mtime)) if (size, mtime) == (stamp.1, stamp.2) => matched += 1,
            Some(_) => return None, // rewritten or fixed since it was read
            None => new.push(stamp),
        }
    }
    if matched != known.len() {
        return None; // removed or renamed
    }
    let mut batch = Vec::new();
    let mut read = Vec::new();
    for stamp in new {
        match read_rows(dir, &stamp.0) {
            Ok(rows) => batch.push(rows),
            Err(why) => {
                index.record_skipped(&stamp.0, &why).ok()?;
                fresh
                    .skipped
                    .push(format!("{}: {why}", dir.join(&stamp.0).display()));
            }
        }
        read.push(stamp);
    }
    batch.sort_by_key(|r| (r.snapshot.epoch, name_order(&r.snapshot.file)));
    match index.insert_batch(&batch) {
        Ok(n) => fresh.added += n as u64,
        Err(IndexDbError::OutOfOrder { .. }) | Err(_) => return None,
    }
    index.record_files(&read).ok()?;
    let now = jiff::Timestamp::now().as_nanosecond();
    if let Some(m) = folder.filter(|m| i128::from(*m) + i128::from(SETTLE_NS) < now) {
        // Best effort: a read-only index still answers, it just checks the listing each time.
        let _ = index.set_folder_mtime(m);
    }
    Some(index)
}
