//! `--job ID`: a job's lifetime; `--flag NAME`: when a completion flag first appeared.

use super::SnapshotQueryError;
use crate::snapshot::model::{EndedJob, Flag, Job};
use crate::store::snapshot_index::{SnapshotIndex, SpanKind, SpanRow};
use serde::Serialize;

/// One stretch of a job's life in one state on one node.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StateSpan {
    /// squeue's short state.
    pub state: String,
    /// The node, or `(Reason)` while pending.
    pub node: String,
    /// The first snapshot that saw it so (RFC 3339).
    pub from: String,
    /// The last one.
    pub to: String,
}

/// A job's lifetime as the snapshots saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobLife {
    /// The job id.
    pub job_id: String,
    /// Its name.
    pub name: String,
    /// Its experiment, when known.
    pub experiment: Option<String>,
    /// The first snapshot that saw it (RFC 3339).
    pub first_seen: String,
    /// The last one.
    pub last_seen: String,
    /// Its states in order.
    pub states: Vec<StateSpan>,
    /// Seconds it ran: sacct's figure when it ended, else squeue's at the last sighting.
    pub runtime_s: u64,
    /// Its end as sacct told it, when the snapshots recorded it.
    pub end: Option<EndedJob>,
    /// Still in the queue at the newest snapshot.
    pub in_queue: bool,
}

/// The lifetime of job `id`; an array's id gives each element's (up to 1,000).
pub fn job(index: &SnapshotIndex, id: &str) -> Result<Vec<JobLife>, SnapshotQueryError> {
    let mut keys = vec![id.to_string()];
    if index.spans_of(SpanKind::Job, id)?.is_empty()
        && index.spans_of(SpanKind::Ended, id)?.is_empty()
    {
        keys = index.keys_with_prefix(SpanKind::Job, &format!("{id}_"), 1000)?;
    }
    let newest = index.last_snapshot()?.map(|s| s.row.epoch);
    let mut lives = Vec::new();
    for key in keys {
        let spans = index.spans_of(SpanKind::Job, &key)?;
        let end = index.spans_of(SpanKind::Ended, &key)?.pop();
        if spans.is_empty() && end.is_none() {
            continue;
        }
        lives.push(life(&key, &spans, end, newest));
    }
    if lives.is_empty() {
        return Err(SnapshotQueryError::NotFound(format!(
            "no snapshot saw job {id} (`labtrail snapshots --at TIME` lists the jobs of a time)"
        )));
    }
    Ok(lives)
}

fn life(key: &str, spans: &[SpanRow], end: Option<SpanRow>, newest: Option<i64>) -> JobLife {
    let jobs: Vec<Job> = spans
        .iter()
        .map(|s| serde_json::from_str(&s.data).unwrap_or_default())
        .collect();
    let end: Option<EndedJob> = end.and_then(|e| serde_json::from_str(&e.data).ok());
    let last = jobs.last().cloned().unwrap_or_default();
    let runtime_s = end
        .as_ref()
        .and_then(|e| e.elapsed_s)
        .unwrap_or_else(|| jobs.iter().map(super::job_elapsed).max().unwrap_or(0));
    JobLife {
        job_id: key.to_string(),
        name: if last.name.is_empty() {
            end.as_ref().map(|e| e.name.clone()).unwrap_or_default()
        } else {
            last.name.clone()
        },
        experiment: last
            .experiment
            .clone()
            .or_else(|| end.as_ref().and_then(|e| e.experiment.clone())),
        first_seen: spans
            .first()
            .map(|s| s.first_ts.clone())
            .unwrap_or_default(),
        last_seen: spans.last().map(|s| s.last_ts.clone()).unwrap_or_default(),
        states: spans
            .iter()
            .zip(&jobs)
            .map(|(s, j)| StateSpan {
                state: j.state.clone(),
                node: j.node.clone(),
                from: s.first_ts.clone(),
                to: s.last_ts.clone(),
            })
            .collect(),
        runtime_s,
        end,
        in_queue: spans
            .last()
            .map(|s| Some(s.last_epoch) == newest)
            .unwrap_or(false),
    }
}

/// When a completion flag appeared.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlagArrival {
    /// Its path relative to the base folder.
    pub path: String,
    /// Its modification time (when the stage completed), when the snapshot recorded it.
    pub mtime: Option<String>,
    /// The first snapshot that saw it (RFC 3339).
    pub first_seen: String,
    /// The last one.
    pub last_seen: String,
    /// Still there at the newest snapshot.
    pub present: bool,
    /// Its experiment, when known.
    pub experiment: Option<String>,
}

/// The flags whose path or file name is `name` (or, when none is, contains it).
pub fn flag(index: &SnapshotIndex, name: &str) -> Result<Vec<FlagArrival>, SnapshotQueryError> {
    let keys = index.keys_with_prefix(SpanKind::Flag, "", u32::MAX)?;
    let file_name = |k: &str| k.rsplit('/').next().unwrap_or(k).to_string();
    let mut matching: Vec<&String> = keys
        .iter()
        .filter(|k| *k == name || file_name(k) == name)
        .collect();
    if matching.is_empty() {
        matching = keys.iter().filter(|k| k.contains(name)).collect();
    }
    if matching.is_empty() {
        return Err(SnapshotQueryError::NotFound(format!(
            "no snapshot saw a flag named {name}"
        )));
    }
    let newest = index.last_snapshot()?.map(|s| s.row.epoch);
    let mut found = Vec::new();
    for key in matching {
        let spans = index.spans_of(SpanKind::Flag, key)?;
        let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
            continue;
        };
        let flag: Flag = serde_json::from_str(&first.data).unwrap_or_default();
        found.push(FlagArrival {
            path: key.clone(),
            mtime: Some(flag.mtime).filter(|m| !m.is_empty()),
            first_seen: first.first_ts.clone(),
            last_seen: last.last_ts.clone(),
            present: Some(last.last_epoch) == newest,
            experiment: flag.experiment,
        });
    }
    found.sort_by(|a, b| a.first_seen.cmp(&b.first_seen));
    Ok(found)
}
