//! `labtrail snapshots prune`: decide from the snapshot files which to keep (restic's rules or
//! the seed's policy, plus the ones always kept), print the decision, and with `--apply` remove
//! the others in one commit and forget them in the index.
//!
//! A file that cannot be read, or whose time cannot be told, is kept (and said so): prune never
//! removes what it did not understand. Removal is one `unlink` per file, so a crash midway leaves
//! whole files only, and running the same command again finishes the job.

use super::snapshots_index::forget_files;
use crate::snapshot::folder_lock::{FolderLock, LockError, LOCK_FILE, STALE_ELSEWHERE};
use crate::snapshot::git_commit::{commit_folder, removed_since_commit, CommitOutcome};
use crate::snapshot::retention::restic::{self, Item, KeepRules};
use crate::snapshot::retention::seed::{self, SeedItem};
use crate::snapshot::retention::Decision;
use crate::snapshot::write::{list, read};
use crate::snapshot::Snapshot;
use jiff::tz::TimeZone;
use jiff::Zoned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What to keep: restic's rules, the seed's policy, or both (a snapshot either keeps is kept).
#[derive(Debug, Clone, Default)]
pub struct PrunePolicy {
    /// restic's `--keep-*` rules.
    pub rules: KeepRules,
    /// `--policy seed`.
    pub seed: bool,
}

impl PrunePolicy {
    /// Neither a rule nor the seed's policy: refused, as restic refuses an empty policy.
    pub fn is_empty(&self) -> bool {
        !self.seed && self.rules.is_empty()
    }

    /// The policy in words, for the output and the commit message.
    pub fn describe(&self) -> String {
        let seed = "seed: active experiments all, completed daily, monthly 6 months after";
        match (self.seed, self.rules.is_empty()) {
            (true, true) => seed.to_string(),
            (true, false) => format!("{seed}; {}", self.rules.describe()),
            _ => self.rules.describe(),
        }
    }
}

/// One snapshot file and what prune decided for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileDecision {
    /// The file's name in the folder.
    pub file: String,
    /// When it was taken (RFC 3339, local time); empty when it could not be told.
    pub time: String,
    /// Kept.
    pub keep: bool,
    /// Why it is kept (empty when removed).
    pub reasons: Vec<String>,
}

/// The decision over a whole folder, newest snapshot first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrunePlan {
    /// The snapshot folder.
    pub dir: PathBuf,
    /// [`PrunePolicy::describe`].
    pub policy: String,
    /// Each snapshot file, newest first (files whose time is unknown last).
    pub files: Vec<FileDecision>,
}

impl PrunePlan {
    /// The files to remove.
    pub fn removed(&self) -> impl Iterator<Item = &FileDecision> {
        self.files.iter().filter(|f| !f.keep)
    }

    /// How many are kept.
    pub fn kept_count(&self) -> usize {
        self.files.iter().filter(|f| f.keep).count()
    }
}

/// What `--apply` did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// Files removed.
    pub removed: usize,
    /// What committing the folder did.
    pub commit: CommitOutcome,
    /// The index could not forget the removed files (a warning: queries rebuild it).
    pub index_warning: Option<String>,
}

/// Why prune could not decide or act.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// No snapshot folder there.
    #[error("{dir}: no such snapshot folder\n  help: give the folder with --dir (snapshots are written by `labtrail snapshot --dir DIR`)")]
    NoFolder {
        /// The folder.
        dir: PathBuf,
    },
    /// A snapshot (or another prune) holds the folder's lock past the wait.
    #[error("{path}: the snapshot folder is locked by {holder}\n  help: wait for that snapshot or prune to finish, then run this again (a lock of a dead process is taken over by itself)")]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// host:pid:since.
        holder: String,
    },
    /// The folder or a file could not be read or removed.
    #[error("{path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Reads every snapshot file in `dir` and decides which `policy` keeps (nothing is changed).
pub fn plan(dir: &Path, policy: &PrunePolicy) -> Result<PrunePlan, PruneError> {
    if !dir.is_dir() {
        return Err(PruneError::NoFolder {
            dir: dir.to_path_buf(),
        });
    }
    let io = |source| PruneError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let tz = TimeZone::system();
    let mut read_ok: Vec<(Item, Snapshot)> = Vec::new();
    let mut unreadable: Vec<FileDecision> = Vec::new();
    for path in list(dir).map_err(io)? {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let snapshot = match read(&path) {
            Ok(s) => s,
            Err(e) => {
                unreadable.push(kept_unknown(file, format!("unreadable, kept: {e}")));
                continue;
            }
        };
        match snapshot_time(&snapshot, &tz) {
            Some(time) => read_ok.push((Item { id: file, time }, slim(snapshot, policy.seed))),
            None => unreadable.push(kept_unknown(
                file,
                format!(
                    "its time `{}` is not RFC 3339, kept",
                    snapshot.snapshot_timestamp
                ),
            )),
        }
    }
    let items: Vec<Item> = read_ok.iter().map(|(i, _)| i.clone()).collect();
    let mut decisions: Vec<Decision> = if policy.rules.is_empty() {
        Vec::new()
    } else {
        restic::apply(&items, &policy.rules)
    };
    if policy.seed {
        let seed_items: Vec<SeedItem<'_>> = read_ok
            .iter()
            .map(|(item, snapshot)| SeedItem {
                item: item.clone(),
                snapshot,
            })
            .collect();
        decisions = merge(decisions, seed::apply(&seed_items));
    }
    let times: HashMap<&str, String> = items
        .iter()
        .map(|i| (i.id.as_str(), i.time.timestamp().to_zoned(tz.clone())))
        .map(|(id, z)| (id, z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()))
        .collect();
    let mut files: Vec<FileDecision> = decisions
        .into_iter()
        .map(|d| FileDecision {
            time: times.get(d.id.as_str()).cloned().unwrap_or_default(),
            file: d.id,
            keep: d.keep,
            reasons: d.reasons,
        })
        .collect();
    files.extend(unreadable);
    Ok(PrunePlan {
        dir: dir.to_path_buf(),
        policy: policy.describe(),
        files,
    })
}

/// Removes the files `plan` does not keep, forgets them in the index, and commits the folder
/// (`prune: kept N, removed M (policy ...)`) when it is in git.
///
/// Holds the folder's lock (as `labtrail snapshot` does) while it removes and commits, so a
/// prune and a snapshot never interleave.
pub fn apply(plan: &PrunePlan) -> Result<Applied, PruneError> {
    let lock_path = plan.dir.join(LOCK_FILE);
    let _lock = FolderLock::acquire(&plan.dir, STALE_ELSEWHERE).map_err(|e| match e {
        LockError::Held(holder) => PruneError::Locked {
            path: lock_path.clone(),
            holder,
        },
        LockError::Io(source) => PruneError::Io {
            path: lock_path.clone(),
            source,
        },
        // Only a wait given a stop flag ends so; this one has none.
        LockError::Stopped => PruneError::Locked {
            path: lock_path.clone(),
            holder: "(stopped)".to_string(),
        },
    })?;
    crate::store::fault::fault_injection_pause_point("prune-locked");
    let mut removed = Vec::new();
    for f in plan.removed() {
        let path = plan.dir.join(&f.file);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                removed.push(f.file.clone());
                crate::store::fault::fault_injection_crash_point("prune-after-first-unlink");
            }
            // Removed by an earlier, interrupted prune: this run finishes its work.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => removed.push(f.file.clone()),
            Err(source) => return Err(PruneError::Io { path, source }),
        }
    }
    // The removals are durable before they are reported or committed.
    std::fs::File::open(&plan.dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| PruneError::Io {
            path: plan.dir.clone(),
            source,
        })?;
    let index_warning = forget_files(&plan.dir, &removed)
        .err()
        .map(|e| e.to_string());
    // After an interrupted prune the commit also holds the files that run removed: count
    // what the commit removes, not only this run's unlinks.
    let committed_removals = removed_since_commit(&plan.dir).max(removed.len());
    let message = format!(
        "prune: kept {}, removed {} (policy {})",
        plan.kept_count(),
        committed_removals,
        plan.policy
    );
    let commit = commit_folder(&plan.dir, &message);
    Ok(Applied {
        removed: removed.len(),
        commit,
        index_warning,
    })
}

/// What the decision needs of a snapshot (10^5 whole snapshots took 375 MB): nothing for
/// restic's rules; for the seed's, the jobs' ids, states, names and experiments, the flags, the
/// runs' experiments and states, the experiments and whether the scheduler answered.
fn slim(s: Snapshot, seed: bool) -> Snapshot {
    if !seed {
        return Snapshot::default();
    }
    Snapshot {
        running_jobs: s
            .running_jobs
            .into_iter()
            .map(|j| crate::snapshot::model::Job {
                job_id: j.job_id,
                name: j.name,
                state: j.state,
                experiment: j.experiment,
                ..Default::default()
            })
            .collect(),
        // Only whether an experiment's set of flags changed matters: one digest per experiment
        // (flags stay on disk, so every snapshot lists all of them: 10^5 snapshots' full lists
        // took gigabytes).
        completion_flags: flag_digest(s.completion_flags.iter().map(String::as_str))
            .into_iter()
            .collect(),
        flags: flag_digests(s.flags),
        runs: s
            .runs
            .into_iter()
            .map(|r| crate::snapshot::model::Run {
                experiment: r.experiment,
                state: r.state,
                ..Default::default()
            })
            .collect(),
        scheduler: crate::snapshot::model::SchedulerView {
            status: s.scheduler.status,
            ..Default::default()
        },
        experiments: s.experiments,
        ..Snapshot::default()
    }
}

/// One [`Flag`](crate::snapshot::model::Flag) per experiment whose path is the digest of the
/// experiment's flag paths.
fn flag_digests(flags: Vec<crate::snapshot::model::Flag>) -> Vec<crate::snapshot::model::Flag> {
    let mut by_experiment: std::collections::BTreeMap<Option<String>, Vec<String>> =
        std::collections::BTreeMap::new();
    for f in flags {
        by_experiment.entry(f.experiment).or_default().push(f.path);
    }
    by_experiment
        .into_iter()
        .filter_map(|(experiment, paths)| {
            let path = flag_digest(paths.iter().map(String::as_str))?;
            Some(crate::snapshot::model::Flag {
                path,
                experiment,
                ..Default::default()
            })
        })
        .collect()
}

/// A digest of a set of flag paths (order-free); None for no flags.
fn flag_digest<'a>(paths: impl Iterator<Item = &'a str>) -> Option<String> {
    use std::hash::{Hash, Hasher};
    let mut sorted: Vec<&str> = paths.collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_unstable();
    sorted.dedup();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    sorted.hash(&mut h);
    Some(format!("{} flags {:016x}", sorted.len(), h.finish()))
}

fn kept_unknown(file: String, reason: String) -> FileDecision {
    FileDecision {
        file,
        time: String::new(),
        keep: true,
        reasons: vec![reason],
    }
}

/// When a snapshot was taken, in its own UTC offset (restic buckets by the offset each
/// snapshot was written with, so days and months are the writer's, whatever `TZ` prune runs
/// under): its RFC 3339 `snapshot_timestamp`, or the seed's bare local form
/// (`2026-01-27T18:00:00`, no offset: taken in `tz`).
fn snapshot_time(s: &Snapshot, tz: &TimeZone) -> Option<Zoned> {
    let text = s.snapshot_timestamp.trim();
    let civil = text.parse::<jiff::civil::DateTime>();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        // The offset it was written with: its wall clock minus the instant (`Z`: UTC).
        let offset = match civil {
            Ok(c) => {
                let wall = c.to_zoned(TimeZone::UTC).ok()?.timestamp();
                let seconds = wall.as_second() - t.as_second();
                jiff::tz::Offset::from_seconds(i32::try_from(seconds).ok()?).ok()?
            }
            Err(_) => jiff::tz::Offset::UTC,
        };
        return Some(t.to_zoned(TimeZone::fixed(offset)));
    }
    civil.ok()?.to_zoned(tz.clone()).ok()
}

/// Both decisions over the same snapshots: kept when either keeps, with both reasons.
fn merge(a: Vec<Decision>, b: Vec<Decision>) -> Vec<Decision> {
    if a.is_empty() {
        return b;
    }
    let mut extra: HashMap<String, Vec<String>> =
        b.into_iter().map(|d| (d.id, d.reasons)).collect();
    a.into_iter()
        .map(|mut d| {
            d.reasons.extend(extra.remove(&d.id).unwrap_or_default());
            d.keep = !d.reasons.is_empty();
            d
        })
        .collect()
}
