//! The parallel walk behind [`super::measure`]: a few threads share a stack of directories still
//! to list; each lists one directory with `getdents` and `fstatat` relative to its open handle
//! (no path resolution per entry), adds to its own tally, and pushes the subdirectories it found.
//! The walk ends when the stack is empty and no thread is listing, or when the budget runs out.

use super::{DiskFigure, DuOptions};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// How many entries a thread lists between two looks at the clock (a single huge directory must
/// not run past the budget).
const ENTRIES_PER_CLOCK_CHECK: u32 = 4096;

/// A directory still to list; the root comes already open (it may be reached through a symlink,
/// which the others may not).
struct Job {
    path: PathBuf,
    open: Option<OwnedFd>,
}

struct Queue {
    jobs: Vec<Job>,
    /// Threads listing a directory now (they may still push more work).
    listing: usize,
    done: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// (dev, ino) of non-directories with more than one link: the first one seen counts.
    linked: Mutex<HashSet<(u64, u64)>>,
    root_dev: u64,
    cross_mounts: bool,
    deadline: Option<Instant>,
    out_of_time: AtomicBool,
}

/// One thread's sums; merged at the end.
#[derive(Default)]
struct Tally {
    figure: DiskFigure,
    /// The unreadable entry with the smallest path (so the named one does not depend on timing).
    first_error: Option<(PathBuf, String)>,
}

impl Tally {
    fn count(&mut self, st: &Stat) {
        self.figure.bytes += u64::try_from(st.st_size).unwrap_or(0);
        self.figure.allocated_bytes += u64::try_from(st.st_blocks).unwrap_or(0) * 512;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            self.figure.dirs += 1;
        } else {
            self.figure.files += 1;
        }
    }

    fn unreadable(&mut self, path: PathBuf, err: rustix::io::Errno) {
        self.figure.unreadable += 1;
        if self.first_error.as_ref().is_none_or(|(p, _)| path < *p) {
            let why = io::Error::from(err).to_string();
            self.first_error = Some((path, why));
        }
    }

    fn merge(&mut self, other: Tally) {
        let (a, b) = (&mut self.figure, other.figure);
        a.bytes += b.bytes;
        a.allocated_bytes += b.allocated_bytes;
        a.files += b.files;
        a.dirs += b.dirs;
        a.unreadable += b.unreadable;
        if let Some((path, why)) = other.first_error {
            if self.first_error.as_ref().is_none_or(|(p, _)| path < *p) {
                self.first_error = Some((path, why));
            }
        }
    }
}

/// See [`super::measure`].
pub(super) fn measure(root: &Path, opts: &DuOptions) -> io::Result<DiskFigure> {
    let named = |e: rustix::io::Errno| {
        let e = io::Error::from(e);
        io::Error::new(e.kind(), format!("{}: {e}", root.display()))
    };
    let mut tally = Tally::default();
    // Follows a symlinked root (see the module doc), like `du -sb ROOT/`.
    let root_stat = rustix::fs::stat(root).map_err(named)?;
    tally.count(&root_stat);
    if FileType::from_raw_mode(root_stat.st_mode) != FileType::Directory {
        return Ok(tally.figure);
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = rustix::fs::open(root, flags, Mode::empty()).map_err(named)?;
    let shared = Shared {
        queue: Mutex::new(Queue {
            jobs: vec![Job {
                path: root.to_path_buf(),
                open: Some(fd),
            }],
            listing: 0,
            done: false,
        }),
        wake: Condvar::new(),
        linked: Mutex::new(HashSet::new()),
        root_dev: root_stat.st_dev,
        cross_mounts: opts.cross_mounts,
        deadline: Instant::now().checked_add(opts.budget),
        out_of_time: AtomicBool::new(false),
    };
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..opts.threads.max(1))
            .map(|_| scope.spawn(|| work(&shared)))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for t in tallies {
        tally.merge(t);
    }
    let mut figure = tally.figure;
    figure.partial = shared.out_of_time.load(Ordering::Relaxed);
    figure.first_error = tally
        .first_error
        .map(|(path, why)| format!("{}: {why}", path.display()));
    Ok(figure)
}

fn past_deadline(shared: &Shared) -> bool {
    if shared.deadline.is_some_and(|d| Instant::now() >= d) {
        shared.out_of_time.store(true, Ordering::Relaxed);
    }
    shared.out_of_time.load(Ordering::Relaxed)
}

/// One thread: take a directory, list it, hand back the subdirectories, until the walk ends.
fn work(shared: &Shared) -> Tally {
    let mut tally = Tally::default();
    let mut found = Vec::new();
    loop {
        let job = {
            let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if q.done {
                    return tally;
                }
                if past_deadline(shared) || (q.jobs.is_empty() && q.listing == 0) {
                    q.done = true;
                    shared.wake.notify_all();
                    return tally;
                }
                if let Some(job) = q.jobs.pop() {
                    q.listing += 1;
                    break job;
                }
                q = shared.wake.wait(q).unwrap_or_else(|p| p.into_inner());
            }
        };
        list(shared, job, &mut tally, &mut found);
        let mut q = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
        q.listing -= 1;
        let pushed = found.len();
        q.jobs.append(&mut found);
        if pushed > 1 || (q.jobs.is_empty() && q.listing == 0) {
            shared.wake.notify_all();
        } else if pushed == 1 {
            shared.wake.notify_one();
        }
    }
}

/// Lists one directory: counts its entries (its own size was counted where it was found) and
/// collects its subdirectories on the same filesystem (or any, with `cross_mounts`).
fn list(shared: &Shared, job: Job, tally: &mut Tally, found: &mut Vec<Job>) {
    let fd = match job.open {
        Some(fd) => fd,
        None => {
            // NOFOLLOW: a directory swapped for a symlink since it was seen is not followed.
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            match rustix::fs::open(&job.path, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(e) => return tally.unreadable(job.path, e),
            }
        }
    };
    let mut dir = match Dir::new(fd) {
        Ok(dir) => dir,
        Err(e) => return tally.unreadable(job.path, e),
    };
    let mut since_clock = 0u32;
    while let Some(entry) = dir.read() {
        since_clock += 1;
        if since_clock == ENTRIES_PER_CLOCK_CHECK {
            since_clock = 0;
            if past_deadline(shared) {
                return;
            }
        }
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => return tally.unreadable(job.path, e),
        };
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let stat = match dir
            .fd()
            .and_then(|d| rustix::fs::statat(d.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW))
        {
            Ok(st) => st,
            Err(e) => {
                tally.unreadable(job.path.join(OsStr::from_bytes(name.to_bytes())), e);
                continue;
            }
        };
        if stat.st_dev != shared.root_dev && !shared.cross_mounts {
            continue;
        }
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            tally.count(&stat);
            let path = job.path.join(OsStr::from_bytes(name.to_bytes()));
            found.push(Job { path, open: None });
        } else if stat.st_nlink > 1 {
            let first = shared
                .linked
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert((stat.st_dev, stat.st_ino));
            if first {
                tally.count(&stat);
            }
        } else {
            tally.count(&stat);
        }
    }
}
