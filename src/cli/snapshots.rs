//! `labtrail snapshots`: the timeline and questions over the snapshot history; `reindex`;
//! `prune` (in `snapshots_prune.rs`).

use super::output::Global;
use std::path::PathBuf;

/// Query the snapshot history: a timeline, what ran at a time, a job's lifetime, a flag's
/// arrival, an experiment's course.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment, args_conflicts_with_subcommands = true)]
pub struct SnapshotsArgs {
    /// The snapshot folder.
    #[arg(long, default_value = "experiment_snapshots", value_name = "DIR")]
    pub dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
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
pub struct ReindexArgs {
    /// The snapshot folder.
    #[arg(long, default_value = "experiment_snapshots", value_name = "DIR")]
    pub dir: PathBuf,
}

/// Runs `labtrail snapshots`.
pub fn run(g: &Global, args: SnapshotsArgs) -> anyhow::Result<i32> {
    match args.command {
        Some(SnapshotsCommand::Prune(p)) => super::snapshots_prune::run(g, p),
        Some(SnapshotsCommand::Reindex(r)) => {
            let _ = r;
            todo!("lane C")
        }
        None => todo!("lane C"),
    }
}
