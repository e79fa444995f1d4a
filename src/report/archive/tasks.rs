//! Every task of the run, read one at a time: its attempts, the last attempt's metric
//! summaries (its metric lines are read per task and dropped, never the whole table), the
//! records other parts wrote about it (resources, errors, artifacts), the sections it filled in
//! its result, and the curves chosen for the plots.

use super::curves::{self, MAX_CURVES, MAX_POINTS};
use super::model::{
    AttemptMetrics, Curve, TaskArchive, TaskResourceView, TaskSection, METRIC_SUMMARY_RECORD,
};
use crate::provenance::model::{
    Artifact, AttemptError, Redaction, TaskResources, ARTIFACTS_RECORD, ATTEMPT_ERROR_RECORD,
    TASK_RESOURCES_RECORD,
};
use crate::provenance::redact::redact_text;
use crate::report::metrics::summarize;
use crate::store::{AttemptRow, Store, StoreError, TaskRow};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What reading the tasks gives.
#[derive(Debug, Default)]
pub struct Collected {
    pub tasks: Vec<TaskArchive>,
    pub curves: Vec<Curve>,
    pub task_sections: BTreeMap<String, Vec<TaskSection>>,
    /// The first attempt's start and the last attempt's end over the run.
    pub first_start: Option<String>,
    pub last_end: Option<String>,
    /// CPU seconds of every attempt (not only the last ones).
    pub cpu_s: f64,
}

/// Records of one kind, by task, parsed (unparseable ones are skipped: a record written by a
/// newer labtrail must not stop an archive).
fn records_by_task<T: serde::de::DeserializeOwned>(
    store: &Store,
    run: &str,
    kind: &str,
) -> Result<HashMap<String, Vec<T>>, StoreError> {
    let mut out: HashMap<String, Vec<T>> = HashMap::new();
    for r in store.records(run, kind)? {
        let (Some(task), Ok(v)) = (r.task_key, serde_json::from_str::<T>(&r.json)) else {
            continue;
        };
        out.entry(task).or_default().push(v);
    }
    Ok(out)
}

/// Seconds between two store times, if both parse.
pub fn seconds_between(from: &str, to: &str) -> Option<f64> {
    let a = from.parse::<jiff::Timestamp>().ok()?;
    let b = to.parse::<jiff::Timestamp>().ok()?;
    Some((b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0)
}

/// Reads every task of `run` in plan order. `stage_count` sets how many curves each stage may
/// have (an equal share of [`MAX_CURVES`]).
pub fn collect(
    store: &Store,
    run: &str,
    stage_count: usize,
    minimize: &[String],
    maximize: &[String],
    found: &mut Vec<Redaction>,
) -> Result<Collected, StoreError> {
    let mut resources = records_by_task::<TaskResources>(store, run, TASK_RESOURCES_RECORD)?;
    let mut errors = records_by_task::<AttemptError>(store, run, ATTEMPT_ERROR_RECORD)?;
    let mut artifacts = records_by_task::<Vec<Artifact>>(store, run, ARTIFACTS_RECORD)?;
    let mut summaries = records_by_task::<AttemptMetrics>(store, run, METRIC_SUMMARY_RECORD)?;
    let quota = (MAX_CURVES / stage_count.max(1)).max(1);
    let mut headline: HashMap<String, Option<String>> = HashMap::new();
    let mut per_stage: HashMap<String, usize> = HashMap::new();
    let mut c = Collected::default();
    // The same rule as `labtrail status`: the running tasks of a runner that is gone (killed
    // with SIGKILL, say) are shown as interrupted, not as running for ever.
    let (mut rows, gone) =
        crate::report::runner::read_with_runner(store, run, || store.tasks(run, None))?;
    crate::report::runner::as_seen(&mut rows, gone);
    for task in rows {
        let attempts = store.attempts(run, &task.key)?;
        for a in &attempts {
            c.cpu_s += a.user_cpu_s.unwrap_or(0.0) + a.sys_cpu_s.unwrap_or(0.0);
            if c.first_start.as_ref().is_none_or(|f| a.started_at < *f) {
                c.first_start = Some(a.started_at.clone());
            }
            if let Some(end) = &a.ended_at {
                if c.last_end.as_ref().is_none_or(|l| end > l) {
                    c.last_end = Some(end.clone());
                }
            }
        }
        let last = attempts.last();
        let recorded = last.and_then(|a| {
            let mut all = summaries.remove(&task.key)?;
            let at = all.iter().rposition(|m| m.attempt == a.number)?;
            Some(all.swap_remove(at))
        });
        let taken = per_stage.entry(task.stage.clone()).or_default();
        let wants_curve = *taken < quota
            && c.curves.len() < MAX_CURVES
            && recorded.as_ref().is_none_or(|r| r.lines > 0);
        // The metric lines are read only when no summary was recorded or a curve is wanted.
        let lines = match last {
            Some(a) if recorded.is_none() || wants_curve => {
                store.metrics(run, &task.key, a.number)?
            }
            _ => Vec::new(),
        };
        let metrics = match recorded {
            Some(r) => r.metrics,
            None => summarize(lines.iter().map(String::as_str), minimize, maximize),
        };
        if wants_curve && !lines.is_empty() {
            let key = headline.entry(task.stage.clone()).or_insert_with(|| {
                let mut keys: BTreeSet<String> = metrics.iter().map(|m| m.key.clone()).collect();
                if keys.is_empty() {
                    keys = lines.iter().flat_map(|l| curves::keys_of_line(l)).collect();
                }
                curves::headline_key(&keys)
            });
            if let Some(key) = key.clone() {
                let pts = curves::points(lines.iter().map(String::as_str), &key);
                if !pts.is_empty() {
                    *taken += 1;
                    c.curves.push(Curve {
                        stage: task.stage.clone(),
                        task: task.key.clone(),
                        label: task.label.clone(),
                        key,
                        points: curves::lttb(&pts, MAX_POINTS),
                        previous: None,
                    });
                }
            }
        }
        drop(lines);
        let mut task_errors = errors.remove(&task.key).unwrap_or_default();
        task_errors.sort_by_key(|e| e.attempt);
        let res = resources.remove(&task.key).unwrap_or_default();
        let arts = artifacts
            .remove(&task.key)
            .and_then(|mut v| v.pop())
            .unwrap_or_default();
        let result = task.result.as_ref().map(|r| redact_value(r, found));
        if let Some(serde_json::Value::Object(sections)) =
            result.as_ref().and_then(|r| r.get("archive"))
        {
            for (name, value) in sections {
                c.task_sections
                    .entry(name.clone())
                    .or_default()
                    .push(TaskSection {
                        task: task.key.clone(),
                        label: task.label.clone(),
                        value: value.clone(),
                    });
            }
        }
        c.tasks.push(task_archive(
            task,
            last,
            &res,
            result,
            metrics,
            task_errors,
            arts,
        ));
    }
    Ok(c)
}

/// A JSON value with token-shaped strings redacted (place `result`).
fn redact_value(v: &serde_json::Value, found: &mut Vec<Redaction>) -> serde_json::Value {
    let text = v.to_string();
    let clean = redact_text(&text, "result", found);
    if clean == text {
        return v.clone();
    }
    serde_json::from_str(&clean).unwrap_or_else(|_| serde_json::Value::String(clean))
}

fn task_archive(
    task: TaskRow,
    last: Option<&AttemptRow>,
    resources: &[TaskResources],
    result: Option<serde_json::Value>,
    metrics: Vec<super::model::MetricSummary>,
    errors: Vec<AttemptError>,
    artifacts: Vec<Artifact>,
) -> TaskArchive {
    let found = last.and_then(|a| resources.iter().rev().find(|r| r.attempt == a.number));
    let from_row = match (found, last) {
        (None, Some(a)) if a.resources_in_row => Some(resources_from_row(a)),
        _ => None,
    };
    let recorded = found.or(from_row.as_ref());
    let wait4_cpu = last.and_then(|a| match (a.user_cpu_s, a.sys_cpu_s) {
        (None, None) => None,
        (u, s) => Some(u.unwrap_or(0.0) + s.unwrap_or(0.0)),
    });
    let params = match task.params {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        _ => BTreeMap::new(),
    };
    TaskArchive {
        key: task.key,
        stage: task.stage,
        label: task.label,
        params,
        command: task.command,
        state: task.state.as_str().to_string(),
        reason: task.reason,
        attempts: task.attempts,
        started_at: last.map(|a| a.started_at.clone()),
        finished_at: task
            .finished_at
            .or_else(|| last.and_then(|a| a.ended_at.clone())),
        duration_s: last.and_then(|a| seconds_between(&a.started_at, a.ended_at.as_deref()?)),
        result,
        metrics,
        errors,
        resources: TaskResourceView {
            max_rss_kb: last.and_then(|a| a.max_rss_kb).map(|k| k.max(0) as u64),
            peak_tree_rss_kb: recorded.and_then(|r| r.peak_tree_rss_kb),
            cpu_s: recorded.and_then(|r| r.cpu_s).or(wait4_cpu),
            requested_mem_mb: None,
            gpus: recorded.map(|r| r.gpus.clone()).unwrap_or_default(),
            rss_source: recorded.and_then(|r| r.rss_source.clone()),
            samples: recorded.map_or(0, |r| r.samples),
        },
        artifacts,
        stdout: last.map(|a| a.stdout_path.clone()),
        stderr: last.map(|a| a.stderr_path.clone()),
        job_id: last.and_then(|a| a.job_id.clone()),
        node: last.and_then(|a| a.node.clone()),
    }
}

/// The `task_resources` record the local engine leaves out when it would say no more than the
/// attempt's row (issue 15): `wait4`'s peak, or unknown, and its CPU time; no sample, no GPU.
fn resources_from_row(a: &AttemptRow) -> TaskResources {
    let (peak, source) = match a.max_rss_kb {
        Some(kb) if kb > 0 => (Some(kb as u64), "wait4"),
        _ => (None, "unknown (shorter than one sample)"),
    };
    TaskResources {
        attempt: a.number,
        peak_tree_rss_kb: peak,
        rss_source: Some(source.to_string()),
        cpu_s: Some(a.user_cpu_s.unwrap_or(0.0) + a.sys_cpu_s.unwrap_or(0.0)),
        gpus: Vec::new(),
        samples: 0,
    }
}
