//! `labtrail check --scheduler`: the SLURM runs' records compared with the jobs the scheduler
//! knows by the names labtrail gives them (`lt.RUN.KEY` for a task's job, `lt.RUN.@STAGE` for a
//! stage's array; see [`crate::exec::slurm::job_name`]).
//!
//! One squeue call (the user's jobs, arrays expanded) and one sacct call (the user's jobs since
//! the oldest SLURM run began), parsed as the monitor parses them. Every job named for a run must
//! be known to the store, and no task may have two live jobs.

use super::check::{Finding, FindingKind, Severity};
use super::check_job_origin::{origin, Origin, RunDirId};
use crate::exec::slurm::{
    is_finished_state, parse_array_name, parse_job_name, parse_squeue, AcctEntry, QueueEntry,
    SchedError, Scheduler,
};
use crate::store::{AttemptRecord, RunRecord, TaskState};
use std::collections::{BTreeMap, HashMap};

/// What came of asking the scheduler.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SchedulerCheck {
    /// No run of the store uses SLURM: nothing was asked.
    NoSlurmRuns,
    /// The scheduler's commands are not installed on this machine: nothing was compared.
    Absent { detail: String },
    /// The scheduler did not answer: nothing was compared.
    Unanswered { detail: String },
    /// The jobs were compared with the store.
    Compared {
        /// SLURM runs compared.
        runs: usize,
        /// Jobs named for them that the scheduler listed.
        jobs: usize,
        /// Whether sacct answered (without it, only live jobs were compared).
        accounting: bool,
        /// Jobs named like this store's runs whose output goes to another store's folder of a
        /// run of the same id (a copy of the experiment folder): not this store's, not compared.
        other_stores: usize,
    },
}

/// Asks the scheduler about the SLURM runs among `runs` and compares.
pub fn check_scheduler(sched: &Scheduler, runs: &[RunRecord]) -> (SchedulerCheck, Vec<Finding>) {
    let slurm: Vec<&RunRecord> = runs.iter().filter(|r| r.executor == "slurm").collect();
    if slurm.is_empty() {
        return (SchedulerCheck::NoSlurmRuns, Vec::new());
    }
    let text = match sched.squeue() {
        Ok(text) => text,
        Err(SchedError::Absent { detail, .. }) => {
            return (SchedulerCheck::Absent { detail }, Vec::new())
        }
        Err(e) => {
            return (
                SchedulerCheck::Unanswered {
                    detail: e.to_string(),
                },
                Vec::new(),
            )
        }
    };
    let since = slurm
        .iter()
        .filter_map(|r| r.created_at.parse::<jiff::Timestamp>().ok())
        .min()
        .unwrap_or_else(jiff::Timestamp::now);
    // sacct's window is in the cluster's local time; a margin covers clocks a little apart.
    let since = (since - jiff::SignedDuration::from_secs(600))
        .to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let (acct, accounting) = match sched.sacct_of_user(&since) {
        Ok(a) => (a, true),
        Err(SchedError::NoAccounting(_)) => (Vec::new(), false),
        Err(e) => {
            return (
                SchedulerCheck::Unanswered {
                    detail: e.to_string(),
                },
                Vec::new(),
            )
        }
    };
    let queue = parse_squeue(&text);
    let (count, findings) = compare_jobs(&slurm, &queue, &acct);
    let check = SchedulerCheck::Compared {
        runs: slurm.len(),
        jobs: count.ours,
        accounting,
        other_stores: count.other_stores,
    };
    (check, findings)
}

/// One job named for a run, as the scheduler shows it.
struct Job<'a> {
    id: &'a str,
    name: &'a str,
    state: &'a str,
    live: bool,
    /// Where SLURM writes its output, and its working directory, when the scheduler says.
    stdout: Option<&'a str>,
    workdir: Option<&'a str>,
}

/// How many jobs named for the runs were compared, and how many belong to another store.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobCount {
    /// Jobs named for the runs that are this store's, or whose origin nothing tells.
    pub ours: usize,
    /// Jobs named alike that write into another store's folder of a run of the same id.
    pub other_stores: usize,
}

/// Compares the jobs squeue and sacct list with the runs' attempts; returns how many jobs are
/// named for the runs (this store's, and another store's), and the findings. A job no attempt
/// record knows that writes into another store's folder of the run is not this store's: it is
/// counted, never reported.
pub fn compare_jobs(
    runs: &[&RunRecord],
    queue: &[QueueEntry<'_>],
    acct: &[AcctEntry],
) -> (JobCount, Vec<Finding>) {
    let by_id: HashMap<&str, &RunRecord> = runs.iter().map(|r| (r.id.as_str(), *r)).collect();
    let mut jobs: Vec<Job> = queue
        .iter()
        .map(|q| Job {
            id: q.job_id,
            name: q.name,
            state: q.state,
            live: !is_finished_state(q.state),
            stdout: q.stdout,
            workdir: q.workdir,
        })
        .collect();
    let listed: std::collections::HashSet<&str> = queue.iter().map(|q| q.job_id).collect();
    // A pending array's elements are one sacct line (`123_[0-5]`); squeue lists them one by one.
    jobs.extend(
        acct.iter()
            .filter(|a| !listed.contains(a.job_id.as_str()) && !a.job_id.contains('['))
            .map(|a| Job {
                id: &a.job_id,
                name: &a.name,
                state: &a.state,
                live: false,
                stdout: None,
                workdir: a.workdir.as_deref(),
            }),
    );
    let attempts_by_job: HashMap<&str, HashMap<&str, &AttemptRecord>> = runs
        .iter()
        .map(|r| {
            let jobs = r
                .attempts
                .iter()
                .filter_map(|a| Some((a.job_id.as_deref()?, a)));
            (r.id.as_str(), jobs.collect())
        })
        .collect();
    let dirs: HashMap<&str, RunDirId> = runs
        .iter()
        .map(|r| (r.id.as_str(), RunDirId::of(r)))
        .collect();
    let mut count = JobCount::default();
    let mut findings = Vec::new();
    // (run, key) -> live jobs of the task, and whether the store knows each.
    let mut live: BTreeMap<(&str, &str), Vec<(&str, bool)>> = BTreeMap::new();
    for job in &jobs {
        let (run_id, named_key) = match parse_job_name(job.name) {
            Some((run, key)) => (run, Some(key)),
            None => match parse_array_name(job.name) {
                Some((run, _)) => (run, None),
                None => continue,
            },
        };
        let Some(run) = by_id.get(run_id) else {
            continue; // a run of another store
        };
        let attempt = attempts_by_job[run_id].get(job.id).copied();
        if attempt.is_none()
            && origin(run, &dirs[run_id], job.stdout, job.workdir) == Origin::OtherStore
        {
            count.other_stores += 1;
            continue;
        }
        count.ours += 1;
        let key = named_key.or(attempt.map(|a| a.key.as_str()));
        if let (true, Some(key)) = (job.live, key) {
            live.entry((&run.id, key))
                .or_default()
                .push((job.id, attempt.is_some()));
        }
        if attempt.is_none() {
            findings.push(unknown_job(run, job, key));
        }
    }
    for ((run_id, key), ids) in live.into_iter().filter(|(_, ids)| ids.len() > 1) {
        let run = by_id[run_id];
        let label = label_of(run, key);
        let unknown: Vec<&str> = ids.iter().filter(|(_, k)| !*k).map(|(id, _)| *id).collect();
        let all: Vec<String> = ids.iter().map(|(id, _)| id.to_string()).collect();
        // The unknown ones are reported here, not once more on their own.
        findings.retain(|f| {
            !(f.kind == FindingKind::UnknownJob
                && f.run.as_deref() == Some(run_id)
                && f.jobs.iter().any(|j| unknown.contains(&j.as_str())))
        });
        let cancel = if unknown.is_empty() || unknown.len() == ids.len() {
            format!("all but one of them (`scancel {}`)", all[1..].join(" "))
        } else {
            format!(
                "the one(s) no record knows (`scancel {}`)",
                unknown.join(" ")
            )
        };
        let mut f = Finding::new(
            FindingKind::TwoLiveJobs,
            Severity::Problem,
            run_id,
            format!(
                "run {run_id}: task {} has {} live jobs ({}): they run it at once in the same folder, and one's result overwrites the other's; cancel {cancel}",
                label.unwrap_or(key),
                ids.len(),
                all.join(", ")
            ),
        );
        f.key = Some(key.to_string());
        f.task = label.map(str::to_string);
        f.jobs = all;
        findings.push(f);
    }
    (count, findings)
}

fn label_of<'a>(run: &'a RunRecord, key: &str) -> Option<&'a str> {
    run.tasks
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.label.as_str())
}

/// A job named for `run` that no attempt record knows. Live, it is a problem when no monitor
/// will adopt it (its task is done or unknown, or it is named like an array, whose name does
/// not say its task); a monitor adopts a live job named for a task that waits for one.
fn unknown_job(run: &RunRecord, job: &Job, key: Option<&str>) -> Finding {
    let task = key.and_then(|k| run.tasks.iter().find(|t| t.key == k));
    let label = task.map(|t| t.label.as_str());
    let named = match (label, key) {
        (Some(l), _) => format!("named for task {l}"),
        (None, Some(k)) => format!("named for task key {k}, which the run does not have"),
        (None, None) => match parse_array_name(job.name) {
            Some((_, stage)) if run.tasks.iter().any(|t| t.stage == stage) => {
                format!("an element of the job array of stage {stage}, whose name does not say its task")
            }
            Some((_, stage)) => {
                format!("named like a job array of stage {stage}, which the run does not have")
            }
            None => "named for the run".to_string(),
        },
    };
    let (severity, advice) = match (job.live, task.map(|t| t.state)) {
        (false, _) => (Severity::Notice, format!(
            "a monitor stopped between submitting and recording it, a repair lost the record, or it was submitted by hand; what it wrote, if it ran, is in {}",
            key.map_or_else(|| super::check::shell_word(&run.folders.run_dir().join("attempts")),
                |k| super::check::shell_word(&crate::exec::slurm::script::attempt_dir(&run.folders.attempt_prefix(k), job.id, 0)))
        )),
        (true, Some(TaskState::Done)) => (Severity::Problem, format!(
            "the task is done, and this job runs it again in its folder behind the store's back; `scancel {}` unless you mean to keep its output", job.id
        )),
        (true, Some(_)) => (Severity::Notice, format!(
            "the next `labtrail monitor` adopts it as the task's attempt when the task waits for a job; `scancel {}` if it should not run", job.id
        )),
        (true, None) => (Severity::Problem, format!(
            "no monitor adopts it, so whatever it writes is never recorded; `scancel {}` unless you mean it to run", job.id
        )),
    };
    let mut f = Finding::new(
        FindingKind::UnknownJob,
        severity,
        &run.id,
        format!(
            "run {}: job {} ({}, {}) is {named}, and no attempt record knows it: {advice}",
            run.id, job.id, job.name, job.state
        ),
    );
    f.key = key.map(str::to_string);
    f.task = label.map(str::to_string);
    f.jobs.push(job.id.to_string());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::slurm::parse_sacct;
    use crate::report::fixture::Fixture;

    /// Issue 10: each kind of job no record knows, as squeue and sacct print them, gets the
    /// severity the help text gives: live and adoptable (its task waits) a notice; live and never
    /// adopted (done task, unknown task, array element) a problem; ended a notice. Jobs of
    /// other runs are not this store's; a job in both squeue and sacct counts once.
    #[test]
    fn unknown_jobs_by_what_becomes_of_them() {
        let mut fx = Fixture::new(
            "[experiment]\nname = \"e\"\ncommand = \"true\"\n[params]\nx = [1, 2, 3]\n",
        );
        fx.store.set_executor("r1", "slurm").unwrap();
        let k = fx.keys();
        fx.finish(&k[0], TaskState::Done, None);
        let row = |id: &str, name: &str, state: &str| {
            format!(
                "{id}|{raw}|{name}|{state}|None|vm|0|N/A|c||||||||u|\n",
                raw = id.replace('_', "")
            )
            .replace('|', "\x1f")
        };
        let text = [
            row("900", &format!("lt.r1.{}", k[1]), "RUNNING"),
            row("901_2", "lt.r1.@main", "RUNNING"),
            row("902", &format!("lt.r1.{}", k[0]), "PENDING"),
            row("903", "lt.r1.0000000000000000", "RUNNING"),
            row("904", &format!("lt.other.{}", k[1]), "RUNNING"),
            row("905", &format!("lt.r1.{}", k[2]), "COMPLETED"),
            row("908", "lt.r1.@nosuch", "RUNNING"),
        ]
        .concat();
        let queue = parse_squeue(&text);
        let acct = parse_sacct(&format!(
            "900|900|lt.r1.{k1}|RUNNING|0:0|2026-11-23T11:09:30|2026-11-23T11:09:34|Unknown|vm\n\
             906|906|lt.r1.{k2}|FAILED|1:0|2026-11-23T11:09:30|2026-11-23T11:09:34|2026-11-23T11:10:00|vm\n\
             907_[0-3]|907|lt.r1.@main|PENDING|0:0|2026-11-23T11:09:30|Unknown|Unknown|None assigned\n",
            k1 = k[1],
            k2 = k[2]
        ));
        let runs = fx.store.run_records().unwrap();
        let (count, found) = compare_jobs(&runs.iter().collect::<Vec<_>>(), &queue, &acct);
        assert_eq!(count.ours, 7, "{found:#?}");
        let severity = |job: &str| {
            let f: Vec<&Finding> = found.iter().filter(|f| f.jobs == [job]).collect();
            assert_eq!(f.len(), 1, "{job}: {found:#?}");
            assert_eq!(f[0].kind, FindingKind::UnknownJob);
            f[0].severity
        };
        assert_eq!(severity("900"), Severity::Notice, "a monitor adopts it");
        assert_eq!(
            severity("901_2"),
            Severity::Problem,
            "no name says its task"
        );
        assert_eq!(severity("902"), Severity::Problem, "its task is done");
        assert_eq!(severity("903"), Severity::Problem, "no such task");
        assert_eq!(severity("905"), Severity::Notice, "ended");
        assert_eq!(severity("906"), Severity::Notice, "ended");
        assert_eq!(severity("908"), Severity::Problem, "no name says its task");
        assert_eq!(found.len(), 7, "{found:#?}");
        // Issue 10 (review): an array's name is worded as what it is: a stage the run has, or
        // one it does not.
        let message = |job: &str| {
            found
                .iter()
                .find(|f| f.jobs == [job])
                .unwrap()
                .message
                .clone()
        };
        assert!(
            message("901_2").contains("an element of the job array of stage main"),
            "{}",
            message("901_2")
        );
        assert!(
            message("908")
                .contains("named like a job array of stage nosuch, which the run does not have")
                && !message("908").contains("an element"),
            "{}",
            message("908")
        );
    }
}
