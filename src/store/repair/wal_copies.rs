//! The rows of committed transactions that a damaged WAL hid from SQLite (issue 10, item 3:
//! "keep every record that can be kept"). The store kept a copy of each such WAL
//! (`labtrail.db-wal.damaged-*`); its frames after the damage still hold the newest image of
//! every page those transactions wrote (`wal::pages_after_damage`). Laid over the rebuilt
//! source, those pages are read with the repair's own page reader and attributed to tables by
//! the b-tree that reaches them (by record shape where none does).
//!
//! A copy may be older than what the store wrote since (the run went on after the damage was
//! found), so a copy never overwrites a row the database has: rows are only added, the newest
//! copy first. Two things are completed rather than added, because the database's row says it
//! does not know them: an attempt the database has as open (no outcome) whose copy, with the
//! same start, has its end; and a task whose latest attempt came back successful is done. A
//! task whose attempts the store numbered differently since (it ran again after the damage) takes
//! nothing from the copy: its history in the database wins.

use super::pages::{header_page_size, Image};
use super::rebuild::{insert, TableCount};
use super::scan::{scan_pages, RawRow};
use super::shape::Shape;
use crate::store::unclean::{WAL_DAMAGE_RECORD, WAL_DAMAGE_REPAIRED_RECORD};
use crate::store::{wal, DB_FILE};
use rusqlite::{params, types::Value, Connection, OptionalExtension};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What the kept copies gave back, for the report.
#[derive(Default)]
pub struct FromCopies {
    /// Copies read.
    pub copies: usize,
    /// Rows added (also counted per table in `TableCount::from_wal`).
    pub rows: usize,
    /// Open attempts whose end a copy held.
    pub completed_attempts: usize,
    /// Tasks marked done because their recovered latest attempt succeeded.
    pub done_tasks: usize,
    /// Tasks that ran again after the damage, whose attempts in a copy were left out.
    pub diverged_tasks: usize,
}

/// A copy to read, and whether the rebuilt database already has a record of its damage.
struct Copy {
    path: PathBuf,
    recorded: bool,
}

/// The kept WAL copies whose damage no repair has read yet, newest first: those the database's
/// `wal_damage` records name, those in the store folder no record names (a read-only command
/// kept them and could not record them), and the WAL itself (the backup's, or with no backup
/// the store's, which no process has open while the repair holds the store lock) when no copy
/// of it was kept (no command opened the store between the crash and this repair). Whether
/// each is damaged is for the caller to see.
fn copies(dir: &Path, backup: Option<&str>, conn: &Connection) -> rusqlite::Result<Vec<Copy>> {
    let named = |kind: &str| -> rusqlite::Result<Vec<(i64, Option<String>)>> {
        conn.prepare("SELECT id, json_extract(json, '$.copy') FROM records WHERE kind = ?1")?
            .query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect()
    };
    let damage = named(WAL_DAMAGE_RECORD)?;
    let repaired: Vec<(i64, Option<String>)> = conn
        .prepare("SELECT json_extract(json, '$.damage_id'), json_extract(json, '$.copy') FROM records WHERE kind = ?1")?
        .query_map([WAL_DAMAGE_REPAIRED_RECORD], |r| {
            Ok((r.get::<_, Option<i64>>(0)?.unwrap_or(0), r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let is_repaired = |id: i64, copy: &str| {
        repaired
            .iter()
            .any(|(d, c)| *d == id || c.as_deref() == Some(copy))
    };
    let mut out: Vec<Copy> = damage
        .iter()
        .filter_map(|(id, copy)| Some((*id, copy.clone()?)))
        .filter(|(id, copy)| !is_repaired(*id, copy))
        .map(|(_, copy)| Copy {
            path: PathBuf::from(copy),
            recorded: true,
        })
        .filter(|c| c.path.is_file())
        .collect();
    let prefix = format!("{DB_FILE}-wal.damaged-");
    let mut unnamed: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    unnamed.retain(|p| !damage.iter().any(|(_, c)| c.as_deref() == p.to_str()));
    out.extend(unnamed.into_iter().map(|path| Copy {
        path,
        recorded: false,
    }));
    let own = dir.join(format!("{}-wal", backup.unwrap_or(DB_FILE)));
    let own_bytes = std::fs::read(&own).unwrap_or_default();
    if !own_bytes.is_empty()
        && !out
            .iter()
            .any(|c| std::fs::read(&c.path).is_ok_and(|b| b == own_bytes))
    {
        out.push(Copy {
            path: own,
            recorded: false,
        });
    }
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    out.sort_by_key(|c| std::cmp::Reverse(modified(&c.path)));
    Ok(out)
}

/// Whether the store at `dir`, whose database `conn` reads, has a damaged WAL, or a kept copy of
/// one, that no repair has read yet: then a repair has rows to bring back, and the store is not
/// healthy.
pub fn unread(dir: &Path, conn: &Connection) -> bool {
    copies(dir, None, conn).map_or(true, |c| {
        c.iter()
            .any(|c| wal::scan(&c.path, &dir.join(DB_FILE)).is_ok_and(|s| s.damage.is_some()))
    })
}

/// Records the damage of a copy no record named yet (the record `Store::open` would have made),
/// so that the repair marks it repaired and the next open does not report it again.
fn record_damage(
    conn: &Connection,
    dir: &Path,
    copy: &Path,
    d: &wal::WalDamage,
) -> rusqlite::Result<()> {
    let json = serde_json::json!({
        "wal": dir.join(format!("{DB_FILE}-wal")),
        "copy": copy,
        "first_bad_frame": d.first_bad_frame,
        "lost_commits": d.lost_commits,
        "salts": d.salts,
    });
    conn.execute(
        "INSERT INTO records (run_id, task_key, at, kind, json) VALUES (NULL, NULL, ?1, ?2, ?3)",
        params![crate::store::now(), WAL_DAMAGE_RECORD, json.to_string()],
    )?;
    Ok(())
}

/// The value of column `name` among `names`/`values`.
fn get<'a>(names: &[&str], values: &'a [Value], name: &str) -> Option<&'a Value> {
    names.iter().position(|n| *n == name).map(|i| &values[i])
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

/// (run, task) of a row of attempts or metrics.
fn task_of(names: &[&str], values: &[Value]) -> Option<(String, String)> {
    Some((
        text(get(names, values, "run_id"))?,
        text(get(names, values, "task_key"))?,
    ))
}

/// Tasks whose attempt in the copy has a number the database gives to an attempt with another
/// start: the task ran again after the damage.
fn diverged(
    conn: &Connection,
    attempts: &Shape,
    rows: &[RawRow],
) -> rusqlite::Result<HashSet<(String, String)>> {
    let mut out = HashSet::new();
    for row in rows {
        let (names, values) = attempts.columns_and_values(copy(row));
        let (Some(task), Some(number), Some(start)) = (
            task_of(&names, &values),
            get(&names, &values, "number").cloned(),
            text(get(&names, &values, "started_at")),
        ) else {
            continue;
        };
        let stored: Option<String> = conn
            .query_row(
                "SELECT started_at FROM attempts WHERE run_id = ?1 AND task_key = ?2 AND number = ?3",
                params![task.0, task.1, number],
                |r| r.get(0),
            )
            .optional()?;
        if stored.is_some_and(|s| s != start) {
            out.insert(task);
        }
    }
    Ok(out)
}

/// Fills in the end of an attempt the database has as open, from its copy with the same start.
fn complete_open_attempt(
    conn: &Connection,
    names: &[&str],
    values: &[Value],
) -> rusqlite::Result<bool> {
    let ends = [
        "ended_at",
        "exit_code",
        "signal",
        "outcome",
        "reason",
        "result",
        "max_rss_kb",
        "user_cpu_s",
        "sys_cpu_s",
    ];
    let (Some((run, key)), Some(number), Some(start)) = (
        task_of(names, values),
        get(names, values, "number"),
        get(names, values, "started_at"),
    ) else {
        return Ok(false);
    };
    if matches!(get(names, values, "outcome"), None | Some(Value::Null)) {
        return Ok(false);
    }
    let set = ends
        .iter()
        .filter(|c| names.contains(c))
        .map(|c| format!("{c} = ?{}", names.iter().position(|n| n == c).unwrap() + 1))
        .collect::<Vec<_>>()
        .join(", ");
    let n = names.len();
    let sql = format!(
        "UPDATE attempts SET {set} WHERE run_id = ?{} AND task_key = ?{} AND number = ?{} AND started_at = ?{} AND outcome IS NULL",
        n + 1, n + 2, n + 3, n + 4
    );
    let mut all: Vec<Value> = values.to_vec();
    all.extend([
        Value::Text(run),
        Value::Text(key),
        number.clone(),
        start.clone(),
    ]);
    Ok(conn.execute(&sql, rusqlite::params_from_iter(all))? > 0)
}

/// Reads every kept copy (see the module's doc) into `new`, whose rows from the damaged database
/// are in already; `source` is the scratch copy of that database, its valid WAL checkpointed.
pub fn add(
    dir: &Path,
    backup: &str,
    source: &Path,
    new: &Connection,
    shapes: &[Shape],
    counts: &mut [TableCount],
) -> rusqlite::Result<FromCopies> {
    let mut out = FromCopies::default();
    let base = std::fs::read(source).unwrap_or_default();
    let backup_db = dir.join(backup);
    let mut touched: HashSet<(String, String)> = HashSet::new();
    let mut diverged_all: HashSet<(String, String)> = HashSet::new();
    for c in copies(dir, Some(backup), new)? {
        let Ok(wal::WalScan {
            damage: Some(damage),
            ..
        }) = wal::scan(&c.path, &backup_db)
        else {
            continue;
        };
        if !c.recorded {
            record_damage(new, dir, &c.path, &damage)?;
        }
        let Ok(salvaged) = wal::pages_after_damage(&c.path, &backup_db) else {
            continue;
        };
        let page_size = salvaged.page_size as usize;
        if salvaged.pages.is_empty() || header_page_size(&base) != Some(page_size) {
            continue;
        }
        out.copies += 1;
        let mut bytes = base.clone();
        bytes.resize(salvaged.db_pages as usize * page_size, 0);
        for (n, image) in &salvaged.pages {
            let at = (*n as usize - 1) * page_size;
            if let Some(slot) = bytes.get_mut(at..at + page_size) {
                slot.copy_from_slice(image);
            }
        }
        let scan = scan_pages(&Image::new(bytes), &|n| salvaged.pages.contains_key(&n));
        let mut rows: Vec<Vec<RawRow>> = shapes
            .iter()
            .map(|s| {
                scan.trees
                    .get(&s.table)
                    .into_iter()
                    .flatten()
                    .filter(|r| s.fits(r))
                    .map(copy)
                    .collect()
            })
            .collect();
        for page in scan.orphans.iter().filter(|o| !o.free) {
            let best = shapes
                .iter()
                .enumerate()
                .filter(|(_, s)| s.rowid_table == page.table_rows)
                .map(|(i, s)| (i, page.rows.iter().filter(|r| s.fits(r)).count()))
                .filter(|(_, n)| *n > 0)
                .fold(None, |best: Option<(usize, usize)>, (i, n)| match best {
                    Some((_, m)) if m >= n => best,
                    _ => Some((i, n)),
                });
            if let Some((i, _)) = best {
                rows[i].extend(page.rows.iter().filter(|r| shapes[i].fits(r)).map(copy));
            }
        }
        let attempts = shapes.iter().position(|s| s.table == "attempts");
        let diverged = match attempts {
            Some(i) => diverged(new, &shapes[i], &rows[i])?,
            None => HashSet::new(),
        };
        diverged_all.extend(diverged.iter().cloned());
        for (i, shape) in shapes.iter().enumerate() {
            let per_task = matches!(shape.table.as_str(), "attempts" | "metrics");
            for row in rows[i].drain(..) {
                let (names, values) = shape.columns_and_values(copy(&row));
                let task = task_of(&names, &values);
                if per_task && task.as_ref().is_some_and(|t| diverged.contains(t)) {
                    continue;
                }
                if insert(new, shape, row, &mut counts[i])? {
                    counts[i].from_wal += 1;
                    out.rows += 1;
                    touched.extend(task.filter(|_| shape.table == "attempts"));
                } else if shape.table == "attempts" && complete_open_attempt(new, &names, &values)?
                {
                    out.completed_attempts += 1;
                    touched.extend(task);
                }
            }
        }
    }
    out.diverged_tasks = diverged_all.len();
    for (run, key) in &touched {
        // The task's latest attempt, if it came back successful, says the task is done; a task
        // reset since (reason 'reset') stays as the reset left it.
        out.done_tasks += new.execute(
            "UPDATE tasks SET state = 'done', reason = NULL,
                 result = (SELECT a.result FROM attempts a WHERE a.run_id = ?1 AND a.task_key = ?2 ORDER BY a.number DESC LIMIT 1),
                 finished_at = (SELECT a.ended_at FROM attempts a WHERE a.run_id = ?1 AND a.task_key = ?2 ORDER BY a.number DESC LIMIT 1)
             WHERE run_id = ?1 AND key = ?2 AND state IN ('pending', 'running', 'interrupted')
               AND reason IS NOT 'reset'
               AND (SELECT a.outcome FROM attempts a WHERE a.run_id = ?1 AND a.task_key = ?2 ORDER BY a.number DESC LIMIT 1) = 'success'",
            params![run, key],
        )?;
    }
    Ok(out)
}

fn copy(row: &RawRow) -> RawRow {
    RawRow {
        rowid: row.rowid,
        values: row.values.clone(),
    }
}
