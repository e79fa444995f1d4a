//! Filling the new database: first a logical pass through SQLite (every row it can still read,
//! table by table), then a page-level pass (see `scan`) that adds the rows SQLite stopped
//! before. A row already copied wins over any other copy of it, and a row on a live page over
//! one on a free page, since every insert after the first copy is ignored.

use super::logical::{keep_sequences, quoted, salvage, table_names};
use super::scan::{RawRow, Scan};
use super::shape::{shapes, Shape};
use rusqlite::{types::Value, Connection, OpenFlags};
use std::path::Path;

/// What the rebuild recovered of one table.
#[derive(Default)]
pub struct TableCount {
    pub table: String,
    /// Rows SQLite read.
    pub logical: usize,
    /// Rows added from the table's own b-tree beyond what SQLite read.
    pub from_tree: usize,
    /// Rows added from pages no b-tree reached (children of damaged pages, free pages).
    pub from_loose_pages: usize,
    /// Rows added from kept copies of a damaged WAL (see `wal_copies`).
    pub from_wal: usize,
    /// Why SQLite's reading stopped, if it did.
    pub stopped: Option<String>,
    /// Whether the damaged database lists the table at all (a store of an older version may not).
    pub listed: bool,
    /// Text values that were not valid UTF-8, kept with U+FFFD in place of the bad bytes.
    pub bad_text: usize,
    /// Rows read that the new database refused, and the first reason.
    pub refused: usize,
    pub first_refusal: Option<String>,
}

impl TableCount {
    /// Nothing recovered of `table` yet.
    fn of(table: &str) -> TableCount {
        TableCount {
            table: table.to_string(),
            ..TableCount::default()
        }
    }

    fn refuse(&mut self, why: String) {
        self.refused += 1;
        self.first_refusal.get_or_insert(why);
    }
}

/// What the rebuild did, for the report.
pub struct Filled {
    pub counts: Vec<TableCount>,
    /// Tables of the damaged database this version does not have; their rows stay in the backup.
    pub foreign_tables: Vec<String>,
    pub unreadable_pages: usize,
    pub page_count: u32,
    /// Why SQLite could not read the database at all, if it could not.
    pub unopenable: Option<String>,
    /// Rows on pages no b-tree reached that fit two or more tables equally well (events and
    /// records have the same shape), and those tables: left in the kept file, not guessed.
    pub unplaced: usize,
    pub unplaced_between: Vec<String>,
}

/// Copies every readable row of the database at `source` into `new`, whose schema is this
/// version's. `source` is a scratch copy: SQLite may replay its WAL into it.
pub fn fill(source: &Path, new: &Connection) -> rusqlite::Result<Filled> {
    let shapes = shapes(new)?;
    let mut counts: Vec<TableCount> = shapes.iter().map(|s| TableCount::of(&s.table)).collect();
    let mut unopenable = None;
    match Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_WRITE) {
        Ok(old) => {
            // Committed transactions still in the WAL belong in the file the page pass reads.
            let _ = old.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            for c in &mut counts {
                let got = salvage(&old, new, &c.table);
                c.logical = got.copied;
                c.stopped = got.stopped;
                c.bad_text = got.bad_text;
                c.refused = got.refused;
                c.first_refusal = got.first_refusal;
            }
            keep_sequences(&old, new);
            match table_names(&old) {
                Ok(_) => {}
                Err(e) => unopenable = Some(e.to_string()),
            }
        }
        Err(e) => unopenable = Some(e.to_string()),
    }
    let bytes = std::fs::read(source).map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            Some(e.to_string()),
        )
    })?;
    let scan = super::scan::scan(&super::pages::Image::new(bytes));
    let unplaced = add_pages(new, &shapes, &scan, &mut counts)?;
    let foreign_tables = scan
        .schema
        .iter()
        .filter(|(kind, name, ..)| {
            kind == "table"
                && !name.starts_with("sqlite_")
                && !shapes.iter().any(|s| &s.table == name)
        })
        .map(|(_, name, ..)| name.clone())
        .collect();
    for c in &mut counts {
        c.listed = scan
            .schema
            .iter()
            .any(|(kind, name, ..)| kind == "table" && *name == c.table);
    }
    Ok(Filled {
        counts,
        foreign_tables,
        unreadable_pages: scan.unreadable.len(),
        page_count: scan.page_count,
        unopenable,
        unplaced: unplaced.0,
        unplaced_between: unplaced.1,
    })
}

/// Inserts `row` into `shape`'s table unless a copy of it is there already; whether it was new.
/// A row the new database refuses is counted in `count`, with the first reason.
pub(super) fn insert(
    new: &Connection,
    shape: &Shape,
    row: RawRow,
    count: &mut TableCount,
) -> rusqlite::Result<bool> {
    let (names, values) = shape.columns_and_values(row);
    let sql = format!(
        "INSERT OR IGNORE INTO {} ({}) VALUES ({})",
        quoted(&shape.table),
        names
            .iter()
            .map(|n| quoted(n))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; names.len()].join(", ")
    );
    // A constraint the damaged copy breaks (a NOT NULL, a CHECK) loses that row only (OR
    // IGNORE); any other refusal is counted and reported.
    match new
        .prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(values))
    {
        Ok(n) => Ok(n > 0),
        Err(e) => {
            count.refuse(e.to_string());
            Ok(false)
        }
    }
}

/// Adds the rows of the scan; returns how many loose rows were left unplaced (a tie), and
/// between which tables.
fn add_pages(
    new: &Connection,
    shapes: &[Shape],
    scan: &Scan,
    counts: &mut [TableCount],
) -> rusqlite::Result<(usize, Vec<String>)> {
    for (i, shape) in shapes.iter().enumerate() {
        let Some(rows) = scan.trees.get(&shape.table) else {
            continue;
        };
        for row in rows.iter().filter(|r| shape.fits(r)) {
            let added = insert(new, shape, copy(row), &mut counts[i])?;
            counts[i].from_tree += usize::from(added);
        }
    }
    // Loose pages complete only tables whose b-tree is damaged (see `Scan::damaged`), or every
    // table when the schema itself could not be read.
    let schema_read = !scan.schema.is_empty();
    let completes = |i: usize, s: &Shape| {
        !schema_read
            || scan.damaged.contains(&s.table)
            || counts[i].stopped.is_some()
            || !scan.schema.iter().any(|(_, name, ..)| *name == s.table)
    };
    let candidates: Vec<bool> = shapes
        .iter()
        .enumerate()
        .map(|(i, s)| completes(i, s))
        .collect();
    let mut unplaced = 0;
    let mut between: Vec<String> = Vec::new();
    for page in &scan.orphans {
        // All cells of a page belong to one b-tree: the table most of them fit.
        let fitting: Vec<(usize, usize)> = shapes
            .iter()
            .enumerate()
            .filter(|(i, s)| candidates[*i] && s.rowid_table == page.table_rows)
            .map(|(i, s)| (i, page.rows.iter().filter(|r| s.fits(r)).count()))
            .filter(|(_, n)| *n > 0)
            .collect();
        let Some(most) = fitting.iter().map(|(_, n)| *n).max() else {
            continue;
        };
        let mut best: Vec<usize> = fitting
            .iter()
            .filter(|(_, n)| *n == most)
            .map(|(i, _)| *i)
            .collect();
        // Of tables of the same shape, the one that holds JSON documents takes a page whose
        // every row holds one there, the other a page where no row does (see
        // `Shape::holds_documents`); a page of both kinds stays a tie.
        if best.len() > 1 {
            let docs = |i: usize| {
                let rows = page.rows.iter().filter(|r| shapes[i].fits(r));
                let n = rows
                    .clone()
                    .filter(|r| shapes[i].holds_documents(r))
                    .count();
                (n, rows.count())
            };
            let all: Vec<usize> = best
                .iter()
                .copied()
                .filter(|&i| matches!(docs(i), (n, m) if n == m))
                .collect();
            let none_anywhere = best.iter().all(|&i| docs(i).0 == 0);
            let plain: Vec<usize> = best
                .iter()
                .copied()
                .filter(|&i| !shapes[i].has_documents())
                .collect();
            if all.len() == 1 {
                best = all;
            } else if none_anywhere && plain.len() == 1 {
                best = plain;
            }
        }
        // A tie that remains: a guess would put rows in the wrong table, where they take the
        // ids of that table's real rows. They stay in the kept file, counted in the report.
        if let [i] = best[..] {
            for row in page.rows.iter().filter(|r| shapes[i].fits(r)) {
                let added = insert(new, &shapes[i], copy(row), &mut counts[i])?;
                counts[i].from_loose_pages += usize::from(added);
            }
        } else {
            unplaced += most;
            for i in best {
                if !between.contains(&shapes[i].table) {
                    between.push(shapes[i].table.clone());
                }
            }
        }
    }
    // AUTOINCREMENT counters found on pages: never hand out an id the damaged file used.
    for row in scan.trees.get("sqlite_sequence").into_iter().flatten() {
        if let [Value::Text(name), Value::Integer(seq)] = row.values.as_slice() {
            let _ = new.execute(
                "UPDATE sqlite_sequence SET seq = MAX(seq, ?2) WHERE name = ?1",
                rusqlite::params![name, seq],
            );
        }
    }
    Ok((unplaced, between))
}

fn copy(row: &RawRow) -> RawRow {
    RawRow {
        rowid: row.rowid,
        values: row.values.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, kind: &str, last: &str) -> RawRow {
        RawRow {
            rowid: Some(id),
            values: vec![
                Value::Null,
                Value::Text("r".into()),
                Value::Null,
                Value::Text("2026-11-30T00:00:00Z".into()),
                Value::Text(kind.into()),
                Value::Text(last.into()),
            ],
        }
    }

    /// Issue 10 (review), M4: with the schema unreadable, a loose page of rows that fit `events`
    /// and `records` alike goes to `records` if every row holds a JSON document, to `events` if
    /// none does, and nowhere (counted) if it mixes both: never a guess.
    #[test]
    fn a_tie_between_events_and_records_is_never_guessed() {
        let new = Connection::open_in_memory().unwrap();
        for m in crate::store::schema::MIGRATIONS {
            new.execute_batch(m).unwrap();
        }
        let shapes = shapes(&new).unwrap();
        let page = |rows| super::super::scan::Orphans {
            free: false,
            table_rows: true,
            rows,
        };
        let scan = Scan {
            schema: Vec::new(),
            trees: Default::default(),
            orphans: vec![
                page(vec![
                    row(1, "sample", r#"{"x":1}"#),
                    row(2, "sample", "[2]"),
                ]),
                page(vec![row(1, "started", "attempt 1, pid 7")]),
                page(vec![row(3, "mixed", "{}"), row(4, "mixed", "plain")]),
            ],
            unreadable: Vec::new(),
            damaged: Default::default(),
            page_count: 3,
        };
        let mut counts: Vec<TableCount> = shapes.iter().map(|s| TableCount::of(&s.table)).collect();
        let (unplaced, between) = add_pages(&new, &shapes, &scan, &mut counts).unwrap();
        let n = |sql: &str| new.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(n("SELECT count(*) FROM records WHERE kind = 'sample'"), 2);
        assert_eq!(n("SELECT count(*) FROM events WHERE kind = 'started'"), 1);
        assert_eq!(n("SELECT count(*) FROM events WHERE kind <> 'started'"), 0);
        assert_eq!(n("SELECT count(*) FROM records WHERE kind <> 'sample'"), 0);
        assert_eq!(unplaced, 2);
        assert_eq!(between, vec!["events".to_string(), "records".to_string()]);
    }
}
