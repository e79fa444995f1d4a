//! Taking a file lock without blocking, and telling "another process holds it" from a
//! filesystem that cannot lock (issue 10): only `EWOULDBLOCK` means held; `ENOLCK`, `EIO` and
//! `EINTR` can pass and are tried again a few times; anything else is
//! [`StoreError::LockUnavailable`], naming the filesystem, with what to do.

use super::StoreError;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

/// How often a lock that failed for a reason that can pass (`ENOLCK`, `EIO`, `EINTR`) is tried,
/// and the first pause between tries (doubled each time: about 3 s in all).
const LOCK_TRIES: u32 = 5;
const FIRST_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// Tries `arg` (a non-blocking lock) on `file`: `Ok(Ok(lock))` when taken, `Ok(Err(file))` when
/// another process holds it, and [`StoreError::LockUnavailable`] when the filesystem cannot say
/// (tried again a few times first where that can help).
pub(super) fn try_lock(
    file: File,
    arg: FlockArg,
    path: &Path,
    store: &super::Store,
) -> Result<Result<Flock<File>, File>, StoreError> {
    let mut file = file;
    let mut pause = FIRST_PAUSE;
    for attempt in 1..=LOCK_TRIES {
        let result = match fault_injection_fake_lock_errno() {
            Some(errno) => Err((file, errno)),
            None => Flock::lock(file, arg),
        };
        match result {
            Ok(lock) => return Ok(Ok(lock)),
            Err((f, Errno::EWOULDBLOCK)) => return Ok(Err(f)),
            Err((f, errno)) if is_transient(errno) && attempt < LOCK_TRIES => {
                file = f;
                if errno != Errno::EINTR {
                    std::thread::sleep(pause);
                    pause *= 2;
                }
            }
            Err((_, errno)) => return Err(unavailable(path, store, errno)),
        }
    }
    unreachable!("the last try returns")
}

/// Takes a shared lock on `file`, waiting for an exclusive holder (a reader's probe).
pub(super) fn lock_shared_waiting(
    file: File,
    path: &Path,
    store: &super::Store,
) -> Result<Flock<File>, StoreError> {
    let mut file = file;
    loop {
        match try_lock(file, FlockArg::LockSharedNonblock, path, store)? {
            Ok(lock) => return Ok(lock),
            Err(f) => {
                file = f;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}

fn is_transient(errno: Errno) -> bool {
    matches!(errno, Errno::ENOLCK | Errno::EIO | Errno::EINTR)
}

fn unavailable(path: &Path, store: &super::Store, errno: Errno) -> StoreError {
    StoreError::LockUnavailable {
        path: path.to_path_buf(),
        filesystem: super::filesystem::detect(store.dir()).to_string(),
        errno,
    }
}

/// What to do about a lock the filesystem refused with `errno` (the help of
/// [`StoreError::LockUnavailable`]).
pub(super) fn unavailable_help(errno: Errno) -> String {
    let elsewhere = "or put the store on a filesystem whose locks work (`--store PATH`; a local disk serves a local run)";
    match errno {
        Errno::ENOSYS | Errno::EOPNOTSUPP | Errno::EINVAL => format!(
            "this filesystem does not lock files. On Lustre, ask the administrators to mount it with `-o flock` (`-o localflock` keeps locks to one node, which is not enough for a store used from several); on NFSv3, the mount must not use `nolock` and lockd/rpc.statd must run on both ends; {elsewhere}. labtrail does not run without its lock: two runners of one run would run its tasks twice"
        ),
        Errno::ENOLCK => format!(
            "the lock service refused or did not answer, {LOCK_TRIES} times in a row (on NFSv3: is rpc.statd running here, and lockd on the server? `rpcinfo -p SERVER` lists `nlockmgr` when it is); try again later, ask the administrators, {elsewhere}"
        ),
        Errno::EACCES | Errno::EPERM => format!(
            "no permission to lock this file: the store belongs to someone else or is read-only; read commands still work, and a run needs a store of your own ({elsewhere})"
        ),
        _ => format!(
            "the filesystem failed, {LOCK_TRIES} times in a row (a file server unreachable or restarting?); check the mount (`findmnt -T STORE`) and try again, {elsewhere}"
        ),
    }
}

/// Test hook, debug builds only: `LABTRAIL_FAKE_LOCK_ERRNO=ENOLCK` makes every lock try fail with
/// that errno, `ENOLCK:2` only the first two of this process. A fake, because no filesystem here
/// refuses locks (real Lustre or NFS without lockd is not available to tests).
fn fault_injection_fake_lock_errno() -> Option<Errno> {
    #[cfg(debug_assertions)]
    {
        use std::sync::atomic::{AtomicU32, Ordering};
        static TRIES: AtomicU32 = AtomicU32::new(0);
        let value = std::env::var("LABTRAIL_FAKE_LOCK_ERRNO").ok()?;
        let (name, times) = match value.split_once(':') {
            Some((name, n)) => (name.to_string(), n.parse::<u32>().ok()?),
            None => (value, u32::MAX),
        };
        let errno = [
            Errno::ENOLCK,
            Errno::ENOSYS,
            Errno::EOPNOTSUPP,
            Errno::EACCES,
            Errno::EIO,
        ]
        .into_iter()
        .find(|e| format!("{e:?}") == name)?;
        (TRIES.fetch_add(1, Ordering::SeqCst) < times).then_some(errno)
    }
    #[cfg(not(debug_assertions))]
    None
}
/// The holder a held lock file names. A holder empties the file and then writes its name: read
/// in between, the file names no one (and "PID 0" made the message advise `kill 0`, which
/// signals the whole process group), so it is read again for a while; `None` if it never names
/// a holder.
pub(super) fn holder_named(file: &mut File) -> Option<(u32, String, String)> {
    for _ in 0..50 {
        let mut text = String::new();
        let read = std::io::Seek::rewind(file)
            .and_then(|()| std::io::Read::read_to_string(file, &mut text));
        let (pid, host, since) = super::lock::describe(&text);
        if read.is_ok() && pid != 0 && host != "?" {
            return Some((pid, host, since));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{RunLock, Store, StoreError};
    use nix::fcntl::{Flock, FlockArg};
    use std::fs::File;

    /// Issue 10 (review): a runner that finds the lock held while its holder has emptied the
    /// file but not yet written its name said "PID 0 on host ?" and advised `kill 0`. The file
    /// is read again until it names the holder (here written 100 ms later).
    #[test]
    fn a_lock_file_read_before_its_holder_wrote_it_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        drop(RunLock::acquire(&store, "r").unwrap());
        let path = store.lock_path("r");
        // The holder, between its truncation and its write: a real flock on the emptied file.
        let held = Flock::lock(File::create(&path).unwrap(), FlockArg::LockExclusive).unwrap();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(100));
                std::fs::write(&path, r#"{"pid": 4242, "host": "h", "since": "s"}"#).unwrap();
            })
        };
        let err = RunLock::acquire(&store, "r").err().expect("held");
        writer.join().unwrap();
        assert!(matches!(err, StoreError::Locked { pid: 4242, .. }), "{err}");
        drop(held);
    }

    /// Issue 10 (review): a held lock whose file never names its holder gives no PID and no
    /// `kill` advice.
    #[test]
    fn a_held_lock_that_names_no_holder_gives_no_kill_advice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join(".labtrail"), true).unwrap();
        drop(RunLock::acquire(&store, "r").unwrap());
        let held = Flock::lock(
            File::create(store.lock_path("r")).unwrap(),
            FlockArg::LockExclusive,
        )
        .unwrap();
        let err = RunLock::acquire(&store, "r").err().expect("held");
        assert!(matches!(err, StoreError::LockedByUnknown { .. }), "{err}");
        assert!(!err.to_string().contains("kill"), "{err}");
        drop(held);
    }
}
