//! `labtrail check` beyond the database: the store's records compared with the run folders
//! (here) and, for SLURM runs, with the scheduler ([`super::check_scheduler`]).
//!
//! Each difference is a [`Finding`] that names the path or job and says what to do. A
//! **problem** is something a record says is there, or is fine, that is not: a result whose files
//! are gone, a task worked on by two jobs at once. A **notice** is something the records do not
//! know that contradicts none of them (files of an attempt whose record was never written or was
//! lost, a folder no task or run claims): harmless to labtrail, worth a look by its owner.
//!
//! Read-only: nothing here writes to the store or the folders.

use super::check_scheduler::SchedulerCheck;
use crate::exec::slurm::Scheduler;
use crate::store::{Store, StoreError};
use std::path::PathBuf;

/// How much a finding matters; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Records and reality disagree in a way that loses or endangers results (exit 3).
    Problem,
    /// Something no record knows, harmless to labtrail (exit 0).
    Notice,
}

/// What a finding is about; its JSON name is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A run's folder is missing.
    RunFolderMissing,
    /// A done task's own folder is missing.
    TaskFolderMissing,
    /// Files or folders in `attempts/` (or a layout-1 task folder) no attempt record knows.
    UnknownAttemptFiles,
    /// A folder in `runs/RUN/tasks/` no task of the run knows.
    UnknownTaskFolder,
    /// A folder in `runs/` no run of the store knows.
    UnknownRunFolder,
    /// A SLURM job named for a run that no attempt record knows.
    UnknownJob,
    /// A task with more than one live SLURM job.
    TwoLiveJobs,
}

/// One difference between the store and what is there.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// The run it is about, if any.
    pub run: Option<String>,
    /// The task's key, when known.
    pub key: Option<String>,
    /// The task's label, when the store knows the task.
    pub task: Option<String>,
    /// The paths it is about.
    pub paths: Vec<PathBuf>,
    /// The SLURM jobs it is about.
    pub jobs: Vec<String>,
    /// What was found and what to do, one sentence.
    pub message: String,
}

impl Finding {
    pub(super) fn new(
        kind: FindingKind,
        severity: Severity,
        run: &str,
        message: String,
    ) -> Finding {
        Finding {
            kind,
            severity,
            run: Some(run.to_string()),
            key: None,
            task: None,
            paths: Vec::new(),
            jobs: Vec::new(),
            message,
        }
    }
}

/// Everything `labtrail check` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// The store folder.
    pub store: PathBuf,
    /// Its database.
    pub database: PathBuf,
    /// Runs in the store.
    pub runs: usize,
    /// Tasks in the runs' current plans.
    pub tasks: u64,
    /// What SQLite's integrity check and labtrail's invariants found wrong in the database.
    pub database_problems: Vec<String>,
    /// Differences between the records and the folders (and the scheduler, when asked).
    pub findings: Vec<Finding>,
    /// What came of asking the scheduler; none when not asked.
    pub scheduler: Option<SchedulerCheck>,
}

impl CheckReport {
    /// Checks the database, compares the records with the run folders and, given a scheduler,
    /// with the jobs it knows. Problems come before notices.
    pub fn load(store: &Store, sched: Option<&Scheduler>) -> Result<CheckReport, StoreError> {
        let database_problems = store.check()?;
        let runs = store.run_records()?;
        let mut findings = super::check_folders::compare_folders(store.dir(), &runs);
        let scheduler = sched.map(|s| {
            let (check, found) = super::check_scheduler::check_scheduler(s, &runs);
            findings.extend(found);
            check
        });
        findings.sort_by_key(|f| f.severity);
        let tasks = store.list_runs()?.iter().map(|r| r.total).sum();
        Ok(CheckReport {
            store: store.dir().to_path_buf(),
            database: store.db_path().to_path_buf(),
            runs: runs.len(),
            tasks,
            database_problems,
            findings,
            scheduler,
        })
    }

    /// How many findings are problems.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Problem)
            .count()
    }

    /// 3 when the database or a finding has a problem; else 5 when the scheduler was asked and
    /// did not answer (nothing was compared); else 0, notices or not.
    pub fn exit_code(&self) -> i32 {
        if !self.database_problems.is_empty() || self.problems() > 0 {
            3
        } else if matches!(self.scheduler, Some(SchedulerCheck::Unanswered { .. })) {
            5
        } else {
            0
        }
    }

    /// How many findings are notices.
    pub fn notices(&self) -> usize {
        self.findings.len() - self.problems()
    }
}
