//! Incremental log reading from a stored byte offset, so a restarted monitor never sees (and
//! never fires a rule on) a line twice. A file shorter than the offset was truncated or
//! replaced: reading starts over from its beginning.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// New complete lines of a log since `offset`, and the offset after them. Bytes of an
/// unfinished last line are left for the next read. `truncated` tells that the file shrank.
pub struct Tail {
    pub lines: Vec<String>,
    pub offset: u64,
    pub truncated: bool,
}

/// Reads at most `max` new bytes of `path` from `offset`.
pub fn read_new(path: &Path, offset: u64, max: u64) -> Tail {
    let none = |offset| Tail {
        lines: Vec::new(),
        offset,
        truncated: false,
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return none(offset);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let (start, truncated) = if len < offset {
        (0, true)
    } else {
        (offset, false)
    };
    if f.seek(SeekFrom::Start(start)).is_err() {
        return none(offset);
    }
    let mut buf = Vec::new();
    let _ = f.take(max).read_to_end(&mut buf);
    let complete = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines = String::from_utf8_lossy(&buf[..complete])
        .lines()
        .map(str::to_string)
        .collect();
    Tail {
        lines,
        offset: start + complete as u64,
        truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_new_complete_lines_and_detects_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, "a\nb\npart").unwrap();
        let t = read_new(&p, 0, 1 << 20);
        assert_eq!(t.lines, ["a", "b"]);
        assert_eq!(t.offset, 4);
        std::fs::write(&p, "a\nb\npartial\nc\n").unwrap();
        let t = read_new(&p, t.offset, 1 << 20);
        assert_eq!(t.lines, ["partial", "c"]);
        assert!(!t.truncated);
        std::fs::write(&p, "new\n").unwrap();
        let t = read_new(&p, t.offset, 1 << 20);
        assert!(t.truncated);
        assert_eq!(t.lines, ["new"]);
    }
}
