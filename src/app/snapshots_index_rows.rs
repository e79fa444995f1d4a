//! A snapshot as the index's rows, and reading the folder's files for the index.
//!
//! The reader here is the index's own: `snapshot::write::{list, read}` (the writer's) were stubs
//! when this was written; both read the same files with serde into [`Snapshot`].

use crate::snapshot::model::{Job, Snapshot};
use crate::snapshot::write::is_snapshot_file;
use crate::store::snapshot_index::{FileStamp, SnapshotRow, SnapshotRows, SpanItem, SpanKind};
use std::path::Path;

/// Unix seconds of a snapshot's timestamp: RFC 3339 with its offset, or (seed 000's files) a
/// bare local date and time, read in this machine's time zone.
pub fn timestamp_epoch(ts: &str) -> Option<i64> {
    if let Ok(t) = ts.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    let civil: jiff::civil::DateTime = ts.parse().ok()?;
    let zoned = civil.to_zoned(jiff::tz::TimeZone::system()).ok()?;
    Some(zoned.timestamp().as_second())
}

/// The snapshot files in `dir` by name (which sorts by local time), names only.
pub fn snapshot_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(name) = name.to_str() {
            if is_snapshot_file(name) {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// The snapshot files in `dir` by name, each with its size and mtime (what the freshness
/// check compares with what the index read).
pub fn file_stamps(dir: &Path) -> std::io::Result<Vec<FileStamp>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if !is_snapshot_file(&name) {
            continue;
        }
        // A file removed between the listing and its stat is simply not there.
        if let Ok(meta) = entry.metadata() {
            files.push((name, meta.len(), mtime_ns(&meta)));
        }
    }
    files.sort();
    Ok(files)
}

/// One file's stamp; none when it is gone.
pub fn file_stamp(dir: &Path, name: &str) -> Option<FileStamp> {
    let meta = std::fs::metadata(dir.join(name)).ok()?;
    Some((name.to_string(), meta.len(), mtime_ns(&meta)))
}

/// A file's (or folder's) mtime in nanoseconds since the epoch.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// Reads one file into the index's rows; the error says what is wrong with it (the caller
/// names the file).
pub fn read_rows(dir: &Path, name: &str) -> Result<SnapshotRows, String> {
    let bytes = std::fs::read(dir.join(name)).map_err(|e| e.to_string())?;
    let snap: Snapshot = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    rows(name, &snap)
}

/// The rows of one snapshot written as `file`.
pub fn rows(file: &str, snap: &Snapshot) -> Result<SnapshotRows, String> {
    if snap.snapshot_timestamp.is_empty() {
        return Err("no snapshot_timestamp".into());
    }
    let epoch = timestamp_epoch(&snap.snapshot_timestamp).ok_or_else(|| {
        format!(
            "snapshot_timestamp {:?} is not a date and time (RFC 3339 expected)",
            snap.snapshot_timestamp
        )
    })?;
    let mut c = snap.counts.clone();
    if snap.schema == 0 {
        // Seed 000's files have no counts: count the lists.
        c.running = snap.running_jobs.iter().filter(|j| running(j)).count() as u64;
        c.pending = snap.running_jobs.iter().filter(|j| pending(j)).count() as u64;
        c.other = (snap.running_jobs.len() as u64).saturating_sub(c.running + c.pending);
        c.flags = snap.completion_flags.len() as u64;
    }
    // Saturating: a file's numbers are whatever it says, and must not panic a query.
    let disk_bytes: u64 = if snap.disk.is_empty() {
        snap.disk_usage
            .values()
            .filter_map(|h| human_bytes(h))
            .fold(0u64, u64::saturating_add)
    } else {
        snap.disk
            .values()
            .map(|d| d.bytes)
            .fold(0, u64::saturating_add)
    };
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let snapshot = SnapshotRow {
        file: file.to_string(),
        ts: snap.snapshot_timestamp.clone(),
        epoch,
        host: snap.host.clone(),
        scheduler: snap.scheduler.status.clone(),
        running: int(c.running),
        pending: int(c.pending),
        other: int(c.other),
        ended: snap.ended_jobs.len() as i64,
        flags: int(c.flags),
        active_experiments: int(c.active_experiments),
        disk_bytes: int(disk_bytes),
    };
    Ok(SnapshotRows {
        snapshot,
        items: items(snap),
    })
}

fn items(snap: &Snapshot) -> Vec<SpanItem> {
    let mut items = Vec::new();
    let mut push = |kind, key: &str, sig: String, experiment: Option<&String>, data: String| {
        items.push(SpanItem {
            kind,
            key: key.to_string(),
            sig,
            experiment: experiment.cloned(),
            data,
        })
    };
    for j in &snap.running_jobs {
        let sig = format!("{}\u{1f}{}", j.state, j.node);
        push(
            SpanKind::Job,
            &j.job_id,
            sig,
            j.experiment.as_ref(),
            json(j),
        );
    }
    for e in &snap.ended_jobs {
        let sig = e.state.clone();
        push(
            SpanKind::Ended,
            &e.job_id,
            sig,
            e.experiment.as_ref(),
            json(e),
        );
    }
    if snap.flags.is_empty() {
        for path in &snap.completion_flags {
            let data = serde_json::json!({ "path": path }).to_string();
            push(SpanKind::Flag, path, String::new(), None, data);
        }
    }
    for f in &snap.flags {
        let sig = f.mtime.clone();
        push(SpanKind::Flag, &f.path, sig, f.experiment.as_ref(), json(f));
    }
    for r in &snap.runs {
        let key = format!("{} {}", r.store, r.run_id);
        let sig = format!("{}\u{1f}{}", r.state, r.stage.as_deref().unwrap_or(""));
        push(SpanKind::Run, &key, sig, Some(&r.experiment), json(r));
    }
    for e in &snap.experiments {
        let sig = format!("{}\u{1f}{}", e.active, e.stage.as_deref().unwrap_or(""));
        push(SpanKind::Experiment, &e.name, sig, Some(&e.name), json(e));
    }
    items
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn running(j: &Job) -> bool {
    matches!(j.state.as_str(), "R" | "CG")
}

fn pending(j: &Job) -> bool {
    matches!(
        j.state.as_str(),
        "PD" | "CF" | "RQ" | "RH" | "RF" | "RS" | "SE"
    )
}

/// Bytes of a `du -h` figure (`45G`, `1.5M`, `512`), for seed files that have no `disk`.
fn human_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let power = match unit
        .trim_end_matches(['B', 'i'])
        .to_ascii_uppercase()
        .as_str()
    {
        "" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        _ => return None,
    };
    let n: f64 = number.trim().parse().ok()?;
    Some((n * 1024f64.powi(power)) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: seed 000's files carry `du -h` figures and bare local timestamps.
    #[test]
    fn seed_figures_and_bare_timestamps_are_read() {
        assert_eq!(human_bytes("45G"), Some(45 << 30));
        assert_eq!(human_bytes("1.5M"), Some(1_572_864));
        assert_eq!(human_bytes("512"), Some(512));
        assert_eq!(human_bytes("lots"), None);
        assert_eq!(
            timestamp_epoch("2026-01-27T18:00:00+01:00"),
            Some(1_769_533_200)
        );
        assert!(timestamp_epoch("2026-01-27T18:00:00").is_some());
        assert_eq!(timestamp_epoch("yesterday"), None);
    }
}
