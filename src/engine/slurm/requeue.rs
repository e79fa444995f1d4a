//! Requeues: SLURM ran a job again under the same id (its node failed, it was preempted, or
//! someone ran `scontrol requeue`). Each run is an attempt of its own, with the outcome of the
//! run's state in accounting (`sacct -D` has one row per run), its files in its own `-rN`
//! folder, and a node failure or preemption counted against its `[restart]` rule: when the rule
//! says stop, the requeued job is cancelled (the decision committed first) and the task fails.

use super::poll::Batch;
use super::Monitor;
use crate::exec::slurm::script::sibling_attempt_dir;
use crate::exec::slurm::{is_finished_state, AcctEntry};
use crate::outcome::Outcome;
use crate::policy::{decide_slurm, SlurmDecision};
use crate::protocol::{read_exit_record, read_metrics, METRICS_FILE, STARTED_RECORD};
use crate::store::{JobChange, StoreError, TrackedJob};
use std::path::Path;
use std::time::Instant;

/// What a requeued run's state in accounting makes of its attempt.
pub(super) fn requeue_outcome(state: &str) -> Outcome {
    match state {
        "NODE_FAIL" => Outcome::NodeFail,
        "PREEMPTED" => Outcome::Preempted,
        _ => Outcome::Requeued,
    }
}

/// Whether accounting says this run is over (a requeued run shows `REQUEUED`, or the state that
/// ended it, e.g. `NODE_FAIL`).
pub(super) fn run_is_over(state: &str) -> bool {
    state == "REQUEUED" || is_finished_state(state)
}

/// sacct's rows of one job, one per run, oldest first: by submit time (a requeue is a new
/// submission), in sacct's order among equal times.
pub(super) fn runs_in_order(mut rows: Vec<AcctEntry>) -> Vec<AcctEntry> {
    rows.sort_by(|a, b| a.submit.cmp(&b.submit));
    rows.dedup_by(|a, b| a.submit.is_some() && a.submit == b.submit && a.state == b.state);
    rows
}

/// The start of a sacct window that holds every run of the jobs that `earliest` submitted
/// first: sacct leaves out runs that ended before the window.
pub(super) fn window_start(earliest: Option<jiff::Timestamp>) -> String {
    let earliest = earliest.unwrap_or_else(jiff::Timestamp::now);
    (earliest - jiff::SignedDuration::from_secs(600))
        .to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

impl Monitor<'_> {
    /// A tracked job that squeue shows with a higher restart count: the run of attempt `t`
    /// ended and SLURM queued the job again. One run is closed per poll, by its state in
    /// accounting; a requeue accounting does not yet explain waits up to `lost_after`.
    pub(super) fn requeued(
        &mut self,
        t: &TrackedJob,
        restarts_now: u32,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        let runs = match self.requeue_runs(t, &mut b.lookups) {
            Ok(runs) => runs,
            Err(e) => {
                b.live.insert(t.key.clone(), t.job_id.clone());
                b.trouble.get_or_insert_with(|| e.to_string());
                return Ok(());
            }
        };
        let seen = (t.key.clone(), t.attempt);
        let ended = runs
            .get(t.restarts as usize)
            .filter(|r| run_is_over(&r.state));
        if ended.is_none() && self.accounting {
            let waited = self
                .requeue_seen
                .entry(seen.clone())
                .or_insert_with(Instant::now)
                .elapsed();
            if waited < self.spec.slurm.lost_after {
                b.live.insert(t.key.clone(), t.job_id.clone());
                return Ok(());
            }
        }
        self.requeue_seen.remove(&seen);
        let outcome = ended.map_or(Outcome::Requeued, |r| requeue_outcome(&r.state));
        let state = ended.map_or("a state accounting does not tell", |r| r.state.as_str());
        let next = t.restarts + 1;
        if matches!(outcome, Outcome::NodeFail | Outcome::Preempted) {
            let count = *self.outcome_count(&t.key, outcome, b)? + 1;
            let rule = self.spec.restart.rule(outcome);
            let decision = decide_slurm(outcome, &rule, count, (t.time_limit_s, t.mem_mb));
            if decision == SlurmDecision::Stop {
                if let Some(r) = ended {
                    self.run_ended(t, r, b);
                }
                let why = format!(
                    "sacct: {state}; SLURM requeued the job (restart {next}, same job id), which the `{outcome}` rule does not allow ({count} of {})",
                    rule.max_attempts
                );
                self.end_by_cancel(t, outcome, why, b);
                return Ok(());
            }
        }
        if let Some(r) = ended {
            self.run_ended(t, r, b);
        }
        let reason = format!(
            "ended as {state}; SLURM requeued the job (restart {next} of {restarts_now}, same job id)"
        );
        let _ = self.supersede(t, &t.job_id.clone(), next, outcome, reason, b);
        Ok(())
    }

    /// Records what one ended run of attempt `t` left: its state, node and start from
    /// accounting, its exit code and metrics from its own folder.
    pub(super) fn run_ended(&self, t: &TrackedJob, r: &AcctEntry, b: &mut Batch) {
        let dir = attempt_folder(t);
        let exit = read_exit_record(&dir);
        let metrics = read_metrics(&dir.join(METRICS_FILE));
        b.jobs.push(JobChange::RunEnded {
            key: t.key.clone(),
            attempt: t.attempt,
            state: r.state.clone(),
            node: r.node.clone(),
            started_at: r.start.as_deref().and_then(super::poll::utc_of_local),
            exit_code: exit.or((r.exit_code != 0 && r.signal == 0).then_some(r.exit_code)),
            signal: (r.signal != 0).then_some(r.signal),
            ended_at: r.end.as_deref().and_then(super::poll::utc_of_local),
            metrics: metrics.records,
        });
    }

    /// A gone job's runs after attempt `t`'s that no poll saw (it was requeued, perhaps more
    /// than once, while the monitor was down): each closed as its own attempt with the outcome
    /// of its state. Returns the attempt of the last run, and that run's row, to be finalized.
    /// Without accounting, the runs are the `-rN` folders the wrapper made.
    pub(super) fn close_missed_runs(
        &mut self,
        t: &TrackedJob,
        runs: &[AcctEntry],
        b: &mut Batch,
    ) -> (TrackedJob, Option<AcctEntry>) {
        let mut cur = t.clone();
        if t.cancelling.is_some() {
            // The monitor decided this attempt's end and cancelled the job (perhaps after SLURM
            // requeued it): the decision covers every run since.
            return (cur, runs.last().cloned());
        }
        if runs.is_empty() {
            if self.accounting {
                return (cur, None);
            }
            while let Some(next) =
                sibling_attempt_dir(&attempt_folder(&cur), &cur.job_id, cur.restarts + 1)
                    .filter(|d| d.join(STARTED_RECORD).exists())
            {
                let reason = format!(
                    "ended, and SLURM ran the job again (restart {}, same job id; seen from its folder {}, accounting is off)",
                    cur.restarts + 1,
                    next.display()
                );
                let job = cur.job_id.clone();
                cur = self.supersede(&cur, &job, cur.restarts + 1, Outcome::Requeued, reason, b);
            }
            return (cur, None);
        }
        let first = (t.restarts as usize).min(runs.len() - 1);
        for (i, r) in runs.iter().enumerate().take(runs.len() - 1).skip(first) {
            self.run_ended(&cur, r, b);
            let reason = format!(
                "ended as {} (sacct); SLURM ran the job again (restart {}, same job id)",
                r.state,
                i + 1
            );
            let job = cur.job_id.clone();
            cur = self.supersede(
                &cur,
                &job,
                i as u32 + 1,
                requeue_outcome(&r.state),
                reason,
                b,
            );
        }
        (cur, runs.last().cloned())
    }
}

/// The folder attempt `t` writes in (its logs' folder).
pub(super) fn attempt_folder(t: &TrackedJob) -> std::path::PathBuf {
    Path::new(&t.stdout)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str, submit: &str) -> AcctEntry {
        AcctEntry {
            job_id: "7".into(),
            raw_id: "7".into(),
            name: "lt.r.k".into(),
            state: state.into(),
            exit_code: 0,
            signal: 0,
            submit: Some(submit.into()),
            start: None,
            end: None,
            node: None,
            workdir: None,
            ..AcctEntry::default()
        }
    }

    #[test]
    fn runs_are_ordered_by_submission_and_classified_by_their_state() {
        let runs = runs_in_order(vec![
            row("COMPLETED", "2026-11-30T02:30:52"),
            row("NODE_FAIL", "2026-11-30T02:30:48"),
        ]);
        let states: Vec<&str> = runs.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["NODE_FAIL", "COMPLETED"]);
        assert_eq!(requeue_outcome("NODE_FAIL"), Outcome::NodeFail);
        assert_eq!(requeue_outcome("PREEMPTED"), Outcome::Preempted);
        assert_eq!(requeue_outcome("REQUEUED"), Outcome::Requeued);
        assert!(run_is_over("REQUEUED") && run_is_over("NODE_FAIL"));
        assert!(!run_is_over("RUNNING") && !run_is_over("PENDING"));
    }
}
