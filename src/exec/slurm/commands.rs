//! The scheduler's commands, each run with a time limit ([`crate::exec::command`]); a failure
//! is told apart from an answer.

use super::config::{parse_max_array_size, DEFAULT_MAX_ARRAY_SIZE};
use super::parse::{parse_sacct, AcctEntry, SACCT_FORMAT, SQUEUE_FORMAT};
use crate::exec::command::{run_timed_answer, Answer, CommandError};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// A scheduler command that did not give an answer. Never a job outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchedError {
    #[error("`{command}` failed: {detail}")]
    Failed { command: String, detail: String },
    #[error("`{command}` did not answer within {seconds} s")]
    TimedOut { command: String, seconds: u64 },
    #[error("accounting (sacct) is not available: {0}")]
    NoAccounting(String),
    /// The program is not installed here: no scheduler on this machine.
    #[error("`{command}` is not installed here: {detail}")]
    Absent { command: String, detail: String },
}

impl SchedError {
    /// Whether `sbatch` surely did not submit: it said why and exited non-zero (or could not
    /// start). A time-out, a kill by a signal or an answer that is not a job id may follow an
    /// accepted submission, so the job is looked for instead (issue 11).
    pub fn submission_refused(&self) -> bool {
        match self {
            SchedError::Failed { detail, .. } => {
                !detail.starts_with("unexpected output") && !detail.starts_with("signal:")
            }
            SchedError::Absent { .. } => true,
            SchedError::TimedOut { .. } | SchedError::NoAccounting(_) => false,
        }
    }
}

/// The job id in `sbatch --parsable`'s output: its last non-empty line, `ID` or `ID;CLUSTER`.
/// Warnings (`sbatch: warning: ...`) come on lines before it and are not a failure (issue 11).
fn parsable_job_id(out: &str) -> String {
    let last = out.lines().rev().map(str::trim).find(|l| !l.is_empty());
    let id = last.unwrap_or("").split(';').next().unwrap_or("");
    id.trim().to_string()
}

/// The environment variable that set `program`, if one did.
fn overridden_by(program: &str) -> Option<&'static str> {
    [
        "LABTRAIL_SBATCH",
        "LABTRAIL_SQUEUE",
        "LABTRAIL_SACCT",
        "LABTRAIL_SCANCEL",
        "LABTRAIL_SCONTROL",
    ]
    .into_iter()
    .find(|var| std::env::var(var).is_ok_and(|v| v == program))
}

/// The scheduler's command-line tools. Each program can be replaced through an environment
/// variable (`LABTRAIL_SBATCH`, `LABTRAIL_SQUEUE`, `LABTRAIL_SACCT`, `LABTRAIL_SCANCEL`,
/// `LABTRAIL_SCONTROL`), for sites that wrap them and for fault-injection tests.
pub struct Scheduler {
    sbatch: String,
    squeue: String,
    sacct: String,
    scancel: String,
    scontrol: String,
    timeout: Duration,
    /// This process's numeric user id, for sacct (22.05's sacct has no `--me`), and for a squeue
    /// older than `--me` (Slurm 20.11).
    uid: String,
    /// squeue refused `--me`: it is older than Slurm 20.11.
    squeue_without_me: AtomicBool,
    /// The cluster's `MaxArraySize`, asked once (see [`Self::max_array_size`]).
    max_array_size: OnceLock<usize>,
    /// Scheduler commands run so far (squeue + sacct + sbatch + scancel + scontrol).
    pub calls: AtomicU64,
    /// Microseconds spent waiting for those commands, so that a benchmark can tell labtrail's
    /// own time from the scheduler's.
    pub waited_us: AtomicU64,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    /// Uses the programs on PATH unless overridden by the environment.
    pub fn new() -> Scheduler {
        let prog =
            |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.to_string());
        Scheduler {
            sbatch: prog("LABTRAIL_SBATCH", "sbatch"),
            squeue: prog("LABTRAIL_SQUEUE", "squeue"),
            sacct: prog("LABTRAIL_SACCT", "sacct"),
            scancel: prog("LABTRAIL_SCANCEL", "scancel"),
            scontrol: prog("LABTRAIL_SCONTROL", "scontrol"),
            timeout: Duration::from_secs(
                std::env::var("LABTRAIL_SCHED_TIMEOUT")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(30),
            ),
            uid: nix::unistd::getuid().to_string(),
            squeue_without_me: AtomicBool::new(false),
            max_array_size: OnceLock::new(),
            calls: AtomicU64::new(0),
            waited_us: AtomicU64::new(0),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<String, SchedError> {
        self.run_answer(program, args).map(|a| a.stdout)
    }

    /// [`Self::run`] for squeue, which for a user it cannot resolve says `error: Invalid user`,
    /// lists nothing and exits 0: such an answer is a failure, not an empty queue. Other `error:`
    /// lines with exit code 0 are left alone: some sites' clients print one on every call (a
    /// `slurm.conf` key newer than the client) and still answer.
    fn run_strict(&self, program: &str, args: &[&str]) -> Result<String, SchedError> {
        let a = self.run_answer(program, args)?;
        match a.stderr.lines().find(|l| l.contains("error: Invalid user")) {
            Some(line) => Err(SchedError::Failed {
                command: format!("{program} {}", args.join(" ")),
                detail: format!("{} (with exit code 0)", line.trim()),
            }),
            None => Ok(a.stdout),
        }
    }

    fn run_answer(&self, program: &str, args: &[&str]) -> Result<Answer, SchedError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let answer = run_timed_answer(program, args, self.timeout);
        let waited = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.waited_us.fetch_add(waited, Ordering::Relaxed);
        answer.map_err(|e| match e {
            CommandError::NotRun {
                command,
                detail,
                absent: true,
            } => match overridden_by(program) {
                // A program set by hand that is not there is a mistake, not a machine without SLURM.
                Some(var) => SchedError::Failed {
                    command,
                    detail: format!("{detail}; it is set by {var}, which names no program here"),
                },
                None => SchedError::Absent { command, detail },
            },
            CommandError::NotRun {
                command, detail, ..
            } => SchedError::Failed { command, detail },
            CommandError::Failed { command, stderr } => SchedError::Failed {
                command,
                detail: stderr,
            },
            CommandError::TimedOut { command, seconds } => {
                SchedError::TimedOut { command, seconds }
            }
        })
    }

    /// Submits a job script; returns the job id.
    pub fn sbatch(&self, script: &Path, extra: &[String]) -> Result<String, SchedError> {
        let mut args: Vec<&str> = vec!["--parsable"];
        args.extend(extra.iter().map(String::as_str));
        let path = script.to_string_lossy();
        args.push(&path);
        let out = self.run(&self.sbatch, &args)?;
        let id = parsable_job_id(&out);
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SchedError::Failed {
                command: format!("{} {}", self.sbatch, args.join(" ")),
                detail: format!("unexpected output: {out:?}"),
            });
        }
        Ok(id)
    }

    /// One squeue call for every job of this process's user, array elements expanded.
    /// `--me` (Slurm 20.11+) is the user id itself: no name is looked up, so no other user's
    /// queue is read when the name cannot be found (it fell back to root's); a user squeue cannot
    /// resolve is its error, not an empty queue (issue 11).
    /// A squeue older than `--me` is asked for the numeric user id instead.
    /// `-t all`: ended jobs too, until `MinJobAge` purges them; without it squeue drops a job
    /// the moment it ends, while sacct may still name it `allocation` for a moment, and a job
    /// that ended just before a poll would be in neither (issue 11). Every reader treats an
    /// ended state as not live (`is_finished_state`).
    ///
    /// Returns the answer's text: [`super::parse_squeue_checked`] parses it into entries that borrow
    /// from it (a poll at 10^5 jobs spent a fifth of its time making `String`s, issue 15).
    pub fn squeue(&self) -> Result<String, SchedError> {
        if !self.squeue_without_me.load(Ordering::Relaxed) {
            match self.run_strict(
                &self.squeue,
                &["-h", "-r", "-t", "all", "--me", "-O", SQUEUE_FORMAT],
            ) {
                Err(SchedError::Failed { detail, .. })
                    if detail.contains("unrecognized option") && detail.contains("--me") =>
                {
                    self.squeue_without_me.store(true, Ordering::Relaxed);
                }
                answer => return answer,
            }
        }
        self.run_strict(
            &self.squeue,
            &[
                "-h",
                "-r",
                "-t",
                "all",
                "-u",
                &self.uid,
                "-O",
                SQUEUE_FORMAT,
            ],
        )
    }

    /// One squeue call for every user's job, array elements expanded, hidden partitions
    /// included (`-a`): a snapshot's `jobs = "all"` (issue 13). `-t all` as in [`Self::squeue`].
    /// Its answer's text, as [`Self::squeue`]'s.
    pub fn squeue_all(&self) -> Result<String, SchedError> {
        self.run_strict(
            &self.squeue,
            &["-h", "-r", "-a", "-t", "all", "-O", SQUEUE_FORMAT],
        )
    }

    /// One sacct call for the given jobs, with an explicit start of the time window: every run of
    /// a requeued job (`-D`), one entry each, in the order of their submissions, each with its
    /// steps folded into it (see [`parse_sacct`]).
    pub fn sacct(&self, job_ids: &[String], since: &str) -> Result<Vec<AcctEntry>, SchedError> {
        if job_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = job_ids.join(",");
        // Without -X: the steps' lines give each job's peak memory (issue 11).
        self.accounting(&["-D", "-j", &ids], since)
    }

    /// One sacct call for every job named one of `names` since `since`, live or ended, with every
    /// run of a requeued job (`-D`), in the order sacct gives (by job, then by submission).
    /// Names are how a job is found that the store does not know by id: one submitted just
    /// before a crash, or resubmitted by hand.
    pub fn sacct_named(&self, names: &[String], since: &str) -> Result<Vec<AcctEntry>, SchedError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let names = names.join(",");
        self.accounting(&["-X", "-D", "--name", &names], since)
    }

    /// One sacct call for every job of the user since `since` (arrays' elements one per line
    /// once they started): what `check --scheduler` compares with the store.
    /// By numeric user id, as squeue's `--me`.
    pub fn sacct_of_user(&self, since: &str) -> Result<Vec<AcctEntry>, SchedError> {
        self.accounting(&["-X", "-u", &self.uid], since)
    }

    fn accounting(&self, which: &[&str], since: &str) -> Result<Vec<AcctEntry>, SchedError> {
        let mut args = vec!["-n", "-P", "-S", since, "-E", "now"];
        args.extend_from_slice(which);
        args.extend_from_slice(&["-o", SACCT_FORMAT]);
        match self.run(&self.sacct, &args) {
            Ok(out) => Ok(parse_sacct(&out)),
            Err(SchedError::Failed { detail, .. })
                if detail.contains("accounting storage is disabled")
                    || detail.contains("not running a supported accounting_storage") =>
            {
                Err(SchedError::NoAccounting(detail))
            }
            Err(e) => Err(e),
        }
    }

    /// The cluster's `MaxArraySize` (an array has at most that many elements, indices from 0),
    /// from `scontrol show config`, asked once per scheduler (one per monitor): the limit
    /// changes only when the administrator restarts slurmctld with a new one. Without an answer
    /// (no scontrol, a failure, no such line) SLURM's default, [`DEFAULT_MAX_ARRAY_SIZE`]: a
    /// cluster with a lower limit refuses the first array with a message that says so.
    pub fn max_array_size(&self) -> usize {
        *self.max_array_size.get_or_init(|| {
            self.run(&self.scontrol, &["show", "config"])
                .ok()
                .and_then(|out| parse_max_array_size(&out))
                .unwrap_or(DEFAULT_MAX_ARRAY_SIZE)
        })
    }

    /// Cancels a job. A job that is already gone is not an error.
    pub fn scancel(&self, job_id: &str) -> Result<(), SchedError> {
        match self.run(&self.scancel, &[job_id]) {
            Err(SchedError::Failed { detail, .. }) if detail.contains("Invalid job id") => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parsable_job_id;

    /// Issue 11: a warning line before the id is not a failed submission.
    #[test]
    fn sbatch_id_is_the_last_non_empty_line() {
        assert_eq!(parsable_job_id("2816\n"), "2816");
        assert_eq!(parsable_job_id("2816;cluster\n"), "2816");
        assert_eq!(
            parsable_job_id("sbatch: warning: can't honor --ntasks-per-node\n2816\n\n"),
            "2816"
        );
        assert_eq!(parsable_job_id("sbatch: warning: x\r\n2817;c1\r\n"), "2817");
        assert_eq!(parsable_job_id(""), "");
    }
}
