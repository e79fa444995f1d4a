//! `snapshot --commit` and `snapshots prune --apply`: one commit of the snapshot folder only
//! (pathspec + `--only`), never the user's other staged files; a held `index.lock` is retried,
//! then skipped with a warning (the snapshot itself is already written).

use std::path::Path;

/// What a commit attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Committed: the new commit's id.
    Committed(String),
    /// Nothing in the folder changed.
    NothingToCommit,
    /// The folder is not in a git work tree.
    NotARepository,
    /// Skipped, with the warning to print (e.g. `index.lock` held past the retries).
    Skipped(String),
}

/// Commits every change (added, modified, removed files) under `dir` and nothing else, with
/// `message`.
pub fn commit_folder(dir: &Path, message: &str) -> CommitOutcome {
    let _ = (dir, message);
    todo!("lane A2")
}
