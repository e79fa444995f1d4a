//! The store-wide lock `locks/store.lock`: every open store holds it shared for its lifetime (a
//! runner or monitor, for as long as it holds its run lock; a reader, for as long as it reads),
//! and a repair takes it exclusively, so that a repair never replaces the database under a
//! process that has it open, and nothing opens the database while a repair rebuilds it.

use super::StoreError;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long an open waits for a repair to end before saying one is under way.
const WAIT_FOR_REPAIR: Duration = Duration::from_secs(60);
/// How long a repair waits for readers (a `status`, a `logs --follow` that ends) to close.
const WAIT_FOR_READERS: Duration = Duration::from_secs(10);

fn path(dir: &Path) -> PathBuf {
    dir.join("locks").join("store.lock")
}

/// The lock file, made if it can be; opened read-only in a store this user cannot write (a
/// colleague's, a read-only mount), where no repair can run either; `None` if it is not there.
fn open(dir: &Path) -> Option<File> {
    let p = path(dir);
    let _ = std::fs::create_dir_all(p.parent()?);
    let writable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&p);
    writable.or_else(|_| File::open(&p)).ok()
}

/// Whether a refused non-blocking `flock` means another holder (rather than a filesystem
/// without locks: ENOLCK, ENOSYS, EOPNOTSUPP, on some network filesystems).
fn held_elsewhere(e: nix::errno::Errno) -> bool {
    e == nix::errno::Errno::EWOULDBLOCK || e == nix::errno::Errno::EINTR
}

/// Tells the user, once (only the process that settles it sees the intent), what settling an
/// interrupted repair did: the store they open is not the one they may expect.
fn say_settled(what: Option<String>) {
    if let Some(what) = what {
        eprintln!("labtrail: {what}");
    }
}

/// Takes the store lock shared for an open store, waiting while a repair holds it, and first
/// finishing (or rolling back) a repair a crash interrupted. `None` for a store folder that does
/// not exist yet or has no lock file it can open.
pub(super) fn hold_shared(dir: &Path) -> Result<Option<Flock<File>>, StoreError> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let Some(mut file) = open(dir) else {
        return Ok(None);
    };
    let start = Instant::now();
    loop {
        if super::repair::interrupted(dir) {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(held) => {
                    say_settled(super::repair::settle(dir)?);
                    held.relock(FlockArg::LockShared)
                        .map_err(|e| StoreError::io(&path(dir), e.into()))?;
                    return Ok(Some(held));
                }
                // A filesystem without locks: nothing can hold it, so no repair is running.
                Err((_, e)) if !held_elsewhere(e) => {
                    say_settled(super::repair::settle(dir)?);
                    return Ok(None);
                }
                Err((f, _)) => file = f,
            }
        } else {
            match Flock::lock(file, FlockArg::LockSharedNonblock) {
                Ok(held) => return Ok(Some(held)),
                Err((_, e)) if !held_elsewhere(e) => return Ok(None),
                Err((f, _)) => file = f,
            }
        }
        if start.elapsed() > WAIT_FOR_REPAIR {
            return Err(StoreError::RepairUnderway {
                store: dir.to_path_buf(),
                waited_s: WAIT_FOR_REPAIR.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Takes the store lock exclusively for a repair, or says who has the store open: a runner or
/// monitor at once (named by its run lock: run, PID, host), a reader after a short wait.
pub(super) fn hold_exclusive(dir: &Path) -> Result<Flock<File>, StoreError> {
    let mut file = open(dir).ok_or_else(|| {
        StoreError::io(
            &path(dir),
            std::io::Error::other("cannot create the store's lock file"),
        )
    })?;
    let start = Instant::now();
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(held) => {
                // A runner on another host holds its lock where this host cannot see it (see
                // `lock`): its lock file, emptied by a clean stop, still names it.
                if let Some(run) = other_host_holders(dir).into_iter().next() {
                    return Err(StoreError::RepairRefused {
                        store: dir.to_path_buf(),
                        holder: run,
                    });
                }
                return Ok(held);
            }
            Err((_, e)) if !held_elsewhere(e) => {
                let why = std::io::Error::other(format!("the filesystem refuses file locks ({e}), so a repair cannot make sure that no runner or monitor uses the store; stop them, and repair a copy of the store folder on a local disk"));
                return Err(StoreError::io(&path(dir), why));
            }
            Err((f, _)) => file = f,
        }
        let refuse = |holder: String| StoreError::RepairRefused {
            store: dir.to_path_buf(),
            holder,
        };
        if let Some(run) = run_holders(dir).into_iter().next() {
            return Err(refuse(run));
        }
        if start.elapsed() > WAIT_FOR_READERS {
            return Err(refuse("another labtrail command has it open (a `logs --follow`, a `status` or a command that reads it)".into()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The runs whose lock file names a holder on another host that did not stop cleanly, each
/// said with what to do once it is known not to run there: from here nothing tells whether it
/// still does (a `run` refuses the same lock without `--force`).
fn other_host_holders(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("locks")) else {
        return Vec::new();
    };
    let here = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let lock = entry.path();
        if lock.extension().is_none_or(|e| e != "lock") || lock == path(dir) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&lock) else {
            continue;
        };
        let (pid, host, since) = super::lock::describe(&text);
        if text.trim().is_empty() || host == "?" || host == here {
            continue;
        }
        let run = lock
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        out.push(format!(
            "run `{run}` was taken by PID {pid} on host {host} (since {since}) and not released cleanly; from this host nothing tells whether it still runs there\n  help: check on {host}; if it no longer runs, empty {} (`: > {}`) and run `labtrail check --repair` again",
            lock.display(),
            lock.display()
        ));
    }
    out.sort();
    out
}

/// The runs whose run lock a live process holds, each said as "run R is being run by PID P on
/// host H (since S)". Their `locks/RUN.alive` files tell (see `lock`).
pub(super) fn run_holders(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir.join("locks")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let alive = entry.path();
        if alive.extension().is_none_or(|e| e != "alive") {
            continue;
        }
        let held =
            File::open(&alive).map(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).is_err());
        if !held.unwrap_or(true) {
            continue;
        }
        let mut text = String::new();
        let _ =
            File::open(alive.with_extension("lock")).and_then(|mut f| f.read_to_string(&mut text));
        let (pid, host, since) = super::lock::describe(&text);
        let run = alive
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        out.push(format!(
            "run `{run}` is being run by PID {pid} on host {host} (since {since})"
        ));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// Issue 10: a command that opens the store while a repair holds the store lock waits for
    /// the repair to end, then opens the store (a repair must never replace the database under
    /// it).
    #[test]
    fn an_open_waits_for_a_repair_to_end() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".labtrail");
        drop(Store::open(&dir, true).unwrap());
        let repair = hold_exclusive(&dir).unwrap();
        let opened = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = opened.clone();
        let dir2 = dir.clone();
        let opener = std::thread::spawn(move || {
            let store = Store::open(&dir2, false);
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            store.map(drop)
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            !opened.load(std::sync::atomic::Ordering::SeqCst),
            "waits while the repair runs"
        );
        drop(repair);
        opener.join().unwrap().expect("opens once the repair ended");
        let reader = Store::open(&dir, false).unwrap();
        let refused = hold_exclusive(&dir);
        assert!(refused.is_err(), "no repair while a store is open");
        drop(reader);
    }
}
