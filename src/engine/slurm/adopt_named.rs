//! Jobs resubmitted with the task's name while the monitor was down. A user who finds a job
//! stuck or failed cancels it and submits its script again with `sbatch` (the seed's failure
//! modes 2.1 and 2.2); when the new job has already ended by the time the monitor returns, only
//! accounting still knows it. Before a tracked job that ended without success is finalized,
//! the jobs with the task's name submitted after it take over, in order of submission: the old
//! attempt is superseded, each new job is an attempt of its own, and the last one is settled as
//! any tracked job (finalized from sacct and its own folder, or tracked while it lives).

use super::poll::{utc_of_local, Batch};
use super::requeue::{run_is_over, runs_in_order};
use super::Monitor;
use crate::exec::slurm::{is_finished_state, AcctEntry, QueueEntry};
use crate::outcome::Outcome;
use crate::store::{StoreError, TaskState, TrackedJob};
use std::collections::BTreeMap;

/// A job squeue shows, as a row of accounting (squeue has no exit code: a FAILED job reads as
/// failed, a COMPLETED one as a success).
fn row_of_queue(q: &QueueEntry) -> AcctEntry {
    AcctEntry {
        job_id: q.job_id.to_string(),
        raw_id: q.raw_id.to_string(),
        name: q.name.to_string(),
        state: q.state.to_string(),
        exit_code: i32::from(q.state != "COMPLETED" && is_finished_state(q.state)),
        signal: 0,
        submit: q.submit.map(String::from),
        start: q.start.map(String::from),
        end: None,
        node: q.node.map(String::from),
        workdir: q.workdir.map(String::from),
        time_limit_s: q.time_limit_s,
        mem_mb: q.mem_mb,
        ..AcctEntry::default()
    }
}

/// What became of a job that ended without success, once jobs resubmitted after it were
/// looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resubmitted {
    /// None was: the job's own verdict stands.
    None,
    /// Jobs with the task's name were adopted after it.
    Adopted,
    /// Accounting could not be asked: nothing is decided this poll (and nothing may be
    /// committed that would keep the next poll from deciding the same way).
    Undecided,
}

/// A job's number as the scheduler counts them (ids grow with each submission).
fn raw_number(id: &str) -> Option<u64> {
    id.parse().ok()
}

impl Monitor<'_> {
    /// Attempt `t`'s job ended without success (`own`: its last run in sacct, if known). If
    /// jobs with the task's name were submitted after it, adopts them.
    pub(super) fn adopt_resubmitted(
        &mut self,
        t: &TrackedJob,
        own: Option<&AcctEntry>,
        b: &mut Batch,
    ) -> Result<Resubmitted, StoreError> {
        let rows = match self.named_runs(t, &mut b.lookups) {
            Ok(Some(rows)) => rows,
            // Without accounting, squeue's ended entries (kept for MinJobAge) are all there is.
            Ok(None) => Vec::new(),
            Err(e) => {
                b.live.insert(t.key.clone(), t.job_id.clone());
                b.trouble.get_or_insert_with(|| e.to_string());
                return Ok(Resubmitted::Undecided);
            }
        };
        // squeue knows a job the moment it ends; sacct names it a moment later.
        let mut rows = rows;
        for q in b.lookups.named.get(&t.key).into_iter().flatten() {
            if !rows.iter().any(|r| r.job_id == q.job_id) {
                rows.push(row_of_queue(q));
            }
        }
        let after = own
            .and_then(|a| raw_number(&a.raw_id))
            .or_else(|| raw_number(&t.job_id));
        let mut jobs: BTreeMap<u64, Vec<AcctEntry>> = BTreeMap::new();
        for r in rows {
            let Some(n) = raw_number(&r.raw_id) else {
                continue;
            };
            if r.job_id == t.job_id
                || after.is_some_and(|a| n <= a)
                || self.of_another_store(&[r.workdir.as_deref()])
            {
                continue;
            }
            jobs.entry(n).or_default().push(r);
        }
        if jobs.is_empty() {
            return Ok(Resubmitted::None);
        }
        // In order of submission: a job's id grows with each submission (its first run's).
        let mut order: Vec<Vec<AcctEntry>> = jobs.into_values().map(runs_in_order).collect();
        order.sort_by_key(|runs| {
            runs.first()
                .and_then(|r| r.submit.as_deref().and_then(utc_of_local))
        });
        if let Some(a) = own {
            self.run_ended(t, a, b);
        }
        let mut ended_as = own.map_or_else(
            || "without success".to_string(),
            |a| format!("as {}", a.state),
        );
        let mut cur = t.clone();
        let count = order.len();
        for (i, runs) in order.into_iter().enumerate() {
            let job = runs[0].job_id.clone();
            let reason = format!(
                "job {} ended {ended_as}; adopted job {job}, submitted after it with the task's name",
                cur.job_id
            );
            b.lines.push(format!(
                "⇄ {}: adopted job {job}, resubmitted with the task's name while the monitor was away",
                self.label(&t.key)
            ));
            cur = self.supersede(&cur, &job, 0, Outcome::Superseded, reason, b);
            let last_run = runs.last().expect("a job has a run");
            if i + 1 == count {
                if !run_is_over(&last_run.state) {
                    // Still running: tracked from the next poll on.
                    return Ok(Resubmitted::Adopted);
                }
                self.settle_gone(&cur, &runs, b)?;
                return Ok(Resubmitted::Adopted);
            }
            let (closed, last) = self.close_missed_runs(&cur, &runs, b);
            cur = closed;
            // Superseded by the next job: what its run left is kept on its attempt.
            if let Some(r) = last {
                self.run_ended(&cur, &r, b);
                ended_as = format!("as {}", r.state);
            }
        }
        Ok(Resubmitted::Adopted)
    }
}

impl Monitor<'_> {
    /// Attempt `t`'s job left the queue and was settled this poll, and squeue shows `q`, a live
    /// job with the task's name no attempt tracks (issue 11). The gone job's own verdict comes
    /// first: with none yet, `q` is the task's from now on; a restart decided for it adopts
    /// `q` (see `submit_ready`); a task that ended (success kept, or a decision to stop) must
    /// not run again, so `q` is cancelled, with the reason recorded.
    pub(super) fn named_after_gone(
        &mut self,
        t: &TrackedJob,
        q: &QueueEntry,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        match b.live.get(&t.key) {
            // No verdict yet: the job is gone and another carries the task's name. A job the
            // monitor cancelled has its verdict decided already: it waits for its end.
            Some(id) if *id == t.job_id && b.trouble.is_none() && t.cancelling.is_none() => {
                let _ = self.supersede(
                    t,
                    q.job_id,
                    q.restarts,
                    Outcome::Superseded,
                    format!(
                        "job {} is gone; adopted job {} that carries the task's name",
                        t.job_id, q.job_id
                    ),
                    b,
                );
            }
            // Asked again at the next poll, or adopted after it (`adopt_resubmitted`).
            Some(_) => {}
            None => match b.states.get(&t.key) {
                Some(TaskState::Pending) | None => {}
                Some(state) => {
                    let detail = format!(
                        "job {} carries the task's name after attempt {} (job {}) ended and left the task {}: cancelled, the task does not run again",
                        q.job_id,
                        t.attempt,
                        t.job_id,
                        state.as_str()
                    );
                    if !self.of_another_store(&[q.stdout, q.workdir]) {
                        self.cancel_named_job(&t.key, q, detail, b)?;
                    }
                }
            },
        }
        Ok(())
    }
}
