//! `labtrail results --format jsonl`: one compact JSON record per line, for `jq -c` and
//! line-oriented tools.

use super::Results;
use std::io::{self, Write};

/// Writes each record as one line of compact JSON.
pub fn write(results: &Results, out: &mut impl Write) -> io::Result<()> {
    for r in &results.records {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
    }
    Ok(())
}
