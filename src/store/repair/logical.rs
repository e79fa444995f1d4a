//! The logical pass of a repair: every row SQLite can still read, table by table, in the
//! columns both schemas share.

use rusqlite::{types::Value, Connection};

/// The tables of `conn`'s schema, SQLite's own (`sqlite_sequence`, ...) left out: SQLite keeps
/// those itself. Listed in the order they were made, which only orders the report: the schema
/// enforces no foreign keys, so any order salvages the same rows.
pub(super) fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY rowid",
    )?;
    let names = st.query_map([], |r| r.get(0))?;
    names.collect()
}

/// `name` as an SQL identifier.
pub(super) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut st) = conn.prepare(&format!("PRAGMA table_info({})", quoted(table))) else {
        return Vec::new();
    };
    st.query_map([], |r| r.get::<_, String>(1))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Copies readable rows of `table` from `old` into `new`, stopping at the first unreadable page.
pub(super) fn salvage(old: &Connection, new: &Connection, table: &str) -> (usize, Option<String>) {
    let wanted = columns(new, table);
    let have = columns(old, table);
    let common: Vec<&String> = wanted.iter().filter(|c| have.contains(c)).collect();
    if common.is_empty() {
        return (0, Some("table unreadable".into()));
    }
    let list = common
        .iter()
        .map(|c| quoted(c))
        .collect::<Vec<_>>()
        .join(", ");
    let table = quoted(table);
    let marks = vec!["?"; common.len()].join(", ");
    let mut copied = 0;
    let mut st = match old.prepare(&format!("SELECT {list} FROM {table}")) {
        Ok(s) => s,
        Err(e) => return (0, Some(e.to_string())),
    };
    let Ok(mut insert) = new.prepare(&format!(
        "INSERT OR IGNORE INTO {table} ({list}) VALUES ({marks})"
    )) else {
        return (0, Some("cannot write".into()));
    };
    let mut rows = match st.query([]) {
        Ok(r) => r,
        Err(e) => return (0, Some(e.to_string())),
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                let values: Vec<Value> = (0..common.len())
                    .map(|i| row.get::<_, Value>(i).unwrap_or(Value::Null))
                    .collect();
                if insert
                    .execute(rusqlite::params_from_iter(values))
                    .unwrap_or(0)
                    > 0
                {
                    copied += 1;
                }
            }
            Ok(None) => return (copied, None),
            Err(e) => return (copied, Some(e.to_string())),
        }
    }
}

/// Carries the AUTOINCREMENT counters over (never lowering one), so that an id handed out
/// before the repair, whose row was deleted since, is not handed out again.
pub(super) fn keep_sequences(old: &Connection, new: &Connection) {
    let Ok(mut st) = old.prepare("SELECT name, seq FROM sqlite_sequence") else {
        return;
    };
    let Ok(rows) = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))) else {
        return;
    };
    for (name, seq) in rows.flatten() {
        let raised = new
            .execute(
                "UPDATE sqlite_sequence SET seq = MAX(seq, ?2) WHERE name = ?1",
                rusqlite::params![name, seq],
            )
            .unwrap_or(0);
        if raised == 0 {
            let _ = new.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
                rusqlite::params![name, seq],
            );
        }
    }
}
