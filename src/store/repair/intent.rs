//! The repair's intent file, `locks/repair.json`: written (and synced) before each step that a
//! crash could leave half done, so that whoever opens the store next knows which way to settle
//! it: a repair whose new database was not yet complete is rolled back (the damaged database
//! was never touched), one whose new database was complete and synced is finished.

use super::super::fault::fault_injection_crash_point as crash_point;
use super::super::{StoreError, DB_FILE};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The new database while it is built.
pub(super) const NEW_FILE: &str = "labtrail.db.repair-new";
/// The scratch copy of the damaged database that SQLite and the page reader read.
pub(super) const SOURCE_FILE: &str = "labtrail.db.repair-source";

/// How far a repair got.
#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Copy, Debug)]
#[serde(rename_all = "snake_case")]
pub(super) enum Phase {
    /// The new database is not complete: roll back.
    Building,
    /// The new database is complete and synced: finish (put it in place).
    Built,
}

/// A repair under way.
#[derive(Serialize, Deserialize, Debug)]
pub(super) struct Intent {
    pub phase: Phase,
    /// File name (in the store folder) of the kept damaged database.
    pub backup: String,
}

fn path(dir: &Path) -> PathBuf {
    dir.join("locks").join("repair.json")
}

/// Syncs the folder `dir`, so that names made, renamed or removed in it survive a power cut.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// Records `intent` durably (written aside, synced, renamed over the previous one).
pub(super) fn write(dir: &Path, intent: &Intent) -> Result<(), StoreError> {
    let p = path(dir);
    let locks = p.parent().expect("in locks/");
    std::fs::create_dir_all(locks).map_err(|e| StoreError::io(locks, e))?;
    let tmp = p.with_extension("json.tmp");
    let text = serde_json::to_string(intent).expect("an intent serializes");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|_| std::fs::rename(&tmp, &p))
        .map_err(|e| StoreError::io(&p, e))?;
    sync_dir(locks)
}

/// Whether a repair left its intent behind (it is running, or a crash stopped it).
pub(crate) fn interrupted(dir: &Path) -> bool {
    path(dir).exists()
}

/// Removes the file `p` if it is there.
pub(super) fn remove(p: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(p, e)),
        _ => Ok(()),
    }
}

/// `name` with each of SQLite's side-file suffixes, the name itself first.
pub(super) fn with_sides(dir: &Path, name: &str) -> Vec<PathBuf> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .map(|s| dir.join(format!("{name}{s}")))
        .collect()
}

/// Puts the complete new database in place: the old database's WAL, `-shm` and `-journal` go
/// first (the backup keeps the WAL and the journal), so that they are never applied to the new
/// one. (A hot journal the repair could roll back is gone by now; one it could not is kept.)
pub(super) fn swap(dir: &Path) -> Result<(), StoreError> {
    let db = dir.join(DB_FILE);
    for side in &with_sides(dir, DB_FILE)[1..] {
        remove(side)?;
    }
    crash_point("repair-before-swap");
    let new = dir.join(NEW_FILE);
    std::fs::rename(&new, &db).map_err(|e| StoreError::io(&new, e))?;
    sync_dir(dir)?;
    crash_point("repair-after-swap");
    Ok(())
}

/// Removes the repair's own files and its intent: the scratch copy, and the new database when
/// it was not put in place.
pub(super) fn clean_up(dir: &Path) -> Result<(), StoreError> {
    for p in with_sides(dir, NEW_FILE)
        .iter()
        .chain(&with_sides(dir, SOURCE_FILE))
    {
        remove(p)?;
    }
    remove(&path(dir))?;
    remove(&path(dir).with_extension("json.tmp"))?;
    sync_dir(dir)
}

/// Removes the names under which a repair that did not replace the database kept it: hard
/// links to the live files, which would change with them (the kept file's promise is that it
/// never changes). A kept copy that is not the live file (a filesystem without hard links)
/// stays.
pub(super) fn drop_backup_links(dir: &Path, backup: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    for (live, kept) in with_sides(dir, DB_FILE).iter().zip(with_sides(dir, backup)) {
        let (Ok(l), Ok(k)) = (live.symlink_metadata(), kept.symlink_metadata()) else {
            continue;
        };
        if (l.dev(), l.ino()) == (k.dev(), k.ino()) {
            remove(&kept)?;
        }
    }
    Ok(())
}

/// Settles a repair a crash interrupted (the caller holds the store lock exclusively): finishes
/// it if its new database was complete, rolls it back otherwise. Says what it did.
pub(crate) fn settle(dir: &Path) -> Result<Option<String>, StoreError> {
    let Ok(text) = std::fs::read_to_string(path(dir)) else {
        return Ok(None);
    };
    // The intent is written whole or not at all (renamed into place); unreadable is not ours.
    let intent: Option<Intent> = serde_json::from_str(&text).ok();
    let finish = intent.as_ref().is_some_and(|i| i.phase == Phase::Built);
    if finish && dir.join(NEW_FILE).exists() {
        swap(dir)?;
    }
    if !finish {
        if let Some(i) = intent.as_ref().filter(|i| !i.backup.is_empty()) {
            drop_backup_links(dir, &i.backup)?;
        }
    }
    clean_up(dir)?;
    let backup = intent.map(|i| i.backup).unwrap_or_default();
    Ok(Some(if finish {
        format!("finished a repair that was interrupted after its new database was complete; the damaged database is kept at {}", dir.join(backup).display())
    } else {
        "rolled back a repair that was interrupted before its new database was complete; the database is as it was before it".to_string()
    }))
}
