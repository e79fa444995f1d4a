//! Noticing that the database was deleted, moved or replaced while labtrail writes it.
//!
//! An open SQLite file whose name was removed (`rm -rf .labtrail`, the store folder moved, the
//! database put back from a copy) goes on accepting writes: they land in a file no one can open
//! again, and a run reported every task done with nothing recorded. So each write transaction,
//! just before it commits (SQLite's commit hook, which every commit path passes, whatever the
//! code that wrote it), checks with one `stat` that the database's path still names the file
//! opened, with a link count above zero; if not, the commit is turned into a rollback, and the
//! error that SQLite returns for it becomes [`StoreError::Gone`].

use super::StoreError;
use rusqlite::Connection;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Which file a path names: device and inode.
type Identity = (u64, u64);

fn identity(meta: &std::fs::Metadata) -> Identity {
    (meta.dev(), meta.ino())
}

/// Remembers which file `db_path` names now, and has every commit of `conn` refused once the
/// path no longer names it.
pub(super) fn watch(conn: &Connection, db_path: &Path) -> Result<(), StoreError> {
    let opened = std::fs::metadata(db_path)
        .map(|m| identity(&m))
        .map_err(|e| StoreError::io(db_path, e))?;
    let path = db_path.to_path_buf();
    // `true` turns the commit into a rollback.
    conn.commit_hook(Some(move || !still_there(&path, opened)));
    Ok(())
}

fn still_there(path: &Path, opened: Identity) -> bool {
    std::fs::metadata(path).is_ok_and(|m| identity(&m) == opened && m.nlink() > 0)
}

/// Whether `e` is a commit that [`watch`]'s hook refused.
pub(super) fn refused_commit(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_COMMITHOOK)
}

/// The error for a commit refused because the database at `path` is gone; `unsaved`: how many
/// changes the commit held.
pub(super) fn gone(path: &Path, unsaved: usize) -> StoreError {
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let how = if path.exists() {
        "it was replaced by another file (a copy put back, or a new store made there)"
    } else if folder.exists() {
        "the file was deleted or moved away"
    } else {
        "the store folder was deleted or moved away"
    };
    StoreError::Gone {
        path: PathBuf::from(path),
        how: how.into(),
        unsaved,
    }
}

/// `e`, with `unsaved` as the number of changes not saved if it is [`StoreError::Gone`]: a
/// batch's commit knows how many it held.
pub(super) fn with_unsaved(e: StoreError, unsaved: usize) -> StoreError {
    match e {
        StoreError::Gone { path, how, .. } => StoreError::Gone { path, how, unsaved },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Change, Store, StoreError, DB_FILE};

    fn note() -> Change {
        Change::Note {
            kind: "k".into(),
            detail: "d".into(),
        }
    }

    /// Issue 10, item 4: a batch, a SLURM monitor's batch and a lone statement are each refused
    /// once the store folder is moved away, and nothing of them reaches it.
    #[test]
    fn every_kind_of_commit_is_refused_once_the_database_is_gone() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&tmp.path().join(".labtrail"), true).unwrap();
        store.create_run("r", "e", "e.toml", "").unwrap();
        store.apply("r", &[note()]).unwrap();
        let moved = tmp.path().join("moved");
        std::fs::rename(store.dir(), &moved).unwrap();
        let unsaved = |r: Result<(), StoreError>| match r {
            Err(StoreError::Gone { unsaved, .. }) => unsaved,
            other => panic!("not refused as gone: {other:?}"),
        };
        assert_eq!(unsaved(store.apply("r", &[note(), note(), note()])), 3);
        assert_eq!(unsaved(store.apply_all("r", &[note(), note()], &[])), 2);
        assert_eq!(unsaved(store.set_executor("r", "slurm")), 1);
        drop(store);
        let c = rusqlite::Connection::open(moved.join(DB_FILE)).unwrap();
        let events: i64 = c
            .query_row("SELECT COUNT(*) FROM events WHERE kind = 'k'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(events, 1, "only the note committed before the move");
        assert!(!tmp.path().join(".labtrail").exists());
    }
}
