//! `--experiment NAME`: the seed's use cases in one answer: when it started, how long it ran,
//! which stage it was in, which stages completed when, what else was running, which jobs
//! failed, and the estimated completion with its basis.

use super::experiment_stages::{estimate, from_flags, from_runs, Estimate, StageDone};
use super::{human_duration, SnapshotQueryError};
use crate::app::snapshots_index_rows::timestamp_epoch;
use crate::snapshot::model::{EndedJob, Experiment, Job, Run};
use crate::store::snapshot_index::{SnapshotIndex, SpanKind, SpanRow};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Another experiment's jobs that ran in the same time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Alongside {
    /// Its name (`other`: jobs no experiment claims).
    pub experiment: String,
    /// Its jobs seen in the time.
    pub jobs: u64,
    /// Their most frequent names (up to 5).
    pub names: Vec<String>,
}

/// An experiment's course as the snapshots saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExperimentCourse {
    /// Its name.
    pub name: String,
    /// When it started, Unix seconds.
    pub started_epoch: i64,
    /// What that rests on (`labtrail run created`, `first job submitted`, `first snapshot
    /// that saw it`).
    pub started_basis: String,
    /// When it was last seen active (the newest snapshot's time while it still is), Unix seconds.
    pub until_epoch: i64,
    /// Still active at the newest snapshot.
    pub active: bool,
    /// How long it ran (so far, while active), in seconds.
    pub ran_s: i64,
    /// Its stage at the end (or now): the run's, else the last flag's.
    pub stage: Option<String>,
    /// Distinct jobs of it the snapshots saw.
    pub jobs_seen: u64,
    /// Its jobs that ended otherwise than `COMPLETED`.
    pub failed_jobs: Vec<EndedJob>,
    /// Stages completed, in time order.
    pub stages: Vec<StageDone>,
    /// The estimated completion, when a stage completed.
    pub estimate: Option<Estimate>,
    /// Other experiments' jobs in the same time, most jobs first (up to 10).
    pub alongside: Vec<Alongside>,
}

/// The course of experiment `name`; `stages_total` overrides the recorded stage count.
pub fn experiment(
    index: &SnapshotIndex,
    name: &str,
    stages_total: Option<u64>,
) -> Result<ExperimentCourse, SnapshotQueryError> {
    let exps = index.spans_of_experiment(SpanKind::Experiment, name)?;
    let jobs = index.spans_of_experiment(SpanKind::Job, name)?;
    let ended = index.spans_of_experiment(SpanKind::Ended, name)?;
    let runs = index.spans_of_experiment(SpanKind::Run, name)?;
    let mut flags = index.spans_of_experiment(SpanKind::Flag, name)?;
    if flags.is_empty() {
        // Seed 000's flags name no experiment: those under a path that names it.
        for key in index.keys_with_prefix(SpanKind::Flag, "", u32::MAX)? {
            if key.contains(name) {
                flags.extend(index.spans_of(SpanKind::Flag, &key)?);
            }
        }
    }
    if exps.is_empty() && jobs.is_empty() && runs.is_empty() && flags.is_empty() {
        let known = index.keys_with_prefix(SpanKind::Experiment, "", 20)?;
        return Err(SnapshotQueryError::NotFound(format!(
            "no snapshot saw experiment {name}; they saw: {}",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let newest = index.last_snapshot()?.map(|s| s.row.epoch).unwrap_or(0);
    let (started_epoch, started_basis) = start(&exps, &jobs, &runs, &flags);
    let start_known = started_basis != UNKNOWN_START;
    let exp_data: Vec<Experiment> = exps.iter().map(|s| parse(&s.data)).collect();
    let active_until = exps
        .iter()
        .zip(&exp_data)
        .filter(|(_, e)| e.active)
        .map(|(s, _)| s.last_epoch)
        .chain(jobs.iter().map(|s| s.last_epoch))
        .max();
    let active = active_until == Some(newest);
    let last_run: Option<Run> = runs.last().map(|s| parse(&s.data));
    let finished = last_run
        .as_ref()
        .and_then(|r| r.finished_at.as_deref())
        .and_then(timestamp_epoch);
    // Its jobs' recorded ends date the end better than the last snapshot that saw one queued.
    let jobs_ended = ended
        .iter()
        .filter_map(|s| parse::<EndedJob>(&s.data).end_time)
        .filter_map(|t| timestamp_epoch(&t))
        .max()
        .map(|t| t.min(newest));
    let until_epoch = match (active, finished) {
        (true, _) => newest,
        (false, Some(t)) => t,
        (false, None) => active_until
            .max(jobs_ended)
            .or_else(|| flags.iter().map(|f| f.first_epoch).max())
            .unwrap_or(newest),
    };
    let mut stages = from_flags(&flags, started_epoch);
    if stages.is_empty() {
        stages = from_runs(&runs, started_epoch);
    }
    let total = stages_total.or_else(|| exp_data.iter().rev().find_map(|e| e.stages));
    let stage = exp_data
        .last()
        .and_then(|e| e.stage.clone())
        .or_else(|| last_run.and_then(|r| r.stage))
        .or_else(|| stages.last().map(|s| format!("after {}", s.stage)));
    let failed_jobs = ended
        .iter()
        .map(|s| parse::<EndedJob>(&s.data))
        .filter(|e| e.state != "COMPLETED")
        .collect();
    let jobs_seen = jobs.iter().map(|s| &s.key).collect::<BTreeSet<_>>().len() as u64;
    Ok(ExperimentCourse {
        name: name.to_string(),
        started_epoch,
        started_basis,
        until_epoch,
        active,
        ran_s: if start_known {
            until_epoch.saturating_sub(started_epoch)
        } else {
            0
        },
        stage,
        jobs_seen,
        failed_jobs,
        estimate: estimate(&stages, total, active),
        stages,
        alongside: alongside(
            index,
            name,
            if start_known {
                started_epoch
            } else {
                exps.first().map(|s| s.first_epoch).unwrap_or(until_epoch)
            },
            until_epoch,
        )?,
    })
}

fn parse<T: serde::de::DeserializeOwned + Default>(data: &str) -> T {
    serde_json::from_str(data).unwrap_or_default()
}

/// The earliest evidence of its start, and which one it is.
fn start(exps: &[SpanRow], jobs: &[SpanRow], runs: &[SpanRow], flags: &[SpanRow]) -> (i64, String) {
    let mut candidates: Vec<(i64, &str)> = Vec::new();
    for r in runs {
        if let Some(t) = parse::<Run>(&r.data)
            .started_at
            .as_deref()
            .and_then(timestamp_epoch)
        {
            candidates.push((t, "labtrail run created"));
        }
    }
    for j in jobs {
        let job: Job = parse(&j.data);
        if let Some(t) = job.submit_time.as_deref().and_then(timestamp_epoch) {
            candidates.push((t, "first job submitted"));
        }
    }
    // An experiment a rule names is listed, inactive, before it starts: only active sightings.
    let active_exps = exps.iter().filter(|s| parse::<Experiment>(&s.data).active);
    let seen = active_exps
        .chain(jobs)
        .chain(runs)
        .chain(flags)
        .map(|s| s.first_epoch)
        .min();
    if let Some(t) = seen {
        candidates.push((t, "first snapshot that saw it"));
    }
    candidates
        .into_iter()
        .min_by_key(|c| c.0)
        .map(|(t, why)| (t, why.to_string()))
        .unwrap_or_else(|| (0, UNKNOWN_START.to_string()))
}

/// The start basis of an experiment no evidence dates (only ever listed inactive).
pub const UNKNOWN_START: &str = "unknown";

fn alongside(
    index: &SnapshotIndex,
    name: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Alongside>, SnapshotQueryError> {
    let mut by_exp: BTreeMap<String, (BTreeSet<String>, BTreeMap<String, u64>)> = BTreeMap::new();
    for span in index.spans_overlapping(SpanKind::Job, from, to)? {
        if span.experiment.as_deref() == Some(name) {
            continue;
        }
        let job: Job = parse(&span.data);
        let entry = by_exp
            .entry(span.experiment.unwrap_or_else(|| "other".into()))
            .or_default();
        if entry.0.insert(span.key) {
            *entry.1.entry(job.name).or_default() += 1;
        }
    }
    let mut out: Vec<Alongside> = by_exp
        .into_iter()
        .map(|(experiment, (ids, names))| {
            let mut names: Vec<(String, u64)> = names.into_iter().collect();
            names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            Alongside {
                experiment,
                jobs: ids.len() as u64,
                names: names.into_iter().take(5).map(|n| n.0).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.jobs.cmp(&a.jobs).then(a.experiment.cmp(&b.experiment)));
    out.truncate(10);
    Ok(out)
}

/// `ran_s` in words, for the table.
pub fn ran_text(c: &ExperimentCourse) -> String {
    let d = human_duration(c.ran_s);
    if c.active {
        format!("{d} so far")
    } else {
        d
    }
}
