//! Cancelling a job the monitor decided to end (a log rule, a rule that says stop after a node
//! failure, a dependent withdrawn). The decision is committed on the attempt before `scancel`
//! runs, so a monitor killed right after `scancel` finds the job CANCELLED and ends the attempt
//! as decided, not as "cancelled by someone". A `scancel` that fails leaves the job live: the
//! poll reports scheduler trouble, nothing is submitted for the task, and the cancel is tried
//! again at the next poll. Also here: no task keeps two live jobs.

use super::poll::Batch;
use super::Monitor;
use crate::exec::slurm::{QueueEntry, SchedError};
use crate::outcome::Outcome;
use crate::store::fault::fault_injection_crash_point;
use crate::store::{now, Cancelling, Change, JobChange, StoreError, TaskState, TrackedJob};

/// Why a cancel did not happen.
enum NotCancelled {
    /// The decision could not be committed: `scancel` was not run.
    Store(StoreError),
    /// `scancel` failed: the job may still live.
    Scheduler(SchedError),
}

impl Monitor<'_> {
    /// Commits `decision` on the attempt, then cancels its job.
    fn cancel_durably(
        &mut self,
        key: &str,
        attempt: u32,
        job_id: &str,
        decision: &Cancelling,
        recorded: bool,
    ) -> Result<(), NotCancelled> {
        if !recorded {
            let change = JobChange::Cancelling {
                key: key.to_string(),
                attempt,
                job_id: job_id.to_string(),
                decision: decision.clone(),
            };
            self.store
                .apply_all(&self.run, &[], &[change])
                .map_err(NotCancelled::Store)?;
        }
        self.sched
            .scancel(job_id)
            .map_err(NotCancelled::Scheduler)?;
        fault_injection_crash_point("slurm-after-scancel");
        Ok(())
    }

    /// Keeps a job live whose cancel did not happen, and says why; the next poll tries again.
    fn cancel_failed(&self, key: &str, job_id: &str, why: NotCancelled, b: &mut Batch) {
        let why = match why {
            NotCancelled::Store(e) => format!("its decision could not be recorded: {e}"),
            NotCancelled::Scheduler(e) => e.to_string(),
        };
        b.live.insert(key.to_string(), job_id.to_string());
        b.lines.push(format!(
            "⚠ {}: job {job_id} was not cancelled ({why}); it counts as live, nothing is submitted for the task, and the cancel is tried again at the next poll",
            self.label(key)
        ));
        b.trouble
            .get_or_insert_with(|| format!("scancel of job {job_id} failed: {why}"));
    }

    /// Ends attempt `t` as `class` by cancelling its job: the decision first, then `scancel`,
    /// then the policy. Also the retry of a decision already recorded.
    pub(super) fn end_by_cancel(
        &mut self,
        t: &TrackedJob,
        class: Outcome,
        why: String,
        b: &mut Batch,
    ) {
        let decision = Cancelling {
            outcome: class,
            reason: why,
        };
        let recorded = t.cancelling.as_ref() == Some(&decision);
        match self.cancel_durably(&t.key, t.attempt, &t.job_id, &decision, recorded) {
            Ok(()) => {
                b.live.remove(&t.key);
                b.cancelled.insert(t.key.clone());
                let _ = self.end_as_decided(t, &decision, None, None, b);
            }
            Err(e) => self.cancel_failed(&t.key, &t.job_id, e, b),
        }
    }

    /// Ends attempt `t`, whose job is gone (or cancelled), as `decision` says.
    pub(super) fn end_as_decided(
        &mut self,
        t: &TrackedJob,
        decision: &Cancelling,
        exit_code: Option<i32>,
        signal: Option<i32>,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        if decision.outcome == Outcome::Withdrawn {
            b.live.remove(&t.key);
            self.close_withdrawn(&t.key, t.attempt, &t.job_id, &decision.reason, b);
            return Ok(());
        }
        self.finalize(
            t,
            decision.outcome,
            exit_code,
            signal,
            decision.reason.clone(),
            b,
        )
    }

    /// Withdraws a dependent's job (its upstream did not succeed): the decision first, then
    /// `scancel`. Whether it is cancelled (else it stays live, to be tried again).
    pub(super) fn withdraw_job(
        &mut self,
        key: &str,
        attempt: u32,
        job: &str,
        upstream: &str,
        b: &mut Batch,
    ) -> bool {
        let decision = Cancelling {
            outcome: Outcome::Withdrawn,
            reason: format!(
                "upstream {upstream} did not succeed; job {job} cancelled before it started"
            ),
        };
        match self.cancel_durably(key, attempt, job, &decision, false) {
            Ok(()) => {
                b.live.remove(key);
                self.close_withdrawn(key, attempt, job, &decision.reason, b);
                true
            }
            Err(e) => {
                self.cancel_failed(key, job, e, b);
                false
            }
        }
    }

    /// Closes a withdrawn attempt; its task goes back to pending (not counted as an outcome).
    fn close_withdrawn(&self, key: &str, attempt: u32, job: &str, reason: &str, b: &mut Batch) {
        b.states.insert(key.to_string(), TaskState::Pending);
        b.lines.push(format!(
            "↺ {}: job {job} withdrawn ({reason})",
            self.label(key)
        ));
        b.changes.push(Change::Finished {
            key: key.to_string(),
            attempt,
            ended_at: now(),
            exit_code: None,
            signal: None,
            outcome: Outcome::Withdrawn,
            reason: Some(reason.to_string()),
            state: TaskState::Pending,
            result: None,
            max_rss_kb: None,
            user_cpu_s: None,
            sys_cpu_s: None,
            metrics: Vec::new(),
        });
    }

    /// Task `t` has a live job and squeue shows `other`, another live job with the task's name:
    /// one task must never run twice at once. The tracked job is kept; the other is cancelled,
    /// with the reason recorded first.
    pub(super) fn cancel_second_job(
        &mut self,
        t: &TrackedJob,
        other: &QueueEntry,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        if self.of_another_store(&[other.stdout, other.workdir]) {
            return Ok(());
        }
        let detail = format!(
            "job {} carries the task's name while attempt {} (job {}) is live: cancelled, a task runs once at a time",
            other.job_id, t.attempt, t.job_id
        );
        self.cancel_named_job(&t.key, other, detail, b)
    }

    /// Cancels `other`, a live job with the task's name the task must not run, with `detail`
    /// (why) committed first; a failed scancel is tried again at the next poll.
    pub(super) fn cancel_named_job(
        &mut self,
        key: &str,
        other: &QueueEntry,
        detail: String,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        self.store.apply_all(
            &self.run,
            &[Change::TaskNote {
                key: key.to_string(),
                kind: "second_job_cancelled".into(),
                detail: detail.clone(),
            }],
            &[],
        )?;
        let label = self.label(key);
        match self.sched.scancel(other.job_id) {
            Ok(()) => b.lines.push(format!("✂ {label}: {detail}")),
            Err(e) => {
                b.lines.push(format!(
                    "⚠ {label}: job {} carries the task's name and could not be cancelled ({e}); tried again at the next poll",
                    other.job_id
                ));
                b.trouble
                    .get_or_insert_with(|| format!("scancel of job {} failed: {e}", other.job_id));
            }
        }
        Ok(())
    }
}
