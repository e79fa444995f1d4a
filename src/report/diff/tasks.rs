//! Tasks: each task of A paired with its counterpart in B, by key, else by stage and parameter
//! values (so a task whose command changed, and so its key, pairs with its old self); then
//! what only one run has, and what changed in a pair (state, command).

use super::values::short;
use super::{field, new_section, ADDED, REMOVED};
use crate::report::archive::model::{Archive, DiffEntry, DiffSection, TaskArchive};
use std::collections::HashMap;

/// The tasks of A and B paired up: indexes into `a.tasks` and `b.tasks`.
#[derive(Debug, Default)]
pub struct Pairs {
    /// Both runs have the task, in A's order.
    pub matched: Vec<(usize, usize)>,
    /// Only A has it.
    pub only_a: Vec<usize>,
    /// Only B has it.
    pub only_b: Vec<usize>,
}

/// Pairs tasks: by key first, then the remaining ones by stage and parameter values, each
/// task of B used once. O(n) with hash maps (10^4 tasks per run).
pub fn match_tasks(a: &[TaskArchive], b: &[TaskArchive]) -> Pairs {
    let by_key: HashMap<&str, usize> = b
        .iter()
        .enumerate()
        .map(|(i, t)| (t.key.as_str(), i))
        .collect();
    let mut used = vec![false; b.len()];
    let mut slots: Vec<Option<usize>> = a
        .iter()
        .map(|t| {
            let j = *by_key.get(t.key.as_str())?;
            (!used[j]).then(|| {
                used[j] = true;
                j
            })
        })
        .collect();
    // The rest of B by (stage, parameters), in plan order so duplicates pair in order.
    let mut by_params: HashMap<(&str, String), Vec<usize>> = HashMap::new();
    for (j, t) in b.iter().enumerate().rev().filter(|(j, _)| !used[*j]) {
        by_params.entry(identity(t)).or_default().push(j);
    }
    for (i, t) in a.iter().enumerate() {
        if slots[i].is_none() {
            if let Some(j) = by_params.get_mut(&identity(t)).and_then(Vec::pop) {
                used[j] = true;
                slots[i] = Some(j);
            }
        }
    }
    let mut pairs = Pairs::default();
    for (i, slot) in slots.into_iter().enumerate() {
        match slot {
            Some(j) => pairs.matched.push((i, j)),
            None => pairs.only_a.push(i),
        }
    }
    pairs.only_b = (0..b.len()).filter(|j| !used[*j]).collect();
    pairs
}

/// What a task is apart from its command: its stage and parameter values (sorted by name, as
/// JSON: `1` and `"1"` differ).
fn identity(t: &TaskArchive) -> (&str, String) {
    let params = serde_json::to_string(&t.params).unwrap_or_default();
    (t.stage.as_str(), params)
}

/// The `tasks` section: the run's status, then tasks only in A, only in B, and per pair its
/// state and command.
pub fn section(a: &Archive, b: &Archive, pairs: &Pairs) -> DiffSection {
    let mut s = new_section("tasks");
    s.entries.push(field(
        "status",
        Some(a.summary.status.clone()),
        Some(b.summary.status.clone()),
    ));
    for &i in &pairs.only_a {
        let t = &a.tasks[i];
        s.entries.push(only(t, REMOVED, "only in A"));
    }
    for &j in &pairs.only_b {
        let t = &b.tasks[j];
        s.entries.push(only(t, ADDED, "only in B"));
    }
    for &(i, j) in &pairs.matched {
        let (x, y) = (&a.tasks[i], &b.tasks[j]);
        s.entries.push(field(
            format!("{}: state", x.label),
            Some(x.state.clone()),
            Some(y.state.clone()),
        ));
        let mut command = field(
            format!("{}: command", x.label),
            Some(x.command.clone()),
            Some(y.command.clone()),
        );
        if x.key != y.key {
            command.note = Some("matched by stage and parameters".to_string());
        }
        s.entries.push(command);
        // The key also covers declared inputs: a new key with the same command says they moved.
        s.entries.push(field(
            format!("{}: key", x.label),
            Some(short(&x.key).to_string()),
            Some(short(&y.key).to_string()),
        ));
    }
    s
}

fn only(t: &TaskArchive, change: &str, note: &str) -> DiffEntry {
    let side = Some(t.state.clone());
    let (a, b) = if change == REMOVED {
        (side, None)
    } else {
        (None, side)
    };
    DiffEntry {
        key: t.label.clone(),
        change: change.to_string(),
        a,
        b,
        note: Some(note.to_string()),
    }
}
