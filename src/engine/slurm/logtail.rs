//! Streaming reads of job logs, in chunks of bounded size, so that a log of many gigabytes never
//! sits in memory and a poll never reads more than its budget.
//!
//! Tails are read from a stored byte offset, so a restarted monitor never sees (and never fires
//! a rule on) a line twice; a file shorter than the offset was truncated or replaced and is read
//! from its beginning. Lines end at `\n` or `\r` (progress bars redraw themselves with `\r` and
//! would otherwise be one line of gigabytes). A line longer than [`MAX_LINE`] is dropped up to
//! its end, and its bytes still count as read: the offset may then point into that line, and a
//! read that starts in the middle of a line skips to its end, so no byte is read twice and a
//! tail always advances.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes read from a file at once.
pub const CHUNK: usize = 64 << 10;
/// Longer lines are dropped; a rule never sees them.
pub const MAX_LINE: usize = 64 << 10;
/// Bytes of each log of a running job read per poll; the rest waits for the next poll.
pub const POLL_BUDGET: u64 = 8 << 20;

/// How much of a log to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// At most this many bytes (a running job); an unfinished last line waits for more.
    Budget(u64),
    /// To the end (the job ended): a last line without a line end is a line too.
    End,
}

/// The result of reading a log's tail.
#[derive(Debug)]
pub struct Tail<T> {
    /// Where the next read starts.
    pub offset: u64,
    /// The file was shorter than the stored offset, so it was read from its beginning.
    pub truncated: bool,
    /// What the matcher returned for the first line it accepted; reading stops after that line.
    pub hit: Option<T>,
}

/// Reads the lines of `path` from `offset` as far as `reach` allows, giving each to `matcher`
/// until it accepts one. A file that cannot be opened has no new lines.
pub fn scan<T>(
    path: &Path,
    offset: u64,
    reach: Reach,
    matcher: impl FnMut(&[u8]) -> Option<T>,
) -> Tail<T> {
    let unread = Tail {
        offset,
        truncated: false,
        hit: None,
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return unread;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return unread;
    };
    scan_reader(&mut f, len, offset, reach, matcher).unwrap_or(unread)
}

fn is_line_end(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// [`scan`] over any reader of `len` bytes.
pub fn scan_reader<T>(
    r: &mut (impl Read + Seek),
    len: u64,
    offset: u64,
    reach: Reach,
    mut matcher: impl FnMut(&[u8]) -> Option<T>,
) -> io::Result<Tail<T>> {
    let (start, truncated) = if len < offset {
        (0, true)
    } else {
        (offset, false)
    };
    // A budget no larger than a line could leave an unfinished line unread for ever.
    let end = match reach {
        Reach::Budget(n) => len.min(start.saturating_add(n.max(MAX_LINE as u64 + 1))),
        Reach::End => len,
    };
    let mut skipping = false;
    if start > 0 {
        // Only an over-long line leaves the offset inside a line: the rest of it is dropped too.
        r.seek(SeekFrom::Start(start - 1))?;
        let mut before = [0u8];
        r.read_exact(&mut before)?;
        skipping = !is_line_end(before[0]);
    } else {
        r.seek(SeekFrom::Start(0))?;
    }
    let mut buf = vec![0u8; CHUNK];
    let mut line: Vec<u8> = Vec::new();
    let (mut pos, mut committed) = (start, start);
    let done = |offset, hit| Tail {
        offset,
        truncated,
        hit,
    };
    while pos < end {
        let want = (end - pos).min(CHUNK as u64) as usize;
        let n = r.read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let cut = rest.iter().position(|b| is_line_end(*b));
            let piece = &rest[..cut.unwrap_or(rest.len())];
            if !skipping && line.len() + piece.len() > MAX_LINE {
                skipping = true;
                line = Vec::new();
            }
            if !skipping {
                line.extend_from_slice(piece);
            }
            let Some(cut) = cut else { break };
            let line_end = pos + (n - rest.len() + cut + 1) as u64;
            if !skipping && !line.is_empty() {
                if let Some(hit) = matcher(&line) {
                    return Ok(done(line_end, Some(hit)));
                }
            }
            line.clear();
            skipping = false;
            committed = line_end;
            rest = &rest[cut + 1..];
        }
        pos += n as u64;
    }
    if reach == Reach::End && pos >= len {
        let hit = (!skipping && !line.is_empty())
            .then(|| matcher(&line))
            .flatten();
        return Ok(done(pos, hit));
    }
    // An unfinished line is read again next time, unless it is already too long to keep.
    Ok(done(if skipping { pos } else { committed }, None))
}

/// Whether `marker` occurs anywhere in `path`, read backwards in chunks (a marker is usually
/// near the end). A missing file does not contain it.
pub fn contains(path: &Path, marker: &str) -> io::Result<bool> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    contains_in(&mut f, len, marker)
}

/// [`contains`] over any reader of `len` bytes.
pub fn contains_in(r: &mut (impl Read + Seek), len: u64, marker: &str) -> io::Result<bool> {
    if marker.is_empty() {
        return Ok(true);
    }
    let finder = regex::bytes::Regex::new(&regex::escape(marker)).expect("an escaped literal");
    // Each window is a chunk plus the first bytes of the chunk after it, so that a marker
    // across the boundary is seen whole.
    let overlap = marker.len() - 1;
    let mut window: Vec<u8> = Vec::with_capacity(CHUNK + overlap);
    let mut carry: Vec<u8> = Vec::with_capacity(overlap);
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(CHUNK as u64);
        window.clear();
        window.resize((end - start) as usize, 0);
        r.seek(SeekFrom::Start(start))?;
        r.read_exact(&mut window)?;
        window.extend_from_slice(&carry);
        if finder.is_match(&window) {
            return Ok(true);
        }
        carry.clear();
        carry.extend_from_slice(&window[..overlap.min(window.len())]);
        end = start;
    }
    Ok(false)
}

#[cfg(test)]
#[path = "logtail_tests.rs"]
mod tests;
