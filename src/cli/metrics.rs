//! `labtrail metrics`: a task's metric stream, or its summary per key.

use super::output::{is_experiment_file, Global};
use super::terminal::escape;
use crate::report::metrics::view::{MetricsView, Row};
use crate::report::results::csv::csv_cell;
use crate::report::QueryError;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

/// Print the metrics a task wrote to $LABTRAIL_METRICS (the latest attempt unless --attempt),
/// or with --summary each key's final and best value.
///
/// One row per record: its step (`step`, `global_step`, `iter`, ... or `epoch`), then a column
/// per key in the order the keys first appear (or the --key ones). TASK names one task, as for
/// `labtrail logs`. The summary's best is the smallest value for names like loss, ppl, err,
/// wer, cer and the largest for acc, f1, bleu, rouge, auc, map, precision, recall; `[archive]
/// minimize = [...]` / `maximize = [...]` in the experiment file decide for other names.
///
/// Examples:
///   labtrail metrics train/lr=0.1                  # a table: step, loss, acc, ...
///   labtrail metrics train/lr=0.1 --key loss --key val_acc --format csv > curve.csv
///   labtrail metrics train/lr=0.1 --summary        # final, best, step of best, NaN count, steps/s
///   labtrail metrics train/lr=0.1 --format json | jq '.[] | .loss'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct MetricsArgs {
    /// The task: label, key or prefix, or a filter like `lr=0.1` (it must name one task).
    pub task: String,
    /// The experiment file: read its latest run, in the store next to it.
    pub experiment: Option<PathBuf>,
    /// Only these keys (repeat for several).
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Which attempt (default: the latest).
    #[arg(long)]
    pub attempt: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Print one line per key: count, final value and its step, best value and its step, NaN
    /// count, steps per second and step time (when records carry `time`, `t` or `timestamp`).
    #[arg(long)]
    pub summary: bool,
    /// The run (default: the latest).
    #[arg(long)]
    pub run: Option<String>,
}

/// How `labtrail metrics` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// A header, then one line per record.
    Csv,
    /// A JSON array of the records (or of the summaries).
    Json,
    /// One JSON record per line, as the task wrote it.
    Jsonl,
}

pub fn run(g: &Global, args: MetricsArgs) -> anyhow::Result<i32> {
    let (task, experiment) = match args.experiment {
        Some(e) if is_experiment_file(&args.task) => {
            (e.display().to_string(), Some(PathBuf::from(&args.task)))
        }
        e => (args.task.clone(), e),
    };
    let t = g.read_target(experiment.as_deref(), args.run.as_deref())?;
    let store = t.store;
    let view = match MetricsView::load(&store, Some(&t.run), &task, args.attempt) {
        Err(QueryError::Ambiguous { query, matches }) => {
            return Ok(super::logs::ask_for_one(&query, &matches))
        }
        view => view?,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.summary {
        let mut all = view.summaries(&store)?;
        if !args.keys.is_empty() {
            all.retain(|s| args.keys.contains(&s.key));
        }
        summary::write(&all, args.format, &mut out)?;
        out.flush()?;
        return Ok(0);
    }
    let columns = view.columns(&store, &args.keys)?;
    match args.format {
        Format::Table | Format::Csv => {
            let table = args.format == Format::Table;
            let widths: Vec<usize> = columns.iter().map(|c| width(c, table)).collect();
            let header: Vec<String> = std::iter::once("step".to_string())
                .chain(columns.iter().cloned())
                .collect();
            write_row(
                &mut out,
                table,
                &widths,
                &header.iter().map(|h| Some(h.as_str())).collect::<Vec<_>>(),
            )?;
            view.rows(&store, &columns, |r: &Row| {
                let cells: Vec<Option<&str>> = std::iter::once(r.step.as_deref())
                    .chain(r.cells.iter().map(|c| c.as_deref()))
                    .collect();
                write_row(&mut out, table, &widths, &cells)
            })?;
        }
        Format::Json => {
            let mut first = true;
            write!(out, "[")?;
            view.records(&store, &args.keys, |rec: &str| {
                write!(out, "{}\n  {rec}", if first { "" } else { "," })?;
                first = false;
                Ok::<_, anyhow::Error>(())
            })?;
            writeln!(out, "{}]", if first { "" } else { "\n" })?;
        }
        Format::Jsonl => view.records(&store, &args.keys, |rec: &str| {
            writeln!(out, "{rec}")?;
            Ok::<_, anyhow::Error>(())
        })?,
    }
    out.flush()?;
    Ok(0)
}

/// A table column is as wide as its name, and at least 10 (most numbers fit).
fn width(name: &str, table: bool) -> usize {
    if table {
        escape(name).chars().count().max(10)
    } else {
        0
    }
}

/// A number in at most 6 significant digits for the table (CSV and JSON keep every digit);
/// anything else as it is.
fn short(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() && cell.contains(['.', 'e', 'E']) => {
            let rounded: f64 = format!("{v:.5e}").parse().unwrap_or(v);
            if rounded != 0.0 && !(1e-4..1e15).contains(&rounded.abs()) {
                format!("{rounded:e}").into()
            } else {
                rounded.to_string().into()
            }
        }
        _ => cell.into(),
    }
}

/// One line of the table (the step column 8 wide, the others `widths`) or of the CSV.
fn write_row(
    out: &mut impl Write,
    table: bool,
    widths: &[usize],
    cells: &[Option<&str>],
) -> anyhow::Result<()> {
    if !table {
        let line: Vec<String> = cells
            .iter()
            .map(|c| csv_cell(&c.map_or(Value::Null, |s| Value::String(s.to_string()))))
            .collect();
        writeln!(out, "{}", line.join(","))?;
        return Ok(());
    }
    let mut line = String::new();
    for (i, c) in cells.iter().enumerate() {
        let w = if i == 0 { 8 } else { widths[i - 1] };
        let text = escape(c.map(short).unwrap_or_default().as_ref()).into_owned();
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(&format!("{text:>w$}"));
    }
    writeln!(out, "{}", line.trim_end())?;
    Ok(())
}

mod summary {
    use super::{escape, Format};
    use crate::report::archive::model::MetricSummary;
    use crate::report::results::csv::csv_cell;
    use serde_json::Value;
    use std::io::Write;

    const HEADER: [&str; 11] = [
        "key",
        "count",
        "last",
        "last_step",
        "best",
        "best_step",
        "direction",
        "nan",
        "steps_per_s",
        "step_time_mean_s",
        "step_time_p95_s",
    ];

    fn num(v: Option<f64>) -> String {
        v.map(|v| format!("{}", (v * 1e6).round() / 1e6))
            .unwrap_or_default()
    }

    fn cells(s: &MetricSummary) -> [String; 11] {
        [
            s.key.clone(),
            s.count.to_string(),
            num(s.last),
            num(s.last_step),
            num(s.best),
            num(s.best_step),
            s.direction.clone(),
            s.nan_count.to_string(),
            num(s.steps_per_s),
            num(s.step_time_mean_s),
            num(s.step_time_p95_s),
        ]
    }

    /// The summaries as a table, CSV, a JSON array or JSON lines.
    pub fn write(
        all: &[MetricSummary],
        format: Format,
        out: &mut impl Write,
    ) -> anyhow::Result<()> {
        match format {
            Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(all)?)?,
            Format::Jsonl => {
                for s in all {
                    writeln!(out, "{}", serde_json::to_string(s)?)?;
                }
            }
            Format::Csv => {
                writeln!(out, "{}", HEADER.join(","))?;
                for s in all {
                    let row: Vec<String> = cells(s)
                        .into_iter()
                        .map(|c| csv_cell(&Value::String(c)))
                        .collect();
                    writeln!(out, "{}", row.join(","))?;
                }
            }
            Format::Table => {
                let rows: Vec<[String; 11]> = all
                    .iter()
                    .map(|s| cells(s).map(|c| escape(&c).into_owned()))
                    .collect();
                let mut widths = HEADER.map(str::len);
                for r in &rows {
                    for (w, c) in widths.iter_mut().zip(r) {
                        *w = (*w).max(c.chars().count());
                    }
                }
                let header = HEADER.map(str::to_string);
                for r in std::iter::once(&header).chain(&rows) {
                    let line: Vec<String> = r
                        .iter()
                        .zip(widths)
                        .enumerate()
                        .map(|(i, (c, w))| {
                            if i == 0 {
                                format!("{c:<w$}")
                            } else {
                                format!("{c:>w$}")
                            }
                        })
                        .collect();
                    writeln!(out, "{}", line.join("  ").trim_end())?;
                }
            }
        }
        Ok(())
    }
}
