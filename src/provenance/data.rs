//! `[archive] data`: per pattern (relative to the experiment file's folder), the files it names
//! (a folder stands for every file under it), their bytes and newlines, a blake3 per file and a
//! root hash over the sorted (path, hash) pairs, in one read of each file (1 MiB at a time). A
//! file whose (dev, inode, size, mtime) are remembered from an earlier snapshot is not read again
//! (`store::data_digests`), so re-snapshotting 10^5 unchanged files costs their `stat`s. Over
//! the time budget or the file cap, or cut short, a snapshot says so in its `partial`.

use super::model::{DataFile, DataSnapshot};
use crate::plan::glob_walk::{self, Bounds, CutShort};
use crate::store::{DataDigestRow, Store};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// How far a snapshot goes.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Hashing stops after this long (the files not read yet are left out, and said so).
    pub budget: Duration,
    /// At most this many files per pattern.
    pub max_files: usize,
    /// Files listed one by one up to this many per pattern (the counts and root are complete).
    pub list_up_to: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            budget: Duration::from_secs(600),
            max_files: 1_000_000,
            list_up_to: 10_000,
        }
    }
}

/// A file newer than this is not remembered: written again within the file system's timestamp
/// granularity, it could keep its size and mtime with another content.
const SETTLED: Duration = Duration::from_secs(2);

/// Remembered digests by path, and the new ones this snapshot found.
#[derive(Debug, Default)]
pub struct Cache {
    pub known: HashMap<String, DataDigestRow>,
    pub fresh: Vec<DataDigestRow>,
}

/// The folder a pattern's files are all under (its components before the first wildcard),
/// absolute: the range of cache rows to load.
pub fn fixed_prefix(base: &Path, pattern: &str) -> PathBuf {
    let full = base.join(pattern);
    let mut out = PathBuf::new();
    for c in full.components() {
        if c.as_os_str().to_string_lossy().contains(['*', '?', '[']) {
            break;
        }
        out.push(c);
    }
    std::path::absolute(&out).unwrap_or(out)
}

/// [`snapshot`] through the digests remembered in `store` (when there is one), remembering the
/// new ones.
pub fn snapshot_cached(
    store: Option<&mut Store>,
    base: &Path,
    patterns: &[String],
    limits: &Limits,
    cancel: &AtomicBool,
) -> Vec<DataSnapshot> {
    let mut cache = Cache::default();
    if let Some(store) = store.as_deref() {
        let mut prefixes: Vec<PathBuf> = patterns.iter().map(|p| fixed_prefix(base, p)).collect();
        prefixes.sort();
        prefixes.dedup();
        for prefix in prefixes {
            for row in store
                .data_digests_under(&prefix.to_string_lossy())
                .unwrap_or_default()
            {
                cache.known.insert(row.path.clone(), row);
            }
        }
    }
    let snaps = snapshot(base, patterns, limits, &mut cache, cancel);
    if let Some(store) = store {
        if let Err(e) = store.remember_data_digests(&cache.fresh) {
            super::capture::warn(&format!("data hashes not remembered: {e}"));
        }
    }
    snaps
}

/// Snapshots every pattern; `cancel` stops hashing early (the snapshots then say so).
pub fn snapshot(
    base: &Path,
    patterns: &[String],
    limits: &Limits,
    cache: &mut Cache,
    cancel: &AtomicBool,
) -> Vec<DataSnapshot> {
    let start = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    patterns
        .iter()
        .map(|p| one(base, p, limits, cache, cancel, start, &mut buf))
        .collect()
}

fn one(
    base: &Path,
    pattern: &str,
    limits: &Limits,
    cache: &mut Cache,
    cancel: &AtomicBool,
    start: Instant,
    buf: &mut [u8],
) -> DataSnapshot {
    let base = std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf());
    let mut problems: Vec<String> = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    let mut paths = Vec::new();
    // Bounded like the hashing: a folder of links back into itself used to keep this thread
    // busy (and growing) for the whole run, and leave the section empty.
    let bounds = Bounds {
        deadline: Some(start + limits.budget),
        stop: Some(cancel),
        ..Bounds::default()
    };
    match glob_walk::matches(&base, pattern, &bounds) {
        Ok(found) => {
            for p in &found.paths {
                collect(p, &mut paths, &mut unreadable, &mut Vec::new());
            }
            for (p, e) in found.unreadable {
                unreadable.push(format!("{} ({e})", p.display()));
            }
            if let Some(cut) = found.cut_short {
                let why = match cut {
                    CutShort::Deadline => {
                        format!("time budget of {} s reached", limits.budget.as_secs())
                    }
                    CutShort::Stopped => "cut short when the run ended".to_string(),
                    CutShort::Entries(_) => cut.to_string(),
                };
                problems.push(format!(
                    "{why} while searching: only the files found until then are snapshotted"
                ));
            }
        }
        Err(e) => problems.push(format!("bad pattern: {}", e.msg)),
    }
    paths.sort();
    paths.dedup();
    if paths.len() > limits.max_files {
        problems.push(format!(
            "file cap: {} files match, the first {} are snapshotted",
            paths.len(),
            limits.max_files
        ));
        paths.truncate(limits.max_files);
    }
    let mut files: Vec<DataFile> = Vec::with_capacity(paths.len());
    let total = paths.len();
    for path in paths {
        if cancel.load(Ordering::Relaxed) || start.elapsed() > limits.budget {
            let why = if cancel.load(Ordering::Relaxed) {
                "cut short when the run ended".to_string()
            } else {
                format!("time budget of {} s reached", limits.budget.as_secs())
            };
            problems.push(format!("{why}: {} of {total} files hashed", files.len()));
            break;
        }
        let shown = match path.strip_prefix(&base) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => path.display().to_string(),
        };
        match digest(&path, cache, cancel, buf) {
            Ok(Some((bytes, lines, blake3))) => files.push(DataFile {
                path: shown,
                bytes,
                lines,
                blake3,
            }),
            Ok(None) => {}
            Err(e) => unreadable.push(format!("{shown} ({e})")),
        }
    }
    if !unreadable.is_empty() {
        let n = unreadable.len();
        let prefix = format!("{}/", base.display());
        for u in &mut unreadable {
            if let Some(rel) = u.strip_prefix(&prefix) {
                *u = rel.to_string();
            }
        }
        unreadable.truncate(5);
        problems.push(format!("{n} unreadable: {}", unreadable.join(", ")));
    }
    // By the path as recorded (bytewise), so that anyone can recompute the root from the list.
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut root = blake3::Hasher::new();
    for f in &files {
        root.update(f.path.as_bytes());
        root.update(b"\0");
        root.update(f.blake3.as_bytes());
        root.update(b"\n");
    }
    let listed = files.len() <= limits.list_up_to;
    if !listed {
        problems.push(format!(
            "per-file list left out: {} files (over {})",
            files.len(),
            limits.list_up_to
        ));
    }
    DataSnapshot {
        pattern: pattern.to_string(),
        files: files.len() as u64,
        bytes: files.iter().map(|f| f.bytes).sum(),
        lines: files.iter().map(|f| f.lines).sum(),
        root: root.finalize().to_hex().to_string(),
        per_file: listed.then_some(files),
        partial: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

/// Adds `p` (a file) or every file under `p` (a folder) to `out`. `in_dirs`: the (device, inode)
/// of the folders the walk is in, so that a link back into one of them ends the loop.
fn collect(
    p: &Path,
    out: &mut Vec<PathBuf>,
    unreadable: &mut Vec<String>,
    in_dirs: &mut Vec<(u64, u64)>,
) {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() => out.push(p.to_path_buf()),
        Ok(m) if m.is_dir() => {
            let id = (m.dev(), m.ino());
            if !in_dirs.contains(&id) {
                in_dirs.push(id);
                walk(p, out, unreadable, in_dirs);
                in_dirs.pop();
            }
        }
        // A FIFO or device: reading it could block or never end.
        Ok(_) => {}
        Err(err) => unreadable.push(format!("{} ({err})", p.display())),
    }
}

/// Every file under the folder `dir`. The entry's type comes with the listing: only folders and
/// symbolic links cost a `stat` here (each file gets one in [`digest`]).
fn walk(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    unreadable: &mut Vec<String>,
    in_dirs: &mut Vec<(u64, u64)>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => return unreadable.push(format!("{} ({err})", dir.display())),
    };
    for e in entries {
        match e.and_then(|e| Ok((e.file_type()?, e.path()))) {
            Ok((t, path)) if t.is_file() => out.push(path),
            Ok((t, path)) if t.is_dir() || t.is_symlink() => {
                collect(&path, out, unreadable, in_dirs)
            }
            Ok(_) => {}
            Err(err) => unreadable.push(format!("{} ({err})", dir.display())),
        }
    }
}

/// Bytes, newlines and blake3 of one file, from the cache or by reading it once; `None` when
/// cancelled half-way.
fn digest(
    path: &Path,
    cache: &mut Cache,
    cancel: &AtomicBool,
    buf: &mut [u8],
) -> std::io::Result<Option<(u64, u64, String)>> {
    let key = path.to_string_lossy().into_owned();
    let meta = std::fs::metadata(path)?;
    let mtime_ns = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
    let id = (meta.dev() as i64, meta.ino() as i64, meta.len() as i64);
    if let Some(r) = cache.known.get(&key) {
        if (r.dev, r.inode, r.size, r.mtime_ns) == (id.0, id.1, id.2, mtime_ns) {
            return Ok(Some((r.size as u64, r.lines as u64, r.blake3.clone())));
        }
    }
    let mut file = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        bytes += n as u64;
        if cancel.load(Ordering::Relaxed) {
            return Ok(None);
        }
    }
    let hash = hasher.finalize().to_hex().to_string();
    let settled = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age >= SETTLED);
    // What was read is what the remembered identity names only if the file did not change.
    if settled && bytes == meta.len() {
        cache.fresh.push(DataDigestRow {
            path: key,
            dev: id.0,
            inode: id.1,
            size: id.2,
            mtime_ns,
            blake3: hash.clone(),
            lines: lines as i64,
        });
    }
    Ok(Some((bytes, lines, hash)))
}
