//! `labtrail snapshots prune`.

use super::output::Global;
use std::path::PathBuf;

/// Remove old snapshots: restic's rules, or the seed's policy. A dry run unless --apply.
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct PruneArgs {
    /// The snapshot folder.
    #[arg(long, default_value = "experiment_snapshots", value_name = "DIR")]
    pub dir: PathBuf,
    /// Remove the snapshots the rules do not keep (in one commit when the folder is in git).
    #[arg(long)]
    pub apply: bool,
    /// Print the decisions as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `labtrail snapshots prune`.
pub fn run(g: &Global, args: PruneArgs) -> anyhow::Result<i32> {
    let _ = (g, args);
    todo!("lane D")
}
