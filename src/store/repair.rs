//! Salvage of a damaged database (`labtrail check --repair`): the damaged file is moved aside,
//! never deleted, and a new database is filled with every row that can still be read.

use super::{Store, StoreError, DB_FILE};
use rusqlite::{types::Value, Connection, OpenFlags};
use std::path::Path;

const TABLES: [&str; 5] = ["runs", "tasks", "attempts", "events", "metrics"];

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let Ok(mut st) = conn.prepare(&format!("PRAGMA table_info({table})")) else {
        return Vec::new();
    };
    st.query_map([], |r| r.get::<_, String>(1))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

/// Copies readable rows of `table` from `old` into `new`, stopping at the first unreadable page.
fn salvage(old: &Connection, new: &Connection, table: &str) -> (usize, Option<String>) {
    let wanted = columns(new, table);
    let have = columns(old, table);
    let common: Vec<&String> = wanted.iter().filter(|c| have.contains(c)).collect();
    if common.is_empty() {
        return (0, Some("table unreadable".into()));
    }
    let list = common
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ");
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

impl Store {
    /// Moves the database of the store at `dir` aside and rebuilds it from what can be read.
    /// Returns a report for people.
    pub fn repair(dir: &Path) -> Result<String, StoreError> {
        let db = dir.join(DB_FILE);
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S").to_string();
        let aside = dir.join(format!("{DB_FILE}.repaired-from-{stamp}"));
        for suffix in ["", "-wal", "-shm"] {
            let from = format!("{}{suffix}", db.display());
            if Path::new(&from).exists() {
                let to = format!("{}{suffix}", aside.display());
                std::fs::rename(&from, &to).map_err(|e| StoreError::io(Path::new(&from), e))?;
            }
        }
        let new = Store::open(dir, true)?;
        let mut lines = vec![format!("moved the damaged database to {}", aside.display())];
        match Connection::open_with_flags(&aside, OpenFlags::SQLITE_OPEN_READ_ONLY) {
            Ok(old) => {
                for t in TABLES {
                    let (n, err) = salvage(&old, &new.conn, t);
                    lines.push(match err {
                        None => format!("  {t}: {n} row(s) recovered"),
                        Some(e) => format!("  {t}: {n} row(s) recovered, then stopped: {e}"),
                    });
                }
            }
            Err(e) => lines.push(format!("  nothing could be read from it: {e}")),
        }
        lines.push("the next `labtrail run` resumes from what was recovered; tasks whose records were lost run again".into());
        Ok(lines.join("\n"))
    }
}
