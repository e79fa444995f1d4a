//! `labtrail diff A B`: what differs between two archived runs, section by section (config,
//! code, environment, packages, data, tasks, metrics, resources), only what differs unless
//! asked for all (DVC `exp diff`'s rule).
//!
//! Volatile fields never count: when an archive was written, when tasks started and ended,
//! process and job ids, nodes, when provenance was captured. Durations and memory are noisy, so
//! they count only beyond [`DiffOptions::resource_tolerance`].
//!
//! Each section lives in its own file; [`render_text`] and [`render_md`] write a [`RunDiff`] for
//! a person, JSON is the value as serde writes it.

pub mod code;
mod config;
mod data;
mod environment;
mod metrics;
mod packages;
pub mod pep440;
pub mod render_md;
pub mod render_text;
mod resources;
mod summary;
mod tasks;
mod values;

use super::archive::model::{Archive, DiffEntry, DiffSection, RunDiff};
use crate::provenance::model::Probed;

pub use summary::summary_lines;

/// How to compare.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Keep equal fields and empty sections too (`--all`).
    pub all: bool,
    /// Relative change of a metric at or below which it counts as the same (`--tolerance`,
    /// 0.01 = 1 %); 0 compares exactly.
    pub tolerance: f64,
    /// Relative change of a duration, memory or CPU figure at or below which it counts as the
    /// same: these vary from one run of the same code to the next.
    pub resource_tolerance: f64,
}

/// The default tolerance for resource figures (10 %).
pub const DEFAULT_RESOURCE_TOLERANCE: f64 = 0.10;

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            all: false,
            tolerance: 0.0,
            resource_tolerance: DEFAULT_RESOURCE_TOLERANCE,
        }
    }
}

/// The sections of a diff, in the order they are shown.
pub const SECTIONS: [&str; 8] = [
    "config",
    "code",
    "environment",
    "packages",
    "data",
    "tasks",
    "metrics",
    "resources",
];

/// Compares `a` with `b`: every section in [`SECTIONS`] order; only entries that differ (and
/// only sections that have some) unless `options.all`.
pub fn compare(a: &Archive, b: &Archive, options: &DiffOptions) -> RunDiff {
    let pairs = tasks::match_tasks(&a.tasks, &b.tasks);
    let mut sections = vec![
        config::section(a, b),
        code::section(a, b),
        environment::section(a, b),
        packages::section(a, b),
        data::section(a, b),
        tasks::section(a, b, &pairs),
        metrics::section(a, b, &pairs, options),
        resources::section(a, b, &pairs, options),
    ];
    for s in &mut sections {
        if !options.all {
            s.entries.retain(|e| e.change != SAME);
        }
    }
    if !options.all {
        sections.retain(|s| !s.entries.is_empty());
    }
    RunDiff {
        a: a.summary.run_id.clone(),
        b: b.summary.run_id.clone(),
        sections,
    }
}

/// Whether a diff found any difference (`labtrail diff` exits 1 then).
pub fn differs(diff: &RunDiff) -> bool {
    diff.sections
        .iter()
        .flat_map(|s| &s.entries)
        .any(|e| e.change != SAME)
}

/// The `change` of an entry whose two sides are equal.
pub const SAME: &str = "same";
/// The `change` of an entry only B has.
pub const ADDED: &str = "added";
/// The `change` of an entry only A has.
pub const REMOVED: &str = "removed";
/// The `change` of an entry both have, with different values.
pub const CHANGED: &str = "changed";

/// An entry for one field: `added`, `removed`, `changed` or `same` from its two sides.
pub(crate) fn field(key: impl Into<String>, a: Option<String>, b: Option<String>) -> DiffEntry {
    let change = match (&a, &b) {
        (None, None) => SAME,
        (None, Some(_)) => ADDED,
        (Some(_), None) => REMOVED,
        (Some(x), Some(y)) if x == y => SAME,
        _ => CHANGED,
    };
    DiffEntry {
        key: key.into(),
        change: change.to_string(),
        a,
        b,
        note: None,
    }
}

/// A new, empty section.
pub(crate) fn new_section(name: &str) -> DiffSection {
    DiffSection {
        name: name.to_string(),
        entries: Vec::new(),
    }
}

/// Both values of a probed fact, or `None` after adding one entry (`key`) for a side that has
/// none: a fact one run could not capture is one difference, not one per field.
pub(crate) fn both<'x, T>(
    section: &mut DiffSection,
    key: &str,
    a: &'x Probed<T>,
    b: &'x Probed<T>,
) -> Option<(&'x T, &'x T)> {
    match (a, b) {
        (Probed::Value(x), Probed::Value(y)) => Some((x, y)),
        _ => {
            let show = |p: &Probed<T>| match p {
                Probed::Value(_) => "captured".to_string(),
                Probed::Na(reason) => format!("n/a ({reason})"),
            };
            // Two reasons for "not captured" are not a difference of the runs.
            let mut e = field(key, Some(show(a)), Some(show(b)));
            if matches!((a, b), (Probed::Na(_), Probed::Na(_))) {
                e.change = SAME.to_string();
            }
            section.entries.push(e);
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_cases;
#[cfg(test)]
mod tests_sections;
