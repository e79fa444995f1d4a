//! Seed 004's "Steps": one per stage of the experiment, summarised over its tasks.

use super::model::{MetricSummary, StageArchive, TaskArchive};
use super::tasks::seconds_between;
use crate::spec::Spec;
use std::collections::BTreeMap;

/// The stages in the experiment's order (from the recorded file; if it no longer parses, in the
/// order their tasks appear), each with its tasks' counts, retries, warnings and best metrics.
pub fn stages(spec: Option<&Spec>, tasks: &[TaskArchive]) -> Vec<StageArchive> {
    let mut names: Vec<(String, String, Vec<String>, Vec<String>)> = match spec {
        Some(s) => s
            .stages
            .iter()
            .map(|st| {
                let inputs = st.inputs.clone();
                (
                    st.name.clone(),
                    st.command_text.clone(),
                    inputs,
                    st.artifacts.clone(),
                )
            })
            .collect(),
        None => Vec::new(),
    };
    for t in tasks {
        if !names.iter().any(|(n, ..)| *n == t.stage) {
            names.push((t.stage.clone(), String::new(), Vec::new(), Vec::new()));
        }
    }
    let mut by_stage: BTreeMap<&str, Vec<&TaskArchive>> = BTreeMap::new();
    for t in tasks {
        by_stage.entry(t.stage.as_str()).or_default().push(t);
    }
    names
        .into_iter()
        .enumerate()
        .map(|(i, (name, command, inputs, outputs))| {
            let of = by_stage.remove(name.as_str()).unwrap_or_default();
            stage(i as u32 + 1, name, command, inputs, outputs, &of)
        })
        .collect()
}

fn stage(
    step_id: u32,
    name: String,
    command: String,
    inputs: Vec<String>,
    outputs: Vec<String>,
    tasks: &[&TaskArchive],
) -> StageArchive {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut params: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let mut warnings: BTreeMap<String, u32> = BTreeMap::new();
    let (mut first, mut last): (Option<&str>, Option<&str>) = (None, None);
    for t in tasks {
        *counts.entry(t.state.clone()).or_default() += 1;
        for (k, v) in &t.params {
            let values = params.entry(k.clone()).or_default();
            if !values.contains(v) {
                values.push(v.clone());
            }
        }
        for e in &t.errors {
            for (kind, n) in &e.warnings {
                *warnings.entry(kind.clone()).or_default() += n;
            }
        }
        if let Some(s) = t.started_at.as_deref() {
            first = Some(first.map_or(s, |f| f.min(s)));
        }
        if let Some(e) = t.finished_at.as_deref() {
            last = Some(last.map_or(e, |l| l.max(e)));
        }
    }
    let n = |s: &str| counts.get(s).copied().unwrap_or(0);
    let status = if tasks.is_empty() || tasks.iter().all(|t| t.attempts == 0) {
        "skipped"
    } else if n("failed") + n("blocked") > 0 {
        "failed"
    } else if n("done") == tasks.len() as u64 {
        "success"
    } else {
        "incomplete"
    };
    StageArchive {
        step_id,
        name,
        status: status.into(),
        command,
        params,
        inputs,
        outputs,
        counts,
        duration_s: first.zip(last).and_then(|(f, l)| seconds_between(f, l)),
        retries: tasks.iter().map(|t| t.attempts.saturating_sub(1)).sum(),
        warnings,
        metrics: best_per_key(tasks),
    }
}

/// Per metric key, the summary of the task with the best value (by the key's direction); ties
/// go to the earlier task in plan order.
fn best_per_key(tasks: &[&TaskArchive]) -> Vec<MetricSummary> {
    let mut best: BTreeMap<String, MetricSummary> = BTreeMap::new();
    for m in tasks.iter().flat_map(|t| &t.metrics) {
        let better = match (best.get(&m.key).and_then(|b| b.best), m.best) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(old), Some(new)) if m.direction == "max" => new > old,
            (Some(old), Some(new)) => new < old,
        };
        if better || !best.contains_key(&m.key) {
            best.insert(m.key.clone(), m.clone());
        }
    }
    best.into_values().collect()
}
