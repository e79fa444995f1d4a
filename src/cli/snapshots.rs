//! `labtrail snapshots`: the timeline and questions over the snapshot history; `reindex`;
//! `prune` (in `snapshots_prune.rs`).

use super::output::{print_json, Global, UsageError};
use super::snapshots_print as print;
use crate::app::snapshots_index::{open_current, reindex, Freshness};
use crate::app::snapshots_index_fresh::{folder_writable, rebuild};
use crate::report::snapshots::{self as q, parse_when, Range, SnapshotQueryError};
use crate::store::snapshot_index::{IndexDbError, SnapshotIndex};
use std::path::PathBuf;

/// Query the snapshot history: a timeline, what ran at a time, a job's lifetime, a flag's
/// arrival, an experiment's course.
///
/// The queries read the folder's index (`.snapshot-index.db`), which they first bring up to
/// date with the snapshot files (rebuilt when missing or damaged). Times are RFC 3339, a local
/// `2026-01-27 18:00`, a date, `now`, `today 18:00` or `yesterday 18:00`.
///
/// Examples:
///   labtrail snapshots                              # timeline: running, pending, flags, disk
///   labtrail snapshots --since 2026-01-20 --until 2026-01-27
///   labtrail snapshots --at "2026-01-27 18:00"      # what ran then (nearest snapshot before)
///   labtrail snapshots --job 23293371               # first/last seen, states, node, runtime, end
///   labtrail snapshots --flag stage_1_data_prep_complete.flag
///   labtrail snapshots --experiment mono_s2s --stages 5   # start, stages, what else ran, ETA
///   labtrail snapshots --json --at now | jq '.running[].job_id'
///   labtrail snapshots reindex                      # rebuild the index from the JSON files
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
pub struct SnapshotsArgs {
    /// The snapshot folder.
    #[arg(long, default_value = "experiment_snapshots", value_name = "DIR")]
    pub dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// What the queue held at TIME (the nearest snapshot at or before it, and how old it was).
    #[arg(long, value_name = "TIME", group = "query")]
    pub at: Option<String>,
    /// A job's lifetime (an array's id: each element's).
    #[arg(long, value_name = "ID", group = "query")]
    pub job: Option<String>,
    /// When a completion flag (path or file name) first appeared.
    #[arg(long, value_name = "NAME", group = "query")]
    pub flag: Option<String>,
    /// An experiment's course: start, duration, stages and when each completed, what else ran,
    /// failed jobs, and the estimated completion with its basis.
    #[arg(long, value_name = "NAME", group = "query")]
    pub experiment: Option<String>,
    /// The experiment's number of stages, for the estimate (when the snapshots do not say).
    #[arg(long, value_name = "N", requires = "experiment")]
    pub stages: Option<u64>,
    /// Timeline from TIME (inclusive).
    #[arg(long, value_name = "TIME", conflicts_with = "query")]
    pub since: Option<String>,
    /// Timeline up to TIME (a date includes that whole day).
    #[arg(long, value_name = "TIME", conflicts_with = "query")]
    pub until: Option<String>,
    /// Timeline rows to show, newest last (0: all).
    #[arg(long, default_value_t = 50, value_name = "N", conflicts_with = "query")]
    pub limit: usize,
    #[command(subcommand)]
    pub command: Option<SnapshotsCommand>,
}

/// `labtrail snapshots` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SnapshotsCommand {
    /// Rebuild the index from the snapshot files.
    Reindex(ReindexArgs),
    /// Remove old snapshots by retention rules (a dry run unless --apply).
    Prune(super::snapshots_prune::PruneArgs),
}

/// `labtrail snapshots reindex`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The index (.snapshot-index.db in the folder) is derived from the snapshot files, which stay the source of truth; queries catch up with new files by themselves. Rebuild it by hand after editing files, or to check that every file still reads.\n\nExamples:\n  labtrail snapshots reindex\n  labtrail snapshots reindex --dir /proj/experiment_snapshots --json"
)]
pub struct ReindexArgs {
    /// The snapshot folder.
    #[arg(long, default_value = "experiment_snapshots", value_name = "DIR")]
    pub dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `labtrail snapshots`.
pub fn run(g: &Global, args: SnapshotsArgs) -> anyhow::Result<i32> {
    match args.command {
        Some(SnapshotsCommand::Prune(p)) => super::snapshots_prune::run(g, p),
        Some(SnapshotsCommand::Reindex(r)) => run_reindex(r),
        None => query(g, args).map_err(|e| match e.downcast::<SnapshotQueryError>() {
            Ok(SnapshotQueryError::Index(i)) => anyhow::Error::new(i),
            Ok(asker) => anyhow::Error::new(UsageError(asker.to_string())),
            Err(other) => other,
        }),
    }
}

fn run_reindex(r: ReindexArgs) -> anyhow::Result<i32> {
    if r.dir.is_dir() && !folder_writable(&r.dir) {
        return Err(anyhow::Error::new(UsageError(format!(
            "{} is not writable, so its index cannot be kept there; queries still answer (each builds a temporary index)",
            super::terminal::escape(&r.dir.display().to_string())
        ))));
    }
    let summary = reindex(&r.dir)?;
    for why in &summary.skipped {
        tell!("warning: skipped {}", super::terminal::escape(why));
    }
    if r.json {
        print_json(&serde_json::json!({
            "indexed": summary.indexed,
            "skipped": summary.skipped,
        }))?;
    } else {
        say!(
            "indexed {} snapshots in {}{}",
            summary.indexed,
            super::terminal::escape(&r.dir.display().to_string()),
            if summary.skipped.is_empty() {
                String::new()
            } else {
                format!(" ({} files skipped)", summary.skipped.len())
            }
        );
    }
    Ok(0)
}

fn query(g: &Global, a: SnapshotsArgs) -> anyhow::Result<i32> {
    let (index, fresh) = open_current(&a.dir)?;
    let (index, fresh) = match answer(&index, &a) {
        // Damage the freshness check cannot see (a corrupt page in a table it does not read)
        // shows only now: rebuild from the files once and ask again.
        Err(e) if is_damaged(&e) => {
            drop(index);
            rebuild(&a.dir, Freshness::default())?
        }
        done => {
            tell_fresh(g, &fresh);
            return done;
        }
    };
    tell_fresh(g, &fresh);
    answer(&index, &a)
}

fn is_damaged(e: &anyhow::Error) -> bool {
    let code = match e.downcast_ref::<SnapshotQueryError>() {
        Some(SnapshotQueryError::Index(IndexDbError::Sql { source, .. })) => {
            source.sqlite_error_code()
        }
        _ => None,
    };
    matches!(
        code,
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

fn tell_fresh(g: &Global, fresh: &Freshness) {
    if !g.quiet && fresh.temporary {
        tell!("(the snapshot folder is not writable: its index was built in a temporary place for this query)");
    } else if !g.quiet && fresh.rebuilt {
        tell!("(the snapshot index was rebuilt from the files)");
    }
    for why in &fresh.skipped {
        tell!("warning: skipped {}", super::terminal::escape(why));
    }
}

fn answer(index: &SnapshotIndex, a: &SnapshotsArgs) -> anyhow::Result<i32> {
    if let Some(t) = &a.at {
        let view = q::at(index, parse_when("--at", t, false)?)?;
        return print::emit(a.json, &view, print::at);
    }
    if let Some(id) = &a.job {
        let lives = q::job(index, id)?;
        return print::emit(a.json, &lives, |l: &Vec<_>| print::jobs(l));
    }
    if let Some(name) = &a.flag {
        let flags = q::flag(index, name)?;
        return print::emit(a.json, &flags, |f: &Vec<_>| print::flags(f));
    }
    if let Some(name) = &a.experiment {
        let course = q::experiment(index, name, a.stages)?;
        return print::emit(a.json, &course, print::experiment);
    }
    let range = Range {
        from: a
            .since
            .as_deref()
            .map(|t| parse_when("--since", t, false))
            .transpose()?,
        to: a
            .until
            .as_deref()
            .map(|t| parse_when("--until", t, true))
            .transpose()?,
    };
    let timeline = q::timeline(index, range, a.limit)?;
    print::emit(a.json, &timeline, print::timeline)
}
