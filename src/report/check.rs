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
use std::path::{Path, PathBuf};

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
    /// The paths it is about. In JSON two lists: `paths`, each path as a string (a name that is
    /// not valid UTF-8 has U+FFFD in place of its bad bytes), and `paths_escaped`, each as
    /// [`shell_word`] writes it (exact, and what the message shows).
    #[serde(flatten, serialize_with = "paths_both_ways")]
    pub paths: Vec<PathBuf>,
    /// The SLURM jobs it is about.
    pub jobs: Vec<String>,
    /// What was found and what to do, one sentence.
    pub message: String,
    /// How many more entries like it in the folder it names are not listed one by one (0 but
    /// for the last finding of a kind in a folder, without `--all`; see `check_capped`).
    pub more: u64,
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
            more: 0,
        }
    }
}

/// `path` as it can be shown and copied into a shell: itself when it is valid UTF-8 without
/// control characters or bidirectional marks; otherwise quoted as `$'...'` (bash, zsh, ksh), with
/// each byte that is not UTF-8 as `\xHH` and each unsafe character as `\xHH` or `\uHHHH`.
pub fn shell_word(path: &Path) -> String {
    use std::fmt::Write;
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{2028}' | '\u{2029}')
    };
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.chars().any(unsafe_char) => return s.to_string(),
        _ => {}
    }
    let mut out = String::from("$'");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' | '\'' => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_ascii_control() => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if unsafe_char(c) => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('\'');
    out
}

/// Serializes `paths` as `paths` (lossy strings) and `paths_escaped` ([`shell_word`]).
fn paths_both_ways<S: serde::Serializer>(paths: &[PathBuf], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let lossy: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let escaped: Vec<String> = paths.iter().map(|p| shell_word(p)).collect();
    let mut map = s.serialize_map(Some(2))?;
    map.serialize_entry("paths", &lossy)?;
    map.serialize_entry("paths_escaped", &escaped)?;
    map.end()
}

/// Serializes a path as a string, lossily where it is not valid UTF-8.
fn lossy_path<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// Everything `labtrail check` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// The store folder.
    #[serde(serialize_with = "lossy_path")]
    pub store: PathBuf,
    /// Its database.
    #[serde(serialize_with = "lossy_path")]
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
    /// Without `all`, of each kind of finding about a folder's entries only the first
    /// [`super::check_capped::EXAMPLES`] are listed, and one more says how many there are.
    pub fn load(
        store: &Store,
        sched: Option<&Scheduler>,
        all: bool,
    ) -> Result<CheckReport, StoreError> {
        let database_problems = store.check()?;
        let runs = store.run_records()?;
        let limit = if all {
            usize::MAX
        } else {
            super::check_capped::EXAMPLES
        };
        let mut findings = super::check_folders::compare_folders(store.dir(), &runs, limit);
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
