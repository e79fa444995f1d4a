//! `results --sort COLUMN` of one row per task without holding the rows (issue 15): a first
//! pass finds the columns (to know which one `COLUMN` names, as the table does), a second
//! keeps each task's key and its cell in that column, and the tasks are then read back one at a
//! time in the sorted order ([`ResultSource::in_order`]). What is held is a key and one cell per
//! task, not the records; the order is [`Table::order_by`]'s.

use super::aggregate::result_fields;
use super::cell::{Cell, Num};
use super::table::Table;
use super::view::ViewError;
use super::{ResultRecord, ResultSource};

/// Where the sorted column's cell comes from.
enum Source {
    Stage,
    Param(String),
    Field(String),
}

/// The keys of `source`'s records sorted by column `name` (largest first with `desc`), in the
/// order [`Table::order_by`] puts the rows of [`Table::of_records`]: stable, missing values
/// last, each stage's rows together (stages in plan order) when there are several.
pub fn sorted_keys(
    source: &ResultSource,
    name: &str,
    desc: bool,
) -> Result<Vec<String>, ViewError> {
    let mut params: Vec<String> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut stages: Vec<String> = Vec::new();
    source.each(|r| {
        for k in r.params.as_object().into_iter().flat_map(|o| o.keys()) {
            if !params.contains(k) {
                params.push(k.clone());
            }
        }
        for (k, _) in result_fields(&r.result) {
            if !fields.iter().any(|f| f == k) {
                fields.push(k.to_string());
            }
        }
        if !stages.contains(&r.stage) {
            stages.push(r.stage.clone());
        }
        Ok::<_, ViewError>(())
    })?;
    let with_stage = stages.len() > 1;
    let mut header: Vec<String> = Vec::new();
    let mut sources: Vec<Source> = Vec::new();
    if with_stage {
        header.push("stage".into());
        sources.push(Source::Stage);
    }
    for p in &params {
        header.push(p.clone());
        sources.push(Source::Param(p.clone()));
    }
    for f in &fields {
        let clash = params.contains(f) || (with_stage && f == "stage");
        header.push(if clash {
            format!("result.{f}")
        } else {
            f.clone()
        });
        sources.push(Source::Field(f.clone()));
    }
    let table = Table {
        is_param: vec![false; header.len()],
        header,
        rows: Vec::new(),
        grouped: false,
    };
    let column = &sources[table.column(name)?];
    let mut keyed: Vec<(usize, Cell, String)> = Vec::new();
    source.each(|r| {
        let rank = match with_stage {
            true => stages.iter().position(|s| *s == r.stage).unwrap_or(0),
            false => 0,
        };
        let cell = sort_cell(cell_of(&r, column));
        keyed.push((rank, cell, r.key));
        Ok::<_, ViewError>(())
    })?;
    // Stable: ties keep plan order, as the table's sort does.
    keyed.sort_by(|(ra, a, _), (rb, b, _)| ra.cmp(rb).then_with(|| a.order(b, desc)));
    Ok(keyed.into_iter().map(|(_, _, key)| key).collect())
}

/// The cell of `r` in the column `column`, as [`Table::of_records`] makes it.
fn cell_of(r: &ResultRecord, column: &Source) -> Cell {
    match column {
        Source::Stage => Cell::Text(r.stage.clone()),
        Source::Param(k) => Cell::param(r.params.as_object().and_then(|p| p.get(k))),
        Source::Field(k) => {
            let fields = result_fields(&r.result);
            Cell::of(fields.iter().find(|(f, _)| f == k).map(|(_, v)| *v))
        }
    }
}

/// What [`Cell::order`] compares of a cell: a number's text is dropped (it sorts by value).
fn sort_cell(cell: Cell) -> Cell {
    match cell {
        Cell::Num(n) => Cell::Num(Num {
            value: n.value,
            exact: String::new(),
            as_written: false,
        }),
        other => other,
    }
}
