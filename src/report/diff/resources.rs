//! Resources: run time, CPU time, peak memory and GPU memory, for the run and per pair of
//! tasks. They vary between runs of the same code, so a change counts only beyond
//! [`DiffOptions::resource_tolerance`] (10 % by default), and only when the figures differ by
//! at least an absolute floor ([`Unit::floor`]: 1 s of time, 16 MiB of memory): two runs of a
//! trivial experiment differ by 30 % in a sub-second duration, which is noise, not a change.

use super::tasks::Pairs;
use super::values::{bytes, num, percent, within};
use super::{new_section, DiffOptions, ADDED, CHANGED, REMOVED, SAME};
use crate::report::archive::model::{Archive, DiffEntry, DiffSection, TaskArchive};

/// How a figure is shown.
#[derive(Clone, Copy)]
enum Unit {
    Seconds,
    Hours,
    KiB,
    Bytes,
}

impl Unit {
    /// The smallest difference that can count as a change, in the unit's own measure.
    fn floor(self) -> f64 {
        match self {
            Unit::Seconds => 1.0,
            Unit::Hours => 1.0 / 3600.0,
            Unit::KiB => 16.0 * 1024.0,
            Unit::Bytes => 16.0 * 1024.0 * 1024.0,
        }
    }
}

/// A figure of a task: its name, how to read it, how to show it.
type TaskFigure = (&'static str, fn(&TaskArchive) -> Option<f64>, Unit);

/// The `resources` section: the run's totals, then each matched task's figures.
pub fn section(a: &Archive, b: &Archive, pairs: &Pairs, options: &DiffOptions) -> DiffSection {
    let mut s = new_section("resources");
    let (ra, rb) = (&a.resources, &b.resources);
    let tol = options.resource_tolerance;
    let run = [
        (
            "run: duration",
            a.summary.duration_s,
            b.summary.duration_s,
            Unit::Seconds,
        ),
        (
            "run: task time",
            Some(ra.task_time_s),
            Some(rb.task_time_s),
            Unit::Seconds,
        ),
        (
            "run: cpu",
            Some(ra.cpu_hours),
            Some(rb.cpu_hours),
            Unit::Hours,
        ),
        ("run: gpu", ra.gpu_hours, rb.gpu_hours, Unit::Hours),
        (
            "run: peak rss",
            kib(ra.peak_rss_kb),
            kib(rb.peak_rss_kb),
            Unit::KiB,
        ),
        (
            "run: peak vram",
            by(ra.peak_vram_bytes),
            by(rb.peak_vram_bytes),
            Unit::Bytes,
        ),
    ];
    for (key, x, y, unit) in run {
        s.entries.push(figure(key.to_string(), x, y, unit, tol));
    }
    for &(i, j) in &pairs.matched {
        let (x, y) = (&a.tasks[i], &b.tasks[j]);
        let per_task: [TaskFigure; 4] = [
            ("duration", |t| t.duration_s, Unit::Seconds),
            ("cpu", |t| t.resources.cpu_s, Unit::Seconds),
            ("peak rss", peak_rss, Unit::KiB),
            ("peak vram", peak_vram, Unit::Bytes),
        ];
        for (what, get, unit) in per_task {
            let key = format!("{}: {what}", x.label);
            s.entries.push(figure(key, get(x), get(y), unit, tol));
        }
    }
    s
}

fn kib(v: Option<u64>) -> Option<f64> {
    v.map(|n| n as f64)
}

fn by(v: Option<u64>) -> Option<f64> {
    v.map(|n| n as f64)
}

/// The whole tree's peak when measured, else the largest single process's.
fn peak_rss(t: &TaskArchive) -> Option<f64> {
    kib(t.resources.peak_tree_rss_kb.or(t.resources.max_rss_kb))
}

/// The most memory the task held on any one GPU.
fn peak_vram(t: &TaskArchive) -> Option<f64> {
    t.resources
        .gpus
        .iter()
        .map(|g| g.peak_memory_bytes)
        .max()
        .map(|n| n as f64)
}

fn figure(key: String, a: Option<f64>, b: Option<f64>, unit: Unit, tol: f64) -> DiffEntry {
    let (change, note) = match (a, b) {
        (Some(x), Some(y)) if within(x, y, tol) || (x - y).abs() < unit.floor() => (SAME, None),
        (Some(x), Some(y)) => (CHANGED, Some(percent(x, y))),
        (None, None) => (SAME, None),
        (None, Some(_)) => (ADDED, None),
        (Some(_), None) => (REMOVED, None),
    };
    let show = |v: f64| match unit {
        Unit::Seconds => format!("{} s", num((v * 10.0).round() / 10.0)),
        Unit::Hours => format!("{} h", num((v * 1000.0).round() / 1000.0)),
        Unit::KiB => bytes((v as u64).saturating_mul(1024)),
        Unit::Bytes => bytes(v as u64),
    };
    DiffEntry {
        key,
        change: change.to_string(),
        a: a.map(show),
        b: b.map(show),
        note,
    }
}
