//! The one glob matcher for `inputs`, a stage's `artifacts` and `[archive] data` patterns.
//!
//! It finds what `glob::glob` finds (a pattern is matched one path component at a time, so `*`
//! never crosses `/`; `*` matches names starting with a dot; `**` stands for zero or more
//! folders, and a trailing `**` for every folder below), with three differences, all for
//! patterns that never ended or took minutes with `glob::glob` (issue 12):
//! - under `**`, a link to a folder the walk is already in (same device and inode as one of the
//!   folders above) is not followed: `ck/a -> .` next to `ck/b -> .` made `ck/**` list 2^depth
//!   paths, for ever;
//! - the walk stops after [`Bounds::max_entries`] folder entries, at a deadline, or when asked,
//!   and says so ([`Matches::cut_short`]): the caller tells the user;
//! - a component starting with a dot (`.*`) does not match the `.` and `..` entries (glob's did,
//!   so `data/.*` named the parent folder and everything in it).
//!
//! The folder a relative pattern is taken from is never a pattern itself: its name may hold
//! `[`, `*` or `?`.

use glob::{MatchOptions, Pattern, PatternError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The most folder entries one pattern's walk looks at by default (`/usr` holds about 10^5).
pub(crate) const MAX_ENTRIES: usize = 1_000_000;

/// How far a walk may go.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds<'a> {
    /// Folder entries looked at (listed or probed) before the walk gives up.
    pub max_entries: usize,
    /// When the walk gives up, if ever.
    pub deadline: Option<Instant>,
    /// Set by someone else to stop the walk (the run ended).
    pub stop: Option<&'a AtomicBool>,
}

impl Default for Bounds<'_> {
    fn default() -> Self {
        Bounds {
            max_entries: MAX_ENTRIES,
            deadline: None,
            stop: None,
        }
    }
}

/// Why a walk ended before it had looked everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CutShort {
    /// It looked at this many entries (the cap).
    Entries(usize),
    /// Its deadline passed.
    Deadline,
    /// It was asked to stop.
    Stopped,
}

impl std::fmt::Display for CutShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CutShort::Entries(n) => write!(f, "the search looked at {n} entries, its cap"),
            CutShort::Deadline => write!(f, "the search ran out of time"),
            CutShort::Stopped => write!(f, "the search was stopped"),
        }
    }
}

/// What a pattern matched.
#[derive(Debug, Default)]
pub(crate) struct Matches {
    /// The matched paths (files, folders, links), sorted, each once.
    pub paths: Vec<PathBuf>,
    /// Folders that could not be listed, with why.
    pub unreadable: Vec<(PathBuf, std::io::Error)>,
    /// Set when the walk stopped early: `paths` holds what it found until then.
    pub cut_short: Option<CutShort>,
}

enum Part {
    Literal(String),
    Wild(Pattern),
    AnyDepth,
}

/// The paths `pattern` matches, relative to the folder `base` (an absolute pattern ignores it),
/// within `bounds`. Errs only when the pattern is not a valid glob pattern.
pub(crate) fn matches(
    base: &Path,
    pattern: &str,
    bounds: &Bounds,
) -> Result<Matches, PatternError> {
    Pattern::new(pattern)?; // the checks glob::glob makes (`a**` is refused, ...)
    let mut parts = Vec::new();
    for c in pattern.split('/').filter(|c| !c.is_empty()) {
        let part = if c == "**" {
            if matches!(parts.last(), Some(Part::AnyDepth)) {
                continue; // `**/**` is one `**`
            }
            Part::AnyDepth
        } else if c.contains(['*', '?', '[']) {
            Part::Wild(Pattern::new(c)?)
        } else {
            Part::Literal(c.to_string())
        };
        parts.push(part);
    }
    let start = if pattern.starts_with('/') {
        PathBuf::from("/")
    } else {
        base.to_path_buf()
    };
    let mut walk = Walk {
        parts,
        dirs_only: pattern.ends_with('/'),
        bounds,
        seen: 0,
        out: Matches::default(),
    };
    walk.step(start, 0, &mut Vec::new());
    let mut out = walk.out;
    out.paths.sort();
    out.paths.dedup();
    Ok(out)
}

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

struct Walk<'a, 'b> {
    parts: Vec<Part>,
    dirs_only: bool,
    bounds: &'a Bounds<'b>,
    seen: usize,
    out: Matches,
}

impl Walk<'_, '_> {
    /// Matches `parts[i..]` below `path` (which matched `parts[..i]`). `in_dirs`: the (device,
    /// inode) of the folders a `**` walked into on the way here.
    fn step(&mut self, path: PathBuf, i: usize, in_dirs: &mut Vec<(u64, u64)>) {
        if self.out.cut_short.is_some() {
            return;
        }
        if i == self.parts.len() {
            if !self.dirs_only || path.is_dir() {
                self.out.paths.push(path);
            }
            return;
        }
        match &self.parts[i] {
            Part::Literal(name) => {
                // No listing needed: the one name is probed (a dangling link counts, as in glob).
                let next = path.join(name);
                if self.visit() && std::fs::symlink_metadata(&next).is_ok() {
                    self.step(next, i + 1, in_dirs);
                }
            }
            Part::Wild(p) => {
                let p = p.clone();
                for (name, child, _) in self.children(&path) {
                    if p.matches_with(&name, OPTIONS) {
                        self.step(child, i + 1, in_dirs);
                    }
                }
            }
            Part::AnyDepth => self.any_depth(path, i, true, in_dirs),
        }
    }

    /// `**` (`parts[i]`) at the folder `dir`: the rest of the pattern is matched in `dir` and in
    /// every folder below it; a trailing `**` matches the folders below it.
    fn any_depth(&mut self, dir: PathBuf, i: usize, first: bool, in_dirs: &mut Vec<(u64, u64)>) {
        let Ok(meta) = std::fs::metadata(&dir) else {
            return;
        };
        let id = (meta.dev(), meta.ino());
        if !meta.is_dir() || in_dirs.contains(&id) {
            return; // a link back into a folder the walk is in: the loop ends here
        }
        let last = i + 1 == self.parts.len();
        if last && !first {
            self.out.paths.push(dir.clone());
        }
        in_dirs.push(id);
        if !last {
            self.step(dir.clone(), i + 1, in_dirs);
        }
        for (_, child, maybe_dir) in self.children(&dir) {
            if maybe_dir && self.out.cut_short.is_none() {
                self.any_depth(child, i, false, in_dirs);
            }
        }
        in_dirs.pop();
    }

    /// The entries of the folder `dir` by name (names that are not UTF-8 are skipped, as glob
    /// does), with whether each may be a folder (a folder or a link); nothing when `dir` is not
    /// a folder.
    fn children(&mut self, dir: &Path) -> Vec<(String, PathBuf, bool)> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
            Err(e) => {
                self.out.unreadable.push((dir.to_path_buf(), e));
                return out;
            }
        };
        for e in entries {
            if !self.visit() {
                break;
            }
            match e {
                Ok(e) => {
                    let maybe_dir = e.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink());
                    if let Ok(name) = e.file_name().into_string() {
                        out.push((name, e.path(), maybe_dir));
                    }
                }
                Err(err) => {
                    self.out.unreadable.push((dir.to_path_buf(), err));
                    break;
                }
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Counts one entry looked at; false (and the walk cut short) past a bound.
    fn visit(&mut self) -> bool {
        if self.out.cut_short.is_some() {
            return false;
        }
        self.seen += 1;
        let b = self.bounds;
        let cut = if self.seen > b.max_entries {
            Some(CutShort::Entries(b.max_entries))
        } else if b.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            Some(CutShort::Stopped)
        } else if self.seen % 256 == 1 && b.deadline.is_some_and(|d| Instant::now() >= d) {
            Some(CutShort::Deadline)
        } else {
            None
        };
        self.out.cut_short = cut;
        cut.is_none()
    }
}

#[cfg(test)]
#[path = "glob_walk_tests.rs"]
mod tests;
