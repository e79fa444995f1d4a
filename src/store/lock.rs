//! The run lock: one runner per run. An advisory `flock` on `locks/RUN.lock` in the store that the
//! kernel releases when its holder dies, so a lock left by a crashed runner is never an obstacle;
//! the file's text names the holder for the error message and the take-over notice.
//!
//! The lock is not in the run's folder (`runs/RUN/lock` until labtrail 0.3): a task may delete
//! that folder, and a runner would then hold a lock on a file that no longer has a name, while a
//! second runner made a new one and ran the same tasks. A lock a 0.3 runner holds there still
//! counts.
//!
//! Readers ask whether a runner is there through a second file, `locks/RUN.alive`, on which the
//! holder keeps a shared lock: a reader's brief exclusive try there can never make a starting
//! runner find its run lock taken (a reader probing the run lock itself could, when it was
//! descheduled at the wrong moment, and `run` then refused with exit 4).
//!
//! Only "another process holds it" (`EWOULDBLOCK`) means held. A filesystem that cannot lock
//! (`ENOSYS`, `EOPNOTSUPP`: Lustre without `-o flock`), a lock service that does not answer
//! (`ENOLCK`: NFSv3 without lockd) or an I/O error is its own error, naming the filesystem and
//! what to do; the transient ones are tried again a few times first. A lock file still naming a
//! holder on another host that did not release it cleanly is not taken over without `--force`:
//! from here nothing tells whether that process still runs (docs/store-filesystems.md).

use super::lock_try::{holder_named, lock_shared_waiting, try_lock};
use super::StoreError;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held run lock; released on drop.
pub struct RunLock {
    file: Flock<File>,
    /// The shared lock readers probe (see the module's doc); held as long as `file`.
    _alive: Flock<File>,
    /// The holder a previous runner left behind, if it died without releasing the lock.
    pub taken_over_from: Option<String>,
    /// Why this lock does not keep out a process on another host, if it does not: the store's
    /// network filesystem is mounted with an option that keeps locks on this host.
    pub locks_stay_here: Option<String>,
}

/// The holder a lock file's text names: PID, host, since when.
pub(super) fn describe(text: &str) -> (u32, String, String) {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    (
        v["pid"].as_u64().unwrap_or(0) as u32,
        printable(v["host"].as_str().unwrap_or("?")),
        printable(v["since"].as_str().unwrap_or("?")),
    )
}

/// `field` of a lock file with its control characters escaped: anyone who can write `locks/`
/// writes these fields, and they end up inside messages printed line by line, where a newline
/// would forge a line of labtrail's own (issue 10, review).
fn printable(field: &str) -> String {
    field
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

impl RunLock {
    /// Takes the lock of `run` in `store`, or says who holds it; a lock left by a holder on
    /// another host is refused (see [`RunLock::acquire_with`]).
    pub fn acquire(store: &super::Store, run: &str) -> Result<RunLock, StoreError> {
        RunLock::acquire_with(store, run, false)
    }

    /// Takes the lock of `run` in `store`, or says who holds it. With `force`, a lock that a
    /// process on another host took and never released cleanly is taken over (the user checked
    /// that it no longer runs there); without, that is [`StoreError::LockedElsewhere`].
    pub fn acquire_with(
        store: &super::Store,
        run: &str,
        force: bool,
    ) -> Result<RunLock, StoreError> {
        if let Some(holder) = legacy_holder(&store.run_dir(run).join("lock")) {
            let (pid, host, since) = describe(&holder);
            return Err(StoreError::Locked {
                run: run.to_string(),
                pid,
                host,
                since,
            });
        }
        let path = store.lock_path(run);
        // Never the store folder itself: one moved away is not made again here.
        store.make_dirs(path.parent().expect("a lock file has a folder"))?;
        let file = open_lock_file(&path)?;
        let mut file = match try_lock(file, FlockArg::LockExclusiveNonblock, &path, store)? {
            Ok(f) => f,
            Err(mut f) => {
                return Err(match holder_named(&mut f) {
                    Some((pid, host, since)) => StoreError::Locked {
                        run: run.to_string(),
                        pid,
                        host,
                        since,
                    },
                    None => StoreError::LockedByUnknown {
                        run: run.to_string(),
                        lock_file: path.clone(),
                    },
                });
            }
        };
        let mut previous = String::new();
        let _ = file.read_to_string(&mut previous);
        let host = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        let left = (!previous.trim().is_empty()).then(|| describe(&previous));
        if let Some((pid, was_on, since)) = &left {
            // Its lock is free here, but a process there may still run: one on a filesystem
            // whose locks that host does not share with this one, or one cut off from the lock
            // server. The user checks there first. A file that names no host was cut short while
            // its writer took the lock (a live holder writes it at once): that writer is gone.
            if was_on != &host && was_on != "?" && !force {
                return Err(StoreError::LockedElsewhere {
                    run: run.to_string(),
                    pid: *pid,
                    host: was_on.clone(),
                    since: since.clone(),
                    here: host,
                });
            }
        }
        // Blocking: a reader holds its exclusive try for an instant, and nothing else takes it.
        let alive_path = path.with_extension("alive");
        let alive = open_lock_file(&alive_path)?;
        let alive = lock_shared_waiting(alive, &alive_path, store)?;
        let taken_over_from = left.map(|(pid, was_on, since)| {
            if was_on == host {
                format!("PID {pid} on host {was_on} (holding it since {since}) is no longer running")
            } else if was_on == "?" {
                format!("a holder that had not finished writing its name in {} is no longer running", path.display())
            } else {
                // Another host's process cannot be seen from here: say only what is known.
                format!("--force: PID {pid} on host {was_on} held it (since {since}) and did not release it cleanly; taken over as asked")
            }
        });
        let me =
            serde_json::json!({"pid": std::process::id(), "host": host, "since": super::now()});
        file.set_len(0).map_err(|e| StoreError::io(&path, e))?;
        file.rewind().map_err(|e| StoreError::io(&path, e))?;
        file.write_all(me.to_string().as_bytes())
            .map_err(|e| StoreError::io(&path, e))?;
        file.sync_all().map_err(|e| StoreError::io(&path, e))?;
        let fs = super::filesystem::detect(store.dir());
        let locks_stay_here = fs
            .local_locks
            .filter(|_| fs.sharing == super::filesystem::Sharing::Network);
        Ok(RunLock {
            file,
            _alive: alive,
            taken_over_from,
            locks_stay_here,
        })
    }
}

/// Opens (creating) the lock file `path` to read and write, never through a symbolic link, and
/// only if it is a regular file: a runner truncates its lock file and writes its name into it,
/// which through a link would overwrite the link's target (issue 10, review).
fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = |what: &str| {
        let why = format!("{what}, but a lock file must be a regular file: remove it (`rm {}`) and run the command again", path.display());
        StoreError::io(path, std::io::Error::other(why))
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => refuse("it is a symbolic link"),
            _ => StoreError::io(path, e),
        })?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        Ok(_) => Err(refuse("it is not a regular file")),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// The text of the lock file a labtrail 0.3 runner holds at `path`, if one holds it.
fn legacy_holder(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Err((mut f, Errno::EWOULDBLOCK)) => {
            let mut text = String::new();
            let _ = f.read_to_string(&mut text);
            Some(text)
        }
        // Only a holder counts: a filesystem that cannot lock says so at the run lock.
        Ok(_) | Err(_) => None,
    }
}

impl super::Store {
    /// The lock file of `run`: `locks/RUN.lock` in the store.
    pub fn lock_path(&self, run: &str) -> PathBuf {
        self.dir().join("locks").join(format!("{run}.lock"))
    }

    /// Whether a live process holds the lock of `run`, asked without writing anything and
    /// without touching the run lock itself: an exclusive lock on `locks/RUN.alive`, on which the
    /// holder keeps a shared one, is tried and dropped at once (a missing file was never held). A
    /// runner killed with SIGKILL holds nothing: the kernel released its locks. A lock that
    /// cannot be asked about (no permission) counts as held: nobody is said to be gone without
    /// proof.
    pub fn run_lock_is_held(&self, run: &str) -> bool {
        if legacy_holder(&self.run_dir(run).join("lock")).is_some() {
            return true;
        }
        let file = match File::open(self.lock_path(run).with_extension("alive")) {
            Ok(f) => f,
            Err(e) => return e.kind() != std::io::ErrorKind::NotFound,
        };
        // The lock taken is dropped (released) at once.
        Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // An empty file tells the next runner the previous one stopped cleanly.
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10 (review): a host name with a newline, written into a lock file, cannot forge a
    /// line of the message that names the holder.
    #[test]
    fn a_lock_files_fields_cannot_forge_a_line() {
        let (_, host, since) =
            describe(r#"{"pid": 7, "host": "node1\n  help: rm -rf ~", "since": "t\u001b[2J"}"#);
        assert_eq!(host, "node1\\n  help: rm -rf ~");
        assert!(!since.contains('\u{1b}'), "{since}");
    }
    use crate::store::Store;

    /// Issue 9 (a flake of the full suite): a reader descheduled in the middle of its probe holds
    /// the probe's lock for a while; a runner starting then waits for it instead of refusing
    /// with "locked" (before, the probe took the run lock itself and `run` exited 4).
    #[test]
    fn a_reader_mid_probe_never_makes_a_runner_refuse() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        store.create_run("r", "e", "e.toml", "").unwrap();
        drop(RunLock::acquire(&store, "r").unwrap());
        let probe = File::open(store.lock_path("r").with_extension("alive")).unwrap();
        let held = Flock::lock(probe, FlockArg::LockExclusiveNonblock).unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(held);
        });
        let lock = RunLock::acquire(&store, "r").expect("waits for the reader, then holds");
        release.join().unwrap();
        assert!(store.run_lock_is_held("r"));
        drop(lock);
        assert!(!store.run_lock_is_held("r"));
    }

    /// Issue 10: a lock file cut short while its writer took the lock names no host; it is not
    /// a holder on another host (which would need --force), and it is taken over.
    #[test]
    fn a_lock_file_cut_short_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        drop(RunLock::acquire(&store, "r").unwrap());
        std::fs::write(store.lock_path("r"), r#"{"pid": 12"#).unwrap();
        let lock = RunLock::acquire(&store, "r").expect("taken over");
        let previous = lock.taken_over_from.clone().unwrap();
        assert!(previous.contains("had not finished writing"), "{previous}");
    }

    /// Issue 10 (review): a `locks/RUN.lock` that is a symbolic link was followed: `run` truncated
    /// its target and wrote its JSON into it. It is refused, and the target is left as it was.
    #[test]
    fn a_lock_file_that_is_a_symbolic_link_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(".labtrail"), true).unwrap();
        let target = tmp.path().join("precious.txt");
        std::fs::write(&target, "keep me").unwrap();
        let path = store.lock_path("r");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = RunLock::acquire(&store, "r").err().expect("refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }
}
