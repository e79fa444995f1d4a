//! `labtrail run`: start or resume a run of an experiment.

use super::output::{Global, UsageError};
use crate::plan;
use crate::progress::Reporter;
use crate::engine::local::{self, RunConfig};
use crate::spec::{is_safe_name, parse_duration, Spec};
use crate::store::{Change, RunLock, Store, STORE_DIR};
use anyhow::Context;
use std::path::PathBuf;

/// Run an experiment, or resume it: finished tasks are skipped, the rest run.
///
/// Running the same command again after a crash, kill -9, reboot or Ctrl+C resumes the latest run
/// of the experiment: done tasks are skipped, failed and interrupted tasks run again, and tasks
/// whose parameters or command changed are new tasks.
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
}

fn new_run_id(store: &Store, experiment: &str) -> anyhow::Result<String> {
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S").to_string();
    let base = format!("{experiment}-{stamp}");
    let mut id = base.clone();
    let mut n = 2;
    while store.run_exists(&id)? {
        id = format!("{base}-{n}");
        n += 1;
    }
    Ok(id)
}

/// Picks the run to work on; `Ok((id, created))`.
fn choose_run(store: &mut Store, spec: &Spec, args: &RunArgs) -> anyhow::Result<(String, bool)> {
    if let Some(id) = &args.id {
        if !is_safe_name(id) {
            return Err(UsageError(format!("run id `{id}` is not allowed: use letters, digits, `.`, `_` and `-` (at most 100, not starting with `.`)")).into());
        }
    }
    let existing = match (&args.resume, &args.id, args.fresh) {
        (Some(r), _, _) => Some(store.resolve_run_of(Some(r), &spec.name)?),
        (None, Some(id), false) => store.run_exists(id)?.then(|| id.clone()),
        (None, Some(id), true) if store.run_exists(id)? => {
            return Err(UsageError(format!("--fresh with --id {id}: a run with that id already exists; pick another id or drop --fresh to resume it")).into())
        }
        (None, None, false) => store.latest_run(Some(&spec.name))?,
        _ => None,
    };
    if let Some(id) = existing {
        if let Some(other) = store.run_experiment(&id)?.filter(|e| e != &spec.name) {
            return Err(UsageError(format!(
                "run `{id}` belongs to experiment `{other}`, not `{}`",
                spec.name
            ))
            .into());
        }
        return Ok((id, false));
    }
    let id = match &args.id {
        Some(id) => id.clone(),
        None => new_run_id(store, &spec.name)?,
    };
    store.create_run(
        &id,
        &spec.name,
        &spec.path.display().to_string(),
        &spec.source,
    )?;
    Ok((id, true))
}

pub fn run(g: &Global, args: RunArgs) -> anyhow::Result<i32> {
    let spec = Spec::load(&args.experiment)?;
    let plan = plan::expand(&spec);
    if plan.tasks.is_empty() {
        return Err(UsageError(format!(
            "{}: the grid has no tasks left after [[exclude]]; remove an exclusion or add values",
            spec.path.display()
        ))
        .into());
    }
    let store_dir = g
        .store
        .clone()
        .unwrap_or_else(|| spec.base_dir().join(STORE_DIR));
    if args.dry_run && !store_dir.join(crate::store::DB_FILE).exists() {
        // Nothing has run yet; a dry run must not create a store.
        return super::status::explain_fresh(&spec, &plan);
    }
    let mut store = Store::open(&store_dir, true)?;
    if args.dry_run {
        return super::status::explain(
            &mut store,
            &spec,
            &plan,
            args.resume.as_deref().or(args.id.as_deref()),
        );
    }
    let grace = match &args.grace {
        Some(t) => parse_duration(t).map_err(|e| UsageError(format!("--grace: {e}")))?,
        None => spec.run.grace,
    };
    let workers = args
        .workers
        .or(spec.run.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let (run_id, created) = choose_run(&mut store, &spec, &args)?;
    let lock = RunLock::acquire(&store.run_dir(&run_id), &run_id)?;
    let rep_line = |s: &str| {
        if !g.quiet {
            eprintln!("{s}")
        }
    };
    if let Some(previous) = &lock.taken_over_from {
        eprintln!("labtrail: took over the lock of run {run_id}: {previous}");
        store.apply(
            &run_id,
            &[Change::Note {
                kind: "lock_taken_over".into(),
                detail: previous.clone(),
            }],
        )?;
    }
    if spec.run.executor == crate::spec::Executor::Slurm {
        let (added, _) = store.sync_plan(&run_id, &plan.hash, || plan.store_rows(&spec))?;
        let verb = if created { "Starting" } else { "Resuming" };
        rep_line(&format!(
            "{verb} SLURM run {run_id}: {} tasks ({added} new); store: {}",
            plan.tasks.len(),
            store.dir().display()
        ));
        return super::monitor::run_slurm(g, &mut store, &spec, &run_id, lock, args.detach);
    }
    let recovery = local::recover(&mut store, &run_id, grace).context("recovering the run")?;
    if recovery.orphans_stopped > 0 {
        eprintln!(
            "labtrail: stopped {} leftover process(es) of an earlier runner of this run",
            recovery.orphans_stopped
        );
    }
    let (added, retired) = store.sync_plan(&run_id, &plan.hash, || plan.store_rows(&spec))?;
    let states = store.task_states(&run_id)?;
    let total = plan.tasks.len();
    let done: Vec<&plan::Task> = plan
        .tasks
        .iter()
        .filter(|t| {
            states
                .get(&t.key)
                .is_some_and(|s| s.0 == crate::store::TaskState::Done)
        })
        .collect();
    let count = |st| states.values().filter(|s| s.0 == st).count();
    use crate::store::TaskState as S;
    if created {
        rep_line(&format!(
            "Starting run {run_id}: {total} tasks, {workers} workers (store: {})",
            store.dir().display()
        ));
    } else {
        rep_line(&format!(
            "Resuming run {run_id}: found {} of {total} tasks done",
            done.len()
        ));
        for t in done.iter().take(10) {
            rep_line(&format!("  ✓ {} (skipped, already done)", t.label(&spec)));
        }
        if done.len() > 10 {
            rep_line(&format!("  ... and {} more done tasks", done.len() - 10));
        }
        let again = [
            (S::Interrupted, "interrupted"),
            (S::Failed, "failed"),
            (S::Blocked, "blocked"),
        ]
        .iter()
        .filter(|(s, _)| count(*s) > 0)
        .map(|(s, n)| format!("{} {n}", count(*s)))
        .collect::<Vec<_>>();
        if !again.is_empty() {
            rep_line(&format!("  to run again: {}", again.join(", ")));
        }
        if added > 0 && added < total {
            rep_line(&format!(
                "  {added} new task(s): their parameters or command changed, or they were added"
            ));
        }
        if retired > 0 {
            rep_line(&format!("  {retired} task(s) of an earlier configuration are kept in the store but not reused"));
        }
        if recovery.interrupted > 0 {
            rep_line(&format!("  {} attempt(s) were still running when the last runner stopped: recorded as interrupted", recovery.interrupted));
        }
        if done.len() == total {
            rep_line(&format!("All {total} tasks are done; nothing to run. (`labtrail results` shows them; --fresh starts a new run.)"));
            return Ok(0);
        }
        rep_line(&format!(
            "Will run {} remaining task(s) with {workers} workers",
            total - done.len()
        ));
    }
    let reporter = Reporter::new(g.progress, g.quiet, total as u64, done.len() as u64);
    let report = local::execute(
        &mut store,
        &run_id,
        &spec,
        &plan,
        &RunConfig { workers, grace },
        &reporter,
    )?;
    let states = store.task_states(&run_id)?;
    let n = |st| states.values().filter(|s| s.0 == st).count();
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
    eprintln!("{summary}");
    if report.stopped_by.is_some() {
        eprintln!(
            "Run the same command again to resume: `labtrail run {}`",
            args.experiment.display()
        );
    } else if n(S::Failed) > 0 {
        eprintln!("See why: `labtrail tasks --state failed` and `labtrail logs TASK`; fix, then run the same command again to retry only those.");
    }
    drop(lock);
    Ok(report.exit_code())
}
