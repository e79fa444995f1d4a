use super::*;
use std::io::Cursor;

/// Every line of a tail, with the offset after it.
fn lines(path: &Path, offset: u64, reach: Reach) -> (Vec<String>, Tail<()>) {
    let mut seen = Vec::new();
    let tail = scan(path, offset, reach, |l| {
        seen.push(String::from_utf8_lossy(l).into_owned());
        None
    });
    (seen, tail)
}

fn oom(l: &[u8]) -> Option<String> {
    let rule = regex::bytes::Regex::new("CUDA out of memory").unwrap();
    rule.is_match(l)
        .then(|| String::from_utf8_lossy(l).into_owned())
}

/// A reader that remembers the largest read asked of it and the bytes it gave.
struct Metered<R> {
    inner: R,
    largest_read: usize,
    bytes: u64,
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.largest_read = self.largest_read.max(buf.len());
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for Metered<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

fn metered(data: Vec<u8>) -> Metered<Cursor<Vec<u8>>> {
    Metered {
        inner: Cursor::new(data),
        largest_read: 0,
        bytes: 0,
    }
}

#[test]
fn reads_only_new_complete_lines_and_detects_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    std::fs::write(&p, "a\nb\npart").unwrap();
    let (seen, t) = lines(&p, 0, Reach::Budget(POLL_BUDGET));
    assert_eq!(seen, ["a", "b"]);
    assert_eq!(t.offset, 4);
    std::fs::write(&p, "a\nb\npartial\nc\n").unwrap();
    let (seen, t) = lines(&p, t.offset, Reach::Budget(POLL_BUDGET));
    assert_eq!(seen, ["partial", "c"]);
    assert!(!t.truncated);
    std::fs::write(&p, "new\n").unwrap();
    let (seen, t) = lines(&p, t.offset, Reach::Budget(POLL_BUDGET));
    assert!(t.truncated);
    assert_eq!(seen, ["new"]);
}

/// Issue 11: a job that ended has no more to write: its last line counts without a line end.
#[test]
fn an_ended_jobs_last_line_counts_without_a_line_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    std::fs::write(&p, "step 1\nRuntimeError: CUDA out of memory").unwrap();
    assert!(scan(&p, 0, Reach::Budget(POLL_BUDGET), oom).hit.is_none());
    let t = scan(&p, 0, Reach::End, oom);
    assert_eq!(t.hit.as_deref(), Some("RuntimeError: CUDA out of memory"));
    assert_eq!(t.offset, std::fs::metadata(&p).unwrap().len());
}

/// Issue 11: tqdm redraws its bar with `\r` and no `\n` for hours; a bar larger than the poll's
/// budget must not stop the tail, and the rule's line after it must be found.
#[test]
fn a_carriage_return_progress_bar_larger_than_the_budget_then_the_rules_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("err");
    let mut log = Vec::new();
    let mut i = 0;
    while log.len() < 3 << 20 {
        log.extend_from_slice(format!("\r 45%|#####     | {i}/100000 [00:01<00:10]").as_bytes());
        i += 1;
    }
    // Printed where the bar left the cursor, as a program does that prints after a bar.
    log.extend_from_slice(b"RuntimeError: CUDA out of memory\n");
    std::fs::write(&p, &log).unwrap();
    let budget = 1 << 20;
    let (mut offset, mut reads) = (0, 0);
    let hit = loop {
        let t = scan(&p, offset, Reach::Budget(budget), oom);
        reads += 1;
        assert!(t.offset > offset, "read {reads} advanced from {offset}");
        assert!(t.offset - offset <= budget + 1);
        offset = t.offset;
        if let Some(hit) = t.hit {
            break hit;
        }
        assert!(reads < 10, "the tail keeps advancing to the rule's line");
    };
    assert!(hit.ends_with("]RuntimeError: CUDA out of memory"), "{hit}");
    assert!(
        hit.len() < 100,
        "only the last redraw of the bar is on the rule's line"
    );
    assert_eq!(offset, log.len() as u64);
}

/// Issue 11: a line longer than MAX_LINE and not finished yet is dropped: the offset moves past
/// its bytes (none is read twice), and the rest of it, once it ends, is dropped too.
#[test]
fn an_over_long_line_without_a_line_end_is_skipped_without_stalling() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out");
    let long = vec![b'x'; 20 << 20];
    std::fs::write(&p, &long).unwrap();
    let mut offset = 0;
    for _ in 0..3 {
        let (seen, t) = lines(&p, offset, Reach::Budget(POLL_BUDGET));
        assert!(seen.is_empty());
        assert!(t.offset > offset, "the tail advanced past {offset}");
        offset = t.offset;
    }
    assert_eq!(offset, long.len() as u64);
    let (seen, t) = lines(&p, offset, Reach::Budget(POLL_BUDGET));
    assert!(seen.is_empty());
    assert_eq!(t.offset, offset, "nothing new, nothing read again");
    let mut more = long.clone();
    more.extend_from_slice(b"xx CUDA out of memory (inside the long line)\nnext\n");
    std::fs::write(&p, &more).unwrap();
    let (seen, t) = lines(&p, offset, Reach::Budget(POLL_BUDGET));
    assert_eq!(seen, ["next"], "the long line's end is dropped with it");
    assert_eq!(t.offset, more.len() as u64);
}

/// Issue 11: rules and markers search bytes; a log that is not UTF-8 still matches.
#[test]
fn a_log_that_is_not_utf8_matches_rules_and_has_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out");
    let mut log = b"loss \xff\xfe 0.3\nbatch \xc3\x28 RuntimeError: CUDA out of memory\n".to_vec();
    log.extend_from_slice(b"\x80\x81 TRAINING COMPLETE \xff\n");
    std::fs::write(&p, &log).unwrap();
    assert!(String::from_utf8(log).is_err());
    let t = scan(&p, 0, Reach::End, oom);
    assert!(t.hit.unwrap().contains("CUDA out of memory"));
    assert!(contains(&p, "TRAINING COMPLETE").unwrap());
    assert!(!contains(&p, "TRAINING FAILED").unwrap());
    assert!(!contains(&dir.path().join("missing"), "TRAINING COMPLETE").unwrap());
}

/// Issue 11: the marker search reads chunks; a marker across two chunks is found whole.
#[test]
fn a_marker_straddling_a_chunk_boundary_is_found() {
    let marker = "TRAINING COMPLETE";
    for chunks in [1, 2, 3] {
        for shift in 0..marker.len() + 2 {
            let mut log = vec![b'.'; chunks * CHUNK + 100];
            // Chunks are read from the end: a boundary lies CHUNK bytes before the end.
            let at = log.len() - CHUNK - marker.len() + shift;
            log[at..at + marker.len()].copy_from_slice(marker.as_bytes());
            let len = log.len() as u64;
            let found = contains_in(&mut metered(log.clone()), len, marker).unwrap();
            assert!(found, "{chunks} chunks, shift {shift}");
            log[at] = b'.';
            assert!(!contains_in(&mut metered(log), len, marker).unwrap());
        }
    }
}

/// Issue 11: logs are read in bounded chunks: no read asks for more than CHUNK bytes, a budget
/// bounds what a poll reads, a matcher never sees more than MAX_LINE bytes, and the log code
/// never reads a whole file.
#[test]
fn memory_is_bounded_whatever_the_size_of_the_log() {
    let mut log = vec![b'y'; 9 << 20];
    log.extend_from_slice(b"\nCUDA out of memory\n");
    let len = log.len() as u64;
    let mut r = metered(log.clone());
    let mut longest = 0;
    let t = scan_reader(&mut r, len, 0, Reach::End, |l| {
        longest = longest.max(l.len());
        oom(l)
    })
    .unwrap();
    assert!(t.hit.is_some());
    assert!(r.largest_read <= CHUNK, "{}", r.largest_read);
    assert!(longest <= MAX_LINE);
    let mut r = metered(log.clone());
    let t = scan_reader(&mut r, len, 0, Reach::Budget(1 << 20), oom).unwrap();
    assert!(t.hit.is_none());
    assert!(r.bytes <= (1 << 20) + 1, "{}", r.bytes);
    let mut r = metered(log);
    assert!(!contains_in(&mut r, len, "TRAINING COMPLETE").unwrap());
    assert!(r.largest_read <= CHUNK, "{}", r.largest_read);
    for (name, source) in [
        ("logtail.rs", include_str!("logtail.rs")),
        ("log_rules.rs", include_str!("log_rules.rs")),
        ("finalize.rs", include_str!("finalize.rs")),
    ] {
        for whole in ["read_to_end", "read_to_string", "fs::read("] {
            assert!(
                !source.contains(whole),
                "{name} reads a whole file: {whole}"
            );
        }
    }
}
