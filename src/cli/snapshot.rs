//! `labtrail snapshot`: take one snapshot of experiment activity (or one every `--every`), and
//! `labtrail snapshot cron`: print the recipes that take one on a schedule.

use super::output::{print_json, Global, UsageError};
use super::terminal::escape;
use crate::app::snapshot::{take, take_every, TakeError, TakeOptions, TakeOutcome};
use crate::snapshot::config::{job_scope, ConfigOverrides, JobScope, SnapshotConfig};
use crate::snapshot::git_commit::CommitOutcome;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

const SNAPSHOT_EXIT_CODES: &str = "Exit codes:
  0    a snapshot was written, or none was needed (unchanged; another host took this slot);
       a commit skipped (index.lock held) is a warning, still 0; so is a scheduler that did
       not answer (squeue failed or timed out: the snapshot is written with
       scheduler.status \"failed\", records no jobs, and keeps each experiment's state from
       the latest snapshot that saw the queue). With --every: stopped by SIGINT or SIGTERM
       between snapshots
  2    bad input: a flag, or [snapshot] in labtrail.toml
  3    the snapshot folder cannot be created or written, or what was to be printed could not
       be (a full disk under the log the output is appended to)
  4    another snapshot of this folder is being taken (its lock is held) past the wait

Environment: LABTRAIL_SCHED_TIMEOUT=SECONDS (default 30) bounds each squeue and sacct call;
LABTRAIL_SQUEUE / LABTRAIL_SACCT name other programs to run instead (site wrappers).";

/// Take a snapshot of experiment activity: your SLURM jobs, the completion flags that exist,
/// disk usage and labtrail's runs, as one JSON file in the snapshot folder.
///
/// The file is `DIR/snapshot_YYYYMMDD_HHMMSS.json` (local time), in seed format: `jq` recipes
/// written for `running_jobs`, `completion_flags` and `disk_usage` keep working. Nothing is
/// written when nothing changed since the latest snapshot. What to look at comes from
/// `[snapshot]` in the `labtrail.toml` next to DIR, or flags.
///
/// Examples:
///   labtrail snapshot                                  # into ./experiment_snapshots
///   labtrail snapshot --dir experiment_snapshots --commit
///   labtrail snapshot --every 1h                       # for machines without cron
///   labtrail snapshot cron --every 1h --commit         # print a crontab line, a systemd timer, an scrontab entry
///   jq '.running_jobs' experiment_snapshots/snapshot_20260127_180000.json
#[derive(Debug, clap::Args)]
#[command(
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    after_help = SNAPSHOT_EXIT_CODES,
    after_long_help = SNAPSHOT_EXIT_CODES
)]
pub struct SnapshotArgs {
    /// The snapshot folder.
    #[arg(long, default_value = "experiment_snapshots", value_name = "DIR")]
    pub dir: PathBuf,
    /// Commit the snapshot folder (only it) to git afterwards.
    #[arg(long)]
    pub commit: bool,
    /// Take one every DURATION (e.g. `1h`, `30m`) until stopped, for machines without cron.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
    /// Completion-flag glob, relative to the folder that holds the snapshot folder (repeat for
    /// several; replaces `flags` of `[snapshot]` in labtrail.toml; default `*.flag`, `*/*.flag`).
    #[arg(long = "flags", value_name = "GLOB")]
    pub flags: Vec<String>,
    /// A folder whose disk usage is recorded under NAME (repeat for several; replaces
    /// `measure` of `[snapshot]`).
    #[arg(long, value_name = "NAME=PATH", value_parser = parse_measure)]
    pub measure: Vec<(String, PathBuf)>,
    /// Which jobs: `mine` (default), `all`, or a job-name regex (of your jobs).
    #[arg(long, value_name = "mine|all|REGEX", value_parser = parse_jobs)]
    pub jobs: Option<JobScope>,
    /// Let disk walks cross into other mounted filesystems.
    #[arg(long)]
    pub cross_mounts: bool,
    #[command(subcommand)]
    pub command: Option<SnapshotCommand>,
}

/// `labtrail snapshot` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SnapshotCommand {
    /// Print a crontab line, a systemd user timer and an scrontab entry that take a snapshot on
    /// a schedule.
    Cron(CronArgs),
}

/// `labtrail snapshot cron`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Paths in the recipes are absolute, taken from where this is run, so that they work from cron's bare environment. Install one of them: the crontab line with `crontab -e`, the systemd units under ~/.config/systemd/user/ then `systemctl --user enable --now labtrail-snapshot.timer`, or the scrontab entry with `scrontab -e` (sites that forbid cron on login nodes).\n\nExamples:\n  labtrail snapshot cron                          # hourly\n  labtrail snapshot cron --every 1d --commit      # daily, committed to git\n  labtrail snapshot cron --every 15m --dir /proj/experiment_snapshots"
)]
pub struct CronArgs {
    /// The snapshot folder.
    #[arg(long, default_value = "experiment_snapshots", value_name = "DIR")]
    pub dir: PathBuf,
    /// Commit each snapshot.
    #[arg(long)]
    pub commit: bool,
    /// How often: a divisor of an hour (`15m`) or of a day (`6h`), or `1d`.
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub every: String,
}

/// The command line's part of the configuration, applied over `[snapshot]` in labtrail.toml.
/// The store is labtrail's global `--store PATH` (one; several are listed in the file's
/// `stores`): a second `--store` on this command would clash with it.
pub fn overrides(g: &Global, args: &SnapshotArgs) -> ConfigOverrides {
    ConfigOverrides {
        flags: args.flags.clone(),
        measure: args.measure.clone(),
        jobs: args.jobs.clone(),
        stores: g.store.iter().cloned().collect(),
        cross_mounts: args.cross_mounts,
    }
}

/// `--measure NAME=PATH`.
fn parse_measure(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, path)) if !name.trim().is_empty() && !path.is_empty() => {
            Ok((name.trim().to_string(), PathBuf::from(path)))
        }
        _ => Err(format!(
            "`{text}` is not NAME=PATH; write e.g. `--measure work=/scratch/me/work`"
        )),
    }
}

/// `--jobs mine|all|REGEX`.
fn parse_jobs(text: &str) -> Result<JobScope, String> {
    job_scope(text)
}

/// Runs `labtrail snapshot`.
pub fn run(g: &Global, args: SnapshotArgs) -> anyhow::Result<i32> {
    if let Some(SnapshotCommand::Cron(c)) = &args.command {
        return cron(c);
    }
    let every = args.every.as_deref().map(every_period).transpose()?;
    // Absolute: the config is looked for in its parent, which `snaps` alone does not have.
    let dir = absolute(&args.dir)?;
    let config =
        SnapshotConfig::load(&dir, &overrides(g, &args)).map_err(|e| UsageError(e.to_string()))?;
    // A stop signal ends the `--every` loop between snapshots (one being taken is finished
    // first) and a wait for the folder's lock at once.
    let stop = Arc::new(AtomicBool::new(false));
    let opts = TakeOptions {
        dir,
        commit: args.commit,
        config,
        stop: every.is_some().then(|| stop.clone()),
    };
    let Some(every) = every else {
        let code = report(g, &args, take(&opts));
        // A Ctrl+C or SIGTERM held while git committed ends the process now: the commit is
        // done (or undone), the folder's lock released, what happened said.
        crate::snapshot::git_commit::act_on_held_signal();
        return Ok(code);
    };
    for &sig in crate::exec::signals::stop_signals() {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    // A folder that cannot be written now may be writable at the next tick: keep going.
    take_every(every, &stop, || {
        report(g, &args, take(&opts));
    });
    if !g.quiet && !args.json {
        tell!("stopped");
    }
    Ok(0)
}

/// The shortest `--every`: each snapshot runs squeue (and sacct), which a shorter period
/// would hammer from a login node.
const MIN_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// `--every DURATION`, at least [`MIN_EVERY`].
fn every_period(text: &str) -> Result<std::time::Duration, UsageError> {
    let period = crate::spec::parse_duration(text).map_err(|e| {
        UsageError(format!(
            "--every {}: {e} (examples: 30m, 1h, 1d)",
            escape(text)
        ))
    })?;
    if period < MIN_EVERY {
        return Err(UsageError(format!(
            "--every {}: shorter than 10s; each snapshot asks the scheduler (squeue, sacct), so take one at most every 10 s (e.g. --every 1m)",
            escape(text)
        )));
    }
    Ok(period)
}

/// `dir` made absolute against the current folder (the file names printed are the ones to use).
fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    Ok(std::path::absolute(dir)?)
}

/// Prints what one snapshot did (or why it failed) and returns its exit code.
fn report(g: &Global, args: &SnapshotArgs, taken: Result<TakeOutcome, TakeError>) -> i32 {
    let outcome = match taken {
        Ok(outcome) => outcome,
        // The loop says "stopped".
        Err(TakeError::Stopped) => return 0,
        Err(e) => {
            tell!("error: {}", super::terminal::escape_lines(&e.to_string()));
            return match e {
                TakeError::Folder { .. } => 3,
                TakeError::Locked { .. } => 4,
                TakeError::Stopped => 0,
            };
        }
    };
    if args.json {
        let _ = print_json(&outcome_json(&outcome));
    }
    match &outcome {
        TakeOutcome::Written {
            file,
            running,
            pending,
            commit,
            warnings,
        } => {
            print_warnings(warnings);
            if !args.json && !g.quiet {
                say!(
                    "wrote {} ({running} running, {pending} pending)",
                    escape(&file.display().to_string())
                );
                print_commit(commit, "", true);
            }
        }
        TakeOutcome::Unchanged {
            latest,
            commit,
            warnings,
        } => {
            print_warnings(warnings);
            if !args.json && !g.quiet {
                say!(
                    "unchanged since {}: nothing written",
                    escape(&latest.display().to_string())
                );
                print_commit(commit, " (earlier snapshots)", false);
            }
        }
        TakeOutcome::SlotTaken { latest, host } if !args.json && !g.quiet => say!(
            "{} took this slot already ({}): nothing written",
            escape(host),
            escape(&latest.display().to_string())
        ),
        _ => {}
    }
    0
}

/// A snapshot's warnings, one `warning:` line each on stderr.
fn print_warnings(warnings: &[String]) {
    for w in warnings {
        tell!("warning: {}", super::terminal::escape_lines(w));
    }
}

/// What `--commit` did, for a person; `all`: also when nothing was committed and why (a snapshot
/// found unchanged says only a commit it made).
fn print_commit(commit: &Option<CommitOutcome>, what: &str, all: bool) {
    match commit {
        Some(CommitOutcome::Committed(id)) => say!("committed {}{what}", &id[..id.len().min(12)]),
        Some(CommitOutcome::NothingToCommit) if all => say!("nothing to commit"),
        Some(CommitOutcome::NotARepository) if all => {
            tell!("warning: --commit: the snapshot folder is not in a git work tree; nothing committed")
        }
        _ => {}
    }
}

/// What `--json` prints for one snapshot.
fn outcome_json(outcome: &TakeOutcome) -> serde_json::Value {
    use serde_json::json;
    match outcome {
        TakeOutcome::Written {
            file,
            running,
            pending,
            commit,
            warnings,
        } => {
            // Paths as text (lossy): serde refuses a path that is not UTF-8, and `json!` would
            // panic after the file was written.
            json!({"outcome": "written", "file": file.to_string_lossy(), "running": running, "pending": pending,
                   "commit": commit.as_ref().map(commit_json), "warnings": warnings})
        }
        TakeOutcome::Unchanged {
            latest,
            commit,
            warnings,
        } => {
            json!({"outcome": "unchanged", "latest": latest.to_string_lossy(), "commit": commit.as_ref().map(commit_json),
                   "warnings": warnings})
        }
        TakeOutcome::SlotTaken { latest, host } => {
            json!({"outcome": "slot_taken", "latest": latest.to_string_lossy(), "host": host})
        }
    }
}

/// What `--json` says of a commit.
fn commit_json(commit: &CommitOutcome) -> serde_json::Value {
    use serde_json::json;
    match commit {
        CommitOutcome::Committed(id) => json!({"status": "committed", "commit": id}),
        CommitOutcome::NothingToCommit => json!({"status": "nothing_to_commit"}),
        CommitOutcome::NotARepository => json!({"status": "not_a_repository"}),
        CommitOutcome::Skipped(why) => json!({"status": "skipped", "warning": why}),
    }
}

/// `labtrail snapshot cron`: the three recipes, each with how to install it.
fn cron(args: &CronArgs) -> anyhow::Result<i32> {
    let period = crate::spec::parse_duration(&args.every)
        .map_err(|e| UsageError(format!("--every: {e}")))?;
    let minutes = u32::try_from(period.as_secs() / 60).unwrap_or(0);
    if period.as_secs() % 60 != 0 {
        return Err(UsageError("--every: cron counts whole minutes (e.g. 15m, 1h)".into()).into());
    }
    crate::snapshot::cron::schedule(minutes).map_err(|e| UsageError(format!("--every: {e}")))?;
    let exe = std::env::current_exe()?;
    let workdir = std::env::current_dir()?;
    let dir = absolute(&args.dir)?;
    // The recipes log into the folder: scrontab's `--output` cannot make it.
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create the snapshot folder {}: {e}", dir.display()))?;
    let r = crate::snapshot::cron::recipes(&exe, &workdir, &dir, args.commit, minutes);
    say!("# crontab (crontab -e, then add this line):");
    say!("{}", r.crontab);
    say!("");
    say!("# systemd user timer: ~/.config/systemd/user/labtrail-snapshot.service");
    say!("{}", r.systemd_service);
    say!("# ~/.config/systemd/user/labtrail-snapshot.timer");
    say!("{}", r.systemd_timer);
    say!("# then: systemctl --user daemon-reload && systemctl --user enable --now labtrail-snapshot.timer");
    say!("# (and `loginctl enable-linger` so that it runs while you are logged out)");
    say!("");
    say!("# scrontab (SLURM's cron, where cron is not allowed on login nodes: scrontab -e):");
    say!("{}", r.scrontab);
    Ok(0)
}

// ---- until the collect lane's flags land (it replaces this with the real `overrides`) ----

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;

    /// Issue 13: the flags reach the configuration's overrides; the global `--store` is the store.
    #[test]
    fn flags_become_overrides() {
        let cli = Cli::try_parse_from([
            "labtrail",
            "--store",
            "s/.labtrail",
            "snapshot",
            "--flags",
            "w/*.flag",
            "--measure",
            "work=/scratch/w",
            "--jobs",
            "^mono",
            "--cross-mounts",
        ])
        .unwrap();
        let g = super::Global::from(&cli);
        let Command::Snapshot(args) = cli.command else {
            panic!("not snapshot")
        };
        let o = super::overrides(&g, &args);
        assert_eq!(o.flags, ["w/*.flag"]);
        assert_eq!(o.measure, [("work".to_string(), "/scratch/w".into())]);
        assert_eq!(o.jobs, Some(super::JobScope::NamePattern("^mono".into())));
        assert_eq!(o.stores, [std::path::PathBuf::from("s/.labtrail")]);
        assert!(o.cross_mounts);
        let bad = Cli::try_parse_from(["labtrail", "snapshot", "--measure", "nopath"]);
        assert!(bad.unwrap_err().to_string().contains("is not NAME=PATH"));
        let bad = Cli::try_parse_from(["labtrail", "snapshot", "--jobs", "(x"]);
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("not `mine`, `all` or a valid"));
    }
}
