//! A SLURM run: what `labtrail run` does before the monitor takes over, the monitor in the
//! foreground, and the monitor detached from the terminal.

use super::recorded::recorded_spec_path;
use super::{Experiment, LockedRun, UsageError};
use crate::engine::slurm::{self, Monitor};
use crate::exec::slurm::Scheduler;
use crate::progress::{Counts, Reporter};
use crate::provenance::{self, model::PROVENANCE_RECORD};
use crate::spec::Spec;
use crate::store::{RunLock, Store, StoreError, TaskState};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

/// The executor name a SLURM run has in the store.
const EXECUTOR: &str = "slurm";

/// What `labtrail run` did to a SLURM run before watching it.
#[derive(Debug)]
pub struct SlurmStart {
    /// Tasks added to the run by this plan.
    pub added: usize,
    /// Failed, blocked or interrupted tasks made pending again, to be submitted again.
    pub retried: usize,
}

/// Syncs the plan, marks the run as a SLURM run, and makes what the policy stopped pending
/// again: a new invocation retries it, as the local executor does.
pub fn prepare(locked: &mut LockedRun, exp: &Experiment) -> anyhow::Result<SlurmStart> {
    let created_tasks = std::mem::take(&mut locked.created_tasks);
    let (store, run) = (&mut locked.store, locked.run.as_str());
    // A reset killed before it moved its tasks' folders aside: finished before any job uses one.
    store.settle_task_dir_moves(run)?;
    let (added, _) = store.sync_plan(run, &exp.plan.hash, || exp.plan.store_rows(&exp.spec))?;
    // A run this invocation created came with its whole plan, all of it new.
    let added = added + created_tasks;
    store.set_executor(run, EXECUTOR)?;
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
    }
    Ok(SlurmStart {
        added,
        retried: retry.len(),
    })
}

/// The runs `labtrail monitor` watches: every unfinished SLURM run (`all`), or the one named
/// (default: the latest), which must be a SLURM run.
pub fn runs_to_watch(store: &Store, all: bool, run: Option<&str>) -> anyhow::Result<Vec<String>> {
    if all {
        return Ok(store
            .list_runs()?
            .into_iter()
            .filter(|r| !r.finished())
            .map(|r| r.id)
            .filter(|id| store.executor(id).is_ok_and(|e| e == EXECUTOR))
            .collect());
    }
    let run = store.resolve_run(run)?;
    if store.executor(&run)? != EXECUTOR {
        return Err(UsageError(format!(
            "run `{run}` uses the local executor; resume it with `labtrail run EXPERIMENT.toml`"
        ))
        .into());
    }
    Ok(vec![run])
}

/// Rebuilds the spec of a run from the experiment text recorded with it, at the path recorded
/// with it (see [`recorded_spec_path`]): the base of its working directories.
pub fn stored_spec(store: &Store, run: &str) -> anyhow::Result<Spec> {
    let (path, text) = store.run_spec(run)?;
    Ok(Spec::parse(
        &recorded_spec_path(store.dir(), Path::new(&path)),
        text,
    )?)
}

/// Signal numbers land here; the monitor loop checks it.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicUsize>> {
    // Also for a store busy past its timeout: the wait for it ends at a stop signal.
    crate::exec::signals::catch_early_stop()?;
    let flag = Arc::new(AtomicUsize::new(0));
    for &sig in crate::exec::signals::stop_signals() {
        signal_hook::flag::register_usize(sig, flag.clone(), sig as usize)?;
    }
    Ok(flag)
}

/// How a watch ended.
#[derive(Debug)]
pub struct Watched {
    /// 0 all done, 1 some task failed or is blocked, 128+N stopped by signal N; 0 after `once`.
    pub code: i32,
    /// The run's counts at the end.
    pub counts: Counts,
}

/// Monitors one run (its lock held by the caller) until nothing is left to watch or a stop
/// signal; with `once`, one poll. `reporter` makes the display from the (total, done) counts.
pub fn watch(
    store: &mut Store,
    run: &str,
    spec: &Spec,
    once: bool,
    reporter: impl FnOnce(u64, u64) -> Reporter,
) -> anyhow::Result<Watched> {
    let plan = super::select::stored_plan(store, run, spec)?;
    let sched = Scheduler::new();
    let base = std::path::absolute(spec.base_dir())?;
    let done = store
        .task_states(run)?
        .values()
        .filter(|s| s.0 == TaskState::Done)
        .count() as u64;
    let rep = reporter(plan.tasks.len() as u64, done);
    let stop = stop_flag()?;
    // Provenance of this invocation, before it submits anything: a watch to the end captures;
    // a single poll (`--once` from cron, `run --detach`) only for a run that has none yet.
    let capture = if !once || store.records(run, PROVENANCE_RECORD)?.is_empty() {
        provenance::capture::start(store, run, spec)
    } else {
        None
    };
    let mut mon = Monitor::new(store, run, spec, &plan, &sched, base)?;
    // Ctrl+C while `run` created the run: nothing is submitted (see `signals::early_stop`).
    if let Some(sig) = crate::exec::signals::early_stop() {
        rep.finish();
        return Ok(Watched {
            code: 128 + sig,
            counts: mon.counts()?,
        });
    }
    let code = if once {
        mon.poll(&rep).map(|outcome| {
            if let Some(t) = outcome.scheduler_trouble {
                rep.always(&format!("labtrail: the scheduler did not answer: {t}"));
            }
            0
        })
    } else {
        slurm::watch(&mut mon, &rep, &stop)
    };
    rep.finish();
    let counts = mon.counts();
    drop(mon);
    if let Some(capture) = capture {
        capture.seal(store);
    }
    Ok(Watched {
        code: code?,
        counts: counts?,
    })
}

/// What [`watch_runs`] tells its caller as it goes.
#[derive(Debug)]
pub enum Notice {
    /// Another live monitor holds this run (with `all`, the run is skipped).
    Skipped { run: String, why: StoreError },
    /// The lock was taken over from a holder that is gone.
    TookOver { run: String, previous: String },
    /// The lock does not keep out another host: the store's mount keeps locks on this one.
    LocksStayHere { run: String, option: String },
    /// A run was watched to its end (or polled once).
    Watched { run: String, counts: Counts },
}

/// `labtrail monitor`: watches `runs` one after another, each with its lock held. A run another
/// monitor holds is an error, or skipped with `all`; `force` takes over a lock a monitor on
/// another host left (see [`RunLock::acquire_with`]). A stop signal ends the whole watch. Returns
/// the worst exit code (see [`Watched::code`]).
pub fn watch_runs(
    store: &mut Store,
    runs: &[String],
    all: bool,
    once: bool,
    force: bool,
    reporter: impl Fn(u64, u64) -> Reporter,
    mut notice: impl FnMut(Notice),
) -> anyhow::Result<i32> {
    let mut worst = 0;
    for run in runs {
        let lock = match RunLock::acquire_with(store, run, force) {
            Ok(l) => l,
            Err(
                why @ (StoreError::Locked { .. }
                | StoreError::LockedByUnknown { .. }
                | StoreError::LockedElsewhere { .. }),
            ) if all => {
                notice(Notice::Skipped {
                    run: run.clone(),
                    why,
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(previous) = &lock.taken_over_from {
            notice(Notice::TookOver {
                run: run.clone(),
                previous: previous.clone(),
            });
        }
        if let Some(option) = &lock.locks_stay_here {
            notice(Notice::LocksStayHere {
                run: run.clone(),
                option: option.clone(),
            });
        }
        store.settle_task_dir_moves(run)?;
        let spec = stored_spec(store, run)?;
        let watched = watch(store, run, &spec, once, &reporter)?;
        drop(lock);
        notice(Notice::Watched {
            run: run.clone(),
            counts: watched.counts,
        });
        if watched.code > 128 {
            return Ok(watched.code);
        }
        worst = worst.max(watched.code);
    }
    Ok(worst)
}

/// Starts `labtrail monitor --run RUN` in the background, detached from the terminal (its own
/// session); its output goes to `log`. Returns its PID.
pub fn detach_monitor(store_dir: &Path, run: &str, log: &Path) -> anyhow::Result<u32> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
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

/// Where a detached monitor writes: `runs/RUN/monitor.log`.
pub fn monitor_log(store: &Store, run: &str) -> PathBuf {
    store.run_dir(run).join("monitor.log")
}
