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
/// With --repair (after labtrail reported a damaged database): builds a new database from
/// every row that can still be read (page by page where SQLite stops), checks it, and puts it
/// in place last. The damaged database is kept as labtrail.db.before-repair-TIME in the store
/// (never overwritten, never deleted); a repair interrupted at any point is finished or undone
/// by the next command. It refuses while a runner or monitor has a run of the store open (exit
/// 4). On a healthy store it asks first at a terminal, and without one it changes nothing
/// (exit 2) unless --yes is given.
///
/// --scheduler asks SLURM (one squeue, one sacct call) for the jobs named for the store's SLURM
/// runs (lt.RUN.KEY, lt.RUN.@STAGE): each must be known to an attempt record, and no task may
/// have two live jobs. A job named alike that writes into another store's folder of a run of the
/// same id (a copy of the experiment folder, or the same --id) is not this store's: counted,
/// never reported. Without SLURM on this machine (no squeue on PATH) it says the scheduler is
/// absent; a scheduler that does not answer, or a LABTRAIL_SQUEUE / LABTRAIL_SACCT that names no
/// program or one that fails, gives exit 5 (nothing was compared).
///
/// --json prints one object: store, database, runs, tasks, database_problems (strings),
/// findings (each: kind, severity "problem"|"notice", run, key, task, paths, paths_escaped,
/// jobs, message, more; paths are strings, with U+FFFD for the bytes of a name that are not UTF-8;
/// paths_escaped are the same paths exact, as the text output shows them: plain, or quoted
/// $'...' with \xHH for such bytes and control characters, ready to paste into bash or zsh;
/// kinds: run_folder_missing, task_folder_missing, unknown_attempt_files, unknown_task_folder,
/// unknown_run_folder, unknown_job, two_live_jobs) and scheduler (null, or status
/// "no_slurm_runs" | "absent" | "unanswered" with detail | "compared" with runs, jobs,
/// accounting, other_stores). Without --all, of each kind of finding in each folder the first
/// 20 are listed, and one more finding, whose paths name the folder, gives in `more` how many
/// entries were not listed (0 in every other finding). The exit code is the same as without it.
///
/// Examples:
///   labtrail check
///   labtrail check examples/demo/experiment.toml
///   labtrail check --scheduler
///   labtrail check --json | jq -r '.findings[] | select(.severity == "problem") | .message'
///   labtrail check --repair
///   labtrail check --repair --yes     # rebuild even a healthy store, without asking
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    /// The experiment file whose store to check: the `.labtrail` next to it, as `labtrail run`
    /// finds it (default: the nearest store above the current folder, or --store).
    #[arg(value_name = "EXPERIMENT.toml")]
    pub experiment: Option<std::path::PathBuf>,
    /// Rebuild a damaged database from what can still be read.
    #[arg(long)]
    pub repair: bool,
    /// Also compare the SLURM runs with the jobs the scheduler knows.
    #[arg(long, conflicts_with = "repair")]
    pub scheduler: bool,
    /// Print the report as JSON (see above for its fields).
    #[arg(long, conflicts_with = "repair")]
    pub json: bool,
    /// List every finding; without it, of each kind in each folder the first 20 are listed and
    /// one more says how many there are (text and JSON alike).
    #[arg(long, conflicts_with = "repair")]
    pub all: bool,
    /// With --repair: rebuild a healthy database too, without asking.
    #[arg(long, requires = "repair")]
    pub yes: bool,
}

/// Asks at a terminal whether to rebuild the healthy store at `dir`; without a terminal the
/// answer is no. Records whether it could ask in `asked`.
fn ask_to_rebuild(dir: &std::path::Path, asked: &mut bool) -> bool {
    use std::io::{BufRead, IsTerminal};
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return false;
    }
    *asked = true;
    eprint!(
        "labtrail: the store {} is healthy (SQLite's check and labtrail's invariants hold); rebuild it anyway? [y/N] ",
        super::terminal::escape(&dir.display().to_string())
    );
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
}

fn repair(dir: std::path::PathBuf, yes: bool) -> anyhow::Result<i32> {
    let mut asked = false;
    let report = Store::repair(&dir, &mut || yes || ask_to_rebuild(&dir, &mut asked))?;
    match report {
        Some(report) => say!("{}", super::terminal::escape_lines(&report)),
        None if asked => tell!("labtrail: nothing was changed"),
        None => {
            return Err(crate::app::UsageError(format!(
                "the store {} is healthy (SQLite's check and labtrail's invariants hold); nothing was changed\n  help: `labtrail check --repair` rebuilds a damaged store; add --yes to rebuild a healthy one anyway",
                dir.display()
            ))
            .into())
        }
    }
    Ok(0)
}

pub fn run(g: &Global, args: CheckArgs) -> anyhow::Result<i32> {
    let spec = args
        .experiment
        .as_deref()
        .map(crate::spec::Spec::load)
        .transpose()?;
    let dir = crate::app::read::store_dir(g.store.as_deref(), spec.as_ref())?;
    if args.repair {
        return repair(dir, args.yes);
    }
    let store = Store::open_with(&dir, crate::store::Access::ReadOnly)?;
    let sched = args.scheduler.then(Scheduler::new);
    let report = CheckReport::load(&store, sched.as_ref(), args.all)?;
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
            other_stores,
        }) => say!(
            "scheduler: {jobs} job(s) named for {runs} SLURM run(s) compared with the store{}{}",
            if *accounting {
                ""
            } else {
                " (accounting, sacct, is not configured: live jobs only)"
            },
            match other_stores {
                0 => String::new(),
                n => format!("; {n} more named alike write into another store's folder of a run of the same id (a copy of the experiment folder, or the same --id): not this store's, left alone"),
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
