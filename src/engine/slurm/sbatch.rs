//! Submission, carried out: the intents of a poll's submissions are committed (with everything
//! else the poll decided) before the first `sbatch`; each submission is committed with its job id
//! as soon as `sbatch` gives it, before the next `sbatch`. A monitor killed at any instant leaves
//! at most intents whose jobs the next poll finds by name (see `intents.rs`); a stop signal
//! lets the `sbatch` under way finish and be recorded, and starts no other (issue 11).

use super::poll::Batch;
use super::submit::submitted_change;
use super::Monitor;
use crate::exec::slurm::parse_array_name;
use crate::exec::slurm::script::{self, attempt_dir, Header, TaskJob};
use crate::exec::slurm::SchedError;
use crate::protocol;
use crate::store::{fault, JobChange, StoreError, Submission, SubmissionRow, TaskState};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

/// What a job waits for (`--dependency=afterok`): a job, or a task submitted earlier in this
/// poll, whose id is known once its `sbatch` answered.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum After {
    Job(String),
    Task(String),
}

/// A submission decided by this poll.
pub(super) struct Planned {
    /// Its intent, as committed before `sbatch`.
    pub row: SubmissionRow,
    /// The plan's tasks, in array-element order.
    pub tasks: Vec<usize>,
    pub after: Vec<After>,
    pub comment: String,
    /// `--array`'s value, for a job array.
    pub array: Option<String>,
}

impl Monitor<'_> {
    /// Commits the poll's batch with the intents of `planned`, then submits them one by one;
    /// returns how many tasks got a job.
    pub(super) fn submit_planned(
        &mut self,
        planned: Vec<Planned>,
        b: &mut Batch,
    ) -> Result<usize, StoreError> {
        if planned.is_empty() {
            return Ok(0);
        }
        let rows: Vec<SubmissionRow> = planned.iter().map(|p| p.row.clone()).collect();
        self.store
            .apply_with_intents(&self.run, &b.changes, &b.jobs, &rows)?;
        b.committed = true;
        b.changes.clear();
        b.jobs.clear();
        let mut submitted = 0;
        let mut rest = planned.into_iter();
        while let Some(p) = rest.next() {
            if self.stop.load(Ordering::Relaxed) != 0 {
                b.stopped = true;
                self.give_up(std::iter::once(p).chain(rest), b)?;
                break;
            }
            let path = PathBuf::from(&p.row.script);
            let jobs = self.write_script(&p, &path, b)?;
            self.store.check_still_here()?;
            let answer = self.sched.sbatch(&path, &[]);
            fault::fault_injection_crash_point("slurm-after-sbatch");
            match answer {
                Ok(id) => submitted += self.record(&p, &jobs, &id, b)?,
                Err(e) => {
                    let what = match &p.array {
                        Some(_) => format!("sbatch of {}: {e}", p.row.job_name),
                        None => e.to_string(),
                    };
                    b.trouble = Some(what);
                    if e.submission_refused() {
                        let said = match &e {
                            SchedError::Failed { detail, .. } => detail.trim().to_string(),
                            other => other.to_string(),
                        };
                        b.refused = Some(format!(
                            "sbatch refused {} ({}): {said}",
                            p.row.job_name,
                            path.display()
                        ));
                        self.store
                            .settle_submission(&self.run, &p.row.token, None, &[])?;
                        for (key, _) in &p.row.tasks {
                            b.states.insert(key.clone(), TaskState::Pending);
                        }
                    }
                    // Else SLURM may have accepted it: the intent stays, and the next poll looks
                    // for its job before its tasks may go again.
                    self.give_up(rest, b)?;
                    break;
                }
            }
        }
        Ok(submitted)
    }

    /// Writes the job script of `p` at `path`; returns what each of its tasks runs.
    fn write_script(
        &self,
        p: &Planned,
        path: &std::path::Path,
        b: &Batch,
    ) -> Result<Vec<TaskJob>, StoreError> {
        let jobs: Vec<TaskJob> = p
            .tasks
            .iter()
            .zip(&p.row.tasks)
            .map(|(&i, (_, attempt))| self.task_job(i, *attempt))
            .collect::<Result<_, _>>()?;
        let after = b.live_after(&p.after);
        let log = match &p.array {
            Some(_) => path.with_file_name(format!(
                "{}-%a.log",
                path.file_stem().unwrap_or_default().to_string_lossy()
            )),
            None => script::attempt_file(&jobs[0].attempt_prefix, jobs[0].attempt, "slurm.log"),
        };
        let mut header = self.header(&p.row, &p.comment, log, &after);
        header.array = p.array.clone();
        let folder = path.parent().expect("a job script has a folder");
        // A store moved or deleted since the last commit gets nothing made at its old path
        // and no job submitted from there (issue 10).
        self.store.make_dirs(folder)?;
        let text = match &p.array {
            Some(_) => script::array(&header, &jobs),
            None => script::single(&header, &jobs[0]),
        };
        std::fs::write(path, text).map_err(|e| StoreError::io(path, e))?;
        Ok(jobs)
    }

    /// Commits submission `p` as job `id`, with its tasks' attempts; returns how many tasks.
    fn record(
        &mut self,
        p: &Planned,
        jobs: &[TaskJob],
        id: &str,
        b: &mut Batch,
    ) -> Result<usize, StoreError> {
        let limits = (p.row.time_limit_s, p.row.mem_mb);
        let mut changes: Vec<JobChange> = Vec::new();
        for (n, j) in jobs.iter().enumerate() {
            let job_id = match p.array {
                Some(_) => format!("{id}_{n}"),
                None => id.to_string(),
            };
            let dir = attempt_dir(&j.attempt_prefix, &job_id, 0);
            changes.push(submitted_change(
                &j.key,
                j.attempt,
                &job_id,
                &self.host,
                &dir,
                limits,
                Submission::Submitted,
            ));
            b.live.insert(j.key.clone(), job_id);
            b.states.insert(j.key.clone(), TaskState::Running);
        }
        self.store
            .settle_submission(&self.run, &p.row.token, Some(id), &changes)?;
        b.lines.push(match &p.array {
            Some(spec) => format!(
                "▶ stage {}: job array {id} with {} tasks{}",
                parse_array_name(&p.row.job_name).map_or("?", |(_, stage)| stage),
                jobs.len(),
                spec.split_once('%')
                    .map(|(_, m)| format!(" (at most {m} at once)"))
                    .unwrap_or_default()
            ),
            None => format!(
                "▶ {} (attempt {}): job {id}{}",
                self.label(&jobs[0].key),
                jobs[0].attempt,
                match b.live_after(&p.after) {
                    a if a.is_empty() => String::new(),
                    a => format!(" after {}", a.join(",")),
                }
            ),
        });
        Ok(jobs.len())
    }

    /// Abandons submissions never handed to `sbatch`: their tasks may go at the next poll.
    fn give_up(
        &mut self,
        rest: impl Iterator<Item = Planned>,
        b: &mut Batch,
    ) -> Result<(), StoreError> {
        let mut tokens = Vec::new();
        for p in rest {
            for (key, _) in &p.row.tasks {
                b.states.insert(key.clone(), TaskState::Pending);
            }
            tokens.push(p.row.token);
        }
        self.store.abandon_submissions(&self.run, &tokens)
    }

    pub(super) fn task_job(&self, i: usize, attempt: u32) -> Result<TaskJob, StoreError> {
        let task = &self.plan.tasks[i];
        let stage = &self.spec.stages[task.stage];
        let mut env = protocol::task_env(&self.plan.identity(
            i,
            self.spec,
            &self.run,
            self.store.dir(),
        ));
        for up in self.plan.upstream(self.spec, i, &self.folders) {
            let var = up
                .materialize()
                .map_err(|e| StoreError::io(&self.folders.run_dir().join("upstream"), e))?;
            env.push(var);
        }
        Ok(TaskJob {
            key: task.key.to_string(),
            task_dir: self.folders.task_dir(&task.key),
            attempt_prefix: self.folders.attempt_prefix(&task.key),
            workdir: protocol::workdir(&self.base, &stage.workdir),
            command: self.plan.command(i, self.spec),
            env,
            attempt,
        })
    }

    fn header(&self, row: &SubmissionRow, comment: &str, log: PathBuf, after: &[String]) -> Header {
        let mut options = self.spec.slurm.options.clone();
        if !after.is_empty() {
            options.push((
                "--dependency".into(),
                format!("afterok:{}", after.join(":")),
            ));
        }
        Header {
            name: row.job_name.clone(),
            comment: comment.to_string(),
            slurm_log: log,
            time_limit_s: row.time_limit_s,
            mem_mb: row.mem_mb,
            signal: self.spec.slurm.signal.clone(),
            options,
            array: None,
        }
    }
}

impl Batch<'_> {
    /// The job ids `after` stands for now.
    fn live_after(&self, after: &[After]) -> Vec<String> {
        after
            .iter()
            .filter_map(|a| match a {
                After::Job(id) => Some(id.clone()),
                After::Task(key) => self.live.get(key).cloned(),
            })
            .collect()
    }
}
