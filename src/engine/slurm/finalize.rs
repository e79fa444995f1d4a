//! The end of an attempt: its outcome is checked (a success needs its result and marker), the
//! restart policy decides, and what depended on it is withdrawn or blocked.

use super::logtail;
use super::poll::Batch;
use super::Monitor;
use crate::outcome::Outcome;
use crate::policy::{decide_slurm, SlurmDecision};
use crate::progress::error_part;
use crate::protocol::{
    read_metrics, read_result, METRICS_FILE, RESULT_FILE, STDERR_FILE, STDOUT_FILE,
};
use crate::provenance::attempt_end::{AttemptFacts, Ended};
use crate::store::{now, Change, StoreError, TaskState, TrackedJob};
use std::collections::HashSet;
use std::path::Path;

impl Monitor<'_> {
    /// Ends attempt `t` as `class` and applies the policy.
    pub(super) fn finalize(
        &mut self,
        t: &TrackedJob,
        class: Outcome,
        exit_code: Option<i32>,
        signal: Option<i32>,
        why: String,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        b.live.remove(&t.key);
        let dir = Path::new(&t.stdout)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let (class, why, result) = if class == Outcome::Success {
            self.check_success(&dir, why)
        } else {
            (class, why, None)
        };
        let count = {
            let n = self.outcome_count(&t.key, class, b)?;
            *n += 1;
            *n
        };
        let decision = decide_slurm(
            class,
            &self.spec.restart.rule(class),
            count,
            (t.time_limit_s, t.mem_mb),
        );
        let label = self.label(&t.key);
        let (state, note) = match &decision {
            SlurmDecision::Done => (TaskState::Done, "done".to_string()),
            SlurmDecision::Restart {
                time_limit_s,
                mem_mb,
            } => {
                if let Some(&i) = self.index.get(&t.key) {
                    b.restarts.push((i, *time_limit_s, *mem_mb));
                }
                let limits = [
                    time_limit_s.map(|s| {
                        format!(
                            "time {}",
                            crate::spec::format_duration(std::time::Duration::from_secs(s))
                        )
                    }),
                    mem_mb.map(|m| format!("mem {m}M")),
                ];
                let limits: Vec<String> = limits.into_iter().flatten().collect();
                (
                    TaskState::Pending,
                    format!(
                        "restart ({} {count} of {}){}",
                        class.as_str(),
                        self.spec.restart.rule(class).max_attempts,
                        if limits.is_empty() {
                            String::new()
                        } else {
                            format!(" with {}", limits.join(", "))
                        }
                    ),
                )
            }
            SlurmDecision::Stop => (TaskState::Failed, "stop".to_string()),
        };
        b.states.insert(t.key.clone(), state);
        let metrics_file = dir.join(METRICS_FILE);
        let metrics = read_metrics(&metrics_file);
        let skipped = metrics.warning(&metrics_file);
        let facts = self.attempt_facts(
            t,
            class,
            &dir.join(STDERR_FILE),
            &metrics.records,
            result.as_deref(),
        );
        // Issue 14: the failure line shows the error read for the archive, not read again.
        let error = facts
            .as_ref()
            .and_then(|f| f.error.as_ref())
            .and_then(|e| e.line.as_deref());
        b.lines.push(match state {
            TaskState::Done => format!("✓ {label} (job {})", t.job_id),
            _ => format!(
                "{} {label}: {} ({why}){}; {note}; log: {}",
                if state == TaskState::Failed {
                    "✗"
                } else {
                    "↻"
                },
                class.as_str(),
                error_part(error),
                t.stderr
            ),
        });
        let facts = facts.map_or_else(Vec::new, |f| f.changes(&t.key, class));
        b.changes.push(Change::Finished {
            key: t.key.clone(),
            attempt: t.attempt,
            ended_at: b
                .ended_at
                .get(&(t.key.clone(), t.attempt))
                .cloned()
                .unwrap_or_else(now),
            exit_code,
            signal,
            outcome: class,
            reason: Some(if state == TaskState::Done {
                why
            } else {
                format!("{why}; decision: {note}")
            }),
            state,
            result,
            max_rss_kb: None,
            user_cpu_s: None,
            sys_cpu_s: None,
            metrics: metrics.records,
        });
        b.changes.extend(facts);
        self.tidy_ended(t, state, b);
        // Issue 12: the whole tree's peak, from the wrapper's sampler (sacct's added after).
        super::task_resources::from_sidecar(t, &dir, b);
        if let Some(warning) = skipped {
            b.lines.push(format!("⚠ {label}: {warning}"));
            b.changes.push(Change::TaskNote {
                key: t.key.clone(),
                kind: "task_output_skipped".into(),
                detail: warning,
            });
        }
        if let Some(&i) = self.index.get(&t.key).filter(|_| state != TaskState::Done) {
            self.withdraw_dependents(i, &label, b)?;
            if state == TaskState::Failed {
                self.block_downstream(i, &label, b);
            }
        }
        Ok(())
    }

    /// The attempt's error (read from the end of its stderr) or its artifacts, for the records
    /// of its end (issue 12) and its failure line (issue 14); `None` for a task not in the plan.
    fn attempt_facts(
        &self,
        t: &TrackedJob,
        class: Outcome,
        stderr: &Path,
        metrics: &[String],
        result: Option<&str>,
    ) -> Option<AttemptFacts> {
        let &i = self.index.get(&t.key)?;
        let task_dir = self.folders.task_dir(&t.key);
        Some(AttemptFacts::read(&Ended {
            stage: &self.spec.stages[self.plan.tasks[i].stage],
            archive: &self.spec.archive,
            task_dir: &task_dir,
            stderr,
            attempt: t.attempt,
            succeeded: class == Outcome::Success,
            metrics,
            result,
        }))
    }

    /// Upstream task `i` did not succeed. Jobs that wait on it with `afterok` would wait forever,
    /// so they are cancelled and their tasks go back to pending, to be submitted again against
    /// the upstream's next job; this is not counted as an outcome of theirs (see `cancel.rs`).
    fn withdraw_dependents(
        &mut self,
        i: usize,
        upstream: &str,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        let mut stack = self.dependents[i].clone();
        while let Some(d) = stack.pop() {
            let key = self.plan.tasks[d].key.to_string();
            let Some(job) = b.live.get(&key).cloned() else {
                continue;
            };
            let Some(attempt) = self.tracked_attempt(&key, b)? else {
                continue;
            };
            // The decision is committed before `scancel`; a job that could not be cancelled stays
            // live (retried at the next poll) and keeps its own dependents.
            if !self.withdraw_job(&key, attempt, &job, upstream, b) {
                continue;
            }
            stack.extend(self.dependents[d].iter().copied());
        }
        Ok(())
    }

    /// The attempt task `key` tracks now: opened this poll on a superseding job, else its last
    /// open attempt in the store. The poll's own changes are committed at its end, so the store
    /// still holds the tracked attempts it started from.
    fn tracked_attempt(&self, key: &str, b: &Batch) -> Result<Option<u32>, StoreError> {
        if let Some(&attempt) = b.superseding.get(key) {
            return Ok(Some(attempt));
        }
        let jobs = self.store.tracked_jobs_of(&self.run, key)?;
        Ok(jobs.last().map(|t| t.attempt))
    }

    /// A completed job succeeded only with a readable result and, if configured, the marker.
    fn check_success(&self, dir: &Path, why: String) -> (Outcome, String, Option<String>) {
        if let Some(marker) = &self.spec.restart.success_marker {
            // Streamed, as bytes: a log of gigabytes, or one that is not UTF-8, is searched too.
            let mut found = false;
            for log in [dir.join(STDOUT_FILE), dir.join(STDERR_FILE)] {
                match logtail::contains(&log, marker) {
                    Ok(true) => {
                        found = true;
                        break;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        let why = format!(
                            "cannot search {} for the success marker: {e}",
                            log.display()
                        );
                        return (Outcome::Failed, why, None);
                    }
                }
            }
            if !found {
                return (
                    Outcome::Failed,
                    format!("exited 0 without the success marker `{marker}`"),
                    None,
                );
            }
        }
        match read_result(&dir.join(RESULT_FILE)) {
            Ok(r) => (Outcome::Success, why, r),
            Err(e) => (Outcome::Failed, e, None),
        }
    }

    pub(super) fn block_downstream(&self, i: usize, label: &str, b: &mut Batch) {
        let mut stack = self.dependents[i].clone();
        let mut seen = HashSet::new();
        while let Some(d) = stack.pop() {
            if !seen.insert(d) {
                continue;
            }
            let key = &self.plan.tasks[d].key.to_string();
            if matches!(
                b.states.get(key),
                Some(TaskState::Done | TaskState::Running)
            ) {
                continue;
            }
            b.states.insert(key.clone(), TaskState::Blocked);
            b.changes.push(Change::Blocked {
                key: key.clone(),
                reason: format!("upstream task {label} failed"),
            });
            b.lines.push(format!(
                "⊘ {}: blocked, upstream {label} failed",
                self.plan.label(d, self.spec)
            ));
            stack.extend(self.dependents[d].iter().copied());
        }
    }
}
