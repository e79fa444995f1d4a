//! Taking one snapshot (`labtrail snapshot`): the folder's lock, the slot check (another host
//! took this slot: skip), collect, write (nothing when unchanged), index, `--commit`; and the
//! `--every` loop.

use crate::snapshot::config::SnapshotConfig;
use crate::snapshot::folder_lock::{FolderLock, LockError, LOCK_FILE};
use crate::snapshot::git_commit::{commit_folder, CommitOutcome};
use crate::snapshot::{write, Snapshot};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long a snapshot waits for another one being taken in the same folder, beyond the disk
/// walks' budget (a snapshot takes seconds, its disk walks up to their budget), before it
/// gives up with [`TakeError::Locked`].
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// What one `labtrail snapshot` invocation is asked to do.
#[derive(Debug, Clone)]
pub struct TakeOptions {
    /// The snapshot folder (created when missing).
    pub dir: PathBuf,
    /// Commit the folder afterwards.
    pub commit: bool,
    /// What to look at.
    pub config: SnapshotConfig,
    /// Set by SIGINT/SIGTERM in an `--every` loop: a wait for the folder's lock ends at once.
    pub stop: Option<Arc<AtomicBool>>,
}

/// What it did.
#[derive(Debug, Clone, PartialEq)]
pub enum TakeOutcome {
    /// A new snapshot file.
    Written {
        /// The file.
        file: PathBuf,
        /// Jobs running, pending.
        running: u64,
        /// Jobs pending.
        pending: u64,
        /// What `--commit` did (None without it).
        commit: Option<CommitOutcome>,
        /// Warnings to print (index not updated, a disk walk partial, ...).
        warnings: Vec<String>,
    },
    /// Nothing changed since the latest snapshot: nothing written.
    Unchanged {
        /// The latest snapshot, which still says it all.
        latest: PathBuf,
        /// What `--commit` did (None without it): an earlier snapshot whose commit was skipped
        /// (a held `index.lock`) is committed now, even when nothing new was written.
        commit: Option<CommitOutcome>,
        /// Warnings to print: the same as the latest snapshot's (a scheduler that still does
        /// not answer, a flag pattern that is still wrong), and this run's own.
        warnings: Vec<String>,
    },
    /// Another host (or process) took a snapshot within this slot: nothing written.
    SlotTaken {
        /// Its file.
        latest: PathBuf,
        /// The host that took it.
        host: String,
    },
}

/// Why a snapshot could not be taken (the folder cannot be made or written; the lock is held
/// by a live process past the wait).
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    /// The folder could not be created or written.
    #[error("cannot write the snapshot folder {path}: {source}")]
    Folder {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another process holds the folder's lock.
    #[error("{path} is held by {holder}; another snapshot is being taken")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// host:pid and since when.
        holder: String,
    },
    /// Stopped (SIGINT/SIGTERM of an `--every` loop) while waiting for the folder's lock.
    #[error("stopped while waiting for the snapshot folder's lock")]
    Stopped,
}

/// The parts of taking a snapshot that belong to other modules, as functions: [`take`] uses the
/// real ones; a test hands its own collector (snapshots it built) to [`take_with`].
pub struct Parts<'a> {
    /// Looks at everything (the folder's latest snapshot given): [`crate::snapshot::collect`].
    pub collect: &'a dyn Fn(&SnapshotConfig, Option<&Snapshot>) -> Snapshot,
    /// Adds the written file (its name in the folder) to the folder's index.
    pub index: &'a dyn Fn(&Path, &str, &Snapshot) -> Result<(), super::snapshots_index::IndexError>,
}

/// Takes one snapshot.
pub fn take(opts: &TakeOptions) -> Result<TakeOutcome, TakeError> {
    let sched = crate::exec::slurm::Scheduler::new();
    let collect = |cfg: &SnapshotConfig, previous: Option<&Snapshot>| {
        crate::snapshot::collect::collect(cfg, previous, &sched)
    };
    let parts = Parts {
        collect: &collect,
        index: &super::snapshots_index::index_file,
    };
    take_with(opts, &parts)
}

/// [`take`] with the collector and the indexer given.
pub fn take_with(opts: &TakeOptions, parts: &Parts) -> Result<TakeOutcome, TakeError> {
    let started = SystemTime::now();
    let clock = Instant::now();
    let dir = &opts.dir;
    let folder_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TakeError::Folder { path, source }
    };
    std::fs::create_dir_all(dir).map_err(folder_error(dir))?;
    // The files before the lock: a new one after it was written by a snapshot that ran while
    // this one waited.
    let before = write::list(dir).map_err(folder_error(dir))?;
    // Lets a test start a second snapshot that waits for the first one's lock.
    crate::store::fault::fault_injection_pause_point("snapshot-started");
    let wait = opts.config.disk_budget.saturating_add(LOCK_WAIT);
    let lock =
        FolderLock::acquire_unless(dir, wait, opts.stop.as_deref()).map_err(|e| match e {
            LockError::Held(holder) => TakeError::Locked {
                path: dir.join(LOCK_FILE),
                holder,
            },
            LockError::Io(source) => TakeError::Folder {
                path: dir.join(LOCK_FILE),
                source,
            },
            LockError::Stopped => TakeError::Stopped,
        })?;
    let mut warnings = Vec::new();
    if let Some(holder) = &lock.taken_over_from {
        warnings.push(format!(
            "took over the lock of a snapshot that ended without releasing it ({holder})"
        ));
    }
    write::remove_leftover_temps(dir).map_err(folder_error(dir))?;
    let (latest, answered) = latest_readable(dir, &mut warnings).map_err(folder_error(dir))?;
    if let Some((path, snap)) = &latest {
        let new = !before.contains(path);
        if slot_taken(snap, new, started, opts.config.slot) {
            return Ok(TakeOutcome::SlotTaken {
                latest: path.clone(),
                host: snap.host.clone(),
            });
        }
    }
    // Which jobs ended is judged against the latest snapshot whose scheduler answered: one that
    // failed knows no jobs, and would make every job look gone (issue 13, review r3 #2).
    let mut snap = (parts.collect)(&opts.config, answered.as_ref());
    let time = fill_in(&mut snap, clock);
    // The collector's warnings (a scheduler that did not answer, a flag pattern that is wrong, a
    // store that cannot be opened) are printed, not only recorded (review r1 M5, r3 #3).
    let mut warnings: Vec<String> = snap.warnings.iter().cloned().chain(warnings).collect();
    if let Some((path, previous)) = &latest {
        if previous.content_digest() == snap.content_digest() {
            let commit = opts
                .commit
                .then(|| commit_folder(dir, &commit_message(previous)));
            if let Some(CommitOutcome::Skipped(why)) = &commit {
                warnings.push(why.clone());
            }
            return Ok(TakeOutcome::Unchanged {
                latest: path.clone(),
                commit,
                warnings,
            });
        }
    }
    let file = write::write_new(dir, &snap, &time).map_err(folder_error(dir))?;
    let name = file_name_of(&file);
    if let Err(e) = (parts.index)(dir, &name, &snap) {
        warnings.push(e.to_string());
    }
    for (name, disk) in &snap.disk {
        if disk.partial {
            warnings.push(format!(
                "the disk usage of {name} is partial: its walk reached the time budget"
            ));
        }
    }
    let commit = opts
        .commit
        .then(|| commit_folder(dir, &commit_message(&snap)));
    if let Some(CommitOutcome::Skipped(why)) = &commit {
        warnings.push(why.clone());
    }
    drop(lock);
    Ok(TakeOutcome::Written {
        file,
        running: snap.counts.running,
        pending: snap.counts.pending,
        commit,
        warnings,
    })
}

fn file_name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `--commit`'s message: when, and how many jobs ran, or that the scheduler did not answer
/// (its `0 running` would be a false figure).
fn commit_message(snap: &Snapshot) -> String {
    if snap.scheduler.status == "failed" {
        format!("snapshot {} scheduler failed", snap.snapshot_timestamp)
    } else {
        format!(
            "snapshot {} {} running",
            snap.snapshot_timestamp, snap.counts.running
        )
    }
}

/// The latest readable snapshot and the latest one whose scheduler answered (`slurm` or
/// `absent`; the same one unless the latest failed). Files that cannot be read are skipped
/// with a warning.
type Latest = (Option<(PathBuf, Snapshot)>, Option<Snapshot>);

/// The newest snapshot in `dir` that can be read, and the newest whose scheduler answered.
fn latest_readable(dir: &Path, warnings: &mut Vec<String>) -> std::io::Result<Latest> {
    let mut latest = None;
    for path in write::newest_first(dir)? {
        match write::read(&path) {
            Ok(snap) if snap.scheduler.status != "failed" => {
                let answered = Some(snap.clone());
                return Ok((latest.or(Some((path, snap))), answered));
            }
            Ok(snap) => {
                latest = latest.or(Some((path, snap)));
            }
            Err(e) if latest.is_none() => warnings.push(format!("{e} (left out)")),
            Err(_) => {}
        }
    }
    Ok((latest, None))
}

/// Whether `latest` already took this slot: it is younger than `slot` and was taken by another
/// host, or is `new` (written by another process while this one waited for the lock). This
/// host's own earlier snapshots never count: a cron entry every minute with a one-minute slot
/// must not skip every other one.
fn slot_taken(latest: &Snapshot, new: bool, started: SystemTime, slot: Duration) -> bool {
    let Ok(taken) = latest.snapshot_timestamp.parse::<jiff::Timestamp>() else {
        return false;
    };
    let now = jiff::Timestamp::try_from(started).unwrap_or_else(|_| jiff::Timestamp::now());
    let age = now.duration_since(taken).unsigned_abs();
    age < slot && (new || latest.host != crate::exec::process::hostname())
}

/// Sets what the collector may have left out (when, where, by which labtrail, how long it took)
/// and returns the local time the file is named by.
fn fill_in(snap: &mut Snapshot, clock: Instant) -> jiff::Zoned {
    let tz = jiff::tz::TimeZone::system();
    let time = match snap.snapshot_timestamp.parse::<jiff::Timestamp>() {
        Ok(t) => t.to_zoned(tz),
        Err(_) => {
            let now = jiff::Zoned::now().with_time_zone(tz);
            snap.snapshot_timestamp = rfc3339(&now);
            now
        }
    };
    if snap.host.is_empty() {
        snap.host = crate::exec::process::hostname();
    }
    if snap.schema == 0 {
        snap.schema = crate::snapshot::model::SNAPSHOT_SCHEMA;
    }
    if snap.labtrail_version.is_empty() {
        snap.labtrail_version = env!("CARGO_PKG_VERSION").to_string();
    }
    if snap.took_ms == 0 {
        snap.took_ms = clock.elapsed().as_millis() as u64;
    }
    time
}

/// `time` as RFC 3339 with its UTC offset, to the second (`2026-01-27T18:00:00+01:00`).
pub fn rfc3339(time: &jiff::Zoned) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// Takes a snapshot every `every` (counted from the start of the previous one; one that took
/// longer than `every` is followed by the next at once, missed ones are not stacked) until
/// `stop` is set, which it checks between snapshots and while it waits. `take_one` takes one
/// and reports it. Returns how many were taken.
pub fn take_every(every: Duration, stop: &AtomicBool, mut take_one: impl FnMut()) -> u64 {
    let mut taken = 0;
    while !stop.load(Ordering::SeqCst) {
        let start = Instant::now();
        take_one();
        taken += 1;
        while start.elapsed() < every && !stop.load(Ordering::SeqCst) {
            let left = every.saturating_sub(start.elapsed());
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
    }
    taken
}
