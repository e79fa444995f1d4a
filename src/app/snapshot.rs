//! Taking one snapshot (`labtrail snapshot`): the folder's lock, the slot check (another host
//! took this slot: skip), collect, write (nothing when unchanged), index, `--commit`; and the
//! `--every` loop.

use crate::snapshot::config::SnapshotConfig;
use crate::snapshot::git_commit::CommitOutcome;
use std::path::PathBuf;

/// What one `labtrail snapshot` invocation is asked to do.
#[derive(Debug, Clone)]
pub struct TakeOptions {
    /// The snapshot folder (created when missing).
    pub dir: PathBuf,
    /// Commit the folder afterwards.
    pub commit: bool,
    /// What to look at.
    pub config: SnapshotConfig,
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
}

/// Takes one snapshot.
pub fn take(opts: &TakeOptions) -> Result<TakeOutcome, TakeError> {
    let _ = opts;
    todo!("lane A2")
}
