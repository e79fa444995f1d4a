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
}

/// Copies every readable row of the database at `source` into `new`, whose schema is this
/// version's. `source` is a scratch copy: SQLite may replay its WAL into it.
pub fn fill(source: &Path, new: &Connection) -> rusqlite::Result<Filled> {
    let shapes = shapes(new)?;
    let mut counts: Vec<TableCount> = shapes
        .iter()
        .map(|s| TableCount {
            table: s.table.clone(),
            logical: 0,
            from_tree: 0,
            from_loose_pages: 0,
            from_wal: 0,
            stopped: None,
            listed: false,
        })
        .collect();
    let mut unopenable = None;
    match Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_WRITE) {
        Ok(old) => {
            // Committed transactions still in the WAL belong in the file the page pass reads.
            let _ = old.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            for c in &mut counts {
                let (n, err) = salvage(&old, new, &c.table);
                c.logical = n;
                c.stopped = err;
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
    add_pages(new, &shapes, &scan, &mut counts)?;
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
    })
}

/// Inserts `row` into `shape`'s table unless a copy of it is there already; whether it was new.
pub(super) fn insert(new: &Connection, shape: &Shape, row: RawRow) -> rusqlite::Result<bool> {
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
    // A constraint the damaged copy breaks (a NOT NULL, a CHECK) loses that row only.
    Ok(new
        .prepare_cached(&sql)?
        .execute(rusqlite::params_from_iter(values))
        .unwrap_or(0)
        > 0)
}

fn add_pages(
    new: &Connection,
    shapes: &[Shape],
    scan: &Scan,
    counts: &mut [TableCount],
) -> rusqlite::Result<()> {
    for (i, shape) in shapes.iter().enumerate() {
        let Some(rows) = scan.trees.get(&shape.table) else {
            continue;
        };
        for row in rows.iter().filter(|r| shape.fits(r)) {
            counts[i].from_tree += usize::from(insert(new, shape, copy(row))?);
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
    for page in &scan.orphans {
        // All cells of a page belong to one b-tree: the table most of them fit.
        let best = shapes
            .iter()
            .enumerate()
            .filter(|(i, s)| candidates[*i] && s.rowid_table == page.table_rows)
            .map(|(i, s)| (i, page.rows.iter().filter(|r| s.fits(r)).count()))
            .filter(|(_, n)| *n > 0)
            // A tie (events and records have the same shape) goes to the table made first.
            .fold(None, |best: Option<(usize, usize)>, (i, n)| match best {
                Some((_, m)) if m >= n => best,
                _ => Some((i, n)),
            });
        let Some((i, _)) = best else { continue };
        for row in page.rows.iter().filter(|r| shapes[i].fits(r)) {
            counts[i].from_loose_pages += usize::from(insert(new, &shapes[i], copy(row))?);
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
    Ok(())
}

fn copy(row: &RawRow) -> RawRow {
    RawRow {
        rowid: row.rowid,
        values: row.values.clone(),
    }
}
