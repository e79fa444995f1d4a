//! A task's JSON-lines metric stream, read leniently and within limits: a bad or oversized line
//! is skipped and counted, the rest of the file is kept; past [`METRICS_LIMIT`] nothing is read.

use super::output::{parse_json, size_text};
pub use super::output::{METRICS_LIMIT, METRICS_LINE_LIMIT};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// A metric stream as read: the records kept and what was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Each valid line, compacted to standard JSON, in file order.
    pub records: Vec<String>,
    /// Lines skipped (not JSON, not UTF-8, too long); blank lines are not counted.
    pub skipped: usize,
    /// The first skipped line (from 1) and why.
    pub first_skipped: Option<(usize, String)>,
    /// The file's size, if it was over [`METRICS_LIMIT`] (what lies past it was not read).
    pub over_limit: Option<u64>,
    /// Why the file could not be read at all, if it could not (it was there).
    pub unreadable: Option<String>,
}

impl Metrics {
    /// The warning to record for the file at `path`, if anything was lost:
    /// `2 metrics lines skipped in FILE: line 3: not valid JSON: ...`.
    pub fn warning(&self, path: &Path) -> Option<String> {
        if let Some(why) = &self.unreadable {
            return Some(format!("metrics file {} not read: {why}", path.display()));
        }
        let mut parts = Vec::new();
        if let Some((line, why)) = &self.first_skipped {
            let n = self.skipped;
            let lines = if n == 1 { "line" } else { "lines" };
            parts.push(format!(
                "{n} metrics {lines} skipped in {}: line {line}: {why}",
                path.display()
            ));
        }
        if let Some(size) = self.over_limit {
            parts.push(format!(
                "metrics file {} is {}, over the limit of {}: the rest after the limit skipped",
                path.display(),
                size_text(size),
                size_text(METRICS_LIMIT)
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn skip(&mut self, line: usize, why: String) {
        self.skipped += 1;
        self.first_skipped.get_or_insert((line, why));
    }

    /// One whole line (its `\n` removed), kept or counted.
    fn take_line(&mut self, n: usize, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match parse_json(line) {
            Ok(record) => self.records.push(record),
            // The position is within the line, which is what the warning names.
            Err(why) => self.skip(n, why.replace(" at line 1 column ", " at column ")),
        }
    }
}

/// Reads the task's metric stream: every line that is valid JSON, compacted; the others are
/// counted, and the rest of the file is kept.
pub fn read_metrics(path: &Path) -> Metrics {
    parse_metrics(crate::exec::run_dir::open_regular(path))
}

/// The metric stream, given what opening its file gave: see [`read_metrics`]. A file that does
/// not exist is an empty stream. At most [`METRICS_LIMIT`] bytes are read, and at most
/// [`METRICS_LINE_LIMIT`] bytes of one line are held: memory stays bounded whatever the task
/// wrote (a 2 GB file of one line, from `truncate -s 2G`, costs a read of the limit).
pub fn parse_metrics(opened: std::io::Result<File>) -> Metrics {
    let mut m = Metrics::default();
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return m,
        Err(e) => {
            m.unreadable = Some(e.to_string());
            return m;
        }
    };
    let size = file.metadata().map(|st| st.len()).unwrap_or(0);
    // One byte past the limit tells a file that grew since the `fstat` from one that did not.
    let mut reader = BufReader::with_capacity(64 << 10, file.take(METRICS_LIMIT + 1));
    let (mut line, mut n, mut too_long, mut read) = (Vec::new(), 1, false, 0u64);
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                m.unreadable = Some(e.to_string());
                return m;
            }
        };
        let room = (METRICS_LIMIT - read).min(chunk.len() as u64) as usize;
        if room == 0 {
            m.over_limit = Some(size.max(METRICS_LIMIT + 1));
            break;
        }
        let chunk = &chunk[..room];
        let (piece, ends) = match chunk.iter().position(|&b| b == b'\n') {
            Some(at) => (&chunk[..at], true),
            None => (chunk, false),
        };
        if !too_long && line.len() + piece.len() > METRICS_LINE_LIMIT {
            too_long = true;
            line = Vec::new(); // its memory given back, not only emptied
        }
        if !too_long {
            line.extend_from_slice(piece);
        }
        let used = piece.len() + usize::from(ends);
        reader.consume(used);
        read += used as u64;
        if ends {
            end_line(&mut m, n, &line, too_long);
            (too_long, n) = (false, n + 1);
            line.clear();
        }
    }
    // The last line, without its `\n`, unless the limit cut it: then it is part of the rest.
    if m.over_limit.is_none() && (too_long || !line.is_empty()) {
        end_line(&mut m, n, &line, too_long);
    }
    m
}

fn end_line(m: &mut Metrics, n: usize, line: &[u8], too_long: bool) {
    if too_long {
        let limit = size_text(METRICS_LINE_LIMIT as u64);
        m.skip(n, format!("longer than the limit of {limit}"));
    } else {
        m.take_line(n, line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn metrics_of(content: &[u8]) -> Metrics {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        parse_metrics(Ok(file))
    }

    /// Issue 9: bad lines are skipped and counted, the first one named; the others are kept.
    #[test]
    fn bad_metrics_lines_are_skipped_and_counted() {
        let m = metrics_of(b"{\"s\":1,\"l\":NaN}\n{bad\n\n\xff\xfe\r\n{\"s\":2}\r\n{\"s\":");
        assert_eq!(m.records, [r#"{"s":1,"l":"NaN"}"#, r#"{"s":2}"#]);
        assert_eq!(m.skipped, 3, "a blank line is not counted");
        assert_eq!(
            m.warning(Path::new("m.jsonl")).unwrap(),
            "3 metrics lines skipped in m.jsonl: line 2: not valid JSON: key must be a string at column 2"
        );
        let clean = metrics_of(b"{\"s\":1}\n");
        assert_eq!(clean.warning(Path::new("m.jsonl")), None);
        let missing = parse_metrics(Err(std::io::ErrorKind::NotFound.into()));
        assert_eq!(missing, Metrics::default());
    }

    /// Issue 9: a line over the line limit is skipped and counted (the lines around it kept),
    /// whether or not it ends the file.
    #[test]
    fn an_oversized_metrics_line_is_skipped() {
        let long = format!("{{\"x\":\"{}\"}}", "a".repeat(METRICS_LINE_LIMIT));
        let m = metrics_of(format!("{{\"s\":1}}\n{long}\n{{\"s\":2}}\n{long}").as_bytes());
        assert_eq!(m.records, [r#"{"s":1}"#, r#"{"s":2}"#]);
        assert_eq!(m.skipped, 2);
        assert_eq!(
            m.first_skipped,
            Some((2, "longer than the limit of 1048576 bytes (1.0 MiB)".into()))
        );
    }
}
