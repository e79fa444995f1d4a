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
//! flags = ["stage_*_complete.flag"]       # its stage flags (for the queries' stages)
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
    /// The experiment's stage flags (globs relative to the base): a flag that matches one is
    /// the experiment's.
    pub flags: Vec<String>,
}

/// What a snapshot looks at, resolved: every path absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotConfig {
    /// The folder relative paths are taken from: the one that holds the snapshot folder (and
    /// the config file, when there is one).
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

/// Flag globs used when neither the file nor `--flags` names any.
pub const DEFAULT_FLAGS: [&str; 2] = ["*.flag", "*/*.flag"];

/// `[snapshot]` as written in the file; `Spanned` values name their line in errors.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSection {
    flags: Option<Vec<String>>,
    measure: Option<indexmap::IndexMap<String, String>>,
    jobs: Option<toml::Spanned<String>>,
    stores: Option<Vec<String>>,
    slot: Option<toml::Spanned<String>>,
    disk_budget: Option<toml::Spanned<String>>,
    cross_mounts: Option<bool>,
    experiments: Option<indexmap::IndexMap<String, FileRule>>,
}

/// One `[snapshot.experiments.NAME]` table.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    jobs: Option<toml::Spanned<String>>,
    workdir: Option<String>,
    done_flag: Option<String>,
    flags: Option<Vec<String>>,
}

/// The whole file: other tables belong to other parts of labtrail and are left alone.
#[derive(Debug, Default, serde::Deserialize)]
struct FileTop {
    snapshot: Option<FileSection>,
}

impl SnapshotConfig {
    /// Reads `labtrail.toml` from the parent of `dir` (the snapshot folder) when it is there,
    /// applies `overrides`, and resolves every path. Without a file: the defaults (this user's
    /// jobs, flags `*.flag` and `*/*.flag`, nothing measured, the `.labtrail` store in the base
    /// folder when there is one).
    pub fn load(dir: &Path, overrides: &ConfigOverrides) -> Result<SnapshotConfig, ConfigError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let dir = cwd.join(dir);
        let parent = dir.parent().map_or_else(|| cwd.clone(), Path::to_path_buf);
        let candidate = parent.join(CONFIG_FILE);
        let (file, section) = match std::fs::read_to_string(&candidate) {
            Ok(text) => (Some(candidate.clone()), parse_file(&candidate, &text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (None, (FileSection::default(), String::new()))
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: candidate,
                    source,
                })
            }
        };
        let (section, text) = section;
        // The folder that holds the snapshot folder, file or not: `--dir /proj/snaps` from
        // cron's `$HOME` still looks at /proj.
        let base = parent;
        let invalid = |message: String| ConfigError::Invalid {
            path: candidate.clone(),
            message,
        };
        let at = |span: std::ops::Range<usize>| line_of(&text, span.start);

        let jobs = match &section.jobs {
            None => JobScope::Mine,
            Some(j) => job_scope(j.get_ref())
                .map_err(|m| invalid(format!("line {}: `jobs`: {m}", at(j.span()))))?,
        };
        let duration = |v: &Option<toml::Spanned<String>>, key: &str, default: Duration| match v {
            None => Ok(default),
            Some(s) => crate::spec::parse_duration(s.get_ref()).map_err(|m| {
                invalid(format!(
                    "line {}: `{key}`: {m}; write e.g. `30s`, `5m` or `1h`",
                    at(s.span())
                ))
            }),
        };
        let slot = duration(&section.slot, "slot", Duration::from_secs(60))?;
        let disk_budget = duration(&section.disk_budget, "disk_budget", Duration::from_secs(60))?;
        let mut experiments = Vec::new();
        for (name, rule) in section.experiments.unwrap_or_default() {
            if let Some(j) = &rule.jobs {
                regex::Regex::new(j.get_ref()).map_err(|e| {
                    invalid(format!(
                        "line {}: `experiments.{name}.jobs`: `{}` is not a valid regex: {e}",
                        at(j.span()),
                        j.get_ref()
                    ))
                })?;
            }
            experiments.push(ExperimentRule {
                name,
                jobs: rule.jobs.map(toml::Spanned::into_inner),
                workdir: rule.workdir.map(|w| base.join(w)),
                done_flag: rule.done_flag,
                flags: rule.flags.unwrap_or_default(),
            });
        }
        let mut cfg = SnapshotConfig {
            flags: section
                .flags
                .unwrap_or_else(|| DEFAULT_FLAGS.iter().map(|s| s.to_string()).collect()),
            measure: (section.measure.unwrap_or_default().into_iter())
                .map(|(name, p)| (name, base.join(p)))
                .collect(),
            jobs,
            stores: match section.stores {
                Some(s) => s.iter().map(|p| base.join(p)).collect(),
                None => default_store(&base).into_iter().collect(),
            },
            experiments,
            slot,
            disk_budget,
            cross_mounts: section.cross_mounts.unwrap_or(false),
            base,
            file,
        };
        cfg.apply(overrides, &cwd);
        Ok(cfg)
    }

    /// Flags replace the file's lists; their paths are relative to the current folder, as typed.
    fn apply(&mut self, o: &ConfigOverrides, cwd: &Path) {
        if !o.flags.is_empty() {
            self.flags = o.flags.clone();
        }
        if !o.measure.is_empty() {
            self.measure = o
                .measure
                .iter()
                .map(|(n, p)| (n.clone(), cwd.join(p)))
                .collect();
        }
        if let Some(j) = &o.jobs {
            self.jobs = j.clone();
        }
        if !o.stores.is_empty() {
            self.stores = o.stores.iter().map(|p| cwd.join(p)).collect();
        }
        self.cross_mounts |= o.cross_mounts;
    }
}

/// `mine`, `all`, or a job-name regex (checked here, so a typo is an error and not an empty
/// snapshot).
pub fn job_scope(text: &str) -> Result<JobScope, String> {
    match text.trim() {
        "mine" | "" => Ok(JobScope::Mine),
        "all" => Ok(JobScope::All),
        re => regex::Regex::new(re)
            .map(|_| JobScope::NamePattern(re.to_string()))
            .map_err(|e| format!("`{re}` is not `mine`, `all` or a valid job-name regex: {e}")),
    }
}

/// The store in `base` when there is one (a folder with its database).
fn default_store(base: &Path) -> Option<PathBuf> {
    let dir = base.join(crate::store::STORE_DIR);
    dir.join(crate::store::DB_FILE).is_file().then_some(dir)
}

/// Parses the file; toml's own message already names the line, the column and, for an
/// unknown key, the keys it knows.
fn parse_file(path: &Path, text: &str) -> Result<(FileSection, String), ConfigError> {
    let top: FileTop = toml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        message: match e.span() {
            Some(span) => format!(
                "line {}: {}",
                line_of(text, span.start),
                e.message().trim_end()
            ),
            None => e.message().trim_end().to_string(),
        } + "; see `labtrail snapshot --help` for the [snapshot] keys",
    })?;
    Ok((top.snapshot.unwrap_or_default(), text.to_string()))
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
