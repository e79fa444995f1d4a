//! What `labtrail results` prints, given what was asked: the records of one stage or all,
//! grouped or not, sorted or not, in one format. The CLI parses the flags and prints the
//! notes; the decisions are here.

use super::aggregate::{Aggregator, Grouped};
use super::stats::Agg;
use super::table::{Table, UnknownColumn};
use super::{ResultSource, Results};
use crate::store::StoreError;
use std::io::{self, Write};

/// How the results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Aligned columns for a terminal, cut to this width when known.
    Table(Option<usize>),
    /// A GitHub Markdown table.
    Markdown,
    /// CSV (RFC 4180).
    Csv,
    /// One JSON array.
    Json,
    /// One JSON value per line.
    Jsonl,
}

/// What was asked besides the format.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Group by these parameters (none: one row per task).
    pub group_by: Vec<String>,
    /// The statistics of each group (empty: mean, std, count).
    pub aggs: Vec<Agg>,
    /// Sort by this column (a parameter, a result key, `KEY:AGG`).
    pub sort: Option<String>,
    /// Sort largest first.
    pub desc: bool,
}

/// The default statistics of a group.
pub const DEFAULT_AGGS: [Agg; 3] = [Agg::Mean, Agg::Std, Agg::Count];

/// A question about results that cannot be answered as asked (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// `--sort` names no column.
    #[error(transparent)]
    UnknownColumn(#[from] UnknownColumn),
    /// `--group-by` names a parameter no done task has.
    #[error("--group-by {}: no done task of run {run} has {}; parameters: {}", unknown.join(","), if unknown.len() == 1 { "this parameter" } else { "these parameters" }, if params.is_empty() { "none".to_string() } else { params.join(", ") })]
    UnknownParam {
        /// The run.
        run: String,
        /// The names not found.
        unknown: Vec<String>,
        /// The parameters there are.
        params: Vec<String>,
    },
    /// Writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// Reading the results failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`write_source`] wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// Notes for the reader (on stderr): what a table left out and why.
    pub notes: Vec<String>,
    /// Whether no record was there to write (known for the table and Markdown, which say so).
    pub none: bool,
}

/// Writes the results `source` reads as asked (issue 15): one row per task streams in every
/// format (one record in memory; the table and CSV read the run twice, the columns first);
/// `--sort` sorts the keys (in memory for a small run, else in a temporary database), then
/// reads the records back in that order ([`super::sort`]); grouped results hold one entry per
/// group.
pub fn write_source(
    source: &ResultSource,
    query: &Query,
    layout: Layout,
    out: &mut impl Write,
) -> Result<Written, ViewError> {
    // One snapshot: CSV's second pass has the rows its first pass made the columns for.
    source
        .store
        .read_snapshot(|| write_snapshot(source, query, layout, out))
}

fn write_snapshot(
    source: &ResultSource,
    query: &Query,
    layout: Layout,
    out: &mut impl Write,
) -> Result<Written, ViewError> {
    if !query.group_by.is_empty() {
        let mut fold = Aggregator::new(query.group_by.clone());
        source.each(|r| {
            fold.add(&r);
            Ok::<_, ViewError>(())
        })?;
        let grouped = fold.finish();
        let none = grouped.groups.is_empty();
        let notes = write_grouped(&source.run, &grouped, query, layout, out)?;
        return Ok(Written { notes, none });
    }
    let (order, sorted);
    let rows = match &query.sort {
        Some(name) => {
            order = super::sort::sorted(source, name, query.desc)?;
            sorted = source.in_order(&order);
            &sorted
        }
        None => source,
    };
    let (notes, none) = match layout {
        Layout::Table(width) => super::record_table::write(source, rows, Some(width), out)?,
        Layout::Markdown => super::record_table::write(source, rows, None, out)?,
        Layout::Csv => (
            super::csv::write_source(rows, out).map(|()| Vec::new())?,
            false,
        ),
        Layout::Json => (
            super::json::write_source(rows, out).map(|()| Vec::new())?,
            false,
        ),
        Layout::Jsonl => (
            super::jsonl::write_source(rows, out).map(|()| Vec::new())?,
            false,
        ),
    };
    Ok(Written { notes, none })
}

/// Writes `results` as asked and returns notes for the reader (on stderr): what a table left
/// out and why.
pub fn write(
    results: &Results,
    query: &Query,
    layout: Layout,
    out: &mut impl Write,
) -> Result<Vec<String>, ViewError> {
    if query.group_by.is_empty() {
        return write_records(results, query, layout, out);
    }
    let grouped = Grouped::of(query.group_by.clone(), &results.records);
    write_grouped(&results.run, &grouped, query, layout, out)
}

/// One row per group of `run`'s tasks.
fn write_grouped(
    run: &str,
    grouped: &Grouped,
    query: &Query,
    layout: Layout,
    out: &mut impl Write,
) -> Result<Vec<String>, ViewError> {
    let aggs: &[Agg] = if query.aggs.is_empty() {
        &DEFAULT_AGGS
    } else {
        &query.aggs
    };
    let unknown = grouped.unknown_params();
    if !unknown.is_empty() && !grouped.groups.is_empty() {
        return Err(ViewError::UnknownParam {
            run: run.to_string(),
            unknown: unknown.iter().map(|s| s.to_string()).collect(),
            params: grouped.params.clone(),
        });
    }
    let mut table = Table::of_groups(grouped, aggs);
    let order = match &query.sort {
        Some(name) => table.order_by(name, query.desc)?,
        None => (0..table.rows.len()).collect(),
    };
    table.reorder(&order);
    let mut notes = Vec::new();
    if grouped.several_stages() {
        notes.push(format!(
            "groups are per stage ({}): --stage STAGE shows one",
            grouped.stages.join(", ")
        ));
    }
    if !grouped.not_numeric.is_empty() {
        notes.push(format!(
            "not aggregated (no numbers): {}",
            grouped.not_numeric.join(", ")
        ));
    }
    for key in &grouped.numeric {
        let skipped: u64 = grouped
            .groups
            .iter()
            .filter_map(|g| g.stats.get(key))
            .map(|s| s.nonfinite)
            .sum();
        if skipped > 0 {
            notes.push(format!(
                "{key}: {skipped} NaN or infinite value(s) left out of the statistics (column {key}:nonfinite)"
            ));
        }
    }
    match layout {
        Layout::Table(width) => super::text::write(&table, width, out)?,
        Layout::Markdown => super::markdown::write(&table, out)?,
        Layout::Csv => super::csv::write_table(&table, out)?,
        Layout::Json => super::json::write_groups(grouped, aggs, &order, out)?,
        Layout::Jsonl => super::jsonl::write_groups(grouped, aggs, &order, out)?,
    }
    Ok(notes)
}

/// One row per task.
fn write_records(
    results: &Results,
    query: &Query,
    layout: Layout,
    out: &mut impl Write,
) -> Result<Vec<String>, ViewError> {
    let mut table = Table::of_records(results);
    let sorted;
    let results = match &query.sort {
        Some(name) => {
            let order = table.order_by(name, query.desc)?;
            table.reorder(&order);
            sorted = Results {
                run: results.run.clone(),
                records: order.iter().map(|&i| results.records[i].clone()).collect(),
            };
            &sorted
        }
        None => results,
    };
    let mut notes = Vec::new();
    match layout {
        Layout::Table(_) | Layout::Markdown => {
            let same = table.drop_constant_columns();
            if !same.is_empty() {
                notes.push(format!("same in every row: {}", same.join(" ")));
            }
            match layout {
                Layout::Table(width) => super::text::write(&table, width, out)?,
                _ => super::markdown::write(&table, out)?,
            }
        }
        Layout::Csv => super::csv::write(results, out)?,
        Layout::Json => super::json::write(results, out)?,
        Layout::Jsonl => super::jsonl::write(results, out)?,
    }
    Ok(notes)
}
