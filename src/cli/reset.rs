//! `labtrail reset`: mark tasks to be run again.

use super::output::Global;
use crate::app;

/// Mark tasks to be run again by the next `labtrail run`, the way one deletes a checkpoint file.
///
/// Their earlier attempts, logs and results stay in the attempt history. Refused while a runner
/// holds the run.
///
/// Examples:
///   labtrail reset rep=spectral,layers=all_layers
///   labtrail reset 3f2a9c01
///   labtrail reset --failed        # failed and blocked tasks
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ResetArgs {
    /// Tasks: keys or prefixes, labels, or filters like `rep=stats`.
    pub tasks: Vec<String>,
    /// Every failed or blocked task.
    #[arg(long)]
    pub failed: bool,
    /// Every task of the run.
    #[arg(long, conflicts_with = "failed")]
    pub all: bool,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
}

pub fn run(g: &Global, args: ResetArgs) -> anyhow::Result<i32> {
    let mut store = g.open_store()?;
    let run = store.resolve_run(args.run.as_deref())?;
    let request = app::reset::ResetRequest {
        tasks: args.tasks,
        failed: args.failed,
        all: args.all,
    };
    let n = app::reset::reset(&mut store, &run, &request)?;
    println!("reset {n} task(s) of run {run}; `labtrail run EXPERIMENT.toml` will run them again");
    Ok(0)
}
