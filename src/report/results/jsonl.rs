//! `labtrail results --format jsonl`: one compact JSON record (or group) per line, for `jq -c`
//! and line-oriented tools.

use super::aggregate::Grouped;
use super::stats::Agg;
use super::Results;
use std::io::{self, Write};

/// Writes each record as one line of compact JSON.
pub fn write(results: &Results, out: &mut impl Write) -> io::Result<()> {
    for r in &results.records {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
    }
    Ok(())
}

/// Writes each group, in `order`, as one line of compact JSON (see [`super::json::group_value`]).
pub fn write_groups(
    grouped: &Grouped,
    aggs: &[Agg],
    order: &[usize],
    out: &mut impl Write,
) -> io::Result<()> {
    for &i in order {
        let v = super::json::group_value(grouped, &grouped.groups[i], aggs);
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
    }
    Ok(())
}
