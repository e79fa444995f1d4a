//! Records: an append-only log of JSON documents, each of a kind (`provenance`,
//! `resource_sample`, `cluster_snapshot`, ...) and of a run, one of its tasks, or the whole store.
//! New kinds of facts need no new tables: they are written as [`Change::Record`] with a run's
//! other changes, or with [`Store::add_store_record`] when they belong to no run, and read back
//! here in the order they were written. Retention deletes old ones ([`Store::prune_records`],
//! [`Store::delete_records`]); nothing else changes a record once written.
//!
//! [`Change::Record`]: super::Change::Record

use super::{format_time, now, Store, StoreError};
use rusqlite::{params, Connection, Row};
use std::time::SystemTime;

/// One record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    /// Position in the log: later records have larger ids, and an id is never reused.
    pub id: i64,
    /// The run it belongs to; `None` for a record of the whole store.
    pub run_id: Option<String>,
    /// The task it is about, if any.
    pub task_key: Option<String>,
    /// When it was written (the store's time format, see [`super::format_time`]).
    pub at: String,
    /// What kind of record it is; readers ask for one kind at a time.
    pub kind: String,
    /// The document: valid JSON, as it was given.
    pub json: String,
}

const COLUMNS: &str = "id, run_id, task_key, at, kind, json";

fn record_row(r: &Row) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        id: r.get(0)?,
        run_id: r.get(1)?,
        task_key: r.get(2)?,
        at: r.get(3)?,
        kind: r.get(4)?,
        json: r.get(5)?,
    })
}

/// Refuses a record whose document is not valid JSON, naming its kind.
pub(super) fn check_json(kind: &str, json: &str) -> Result<(), StoreError> {
    serde_json::from_str::<serde::de::IgnoredAny>(json)
        .map(|_| ())
        .map_err(|e| StoreError::InvalidRecord {
            kind: kind.to_string(),
            detail: e.to_string(),
        })
}

/// Appends one record (its JSON already checked) in the caller's transaction.
pub(super) fn insert_record(
    conn: &Connection,
    run: Option<&str>,
    task: Option<&str>,
    at: &str,
    kind: &str,
    json: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO records (run_id, task_key, at, kind, json) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![run, task, at, kind, json])
    .map(|_| ())
}

impl Store {
    /// The run's records of `kind` (of the run itself and of its tasks), oldest first.
    pub fn records(&self, run: &str, kind: &str) -> Result<Vec<RecordRow>, StoreError> {
        self.select_records(
            &format!("SELECT {COLUMNS} FROM records WHERE run_id = ?1 AND kind = ?2 ORDER BY id"),
            params![run, kind],
        )
    }

    /// The store's own records of `kind`, those of no run (cluster snapshots, ...), oldest first.
    pub fn store_records(&self, kind: &str) -> Result<Vec<RecordRow>, StoreError> {
        self.select_records(
            &format!(
                "SELECT {COLUMNS} FROM records WHERE run_id IS NULL AND kind = ?1 ORDER BY id"
            ),
            params![kind],
        )
    }

    fn select_records(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<RecordRow>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = st.query_map(args, record_row).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Appends a record of the whole store, of no run (a cluster snapshot, ...), stamped with the
    /// current time, in its own transaction. Returns its id. `json` must be valid JSON
    /// ([`StoreError::InvalidRecord`] otherwise, and nothing is written). Records of a run are
    /// written with its other changes instead, as [`super::Change::Record`].
    pub fn add_store_record(&mut self, kind: &str, json: &str) -> Result<i64, StoreError> {
        check_json(kind, json)?;
        insert_record(&self.conn, None, None, &now(), kind, json).map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Deletes the records with these ids (of any run or of none), in one transaction; ids that
    /// do not exist are skipped. Returns how many were deleted.
    pub fn delete_records(&mut self, ids: &[i64]) -> Result<usize, StoreError> {
        let path = self.db_path.clone();
        let e = |e| StoreError::sqlite(&path, e);
        let tx = self.conn.transaction().map_err(e)?;
        let mut n = 0;
        {
            let mut delete = tx.prepare("DELETE FROM records WHERE id = ?1").map_err(e)?;
            for id in ids {
                n += delete.execute([id]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        Ok(n)
    }

    /// Deletes every record of `kind` (of any run or of none) written before `older_than`: the
    /// retention of periodic records such as snapshots. Returns how many were deleted.
    pub fn prune_records(
        &mut self,
        kind: &str,
        older_than: SystemTime,
    ) -> Result<usize, StoreError> {
        // Times are written in one fixed format, so text order is time order.
        self.conn
            .execute(
                "DELETE FROM records WHERE kind = ?1 AND at < ?2",
                params![kind, format_time(older_than)],
            )
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Change, TaskState};
    use std::time::Duration;

    fn store(dir: &std::path::Path) -> Store {
        let mut store = Store::open(&dir.join(".labtrail"), true).unwrap();
        store.create_run("r", "exp", "exp.toml", "").unwrap();
        store.create_run("other", "exp", "exp.toml", "").unwrap();
        store
            .conn
            .execute(
                "INSERT INTO tasks (run_id, key, seq, stage, label, params, command, workdir, env, deps) VALUES ('r', 'aa', 0, 's', 'l', '{}', 'c', '.', '{}', '[]')",
                [],
            )
            .unwrap();
        store
    }

    fn record(task: Option<&str>, kind: &str, json: &str) -> Change {
        Change::Record {
            task: task.map(str::to_string),
            kind: kind.into(),
            json: json.into(),
        }
    }

    /// Records are written in the transaction of the changes they come with and read back in the
    /// order they were written, by run and kind.
    #[test]
    fn records_are_written_with_other_changes_and_read_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = store(tmp.path());
        store
            .apply(
                "r",
                &[
                    record(None, "provenance", r#"{"git":"abc"}"#),
                    Change::Blocked {
                        key: "aa".into(),
                        reason: "upstream failed".into(),
                    },
                    record(Some("aa"), "sample", r#"{"rss":1}"#),
                    record(Some("aa"), "sample", r#"{"rss":2}"#),
                ],
            )
            .unwrap();
        store
            .apply("other", &[record(None, "sample", "[3]")])
            .unwrap();
        store
            .apply("r", &[record(Some("aa"), "sample", r#"{"rss":4}"#)])
            .unwrap();

        let samples = store.records("r", "sample").unwrap();
        let docs: Vec<&str> = samples.iter().map(|r| r.json.as_str()).collect();
        assert_eq!(docs, [r#"{"rss":1}"#, r#"{"rss":2}"#, r#"{"rss":4}"#]);
        assert!(samples.windows(2).all(|w| w[0].id < w[1].id));
        assert!(samples
            .iter()
            .all(|r| r.run_id.as_deref() == Some("r") && r.task_key.as_deref() == Some("aa")));
        let prov = store.records("r", "provenance").unwrap();
        assert_eq!(prov.len(), 1);
        assert_eq!(
            (prov[0].task_key.as_deref(), prov[0].kind.as_str()),
            (None, "provenance")
        );
        assert_eq!(store.records("other", "sample").unwrap()[0].json, "[3]");
        assert!(store.records("r", "nothing").unwrap().is_empty());
        assert!(store.store_records("sample").unwrap().is_empty());
        // The other change of the batch was applied with them.
        assert_eq!(store.tasks("r", None).unwrap()[0].state, TaskState::Blocked);

        // Reopened from the file, everything is still there.
        drop(store);
        let store = Store::open(&tmp.path().join(".labtrail"), false).unwrap();
        assert_eq!(store.records("r", "sample").unwrap(), samples);
    }

    /// A record that is not JSON refuses its whole batch, naming its kind.
    #[test]
    fn invalid_json_refuses_the_batch() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = store(tmp.path());
        let err = store
            .apply(
                "r",
                &[
                    Change::Blocked {
                        key: "aa".into(),
                        reason: "x".into(),
                    },
                    record(Some("aa"), "sample", r#"{"rss":1}"#),
                    record(Some("aa"), "provenance", "{not json"),
                ],
            )
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::InvalidRecord { kind, .. } if kind == "provenance"),
            "{err}"
        );
        assert!(err.to_string().contains("`provenance` record"), "{err}");
        assert!(store.records("r", "sample").unwrap().is_empty());
        assert_eq!(store.tasks("r", None).unwrap()[0].state, TaskState::Pending);
        for bad in ["", "1 2", "{\"a\":}"] {
            assert!(store.add_store_record("snapshot", bad).is_err(), "{bad:?}");
        }
        assert!(store.store_records("snapshot").unwrap().is_empty());
    }

    /// Records of no run are the store's own; deleting by id and pruning by age remove only what
    /// they name, and ids are not reused.
    #[test]
    fn store_records_delete_and_prune() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = store(tmp.path());
        let a = store.add_store_record("snapshot", r#"{"n":1}"#).unwrap();
        let b = store.add_store_record("snapshot", r#"{"n":2}"#).unwrap();
        store
            .apply("r", &[record(None, "snapshot", r#"{"n":"run"}"#)])
            .unwrap();
        let snaps = store.store_records("snapshot").unwrap();
        assert_eq!(snaps.iter().map(|r| r.id).collect::<Vec<_>>(), [a, b]);
        assert!(snaps
            .iter()
            .all(|r| r.run_id.is_none() && r.task_key.is_none()));

        let run_snap = store.records("r", "snapshot").unwrap()[0].id;
        assert!(run_snap > b);

        // Deleting the newest record leaves no trace: its id is not handed out again.
        assert_eq!(
            store
                .delete_records(&[b, run_snap, run_snap + 1000])
                .unwrap(),
            2
        );
        let c = store.add_store_record("snapshot", r#"{"n":3}"#).unwrap();
        assert!(c > run_snap, "a deleted id is not reused ({c})");
        let ids: Vec<i64> = store
            .store_records("snapshot")
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [a, c]);
        assert!(store.records("r", "snapshot").unwrap().is_empty());
        store
            .apply("r", &[record(None, "snapshot", r#"{"n":"run"}"#)])
            .unwrap();

        // Nothing is older than an hour ago; everything is older than a minute from now.
        let hour = Duration::from_secs(3600);
        let minute = Duration::from_secs(60);
        assert_eq!(
            store
                .prune_records("snapshot", SystemTime::now() - hour)
                .unwrap(),
            0
        );
        store.apply("r", &[record(None, "sample", "{}")]).unwrap();
        assert_eq!(
            store
                .prune_records("snapshot", SystemTime::now() + minute)
                .unwrap(),
            3,
            "the run's snapshot record too"
        );
        assert!(store.store_records("snapshot").unwrap().is_empty());
        assert!(store.records("r", "snapshot").unwrap().is_empty());
        assert_eq!(
            store.records("r", "sample").unwrap().len(),
            1,
            "other kinds stay"
        );
    }
}
