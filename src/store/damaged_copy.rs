//! The copy of a damaged database kept beside it before any command reports the damage, and
//! only one per distinct damage (issue 10, review): every reading command on a damaged store
//! used to make another full copy (six commands, nine files; `watch labtrail status` on a
//! large store could fill the disk). A copy keeps the original's modification time, so that
//! the next command can tell it still holds the same bytes and points at it instead.

use super::{unclean, DB_FILE};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The side files kept with a copy: what SQLite needs to read it as it was (not the `-shm`
/// index, which it rebuilds; it is still copied, for a person looking into the damage).
const SIDES: [&str; 2] = ["-wal", "-journal"];

/// How much of each end of a file is compared, besides its length and modification time.
const END_BYTES: u64 = 64 << 10;

/// What tells a file's content apart cheaply: length, modification time, first and last bytes.
#[derive(PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: SystemTime,
    head: Vec<u8>,
    tail: Vec<u8>,
}

fn fingerprint(p: &Path) -> Option<Fingerprint> {
    let mut f = std::fs::File::open(p).ok()?;
    let meta = f.metadata().ok()?;
    let len = meta.len();
    let mut head = Vec::new();
    (&mut f).take(END_BYTES).read_to_end(&mut head).ok()?;
    f.seek(SeekFrom::Start(len.saturating_sub(END_BYTES)))
        .ok()?;
    let mut tail = Vec::new();
    f.take(END_BYTES).read_to_end(&mut tail).ok()?;
    Some(Fingerprint {
        len,
        modified: meta.modified().ok()?,
        head,
        tail,
    })
}

/// Whether `copy` (and its side files) holds what `db` (and its side files) holds now.
fn same(db: &Path, copy: &Path) -> bool {
    let same_file = |a: &Path, b: &Path| match (a.exists(), b.exists()) {
        (false, false) => true,
        (true, true) => fingerprint(a).is_some_and(|fa| fingerprint(b).is_some_and(|fb| fa == fb)),
        _ => false,
    };
    same_file(db, copy)
        && SIDES
            .iter()
            .all(|s| same_file(&unclean::side(db, s), &unclean::side(copy, s)))
}

/// A copy kept earlier of the database `db` in `dir` as it is now.
fn existing(dir: &Path, db: &Path) -> Option<PathBuf> {
    let prefix = format!("{DB_FILE}.damaged-");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            name.starts_with(&prefix)
                && !["-wal", "-shm", "-journal"]
                    .iter()
                    .any(|s| name.ends_with(s))
        })
        .find(|p| same(db, p))
}

/// Gives `copy` the modification time of `original`, so that a later [`keep`] recognizes it.
fn keep_time(original: &Path, copy: &Path) {
    let Ok(modified) = std::fs::metadata(original).and_then(|m| m.modified()) else {
        return;
    };
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .open(copy)
        .and_then(|f| f.set_modified(modified));
}

/// Keeps a copy of the damaged database `db` in the store folder `dir` (and of its `-wal`,
/// `-shm`, `-journal`) under a new, unique name, never over a file; or returns the copy an
/// earlier command kept of the very same content.
pub(super) fn keep(dir: &Path, db: &Path) -> Result<PathBuf, String> {
    if let Some(copy) = existing(dir, db) {
        return Ok(copy);
    }
    let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%S").to_string();
    let backup = unclean::unique_copy(db, &dir.join(format!("{DB_FILE}.damaged-{stamp}")))?;
    keep_time(db, &backup);
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = unclean::side(db, suffix);
        if side.exists() {
            if let Ok(copy) = unclean::unique_copy(&side, &unclean::side(&backup, suffix)) {
                keep_time(&side, &copy);
            }
        }
    }
    Ok(backup)
}
