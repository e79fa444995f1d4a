//! `results --sort COLUMN` of one row per task without holding the rows (issue 15): a first
//! pass finds the columns (to know which one `COLUMN` names, as the table does) and counts the
//! rows, a second sorts each task's key by its cell in that column, and the tasks are then read
//! back one at a time in the sorted order ([`ResultSource::in_order`]). A run of up to
//! [`IN_MEMORY_ROWS`] rows is sorted in memory (a key and a cell per task); a larger one in a
//! temporary database ([`Spill`]), by a byte key that sorts as the cells do
//! ([`super::sort_key`]): memory then does not grow with the run. The order is
//! [`Table::order_by`]'s either way.

use super::aggregate::result_fields;
use super::cell::{Cell, Num};
use super::sort_key::encode;
use super::spill::Spill;
use super::table::Table;
use super::view::ViewError;
use super::{ResultRecord, ResultSource};
use crate::store::StoreError;

/// Runs of up to this many rows are sorted in memory (~100 B a row: ~10 MB), larger ones in a
/// temporary database. `LABTRAIL_TEST_SORT_IN_MEMORY_ROWS` lowers it (for tests only).
pub const IN_MEMORY_ROWS: u64 = 100_000;

fn in_memory_rows() -> u64 {
    std::env::var("LABTRAIL_TEST_SORT_IN_MEMORY_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IN_MEMORY_ROWS)
}

/// Task keys in sorted order.
pub enum Order {
    /// Sorted in memory.
    Keys(Vec<String>),
    /// Sorted in a temporary database.
    Spilled(Spill),
}

impl Order {
    /// Calls `each` with every key, in sorted order.
    pub fn each_key<E: From<StoreError>>(
        &self,
        mut each: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Order::Keys(keys) => keys.iter().try_for_each(|k| each(k)),
            Order::Spilled(spill) => spill.each_key(each),
        }
    }
}

/// Where the sorted column's cell comes from.
enum Source {
    Stage,
    Param(String),
    Field(String),
}

/// The keys of `source`'s records sorted by column `name` (largest first with `desc`), in the
/// order [`Table::order_by`] puts the rows of [`Table::of_records`]: stable, missing values
/// last, each stage's rows together (stages in plan order) when there are several.
pub fn sorted(source: &ResultSource, name: &str, desc: bool) -> Result<Order, ViewError> {
    let mut rows: u64 = 0;
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
        rows += 1;
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
    let rank = |r: &ResultRecord| match with_stage {
        true => stages.iter().position(|s| *s == r.stage).unwrap_or(0),
        false => 0,
    };
    if rows > in_memory_rows() {
        let mut spill = Spill::new()?;
        let (mut sort, mut position) = (Vec::new(), 0u64);
        source.each(|r| {
            sort.clear();
            let cell = cell_of(&r, column);
            let rank = u32::try_from(rank(&r)).unwrap_or(u32::MAX);
            encode(&mut sort, rank, &cell, desc, position);
            position += 1;
            spill.add(&sort, &r.key).map_err(ViewError::from)
        })?;
        spill.finish()?;
        return Ok(Order::Spilled(spill));
    }
    let mut keyed: Vec<(usize, Cell, String)> = Vec::new();
    source.each(|r| {
        let cell = sort_cell(cell_of(&r, column));
        keyed.push((rank(&r), cell, r.key));
        Ok::<_, ViewError>(())
    })?;
    // Stable: ties keep plan order, as the table's sort does.
    keyed.sort_by(|(ra, a, _), (rb, b, _)| ra.cmp(rb).then_with(|| a.order(b, desc)));
    Ok(Order::Keys(
        keyed.into_iter().map(|(_, _, key)| key).collect(),
    ))
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
