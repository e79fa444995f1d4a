//! After an unclean stop: is the WAL it left damaged? Found before SQLite replays it, kept as a
//! copy, said on stderr, and recorded in the store (a [`WAL_DAMAGE_RECORD`]) for `check`.

use super::wal::{self, WalDamage};
use super::{Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Kind of the store record that says a WAL was found damaged. Its JSON: `wal`, `copy` (or
/// null when none could be kept), `first_bad_frame`, `lost_commits`, `salts`.
pub const WAL_DAMAGE_RECORD: &str = "wal_damage";
/// Kind of the store record `check --repair` appends once it has recovered what it could from
/// a damaged WAL; JSON `{"damage_id": ID of the wal_damage record, "copy": ...}`. `check` then
/// stops reporting that damage.
pub const WAL_DAMAGE_REPAIRED_RECORD: &str = "wal_damage_repaired";

/// A WAL left by an unclean stop, inspected before SQLite replayed it.
#[derive(Debug, Clone)]
pub struct WalFinding {
    /// The damage found, if any (none: an ordinary unclean stop).
    pub damage: Option<WalDamage>,
    /// The WAL file.
    pub wal: PathBuf,
    /// Where the copy of the damaged WAL was kept, or why none could be.
    pub copy: Result<PathBuf, String>,
}

/// The file `db` + `suffix` (`-wal`, `-shm`).
pub(super) fn side(db: &Path, suffix: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Database files this process has open as a store. Opening and closing any other descriptor
/// of such a file would drop this process's SQLite locks on it (POSIX lock semantics), so
/// its files are only probed while no store of this process has it open.
static OPEN_HERE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// This process's registration of an open database (see [`OPEN_HERE`]).
pub(super) struct OpenHere {
    path: PathBuf,
    first: bool,
}

impl OpenHere {
    pub(super) fn register(db: &Path) -> OpenHere {
        let mut open = OPEN_HERE.lock().unwrap_or_else(|p| p.into_inner());
        let first = !open.iter().any(|p| p == db);
        open.push(db.to_path_buf());
        OpenHere {
            path: db.to_path_buf(),
            first,
        }
    }

    /// No other store of this process has the database open.
    pub(super) fn first(&self) -> bool {
        self.first
    }
}

impl Drop for OpenHere {
    fn drop(&mut self) {
        let mut open = OPEN_HERE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = open.iter().position(|p| p == &self.path) {
            open.swap_remove(i);
        }
    }
}

/// Whether another process may have the database open. SQLite's unix VFS holds, for as long
/// as a connection is open, a shared fcntl lock on the "DMS" byte of the `-shm` file (offset
/// 128: `UNIX_SHM_DMS` in os_unix.c) and, in WAL mode, a shared lock on the database's SHARED
/// range (`PENDING_BYTE + 2`, 510 bytes). F_GETLK only asks, taking and disturbing nothing.
/// When a probe cannot be made the answer is "maybe": damage is then not declared.
fn in_use(db: &Path) -> bool {
    let shm = side(db, "-shm");
    let shm_locked = match shm.exists() {
        true => locked(&shm, 128, 1),
        false => Some(false),
    };
    let db_locked = locked(db, 0x4000_0002, 510);
    shm_locked != Some(false) || db_locked != Some(false)
}

/// Whether any other process holds a lock on `len` bytes of `path` from `start`.
fn locked(path: &Path, start: i64, len: i64) -> Option<bool> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: a zeroed flock is a valid value; fcntl gets a live descriptor and that flock.
    let mut probe: libc::flock = unsafe { std::mem::zeroed() };
    probe.l_type = libc::F_WRLCK as libc::c_short;
    probe.l_whence = libc::SEEK_SET as libc::c_short;
    probe.l_start = start as libc::off_t;
    probe.l_len = len as libc::off_t;
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut probe) };
    (rc == 0).then_some(probe.l_type != libc::F_UNLCK as libc::c_short)
}

/// Inspects the WAL of `db` if an unclean stop left one (non-empty, and no connection has the
/// database open); a damaged one is copied before anything else touches it and said on stderr.
/// `None`: nothing to inspect.
pub(super) fn inspect(dir: &Path, db: &Path) -> Option<WalFinding> {
    let wal = side(db, "-wal");
    if std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0 || in_use(db) {
        return None;
    }
    // A WAL that cannot be read is left to SQLite, which reports what it meets.
    let scan = wal::scan(&wal, db).ok()?;
    let Some(damage) = scan.damage else {
        return Some(WalFinding {
            damage: None,
            wal,
            copy: Err("no damage".into()),
        });
    };
    let salts = format!("{:08x}{:08x}", damage.salts[0], damage.salts[1]);
    let copy = same_copy(dir, &wal, &salts).map(Ok).unwrap_or_else(|| {
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S");
        unique_copy(&wal, &side(db, &format!("-wal.damaged-{salts}-{stamp}")))
    });
    let finding = WalFinding {
        damage: Some(damage),
        wal,
        copy,
    };
    say_damage(&finding);
    Some(finding)
}

/// A copy kept earlier of this very WAL (same generation, same bytes): a read-only command
/// leaves the WAL in place, so the next command finds the same damage again.
fn same_copy(dir: &Path, wal: &Path, salts: &str) -> Option<PathBuf> {
    let prefix = format!("{}.damaged-{salts}-", wal.file_name()?.to_string_lossy());
    let bytes = std::fs::read(wal).ok()?;
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .find(|p| std::fs::read(p).is_ok_and(|b| b == bytes))
}

/// Copies `from` to `wanted`, or `wanted-2`, `-3`, ... : never over an existing file; synced.
pub(super) fn unique_copy(from: &Path, wanted: &Path) -> Result<PathBuf, String> {
    for n in 1..1000 {
        let to = match n {
            1 => wanted.to_path_buf(),
            n => side(wanted, &format!("-{n}")),
        };
        match copy_to_new_file(from, &to) {
            Ok(()) => return Ok(to),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", to.display())),
        }
    }
    Err(format!("{}: too many copies already", wanted.display()))
}

/// Copies `from` to `to`, a file that must not exist yet (`AlreadyExists` otherwise: nothing is
/// ever written over), and syncs the copy.
pub(super) fn copy_to_new_file(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut source = std::fs::File::open(from)?;
    let mut copy = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)?;
    std::io::copy(&mut source, &mut copy)?;
    copy.sync_all()
}

fn say_damage(f: &WalFinding) {
    let Some(d) = &f.damage else { return };
    let at = match d.first_bad_frame {
        0 => "its header".to_string(),
        n => format!("frame {n}"),
    };
    let kept = match &f.copy {
        Ok(copy) => format!("a copy of the log was kept at {}", copy.display()),
        Err(why) => format!(
            "no copy could be kept ({why}): copy {} somewhere safe now, before a command that writes to the store replaces it",
            f.wal.display()
        ),
    };
    // Straight to stderr, ignoring a closed one: this is said whichever command opened the store.
    let _ = writeln!(
        std::io::stderr(),
        "labtrail: the store's write-ahead log {} is damaged at {at}: {} committed transaction(s) after the damage cannot be replayed and are missing from the store\n  {kept}\n  help: run `labtrail check --repair` before the next `labtrail run`: it recovers what it can from the copy (a run first would run the tasks whose records are missing again); `labtrail check` reports this until then",
        f.wal.display(),
        d.lost_commits
    );
}

/// For `check --repair`, in the transaction that fills the rebuilt database `conn`: every
/// recorded WAL damage not yet marked is marked repaired (the repair read what it could from
/// the database and its WAL), so that `check` stops reporting it. Returns how many.
pub(super) fn mark_wal_damage_repaired(conn: &rusqlite::Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO records (run_id, task_key, at, kind, json)
         SELECT NULL, NULL, ?1, ?2,
                json_object('damage_id', d.id, 'copy', json_extract(d.json, '$.copy'))
         FROM records d
         WHERE d.kind = ?3
           AND NOT EXISTS (SELECT 1 FROM records r WHERE r.kind = ?2
                           AND json_extract(r.json, '$.damage_id') = d.id)",
        rusqlite::params![super::now(), WAL_DAMAGE_REPAIRED_RECORD, WAL_DAMAGE_RECORD],
    )
}

impl Store {
    /// Keeps what the inspection found; a store open to write records the damage once.
    pub(super) fn note_wal_damage(&mut self, f: WalFinding) -> Result<(), StoreError> {
        let Some(d) = &f.damage else { return Ok(()) };
        let json = serde_json::json!({
            "wal": f.wal,
            "copy": f.copy.as_ref().ok(),
            "first_bad_frame": d.first_bad_frame,
            "lost_commits": d.lost_commits,
            "salts": d.salts,
        });
        if !self.is_read_only() && !self.damage_recorded(&json["copy"])? {
            self.add_store_record(WAL_DAMAGE_RECORD, &json.to_string())?;
        }
        self.wal_finding = Some(json);
        Ok(())
    }

    /// Records the damaged-WAL copies in the store folder that no record names yet: a reading
    /// command (which cannot record) may have found and kept one, and still hold the database
    /// open when the next writing command comes, which then does not inspect the WAL itself.
    pub(super) fn record_kept_wal_copies(&mut self) -> Result<(), StoreError> {
        let prefix = format!("{}-wal.damaged-", super::DB_FILE);
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(());
        };
        let mut copies: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .collect();
        copies.sort();
        for copy in copies {
            let named = serde_json::json!(copy);
            if self.damage_recorded(&named)? {
                continue;
            }
            let Ok(wal::WalScan {
                damage: Some(d), ..
            }) = wal::scan(&copy, &self.db_path)
            else {
                continue;
            };
            let json = serde_json::json!({
                "wal": side(&self.db_path, "-wal"),
                "copy": copy,
                "first_bad_frame": d.first_bad_frame,
                "lost_commits": d.lost_commits,
                "salts": d.salts,
            });
            self.add_store_record(WAL_DAMAGE_RECORD, &json.to_string())?;
        }
        Ok(())
    }

    fn damage_recorded(&self, copy: &serde_json::Value) -> Result<bool, StoreError> {
        Ok(self
            .store_records(WAL_DAMAGE_RECORD)?
            .iter()
            .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.json).ok())
            .any(|j| !copy.is_null() && &j["copy"] == copy))
    }

    /// `check`'s problems about damaged WALs: each recorded one not yet repaired, and one
    /// found by this (read-only) open that could not be recorded.
    pub(super) fn wal_damage_problems(&self) -> Result<Vec<String>, StoreError> {
        let parse = |r: &super::RecordRow| serde_json::from_str::<serde_json::Value>(&r.json).ok();
        let repaired: Vec<serde_json::Value> = self
            .store_records(WAL_DAMAGE_REPAIRED_RECORD)?
            .iter()
            .filter_map(parse)
            .collect();
        let is_repaired = |id: i64, j: &serde_json::Value| {
            repaired
                .iter()
                .any(|r| r["damage_id"] == id || (!j["copy"].is_null() && r["copy"] == j["copy"]))
        };
        let mut open: Vec<serde_json::Value> = Vec::new();
        for r in self.store_records(WAL_DAMAGE_RECORD)? {
            match parse(&r) {
                Some(j) if !is_repaired(r.id, &j) => open.push(j),
                _ => {}
            }
        }
        // Found by this open and not recorded (a reading command cannot record it).
        if let Some(now) = &self.wal_finding {
            if !self.damage_recorded(&now["copy"])? {
                open.push(now.clone());
            }
        }
        Ok(open
            .iter()
            .map(|j| {
                let copy = j["copy"].as_str().unwrap_or("none could be kept");
                format!(
                    "the write-ahead log was found damaged at frame {}: {} committed transaction(s) after it are missing from the store (copy of the log: {copy}); `labtrail check --repair` recovers what it can",
                    j["first_bad_frame"], j["lost_commits"]
                )
            })
            .collect())
    }
}
