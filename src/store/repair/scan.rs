//! Every row the file still holds, found the way SQLite's recovery extension finds them: each
//! table's b-tree walked from its root (past pages that cannot be read, into the subtrees beyond
//! them), then every page no walk reached read on its own (the children of a damaged interior
//! page, and free pages that hold stale copies).

use super::pages::{Cell, Image, Kind};
use super::record;
use rusqlite::types::Value;
use std::collections::{HashMap, HashSet};

/// A row as stored: its rowid (rowid tables) and its record's values.
pub struct RawRow {
    pub rowid: Option<i64>,
    pub values: Vec<Value>,
}

/// Rows found on pages no b-tree walk reached.
pub struct Orphans {
    /// Whether the page is on the free list: its rows are stale copies, kept only where nothing
    /// better was found.
    pub free: bool,
    /// Whether the page holds table rows (0x0D) rather than keys (0x0A, 0x02).
    pub table_rows: bool,
    pub rows: Vec<RawRow>,
}

/// What a scan of the whole file found.
pub struct Scan {
    /// The schema as `sqlite_master` lists it: (type, name, root page, sql).
    pub schema: Vec<(String, String, u32, String)>,
    /// Rows reached from each table's root page, by table name.
    pub trees: HashMap<String, Vec<RawRow>>,
    pub orphans: Vec<Orphans>,
    /// Pages that were expected to be b-tree pages and could not be read.
    pub unreadable: Vec<u32>,
    /// Tables whose b-tree walk met an unreadable page: the only ones loose pages can complete
    /// (an intact b-tree holds every row of its table; a loose copy of one of its rows is a row
    /// deleted since, or a stale copy).
    pub damaged: std::collections::HashSet<String>,
    pub page_count: u32,
}

fn rows(cells: Vec<Cell>) -> Vec<RawRow> {
    cells
        .into_iter()
        .filter_map(|c| {
            Some(RawRow {
                rowid: c.rowid,
                values: record::decode(&c.payload)?,
            })
        })
        .collect()
}

/// Walks the b-tree rooted at `root`, marking each page it reaches in `visited`. A page of the
/// other kind of b-tree (table vs. index) is not this tree's: a damaged pointer led there.
fn walk(
    image: &Image,
    root: u32,
    visited: &mut HashSet<u32>,
    unreadable: &mut Vec<u32>,
    keep: &dyn Fn(u32) -> bool,
) -> Vec<RawRow> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    let mut table_tree = None;
    while let Some(n) = stack.pop() {
        if visited.contains(&n) {
            continue;
        }
        let Some(page) = image.page(n) else {
            visited.insert(n);
            unreadable.push(n);
            continue;
        };
        let is_table = matches!(page.kind, Kind::TableLeaf | Kind::TableInterior);
        if *table_tree.get_or_insert(is_table) != is_table {
            continue;
        }
        visited.insert(n);
        stack.extend(page.children.iter().rev());
        if keep(n) {
            out.extend(rows(page.cells));
        }
    }
    out
}

/// Reads every row of `image`.
pub fn scan(image: &Image) -> Scan {
    scan_pages(image, &|_| true)
}

/// Reads the rows of the pages of `image` that `keep` names, each attributed to the table whose
/// b-tree reaches it (the whole file is walked for that), or else left as an orphan.
pub fn scan_pages(image: &Image, keep: &dyn Fn(u32) -> bool) -> Scan {
    let mut visited = HashSet::new();
    let mut unreadable = Vec::new();
    let schema: Vec<(String, String, u32, String)> =
        walk(image, 1, &mut visited, &mut unreadable, &|_| true)
            .into_iter()
            .filter_map(|r| match r.values.as_slice() {
                [Value::Text(kind), Value::Text(name), _, Value::Integer(root), sql] => Some((
                    kind.clone(),
                    name.clone(),
                    u32::try_from(*root).ok()?,
                    match sql {
                        Value::Text(s) => s.clone(),
                        _ => String::new(),
                    },
                )),
                _ => None,
            })
            .collect();
    let mut trees = HashMap::new();
    let mut damaged = HashSet::new();
    // Indexes are walked too, only to mark their pages: their entries are not rows.
    for (kind, name, root, _) in &schema {
        if *root < 2 {
            continue;
        }
        let before = unreadable.len();
        let found = walk(image, *root, &mut visited, &mut unreadable, keep);
        if unreadable.len() > before {
            damaged.insert(name.clone());
        }
        if kind == "table" {
            trees.insert(name.clone(), found);
        }
    }
    let free = image.free_pages();
    let mut orphans = Vec::new();
    for n in 2..=image.page_count() {
        if visited.contains(&n) || !keep(n) {
            continue;
        }
        let Some(page) = image.page(n) else { continue };
        if matches!(page.kind, Kind::TableInterior) || page.cells.is_empty() {
            continue;
        }
        orphans.push(Orphans {
            free: free.contains(&n),
            table_rows: page.kind == Kind::TableLeaf,
            rows: rows(page.cells),
        });
    }
    // Live orphans first: a free page's copy of a row is older than any other copy.
    orphans.sort_by_key(|o| o.free);
    Scan {
        schema,
        trees,
        orphans,
        unreadable,
        damaged,
        page_count: image.page_count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 10: rows of rowid and WITHOUT ROWID tables are read back from the raw pages, values
    /// that spill onto overflow pages included, and past a destroyed interior page.
    #[test]
    fn reads_every_row_of_both_kinds_of_table_past_a_destroyed_interior_page() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t.db");
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT NOT NULL);
             CREATE TABLE w (k TEXT NOT NULL, n INTEGER NOT NULL, v TEXT, PRIMARY KEY (k, n)) WITHOUT ROWID;",
        )
        .unwrap();
        let big = |i: i64| format!("{i}:").repeat(if i % 10 == 0 { 3000 } else { 20 });
        for i in 1..=400i64 {
            c.execute(
                "INSERT INTO r (id, v) VALUES (?1, ?2)",
                rusqlite::params![i, big(i)],
            )
            .unwrap();
            c.execute(
                "INSERT INTO w VALUES (?1, ?2, ?3)",
                rusqlite::params![format!("k{i:04}"), i, big(i)],
            )
            .unwrap();
        }
        let root: u32 = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'r'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        drop(c);
        let mut bytes = std::fs::read(&path).unwrap();
        let found = scan(&Image::new(bytes.clone()));
        assert_eq!(found.trees["r"].len(), 400);
        // WITHOUT ROWID rows sit on interior pages too; each is found once.
        assert_eq!(found.trees["w"].len(), 400);
        let row = found.trees["w"]
            .iter()
            .find(|r| r.values[1] == Value::Integer(10))
            .unwrap();
        assert_eq!(
            row.values[2],
            Value::Text(big(10)),
            "an overflowing value read whole"
        );
        let size = Image::new(bytes.clone()).page_size();
        let at = (root as usize - 1) * size;
        bytes[at..at + size].fill(0xA5);
        let found = scan(&Image::new(bytes));
        assert!(found.trees["r"].is_empty());
        assert!(found.damaged.contains("r"));
        let loose: usize = found
            .orphans
            .iter()
            .filter(|o| o.table_rows && !o.free)
            .map(|o| o.rows.len())
            .sum();
        assert_eq!(
            loose, 400,
            "every row of the table's leaves, reached without its root"
        );
    }
}
