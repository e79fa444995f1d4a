//! Metrics: per pair of tasks and metric key, the last and the best value, with the absolute
//! and relative delta and whether it is better or worse by the metric's direction. A relative
//! change within `--tolerance` is the same.

use super::tasks::Pairs;
use super::values::{delta, num, within};
use super::{new_section, DiffOptions, ADDED, CHANGED, REMOVED, SAME};
use crate::report::archive::model::{Archive, DiffEntry, DiffSection, MetricSummary};

/// The `metrics` section: `<task>/<key>.last` and `<task>/<key>.best` per matched task.
pub fn section(a: &Archive, b: &Archive, pairs: &Pairs, options: &DiffOptions) -> DiffSection {
    let mut s = new_section("metrics");
    for &(i, j) in &pairs.matched {
        let (x, y) = (&a.tasks[i], &b.tasks[j]);
        if x.metrics.is_empty() && y.metrics.is_empty() {
            continue;
        }
        for m in &x.metrics {
            let other = y.metrics.iter().find(|n| n.key == m.key);
            let name = format!("{}/{}", x.label, m.key);
            match other {
                Some(n) => {
                    s.entries
                        .push(value(&name, "last", m.last, n.last, &n.direction, options));
                    s.entries
                        .push(value(&name, "best", m.best, n.best, &n.direction, options));
                }
                None => s.entries.push(only(&name, Some(m), None)),
            }
        }
        for n in &y.metrics {
            if !x.metrics.iter().any(|m| m.key == n.key) {
                s.entries
                    .push(only(&format!("{}/{}", x.label, n.key), None, Some(n)));
            }
        }
    }
    s
}

/// One value (`last` or `best`) of one metric in both runs.
fn value(
    name: &str,
    which: &str,
    a: Option<f64>,
    b: Option<f64>,
    direction: &str,
    options: &DiffOptions,
) -> DiffEntry {
    let (change, note) = match (a, b) {
        (Some(x), Some(y)) if within(x, y, options.tolerance) => (SAME, None),
        (Some(x), Some(y)) => (CHANGED, Some(judged(x, y, direction))),
        (None, None) => (SAME, None),
        (None, Some(_)) => (ADDED, None),
        (Some(_), None) => (REMOVED, None),
    };
    DiffEntry {
        key: format!("{name}.{which}"),
        change: change.to_string(),
        a: a.map(num),
        b: b.map(num),
        note,
    }
}

/// `+0.012 (+1.3%) better`: better when the value moved the way the direction prefers.
pub fn judged(a: f64, b: f64, direction: &str) -> String {
    let improved = if direction == "min" { b < a } else { b > a };
    let verdict = if improved { "better" } else { "worse" };
    format!("{} {verdict}", delta(a, b))
}

fn only(name: &str, a: Option<&MetricSummary>, b: Option<&MetricSummary>) -> DiffEntry {
    let shown = |m: &MetricSummary| m.last.map(num).unwrap_or_else(|| "no value".to_string());
    DiffEntry {
        key: format!("{name}.last"),
        change: if a.is_some() { REMOVED } else { ADDED }.to_string(),
        a: a.map(shown),
        b: b.map(shown),
        note: None,
    }
}
