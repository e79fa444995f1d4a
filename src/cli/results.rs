//! `labtrail results`: the merged results of every finished task.

use super::output::Global;
use crate::report::results::{self, Results};
use std::path::PathBuf;

/// Print the results of every done task: parameters plus the JSON each task wrote to
/// $LABTRAIL_RESULT.
///
/// CSV has one column per parameter and one per top-level result field (nested values are
/// written as JSON).
///
/// Examples:
///   labtrail results --format csv > results.csv
///   labtrail results exp.toml            # the latest run of this experiment
///   labtrail results --format jsonl | jq -c '{rep: .params.rep, acc: .result.val_acc}'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ResultsArgs {
    /// The experiment file: read its latest run, in the store next to it.
    pub experiment: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Jsonl,
    Csv,
}

pub fn run(g: &Global, args: ResultsArgs) -> anyhow::Result<i32> {
    let t = g.read_target(args.experiment.as_deref(), args.run.as_deref())?;
    let results = Results::load(&t.store, Some(&t.run))?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => results::json::write(&results, &mut out)?,
        Format::Jsonl => results::jsonl::write(&results, &mut out)?,
        Format::Csv => results::csv::write(&results, &mut out)?,
    }
    Ok(0)
}
