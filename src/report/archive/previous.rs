//! "Changes vs previous run", filled in every archive: the previous run is the latest run
//! created before this one, of the same experiment (same name and same experiment file), that
//! finished (every task done, failed or blocked: none pending, running or interrupted). It is
//! archived too, compared with `report::diff`, and its curves are overlaid on this run's.

use super::build::{build, BuildOptions};
use super::curves::{lttb, points, MAX_POINTS};
use super::model::{Archive, Changes, TaskArchive};
use crate::provenance::model::Probed;
use crate::report::diff::{compare, summary_lines, DiffOptions};
use crate::report::QueryError;
use crate::store::{RunSummary, Store};

/// Whether a run has ended: it has tasks and none of them is waiting or working.
pub fn has_finished(r: &RunSummary) -> bool {
    r.total > 0 && r.pending + r.running + r.interrupted == 0
}

/// The previous finished run of `run`'s experiment, if there is one.
pub fn previous_run(store: &Store, run: &str) -> Result<Option<String>, QueryError> {
    let runs = store.list_runs()?;
    let Some(at) = runs.iter().position(|r| r.id == run) else {
        return Ok(None);
    };
    let me = &runs[at];
    Ok(runs[..at]
        .iter()
        .rev()
        .find(|r| r.experiment == me.experiment && r.spec_path == me.spec_path && has_finished(r))
        .map(|r| r.id.clone()))
}

/// Compares `archive` with its previous run and gives each of its curves the previous run's
/// curve of the same task (by key, else by stage and parameters).
pub fn attach(store: &Store, archive: &mut Archive) -> Result<Probed<Changes>, QueryError> {
    let Some(prev) = previous_run(store, &archive.summary.run_id)? else {
        return Ok(Probed::na(format!(
            "no earlier finished run of experiment `{}` from {}",
            archive.summary.experiment, archive.config.spec_path
        )));
    };
    let options = BuildOptions {
        previous: false,
        generated_at: Some(archive.generated_at.clone()),
    };
    let before = build(store, &prev, &options)?;
    for curve in &mut archive.curves {
        let Some(mine) = archive.tasks.iter().find(|t| t.key == curve.task) else {
            continue;
        };
        let Some(theirs) = matching(&before.tasks, mine) else {
            continue;
        };
        let Some(last) = store.attempts(&prev, &theirs.key)?.last().map(|a| a.number) else {
            continue;
        };
        let lines = store.metrics(&prev, &theirs.key, last)?;
        let pts = points(lines.iter().map(String::as_str), &curve.key);
        if !pts.is_empty() {
            curve.previous = Some(lttb(&pts, MAX_POINTS));
        }
    }
    let diff = compare(&before, archive, &DiffOptions::default());
    Ok(Probed::Value(Changes {
        previous_run_id: prev,
        summary: summary_lines(&diff),
        diff,
    }))
}

/// The task of an earlier run that is `task`'s counterpart: the same key, else the same stage
/// and parameter values (a task whose command changed).
fn matching<'a>(tasks: &'a [TaskArchive], task: &TaskArchive) -> Option<&'a TaskArchive> {
    tasks.iter().find(|t| t.key == task.key).or_else(|| {
        tasks
            .iter()
            .find(|t| t.stage == task.stage && t.params == task.params)
    })
}
