//! The files' part of a snapshot: the completion flags that exist (with their modification
//! time) and the measured folders' disk usage.

use super::clock;
use super::config::{ExperimentRule, SnapshotConfig};
use super::du::{self, DuOptions};
use super::model::{Disk, Flag};
use crate::plan::glob_walk::{self, Bounds};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the flag globs may walk, all together: a pattern like `**/*.flag` over a huge tree
/// must not hold the snapshot up; what it found until then is kept, with a warning.
const FLAG_WALK_LIMIT: Duration = Duration::from_secs(30);

/// The flags that exist, sorted by path, and warnings about patterns that could not be walked.
pub(crate) fn flags(cfg: &SnapshotConfig) -> (Vec<Flag>, Vec<String>) {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut warnings = Vec::new();
    let bounds = Bounds {
        deadline: Some(Instant::now() + FLAG_WALK_LIMIT),
        ..Bounds::default()
    };
    for pattern in &cfg.flags {
        let m = match glob_walk::matches(&cfg.base, pattern, &bounds) {
            Ok(m) => m,
            Err(e) => {
                warnings.push(format!("flag pattern `{pattern}` is not a valid glob: {e}"));
                continue;
            }
        };
        if let Some(cut) = m.cut_short {
            warnings.push(format!(
                "flag pattern `{pattern}`: {cut}; the flags found until then are recorded"
            ));
        }
        for p in m.paths.into_iter().filter(|p| p.is_file()) {
            found.insert(relative(&cfg.base, &p), p);
        }
    }
    let flags = found
        .into_iter()
        .map(|(rel, abs)| Flag {
            name: abs
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            mtime: std::fs::metadata(&abs)
                .and_then(|m| m.modified())
                .ok()
                .and_then(clock::local_from_system)
                .unwrap_or_default(),
            experiment: rule_of_flag(&cfg.experiments, &rel),
            path: rel,
        })
        .collect();
    (flags, warnings)
}

/// `path` relative to `base` when it is under it (`.` for the base itself), else as it is.
fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path).to_string_lossy();
    if rel.is_empty() {
        ".".into()
    } else {
        rel.into_owned()
    }
}

/// The first rule whose `done_flag` or `flags` names the flag: by its whole relative path, or,
/// for a pattern without `/`, by its file name.
pub(crate) fn rule_of_flag(rules: &[ExperimentRule], rel: &str) -> Option<String> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    rules
        .iter()
        .find(|r| {
            r.done_flag.iter().chain(&r.flags).any(|p| {
                glob::Pattern::new(p)
                    .is_ok_and(|g| g.matches(rel) || (!p.contains('/') && g.matches(name)))
            })
        })
        .map(|r| r.name.clone())
}

/// Measures each configured folder, each with the configured budget.
pub(crate) fn disks(cfg: &SnapshotConfig) -> Vec<(String, Disk)> {
    let opts = DuOptions {
        budget: cfg.disk_budget,
        cross_mounts: cfg.cross_mounts,
        ..DuOptions::default()
    };
    cfg.measure
        .iter()
        .map(|(name, path)| {
            let started = Instant::now();
            let figure = du::measure(path, &opts);
            let took_ms = started.elapsed().as_millis() as u64;
            (
                name.clone(),
                disk_of(relative(&cfg.base, path), figure, took_ms),
            )
        })
        .collect()
}

/// One walk's figure as recorded; a folder that cannot be read has its error and no size.
pub(crate) fn disk_of(path: String, figure: std::io::Result<du::DiskFigure>, took_ms: u64) -> Disk {
    match figure {
        Ok(f) => Disk {
            path,
            human: du::human(f.bytes),
            bytes: f.bytes,
            allocated_bytes: f.allocated_bytes,
            files: f.files,
            dirs: f.dirs,
            partial: f.partial,
            took_ms,
            error: (f.unreadable > 0).then(|| {
                format!(
                    "{} entries could not be read and are left out, the first: {}",
                    f.unreadable,
                    f.first_error.as_deref().unwrap_or("?")
                )
            }),
        },
        Err(e) => Disk {
            path,
            took_ms,
            error: Some(format!("cannot be measured: {e}")),
            ..Disk::default()
        },
    }
}
