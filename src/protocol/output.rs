//! What a task leaves behind: its JSON result and its JSON-lines metric stream, read leniently.
//!
//! Python's `json` module writes `NaN`, `Infinity` and `-Infinity` by default, which standard
//! JSON has no words for. labtrail accepts them and stores each as the string of the same name
//! (`"NaN"`, `"Infinity"`, `"-Infinity"`), as protobuf's JSON mapping, MLflow's REST API and
//! Determined do: every JSON reader can read the store and `labtrail results`, and `float(v)`
//! gives the number back. The price: a task that wrote the string `"NaN"` reads back the same.

use std::borrow::Cow;
use std::path::Path;

/// The non-finite numbers Python writes, each stored as the JSON string of its own name.
pub const NON_FINITE: [&str; 3] = ["-Infinity", "Infinity", "NaN"];

/// JSON text in Python's dialect made standard: each bare `NaN`, `Infinity` or `-Infinity`
/// outside a string becomes the string of its name. Anything else is left as it is, to be
/// judged by the JSON parser.
pub fn standard_json(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let (mut out, mut copied) = (String::new(), 0);
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1, // the escaped character is skipped with it
            b'"' => in_string = !in_string,
            b'N' | b'I' | b'-' if !in_string => {
                let token = NON_FINITE
                    .iter()
                    .find(|t| bytes[i..].starts_with(t.as_bytes()));
                if let Some(t) = token {
                    let end = i + t.len();
                    let boundary = bytes
                        .get(end)
                        .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_');
                    if boundary {
                        out.push_str(&text[copied..i]);
                        out.push('"');
                        out.push_str(t);
                        out.push('"');
                        copied = end;
                        i = end;
                        continue;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// One JSON document in Python's dialect, compacted to standard JSON; `Err` says why not.
fn parse_json(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not valid UTF-8 (byte {})", e.valid_up_to() + 1))?;
    serde_json::from_str::<serde_json::Value>(&standard_json(text))
        .map(|v| v.to_string())
        .map_err(|e| format!("not valid JSON: {e}"))
}

/// Reads the task's result file: `Ok(None)` if it wrote none, `Err` if it cannot be read (a
/// FIFO, a folder, ... is refused unopened) or is not JSON.
pub fn read_result(path: &Path) -> Result<Option<String>, String> {
    parse_result(path, crate::exec::run_dir::read_regular(path))
}

/// The result file at `path`, given what reading it gave: see [`read_result`].
pub fn parse_result(path: &Path, read: std::io::Result<Vec<u8>>) -> Result<Option<String>, String> {
    match read {
        Ok(bytes) => parse_json(&bytes)
            .map(Some)
            .map_err(|why| format!("result file {} is {why}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read result file {}: {e}", path.display())),
    }
}

/// A metric stream as read: the records kept and what was skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Each valid line, compacted to standard JSON, in file order.
    pub records: Vec<String>,
    /// Lines skipped (not JSON, not UTF-8); blank lines are not counted.
    pub skipped: usize,
    /// The first skipped line (from 1) and why.
    pub first_skipped: Option<(usize, String)>,
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
        let (line, why) = self.first_skipped.as_ref()?;
        let n = self.skipped;
        let lines = if n == 1 { "line" } else { "lines" };
        Some(format!(
            "{n} metrics {lines} skipped in {}: line {line}: {why}",
            path.display()
        ))
    }
}

/// Reads the task's metric stream: every line that is valid JSON, compacted; the others are
/// counted, and the rest of the file is kept.
pub fn read_metrics(path: &Path) -> Metrics {
    parse_metrics(crate::exec::run_dir::read_regular(path))
}

/// The metric stream, given what reading its file gave: see [`read_metrics`]. A file that does
/// not exist is an empty stream.
pub fn parse_metrics(read: std::io::Result<Vec<u8>>) -> Metrics {
    let mut m = Metrics::default();
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return m,
        Err(e) => {
            m.unreadable = Some(e.to_string());
            return m;
        }
    };
    for (n, line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_json(line) {
            Ok(record) => m.records.push(record),
            Err(why) => {
                // The position is within the line, which is what the warning names.
                let why = why.replace(" at line 1 column ", " at column ");
                m.skipped += 1;
                m.first_skipped.get_or_insert((n + 1, why));
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9: Python's bare `NaN`, `Infinity` and `-Infinity` become strings; the same words
    /// inside strings, escaped quotes and other tokens are left alone.
    #[test]
    fn python_non_finite_numbers_become_strings() {
        let cases = [
            (r#"{"a": NaN}"#, r#"{"a": "NaN"}"#),
            (
                "[Infinity,-Infinity, NaN]",
                r#"["Infinity","-Infinity", "NaN"]"#,
            ),
            (
                r#"{"NaN": "Infinity", "b": -1}"#,
                r#"{"NaN": "Infinity", "b": -1}"#,
            ),
            (r#"["say \"NaN\"", NaN]"#, r#"["say \"NaN\"", "NaN"]"#),
            (r#"["\\", NaN]"#, r#"["\\", "NaN"]"#),
            ("NaNa", "NaNa"),
        ];
        for (python, standard) in cases {
            assert_eq!(standard_json(python), standard, "{python}");
        }
        assert!(matches!(standard_json("[1, 2]"), Cow::Borrowed(_)));
    }

    /// Issue 9: a result in Python's dialect is stored; a result that is not UTF-8 says so.
    #[test]
    fn a_python_result_reads_back_with_its_non_finite_numbers_as_strings() {
        let path = Path::new("r.json");
        let read = parse_result(path, Ok(br#"{"loss": NaN, "best": -Infinity}"#.to_vec()));
        assert_eq!(
            read,
            Ok(Some(r#"{"loss":"NaN","best":"-Infinity"}"#.into()))
        );
        let bad = parse_result(path, Ok(b"{\"a\": \"\xff\"}".to_vec())).unwrap_err();
        assert_eq!(bad, "result file r.json is not valid UTF-8 (byte 8)");
    }

    /// Issue 9: bad lines are skipped and counted, the first one named; the others are kept.
    #[test]
    fn bad_metrics_lines_are_skipped_and_counted() {
        let m = parse_metrics(Ok(
            b"{\"s\":1,\"l\":NaN}\n{bad\n\n\xff\xfe\r\n{\"s\":2}\r\n{\"s\":".to_vec(),
        ));
        assert_eq!(m.records, [r#"{"s":1,"l":"NaN"}"#, r#"{"s":2}"#]);
        assert_eq!(m.skipped, 3, "a blank line is not counted");
        assert_eq!(
            m.warning(Path::new("m.jsonl")).unwrap(),
            "3 metrics lines skipped in m.jsonl: line 2: not valid JSON: key must be a string at column 2"
        );
        let clean = parse_metrics(Ok(b"{\"s\":1}\n".to_vec()));
        assert_eq!(clean.warning(Path::new("m.jsonl")), None);
        let missing = parse_metrics(Err(std::io::ErrorKind::NotFound.into()));
        assert_eq!(missing, Metrics::default());
    }
}
