//! What requeues and resubmissions look up in the scheduler, asked at most once per poll
//! whatever the number of jobs: the runs of every job squeue shows requeued (one `sacct -D -j`),
//! and every job with the name of a task whose job ended (one `sacct -D --name`). squeue's own
//! entries with a task's name come with the poll's one squeue call.

use super::requeue::{runs_in_order, window_start};
use super::Monitor;
use crate::exec::slurm::SchedError;
use crate::exec::slurm::{is_finished_state, job_name, parse_job_name, AcctEntry, QueueEntry};
use crate::store::TrackedJob;
use std::collections::{HashMap, HashSet};

/// Rows of accounting by job id (or name), each job's runs oldest first; or why they could not
/// be had.
pub(super) type Asked = Result<HashMap<String, Vec<AcctEntry>>, SchedError>;

/// One poll's lookups.
#[derive(Default)]
pub(super) struct Lookups {
    /// Jobs squeue shows with a task's name that no attempt tracks, ended ones included, by
    /// task key: a job resubmitted by hand that just ended may not be in sacct yet.
    pub named: HashMap<String, Vec<QueueEntry>>,
    /// Tracked jobs squeue shows with a higher restart count than their attempt's.
    pub requeued: Vec<TrackedJob>,
    /// Their runs in accounting, once asked.
    pub requeue_runs: Option<Asked>,
    /// Tracked jobs that left the queue this poll.
    pub settling: Vec<TrackedJob>,
    /// Every job with their tasks' names in accounting, by name, once asked.
    pub named_runs: Option<Asked>,
}

impl Monitor<'_> {
    /// The poll's lookups, from its squeue answer.
    pub(super) fn lookups_of(&self, queue: &[QueueEntry], tracked: &[TrackedJob]) -> Lookups {
        let by_id: HashMap<&str, &QueueEntry> =
            queue.iter().map(|q| (q.job_id.as_str(), q)).collect();
        let tracked_ids: HashSet<&str> = tracked.iter().map(|t| t.job_id.as_str()).collect();
        let mut named: HashMap<String, Vec<QueueEntry>> = HashMap::new();
        for q in queue
            .iter()
            .filter(|q| !tracked_ids.contains(q.job_id.as_str()))
        {
            if let Some((_, key)) = parse_job_name(&q.name).filter(|(run, _)| *run == self.run) {
                named.entry(key.to_string()).or_default().push(q.clone());
            }
        }
        let requeued = tracked
            .iter()
            .filter(|t| {
                by_id
                    .get(t.job_id.as_str())
                    .is_some_and(|q| !is_finished_state(&q.state) && q.restarts > t.restarts)
            })
            .cloned()
            .collect();
        Lookups {
            named,
            requeued,
            ..Default::default()
        }
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
                .map(|s| job_name(&self.run, &s.key))
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
                    let mut by_name: HashMap<String, Vec<AcctEntry>> = HashMap::new();
                    for r in rows {
                        by_name.entry(r.name.clone()).or_default().push(r);
                    }
                    Ok(by_name
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
            Ok(by_name) => Ok(Some(
                by_name
                    .get(&job_name(&self.run, &t.key))
                    .cloned()
                    .unwrap_or_default(),
            )),
            Err(e) => Err(e.clone()),
        }
    }
}
