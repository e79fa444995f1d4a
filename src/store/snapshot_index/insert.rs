//! Adding snapshots (spans continue or open) and forgetting them (spans trimmed to what is left).

use super::{name_order, IndexDbError, SnapshotIndex, SnapshotRows, SpanKind};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::{HashMap, HashSet};

impl SnapshotIndex {
    /// Adds one snapshot in one transaction. Returns false when its file was already indexed.
    /// A snapshot older than the newest indexed one is refused ([`IndexDbError::OutOfOrder`]).
    pub fn insert(&mut self, rows: &SnapshotRows) -> Result<bool, IndexDbError> {
        self.insert_batch(std::slice::from_ref(rows))
            .map(|n| n == 1)
    }

    /// Adds snapshots, oldest first, in one transaction; returns how many were new.
    pub fn insert_batch(&mut self, batch: &[SnapshotRows]) -> Result<usize, IndexDbError> {
        let path = self.path.clone();
        let sql = |source| IndexDbError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut added = 0;
        for rows in batch {
            if insert_one(&tx, rows)? {
                added += 1;
            }
        }
        tx.commit().map_err(sql)?;
        Ok(added)
    }

    /// Records a file of the folder that is not a snapshot, with why.
    pub fn record_skipped(&mut self, file: &str, reason: &str) -> Result<(), IndexDbError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO skipped(file, reason) VALUES (?1, ?2)",
                params![file, reason],
            )
            .map(|_| ())
            .map_err(|e| self.sql(e))
    }

    /// Forgets snapshot files (prune removed them). Spans keep what the remaining snapshots
    /// show: each is trimmed to the first and last remaining snapshot inside it, and dropped
    /// when none remains. Returns how many snapshots were forgotten.
    pub fn forget(&mut self, files: &[String]) -> Result<usize, IndexDbError> {
        let path = self.path.clone();
        let sql = |source| IndexDbError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut gone = 0;
        for file in files {
            gone += tx
                .execute("DELETE FROM snapshots WHERE file = ?1", [file])
                .map_err(sql)?;
            tx.execute("DELETE FROM skipped WHERE file = ?1", [file])
                .map_err(sql)?;
            tx.execute("DELETE FROM files WHERE file = ?1", [file])
                .map_err(sql)?;
        }
        if gone > 0 {
            trim_spans(&tx).map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(gone)
    }
}

/// Spans whose first or last snapshot is gone move to the nearest remaining one inside them.
fn trim_spans(tx: &Transaction) -> rusqlite::Result<()> {
    // Spans none of whose snapshots remain go first: the updates below would set their ends
    // to NULL, which the NOT NULL columns refuse (and a prune removing whole spans is the
    // normal case).
    tx.execute_batch(
        "DELETE FROM spans WHERE NOT EXISTS (SELECT 1 FROM snapshots s
           WHERE s.epoch BETWEEN spans.first_epoch AND spans.last_epoch);
         UPDATE spans SET
           first_snap = (SELECT s.id FROM snapshots s WHERE s.epoch BETWEEN spans.first_epoch AND spans.last_epoch ORDER BY s.epoch, s.ord LIMIT 1)
         WHERE first_snap NOT IN (SELECT id FROM snapshots);
         UPDATE spans SET
           last_snap = (SELECT s.id FROM snapshots s WHERE s.epoch BETWEEN spans.first_epoch AND spans.last_epoch ORDER BY s.epoch DESC, s.ord DESC LIMIT 1)
         WHERE last_snap NOT IN (SELECT id FROM snapshots);
         UPDATE spans SET
           first_epoch = (SELECT epoch FROM snapshots WHERE id = first_snap),
           first_ts = (SELECT ts FROM snapshots WHERE id = first_snap),
           last_epoch = (SELECT epoch FROM snapshots WHERE id = last_snap),
           last_ts = (SELECT ts FROM snapshots WHERE id = last_snap);",
    )
}

fn insert_one(tx: &Transaction, rows: &SnapshotRows) -> Result<bool, IndexDbError> {
    let sql = |source| IndexDbError::Sql {
        path: tx.path().unwrap_or_default().into(),
        source,
    };
    let s = &rows.snapshot;
    let known: Option<i64> = tx
        .query_row("SELECT id FROM snapshots WHERE file = ?1", [&s.file], |r| {
            r.get(0)
        })
        .optional()
        .map_err(sql)?;
    if known.is_some() {
        return Ok(false);
    }
    let prev: Option<(i64, i64, String, String)> = tx
        .query_row(
            "SELECT id, epoch, file, ord FROM snapshots ORDER BY epoch DESC, ord DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(sql)?;
    let ord = name_order(&s.file);
    if let Some((_, epoch, file, prev_ord)) = &prev {
        if (*epoch, prev_ord.as_str()) > (s.epoch, ord.as_str()) {
            return Err(IndexDbError::OutOfOrder {
                file: s.file.clone(),
                newest: file.clone(),
            });
        }
    }
    tx.execute(
        "INSERT INTO snapshots(file, ts, epoch, host, scheduler, running, pending, other, ended,
           flags, active_experiments, disk_bytes, ord)
           VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
        params![
            s.file,
            s.ts,
            s.epoch,
            s.host,
            s.scheduler,
            s.running,
            s.pending,
            s.other,
            s.ended,
            s.flags,
            s.active_experiments,
            s.disk_bytes,
            ord
        ],
    )
    .map_err(sql)?;
    let id = tx.last_insert_rowid();
    // The spans the previous snapshot ended with are the ones this one may continue.
    let mut open: HashMap<(String, String), (i64, String)> = HashMap::new();
    if let Some((prev_id, _, _, _)) = prev {
        let mut st = tx
            .prepare_cached("SELECT id, kind, key, sig FROM spans WHERE last_snap = ?1")
            .map_err(sql)?;
        let found = st
            .query_map([prev_id], |r| {
                Ok(((r.get(1)?, r.get(2)?), (r.get(0)?, r.get(3)?)))
            })
            .map_err(sql)?;
        for f in found {
            let (k, v) = f.map_err(sql)?;
            open.insert(k, v);
        }
    }
    let mut seen = HashSet::new();
    let (mut new_flags, mut job_changes) = (0i64, 0i64);
    let mut extend = tx
        .prepare_cached(
            "UPDATE spans SET last_snap = ?2, last_epoch = ?3, last_ts = ?4, data = ?5 WHERE id = ?1",
        )
        .map_err(sql)?;
    let mut start = tx
        .prepare_cached(
            "INSERT INTO spans(kind, key, sig, experiment, first_snap, last_snap, first_epoch,
               last_epoch, first_ts, last_ts, data, first_data)
               VALUES (?1,?2,?3,?4,?5,?5,?6,?6,?7,?7,?8,?8)",
        )
        .map_err(sql)?;
    // A snapshot whose scheduler did not answer knows nothing of the queue: the jobs and
    // experiments of the one before continue through it, unchanged.
    let blind = s.scheduler == "failed";
    if blind {
        let mut carry = tx
            .prepare_cached(
                "UPDATE spans SET last_snap = ?2, last_epoch = ?3, last_ts = ?4 WHERE id = ?1",
            )
            .map_err(sql)?;
        for ((kind, key), (span, _)) in &open {
            if kind == SpanKind::Job.as_str() || kind == SpanKind::Experiment.as_str() {
                carry
                    .execute(params![span, id, s.epoch, s.ts])
                    .map_err(sql)?;
                seen.insert((kind.clone(), key.clone()));
            }
        }
    }
    for item in &rows.items {
        if blind && matches!(item.kind, SpanKind::Job | SpanKind::Experiment) {
            continue;
        }
        let key = (item.kind.as_str().to_string(), item.key.clone());
        if !seen.insert(key.clone()) {
            continue; // the same job twice in one squeue answer: the first one counts
        }
        match open.get(&key) {
            Some((span, sig)) if *sig == item.sig => {
                extend
                    .execute(params![span, id, s.epoch, s.ts, item.data])
                    .map_err(sql)?;
            }
            _ => {
                start
                    .execute(params![
                        key.0,
                        item.key,
                        item.sig,
                        item.experiment,
                        id,
                        s.epoch,
                        s.ts,
                        item.data
                    ])
                    .map_err(sql)?;
                match item.kind {
                    SpanKind::Flag => new_flags += 1,
                    SpanKind::Job => job_changes += 1,
                    _ => {}
                }
            }
        }
    }
    // Jobs the previous snapshot had that this one has not: they left the queue.
    job_changes += open
        .keys()
        .filter(|k| k.0 == SpanKind::Job.as_str() && !seen.contains(*k))
        .count() as i64;
    tx.execute(
        "UPDATE snapshots SET new_flags = ?2, job_changes = ?3 WHERE id = ?1",
        params![id, new_flags, job_changes],
    )
    .map_err(sql)?;
    Ok(true)
}

impl SnapshotIndex {
    /// Empties the snapshots and spans (a rebuild that must start over in another order);
    /// skipped files stay recorded.
    pub fn clear_snapshots(&mut self) -> Result<(), IndexDbError> {
        self.conn
            .execute_batch("DELETE FROM spans; DELETE FROM snapshots; DELETE FROM meta;")
            .map_err(|e| self.sql(e))
    }
}
