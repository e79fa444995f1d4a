//! `--at TIME`: what the nearest snapshot at or before a time saw, and how old it was then.

use super::{human_duration, job_elapsed, squeue_time, SnapshotQueryError};
use crate::snapshot::model::{Experiment, Job};
use crate::store::snapshot_index::{SnapshotIndex, SpanKind};
use serde::Serialize;

/// What was in the queue at a time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AtView {
    /// The time asked about, Unix seconds.
    pub asked_epoch: i64,
    /// The snapshot that answers (its file).
    pub snapshot: String,
    /// When it was taken (RFC 3339).
    pub taken: String,
    /// How long before the asked time it was taken, in seconds.
    pub age_s: i64,
    /// The same in words.
    pub age: String,
    /// Jobs running (`R`, `CG`).
    pub running: Vec<Job>,
    /// Jobs pending and in other states.
    pub waiting: Vec<Job>,
    /// The completion flags that existed.
    pub flags: Vec<String>,
    /// The experiments it saw.
    pub experiments: Vec<Experiment>,
    /// The scheduler did not answer at that snapshot: the jobs are the previous snapshot's.
    pub scheduler_failed: bool,
}

/// The nearest snapshot at or before `epoch`; an error says when the first one was.
pub fn at(index: &SnapshotIndex, epoch: i64) -> Result<AtView, SnapshotQueryError> {
    let Some(snap) = index.snapshot_at_or_before(epoch)? else {
        let first = index.first_snapshot()?;
        return Err(SnapshotQueryError::NotFound(match first {
            Some(f) => format!(
                "no snapshot at or before that time; the first is from {}",
                f.row.ts
            ),
            None => "no snapshots yet: take one with `labtrail snapshot`".to_string(),
        }));
    };
    let t = snap.row.epoch;
    let (mut running, mut waiting) = (Vec::new(), Vec::new());
    let mut queued: std::collections::HashMap<String, u64> = Default::default();
    for span in index.spans_at(SpanKind::Job, t)? {
        // A span keeps its first and last sighting; what this snapshot saw is the first one
        // moved on by the time since (a running job's clock runs with the wall clock).
        // At the span's last snapshot that sighting is exact.
        let seen = if t == span.last_epoch {
            &span.data
        } else {
            &span.first_data
        };
        let mut job = serde_json::from_str::<Job>(seen).unwrap_or_default();
        let since = t.saturating_sub(span.first_epoch).max(0) as u64;
        if t != span.last_epoch && since > 0 && matches!(job.state.as_str(), "R" | "CG") {
            let first = job_elapsed(&job);
            job.elapsed_s = first.saturating_add(since);
            job.time = squeue_time(job.elapsed_s);
        }
        let exp = job.experiment.clone().unwrap_or_else(|| "other".into());
        *queued.entry(exp).or_default() += 1;
        if matches!(job.state.as_str(), "R" | "CG") {
            running.push(job);
        } else {
            waiting.push(job);
        }
    }
    let flags = index
        .spans_at(SpanKind::Flag, t)?
        .into_iter()
        .map(|s| s.key)
        .collect();
    let experiments = index
        .spans_at(SpanKind::Experiment, t)?
        .into_iter()
        .filter_map(|s| {
            let seen = if t == s.last_epoch {
                &s.data
            } else {
                &s.first_data
            };
            serde_json::from_str::<Experiment>(seen).ok()
        })
        .map(|mut e| {
            // The queued count changes inside a span: count this snapshot's own jobs.
            e.queued_jobs = queued.get(&e.name).copied().unwrap_or(0);
            e
        })
        .collect();
    let age_s = epoch.saturating_sub(t);
    Ok(AtView {
        asked_epoch: epoch,
        snapshot: snap.row.file,
        taken: snap.row.ts,
        age_s,
        age: human_duration(age_s),
        running,
        waiting,
        flags,
        experiments,
        scheduler_failed: snap.row.scheduler == "failed",
    })
}
