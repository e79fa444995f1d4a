//! Jobs squeue still shows: state changes, requeues (the same job id restarted by SLURM, see
//! `requeue.rs`), cancels decided earlier and not yet done, and attempts superseded by another
//! job that carries the task's name.

use super::poll::Batch;
use super::Monitor;
use crate::exec::slurm::script::{attempt_dir, sibling_attempt_dir};
use crate::exec::slurm::QueueEntry;
use crate::outcome::Outcome;
use crate::protocol::{STDERR_FILE, STDOUT_FILE};
use crate::store::{JobChange, StoreError, TrackedJob};
use std::path::Path;

impl Monitor<'_> {
    /// A tracked job squeue still shows: requeues, state changes, log rules.
    pub(super) fn observe_live(
        &mut self,
        t: &TrackedJob,
        q: &QueueEntry,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        if let Some(decision) = t.cancelling.clone() {
            // Decided at an earlier poll, and `scancel` failed (or the monitor stopped before
            // the outcome was committed): cancel again.
            self.end_by_cancel(t, decision.outcome, decision.reason, b);
            return Ok(());
        }
        if q.restarts > t.restarts {
            return self.requeued(t, q.restarts, b);
        }
        // Almost always empty: a key is cloned only when there is something to look it up in.
        if !self.requeue_seen.is_empty() {
            self.requeue_seen.remove(&(t.key.clone(), t.attempt));
        }
        b.live.insert(t.key.clone(), t.job_id.clone());
        // Past the poll's share, left as the store has it: the next poll sees it changed.
        if t.scheduler_state.as_deref() != Some(q.state)
            && b.state_changes < self.state_changes_per_poll
        {
            b.state_changes += 1;
            let started_at = q
                .start
                .filter(|_| q.state == "RUNNING")
                .and_then(|s| b.start_utc(s));
            b.jobs.push(JobChange::State {
                key: t.key.clone(),
                attempt: t.attempt,
                state: q.state.to_string(),
                node: q.node.map(String::from),
                started_at,
            });
        }
        if q.state == "RUNNING" && !self.spec.restart.log_rules.is_empty() {
            self.apply_log_rules(t, b);
        }
        Ok(())
    }

    /// Closes attempt `t` and opens the next one on `job_id` (a requeue or an adopted job);
    /// returns the attempt opened, as the next poll will track it.
    pub(super) fn supersede(
        &mut self,
        t: &TrackedJob,
        job_id: &str,
        restarts: u32,
        outcome: Outcome,
        reason: String,
        b: &mut Batch,
    ) -> TrackedJob {
        // Next to the attempt it supersedes: a job keeps writing where its script says, and a
        // script written by labtrail 0.1 says `tasks/KEY/job-ID`.
        let dir = Path::new(&t.stdout)
            .parent()
            .and_then(|prev| sibling_attempt_dir(prev, job_id, restarts))
            .unwrap_or_else(|| attempt_dir(&self.folders.attempt_prefix(&t.key), job_id, restarts));
        b.lines.push(format!(
            "↻ {}: attempt {} {reason}",
            self.label(&t.key),
            t.attempt
        ));
        b.jobs.push(JobChange::Superseded {
            key: t.key.clone(),
            attempt: t.attempt,
            outcome,
            reason,
            job_id: job_id.to_string(),
            host: self.host.clone(),
            stdout: dir.join(STDOUT_FILE).display().to_string(),
            stderr: dir.join(STDERR_FILE).display().to_string(),
            restarts,
        });
        b.live.insert(t.key.clone(), job_id.to_string());
        b.superseding.insert(t.key.clone(), t.attempt + 1);
        if let Some(n) = b.outcomes.as_mut() {
            n.add(&t.key, outcome);
        }
        TrackedJob {
            attempt: t.attempt + 1,
            job_id: job_id.to_string(),
            scheduler_state: None,
            restarts,
            log_offset: 0,
            err_offset: 0,
            stdout: dir.join(STDOUT_FILE).display().to_string(),
            stderr: dir.join(STDERR_FILE).display().to_string(),
            cancelling: None,
            first_submitted_at: if job_id == t.job_id {
                t.first_submitted_at.clone()
            } else {
                crate::store::now()
            },
            ..t.clone()
        }
    }
}
