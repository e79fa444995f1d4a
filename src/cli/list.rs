//! `labtrail list`: the runs in the store.

use super::output::{print_json, table, Global};
use crate::report;
use crate::report::runs::Progress;

/// List the runs in the store, oldest first.
///
/// Examples:
///   labtrail list
///   labtrail list --json | jq -r '.[] | select(.done < .total) | .id'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ListArgs {
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn run(g: &Global, args: ListArgs) -> anyhow::Result<i32> {
    let store = g.open_store()?;
    let runs = report::runs::list(&store)?;
    if args.json {
        print_json(&runs)?;
        return Ok(0);
    }
    if runs.is_empty() {
        say!("no runs yet: start one with `labtrail run EXPERIMENT.toml`");
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.id.clone(),
                r.experiment.clone(),
                r.created_at.clone(),
                format!("{}/{}", r.done, r.total),
                r.failed.to_string(),
                Progress::of(r).as_str().to_string(),
            ]
        })
        .collect();
    table(
        &["RUN", "EXPERIMENT", "CREATED", "DONE", "FAILED", "STATE"],
        &rows,
    );
    Ok(0)
}
