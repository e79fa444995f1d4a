//! The logical pass of a repair: every row SQLite can still read, table by table, in the
//! columns both schemas share.

use rusqlite::{
    types::{Value, ValueRef},
    Connection,
};

/// The tables of `conn`'s schema, SQLite's own (`sqlite_sequence`, ...) left out: SQLite keeps
/// those itself. Listed in the order they were made, which only orders the report: the rebuild
/// turns foreign keys off (see `build`), so any order salvages the same rows.
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

/// What the logical pass did with one table.
#[derive(Default)]
pub(super) struct Salvaged {
    /// Rows copied.
    pub copied: usize,
    /// Why SQLite's reading stopped, if it did.
    pub stopped: Option<String>,
    /// Text values that were not valid UTF-8, kept with U+FFFD in place of the bad bytes.
    pub bad_text: usize,
    /// Rows read that the new database refused, and the first reason.
    pub refused: usize,
    pub first_refusal: Option<String>,
}

/// A value as read, owned. Text that is not valid UTF-8 (damage, or a value written by hand)
/// is kept as text with U+FFFD in place of the bad bytes rather than as a blob: the row
/// survives and every reader of the column still reads text; the exact bytes stay in the kept
/// file. (rusqlite's own conversion panics on such text.)
pub(super) fn owned(value: ValueRef<'_>, bad_text: &mut usize) -> Value {
    match value {
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Value::Text(text.to_string()),
            Err(_) => {
                *bad_text += 1;
                Value::Text(String::from_utf8_lossy(bytes).into_owned())
            }
        },
        other => Value::from(other),
    }
}

/// Copies readable rows of `table` from `old` into `new`, stopping at the first unreadable page.
pub(super) fn salvage(old: &Connection, new: &Connection, table: &str) -> Salvaged {
    let mut out = Salvaged::default();
    let stop = |out: Salvaged, why: String| Salvaged {
        stopped: Some(why),
        ..out
    };
    let wanted = columns(new, table);
    let have = columns(old, table);
    let common: Vec<&String> = wanted.iter().filter(|c| have.contains(c)).collect();
    if common.is_empty() {
        return stop(out, "table unreadable".into());
    }
    let list = common
        .iter()
        .map(|c| quoted(c))
        .collect::<Vec<_>>()
        .join(", ");
    let table = quoted(table);
    let marks = vec!["?"; common.len()].join(", ");
    let mut st = match old.prepare(&format!("SELECT {list} FROM {table}")) {
        Ok(s) => s,
        Err(e) => return stop(out, e.to_string()),
    };
    let mut insert = match new.prepare(&format!(
        "INSERT OR IGNORE INTO {table} ({list}) VALUES ({marks})"
    )) {
        Ok(s) => s,
        Err(e) => return stop(out, format!("cannot write: {e}")),
    };
    let mut rows = match st.query([]) {
        Ok(r) => r,
        Err(e) => return stop(out, e.to_string()),
    };
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                let values: Vec<Value> = (0..common.len())
                    .map(|i| {
                        row.get_ref(i)
                            .map_or(Value::Null, |v| owned(v, &mut out.bad_text))
                    })
                    .collect();
                match insert.execute(rusqlite::params_from_iter(values)) {
                    Ok(n) => out.copied += n,
                    Err(e) => {
                        out.refused += 1;
                        out.first_refusal.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            Ok(None) => return out,
            Err(e) => return stop(out, e.to_string()),
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
