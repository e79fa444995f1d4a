//! The archive of one run: every section of seed 004's template, as one typed value that the
//! Markdown, JSON and HTML writers render and `labtrail diff` compares. JSON is this value as
//! serde writes it (`"schema": "labtrail.archive/1"`); its JSON Schema is generated from these
//! types (schemars) and committed as `docs/archive.schema.json`.
//!
//! Unknown facts are [`Probed::Na`] with a reason, never left out: the Markdown shows every
//! field of the template, `n/a (reason)` where labtrail could not know it.

use crate::provenance::model::{Artifact, AttemptError, GpuUse, Probed, Provenance, Redaction};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `schema` field of every archive this build writes.
pub const ARCHIVE_SCHEMA: &str = "labtrail.archive/1";

/// One run, archived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Archive {
    /// Always [`ARCHIVE_SCHEMA`].
    pub schema: String,
    /// When the archive was written: the only field that differs between two archives of the
    /// same run.
    pub generated_at: String,
    /// The labtrail version that wrote it.
    pub labtrail_version: String,
    pub summary: Summary,
    /// What was captured when the run (last) started tasks; n/a for runs made before capture.
    pub provenance: Probed<Provenance>,
    /// Commits of earlier invocations of the same run, when they differ from the last one's.
    pub earlier_commits: Vec<String>,
    /// One per invocation that captured provenance (a resumed run has several), oldest first:
    /// what each saw of the code and the data, to tell whether they changed during the run.
    #[serde(default)]
    pub sessions: Vec<Session>,
    pub config: Config,
    pub paths: Paths,
    /// Seed 004's "Steps": one per stage, in the experiment's order.
    pub stages: Vec<StageArchive>,
    /// Every task of the run's plan, in plan order.
    pub tasks: Vec<TaskArchive>,
    /// Sections tasks filled themselves (`archive.<section>` in their result), by section name,
    /// each a list of (task key, value) in plan order.
    pub task_sections: BTreeMap<String, Vec<TaskSection>>,
    /// Metric curves for the plots: downsampled (≤ 500 points each), at most 100.
    pub curves: Vec<Curve>,
    pub resources: ResourcesSummary,
    /// What changed since the latest earlier finished run of the same experiment.
    pub changes: Probed<Changes>,
    pub repro: Repro,
}

/// What one invocation of a run captured of the code and the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Session {
    pub captured_at: String,
    /// `HEAD`'s commit, `None` when the code probe had no value.
    pub commit: Option<String>,
    /// The checksum of the uncommitted changes (the patch).
    pub patch_checksum: Option<String>,
    /// Per `[archive] data` pattern: `pattern=root hash`.
    pub data_roots: Vec<String>,
}

impl Session {
    /// Whether two sessions saw different code or data.
    pub fn differs(&self, other: &Session) -> bool {
        (&self.commit, &self.patch_checksum, &self.data_roots)
            != (&other.commit, &other.patch_checksum, &other.data_roots)
    }
}

/// Seed 004's "Summary": the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub experiment: String,
    pub run_id: String,
    /// `local` or `slurm`.
    pub executor: String,
    /// `success` (every task done), `failed` (a task failed or is blocked), `running`,
    /// `interrupted`, `incomplete` (tasks still pending).
    pub status: String,
    /// Tasks by state (`done`, `failed`, `blocked`, `pending`, `running`, ...), sorted.
    pub counts: BTreeMap<String, u64>,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// From the first attempt's start to the last attempt's end.
    pub duration_s: Option<f64>,
    /// CPU time of every attempt, in hours.
    pub cpu_hours: f64,
    /// GPU time (a GPU held for an hour is one GPU-hour), when known.
    pub gpu_hours: Option<f64>,
    /// The first task that failed, and its error line.
    pub first_failure: Option<FailureLine>,
}

/// A failed task in one line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailureLine {
    pub task: String,
    pub label: String,
    /// The error line, or the recorded reason.
    pub line: String,
}

/// Seed 004's "Config Snapshot".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Config {
    /// The experiment file as recorded when the run was created.
    pub spec_path: String,
    /// Its text, secrets redacted.
    pub spec_text: String,
    /// Every key of the experiment file as a dotted path (`stage.train.command`,
    /// `params.seed`) to its value as JSON text, redacted: what `diff` compares.
    pub flat: BTreeMap<String, String>,
}

/// Seed 004's "Paths".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Paths {
    /// The store folder (`.labtrail`).
    pub store: String,
    /// The run's folder (task folders, logs).
    pub run_dir: String,
    /// The folder stage working directories are relative to.
    pub workdir: String,
}

/// One stage (seed 004's "step").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StageArchive {
    /// Position, from 1.
    pub step_id: u32,
    pub name: String,
    /// `success`, `failed`, `skipped` (no task ran), `incomplete`.
    pub status: String,
    /// The command template as written.
    pub command: String,
    /// The parameters this stage varies over, with their values.
    pub params: BTreeMap<String, Vec<serde_json::Value>>,
    /// Declared input patterns (the experiment's and the stage's own), seed 004's `inputs`.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// The stage's `artifacts` patterns, seed 004's `outputs`.
    #[serde(default)]
    pub outputs: Vec<String>,
    pub counts: BTreeMap<String, u64>,
    pub duration_s: Option<f64>,
    /// Retries over all its tasks (attempts beyond the first).
    pub retries: u32,
    /// Warning lines by kind over all its tasks.
    pub warnings: BTreeMap<String, u32>,
    /// Metric summaries over the stage's tasks: per key, the best task's value.
    pub metrics: Vec<MetricSummary>,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskArchive {
    pub key: String,
    pub stage: String,
    pub label: String,
    pub params: BTreeMap<String, serde_json::Value>,
    pub command: String,
    pub state: String,
    /// Why it failed or is blocked, as the store recorded it.
    #[serde(default)]
    pub reason: Option<String>,
    pub attempts: u32,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The last attempt's run time.
    pub duration_s: Option<f64>,
    /// The result file's content (redacted), if the task wrote one.
    pub result: Option<serde_json::Value>,
    pub metrics: Vec<MetricSummary>,
    /// One per failed attempt.
    pub errors: Vec<AttemptError>,
    pub resources: TaskResourceView,
    pub artifacts: Vec<Artifact>,
    /// The last attempt's log files.
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    /// The last attempt's SLURM job and node, if any.
    pub job_id: Option<String>,
    pub node: Option<String>,
}

/// A task's resource use, over its last attempt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskResourceView {
    /// Largest single process (`wait4`, or sacct's MaxRSS), KiB.
    pub max_rss_kb: Option<u64>,
    /// Whole process tree, KiB.
    pub peak_tree_rss_kb: Option<u64>,
    pub cpu_s: Option<f64>,
    /// The memory the task asked for (SLURM), MiB.
    pub requested_mem_mb: Option<u64>,
    pub gpus: Vec<GpuUse>,
    /// How `peak_tree_rss_kb` was measured: `cgroup`, `sampled`, `sacct`, or `wait4`.
    #[serde(default)]
    pub rss_source: Option<String>,
    /// How many samples the resource sampler took (0: none, or not recorded).
    #[serde(default)]
    pub samples: u32,
}

/// One metric key of one task's stream (or of a stage: the best task's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricSummary {
    pub key: String,
    /// Numeric values seen (NaN and infinities included).
    pub count: u64,
    /// The last finite value and its step.
    pub last: Option<f64>,
    pub last_step: Option<f64>,
    /// The best finite value by `direction`, and its step.
    pub best: Option<f64>,
    pub best_step: Option<f64>,
    /// `min` or `max`; `none` when neither the name nor `[archive] minimize` / `maximize` says
    /// (`lr`, `grad_norm`): such a key has no best.
    pub direction: String,
    /// NaN and infinite values.
    pub nan_count: u64,
    /// Steps per second between the first and the last record with a time, if records carry one.
    pub steps_per_s: Option<f64>,
    /// Seconds between consecutive records with a time: mean and 95th percentile.
    pub step_time_mean_s: Option<f64>,
    pub step_time_p95_s: Option<f64>,
}

/// The kind of the record holding an [`AttemptMetrics`] (one per attempt that ended, `task_key`
/// set): the summaries worked out once when the attempt ended, so an archive of 10^7 metric
/// lines reads one record per task instead of every line. Runs without them (made before, or
/// by an engine that does not write them) are summarised from their lines.
pub const METRIC_SUMMARY_RECORD: &str = "metric_summary";

/// One attempt's metric summaries, as recorded when it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AttemptMetrics {
    pub attempt: u32,
    /// Metric lines the attempt left (0: no curve to draw).
    pub lines: u64,
    pub metrics: Vec<MetricSummary>,
}

/// A section a task filled (`archive.<section>` in its result).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskSection {
    pub task: String,
    pub label: String,
    pub value: serde_json::Value,
}

/// A metric's curve for one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Curve {
    pub stage: String,
    pub task: String,
    pub label: String,
    pub key: String,
    /// (step, value), downsampled (largest-triangle-three-buckets) to at most 500 points.
    pub points: Vec<(f64, f64)>,
    /// The same task's (or the same stage and parameters') curve in the previous run.
    pub previous: Option<Vec<(f64, f64)>>,
}

/// Seed 004's "Resources & Cost", over the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourcesSummary {
    /// Sum of the tasks' last-attempt run times.
    pub task_time_s: f64,
    pub cpu_hours: f64,
    pub gpu_hours: Option<f64>,
    /// Largest tree peak over the tasks, KiB.
    pub peak_rss_kb: Option<u64>,
    pub peak_vram_bytes: Option<u64>,
    pub avg_vram_bytes: Option<u64>,
    pub gpu_util_avg_pct: Option<f64>,
}

/// Seed 004's "Changes vs Previous".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Changes {
    pub previous_run_id: String,
    /// At most 5 lines: config, code, packages, data, headline metrics.
    pub summary: Vec<String>,
    /// Everything that differs, section by section.
    pub diff: RunDiff,
}

/// What differs between two runs (`labtrail diff A B`), section by section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunDiff {
    /// Run id (or file) of A and of B.
    pub a: String,
    pub b: String,
    /// `config`, `code`, `environment`, `packages`, `data`, `tasks`, `metrics`, `resources`,
    /// in that order; a section with no entries is left out unless `--all`.
    pub sections: Vec<DiffSection>,
}

/// One section of a diff.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiffSection {
    pub name: String,
    pub entries: Vec<DiffEntry>,
}

/// One compared field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiffEntry {
    /// Dotted key (`params.lr`, `torch`, `train/rep=a/val_acc`).
    pub key: String,
    /// `added`, `removed`, `changed`, `same`.
    pub change: String,
    pub a: Option<String>,
    pub b: Option<String>,
    /// For numbers: the delta and whether it is `better` or `worse` (`+0.012 (+1.3%) better`);
    /// for packages `upgraded` / `downgraded`.
    pub note: Option<String>,
}

/// Seed 004's "Repro": how to run it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Repro {
    /// A shell script: `git checkout`, `git apply` of the patch (inline), the environment, and
    /// `labtrail run`. `None` parts are explained in `notes`.
    pub script: String,
    /// Environment variables the script sets (redacted ones are named in `redacted`).
    pub env: BTreeMap<String, String>,
    /// Names whose values were redacted and must be supplied by hand.
    pub redacted: Vec<String>,
    /// Why a step is missing (`no git repository`, `patch over the cap: not stored`).
    pub notes: Vec<String>,
    /// Every redaction in the archive.
    pub redactions: Vec<Redaction>,
}
