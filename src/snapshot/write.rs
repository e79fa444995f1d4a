//! The snapshot file on disk: named `snapshot_YYYYMMDD_HHMMSS.json` by its local time, written to
//! a temporary file in the folder, fsynced, renamed, and the folder fsynced; nothing written when
//! the content is the latest snapshot's; a lock file in the folder so that two login nodes never
//! write the same slot. The folder's `.gitignore` keeps the index, the lock and temporary files
//! out of git.

use super::model::Snapshot;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file name prefix; files are `snapshot_YYYYMMDD_HHMMSS.json` (a second one within the
/// same second, or in a DST fall-back hour, gets `-2`, `-3`, ... before `.json`).
pub const FILE_PREFIX: &str = "snapshot_";

/// Temporary files start with this (hidden, and never [`is_snapshot_file`]); one left by a
/// writer killed before its rename is removed by the next writer.
pub const TEMP_PREFIX: &str = ".snapshot-tmp-";

/// What the folder's `.gitignore` holds: the index database (and its journal), the lock and
/// temporary files are this host's working files, not history.
pub const GITIGNORE: &str = "# labtrail: the index, the lock and temporary files are not history\n\
/.snapshot-index.db*\n\
/.snapshot.lock*\n\
/.snapshot-tmp-*\n\
/.snapshot-cron.log\n";

/// Whether `name` is a snapshot file's name.
pub fn is_snapshot_file(name: &str) -> bool {
    name.starts_with(FILE_PREFIX) && name.ends_with(".json")
}

/// The order of snapshot file names: by their time, then by the `-N` of a second file within
/// the same second (`-2` sorts before `.json` byte-wise, so plain name order is wrong there).
fn order_key(name: &str) -> (String, u32) {
    let stem = name.trim_end_matches(".json");
    match stem.rsplit_once('-') {
        Some((base, n)) if n.parse::<u32>().is_ok() => (base.to_string(), n.parse().unwrap_or(1)),
        _ => (stem.to_string(), 1),
    }
}

/// The snapshot files in `dir`, oldest first (by name, which sorts by local time; ties by the
/// timestamp inside are the reader's business).
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_snapshot_file(n))
        .collect();
    names.sort_by_cached_key(|n| order_key(n));
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

/// How far apart a file's name (its writer's local time) and its true time can be: UTC offsets
/// run from -12 h to +14 h, plus a DST hour.
const NAME_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_hours(27);

/// The snapshot files in `dir`, newest first by the time written inside them
/// (`snapshot_timestamp`), not by name: names are each writer's local time, so after the
/// clocks go back, or with cron in another time zone than the shell, or two hosts in one
/// folder, the last name is not the newest snapshot. Only the files named within a day of the
/// last name can be newer than it, and only their first bytes are read; a file whose time does
/// not parse comes after every one whose time does. The rest follow by name.
pub fn newest_first(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = list(dir)?;
    files.reverse();
    let newest_name = files.iter().find_map(|p| name_time(p));
    let split = match newest_name {
        Some(newest) => files
            .iter()
            .position(|p| name_time(p).is_some_and(|t| t < newest - NAME_SKEW))
            .unwrap_or(files.len()),
        None => files.len(),
    };
    let rest = files.split_off(split);
    let mut keyed: Vec<(Option<jiff::Timestamp>, usize, PathBuf)> = files
        .into_iter()
        .enumerate()
        .map(|(i, p)| (head_time(&p), i, p))
        .collect();
    // Newest time first; equal times (and no time) keep the name order, newest name first.
    keyed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(keyed.into_iter().map(|(_, _, p)| p).chain(rest).collect())
}

/// The local time a file's name says (`snapshot_YYYYMMDD_HHMMSS...`), if it says one.
fn name_time(path: &Path) -> Option<jiff::civil::DateTime> {
    let name = path.file_name()?.to_str()?;
    let stamp = name.strip_prefix(FILE_PREFIX)?.get(..15)?;
    jiff::civil::DateTime::strptime("%Y%m%d_%H%M%S", stamp).ok()
}

/// The `snapshot_timestamp` of a file, read from its first bytes (the key comes first in the
/// files labtrail writes; others are parsed whole). A time without an offset (the seed's files)
/// is local time.
fn head_time(path: &Path) -> Option<jiff::Timestamp> {
    use std::io::Read;
    let mut head = vec![0; 4096];
    let n = File::open(path).and_then(|mut f| f.read(&mut head)).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let value = match text.find("\"snapshot_timestamp\"") {
        Some(at) => {
            let after = &text[at + "\"snapshot_timestamp\"".len()..];
            let after = after.trim_start().strip_prefix(':')?.trim_start();
            let inner = after.strip_prefix('"')?;
            inner[..inner.find('"')?].to_string()
        }
        None => read(path).ok()?.snapshot_timestamp,
    };
    value.parse::<jiff::Timestamp>().ok().or_else(|| {
        let civil: jiff::civil::DateTime = value.parse().ok()?;
        civil
            .to_zoned(jiff::tz::TimeZone::system())
            .ok()
            .map(|z| z.timestamp())
    })
}

/// Reads one snapshot file; the error names the file.
pub fn read(path: &Path) -> Result<Snapshot, SnapshotFileError> {
    let text = std::fs::read(path).map_err(|source| SnapshotFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |detail: String| SnapshotFileError::Invalid {
        path: path.to_path_buf(),
        detail,
    };
    let value: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| invalid(format!("not JSON: {e}")))?;
    // Every field has a default: without this check any JSON object would read as an empty
    // snapshot.
    if !value
        .get("snapshot_timestamp")
        .is_some_and(serde_json::Value::is_string)
    {
        return Err(invalid("no `snapshot_timestamp`".to_string()));
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}

/// The file name for a snapshot taken at `time` (its local time): `snapshot_YYYYMMDD_HHMMSS.json`.
pub fn file_name(time: &jiff::Zoned) -> String {
    format!("{FILE_PREFIX}{}.json", time.strftime("%Y%m%d_%H%M%S"))
}

/// Writes `snap` into `dir` as a new file named by `time` (with `-2`, `-3`, ... when that name
/// is taken) and returns its path. Atomic: the content goes to a temporary file, fsynced, then
/// renamed, and the folder fsynced; a crash leaves the whole file or none. The caller holds the
/// folder's lock (the name check and the rename are not atomic together without it).
pub fn write_new(dir: &Path, snap: &Snapshot, time: &jiff::Zoned) -> std::io::Result<PathBuf> {
    ensure_gitignore(dir)?;
    let mut text = serde_json::to_vec_pretty(snap).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let temp = dir.join(format!("{TEMP_PREFIX}{}.json", std::process::id()));
    let written = (|| {
        let mut f = File::create(&temp)?;
        f.write_all(&text)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    crate::store::fault::fault_injection_pause_point("snapshot-before-rename");
    crate::store::fault::fault_injection_crash_point("snapshot-before-rename");
    let target = free_name(dir, &file_name(time));
    if let Err(e) = std::fs::rename(&temp, &target) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    File::open(dir)?.sync_all()?;
    Ok(target)
}

/// `name` in `dir`, or `name` with `-2`, `-3`, ... when a file has it already.
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let stem = name.trim_end_matches(".json");
    let mut path = dir.join(name);
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.json"));
        n += 1;
    }
    path
}

/// Removes temporary files a killed writer left in `dir` (the caller holds the folder's lock, so
/// no writer is using one). Returns how many it removed.
pub fn remove_leftover_temps(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)?.filter_map(|e| e.ok()) {
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Writes the folder's `.gitignore` when it has none (a user's own is left as it is).
pub fn ensure_gitignore(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(".gitignore");
    if path.exists() {
        return Ok(());
    }
    let temp = dir.join(format!("{TEMP_PREFIX}{}.gitignore", std::process::id()));
    std::fs::write(&temp, GITIGNORE)?;
    std::fs::rename(&temp, &path)
}

/// A snapshot file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a snapshot (not JSON, or not this format).
    #[error("{path}: not a labtrail snapshot: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_file_in_the_same_second_sorts_after_the_first() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "snapshot_20260127_180000-2.json",
            "snapshot_20260127_180001.json",
            "snapshot_20260127_180000.json",
            "snapshot_20260127_180000-10.json",
            "notes.json",
        ] {
            std::fs::write(dir.path().join(n), "{}").unwrap();
        }
        let names: Vec<String> = list(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "snapshot_20260127_180000.json",
                "snapshot_20260127_180000-2.json",
                "snapshot_20260127_180000-10.json",
                "snapshot_20260127_180001.json",
            ]
        );
    }

    #[test]
    fn a_json_file_that_is_not_a_snapshot_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot_x.json");
        std::fs::write(&path, "{\"a\": 1}").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("snapshot_x.json") && err.contains("not a labtrail snapshot"));
    }
}
