//! `labtrail run`: start or resume a run of an experiment.

use super::output::{Global, UsageError};
use crate::app::{self, Experiment, RunChoice};
use crate::engine::local::RunConfig;
use crate::progress::Reporter;
use crate::spec::{parse_duration, Spec};
use crate::store::Store;
use std::path::PathBuf;

/// Run an experiment, or resume it: finished tasks are skipped, the rest run.
///
/// Running the same command again after a crash, kill -9, reboot or Ctrl+C resumes the latest run
/// of the experiment: done tasks are skipped, failed and interrupted tasks run again, and tasks
/// whose parameters, command, declared `inputs` (files their stage reads) or upstream tasks
/// changed are new tasks: change `prepare` and every task downstream of it runs again.
/// `labtrail status --explain FILE` says which tasks will run and why.
///
/// Example experiment file (ablation.toml):
///
///   [experiment]
///   name = "ablation"
///   command = "python3 train.py --rep {rep} --layers {layers}"
///
///   [params]
///   rep = ["simple_stats", "spectral"]
///   layers = ["all_layers", "visual_only"]
///
///   [run]
///   workers = 4
///   retries = 1
///   timeout = "2h"
///
/// Examples:
///   labtrail run ablation.toml                 # start, or resume the latest run
///   labtrail run ablation.toml --fresh         # a new run, even if one is unfinished
///   labtrail run ablation.toml --id seed-sweep # a run with a name of your choice
///   labtrail run ablation.toml --resume latest # resume; fail if there is nothing to resume
///   labtrail run ablation.toml --only rep=spectral       # a slice, and the upstream tasks it needs
///   labtrail run ablation.toml --set layers=all_layers   # other values, the file unchanged
///   labtrail run ablation.toml --gpus 0,1                # one GPU per task ([run] gpus)
///
/// Grids: `seed = { range = [0, 10] }`, `lr = { logspace = [1e-4, 1e-1], num = 4 }`, linked
/// parameters as a list of tables, `[grid] sample = 50`: see the README's experiment file.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RunArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,

    /// Concurrent tasks (default: `[run] workers`, else the number of CPUs).
    #[arg(long, short = 'j')]
    pub workers: Option<usize>,

    /// Resume this run id, or `latest`; fails if it does not exist.
    #[arg(long, value_name = "RUN|latest", conflicts_with = "fresh")]
    pub resume: Option<String>,

    /// Use this run id: resumed if it exists, created otherwise.
    #[arg(long, value_name = "NAME")]
    pub id: Option<String>,

    /// Start a new run even if an unfinished one exists.
    #[arg(long)]
    pub fresh: bool,

    /// Time between SIGTERM and SIGKILL when stopping tasks (default: `[run] grace`, else 30s).
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,

    /// Say what would run and why, and run nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// SLURM: submit, start the monitor in the background, and return.
    #[arg(long)]
    pub detach: bool,

    /// Resume even though a runner on another host left the run's lock or attempts of the run
    /// open: the lock is taken over, the attempts are recorded as interrupted and run here.
    /// Only once that runner no longer runs there.
    #[arg(long)]
    pub force: bool,

    /// Replace a parameter's values for this run, as if the file said so: `--set lr=0.1,0.01`,
    /// `--set 'seed={range=[0,5]}'` (repeatable). The tasks get new identities, and the run's
    /// recorded experiment file carries the values.
    #[arg(long = "set", value_name = "PARAM=VALUES")]
    pub set: Vec<String>,

    /// Run only the tasks matching this filter (`rep=stats`, `train/rep=stats`, a stage name;
    /// repeatable: a task matching any of them), and the upstream tasks they need that are not
    /// done. The other tasks of the run are left as they are.
    #[arg(long, value_name = "FILTER")]
    pub only: Vec<String>,

    /// Leave out the tasks matching this filter (repeatable), and what waits for them.
    #[arg(long = "exclude", value_name = "FILTER")]
    pub exclude: Vec<String>,

    /// The GPUs the workers share out (`0,1,2,3` or `auto`); overrides `[run] gpus`.
    #[arg(long, value_name = "LIST|auto")]
    pub gpus: Option<String>,
}

pub fn run(g: &Global, args: RunArgs) -> anyhow::Result<i32> {
    if args.workers == Some(0) {
        // As `workers = 0` in the file is: nothing would ever run.
        return Err(
            UsageError("-j 0: a run needs at least one worker; give -j 1 or more".into()).into(),
        );
    }
    let spec = load_with_sets(g, &args)?;
    // Before anything runs (a dry run included): a missing folder would fail every task.
    spec.check_workdirs()?;
    let store_dir = app::select::store_dir_of(&spec, g.store.as_deref());
    let sliced = !args.only.is_empty() || !args.exclude.is_empty();
    if sliced && spec.run.executor == crate::spec::Executor::Slurm {
        return Err(super::run_slice::slurm_refused(&spec).into());
    }
    if args.dry_run {
        return super::run_dry::dry_run(&args, spec, &store_dir);
    }
    // The GPUs the workers share out, found and checked before anything runs (issue 14).
    let devices = crate::engine::local::gpus::resolve(&spec, args.gpus.as_deref())?;
    if let Some(warning) = devices.as_ref().and_then(|d| d.idle_warning()) {
        tell!("{warning}");
    }
    // From here on a Ctrl+C stops the run before its first task, even one that comes while a
    // large run is being created (issue 10, review).
    crate::exec::signals::catch_early_stop()?;
    let mut store = Store::open(&store_dir, true)?;
    let mut exp = Experiment::expand(spec, Some(&store))?;
    exp.remember_digests(&mut store)?;
    // A filter that names no task is refused before a run is made or locked.
    app::slice::pick(&exp.spec, &exp.plan, &args.only, &args.exclude)?;
    let spec = &exp.spec;
    let grace = match &args.grace {
        Some(t) => parse_duration(t).map_err(|e| UsageError(format!("--grace: {e}")))?,
        None => spec.run.grace,
    };
    let workers = args
        .workers
        .or(spec.run.workers)
        .or(devices.as_ref().and_then(|d| d.default_workers()))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let choice = RunChoice {
        resume: args.resume.clone(),
        id: args.id.clone(),
        fresh: args.fresh,
        force: args.force,
    };
    let mut locked = app::select::select_and_lock(store, &exp, &choice)?;
    let run_id = locked.run.clone();
    let legacy = exp.adopt_scheme(&locked.store, &run_id)?;
    let picked = app::slice::pick(&exp.spec, &exp.plan, &args.only, &args.exclude)?;
    let (spec, plan) = (&exp.spec, &exp.plan);
    // Narration carries labels and paths: escaped, one line each.
    let rep_line = |s: &str| {
        if !g.quiet {
            tell!("{}", super::terminal::escape(s))
        }
    };
    if let Some(previous) = &locked.taken_over_from {
        tell!("labtrail: took over the lock of run {run_id}: {previous}");
    }
    if let Some(option) = &locked.locks_stay_here {
        tell!("labtrail: warning: the store's locks stay on this host ({option}): use the store from this host only, or from a mount whose locks all hosts share (docs/store-filesystems.md)");
    }
    if legacy && spec.is_staged() {
        rep_line(&format!(
            "note: run {run_id} was made before labtrail 0.4: in it, a change upstream does not rerun the tasks downstream; `--fresh` starts a run that tracks lineage"
        ));
    }
    if spec.run.executor == crate::spec::Executor::Slurm {
        let start = app::slurm::prepare(&mut locked, &exp)?;
        let verb = if locked.created {
            "Starting"
        } else {
            "Resuming"
        };
        rep_line(&format!(
            "{verb} SLURM run {run_id}: {} tasks ({} new); store: {}",
            plan.tasks.len(),
            start.added,
            locked.store.dir().display()
        ));
        if start.retried > 0 {
            tell!(
                "  {} failed or blocked task(s) will be submitted again",
                start.retried
            );
        }
        return super::monitor::run_slurm(g, locked, spec, args.detach);
    }
    let start = app::local::prepare(&mut locked, &exp, grace, args.force)?;
    if let Some(forced) = &start.forced {
        tell!(
            "labtrail: --force: {} attempt(s) started on {} recorded as interrupted; they run again here",
            forced.count, forced.hosts
        );
    }
    if start.recovery.orphans_stopped > 0 {
        tell!(
            "labtrail: stopped {} leftover process(es) of an earlier runner of this run",
            start.recovery.orphans_stopped
        );
    }
    let slice = picked.map(|p| super::run_slice::of_start(&p, plan, &start));
    // What a hint tells the user to type keeps the `--set` overrides (issue 14, review).
    let rest_again = super::run_slice::command_again(&args, false);
    let total = plan.tasks.len();
    let done = start.done.len();
    let (to_run, slice_done) = super::run_slice::to_run(slice.as_ref(), &start, total);
    let workers = crate::engine::local::workers_for(workers, to_run);
    use crate::store::TaskState as S;
    if locked.created {
        rep_line(&format!(
            "Starting run {run_id}: {total} tasks, {workers} workers (store: {})",
            locked.store.dir().display()
        ));
        if let Some(s) = &slice {
            rep_line(&s.describe());
            if to_run == 0 {
                rep_line(&super::run_slice::nothing_to_run(s, done, &rest_again));
                return Ok(0);
            }
        }
    } else {
        rep_line(&format!(
            "Resuming run {run_id}: found {done} of {total} tasks done"
        ));
        for line in super::run_slice::skipped_lines(slice.as_ref(), &start, plan, spec) {
            rep_line(&line);
        }
        let again = [
            (S::Interrupted, "interrupted"),
            (S::Failed, "failed"),
            (S::Blocked, "blocked"),
        ]
        .iter()
        .filter(|(s, _)| start.states.get(*s) > 0)
        .map(|(s, n)| format!("{} {n}", start.states.get(*s)))
        .collect::<Vec<_>>();
        if !again.is_empty() {
            rep_line(&format!("  to run again: {}", again.join(", ")));
        }
        let (added, retired) = (start.added, start.retired);
        if added > 0 && added < total {
            rep_line(&format!(
                "  {added} new task(s): their parameters, command, inputs or upstream tasks changed, or they were added"
            ));
        }
        if retired > 0 {
            rep_line(&format!("  {retired} task(s) of an earlier configuration are kept in the store but not reused"));
        }
        if start.recovery.interrupted > 0 {
            rep_line(&format!("  {} attempt(s) were still running when the last runner stopped: recorded as interrupted", start.recovery.interrupted));
        }
        if let Some(s) = &slice {
            rep_line(&s.describe());
            if to_run == 0 {
                rep_line(&super::run_slice::nothing_to_run(s, done, &rest_again));
                return Ok(0);
            }
        }
        if start.all_done(&exp) {
            rep_line(&format!("All {total} tasks are done; nothing to run. (`labtrail results` shows them; --fresh starts a new run.)"));
            return Ok(0);
        }
        rep_line(&format!(
            "Will run {to_run} remaining task(s) with {workers} workers"
        ));
    }
    let reporter = Reporter::new(
        g.progress,
        g.quiet,
        (to_run + slice_done) as u64,
        slice_done as u64,
    );
    let cfg = RunConfig {
        workers,
        grace,
        devices,
    };
    let finish = app::local::execute_slice(&mut locked, &exp, &cfg, &reporter, slice.as_ref())?;
    let n = |st| finish.states.get(st);
    let mut summary = format!("run {run_id}: {}/{total} done", n(S::Done));
    for (st, name) in [
        (S::Failed, "failed"),
        (S::Blocked, "blocked"),
        (S::Interrupted, "interrupted"),
        (S::Pending, "pending"),
    ] {
        if n(st) > 0 {
            summary.push_str(&format!(", {} {name}", n(st)));
        }
    }
    match &finish.slice_states {
        Some(of_slice) => {
            let done = n(S::Done);
            let lines =
                super::run_slice::summary(of_slice, &run_id, &summary, done, total, &rest_again);
            for line in lines {
                tell!("{line}");
            }
        }
        None => tell!("{summary}"),
    }
    if finish.report.stopped_by.is_some() {
        tell!(
            "Run the same command again to resume: `{}`",
            super::run_slice::command_again(&args, true)
        );
    } else if n(S::Failed) > 0 {
        tell!("See why: `labtrail tasks --state failed` and `labtrail logs TASK`; fix, then run the same command again to retry only those.");
    }
    locked.release();
    Ok(finish.report.exit_code())
}

/// The experiment file with `--set` applied; the overrides are said once, on stderr.
fn load_with_sets(g: &Global, args: &RunArgs) -> anyhow::Result<Spec> {
    let spec = spec_with_sets(&args.experiment, &args.set)?;
    for set in args.set.iter().filter(|_| !g.quiet) {
        tell!(
            "labtrail: --set {}: the run records the file with these values",
            super::terminal::escape(set)
        );
    }
    Ok(spec)
}

/// The experiment file at `path` with `--set` overrides applied; a bad override is a usage error.
pub(super) fn spec_with_sets(path: &std::path::Path, sets: &[String]) -> anyhow::Result<Spec> {
    use crate::spec::set::SetError;
    Spec::load_with(path, sets).map_err(|e| match e {
        SetError::Spec(e) => anyhow::Error::from(e),
        other => UsageError(other.to_string()).into(),
    })
}
