//! `labtrail diff A B`: what differs between two archived runs, section by section, only what
//! differs unless asked for all. CONTRACT STUB (issue 12): the `diff` lane implements it.

use super::archive::model::{Archive, RunDiff};

/// How to compare.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// Keep equal fields too (`--all`).
    pub all: bool,
    /// Relative change of a metric below which it counts as the same (`--tolerance`).
    pub tolerance: f64,
}

/// Compares `a` with `b`.
pub fn compare(a: &Archive, b: &Archive, options: &DiffOptions) -> RunDiff {
    let _ = options;
    RunDiff {
        a: a.summary.run_id.clone(),
        b: b.summary.run_id.clone(),
        sections: Vec::new(),
    }
}

/// At most 5 lines for "changes vs previous run": config, code, packages, data, headline metrics.
pub fn summary_lines(diff: &RunDiff) -> Vec<String> {
    let _ = diff;
    Vec::new()
}
