//! What requeues and resubmissions look up in the scheduler, asked at most once per poll
//! whatever the number of jobs: the runs of every job squeue shows requeued (one `sacct -D -j`),
//! and every job with the name of a task whose job ended (one `sacct -D --name`). squeue's own
//! entries with a task's name come with the poll's one squeue call.

use super::requeue::{runs_in_order, window_start};
use super::Monitor;
use crate::exec::slurm::SchedError;
use crate::exec::slurm::{
    is_finished_state, job_name, parse_array_name, parse_job_name, AcctEntry, QueueEntry,
};
use crate::store::{StoreError, SubmissionState, TrackedJob};
use std::collections::HashMap;

/// Rows of accounting by job id (or name), each job's runs oldest first; or why they could not
/// be had.
pub(super) type Asked = Result<HashMap<String, Vec<AcctEntry>>, SchedError>;

/// One poll's lookups.
#[derive(Default)]
pub(super) struct Lookups<'q> {
    /// Jobs squeue shows with a task's name that no attempt tracks, ended ones included, by
    /// task key: a job resubmitted by hand that just ended may not be in sacct yet.
    pub named: HashMap<String, Vec<QueueEntry<'q>>>,
    /// Tracked jobs squeue shows with a higher restart count than their attempt's.
    pub requeued: Vec<TrackedJob>,
    /// Their runs in accounting, once asked.
    pub requeue_runs: Option<Asked>,
    /// Tracked jobs that left the queue this poll.
    pub settling: Vec<TrackedJob>,
    /// Every job with their tasks' names in accounting, by task key, once asked.
    pub named_runs: Option<Asked>,
    /// The run's job arrays by name (`lt.RUN.@STAGE.TOKEN`), each with the task key of each
    /// element: an element resubmitted by hand (`sbatch --array=I`) carries the array's name,
    /// not the task's, and is its task's all the same (issue 11).
    pub arrays: HashMap<String, Vec<String>>,
}

impl Lookups<'_> {
    /// The task of this run a job named `name` with id `job_id` runs: by the task's own name,
    /// or, for an element `ARRAY_I` of one of the run's arrays, the array's element I.
    pub(super) fn key_of(&self, run: &str, name: &str, job_id: &str) -> Option<String> {
        if let Some((r, key)) = parse_job_name(name) {
            return (r == run).then(|| key.to_string());
        }
        let element: usize = job_id.split_once('_')?.1.parse().ok()?;
        self.arrays.get(name)?.get(element).cloned()
    }

    /// The names jobs of task `key` may carry: its own and those of the arrays it was in.
    fn names_of(&self, run: &str, key: &str) -> Vec<String> {
        let mut names = vec![job_name(run, key)];
        names.extend(
            self.arrays
                .iter()
                .filter(|(_, keys)| keys.iter().any(|k| k == key))
                .map(|(name, _)| name.clone()),
        );
        names
    }
}

impl Monitor<'_> {
    /// The run's job arrays, by name, with the task of each element.
    pub(super) fn arrays_of_run(&self) -> Result<HashMap<String, Vec<String>>, StoreError> {
        Ok(self
            .store
            .submissions(&self.run, SubmissionState::Submitted)?
            .into_iter()
            .filter(|s| parse_array_name(&s.job_name).is_some())
            .map(|s| (s.job_name, s.tasks.into_iter().map(|(k, _)| k).collect()))
            .collect())
    }

    /// The poll's lookups, from squeue's entries no attempt tracks (`untracked`), the tracked
    /// jobs (`tracked`) with their entries (`matched`, in the same order) and the run's arrays.
    /// What the poll matched is given: at 10^5 jobs matching again cost ~50 ms a poll (issue 15).
    pub(super) fn lookups_of<'q>(
        &self,
        untracked: &[&QueueEntry<'q>],
        tracked: &[TrackedJob],
        matched: &[Option<&QueueEntry<'q>>],
        arrays: HashMap<String, Vec<String>>,
    ) -> Lookups<'q> {
        let mut l = Lookups {
            arrays,
            ..Default::default()
        };
        let mut named: HashMap<String, Vec<QueueEntry<'q>>> = HashMap::new();
        for q in untracked {
            if let Some(key) = l.key_of(&self.run, q.name, q.job_id) {
                named.entry(key).or_default().push(**q);
            }
        }
        let requeued = tracked
            .iter()
            .zip(matched)
            .filter(|(t, q)| {
                q.is_some_and(|q| !is_finished_state(q.state) && q.restarts > t.restarts)
            })
            .map(|(t, _)| t.clone())
            .collect();
        l.named = named;
        l.requeued = requeued;
        l
    }

    /// The runs of requeued job `t` in accounting (none without accounting), asked once per poll
    /// for every requeued job.
    pub(super) fn requeue_runs(
        &mut self,
        t: &TrackedJob,
        l: &mut Lookups,
    ) -> Result<Vec<AcctEntry>, SchedError> {
        if l.requeue_runs.is_none() {
            let jobs: Vec<&TrackedJob> = l.requeued.iter().collect();
            l.requeue_runs = Some(self.accounting_of(&jobs));
        }
        match l.requeue_runs.as_ref().expect("asked above") {
            Ok(by_id) => Ok(by_id.get(&t.job_id).cloned().unwrap_or_default()),
            Err(e) => Err(e.clone()),
        }
    }

    /// Every job in accounting with the name of `t`'s task, each job's runs oldest first;
    /// asked once per poll for the tasks of every job that left the queue. None without
    /// accounting.
    pub(super) fn named_runs(
        &mut self,
        t: &TrackedJob,
        l: &mut Lookups,
    ) -> Result<Option<Vec<AcctEntry>>, SchedError> {
        if !self.accounting {
            return Ok(None);
        }
        if l.named_runs.is_none() {
            let mut names: Vec<String> = l
                .settling
                .iter()
                .chain(std::iter::once(t))
                .flat_map(|s| l.names_of(&self.run, &s.key))
                .collect();
            names.sort();
            names.dedup();
            let since = window_start(
                l.settling
                    .iter()
                    .chain(std::iter::once(t))
                    .filter_map(|s| s.first_submitted_at.parse().ok())
                    .min(),
            );
            l.named_runs = Some(match self.sched.sacct_named(&names, &since) {
                Ok(rows) => {
                    let mut by_key: HashMap<String, Vec<AcctEntry>> = HashMap::new();
                    for r in rows {
                        if let Some(key) = l.key_of(&self.run, &r.name, &r.job_id) {
                            by_key.entry(key).or_default().push(r);
                        }
                    }
                    Ok(by_key
                        .into_iter()
                        .map(|(n, rows)| (n, runs_in_order(rows)))
                        .collect())
                }
                Err(SchedError::NoAccounting(_)) => {
                    self.accounting = false;
                    return Ok(None);
                }
                Err(e) => Err(e),
            });
        }
        match l.named_runs.as_ref().expect("asked above") {
            Ok(by_key) => Ok(Some(by_key.get(&t.key).cloned().unwrap_or_default())),
            Err(e) => Err(e.clone()),
        }
    }
}
