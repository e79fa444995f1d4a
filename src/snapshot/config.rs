//! `[snapshot]` in `labtrail.toml` next to the snapshot folder (in the folder that holds it), or
//! the same settings as flags: what a snapshot looks at.
//!
//! ```toml
//! [snapshot]
//! flags = ["**/*_complete.flag"]          # completion flags, globs relative to this file's folder
//! measure = { mono_s2s_work = "work" }    # folders whose disk usage is recorded, by name
//! jobs = "mine"                           # "mine" (default), "all", or a job-name regex
//! stores = [".labtrail"]                  # labtrail stores whose runs are recorded
//! slot = "1m"                             # two hosts never both write within one slot
//! disk_budget = "60s"                     # a walk past it is recorded as partial
//! cross_mounts = false                    # disk walks stay on the folder's filesystem
//!
//! [snapshot.experiments.mono_s2s]         # jobs labtrail did not submit
//! jobs = "^mono_s2s"                      # job-name regex
//! workdir = "/home/me/mono-s2s"           # or: jobs whose WorkDir is under this folder
//! done_flag = "stage_5_complete.flag"     # the experiment is complete once this exists
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The configuration file's name, looked for in the snapshot folder's parent.
pub const CONFIG_FILE: &str = "labtrail.toml";

/// Which jobs a snapshot records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum JobScope {
    /// This user's jobs (`squeue --me`).
    #[default]
    Mine,
    /// Every job in the queue.
    All,
    /// This user's jobs whose name matches the regex.
    NamePattern(String),
}

/// A rule that gives jobs labtrail did not submit an experiment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExperimentRule {
    /// The experiment's name (the table's key).
    pub name: String,
    /// A job-name regex.
    pub jobs: Option<String>,
    /// Jobs whose working directory is under this folder belong to it.
    pub workdir: Option<PathBuf>,
    /// The experiment is complete once this flag exists (a path or glob, relative to the base).
    pub done_flag: Option<String>,
}

/// What a snapshot looks at, resolved: every path absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotConfig {
    /// The folder relative paths are taken from: the config file's folder, or the current one.
    pub base: PathBuf,
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// Completion-flag globs, relative to `base`.
    pub flags: Vec<String>,
    /// Folders to measure: (name, absolute path), in the file's order.
    pub measure: Vec<(String, PathBuf)>,
    /// Which jobs.
    pub jobs: JobScope,
    /// Store folders (absolute).
    pub stores: Vec<PathBuf>,
    /// Experiment rules, in the file's order.
    pub experiments: Vec<ExperimentRule>,
    /// Two hosts never both write a snapshot within this long of each other.
    pub slot: Duration,
    /// A disk walk that takes longer is stopped and its figure marked partial.
    pub disk_budget: Duration,
    /// Whether disk walks cross into other mounted filesystems.
    pub cross_mounts: bool,
}

/// A configuration file labtrail cannot use: it names the file and, when it can, the line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid, or a value is not one labtrail knows.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, where, and what to do.
        message: String,
    },
}

/// Overrides from the command line, applied over the file.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    /// `--flags GLOB` (repeatable): replaces the file's globs.
    pub flags: Vec<String>,
    /// `--measure NAME=PATH` (repeatable): replaces the file's folders.
    pub measure: Vec<(String, PathBuf)>,
    /// `--jobs mine|all|REGEX`.
    pub jobs: Option<JobScope>,
    /// `--store PATH` (repeatable): replaces the file's stores.
    pub stores: Vec<PathBuf>,
    /// `--cross-mounts`.
    pub cross_mounts: bool,
}

impl SnapshotConfig {
    /// Reads `labtrail.toml` from the parent of `dir` (the snapshot folder) when it is there,
    /// applies `overrides`, and resolves every path. Without a file: the defaults (this user's
    /// jobs, flags `*.flag` and `*/*.flag`, nothing measured, the `.labtrail` store in the base
    /// folder when there is one).
    pub fn load(dir: &Path, overrides: &ConfigOverrides) -> Result<SnapshotConfig, ConfigError> {
        let _ = (dir, overrides);
        todo!("lane A1")
    }
}
