//! `labtrail monitor`: start or re-attach the monitor of SLURM runs.

use super::output::{Global, UsageError};
use crate::engine::slurm::{self, Monitor};
use crate::exec::slurm::Scheduler;
use crate::progress::Reporter;
use crate::spec::{Executor, Spec};
use crate::store::{RunLock, Store, StoreError, TaskState};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

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
}

/// Rebuilds the spec of a run from the experiment text recorded with it.
pub fn stored_spec(store: &Store, run: &str) -> anyhow::Result<Spec> {
    let (path, text) = store.run_spec(run)?;
    Ok(Spec::parse(Path::new(&path), text)?)
}

/// Signal numbers land here; the monitor loop checks it.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicUsize>> {
    let flag = Arc::new(AtomicUsize::new(0));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        signal_hook::flag::register_usize(sig, flag.clone(), sig as usize)?;
    }
    Ok(flag)
}

/// Monitors one run in the foreground with the lock held; returns the exit code.
pub fn watch_run(
    g: &Global,
    store: &mut Store,
    run: &str,
    spec: &Spec,
    once: bool,
) -> anyhow::Result<i32> {
    let plan = crate::plan::expand(spec);
    let sched = Scheduler::new();
    let base = std::path::absolute(spec.base_dir())?;
    let done = store
        .task_states(run)?
        .values()
        .filter(|s| s.0 == TaskState::Done)
        .count() as u64;
    let rep = Reporter::new(g.progress && !once, g.quiet, plan.tasks.len() as u64, done);
    let stop = stop_flag()?;
    let mut mon = Monitor::new(store, run, spec, &plan, &sched, base)?;
    let code = if once {
        let outcome = mon.poll(&rep)?;
        if let Some(t) = outcome.scheduler_trouble {
            rep.always(&format!("labtrail: the scheduler did not answer: {t}"));
        }
        0
    } else {
        slurm::watch(&mut mon, &rep, &stop)?
    };
    rep.finish();
    let c = mon.counts()?;
    eprintln!(
        "run {run}: {}/{} done, {} failed or blocked, {} running",
        c.done, c.total, c.failed, c.running
    );
    Ok(code)
}

pub fn run(g: &Global, args: MonitorArgs) -> anyhow::Result<i32> {
    let mut store = g.open_store()?;
    let runs: Vec<String> = if args.all {
        store
            .list_runs()?
            .into_iter()
            .filter(|r| !r.finished())
            .map(|r| r.id)
            .filter(|id| store.executor(id).is_ok_and(|e| e == "slurm"))
            .collect()
    } else {
        vec![store.resolve_run(args.run.as_deref())?]
    };
    if runs.is_empty() {
        println!("no unfinished SLURM runs in {}", store.dir().display());
        return Ok(0);
    }
    let mut worst = 0;
    for run in runs {
        if store.executor(&run)? != "slurm" {
            return Err(UsageError(format!("run `{run}` uses the local executor; resume it with `labtrail run EXPERIMENT.toml`")).into());
        }
        let lock = match RunLock::acquire(&store.run_dir(&run), &run) {
            Ok(l) => l,
            Err(e @ StoreError::Locked { .. }) if args.all => {
                eprintln!("labtrail: skipping {run}: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(previous) = &lock.taken_over_from {
            eprintln!("labtrail: took over the monitor lock of run {run}: {previous}");
        }
        let spec = stored_spec(&store, &run)?;
        let code = watch_run(g, &mut store, &run, &spec, args.once)?;
        if code > 128 {
            return Ok(code);
        }
        worst = worst.max(code);
    }
    Ok(worst)
}

/// Starts `labtrail monitor --run RUN` in the background, detached from the terminal; its output
/// goes to the run's `monitor.log`.
pub fn detach(store_dir: &Path, run: &str, log: PathBuf) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["monitor", "--no-progress", "--run", run, "--store"])
        .arg(store_dir)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    // SAFETY: setsid is async-signal-safe; it detaches the monitor from the terminal's session.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    Ok(cmd.spawn()?.id())
}

/// `labtrail run` for an experiment with `executor = "slurm"`.
pub fn run_slurm(
    g: &Global,
    store: &mut Store,
    spec: &Spec,
    run: &str,
    lock: RunLock,
    detach_after_submit: bool,
) -> anyhow::Result<i32> {
    debug_assert_eq!(spec.run.executor, Executor::Slurm);
    store.set_executor(run, "slurm")?;
    // A new invocation retries what the policy stopped, like the local executor does.
    let retry: Vec<String> = store
        .tasks(run, None)?
        .into_iter()
        .filter(|t| {
            matches!(
                t.state,
                TaskState::Failed | TaskState::Blocked | TaskState::Interrupted
            )
        })
        .map(|t| t.key)
        .collect();
    if !retry.is_empty() {
        store.reset(run, &retry)?;
        eprintln!(
            "  {} failed or blocked task(s) will be submitted again",
            retry.len()
        );
    }
    if !detach_after_submit {
        let code = watch_run(g, store, run, spec, false)?;
        drop(lock);
        return Ok(code);
    }
    watch_run(g, store, run, spec, true)?;
    drop(lock);
    let log = store.run_dir(run).join("monitor.log");
    let pid = detach(store.dir(), run, log.clone())?;
    eprintln!("monitor started in the background (PID {pid}); log: {}\n  `labtrail status` shows progress; `labtrail monitor` re-attaches after a reboot", log.display());
    Ok(0)
}
