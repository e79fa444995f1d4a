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
use rustix::fs::{Mode, OFlags};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Which file a path names: device and inode.
type Identity = (u64, u64);

fn identity(meta: &std::fs::Metadata) -> Identity {
    (meta.dev(), meta.ino())
}

/// What a writing store watches: its database file and its folder, held open so that, once
/// moved, the folder can still be found (and nothing is made again at its old path).
struct Watched {
    db: PathBuf,
    db_id: Identity,
    dir: PathBuf,
    dir_id: Identity,
    dir_fd: OwnedFd,
}

/// A handle on a writing store's watch, cheap to clone, for the threads that make its folders
/// or start its tasks: [`StoreWatch::check`] says whether the store is still the one opened.
/// A read-only store has none, and every check passes.
#[derive(Clone, Default)]
pub struct StoreWatch(Option<Arc<Watched>>);

/// Why the last commit of the database at a path was refused (the hook's finding, read by
/// [`gone`], which only has the path).
static REFUSALS: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// Remembers which file `db_path` names now and holds its folder open, and has every commit of
/// `conn` refused once the path no longer names that file.
pub(super) fn watch(conn: &Connection, db_path: &Path) -> Result<StoreWatch, StoreError> {
    let db_id = std::fs::metadata(db_path)
        .map(|m| identity(&m))
        .map_err(|e| StoreError::io(db_path, e))?;
    let dir = db_path
        .parent()
        .expect("a database has a folder")
        .to_path_buf();
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dir_fd =
        rustix::fs::open(&dir, flags, Mode::empty()).map_err(|e| StoreError::io(&dir, e.into()))?;
    let dir_id = rustix::fs::fstat(&dir_fd)
        .map(|st| (st.st_dev, st.st_ino))
        .map_err(|e| StoreError::io(&dir, e.into()))?;
    let watched = Arc::new(Watched {
        db: db_path.to_path_buf(),
        db_id,
        dir,
        dir_id,
        dir_fd,
    });
    let w = watched.clone();
    // `true` turns the commit into a rollback.
    conn.commit_hook(Some(move || match w.how_gone() {
        None => false,
        Some(how) => {
            let mut refusals = REFUSALS.lock().unwrap_or_else(|p| p.into_inner());
            refusals.retain(|(p, _)| p != &w.db);
            refusals.push((w.db.clone(), how));
            true
        }
    }));
    Ok(StoreWatch(Some(watched)))
}

impl Watched {
    /// How the store is no longer the one opened, if it is not.
    fn how_gone(&self) -> Option<String> {
        let db_here =
            std::fs::metadata(&self.db).is_ok_and(|m| identity(&m) == self.db_id && m.nlink() > 0);
        if db_here {
            return None;
        }
        let dir_here = std::fs::metadata(&self.dir).is_ok_and(|m| identity(&m) == self.dir_id);
        let dir_links = rustix::fs::fstat(&self.dir_fd).map_or(0, |st| st.st_nlink);
        Some(if !dir_here && dir_links == 0 {
            "the store folder was deleted".into()
        } else if !dir_here {
            // The folder held open knows where it went.
            let to = std::fs::read_link(format!("/proc/self/fd/{}", self.dir_fd.as_raw_fd()));
            match to {
                Ok(to) => format!("the store folder was moved to {}", to.display()),
                Err(_) => "the store folder was moved away".into(),
            }
        } else if self.db.exists() {
            "it was replaced by another file (a copy put back, or a new store made there)".into()
        } else {
            "the file was deleted or moved away".into()
        })
    }
}

impl StoreWatch {
    /// `Ok` while the store's database is the file opened, in the folder opened; otherwise
    /// [`StoreError::Gone`]. Asked before what cannot be undone: starting a task, submitting a
    /// job.
    pub fn check(&self) -> Result<(), StoreError> {
        match self.0.as_ref().and_then(|w| Some((w, w.how_gone()?))) {
            None => Ok(()),
            Some((w, how)) => Err(StoreError::Gone {
                path: w.db.clone(),
                how,
                unsaved: 0,
            }),
        }
    }

    /// Makes the folder `path`, which lies in the store folder, and its missing parents up to
    /// the store folder, never the store folder itself: they are made relative to the store
    /// folder held open, so a store moved meanwhile gets them where it went, and nothing is made
    /// again at its old path. A store gone is [`StoreError::Gone`].
    pub fn make_dirs(&self, path: &Path) -> Result<(), StoreError> {
        self.check()?;
        let Some(w) = &self.0 else {
            return std::fs::create_dir_all(path).map_err(|e| StoreError::io(path, e));
        };
        let rel = path.strip_prefix(&w.dir).unwrap_or(path);
        let mut sofar = PathBuf::new();
        for part in rel.components() {
            sofar.push(part);
            match rustix::fs::mkdirat(&w.dir_fd, &sofar, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(StoreError::io(path, e.into())),
            }
        }
        Ok(())
    }
}

impl super::Store {
    /// The watch on this store (see [`StoreWatch`]).
    pub fn watch(&self) -> StoreWatch {
        self.watch.clone()
    }

    /// `Ok` while the store is the one opened (see [`StoreWatch::check`]).
    pub fn check_still_here(&self) -> Result<(), StoreError> {
        self.watch.check()
    }

    /// Makes a folder in the store, never the store folder itself (see
    /// [`StoreWatch::make_dirs`]).
    pub fn make_dirs(&self, path: &Path) -> Result<(), StoreError> {
        self.watch.make_dirs(path)
    }
}

/// Whether `e` is a commit that [`watch`]'s hook refused.
pub(super) fn refused_commit(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_COMMITHOOK)
}

/// The error for a commit refused because the database at `path` is gone; `unsaved`: how many
/// changes the commit held.
pub(super) fn gone(path: &Path, unsaved: usize) -> StoreError {
    let mut refusals = REFUSALS.lock().unwrap_or_else(|p| p.into_inner());
    let found = refusals
        .iter()
        .position(|(p, _)| p == path)
        .map(|i| refusals.remove(i).1);
    let how = found.unwrap_or_else(|| "it is no longer the file opened".into());
    StoreError::Gone {
        path: PathBuf::from(path),
        how,
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

    /// Issue 10 (review): what a SLURM monitor does before it submits (and a runner before it
    /// starts), once the store folder was moved: no folder is made at the old path, and the
    /// error says where the store went.
    #[test]
    fn nothing_is_made_at_a_moved_stores_old_path() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(".labtrail"), true).unwrap();
        let folder = store.dir().join("runs/r/attempts/k");
        store.make_dirs(&folder).unwrap();
        let moved = tmp.path().join("moved");
        std::fs::rename(store.dir(), &moved).unwrap();
        for r in [
            store.make_dirs(&store.dir().join("runs/r2/arrays")),
            store.check_still_here(),
        ] {
            match r {
                Err(StoreError::Gone { how, .. }) => {
                    assert!(how.contains("moved to") && how.contains("moved"), "{how}")
                }
                other => panic!("not gone: {other:?}"),
            }
        }
        assert!(!tmp.path().join(".labtrail").exists());
    }
}
