//! `labtrail check`: verify the store; `--repair` rebuilds a damaged one.

use super::output::{print_json, Global};
use super::terminal::escape;
use crate::exec::slurm::Scheduler;
use crate::report::check::{CheckReport, Severity};
use crate::report::check_scheduler::SchedulerCheck;
use crate::store::{Store, StoreError};

/// Check the store's integrity: SQLite's full check plus labtrail's own invariants, then compare
/// its records with the run folders (and, with --scheduler, with SLURM's jobs).
///
/// Problems (exit 3) are where a record says something is there or fine and it is not: a
/// run's folder or a done task's folder is missing (what the task kept is gone), a task has
/// two live SLURM jobs (they run it at once in one folder), a live job named for the run that no
/// monitor will adopt (its task is done or unknown, or it is an array element) and no record
/// knows. Notices (exit 0) are what no record knows and no record contradicts: files or
/// folders of an attempt whose record was never written or was lost (runner killed mid-start,
/// a repair), task or run folders no task or run claims, a finished job no record knows, a
/// live one the next monitor adopts. labtrail never uses or removes them; each line says what
/// to do.
///
/// With --repair (after labtrail reported a damaged database): moves the damaged database
/// aside and builds a new one from every record that can still be read.
///
/// --scheduler asks SLURM (one squeue, one sacct call) for the jobs named for the store's SLURM
/// runs (lt.RUN.KEY, lt.RUN.@STAGE): each must be known to an attempt record, and no task may
/// have two live jobs. Without SLURM on this machine it says the scheduler is absent; a scheduler
/// that does not answer gives exit 5 (nothing was compared).
///
/// --json prints one object: store, database, runs, tasks, database_problems (strings),
/// findings (each: kind, severity "problem"|"notice", run, key, task, paths, jobs, message;
/// kinds: run_folder_missing, task_folder_missing, unknown_attempt_files, unknown_task_folder,
/// unknown_run_folder, unknown_job, two_live_jobs) and scheduler (null, or status
/// "no_slurm_runs" | "absent" | "unanswered" with detail | "compared" with runs, jobs,
/// accounting). The exit code is the same as without it.
///
/// Examples:
///   labtrail check
///   labtrail check --scheduler
///   labtrail check --json | jq -r '.findings[] | select(.severity == "problem") | .message'
///   labtrail check --repair
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    /// Rebuild a damaged database from what can still be read.
    #[arg(long)]
    pub repair: bool,
    /// Also compare the SLURM runs with the jobs the scheduler knows.
    #[arg(long, conflicts_with = "repair")]
    pub scheduler: bool,
    /// Print the report as JSON (see above for its fields).
    #[arg(long, conflicts_with = "repair")]
    pub json: bool,
}

pub fn run(g: &Global, args: CheckArgs) -> anyhow::Result<i32> {
    if args.repair {
        let dir = match &g.store {
            Some(d) => d.clone(),
            None => Store::discover(&std::env::current_dir()?)?,
        };
        let report = Store::repair(&dir)?;
        say!("{}", super::terminal::escape_lines(&report.to_string()));
        return Ok(0);
    }
    let store = g.open_store()?;
    let sched = args.scheduler.then(Scheduler::new);
    let report = CheckReport::load(&store, sched.as_ref())?;
    let trouble = matches!(report.scheduler, Some(SchedulerCheck::Unanswered { .. }));
    let code = report.exit_code();
    if args.json {
        print_json(&report)?;
        return Ok(code);
    }
    let path = |p: &std::path::Path| escape(&p.display().to_string()).into_owned();
    for f in &report.findings {
        let tag = match f.severity {
            Severity::Problem => "problem",
            Severity::Notice => "notice",
        };
        say!("{tag}: {}", escape(&f.message));
    }
    match &report.scheduler {
        None => {}
        Some(SchedulerCheck::NoSlurmRuns) => {
            say!("scheduler: no run of this store uses SLURM; nothing to compare")
        }
        Some(SchedulerCheck::Absent { detail }) => say!(
            "scheduler: absent (no SLURM on this machine: {}); the jobs were not compared",
            escape(detail)
        ),
        Some(SchedulerCheck::Unanswered { detail }) => say!(
            "scheduler: did not answer ({}); the jobs were not compared, try again",
            escape(detail)
        ),
        Some(SchedulerCheck::Compared {
            runs,
            jobs,
            accounting,
        }) => say!(
            "scheduler: {jobs} job(s) named for {runs} SLURM run(s) compared with the store{}",
            if *accounting {
                ""
            } else {
                " (accounting, sacct, is not configured: live jobs only)"
            }
        ),
    }
    if !report.database_problems.is_empty() {
        for p in &report.database_problems {
            say!("problem: {}", escape(p));
        }
        return Err(StoreError::Corrupt {
            path: report.database.clone(),
            backup: report.database.clone(),
            detail: format!(
                "{} problem(s) found by `check`",
                report.database_problems.len()
            ),
        }
        .into());
    }
    if report.problems() > 0 {
        // The database is sound; what a task or a job did is not damage `--repair` could undo.
        tell!(
            "labtrail: {} problem(s) between the store {} and its folders or jobs; the database itself is sound",
            report.problems(),
            path(&report.store)
        );
        return Ok(3);
    }
    if trouble {
        tell!("labtrail: the store and its folders are in order, but the scheduler did not answer: its jobs were not compared");
        return Ok(code);
    }
    let notices = match report.notices() {
        0 => String::new(),
        n => format!("; {n} notice(s) above"),
    };
    say!(
        "ok: {} — {} run(s), {} task(s) in current plans; integrity and invariants hold{notices}",
        path(&report.database),
        report.runs,
        report.tasks
    );
    Ok(code)
}
