//! How `labtrail snapshots` prints its answers for a person (`--json` prints the models as they
//! are). Every value read from a snapshot goes through the terminal escape: job names, nodes and
//! flag paths come from other people's files.

use super::output::{print_json, table};
use super::terminal::escape;
use crate::report::snapshots::{
    describe, human_bytes, human_duration, local_time, ran_text, AtView, ExperimentCourse,
    FlagArrival, JobLife, Timeline, UNKNOWN_START,
};
use crate::snapshot::model::Job;

/// Prints `value` as JSON, or for a person with `human`.
pub fn emit<T: serde::Serialize>(json: bool, value: &T, human: fn(&T)) -> anyhow::Result<i32> {
    if json {
        print_json(value)?;
    } else {
        human(value);
    }
    Ok(0)
}

/// Local time of an RFC 3339 string, or the string as it is.
fn when(ts: &str) -> String {
    crate::app::snapshots_index_rows::timestamp_epoch(ts)
        .map(local_time)
        // Not a time: printed as it is written, so escaped like every other value.
        .unwrap_or_else(|| escape(ts).into_owned())
}

/// The timeline table.
pub fn timeline(t: &Timeline) {
    let rows: Vec<Vec<String>> = t
        .rows
        .iter()
        .map(|r| {
            let time = if r.snapshots > 1 {
                format!(
                    "{} – {} ({} snapshots)",
                    local_time(r.from_epoch),
                    local_time(r.to_epoch),
                    r.snapshots
                )
            } else {
                local_time(r.from_epoch)
            };
            let delta = match r.disk_delta {
                0 => String::new(),
                d if d > 0 => format!("+{}", human_bytes(d)),
                d => human_bytes(d),
            };
            let (running, pending) = if r.scheduler_failed {
                ("?".to_string(), "?".to_string())
            } else {
                (r.running.to_string(), r.pending.to_string())
            };
            vec![
                time,
                running,
                pending,
                if r.new_flags > 0 {
                    format!("+{}", r.new_flags)
                } else {
                    String::new()
                },
                delta,
            ]
        })
        .collect();
    table(
        &["TIME", "RUNNING", "PENDING", "NEW FLAGS", "DISK DELTA"],
        &rows,
    );
    if t.rows.iter().any(|r| r.scheduler_failed) {
        say!("(?: the scheduler did not answer at those snapshots)");
    }
    let all_shown = t.total_rows == Some(t.rows.len() as u64);
    if !all_shown {
        say!(
            "(the newest {} rows, over {} snapshots in all; --limit 0 shows all, --since/--until narrow)",
            t.rows.len(),
            t.snapshots
        );
    }
}

fn job_rows(jobs: &[Job]) -> Vec<Vec<String>> {
    jobs.iter()
        .map(|j| {
            vec![
                j.job_id.clone(),
                j.name.clone(),
                j.state.clone(),
                j.time.clone(),
                j.node.clone(),
            ]
        })
        .collect()
}

/// What ran at a time.
pub fn at(v: &AtView) {
    say!(
        "snapshot {} ({} before the time asked)",
        escape(&when(&v.taken)),
        v.age
    );
    if v.scheduler_failed {
        say!("the scheduler did not answer at that snapshot: the jobs below are the last ones it reported");
    }
    say!(
        "running: {}   pending/other: {}   flags: {}",
        v.running.len(),
        v.waiting.len(),
        v.flags.len()
    );
    let mut jobs = v.running.clone();
    jobs.extend(v.waiting.iter().cloned());
    if !jobs.is_empty() {
        table(&["JOB", "NAME", "STATE", "TIME", "NODE"], &job_rows(&jobs));
    }
    for e in v.experiments.iter().filter(|e| e.active) {
        let stage = e
            .stage
            .as_deref()
            .map(|s| format!(", stage {s}"))
            .unwrap_or_default();
        say!(
            "experiment {}: active, {} queued{}",
            escape(&e.name),
            e.queued_jobs,
            escape(&stage)
        );
    }
}

/// Jobs' lifetimes.
pub fn jobs(lives: &[JobLife]) {
    for (i, l) in lives.iter().enumerate() {
        if i > 0 {
            say!("");
        }
        let exp = l
            .experiment
            .as_deref()
            .map(|e| format!(" (experiment {e})"))
            .unwrap_or_default();
        say!(
            "job {} {}{}",
            escape(&l.job_id),
            escape(&l.name),
            escape(&exp)
        );
        if !l.first_seen.is_empty() {
            say!(
                "  seen {} – {}{}",
                when(&l.first_seen),
                when(&l.last_seen),
                if l.in_queue {
                    " (still in the queue)"
                } else {
                    ""
                }
            );
        }
        for s in &l.states {
            say!(
                "  {:<3} {}  {} – {}",
                escape(&s.state),
                escape(&s.node),
                when(&s.from),
                when(&s.to)
            );
        }
        say!(
            "  runtime {}",
            human_duration(i64::try_from(l.runtime_s).unwrap_or(i64::MAX))
        );
        match &l.end {
            Some(e) => say!(
                "  ended {}{}{}",
                escape(&e.state),
                e.end_time
                    .as_deref()
                    .map(|t| format!(" at {}", when(t)))
                    .unwrap_or_default(),
                e.exit_code
                    .map(|c| format!(", exit code {c}"))
                    .unwrap_or_default()
            ),
            None if !l.in_queue => say!("  end state unknown (no snapshot recorded its end)"),
            None => {}
        }
    }
}

/// Flags' arrivals.
pub fn flags(flags: &[FlagArrival]) {
    let rows: Vec<Vec<String>> = flags
        .iter()
        .map(|f| {
            vec![
                f.path.clone(),
                f.mtime.as_deref().map(when).unwrap_or_else(|| "-".into()),
                when(&f.first_seen),
                if f.present {
                    "yes".into()
                } else {
                    format!("gone after {}", when(&f.last_seen))
                },
            ]
        })
        .collect();
    table(
        &["FLAG", "WRITTEN (MTIME)", "FIRST SNAPSHOT", "STILL THERE"],
        &rows,
    );
}

/// An experiment's course.
pub fn experiment(c: &ExperimentCourse) {
    say!("experiment {}", escape(&c.name));
    if c.started_basis == UNKNOWN_START {
        say!("  started   unknown (no job, run, flag or active sighting of it)");
    } else {
        say!(
            "  started   {} ({})",
            local_time(c.started_epoch),
            c.started_basis
        );
        say!(
            "  ran       {}{}",
            ran_text(c),
            if c.active { " (active)" } else { "" }
        );
    }
    if !c.active {
        say!("  ended     {}", local_time(c.until_epoch));
    }
    if let Some(stage) = &c.stage {
        say!("  stage     {}", escape(stage));
    }
    say!("  jobs seen {}", c.jobs_seen);
    if let Some(e) = &c.estimate {
        say!("  estimate  {}", describe(e));
    }
    if !c.stages.is_empty() {
        say!("stages completed:");
        let rows: Vec<Vec<String>> = c
            .stages
            .iter()
            .map(|s| {
                vec![
                    s.stage.clone(),
                    local_time(s.completed_epoch),
                    human_duration(s.took_s),
                    s.source.clone(),
                ]
            })
            .collect();
        table(&["STAGE", "COMPLETED", "TOOK", "FROM"], &rows);
    }
    if !c.failed_jobs.is_empty() {
        say!("jobs that did not complete:");
        // The newest ten: a long history's failures are for --json.
        let shown = &c.failed_jobs[c.failed_jobs.len().saturating_sub(10)..];
        if shown.len() < c.failed_jobs.len() {
            say!(
                "  (the last {} of {}; --json lists all)",
                shown.len(),
                c.failed_jobs.len()
            );
        }
        let rows: Vec<Vec<String>> = shown
            .iter()
            .map(|e| {
                vec![
                    e.job_id.clone(),
                    e.name.clone(),
                    e.state.clone(),
                    e.end_time.as_deref().map(when).unwrap_or_default(),
                ]
            })
            .collect();
        table(&["JOB", "NAME", "STATE", "ENDED"], &rows);
    }
    if !c.alongside.is_empty() {
        say!("running alongside:");
        let rows: Vec<Vec<String>> = c
            .alongside
            .iter()
            .map(|a| vec![a.experiment.clone(), a.jobs.to_string(), a.names.join(", ")])
            .collect();
        table(&["EXPERIMENT", "JOBS", "NAMES"], &rows);
    }
}
