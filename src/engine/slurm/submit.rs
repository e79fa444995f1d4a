//! Submission, planned: tasks whose upstream is done (or has live jobs, via
//! `--dependency=afterok`) become submissions, one job per task or job arrays per stage; never a
//! second live job for a task. Every submission's intent is committed, with the rest of the poll,
//! before the first `sbatch` (see `sbatch.rs`).
//!
//! A stage's arrays are chunks of at most the cluster's `MaxArraySize` elements, each its own
//! submission (issue 15). With `max_running`, each array carries the throttle `%max_running`,
//! so a stage has one array at a time: its next chunk goes once none of its tasks has a job.

use super::poll::Batch;
use super::sbatch::{After, Planned};
use super::{Map, Monitor};
use crate::exec::slurm::config::DEFAULT_MAX_ARRAY_SIZE;
use crate::exec::slurm::script::attempt_dir;
use crate::exec::slurm::{array_name, job_name, new_token, QueueEntry};
use crate::protocol::{STDERR_FILE, STDOUT_FILE};
use crate::store::{JobChange, StoreError, Submission, SubmissionRow, SubmissionState, TaskState};
use std::collections::{BTreeMap, HashMap, HashSet};

enum Ready {
    Now(Vec<After>),
    Wait,
    Blocked(String),
}

impl Monitor<'_> {
    /// Upstream check for task `i`: the jobs to depend on, wait, or blocked.
    fn readiness(&self, i: usize, b: &Batch) -> Ready {
        let mut after = Vec::new();
        for d in self.plan.dep_keys(i) {
            let d = d.as_str();
            match (b.states.get(d), b.live.get(d)) {
                (Some(TaskState::Done), _) => {}
                (_, Some(job)) => after.push(After::Job(job.clone())),
                _ if b.planned.contains(d) => after.push(After::Task(d.to_string())),
                (Some(TaskState::Failed | TaskState::Blocked), _) => {
                    return Ready::Blocked(self.label(d))
                }
                _ => return Ready::Wait,
            }
        }
        Ready::Now(after)
    }

    /// Submits every task that may go now; returns how many jobs were submitted or adopted.
    pub(super) fn submit_ready(
        &mut self,
        unclaimed: &Map<String, &QueueEntry>,
        b: &mut Batch,
    ) -> Result<usize, StoreError> {
        let decided: HashMap<usize, (Option<u64>, Option<u64>)> =
            b.restarts.iter().map(|(i, t, m)| (*i, (*t, *m))).collect();
        let initial = (
            self.spec.slurm.time.map(|d| d.as_secs()),
            self.spec.slurm.mem_mb,
        );
        let max = self
            .spec
            .slurm
            .max_running
            .map_or(usize::MAX, |m| m as usize);
        let mut adopted = 0;
        let mut planned: Vec<Planned> = Vec::new();
        let mut array_groups: BTreeMap<usize, Vec<(usize, u32, Vec<After>)>> = BTreeMap::new();
        // Asked of the scheduler once, when the first task would go into an array.
        let mut array_size: Option<usize> = None;
        let throttled_arrays = self.spec.slurm.array && self.spec.slurm.max_running.is_some();
        let busy_stages: HashSet<usize> = if throttled_arrays {
            let running =
                |t: &&crate::plan::Task| b.states.get(t.key.as_str()) == Some(TaskState::Running);
            self.plan
                .tasks
                .iter()
                .filter(running)
                .map(|t| t.stage)
                .collect()
        } else {
            HashSet::new()
        };
        let plan = self.plan;
        for i in 0..plan.tasks.len() {
            // Most tasks are not pending: their key is not copied (10^5 a poll, issue 15).
            let key = plan.tasks[i].key.as_str();
            if b.states.get(key) != Some(TaskState::Pending) || b.live.contains_key(key) {
                continue;
            }
            let key = key.to_string();
            if Self::waits_for_leaving_job(&key, b) {
                b.deferred += 1;
                continue;
            }
            let after = match self.readiness(i, b) {
                Ready::Now(after) => after,
                Ready::Wait => continue,
                Ready::Blocked(up) => {
                    self.block_downstream_of_self(i, &up, b);
                    continue;
                }
            };
            let attempt = b.states.attempts(&key).unwrap_or(0) + 1;
            if let Some(q) = unclaimed.get(key.as_str()) {
                // A live job already carries this task's name: adopt it, never submit a second.
                let dir = attempt_dir(&self.folders.attempt_prefix(&key), q.job_id, q.restarts);
                b.jobs.push(submitted_change(
                    &key,
                    attempt,
                    q.job_id,
                    &self.host,
                    &dir,
                    // Its own limits, which a restart after it scales (issue 11).
                    (q.time_limit_s, q.mem_mb),
                    Submission::Adopted,
                ));
                b.lines.push(format!(
                    "⇄ {}: adopted live job {} with the task's name",
                    self.label(&key),
                    q.job_id
                ));
                b.live.insert(key.clone(), q.job_id.to_string());
                b.states.insert(key, TaskState::Running);
                adopted += 1;
                continue;
            }
            // A job array is throttled by SLURM (`%max_running`); a restart goes as a single
            // job outside any array, so it waits for a free place among the live jobs, while
            // later first attempts may still be grouped into arrays (issue 11).
            // A cluster whose `MaxArraySize` is 0 has arrays disabled: single jobs then.
            let restart = self.restart_limits(i, &key, attempt, &decided)?;
            let grouped = self.spec.slurm.array
                && restart.is_none()
                && *array_size.get_or_insert_with(|| self.sched.max_array_size()) > 0;
            if !grouped && b.live.len() + b.planned.len() >= max {
                if self.spec.slurm.array {
                    continue;
                }
                break;
            }
            let limits = restart.unwrap_or(initial);
            if grouped {
                let stage = self.plan.tasks[i].stage;
                let group = array_groups.entry(stage).or_default();
                let chunk = array_size.unwrap_or(DEFAULT_MAX_ARRAY_SIZE);
                if throttled_arrays && (busy_stages.contains(&stage) || group.len() >= chunk) {
                    continue;
                }
                b.states.insert(key.clone(), TaskState::Running);
                group.push((i, attempt, after));
                continue;
            }
            b.states.insert(key.clone(), TaskState::Running);
            let token = new_token();
            let prefix = self.folders.attempt_prefix(&key);
            planned.push(Planned {
                row: intent(
                    token.clone(),
                    job_name(&self.run, &key),
                    vec![(key.clone(), attempt)],
                    limits,
                    crate::exec::slurm::script::attempt_file(&prefix, attempt, "sbatch"),
                ),
                tasks: vec![i],
                after,
                comment: format!("labtrail:{}:{key}:{attempt}:{token}", self.run),
                array: None,
            });
            b.planned.insert(key);
        }
        let chunk = array_size.unwrap_or(DEFAULT_MAX_ARRAY_SIZE).max(1);
        for (stage, group) in array_groups {
            for part in group.chunks(chunk) {
                planned.push(self.plan_array(stage, part, initial));
            }
        }
        let submitted = self.submit_planned(planned, b)?;
        Ok(adopted + submitted)
    }

    /// One job array for first attempts of a stage (at most `MaxArraySize` of them), throttled
    /// by `max_running`.
    fn plan_array(
        &self,
        stage: usize,
        group: &[(usize, u32, Vec<After>)],
        limits: (Option<u64>, Option<u64>),
    ) -> Planned {
        let mut after: Vec<After> = group
            .iter()
            .flat_map(|(_, _, a)| a.iter().cloned())
            .collect();
        after.sort();
        after.dedup();
        let stage_name = &self.spec.stages[stage].name;
        let token = new_token();
        let script = self
            .store
            .run_dir(&self.run)
            .join("arrays")
            .join(format!("{stage_name}-{token}.sbatch"));
        let throttle = self
            .spec
            .slurm
            .max_running
            .map(|m| format!("%{m}"))
            .unwrap_or_default();
        Planned {
            row: intent(
                token.clone(),
                array_name(&self.run, stage_name, &token),
                group
                    .iter()
                    .map(|(i, attempt, _)| (self.plan.tasks[*i].key.to_string(), *attempt))
                    .collect(),
                limits,
                script,
            ),
            tasks: group.iter().map(|(i, _, _)| *i).collect(),
            after,
            comment: format!("labtrail:{}:@{stage_name}:{token}", self.run),
            array: Some(format!("0-{}{throttle}", group.len() - 1)),
        }
    }

    fn block_downstream_of_self(&self, i: usize, upstream: &str, b: &mut Batch) {
        let key = self.plan.tasks[i].key.to_string();
        b.states.insert(key.clone(), TaskState::Blocked);
        b.changes.push(crate::store::Change::Blocked {
            key,
            reason: format!("upstream task {upstream} failed"),
        });
        b.lines.push(format!(
            "⊘ {}: blocked, upstream {upstream} failed",
            self.plan.label(i, self.spec)
        ));
    }
}

fn intent(
    token: String,
    job_name: String,
    tasks: Vec<(String, u32)>,
    limits: (Option<u64>, Option<u64>),
    script: std::path::PathBuf,
) -> SubmissionRow {
    SubmissionRow {
        token,
        job_name,
        created_at: crate::store::now(),
        tasks,
        time_limit_s: limits.0,
        mem_mb: limits.1,
        script: script.display().to_string(),
        job_id: None,
        state: SubmissionState::Intended,
    }
}

/// The attempt row of a task's job (submitted, adopted, or found again from its intent).
pub(super) fn submitted_change(
    key: &str,
    attempt: u32,
    job_id: &str,
    host: &str,
    dir: &std::path::Path,
    limits: (Option<u64>, Option<u64>),
    how: Submission,
) -> JobChange {
    JobChange::Submitted {
        key: key.to_string(),
        attempt,
        job_id: job_id.to_string(),
        host: host.to_string(),
        stdout: dir.join(STDOUT_FILE).display().to_string(),
        stderr: dir.join(STDERR_FILE).display().to_string(),
        time_limit_s: limits.0,
        mem_mb: limits.1,
        how,
    }
}
