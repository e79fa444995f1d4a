//! The queue part of a snapshot: one squeue call for the configured scope, and at most one sacct
//! call for the jobs of the previous snapshot that have left the queue since.

use super::clock;
use super::config::JobScope;
use super::model::{EndedJob, Job, SchedulerView, Snapshot};
use crate::exec::slurm::states::short_code;
use crate::exec::slurm::usage::duration_ms;
use crate::exec::slurm::{
    is_finished_state, parse_squeue_checked, AcctEntry, QueueEntry, SchedError, Scheduler,
    SQUEUE_FORMAT,
};
use std::collections::{HashMap, HashSet};

/// What the scheduler said.
pub(crate) struct QueueLook {
    /// The live jobs of the scope, in squeue's order.
    pub jobs: Vec<Job>,
    /// Jobs of the previous snapshot that are gone.
    pub ended: Vec<EndedJob>,
    /// The scheduler's status and what it cost.
    pub view: SchedulerView,
    /// Lines of squeue's answer left out: not one whole record each (a job name with a newline).
    pub dropped_lines: usize,
}

/// The scope as recorded: `mine`, `all` or `name:<pattern>`.
fn scope_name(scope: &JobScope) -> String {
    match scope {
        JobScope::Mine => "mine".into(),
        JobScope::All => "all".into(),
        JobScope::NamePattern(p) => format!("name:{p}"),
    }
}

/// Asks squeue once, then sacct at most once. Never fails: a scheduler that is not installed is
/// `absent`, one that does not answer is `failed` with its error.
pub(crate) fn look(scope: &JobScope, previous: Option<&Snapshot>, sched: &Scheduler) -> QueueLook {
    let mut view = SchedulerView {
        status: "slurm".into(),
        scope: scope_name(scope),
        squeue_calls: 1,
        ..SchedulerView::default()
    };
    let answer = match scope {
        JobScope::All => sched.squeue_all(),
        JobScope::Mine | JobScope::NamePattern(_) => sched.squeue(),
    };
    let (entries, dropped_lines) = match answer.as_deref().map(parse_squeue_checked) {
        Ok(a) => (a.entries, a.dropped),
        Err(e) => {
            view.status = if matches!(e, SchedError::Absent { .. }) {
                "absent".into()
            } else {
                "failed".into()
            };
            // squeue's field list (with its separators) says nothing to a reader.
            view.detail =
                (view.status == "failed").then(|| e.to_string().replace(SQUEUE_FORMAT, "<fields>"));
            // Without an answer nobody knows which jobs left: the next snapshot judges against
            // the latest one that had an answer, not this one.
            return QueueLook {
                jobs: Vec::new(),
                ended: Vec::new(),
                view,
                dropped_lines: 0,
            };
        }
    };
    // The regex was checked when the configuration was read.
    let pattern = match scope {
        JobScope::NamePattern(p) => regex::Regex::new(p).ok(),
        _ => None,
    };
    let in_scope = |e: &&QueueEntry| pattern.as_ref().is_none_or(|re| re.is_match(e.name));
    // `-t all` also lists jobs that ended within MinJobAge: they are out of the queue.
    let (ended_in_queue, live): (Vec<&QueueEntry>, Vec<&QueueEntry>) = entries
        .iter()
        .filter(in_scope)
        .partition(|e| is_finished_state(e.state));
    let jobs: Vec<Job> = live.into_iter().map(job_of).collect();
    // A job live but out of the name pattern (the scope was changed) has not ended.
    let live_ids: HashSet<&str> = entries
        .iter()
        .filter(|e| !is_finished_state(e.state))
        .map(|e| e.job_id)
        .collect();
    let in_scope_now = |j: &Job| match scope {
        JobScope::All => true,
        JobScope::Mine => is_mine(j),
        JobScope::NamePattern(_) => {
            is_mine(j) && pattern.as_ref().is_none_or(|re| re.is_match(&j.name))
        }
    };
    let ended = ended_jobs(
        previous,
        &Answered {
            live_ids: &live_ids,
            ended_in_queue: &ended_in_queue,
            in_scope_now: &in_scope_now,
        },
        sched,
        &mut view,
    );
    QueueLook {
        jobs,
        ended,
        view,
        dropped_lines,
    }
}

/// Whether a job recorded earlier is this process's user's (one recorded before jobs had a
/// user is taken as such: it was in the scope it was recorded in).
fn is_mine(j: &Job) -> bool {
    static ME: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let me = ME.get_or_init(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.name)
    });
    match (&j.user, me) {
        (Some(user), Some(me)) => user == me,
        _ => true,
    }
}

/// What this snapshot's squeue answer says about the jobs of the previous one.
struct Answered<'a> {
    /// Jobs that are live now (in any scope squeue answered for).
    live_ids: &'a HashSet<&'a str>,
    /// Jobs of the scope that squeue still lists as ended (within MinJobAge).
    ended_in_queue: &'a [&'a QueueEntry<'a>],
    /// Whether a job recorded earlier is in this snapshot's scope: one that is not (the scope
    /// went from `all` to `mine`) has not ended, it is out of sight.
    in_scope_now: &'a dyn Fn(&Job) -> bool,
}

/// One queue entry as a snapshot records it.
fn job_of(e: &QueueEntry) -> Job {
    let pending = e.state == "PENDING";
    let elapsed_s = e.time_used.and_then(duration_ms).map_or(0, |ms| ms / 1000);
    let (array_job_id, array_task_id) = match e.job_id.split_once('_') {
        Some((a, t)) => (Some(a.to_string()), Some(t.to_string())),
        None => (None, None),
    };
    let reason = (!e.reason.is_empty() && e.reason != "None").then(|| e.reason.to_string());
    Job {
        job_id: e.job_id.to_string(),
        name: e.name.to_string(),
        state: short_code(e.state),
        time: e
            .time_used
            .map_or_else(|| slurm_time(elapsed_s), String::from),
        node: match (e.node, &reason) {
            (Some(n), _) => n.to_string(),
            (None, Some(r)) => format!("({r})"),
            (None, None) => String::new(),
        },
        array_job_id,
        array_task_id,
        state_long: e.state.to_string(),
        partition: e.partition.map(String::from),
        submit_time: e.submit.and_then(clock::local_from_civil),
        // A pending job's StartTime is only the scheduler's estimate.
        start_time: (!pending)
            .then(|| e.start.and_then(clock::local_from_civil))
            .flatten(),
        time_limit_s: e.time_limit_s,
        reason: if pending { reason } else { None },
        elapsed_s,
        workdir: e.workdir.map(String::from),
        experiment: None,
        run_id: None,
        user: e.user.map(String::from),
    }
}

/// Seconds in squeue's TIME form: `M:SS`, `H:MM:SS`, `D-HH:MM:SS`.
pub(crate) fn slurm_time(s: u64) -> String {
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h) {
        (0, 0) => format!("{m}:{s:02}"),
        (0, h) => format!("{h}:{m:02}:{s:02}"),
        (d, h) => format!("{d}-{h:02}:{m:02}:{s:02}"),
    }
}

/// The previous snapshot's jobs that are not live now, and the jobs squeue lists as ended that
/// were submitted after the previous snapshot (they started and ended in between, review r3
/// #6), with their end from one sacct call.
fn ended_jobs(
    previous: Option<&Snapshot>,
    answered: &Answered,
    sched: &Scheduler,
    view: &mut SchedulerView,
) -> Vec<EndedJob> {
    let Some(previous) = previous else {
        view.accounting = true;
        return Vec::new();
    };
    let mut gone: Vec<Job> = previous
        .running_jobs
        .iter()
        .filter(|j| !answered.live_ids.contains(j.job_id.as_str()) && (answered.in_scope_now)(j))
        .cloned()
        .collect();
    let known: HashSet<&str> = previous
        .running_jobs
        .iter()
        .map(|j| j.job_id.as_str())
        .chain(previous.ended_jobs.iter().map(|j| j.job_id.as_str()))
        .collect();
    let taken = previous.snapshot_timestamp.parse::<jiff::Timestamp>().ok();
    let quick: Vec<Job> = answered
        .ended_in_queue
        .iter()
        .filter(|e| !known.contains(e.job_id))
        .map(|e| job_of(e))
        .filter(|j| {
            let submitted = j.submit_time.as_deref();
            let submitted = submitted.and_then(|t| t.parse::<jiff::Timestamp>().ok());
            // Both to the second: one submitted in the second the snapshot was taken is after it.
            submitted.zip(taken).is_some_and(|(s, t)| s >= t)
        })
        .collect();
    gone.extend(quick);
    // Not asked this time: what the last answer said.
    view.accounting = previous.scheduler.accounting || previous.scheduler.status != "slurm";
    if gone.is_empty() {
        return Vec::new();
    }
    // An array element that never started is known to sacct only through its array's id, as
    // one line for the range (`5475_[20-999]`); `-j 5475_20` finds nothing (review r3 #4).
    let mut ids: Vec<String> = Vec::new();
    for j in &gone {
        for id in [Some(&j.job_id), j.array_job_id.as_ref()]
            .into_iter()
            .flatten()
        {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
    }
    let gone_refs: Vec<&Job> = gone.iter().collect();
    view.sacct_calls = 1;
    let acct = match sched.sacct(&ids, &since(&gone_refs, Some(previous))) {
        Ok(entries) => {
            view.accounting = true;
            entries
        }
        Err(e) => {
            view.accounting = false;
            if !matches!(e, SchedError::NoAccounting(_) | SchedError::Absent { .. }) {
                view.detail = Some(format!("sacct: {e}"));
            }
            Vec::new()
        }
    };
    // With `-D` a requeued job has one entry per run: the last is how it ended.
    let mut last: HashMap<&str, &AcctEntry> = HashMap::new();
    for a in &acct {
        last.insert(a.job_id.as_str(), a);
    }
    let seen: HashMap<&str, &&QueueEntry> = answered
        .ended_in_queue
        .iter()
        .map(|e| (e.job_id, e))
        .collect();
    gone.iter()
        .filter_map(|j| {
            let found = last
                .get(j.job_id.as_str())
                .copied()
                .or_else(|| in_array_line(&acct, j));
            let in_queue = seen.get(j.job_id.as_str());
            Some(match found {
                // Neither squeue (in any scope it answered for) nor sacct says it ended: it
                // left the scope, it did not end (review r3 #7).
                Some(a) if !is_finished_state(&a.state) && in_queue.is_none() => return None,
                Some(a) => {
                    let mut e = ended_of_acct(j, a);
                    // squeue saw the end before the accounting database did.
                    // The exit code is not known until it has.
                    if !is_finished_state(&a.state) {
                        e.exit_code = None;
                        if let Some(q) = in_queue {
                            q.state.clone_into(&mut e.state);
                        }
                    }
                    e
                }
                None => EndedJob {
                    job_id: j.job_id.clone(),
                    name: j.name.clone(),
                    // squeue still listed it as ended (within MinJobAge): its state, no code.
                    state: in_queue.map_or_else(|| "unknown".into(), |e| e.state.to_string()),
                    node: (!j.node.starts_with('(') && !j.node.is_empty()).then(|| j.node.clone()),
                    start_time: j.start_time.clone(),
                    experiment: j.experiment.clone(),
                    user: j.user.clone(),
                    ..EndedJob::default()
                },
            })
        })
        .collect()
}

/// An array element that never started is one sacct line for the whole range
/// (`123_[4-99%10]`): the line whose range holds the element's index.
fn in_array_line<'a>(acct: &'a [AcctEntry], j: &Job) -> Option<&'a AcctEntry> {
    let (array, index) = (j.array_job_id.as_deref()?, j.array_task_id.as_deref()?);
    let index: u64 = index.parse().ok()?;
    acct.iter().rev().find(|a| {
        a.job_id
            .strip_prefix(array)
            .and_then(|r| r.strip_prefix("_["))
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|ranges| range_holds(ranges, index))
    })
}

/// Whether sacct's `1,3,5-7%2` holds `index`.
fn range_holds(ranges: &str, index: u64) -> bool {
    let ranges = ranges.split('%').next().unwrap_or("");
    ranges.split(',').any(|r| match r.split_once('-') {
        Some((a, b)) => {
            a.parse().is_ok_and(|a: u64| a <= index) && b.parse().is_ok_and(|b: u64| index <= b)
        }
        None => r.parse() == Ok(index),
    })
}

fn ended_of_acct(j: &Job, a: &AcctEntry) -> EndedJob {
    let start_time = a.start.as_deref().and_then(clock::local_from_civil);
    let end_time = a.end.as_deref().and_then(clock::local_from_civil);
    EndedJob {
        job_id: j.job_id.clone(),
        name: j.name.clone(),
        state: a.state.clone(),
        exit_code: Some(a.exit_code),
        signal: (a.signal != 0).then_some(a.signal),
        elapsed_s: a.resources.elapsed_s,
        start_time,
        end_time,
        node: a.node.clone().filter(|n| n != "None assigned"),
        experiment: j.experiment.clone(),
        user: j.user.clone(),
    }
}

/// The start of sacct's window: the earliest submission among the gone jobs (sacct wants the
/// cluster's local time without an offset), else a day before the previous snapshot.
fn since(gone: &[&Job], previous: Option<&Snapshot>) -> String {
    let earliest = gone
        .iter()
        .filter_map(|j| j.submit_time.as_deref().and_then(clock::civil_of))
        .min();
    earliest
        .or_else(|| {
            previous
                .and_then(|p| clock::civil_of(&p.snapshot_timestamp))
                .and_then(|t| t.checked_sub(jiff::Span::new().days(1)).ok())
        })
        .map_or_else(
            || "now-7days".to_string(),
            |t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_like_squeue() {
        assert_eq!(slurm_time(0), "0:00");
        assert_eq!(slurm_time(65), "1:05");
        assert_eq!(slurm_time(3 * 3600 + 5), "3:00:05");
        assert_eq!(slurm_time(86400 + 7263), "1-02:01:03");
    }

    /// Issue 13: an element of an array that never started is found in sacct's range line.
    #[test]
    fn array_ranges_hold_their_elements() {
        assert!(range_holds("0-999%10", 999));
        assert!(range_holds("1,3,5-7", 6));
        assert!(!range_holds("1,3,5-7", 4));
        let line = AcctEntry {
            job_id: "77_[0-9]".into(),
            state: "CANCELLED".into(),
            ..AcctEntry::default()
        };
        let job = Job {
            job_id: "77_4".into(),
            array_job_id: Some("77".into()),
            array_task_id: Some("4".into()),
            ..Job::default()
        };
        let acct = [line];
        assert_eq!(
            in_array_line(&acct, &job).map(|a| a.state.as_str()),
            Some("CANCELLED")
        );
    }

    /// Issue 13: a pending job's node is its `(Reason)`, its estimated start is not recorded.
    #[test]
    fn pending_jobs_show_their_reason() {
        let e = QueueEntry {
            job_id: "5_2",
            name: "n",
            state: "PENDING",
            reason: "JobHeldUser",
            start: Some("2030-01-01T00:00:00"),
            time_used: Some("0:00"),
            ..QueueEntry::default()
        };
        let j = job_of(&e);
        assert_eq!((j.state.as_str(), j.node.as_str()), ("PD", "(JobHeldUser)"));
        assert_eq!(j.start_time, None);
        assert_eq!(j.array_task_id.as_deref(), Some("2"));
        assert_eq!(j.reason.as_deref(), Some("JobHeldUser"));
    }
}
