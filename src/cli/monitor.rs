//! `labtrail monitor`: start or re-attach the monitor of SLURM runs.

use super::output::Global;
use crate::app::slurm::Notice;
use crate::app::{self, LockedRun};
use crate::progress::Reporter;
use crate::spec::Spec;
use crate::store::Store;

/// Watch a SLURM run's jobs: apply restart policies, submit what is ready, survive restarts.
///
/// Safe to stop at any moment (Ctrl+C, kill -9, logout): the jobs keep running, and the next
/// `labtrail monitor` reconciles what happened meanwhile: jobs that finished, were cancelled,
/// requeued, or resubmitted by hand under a new id with the task's job name.
///
/// Examples:
///   labtrail monitor                 # the latest run, in the foreground
///   labtrail monitor --run RUN
///   labtrail monitor --all           # every unfinished SLURM run in the store, one after another
///   labtrail monitor --once          # one poll, then exit (for cron)
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct MonitorArgs {
    /// The run (default: the latest).
    #[arg(long, conflicts_with = "all")]
    pub run: Option<String>,
    /// Every SLURM run of the store with unfinished tasks.
    #[arg(long)]
    pub all: bool,
    /// Poll once and exit.
    #[arg(long)]
    pub once: bool,
    /// Take over a run whose monitor on another host left its lock without releasing it
    /// cleanly. Only once that monitor no longer runs there.
    #[arg(long)]
    pub force: bool,
}

fn summary(run: &str, c: &crate::progress::Counts) {
    tell!(
        "run {run}: {}/{} done, {} failed or blocked, {} running",
        c.done,
        c.total,
        c.failed,
        c.running
    );
}

/// Monitors one run in the foreground with the lock held; returns the exit code.
fn watch_run(
    g: &Global,
    store: &mut Store,
    run: &str,
    spec: &Spec,
    once: bool,
) -> anyhow::Result<i32> {
    let watched = app::slurm::watch(store, run, spec, once, |total, done| {
        Reporter::new(g.progress && !once, g.quiet, total, done)
    })?;
    summary(run, &watched.counts);
    Ok(watched.code)
}

pub fn run(g: &Global, args: MonitorArgs) -> anyhow::Result<i32> {
    let mut store = g.open_store_for_writing()?;
    let runs = app::slurm::runs_to_watch(&store, args.all, args.run.as_deref())?;
    if runs.is_empty() {
        say!("no unfinished SLURM runs in {}", store.dir().display());
        return Ok(0);
    }
    let once = args.once;
    app::slurm::watch_runs(
        &mut store,
        &runs,
        args.all,
        once,
        args.force,
        |total, done| Reporter::new(g.progress && !once, g.quiet, total, done),
        |notice| match notice {
            Notice::Skipped { run, why } => {
                tell!(
                    "labtrail: skipping {run}: {}",
                    super::terminal::escape(&why.to_string())
                )
            }
            Notice::TookOver { run, previous } => {
                tell!("labtrail: took over the monitor lock of run {run}: {previous}")
            }
            Notice::LocksStayHere { run, option } => {
                tell!("labtrail: warning: run {run}: the store's locks stay on this host ({option}): use the store from this host only, or from a mount whose locks all hosts share (docs/store-filesystems.md)")
            }
            Notice::Watched { run, counts } => summary(&run, &counts),
        },
    )
}

/// `labtrail run` for an experiment with `executor = "slurm"`, once the run is prepared: the
/// monitor in the foreground, or one poll and the monitor detached.
pub fn run_slurm(
    g: &Global,
    mut locked: LockedRun,
    spec: &Spec,
    detach_after_submit: bool,
) -> anyhow::Result<i32> {
    let run = locked.run.clone();
    if !detach_after_submit {
        let code = watch_run(g, &mut locked.store, &run, spec, false)?;
        locked.release();
        return Ok(code);
    }
    let code = watch_run(g, &mut locked.store, &run, spec, true)?;
    if code >= 128 {
        // Stopped by a signal before anything was submitted: no monitor either.
        locked.release();
        return Ok(code);
    }
    let store = locked.release();
    let log = app::slurm::monitor_log(&store, &run);
    let pid = app::slurm::detach_monitor(store.dir(), &run, &log)?;
    tell!("monitor started in the background (PID {pid}); log: {}\n  `labtrail status` shows progress; `labtrail monitor` re-attaches after a reboot", log.display());
    Ok(0)
}
