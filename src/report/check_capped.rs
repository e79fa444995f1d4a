//! Findings that can be many (a folder of 200,000 stray files): of each kind in each folder,
//! `check` keeps the first few and counts the rest, so that its output and its memory stay
//! small whatever a folder holds; `check --all` keeps every one.

use super::check::{shell_word, Finding, FindingKind, Severity};
use std::path::{Path, PathBuf};

/// How many findings of one kind in one folder `check` lists without `--all`.
pub const EXAMPLES: usize = 20;

/// The findings of one kind about the entries of one folder, the first `limit` kept.
pub(super) struct Capped {
    limit: usize,
    kept: Vec<Finding>,
    /// Entries seen past the limit.
    more: u64,
}

impl Capped {
    /// At most `limit` findings kept (`usize::MAX`: all).
    pub(super) fn new(limit: usize) -> Capped {
        Capped {
            limit,
            kept: Vec::new(),
            more: 0,
        }
    }

    /// Whether another finding would be kept.
    pub(super) fn has_room(&self, kept_so_far: usize) -> bool {
        kept_so_far < self.limit
    }

    /// Keeps the finding `make` makes if there is room, else counts it.
    pub(super) fn push(&mut self, make: impl FnOnce() -> Finding) {
        if self.has_room(self.kept.len()) {
            self.kept.push(make());
        } else {
            self.more += 1;
        }
    }

    /// Counts an entry that is not kept.
    pub(super) fn count_more(&mut self) {
        self.more += 1;
    }

    /// The findings kept, plus one that says how many more entries of `folder` there are.
    pub(super) fn finish(
        mut self,
        kind: FindingKind,
        run: &str,
        folder: &Path,
        what: &str,
    ) -> Vec<Finding> {
        if self.more > 0 {
            let mut f = Finding::new(kind, Severity::Notice, run, format!(
                "{} more {what} in {}, not listed one by one: `labtrail check --all` lists every one (with --json too)",
                self.more,
                shell_word(folder)
            ));
            f.paths.push(PathBuf::from(folder));
            f.more = self.more;
            self.kept.push(f);
        }
        self.kept
    }

    /// Adds findings made elsewhere (kept within the same limit by their maker).
    pub(super) fn extend(&mut self, found: impl IntoIterator<Item = Finding>) {
        self.kept.extend(found);
    }
}
