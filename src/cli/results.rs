//! `labtrail results`: the merged results of every finished task, one row per task or one per
//! group of tasks, as a table to read or a file to process.

use super::output::Global;
use super::terminal::escape;
use crate::app::UsageError;
use crate::report::results::stats::Agg;
use crate::report::results::view::{self, Layout, Query, ViewError};
use crate::report::results::{ResultSource, UnknownStage};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Print the results of every done task: parameters plus the JSON each task wrote to
/// $LABTRAIL_RESULT.
///
/// On a terminal: an aligned table, one column per parameter (those that vary) and per result
/// key, result numbers to 4 significant digits, parameters as written. Piped or redirected:
/// JSON, as before (`--format` chooses). CSV has one column per parameter and one per top-level
/// result field (nested values are written as JSON).
///
/// --group-by aggregates each numeric result key over the tasks that share the given parameters
/// (the seeds, say): mean, sample std (n-1), count by default. Values that are NaN or infinite
/// are left out and counted (KEY:nonfinite); strings are not numbers. Tasks of different stages
/// are never mixed: with several stages, each stage has its own groups (--stage picks one).
///
/// Examples:
///   labtrail results                                   # a table on a terminal
///   labtrail results --group-by rep,layers --sort val_acc --desc
///   labtrail results --group-by rep --agg mean,std,min,max,count --format md
///   labtrail results --stage train --format csv > train.csv
///   labtrail results --format jsonl | jq -c '{rep: .params.rep, acc: .result.val_acc}'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ResultsArgs {
    /// The experiment file: read its latest run, in the store next to it.
    pub experiment: Option<PathBuf>,
    /// Output format [default: table on a terminal, else json].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Group tasks by these parameters (comma-separated) and aggregate the result keys over
    /// each group.
    #[arg(long, value_delimiter = ',', value_name = "PARAM,...")]
    pub group_by: Vec<String>,
    /// The statistics of each group (comma-separated) [default: mean,std,count].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "AGG,...")]
    pub agg: Vec<Agg>,
    /// Only the tasks of this stage.
    #[arg(long)]
    pub stage: Option<String>,
    /// Sort by a parameter or result key; in a grouped table also `KEY:AGG` (KEY alone: its
    /// mean). Missing values go last; each stage's rows stay together.
    #[arg(long, value_name = "COLUMN")]
    pub sort: Option<String>,
    /// Sort largest first.
    #[arg(long, requires = "sort")]
    pub desc: bool,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
}

/// `--format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns (the default on a terminal).
    Table,
    /// A GitHub Markdown table.
    Md,
    /// CSV, RFC 4180.
    Csv,
    /// One JSON array (the default when piped).
    Json,
    /// One JSON value per line.
    Jsonl,
}

pub fn run(g: &Global, args: ResultsArgs) -> anyhow::Result<i32> {
    if !args.agg.is_empty() && args.group_by.is_empty() {
        return Err(UsageError(
            "--agg needs --group-by: statistics are over groups of tasks".into(),
        )
        .into());
    }
    let t = g.read_target(args.experiment.as_deref(), args.run.as_deref())?;
    let mut source = ResultSource::open(&t.store, Some(&t.run))?;
    if let Some(stage) = &args.stage {
        match source.only_stage(stage) {
            Err(UnknownStage::Store(e)) => return Err(e.into()),
            Err(e) => return Err(UsageError(e.to_string()).into()),
            Ok(()) => {}
        }
    }
    let stdout = std::io::stdout();
    let layout = match args.format {
        Some(Format::Table) => Layout::Table(terminal_width()),
        None if stdout.is_terminal() => Layout::Table(terminal_width()),
        Some(Format::Md) => Layout::Markdown,
        Some(Format::Csv) => Layout::Csv,
        Some(Format::Jsonl) => Layout::Jsonl,
        Some(Format::Json) | None => Layout::Json,
    };
    let query = Query {
        group_by: args.group_by,
        aggs: args.agg,
        sort: args.sort,
        desc: args.desc,
    };
    // Buffered: rows are written as they are read, a line at a time would be a write call each.
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = view::write_source(&source, &query, layout, &mut out).and_then(|w| {
        std::io::Write::flush(&mut out)?;
        Ok(w)
    });
    let view::Written { notes, none } = match written {
        Err(ViewError::Io(e)) => return Err(e.into()),
        Err(ViewError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(UsageError(e.to_string()).into()),
        Ok(w) => w,
    };
    if none && matches!(layout, Layout::Table(_) | Layout::Markdown) && !g.quiet {
        tell!("no done task in run {} yet", escape(&t.run));
    }
    if !g.quiet {
        for n in notes {
            tell!("{}", escape(&n));
        }
    }
    Ok(0)
}

/// The width of the terminal stdout is: `COLUMNS` when set (as `ls` reads it), else the
/// terminal's own size; `None` when neither is known.
fn terminal_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
    {
        return Some(n).filter(|&n| n > 0);
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(terminal_size::Width(w), _)| w as usize)
        .filter(|&w| w > 0)
}
