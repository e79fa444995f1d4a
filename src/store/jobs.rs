//! Scheduler jobs: the attempts of a SLURM run, as the monitor tracks them.

use super::paths::{resolve, stored};
use super::{now, Store, StoreError};
use crate::outcome::Outcome;
use rusqlite::{params, OptionalExtension, Transaction};
use std::path::Path;

/// A task's last ended attempt, as a restart is scaled from it ([`Store::restart_basis`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartBasis {
    /// Its outcome, as stored (`Outcome::as_str`).
    pub outcome: String,
    /// Its requested (time limit in seconds, memory in MB).
    pub limits: (Option<u64>, Option<u64>),
    /// How many of the task's attempts ended with that outcome, this one included.
    pub count: u32,
    /// The task was reset since: its next attempt starts from the experiment's limits.
    pub reset: bool,
}

/// An attempt that is (as far as the store knows) submitted and not yet finished.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedJob {
    pub key: String,
    pub attempt: u32,
    pub job_id: String,
    pub scheduler_state: Option<String>,
    pub restarts: u32,
    pub log_offset: u64,
    pub err_offset: u64,
    pub stdout: String,
    pub stderr: String,
    pub time_limit_s: Option<u64>,
    pub mem_mb: Option<u64>,
    /// The monitor decided to cancel the job (committed before `scancel` ran).
    pub cancelling: Option<Cancelling>,
    /// When the job was first submitted: the earliest attempt on its job id (a requeue keeps
    /// the id), so that accounting is asked about every run of it.
    pub first_submitted_at: String,
}

/// A decision to cancel an attempt's job, and what the attempt ends as once the job is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancelling {
    /// What the attempt ends as ([`Outcome::Withdrawn`] for a dependent withdrawn).
    pub outcome: Outcome,
    pub reason: String,
}

impl Cancelling {
    fn to_json(&self) -> String {
        serde_json::json!({"outcome": self.outcome.as_str(), "reason": self.reason}).to_string()
    }

    /// None for text this build cannot read (a damaged column): the job is then read as
    /// without a decision, as before the column existed.
    fn from_json(text: &str) -> Option<Cancelling> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(Cancelling {
            outcome: Outcome::parse(v.get("outcome")?.as_str()?)?,
            reason: v.get("reason")?.as_str()?.to_string(),
        })
    }
}

/// How a job became an attempt of a task; its name is the event's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    /// labtrail submitted it.
    Submitted,
    /// A live job already carried the task's name (submitted by an earlier monitor that died
    /// before recording it, or by hand): labtrail took it as the task's, instead of a second.
    Adopted,
}

impl Submission {
    /// The event kind stored for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Adopted => "adopted",
        }
    }
}

/// A change to a scheduler job, applied with others in one transaction.
#[derive(Debug, Clone)]
pub enum JobChange {
    /// labtrail submitted (or adopted) a job as attempt `attempt` of a task.
    Submitted {
        key: String,
        attempt: u32,
        job_id: String,
        host: String,
        stdout: String,
        stderr: String,
        time_limit_s: Option<u64>,
        mem_mb: Option<u64>,
        how: Submission,
    },
    /// The scheduler reports a new state for the job.
    State {
        key: String,
        attempt: u32,
        state: String,
        node: Option<String>,
        /// When the job started running, once it has.
        started_at: Option<String>,
    },
    /// The monitor has read the job's log up to this byte.
    LogOffset {
        key: String,
        attempt: u32,
        out: u64,
        err: u64,
    },
    /// The attempt ended without ending the task (requeued by SLURM, superseded by an adopted
    /// job): closes it with `outcome`, and opens attempt `attempt + 1` on `job_id`.
    Superseded {
        key: String,
        attempt: u32,
        /// [`Outcome::Requeued`] or [`Outcome::Superseded`].
        outcome: Outcome,
        reason: String,
        job_id: String,
        host: String,
        stdout: String,
        stderr: String,
        restarts: u32,
    },
    /// One run of a requeued job ended (seen in accounting): what it left, on its own attempt,
    /// before [`JobChange::Superseded`] closes it.
    RunEnded {
        key: String,
        attempt: u32,
        state: String,
        node: Option<String>,
        started_at: Option<String>,
        exit_code: Option<i32>,
        signal: Option<i32>,
        /// When the run ended, as the scheduler says (UTC), if it does.
        ended_at: Option<String>,
        metrics: Vec<String>,
    },
    /// The monitor decided to cancel the attempt's job; committed before `scancel` runs.
    Cancelling {
        key: String,
        attempt: u32,
        job_id: String,
        decision: Cancelling,
    },
}

fn event(tx: &Transaction, run: &str, key: &str, kind: &str, detail: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO events (run_id, task_key, at, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![run, key, now(), kind, detail])
    .map(|_| ())
}

#[allow(clippy::too_many_arguments)]
fn open_attempt(
    tx: &Transaction,
    run: &str,
    key: &str,
    attempt: u32,
    job_id: &str,
    host: &str,
    stdout: &str,
    stderr: &str,
    limits: (Option<u64>, Option<u64>),
    restarts: u32,
) -> rusqlite::Result<()> {
    let t = now();
    tx.prepare_cached(
        "INSERT INTO attempts (run_id, task_key, number, host, started_at, submitted_at, stdout_path, stderr_path, job_id, time_limit_s, mem_mb, restarts, scheduler_state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'SUBMITTED')",
    )?
    .execute(params![run, key, attempt, host, t, stdout, stderr, job_id, limits.0, limits.1, restarts])?;
    tx.prepare_cached("UPDATE tasks SET state = 'running', attempts = ?3, reason = NULL WHERE run_id = ?1 AND key = ?2")?.execute(params![run, key, attempt])?;
    Ok(())
}

/// The attempts a SLURM monitor tracks: those with a job and no outcome. Only a later attempt
/// can share its job id with an earlier one (a requeue keeps the id): a first attempt is its
/// job's first submission, and is spared the lookup per row that cost more than the rest of the
/// query at 10^5 tracked jobs (issue 15).
macro_rules! tracked_from {
    ($from:literal) => {
        concat!("SELECT task_key, number, job_id, scheduler_state, restarts, log_offset, stdout_path, stderr_path, time_limit_s, mem_mb, err_offset, cancelling,
        CASE WHEN a.number = 1 THEN COALESCE(a.submitted_at, a.started_at) ELSE (SELECT MIN(COALESCE(f.submitted_at, f.started_at)) FROM attempts f WHERE f.job_id = a.job_id AND f.run_id = a.run_id) END
    FROM ", $from, " WHERE run_id = ?1 AND outcome IS NULL AND job_id IS NOT NULL")
    };
}
pub(super) const TRACKED: &str = tracked_from!("attempts a");

/// [`TRACKED`] read from the partial index `attempts_open` (the attempts not ended). Named,
/// because without statistics SQLite prefers the primary key, which reads every attempt of the
/// run, ended ones included (issue 15; as `open_attempts.rs` does for a resume).
pub(super) const TRACKED_INDEXED: &str = tracked_from!("attempts a INDEXED BY attempts_open");

/// A row of [`TRACKED`]; attempt file paths are resolved against `store_dir`.
pub(super) fn tracked_of_row(store_dir: &Path, r: &rusqlite::Row) -> rusqlite::Result<TrackedJob> {
    Ok(TrackedJob {
        key: r.get(0)?,
        attempt: r.get(1)?,
        job_id: r.get(2)?,
        scheduler_state: r.get(3)?,
        restarts: r.get(4)?,
        log_offset: r.get::<_, i64>(5)? as u64,
        stdout: resolved(store_dir, r, 6)?,
        stderr: resolved(store_dir, r, 7)?,
        time_limit_s: r.get::<_, Option<i64>>(8)?.map(|v| v as u64),
        mem_mb: r.get::<_, Option<i64>>(9)?.map(|v| v as u64),
        err_offset: r.get::<_, i64>(10)? as u64,
        cancelling: r
            .get::<_, Option<String>>(11)?
            .as_deref()
            .and_then(Cancelling::from_json),
        first_submitted_at: r.get(12)?,
    })
}

/// Column `i` of `r`, an attempt file path, resolved against `store_dir`: a relative path (as
/// the monitor stores them) is joined straight from SQLite's text, with no `String` of its own.
fn resolved(store_dir: &Path, r: &rusqlite::Row, i: usize) -> rusqlite::Result<String> {
    if let Ok(text) = r.get_ref(i)?.as_str() {
        if let Some(joined) = super::paths::joined_text(store_dir, text) {
            return Ok(joined);
        }
    }
    Ok(resolve(store_dir, r.get(i)?))
}

impl Store {
    /// Records the run's executor (`local` or `slurm`).
    pub fn set_executor(&mut self, run: &str, executor: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET executor = ?2 WHERE id = ?1",
                params![run, executor],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// The run's executor.
    pub fn executor(&self, run: &str) -> Result<String, StoreError> {
        self.conn
            .query_row("SELECT executor FROM runs WHERE id = ?1", [run], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Every attempt of the run that has a job and no outcome yet, by task key, then number.
    pub fn tracked_jobs(&self, run: &str) -> Result<Vec<TrackedJob>, StoreError> {
        // A store without the index (schema 9 or older, opened to read) is read by the scan; an
        // error other than a missing index comes back from the scan's prepare as well.
        match self
            .conn
            .prepare_cached(&format!("{TRACKED_INDEXED} ORDER BY task_key, number"))
        {
            Ok(mut st) => self.tracked_rows(&mut st, run),
            Err(_) => self.tracked_jobs_scanned(run),
        }
    }

    /// [`Store::tracked_jobs`] read by a scan of the run's attempts in primary key order
    /// instead of from `attempts_open`: the same rows in the same order, cheaper when most of
    /// the run's attempts are open (10^5 jobs just submitted, or started at once), where the
    /// index costs a second B-tree search per row (issue 15: at 10^5 open attempts, sqlite3 reads
    /// them in 0.21-0.26 s from the index, in 0.14-0.15 s by the scan).
    pub fn tracked_jobs_scanned(&self, run: &str) -> Result<Vec<TrackedJob>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(&format!("{TRACKED} ORDER BY task_key, number"))
            .map_err(|e| self.err(e))?;
        self.tracked_rows(&mut st, run)
    }

    /// The tracked jobs `st` (one of the reads above) gives for `run`.
    fn tracked_rows(
        &self,
        st: &mut rusqlite::CachedStatement<'_>,
        run: &str,
    ) -> Result<Vec<TrackedJob>, StoreError> {
        let rows = st
            .query_map([run], |r| tracked_of_row(&self.dir, r))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// What a restart of task `key` is scaled from: its last ended attempt's outcome and
    /// requested limits, how many of its attempts ended with that outcome, and whether the task
    /// was reset since (a reset starts again from the experiment's limits). `None` for a task
    /// without an ended attempt. A restart the monitor could not submit in the poll that decided
    /// it (its old job was still leaving the queue) is scaled from this at a later poll, or by
    /// a monitor started again: the decision's inputs are durable, so is the decision.
    pub fn restart_basis(&self, run: &str, key: &str) -> Result<Option<RestartBasis>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT a.outcome, a.time_limit_s, a.mem_mb,
                        (SELECT COUNT(*) FROM attempts c WHERE c.run_id = a.run_id AND c.task_key = a.task_key AND c.outcome = a.outcome),
                        (SELECT reason = 'reset' FROM tasks t WHERE t.run_id = a.run_id AND t.key = a.task_key)
                 FROM attempts a WHERE a.run_id = ?1 AND a.task_key = ?2 AND a.outcome IS NOT NULL
                 ORDER BY a.number DESC LIMIT 1",
            )
            .and_then(|mut st| {
                st.query_row(params![run, key], |r| {
                    Ok(RestartBasis {
                        outcome: r.get(0)?,
                        limits: (
                            r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
                            r.get::<_, Option<i64>>(2)?.map(|v| v as u64),
                        ),
                        count: r.get(3)?,
                        reset: r.get::<_, Option<bool>>(4)?.unwrap_or(false),
                    })
                })
                .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// How many attempts of task `key` ended with each outcome (by the attempts' primary key).
    pub fn outcome_counts_of(
        &self,
        run: &str,
        key: &str,
    ) -> Result<Vec<(Outcome, u32)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT outcome, COUNT(*) FROM attempts WHERE run_id = ?1 AND task_key = ?2 AND outcome IS NOT NULL GROUP BY outcome")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![run, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Applies task changes and job changes in one durable transaction.
    pub fn apply_all(
        &mut self,
        run: &str,
        changes: &[super::Change],
        jobs: &[JobChange],
    ) -> Result<(), StoreError> {
        if changes.is_empty() && jobs.is_empty() {
            return Ok(());
        }
        self.in_batch(run, changes, jobs, |_| Ok(()))
    }

    /// Task changes, job changes and whatever `more` writes, in one durable transaction.
    pub(super) fn in_batch(
        &mut self,
        run: &str,
        changes: &[super::Change],
        jobs: &[JobChange],
        more: impl FnOnce(&Transaction) -> rusqlite::Result<()>,
    ) -> Result<(), StoreError> {
        for c in changes {
            if let super::Change::Record { kind, json, .. } = c {
                super::records::check_json(kind, json)?;
            }
        }
        let (path, dir) = (self.db_path.clone(), self.dir.clone());
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        // The statement of a state change, prepared once per commit and not looked up in the
        // cache by its text for each: a poll that finds 10^5 jobs started makes as many (issue
        // 15). The changes are still applied one by one, in order.
        let mut state_st = None;
        for c in jobs {
            match c {
                JobChange::State {
                    key,
                    attempt,
                    state,
                    node,
                    started_at,
                } => {
                    let st = match &mut state_st {
                        Some(st) => st,
                        None => state_st.insert(tx.prepare_cached(STATE_SQL).map_err(e)?),
                    };
                    st.execute(params![run, key, attempt, state, node, started_at])
                        .map_err(e)?;
                }
                _ => apply_job(&tx, run, c, &dir).map_err(e)?,
            }
        }
        drop(state_st);
        for c in changes {
            super::changes::apply_one(&tx, run, c, &dir).map_err(e)?;
        }
        more(&tx).map_err(e)?;
        tx.execute(
            "UPDATE runs SET updated_at = ?2 WHERE id = ?1",
            params![run, now()],
        )
        .map_err(e)?;
        tx.commit()
            .map_err(|err| super::gone::with_unsaved(e(err), changes.len() + jobs.len()))
    }
}

/// [`JobChange::State`]'s statement.
const STATE_SQL: &str = "UPDATE attempts SET scheduler_state = ?4, node = COALESCE(?5, node), started_at = COALESCE(?6, started_at) WHERE run_id = ?1 AND task_key = ?2 AND number = ?3";

/// Writes one job change; attempt file paths are stored relative to `store_dir`.
pub(super) fn apply_job(
    tx: &Transaction,
    run: &str,
    c: &JobChange,
    store_dir: &Path,
) -> rusqlite::Result<()> {
    match c {
        JobChange::Submitted { key, attempt, job_id, host, stdout, stderr, time_limit_s, mem_mb, how } => {
            open_attempt(tx, run, key, *attempt, job_id, host, stored(store_dir, stdout), stored(store_dir, stderr), (*time_limit_s, *mem_mb), 0)?;
            event(tx, run, key, how.as_str(), &format!("attempt {attempt}: job {job_id}"))
        }
        JobChange::State { key, attempt, state, node, started_at } => tx
            .prepare_cached(STATE_SQL)?
            .execute(params![run, key, attempt, state, node, started_at])
            .map(|_| ()),
        JobChange::LogOffset { key, attempt, out, err } => tx
            .prepare_cached("UPDATE attempts SET log_offset = ?4, err_offset = ?5 WHERE run_id = ?1 AND task_key = ?2 AND number = ?3")?
            .execute(params![run, key, attempt, *out as i64, *err as i64])
            .map(|_| ()),
        JobChange::Superseded { key, attempt, outcome, reason, job_id, host, stdout, stderr, restarts } => {
            // A run that ended before (its end from sacct, `RunEnded`) keeps that time.
            tx.prepare_cached("UPDATE attempts SET outcome = ?4, reason = ?5, ended_at = COALESCE(ended_at, ?6) WHERE run_id = ?1 AND task_key = ?2 AND number = ?3")?
                .execute(params![run, key, attempt, outcome, reason, now()])?;
            let limits: (Option<i64>, Option<i64>) =
                tx.query_row("SELECT time_limit_s, mem_mb FROM attempts WHERE run_id = ?1 AND task_key = ?2 AND number = ?3", params![run, key, attempt], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let limits = (limits.0.map(|v| v as u64), limits.1.map(|v| v as u64));
            open_attempt(tx, run, key, attempt + 1, job_id, host, stored(store_dir, stdout), stored(store_dir, stderr), limits, *restarts)?;
            event(tx, run, key, outcome.as_str(), &format!("attempt {attempt} {reason}; attempt {} is job {job_id}", attempt + 1))
        }
        JobChange::RunEnded { key, attempt, state, node, started_at, exit_code, signal, ended_at, metrics } => {
            tx.prepare_cached("UPDATE attempts SET scheduler_state = ?4, node = COALESCE(?5, node), started_at = COALESCE(?6, started_at), exit_code = ?7, signal = ?8, ended_at = COALESCE(?9, ended_at) WHERE run_id = ?1 AND task_key = ?2 AND number = ?3")?
                .execute(params![run, key, attempt, state, node, started_at, exit_code, signal, ended_at])?;
            for (i, line) in metrics.iter().enumerate() {
                tx.prepare_cached("INSERT OR REPLACE INTO metrics (run_id, task_key, attempt, line, record) VALUES (?1,?2,?3,?4,?5)")?
                    .execute(params![run, key, attempt, i as i64 + 1, line])?;
            }
            Ok(())
        }
        JobChange::Cancelling { key, attempt, job_id, decision } => {
            tx.prepare_cached("UPDATE attempts SET cancelling = ?4 WHERE run_id = ?1 AND task_key = ?2 AND number = ?3")?
                .execute(params![run, key, attempt, decision.to_json()])?;
            event(tx, run, key, "cancelling", &format!("attempt {attempt}: job {job_id} to be cancelled, to end as {} ({})", decision.outcome, decision.reason))
        }
    }
}
