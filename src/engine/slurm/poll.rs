//! One poll: observe, reconcile, finalize, decide, submit, commit, report.

use super::classify::{class_of_exit, class_of_state};
use super::logtail;
use super::Monitor;
use crate::exec::slurm::script::{attempt_dir, sibling_attempt_dir};
use crate::exec::slurm::{is_finished_state, parse_job_name, AcctEntry, QueueEntry, SchedError};
use crate::outcome::Outcome;
use crate::policy::{decide_slurm, SlurmDecision};
use crate::progress::Reporter;
use crate::protocol::{
    read_exit_record, read_metrics, read_result, METRICS_FILE, RESULT_FILE, STDERR_FILE,
    STDOUT_FILE,
};
use crate::spec::slurm::Action;
use crate::store::{now, Change, JobChange, StoreError, TaskState, TrackedJob};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

/// What a poll found.
#[derive(Debug, Default)]
pub struct PollOutcome {
    /// Something changed (a state, an outcome, a submission).
    pub changed: bool,
    /// Nothing is live and nothing more can be submitted.
    pub idle: bool,
    /// A scheduler command failed; nothing was decided about the jobs it would have shown.
    pub scheduler_trouble: Option<String>,
}

/// Work collected during a poll, committed in one transaction at its end.
#[derive(Default)]
pub(super) struct Batch {
    pub jobs: Vec<JobChange>,
    pub changes: Vec<Change>,
    pub lines: Vec<String>,
    /// Tasks to submit again, with the limits the policy chose.
    pub restarts: Vec<(usize, Option<u64>, Option<u64>)>,
    /// Task key -> job id of every job that is live after this poll.
    pub live: HashMap<String, String>,
    /// Task states as this poll leaves them.
    pub states: HashMap<String, TaskState>,
    /// A scheduler command that failed during submission.
    pub trouble: Option<String>,
    /// Attempts per (task key, outcome), loaded at the poll's first finalization.
    pub outcomes: Option<HashMap<(String, Outcome), u32>>,
    /// Attempts made so far, by task key.
    pub attempts: HashMap<String, u32>,
    /// The attempt each tracked job belongs to, by task key.
    pub tracked: HashMap<String, (u32, String)>,
}

impl Monitor<'_> {
    /// One poll of the run. Every change it makes is committed before it is reported.
    pub fn poll(&mut self, rep: &Reporter) -> Result<PollOutcome, StoreError> {
        let tracked = self.store.tracked_jobs(&self.run)?;
        let queue = match self.sched.squeue() {
            Ok(q) => q,
            Err(e) => {
                return Ok(PollOutcome {
                    scheduler_trouble: Some(e.to_string()),
                    ..Default::default()
                })
            }
        };
        let stored = self.store.task_states(&self.run)?;
        let mut b = Batch {
            states: stored.iter().map(|(k, v)| (k.clone(), v.0)).collect(),
            attempts: stored.into_iter().map(|(k, v)| (k, v.1)).collect(),
            ..Default::default()
        };
        let by_id: HashMap<&str, &QueueEntry> =
            queue.iter().map(|q| (q.job_id.as_str(), q)).collect();
        let tracked_ids: HashSet<&str> = tracked.iter().map(|t| t.job_id.as_str()).collect();
        let by_key: HashMap<&str, &QueueEntry> = queue
            .iter()
            .filter(|q| !tracked_ids.contains(q.job_id.as_str()) && !is_finished_state(&q.state))
            .filter_map(|q| {
                parse_job_name(&q.name)
                    .filter(|(run, _)| *run == self.run)
                    .map(|(_, key)| (key, q))
            })
            .collect();
        b.tracked = tracked
            .iter()
            .map(|t| (t.key.clone(), (t.attempt, t.job_id.clone())))
            .collect();
        let mut gone: Vec<&TrackedJob> = Vec::new();
        for t in &tracked {
            if let Some(q) = by_id
                .get(t.job_id.as_str())
                .filter(|q| !is_finished_state(&q.state))
            {
                self.missing_since.remove(&(t.key.clone(), t.attempt));
                self.observe_live(t, q, &mut b);
            } else if let Some(q) = by_key.get(t.key.as_str()) {
                self.supersede(
                    t,
                    &q.job_id,
                    q.restarts,
                    Outcome::Superseded,
                    format!(
                        "job {} is gone; adopted job {} that carries the task's name",
                        t.job_id, q.job_id
                    ),
                    &mut b,
                );
            } else {
                gone.push(t);
            }
        }
        let mut trouble = None;
        if !gone.is_empty() {
            match self.accounting_of(&gone) {
                Ok(acct) => {
                    for t in gone {
                        self.settle_gone(t, acct.get(&t.job_id), &mut b)?;
                    }
                }
                Err(e) => {
                    trouble = Some(e.to_string());
                    for t in gone {
                        b.live.insert(t.key.clone(), t.job_id.clone());
                    }
                }
            }
        }
        let submitted = if trouble.is_none() {
            self.submit_ready(&by_key, &mut b)?
        } else {
            0
        };
        trouble = trouble.or(b.trouble.take());
        let changed = !b.jobs.is_empty() || !b.changes.is_empty();
        self.store.apply_all(&self.run, &b.changes, &b.jobs)?;
        for l in &b.lines {
            rep.line(l);
        }
        let idle = trouble.is_none() && b.live.is_empty() && submitted == 0;
        Ok(PollOutcome {
            changed,
            idle,
            scheduler_trouble: trouble,
        })
    }

    pub(super) fn label(&self, key: &str) -> String {
        self.index
            .get(key)
            .map_or_else(|| key.to_string(), |&i| self.plan.tasks[i].label(self.spec))
    }

    /// A tracked job squeue still shows: requeues, state changes, log rules.
    fn observe_live(&mut self, t: &TrackedJob, q: &QueueEntry, b: &mut Batch) {
        if q.restarts > t.restarts {
            let reason = format!("requeued by SLURM (restart {}, same job id)", q.restarts);
            self.supersede(t, &t.job_id, q.restarts, Outcome::Requeued, reason, b);
            return;
        }
        b.live.insert(t.key.clone(), t.job_id.clone());
        if t.scheduler_state.as_deref() != Some(q.state.as_str()) {
            b.jobs.push(JobChange::State {
                key: t.key.clone(),
                attempt: t.attempt,
                state: q.state.clone(),
                node: q.node.clone(),
                started_at: q
                    .start
                    .as_deref()
                    .filter(|_| q.state == "RUNNING")
                    .and_then(utc_of_local),
            });
        }
        if q.state == "RUNNING" && !self.spec.restart.log_rules.is_empty() {
            self.apply_log_rules(t, b);
        }
    }

    /// Closes attempt `t` and opens the next one on `job_id` (a requeue or an adopted job).
    fn supersede(
        &mut self,
        t: &TrackedJob,
        job_id: &str,
        restarts: u32,
        outcome: Outcome,
        reason: String,
        b: &mut Batch,
    ) {
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
    }

    /// sacct for the jobs that left the queue, in one call; an empty answer when accounting is
    /// not configured (exit records then decide).
    fn accounting_of(
        &mut self,
        gone: &[&TrackedJob],
    ) -> Result<HashMap<String, AcctEntry>, SchedError> {
        if !self.accounting {
            return Ok(HashMap::new());
        }
        let earliest = gone
            .iter()
            .filter_map(|t| t.submitted_at.parse::<jiff::Timestamp>().ok())
            .min()
            .unwrap_or_else(jiff::Timestamp::now);
        let since = (earliest - jiff::SignedDuration::from_secs(600))
            .to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let ids: Vec<String> = gone.iter().map(|t| t.job_id.clone()).collect();
        match self.sched.sacct(&ids, &since) {
            Ok(rows) => Ok(rows.into_iter().map(|a| (a.job_id.clone(), a)).collect()),
            Err(SchedError::NoAccounting(_)) => {
                self.accounting = false;
                Ok(HashMap::new())
            }
            Err(e) => Err(e),
        }
    }

    /// A tracked job that squeue no longer shows: finalize it from sacct or its exit record, or
    /// declare it lost after the grace period.
    fn settle_gone(
        &mut self,
        t: &TrackedJob,
        acct: Option<&AcctEntry>,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
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
                    Some(a.exit_code),
                    Some(a.signal),
                    format!(
                        "sacct: {} with signal 9 (SIGKILL) and a memory request of {} MiB",
                        a.state,
                        t.mem_mb.unwrap_or(0)
                    ),
                ))
            }
            (Some((class, a)), _) => Some((
                class,
                Some(a.exit_code),
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
                self.missing_since.remove(&(t.key.clone(), t.attempt));
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
                self.finalize(t, class, code, signal, why, b)
            }
            None => {
                b.live.insert(t.key.clone(), t.job_id.clone());
                Ok(())
            }
        }
    }

    /// Reads the job's new log lines; the first matching rule ends the attempt.
    fn apply_log_rules(&mut self, t: &TrackedJob, b: &mut Batch) {
        let out = logtail::read_new(Path::new(&t.stdout), t.log_offset, 8 << 20);
        let err = logtail::read_new(Path::new(&t.stderr), t.err_offset, 8 << 20);
        if out.offset == t.log_offset
            && err.offset == t.err_offset
            && !out.truncated
            && !err.truncated
        {
            return;
        }
        b.jobs.push(JobChange::LogOffset {
            key: t.key.clone(),
            attempt: t.attempt,
            out: out.offset,
            err: err.offset,
        });
        let hit = out.lines.iter().chain(&err.lines).find_map(|line| {
            self.spec
                .restart
                .log_rules
                .iter()
                .find(|r| r.pattern.is_match(line))
                .map(|r| (r.clone(), line.clone()))
        });
        let Some((rule, line)) = hit else { return };
        let _ = self.sched.scancel(&t.job_id);
        let why = format!(
            "log rule `{}` matched: {}",
            rule.pattern.as_str(),
            line.chars().take(200).collect::<String>()
        );
        let class = match (rule.outcome, rule.action) {
            (Some(c), _) => c,
            (None, Some(Action::Stop)) => Outcome::Failed,
            (None, _) => Outcome::Preempted,
        };
        b.live.remove(&t.key);
        let _ = self.finalize(t, class, None, None, why, b);
    }

    /// Ends attempt `t` as `class` and applies the policy.
    fn finalize(
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
        if b.outcomes.is_none() {
            b.outcomes = Some(self.store.outcome_counts(&self.run)?);
        }
        let count = {
            let counts = b.outcomes.as_mut().expect("loaded above");
            let n = counts.entry((t.key.clone(), class)).or_insert(0);
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
        b.lines.push(match state {
            TaskState::Done => format!("✓ {label} (job {})", t.job_id),
            _ => format!(
                "{} {label}: {} ({why}); {note}; log: {}",
                if state == TaskState::Failed {
                    "✗"
                } else {
                    "↻"
                },
                class.as_str(),
                t.stderr
            ),
        });
        b.states.insert(t.key.clone(), state);
        let metrics_file = dir.join(METRICS_FILE);
        let metrics = read_metrics(&metrics_file);
        let skipped = metrics.warning(&metrics_file);
        b.changes.push(Change::Finished {
            key: t.key.clone(),
            attempt: t.attempt,
            ended_at: now(),
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
        if let Some(warning) = skipped {
            b.lines.push(format!("⚠ {label}: {warning}"));
            b.changes.push(Change::TaskNote {
                key: t.key.clone(),
                kind: "task_output_skipped".into(),
                detail: warning,
            });
        }
        if let Some(&i) = self.index.get(&t.key).filter(|_| state != TaskState::Done) {
            self.withdraw_dependents(i, &label, b);
            if state == TaskState::Failed {
                self.block_downstream(i, &label, b);
            }
        }
        Ok(())
    }

    /// Upstream task `i` did not succeed. Jobs that wait on it with `afterok` would wait forever,
    /// so they are cancelled and their tasks go back to pending, to be submitted again against
    /// the upstream's next job; this is not counted as an outcome of theirs.
    fn withdraw_dependents(&mut self, i: usize, upstream: &str, b: &mut Batch) {
        let mut stack = self.dependents[i].clone();
        while let Some(d) = stack.pop() {
            let key = self.plan.tasks[d].key.clone();
            let Some(job) = b.live.get(&key).cloned() else {
                continue;
            };
            let Some((attempt, _)) = b.tracked.get(&key).cloned() else {
                continue;
            };
            let _ = self.sched.scancel(&job);
            b.live.remove(&key);
            b.states.insert(key.clone(), TaskState::Pending);
            b.lines.push(format!(
                "↺ {}: job {job} withdrawn, its upstream {upstream} did not succeed",
                self.plan.tasks[d].label(self.spec)
            ));
            b.changes.push(Change::Finished {
                key,
                attempt,
                ended_at: now(),
                exit_code: None,
                signal: None,
                outcome: Outcome::Withdrawn,
                reason: Some(format!(
                    "upstream {upstream} did not succeed; job {job} cancelled before it started"
                )),
                state: TaskState::Pending,
                result: None,
                max_rss_kb: None,
                user_cpu_s: None,
                sys_cpu_s: None,
                metrics: Vec::new(),
            });
            stack.extend(self.dependents[d].iter().copied());
        }
    }

    /// A completed job succeeded only with a readable result and, if configured, the marker.
    fn check_success(&self, dir: &Path, why: String) -> (Outcome, String, Option<String>) {
        if let Some(marker) = &self.spec.restart.success_marker {
            let out = std::fs::read_to_string(dir.join(STDOUT_FILE)).unwrap_or_default();
            let err = std::fs::read_to_string(dir.join(STDERR_FILE)).unwrap_or_default();
            if !out.contains(marker.as_str()) && !err.contains(marker.as_str()) {
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
            let key = &self.plan.tasks[d].key;
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
                self.plan.tasks[d].label(self.spec)
            ));
            stack.extend(self.dependents[d].iter().copied());
        }
    }
}

/// squeue prints times in the cluster's local time without a zone; the store keeps UTC.
fn utc_of_local(text: &str) -> Option<String> {
    let civil = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", text).ok()?;
    let ts = civil
        .to_zoned(jiff::tz::TimeZone::system())
        .ok()?
        .timestamp();
    Some(ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}
