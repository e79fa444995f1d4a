//! `labtrail results --format json`: one pretty-printed array of every record.

use super::Results;
use std::io::{self, Write};

/// Writes the records as one indented JSON array and a newline.
pub fn write(results: &Results, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(&results.records)?)
}
