//! Whether a run's local runner is still there. A runner killed with SIGKILL (or by the OOM
//! killer, or a reboot) leaves its attempts `running` in the store until the next `labtrail run`
//! records them as interrupted; until then the reports show them as interrupted, with the reason
//! [`RUNNER_GONE`], instead of "running" for ever. A display decision only: reading a run never
//! changes it.
//!
//! The runner is gone when nobody holds the run's lock (the kernel releases it when its holder
//! dies) and its open attempts were opened on this host. SLURM runs are left alone: their
//! attempts are jobs that run without the monitor.

use crate::store::{Store, StoreError, TaskRow, TaskState};

/// The reason shown for an attempt whose runner is gone.
pub const RUNNER_GONE: &str = "runner gone";

/// Runs `read` (which reads the tasks of `run`) and says whether the run's local runner is gone.
///
/// The lock is probed before and after the read: a runner that starts during the read (and marks
/// tasks running) holds the lock afterwards, and a runner that ends during it held it before; only
/// a lock free at both probes says the `running` tasks read have no runner.
pub fn read_with_runner<T, E: From<StoreError>>(
    store: &Store,
    run: &str,
    read: impl FnOnce() -> Result<T, E>,
) -> Result<(T, bool), E> {
    if store.executor(run)? == "slurm" {
        return Ok((read()?, false));
    }
    let free_before = !store.run_lock_is_held(run);
    let value = read()?;
    let gone = free_before && !store.run_lock_is_held(run) && all_opened_here(store, run)?;
    Ok((value, gone))
}

/// Runs `read` on one snapshot of the store ([`Store::read_snapshot`]), telling it whether the
/// run's local runner is gone: rows can then be shown as they are read (issue 15), where
/// [`read_with_runner`] knows only after the read. The lock is probed before and after the
/// snapshot is taken: free at both, no runner held the run when the snapshot was taken.
pub fn read_snapshot_with_runner<T, E: From<StoreError>>(
    store: &Store,
    run: &str,
    read: impl FnOnce(bool) -> Result<T, E>,
) -> Result<T, E> {
    if store.executor(run)? == "slurm" {
        return store.read_snapshot(|| read(false));
    }
    let free_before = !store.run_lock_is_held(run);
    store.read_snapshot(|| {
        let gone = free_before && !store.run_lock_is_held(run) && all_opened_here(store, run)?;
        read(gone)
    })
}

/// Shows one task as [`as_seen`] shows it.
pub fn task_as_seen(task: &mut TaskRow, runner_gone: bool) {
    as_seen(std::slice::from_mut(task), runner_gone);
}

/// Whether every attempt left open in `run` was opened on this host. A free lock says nothing
/// about a runner on another host (its file system may not share locks with this one), and
/// `labtrail run` does not take its attempts over without `--force`: they are not shown as gone.
fn all_opened_here(store: &Store, run: &str) -> Result<bool, StoreError> {
    let here = crate::exec::process::hostname();
    Ok(store.open_attempts(run)?.iter().all(|a| a.host == here))
}

/// Whether the local runner of `run` is gone (see the module's doc): `false` for a SLURM run.
pub fn gone(store: &Store, run: &str) -> Result<bool, StoreError> {
    Ok(read_with_runner(store, run, || Ok::<_, StoreError>(()))?.1)
}

/// Shows the `running` tasks of a run whose runner is gone as interrupted ([`RUNNER_GONE`]).
pub fn as_seen(tasks: &mut [TaskRow], runner_gone: bool) {
    if !runner_gone {
        return;
    }
    for t in tasks.iter_mut().filter(|t| t.state == TaskState::Running) {
        t.state = TaskState::Interrupted;
        t.reason = Some(RUNNER_GONE.into());
    }
}
