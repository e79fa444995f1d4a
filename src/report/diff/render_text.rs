//! A diff for a terminal: one block per section, keys aligned, `~` changed, `+` only in B, `-`
//! only in A, `=` the same (`--all`). Every value goes through
//! [`crate::cli::terminal::escape`]: no control character of a run's values reaches the terminal.

use super::{ADDED, CHANGED, REMOVED};
use crate::cli::terminal::escape;
use crate::report::archive::model::{DiffEntry, RunDiff};
use std::fmt::Write;

/// The diff as aligned text, ending with a newline; `no differences` when there are none.
pub fn render(diff: &RunDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "a: {}", escape(&diff.a));
    let _ = writeln!(out, "b: {}", escape(&diff.b));
    if !super::differs(diff) {
        let _ = writeln!(out, "no differences");
    }
    for section in &diff.sections {
        let _ = writeln!(out, "\n{}", escape(&section.name));
        let keys: Vec<String> = section
            .entries
            .iter()
            .map(|e| escape(&e.key).into_owned())
            .collect();
        let values: Vec<String> = section.entries.iter().map(values).collect();
        let key_width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
        let value_width = values.iter().map(|v| v.chars().count()).max().unwrap_or(0);
        for ((e, key), value) in section.entries.iter().zip(&keys).zip(&values) {
            let line = match &e.note {
                Some(note) => format!(
                    "  {} {key:<key_width$}  {value:<value_width$}  {}",
                    marker(e),
                    escape(note)
                ),
                None => format!("  {} {key:<key_width$}  {value}", marker(e)),
            };
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    out
}

fn marker(e: &DiffEntry) -> char {
    match e.change.as_str() {
        CHANGED => '~',
        ADDED => '+',
        REMOVED => '-',
        _ => '=',
    }
}

/// `a → b`, or the one side there is.
fn values(e: &DiffEntry) -> String {
    match (&e.a, &e.b) {
        (Some(a), Some(b)) if a == b => escape(a).into_owned(),
        (Some(a), Some(b)) => format!("{} → {}", escape(a), escape(b)),
        (Some(a), None) => escape(a).into_owned(),
        (None, Some(b)) => escape(b).into_owned(),
        (None, None) => String::new(),
    }
}
