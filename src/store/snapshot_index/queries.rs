//! Reading the index: snapshots by time, spans by key, by time and by experiment.

use super::{IndexDbError, SnapshotIndex, SnapshotRow, SpanKind};
use rusqlite::{params, OptionalExtension, Row};

/// A snapshot as queries see it: its row, and what changed in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotInfo {
    /// The row.
    pub row: SnapshotRow,
    /// Flags that appeared (or changed mtime) in it.
    pub new_flags: i64,
    /// Jobs that appeared, changed state or node, or left the queue in it.
    pub job_changes: i64,
}

/// A span: one thing seen unchanged over consecutive snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRow {
    /// `job`, `ended`, `flag`, `run` or `experiment`.
    pub kind: String,
    /// Which one.
    pub key: String,
    /// What stayed the same.
    pub sig: String,
    /// Its experiment, when known.
    pub experiment: Option<String>,
    /// The first snapshot's time as written, and in Unix seconds.
    pub first_ts: String,
    /// As above.
    pub first_epoch: i64,
    /// The last snapshot's time as written.
    pub last_ts: String,
    /// As above.
    pub last_epoch: i64,
    /// The latest sighting as JSON.
    pub data: String,
    /// The first sighting as JSON (what the span's first snapshot saw).
    pub first_data: String,
}

const SNAP_COLUMNS: &str = "file, ts, epoch, host, scheduler, running, pending, other, ended, flags, active_experiments, disk_bytes, new_flags, job_changes";
const SPAN_COLUMNS: &str =
    "kind, key, sig, experiment, first_ts, first_epoch, last_ts, last_epoch, data, first_data";

fn snapshot_info(r: &Row) -> rusqlite::Result<SnapshotInfo> {
    Ok(SnapshotInfo {
        row: SnapshotRow {
            file: r.get(0)?,
            ts: r.get(1)?,
            epoch: r.get(2)?,
            host: r.get(3)?,
            scheduler: r.get(4)?,
            running: r.get(5)?,
            pending: r.get(6)?,
            other: r.get(7)?,
            ended: r.get(8)?,
            flags: r.get(9)?,
            active_experiments: r.get(10)?,
            disk_bytes: r.get(11)?,
        },
        new_flags: r.get(12)?,
        job_changes: r.get(13)?,
    })
}

fn span_row(r: &Row) -> rusqlite::Result<SpanRow> {
    Ok(SpanRow {
        kind: r.get(0)?,
        key: r.get(1)?,
        sig: r.get(2)?,
        experiment: r.get(3)?,
        first_ts: r.get(4)?,
        first_epoch: r.get(5)?,
        last_ts: r.get(6)?,
        last_epoch: r.get(7)?,
        data: r.get(8)?,
        first_data: r.get(9)?,
    })
}

impl SnapshotIndex {
    /// Snapshots and skipped files indexed, and the newest file name of either: what the
    /// freshness check compares with the folder.
    pub fn files_known(&self) -> Result<(u64, Option<String>), IndexDbError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM snapshots) + (SELECT count(*) FROM skipped),
                   nullif(max(coalesce((SELECT max(file) FROM snapshots), ''),
                              coalesce((SELECT max(file) FROM skipped), '')), '')",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .map_err(|e| self.sql(e))
    }

    /// The skipped files with why, by name.
    pub fn skipped(&self) -> Result<Vec<(String, String)>, IndexDbError> {
        self.all("SELECT file, reason FROM skipped ORDER BY file", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    /// Snapshots with `from <= epoch < to`, oldest first.
    pub fn snapshots_between(&self, from: i64, to: i64) -> Result<Vec<SnapshotInfo>, IndexDbError> {
        self.all(
            &format!("SELECT {SNAP_COLUMNS} FROM snapshots WHERE epoch >= ?1 AND epoch < ?2 ORDER BY epoch, ord"),
            params![from, to],
            snapshot_info,
        )
    }

    /// The newest `max` snapshots with `from <= epoch < to`, oldest first (the timeline's
    /// newest rows without reading the whole history).
    pub fn newest_between(
        &self,
        from: i64,
        to: i64,
        max: u64,
    ) -> Result<Vec<SnapshotInfo>, IndexDbError> {
        let mut rows = self.all(
            &format!("SELECT {SNAP_COLUMNS} FROM snapshots WHERE epoch >= ?1 AND epoch < ?2 ORDER BY epoch DESC, ord DESC LIMIT ?3"),
            params![from, to, max as i64],
            snapshot_info,
        )?;
        rows.reverse();
        Ok(rows)
    }

    /// How many snapshots have `from <= epoch < to`.
    pub fn count_between(&self, from: i64, to: i64) -> Result<u64, IndexDbError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM snapshots WHERE epoch >= ?1 AND epoch < ?2",
                params![from, to],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.sql(e))
    }

    /// The newest snapshot at or before `epoch`.
    pub fn snapshot_at_or_before(&self, epoch: i64) -> Result<Option<SnapshotInfo>, IndexDbError> {
        self.first(
            &format!("SELECT {SNAP_COLUMNS} FROM snapshots WHERE epoch <= ?1 ORDER BY epoch DESC, ord DESC LIMIT 1"),
            params![epoch],
            snapshot_info,
        )
    }

    /// The oldest snapshot.
    pub fn first_snapshot(&self) -> Result<Option<SnapshotInfo>, IndexDbError> {
        self.first(
            &format!("SELECT {SNAP_COLUMNS} FROM snapshots ORDER BY epoch, ord LIMIT 1"),
            [],
            snapshot_info,
        )
    }

    /// The newest snapshot.
    pub fn last_snapshot(&self) -> Result<Option<SnapshotInfo>, IndexDbError> {
        self.snapshot_at_or_before(i64::MAX)
    }

    /// The spans of `kind` that contain the instant `epoch` (a snapshot's): what it saw.
    pub fn spans_at(&self, kind: SpanKind, epoch: i64) -> Result<Vec<SpanRow>, IndexDbError> {
        self.all(
            &format!("SELECT {SPAN_COLUMNS} FROM spans WHERE kind = ?1 AND last_epoch >= ?2 AND first_epoch <= ?2 ORDER BY first_epoch, key"),
            params![kind.as_str(), epoch],
            span_row,
        )
    }

    /// The spans of `kind` that overlap `[from, to]`.
    pub fn spans_overlapping(
        &self,
        kind: SpanKind,
        from: i64,
        to: i64,
    ) -> Result<Vec<SpanRow>, IndexDbError> {
        self.all(
            &format!("SELECT {SPAN_COLUMNS} FROM spans WHERE kind = ?1 AND last_epoch >= ?2 AND first_epoch <= ?3 ORDER BY first_epoch, key"),
            params![kind.as_str(), from, to],
            span_row,
        )
    }

    /// The spans of one thing, oldest first.
    pub fn spans_of(&self, kind: SpanKind, key: &str) -> Result<Vec<SpanRow>, IndexDbError> {
        self.all(
            &format!("SELECT {SPAN_COLUMNS} FROM spans WHERE kind = ?1 AND key = ?2 ORDER BY first_epoch"),
            params![kind.as_str(), key],
            span_row,
        )
    }

    /// The keys of `kind` that start with `prefix` (an array's elements), at most `limit`.
    pub fn keys_with_prefix(
        &self,
        kind: SpanKind,
        prefix: &str,
        limit: u32,
    ) -> Result<Vec<String>, IndexDbError> {
        // A range on the key index, not LIKE (which `_` in job ids would turn into a wildcard).
        let end = format!("{prefix}\u{10FFFF}");
        self.all(
            "SELECT DISTINCT key FROM spans WHERE kind = ?1 AND key >= ?2 AND key < ?3 ORDER BY key LIMIT ?4",
            params![kind.as_str(), prefix, end, limit],
            |r| r.get(0),
        )
    }

    /// The spans of `kind` that belong to `experiment`, oldest first.
    pub fn spans_of_experiment(
        &self,
        kind: SpanKind,
        experiment: &str,
    ) -> Result<Vec<SpanRow>, IndexDbError> {
        self.all(
            &format!("SELECT {SPAN_COLUMNS} FROM spans WHERE experiment = ?1 AND kind = ?2 ORDER BY first_epoch, key"),
            params![experiment, kind.as_str()],
            span_row,
        )
    }

    pub(super) fn all<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnMut(&Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, IndexDbError> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.sql(e))?;
        let rows = st.query_map(params, f).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    fn first<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, IndexDbError> {
        self.conn
            .query_row(sql, params, f)
            .optional()
            .map_err(|e| self.sql(e))
    }
}
