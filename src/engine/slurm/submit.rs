//! Submission: tasks whose upstream is done (or has live jobs, via `--dependency=afterok`) are
//! submitted, one job per task or one array per stage; never a second live job for a task.

use super::poll::Batch;
use super::Monitor;
use crate::exec::slurm::script::{self, attempt_dir, Header, TaskJob};
use crate::exec::slurm::{job_name, QueueEntry};
use crate::protocol::{self, STDERR_FILE, STDOUT_FILE};
use crate::store::{JobChange, StoreError, Submission, TaskState};
use std::collections::HashMap;

enum Ready {
    Now(Vec<String>),
    Wait,
    Blocked(String),
}

impl Monitor<'_> {
    /// Upstream check for task `i`: the job ids to depend on, wait, or blocked.
    fn readiness(&self, i: usize, b: &Batch) -> Ready {
        let mut after = Vec::new();
        for d in &self.plan.tasks[i].deps {
            match (b.states.get(d), b.live.get(d)) {
                (Some(TaskState::Done), _) => {}
                (_, Some(job)) => after.push(job.clone()),
                (Some(TaskState::Failed | TaskState::Blocked), _) => {
                    return Ready::Blocked(self.label(d))
                }
                _ => return Ready::Wait,
            }
        }
        Ready::Now(after)
    }

    fn task_job(&self, i: usize, attempt: u32) -> Result<TaskJob, StoreError> {
        let task = &self.plan.tasks[i];
        let stage = &self.spec.stages[task.stage];
        let mut env = protocol::task_env(&task.identity(self.spec, &self.run, self.store.dir()));
        for up in self.plan.upstream(self.spec, i, &self.folders) {
            let var = up
                .materialize()
                .map_err(|e| StoreError::io(&self.folders.run_dir().join("upstream"), e))?;
            env.push(var);
        }
        Ok(TaskJob {
            key: task.key.clone(),
            task_dir: self.folders.task_dir(&task.key),
            attempt_prefix: self.folders.attempt_prefix(&task.key),
            workdir: protocol::workdir(&self.base, &stage.workdir),
            command: task.command.clone(),
            env,
            attempt,
        })
    }

    fn header(
        &self,
        name: String,
        comment: String,
        log: std::path::PathBuf,
        limits: (Option<u64>, Option<u64>),
        after: &[String],
    ) -> Header {
        let mut options = self.spec.slurm.options.clone();
        if !after.is_empty() {
            options.push((
                "--dependency".into(),
                format!("afterok:{}", after.join(":")),
            ));
        }
        Header {
            name,
            comment,
            slurm_log: log,
            time_limit_s: limits.0,
            mem_mb: limits.1,
            signal: self.spec.slurm.signal.clone(),
            options,
            array: None,
        }
    }

    /// Submits every task that may go now; returns how many jobs were submitted or adopted.
    pub(super) fn submit_ready(
        &mut self,
        unclaimed: &HashMap<&str, &QueueEntry>,
        b: &mut Batch,
    ) -> Result<usize, StoreError> {
        let attempts = std::mem::take(&mut b.attempts);
        let restarts: HashMap<usize, (Option<u64>, Option<u64>)> =
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
        let mut submitted = 0;
        let mut array_groups: HashMap<usize, Vec<(usize, Vec<String>)>> = HashMap::new();
        for i in 0..self.plan.tasks.len() {
            let key = self.plan.tasks[i].key.clone();
            if b.states.get(&key) != Some(&TaskState::Pending) || b.live.contains_key(&key) {
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
            let attempt = attempts.get(&key).copied().unwrap_or(0) + 1;
            if let Some(q) = unclaimed.get(key.as_str()) {
                // A live job already carries this task's name: adopt it, never submit a second.
                let dir = attempt_dir(&self.folders.attempt_prefix(&key), &q.job_id, q.restarts);
                b.jobs.push(submitted_change(
                    &key,
                    attempt,
                    &q.job_id,
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
                b.live.insert(key.clone(), q.job_id.clone());
                b.states.insert(key, TaskState::Running);
                submitted += 1;
                continue;
            }
            if b.live.len() >= max && !self.spec.slurm.array {
                break;
            }
            let limits = restarts.get(&i).copied().unwrap_or(initial);
            if self.spec.slurm.array && !restarts.contains_key(&i) {
                array_groups
                    .entry(self.plan.tasks[i].stage)
                    .or_default()
                    .push((i, after));
                b.states.insert(key, TaskState::Running);
                continue;
            }
            let job = self.task_job(i, attempt)?;
            let prefix = job.attempt_prefix.clone();
            let header = self.header(
                job_name(&self.run, &key),
                format!("labtrail:{}:{key}:{attempt}", self.run),
                script::attempt_file(&prefix, attempt, "slurm.log"),
                limits,
                &after,
            );
            let path = script::attempt_file(&prefix, attempt, "sbatch");
            let folder = prefix.parent().expect("an attempt prefix has a folder");
            // A store moved or deleted since the last commit gets nothing made at its old path
            // and no job submitted from there (issue 10).
            self.store.make_dirs(folder)?;
            std::fs::write(&path, script::single(&header, &job))
                .map_err(|e| StoreError::io(&path, e))?;
            self.store.check_still_here()?;
            match self.sched.sbatch(&path, &[]) {
                Ok(id) => {
                    let dir = attempt_dir(&prefix, &id, 0);
                    b.jobs.push(submitted_change(
                        &key,
                        attempt,
                        &id,
                        &self.host,
                        &dir,
                        limits,
                        Submission::Submitted,
                    ));
                    b.lines.push(format!(
                        "▶ {} (attempt {attempt}): job {id}{}",
                        self.label(&key),
                        if after.is_empty() {
                            String::new()
                        } else {
                            format!(" after {}", after.join(","))
                        }
                    ));
                    b.live.insert(key.clone(), id);
                    b.states.insert(key, TaskState::Running);
                    submitted += 1;
                }
                Err(e) => {
                    b.trouble = Some(e.to_string());
                    break;
                }
            }
        }
        for (stage, group) in array_groups {
            if b.trouble.is_none() {
                submitted += self.submit_array(stage, group, &attempts, initial, b)?;
            }
        }
        Ok(submitted)
    }

    fn block_downstream_of_self(&self, i: usize, upstream: &str, b: &mut Batch) {
        let key = self.plan.tasks[i].key.clone();
        b.states.insert(key.clone(), TaskState::Blocked);
        b.changes.push(crate::store::Change::Blocked {
            key,
            reason: format!("upstream task {upstream} failed"),
        });
        b.lines.push(format!(
            "⊘ {}: blocked, upstream {upstream} failed",
            self.plan.tasks[i].label(self.spec)
        ));
    }

    /// One job array for a stage's first attempts, throttled by `max_running`.
    fn submit_array(
        &mut self,
        stage: usize,
        group: Vec<(usize, Vec<String>)>,
        attempts: &HashMap<String, u32>,
        limits: (Option<u64>, Option<u64>),
        b: &mut Batch,
    ) -> Result<usize, StoreError> {
        let jobs: Vec<TaskJob> = group
            .iter()
            .map(|(i, _)| {
                self.task_job(
                    *i,
                    attempts.get(&self.plan.tasks[*i].key).copied().unwrap_or(0) + 1,
                )
            })
            .collect::<Result<_, _>>()?;
        let mut after: Vec<String> = group.iter().flat_map(|(_, a)| a.iter().cloned()).collect();
        after.sort();
        after.dedup();
        let stage_name = &self.spec.stages[stage].name;
        let dir = self.store.run_dir(&self.run).join("arrays");
        let stamp = jiff::Timestamp::now().as_millisecond();
        let mut header = self.header(
            format!("lt.{}.@{stage_name}", self.run),
            format!("labtrail:{}:@{stage_name}", self.run),
            dir.join(format!("{stage_name}-{stamp}-%a.log")),
            limits,
            &after,
        );
        let throttle = self
            .spec
            .slurm
            .max_running
            .map(|m| format!("%{m}"))
            .unwrap_or_default();
        header.array = Some(format!("0-{}{throttle}", jobs.len() - 1));
        let path = dir.join(format!("{stage_name}-{stamp}.sbatch"));
        // As for a single job: nothing made at a moved store's old path, nothing submitted.
        self.store.make_dirs(&dir)?;
        std::fs::write(&path, script::array(&header, &jobs))
            .map_err(|e| StoreError::io(&path, e))?;
        self.store.check_still_here()?;
        let id = match self.sched.sbatch(&path, &[]) {
            Ok(id) => id,
            Err(e) => {
                b.trouble = Some(format!("sbatch of the {stage_name} array: {e}"));
                for j in &jobs {
                    b.states.insert(j.key.clone(), TaskState::Pending);
                }
                return Ok(0);
            }
        };
        for (n, j) in jobs.iter().enumerate() {
            let element = format!("{id}_{n}");
            let dir = attempt_dir(&j.attempt_prefix, &element, 0);
            b.jobs.push(submitted_change(
                &j.key,
                j.attempt,
                &element,
                &self.host,
                &dir,
                limits,
                Submission::Submitted,
            ));
            b.live.insert(j.key.clone(), element);
        }
        b.lines.push(format!(
            "▶ stage {stage_name}: job array {id} with {} tasks{}",
            jobs.len(),
            if throttle.is_empty() {
                String::new()
            } else {
                format!(" (at most {} at once)", &throttle[1..])
            }
        ));
        Ok(jobs.len())
    }
}

fn submitted_change(
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
