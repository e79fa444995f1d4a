//! What a task leaves behind: its JSON result and its JSON-lines metric stream, read leniently.
//!
//! Python's `json` module writes `NaN`, `Infinity` and `-Infinity` by default, which standard
//! JSON has no words for. labtrail accepts them and stores each as the string of the same name
//! (`"NaN"`, `"Infinity"`, `"-Infinity"`), as protobuf's JSON mapping, MLflow's REST API and
//! Determined do: every JSON reader can read the store and `labtrail results`, and `float(v)`
//! gives the number back. The price: a task that wrote the string `"NaN"` reads back the same.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
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
pub(super) fn parse_json(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not valid UTF-8 (byte {})", e.valid_up_to() + 1))?;
    serde_json::from_str::<serde_json::Value>(&standard_json(text))
        .map(|v| v.to_string())
        .map_err(|e| format!("not valid JSON: {e}"))
}

/// The largest result file read: a result is a summary (a few numbers, paths to what is big).
/// A larger one fails the attempt, unread.
pub const RESULT_LIMIT: u64 = 16 << 20;
/// How much of a metrics file is read; the rest is skipped, with a warning.
pub const METRICS_LIMIT: u64 = 64 << 20;
/// The longest metrics line kept; a longer one is skipped (never held whole), with a warning.
pub const METRICS_LINE_LIMIT: usize = 1 << 20;

/// `2147483648 bytes (2.0 GiB)`: a size as a reason states it.
pub(super) fn size_text(bytes: u64) -> String {
    let units = ["KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (bytes as f64, "bytes");
    for u in units {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    if unit == "bytes" {
        format!("{bytes} bytes")
    } else {
        format!("{bytes} bytes ({value:.1} {unit})")
    }
}

/// Reads the task's result file: `Ok(None)` if it wrote none, `Err` if it cannot be read (a
/// FIFO, a folder, ... is refused unopened), is over [`RESULT_LIMIT`] or is not JSON.
pub fn read_result(path: &Path) -> Result<Option<String>, String> {
    parse_result(path, crate::exec::run_dir::open_regular(path))
}

/// The result file at `path`, given what opening it gave: see [`read_result`]. Its size is
/// checked before it is read: a task that made it 2 GB (`truncate -s 2G`) costs a `fstat`.
pub fn parse_result(path: &Path, opened: std::io::Result<File>) -> Result<Option<String>, String> {
    let cannot = |e: std::io::Error| format!("cannot read result file {}: {e}", path.display());
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    let too_big = |size: u64| {
        format!(
            "result file {} is {}, over the limit of {}: write large outputs to files in $LABTRAIL_TASK_DIR and put their paths in the result",
            path.display(),
            size_text(size),
            size_text(RESULT_LIMIT)
        )
    };
    let size = file.metadata().map_err(cannot)?.len();
    if size > RESULT_LIMIT {
        return Err(too_big(size));
    }
    // The task may still be writing it (a process it left behind): never more than the limit.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(RESULT_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > RESULT_LIMIT {
        return Err(too_big(bytes.len() as u64));
    }
    parse_json(&bytes)
        .map(Some)
        .map_err(|why| format!("result file {} is {why}", path.display()))
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
        let file = |content: &[u8]| {
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, content).unwrap();
            std::io::Seek::rewind(&mut file).unwrap();
            Ok(file)
        };
        let read = parse_result(path, file(br#"{"loss": NaN, "best": -Infinity}"#));
        assert_eq!(
            read,
            Ok(Some(r#"{"loss":"NaN","best":"-Infinity"}"#.into()))
        );
        let bad = parse_result(path, file(b"{\"a\": \"\xff\"}")).unwrap_err();
        assert_eq!(bad, "result file r.json is not valid UTF-8 (byte 8)");
    }

    /// Issue 9: a result file over the limit fails unread, the reason naming it, its size and
    /// the limit (a sparse file: `truncate -s 2G` costs no disk).
    #[test]
    fn a_result_over_the_limit_is_refused_unread() {
        let file = tempfile::tempfile().unwrap();
        file.set_len(2 << 30).unwrap();
        let why = parse_result(Path::new("r.json"), Ok(file)).unwrap_err();
        assert!(
            why.starts_with("result file r.json is 2147483648 bytes (2.0 GiB), over the limit of 16777216 bytes (16.0 MiB)"),
            "{why}"
        );
    }
}
