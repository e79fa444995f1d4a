//! What `labtrail run --only` / `--exclude` prints: the slice, and a summary that tells the
//! slice from the run.

use super::output::UsageError;
use super::terminal::escape;
use crate::app::local::{LocalStart, StateCounts};
use crate::app::slice::{Picked, Slice};
use crate::plan::Plan;
use crate::spec::Spec;
use crate::store::TaskState as S;
use std::path::Path;

/// `--only`/`--exclude` with the SLURM executor: refused, see [`crate::app::slice`].
pub fn slurm_refused(spec: &Spec) -> UsageError {
    UsageError(format!(
        "--only/--exclude: {} says executor = \"slurm\", and a slice works with the local executor only: the SLURM monitor, which may restart detached, does not keep a slice\n  help: run the slice with executor = \"local\", or narrow the grid in the file (`[[exclude]]`)",
        spec.path.display()
    ))
}

/// The slice of `picked` now that `start` says which tasks are done.
pub fn of_start(picked: &Picked, plan: &Plan, start: &LocalStart) -> Slice {
    let mut done = vec![false; plan.tasks.len()];
    for &i in &start.done {
        done[i] = true;
    }
    picked.slice(plan, |i| done[i])
}

/// The tasks this invocation will run, and the tasks of the slice (`None`: the plan of `total`
/// tasks) already done.
pub fn to_run(slice: Option<&Slice>, start: &LocalStart, total: usize) -> (usize, usize) {
    match slice {
        Some(s) => {
            let done = start.done.iter().filter(|&&i| s.within[i]).count();
            (s.len() - done, done)
        }
        None => (total - start.done.len(), start.done.len()),
    }
}

/// The line of a slice with nothing to run; the run is not called finished unless it is.
pub fn nothing_to_run(s: &Slice, run_done: usize, experiment: &Path) -> String {
    let rest = s.total - run_done;
    let file = escape(&experiment.display().to_string()).into_owned();
    match (s.len(), rest) {
        (0, _) => format!("The filters leave no task to run; nothing to run. ({rest} of the run's {} tasks are not done.)", s.total),
        (n, 0) => format!("All {n} tasks of the slice are done, and so is the run; nothing to run."),
        (n, _) => format!("All {n} tasks of the slice are done; nothing to run. The run is not finished: {rest} of its {} tasks are not done (`labtrail run {file}` runs them).", s.total),
    }
}

/// The final lines of a slice: its counts (what the exit code is about), then the run's
/// (`run_line`), said to be unfinished while any of its `run_total` tasks is not done.
pub fn summary(
    of_slice: &StateCounts,
    run: &str,
    run_line: &str,
    run_done: usize,
    run_total: usize,
    experiment: &Path,
) -> Vec<String> {
    let n = |st| of_slice.get(st);
    let states = [
        (S::Failed, "failed"),
        (S::Blocked, "blocked"),
        (S::Interrupted, "interrupted"),
        (S::Pending, "pending"),
        (S::Running, "running"),
    ];
    let total = n(S::Done) + states.iter().map(|&(st, _)| n(st)).sum::<usize>();
    let mut line = format!("slice of run {run}: {}/{total} done", n(S::Done));
    for (st, name) in states {
        if n(st) > 0 {
            line.push_str(&format!(", {} {name}", n(st)));
        }
    }
    let mut lines = vec![line, run_line.to_string()];
    if run_done < run_total {
        let file = escape(&experiment.display().to_string()).into_owned();
        lines.push(format!(
            "The run is not finished: {} of its {run_total} tasks are not done (`labtrail run {file}` runs what is left).",
            run_total - run_done
        ));
    }
    lines
}
