//! `labtrail events`: the append-only log of every state change of a run.

use super::output::{print_json, table, Global};
use crate::report::events::EventLog;
use std::path::PathBuf;

/// Show a run's event log: every start, end, retry, block, reset and stop, in order.
///
/// Examples:
///   labtrail events
///   labtrail events exp.toml      # the latest run of this experiment
///   labtrail events --json | jq -c 'select(.kind == "finished")'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct EventsArgs {
    /// The experiment file: read its latest run, in the store next to it.
    pub experiment: Option<PathBuf>,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, args: EventsArgs) -> anyhow::Result<i32> {
    let t = g.read_target(args.experiment.as_deref(), args.run.as_deref())?;
    let log = EventLog::load(&t.store, Some(&t.run))?;
    if args.json {
        print_json(&log.events)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = log
        .events
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.kind.clone(),
                e.task_key.clone().unwrap_or_else(|| "-".into()),
                e.detail.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["AT", "EVENT", "TASK", "DETAIL"], &rows);
    Ok(0)
}
