//! What the monitor keeps between polls: the run's tracked jobs and task states (issue 15). At
//! 10^5 tracked jobs, reading them from the store took a third of every poll. The monitor holds
//! the run's lock, so the store changes by its own writes: the poll's commit brings what it
//! keeps up to date (the jobs' new states and log offsets in place, every other task it
//! touched read again), and any other write, its own mid-poll commits (submission intents, a
//! cancel's decision) or another connection's, is seen by the store's [`WriteStamp`] and makes
//! the next poll read everything again. A restarted monitor starts by reading everything.

use super::poll::Batch;
use super::Monitor;
use crate::exec::slurm::SchedError;
use crate::store::{Change, JobChange, Store, StoreError, TaskState, TrackedJob, WriteStamp};
use std::collections::{HashMap, HashSet};

/// The run's tracked jobs (by task key, then attempt number) and the states of its plan's
/// tasks, as the store held them at `stamp`.
pub(super) struct Known {
    pub stamp: WriteStamp,
    pub tracked: Vec<TrackedJob>,
    pub states: HashMap<String, (TaskState, u32)>,
}

impl Known {
    /// The run's tracked jobs and task states as `store` holds them now.
    pub fn read(store: &Store, run: &str) -> Result<Known, StoreError> {
        let stamp = store.write_stamp()?;
        let states = store.task_states(run)?;
        // Which read is cheaper (both give the same rows): the open attempts' index when they
        // are few among the run's attempts (a long run, most of them ended), a scan of the
        // attempts otherwise. A running task has one open attempt; the tasks' attempt counts
        // add up to the run's attempts (issue 15).
        let running = states
            .values()
            .filter(|s| s.0 == TaskState::Running)
            .count() as u64;
        let made: u64 = states.values().map(|s| u64::from(s.1)).sum();
        let tracked = if running * 3 >= made {
            store.tracked_jobs_scanned(run)?
        } else {
            store.tracked_jobs(run)?
        };
        Ok(Known {
            stamp,
            tracked,
            states,
        })
    }
}

impl Monitor<'_> {
    /// squeue's answer, and the run's tracked jobs and task states: those kept by the last
    /// poll if nothing wrote to the store since, else read from it while squeue answers (at
    /// 10^5 jobs the read takes ~0.15 s, and squeue longer: issue 15). The caller reads again
    /// if it writes before it uses them. Each answers on its own: a poll that squeue fails
    /// reports the scheduler's trouble, whatever the store said.
    pub(super) fn ask_squeue_and_know(
        &mut self,
    ) -> (Result<String, SchedError>, Result<Known, StoreError>) {
        // A stamp that cannot be had reads again, and the read then says what is wrong.
        let stamp = self.store.write_stamp().ok();
        if let Some(k) = self.known.take().filter(|k| Some(k.stamp) == stamp) {
            return (self.sched.squeue(), Ok(k));
        }
        let (store, run, sched) = (&mut *self.store, self.run.as_str(), self.sched);
        std::thread::scope(|s| {
            let reading = s.spawn(move || Known::read(store, run));
            let answer = sched.squeue();
            let read = reading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (answer, read)
        })
    }

    /// Keeps `k` for the next poll, updated with the poll's commit (`b`), which moved the
    /// store from `before` to now; kept only if nothing else wrote since `k` was read.
    pub(super) fn keep(
        &mut self,
        mut k: Known,
        before: WriteStamp,
        b: &Batch,
    ) -> Result<(), StoreError> {
        let after = self.store.write_stamp()?;
        if before != k.stamp || after.others != before.others {
            return Ok(());
        }
        let mut touched: HashSet<&str> = HashSet::new();
        for c in &b.jobs {
            match c {
                JobChange::State {
                    key,
                    attempt,
                    state,
                    ..
                } => match position(&k.tracked, key, *attempt) {
                    Some(i) => k.tracked[i].scheduler_state = Some(state.clone()),
                    None => {
                        touched.insert(key);
                    }
                },
                JobChange::LogOffset {
                    key,
                    attempt,
                    out,
                    err,
                } => match position(&k.tracked, key, *attempt) {
                    Some(i) => (k.tracked[i].log_offset, k.tracked[i].err_offset) = (*out, *err),
                    None => {
                        touched.insert(key);
                    }
                },
                JobChange::Submitted { key, .. }
                | JobChange::Superseded { key, .. }
                | JobChange::RunEnded { key, .. }
                | JobChange::Cancelling { key, .. } => {
                    touched.insert(key);
                }
            }
        }
        for c in &b.changes {
            match c {
                Change::Started { key, .. }
                | Change::Finished { key, .. }
                | Change::Blocked { key, .. } => {
                    touched.insert(key);
                }
                // Events and records: neither an attempt nor a task state.
                Change::Note { .. } | Change::TaskNote { .. } | Change::Record { .. } => {}
            }
        }
        if !touched.is_empty() {
            let mut fresh = Vec::new();
            for key in &touched {
                fresh.extend(self.store.tracked_jobs_of(&self.run, key)?);
                match self.store.task_state_of(&self.run, key)? {
                    Some(s) => k.states.insert(key.to_string(), s),
                    None => k.states.remove(*key),
                };
            }
            k.tracked.retain(|t| !touched.contains(t.key.as_str()));
            k.tracked.extend(fresh);
            // Sorted but for the tail appended: one merge.
            k.tracked
                .sort_by(|x, y| (&x.key, x.attempt).cmp(&(&y.key, y.attempt)));
        }
        k.stamp = after;
        #[cfg(debug_assertions)]
        {
            // Every debug build (the tests) checks what is kept against the store.
            let read = self.store.tracked_jobs(&self.run)?;
            assert_eq!(k.tracked, read, "tracked jobs kept != stored");
            assert_eq!(
                k.states,
                self.store.task_states(&self.run)?,
                "task states kept != stored"
            );
        }
        self.known = Some(k);
        Ok(())
    }
}

/// Where attempt `attempt` of task `key` is in `tracked` (sorted by key, then attempt).
fn position(tracked: &[TrackedJob], key: &str, attempt: u32) -> Option<usize> {
    let i = tracked.partition_point(|t| (t.key.as_str(), t.attempt) < (key, attempt));
    tracked
        .get(i)
        .is_some_and(|t| t.key == key && t.attempt == attempt)
        .then_some(i)
}
