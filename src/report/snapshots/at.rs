//! `--at TIME`: what the nearest snapshot at or before a time saw, and how old it was then.

use super::{human_duration, SnapshotQueryError};
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
    let parse = |data: &str| serde_json::from_str::<Job>(data).unwrap_or_default();
    let (mut running, mut waiting) = (Vec::new(), Vec::new());
    for span in index.spans_at(SpanKind::Job, t)? {
        let job = parse(&span.data);
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
        .filter_map(|s| serde_json::from_str(&s.data).ok())
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
    })
}
