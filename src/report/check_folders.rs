//! `labtrail check`: the store's records compared with the run folders (see [`super::check`]
//! for what is a problem and what a notice).

use super::check::{shell_word, Finding, FindingKind, Severity};
use super::check_capped::Capped;
use crate::store::{RunRecord, TaskState};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Compares every run's records with its folders under the store folder `store_dir`, listing
/// at most `limit` findings of a kind per folder (see [`super::check_capped`]).
pub fn compare_folders(store_dir: &Path, runs: &[RunRecord], limit: usize) -> Vec<Finding> {
    let mut out = Vec::new();
    for run in runs {
        out.extend(compare_run(run, limit));
    }
    let ids: HashSet<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    let folder = store_dir.join("runs");
    let mut stray = Capped::new(limit);
    for (name, path) in entries(&folder) {
        if !ids.contains(name.as_str()) {
            stray.push(|| {
                let mut f = Finding::new(FindingKind::UnknownRunFolder, Severity::Notice, &name, format!(
                    "{} belongs to no run of the store (its record was lost, e.g. by a repair, or it was copied in): labtrail does not use it; move it away or delete it",
                    shell_word(&path)
                ));
                f.paths.push(path);
                f
            });
        }
    }
    let mut found = stray.finish(
        FindingKind::UnknownRunFolder,
        "",
        &folder,
        "entries that belong to no run of the store",
    );
    for f in found.iter_mut().filter(|f| f.more > 0) {
        f.run = None;
    }
    out.extend(found);
    out
}

/// The entries of folder `dir` by name, as the folder lists them (read one at a time, never
/// all held); none if it cannot be read.
fn entries(dir: &Path) -> impl Iterator<Item = (String, PathBuf)> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
}

fn compare_run(run: &RunRecord, limit: usize) -> Vec<Finding> {
    let dir = run.folders.run_dir();
    if !dir.is_dir() && run.attempts.is_empty() {
        // A runner stopped between creating the run and making its folder: nothing was ever
        // kept there, and the next `labtrail run` of it makes the folder.
        return Vec::new();
    }
    if !dir.is_dir() {
        let mut f = Finding::new(FindingKind::RunFolderMissing, Severity::Problem, &run.id, format!(
            "run {}: its folder {} is missing (deleted?): its tasks' folders and attempt logs are gone; the next `labtrail run` of it makes the folders again",
            run.id,
            shell_word(dir)
        ));
        f.paths.push(dir.to_path_buf());
        return vec![f];
    }
    let mut out = Vec::new();
    let labels: HashMap<&str, &str> = run
        .tasks
        .iter()
        .map(|t| (t.key.as_str(), t.label.as_str()))
        .collect();
    let last_attempt = last_attempts(run);
    for t in run.tasks.iter().filter(|t| t.state == TaskState::Done) {
        let task_dir = run.folders.task_dir(&t.key);
        if !task_dir.is_dir() && folder_expected(run, &last_attempt, &t.key) {
            // A retired task is reached by no `reset` or `run` while it is out of the plan: its
            // folder is missed only if a change of the experiment file brings it back.
            let (severity, message) = if t.in_plan {
                (Severity::Problem, format!(
                    "run {}: task {} is done, but its folder {} (LABTRAIL_TASK_DIR) is missing (deleted?): what the task kept there is gone; to make it again, `labtrail reset --run {} {}` and run again",
                    run.id, t.label, shell_word(&task_dir), run.id, t.key
                ))
            } else {
                (Severity::Notice, format!(
                    "run {}: task {} left the run's plan (its parameters or command changed) after it was done, and its folder {} (LABTRAIL_TASK_DIR) is missing (deleted?): nothing uses it while the task is out of the plan; if the experiment file brings the task back, it comes back done, and `labtrail reset --run {} {}` then runs it again with a new folder",
                    run.id, t.label, shell_word(&task_dir), run.id, t.key
                ))
            };
            let mut f = Finding::new(FindingKind::TaskFolderMissing, severity, &run.id, message);
            f.key = Some(t.key.clone());
            f.task = Some(t.label.clone());
            f.paths.push(task_dir);
            out.push(f);
        }
    }
    let tasks_folder = dir.join("tasks");
    let mut stray = Capped::new(limit);
    for (name, path) in entries(&tasks_folder) {
        let key = name.split_once(".reset-").map_or(name.as_str(), |(k, _)| k);
        if !labels.contains_key(key) {
            stray.push(|| {
                let mut f = Finding::new(FindingKind::UnknownTaskFolder, Severity::Notice, &run.id, format!(
                    "run {}: {} belongs to no task of the run (its record was lost, e.g. by a repair, or it was made by hand): labtrail does not use it, unless a run adds a task of key {key} again; otherwise move it away or delete it",
                    run.id,
                    shell_word(&path)
                ));
                f.paths.push(path);
                f
            });
        }
    }
    out.extend(stray.finish(
        FindingKind::UnknownTaskFolder,
        &run.id,
        &tasks_folder,
        "entries that belong to no task of the run",
    ));
    out.extend(unknown_attempts(run, &labels, limit));
    out
}

/// The number of each task's last attempt.
fn last_attempts(run: &RunRecord) -> HashMap<&str, u32> {
    let mut last = HashMap::new();
    for a in &run.attempts {
        let n = last.entry(a.key.as_str()).or_insert(a.number);
        *n = (*n).max(a.number);
    }
    last
}

/// Whether a done task's folder must exist: always in runs that keep every task's folder; in a
/// run that removes empty ones (layout 3, issue 15; local or SLURM), only when the
/// task's last attempt left something in it (a [`crate::store::KEPT_TASK_DIR`] record). A
/// folder removed because it was empty is no loss.
fn folder_expected(run: &RunRecord, last: &HashMap<&str, u32>, key: &str) -> bool {
    if !run.folders.removes_empty_task_dirs() {
        return true;
    }
    last.get(key)
        .is_some_and(|&n| run.kept_task_dirs.contains(&(key.to_string(), n)))
}

/// Which attempt a file or folder in `attempts/` belongs to, from its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum AttemptName {
    /// `KEY-N.WHAT`: a local attempt's file, or a SLURM attempt's script and output.
    Number(u32),
    /// `KEY-job-ID[-rN]`: a SLURM attempt's folder.
    Job(String),
}

/// (key, attempt) of an attempt file's name, if it is named like one.
fn parse_attempt_name(name: &str) -> Option<(&str, AttemptName)> {
    let (key, rest) = name.split_at_checked(crate::plan::KEY_LEN)?;
    let rest = rest.strip_prefix('-')?;
    if !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if let Some(job) = rest.strip_prefix("job-") {
        let id = job.split_once("-r").map_or(job, |(id, _)| id);
        return Some((key, AttemptName::Job(id.to_string())));
    }
    let (n, _) = rest.split_once('.')?;
    Some((key, AttemptName::Number(n.parse().ok()?)))
}

/// Files and folders of attempts that no attempt record knows, one finding per attempt.
fn unknown_attempts(run: &RunRecord, labels: &HashMap<&str, &str>, limit: usize) -> Vec<Finding> {
    let numbers: HashSet<(&str, u32)> = run
        .attempts
        .iter()
        .map(|a| (a.key.as_str(), a.number))
        .collect();
    // By name: a path stored absolute by labtrail 0.3 may reach the same folder another way.
    let job_dirs: HashSet<&std::ffi::OsStr> = run
        .attempts
        .iter()
        .filter_map(|a| a.stdout.parent()?.file_name())
        .collect();
    // (key, attempt) -> paths; unparsable names under their own name.
    // At most `limit` attempts (or stray names) kept; the entries of any other counted.
    let mut unknown: BTreeMap<(String, Option<AttemptName>), Vec<PathBuf>> = BTreeMap::new();
    let mut capped = Capped::new(limit);
    let mut consider = |name: &str, path: PathBuf, parsed: Option<(&str, AttemptName)>| {
        let known = match &parsed {
            // A runner at work makes an attempt's files a moment before it records the attempt.
            Some(_) if run.in_progress => true,
            Some((key, AttemptName::Number(n))) => numbers.contains(&(*key, *n)),
            Some((_, AttemptName::Job(_))) => job_dirs.contains(std::ffi::OsStr::new(name)),
            None => false,
        };
        if !known {
            let id = match parsed {
                Some((key, a)) => (key.to_string(), Some(a)),
                None => (name.to_string(), None),
            };
            if let Some(paths) = unknown.get_mut(&id) {
                paths.push(path);
            } else if capped.has_room(unknown.len()) {
                unknown.insert(id, vec![path]);
            } else {
                capped.count_more();
            }
        }
    };
    for (name, path) in entries(&run.folders.run_dir().join("attempts")) {
        let parsed = parse_attempt_name(&name);
        consider(&name, path, parsed);
    }
    if run.folders.layout() < 2 {
        // labtrail 0.1 kept attempts in the task's folder: `tasks/KEY/attempt-N`, `tasks/KEY/job-ID`.
        for t in &run.tasks {
            for (name, path) in entries(&run.folders.run_dir().join("tasks").join(&t.key)) {
                let parsed = if let Some(n) = name.strip_prefix("attempt-") {
                    n.parse().ok().map(AttemptName::Number)
                } else if let Some(job) = name.strip_prefix("job-") {
                    Some(AttemptName::Job(
                        job.split_once("-r").map_or(job, |(id, _)| id).to_string(),
                    ))
                } else {
                    continue;
                };
                match parsed {
                    Some(a) => consider(&name, path, Some((t.key.as_str(), a))),
                    None => continue,
                }
            }
        }
    }
    let tasks: HashMap<&str, &crate::store::TaskRecord> =
        run.tasks.iter().map(|t| (t.key.as_str(), t)).collect();
    let found = unknown.into_iter().map(|((key, attempt), mut paths)| {
            paths.sort();
            let shown = paths
                .iter()
                .map(|p| shell_word(p))
                .collect::<Vec<_>>()
                .join(", ");
            let label = labels.get(key.as_str()).copied();
            let task = tasks.get(key.as_str()).copied();
            let what = match (&attempt, label) {
                (None, _) => "is not named like an attempt's file (made by hand?): labtrail does not use it; move it away or delete it".to_string(),
                (Some(a), Some(label)) => format!("({}) of task {label} {}", describe(a, &paths), unrecorded(run, a, task)),
                (Some(a), None) => format!("({}) of a task the run does not know {}", describe(a, &paths), unrecorded(run, a, None)),
            };
            let mut f = Finding::new(FindingKind::UnknownAttemptFiles, Severity::Notice, &run.id, format!(
                "run {}: {shown} {what}",
                run.id
            ));
            if attempt.is_some() {
                f.task = label.map(str::to_string);
                f.key = Some(key);
            }
            if let Some(AttemptName::Job(id)) = attempt {
                f.jobs.push(id);
            }
            f.paths = paths;
            f
        });
    capped.extend(found);
    capped.finish(
        FindingKind::UnknownAttemptFiles,
        &run.id,
        &run.folders.run_dir().join("attempts"),
        "entries no attempt record knows",
    )
}

/// What the files of attempt `a` are, from their names.
fn describe(a: &AttemptName, paths: &[PathBuf]) -> String {
    let is = |suffix: &str| paths.iter().all(|p| p.to_string_lossy().ends_with(suffix));
    match a {
        AttemptName::Number(n) if is(".sbatch") => format!("the job script of attempt {n}"),
        AttemptName::Number(n) if is(".log") => format!("the logs of attempt {n}"),
        AttemptName::Number(n) => format!("files of attempt {n}"),
        AttemptName::Job(id) => format!("the folder SLURM job {id} wrote"),
    }
}

/// Why files of attempt `a` of `task` have no record, and what becomes of them.
fn unrecorded(run: &RunRecord, a: &AttemptName, task: Option<&crate::store::TaskRecord>) -> String {
    let cause = match (a, run.executor.as_str()) {
        (AttemptName::Number(_), "slurm") => "a submission that sbatch refused, or a monitor that stopped between writing the job script and recording the job, or a repair that lost the record",
        (AttemptName::Number(_), _) => "a runner stopped between making them and recording the attempt, or a repair lost the record",
        (AttemptName::Job(_), _) => "the job was submitted by hand, or a monitor stopped between submitting it and recording it, or a repair lost the record",
    };
    // A local runner records an attempt it finds begun and unrecorded when it next runs the task.
    let recorded_next = matches!(a, AttemptName::Number(_))
        && run.executor != "slurm"
        && task.is_some_and(|t| t.in_plan && t.state != TaskState::Done);
    let fate = if recorded_next {
        "the next `labtrail run` of the run records them as an interrupted attempt of the task; nothing to do"
    } else {
        "labtrail does not use them; they stay readable there until you delete them"
    };
    format!("are known to no attempt record ({cause}): {fate}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_names_parse_by_layout_2_rules() {
        let k = "0123456789abcdef";
        assert_eq!(
            parse_attempt_name(&format!("{k}-3.stdout.log")),
            Some((k, AttemptName::Number(3)))
        );
        assert_eq!(
            parse_attempt_name(&format!("{k}-12.sbatch")),
            Some((k, AttemptName::Number(12)))
        );
        assert_eq!(
            parse_attempt_name(&format!("{k}-job-41_3-r2")),
            Some((k, AttemptName::Job("41_3".into())))
        );
        assert_eq!(parse_attempt_name("notes.txt"), None);
        assert_eq!(parse_attempt_name(&format!("{k}-x.log")), None);
        assert_eq!(parse_attempt_name("0123456789abcdeg-1.stdout.log"), None);
    }
}
