//! STAND-INS, until the write and index lanes of issue 13 are merged: minimal versions of
//! `snapshot::write::{list, read}`, `snapshot::git_commit::commit_folder` and
//! `app::snapshots_index::forget_files` (same signatures), so that `snapshots prune` runs and
//! its tests pass on this branch. At the merge, delete this file and point the four `use`s in
//! `snapshots_prune.rs` at the real functions.

use crate::app::snapshots_index::IndexError;
use crate::snapshot::git_commit::CommitOutcome;
use crate::snapshot::write::{is_snapshot_file, SnapshotFileError};
use crate::snapshot::Snapshot;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Stand-in for `snapshot::write::list`: snapshot files in `dir`, by name.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_str().is_some_and(is_snapshot_file) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Stand-in for `snapshot::write::read`.
pub fn read(path: &Path) -> Result<Snapshot, SnapshotFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| SnapshotFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| SnapshotFileError::Invalid {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Stand-in for `app::snapshots_index::forget_files`: the index is lane C's; until it is here
/// there is nothing to forget (its queries catch up from the files).
pub fn forget_files(dir: &Path, file_names: &[String]) -> Result<(), IndexError> {
    let _ = (dir, file_names);
    Ok(())
}

/// Stand-in for `snapshot::git_commit::commit_folder`: `git add -A -- .` and
/// `git commit --only -- .` in `dir`, so the user's other staged files stay staged; no
/// `index.lock` retries (lane A2 has them).
pub fn commit_folder(dir: &Path, message: &str) -> CommitOutcome {
    let git = |args: &[&str]| Command::new("git").current_dir(dir).args(args).output();
    match git(&["rev-parse", "--is-inside-work-tree"]) {
        Ok(o) if o.status.success() => {}
        _ => return CommitOutcome::NotARepository,
    }
    match git(&["status", "--porcelain", "--", "."]) {
        Ok(o) if o.status.success() && o.stdout.is_empty() => {
            return CommitOutcome::NothingToCommit
        }
        Ok(o) if o.status.success() => {}
        Ok(o) => return CommitOutcome::Skipped(String::from_utf8_lossy(&o.stderr).into()),
        Err(e) => return CommitOutcome::Skipped(e.to_string()),
    }
    if let Err(why) = ok(git(&["add", "-A", "--", "."])) {
        return CommitOutcome::Skipped(why);
    }
    let mut args = Vec::new();
    for (key, fallback) in [
        ("user.name", "labtrail"),
        ("user.email", "labtrail@localhost"),
    ] {
        let set = git(&["config", key]).is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
        if !set {
            args.push("-c".to_string());
            args.push(format!("{key}={fallback}"));
        }
    }
    args.extend(["commit", "--only", "-q", "-m", message, "--", "."].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Err(why) = ok(git(&args)) {
        return CommitOutcome::Skipped(why);
    }
    match git(&["rev-parse", "HEAD"]) {
        Ok(o) if o.status.success() => {
            CommitOutcome::Committed(String::from_utf8_lossy(&o.stdout).trim().to_string())
        }
        _ => CommitOutcome::Skipped("the commit's id could not be read".into()),
    }
}

fn ok(out: std::io::Result<std::process::Output>) -> Result<(), String> {
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}
