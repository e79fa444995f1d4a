//! "Changes vs previous run" in at most 5 lines: config, code, packages, data and the headline
//! metrics; environment and tasks only when fewer lines than that are needed.

use super::{ADDED, CHANGED, REMOVED, SAME};
use crate::report::archive::model::{DiffEntry, RunDiff};

/// How many names a line lists before `…`.
const NAMES: usize = 3;
/// At most this many lines.
const MAX_LINES: usize = 5;
/// Packages worth naming first when several moved (seed 004's list, and the frameworks).
const NOTABLE: [&str; 9] = [
    "torch",
    "transformers",
    "megatron-core",
    "apex",
    "transformer-engine",
    "vllm",
    "jax",
    "tensorflow",
    "numpy",
];

/// At most 5 lines for "changes vs previous run": config, code, packages, data, headline
/// metrics (and environment, tasks when there is room); `no differences` when there are none.
pub fn summary_lines(diff: &RunDiff) -> Vec<String> {
    let changed = |name: &str| -> Vec<&DiffEntry> {
        diff.sections
            .iter()
            .filter(|s| s.name == name)
            .flat_map(|s| &s.entries)
            .filter(|e| e.change != SAME)
            .collect()
    };
    let required = [
        config(&changed("config")),
        code(&changed("code")),
        packages(&changed("packages")),
        data(&changed("data")),
    ];
    let optional = [
        listing("environment", &changed("environment")),
        tasks(&changed("tasks")),
    ];
    let metrics = metrics(&changed("metrics"));
    let mut lines: Vec<String> = required.into_iter().flatten().collect();
    let room = MAX_LINES - lines.len() - usize::from(metrics.is_some());
    lines.extend(optional.into_iter().flatten().take(room));
    lines.extend(metrics);
    if lines.is_empty() {
        lines.push("no differences".to_string());
    }
    lines
}

/// `a, b, c, … (+4)`.
fn names<'e>(items: impl Iterator<Item = &'e str>, total: usize) -> String {
    let first: Vec<&str> = items.take(NAMES).collect();
    let more = total.saturating_sub(first.len());
    let mut text = first.join(", ");
    if more > 0 {
        text.push_str(&format!(", … (+{more})"));
    }
    text
}

fn listing(what: &str, entries: &[&DiffEntry]) -> Option<String> {
    (!entries.is_empty()).then(|| {
        format!(
            "{what}: {} changed ({})",
            entries.len(),
            names(entries.iter().map(|e| e.key.as_str()), entries.len())
        )
    })
}

fn config(entries: &[&DiffEntry]) -> Option<String> {
    let n = entries.len();
    (n > 0).then(|| {
        let keys = if n == 1 { "key" } else { "keys" };
        format!(
            "config: {n} {keys} changed ({})",
            names(entries.iter().map(|e| e.key.as_str()), n)
        )
    })
}

fn code(entries: &[&DiffEntry]) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    let parts: Vec<String> = entries
        .iter()
        .map(|e| match (e.key.as_str(), &e.note) {
            ("commit", Some(range)) => format!("commit {range}"),
            ("patch", Some(note)) => note.clone(),
            (key, _) => format!(
                "{key} {} → {}",
                e.a.as_deref().unwrap_or("none"),
                e.b.as_deref().unwrap_or("none")
            ),
        })
        .collect();
    Some(format!("code: {}", parts.join("; ")))
}

fn packages(entries: &[&DiffEntry]) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    let count = |pred: &dyn Fn(&DiffEntry) -> bool| entries.iter().filter(|e| pred(e)).count();
    let up = count(&|e| e.note.as_deref() == Some("upgraded"));
    let down = count(&|e| e.note.as_deref() == Some("downgraded"));
    let added = count(&|e| e.change == ADDED);
    let removed = count(&|e| e.change == REMOVED);
    let other = entries.len() - up - down - added - removed;
    let mut counts = Vec::new();
    for (n, word) in [
        (up, "up"),
        (down, "down"),
        (added, "added"),
        (removed, "removed"),
        (other, "changed"),
    ] {
        if n > 0 {
            counts.push(format!("{n} {word}"));
        }
    }
    let mut ranked: Vec<&&DiffEntry> = entries.iter().collect();
    ranked.sort_by_key(|e| {
        NOTABLE
            .iter()
            .position(|n| *n == e.key)
            .unwrap_or(NOTABLE.len())
    });
    let shown = ranked.iter().map(|e| {
        format!(
            "{} {} → {}",
            e.key,
            e.a.as_deref().unwrap_or("-"),
            e.b.as_deref().unwrap_or("-")
        )
    });
    let shown: Vec<String> = shown.take(NAMES).collect();
    let more = entries.len().saturating_sub(shown.len());
    let tail = if more > 0 {
        format!(", … (+{more})")
    } else {
        String::new()
    };
    Some(format!(
        "packages: {} ({}{tail})",
        counts.join(", "),
        shown.join(", ")
    ))
}

fn data(entries: &[&DiffEntry]) -> Option<String> {
    // Per-file entries are `pattern: path`; the line names the patterns.
    let patterns: Vec<&DiffEntry> = entries
        .iter()
        .copied()
        .filter(|e| !e.key.contains(": "))
        .collect();
    if patterns.is_empty() {
        return None;
    }
    let files = entries.len() - patterns.len();
    let mut line = format!(
        "data: {} changed",
        names(patterns.iter().map(|e| e.key.as_str()), patterns.len())
    );
    if files > 0 {
        line.push_str(&format!(" ({files} files added, removed or changed)"));
    }
    Some(line)
}

/// Tasks by what happened to them: added, removed, changed. A task with several differing
/// fields (`i=1: command`, `i=1: key`) counts once; the run's `status` entry counts as `status`.
fn tasks(entries: &[&DiffEntry]) -> Option<String> {
    if entries.is_empty() {
        return None;
    }
    let task_of = |e: &DiffEntry| -> String {
        let key = e.key.as_str();
        match (e.change.as_str(), key.rsplit_once(": ")) {
            (ADDED | REMOVED, _) | (_, None) => key.to_string(),
            (_, Some((task, _))) => task.to_string(),
        }
    };
    let mut parts = Vec::new();
    for (word, wanted) in [
        ("added", Some(ADDED)),
        ("removed", Some(REMOVED)),
        ("changed", None),
    ] {
        let mut seen: Vec<String> = Vec::new();
        for e in entries {
            let hit = match wanted {
                Some(change) => e.change == change,
                None => e.change != ADDED && e.change != REMOVED,
            };
            let task = task_of(e);
            if hit && !seen.contains(&task) {
                seen.push(task);
            }
        }
        if !seen.is_empty() {
            let shown = names(seen.iter().map(String::as_str), seen.len());
            parts.push(format!("{} {word} ({shown})", seen.len()));
        }
    }
    Some(format!("tasks: {}", parts.join("; ")))
}

fn metrics(entries: &[&DiffEntry]) -> Option<String> {
    let judged: Vec<&&DiffEntry> = entries.iter().filter(|e| e.change == CHANGED).collect();
    if entries.is_empty() {
        return None;
    }
    let better = judged
        .iter()
        .filter(|e| e.note.as_deref().is_some_and(|n| n.ends_with("better")))
        .count();
    let worse = judged.len() - better;
    // Headlines: the best values first (what a run is judged by), in task order.
    let mut headline: Vec<&&&DiffEntry> =
        judged.iter().filter(|e| e.key.ends_with(".best")).collect();
    if headline.is_empty() {
        headline = judged.iter().collect();
    }
    let shown: Vec<String> = headline
        .iter()
        .take(2)
        .map(|e| {
            format!(
                "{} {} → {} {}",
                e.key,
                e.a.as_deref().unwrap_or("-"),
                e.b.as_deref().unwrap_or("-"),
                e.note.as_deref().unwrap_or("")
            )
        })
        .collect();
    let mut line = format!("metrics: {better} better, {worse} worse");
    let other = entries.len() - judged.len();
    if other > 0 {
        line.push_str(&format!(", {other} added or removed"));
    }
    if !shown.is_empty() {
        line.push_str(&format!("; {}", shown.join("; ")));
    }
    Some(line)
}
