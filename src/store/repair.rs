//! Salvage of a damaged database (`labtrail check --repair`): the damaged file is moved aside,
//! never deleted, and a new database is filled with every row that can still be read.

use super::{Store, StoreError, DB_FILE};
use rusqlite::{types::Value, Connection, OpenFlags};
use std::path::Path;

/// The tables of `conn`'s schema, SQLite's own (`sqlite_sequence`, ...) left out: SQLite keeps
/// those itself. Listed in the order they were made, which only orders the report: the schema
/// enforces no foreign keys, so any order salvages the same rows.
fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY rowid",
    )?;
    let names = st.query_map([], |r| r.get(0))?;
    names.collect()
}

/// `name` as an SQL identifier.
fn quoted(name: &str) -> String {
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
fn salvage(old: &Connection, new: &Connection, table: &str) -> (usize, Option<String>) {
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
fn keep_sequences(old: &Connection, new: &Connection) {
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
        let tables = table_names(&new.conn).map_err(|e| new.err(e))?;
        let mut lines = vec![format!("moved the damaged database to {}", aside.display())];
        match Connection::open_with_flags(&aside, OpenFlags::SQLITE_OPEN_READ_ONLY) {
            Ok(old) => {
                // Only to explain what is missing: salvage is tried whatever the listing says.
                let old_tables = table_names(&old).ok();
                let lacks = |t: &String| old_tables.as_ref().is_some_and(|o| !o.contains(t));
                for t in &tables {
                    let (n, err) = salvage(&old, &new.conn, t);
                    lines.push(match err {
                        None => format!("  {t}: {n} row(s) recovered"),
                        Some(_) if n == 0 && lacks(t) => {
                            format!("  {t}: none (the damaged database, made by an older version, has no such table)")
                        }
                        Some(e) => format!("  {t}: {n} row(s) recovered, then stopped: {e}"),
                    });
                }
                keep_sequences(&old, &new.conn);
                for t in old_tables.iter().flatten().filter(|t| !tables.contains(t)) {
                    lines.push(format!("  {t}: not part of this version's schema; its rows stay in the moved-aside file"));
                }
            }
            Err(e) => lines.push(format!("  nothing could be read from it: {e}")),
        }
        lines.push("the next `labtrail run` resumes from what was recovered; tasks whose records were lost run again".into());
        Ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::MIGRATIONS;

    /// Repair of a database of another version: a table the old file lacks is said to be absent,
    /// not unreadable, and a table this version does not know is named, its rows left aside.
    #[test]
    fn repair_reports_tables_the_versions_do_not_share() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".labtrail");
        std::fs::create_dir_all(&dir).unwrap();
        {
            let c = Connection::open(dir.join(DB_FILE)).unwrap();
            for sql in &MIGRATIONS[..4] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 4).unwrap();
            c.execute_batch(
                "INSERT INTO runs (id, experiment, spec_path, spec_text, created_at, updated_at)
                 VALUES ('r', 'e', 'exp.toml', '', 't', 't');
                 CREATE TABLE future (x TEXT);
                 INSERT INTO future VALUES ('kept aside');",
            )
            .unwrap();
        }
        let report = Store::repair(&dir).unwrap();
        assert!(report.contains("  runs: 1 row(s) recovered"), "{report}");
        assert!(report.contains("  records: none (the damaged database, made by an older version, has no such table)"), "{report}");
        assert!(
            report.contains("  future: not part of this version's schema"),
            "{report}"
        );
        assert!(!report.contains("sqlite_"), "{report}");
        let store = Store::open(&dir, false).unwrap();
        assert_eq!(store.list_runs().unwrap().len(), 1);
        assert!(store.check().unwrap().is_empty());
    }

    /// Review finding on issue 8: an id handed out before a repair, whose record was deleted
    /// since, is not handed out again after it (AUTOINCREMENT's counter survives the rebuild).
    #[test]
    fn repair_never_hands_out_a_record_id_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(".labtrail");
        let mut store = Store::open(&dir, true).unwrap();
        let ids: Vec<i64> = (0..3)
            .map(|i| {
                store
                    .add_store_record("k", &format!("{{\"i\":{i}}}"))
                    .unwrap()
            })
            .collect();
        store.delete_records(&ids[1..]).unwrap();
        drop(store);
        Store::repair(&dir).unwrap();
        let mut store = Store::open(&dir, false).unwrap();
        let next = store.add_store_record("k", "{}").unwrap();
        assert!(
            next > ids[2],
            "id {next} was handed out before the repair ({ids:?})"
        );
    }
}
