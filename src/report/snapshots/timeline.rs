//! The timeline: one row per change, runs of snapshots that saw the same thing collapsed into
//! one row (a year of 5-minute snapshots is 10^5 rows otherwise).

use super::{Range, SnapshotQueryError};
use crate::store::snapshot_index::{SnapshotIndex, SnapshotInfo};
use serde::Serialize;

/// One row: a snapshot, or consecutive snapshots with the same counts and no job or flag change.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimelineRow {
    /// The first snapshot's time (RFC 3339, as written).
    pub from: String,
    /// The last snapshot's time.
    pub to: String,
    /// The first one's Unix seconds.
    pub from_epoch: i64,
    /// The last one's Unix seconds.
    pub to_epoch: i64,
    /// Snapshots in the row.
    pub snapshots: u64,
    /// Jobs running.
    pub running: i64,
    /// Jobs pending.
    pub pending: i64,
    /// Jobs in other states.
    pub other: i64,
    /// Jobs that left the queue in these snapshots.
    pub ended: i64,
    /// Completion flags that exist.
    pub flags: i64,
    /// Flags that appeared in these snapshots.
    pub new_flags: i64,
    /// Measured bytes at the row's last snapshot.
    pub disk_bytes: i64,
    /// Change of measured bytes since the previous row (0 for the first).
    pub disk_delta: i64,
    /// The scheduler did not answer at these snapshots: their job counts say nothing.
    pub scheduler_failed: bool,
}

/// The timeline of a range.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// Snapshots in the range.
    pub snapshots: u64,
    /// Rows after collapsing, when all were read (`--limit 0`, or a range with few snapshots).
    pub total_rows: Option<u64>,
    /// The rows shown: the newest `limit` (all when the limit is 0), oldest first.
    pub rows: Vec<TimelineRow>,
}

/// The timeline over `range`, keeping the newest `limit` rows (0: all). With a limit only the
/// newest snapshots are read: enough of them to fill `limit` whole rows (a row may span many).
pub fn timeline(
    index: &SnapshotIndex,
    range: Range,
    limit: usize,
) -> Result<Timeline, SnapshotQueryError> {
    let (from, to) = range.bounds();
    if limit == 0 {
        let snaps = index.snapshots_between(from, to)?;
        let rows = collapse(&snaps);
        return finish(index, snaps.len() as u64, Some(rows.len() as u64), rows);
    }
    let total = index.count_between(from, to)?;
    let mut want = limit as u64 * 20;
    loop {
        let snaps = index.newest_between(from, to, want)?;
        let mut rows = collapse(&snaps);
        // The oldest row read may have begun before the snapshots read: dropped unless all were.
        let all_read = snaps.len() as u64 >= total;
        if all_read || rows.len() > limit {
            let total_rows = all_read.then_some(rows.len() as u64);
            if rows.len() > limit {
                rows.drain(..rows.len() - limit);
            }
            return finish(index, total, total_rows, rows);
        }
        want *= 4;
    }
}

fn finish(
    index: &SnapshotIndex,
    snapshots: u64,
    total_rows: Option<u64>,
    rows: Vec<TimelineRow>,
) -> Result<Timeline, SnapshotQueryError> {
    if rows.is_empty() {
        return Err(SnapshotQueryError::NotFound(empty_message(index)?));
    }
    Ok(Timeline {
        snapshots,
        total_rows,
        rows,
    })
}

/// Consecutive snapshots that saw the same thing as one row each; disk deltas between rows.
fn collapse(snaps: &[SnapshotInfo]) -> Vec<TimelineRow> {
    let mut rows: Vec<TimelineRow> = Vec::new();
    let mut disk_before: Option<i64> = None;
    for s in snaps {
        match rows.last_mut() {
            Some(last) if same(last, s) => {
                last.to.clone_from(&s.row.ts);
                last.to_epoch = s.row.epoch;
                last.snapshots += 1;
                last.ended = last.ended.saturating_add(s.row.ended);
                last.disk_delta = last
                    .disk_delta
                    .saturating_add(s.row.disk_bytes.saturating_sub(last.disk_bytes));
                last.disk_bytes = s.row.disk_bytes;
            }
            _ => {
                let before = disk_before.unwrap_or(s.row.disk_bytes);
                rows.push(TimelineRow {
                    from: s.row.ts.clone(),
                    to: s.row.ts.clone(),
                    from_epoch: s.row.epoch,
                    to_epoch: s.row.epoch,
                    snapshots: 1,
                    running: s.row.running,
                    pending: s.row.pending,
                    other: s.row.other,
                    ended: s.row.ended,
                    flags: s.row.flags,
                    new_flags: s.new_flags,
                    disk_bytes: s.row.disk_bytes,
                    disk_delta: s.row.disk_bytes.saturating_sub(before),
                    scheduler_failed: s.row.scheduler == "failed",
                });
            }
        }
        disk_before = Some(s.row.disk_bytes);
    }
    rows
}

/// A snapshot continues the row when it saw the same counts and no job or flag changed.
fn same(row: &TimelineRow, s: &SnapshotInfo) -> bool {
    s.job_changes == 0
        && s.new_flags == 0
        && row.scheduler_failed == (s.row.scheduler == "failed")
        && row.running == s.row.running
        && row.pending == s.row.pending
        && row.other == s.row.other
        && row.flags == s.row.flags
}

/// What to say when a range holds no snapshot: what range the folder does hold.
pub(super) fn empty_message(index: &SnapshotIndex) -> Result<String, SnapshotQueryError> {
    Ok(match (index.first_snapshot()?, index.last_snapshot()?) {
        (Some(first), Some(last)) => format!(
            "no snapshot in that range; the snapshots go from {} to {}",
            first.row.ts, last.row.ts
        ),
        _ => "no snapshots yet: take one with `labtrail snapshot`".to_string(),
    })
}
