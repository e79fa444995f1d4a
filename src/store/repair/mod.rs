//! Salvage of a damaged database (`labtrail check --repair`), never destructive and safe to
//! interrupt at any point (issue 10).
//!
//! The damaged database (and its WAL) is kept under a name no earlier repair used, by hard link,
//! and never written to again. The new database is built in a temporary file beside it from a
//! scratch copy (whose header is restored if damaged), checked with the store's own `check`,
//! synced, and renamed into place last; the old WAL and `-shm` are removed before that, so they
//! are never applied to the new database. Each step is recorded first in an intent file
//! (`locks/repair.json`), so the next open of the store or the next repair finishes a repair a
//! crash interrupted once the new database was complete, and rolls back one that was not.
//! The whole repair holds the store lock exclusively (see `store_lock`).

mod fixup;
mod header;
mod intent;
mod logical;
mod lost_runs;
mod pages;
mod rebuild;
mod record;
mod report;
mod scan;
mod shape;
mod wal_copies;

pub(super) use intent::{interrupted, settle};

use intent::{Intent, Phase};

use super::fault::fault_injection_crash_point as crash_point;
use super::{Store, StoreError, DB_FILE};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The name (in the store folder) the damaged database is kept under: one that neither it nor
/// its WAL has ever had, so that no repair overwrites what an earlier one kept.
fn backup_name(dir: &Path) -> String {
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S").to_string();
    let base = format!("{DB_FILE}.before-repair-{stamp}");
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|name| {
            intent::with_sides(dir, name)
                .iter()
                .all(|p| p.symlink_metadata().is_err())
        })
        .expect("some counter is free")
}

/// Keeps `from` under the new name `to`: a hard link (no copy, no second write of the data),
/// or a copy where the filesystem has no hard links. Never replaces an existing file.
fn keep(from: &Path, to: &Path) -> Result<(), StoreError> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    super::unclean::copy_to_new_file(from, to).map_err(|e| StoreError::io(to, e))
}

/// The files of database `name` a repair keeps and reads: the database, its WAL and its
/// rollback journal (a hot one holds the committed pages a killed writer overwrote); not the
/// `-shm` index, which SQLite rebuilds.
fn kept_sides(dir: &Path, name: &str) -> impl Iterator<Item = std::path::PathBuf> {
    intent::with_sides(dir, name)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with("-shm"))
}

/// Whether SQLite's full check and labtrail's invariants hold on the database at `db`, and no
/// kept copy of a damaged WAL is left to read, read without writing anything.
fn healthy(dir: &Path, db: &Path) -> bool {
    let Ok(conn) = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return false;
    };
    // A kept copy of a damaged WAL holds rows the database lacks (a reading command that kept
    // it could not record it, so the database's own check does not know it).
    if wal_copies::unread(dir, &conn) {
        return false;
    }
    let store = Store::wrap(dir, db, conn, super::Access::ReadOnly);
    store.check().is_ok_and(|problems| problems.is_empty())
}

/// Builds, checks and syncs the new database from the backup; returns what it recovered and
/// the fixes it made.
fn build(dir: &Path, backup: &str) -> Result<(rebuild::Filled, Vec<String>, bool), StoreError> {
    let source = dir.join(intent::SOURCE_FILE);
    let new_path = dir.join(intent::NEW_FILE);
    for (from, to) in kept_sides(dir, backup).zip(kept_sides(dir, intent::SOURCE_FILE)) {
        if from.exists() {
            std::fs::copy(from, &to).map_err(|e| StoreError::io(&to, e))?;
        }
    }
    let restored = header::restore(&source, dir.join(format!("{backup}-wal")).exists())
        .map_err(|e| StoreError::io(&source, e))?;
    let was_wal = header::is_wal(&source);
    // A new database an earlier attempt left (a crash before its intent was written) would
    // make every CREATE TABLE fail: it holds nothing the backup does not.
    for stale in intent::with_sides(dir, intent::NEW_FILE) {
        intent::remove(&stale)?;
    }
    let conn = Connection::open(&new_path).map_err(|e| StoreError::sqlite(&new_path, e))?;
    let sql = |e| StoreError::sqlite(&new_path, e);
    // The bundled SQLite enforces foreign keys by default (SQLITE_DEFAULT_FOREIGN_KEYS=1): a
    // task whose run row was lost would be refused. The rows are put back as they were, and a
    // lost run row is rebuilt after (see `lost_runs`).
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(sql)?;
    for migration in super::schema::MIGRATIONS {
        conn.execute_batch(migration).map_err(sql)?;
    }
    conn.pragma_update(None, "user_version", super::schema::CURRENT_VERSION)
        .map_err(sql)?;
    conn.execute_batch("BEGIN").map_err(sql)?;
    let mut filled = rebuild::fill(&source, &conn).map_err(sql)?;
    let shapes = shape::shapes(&conn).map_err(sql)?;
    let from_copies =
        wal_copies::add(dir, backup, &source, &conn, &shapes, &mut filled.counts).map_err(sql)?;
    let mut fixes = lost_runs::rebuild(&conn).map_err(sql)?;
    fixes.extend(report::from_copies(&from_copies));
    fixes.extend(fixup::fix(&conn).map_err(sql)?);
    super::unclean::mark_wal_damage_repaired(&conn).map_err(sql)?;
    // The tasks' triggers counted the rows put back, and the copy added the old counts on top.
    conn.execute_batch(super::schema::RECOUNT_TASKS)
        .map_err(sql)?;
    // A salvaged parameter summary may not match the salvaged tasks: without one, `status`
    // reads the tasks, until the next plan sync writes it again.
    conn.execute_batch("DELETE FROM param_summaries")
        .map_err(sql)?;
    // Attempts keep event ids that are not rows (schema 9): the log's sequence must stay past
    // them, or a later event would take one again.
    conn.execute_batch(
        "INSERT OR IGNORE INTO sqlite_sequence (name, seq) SELECT 'events', 0
           WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events');
         UPDATE sqlite_sequence SET seq = MAX(seq,
           (SELECT COALESCE(MAX(MAX(COALESCE(started_event, 0)),
                                MAX(COALESCE(started_event, 0) + COALESCE(finished_event, 0))), 0)
              FROM attempts)) WHERE name = 'events';",
    )
    .map_err(sql)?;
    crash_point("repair-mid-build");
    conn.execute_batch("COMMIT").map_err(sql)?;
    let store = Store::wrap(
        dir,
        &new_path,
        conn,
        super::Access::ReadWrite { create: false },
    );
    let problems = store.check()?;
    if !problems.is_empty() {
        return Err(StoreError::RepairFailed {
            path: dir.join(DB_FILE),
            detail: problems.join("; "),
        });
    }
    // The journal mode the store had (a rollback-mode store on a shared filesystem stays so),
    // then the one its filesystem allows (see `filesystem`).
    if was_wal {
        store
            .conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
    }
    super::filesystem::apply_journal_mode(&store.conn, dir).map_err(sql)?;
    drop(store);
    std::fs::File::open(&new_path)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(&new_path, e))?;
    Ok((filled, fixes, restored))
}

impl Store {
    /// Rebuilds the database of the store at `dir` from every row that can still be read,
    /// keeping the damaged one (see the module's doc). On a store whose database is healthy,
    /// asks `rebuild_healthy` first, and returns `None` (nothing changed) if it says no.
    /// Returns a report for people.
    pub fn repair(
        dir: &Path,
        rebuild_healthy: &mut dyn FnMut() -> bool,
    ) -> Result<Option<String>, StoreError> {
        let dir = &std::path::absolute(dir).map_err(|e| StoreError::io(dir, e))?;
        let db = dir.join(DB_FILE);
        if !db.is_file() {
            return Err(StoreError::NotFound { start: dir.clone() });
        }
        let _lock = super::store_lock::hold_exclusive(dir)?;
        let mut lines: Vec<String> = settle(dir)?.into_iter().collect();
        // A writer stopped mid-commit in rollback mode: the file holds uncommitted pages until
        // its journal is rolled back (see `journal`). If that fails, the journal is kept with
        // the backup and copied with the scratch copy, never lost.
        if super::journal::present(&db) && super::journal::roll_back(&db).is_ok() {
            lines.push(format!("rolled back the unfinished change of a writer that stopped in the middle of a commit ({}-journal)", db.display()));
        }
        let was_healthy = healthy(dir, &db);
        if was_healthy && !rebuild_healthy() {
            return Ok(None);
        }
        let backup = backup_name(dir);
        intent::write(
            dir,
            &Intent {
                phase: Phase::Building,
                backup: backup.clone(),
            },
        )?;
        crash_point("repair-after-intent");
        for (from, to) in kept_sides(dir, DB_FILE).zip(kept_sides(dir, &backup)) {
            if from.exists() {
                keep(&from, &to)?;
            }
        }
        intent::sync_dir(dir)?;
        crash_point("repair-after-backup");
        let (filled, fixes, restored) = match build(dir, &backup) {
            Ok(built) => built,
            Err(e) => {
                // Nothing was replaced: the kept name is the live database itself.
                intent::drop_backup_links(dir, &backup)?;
                intent::clean_up(dir)?;
                return Err(e);
            }
        };
        crash_point("repair-after-build");
        intent::write(
            dir,
            &Intent {
                phase: Phase::Built,
                backup: backup.clone(),
            },
        )?;
        crash_point("repair-after-built");
        intent::swap(dir)?;
        intent::clean_up(dir)?;
        lines.extend(report::lines(
            &dir.join(&backup),
            was_healthy,
            &filled,
            &fixes,
            restored,
        ));
        Ok(Some(lines.join("\n")))
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
        let report = Store::repair(&dir, &mut || true).unwrap().unwrap();
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
        Store::repair(&dir, &mut || true).unwrap().unwrap();
        let mut store = Store::open(&dir, false).unwrap();
        let next = store.add_store_record("k", "{}").unwrap();
        assert!(
            next > ids[2],
            "id {next} was handed out before the repair ({ids:?})"
        );
    }
}
