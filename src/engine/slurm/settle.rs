//! Jobs that left the queue: their end is read from sacct, else from the wrapper's exit record,
//! else they are declared lost after the grace period. Runs of a requeue that no poll saw are
//! closed first (each its own attempt), and a job that ended without success gives way to jobs
//! resubmitted with the task's name after it (see `adopt_named.rs`).

use super::adopt_named::Resubmitted;
use super::classify::{class_of_exit, class_of_state};
use super::poll::{utc_of_local, Batch};
use super::requeue::{runs_in_order, window_start};
use super::Monitor;
use crate::exec::slurm::{AcctEntry, SchedError};
use crate::outcome::Outcome;
use crate::protocol::read_exit_record;
use crate::store::{JobChange, StoreError, TrackedJob};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

impl Monitor<'_> {
    /// sacct for the jobs that left the queue, in one call: every run of each (`-D`), oldest
    /// first; an empty answer when accounting is not configured (exit records then decide).
    pub(super) fn accounting_of(
        &mut self,
        gone: &[&TrackedJob],
    ) -> Result<HashMap<String, Vec<AcctEntry>>, SchedError> {
        if !self.accounting {
            return Ok(HashMap::new());
        }
        let since = window_start(
            gone.iter()
                .filter_map(|t| t.first_submitted_at.parse::<jiff::Timestamp>().ok())
                .min(),
        );
        let ids: Vec<String> = gone.iter().map(|t| t.job_id.clone()).collect();
        match self.sched.sacct(&ids, &since) {
            Ok(rows) => {
                let mut by_id: HashMap<String, Vec<AcctEntry>> = HashMap::new();
                for a in rows {
                    by_id.entry(a.job_id.clone()).or_default().push(a);
                }
                Ok(by_id
                    .into_iter()
                    .map(|(id, rows)| (id, runs_in_order(rows)))
                    .collect())
            }
            Err(SchedError::NoAccounting(_)) => {
                self.accounting = false;
                Ok(HashMap::new())
            }
            Err(e) => Err(e),
        }
    }

    /// A tracked job that squeue no longer shows: finalize it from sacct (`runs`: its rows, one
    /// per run, oldest first) or its exit record, or declare it lost after the grace period.
    pub(super) fn settle_gone(
        &mut self,
        t: &TrackedJob,
        runs: &[AcctEntry],
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        let (last, acct) = self.close_missed_runs(t, runs, b);
        let (t, acct) = (&last, acct.as_ref());
        let dir = Path::new(&t.stdout)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let exit = read_exit_record(&dir);
        let missing_for = self
            .missing_since
            .entry((t.key.clone(), t.attempt))
            .or_insert_with(Instant::now)
            .elapsed();
        let patience_over = missing_for >= self.spec.slurm.lost_after;
        let verdict = match (
            acct.and_then(|a| class_of_state(&a.state, a.exit_code).map(|c| (c, a))),
            exit,
        ) {
            // Without cgroups, SLURM enforces --mem by SIGKILL: the job ends FAILED with signal 9.
            (Some((Outcome::Failed, a)), _) if a.signal == libc::SIGKILL && t.mem_mb.is_some() => {
                Some((
                    Outcome::OutOfMemory,
                    None,
                    Some(a.signal),
                    format!(
                        "sacct: {} with signal 9 (SIGKILL) and a memory request of {} MiB",
                        a.state,
                        t.mem_mb.unwrap_or(0)
                    ),
                ))
            }
            // Killed by a signal (sacct `0:15`), or cancelled with `0:0`: no exit code (a 0
            // would read as a clean exit); the signal, if sacct has one, says how it ended.
            (Some((class, a)), _) => Some((
                class,
                (a.signal == 0 && (a.exit_code != 0 || class == Outcome::Success))
                    .then_some(a.exit_code),
                (a.signal != 0).then_some(a.signal),
                format!("sacct: {}", a.state),
            )),
            // Success needs no confirmation; a failure waits for sacct's word (it may be a
            // timeout or a preemption) unless accounting is off or silent for too long.
            (None, Some(0)) => Some((Outcome::Success, Some(0), None, "exit record".to_string())),
            (None, Some(code)) if !self.accounting || patience_over => Some((
                class_of_exit(code),
                Some(code),
                None,
                format!("exit record: exit code {code}"),
            )),
            (None, None) if patience_over && acct.is_none() => Some((
                Outcome::Lost,
                None,
                None,
                format!(
                    "no trace in squeue, sacct or {} for {}",
                    dir.display(),
                    crate::spec::format_duration(missing_for)
                ),
            )),
            _ => None,
        };
        match verdict {
            Some((class, code, signal, why)) => {
                // Undone when nothing is decided this poll: the log offsets move only with
                // the verdict, or the rule's line would never be read again (issue 11).
                let mark = b.jobs.len();
                if let Some(end) = acct.and_then(|a| a.end.as_deref()).and_then(utc_of_local) {
                    b.ended_at.insert((t.key.clone(), t.attempt), end);
                }
                // Issue 11: lines a rule matches decide, even if the job ended between polls.
                let (class, why) = self.apply_log_rules_to_ended(t, class, why, b);
                if let Some(a) = acct {
                    // A job may end between two polls: sacct still knows where and when it ran.
                    b.jobs.push(JobChange::State {
                        key: t.key.clone(),
                        attempt: t.attempt,
                        state: a.state.clone(),
                        node: a.node.clone(),
                        started_at: a.start.as_deref().and_then(utc_of_local),
                    });
                }
                if class != Outcome::Success {
                    // The monitor cancelled it, and committed why before: that is its end.
                    if let Some(decision) = t.cancelling.clone() {
                        self.missing_since.remove(&(t.key.clone(), t.attempt));
                        self.end_as_decided(t, &decision, code, signal, b)?;
                        if let Some(a) = acct {
                            self.record_resources(t, a, b);
                        }
                        return Ok(());
                    }
                    match self.adopt_resubmitted(t, acct, b)? {
                        Resubmitted::None => {}
                        Resubmitted::Adopted => {
                            self.missing_since.remove(&(t.key.clone(), t.attempt));
                            return Ok(());
                        }
                        Resubmitted::Undecided => {
                            b.jobs.truncate(mark);
                            return Ok(());
                        }
                    }
                }
                self.missing_since.remove(&(t.key.clone(), t.attempt));
                self.finalize(t, class, code, signal, why, b)?;
                if let Some(a) = acct {
                    self.record_resources(t, a, b);
                }
                Ok(())
            }
            None => {
                b.live.insert(t.key.clone(), t.job_id.clone());
                Ok(())
            }
        }
    }
}
