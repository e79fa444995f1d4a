//! The table of one row per done task (on a terminal, or `--format md`) written in two passes
//! over one read snapshot (issue 15): the first finds the columns, their widths and the
//! parameters that are the same in every row; the second writes each row as it reads it. What
//! is held is one entry per column, never the rows; what is written is what
//! [`super::table::Table::of_records`] and its writers write.

use super::aggregate::result_fields;
use super::cell::Cell;
use super::markdown::{md_cell, write_head, write_row};
use super::text::Aligned;
use super::view::ViewError;
use super::{ResultRecord, ResultSource};
use crate::cli::terminal::escape;
use indexmap::IndexMap;
use std::io::Write;
use unicode_width::UnicodeWidthStr;

/// What one column's cells have in common, gathered one cell at a time.
#[derive(Debug, Default)]
struct ColumnSeen {
    /// Rows with a cell in this column (the others show it missing).
    present: u64,
    /// The widest cell, escaped for the terminal.
    width: usize,
    /// Whether some cell is not a number nor missing (the column is then left-aligned).
    not_numeric: bool,
    /// Whether some cell is a number (Markdown then right-aligns the column).
    any_num: bool,
    /// The first cell, and whether every cell so far equals it.
    first: Option<(Cell, bool)>,
}

impl ColumnSeen {
    fn add(&mut self, cell: Cell) {
        self.present += 1;
        self.width = self.width.max(escape(&cell.short()).width());
        self.not_numeric |= !matches!(cell, Cell::Num(_) | Cell::Missing);
        self.any_num |= cell.is_num();
        match &mut self.first {
            None => self.first = Some((cell, true)),
            Some((first, same)) => *same &= *first == cell,
        }
    }

    /// The value the column has in every one of `rows` rows, when it has one.
    fn constant(&self, rows: u64) -> Option<&Cell> {
        match &self.first {
            Some((cell, true)) if self.present == rows && !matches!(cell, Cell::Missing) => {
                Some(cell)
            }
            _ => None,
        }
    }
}

/// Cells by the name of their column (a parameter's, a result field's), in the record's order.
type Named<'r> = Vec<(&'r str, Cell)>;

/// The cells of one record's row, by column: its stage, each parameter, each result field.
fn cells(r: &ResultRecord) -> (Cell, Named<'_>, Named<'_>) {
    let params = r.params.as_object().into_iter().flatten();
    let params = params.map(|(k, v)| (k.as_str(), Cell::param(Some(v))));
    let fields = result_fields(&r.result).into_iter();
    let fields = fields.map(|(k, v)| (k, Cell::of(Some(v))));
    (
        Cell::Text(r.stage.clone()),
        params.collect(),
        fields.collect(),
    )
}

/// The columns of every record, found one record at a time in plan order (which is the order
/// the columns appear in).
#[derive(Debug, Default)]
struct Shape {
    rows: u64,
    stage: ColumnSeen,
    stages: Vec<String>,
    params: IndexMap<String, ColumnSeen>,
    fields: IndexMap<String, ColumnSeen>,
}

/// One column of the table written: its header and where its cell comes from.
enum Column<'s> {
    Stage(&'s ColumnSeen),
    Param(&'s str, &'s ColumnSeen),
    Field(&'s str, &'s ColumnSeen),
}

impl Shape {
    fn add(&mut self, r: &ResultRecord) {
        self.rows += 1;
        if !self.stages.contains(&r.stage) {
            self.stages.push(r.stage.clone());
        }
        let (stage, params, fields) = cells(r);
        self.stage.add(stage);
        for (k, c) in params {
            self.params.entry(k.to_string()).or_default().add(c);
        }
        for (k, c) in fields {
            self.fields.entry(k.to_string()).or_default().add(c);
        }
    }

    /// The columns shown, with their headers, and the notes on the parameters left out.
    fn columns(&self) -> (Vec<(String, Column<'_>)>, Vec<String>) {
        let with_stage = self.stages.len() > 1;
        let mut shown = Vec::new();
        let mut same = Vec::new();
        if with_stage {
            shown.push(("stage".to_string(), Column::Stage(&self.stage)));
        }
        for (name, seen) in &self.params {
            match seen.constant(self.rows).filter(|_| self.rows >= 2) {
                Some(cell) => same.push(format!("{name}={}", cell.short())),
                None => shown.push((name.clone(), Column::Param(name, seen))),
            }
        }
        for (name, seen) in &self.fields {
            let clash = self.params.contains_key(name) || (with_stage && name == "stage");
            let header = if clash {
                format!("result.{name}")
            } else {
                name.clone()
            };
            shown.push((header, Column::Field(name, seen)));
        }
        let notes = if same.is_empty() {
            Vec::new()
        } else {
            vec![format!("same in every row: {}", same.join(" "))]
        };
        (shown, notes)
    }
}

impl Column<'_> {
    fn seen(&self) -> &ColumnSeen {
        match self {
            Column::Stage(s) | Column::Param(_, s) | Column::Field(_, s) => s,
        }
    }
}

/// Writes one row per done task, as an aligned table cut to `width` (`Some` layout) or as
/// Markdown (`None`), and returns the notes for the reader and whether there was no row. The
/// columns come from `source` read in plan order, the rows from `rows` (the same records,
/// sorted or not). Reads the run twice: call it inside one read snapshot.
pub fn write(
    source: &ResultSource,
    rows: &ResultSource,
    aligned_to: Option<Option<usize>>,
    out: &mut impl Write,
) -> Result<(Vec<String>, bool), ViewError> {
    let mut shape = Shape::default();
    source.each(|r| {
        shape.add(&r);
        Ok::<_, ViewError>(())
    })?;
    if shape.rows == 0 {
        return Ok((Vec::new(), true)); // nothing to show, not even a header (stderr says so)
    }
    let (columns, notes) = shape.columns();
    let row_of = |r: &ResultRecord| -> Vec<Cell> {
        let (stage, params, fields) = cells(r);
        let mut params: IndexMap<&str, Cell> = params.into_iter().collect();
        let mut fields: IndexMap<&str, Cell> = fields.into_iter().collect();
        let mut stage = Some(stage);
        columns
            .iter()
            .map(|(_, c)| match c {
                Column::Stage(_) => stage.take().unwrap_or(Cell::Missing),
                Column::Param(k, _) => params.swap_remove(*k).unwrap_or(Cell::Missing),
                Column::Field(k, _) => fields.swap_remove(*k).unwrap_or(Cell::Missing),
            })
            .collect()
    };
    let missing_somewhere = |s: &ColumnSeen| s.present < shape.rows;
    match aligned_to {
        Some(limit) => {
            let header: Vec<String> = columns
                .iter()
                .map(|(h, _)| escape(h).into_owned())
                .collect();
            let widths = columns.iter().zip(&header).map(|((_, c), h)| {
                let s = c.seen();
                let missing = usize::from(missing_somewhere(s)); // `-`
                s.width.max(missing).max(h.width())
            });
            let numeric = columns.iter().map(|(_, c)| !c.seen().not_numeric);
            let aligned = Aligned::new(widths.collect(), numeric.collect(), limit);
            aligned.line(&header, out)?;
            rows.each(|r| {
                let row: Vec<String> = row_of(&r)
                    .iter()
                    .map(|c| escape(&c.short()).into_owned())
                    .collect();
                Ok::<_, ViewError>(aligned.line(&row, out)?)
            })?;
        }
        None => {
            let header: Vec<String> = columns.iter().map(|(h, _)| h.clone()).collect();
            let any_num: Vec<bool> = columns.iter().map(|(_, c)| c.seen().any_num).collect();
            write_head(&header, &any_num, out)?;
            rows.each(|r| {
                let row = row_of(&r);
                Ok::<_, ViewError>(write_row(row.iter().map(|c| md_cell(&c.short())), out)?)
            })?;
        }
    }
    Ok((notes, false))
}
