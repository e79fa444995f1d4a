//! SLURM submissions: the durable intent of every `sbatch`, recorded before it runs, so that a
//! monitor killed after `sbatch` accepted a job but before the job was recorded finds that job
//! again by its name instead of submitting the tasks a second time (issue 11).
//!
//! A submission is `intended` (committed before `sbatch`), then `submitted` (with its job id, in
//! the same transaction as its attempts) or `abandoned` (`sbatch` refused it, it never ran, or
//! the monitor stopped before calling `sbatch`). Rows in, rows out: the engine decides.

use super::jobs::{apply_job, JobChange};
use super::paths::{resolve, stored};
use super::{Store, StoreError};
use rusqlite::{params, Transaction};
use std::collections::HashSet;

/// Where a submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionState {
    /// Recorded before `sbatch`; whether SLURM accepted it is not known yet.
    Intended,
    /// `sbatch` (or a later reconcile) gave its job id; its attempts are recorded.
    Submitted,
    /// SLURM never accepted it (or its job never ran): its tasks may be submitted again.
    Abandoned,
}

impl SubmissionState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Intended => "intended",
            Self::Submitted => "submitted",
            Self::Abandoned => "abandoned",
        }
    }
}

/// One submission: a single job (one task) or a job array (element `i` runs `tasks[i]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionRow {
    /// Unique within the run; part of an array's name, in a single job's comment.
    pub token: String,
    /// The `--job-name` it is submitted with: how its job is found again.
    pub job_name: String,
    /// When the intent was recorded (UTC), no later than the job's submission.
    pub created_at: String,
    /// `(task key, attempt number)` in array-element order.
    pub tasks: Vec<(String, u32)>,
    pub time_limit_s: Option<u64>,
    pub mem_mb: Option<u64>,
    /// The job script's path.
    pub script: String,
    pub job_id: Option<String>,
    pub state: SubmissionState,
}

fn insert(
    tx: &Transaction,
    run: &str,
    s: &SubmissionRow,
    dir: &std::path::Path,
) -> rusqlite::Result<()> {
    let tasks = serde_json::to_string(&s.tasks).expect("keys and numbers serialize");
    tx.prepare_cached(
        "INSERT INTO submissions (run_id, token, job_name, created_at, tasks, time_limit_s, mem_mb, script, job_id, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        run,
        s.token,
        s.job_name,
        s.created_at,
        tasks,
        s.time_limit_s,
        s.mem_mb,
        stored(dir, &s.script),
        s.job_id,
        s.state.as_str()
    ])
    .map(|_| ())
}

impl Store {
    /// Commits a poll's task and job changes together with the intents of the submissions it is
    /// about to make, in one transaction, before any `sbatch` runs: no attempt is opened while
    /// the previous one's end is uncommitted, and no job is submitted that a crash could forget.
    pub fn apply_with_intents(
        &mut self,
        run: &str,
        changes: &[super::Change],
        jobs: &[JobChange],
        intents: &[SubmissionRow],
    ) -> Result<(), StoreError> {
        let dir = self.dir.clone();
        self.in_batch(run, changes, jobs, |tx| {
            intents.iter().try_for_each(|s| insert(tx, run, s, &dir))
        })
    }

    /// Settles submission `token`: with `job_id`, submitted (and `jobs`, its attempts, recorded in
    /// the same transaction); without, abandoned.
    pub fn settle_submission(
        &mut self,
        run: &str,
        token: &str,
        job_id: Option<&str>,
        jobs: &[JobChange],
    ) -> Result<(), StoreError> {
        let dir = self.dir.clone();
        let state = match job_id {
            Some(_) => SubmissionState::Submitted,
            None => SubmissionState::Abandoned,
        };
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute(
            "UPDATE submissions SET state = ?3, job_id = COALESCE(?4, job_id) WHERE run_id = ?1 AND token = ?2",
            params![run, token, state.as_str(), job_id],
        )
        .map_err(e)?;
        for j in jobs {
            // An attempt some other path recorded meanwhile is kept as it is: a monitor that
            // cannot record a submission would stop at every start.
            if let JobChange::Submitted { key, attempt, .. } = j {
                let exists: bool = tx
                    .query_row(
                        "SELECT EXISTS (SELECT 1 FROM attempts WHERE run_id = ?1 AND task_key = ?2 AND number = ?3)",
                        params![run, key, attempt],
                        |r| r.get(0),
                    )
                    .map_err(e)?;
                if exists {
                    continue;
                }
            }
            apply_job(&tx, run, j, &dir).map_err(e)?;
        }
        tx.commit()
            .map_err(|err| super::gone::with_unsaved(e(err), 1 + jobs.len()))
    }

    /// Abandons the submissions `tokens` (never handed to `sbatch`), in one transaction.
    pub fn abandon_submissions(&mut self, run: &str, tokens: &[String]) -> Result<(), StoreError> {
        if tokens.is_empty() {
            return Ok(());
        }
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        for t in tokens {
            tx.prepare_cached(
                "UPDATE submissions SET state = 'abandoned' WHERE run_id = ?1 AND token = ?2",
            )
            .and_then(|mut st| st.execute(params![run, t]))
            .map_err(e)?;
        }
        tx.commit()
            .map_err(|err| super::gone::with_unsaved(e(err), tokens.len()))
    }

    /// The run's submissions in `state`, oldest first.
    pub fn submissions(
        &self,
        run: &str,
        state: SubmissionState,
    ) -> Result<Vec<SubmissionRow>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT token, job_name, created_at, tasks, time_limit_s, mem_mb, script, job_id FROM submissions WHERE run_id = ?1 AND state = ?2 ORDER BY created_at, token")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![run, state.as_str()], |r| {
                let tasks: String = r.get(3)?;
                Ok(SubmissionRow {
                    token: r.get(0)?,
                    job_name: r.get(1)?,
                    created_at: r.get(2)?,
                    tasks: serde_json::from_str(&tasks).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            3,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?,
                    time_limit_s: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
                    mem_mb: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
                    script: resolve(&self.dir, r.get(6)?),
                    job_id: r.get(7)?,
                    state,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// When the run was created: no job of its names is older.
    pub fn run_created_at(&self, run: &str) -> Result<String, StoreError> {
        self.conn
            .query_row("SELECT created_at FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Every job id the run's attempts and submissions know: a job found by name that is one
    /// of these is not a new one.
    pub fn known_job_ids(&self, run: &str) -> Result<HashSet<String>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT job_id FROM attempts WHERE run_id = ?1 AND job_id IS NOT NULL UNION SELECT job_id FROM submissions WHERE run_id = ?1 AND job_id IS NOT NULL")
            .map_err(|e| self.err(e))?;
        let rows = st.query_map([run], |r| r.get(0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::changes::tests::store_with_tasks as store;
    use crate::store::{Submission, TaskState};

    fn intent(token: &str, tasks: &[(&str, u32)]) -> SubmissionRow {
        SubmissionRow {
            token: token.into(),
            job_name: format!("lt.r.@s.{token}"),
            created_at: "2026-11-30T10:00:00.000Z".into(),
            tasks: tasks.iter().map(|(k, a)| (k.to_string(), *a)).collect(),
            time_limit_s: Some(60),
            mem_mb: None,
            script: String::new(),
            job_id: None,
            state: SubmissionState::Intended,
        }
    }

    fn attempt(key: &str, job_id: &str, dir: &std::path::Path) -> JobChange {
        JobChange::Submitted {
            key: key.into(),
            attempt: 1,
            job_id: job_id.into(),
            host: "h".into(),
            stdout: dir.join("o").display().to_string(),
            stderr: dir.join("e").display().to_string(),
            time_limit_s: Some(60),
            mem_mb: None,
            how: Submission::Submitted,
        }
    }

    /// Issue 11: intents are stored with their tasks in element order and read back; a
    /// submission settles with its attempts in one step; an abandoned one is no longer intended.
    #[test]
    fn intents_are_stored_then_submitted_or_abandoned() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        let mut a = intent("t1", &[("bb", 1), ("aa", 1)]);
        a.script = dir
            .path()
            .join(".labtrail/runs/r/arrays/s-t1.sbatch")
            .display()
            .to_string();
        let mut b = intent("t2", &[("aa", 2)]);
        b.script = "/elsewhere/aa-2.sbatch".into();
        s.apply_with_intents("r", &[], &[], &[a.clone(), b.clone()])
            .unwrap();
        let stored = s.submissions("r", SubmissionState::Intended).unwrap();
        assert_eq!(
            stored,
            [a.clone(), b.clone()],
            "the script path is resolved back"
        );
        assert!(s.known_job_ids("r").unwrap().is_empty());

        let attempts = [
            attempt("bb", "41_0", dir.path()),
            attempt("aa", "41_1", dir.path()),
        ];
        s.settle_submission("r", "t1", Some("41"), &attempts)
            .unwrap();
        s.abandon_submissions("r", &["t2".to_string()]).unwrap();
        assert!(s
            .submissions("r", SubmissionState::Intended)
            .unwrap()
            .is_empty());
        let done = s.submissions("r", SubmissionState::Submitted).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].job_id.as_deref(), Some("41"));
        assert_eq!(
            s.submissions("r", SubmissionState::Abandoned).unwrap()[0].token,
            "t2"
        );
        let known = s.known_job_ids("r").unwrap();
        assert_eq!(known, ["41", "41_0", "41_1"].map(String::from).into());
        let states = s.task_states("r").unwrap();
        assert_eq!(states["aa"], (TaskState::Running, 1));
        assert_eq!(states["bb"], (TaskState::Running, 1));
        // Settling again (an attempt already there) keeps the first record and does not fail.
        s.settle_submission("r", "t1", Some("41"), &attempts)
            .unwrap();
        assert_eq!(s.known_job_ids("r").unwrap().len(), 3);
    }
}
