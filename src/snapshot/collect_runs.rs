//! The stores' part of a snapshot: labtrail's runs, read-only (no run lock is taken, nothing is
//! written), and which queued jobs each run submitted.

use super::clock;
use super::model::{Job, Run};
use crate::exec::slurm::{parse_array_name, parse_job_name};
use crate::store::{Access, RunSummary, Store};
use indexmap::IndexMap;
use std::collections::HashSet;
use std::path::PathBuf;

/// What the stores said.
#[derive(Default)]
pub(crate) struct StoreLook {
    /// The latest run of each experiment, and every other run that is active, per store.
    pub runs: Vec<Run>,
    /// Stores that could not be read, and why: warnings, not failures.
    pub warnings: Vec<String>,
}

/// Reads every store and marks each queued job with the run that submitted it (by the job ids
/// the run's submissions and attempts know, or by the job's `lt.RUN...` name).
pub(crate) fn look(stores: &[PathBuf], jobs: &mut [Job]) -> StoreLook {
    let mut out = StoreLook::default();
    for dir in stores {
        if let Err(e) = one_store(dir, jobs, &mut out.runs) {
            out.warnings.push(format!(
                "store {}: {e}; its runs are left out of this snapshot",
                dir.display()
            ));
        }
    }
    out
}

fn one_store(dir: &std::path::Path, jobs: &mut [Job], runs: &mut Vec<Run>) -> anyhow::Result<()> {
    let store = Store::open_with(dir, Access::ReadOnly)?;
    let summaries = store.list_runs()?;
    let mut latest: IndexMap<&str, &str> = IndexMap::new();
    for s in &summaries {
        latest.insert(&s.experiment, &s.id);
    }
    for s in &summaries {
        let known = store.known_job_ids(&s.id)?;
        let mut queued = 0;
        for j in jobs.iter_mut().filter(|j| submitted_by(j, &s.id, &known)) {
            j.run_id = Some(s.id.clone());
            j.experiment = Some(s.experiment.clone());
            queued += 1;
        }
        let held = store.run_lock_is_held(&s.id);
        let active = held || s.running > 0 || queued > 0;
        if !active && latest.get(s.experiment.as_str()) != Some(&s.id.as_str()) {
            continue; // an old run, over: history the store keeps, not activity
        }
        runs.push(run_of(&store, s, active)?);
    }
    Ok(())
}

/// Whether the run submitted the job: its id is one the run recorded (the array's id for an
/// element of an array the run submitted), or its name is one of the run's.
fn submitted_by(j: &Job, run: &str, known: &HashSet<String>) -> bool {
    known.contains(&j.job_id)
        || j.array_job_id.as_ref().is_some_and(|a| known.contains(a))
        || parse_job_name(&j.name).is_some_and(|(r, _)| r == run)
        || parse_array_name(&j.name).is_some_and(|(r, _)| r == run)
}

fn run_of(store: &Store, s: &RunSummary, active: bool) -> anyhow::Result<Run> {
    let counts: IndexMap<String, u64> = [
        ("done", s.done),
        ("failed", s.failed),
        ("running", s.running),
        ("pending", s.pending),
        ("interrupted", s.interrupted),
        ("blocked", s.blocked),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    let ended = s.done + s.failed == s.total;
    let state = match (active, ended) {
        (true, _) => "active",
        (false, true) => "finished",
        // Tasks left to do and nobody running them: it waits for `labtrail run --resume`.
        (false, false) => "stopped",
    };
    Ok(Run {
        store: store.dir().display().to_string(),
        run_id: s.id.clone(),
        experiment: s.experiment.clone(),
        state: state.into(),
        counts,
        stage: store.current_stage(&s.id)?,
        started_at: clock::local_from_utc(&s.created_at),
        finished_at: if state == "finished" {
            store
                .last_task_end(&s.id)?
                .as_deref()
                .and_then(clock::local_from_utc)
        } else {
            None
        },
    })
}
