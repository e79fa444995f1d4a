//! A task's next job waits until its last job has left the queue.
//!
//! A job the monitor cancels (a log rule, a rule that restarts) stays in the queue as
//! COMPLETING for up to the cluster's KillWait while its processes get SIGTERM and end, often
//! saving a checkpoint on the way out. A restart submitted meanwhile would run beside it: two
//! jobs of one task at once, the new one possibly reading a checkpoint the old one is still
//! writing, and the next poll would find the old job live under the task's name and cancel it
//! as a second copy. So a restart goes only once the old job is gone; until then the task stays
//! pending and the monitor keeps polling.
//!
//! A restart that waits is submitted by a later poll (or by a monitor started again), which
//! does not know the limits the deciding poll chose: it makes the same decision again from what
//! the store holds (the last attempt's outcome and limits, how often that outcome came), so the
//! raised time or memory of a restart survives the wait.

use super::poll::Batch;
use super::{Map, Monitor};
use crate::exec::slurm::QueueEntry;
use crate::outcome::Outcome;
use crate::policy::{decide_slurm, SlurmDecision};
use crate::store::StoreError;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Requested (time limit in seconds, memory in MB).
pub(super) type Limits = (Option<u64>, Option<u64>);

/// How long a job may stay COMPLETING before the monitor says so: SLURM's KillWait is 30 s
/// by default and a step that does not die is given UnkillableStepTimeout (60 s) more.
const STUCK_AFTER: Duration = Duration::from_secs(300);

impl Monitor<'_> {
    /// The limits task `key` (plan position `i`, next attempt `attempt`) is restarted with, or
    /// `None` when its next job is not a restart (a first attempt, a task reset or withdrawn
    /// since): the limits this poll's policy chose, else the same decision made from the store.
    pub(super) fn restart_limits(
        &self,
        i: usize,
        key: &str,
        attempt: u32,
        decided: &HashMap<usize, Limits>,
    ) -> Result<Option<Limits>, StoreError> {
        if let Some(limits) = decided.get(&i) {
            return Ok(Some(*limits));
        }
        if attempt <= 1 {
            return Ok(None);
        }
        let Some(basis) = self.store.restart_basis(&self.run, key)? else {
            return Ok(None);
        };
        let class = match Outcome::parse(&basis.outcome) {
            Some(Outcome::Withdrawn) | None => return Ok(None),
            Some(class) => class,
        };
        if basis.reset {
            return Ok(None);
        }
        Ok(
            match decide_slurm(
                class,
                &self.spec.restart.rule(class),
                basis.count,
                basis.limits,
            ) {
                SlurmDecision::Restart {
                    time_limit_s,
                    mem_mb,
                } => Some((time_limit_s, mem_mb)),
                SlurmDecision::Done | SlurmDecision::Stop => None,
            },
        )
    }

    /// Task `key` has a job on its way out of the queue (cancelled this poll, or COMPLETING
    /// under the task's name): its next job waits.
    pub(super) fn waits_for_leaving_job(key: &str, b: &Batch) -> bool {
        b.cancelled.contains(key) || b.leaving.contains(key)
    }

    /// Remembers since when each job in `leaving` (task key -> job) is on its way out, and says
    /// once of a job that stays COMPLETING for [`STUCK_AFTER`] that its task's restart waits.
    pub(super) fn watch_leaving(&mut self, leaving: &Map<String, &QueueEntry>, b: &mut Batch) {
        let now = Instant::now();
        self.leaving_since
            .retain(|job, _| leaving.values().any(|q| q.job_id == job));
        for (key, q) in leaving {
            let (since, said) = self
                .leaving_since
                .entry(q.job_id.to_string())
                .or_insert((now, false));
            if *said || now.duration_since(*since) < STUCK_AFTER {
                continue;
            }
            *said = true;
            let minutes = now.duration_since(*since).as_secs() / 60;
            b.lines.push(format!(
                "⚠ {}: job {} has been COMPLETING for {minutes} min; the task's next job waits until it leaves the queue (a node that does not answer? `scontrol show job {}` says where it is)",
                self.label(key),
                q.job_id,
                q.job_id
            ));
        }
    }
}
