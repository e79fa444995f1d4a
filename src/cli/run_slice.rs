//! What `labtrail run --only` / `--exclude` prints: the slice, and a summary that tells the
//! slice from the run.

use super::output::UsageError;
use super::terminal::escape;
use crate::app::local::{LocalStart, StateCounts};
use crate::app::slice::{Picked, Slice};
use crate::plan::Plan;
use crate::spec::Spec;
use crate::store::TaskState as S;

/// `labtrail run FILE` with the invocation's `--set` overrides and, `with_slice`, its
/// `--only`/`--exclude` filters: the command a hint tells the user to type. Without the `--set`,
/// a run goes back to the file's values and would not run what is left (issue 14, review).
pub fn command_again(args: &super::run::RunArgs, with_slice: bool) -> String {
    use crate::spec::shell_quote;
    let mut words = vec![
        "labtrail run".to_string(),
        shell_quote(&args.experiment.display().to_string()).into_owned(),
    ];
    let filters = [("--only", &args.only), ("--exclude", &args.exclude)];
    let slice = filters.iter().filter(|_| with_slice);
    for (flag, values) in [("--set", &args.set)].iter().chain(slice) {
        for v in values.iter() {
            words.push(format!("{flag} {}", shell_quote(v)));
        }
    }
    escape(&words.join(" ")).into_owned()
}

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

/// The done tasks a resume skips, the first 10 by label: of the slice when there is one, as
/// the tasks outside it are not this invocation's business (issue 14, review).
pub fn skipped_lines(
    slice: Option<&Slice>,
    start: &LocalStart,
    plan: &Plan,
    spec: &Spec,
) -> Vec<String> {
    let done: Vec<usize> = start
        .done
        .iter()
        .copied()
        .filter(|&i| slice.is_none_or(|s| s.within[i]))
        .collect();
    let mut lines: Vec<String> = done
        .iter()
        .take(10)
        .map(|&i| format!("  ✓ {} (skipped, already done)", plan.label(i, spec)))
        .collect();
    if done.len() > 10 {
        lines.push(format!("  ... and {} more done tasks", done.len() - 10));
    }
    lines
}

/// The line of a slice with nothing to run; the run is not called finished unless it is.
/// `again`: the command that runs the rest ([`command_again`]).
pub fn nothing_to_run(s: &Slice, run_done: usize, again: &str) -> String {
    let rest = s.total - run_done;
    match (s.len(), rest) {
        (0, _) => format!("The filters leave no task to run; nothing to run. ({rest} of the run's {} tasks are not done.)", s.total),
        (n, 0) => format!("All {n} tasks of the slice are done, and so is the run; nothing to run."),
        (n, _) => format!("All {n} tasks of the slice are done; nothing to run. The run is not finished: {rest} of its {} tasks are not done (`{again}` runs them).", s.total),
    }
}

/// The final lines of a slice: its counts (what the exit code is about), then the run's
/// (`run_line`), said to be unfinished while any of its `run_total` tasks is not done (`again`
/// runs them).
pub fn summary(
    of_slice: &StateCounts,
    run: &str,
    run_line: &str,
    run_done: usize,
    run_total: usize,
    again: &str,
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
        lines.push(format!(
            "The run is not finished: {} of its {run_total} tasks are not done (`{again}` runs what is left).",
            run_total - run_done
        ));
    }
    lines
}
