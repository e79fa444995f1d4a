//! A run on this machine: recover what an earlier runner left, sync the plan, run what is not
//! done with the local engine.

use super::{Experiment, LockedRun};
use crate::engine::local::{self, Recovery, RunConfig, RunReport};
use crate::exec::process;
use crate::progress::Reporter;
use crate::provenance;
use crate::store::{Change, Store, StoreError, TaskState};
use anyhow::Context;
use std::collections::HashMap;
use std::time::Duration;

/// How many of a run's current tasks are in each state.
#[derive(Debug, Clone, Default)]
pub struct StateCounts(HashMap<TaskState, usize>);

impl StateCounts {
    /// Counts the tasks of `run`'s current plan.
    pub fn of(store: &Store, run: &str) -> Result<StateCounts, StoreError> {
        Ok(Self::count(store.task_states(run)?.values().map(|s| s.0)))
    }

    fn count(states: impl Iterator<Item = TaskState>) -> StateCounts {
        let mut counts = HashMap::new();
        for state in states {
            *counts.entry(state).or_insert(0) += 1;
        }
        StateCounts(counts)
    }

    /// Tasks in `state`.
    pub fn get(&self, state: TaskState) -> usize {
        self.0.get(&state).copied().unwrap_or(0)
    }
}

/// Attempts of the run that a runner on another host started and left open: they may still be
/// running there, where this runner can neither see nor stop them (issue 9).
#[derive(Debug, thiserror::Error)]
#[error("run {run}: {count} attempt(s) were started on {hosts} by a runner that is no longer running, and may still be running there: running them here too would run them twice. Resume the run there (`labtrail run` stops what is left first), or, if they are not running any more (the host rebooted, or you stopped them), add --force to record them as interrupted and run them here")]
pub struct RunningElsewhere {
    pub run: String,
    /// How many attempts.
    pub count: usize,
    /// The hosts, named: `host gpu7`, `hosts gpu7, gpu8`.
    pub hosts: String,
}

/// What a local run found before it started anything.
#[derive(Debug)]
pub struct LocalStart {
    /// Attempts an earlier runner left running, and its processes stopped.
    pub recovery: Recovery,
    /// With `--force`: attempts started on other hosts, recorded as interrupted all the same.
    pub forced: Option<RunningElsewhere>,
    /// Tasks added to the run by this plan, and tasks of earlier plans it no longer has.
    pub added: usize,
    pub retired: usize,
    /// Plan indices of the tasks already done, in plan order.
    pub done: Vec<usize>,
    /// The run's tasks by state, after recovery.
    pub states: StateCounts,
}

impl LocalStart {
    /// Whether nothing is left to run.
    pub fn all_done(&self, exp: &Experiment) -> bool {
        self.done.len() == exp.plan.tasks.len()
    }

    /// The workers the engine will use for `requested` (see [`local::workers_for`]).
    pub fn workers(&self, exp: &Experiment, requested: usize) -> usize {
        local::workers_for(requested, exp.plan.tasks.len() - self.done.len())
    }
}

/// Stops what an earlier runner of this run left behind, records its attempts as interrupted,
/// and makes the store's task list match the plan. Attempts started on another host are
/// [`RunningElsewhere`], unless `force`.
pub fn prepare(
    locked: &mut LockedRun,
    exp: &Experiment,
    grace: Duration,
    force: bool,
) -> anyhow::Result<LocalStart> {
    let created_tasks = std::mem::take(&mut locked.created_tasks);
    let (store, run) = (&mut locked.store, locked.run.as_str());
    let forced = match running_elsewhere(store, run)? {
        Some(elsewhere) if !force => return Err(elsewhere.into()),
        Some(elsewhere) => {
            store.apply(
                run,
                &[Change::Note {
                    kind: "forced_recovery".into(),
                    detail: format!(
                        "--force: {} attempt(s) started on {} recorded as interrupted",
                        elsewhere.count, elsewhere.hosts
                    ),
                }],
            )?;
            Some(elsewhere)
        }
        None => None,
    };
    // A reset killed before it moved its tasks' folders aside: finished before any task uses one.
    store.settle_task_dir_moves(run)?;
    let recovery = local::recover(store, run, grace).context("recovering the run")?;
    let (added, retired) =
        store.sync_plan(run, &exp.plan.hash, || exp.plan.store_rows(&exp.spec))?;
    // A run this invocation created came with its whole plan, all of it new.
    let added = added + created_tasks;
    // Synced just now: only the tasks not done are read, unless the store cannot say so.
    let plan = &exp.plan;
    let key_at = |i: usize| plan.tasks[i].key.as_bytes();
    let states = match store.synced_plan_states(run, &plan.hash, plan.len(), key_at)? {
        Some(states) => states,
        None => plan_states(store, run, plan)?
            .into_iter()
            .map(|s| s.0)
            .collect(),
    };
    let done = (0..states.len())
        .filter(|&i| states[i] == TaskState::Done)
        .collect();
    Ok(LocalStart {
        recovery,
        forced,
        added,
        retired,
        done,
        states: StateCounts::count(states.into_iter()),
    })
}

/// The open attempts of `run` that were started on another host than this one.
pub(super) fn running_elsewhere(
    store: &Store,
    run: &str,
) -> Result<Option<RunningElsewhere>, StoreError> {
    let here = process::hostname();
    let mut hosts: Vec<String> = Vec::new();
    let mut count = 0;
    for a in store.open_attempts(run)? {
        // An attempt recorded without a host (an older store) is taken to be this host's.
        if a.host.is_empty() || a.host == here {
            continue;
        }
        count += 1;
        if !hosts.contains(&a.host) {
            hosts.push(a.host);
        }
    }
    Ok((count > 0).then(|| RunningElsewhere {
        run: run.to_string(),
        count,
        hosts: format!(
            "host{} {}",
            if hosts.len() > 1 { "s" } else { "" },
            hosts.join(", ")
        ),
    }))
}

/// What a local run did.
#[derive(Debug)]
pub struct LocalFinish {
    pub report: RunReport,
    /// The run's tasks by state at the end.
    pub states: StateCounts,
    /// The slice's tasks by state at the end, if the invocation ran a slice.
    pub slice_states: Option<StateCounts>,
}

/// Runs every task of the plan that is not done, reporting through `rep`.
pub fn execute(
    locked: &mut LockedRun,
    exp: &Experiment,
    cfg: &RunConfig,
    rep: &Reporter,
) -> anyhow::Result<LocalFinish> {
    execute_slice(locked, exp, cfg, rep, None)
}

/// Runs every task of `slice` (`None`: the plan) that is not done, reporting through `rep`;
/// the other tasks of the run are left as they are.
pub fn execute_slice(
    locked: &mut LockedRun,
    exp: &Experiment,
    cfg: &RunConfig,
    rep: &Reporter,
    slice: Option<&super::slice::Slice>,
) -> anyhow::Result<LocalFinish> {
    // Provenance before the first task starts; sealed when the engine returns, whatever it
    // returns (a crash leaves the partial record).
    let capture = provenance::capture::start(&mut locked.store, &locked.run, &exp.spec);
    let within = slice.map(|s| s.within.as_slice());
    let report = local::execute_within(
        &mut locked.store,
        &locked.run,
        &exp.spec,
        &exp.plan,
        cfg,
        rep,
        within,
    );
    if let Some(capture) = capture {
        capture.seal(&mut locked.store);
    }
    let report = report?;
    let states = plan_states(&locked.store, &locked.run, &exp.plan)?;
    let slice_states = within.map(|w| {
        let of_slice = states.iter().zip(w).filter(|(_, &inside)| inside);
        StateCounts::count(of_slice.map(|(s, _)| s.0))
    });
    Ok(LocalFinish {
        report,
        states: StateCounts::count(states.iter().map(|s| s.0)),
        slice_states,
    })
}

/// State and attempt count of each task of `plan`, synced in `run`, by plan position.
pub(crate) fn plan_states(
    store: &Store,
    run: &str,
    plan: &crate::plan::Plan,
) -> Result<Vec<(TaskState, u32)>, StoreError> {
    store.plan_task_states(run, plan.tasks.len(), |i| plan.tasks[i].key.as_bytes())
}
