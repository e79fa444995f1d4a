//! Disk usage by a parallel walk: `du -sb`'s apparent-size figure (directories and symlinks
//! included, each hard-linked inode once), allocated bytes as `du -s` counts them, file and
//! folder counts; no crossing into other filesystems unless asked; a time budget after which
//! the figure is marked partial.
//!
//! The figure is the one `du -sb ROOT/` prints (`du -sbx` unless `cross_mounts`): a root that is
//! a symlink to a directory is measured through the link, because a configured `~/scratch` that
//! points at `/scratch/$USER` means the folder, not the 20-byte link. Below the root, symlinks
//! are never followed and count their own size, like `du`. An entry on another filesystem (a
//! mount point) is skipped whole, mount point included, as `du -x` does. Unreadable entries
//! (permission denied, vanished during the walk) are counted and the first one by path is named;
//! a directory that cannot be listed still counts its own size, as in `du`.

mod human;
mod walk;

pub use human::human;

use std::path::Path;
use std::time::Duration;

/// How to walk.
#[derive(Debug, Clone)]
pub struct DuOptions {
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Stop after this long and mark the figure partial.
    pub budget: Duration,
    /// Walk into other mounted filesystems.
    pub cross_mounts: bool,
}

impl Default for DuOptions {
    fn default() -> Self {
        DuOptions {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 16)),
            budget: Duration::from_secs(60),
            cross_mounts: false,
        }
    }
}

/// What a walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskFigure {
    /// Apparent bytes (`du -sb`).
    pub bytes: u64,
    /// Allocated bytes (512-byte blocks × 512).
    pub allocated_bytes: u64,
    /// Non-directories counted.
    pub files: u64,
    /// Directories counted (the root included).
    pub dirs: u64,
    /// The budget ran out: a lower bound.
    pub partial: bool,
    /// Entries that could not be read (permission denied, vanished), with the first one's path.
    pub unreadable: u64,
    /// The first unreadable entry and why.
    pub first_error: Option<String>,
}

/// Measures `root`. Errs only when `root` itself cannot be read; the error names `root`.
pub fn measure(root: &Path, opts: &DuOptions) -> std::io::Result<DiskFigure> {
    walk::measure(root, opts)
}
