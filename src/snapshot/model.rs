//! The snapshot file: seed 000's keys first and unchanged (`snapshot_timestamp`, `user`,
//! `running_jobs[job_id, name, state, time, node]`, `completion_flags`, `disk_usage`), so the
//! seed's `jq` recipes keep working; labtrail's additions after them.
//!
//! Every timestamp is RFC 3339 with the UTC offset of the host that took the snapshot
//! (`2026-01-27T18:00:00+01:00`): the seed's bare `2026-01-27T18:00:00` is ambiguous across DST
//! and login nodes. Fields are never removed or renamed within one [`SNAPSHOT_SCHEMA`]; readers
//! ignore fields they do not know (`#[serde(default)]` everywhere), so an older labtrail reads a
//! newer file's known part.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The version of this format, recorded in every file as `schema`.
pub const SNAPSHOT_SCHEMA: u32 = 1;

/// One snapshot, as written to `snapshot_YYYYMMDD_HHMMSS.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    // ---- seed 000's keys, unchanged ----
    /// When it was taken, RFC 3339 with the local UTC offset.
    pub snapshot_timestamp: String,
    /// The user whose jobs and stores it looked at.
    pub user: String,
    /// Every job in the queue that the configured scope selects (running, pending, completing,
    /// ...), in squeue's order; the seed's name is kept although pending jobs are in it too.
    pub running_jobs: Vec<Job>,
    /// The completion flags that exist, as paths relative to the base folder, sorted.
    pub completion_flags: Vec<String>,
    /// Each measured folder's apparent size in `du -sh`'s form (`45G`), by its configured name.
    pub disk_usage: IndexMap<String, String>,

    // ---- labtrail's additions ----
    /// [`SNAPSHOT_SCHEMA`].
    pub schema: u32,
    /// The host that took it (login nodes behind one alias each keep their own crontab).
    pub host: String,
    /// The labtrail version that took it.
    pub labtrail_version: String,
    /// What the scheduler said, and what it cost.
    pub scheduler: SchedulerView,
    /// Jobs that were in the previous snapshot and have left the queue since, with their end
    /// state from sacct when accounting is there.
    pub ended_jobs: Vec<EndedJob>,
    /// The completion flags with their modification time, in `completion_flags`' order.
    pub flags: Vec<Flag>,
    /// Each measured folder in full, by the same names as `disk_usage`.
    pub disk: IndexMap<String, Disk>,
    /// labtrail's runs in the configured stores.
    pub runs: Vec<Run>,
    /// The experiments this snapshot saw (labtrail runs, configured rules, and `other`), with
    /// whether each is active: what retention and the queries group by.
    pub experiments: Vec<Experiment>,
    /// Counts for a timeline without reading the lists.
    pub counts: Counts,
    /// How long taking it took, in milliseconds (disk walks included).
    pub took_ms: u64,
    /// What it could not look at (a store that cannot be opened, a flag pattern that ran out of
    /// time): the rest of the snapshot stands.
    pub warnings: Vec<String>,
}

/// One job in the queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Job {
    /// `123`, or `123_4` for an array element (squeue's JobArrayID form).
    pub job_id: String,
    /// The job name.
    pub name: String,
    /// squeue's short state code, as the seed has it: `R`, `PD`, `CG`, `CF`, `S`, ...
    pub state: String,
    /// squeue's TIME column: `M:SS`, `H:MM:SS` or `D-HH:MM:SS` (`0:00` while pending).
    pub time: String,
    /// The node list; for a job that has none yet, squeue's `(Reason)`.
    pub node: String,
    // ---- additions ----
    /// The array's job id (`123` of `123_4`), for array elements.
    pub array_job_id: Option<String>,
    /// The element's index (`4` of `123_4`), for array elements.
    pub array_task_id: Option<String>,
    /// The full state name (`RUNNING`, `PENDING`, ...).
    pub state_long: String,
    /// The partition.
    pub partition: Option<String>,
    /// When it was submitted, RFC 3339.
    pub submit_time: Option<String>,
    /// When it started, RFC 3339 (none while pending).
    pub start_time: Option<String>,
    /// Its time limit in seconds (none: unlimited).
    pub time_limit_s: Option<u64>,
    /// Why it is pending (squeue's Reason), when it is.
    pub reason: Option<String>,
    /// Seconds it has run (the numeric form of `time`).
    pub elapsed_s: u64,
    /// Its working directory.
    pub workdir: Option<String>,
    /// The experiment it belongs to (a labtrail run's experiment, or a configured rule's name).
    pub experiment: Option<String>,
    /// The labtrail run that submitted it, when a configured store knows the job.
    pub run_id: Option<String>,
    /// Whose job it is (squeue's user name): with `jobs = "all"` not always the snapshot's
    /// `user`.
    pub user: Option<String>,
}

/// A job that left the queue since the previous snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndedJob {
    /// As in [`Job::job_id`].
    pub job_id: String,
    /// The job name.
    pub name: String,
    /// sacct's end state (`COMPLETED`, `FAILED`, `TIMEOUT`, `OUT_OF_MEMORY`, ...); `unknown`
    /// without accounting.
    pub state: String,
    /// The exit code, when sacct gave one.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// RFC 3339.
    pub start_time: Option<String>,
    /// RFC 3339.
    pub end_time: Option<String>,
    /// Seconds it ran, when known.
    pub elapsed_s: Option<u64>,
    /// The node list.
    pub node: Option<String>,
    /// As in [`Job::experiment`].
    pub experiment: Option<String>,
    /// As in [`Job::user`].
    pub user: Option<String>,
}

/// A completion flag that exists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Flag {
    /// Its path relative to the base folder (the same string as in `completion_flags`).
    pub path: String,
    /// Its file name.
    pub name: String,
    /// Its modification time, RFC 3339: when the stage completed.
    pub mtime: String,
    /// The experiment whose rule names this flag (its `done_flag` or `flags`), if any.
    pub experiment: Option<String>,
}

/// One measured folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Disk {
    /// The folder as configured (relative to the base folder, or absolute).
    pub path: String,
    /// Apparent size in bytes, `du -sb`'s figure (hard links once, directories included).
    pub bytes: u64,
    /// Allocated bytes (`du -s` × 1024's figure: 512-byte blocks).
    pub allocated_bytes: u64,
    /// `bytes` in `du -h`'s form (`45G`, `1.5M`).
    pub human: String,
    /// Regular files and other non-directories counted.
    pub files: u64,
    /// Directories counted.
    pub dirs: u64,
    /// The walk hit its time budget: the figures are a lower bound.
    pub partial: bool,
    /// How long the walk took, in milliseconds.
    pub took_ms: u64,
    /// Why it could not be measured, or what it could not read (the figure then leaves those out).
    pub error: Option<String>,
}

/// A labtrail run in one of the configured stores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    /// The store folder.
    pub store: String,
    /// The run id.
    pub run_id: String,
    /// The experiment's name.
    pub experiment: String,
    /// `active` (a runner or monitor holds it, a task is running, or a job it submitted is
    /// queued), `finished` (every task done or failed), or `stopped` (tasks left to do and
    /// nobody running them: it waits for `labtrail run --resume`).
    pub state: String,
    /// Tasks by state (`done`, `failed`, `running`, `pending`, ...).
    pub counts: IndexMap<String, u64>,
    /// The first stage, in pipeline order, that still has tasks not done; none when all are.
    pub stage: Option<String>,
    /// When the run was created, RFC 3339.
    pub started_at: Option<String>,
    /// When its last task ended, RFC 3339, once it is finished.
    pub finished_at: Option<String>,
}

/// An experiment as this snapshot saw it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Experiment {
    /// Its name (`other` for jobs no store and no rule claims).
    pub name: String,
    /// `labtrail` (a run in a store), `rule` (a `[snapshot.experiments]` entry) or `other`.
    pub source: String,
    /// Active: a job of it is queued, or its labtrail run is not finished, or its configured
    /// `done_flag` does not exist yet. A queued job makes it active whatever its flags say.
    pub active: bool,
    /// Its jobs in the queue.
    pub queued_jobs: u64,
    /// Whether its configured `done_flag` exists (none when it has none).
    pub done_flag: Option<bool>,
    /// Its current stage (the labtrail run's), when known.
    pub stage: Option<String>,
    /// How many stages it has, when known (a labtrail run's stage count, or its rule's): the
    /// estimated completion's denominator (`snapshots --experiment` shows done of total).
    pub stages: Option<u64>,
    /// The scheduler did not answer this snapshot: `queued_jobs` and `active` are those of the
    /// latest snapshot that saw the queue, not a fresh look (left out of the file when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub carried_forward: bool,
}

/// Counts for the timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    /// Jobs running (`R`, `CG`).
    pub running: u64,
    /// Jobs pending (`PD`, `CF`, requeued, held, ...).
    pub pending: u64,
    /// Jobs in the queue in any other state (suspended, stopped, ...).
    pub other: u64,
    /// Entries of `ended_jobs`.
    pub ended: u64,
    /// Completion flags.
    pub flags: u64,
    /// Active experiments.
    pub active_experiments: u64,
}

/// What the scheduler said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedulerView {
    /// `slurm` (it answered), `absent` (no squeue here: a workstation, not an error), or
    /// `failed` (it did not answer; `detail` says why, and `running_jobs` is empty).
    pub status: String,
    /// The scheduler's error, when it failed.
    pub detail: Option<String>,
    /// Which jobs were asked for: `mine`, `all`, or `name:<pattern>`.
    pub scope: String,
    /// squeue calls made (one per snapshot).
    pub squeue_calls: u32,
    /// sacct calls made (at most one per snapshot).
    pub sacct_calls: u32,
    /// Whether sacct answered (false: no accounting here, so ended jobs' states are `unknown`).
    pub accounting: bool,
}

impl Snapshot {
    /// The digest of what the snapshot says, leaving out when, where and how fast it was taken
    /// (`snapshot_timestamp`, `host`, `took_ms`, each disk walk's `took_ms`): two snapshots with
    /// the same digest describe the same state, and the second is not written.
    pub fn content_digest(&self) -> String {
        let mut s = self.clone();
        s.snapshot_timestamp.clear();
        s.host.clear();
        s.took_ms = 0;
        for d in s.disk.values_mut() {
            d.took_ms = 0;
        }
        let text = serde_json::to_string(&s).unwrap_or_default();
        blake3::hash(text.as_bytes()).to_hex().to_string()
    }
}
