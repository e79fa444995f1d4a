//! What is captured about a run, as stored (a `provenance` record per invocation of `run` or
//! `monitor`, see [`PROVENANCE_RECORD`]) and as shown in an archive. Every probe either has a
//! value or says why not ([`Probed::Na`]): a probe never fails a run.
//!
//! These types are the contract between the capture (`provenance::*`), the per-task facts
//! written while a run works, and the archive and diff (`report::archive`, `report::diff`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kind of the record holding a [`Provenance`] (one per invocation that starts tasks).
pub const PROVENANCE_RECORD: &str = "provenance";
/// The kind of the record holding a [`TaskResources`] (one per attempt, `task_key` set).
pub const TASK_RESOURCES_RECORD: &str = "task_resources";
/// The kind of the record holding an [`AttemptError`] (one per failed attempt, `task_key` set).
pub const ATTEMPT_ERROR_RECORD: &str = "attempt_error";
/// The kind of the record holding a task's [`Artifact`]s (one per done attempt, `task_key` set).
pub const ARTIFACTS_RECORD: &str = "artifacts";

/// A fact that a probe found, or why it could not: `{"value": ...}` or `{"na": "no NVIDIA
/// driver"}`. Shown as the value, or as `n/a (reason)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Probed<T> {
    /// What the probe found.
    Value(T),
    /// Why there is no value (the reason alone, without `n/a`).
    Na(String),
}

impl<T> Probed<T> {
    /// The value, if there is one.
    pub fn value(&self) -> Option<&T> {
        match self {
            Probed::Value(v) => Some(v),
            Probed::Na(_) => None,
        }
    }

    /// `n/a (reason)` for a missing value.
    pub fn na(reason: impl Into<String>) -> Self {
        Probed::Na(reason.into())
    }
}

/// Everything captured when an invocation started a run's tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Provenance {
    /// When capture started (the store's time format).
    pub captured_at: String,
    /// The probes that had not finished when the record was sealed (shown as partial).
    pub partial: Vec<String>,
    /// The experiment's code, if its folder is in a git repository.
    pub code: Probed<Code>,
    /// The machine the run was started on.
    pub host: Probed<Host>,
    /// The Python the tasks will use.
    pub python: Probed<Python>,
    /// Installed Python packages (read from `*.dist-info`, `*.egg-info`, `conda-meta`).
    pub packages: Probed<Packages>,
    /// The NVIDIA GPUs the tasks can see.
    pub gpus: Probed<Gpus>,
    /// The environment variables on the allowlist, secrets redacted.
    pub env: Env,
    /// One snapshot per `[archive] data` pattern.
    pub data: Vec<DataSnapshot>,
    /// What was redacted where (names only, never values).
    pub redactions: Vec<Redaction>,
}

/// The state of the experiment's git repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Code {
    /// The repository's top folder.
    pub root: String,
    /// `HEAD`'s commit (40 hex digits).
    pub commit: String,
    /// The branch checked out, `None` on a detached HEAD.
    pub branch: Option<String>,
    /// `git describe --always --dirty`-like name, if any.
    pub describe: Option<String>,
    /// The branch's upstream (`origin/main`) and how far `HEAD` is ahead of and behind it.
    pub upstream: Option<Upstream>,
    /// The `origin` remote's URL (or the first remote's), credentials stripped.
    pub remote_url: Option<String>,
    /// Whether `HEAD` is on any remote-tracking branch (a commit nobody else can check out is not).
    pub on_remote: Option<bool>,
    /// Whether the working state differs from `HEAD` (tracked changes or untracked, non-ignored files).
    pub dirty: bool,
    /// The paths that differ, with their change (`M`, `A`, `D`, `?` for untracked), sorted.
    pub dirty_files: Vec<DirtyFile>,
    /// The tree hash of the working state as captured (what applying the patch to `commit` gives).
    pub tree: String,
    /// The patch from `commit` to the working state.
    pub patch: Patch,
}

/// A branch's upstream and the distance to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Upstream {
    /// `origin/main`.
    pub name: String,
    /// Commits on `HEAD` not on the upstream.
    pub ahead: u32,
    /// Commits on the upstream not on `HEAD`.
    pub behind: u32,
}

/// One changed path of a dirty working state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DirtyFile {
    /// Path relative to the repository's top folder.
    pub path: String,
    /// `M` modified, `A` added (staged), `D` deleted, `R` renamed, `?` untracked.
    pub change: String,
}

/// The patch of a dirty working state: stored once by content (`blob`), whatever the number of
/// runs that share it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Patch {
    /// blake3 (hex) of the stored patch text, the key of its blob; `None` when clean or omitted.
    pub blob: Option<String>,
    /// Size of the whole patch in bytes (also when it was over the cap and not stored).
    pub bytes: u64,
    /// blake3 (hex) of the whole patch, stored or not.
    pub checksum: String,
    /// `git diff --stat`-like summary, one line per file.
    pub diffstat: Vec<String>,
    /// Files left out of the patch (an untracked file over 1 MiB, or everything over the cap).
    pub omitted: Vec<OmittedFile>,
    /// Whether the whole patch was over the cap and is not stored.
    pub over_cap: bool,
    /// Why the working state (`dirty`, `dirty_files`, `tree` and this patch) is unknown: still
    /// being captured (a partial record), or its capture did not finish; `None` when captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl Patch {
    /// No patch, because the working state is unknown for `why`.
    pub fn missing(why: impl Into<String>) -> Patch {
        Patch {
            blob: None,
            bytes: 0,
            checksum: String::new(),
            diffstat: Vec::new(),
            omitted: Vec::new(),
            over_cap: false,
            missing: Some(why.into()),
        }
    }
}

/// A file left out of the stored patch, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OmittedFile {
    pub path: String,
    pub bytes: u64,
    /// `untracked file over 1 MiB`, `patch over the 5 MiB cap`.
    pub why: String,
}

/// The machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Host {
    pub hostname: String,
    pub user: String,
    /// `/etc/os-release`'s PRETTY_NAME.
    pub os: String,
    /// `uname -r`.
    pub kernel: String,
    /// `uname -m`.
    pub arch: String,
    pub cpu_model: String,
    /// Logical CPUs this process may use.
    pub cpus: u32,
    pub memory_bytes: u64,
    /// SLURM job facts when the run was started inside a job (`SLURM_JOB_ID`, nodes, ...).
    pub slurm: BTreeMap<String, String>,
}

/// The interpreter the tasks will use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Python {
    /// Resolved path of `python3` (or `python`) on the tasks' PATH.
    pub executable: String,
    /// `3.11.4`, from `pyvenv.cfg`, the conda metadata or the interpreter's file name; `None`
    /// when only starting the interpreter could tell.
    pub version: Option<String>,
    /// The virtual environment (`VIRTUAL_ENV` or the interpreter's `pyvenv.cfg` folder).
    pub venv: Option<String>,
    /// The conda environment's name and prefix.
    pub conda_env: Option<String>,
    /// The `site-packages` folders the packages were read from.
    pub site_packages: Vec<String>,
}

/// Installed packages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Packages {
    /// Every package found, sorted by normalised name.
    pub all: Vec<Package>,
    /// The configured packages of interest (seed 004's list by default), in configured order,
    /// each found or `not installed`.
    pub chosen: Vec<ChosenPackage>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Package {
    /// Normalised name (PEP 503: lowercase, runs of `-_.` as `-`).
    pub name: String,
    pub version: String,
    /// For an editable install or a source checkout: its folder's git commit.
    pub commit: Option<String>,
    /// `dist-info`, `egg-info` or `conda`.
    pub source: String,
}

/// A package of interest: its version, or `not installed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChosenPackage {
    pub name: String,
    /// The version (with `+commit` for a source checkout), or `not installed`.
    pub version: String,
}

/// The GPUs the tasks can see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Gpus {
    pub driver: String,
    /// The CUDA version the driver supports (`12.4`).
    pub cuda: String,
    /// `CUDA_VISIBLE_DEVICES` as the tasks get it, if set.
    pub visible: Option<String>,
    pub devices: Vec<Gpu>,
}

/// One GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Gpu {
    pub index: u32,
    pub name: String,
    pub uuid: String,
    pub memory_bytes: u64,
}

/// Environment variables on the allowlist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Env {
    /// Name to value, sorted; a redacted value is `<redacted>`.
    pub vars: BTreeMap<String, String>,
    /// The allowlist patterns used (`CUDA_*`, ...).
    pub allowlist: Vec<String>,
}

/// One `[archive] data` pattern's files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DataSnapshot {
    /// The pattern as written.
    pub pattern: String,
    pub files: u64,
    pub bytes: u64,
    /// Newline count over all files.
    pub lines: u64,
    /// blake3 over the sorted (path, file hash) pairs.
    pub root: String,
    /// Per file, sorted by path; `None` when there were too many to list (see `partial`).
    pub per_file: Option<Vec<DataFile>>,
    /// Why the snapshot is incomplete (time budget, unreadable files), if it is.
    pub partial: Option<String>,
}

/// One data file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DataFile {
    pub path: String,
    pub bytes: u64,
    pub lines: u64,
    pub blake3: String,
}

/// One redaction: where, and which name or kind of token (never the value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Redaction {
    /// `env`, `config`, `patch`, `stderr`, `result`.
    pub place: String,
    /// The variable's name, or the token kind (`huggingface token`, `PEM private key`).
    pub what: String,
}

/// An attempt's resource use beyond what `wait4` gives (record [`TASK_RESOURCES_RECORD`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskResources {
    pub attempt: u32,
    /// Peak resident memory of the whole process tree (cgroup `memory.peak` or sampled), KiB.
    pub peak_tree_rss_kb: Option<u64>,
    /// How `peak_tree_rss_kb` was measured: `cgroup`, `sampled rss` (one process), `sampled pss`
    /// (proportional shares of several), `sampled rss (...)` (several, no PSS: why), `sampled`
    /// (the SLURM wrapper), `sacct`, `wait4` (the largest single process), or `unknown (...)`.
    pub rss_source: Option<String>,
    /// CPU seconds (user + system) of the whole tree, if known beyond `wait4`.
    pub cpu_s: Option<f64>,
    /// Per GPU the task used.
    pub gpus: Vec<GpuUse>,
    /// How many samples the sampler took.
    pub samples: u32,
}

/// One GPU's use by one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GpuUse {
    pub uuid: String,
    pub peak_memory_bytes: u64,
    pub mean_util_pct: Option<f64>,
    pub max_util_pct: Option<f64>,
    /// `process` (by the task's PIDs) or `device` (a GPU the task had alone).
    pub attribution: String,
}

/// Why an attempt failed, read from its stderr (record [`ATTEMPT_ERROR_RECORD`]); redacted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttemptError {
    pub attempt: u32,
    /// The error line: the last exception line, or the recognised message.
    pub line: Option<String>,
    /// `cuda_oom`, `nccl`, `killed`, `exception`, `other` (the last non-empty line).
    pub kind: String,
    /// The last lines of the stack (at most 30).
    pub stack: Vec<String>,
    /// Warning lines counted by kind (`UserWarning`: 3).
    pub warnings: BTreeMap<String, u32>,
    /// What was redacted in `line` and `stack` (names and kinds only).
    #[serde(default)]
    pub redactions: Vec<Redaction>,
}

/// A file a task left that the experiment names as an artifact (record [`ARTIFACTS_RECORD`]
/// holds a `Vec<Artifact>`): referenced, never copied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Artifact {
    /// Path relative to the task's folder (or absolute, if the pattern was).
    pub path: String,
    pub bytes: u64,
    /// Modification time (RFC 3339).
    pub mtime: String,
    /// The step, when the file name has one (`ckpt_1200.pt`).
    pub step: Option<u64>,
    /// `last`, `best`.
    pub tags: Vec<String>,
}
