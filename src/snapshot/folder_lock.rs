//! The snapshot folder's lock: `.snapshot.lock`, created with `O_EXCL` and naming its holder
//! (`host:pid:since`). Not `flock`: the folder may be on a filesystem shared by login nodes,
//! where locks do not reach another host (or do not work at all). A lock is stale, and taken
//! over, when its pid is dead on this host, or when it is older than [`STALE_ELSEWHERE`] and
//! was taken on another host (whose processes cannot be seen from here); a snapshot takes
//! seconds, a disk walk at most its budget.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The lock file's name in the snapshot folder.
pub const LOCK_FILE: &str = ".snapshot.lock";

/// A lock taken on another host is stale after this long.
pub const STALE_ELSEWHERE: Duration = Duration::from_secs(10 * 60);

/// A lock file that names nobody (its holder died between creating and writing it) is stale
/// after this long.
const STALE_EMPTY: Duration = Duration::from_secs(10);

/// A held folder lock; the file is removed on drop.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    /// The holder whose stale lock was taken over, if one was.
    pub taken_over_from: Option<String>,
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// A live holder (or one on another host, not yet stale) has it: `host:pid:since`.
    Held(String),
    /// The folder cannot be written.
    Io(std::io::Error),
    /// The wait was stopped (SIGINT/SIGTERM to an `--every` loop).
    Stopped,
}

impl FolderLock {
    /// Takes the lock of `dir`, waiting up to `wait` for a live holder to let go.
    pub fn acquire(dir: &Path, wait: Duration) -> Result<FolderLock, LockError> {
        FolderLock::acquire_unless(dir, wait, None)
    }

    /// [`FolderLock::acquire`] that gives up with [`LockError::Stopped`] as soon as `stop` is
    /// set: an `--every` loop told to end must not first wait out another holder.
    pub fn acquire_unless(
        dir: &Path,
        wait: Duration,
        stop: Option<&AtomicBool>,
    ) -> Result<FolderLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let deadline = std::time::Instant::now() + wait;
        let mut taken_over_from = None;
        loop {
            match create(&path) {
                Ok(()) => {
                    return Ok(FolderLock {
                        path,
                        taken_over_from,
                    })
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(LockError::Io(e)),
            }
            let (holder, stale) = judge(&path);
            if stale {
                if take_over(&path, &holder) {
                    taken_over_from = Some(holder);
                }
                continue;
            }
            if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                return Err(LockError::Stopped);
            }
            if std::time::Instant::now() >= deadline {
                return Err(LockError::Held(holder));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The text a lock file holds: `host:pid:since` (RFC 3339), then ` start=TICKS@BOOT_ID`: the
/// process's start time since boot and the boot's id, so that a pid reused after a reboot or
/// a crash (another, live process) is not taken for the holder.
fn holder_text() -> String {
    let mut text = format!(
        "{}:{}:{}",
        crate::exec::process::hostname(),
        std::process::id(),
        jiff::Zoned::now().strftime("%Y-%m-%dT%H:%M:%S%:z")
    );
    if let Some(start) = process_start(std::process::id() as i32) {
        text.push_str(&format!(" start={start}"));
    }
    text
}

/// `TICKS@BOOT_ID` of process `pid` (field 22 of /proc/PID/stat, and this boot's id).
fn process_start(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after its last `)`.
    let after = &stat[stat.rfind(')')? + 1..];
    let ticks = after.split_whitespace().nth(19)?;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(format!("{ticks}@{}", boot.trim()))
}

fn create(path: &Path) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(holder_text().as_bytes())?;
    f.sync_all()
}

/// Who holds the lock at `path` (as its text says), and whether that holder is gone.
fn judge(path: &Path) -> (String, bool) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let age = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    let mut parts = text.trim().splitn(3, ':');
    let (host, pid) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let shown = if text.trim().is_empty() {
        "(an unnamed holder)".to_string()
    } else {
        text.trim().escape_default().to_string()
    };
    let stale = match pid.parse::<i32>() {
        Err(_) => age > STALE_EMPTY,
        Ok(pid) if host == crate::exec::process::hostname() => {
            // A live pid that is another process than the one that wrote the lock: stale.
            let recorded = text.split_once(" start=").map(|(_, s)| s.trim());
            !alive(pid) || recorded.is_some_and(|r| process_start(pid).is_some_and(|now| now != r))
        }
        Ok(_) => age > STALE_ELSEWHERE,
    };
    (shown, stale)
}

/// Whether a process `pid` exists on this host.
fn alive(pid: i32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// Removes the stale lock at `path` whose holder is `judged`. Two processes may judge the same
/// stale lock at once, and the slower one must not remove the lock the faster one just made:
/// the file is renamed aside first (atomic, one winner per file), and put back when it turns
/// out to be someone else's fresh lock. Whether this call removed it.
fn take_over(path: &Path, judged: &str) -> bool {
    let aside = path.with_extension(format!("lock.stale-{}", std::process::id()));
    if std::fs::rename(path, &aside).is_err() {
        return false;
    }
    let (now, _) = judge(&aside);
    if now != judged {
        // Someone else's lock: back under its name unless a third process made one meanwhile.
        let _ = std::fs::hard_link(&aside, path);
        let _ = std::fs::remove_file(&aside);
        return false;
    }
    let _ = std::fs::remove_file(&aside);
    true
}
