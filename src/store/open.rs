//! Opening the store: read-write for the commands that change it, read-only for those that
//! only read it; what is checked on the way in, and how a failure is told apart from damage.
//!
//! Only SQLite's own verdict (`quick_check` not ok, SQLITE_CORRUPT, SQLITE_NOTADB) means the
//! database is damaged, and only then is a copy kept and `check --repair` advised. A busy,
//! read-only, unopenable or failing file is reported as what it is ([`StoreError::Busy`],
//! [`StoreError::ReadOnly`], [`StoreError::CannotOpen`], [`StoreError::IoFailed`]).

use super::unclean;
use super::{schema, Store, StoreError, DB_FILE};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// How a command opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Commands that change the store; `create` makes a new store where there is none.
    ReadWrite { create: bool },
    /// Commands that only read: nothing is written to the database (no migration, no journal
    /// mode switch), so they work on a read-only mount or in another user's folder.
    ReadOnly,
}

/// Databases up to this size get SQLite's `quick_check` on every open (a few milliseconds).
/// Larger ones only after an unclean stop and in `check`: quick_check reads every page, about
/// a second per few hundred MB, and `status` must stay fast on a 10^6-task store. Damage in a
/// large store is still found when a read meets it (SQLITE_CORRUPT) and by `check`.
const QUICK_CHECK_UP_TO: u64 = 16 << 20;

/// How long a command waits for another connection's lock before [`StoreError::Busy`]: 10 s,
/// or `LABTRAIL_TEST_BUSY_TIMEOUT_MS` (for tests only, which cannot wait that long).
pub(crate) fn busy_timeout() -> Duration {
    std::env::var("LABTRAIL_TEST_BUSY_TIMEOUT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// Why an open failed: damage (SQLite's verdict) or anything else, reported as it is.
enum Failure {
    Damaged(String),
    Other(StoreError),
}

fn judge(path: &Path, e: rusqlite::Error) -> Failure {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DatabaseCorrupt | C::NotADatabase) => Failure::Damaged(e.to_string()),
        _ => Failure::Other(StoreError::sqlite(path, e)),
    }
}

impl Store {
    /// Opens the store folder `dir` to read and write, creating it if `create`. Checks the
    /// database, brings its schema up to date; a damaged database is copied aside and reported.
    pub fn open(dir: &Path, create: bool) -> Result<Store, StoreError> {
        Store::open_with(dir, Access::ReadWrite { create })
    }

    /// Opens the store folder `dir` to read only (see [`Access::ReadOnly`]).
    pub fn open_read_only(dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(dir, Access::ReadOnly)
    }

    /// Opens the store folder `dir` as `access` says.
    pub fn open_with(dir: &Path, access: Access) -> Result<Store, StoreError> {
        // Absolute, because tasks receive it (LABTRAIL_STORE) and run in other folders.
        let dir = &std::path::absolute(dir).map_err(|e| StoreError::io(dir, e))?;
        let db_path = dir.join(DB_FILE);
        if dir.exists() && !dir.is_dir() {
            return Err(StoreError::NotAFolder {
                path: dir.to_path_buf(),
            });
        }
        // Waits while a repair runs, and settles one a crash interrupted (see `store_lock`).
        let mut store_lock = super::store_lock::hold_shared(dir)?;
        // SQLite reads an empty file as a new database: if this store already has runs, an empty
        // database is a truncated one, and must not silently become a fresh store.
        let len = std::fs::metadata(&db_path).map(|m| m.len()).ok();
        if len == Some(0) && dir.join("runs").is_dir() {
            let detail = "the file is empty (truncated), but the store has runs".to_string();
            return Err(damaged(dir, &db_path, detail));
        }
        if len.is_none() && dir.join("runs").is_dir() {
            return Err(StoreError::DatabaseMissing {
                dir: dir.to_path_buf(),
                db: db_path.clone(),
            });
        }
        match (len, access) {
            (None, Access::ReadWrite { create: true }) => {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
                store_lock = super::store_lock::hold_shared(dir)?;
            }
            (None, _) => {
                return Err(StoreError::NotFound {
                    start: dir.to_path_buf(),
                })
            }
            _ => {}
        }
        if let Access::ReadWrite { .. } = access {
            writable(dir, &db_path)?;
        }
        let here = unclean::OpenHere::register(&db_path);
        // Before SQLite replays a WAL an unclean stop left (and may later overwrite it).
        let finding = if here.first() {
            unclean::inspect(dir, &db_path)
        } else {
            None
        };
        let full_check = finding.is_some() || len.is_some_and(|n| n <= QUICK_CHECK_UP_TO);
        let conn = match connect(dir, &db_path, access, full_check) {
            Ok(conn) => conn,
            Err(Failure::Damaged(detail)) => return Err(damaged(dir, &db_path, detail)),
            Err(Failure::Other(e)) => return Err(e),
        };
        let mut store = Store {
            dir: dir.to_path_buf(),
            db_path,
            conn,
            access,
            wal_finding: None,
            _here: here,
            _store_lock: store_lock,
            watch: Default::default(),
        };
        if access == Access::ReadOnly {
            store.upgrade_in_memory()?;
        } else {
            store.prepare_for_writing()?;
        }
        if let Some(f) = finding {
            store.note_wal_damage(f)?;
        }
        if !store.is_read_only() {
            store.record_kept_wal_copies()?;
        }
        Ok(store)
    }

    /// A store around a connection opened elsewhere (a repair's check of a database it built or
    /// kept), without the checks of an open.
    pub(super) fn wrap(dir: &Path, db_path: &Path, conn: Connection, access: Access) -> Store {
        Store {
            dir: dir.to_path_buf(),
            db_path: db_path.to_path_buf(),
            conn,
            access,
            wal_finding: None,
            _here: unclean::OpenHere::register(db_path),
            _store_lock: None,
            watch: Default::default(),
        }
    }

    /// Whether this store was opened read-only ([`Access::ReadOnly`]).
    pub fn is_read_only(&self) -> bool {
        self.access == Access::ReadOnly
    }

    /// A store of an older schema, opened read-only, is read through a copy in memory brought
    /// up to date there: the file is not changed (the next `labtrail run` upgrades it), and
    /// every query sees the columns it expects. (`status --watch` then shows that copy.)
    fn upgrade_in_memory(&mut self) -> Result<(), StoreError> {
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let version: u32 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(e)?;
        if version >= schema::CURRENT_VERSION {
            return Ok(());
        }
        let mut copy = Connection::open_in_memory().map_err(e)?;
        rusqlite::backup::Backup::new(&self.conn, &mut copy)
            .and_then(|b| b.run_to_completion(1024, Duration::ZERO, None))
            .map_err(e)?;
        self.conn = copy;
        self.migrate()
    }
}

/// Opens the connection to `db` in the store folder `dir` and checks it; `full_check` runs
/// SQLite's quick_check.
fn connect(dir: &Path, db: &Path, access: Access, full_check: bool) -> Result<Connection, Failure> {
    let other = |e| Failure::Other(StoreError::sqlite(db, e));
    let conn = match access {
        Access::ReadWrite { .. } => Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
        .map_err(other)?,
        Access::ReadOnly => open_read_only(db)?,
    };
    let c = &conn;
    c.busy_timeout(busy_timeout()).map_err(other)?;
    // Refuse a newer schema before changing anything: switching to WAL rewrites the header.
    let found: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| judge(db, e))?;
    if found > schema::CURRENT_VERSION {
        return Err(Failure::Other(StoreError::TooNew {
            path: db.to_path_buf(),
            found,
            supported: schema::CURRENT_VERSION,
        }));
    }
    if let Access::ReadWrite { .. } = access {
        // The journal mode (one line; the filesystem decides it):
        super::filesystem::apply_journal_mode(c, dir).map_err(|e| judge(db, e))?;
        c.pragma_update(None, "synchronous", "FULL")
            .map_err(other)?;
    }
    if full_check {
        let verdict: String = c
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| judge(db, e))?;
        if verdict != "ok" {
            return Err(Failure::Damaged(format!(
                "integrity check failed: {verdict}"
            )));
        }
    } else {
        cheap_check(c, db)?;
    }
    Ok(conn)
}

/// What a large database gets on every open instead of quick_check: its header and schema are
/// read. (A file shorter than its header says is SQLITE_CORRUPT on that first read: SQLite
/// compares the two, so truncation is found without reading every page.)
fn cheap_check(c: &Connection, db: &Path) -> Result<(), Failure> {
    c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|_| ())
    .map_err(|e| judge(db, e))
}

/// Opens `db` read-only. Where SQLite cannot create the `-shm` index (a read-only mount,
/// another user's folder) and there is no WAL, it opens with `immutable=1`: no locks, no
/// `-shm`. That is safe here: without a `-wal` file no connection is writing (a writer in WAL
/// mode always has one), and everything committed is in the main file. (A writer that starts
/// while we read could go unseen, or its checkpoint be read half done; a read of a few
/// milliseconds makes that unlikely, and nothing is ever written on its strength.) With a
/// `-wal` file SQLite reads it itself: a read-only `-shm` is used in its heap-memory mode.
/// A non-empty `-journal` (a writer stopped mid-commit in rollback mode) is rolled back first
/// where this process may write, and is otherwise [`StoreError::HotJournal`]: `immutable=1`
/// would read the half-written file as if it were committed.
fn open_read_only(db: &Path) -> Result<Connection, Failure> {
    // No mutex: a `Connection` is used by one thread at a time (it is not `Sync`), and in
    // SQLite's serialized mode every column read of every row takes and releases the
    // connection's mutex, a tenth of what reading 10^6 results costs (issue 15).
    let read_only = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let flags = read_only | OpenFlags::SQLITE_OPEN_URI;
    let plain = Connection::open_with_flags(db, read_only).map_err(|e| judge(db, e))?;
    let wal_len = std::fs::metadata(unclean::side(db, "-wal")).map_or(0, |m| m.len());
    match plain.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0)) {
        // A writer stopped mid-commit: roll its change back (a recovery, see `journal`), never
        // read the half-written file (`immutable=1` ignores the journal).
        Err(e) if super::journal::needs_rollback(&e) || super::journal::present(db) => {
            drop(plain);
            super::journal::roll_back(db).map_err(|e| match judge(db, e) {
                Failure::Damaged(detail) => Failure::Damaged(detail),
                Failure::Other(busy @ StoreError::Busy { .. }) => Failure::Other(busy),
                Failure::Other(_) => Failure::Other(StoreError::HotJournal {
                    path: db.to_path_buf(),
                }),
            })?;
            Connection::open_with_flags(db, read_only)
                .map_err(|e| judge(db, e))
        }
        Err(e) if cannot_make_index(&e) && wal_len == 0 => {
            let uri = format!("file:{}?immutable=1", uri_path(db));
            Connection::open_with_flags(uri, flags).map_err(|e| judge(db, e))
        }
        // Reading the WAL needs its index; the index cannot be made in this folder.
        Err(e) if cannot_make_index(&e) => Err(Failure::Other(StoreError::CannotOpen {
            path: db.to_path_buf(),
            detail: format!(
                "{e}: reading its write-ahead log needs the index file {}, which cannot be created in this folder; copy the store folder somewhere you can write to read it",
                unclean::side(db, "-shm").display()
            ),
        })),
        _ => Ok(plain),
    }
}

/// SQLite could not open or create the `-shm` index: CANTOPEN where the folder is on a
/// read-only mount, READONLY (CANTINIT, DIRECTORY) where it belongs to someone else.
fn cannot_make_index(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(e.sqlite_error_code(), Some(C::CannotOpen | C::ReadOnly))
}

/// Refuses to open for writing a store that cannot be written here, before SQLite tries (it
/// would fall back to reading, or fail on the `-shm` index with a less clear error).
fn writable(dir: &Path, db: &Path) -> Result<(), StoreError> {
    use std::os::unix::ffi::OsStrExt;
    for p in [dir, db] {
        let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
            continue;
        };
        // SAFETY: access(2) on a NUL-terminated path.
        if p.exists() && unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
            return Err(StoreError::ReadOnly {
                path: p.to_path_buf(),
                detail: std::io::Error::last_os_error().to_string(),
            });
        }
    }
    Ok(())
}

/// `path` escaped for an SQLite URI (`%`, `?`, `#` and non-ASCII bytes).
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::new();
    for &b in path.as_os_str().as_bytes() {
        match b {
            b'%' | b'?' | b'#' | 0x80..=0xff | 0..=0x20 => out.push_str(&format!("%{b:02X}")),
            _ => out.push(b as char),
        }
    }
    out
}

/// The error for a damaged database, with a copy kept beside it when the folder allows.
fn damaged(dir: &Path, db: &Path, detail: String) -> StoreError {
    match super::damaged_copy::keep(dir, db) {
        Ok(backup) => StoreError::Corrupt {
            path: db.to_path_buf(),
            backup,
            detail,
        },
        Err(why) => StoreError::CorruptNoCopy {
            path: db.to_path_buf(),
            detail,
            why,
        },
    }
}

#[cfg(test)]
#[path = "open_tests.rs"]
mod tests;
