//! The shape of this version's tables, to put a raw record back into its columns and to tell
//! which table a page no b-tree reached belongs to.

use super::scan::RawRow;
use rusqlite::{types::Value, Connection};

/// One column, in the order its values appear in a stored record.
struct Column {
    name: String,
    /// The declared type, upper case (INTEGER, TEXT, REAL).
    declared: String,
    not_null: bool,
    has_default: bool,
}

/// A table of this version's schema as its records store it.
pub struct Shape {
    pub table: String,
    /// Whether rows live on table pages (0x0D) with a rowid, rather than on index pages.
    pub rowid_table: bool,
    columns: Vec<Column>,
    /// The INTEGER PRIMARY KEY column, stored as NULL in the record, its value being the rowid.
    rowid_alias: Option<usize>,
    /// How many values a record must hold at least: up to the last NOT NULL column without a
    /// default (older versions' records lack the columns added since, which all have defaults).
    min_values: usize,
}

/// The shapes of `conn`'s tables, SQLite's own left out.
pub fn shapes(conn: &Connection) -> rusqlite::Result<Vec<Shape>> {
    let mut st = conn.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY rowid")?;
    let tables: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (table, sql) in tables {
        let mut info = conn.prepare(&format!(
            "PRAGMA table_info({})",
            super::logical::quoted(&table)
        ))?;
        let mut cols: Vec<(i64, Column)> = info
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(5)?,
                    Column {
                        name: r.get(1)?,
                        declared: r.get::<_, String>(2)?.to_uppercase(),
                        not_null: r.get::<_, i64>(3)? != 0,
                        has_default: r.get::<_, Option<String>>(4)?.is_some(),
                    },
                ))
            })?
            .collect::<Result<_, _>>()?;
        let rowid_table = !sql.to_uppercase().contains("WITHOUT ROWID");
        let pk_count = cols.iter().filter(|(pk, _)| *pk > 0).count();
        if !rowid_table {
            // Primary key columns first, in key order; the others after, in declared order.
            cols.sort_by_key(|(pk, _)| if *pk > 0 { *pk } else { i64::MAX });
        }
        let rowid_alias = cols.iter().position(|(pk, c)| {
            rowid_table && *pk == 1 && pk_count == 1 && c.declared == "INTEGER"
        });
        let columns: Vec<Column> = cols.into_iter().map(|(_, c)| c).collect();
        let min_values = columns
            .iter()
            .rposition(|c| c.not_null && !c.has_default)
            .map_or(1, |i| i + 1);
        out.push(Shape {
            table,
            rowid_table,
            columns,
            rowid_alias,
            min_values,
        });
    }
    Ok(out)
}

impl Shape {
    /// Whether the table has a column named `json` (see [`Shape::holds_documents`]).
    pub fn has_documents(&self) -> bool {
        self.columns.iter().any(|c| c.name == "json")
    }

    /// Whether every value `row` holds in a column named `json` is a JSON object or array, as
    /// the store makes every `records` row (see `store::records`); `false` for a table without
    /// such a column. Human-readable text (an event's detail) is never one: this tells a page
    /// of records from a page of events, whose shapes are the same.
    pub fn holds_documents(&self, row: &RawRow) -> bool {
        let Some(i) = self.columns.iter().position(|c| c.name == "json") else {
            return false;
        };
        match row.values.get(i) {
            Some(Value::Text(t)) => serde_json::from_str::<serde_json::Value>(t)
                .is_ok_and(|v| v.is_object() || v.is_array()),
            _ => false,
        }
    }

    /// Whether `row` can be a row of this table.
    pub fn fits(&self, row: &RawRow) -> bool {
        let v = &row.values;
        if v.len() < self.min_values
            || v.len() > self.columns.len()
            || self.rowid_table != row.rowid.is_some()
        {
            return false;
        }
        v.iter()
            .zip(&self.columns)
            .enumerate()
            .all(|(i, (value, c))| match value {
                Value::Null => Some(i) == self.rowid_alias || !c.not_null,
                _ if Some(i) == self.rowid_alias => false,
                Value::Integer(_) => c.declared == "INTEGER" || c.declared == "REAL",
                Value::Real(_) => c.declared == "REAL",
                Value::Text(_) => c.declared == "TEXT",
                Value::Blob(_) => false,
            })
    }

    /// The columns `row` fills and their values (the rowid alias filled from the rowid).
    pub fn columns_and_values(&self, row: RawRow) -> (Vec<&str>, Vec<Value>) {
        let names = self.columns[..row.values.len()]
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let mut values = row.values;
        if let (Some(i), Some(id)) = (self.rowid_alias, row.rowid) {
            values[i] = Value::Integer(id);
        }
        (names, values)
    }
}
