//! A run on this machine: recover what an earlier runner left, sync the plan, run what is not
//! done with the local engine.

use super::{Experiment, LockedRun};
use crate::engine::local::{self, Recovery, RunConfig, RunReport};
use crate::progress::Reporter;
use crate::store::{Store, StoreError, TaskState};
use anyhow::Context;
use std::collections::HashMap;
use std::time::Duration;

/// How many of a run's current tasks are in each state.
#[derive(Debug, Clone, Default)]
pub struct StateCounts(HashMap<TaskState, usize>);

impl StateCounts {
    /// Counts the tasks of `run`'s current plan.
    pub fn of(store: &Store, run: &str) -> Result<StateCounts, StoreError> {
        Ok(Self::count(store.task_states(run)?.values()))
    }

    fn count<'a>(states: impl Iterator<Item = &'a (TaskState, u32)>) -> StateCounts {
        let mut counts = HashMap::new();
        for (state, _) in states {
            *counts.entry(*state).or_insert(0) += 1;
        }
        StateCounts(counts)
    }

    /// Tasks in `state`.
    pub fn get(&self, state: TaskState) -> usize {
        self.0.get(&state).copied().unwrap_or(0)
    }
}

/// What a local run found before it started anything.
#[derive(Debug)]
pub struct LocalStart {
    /// Attempts an earlier runner left running, and its processes stopped.
    pub recovery: Recovery,
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
/// and makes the store's task list match the plan.
pub fn prepare(
    locked: &mut LockedRun,
    exp: &Experiment,
    grace: Duration,
) -> anyhow::Result<LocalStart> {
    let (store, run) = (&mut locked.store, locked.run.as_str());
    // A reset killed before it moved its tasks' folders aside: finished before any task uses one.
    store.settle_task_dir_moves(run)?;
    let recovery = local::recover(store, run, grace).context("recovering the run")?;
    let (added, retired) =
        store.sync_plan(run, &exp.plan.hash, || exp.plan.store_rows(&exp.spec))?;
    let states = store.task_states(run)?;
    let done = (0..exp.plan.tasks.len())
        .filter(|&i| {
            states
                .get(&exp.plan.tasks[i].key)
                .is_some_and(|s| s.0 == TaskState::Done)
        })
        .collect();
    Ok(LocalStart {
        recovery,
        added,
        retired,
        done,
        states: StateCounts::count(states.values()),
    })
}

/// What a local run did.
#[derive(Debug)]
pub struct LocalFinish {
    pub report: RunReport,
    /// The run's tasks by state at the end.
    pub states: StateCounts,
}

/// Runs every task of the plan that is not done, reporting through `rep`.
pub fn execute(
    locked: &mut LockedRun,
    exp: &Experiment,
    cfg: &RunConfig,
    rep: &Reporter,
) -> anyhow::Result<LocalFinish> {
    let report = local::execute(
        &mut locked.store,
        &locked.run,
        &exp.spec,
        &exp.plan,
        cfg,
        rep,
    )?;
    Ok(LocalFinish {
        report,
        states: StateCounts::of(&locked.store, &locked.run)?,
    })
}
