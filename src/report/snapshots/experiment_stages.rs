//! Which stages of an experiment completed when (flag arrivals, or a labtrail run's stage
//! changes), and the estimated completion they give, with its basis.

use super::{human_duration, local_time};
use crate::app::snapshots_index_rows::timestamp_epoch;
use crate::snapshot::model::{Flag, Run};
use crate::store::snapshot_index::SpanRow;
use serde::Serialize;

/// A stage that completed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StageDone {
    /// The flag's path, or the run's stage name.
    pub stage: String,
    /// When it completed, Unix seconds.
    pub completed_epoch: i64,
    /// How long it took since the previous stage (or the experiment's start) completed.
    pub took_s: i64,
    /// `flag mtime`, `flag first seen` (no mtime recorded) or `run stage changed`.
    pub source: String,
}

/// When the experiment should be done, and why we think so.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// Stages done.
    pub done: u64,
    /// Stages in all, when known.
    pub total: Option<u64>,
    /// The median stage's duration in seconds.
    pub median_stage_s: i64,
    /// The estimated completion (of all stages; of the next one when the total is unknown),
    /// Unix seconds.
    pub eta_epoch: Option<i64>,
    /// What it rests on, in words: `3 of 5 stages, median stage 4 h 10 m`.
    pub basis: String,
}

/// Stages from flag spans (the first span of each flag: its first arrival), in time order.
pub(super) fn from_flags(flags: &[SpanRow], start: i64) -> Vec<StageDone> {
    let mut seen = std::collections::HashSet::new();
    let mut stages: Vec<StageDone> = Vec::new();
    for span in flags {
        if !seen.insert(span.key.clone()) {
            continue;
        }
        let flag: Flag = serde_json::from_str(&span.data).unwrap_or_default();
        let (completed_epoch, source) = match timestamp_epoch(&flag.mtime) {
            Some(t) => (t, "flag mtime"),
            None => (span.first_epoch, "flag first seen"),
        };
        stages.push(StageDone {
            stage: span.key.clone(),
            completed_epoch,
            took_s: 0,
            source: source.to_string(),
        });
    }
    with_durations(stages, start)
}

/// Stages from run spans: a stage completed when the run's current stage moved on from it.
pub(super) fn from_runs(runs: &[SpanRow], start: i64) -> Vec<StageDone> {
    let mut stages = Vec::new();
    let mut previous: Option<(String, Option<String>)> = None;
    for span in runs {
        let run: Run = serde_json::from_str(&span.data).unwrap_or_default();
        if let Some((key, Some(stage))) = &previous {
            if *key == span.key && run.stage.as_ref() != Some(stage) {
                stages.push(StageDone {
                    stage: stage.clone(),
                    completed_epoch: span.first_epoch,
                    took_s: 0,
                    source: "run stage changed".to_string(),
                });
            }
        }
        previous = Some((span.key.clone(), run.stage));
    }
    with_durations(stages, start)
}

fn with_durations(mut stages: Vec<StageDone>, start: i64) -> Vec<StageDone> {
    stages.sort_by_key(|s| s.completed_epoch);
    let mut before = start;
    for s in &mut stages {
        s.took_s = (s.completed_epoch - before).max(0);
        before = s.completed_epoch;
    }
    stages
}

/// The estimate from completed stages: the median stage's duration times the stages left,
/// after the last completion. None without a completed stage.
pub(super) fn estimate(stages: &[StageDone], total: Option<u64>, active: bool) -> Option<Estimate> {
    let last = stages.last()?;
    let mut took: Vec<i64> = stages.iter().map(|s| s.took_s).collect();
    took.sort_unstable();
    let median = if took.len() % 2 == 1 {
        took[took.len() / 2]
    } else {
        took[took.len() / 2 - 1].saturating_add(took[took.len() / 2]) / 2
    };
    let done = stages.len() as u64;
    let median_text = human_duration(median);
    let (eta_epoch, basis) = match total {
        Some(total) if done >= total => (None, format!("all {total} stages done")),
        Some(total) => {
            let left = i64::try_from(total - done).unwrap_or(i64::MAX);
            let eta = last
                .completed_epoch
                .saturating_add(median.saturating_mul(left));
            (Some(eta), format!("{done} of {total} stages, median stage {median_text}"))
        }
        None if !active => (None, format!("{done} stages done, median stage {median_text}; no longer active")),
        None => (
            Some(last.completed_epoch.saturating_add(median)),
            format!(
                "{done} stages done, median stage {median_text}; the total is unknown, so this is the next stage's (--stages N gives the whole)"
            ),
        ),
    };
    Some(Estimate {
        done,
        total,
        median_stage_s: median,
        eta_epoch,
        basis,
    })
}

/// The estimate in one line: `2026-02-03 14:00 (3 of 5 stages, median stage 4 h 10 m)`.
pub fn describe(e: &Estimate) -> String {
    match e.eta_epoch {
        Some(t) => format!("{} ({})", local_time(t), e.basis),
        None => e.basis.clone(),
    }
}
